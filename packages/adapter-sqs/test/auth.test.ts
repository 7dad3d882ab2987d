import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { SQSClient } from '@aws-sdk/client-sqs';
import { AuthenticationError, createQueue } from '@queuekit/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqsDriver } from '../src/index.js';

// fauxqs checks no credentials, so this server answers every request as SQS answers a refused
// signature or key (JSON protocol: `__type`, and the query-compatible code in x-amzn-query-error).
const SECRET = `wr/ng+secret=${randomUUID()}`;
const ACCESS_KEY = 'AKIAQUEUEKITTEST0001';
/** A refused credential must fail within this (the bound), not after retries. */
const FAIL_FAST_MS = 2000;

let server: Server;
let endpoint = '';
let answer = { type: 'UnrecognizedClientException', queryCode: 'InvalidClientTokenId' };
let requests = 0;

beforeAll(async () => {
  server = createServer((request, response) => {
    requests++;
    request.resume();
    request.on('end', () => {
      response.writeHead(403, {
        'content-type': 'application/x-amz-json-1.0',
        'x-amzn-requestid': randomUUID(),
        'x-amzn-query-error': `${answer.queryCode};Sender`,
      });
      response.end(
        JSON.stringify({
          __type: `com.amazon.coral.service#${answer.type}`,
          message: 'The security token included in the request is invalid.',
        }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const driver = () =>
  new SqsDriver({
    client: new SQSClient({
      region: 'us-east-1',
      endpoint,
      credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET },
    }),
  });

describe('SQS refusing the credentials', () => {
  for (const refusal of [
    { type: 'UnrecognizedClientException', queryCode: 'InvalidClientTokenId' },
    { type: 'InvalidSignatureException', queryCode: 'SignatureDoesNotMatch' },
    { type: 'AccessDeniedException', queryCode: 'AccessDenied' },
  ]) {
    it(`${refusal.queryCode}: send fails at once with AuthenticationError naming SQS, not the secret`, async () => {
      answer = refusal;
      requests = 0;
      const queue = createQueue<{ n: number }>({
        name: `auth-${randomUUID().slice(0, 8)}`,
        driver: driver(),
        ownsDriver: true,
      });
      try {
        const startedAt = Date.now();
        const error = await queue.send('t', { n: 1 }).catch((e: unknown) => e);
        const took = Date.now() - startedAt;
        expect(error).toBeInstanceOf(AuthenticationError);
        expect(error).toMatchObject({ code: 'ERR_AUTH', broker: 'SQS' });
        expect(took, `took ${took} ms`).toBeLessThan(FAIL_FAST_MS);
        // Not retried: one request (queue URL lookup) refused is enough.
        expect(requests).toBe(1);
        const shown = `${inspect(error, { depth: 5 })} ${JSON.stringify(error)} ${(error as Error).stack}`;
        for (const secret of [SECRET, encodeURIComponent(SECRET)]) expect(shown).not.toContain(secret);
      } finally {
        await queue.close();
      }
    });
  }
});
