import { type Codec, decodeOrUndefined } from '../codec.js';
import type { Driver } from '../driver.js';
import { ConfigError } from '../errors.js';
import { type DeadLetterQueueOps, deadLetterQueueOps } from '../driver-kit/dead-letter-queue.js';
import { readMessage } from '../driver-kit/read-message.js';
import { H } from '../headers.js';
import { PriorityBands } from '../semantics/priority.js';
import type { DeadLetterRecord, DeadLetters } from '../types.js';

/** Headers a redriven job is sent with: a fresh attempt count, due now. */
const REDRIVE_HEADERS: Readonly<Record<string, string>> = { [H.attempt]: '1', [H.notBefore]: '0' };

/** What the dead-letter API needs of its queue. */
export interface DeadLetterSource<T> {
  readonly name: string;
  readonly strict: boolean;
  readonly codec: Codec<T>;
  driver(): Promise<Driver>;
  /** Throws QueueClosedError once the queue is closed (redrive sends). */
  assertOpen(): void;
}

type DeadLetterOps = Pick<DeadLetterQueueOps, 'list' | 'redrive' | 'purge'>;
const opsByDriver = new WeakMap<Driver, DeadLetterOps>();

/**
 * List, redrive and purge of a driver's dead letters: written once by the core (the driver kit's
 * `deadLetterQueueOps`) when the broker's dead letters are an ordinary queue (`driver.deadLetterQueue`),
 * else the driver's own.
 */
function deadLetterOps(driver: Driver): DeadLetterOps {
  let ops = opsByDriver.get(driver);
  if (!ops) {
    const hook = driver.deadLetterQueue;
    ops = hook
      ? deadLetterQueueOps(driver, hook)
      : {
          list: (queue, limit) => driver.listDeadLetters(queue, limit),
          redrive: (queue, options) => driver.redriveDeadLetters(queue, options),
          purge: (queue) => driver.purgeDeadLetters(queue),
        };
    opsByDriver.set(driver, ops);
  }
  return ops;
}

/** The dead-letter API of a queue, over every priority band of it. */
export function deadLetterApi<T>(source: DeadLetterSource<T>): DeadLetters<T> {
  const bands = async () => new PriorityBands(await source.driver(), source.name, source.strict);
  return {
    list: async (options) => {
      const limit = options?.limit ?? 100;
      if (!Number.isInteger(limit) || limit < 1) throw new ConfigError('limit', 'expected an integer ≥ 1');
      const driver = await source.driver();
      return new PriorityBands(driver, source.name, source.strict).collect(limit, async (queue, room) =>
        (await deadLetterOps(driver).list(queue, room)).map((message): DeadLetterRecord<T> => {
          const { id, name, attempt, headers } = readMessage(message);
          return {
            id,
            name,
            data: decodeOrUndefined(source.codec, message.body),
            body: message.body,
            reason: message.reason,
            ...(message.error === undefined ? {} : { error: message.error }),
            attempts: attempt,
            headers,
            ...(message.deadLetteredAt ? { deadLetteredAt: message.deadLetteredAt } : {}),
            raw: message.raw,
          };
        }),
      );
    },
    redrive: async (ids) => {
      source.assertOpen();
      const driver = await source.driver();
      return (await bands()).sum((queue) =>
        deadLetterOps(driver).redrive(queue, { ...(ids ? { ids } : {}), headers: REDRIVE_HEADERS }),
      );
    },
    purge: async () => {
      const driver = await source.driver();
      return (await bands()).sum((queue) => deadLetterOps(driver).purge(queue));
    },
  };
}
