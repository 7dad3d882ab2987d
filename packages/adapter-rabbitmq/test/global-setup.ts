import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { TestProject } from 'vitest/node';
import { rabbitmqctl } from './rabbitmqctl.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the broker (a vhost of its own for this run) every test file uses. */
    amqpUrl: string;
    /** The run's vhost, for `rabbitmqctl ... --vhost`, or '' when RABBITMQ_URL points elsewhere. */
    amqpVhost: string;
  }
}

/**
 * One vhost per test run on the local RabbitMQ (127.0.0.1:5672, guest/guest), deleted afterwards
 * with everything in it. `RABBITMQ_URL` points the suite at another broker instead (then the tests that
 * need `rabbitmqctl` are skipped).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // The crash workers (child processes) and the URL registry load the built package (dist/): build it
  // as `pnpm build` does (ESM and the CommonJS entry).
  await promisify(execFile)('pnpm', ['run', '--silent', 'build'], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
  });
  const external = process.env.RABBITMQ_URL;
  if (external) {
    project.provide('amqpUrl', external);
    project.provide('amqpVhost', '');
    return async () => undefined;
  }
  const vhost = `qk-test-${randomUUID().slice(0, 8)}`;
  await rabbitmqctl(['add_vhost', vhost]);
  await rabbitmqctl(['set_permissions', '-p', vhost, 'guest', '.*', '.*', '.*']);
  project.provide('amqpUrl', `amqp://guest:guest@127.0.0.1:5672/${vhost}`);
  project.provide('amqpVhost', vhost);
  return async () => {
    await rabbitmqctl(['delete_vhost', vhost]);
  };
}
