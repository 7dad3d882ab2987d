import type {
  DeadLetteredMessage,
  DeadLetterInfo,
  DeadLetterQueueHook,
  Delivery,
  Driver,
  OutgoingMessage,
  ReceivedMessage,
  RedriveOptions,
} from '../driver.js';
import { H, intHeader } from '../headers.js';

/** Headers a dead letter carries in a dead-letter queue, besides the message's own. */
export const DEAD_LETTER_HEADERS = {
  reason: H.deadLetterReason,
  error: H.deadLetterError,
  attempts: 'qk-dead-letter-attempts',
  at: 'qk-dead-lettered-at',
} as const;
const OWN = new Set<string>(Object.values(DEAD_LETTER_HEADERS));
/** The latest instant a `Date` holds (ECMAScript's limit): a forged dead-lettered-at beyond it is absent. */
const MAX_DATE_MS = 8.64e15;

/** Dead letters kept in an ordinary queue, written once over a driver's own `send` and `receive`. */
export interface DeadLetterQueueOps {
  /** Send the copy of `message` that goes to the dead-letter queue of `queue` (the caller then acks it). */
  send(queue: string, message: ReceivedMessage, info: DeadLetterInfo): Promise<void>;
  list(queue: string, limit: number): Promise<DeadLetteredMessage[]>;
  redrive(queue: string, options: RedriveOptions): Promise<number>;
  purge(queue: string): Promise<number>;
}

/** Options of {@link deadLetterQueueOps}. */
export interface DeadLetterQueueOptions {
  /** How long a scan holds the messages it has seen (they are let go at its end). Default 30 s. */
  readonly holdMs?: number;
  /** Messages asked for per receive while scanning. Default the driver's `maxBatchSize`, at most 100. */
  readonly batch?: number;
}

type Transport = Pick<Driver, 'send' | 'receive' | 'capabilities' | 'peek'>;

/**
 * List, redrive and purge for a broker whose dead letters are an ordinary queue (`hook.queueOf(queue)`):
 * `send` writes the dead-letter info as headers; `list` peeks when the driver can, else receives under a
 * hold and lets everything go at the end (with `defer` when the driver has it, so no delivery is counted);
 * `redrive` re-sends the chosen messages with `options.headers` and the dead-letter headers removed, then
 * acks them (each job id once per call); `purge` acks everything. A message is acked only after its copy was sent, so none is lost.
 */
export function deadLetterQueueOps(
  driver: Transport,
  hook: DeadLetterQueueHook,
  options: DeadLetterQueueOptions = {},
): DeadLetterQueueOps {
  const holdMs = options.holdMs ?? 30_000;
  const batch = Math.max(1, Math.min(100, options.batch ?? driver.capabilities.maxBatchSize));

  /** Receive every message of `queue` once, handing each to `visit`; `visit` returns true when it settled it. */
  const scan = async (queue: string, limit: number, visit: (d: Delivery) => Promise<boolean>) => {
    const held: Delivery[] = [];
    const signal = new AbortController().signal;
    let seen = 0;
    try {
      while (seen < limit) {
        const max = Math.min(batch, limit - seen);
        const deliveries = await driver.receive(queue, { max, waitMs: 0, lockMs: holdMs, signal });
        if (deliveries.length === 0) break;
        seen += deliveries.length;
        for (const delivery of deliveries) if (!(await visit(delivery))) held.push(delivery);
      }
    } finally {
      await Promise.allSettled(held.map((d) => (d.defer ? d.defer(0) : d.release?.(0))));
    }
  };

  return {
    async send(queue, message, info) {
      await driver.send(hook.queueOf(queue), [deadLetterCopy(message, info)]);
    },
    async list(queue, limit) {
      const dlq = hook.queueOf(queue);
      if (driver.peek) return (await driver.peek(dlq, limit)).map(asDeadLetter);
      const out: DeadLetteredMessage[] = [];
      await scan(dlq, limit, async (delivery) => {
        out.push(asDeadLetter(delivery));
        return false;
      });
      return out;
    },
    async redrive(queue, { ids, headers }) {
      const wanted = ids ? new Set(ids) : undefined;
      // Each job id at most once per call: a moved job that a consumer dead-letters again while the scan goes
      // on comes back as a new message, and moving it again would ping-pong until the consumer stops.
      const moved = new Set<string>();
      await scan(hook.queueOf(queue), Number.POSITIVE_INFINITY, async (delivery) => {
        if ((wanted && !wanted.has(delivery.id)) || moved.has(delivery.id)) return false;
        await driver.send(queue, [redriven(delivery, headers)]);
        await delivery.ack();
        moved.add(delivery.id);
        return true;
      });
      return moved.size;
    },
    async purge(queue) {
      let purged = 0;
      await scan(hook.queueOf(queue), Number.POSITIVE_INFINITY, async (delivery) => {
        await delivery.ack();
        purged++;
        return true;
      });
      return purged;
    },
  };
}

function outgoing(message: ReceivedMessage, headers: Record<string, string>): OutgoingMessage {
  return {
    id: message.id,
    name: message.name ?? message.headers[H.name] ?? 'default',
    body: message.body,
    headers,
    ...(message.orderingKey === undefined ? {} : { orderingKey: message.orderingKey }),
  };
}

function withoutOwn(headers: Readonly<Record<string, string>>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).filter(([key]) => !OWN.has(key)));
}

function deadLetterCopy(message: ReceivedMessage, info: DeadLetterInfo): OutgoingMessage {
  return outgoing(message, {
    ...withoutOwn(message.headers),
    [DEAD_LETTER_HEADERS.reason]: info.reason,
    ...(info.error === undefined ? {} : { [DEAD_LETTER_HEADERS.error]: info.error }),
    ...(info.attempts === undefined ? {} : { [DEAD_LETTER_HEADERS.attempts]: String(info.attempts) }),
    [DEAD_LETTER_HEADERS.at]: String(Date.now()),
  });
}

function redriven(message: ReceivedMessage, headers: Readonly<Record<string, string>>): OutgoingMessage {
  return outgoing(message, { ...withoutOwn(message.headers), ...headers });
}

function asDeadLetter(message: ReceivedMessage): DeadLetteredMessage {
  const { headers } = message;
  const attempts = intHeader(headers, DEAD_LETTER_HEADERS.attempts, 0);
  const at = intHeader(headers, DEAD_LETTER_HEADERS.at, 0);
  const error = headers[DEAD_LETTER_HEADERS.error];
  return {
    id: message.id,
    ...(message.name === undefined ? {} : { name: message.name }),
    body: message.body,
    headers: withoutOwn(headers),
    deliveryCount: message.deliveryCount,
    ...(message.enqueuedAt ? { enqueuedAt: message.enqueuedAt } : {}),
    ...(message.orderingKey === undefined ? {} : { orderingKey: message.orderingKey }),
    raw: message.raw,
    reason: headers[DEAD_LETTER_HEADERS.reason] ?? 'unknown',
    ...(error === undefined ? {} : { error }),
    ...(attempts > 0 ? { attempts } : {}),
    ...(at > 0 && at <= MAX_DATE_MS ? { deadLetteredAt: new Date(at) } : {}),
  };
}
