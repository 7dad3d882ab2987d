/**
 * Which AMQP connection carries which links. A peek opens a `$management` link pair (one session) per entity, and
 * SDK 7.9.5 keeps it for its client's life; rhea visits every session of a connection on each pass over it. The
 * driver's peeks (`stats()`, dead letters) therefore go on a connection of their own, not on the receive path's.
 * Reads rhea's sessions through SDK internals (test only): if their shape changes, these tests fail, not the driver.
 */
import { randomUUID } from 'node:crypto';
import { ServiceBusClient } from '@azure/service-bus';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { deleteQueue, makeDriver } from './helpers.js';

const names: string[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const name of names.splice(0)) await deleteQueue(name);
});

function queueName(): string {
  const name = `qk-sb-${randomUUID().slice(0, 8)}`;
  names.push(name);
  return name;
}

type Terminus = { address?: string } | string | undefined;
/** A rhea link keeps the options it was made with (`source`, `target`). */
type RheaLink = { options?: { source?: Terminus; target?: Terminus } };
type RheaConnection = {
  local_channel_map: Record<string, { links: Record<string, RheaLink> }>;
  is_open(): boolean;
};

/** The rhea connection under an SDK client (7.9.5: `_connectionContext.connection._connection`). */
function rheaOf(client: ServiceBusClient): RheaConnection {
  const rhea = (
    client as unknown as { _connectionContext?: { connection?: { _connection?: RheaConnection } } }
  )._connectionContext?.connection?._connection;
  expect(rhea?.local_channel_map).toBeTypeOf('object');
  return rhea as RheaConnection;
}

/** Every address the links of `client`'s open sessions attach to (sources and targets). */
function addresses(client: ServiceBusClient): string[] {
  const found: string[] = [];
  for (const session of Object.values(rheaOf(client).local_channel_map))
    for (const link of Object.values(session.links)) {
      for (const terminus of [link.options?.source, link.options?.target]) {
        const address = typeof terminus === 'string' ? terminus : terminus?.address;
        if (address) found.push(address);
      }
    }
  return found;
}

/** The SDK clients the driver makes receivers on, from now on. */
function watchClients(): Set<ServiceBusClient> {
  const clients = new Set<ServiceBusClient>();
  const create = ServiceBusClient.prototype.createReceiver;
  vi.spyOn(ServiceBusClient.prototype, 'createReceiver').mockImplementation(function (
    this: ServiceBusClient,
    ...args: unknown[]
  ) {
    clients.add(this);
    return (create as (...args: unknown[]) => ReturnType<typeof create>).apply(this, args);
  });
  return clients;
}

describe('connections', () => {
  it('keeps the management links of stats() and dead-letter peeks off the receive connection', async () => {
    const queue = queueName();
    const clients = watchClients();
    const driver = makeDriver();
    try {
      await driver.send(queue, [{ id: 'a', name: 'job', body: new TextEncoder().encode('{}'), headers: {} }]);
      const signal = new AbortController().signal;
      const ids: string[] = [];
      for (let turn = 0; ids.length === 0 && turn < 20; turn++)
        for (const delivery of await driver.receive(queue, {
          max: 1,
          waitMs: 2000,
          lockMs: 10_000,
          signal,
        })) {
          ids.push(delivery.id);
          await delivery.ack();
        }
      expect(ids).toEqual(['a']);
      expect(await driver.stats(queue)).toMatchObject({ waiting: 0, deadLettered: 0 });
      expect(await driver.listDeadLetters(queue, 10)).toEqual([]);

      const open = [...clients].filter((client) => rheaOf(client).is_open());
      const receiving = open.filter((client) => addresses(client).includes(queue));
      expect(receiving).toHaveLength(1);
      expect(addresses(receiving[0] as ServiceBusClient).filter((a) => a.endsWith('$management'))).toEqual(
        [],
      );
      // The peeks did go through `$management`, on the other connection.
      const peeking = open.filter((client) => addresses(client).includes(`${queue}/$management`));
      expect(peeking).toHaveLength(1);
      expect(addresses(peeking[0] as ServiceBusClient)).toContain(`${queue}/$DeadLetterQueue/$management`);
    } finally {
      await driver.close();
    }
    // close() closes both connections.
    expect([...clients].filter((client) => rheaOf(client).is_open())).toEqual([]);
  });
});
