import type { DeadLetterInfo } from '../driver.js';
import type { Wakeup } from '../driver-kit/wait.js';
import type { SafeTimer } from '../timers.js';
import type { ReadyIndex } from './ready-index.js';

/** One message held by the in-memory broker. */
export interface StoredMessage {
  readonly id: string;
  readonly name: string;
  body: Uint8Array;
  headers: Record<string, string>;
  readonly priority: number;
  readonly orderingKey: string | undefined;
  readonly seq: number;
  readonly enqueuedAt: Date;
  visibleAt: number;
  deliveryCount: number;
  /** Token of the current lock; a settle call with another token is refused. */
  lockToken: string | undefined;
  lockedUntil: number;
  /** Bumped on every change, so the ready index can tell its stale entries (see `ReadyIndex`). */
  stamp: number;
  /** The ready index counts it among the locked (see `ReadyIndex`). Optional: false when absent. */
  counted?: boolean;
}

/** A dead-lettered message held by the in-memory broker. */
export interface StoredDeadLetter extends DeadLetterInfo {
  readonly message: StoredMessage;
  readonly deadLetteredAt: Date;
}

export interface QueueState {
  readonly messages: Map<string, StoredMessage>;
  readonly deadLetters: StoredDeadLetter[];
  /** id → expiry (ms epoch) of dedup entries. */
  readonly dedup: Map<string, number>;
  readonly wakeup: Wakeup;
  readonly index: ReadyIndex;
  timer: SafeTimer | undefined;
  timerAt: number;
}
