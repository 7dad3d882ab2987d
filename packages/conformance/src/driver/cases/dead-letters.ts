import { CORE_HEADERS, type DeadLetteredMessage } from '@queuekit/core';
import { expect } from 'vitest';
import { until } from '../../harness.js';
import type { DriverHarness } from '../harness.js';
import { it } from '../scope.js';
import { nonUtf8Body } from './messages.js';

/** `deadLetter` moves a message aside with its reason; the dead letters list, redrive and purge. */
export function deadLetterCases(h: DriverHarness): void {
  /** Send `count` messages and dead-letter each with `reason`; resolves once all are listed. */
  async function deadLettered(queue: string, count: number, reason: string) {
    const driver = await h.driver();
    const messages = Array.from({ length: count }, (_, i) =>
      h.message({
        body: nonUtf8Body(),
        headers: { [CORE_HEADERS.attempt]: '3', [CORE_HEADERS.name]: 'dl', 'x-index': String(i) },
      }),
    );
    for (const message of messages) await driver.send(queue, [message]);
    const { byId } = await h.receiveIds(
      driver,
      queue,
      messages.map((m) => m.id),
    );
    for (const delivery of byId.values())
      await delivery.deadLetter({ reason, error: 'boom: ü', attempts: 3 });
    const listed = await until(`${count} dead letter(s) listed`, h.timeout(20_000), async () => {
      const all = await driver.listDeadLetters(queue, 100);
      return all.filter((d) => messages.some((m) => m.id === d.id)).length === count ? all : undefined;
    });
    return { driver, messages, listed };
  }

  it('a dead-lettered message is listed with its body, headers, reason and error, and is not delivered', async () => {
    const queue = h.queueName();
    const { driver, messages, listed } = await deadLettered(queue, 1, 'max-attempts');
    const [message] = messages;
    const entry = listed.find((d) => d.id === message?.id) as DeadLetteredMessage;
    expect([...entry.body]).toEqual([...(message?.body ?? [])]);
    expect(entry.headers).toMatchObject(message?.headers ?? {});
    expect(entry.reason).toBe('max-attempts');
    expect(entry.error).toBe('boom: ü');
    if (entry.attempts !== undefined) expect(entry.attempts).toBe(3);
    expect(listed).toHaveLength(1);
    expect(await h.deliveredWithin(driver, queue, h.lockMs + h.timeout(500))).toEqual([]);
  });

  it('redrive by id moves exactly that message back with the given headers overwritten', async () => {
    const queue = h.queueName();
    const { driver, messages } = await deadLettered(queue, 2, 'unrecoverable');
    const [target, stays] = messages as [(typeof messages)[0], (typeof messages)[0]];
    expect(
      await driver.redriveDeadLetters(queue, { ids: [target.id], headers: { [CORE_HEADERS.attempt]: '1' } }),
    ).toBe(1);
    const again = await h.receiveOne(driver, queue, target.id);
    expect(again.headers[CORE_HEADERS.attempt]).toBe('1');
    expect(again.headers['x-index']).toBe('0');
    expect([...again.body]).toEqual([...target.body]);
    await again.ack();
    const left = await until('one dead letter left', h.timeout(20_000), async () => {
      const all = await driver.listDeadLetters(queue, 100);
      return all.length === 1 ? all : undefined;
    });
    expect(left.map((d) => d.id)).toEqual([stays.id]);
  });

  it('purge deletes every dead letter and resolves with the count', async () => {
    const queue = h.queueName();
    const { driver } = await deadLettered(queue, 2, 'invalid-payload');
    expect(await driver.purgeDeadLetters(queue)).toBe(2);
    expect(await driver.listDeadLetters(queue, 100)).toEqual([]);
  });
}
