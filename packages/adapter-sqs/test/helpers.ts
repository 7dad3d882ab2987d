import { inject } from 'vitest';
import { SqsDriver, type SqsDriverConfig } from '../src/index.js';

/** Endpoint of the SQS under test ('' = real AWS). */
export const endpoint = inject('sqsEndpoint');
/** `fauxqs`, `endpoint` or `aws`. */
export const target = inject('sqsTarget');

if (target !== 'aws') {
  // Emulators accept any credentials; the SDK only needs some. Real AWS uses the default chain.
  process.env.AWS_ACCESS_KEY_ID ??= 'test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'test';
}
process.env.AWS_REGION ??= 'us-east-1';

/** A new driver (a new client) on the SQS under test. */
export function makeDriver(config: SqsDriverConfig = {}): SqsDriver {
  // An emulator named by SQS_ENDPOINT may be on another host (a CI service container): plaintext is its choice.
  return new SqsDriver({
    ...(endpoint ? { endpoint } : {}),
    ...(target === 'endpoint' ? { allowInsecure: true } : {}),
    ...config,
  });
}

/** A queue name unique to this run. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}
