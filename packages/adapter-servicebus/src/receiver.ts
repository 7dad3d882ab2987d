/**
 * What one SDK receiver needs beyond the SDK: a settlement lane (settlements in an order rhea cannot mix up)
 * and, with `prefetch`, a buffering stream.
 *
 * The stream is a prefetching receiver for one queue: the SDK's streaming `subscribe()` with `maxConcurrentCalls`
 * equal to the consumer's concurrency. Its message handler only resolves when the delivery is
 * settled, so the SDK grants new credit one settled message at a time: buffered plus in-flight
 * messages never exceed that concurrency. Buffered messages keep their lock (renewed) until they
 * are handed out.
 */
import type { ServiceBusReceivedMessage, ServiceBusReceiver } from '@azure/service-bus';
import { LockKeeper } from './lock.js';

/** A message waiting in the buffer, with the function that returns its credit to the SDK. */
export interface Prefetched {
  readonly message: ServiceBusReceivedMessage;
  readonly keeper: LockKeeper;
  /** Give the credit back (call once the message is settled, or when closing). */
  readonly release: () => void;
}

/** Hold buffered messages' locks this long at most (renewed meanwhile). */
const BUFFERED_HOLD_MS = 10 * 60_000;

export class MessageStream {
  private readonly buffer: Prefetched[] = [];
  private readonly outstanding = new Set<Prefetched>();
  private waiters: (() => void)[] = [];
  private error: unknown;
  private readonly subscription: { close(): Promise<void> };
  private closed = false;

  constructor(
    readonly receiver: ServiceBusReceiver,
    credit: number,
  ) {
    this.subscription = receiver.subscribe(
      {
        processMessage: (message) =>
          new Promise<void>((resolve) => {
            const entry: Prefetched = {
              message,
              keeper: new LockKeeper(
                () => receiver.renewMessageLock(message),
                message.lockedUntilUtc?.getTime() ?? Date.now(),
                BUFFERED_HOLD_MS,
              ),
              release: () => {
                entry.keeper.stop();
                if (this.outstanding.delete(entry)) resolve();
              },
            };
            this.outstanding.add(entry);
            if (this.closed) return entry.release();
            this.buffer.push(entry);
            this.wake();
          }),
        processError: async (args) => {
          this.error = args.error;
          this.wake();
        },
      },
      { maxConcurrentCalls: Math.max(1, credit), autoCompleteMessages: false },
    );
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  /** Up to `max` buffered messages, waiting up to `waitMs` for the first; [] when `signal` fires. */
  async take(max: number, waitMs: number, signal: AbortSignal): Promise<Prefetched[]> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (this.buffer.length > 0) return this.buffer.splice(0, Math.max(1, max));
      if (this.error !== undefined) {
        const error = this.error;
        this.error = undefined;
        throw error;
      }
      const left = deadline - Date.now();
      if (left <= 0 || signal.aborted || this.closed) return [];
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', done);
          resolve();
        };
        const timer = setTimeout(done, left);
        signal.addEventListener('abort', done, { once: true });
        this.waiters.push(done);
      });
    }
  }

  /**
   * Stop receiving after a failure, keeping the deliveries already handed out (they settle and renew
   * their locks as before). Buffered messages are let go: they come back when their lock expires.
   */
  async abandon(): Promise<void> {
    this.closed = true;
    const buffered = this.buffer.splice(0);
    this.wake();
    const closing = this.subscription.close().catch(() => undefined);
    for (const entry of buffered) entry.release();
    await closing;
  }

  /** Stop receiving. Buffered and unsettled messages stay locked until their lock expires. */
  async close(): Promise<void> {
    this.closed = true;
    this.buffer.length = 0;
    this.wake();
    // Close first, so that returned credit is not used to take more messages.
    const closing = this.subscription.close().catch(() => undefined);
    for (const entry of [...this.outstanding]) entry.release();
    await closing;
  }
}

/**
 * Orders the settlements of one receiver so that each message is settled with its own outcome.
 *
 * `@azure/service-bus` 7.9.5 settles through rhea 3.0.5, which writes the dispositions pending on a session
 * in ranges (one frame, one state for `first..last`, AMQP 1.0 §2.7.6) and puts the second delivery of a
 * range into it without comparing outcomes (`write_dispositions` in rhea/lib/session.js). A complete and a
 * dead-letter of two consecutive deliveries issued in the same tick therefore went out as two dead-letters
 * (a job that had succeeded landed in the dead letters with the other job's reason and attempts) or as two
 * completes (the failed job vanished). Issue 12, "DLQ under load".
 *
 * Completes all carry the same state (`accepted`, no fields), so they may share a frame. Every other
 * settlement (dead-letter with its reason, abandon with properties) runs alone: it waits until the
 * settlements in flight on the receiver are answered (so written), and holds later ones until it is answered.
 */

/** `shared`: completes, equal on the wire. `exclusive`: anything whose state carries its own fields. */
export type SettlementKind = 'shared' | 'exclusive';

interface Waiting {
  readonly kind: SettlementKind;
  readonly start: () => void;
}

export class SettlementLane {
  private running = 0;
  private exclusiveRunning = false;
  private readonly waiting: Waiting[] = [];

  /** Run `operation` (one SDK settle call) when its kind allows; resolves or rejects as it does. */
  run<T>(kind: SettlementKind, operation: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        if (kind === 'exclusive') this.exclusiveRunning = true;
        Promise.resolve()
          .then(operation)
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            if (kind === 'exclusive') this.exclusiveRunning = false;
            this.pump();
          });
      };
      this.waiting.push({ kind, start });
      this.pump();
    });
  }

  /** Start waiting settlements in order: shared ones together, an exclusive one alone. */
  private pump(): void {
    for (;;) {
      const next = this.waiting[0];
      if (!next || this.exclusiveRunning) return;
      if (next.kind === 'exclusive' && this.running > 0) return;
      this.waiting.shift();
      next.start();
      if (next.kind === 'exclusive') return;
    }
  }
}

const lanes = new WeakMap<object, SettlementLane>();

/** The lane of `receiver` (one SDK receiver: one AMQP link on its own session). */
export function laneOf(receiver: object): SettlementLane {
  let lane = lanes.get(receiver);
  if (!lane) {
    lane = new SettlementLane();
    lanes.set(receiver, lane);
  }
  return lane;
}
