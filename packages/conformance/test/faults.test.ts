import { createMemoryDriver, MemoryBroker } from '@queuekit/core';
import { describeFaultConformance } from '../src/index.js';
import { CLOUD_LIKE_CAPABILITIES } from './cloud-like.js';

// Memory has no network: the fault cases run through the simulated network (same faults, in process).
const broker = new MemoryBroker();
describeFaultConformance('memory', () => createMemoryDriver({ broker }), { lockMs: 500, queuePrefix: 'qkf' });

const limited = new MemoryBroker();
describeFaultConformance(
  'memory (cloud-like capabilities)',
  () => createMemoryDriver({ broker: limited, limitCapabilities: CLOUD_LIKE_CAPABILITIES }),
  { lockMs: 500, queuePrefix: 'qkfl' },
);
