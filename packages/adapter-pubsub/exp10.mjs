import { createQueue, MemoryStore } from '@queuekit/core';
import { PubSubDriver } from './dist/index.js';
process.env.PUBSUB_EMULATOR_HOST = '127.0.0.1:8790';
const name = 'rl-' + Date.now();
const rateLimit = { max: 3, duration: 1000 };
const store = new MemoryStore();
const T0 = Date.now();
const mk = () => {
  const q = createQueue({
    store,
    name,
    driver: new PubSubDriver({ projectId: 'p1' }),
    ownsDriver: true,
    rateLimit,
  });
  q.on('error', (e) => console.log('err', e.message));
  return q;
};
const producer = mk();
const starts = [];
const qs = [];
for (let c = 0; c < 2; c++) {
  const q = mk();
  qs.push(q);
  q.process(
    async () => {
      starts.push(Date.now());
      console.log('start c', c, Date.now() - T0, 'window', Math.floor(Date.now() / 1000));
    },
    { concurrency: 5 },
  );
}
await producer.sendBatch(Array.from({ length: 9 }, (_, i) => ({ name: 'limited', data: { i } })));
console.log('sent', Date.now() - T0);
while (starts.length < 9) await new Promise((r) => setTimeout(r, 50));
for (const q of [producer, ...qs]) await q.close({ timeout: 100 });
