import type { Channel } from 'amqplib';

/** AMQP 0-9-1 method ids (class 90 `tx`): `(class << 16) | method`. amqplib has no tx API of its own. */
const TX_SELECT = (90 << 16) | 10;
const TX_SELECT_OK = (90 << 16) | 11;
const TX_COMMIT = (90 << 16) | 20;
const TX_COMMIT_OK = (90 << 16) | 21;

/** amqplib's (untyped) low-level RPC, present on every channel. */
interface RpcChannel {
  rpc(method: number, fields: Record<string, never>, expect: number): Promise<unknown>;
}

/**
 * The transaction mode of one (non-confirm) channel. Once `select` was called, publishes, acks and
 * nacks on the channel take effect only at the next `commit`, so every settle on it must commit.
 * Commits are grouped: callers that wrote their frames while a commit was in flight share the next
 * one (its frame is written after theirs, so their work is in it).
 */
export class ChannelTransaction {
  private selecting: Promise<void> | undefined;
  private running: Promise<void> | undefined;
  private queued: Promise<void> | undefined;

  constructor(private readonly channel: Channel) {}

  /** Whether the channel is (or is being put) in transaction mode. */
  get active(): boolean {
    return this.selecting !== undefined;
  }

  /** Put the channel in transaction mode (once; later calls share the first). */
  select(): Promise<void> {
    this.selecting ??= (this.channel as unknown as RpcChannel)
      .rpc(TX_SELECT, {}, TX_SELECT_OK)
      .then(() => undefined);
    return this.selecting;
  }

  /** Commit everything written on the channel so far. Rejects when the channel or connection failed. */
  commit(): Promise<void> {
    if (this.queued) return this.queued;
    const running = this.running;
    if (!running) return this.start();
    const queued = running
      .catch(() => undefined)
      .then(() => {
        this.queued = undefined;
        return this.start();
      });
    this.queued = queued;
    return queued;
  }

  private start(): Promise<void> {
    const run = (this.channel as unknown as RpcChannel)
      .rpc(TX_COMMIT, {}, TX_COMMIT_OK)
      .then(() => undefined);
    this.running = run;
    run
      .finally(() => {
        if (this.running === run) this.running = undefined;
      })
      .catch(() => undefined);
    return run;
  }
}
