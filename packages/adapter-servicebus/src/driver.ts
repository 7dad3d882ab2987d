/** The Service Bus driver: capabilities, clients, send, receive (receiver.ts), management (admin.ts), close. */
import type { TokenCredential } from '@azure/identity';
import {
  RetryMode,
  ServiceBusAdministrationClient,
  ServiceBusClient,
  type ServiceBusMessage,
  type ServiceBusSender,
} from '@azure/service-bus';
import {
  AuthenticationError,
  BrokerUnavailableError,
  type Capabilities,
  ConfigError,
  DRIVER_API_VERSION,
  lifetimeController,
  type Delivery,
  type Driver,
  type OutgoingMessage,
  PayloadTooLargeError,
  QueueClosedError,
  type QueuekitError,
  type ReceiveOptions,
  type RedriveOptions,
  Scrubber,
  UnsupportedFeatureError,
  settlesWithin,
} from '@queuekit/core';
import { classified } from '@queuekit/core/driver-kit';
import * as admin from './admin.js';
import { classifyError, type ErrorContext, isEntityNotFound } from './errors.js';
import {
  AMQP_OVERHEAD_BYTES,
  DEFAULT_OPERATION_TIMEOUT_MS,
  parseEndpoint,
  STANDARD_MAX_MESSAGE_BYTES,
  type ServiceBusDriverOptions,
  validateOptions,
} from './options.js';
import { Receiver } from './receiver.js';
import { RESERVED_HEADERS, toServiceBusMessage } from './wire.js';

const REFUSAL_KEPT_MS = 10_000;
/** How long `close()` waits for the namespace to answer before it drops the SDK's connection. */
const CLOSE_TIMEOUT_MS = 2_000;

type Use = 'send' | 'receive';

export class ServiceBusDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'servicebus';
  readonly capabilities: Capabilities;
  readonly reservedHeaders = RESERVED_HEADERS;
  /** What the driver shows of itself: the namespace host, never a key. */
  readonly #namespace: string;
  readonly #errors: ErrorContext;
  readonly #client: ServiceBusClient;
  /** A client like #client that makes each call once (no SDK retries), for the credential check. */
  readonly #probeClient: () => ServiceBusClient;
  readonly #admin: ServiceBusAdministrationClient | undefined;
  /** Makes the client of peeks and dead-letter work (see {@link #managementClient}). */
  readonly #connectManagement: () => ServiceBusClient;
  #management: ServiceBusClient | undefined;
  readonly #receiver: Receiver;
  readonly #senders = new Map<string, ServiceBusSender>();
  readonly #ensured = new Map<string, Promise<void>>();
  readonly #credentialsChecked = new Map<Use, Promise<void>>();
  readonly #closing = lifetimeController();
  readonly #queueDefaults: ServiceBusDriverOptions['queueDefaults'];
  readonly #kit = {
    provider: this.provider,
    classify: (error: unknown, op: string) => this.classifyError(error, op),
  };

  constructor(options: ServiceBusDriverOptions = {}) {
    validateOptions(options);
    this.#queueDefaults = options.queueDefaults;
    const given =
      options.connectionString ?? (options.namespace ? undefined : process.env.SERVICEBUS_CONNECTION_STRING);
    const givenAdmin = options.adminConnectionString ?? process.env.SERVICEBUS_ADMIN_CONNECTION_STRING;
    const scrubber = new Scrubber([given, givenAdmin]);
    const endpoint = given ? parseEndpoint(given, options.allowInsecure) : undefined;
    const adminString = givenAdmin ? parseEndpoint(givenAdmin, options.allowInsecure) : endpoint;
    const namespace = options.namespace ?? '';
    this.#namespace =
      endpoint?.host ?? (namespace.includes('.') ? namespace : `${namespace}.servicebus.windows.net`);
    const credential = (
      endpoint ? undefined : (options.credential ?? defaultCredential())
    ) as TokenCredential;
    /** An SDK constructor that refuses its options: a ConfigError naming `field`, its text scrubbed. */
    const sdk = <T>(field: string, create: () => T): T => {
      try {
        return create();
      } catch (error) {
        throw new ConfigError(field, scrubber.scrub((error as Error).message ?? String(error)));
      }
    };
    const timeoutInMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    const connect = (maxRetries: number, timeoutInMs: number) => {
      const retryOptions = {
        maxRetries,
        timeoutInMs,
        mode: RetryMode.Exponential,
        retryDelayInMs: 500,
        maxRetryDelayInMs: 5000,
      };
      return endpoint
        ? new ServiceBusClient(endpoint.connectionString, { retryOptions })
        : new ServiceBusClient(this.#namespace, credential, { retryOptions });
    };
    this.#client = sdk('connectionString', () => connect(options.maxRetries ?? 3, timeoutInMs));
    this.#probeClient = () => connect(0, Math.min(timeoutInMs, 10_000));
    this.#connectManagement = () => connect(options.maxRetries ?? 3, timeoutInMs);
    if (options.createQueues)
      this.#admin = sdk('adminConnectionString', () =>
        adminString
          ? new ServiceBusAdministrationClient(adminString.connectionString)
          : new ServiceBusAdministrationClient(this.#namespace, credential),
      );
    this.#errors = { scrubber, broker: `sb://${this.#namespace}` };
    this.#receiver = new Receiver(
      this.#client,
      options.prefetch ?? false,
      this.#closing.signal,
      this.#kit.classify,
    );
    this.capabilities = {
      maxDelayMs: Number.POSITIVE_INFINITY,
      priority: 'emulated',
      dedup: options.duplicateDetection ?? false,
      ordering: false,
      maxBatchSize: 100,
      lockRenewal: true,
      redelivery: 'timeout',
      // The broker counts every delivery (lock expiry and abandon included) in `DeliveryCount`.
      deliveryCount: 'exact',
      deadLetter: 'native',
      maxPayloadBytes: (options.maxMessageBytes ?? STANDARD_MAX_MESSAGE_BYTES) - AMQP_OVERHEAD_BYTES,
    };
  }

  /** Safe to log: provider and namespace, never a connection string or key. */
  toJSON(): { provider: string; namespace: string } {
    return { provider: this.provider, namespace: this.#namespace };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ServiceBusDriver ${JSON.stringify(this.toJSON())}`;
  }

  /** The queuekit error an SDK error stands for (the core's guard and the kit apply it). */
  classifyError(error: unknown, operation: string): QueuekitError {
    return classifyError(error, operation, this.#errors);
  }

  private assertOpen(): void {
    if (this.#closing.signal.aborted) throw new QueueClosedError('The Service Bus driver is closed');
  }

  /** `work` on `queue` of an open driver, once ready for that use, its SDK errors classified as `operation`. */
  async #on<T>(queue: string, use: Use, operation: string, work: () => Promise<T>): Promise<T> {
    this.assertOpen();
    await this.#ready(queue, use);
    return classified(operation, this.#kit, work);
  }

  /**
   * Credentials checked once per kind of use (README, "Wrong credentials"), on a client that does not retry: the
   * SDK retries a refused token for seconds. Then the queue is created when `createQueues` is on.
   */
  async #ready(queue: string, use: Use): Promise<void> {
    let check = this.#credentialsChecked.get(use);
    if (!check) {
      check = this.#checkCredentials(queue, use);
      this.#credentialsChecked.set(use, check);
    }
    await check;
    if (!this.#admin) return;
    let ensured = this.#ensured.get(queue);
    if (!ensured) {
      ensured = admin.createQueueIfMissing(this.#admin, queue, this.#queueDefaults, this.capabilities.dedup);
      ensured.catch(() => this.#ensured.delete(queue));
      this.#ensured.set(queue, ensured);
    }
    await ensured;
  }

  async #checkCredentials(queue: string, use: Use): Promise<void> {
    const probe = this.#probeClient();
    try {
      if (use === 'send') await probe.createSender(queue).createMessageBatch();
      else await probe.createReceiver(queue).peekMessages(1);
    } catch (error) {
      const typed = this.classifyError(error, 'authenticate');
      // Refused: so are the calls of the next 10 s (an Entra ID credential may get its token later).
      // Unreachable: checked again on the next call. Anything else (no such queue...) lets the call go on.
      if (AuthenticationError.is(typed)) {
        setTimeout(() => this.#credentialsChecked.delete(use), REFUSAL_KEPT_MS).unref();
        throw typed;
      }
      if (BrokerUnavailableError.is(typed)) this.#credentialsChecked.delete(use);
    } finally {
      await settlesWithin(probe.close(), CLOSE_TIMEOUT_MS);
    }
  }

  /**
   * The client of `stats()` and the dead-letter calls, on an AMQP connection of its own, made on first use. A peek
   * opens a `$management` link pair (one AMQP session) per entity, which SDK 7.9.5 keeps for the client's life:
   * ten priority bands and their dead-letter subqueues were 20 of the receive connection's 32 sessions, and rhea
   * visits every session of a connection on each pass over it, so every frame of the receive path paid for them.
   */
  #managementClient(): ServiceBusClient {
    // Not after close() began: it would not close this connection.
    this.assertOpen();
    this.#management ??= this.#connectManagement();
    return this.#management;
  }

  #sender(queue: string): ServiceBusSender {
    const sender = this.#senders.get(queue) ?? this.#client.createSender(queue);
    this.#senders.set(queue, sender);
    return sender;
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return this.assertOpen();
    await this.#on(queue, 'send', `send to ${queue}`, async () => {
      const sender = this.#sender(queue);
      const now = Date.now();
      const immediate: ServiceBusMessage[] = [];
      const byDelay = new Map<number, ServiceBusMessage[]>();
      for (const message of messages) {
        const delayMs = message.delayMs ?? 0;
        const list = delayMs > 0 ? byDelay.get(delayMs) : immediate;
        if (list) list.push(toServiceBusMessage(message));
        else byDelay.set(delayMs, [toServiceBusMessage(message)]);
      }
      // Delays of any length are native scheduled messages.
      for (const [delayMs, list] of byDelay) await sender.scheduleMessages(list, new Date(now + delayMs));
      // As few size-bounded SDK batches as possible.
      let batch = await sender.createMessageBatch();
      for (const message of immediate) {
        if (batch.tryAddMessage(message)) continue;
        if (batch.count > 0) {
          await sender.sendMessages(batch);
          batch = await sender.createMessageBatch();
        }
        if (!batch.tryAddMessage(message))
          throw new PayloadTooLargeError(
            (message.body as Buffer).byteLength,
            batch.maxSizeInBytes,
            this.provider,
          );
      }
      if (batch.count > 0) await sender.sendMessages(batch);
    });
  }

  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.assertOpen();
    if (options.signal.aborted) return [];
    await this.#ready(queue, 'receive');
    return this.#receiver.receive(queue, options);
  }

  stats(queue: string) {
    return this.#on(queue, 'receive', `stats of ${queue}`, () =>
      admin.countMessages(this.#managementClient(), queue),
    );
  }

  listDeadLetters(queue: string, limit: number) {
    return this.#on(queue, 'receive', `list dead letters of ${queue}`, () =>
      admin.listDeadLetters(this.#managementClient(), queue, limit),
    );
  }

  redriveDeadLetters(queue: string, options: RedriveOptions) {
    return this.#on(queue, 'receive', `dead letters of ${queue}`, () =>
      admin.redriveDeadLetters(this.#managementClient(), this.#sender(queue), queue, options),
    );
  }

  purgeDeadLetters(queue: string) {
    return this.#on(queue, 'receive', `dead letters of ${queue}`, () =>
      admin.purgeDeadLetters(this.#managementClient(), queue),
    );
  }

  /** Delete a queue through the administration API (only with `createQueues`). */
  async deleteQueue(queue: string): Promise<void> {
    this.assertOpen();
    const client = this.#admin;
    if (!client)
      throw new UnsupportedFeatureError(
        'deleteQueue',
        this.provider,
        'queue management needs the administration API: set createQueues',
      );
    this.#ensured.delete(queue);
    await client.deleteQueue(queue).catch((error: unknown) => {
      if (!isEntityNotFound(error)) throw this.classifyError(error, 'deleteQueue');
    });
  }

  /** Unsettled messages come back when their lock expires. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    // Bounded: a black-holed namespace never answers the detach/close frames, and close() must return.
    const closing = (async () => {
      await this.#receiver.close();
      await Promise.allSettled([...this.#senders.values()].map((sender) => sender.close()));
      await Promise.allSettled([this.#client.close(), this.#management?.close()]);
    })();
    // Unanswered, the connection would stay open and the namespace would go on handing its messages to these
    // links, each expired lock one more delivery (an inflated attempt): drop it.
    if (!(await settlesWithin(closing, CLOSE_TIMEOUT_MS))) {
      abortConnection(this.#client);
      if (this.#management) abortConnection(this.#management);
    }
    this.#senders.clear();
  }
}

/** Destroy the SDK's AMQP socket at once (SDK 7.9.x internals; another version leaves it to the SDK's timeouts). */
function abortConnection(client: ServiceBusClient): void {
  type Rhea = { socket?: unknown; abort_socket?(socket: unknown): void };
  const rhea = (client as unknown as { _connectionContext?: { connection?: { _connection?: Rhea } } })
    ._connectionContext?.connection?._connection;
  if (rhea?.socket && typeof rhea.abort_socket === 'function') rhea.abort_socket(rhea.socket);
}

/** `DefaultAzureCredential`, loaded on first use (it pulls in MSAL). */
function defaultCredential(): TokenCredential {
  const load = import('@azure/identity').then((identity) => new identity.DefaultAzureCredential());
  return { getToken: async (scopes, options) => (await load).getToken(scopes, options) };
}
