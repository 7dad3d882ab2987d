import type { TestProject } from 'vitest/node';

declare module 'vitest' {
  export interface ProvidedContext {
    /** SQS endpoint the tests talk to; empty string for real AWS (no endpoint override). */
    sqsEndpoint: string;
    /** `fauxqs`, `endpoint` (LocalStack or another emulator) or `aws`. */
    sqsTarget: string;
  }
}

/**
 * Start fauxqs in-process on a free port, unless `SQS_ENDPOINT` points at another SQS (LocalStack)
 * or `SQS_TARGET=aws` asks for the real service (credentials from the AWS default chain).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.SQS_TARGET === 'aws') {
    project.provide('sqsEndpoint', '');
    project.provide('sqsTarget', 'aws');
    return async () => undefined;
  }
  if (process.env.SQS_ENDPOINT) {
    project.provide('sqsEndpoint', process.env.SQS_ENDPOINT);
    project.provide('sqsTarget', 'endpoint');
    return async () => undefined;
  }
  const { startFauxqs } = await import('fauxqs');
  const server = await startFauxqs({ port: 0, logger: false, host: '127.0.0.1' });
  project.provide('sqsEndpoint', `http://127.0.0.1:${server.port}`);
  project.provide('sqsTarget', 'fauxqs');
  return async () => {
    await server.stop();
  };
}
