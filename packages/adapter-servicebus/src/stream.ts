/**
 * A prefetching receiver for one queue: the SDK's streaming `subscribe()` with `maxConcurrentCalls`
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
