import { ConfigError } from '@queuekit/core';
import { type RabbitMqTlsOptions, type ResolvedTls, resolveTls } from './tls.js';

/** Kind of RabbitMQ queue the driver declares for work queues and their dead-letter queues. */
export type RabbitMqQueueType = 'classic' | 'quorum';

/** Reconnect policy: exponential backoff between attempts, capped. */
export interface ReconnectOptions {
  /** First delay after a connection is lost, in ms. Default 100. */
  readonly initialDelayMs?: number;
  /** Largest delay between two attempts, in ms. Default 5000. */
  readonly maxDelayMs?: number;
}

/** Options of {@link RabbitMqDriver}. */
export interface RabbitMqDriverOptions {
  /**
   * `amqp://user:pass@host:5672/vhost` or `amqps://...` (TLS). The password never appears in
   * logs or errors. Query parameters understood by amqplib (`heartbeat`, `frameMax`, ...) pass through;
   * on `amqps://`, RabbitMQ's TLS parameters `cacertfile`, `certfile`, `keyfile` (file paths),
   * `verify` (`verify_peer` | `verify_none`) and `server_name_indication` fill in {@link tls}.
   */
  readonly url: string;
  /**
   * TLS of an `amqps://` connection: CA, client certificate and key (PEM text, Buffers or file
   * paths), key passphrase, SNI name, verification. Wins over the URL's TLS parameters.
   */
  readonly tls?: RabbitMqTlsOptions;
  /**
   * `classic` (default): classic queues with `x-max-priority: 10`, so priority is native.
   * `quorum`: replicated quorum queues with `x-delivery-limit`; no native priority (the core emulates it
   * with band queues) and an exact `x-delivery-count`.
   */
  readonly queueType?: RabbitMqQueueType;
  /**
   * Quorum queues only: after this many deliveries RabbitMQ itself dead-letters the message (reason
   * `delivery-limit`), a safety net under the core's own attempt counting. Default 50.
   */
  readonly deliveryLimit?: number;
  /**
   * Upper bounds (ms) of the delay buckets, ascending. One TTL wait queue per bucket and per queue, created
   * on first use; the largest bucket is `capabilities.maxDelayMs` and longer delays hop through the core.
   * Default: 250 ms, 1 s, 4 s, 15 s, 1 min, 4 min, 15 min, 1 h, 4 h.
   */
  readonly delayBucketsMs?: readonly number[];
  /**
   * How long `send`, `receive` and the dead-letter calls wait for the broker during an outage before
   * failing with `BrokerUnavailableError`. Default 15000.
   */
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

/** Options after defaults and validation. */
export interface ResolvedOptions {
  /** The URL given to amqplib (TLS parameters taken out). Secret: password inside. */
  readonly url: string;
  /** `scheme://host:port` of the broker, for messages (no credentials). */
  readonly broker: string;
  /** TLS socket options (key and passphrase are secrets), when any were given. */
  readonly tls: ResolvedTls | undefined;
  readonly queueType: RabbitMqQueueType;
  readonly deliveryLimit: number;
  readonly delayBucketsMs: readonly number[];
  readonly unavailableTimeoutMs: number;
  readonly reconnectInitialMs: number;
  readonly reconnectMaxMs: number;
  readonly maxPayloadBytes: number;
  readonly connectionName: string;
  readonly atomicFollowUps: boolean;
}

/** Default delay buckets, ms. */
export const DEFAULT_DELAY_BUCKETS_MS: readonly number[] = [
  250, 1_000, 4_000, 15_000, 60_000, 240_000, 900_000, 3_600_000, 14_400_000,
];

function positiveInt(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value <= 0) throw new ConfigError(field, 'expected a positive integer');
  return value;
}

/** Validate options and fill in defaults. Errors name the field and never include the URL. */
export function resolveOptions(options: RabbitMqDriverOptions): ResolvedOptions {
  if (typeof options?.url !== 'string' || !/^amqps?:\/\//i.test(options.url)) {
    throw new ConfigError('url', 'expected amqp://user:pass@host:5672/vhost or amqps://...');
  }
  let parsed: URL;
  try {
    parsed = new URL(options.url);
  } catch {
    throw new ConfigError('url', 'not a valid URL');
  }
  const tls = resolveTls(parsed, options.tls);
  const secure = parsed.protocol.toLowerCase() === 'amqps:';
  const broker = `${secure ? 'amqps' : 'amqp'}://${parsed.hostname}:${parsed.port || (secure ? 5671 : 5672)}`;
  const queueType = options.queueType ?? 'classic';
  if (queueType !== 'classic' && queueType !== 'quorum') {
    throw new ConfigError('queueType', "expected 'classic' or 'quorum'");
  }
  const buckets = options.delayBucketsMs ?? DEFAULT_DELAY_BUCKETS_MS;
  if (!Array.isArray(buckets) || buckets.length === 0) {
    throw new ConfigError('delayBucketsMs', 'expected a non-empty array of positive integers');
  }
  buckets.forEach((ms, i) => {
    positiveInt(`delayBucketsMs[${i}]`, ms, 1);
    if (i > 0 && ms <= (buckets[i - 1] as number))
      throw new ConfigError(`delayBucketsMs[${i}]`, 'buckets must be strictly ascending');
  });
  const initial = positiveInt('reconnect.initialDelayMs', options.reconnect?.initialDelayMs, 100);
  const max = positiveInt('reconnect.maxDelayMs', options.reconnect?.maxDelayMs, 5_000);
  if (max < initial) throw new ConfigError('reconnect.maxDelayMs', 'must be ≥ reconnect.initialDelayMs');
  return {
    // The URL as given when it had no TLS parameters (amqplib reads it; keep its spelling).
    url: tls === undefined ? options.url : parsed.toString(),
    broker,
    tls,
    queueType,
    atomicFollowUps: options.atomicFollowUps ?? true,
    deliveryLimit: positiveInt('deliveryLimit', options.deliveryLimit, 50),
    delayBucketsMs: [...buckets],
    unavailableTimeoutMs: positiveInt('unavailableTimeoutMs', options.unavailableTimeoutMs, 15_000),
    reconnectInitialMs: initial,
    reconnectMaxMs: max,
    maxPayloadBytes: positiveInt('maxPayloadBytes', options.maxPayloadBytes, 16 * 1024 * 1024),
    connectionName: options.connectionName ?? 'queuekit',
  };
}
