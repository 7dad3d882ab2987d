import { createMemoryDriver, MemoryBroker } from '@queuekit/core';
import { queuekitSide } from '../lib/queuekit-side.mjs';

/** The core alone on its in-memory driver: no native contender, job records on (the default) against off. */
export default {
  id: 'memory',
  label: 'core on memory://',
  native: 'none: the second column is queuekit with `results: false` (job records off)',
  nativeLabel: 'queuekit, records off',
  jobs: { full: 20_000, quick: 5_000 },
  async start() {
    return {
      native: (name) =>
        queuekitSide(createMemoryDriver({ broker: new MemoryBroker() }), name, { results: false }),
      queuekit: (name) => queuekitSide(createMemoryDriver({ broker: new MemoryBroker() }), name),
      stop: async () => undefined,
    };
  },
};
