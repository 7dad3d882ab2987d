import { BullmqDriver } from '@queuekit/adapter-bullmq';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { pidOf } from '../lib/cpu.mjs';
import { queuekitSide } from '../lib/queuekit-side.mjs';

const url = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';
const prefix = 'qkbench';

/** BullMQ as its docs show: `Queue.addBulk` for bulk, `Queue.add` for one, a `Worker` with its defaults. */
async function native(name) {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const queue = new Queue(name, { connection, prefix });
  await queue.waitUntilReady();
  let worker;
  return {
    sendBatch: (items) => queue.addBulk(items.map((data) => ({ name: 'bench', data }))),
    sendOne: (data) => queue.add('bench', data),
    consume(concurrency, onStart, onDone) {
      worker = new Worker(name, async (job) => onStart(job.data), { connection, prefix, concurrency });
      worker.on('completed', onDone);
    },
    async close() {
      await worker?.close();
      await queue.obliterate({ force: true });
      await queue.close();
      connection.disconnect();
    },
  };
}

export default {
  id: 'bullmq',
  label: 'BullMQ',
  native:
    'bullmq: `Queue.addBulk` per chunk, `Queue.add` for single jobs, a `Worker` with its defaults (completed jobs kept, like the driver keeps them for 24 h) and `concurrency` 50, one ioredis connection',
  nativeLabel: 'bullmq',
  jobs: { full: 20_000, quick: 5_000 },
  async start() {
    return {
      native,
      queuekit: (name) => queuekitSide(new BullmqDriver({ url, prefix }), name),
      brokerPid: () => pidOf('redis-server'),
      stop: async () => undefined,
    };
  },
};
