import type { Channel } from 'amqplib';
import type { ConnectionManager } from './connection.js';

/**
 * A long-lived channel that is reopened on demand after it (or its connection) closed.
 * `get` shares one opening among concurrent callers.
 */
export class ChannelSlot<C extends Channel> {
  private channel: C | undefined;
  private opening: Promise<C> | undefined;

  constructor(
    private readonly connection: ConnectionManager,
    private readonly openChannel: (timeoutMs: number) => Promise<C>,
  ) {}

  /** The open channel, reopening it (waiting up to `timeoutMs` for the broker) when needed. */
  get(timeoutMs: number): Promise<C> {
    if (this.channel) return Promise.resolve(this.channel);
    if (!this.opening) {
      this.opening = this.openChannel(timeoutMs)
        .then((channel) => {
          this.channel = channel;
          channel.on('close', () => {
            if (this.channel === channel) this.channel = undefined;
          });
          return channel;
        })
        .finally(() => {
          this.opening = undefined;
        });
    }
    return this.opening;
  }

  /** Whether `channel` is still this slot's open channel. */
  holds(channel: Channel): boolean {
    return this.channel === channel;
  }

  /** The connection this slot opens channels on. */
  get manager(): ConnectionManager {
    return this.connection;
  }
}
