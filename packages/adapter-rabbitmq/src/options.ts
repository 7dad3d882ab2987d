/**
 * Options of the RabbitMQ driver, how a URL's query fills them in, TLS material and the driver's secrets.
 */
import { readFileSync } from 'node:fs';
import { ConfigError } from '@queuekit/core';
import { param, parseParams, Scrubber } from '@queuekit/core/driver-kit';

/** Kind of RabbitMQ queue the driver declares for work queues and their dead-letter queues. */
export type RabbitMqQueueType = 'classic' | 'quorum';

/** Reconnect policy: exponential backoff between attempts, capped. */
export interface ReconnectOptions {
  /** First delay after a connection is lost, in ms. Default 100. */
  readonly initialDelayMs?: number;
  /** Largest delay between two attempts, in ms. Default 5000. */
  readonly maxDelayMs?: number;
}

/** PEM text (a string containing `-----BEGIN`), its bytes, or the path of a PEM file. */
export type PemSource = string | Buffer;

/** TLS options of an `amqps://` connection (Node's `tls.connect` options of the same names). */
export interface RabbitMqTlsOptions {
  /** CA certificate(s) the broker's certificate must chain to. Default: Node's bundled root CAs. */
  readonly ca?: PemSource | readonly PemSource[];
  /** Client certificate (for brokers with `ssl_options.verify = verify_peer`). Needs `key`. */
  readonly cert?: PemSource;
  /** Private key of `cert`. Kept private: never printed, logged or serialised. */
  readonly key?: PemSource;
  /** Passphrase of an encrypted `key`. Kept private like the key. */
  readonly passphrase?: string;
  /** Name sent in SNI and checked against the broker's certificate. Default: the URL's host name. */
  readonly servername?: string;
  /** Verify the broker's certificate (default true). `false` is for throwaway test brokers only. */
  readonly rejectUnauthorized?: boolean;
}

/** Options of {@link RabbitMqDriver}. */
export interface RabbitMqDriverOptions {
  /**
   * `amqp://user:pass@host:5672/vhost` or `amqps://...` (TLS); never printed. Query parameters: amqplib's
   * (`heartbeat`, `frameMax`, `channelMax`, `locale`), `queueType`, `deliveryLimit`, `atomicFollowUps`, and on
   * `amqps://` RabbitMQ's TLS names `cacertfile`, `certfile`, `keyfile`, `verify`, `server_name_indication`.
   * Options given in code win over the URL's.
   */
  readonly url: string;
  /** TLS of an `amqps://` connection (PEM text, Buffers or file paths). Wins over the URL's TLS parameters. */
  readonly tls?: RabbitMqTlsOptions;
  /**
   * `classic` (default): classic queues with `x-max-priority: 10`, so priority is native.
   * `quorum`: replicated quorum queues; no native priority (the core emulates it) and an exact `x-delivery-count`.
   */
  readonly queueType?: RabbitMqQueueType;
  /** Quorum queues only: `x-delivery-limit`, RabbitMQ's safety net under the core's attempt count. Default 50. */
  readonly deliveryLimit?: number;
  /**
   * Upper bounds (ms) of the delay buckets, ascending: one TTL wait queue per bucket and queue. The largest is
   * `capabilities.maxDelayMs`. Default: 250 ms, 1 s, 4 s, 15 s, 1 min, 4 min, 15 min, 1 h, 4 h.
   */
  readonly delayBucketsMs?: readonly number[];
  /** How long calls wait for the broker during an outage before `BrokerUnavailableError`. Default 15000. */
  readonly unavailableTimeoutMs?: number;
  /** Backoff between reconnect attempts. */
  readonly reconnect?: ReconnectOptions;
  /** Reported `capabilities.maxPayloadBytes`. Default 16 MiB (RabbitMQ's own cap is 128 MiB). */
  readonly maxPayloadBytes?: number;
  /** Connection name shown by `rabbitmqctl list_connections client_properties`. Default `queuekit`. */
  readonly connectionName?: string;
  /**
   * Complete a job and publish its follow-ups (`ctx.enqueue`) in one AMQP transaction (default true).
   * Transactions are slow (each commit waits for the disk) and a consumer channel that used one stays
   * transactional; `false` sends follow-ups first and then acks (at-least-once, `queuekit-chain-key`).
   */
  readonly atomicFollowUps?: boolean;
}

/** Options after defaults and validation (the URL and TLS material inside are secrets). */
export type ResolvedOptions = ReturnType<typeof resolveOptions>;

/** Default delay buckets, ms. */
export const DEFAULT_DELAY_BUCKETS_MS: readonly number[] = [
  250, 1_000, 4_000, 15_000, 60_000, 240_000, 900_000, 3_600_000, 14_400_000,
];

/** The driver's options that a URL may carry, with their defaults. */
const SETTINGS = {
  queueType: param.enum(['classic', 'quorum'], { default: 'classic' }),
  deliveryLimit: param.int({ min: 1, default: 50 }),
  atomicFollowUps: param.bool({ default: true }),
} as const;
/** RabbitMQ's TLS names, taken out of the URL (with the driver's own) before amqplib sees it. */
const TLS_PARAMS = {
  cacertfile: param.string(),
  certfile: param.string(),
  keyfile: param.string(),
  verify: param.enum(['verify_peer', 'verify_none']),
  server_name_indication: param.string(),
} as const;
/** amqplib's own query parameters: checked, and left in the URL for it. */
const AMQPLIB_PARAMS = {
  heartbeat: param.int({ min: 0 }),
  frameMax: param.int({ min: 1 }),
  channelMax: param.int({ min: 1 }),
  locale: param.string(),
};
/** Every parameter a URL may carry. */
const URL_PARAMS = { ...SETTINGS, ...TLS_PARAMS, ...AMQPLIB_PARAMS };
/** The URL's parameters that are the driver's own: taken out before amqplib sees the URL. */
const OWN_PARAMS = [...Object.keys(SETTINGS), ...Object.keys(TLS_PARAMS)];
/** Every option of the driver that `parseParams` checks. */
const OPTIONS = {
  ...SETTINGS,
  unavailableTimeoutMs: param.int({ min: 1, default: 15_000 }),
  maxPayloadBytes: param.int({ min: 1, default: 16 * 1024 * 1024 }),
  connectionName: param.string({ default: 'queuekit' }),
} as const;
const RECONNECT = {
  initialDelayMs: param.int({ min: 1, default: 100 }),
  maxDelayMs: param.int({ min: 1, default: 5_000 }),
};

/** Validate options and fill in defaults. Errors name the field and never include the URL. */
export function resolveOptions(options: RabbitMqDriverOptions) {
  if (typeof options?.url !== 'string' || !/^amqps?:\/\//i.test(options.url))
    throw new ConfigError('url', 'expected amqp://user:pass@host:5672/vhost or amqps://...');
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new ConfigError('url', 'not a valid URL');
  }
  const query = parseParams(parsed.searchParams, URL_PARAMS, { fieldPrefix: 'url.' });
  const own = OWN_PARAMS.filter((name) => parsed.searchParams.has(name));
  for (const name of own) parsed.searchParams.delete(name);
  const secure = parsed.protocol.toLowerCase() === 'amqps:';
  const tls = resolveTls(secure, query, options.tls);
  // Options given in code win over the URL's (which holds the defaults).
  const given = Object.entries(options).filter(([, value]) => value !== undefined);
  const settings = parseParams({ ...query, ...Object.fromEntries(given) }, OPTIONS, { unknown: 'ignore' });
  const buckets = options.delayBucketsMs ?? DEFAULT_DELAY_BUCKETS_MS;
  if (!Array.isArray(buckets) || buckets.length === 0)
    throw new ConfigError('delayBucketsMs', 'expected a non-empty array of positive integers');
  buckets.forEach((ms, i) => {
    if (!Number.isInteger(ms) || ms <= 0)
      throw new ConfigError(`delayBucketsMs[${i}]`, 'expected a positive integer');
    if (i > 0 && ms <= (buckets[i - 1] as number))
      throw new ConfigError(`delayBucketsMs[${i}]`, 'buckets must be strictly ascending');
  });
  const reconnect = parseParams({ ...options.reconnect }, RECONNECT, {
    unknown: 'ignore',
    fieldPrefix: 'reconnect.',
  });
  if (reconnect.maxDelayMs < reconnect.initialDelayMs)
    throw new ConfigError('reconnect.maxDelayMs', 'must be ≥ reconnect.initialDelayMs');
  const scrubber = new Scrubber([options.url]);
  const others = [tls?.passphrase, tls?.key?.toString('utf8')].flatMap((s) => (s ? [s, s.trim()] : []));
  return {
    // The URL as given when none of our parameters were in it (amqplib reads it; keep its spelling).
    url: own.length === 0 ? options.url : parsed.toString(),
    broker: `${secure ? 'amqps' : 'amqp'}://${parsed.hostname}:${parsed.port || (secure ? 5671 : 5672)}`,
    tls,
    scrub: (text: string) =>
      others.reduce((out, secret) => out.split(secret).join('***'), scrubber.scrub(text)),
    ...settings,
    delayBucketsMs: [...buckets],
    reconnectInitialMs: reconnect.initialDelayMs,
    reconnectMaxMs: reconnect.maxDelayMs,
  };
}

const TLS_CHECKS = {
  passphrase: param.string(),
  servername: param.string({ pattern: /./ }),
  rejectUnauthorized: param.bool(),
} as const;
const URL_NAMES = { ca: 'cacertfile', cert: 'certfile', key: 'keyfile' } as const;

/** PEM bytes of `source`; a key's source is never echoed (a mistyped PEM would be read as a path). */
function pem(field: string, source: PemSource, secret = false): Buffer {
  if (Buffer.isBuffer(source)) return source;
  if (typeof source !== 'string' || source === '')
    throw new ConfigError(field, 'expected PEM text, a Buffer or a file path');
  if (source.includes('-----BEGIN')) return Buffer.from(source, 'utf8');
  try {
    return readFileSync(source);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = typeof code === 'string' ? ` (${code})` : '';
    throw new ConfigError(field, `cannot read the ${secret ? 'key file' : `file \`${source}\``}${why}`);
  }
}

/** The explicit `tls` options over the URL's TLS parameters (RabbitMQ's names); undefined when neither gives any. */
function resolveTls(
  secure: boolean,
  query: { readonly [K in keyof typeof TLS_PARAMS]?: string },
  options: RabbitMqTlsOptions | undefined,
) {
  if (options !== undefined && (typeof options !== 'object' || options === null))
    throw new ConfigError('tls', 'expected an object');
  const { cacertfile, certfile, keyfile, verify, server_name_indication } = query;
  const fromUrl = Object.keys(TLS_PARAMS).some((name) => name in query);
  if (!fromUrl && options === undefined) return undefined;
  if (!secure) throw new ConfigError('tls', 'TLS options need an amqps:// URL (amqp:// is plaintext)');
  const ca = options?.ca ?? cacertfile;
  const cert = options?.cert ?? certfile;
  const key = options?.key ?? keyfile;
  if ((cert === undefined) !== (key === undefined))
    throw new ConfigError(
      `tls.${cert === undefined ? 'cert' : 'key'}`,
      'a client certificate needs both cert and key',
    );
  const checked = parseParams({ ...options }, TLS_CHECKS, { unknown: 'ignore', fieldPrefix: 'tls.' });
  const servername = checked.servername ?? server_name_indication;
  const rejectUnauthorized =
    checked.rejectUnauthorized ?? (verify === undefined ? undefined : verify === 'verify_peer');
  const field = (name: 'ca' | 'cert' | 'key') =>
    options?.[name] === undefined ? `url.${URL_NAMES[name]}` : `tls.${name}`;
  const cas = ca === undefined ? undefined : Array.isArray(ca) ? ca : [ca];
  return {
    ...(cas && { ca: cas.map((one, i) => pem(Array.isArray(ca) ? `tls.ca[${i}]` : field('ca'), one)) }),
    ...(cert !== undefined && { cert: pem(field('cert'), cert) }),
    ...(key !== undefined && { key: pem(field('key'), key, true) }),
    ...(checked.passphrase !== undefined && { passphrase: checked.passphrase }),
    ...(servername !== undefined && { servername }),
    ...(rejectUnauthorized !== undefined && { rejectUnauthorized }),
  };
}
