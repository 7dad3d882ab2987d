import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { pubsubEnv, uniqueName } from './helpers.js';

const packageDir = fileURLToPath(new URL('..', import.meta.url));

/** A fresh process (the client libraries warn once per process) that sends one job through the built package. */
const SCRIPT = `
const warnings = [];
process.on('warning', (warning) => warnings.push(warning.name));
const { createQueue } = await import('@queuekit/core');
const { PubSubDriver } = await import('./dist/index.js');
const driver = new PubSubDriver({ projectId: process.env.QK_PROJECT });
const queue = createQueue({ name: process.env.QK_QUEUE, driver, ownsDriver: true });
const id = await queue.send('job', { n: 1 });
await queue.close();
console.log(JSON.stringify({ id, warnings }));
`;

it('a start against the emulator prints no warning (no lookup of Google credentials or the metadata server)', async () => {
  const { projectId, emulatorHost } = pubsubEnv();
  const { stdout, stderr } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', SCRIPT],
    {
      cwd: packageDir,
      env: {
        ...process.env,
        PUBSUB_EMULATOR_HOST: emulatorHost,
        QK_PROJECT: projectId,
        QK_QUEUE: uniqueName('qk-start'),
      },
      timeout: 60_000,
    },
  );
  const { id, warnings } = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
    id: string;
    warnings: string[];
  };
  expect(id).toEqual(expect.any(String));
  expect(warnings).toEqual([]);
  expect(stderr).not.toMatch(/MetadataLookupWarning/);
});
