import { createMemoryDriver, MemoryBroker } from '@queuekit/core';
import { describeConformance } from '../src/index.js';

// One broker shared by every driver of the suite: several drivers are several connections.
const broker = new MemoryBroker();
describeConformance('memory', () => createMemoryDriver({ broker }), { lockMs: 500 });
