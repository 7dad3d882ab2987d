import { createDriver } from '@queuekit/adapter-bullmq';
import { describeBrokerFlow } from './broker-flow.js';

const url = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';

describeBrokerFlow({
  label: 'BullMQ (Redis)',
  url,
  downUrl: 'redis://127.0.0.1:1',
  driver: () => createDriver({ url }),
});
