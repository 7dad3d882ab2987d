import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const packageDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Fail fast, with the fix, when the test Redis is not running; build dist/ for child processes. */
export default async function setup(): Promise<void> {
  const url = process.env.QUEUEKIT_REDIS_URL ?? 'redis://127.0.0.1:6379';
  const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  probe.on('error', () => undefined);
  try {
    await probe.connect();
    await probe.ping();
  } catch {
    throw new Error(
      'Redis is not reachable for the BullMQ adapter tests (QUEUEKIT_REDIS_URL, default redis://127.0.0.1:6379). ' +
        'Start it with: redis-server --daemonize yes --port 6379 --save "" --appendonly no',
    );
  } finally {
    probe.disconnect();
  }
  // The crash and clean-exit tests run a consumer in a child process, which imports dist/.
  execFileSync('pnpm', ['exec', 'tsc', '-p', 'tsconfig.build.json'], { cwd: packageDir, stdio: 'inherit' });
}
