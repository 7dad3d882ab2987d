/** What a driver declares it can do natively. */

/**
 * What a driver can do natively. The core reads these to decide between the broker's own
 * mechanism, its portable emulation, or an {@link UnsupportedFeatureError}. The conformance suite
 * gates optional cases on these values only.
 */
export interface Capabilities {
  /**
   * Longest delay, in milliseconds, the driver honours on `send` (`OutgoingMessage.delayMs`).
   * `Infinity` for unbounded. Must be > 0: a driver without native delay emulates it up to a
   * bound of its choice. Longer delays are split into hops by the core.
   */
  readonly maxDelayMs: number;
  /**
   * `native`: the broker orders waiting messages by `priority` (0-9, higher first).
   * `emulated`: no native priority; the core emulates it with one queue per priority band
   * (unless the queue is `strict`). `none`: a priority on send is an UnsupportedFeatureError.
   */
  readonly priority: 'native' | 'emulated' | 'none';
  /** The broker drops a second message with the same `id` when `dedup` is set on send. */
  readonly dedup: boolean;
  /** Messages sharing an `orderingKey` are delivered one at a time, in send order. */
  readonly ordering: boolean;
  /** Largest number of messages accepted by one `send` call without splitting (1 = no batching). */
  readonly maxBatchSize: number;
  /** `Delivery.extendLock` is available (the core heartbeats long handlers through it). */
  readonly lockRenewal: boolean;
  /**
   * `timeout`: an unsettled delivery comes back when its lock expires (`lockMs`).
   * `connection`: it comes back when the consumer's connection drops (AMQP 0-9-1).
   */
  readonly redelivery: 'timeout' | 'connection';
  /**
   * `exact`: `ReceivedMessage.deliveryCount` counts every delivery of the physical message.
   * `flag`: the broker only says "delivered before" (RabbitMQ classic queues): `deliveryCount` is 1 or 2.
   * The core then keeps the attempt count itself (it re-sends a redelivered message as a copy with
   * its attempt bumped before any handler runs), so a crash-looping job still reaches `maxAttempts`.
   * Optional for drivers written against earlier minor versions; absent means `exact`.
   */
  readonly deliveryCount?: 'exact' | 'flag';
  /** Dead-lettering uses a broker feature (`native`) or the driver's own queue (`emulated`). */
  readonly deadLetter: 'native' | 'emulated';
  /** Largest encoded message the broker accepts (body plus headers), in bytes. */
  readonly maxPayloadBytes: number;
}
