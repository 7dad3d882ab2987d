/**
 * Queue properties and the loader for a `Config.json` shaped like the one Microsoft's Service Bus
 * emulator reads (`UserConfig.Namespaces[].Queues[].Properties`).
 *
 * Docs: https://learn.microsoft.com/azure/service-bus-messaging/test-locally-with-service-bus-emulator
 * (section "Interact with the emulator" → config file) and the queue properties described in
 * https://learn.microsoft.com/azure/service-bus-messaging/service-bus-queues-topics-subscriptions
 */
import { readFileSync } from 'node:fs';

/** Properties of one queue, with the units this server uses (milliseconds). */
export interface QueueProperties {
  /**
   * Peek-lock duration. Service Bus default 60 s (max 5 min); see
   * https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement#peeklock
   */
  readonly lockDurationMs: number;
  /**
   * Deliveries before the broker dead-letters with `MaxDeliveryCountExceeded` (default 10); see
   * https://learn.microsoft.com/azure/service-bus-messaging/service-bus-dead-letter-queues#maximum-delivery-count
   */
  readonly maxDeliveryCount: number;
  /**
   * Drop a second message with the same `MessageId` inside the window; see
   * https://learn.microsoft.com/azure/service-bus-messaging/duplicate-detection
   */
  readonly requiresDuplicateDetection: boolean;
  /** Duplicate detection window (Service Bus default 10 minutes, minimum 20 s). */
  readonly duplicateDetectionWindowMs: number;
  /**
   * Default time to live; a message expires after min(its own TTL, this). See
   * https://learn.microsoft.com/azure/service-bus-messaging/message-expiration
   */
  readonly defaultMessageTimeToLiveMs: number;
  /** Move expired messages to the dead-letter queue (`TTLExpiredException`) instead of dropping them. */
  readonly deadLetteringOnMessageExpiration: boolean;
  /**
   * Session-enabled queue. Not implemented by this server (the adapter does not use sessions):
   * attaching to a queue configured with `true` fails with `amqp:not-implemented`.
   */
  readonly requiresSession: boolean;
}

/** Service Bus defaults for a new queue (what `az servicebus queue create` gives). */
export const DEFAULT_QUEUE_PROPERTIES: QueueProperties = {
  lockDurationMs: 60_000,
  maxDeliveryCount: 10,
  requiresDuplicateDetection: false,
  duplicateDetectionWindowMs: 10 * 60_000,
  defaultMessageTimeToLiveMs: Number.POSITIVE_INFINITY,
  deadLetteringOnMessageExpiration: false,
  requiresSession: false,
};

/** One queue of a configuration. */
export interface QueueDefinition {
  readonly name: string;
  readonly properties: QueueProperties;
}

/**
 * Parse an ISO 8601 duration such as `PT1M`, `PT20S`, `P14D` or `PT0.5S` into milliseconds
 * (the format the emulator's `Config.json` and the ATOM API use).
 */
export function parseIsoDuration(text: string): number {
  const match =
    /^P(?:(\d+(?:\.\d+)?)D)?(?:T(?:(\d+(?:\.\d+)?)H)?(?:(\d+(?:\.\d+)?)M)?(?:(\d+(?:\.\d+)?)S)?)?$/i.exec(
      text.trim(),
    );
  if (!match || text.trim().toUpperCase() === 'P' || text.trim().toUpperCase() === 'PT') {
    throw new Error(`Not an ISO 8601 duration: ${text}`);
  }
  const [, days, hours, minutes, seconds] = match;
  const ms =
    Number(days ?? 0) * 86_400_000 +
    Number(hours ?? 0) * 3_600_000 +
    Number(minutes ?? 0) * 60_000 +
    Number(seconds ?? 0) * 1000;
  return Math.round(ms);
}

interface RawQueue {
  Name?: unknown;
  Properties?: Record<string, unknown>;
}

function duration(raw: unknown, fallback: number): number {
  if (raw === undefined || raw === null || raw === '') return fallback;
  if (typeof raw === 'number') return raw;
  if (typeof raw !== 'string') throw new Error(`Expected an ISO 8601 duration, got ${JSON.stringify(raw)}`);
  // The emulator (and .NET TimeSpan.MaxValue) use a huge value for "never".
  const ms = parseIsoDuration(raw);
  return ms >= 10 * 365 * 86_400_000 ? Number.POSITIVE_INFINITY : ms;
}

/** Queue properties from the emulator's PascalCase `Properties` object, over `base`. */
export function queuePropertiesFrom(
  raw: Record<string, unknown> | undefined,
  base: QueueProperties = DEFAULT_QUEUE_PROPERTIES,
): QueueProperties {
  const p = raw ?? {};
  return {
    lockDurationMs: duration(p.LockDuration, base.lockDurationMs),
    maxDeliveryCount: typeof p.MaxDeliveryCount === 'number' ? p.MaxDeliveryCount : base.maxDeliveryCount,
    requiresDuplicateDetection:
      typeof p.RequiresDuplicateDetection === 'boolean'
        ? p.RequiresDuplicateDetection
        : base.requiresDuplicateDetection,
    duplicateDetectionWindowMs: duration(
      p.DuplicateDetectionHistoryTimeWindow,
      base.duplicateDetectionWindowMs,
    ),
    defaultMessageTimeToLiveMs: duration(p.DefaultMessageTimeToLive, base.defaultMessageTimeToLiveMs),
    deadLetteringOnMessageExpiration:
      typeof p.DeadLetteringOnMessageExpiration === 'boolean'
        ? p.DeadLetteringOnMessageExpiration
        : base.deadLetteringOnMessageExpiration,
    requiresSession: typeof p.RequiresSession === 'boolean' ? p.RequiresSession : base.requiresSession,
  };
}

/** Queues of every namespace of a `Config.json` object. Topics are ignored (not implemented). */
export function queuesFromConfig(config: unknown): QueueDefinition[] {
  const user = (config as { UserConfig?: { Namespaces?: { Queues?: RawQueue[] }[] } })?.UserConfig;
  const out: QueueDefinition[] = [];
  for (const namespace of user?.Namespaces ?? []) {
    for (const queue of namespace.Queues ?? []) {
      if (typeof queue.Name !== 'string' || queue.Name === '')
        throw new Error('Config.json: a queue has no Name');
      out.push({ name: queue.Name, properties: queuePropertiesFrom(queue.Properties) });
    }
  }
  return out;
}

/** Read and parse a `Config.json` file. */
export function loadConfigFile(path: string): QueueDefinition[] {
  return queuesFromConfig(JSON.parse(readFileSync(path, 'utf8')));
}
