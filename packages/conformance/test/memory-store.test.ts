import { MemoryStore } from '@queuekit/core';
import { describeStoreConformance } from '../src/index.js';

// One MemoryStore is shared by both "connections": it is process-local by design.
const store = new MemoryStore();
describeStoreConformance('memory', () => store);
