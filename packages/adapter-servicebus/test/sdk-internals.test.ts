/**
 * The receive path reaches into @azure/service-bus internals to drop the SDK's 1 s after-first-message wait.
 * Where those internals are missing or shaped otherwise (another SDK version), the driver must fall back to the
 * public `receiveMessages`: no crash, every job still delivered.
 */
import { randomUUID } from 'node:crypto';
import { ServiceBusClient, type ServiceBusReceiver } from '@azure/service-bus';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { withoutBatchWait } from '../src/receiver.js';
import { connectionString, deleteQueue, makeDriver } from './helpers.js';

type Receive = (...args: unknown[]) => Promise<unknown>;
type Batching = { receive: Receive };
type Internals = { _createBatchingReceiver: (...args: unknown[]) => Batching };

let client: ServiceBusClient;
/** The SDK receiver class's prototype, where `_createBatchingReceiver` lives in 7.9.5. */
let proto: Internals;
const names: string[] = [];
beforeAll(() => {
  client = new ServiceBusClient(connectionString);
  proto = Object.getPrototypeOf(client.createReceiver('qk-sb-proto')) as Internals;
});
afterEach(async () => {
  vi.restoreAllMocks();
  for (const name of names.splice(0)) await deleteQueue(name);
});
afterAll(async () => {
  await client.close();
});

function queueName(): string {
  const name = `qk-sb-${randomUUID().slice(0, 8)}`;
  names.push(name);
  return name;
}

/** Send three jobs through a driver and receive them all; what the SDK's batching `receive` was called with. */
async function roundTrip(wrap: (receive: Receive, calls: unknown[][]) => Receive) {
  const calls: unknown[][] = [];
  const create = proto._createBatchingReceiver;
  vi.spyOn(proto, '_createBatchingReceiver').mockImplementation(function (this: unknown, ...args) {
    const batching = create.apply(this, args);
    batching.receive = wrap(batching.receive.bind(batching), calls);
    return batching;
  });
  const queue = queueName();
  const driver = makeDriver();
  try {
    const body = new TextEncoder().encode('{}');
    const messages = ['a', 'b', 'c'].map((id) => ({ id, name: 'job', body, headers: {} }));
    await driver.send(queue, messages);
    const ids: string[] = [];
    const signal = new AbortController().signal;
    for (let turn = 0; ids.length < 3 && turn < 20; turn++)
      for (const delivery of await driver.receive(queue, { max: 3, waitMs: 2000, lockMs: 10_000, signal })) {
        ids.push(delivery.id);
        await delivery.ack();
      }
    return { ids: ids.sort(), calls };
  } finally {
    await driver.close();
  }
}

describe('the SDK receive wait', () => {
  it('on 7.9.5 the after-first-message wait the SDK passes (1 s) reaches its batching receiver as 0', async () => {
    // The 7.9.x signature (four named parameters), as the driver expects it.
    const { ids, calls } = await roundTrip((receive, calls) => (max, wait, afterFirst, options) => {
      calls.push([max, wait, afterFirst]);
      return receive(max, wait, afterFirst, options);
    });
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(calls.length).toBeGreaterThan(0);
    for (const [, , afterFirst] of calls) expect(afterFirst).toBe(0);
  });

  it('a batching receiver of another shape is left alone: the SDK keeps its own wait, jobs still arrive', async () => {
    // A rest-parameter signature (length 0): not the 7.9.x shape the driver knows.
    const { ids, calls } = await roundTrip((receive, calls) => (...args) => {
      calls.push(args.slice(0, 3));
      return receive(...args);
    });
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(calls.length).toBeGreaterThan(0);
    for (const [, , afterFirst] of calls) expect(afterFirst).toBe(1000);
  });

  it('a receiver without the internal method is returned as it is, its public receiveMessages untouched', () => {
    const receiveMessages = async () => [];
    const receiver = { receiveMessages } as unknown as ServiceBusReceiver;
    expect(withoutBatchWait(receiver)).toBe(receiver);
    expect(Object.keys(receiver)).toEqual(['receiveMessages']);
    expect(receiver.receiveMessages).toBe(receiveMessages);
  });

  it('an internal method that returns something without receive() is passed through without a crash', () => {
    const odd = { name: 'no receive here' };
    const receiver = withoutBatchWait({
      _createBatchingReceiver: () => odd,
    } as unknown as ServiceBusReceiver) as unknown as Internals;
    expect(receiver._createBatchingReceiver()).toBe(odd);
    expect(odd).toEqual({ name: 'no receive here' });
  });
});

describe('the drain after the first message', () => {
  /** A batching receiver of the 7.9.x shape whose receive delivers `count` messages in one pass. */
  function fakeBatching(count: number) {
    const finalAction = vi.fn(async () => undefined);
    const lite = {
      _createServiceBusMessage(context: unknown) {
        return { context };
      },
      _finalAction: finalAction,
    };
    const batching = {
      _batchingReceiverLite: lite,
      async receive(max: number, wait: number, afterFirst: unknown, options: unknown) {
        for (let i = 0; i < count; i++) lite._createServiceBusMessage(i);
        return [max, wait, afterFirst, options];
      },
    };
    const receiver = withoutBatchWait({
      _createBatchingReceiver: () => batching,
    } as unknown as ServiceBusReceiver) as unknown as Internals;
    return { batching: receiver._createBatchingReceiver(), finalAction, lite };
  }

  it('starts once per receive, after the messages of its first pass, not on a timer', async () => {
    const { batching, finalAction, lite } = fakeBatching(3);
    const received = batching.receive(50, 0, 1000, {});
    // The messages of the pass came in synchronously: the drain waits for the pass to end.
    expect(finalAction).not.toHaveBeenCalled();
    expect(await received).toEqual([50, 0, 0, {}]);
    expect(finalAction).toHaveBeenCalledOnce();
    // Not armed again until the next receive: a message made outside one starts nothing.
    lite._createServiceBusMessage('stray');
    await Promise.resolve();
    expect(finalAction).toHaveBeenCalledOnce();
    await batching.receive(50, 0, 1000, {});
    await Promise.resolve();
    expect(finalAction).toHaveBeenCalledTimes(2);
  });

  it('a receive that brought nothing starts no drain (the SDK ends it on its wait)', async () => {
    const { batching, finalAction } = fakeBatching(0);
    await batching.receive(50, 0, 1000, {});
    await Promise.resolve();
    expect(finalAction).not.toHaveBeenCalled();
  });

  it('on 7.9.5 the hook is in place on the batching receiver the SDK makes, and messages still arrive', async () => {
    const queue = queueName();
    const sender = client.createSender(queue);
    const receiver = withoutBatchWait(client.createReceiver(queue, { skipParsingBodyAsJson: true }));
    try {
      await sender.sendMessages([{ body: Buffer.from('a') }, { body: Buffer.from('b') }]);
      const bodies: unknown[] = [];
      for (let turn = 0; bodies.length < 2 && turn < 20; turn++)
        for (const message of await receiver.receiveMessages(2, { maxWaitTimeInMs: 2000 })) {
          bodies.push(Buffer.from(message.body as Uint8Array).toString());
          await receiver.completeMessage(message);
        }
      expect(bodies.sort()).toEqual(['a', 'b']);
      type Lite = { _createServiceBusMessage: unknown };
      const lite = (receiver as unknown as { _batchingReceiver?: { _batchingReceiverLite?: Lite } })
        ._batchingReceiver?._batchingReceiverLite;
      expect(lite && Object.hasOwn(lite, '_createServiceBusMessage')).toBe(true);
      expect(lite?._createServiceBusMessage).not.toBe(
        (Object.getPrototypeOf(lite) as Partial<Lite>)._createServiceBusMessage,
      );
    } finally {
      await receiver.close();
      await sender.close();
    }
  });
});
