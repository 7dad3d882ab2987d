import { ConfigError } from '@queuekit/core';
import { type ParsedParams, param, parseParams } from '@queuekit/core/driver-kit';

/** AWS's largest message today (body plus attributes), in bytes. */
export const AWS_MAX_MESSAGE_BYTES = 1024 * 1024;
/** AWS's longest per-message delay (`DelaySeconds` 900), in milliseconds. */
export const AWS_MAX_DELAY_MS = 900_000;

/** The parameters of the URL query and of the options object (their docs are those of the options). */
const PARAMS = {
  /** AWS region, e.g. `eu-west-1`. Default: `AWS_REGION` / `AWS_DEFAULT_REGION`, else `us-east-1`. */
  region: param.string({ pattern: /^[a-z0-9-]+$/, default: 'us-east-1' }),
  /** Endpoint of LocalStack or an emulator (`http://127.0.0.1:4566`); queue URLs then go to it. Default AWS's. */
  endpoint: param.string(),
  /** Allow plaintext `http://` to a host that is not loopback: signed requests cross the network unencrypted. */
  allowInsecure: param.bool({ default: false }),
  /** Create missing queues (with a dead-letter queue and a redrive policy) on first use. Default true. */
  createIfMissing: param.bool({ default: true }),
  /** Every queue is FIFO (`.fifo` appended, `dedup` and `ordering` declared). Default: `defaultQueue` is. */
  fifo: param.bool(),
  /** `maxReceiveCount` of the redrive policy of created queues: a backstop (the core decides). Default 1000. */
  maxReceiveCount: param.int({ min: 1, max: 1000, default: 1000 }),
  /** Suffix of the dead-letter queue name (before `.fifo`). Default `-dlq`. */
  deadLetterSuffix: param.string({ pattern: /^[A-Za-z0-9_-]{1,20}$/, default: '-dlq' }),
  /** Longest native delay in ms (1,000-900,000); longer delays hop through the core. Default 900,000. */
  maxDelayMs: param.ms({ min: 1000, max: AWS_MAX_DELAY_MS, default: AWS_MAX_DELAY_MS }),
  /** Upper bound of the payload limit (the queue's `MaximumMessageSize` wins when lower). Default 1 MiB. */
  maxPayloadBytes: param.int({ min: 1024, max: AWS_MAX_MESSAGE_BYTES, default: AWS_MAX_MESSAGE_BYTES }),
  /** Long-poll wait (s, 0-20) of the receives that list, redrive or purge dead letters. Default 0. */
  deadLetterScanWaitSeconds: param.int({ min: 0, max: 20, default: 0 }),
};

/** Options of {@link SqsDriver}. Credentials are never options: they come from the AWS default chain. */
export type SqsDriverOptions = Partial<ParsedParams<typeof PARAMS>> & {
  /** Queue used when a call names none (the URL's path); the core passes a queue name to every call. */
  readonly defaultQueue?: string;
};
export type ResolvedSqsOptions = ParsedParams<typeof PARAMS> & { defaultQueue?: string; fifo: boolean };

/** Check a physical SQS queue name (letters, digits, `-`, `_`, optional `.fifo`; at most 80 characters). */
export function checkQueueName(name: string, field = 'queue'): void {
  if (!/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(name) || name.length > 80)
    throw new ConfigError(field, `\`${name}\` is not an SQS queue name (letters, digits, -, _; .fifo)`);
}

function checkEndpoint(endpoint: string, allowInsecure: boolean): void {
  const url = URL.canParse(endpoint) ? new URL(endpoint) : undefined;
  if (url?.protocol !== 'http:' && url?.protocol !== 'https:')
    throw new ConfigError('endpoint', 'expected an http(s) URL such as http://127.0.0.1:4566');
  if (url.username || url.password)
    throw new ConfigError('endpoint', 'credentials do not go in the endpoint: use the AWS credential chain');
  // Loopback (`localhost`, `*.localhost`, 127.0.0.0/8, ::1) never leaves the machine.
  const loopback = /^(localhost|.+\.localhost|\[::1\]|127(\.\d{1,3}){3})$/i.test(url.hostname);
  if (url.protocol === 'http:' && !loopback && !allowInsecure)
    throw new ConfigError('endpoint', 'plaintext http:// only to loopback: use https://, or allowInsecure');
}

/** Validate options and fill in defaults. Errors name the field and never echo secrets. */
export function resolveOptions({ defaultQueue, ...options }: SqsDriverOptions): ResolvedSqsOptions {
  const region = options.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION;
  const parsed = parseParams({ ...options, region }, PARAMS);
  if (parsed.endpoint !== undefined) checkEndpoint(parsed.endpoint, parsed.allowInsecure);
  if (defaultQueue !== undefined) checkQueueName(defaultQueue, 'defaultQueue');
  return { ...parsed, defaultQueue, fifo: parsed.fifo ?? defaultQueue?.endsWith('.fifo') ?? false };
}

const CREDENTIAL_PARAM = /access.?key|secret|session.?token|credential|password|token/i;
const NO_CREDENTIALS = 'credentials do not go in the URL: use the AWS default credential chain';

/**
 * `sqs://QUEUE_NAME?region=..&endpoint=..` (also `sqs:///`, `sqs://?region=..`) as options: the query
 * parameters are those of {@link SqsDriverOptions}; a wrong, repeated or unknown one is a ConfigError naming
 * `url.FIELD`. Credentials in the URL are refused (never repeated).
 */
export function parseSqsUrl(url: string): SqsDriverOptions {
  const http = url.replace(/^sqs:/i, 'http:').replace(/^http:\/\/(?=[?/#]|$)/, 'http://q.invalid');
  if (!/^sqs:/i.test(url) || !URL.canParse(http))
    throw new ConfigError('url', 'expected sqs://QUEUE_NAME?region=..&endpoint=..');
  const parsed = new URL(http);
  if (parsed.username || parsed.password) throw new ConfigError('url', NO_CREDENTIALS);
  const query = parsed.searchParams;
  for (const key of query.keys())
    if (CREDENTIAL_PARAM.test(key)) throw new ConfigError(`url.${key}`, NO_CREDENTIALS);
  const given = parseParams(query, PARAMS, { fieldPrefix: 'url.' });
  const host = parsed.hostname === 'q.invalid' ? '' : url.match(/^sqs:\/\/([^/?#]*)/i)?.[1];
  const queue = decodeURIComponent(host ?? '') || parsed.pathname.replace(/^\/+|\/+$/g, '');
  // What the URL says only: the driver fills in the defaults.
  const said = Object.entries(given).filter(([key]) => query.has(key));
  return { ...(queue ? { defaultQueue: queue } : {}), ...Object.fromEntries(said) };
}
