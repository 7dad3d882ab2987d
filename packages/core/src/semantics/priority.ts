import type { Capabilities, ReceivedMessage } from '../driver.js';
import { H, intHeader } from '../headers.js';

/** What priority bands need of a driver: its capabilities and, optionally, how it names band queues. */
export interface BandNaming {
  readonly capabilities: Capabilities;
  priorityQueueName?(queue: string, band: number): string;
}

const TOP_BAND = 9;

/**
 * Priority emulation. A driver whose broker has no priority (`capabilities.priority === 'emulated'`) gets
 * one physical queue per band: band 0 is the queue itself, bands 1-9 are `priorityQueueName(queue, band)`
 * (default `<queue>-p<band>`). Senders put a job in its band's queue; consumers, `peek`, stats and the
 * dead-letter API walk the bands highest first. Without emulation (native priority, none, or a strict
 * queue) there is one band: the queue itself.
 */
export class PriorityBands {
  /** Every physical queue behind the logical queue, highest band first. */
  readonly queues: readonly string[];
  /** Whether the core emulates priority with band queues here. */
  readonly emulated: boolean;

  constructor(
    private readonly driver: BandNaming,
    readonly queue: string,
    strict = false,
  ) {
    this.emulated = PriorityBands.emulates(driver.capabilities, strict);
    const queues: string[] = [];
    if (this.emulated) for (let band = TOP_BAND; band >= 0; band--) queues.push(this.name(band));
    else queues.push(queue);
    this.queues = queues;
  }

  /** Whether the core emulates priority with band queues for these capabilities. */
  static emulates(capabilities: Capabilities, strict: boolean): boolean {
    return capabilities.priority === 'emulated' && !strict;
  }

  /** The physical queue a job of `priority` goes to (the queue itself without emulation or out of 1-9). */
  queueOf(priority: number): string {
    if (!this.emulated || !(priority >= 1 && priority <= TOP_BAND)) return this.queue;
    return this.name(Math.trunc(priority));
  }

  /** The physical queue a received message came from, by its `qk-priority` header. */
  queueOfMessage(message: Pick<ReceivedMessage, 'headers'>): string {
    return this.queueOf(intHeader(message.headers, H.priority, 0));
  }

  /** Up to `limit` items fetched band by band, highest first; `fetch` is asked for the room left (never more is kept). */
  async collect<X>(
    limit: number,
    fetch: (queue: string, room: number) => Promise<readonly X[]>,
  ): Promise<X[]> {
    const out: X[] = [];
    for (const queue of this.queues) {
      if (out.length >= limit) break;
      const room = limit - out.length;
      out.push(...(await fetch(queue, room)).slice(0, room));
    }
    return out;
  }

  /** The sum of `count` over every band. */
  async sum(count: (queue: string) => Promise<number>): Promise<number> {
    let total = 0;
    for (const queue of this.queues) total += await count(queue);
    return total;
  }

  private name(band: number): string {
    if (band <= 0) return this.queue;
    return this.driver.priorityQueueName
      ? this.driver.priorityQueueName(this.queue, band)
      : `${this.queue}-p${band}`;
  }
}
