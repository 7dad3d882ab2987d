import type { CallOptions, ClientConfig } from '@google-cloud/pubsub';
import { ConfigError } from '@queuekit/core';
import { param, parseParams } from '@queuekit/core/driver-kit';

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
  /**
   * Longest pause between two empty pulls while a receive waits, in ms. Pauses start at 5 ms after a pull
   * that brought messages and double with each empty one. Default 100.
   */
  readonly pollIntervalMs?: number;
  /** Passed to the `PubSub` client (credentials, `apiEndpoint`, gRPC options). Never logged. */
  readonly clientConfig?: ClientConfig;
}

/** Options with every default filled in. */
export type ResolvedOptions = Required<Omit<PubSubDriverOptions, 'projectId'>> & {
  readonly projectId: string | undefined;
};

/** Longest ack deadline (and so longest in-place delay) Pub/Sub accepts. */
export const MAX_ACK_DEADLINE_SECONDS = 600;

/** The options checked by range, with their defaults. */
const SETTINGS = {
  createIfMissing: param.bool({ default: true }),
  ackDeadlineSeconds: param.int({ min: 10, max: MAX_ACK_DEADLINE_SECONDS, default: 30 }),
  maxDeliveryAttempts: param.int({ min: 5, max: 100, default: 100 }),
  messageOrdering: param.bool({ default: true }),
  maxDelayMs: param.int({ min: 1, max: MAX_ACK_DEADLINE_SECONDS * 1000, default: 600_000 }),
  pollIntervalMs: param.int({ min: 1, max: 60_000, default: 100 }),
} as const;

/** The query parameters of a `pubsub://` URL: typed here, their ranges checked with the other options. */
const URL_PARAMS = {
  subscription: param.string(),
  createIfMissing: param.bool(),
  ackDeadlineSeconds: param.int(),
  maxDeliveryAttempts: param.int(),
  messageOrdering: param.bool(),
  maxDelayMs: param.int(),
  pollIntervalMs: param.int(),
} as const;

/** Validate `options` and fill in the defaults. */
export function resolveOptions(options: PubSubDriverOptions = {}): ResolvedOptions {
  const topic = options.topic ?? '{queue}';
  const subscription = options.subscription ?? '{topic}.qk';
  if (topic === '') throw new ConfigError('topic', 'must not be empty');
  if (subscription === '') throw new ConfigError('subscription', 'must not be empty');
  const settings = Object.fromEntries(
    Object.keys(SETTINGS).map((key) => [key, options[key as keyof typeof SETTINGS]]),
  );
  return {
    ...parseParams(settings, SETTINGS),
    projectId: options.projectId || undefined,
    topic,
    subscription,
    clientConfig: options.clientConfig ?? {},
  };
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
  const { subscription, ...given } = parseParams(parsed.searchParams, URL_PARAMS, { fieldPrefix: 'url.' });
  const path = decodeURIComponent(parsed.pathname.replace(/^\/+|\/+$/g, ''));
  if (path.includes('/')) throw new ConfigError('url', 'expected at most one path segment (the topic)');
  const project = decodeURIComponent(parsed.hostname);
  return {
    ...(project ? { projectId: project } : {}),
    ...(path ? { topic: path } : {}),
    ...(subscription ? { subscription } : {}),
    ...given,
  };
}

/**
 * Call options of one publish, pull, acknowledge or modifyAckDeadline: 10 s, retries included, pauses from
 * 100 ms doubling to 1 s. The client's defaults retry a publish for up to 600 s with pauses growing to 60 s,
 * so a send during a short outage hung far past it and a consumer resumed long after the broker was back.
 */
export const CALL: CallOptions = {
  timeout: 10_000,
  retry: {
    backoffSettings: {
      initialRetryDelayMillis: 100,
      retryDelayMultiplier: 2,
      maxRetryDelayMillis: 1000,
      initialRpcTimeoutMillis: 10_000,
      rpcTimeoutMultiplier: 1,
      maxRpcTimeoutMillis: 10_000,
      totalTimeoutMillis: 10_000,
    },
  },
};

/**
 * Call options of the queue setup's topic and subscription calls (create, get, delete): {@link CALL}'s retries
 * within 30 s. On the client's defaults (60 s and more per call, one call after another) a first send or receive
 * against an unreachable Pub/Sub hung over a minute in setup instead of failing typed.
 */
export const ADMIN_CALL: CallOptions = {
  timeout: 30_000,
  retry: { backoffSettings: { ...CALL.retry!.backoffSettings!, totalTimeoutMillis: 30_000 } },
};

/**
 * Call options of a publish of at least {@link BUNDLE_THRESHOLD} messages: {@link CALL} without google-gax's
 * request bundling, which would send it at once anyway, after encoding every message once more to count its
 * bytes. Smaller publishes keep bundling (held up to 10 ms and merged, as the native client batches them).
 */
export const LARGE_PUBLISH_CALL: CallOptions = { ...CALL, isBundling: false };
/** `element_count_threshold` of Publish in the client's `publisher_client_config.json`. */
export const BUNDLE_THRESHOLD = 100;
