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

/** Settle frames waiting for the next commit. */
interface PendingWrite {
  readonly write: () => void;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/**
 * The transaction mode of one (non-confirm) channel. Once `select` was called, publishes, acks and
 * nacks on the channel take effect only at the next commit, so every settle on it goes through `run`.
 * RabbitMQ refuses any frame on a channel while its `tx.commit` is in flight (a connection error), so
 * `run` writes nothing until that commit is answered: writes requested meanwhile are written together
 * afterwards and share the next commit. Each write is one synchronous block, so the frames of one unit
 * (e.g. a delivery's follow-ups and its ack) always land in the same commit.
 */
export class ChannelTransaction {
  private selecting: Promise<void> | undefined;
  private committing = false;
  private pending: PendingWrite[] = [];

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

  /**
   * Write frames (synchronously, in `write`) and resolve once a commit including them succeeded.
   * Rejects when `write` throws (the channel closed) or the commit failed.
   */
  run(write: () => void): Promise<void> {
    return new Promise((resolve, reject) => {
      this.pending.push({ write, resolve, reject });
      if (!this.committing) this.flush();
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (batch.length === 0) return;
    const written: PendingWrite[] = [];
    for (const item of batch) {
      try {
        item.write();
        written.push(item);
      } catch (error) {
        item.reject(error);
      }
    }
    if (written.length === 0) {
      this.flush();
      return;
    }
    this.committing = true;
    this.commit()
      .then(
        () => {
          for (const item of written) item.resolve();
        },
        (error: unknown) => {
          for (const item of written) item.reject(error);
        },
      )
      .finally(() => {
        this.committing = false;
        this.flush();
      });
  }

  /** One `tx.commit` round trip: commits every frame written on the channel before it. */
  commit(): Promise<void> {
    return (this.channel as unknown as RpcChannel).rpc(TX_COMMIT, {}, TX_COMMIT_OK).then(() => undefined);
  }
}
