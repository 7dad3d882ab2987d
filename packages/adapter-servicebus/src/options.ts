/** Options of the Service Bus driver, and how a queue URL (or a connection string) becomes them. */
import type { TokenCredential } from '@azure/identity';
import { ConfigError } from '@queuekit/core';
import { param, parseParams } from '@queuekit/core/driver-kit';

/** Largest message on Standard, headers included (the Service Bus quotas page). */
export const STANDARD_MAX_MESSAGE_BYTES = 256 * 1024;
/** Largest message on Premium (configurable per entity up to 100 MB). */
export const PREMIUM_MAX_MESSAGE_BYTES = 100 * 1024 * 1024;
/** Kept aside from `maxMessageBytes` for what the core's size check does not count (framing, system properties). */
export const AMQP_OVERHEAD_BYTES = 1024;
/**
 * Per-attempt timeout of an SDK operation: a send cut by a connection reset waits this long before the SDK retries it
 * on the new connection (30 s, the SDK's default, outlasted the fault suite's bound on a send).
 */
export const DEFAULT_OPERATION_TIMEOUT_MS = 10_000;

/** Properties used when the driver creates a missing queue (`createQueues`). */
export interface ServiceBusQueueDefaults {
  /** Peek-lock duration in ms (Service Bus: 5 s to 5 min; default 60 s). */
  readonly lockDurationMs?: number;
  /** Broker-side delivery limit before `MaxDeliveryCountExceeded` (default 100: the core counts attempts). */
  readonly maxDeliveryCount?: number;
}

/** Options of {@link ServiceBusDriver}: a connection string, or a namespace with a credential. See the README. */
export interface ServiceBusDriverOptions {
  /** `Endpoint=sb://...;SharedAccessKeyName=...;SharedAccessKey=...` (default `SERVICEBUS_CONNECTION_STRING`). */
  readonly connectionString?: string;
  /** `NAMESPACE` or `NAMESPACE.servicebus.windows.net`, authenticated with `credential`. */
  readonly namespace?: string;
  /** Microsoft Entra credential for `namespace`. Default `DefaultAzureCredential`. */
  readonly credential?: TokenCredential;
  /** The queues have duplicate detection on: declares `dedup`, a `jobId` becomes the `messageId`. Default false. */
  readonly duplicateDetection?: boolean;
  /** Largest message the namespace accepts: 256 KB on Standard (default), up to 100 MB on Premium. */
  readonly maxMessageBytes?: number;
  /** Create missing queues through the administration API (HTTPS, Manage rights). Default false. */
  readonly createQueues?: boolean;
  /** For the administration API. Default `SERVICEBUS_ADMIN_CONNECTION_STRING`, else `connectionString`. */
  readonly adminConnectionString?: string;
  /** Properties of queues created by `createQueues`. */
  readonly queueDefaults?: ServiceBusQueueDefaults;
  /** Per-attempt timeout of SDK operations (send, settle, management), in ms. Default 10 000. */
  readonly operationTimeoutMs?: number;
  /** Prefetch up to the consumer's concurrency (the SDK's streaming receiver; README, trade-offs). Default false. */
  readonly prefetch?: boolean;
  /** SDK retries of a failed operation, exponential from 500 ms to 5 s. Default 3. */
  readonly maxRetries?: number;
  /** Allow `UseDevelopmentEmulator=true` (plain TCP) to a host that is not loopback. Default false. */
  readonly allowInsecure?: boolean;
}

const MESSAGE_BYTES = param.int({ min: AMQP_OVERHEAD_BYTES + 1, max: PREMIUM_MAX_MESSAGE_BYTES });
/** The query parameters of a `servicebus://` URL. */
const URL_PARAMS = {
  duplicateDetection: param.bool(),
  createQueues: param.bool(),
  allowInsecure: param.bool(),
  maxMessageBytes: MESSAGE_BYTES,
  tier: param.enum(['standard', 'premium']),
} as const;

/** Connection-string keys in the spelling the SDK expects (it compares them case-sensitively). */
const CANONICAL = new Map(
  [
    'Endpoint',
    'SharedAccessKeyName',
    'SharedAccessKey',
    'SharedAccessSignature',
    'EntityPath',
    'UseDevelopmentEmulator',
  ].map((key) => [key.toLowerCase(), key]),
);

/**
 * The `Key=Value` parts of a connection string, in any order and key case (as Azure accepts). A value runs to the
 * next `;` and may hold `=`, `/`, `%`, `#` and spaces. Errors never quote the string.
 */
function parseConnectionString(text: string): Map<string, string> {
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

/** Whether `text` is a connection string (`Key=Value;...` with an `Endpoint`). */
function isConnectionString(text: string): boolean {
  try {
    return /^\s*[^=:/;\s]+\s*=/.test(text) && parseConnectionString(text).has('Endpoint');
  } catch {
    return false;
  }
}

/**
 * A connection string in the SDK's key spellings, `Endpoint` first, and its host (shown, never the keys). Plain TCP
 * (`UseDevelopmentEmulator=true`: the SDK would send tokens and messages unencrypted) to a host that is not
 * loopback is refused unless `allowInsecure`.
 */
export function parseEndpoint(
  text: string,
  allowInsecure?: boolean,
): { connectionString: string; host: string } {
  const parts = parseConnectionString(text);
  const host = /^sb:\/\/([^/;]+)/i.exec(parts.get('Endpoint') ?? '')?.[1];
  if (!host) throw new ConfigError('connectionString', 'expected an Endpoint=sb://HOST/ part');
  const name = host.replace(/:\d+$/, '').replace(/^\[(.*)\]$/, '$1');
  const loopback = /^(localhost|.*\.localhost|::1|127\.\d+\.\d+\.\d+)$/i.test(name);
  const emulator = parts.get('UseDevelopmentEmulator');
  // The SDK reads anything but `true` as false and then tries TLS against the emulator, forever.
  if (emulator !== undefined && !/^(true|false)$/i.test(emulator))
    throw new ConfigError('connectionString', 'UseDevelopmentEmulator must be true or false');
  if (/^true$/i.test(emulator ?? '') && !loopback && !allowInsecure)
    throw new ConfigError(
      'connectionString',
      `UseDevelopmentEmulator=true means plain TCP; ${host} is not a loopback host (set allowInsecure: true to allow it)`,
    );
  const rest = [...parts].filter(([key]) => key !== 'Endpoint').map(([key, value]) => `${key}=${value}`);
  return { connectionString: [`Endpoint=${parts.get('Endpoint')}`, ...rest].join(';'), host };
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

/** Validate options, naming the offending field. */
export function validateOptions(options: ServiceBusDriverOptions): void {
  parseParams({ maxMessageBytes: options.maxMessageBytes }, { maxMessageBytes: MESSAGE_BYTES });
  if (!options.connectionString && !options.namespace && !process.env.SERVICEBUS_CONNECTION_STRING)
    throw new ConfigError(
      'connectionString',
      'give a connection string, a namespace (servicebus://NAMESPACE/QUEUE), or set SERVICEBUS_CONNECTION_STRING',
    );
  const lock = options.queueDefaults?.lockDurationMs;
  if (lock !== undefined && (!Number.isFinite(lock) || lock < 5000 || lock > 300_000))
    throw new ConfigError('queueDefaults.lockDurationMs', 'Service Bus lock durations are 5 s to 5 min');
}
