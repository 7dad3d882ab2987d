/**
 * Options of the Service Bus driver and how a queue URL (or connection string) becomes them.
 */
import type { TokenCredential } from '@azure/identity';
import { ConfigError } from '@queuekit/core';
import { param, parseParams } from '@queuekit/core/driver-kit';

/** Largest message on the Standard tier, headers included (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas). */
export const STANDARD_MAX_MESSAGE_BYTES = 256 * 1024;
/** Largest message on Premium (configurable per entity up to 100 MB). */
export const PREMIUM_MAX_MESSAGE_BYTES = 100 * 1024 * 1024;

/** Properties used when the driver creates a missing queue (`createQueues`). */
export interface ServiceBusQueueDefaults {
  /** Peek-lock duration in ms (Service Bus: 5 s to 5 min, default 60 s). */
  readonly lockDurationMs?: number;
  /** Broker-side delivery limit before `MaxDeliveryCountExceeded` (default here 100: the core counts attempts). */
  readonly maxDeliveryCount?: number;
}

/** Options of {@link ServiceBusDriver}. Give a connection string, or a namespace (with a credential). */
export interface ServiceBusDriverOptions {
  /**
   * `Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...` (add `UseDevelopmentEmulator=true`
   * for Microsoft's emulator or the test server). Default: `SERVICEBUS_CONNECTION_STRING` when no
   * `namespace` is given. Never printed.
   */
  readonly connectionString?: string;
  /** `NAMESPACE` or `NAMESPACE.servicebus.windows.net`, authenticated with `credential`. */
  readonly namespace?: string;
  /** Microsoft Entra credential for `namespace`. Default: `new DefaultAzureCredential()`. */
  readonly credential?: TokenCredential;
  /**
   * The queues have duplicate detection enabled (`requiresDuplicateDetection`). Declares the
   * `dedup` capability: a job id sent with `jobId` becomes the `messageId`. Default false.
   */
  readonly duplicateDetection?: boolean;
  /**
   * Largest message the namespace accepts: 256 KB on Standard (default), up to 100 MB on Premium.
   * The capability reported to the core is this minus {@link AMQP_OVERHEAD_BYTES}.
   */
  readonly maxMessageBytes?: number;
  /**
   * Create missing queues through the administration API (HTTPS, needs Manage rights). Off by
   * default: Service Bus does not create queues on first use.
   */
  readonly createQueues?: boolean;
  /**
   * Connection string for the administration API when it differs from `connectionString`:
   * Microsoft's emulator serves it on its HTTP port (5300), e.g.
   * `Endpoint=sb://localhost:5300;SharedAccessKeyName=...;SharedAccessKey=...;UseDevelopmentEmulator=true`.
   * Default: `SERVICEBUS_ADMIN_CONNECTION_STRING`, else the messaging connection string.
   */
  readonly adminConnectionString?: string;
  /** Properties of queues created by `createQueues`. */
  readonly queueDefaults?: ServiceBusQueueDefaults;
  /** Per-attempt timeout of SDK operations (send, settle, management), in ms. Default 10 000. */
  readonly operationTimeoutMs?: number;
  /**
   * Prefetch up to the consumer's concurrency through the SDK's streaming receiver (default false).
   * About 1.25x faster consumption on the test server, but messages prefetched by a consumer that
   * then closes stay locked until their lock expires and come back with one more delivery, which
   * the core counts as an attempt (see README, trade-offs). Without it, each receive asks the
   * broker for exactly the free slots.
   */
  readonly prefetch?: boolean;
  /**
   * SDK retries of a failed operation (connection, send, settle), exponential from 500 ms up to
   * 5 s. Default 3. The SDK's own default waits 30 s between tries.
   */
  readonly maxRetries?: number;
  /**
   * Allow `UseDevelopmentEmulator=true` (plain TCP, keys and messages unencrypted) for a host that is not
   * loopback, e.g. an emulator container reached by its compose service name. Default false: refused
   * with a ConfigError. URL parameter `allowInsecure=true` on `servicebus://` URLs.
   */
  readonly allowInsecure?: boolean;
}

/**
 * Bytes kept aside from `maxMessageBytes` for what the core's size check does not count: AMQP
 * framing, system properties (message id, subject, content type) and the driver's own property.
 */
export const AMQP_OVERHEAD_BYTES = 1024;

/** The query parameters of a `servicebus://` URL. */
const URL_PARAMS = {
  duplicateDetection: param.bool(),
  createQueues: param.bool(),
  allowInsecure: param.bool(),
  maxMessageBytes: param.int({ min: AMQP_OVERHEAD_BYTES + 1, max: PREMIUM_MAX_MESSAGE_BYTES }),
  tier: param.enum(['standard', 'premium']),
} as const;

/** Connection-string keys the SDK reads, in the spelling it expects (it compares them case-sensitively). */
const CANONICAL_KEYS = [
  'Endpoint',
  'SharedAccessKeyName',
  'SharedAccessKey',
  'SharedAccessSignature',
  'EntityPath',
  'UseDevelopmentEmulator',
];
const CANONICAL = new Map(CANONICAL_KEYS.map((key) => [key.toLowerCase(), key]));

/**
 * The `Key=Value` parts of a connection string, in any order (Azure accepts any), keys matched without
 * regard to case. A value runs to the next `;` and may hold `=` (base64 keys end with it), `/`, `%`, `#`
 * and spaces. Errors never quote the string.
 */
export function parseConnectionString(text: string): Map<string, string> {
  const parts = new Map<string, string>();
  for (const raw of text.split(';')) {
    const part = raw.trim();
    if (part === '') continue;
    const at = part.indexOf('=');
    const key = at > 0 ? part.slice(0, at).trim() : '';
    if (key === '') throw new ConfigError('connectionString', 'expected Key=Value parts separated by `;`');
    parts.set(CANONICAL.get(key.toLowerCase()) ?? key, part.slice(at + 1).trim());
  }
  return parts;
}

/** Whether `text` is a connection string (`Key=Value;...` with an `Endpoint`), whatever the key order. */
export function isConnectionString(text: string): boolean {
  if (!/^\s*[^=:/;\s]+\s*=/.test(text)) return false;
  try {
    return parseConnectionString(text).has('Endpoint');
  } catch {
    return false;
  }
}

/** The connection string with the SDK's key spellings, `Endpoint` first (the SDK itself accepts any order). */
export function normalizeConnectionString(text: string): string {
  const parts = parseConnectionString(text);
  const endpoint = parts.get('Endpoint');
  if (!endpoint || !/^sb:\/\/[^/;]+/i.test(endpoint))
    throw new ConfigError('connectionString', 'expected an Endpoint=sb://HOST/ part');
  return [
    `Endpoint=${endpoint}`,
    ...[...parts].filter(([key]) => key !== 'Endpoint').map(([k, v]) => `${k}=${v}`),
  ].join(';');
}

/** Whether `host` (with or without a port) is a loopback address or `localhost`. */
export function isLoopback(host: string): boolean {
  const name = host
    .replace(/:\d+$/, '')
    .replace(/^\[(.*)\]$/, '$1')
    .toLowerCase();
  return (
    name === 'localhost' || name.endsWith('.localhost') || name === '::1' || /^127\.\d+\.\d+\.\d+$/.test(name)
  );
}

/**
 * Refuse a plaintext connection (`UseDevelopmentEmulator=true`) to a host that is not loopback unless
 * `allowInsecure` says so: the SDK would send the key's tokens and every message unencrypted.
 */
export function checkPlaintext(connectionString: string, allowInsecure: boolean | undefined): void {
  const parts = parseConnectionString(connectionString);
  if (!/^true$/i.test(parts.get('UseDevelopmentEmulator') ?? '')) return;
  const host = endpointHost(connectionString) ?? '';
  if (allowInsecure || isLoopback(host)) return;
  throw new ConfigError(
    'connectionString',
    `UseDevelopmentEmulator=true means plain TCP; ${host} is not a loopback host (set allowInsecure: true to allow it)`,
  );
}

/** Host (and port) of a connection string's endpoint: shown by the driver, never the keys. */
export function endpointHost(connectionString: string): string | undefined {
  try {
    return /^sb:\/\/([^/;]+)/i.exec(parseConnectionString(connectionString).get('Endpoint') ?? '')?.[1];
  } catch {
    return undefined;
  }
}

/** Parse a queue URL: a connection string (keys in any order), or `servicebus://NAMESPACE[/QUEUE][?options]`. */
export function optionsFromUrl(url: string): ServiceBusDriverOptions {
  const trimmed = url.trim();
  if (isConnectionString(trimmed)) return { connectionString: trimmed };
  let parsed: URL;
  try {
    parsed = new URL(trimmed);
  } catch {
    throw new ConfigError('url', 'expected servicebus://NAMESPACE/QUEUE or a Service Bus connection string');
  }
  if (parsed.protocol !== 'servicebus:') throw new ConfigError('url', 'expected the servicebus:// scheme');
  const { tier, ...given } = parseParams(parsed.searchParams, URL_PARAMS, { fieldPrefix: 'url.' });
  const premium = tier === 'premium' && given.maxMessageBytes === undefined;
  return {
    ...(parsed.hostname ? { namespace: parsed.hostname } : {}),
    ...given,
    ...(premium ? { maxMessageBytes: PREMIUM_MAX_MESSAGE_BYTES } : {}),
  };
}

/** Fully qualified namespace host of `NAMESPACE` or `NAMESPACE.servicebus.windows.net`. */
export function namespaceHost(namespace: string): string {
  return namespace.includes('.') ? namespace : `${namespace}.servicebus.windows.net`;
}

/** Validate options, naming the offending field. */
export function validateOptions(
  options: ServiceBusDriverOptions,
  env: NodeJS.ProcessEnv = process.env,
): void {
  if (options.maxMessageBytes !== undefined) {
    if (!Number.isInteger(options.maxMessageBytes) || options.maxMessageBytes <= AMQP_OVERHEAD_BYTES)
      throw new ConfigError('maxMessageBytes', `must be an integer above ${AMQP_OVERHEAD_BYTES}`);
    if (options.maxMessageBytes > PREMIUM_MAX_MESSAGE_BYTES)
      throw new ConfigError('maxMessageBytes', 'Service Bus messages are at most 100 MB (Premium)');
  }
  if (!options.connectionString && !options.namespace && !env.SERVICEBUS_CONNECTION_STRING) {
    throw new ConfigError(
      'connectionString',
      'give a connection string, a namespace (servicebus://NAMESPACE/QUEUE), or set SERVICEBUS_CONNECTION_STRING',
    );
  }
  const lock = options.queueDefaults?.lockDurationMs;
  if (lock !== undefined && (!Number.isFinite(lock) || lock < 5000 || lock > 300_000))
    throw new ConfigError('queueDefaults.lockDurationMs', 'Service Bus lock durations are 5 s to 5 min');
}
