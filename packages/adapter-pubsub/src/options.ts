import type { ClientConfig } from '@google-cloud/pubsub';
import { ConfigError } from '@queuekit/core';

/** Options of {@link PubSubDriver}. Every field is optional; the URL form sets the common ones. */
export interface PubSubDriverOptions {
  /**
   * Google Cloud project id. Default: the URL's host, else Google's default chain
   * (`GOOGLE_CLOUD_PROJECT`, `PUBSUB_PROJECT_ID`, the credentials' project).
   */
  readonly projectId?: string;
  /**
   * Topic id of a queue. `{queue}` is replaced by the queue name; a template without `{queue}` is a
   * prefix (`jobs` gives `jobs-{queue}`). Default `{queue}`.
   */
  readonly topic?: string;
  /**
   * Subscription id of a queue, same rules as `topic`. `{topic}` is replaced by the topic id.
   * Default `{topic}.qk`.
   */
  readonly subscription?: string;
  /** Create missing topics and subscriptions (queue, dead-letter topic and its subscription). Default true. */
  readonly createIfMissing?: boolean;
  /**
   * Ack deadline of the subscriptions this driver creates, in seconds (10-600). A pull holds its
   * messages this long before the driver sets the consumer's `lockDuration`. Default 30.
   */
  readonly ackDeadlineSeconds?: number;
  /**
   * `maxDeliveryAttempts` of the native dead-letter policy (5-100). It is a backstop: the core
   * dead-letters by its own count (`maxAttempts`) first, with a reason. Default 100.
   */
  readonly maxDeliveryAttempts?: number;
  /**
   * Create subscriptions with `enableMessageOrdering` and declare the `ordering` capability.
   * Default true. (On the emulator an ordered subscription cannot forward to its dead-letter
   * topic; see the README.)
   */
  readonly messageOrdering?: boolean;
  /**
   * Longest delay one send carries, in ms (1-600,000). Longer delays are split into hops by the
   * core. Default 600,000 (the longest ack deadline Pub/Sub accepts).
   */
  readonly maxDelayMs?: number;
  /** Pause between two empty pulls while a receive waits, in ms. Default 100. */
  readonly pollIntervalMs?: number;
  /** Passed to the `PubSub` client (credentials, `apiEndpoint`, gRPC options). Never logged. */
  readonly clientConfig?: ClientConfig;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  readonly projectId: string | undefined;
  readonly topic: string;
  readonly subscription: string;
  readonly createIfMissing: boolean;
  readonly ackDeadlineSeconds: number;
  readonly maxDeliveryAttempts: number;
  readonly messageOrdering: boolean;
  readonly maxDelayMs: number;
  readonly pollIntervalMs: number;
  readonly clientConfig: ClientConfig;
}

/** Longest ack deadline (and so longest in-place delay) Pub/Sub accepts. */
export const MAX_ACK_DEADLINE_SECONDS = 600;

function intIn(field: string, value: number | undefined, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max)
    throw new ConfigError(field, `expected an integer from ${min} to ${max}`);
  return value;
}

/** Validate `options` and fill in the defaults. */
export function resolveOptions(options: PubSubDriverOptions = {}): ResolvedOptions {
  const topic = options.topic ?? '{queue}';
  const subscription = options.subscription ?? '{topic}.qk';
  if (topic === '') throw new ConfigError('topic', 'must not be empty');
  if (subscription === '') throw new ConfigError('subscription', 'must not be empty');
  return {
    projectId: options.projectId || undefined,
    topic,
    subscription,
    createIfMissing: options.createIfMissing ?? true,
    ackDeadlineSeconds: intIn('ackDeadlineSeconds', options.ackDeadlineSeconds, 10, 600, 30),
    maxDeliveryAttempts: intIn('maxDeliveryAttempts', options.maxDeliveryAttempts, 5, 100, 100),
    messageOrdering: options.messageOrdering ?? true,
    maxDelayMs: intIn('maxDelayMs', options.maxDelayMs, 1, MAX_ACK_DEADLINE_SECONDS * 1000, 600_000),
    pollIntervalMs: intIn('pollIntervalMs', options.pollIntervalMs, 1, 60_000, 100),
    clientConfig: options.clientConfig ?? {},
  };
}

function boolParam(field: string, value: string | null): boolean | undefined {
  if (value === null) return undefined;
  if (value === 'true' || value === '1') return true;
  if (value === 'false' || value === '0') return false;
  throw new ConfigError(`url.${field}`, 'expected true or false');
}

function intParam(field: string, value: string | null): number | undefined {
  if (value === null) return undefined;
  const parsed = Number(value);
  if (!Number.isInteger(parsed)) throw new ConfigError(`url.${field}`, 'expected an integer');
  return parsed;
}

/**
 * Parse `pubsub://PROJECT/TOPIC?subscription=SUB&...` into driver options. Query parameters:
 * `subscription`, `createIfMissing`, `ackDeadlineSeconds`, `maxDeliveryAttempts`,
 * `messageOrdering`, `maxDelayMs`, `pollIntervalMs`. Errors never quote the URL.
 */
export function optionsFromUrl(url: string): PubSubDriverOptions {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new ConfigError('url', 'expected pubsub://PROJECT[/TOPIC][?subscription=SUB]');
  }
  if (parsed.protocol !== 'pubsub:') throw new ConfigError('url', 'expected the pubsub:// scheme');
  const known = new Set([
    'subscription',
    'createIfMissing',
    'ackDeadlineSeconds',
    'maxDeliveryAttempts',
    'messageOrdering',
    'maxDelayMs',
    'pollIntervalMs',
  ]);
  for (const key of parsed.searchParams.keys()) {
    if (!known.has(key)) throw new ConfigError(`url.${key}`, 'unknown query parameter');
  }
  const q = parsed.searchParams;
  const path = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, ''));
  if (path.includes('/')) throw new ConfigError('url', 'expected at most one path segment (the topic)');
  const options: {
    -readonly [K in keyof PubSubDriverOptions]: PubSubDriverOptions[K];
  } = {};
  const project = decodeURIComponent(parsed.hostname);
  if (project) options.projectId = project;
  if (path) options.topic = path;
  const subscription = q.get('subscription');
  if (subscription) options.subscription = subscription;
  const createIfMissing = boolParam('createIfMissing', q.get('createIfMissing'));
  if (createIfMissing !== undefined) options.createIfMissing = createIfMissing;
  const messageOrdering = boolParam('messageOrdering', q.get('messageOrdering'));
  if (messageOrdering !== undefined) options.messageOrdering = messageOrdering;
  const ackDeadlineSeconds = intParam('ackDeadlineSeconds', q.get('ackDeadlineSeconds'));
  if (ackDeadlineSeconds !== undefined) options.ackDeadlineSeconds = ackDeadlineSeconds;
  const maxDeliveryAttempts = intParam('maxDeliveryAttempts', q.get('maxDeliveryAttempts'));
  if (maxDeliveryAttempts !== undefined) options.maxDeliveryAttempts = maxDeliveryAttempts;
  const maxDelayMs = intParam('maxDelayMs', q.get('maxDelayMs'));
  if (maxDelayMs !== undefined) options.maxDelayMs = maxDelayMs;
  const pollIntervalMs = intParam('pollIntervalMs', q.get('pollIntervalMs'));
  if (pollIntervalMs !== undefined) options.pollIntervalMs = pollIntervalMs;
  return options;
}
