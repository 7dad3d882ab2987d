import { randomUUID } from 'node:crypto';
import type { Capabilities, Delivery, Driver, OutgoingMessage, ReceiveOptions } from '@queuekit/core';
import { until } from '../harness.js';
import { CaseResources, caseResources } from './scope.js';

/** Groups of the driver suite, each a file of `cases/`; every group runs unless switched off. */
export type DriverCaseGroup =
  | 'settle'
  | 'locks'
  | 'receive'
  | 'lifecycle'
  | 'messages'
  | 'missingQueue'
  | 'delays'
  | 'batches'
  | 'deadLetters'
  | 'defer'
  | 'errors'
  | 'copies'
  | 'deadLetterQueue';

/** Options of {@link describeDriverConformance}. */
export interface DriverConformanceOptions {
  /** Shortest lock (visibility timeout / ack deadline) the broker honours, in ms. Default 1000. */
  readonly lockMs?: number;
  /** Multiplies every case's deadline (slow emulators). Default 1. */
  readonly timeScale?: number;
  /** Prefix of the queue names the suite creates. Default `qkd`. */
  readonly queuePrefix?: string;
  /** Extra cleanup per queue name created, after the suite's own `deleteQueue`. */
  readonly cleanup?: (queue: string) => Promise<void>;
  /**
   * A driver of the same broker whose options turn queue creation off (SQS and Pub/Sub `createIfMissing:
   * false`, Service Bus without `createQueues`). The `missingQueue` group runs only when it is given:
   * brokers without such an option (Redis, AMQP declares, memory) have no missing queue to refuse.
   */
  readonly withoutQueueCreation?: () => Driver | Promise<Driver>;
  /** Switch groups off (`{ batches: false }`). Every group runs by default; cases inside gate on capabilities. */
  readonly groups?: Partial<Record<DriverCaseGroup, boolean>>;
  /** The adapter's own driver-level cases, registered inside the suite with its harness. */
  readonly additionalTests?: (h: DriverHarness) => void;
}

/** Everything a driver case needs: fresh names, drivers and messages, cleaned up after each case. */
export interface DriverHarness {
  readonly lockMs: number;
  readonly capabilities: Capabilities;
  readonly provider: string;
  /** The contract version the driver declares (`apiVersion`). */
  readonly apiVersion: number;
  readonly options: DriverConformanceOptions;
  /** Deadline for one step of a case, in ms. */
  timeout(baseMs: number): number;
  /** A queue name unique to this run, deleted after the case. */
  queueName(): string;
  /** A new driver (a new connection), closed after the case. */
  driver(): Promise<Driver>;
  /** A new driver from the adapter's factory, not closed by the harness. */
  makeDriver(): Promise<Driver>;
  /** A message with a fresh id, a small UTF-8 body and no headers, with `overrides` applied. */
  message(overrides?: Partial<OutgoingMessage>): OutgoingMessage;
  /** `driver.receive` with the suite's lock and a signal aborted at cleanup; `options` override. */
  receive(driver: Driver, queue: string, options?: Partial<ReceiveOptions>): Promise<Delivery[]>;
  /**
   * Receive until every one of `ids` has been delivered (each kept once, first delivery), or fail after
   * `timeoutMs`. Deliveries of other ids are collected too (`others`), unsettled.
   */
  receiveIds(
    driver: Driver,
    queue: string,
    ids: readonly string[],
    options?: { readonly timeoutMs?: number; readonly receive?: Partial<ReceiveOptions> },
  ): Promise<{ readonly byId: Map<string, Delivery>; readonly others: Delivery[] }>;
  /** The first delivery of message `id` on `queue` ({@link DriverHarness.receiveIds} of that one id). */
  receiveOne(
    driver: Driver,
    queue: string,
    id: string,
    options?: { readonly timeoutMs?: number; readonly receive?: Partial<ReceiveOptions> },
  ): Promise<Delivery>;
  /**
   * The setup most cases start with: a fresh queue, a driver (`h.driver()`, or `driver`), one message
   * (`h.message(message)`) sent and received. `receivedAt` is the wall clock right after the receive.
   */
  oneDelivery(options?: {
    readonly message?: Partial<OutgoingMessage>;
    readonly driver?: Driver;
  }): Promise<OneDelivery>;
  /** Everything `queue` delivers within `ms` (long polls up to that deadline): `[]` when it stays quiet. */
  deliveredWithin(driver: Driver, queue: string, ms: number): Promise<Delivery[]>;
  /**
   * Close the drivers and delete the queues made outside a suite case (the adapter's `additionalTests`,
   * run one after another); the suite's own cases release theirs when each finishes.
   */
  cleanup(): Promise<void>;
  /** Close the driver the harness deletes queues with (after the suite). */
  close(): Promise<void>;
}

/** What {@link DriverHarness.oneDelivery} made: the queue, the driver, the message and its delivery. */
export interface OneDelivery {
  readonly queue: string;
  readonly driver: Driver;
  readonly message: OutgoingMessage;
  readonly delivery: Delivery;
  readonly receivedAt: number;
}

/** Build the harness for one driver factory. `probe` gives the capabilities. */
export function createDriverHarness(
  makeDriver: () => Driver | Promise<Driver>,
  probe: Driver,
  options: DriverConformanceOptions,
): DriverHarness {
  const lockMs = options.lockMs ?? 1000;
  const scale = options.timeScale ?? 1;
  const prefix = options.queuePrefix ?? 'qkd';
  const run = randomUUID().slice(0, 8);
  let counter = 0;
  // One driver deletes the queues of every case: a connection per case costs seconds on some brokers.
  let admin: Promise<Driver> | undefined;
  let outside = new CaseResources();

  async function release(resources: CaseResources): Promise<void> {
    resources.stop.abort();
    await Promise.allSettled(resources.drivers.map((driver) => driver.close()));
    if (resources.names.length === 0) return;
    admin ??= Promise.resolve(makeDriver());
    const deleter = await admin;
    for (const name of resources.names) {
      await deleter.deleteQueue?.(name).catch(() => undefined);
      await options.cleanup?.(name);
    }
  }
  /** The running case's resources (or those of code outside a case), released by this harness. */
  const mine = () => {
    const resources = caseResources() ?? outside;
    resources.release ??= release;
    return resources;
  };

  const harness: DriverHarness = {
    lockMs,
    capabilities: probe.capabilities,
    provider: probe.provider,
    apiVersion: probe.apiVersion,
    options,
    timeout: (baseMs) => Math.round(baseMs * scale),
    queueName() {
      const name = `${prefix}-${run}-${++counter}`;
      mine().names.push(name);
      return name;
    },
    async driver() {
      const resources = mine();
      const driver = await makeDriver();
      resources.drivers.push(driver);
      return driver;
    },
    makeDriver: async () => makeDriver(),
    message: (overrides = {}) => ({
      id: `m-${randomUUID()}`,
      name: 'driver-case',
      body: new TextEncoder().encode('{"ok":true}'),
      headers: {},
      ...overrides,
    }),
    receive: (driver, queue, receiveOptions = {}) =>
      driver.receive(queue, { max: 10, waitMs: 1000, lockMs, signal: mine().stop.signal, ...receiveOptions }),
    async receiveIds(driver, queue, ids, { timeoutMs = 20_000, receive = {} } = {}) {
      const byId = new Map<string, Delivery>();
      const others: Delivery[] = [];
      const wanted = new Set(ids);
      await until(
        `deliveries of ${ids.length} message(s) on ${queue}`,
        harness.timeout(timeoutMs),
        async () => {
          // Ask for what is still missing: some SDKs wait on after a first message until `max` arrive.
          const max = Math.min(10, Math.max(1, wanted.size - byId.size));
          for (const delivery of await harness.receive(driver, queue, { max, ...receive })) {
            if (!wanted.has(delivery.id)) others.push(delivery);
            else if (!byId.has(delivery.id)) byId.set(delivery.id, delivery);
          }
          return byId.size === wanted.size;
        },
        0,
      );
      return { byId, others };
    },
    async receiveOne(driver, queue, id, receiveOptions) {
      const delivery = (await harness.receiveIds(driver, queue, [id], receiveOptions)).byId.get(id);
      if (!delivery) throw new Error(`no delivery of ${id} on ${queue}`);
      return delivery;
    },
    async oneDelivery({ message: overrides, driver: given } = {}) {
      const queue = harness.queueName();
      const driver = given ?? (await harness.driver());
      const message = harness.message(overrides);
      await driver.send(queue, [message]);
      const delivery = await harness.receiveOne(driver, queue, message.id);
      return { queue, driver, message, delivery, receivedAt: Date.now() };
    },
    async deliveredWithin(driver, queue, ms) {
      const seen: Delivery[] = [];
      const deadline = Date.now() + ms;
      for (let left = ms; left > 0; left = deadline - Date.now()) {
        seen.push(...(await harness.receive(driver, queue, { waitMs: Math.min(left, 1000) })));
      }
      return seen;
    },
    async cleanup() {
      const resources = outside;
      outside = new CaseResources();
      await release(resources);
    },
    async close() {
      const pending = admin;
      admin = undefined;
      if (pending) await (await pending).close();
    },
  };
  return harness;
}
