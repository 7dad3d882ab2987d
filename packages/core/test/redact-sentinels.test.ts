import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { createQueue, QueuekitError } from '../src/index.js';
import { isSecretName, redactUrl, secretsOf } from '../src/redact.js';
import { Scrubber } from '../src/scrubber.js';

/**
 * Secrets that break naive parsers: `/` (base64 keys), `%` (a valid escape, `%4e` is `N`, and a stray
 * one), `#`, `?`, `@`, `&`, `=` and spaces. Every form of each contains `SENTI`, which the tests grep for.
 */
const SECRETS = [
  'pa/ss-SENTI%4eEL',
  'SENTI#NEL 100%',
  'a@b?c=SENTI&d/e#f g',
  'SENTINEL+/k3y==',
  'q"SENTI\\x',
];

function expectClean(label: string, text: string): void {
  // Case-sensitive: stack traces name this file, `redact-sentinels.test.ts`.
  expect(text, label).not.toContain('SENTI');
}

/** Every order of the four keys of a Service Bus connection string. */
function permutations<T>(items: readonly T[]): T[][] {
  if (items.length <= 1) return [[...items]];
  return items.flatMap((item, index) =>
    permutations([...items.slice(0, index), ...items.slice(index + 1)]).map((rest) => [item, ...rest]),
  );
}

function connectionStrings(secret: string): string[] {
  const keys = [
    'Endpoint=sb://ns.servicebus.windows.net/',
    'SharedAccessKeyName=RootManageSharedAccessKey',
    `SharedAccessKey=${secret}`,
    'EntityPath=jobs',
  ];
  const sas = [
    'Endpoint=sb://ns.servicebus.windows.net/',
    `SharedAccessSignature=SharedAccessSignature sr=ns&sig=${encodeURIComponent(secret)}&se=1&skn=k`,
  ];
  return [
    ...permutations(keys).map((order) => order.join(';')),
    ...permutations(sas).map((order) => order.join(';')),
    `endpoint=sb://ns/;sharedaccesskey=${secret};UseDevelopmentEmulator=true`,
    `AccountName=a;AccountKey=${secret};EndpointSuffix=core.windows.net`,
    ` SharedAccessKey = ${secret} ;Endpoint=sb://ns/`,
  ];
}

const QUERY_KEYS = [
  'sig',
  'pwd',
  'pass',
  'auth',
  'apikey',
  'access_token',
  'sas',
  'SIG',
  'Api-Key',
  'X-Amz-Security-Token',
  'token',
  'secret',
  'password',
  'signature',
  'credential',
  'client_secret',
  'PassWord',
  's%69g', // `sig`, percent-encoded
];

/** A URL holding a secret, and the secret as written in it (raw or percent-encoded). */
interface Case {
  readonly url: string;
  readonly written: string;
  /** Connection strings are not percent-decoded by their SDKs. */
  readonly literal?: boolean;
}

function cases(secret: string): Case[] {
  const encoded = encodeURIComponent(secret);
  const raw = (url: string): Case => ({ url, written: secret });
  const escaped = (url: string): Case => ({ url, written: encoded });
  const literal = (url: string): Case => ({ url, written: secret, literal: true });
  return [
    raw(`redis://app:${secret}@127.0.0.1:6379/0`),
    escaped(`redis://app:${encoded}@127.0.0.1:6379/0`),
    raw(`amqp://guest:${secret}@broker:5672/vhost?heartbeat=5`),
    raw(`rediss://:${secret}@host`),
    escaped(`redis://${encoded}@host`), // a token as user name
    raw(`redis://user:${secret}@[bad`), // does not parse
    raw(`REDIS://user:${secret}@host:notaport/x`),
    raw(`user:${secret}@host-without-scheme`),
    ...QUERY_KEYS.flatMap((key) => [
      escaped(`sqs://?region=eu&${key}=${encoded}&x=1`),
      // Raw in a query value, only what URL syntax allows there unescaped (`&` ends a value).
      ...(secret.includes('&') ? [] : [raw(`sqs://jobs?${key}=${secret}`)]),
      escaped(`amqp://u:${encoded}@h/v?${key}=${encoded}`),
    ]),
    escaped(`host=localhost password=${encoded} dbname=test`),
    literal(`host=localhost password='${secret}' dbname=test`),
    ...connectionStrings(secret).map(literal),
  ];
}

const CASES = SECRETS.flatMap(cases);

describe('redactUrl masks every secret form', () => {
  it.each(CASES)('$url', ({ url }) => {
    expectClean(url, redactUrl(url));
  });

  it('keeps what is not secret', () => {
    expect(redactUrl('redis://app:pa/ss@host:6379/0')).toBe('redis://app:***@host:6379/0');
    expect(redactUrl('amqp://guest:p%2Fss@broker:5672/vhost?heartbeat=5&token=t')).toBe(
      'amqp://guest:***@broker:5672/vhost?heartbeat=5&token=***',
    );
    expect(
      redactUrl('SharedAccessKeyName=root;SharedAccessKey=k3y/+=;Endpoint=sb://ns.servicebus.windows.net/'),
    ).toBe('SharedAccessKeyName=root;SharedAccessKey=***;Endpoint=sb://ns.servicebus.windows.net/');
    expect(redactUrl('sqs://?region=eu-west-1&endpoint=http://127.0.0.1:4566&sig=x')).toBe(
      'sqs://?region=eu-west-1&endpoint=http://127.0.0.1:4566&sig=***',
    );
    for (const plain of [
      'memory://',
      'redis://127.0.0.1:6379/0',
      'pubsub://project',
      'amqp://broker/vhost',
    ]) {
      expect(redactUrl(plain)).toBe(plain);
    }
  });

  it('names secret parameters in any case and spelling, and shows key names', () => {
    for (const key of ['sig', 'PWD', 'Pass', 'auth', 'apiKey', 'access_token', 'SAS', 'x-api-key', 's%69g']) {
      expect(isSecretName(key), key).toBe(true);
    }
    for (const key of ['SharedAccessKeyName', 'region', 'endpoint', 'EntityPath', 'heartbeat', 'vhost']) {
      expect(isSecretName(key), key).toBe(false);
    }
  });
});

describe('Scrubber removes the secrets of a URL from any text, in every encoding', () => {
  it.each(CASES)('$url', ({ url, written, literal }) => {
    const scrubber = new Scrubber([url]);
    const decoded = (() => {
      if (literal) return written;
      try {
        return decodeURIComponent(written);
      } catch {
        return written;
      }
    })();
    const probe = new URL('x://h');
    probe.password = decoded;
    const text = [
      `failed ${written}`,
      `decoded ${decoded}`,
      `encoded ${encodeURIComponent(decoded)}`,
      `whatwg ${probe.password}`,
      `json ${JSON.stringify({ password: decoded })}`,
      `url ${url}`,
    ].join('\n');
    expectClean(url, scrubber.scrub(text));
    expectClean(url, scrubber.url(url));
    expect(scrubber.scrub('nothing secret here')).toBe('nothing secret here');
  });

  it('never shows the secrets it holds', () => {
    const scrubber = new Scrubber([`redis://u:${SECRETS[0]}@h`]);
    expectClean('inspect', inspect(scrubber, { depth: 10, showHidden: true }));
    expectClean('json', JSON.stringify(scrubber));
  });

  it('finds nothing in URLs without secrets', () => {
    expect(secretsOf('memory://')).toEqual([]);
    expect(secretsOf('redis://127.0.0.1:6379/0')).toEqual([]);
    expect(secretsOf('Endpoint=sb://ns/;SharedAccessKeyName=root')).toEqual([]);
    expect(secretsOf(undefined)).toEqual([]);
  });
});

describe('queues and their errors never show a secret', () => {
  const views = (value: unknown): string[] => [
    String(value),
    JSON.stringify(value) ?? '',
    inspect(value, { depth: 10 }),
    inspect(value, { depth: 10, showHidden: true }),
  ];

  it.each(CASES)('$url', async ({ url }) => {
    const queue = createQueue({ name: 'secret-q', url });
    for (const view of views(queue)) expectClean(url, view);
    expect(Object.keys(queue.toJSON()).sort()).toEqual(['name', 'url']);
    await queue.close().catch(() => undefined);
  });

  // The core's own failures for a URL (the adapters' connection errors are tested in each adapter).
  const offline = [
    ...SECRETS.flatMap((secret) => [
      `foo://user:${secret}@host`,
      `user:${secret}@host-without-scheme`,
      `host=localhost password=${encodeURIComponent(secret)}`,
    ]),
  ];
  it.each(offline)('%s fails with an error that shows no secret', async (url) => {
    const queue = createQueue({ name: 'secret-q', url });
    const error = await queue.driver().then(
      () => undefined,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(QueuekitError);
    for (const view of views(error)) expectClean(url, view);
    for (const view of views(queue)) expectClean(url, view);
  });

  it('shows name, provider and the masked URL once connected', async () => {
    const queue = createQueue({ name: 'shown', url: `memory://user:${SECRETS[1]}@inspect-test` });
    await queue.driver();
    expect(queue.toJSON()).toEqual({
      name: 'shown',
      provider: 'memory',
      url: 'memory://user:***@inspect-test',
    });
    expect(String(queue)).toBe('Queue(shown, memory://user:***@inspect-test)');
    expect(inspect(queue, { depth: 10, breakLength: Number.POSITIVE_INFINITY })).toBe(
      "Queue { name: 'shown', provider: 'memory', url: 'memory://user:***@inspect-test' }",
    );
    expect(inspect({ nested: { queue } }, { depth: 10 })).toContain("provider: 'memory'");
    await queue.close();
  });
});

describe('hostile sizes', () => {
  it('a URL of many `@` and `?` is redacted in linear time and memory', () => {
    const url = `redis://u:${'@?x=1&sig=2'.repeat(20_000)}@host`;
    const started = performance.now();
    // (`&sig=2@host` also reads as a secret query value: masking the host too is the safe reading.)
    expect(redactUrl(url)).toBe('redis://u:***');
    expect(secretsOf(url).length).toBeLessThan(500);
    // Not a speed assertion: a quadratic parser takes minutes here, this one milliseconds.
    expect(performance.now() - started).toBeLessThan(20_000);
  });
});
