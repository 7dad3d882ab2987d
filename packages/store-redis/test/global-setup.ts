import { Redis } from 'ioredis';
import { REDIS_URL } from './helpers.js';

/** Fail in one line, with the fix, when the test Redis is not running. */
export default async function setup(): Promise<void> {
  const probe = new Redis(REDIS_URL, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch {
    const error = new Error(
      'Redis is not reachable for the store tests (QUEUEKIT_REDIS_URL, default redis://127.0.0.1:6379); start it with: redis-server --daemonize yes --port 6379 --save "" --appendonly no',
    );
    // One line and a failing exit code: a thrown error would also make vitest print "No test files found".
    console.error(error.message);
    process.exit(1);
  } finally {
    probe.disconnect();
  }
}
