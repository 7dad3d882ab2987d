import { ConfigError } from '@queuekit/core';

/** AWS's largest message today (body plus attributes), in bytes. */
export const AWS_MAX_MESSAGE_BYTES = 1024 * 1024;
/** AWS's longest per-message delay (`DelaySeconds` 900), in milliseconds. */
export const AWS_MAX_DELAY_MS = 900_000;

/** Options of {@link SqsDriver}. Credentials are never options: they come from the AWS default chain. */
export interface SqsDriverOptions {
  /** AWS region, e.g. `eu-west-1`. Default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`. */
  readonly region?: string;
  /**
   * Service endpoint, e.g. `http://127.0.0.1:4566` for LocalStack or an emulator. Default: the AWS
   * endpoint of the region. With an endpoint set, queue URLs are sent to it (never to the host in the URL).
   */
  readonly endpoint?: string;
  /**
   * Allow a plaintext `http://` endpoint on a host other than loopback (`localhost`, `127.0.0.0/8`, `::1`), e.g.
   * LocalStack reached by a container name. Requests, signed with your credentials, then cross the network
   * unencrypted. Default false.
   */
  readonly allowInsecure?: boolean;
  /** Queue used when a call names none (the URL's path); the core passes a queue name to every call. */
  readonly defaultQueue?: string;
  /** Create missing queues (with a dead-letter queue and a redrive policy) on first use. Default true. */
  readonly createIfMissing?: boolean;
  /**
   * Treat every queue as FIFO: names without `.fifo` get it appended, and the driver declares
   * `dedup` and `ordering`. Default: true when `defaultQueue` ends with `.fifo`.
   */
  readonly fifo?: boolean;
  /**
   * Native `maxReceiveCount` of the redrive policy set on queues this driver creates: a backstop
   * for messages that keep coming back without the core settling them. Default 1000 (the AWS max),
   * so the core's own `maxAttempts` decides in practice.
   */
  readonly maxReceiveCount?: number;
  /** Suffix of the dead-letter queue name (before `.fifo`). Default `-dlq`. */
  readonly deadLetterSuffix?: string;
  /**
   * Longest native delay to use, in ms (≤ 900,000). Longer delays hop through the core. Lower it
   * to exercise hops in tests. Default 900,000.
   */
  readonly maxDelayMs?: number;
  /** Upper bound on the payload limit, in bytes (the queue's `MaximumMessageSize` wins when lower). Default 1 MiB. */
  readonly maxPayloadBytes?: number;
  /** Long-poll wait of the receive calls made while listing or redriving dead letters, in seconds. Default 0. */
  readonly deadLetterScanWaitSeconds?: number;
}

/** Fully resolved options. */
export interface ResolvedSqsOptions {
  readonly region: string;
  readonly endpoint: string | undefined;
  readonly allowInsecure: boolean;
  readonly defaultQueue: string | undefined;
  readonly createIfMissing: boolean;
  readonly fifo: boolean;
  readonly maxReceiveCount: number;
  readonly deadLetterSuffix: string;
  readonly maxDelayMs: number;
  readonly maxPayloadBytes: number;
  readonly deadLetterScanWaitSeconds: number;
}

const QUEUE_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/** `localhost` (and `*.localhost`), `127.0.0.0/8` or `::1`: traffic that never leaves the machine. */
export function isLoopback(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/^\[|\]$/g, '');
  return (
    host === 'localhost' ||
    host.endsWith('.localhost') ||
    host === '::1' ||
    /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host)
  );
}

/** Check a physical SQS queue name (letters, digits, `-`, `_`, optional `.fifo`; at most 80 characters). */
export function checkQueueName(name: string, field = 'queue'): void {
  const base = name.endsWith('.fifo') ? name.slice(0, -5) : name;
  if (!QUEUE_NAME.test(base) || name.length > 80) {
    throw new ConfigError(
      field,
      `\`${name}\` is not a valid SQS queue name (letters, digits, - and _, optional .fifo, at most 80 characters)`,
    );
  }
}

function positiveInt(value: number, field: string, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max)
    throw new ConfigError(field, `must be an integer between 1 and ${max}`);
  return value;
}

/** Validate options and fill in defaults. Errors name the field and never echo secrets. */
export function resolveOptions(options: SqsDriverOptions): ResolvedSqsOptions {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  if (!/^[a-z0-9-]+$/.test(region))
    throw new ConfigError('region', 'expected an AWS region such as eu-west-1');
  if (options.endpoint !== undefined) {
    let parsed: URL;
    try {
      parsed = new URL(options.endpoint);
    } catch {
      throw new ConfigError('endpoint', 'expected an http(s) URL such as http://127.0.0.1:4566');
    }
    if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
      throw new ConfigError('endpoint', 'expected an http(s) URL such as http://127.0.0.1:4566');
    if (parsed.username || parsed.password)
      throw new ConfigError(
        'endpoint',
        'credentials do not go in the endpoint: use the AWS default credential chain',
      );
    if (parsed.protocol === 'http:' && !isLoopback(parsed.hostname) && options.allowInsecure !== true)
      throw new ConfigError(
        'endpoint',
        'plaintext http:// is only accepted for loopback hosts (localhost, 127.0.0.1, ::1): use https://, or set allowInsecure=true',
      );
  }
  if (options.defaultQueue !== undefined) checkQueueName(options.defaultQueue, 'defaultQueue');
  const suffix = options.deadLetterSuffix ?? '-dlq';
  if (!/^[A-Za-z0-9_-]{1,20}$/.test(suffix))
    throw new ConfigError('deadLetterSuffix', 'letters, digits, - and _ only (at most 20)');
  const maxDelayMs = options.maxDelayMs ?? AWS_MAX_DELAY_MS;
  if (!(maxDelayMs >= 1000 && maxDelayMs <= AWS_MAX_DELAY_MS))
    throw new ConfigError('maxDelayMs', `must be between 1000 and ${AWS_MAX_DELAY_MS}`);
  const maxPayloadBytes = options.maxPayloadBytes ?? AWS_MAX_MESSAGE_BYTES;
  if (
    !(
      Number.isInteger(maxPayloadBytes) &&
      maxPayloadBytes >= 1024 &&
      maxPayloadBytes <= AWS_MAX_MESSAGE_BYTES
    )
  )
    throw new ConfigError('maxPayloadBytes', `must be an integer between 1024 and ${AWS_MAX_MESSAGE_BYTES}`);
  const scanWait = options.deadLetterScanWaitSeconds ?? 0;
  if (!(Number.isInteger(scanWait) && scanWait >= 0 && scanWait <= 20))
    throw new ConfigError('deadLetterScanWaitSeconds', 'must be an integer between 0 and 20');
  return {
    region,
    endpoint: options.endpoint,
    allowInsecure: options.allowInsecure ?? false,
    defaultQueue: options.defaultQueue,
    createIfMissing: options.createIfMissing ?? true,
    fifo: options.fifo ?? options.defaultQueue?.endsWith('.fifo') ?? false,
    maxReceiveCount: positiveInt(options.maxReceiveCount ?? 1000, 'maxReceiveCount', 1000),
    deadLetterSuffix: suffix,
    maxDelayMs,
    maxPayloadBytes,
    deadLetterScanWaitSeconds: scanWait,
  };
}

const BOOLEAN_PARAMS = new Set(['createIfMissing', 'fifo', 'allowInsecure']);
const NUMBER_PARAMS = new Set([
  'maxReceiveCount',
  'maxDelayMs',
  'maxPayloadBytes',
  'deadLetterScanWaitSeconds',
]);
const STRING_PARAMS = new Set(['region', 'endpoint', 'deadLetterSuffix']);
/** Query parameter names that look like AWS credentials (`accessKeyId`, `secretAccessKey`, `sessionToken`...). */
const CREDENTIAL_PARAM = /access.?key|secret|session.?token|credential|password|token/i;

/**
 * Parse `sqs://QUEUE_NAME?region=..&endpoint=..` (also `sqs:///`, `sqs://?region=..`). Other query
 * parameters: `createIfMissing`, `fifo`, `allowInsecure`, `maxReceiveCount`, `maxDelayMs`, `maxPayloadBytes`,
 * `deadLetterSuffix`, `deadLetterScanWaitSeconds`. Credentials in the URL are refused: use the AWS
 * default chain (environment, shared config, SSO, instance or task role).
 */
export function parseSqsUrl(url: string): SqsDriverOptions {
  if (!/^sqs:/i.test(url)) throw new ConfigError('url', 'expected sqs://QUEUE_NAME?region=..&endpoint=..');
  let parsed: URL;
  try {
    parsed = new URL(
      url.replace(/^sqs:/i, 'http:').replace(/^http:\/\/(?=[?/#]|$)/, 'http://default-queue.invalid'),
    );
  } catch {
    throw new ConfigError('url', 'expected sqs://QUEUE_NAME?region=..&endpoint=.. (the URL did not parse)');
  }
  if (parsed.username || parsed.password)
    throw new ConfigError('url', 'credentials do not go in the URL: use the AWS default credential chain');
  const out: Record<string, string | number | boolean> = {};
  const host =
    parsed.hostname === 'default-queue.invalid'
      ? ''
      : decodeURIComponent(url.match(/^sqs:\/\/([^/?#]*)/i)?.[1] ?? '');
  const path = parsed.pathname.replace(/^\/+|\/+$/g, '');
  const queue = host || path;
  if (queue) out.defaultQueue = queue;
  for (const [key, value] of parsed.searchParams) {
    if (CREDENTIAL_PARAM.test(key))
      throw new ConfigError(
        `url.${key}`,
        'credentials do not go in the URL: use the AWS default credential chain',
      );
    if (STRING_PARAMS.has(key)) out[key] = value;
    else if (NUMBER_PARAMS.has(key)) {
      const n = Number(value);
      if (!Number.isFinite(n)) throw new ConfigError(key, 'expected a number');
      out[key] = n;
    } else if (BOOLEAN_PARAMS.has(key)) {
      if (value !== 'true' && value !== 'false') throw new ConfigError(key, 'expected true or false');
      out[key] = value === 'true';
    } else throw new ConfigError(`url.${key}`, 'unknown query parameter');
  }
  return out as SqsDriverOptions;
}
