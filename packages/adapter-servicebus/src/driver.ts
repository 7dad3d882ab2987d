/**
 * The Service Bus driver: the core's Driver contract on `@azure/service-bus` queues.
 */
import {
  RetryMode,
  ServiceBusAdministrationClient,
  ServiceBusClient,
  type ServiceBusMessage,
  type ServiceBusReceivedMessage,
  type ServiceBusReceiver,
  type ServiceBusSender,
} from '@azure/service-bus';
import {
  AuthenticationError,
  BrokerUnavailableError,
  type Capabilities,
  ConfigError,
  DRIVER_API_VERSION,
  type DeadLetterInfo,
  type DeadLetteredMessage,
  type Delivery,
  type Driver,
  type DriverStats,
  LockLostError,
  linkSignals,
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
import { createDelivery } from '@queuekit/core/driver-kit';
import {
  countMessages,
  createQueueIfMissing,
  listDeadLetters,
  purgeDeadLetters,
  redriveDeadLetters,
} from './admin.js';
import { classifyError, isAbort, mapError, unknownError } from './errors.js';
import { LockKeeper } from './lock.js';
import { laneOf, MessageStream, type Prefetched, type SettlementKind } from './receiver.js';
import {
  ATTEMPTS_PROPERTY,
  DEAD_LETTERED_AT_PROPERTY,
  MAX_DEAD_LETTER_DESCRIPTION,
  MAX_DEAD_LETTER_REASON,
  RESERVED_HEADERS,
  toReceivedMessage,
  truncate,
  toServiceBusMessage,
} from './wire.js';
import {
  AMQP_OVERHEAD_BYTES,
  checkPlaintext,
  endpointHost,
  namespaceHost,
  normalizeConnectionString,
  STANDARD_MAX_MESSAGE_BYTES,
  type ServiceBusDriverOptions,
  validateOptions,
} from './options.js';

/** Messages per `send` call the core may pass (split further by size into SDK batches). */
const MAX_BATCH = 100;
/**
 * After a non-waiting receive (the core's poll of a priority band) found a queue empty, answer the
 * next non-waiting receives of that queue with [] for this long, unless this driver sent to it
 * meanwhile. Each such poll is an AMQP round trip with a drain; the core polls nine bands per loop.
 */
const EMPTY_POLL_BACKOFF_MS = 250;
/**
 * Per-attempt timeout of an SDK operation. A send whose connection was reset mid-transfer waits this long
 * for an answer that never comes before the SDK retries it on the new connection: at 30 s (the former
 * default) it outlasted the fault suite's bound on a send (`SEND_BOUND_MS`, 30 s).
 */
const DEFAULT_OPERATION_TIMEOUT_MS = 10_000;

/**
 * Azure Service Bus driver. Peek-lock receive; lock renewal driven by the core's heartbeat through
 * `extendLock` (the SDK's auto-renewal is off); delays as scheduled messages; native dead-lettering
 * and the `$DeadLetterQueue` subqueue; `jobId` deduplication when the queues have duplicate
 * detection; priority emulated by the core. No sessions: ordering keys are refused.
 */
export class ServiceBusDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'servicebus';
  readonly capabilities: Capabilities;
  readonly reservedHeaders = RESERVED_HEADERS;
  /** Removes the connection strings' keys from error texts. */
  readonly #scrubber: Scrubber;
  /** What the driver shows of itself: the namespace host, never a key. */
  readonly #namespace: string | undefined;
  /** The namespace as errors name it (`sb://HOST`), never with a key. */
  get #broker(): string {
    return `sb://${this.#namespace ?? 'unknown'}`;
  }
  readonly #client: ServiceBusClient;
  readonly #admin: ServiceBusAdministrationClient | undefined;
  readonly #senders = new Map<string, ServiceBusSender>();
  readonly #idleReceivers = new Map<string, ServiceBusReceiver[]>();
  readonly #receivers = new Set<ServiceBusReceiver>();
  readonly #streams = new Map<string, MessageStream>();
  /** Queue → time until which a non-waiting receive answers [] without asking the broker. */
  readonly #emptyUntil = new Map<string, number>();
  readonly #keepers = new Set<LockKeeper>();
  readonly #ensured = new Map<string, Promise<void>>();
  readonly #closing = new AbortController();
  readonly #queueDefaults: ServiceBusDriverOptions['queueDefaults'];
  readonly #prefetch: boolean;
  /** A client like #client that makes each call once (no SDK retries), for the credential check. */
  readonly #probeClient: () => ServiceBusClient;
  readonly #credentialsChecked = new Map<'send' | 'receive', Promise<void>>();

  constructor(options: ServiceBusDriverOptions = {}) {
    validateOptions(options);
    const timeoutInMs = options.operationTimeoutMs ?? DEFAULT_OPERATION_TIMEOUT_MS;
    const clientOptions = {
      retryOptions: {
        maxRetries: options.maxRetries ?? 3,
        timeoutInMs,
        mode: RetryMode.Exponential,
        retryDelayInMs: 500,
        maxRetryDelayInMs: 5000,
      },
    };
    const probeOptions = { retryOptions: { maxRetries: 0, timeoutInMs: Math.min(timeoutInMs, 10_000) } };
    const given =
      options.connectionString ?? (options.namespace ? undefined : process.env.SERVICEBUS_CONNECTION_STRING);
    const givenAdmin = options.adminConnectionString ?? process.env.SERVICEBUS_ADMIN_CONNECTION_STRING;
    this.#scrubber = new Scrubber([given, givenAdmin]);
    if (given) {
      const connectionString = normalizeConnectionString(given);
      checkPlaintext(connectionString, options.allowInsecure);
      this.#namespace = endpointHost(connectionString);
      this.#client = this.#sdk(
        'connectionString',
        () => new ServiceBusClient(connectionString, clientOptions),
      );
      this.#probeClient = () => new ServiceBusClient(connectionString, probeOptions);
      const adminConnectionString = givenAdmin ? normalizeConnectionString(givenAdmin) : connectionString;
      if (givenAdmin) checkPlaintext(adminConnectionString, options.allowInsecure);
      this.#admin = options.createQueues
        ? this.#sdk('adminConnectionString', () => new ServiceBusAdministrationClient(adminConnectionString))
        : undefined;
    } else {
      const host = namespaceHost(options.namespace as string);
      this.#namespace = host;
      const credential = options.credential ?? defaultCredential();
      this.#client = new ServiceBusClient(host, credential, clientOptions);
      this.#probeClient = () => new ServiceBusClient(host, credential, probeOptions);
      this.#admin = options.createQueues ? new ServiceBusAdministrationClient(host, credential) : undefined;
    }
    this.#queueDefaults = options.queueDefaults;
    this.#prefetch = options.prefetch ?? false;
    const maxMessageBytes = options.maxMessageBytes ?? STANDARD_MAX_MESSAGE_BYTES;
    this.capabilities = {
      maxDelayMs: Number.POSITIVE_INFINITY,
      priority: 'emulated',
      dedup: options.duplicateDetection ?? false,
      ordering: false,
      maxBatchSize: MAX_BATCH,
      lockRenewal: true,
      redelivery: 'timeout',
      // The broker counts every delivery (lock expiry and abandon included) in `DeliveryCount`.
      deliveryCount: 'exact',
      deadLetter: 'native',
      maxPayloadBytes: maxMessageBytes - AMQP_OVERHEAD_BYTES,
    };
  }

  /** An SDK constructor that refuses its options: a ConfigError naming `field`, its text scrubbed. */
  #sdk<T>(field: string, create: () => T): T {
    try {
      return create();
    } catch (error) {
      throw new ConfigError(field, this.#scrubber.scrub((error as Error).message ?? String(error)));
    }
  }

  /** Safe to log: provider and namespace, never a connection string or key. */
  toJSON(): { provider: string; namespace?: string } {
    return { provider: this.provider, ...(this.#namespace ? { namespace: this.#namespace } : {}) };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ServiceBusDriver ${JSON.stringify(this.toJSON())}`;
  }

  private open(): void {
    if (this.#closing.signal.aborted) throw new QueueClosedError('The Service Bus driver is closed');
  }

  /**
   * The credentials, checked once per kind of use on a client that does not retry: the SDK counts a
   * refused token (`UnauthorizedError`) as retryable and would take seconds of backoff to report it.
   * Sending is checked with a sender link, everything else with a peek (a Send-only or Listen-only key is
   * refused only what it cannot do). Refused: the calls of that kind in the next
   * {@link REFUSAL_KEPT_MS} fail at once with the same `AuthenticationError`. Any other outcome (accepted, no such queue) lets the call go on; the namespace
   * unreachable leaves it to be checked again.
   */
  private checkCredentials(queue: string, kind: 'send' | 'receive'): Promise<void> {
    let check = this.#credentialsChecked.get(kind);
    if (!check) {
      check = (async () => {
        const probe = this.#probeClient();
        try {
          if (kind === 'send') await probe.createSender(queue).createMessageBatch();
          else await probe.createReceiver(queue).peekMessages(1);
        } catch (error) {
          const mapped = mapError(error, 'authenticate', this.#scrubber, this.#broker);
          if (AuthenticationError.is(mapped)) {
            // Checked again after a while: an Entra ID credential may get its token later.
            setTimeout(() => this.#credentialsChecked.delete(kind), REFUSAL_KEPT_MS).unref();
            throw mapped;
          }
          if (BrokerUnavailableError.is(mapped)) this.#credentialsChecked.delete(kind);
        } finally {
          await settlesWithin(probe.close(), CLOSE_TIMEOUT_MS);
        }
      })();
      this.#credentialsChecked.set(kind, check);
    }
    return check;
  }

  /** Create the queue through the administration API when `createQueues` is on. */
  private async ensureQueue(queue: string, use: 'send' | 'receive' = 'receive'): Promise<void> {
    await this.checkCredentials(queue, use);
    const admin = this.#admin;
    if (!admin) return;
    let pending = this.#ensured.get(queue);
    if (!pending) {
      pending = createQueueIfMissing(admin, queue, this.#queueDefaults, this.capabilities.dedup);
      pending.catch(() => this.#ensured.delete(queue));
      this.#ensured.set(queue, pending);
    }
    return pending;
  }

  private sender(queue: string): ServiceBusSender {
    let sender = this.#senders.get(queue);
    if (!sender) {
      sender = this.#client.createSender(queue);
      this.#senders.set(queue, sender);
    }
    return sender;
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    this.open();
    if (messages.length === 0) return;
    await this.ensureQueue(queue, 'send');
    this.#emptyUntil.delete(queue);
    const sender = this.sender(queue);
    const now = Date.now();
    const immediate: ServiceBusMessage[] = [];
    const byDelay = new Map<number, ServiceBusMessage[]>();
    for (const message of messages) {
      const converted = toServiceBusMessage(message);
      if (message.delayMs && message.delayMs > 0) {
        const list = byDelay.get(message.delayMs) ?? [];
        list.push(converted);
        byDelay.set(message.delayMs, list);
      } else immediate.push(converted);
    }
    try {
      // Delays of any length are native scheduled messages
      // (https://learn.microsoft.com/azure/service-bus-messaging/message-sequencing#scheduled-messages).
      for (const [delayMs, list] of byDelay) await sender.scheduleMessages(list, new Date(now + delayMs));
      if (immediate.length > 0) await this.sendBatched(sender, immediate);
    } catch (error) {
      throw mapError(error, `send to ${queue}`, this.#scrubber, this.#broker);
    }
  }

  /** Send in as few size-bounded SDK batches as possible. */
  private async sendBatched(sender: ServiceBusSender, messages: ServiceBusMessage[]): Promise<void> {
    let batch = await sender.createMessageBatch();
    for (const message of messages) {
      if (batch.tryAddMessage(message)) continue;
      if (batch.count === 0) {
        const size = (message.body as Buffer).byteLength;
        throw new PayloadTooLargeError(size, batch.maxSizeInBytes, this.provider);
      }
      await sender.sendMessages(batch);
      batch = await sender.createMessageBatch();
      if (!batch.tryAddMessage(message)) {
        throw new PayloadTooLargeError(
          (message.body as Buffer).byteLength,
          batch.maxSizeInBytes,
          this.provider,
        );
      }
    }
    if (batch.count > 0) await sender.sendMessages(batch);
  }

  /** A receiver of `queue` not in use by another receive call (the SDK allows one at a time). */
  private takeReceiver(queue: string): ServiceBusReceiver {
    const idle = this.#idleReceivers.get(queue);
    const reused = idle?.pop();
    if (reused) return reused;
    const receiver = this.newReceiver(queue);
    this.#receivers.add(receiver);
    return receiver;
  }

  /** A peek-lock receiver without SDK auto lock renewal (the core drives renewals). */
  private newReceiver(queue: string): ServiceBusReceiver {
    return this.#client.createReceiver(queue, {
      receiveMode: 'peekLock',
      maxAutoLockRenewalDurationInMs: 0,
      skipParsingBodyAsJson: true,
    });
  }

  private returnReceiver(queue: string, receiver: ServiceBusReceiver): void {
    if (this.#closing.signal.aborted) return;
    const idle = this.#idleReceivers.get(queue) ?? [];
    idle.push(receiver);
    this.#idleReceivers.set(queue, idle);
  }

  /**
   * Long-polling receives (`waitMs > 0`) go through a prefetching stream per queue, bounded by the
   * first call's `max` (the consumer's concurrency). Receives that must not wait (`waitMs` 0, the
   * core's priority-band polls) take exactly what is there with `receiveMessages`.
   */
  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    this.open();
    if (options.signal.aborted) return [];
    const stream = this.#streams.get(queue);
    if (!stream && options.waitMs <= 0 && (this.#emptyUntil.get(queue) ?? 0) > Date.now()) return [];
    await this.ensureQueue(queue);
    const linked = linkSignals(options.signal, this.#closing.signal);
    try {
      return await this.receiveLinked(queue, options, stream, linked.signal);
    } finally {
      linked.dispose();
    }
  }

  private async receiveLinked(
    queue: string,
    options: ReceiveOptions,
    existing: MessageStream | undefined,
    signal: AbortSignal,
  ): Promise<Delivery[]> {
    let stream = existing;
    if (!stream && options.waitMs > 0 && this.#prefetch) {
      stream = new MessageStream(this.newReceiver(queue), options.max);
      this.#receivers.add(stream.receiver);
      this.#streams.set(queue, stream);
    }
    if (stream) {
      const { receiver } = stream;
      try {
        const taken = await stream.take(options.max, options.waitMs, signal);
        return taken.map((entry) => this.delivery(receiver, entry.message, options.lockMs, entry));
      } catch (error) {
        if (isAbort(error) || this.#closing.signal.aborted) return [];
        // The SDK reported the stream's link or connection failing: the next receive opens a fresh stream.
        // After a connection reset the SDK's own recovery sometimes left the stream without messages for
        // good. Its receiver stays open for the deliveries already handed out (closed with the driver);
        // buffered ones come back when their lock expires.
        if (this.#streams.get(queue) === stream) this.#streams.delete(queue);
        void stream.abandon();
        throw mapError(error, `receive from ${queue}`, this.#scrubber, this.#broker);
      }
    }
    const receiver = this.takeReceiver(queue);
    try {
      const messages = await receiver.receiveMessages(Math.max(1, options.max), {
        maxWaitTimeInMs: Math.max(0, options.waitMs),
        abortSignal: signal,
      });
      if (messages.length === 0 && options.waitMs <= 0)
        this.#emptyUntil.set(queue, Date.now() + EMPTY_POLL_BACKOFF_MS);
      return messages.map((message) => this.delivery(receiver, message, options.lockMs));
    } catch (error) {
      if (isAbort(error) || this.#closing.signal.aborted) return [];
      throw mapError(error, `receive from ${queue}`, this.#scrubber, this.#broker);
    } finally {
      this.returnReceiver(queue, receiver);
    }
  }

  private delivery(
    receiver: ServiceBusReceiver,
    message: ServiceBusReceivedMessage,
    lockMs: number,
    prefetched?: Prefetched,
  ): Delivery {
    const keeper =
      prefetched?.keeper ??
      new LockKeeper(
        () => receiver.renewMessageLock(message),
        message.lockedUntilUtc?.getTime() ?? Date.now() + lockMs,
        lockMs,
      );
    prefetched?.keeper.reset(lockMs);
    this.#keepers.add(keeper);
    const lane = laneOf(receiver);
    // Once settled, or once the kit refused a settlement (lock run out): no more renewals, credit returned.
    const done = () => {
      keeper.stop();
      this.#keepers.delete(keeper);
      prefetched?.release();
    };
    // The lock stays renewed while the settlement waits for its turn in the lane.
    const settle = (kind: SettlementKind, operation: () => Promise<void>) =>
      lane
        .run(kind, () => {
          keeper.stop();
          this.#keepers.delete(keeper);
          return operation();
        })
        .finally(done);
    const delivery = createDelivery({
      message: toReceivedMessage(message),
      lockedUntil: keeper.heldUntil,
      ...(message.lockToken ? { deliveryToken: message.lockToken } : {}),
      provider: this.provider,
      classify: (error, operation) => this.classifyError(error, operation),
      isClosed: () => this.#closing.signal.aborted,
      operations: {
        ack: () => settle('shared', () => receiver.completeMessage(message)),
        deadLetter: (info: DeadLetterInfo) =>
          settle('exclusive', () =>
            receiver.deadLetterMessage(message, {
              deadLetterReason: truncate(info.reason, MAX_DEAD_LETTER_REASON),
              deadLetterErrorDescription: truncate(info.error ?? '', MAX_DEAD_LETTER_DESCRIPTION),
              [DEAD_LETTERED_AT_PROPERTY]: Date.now(),
              ...(info.attempts === undefined ? {} : { [ATTEMPTS_PROPERTY]: info.attempts }),
            }),
          ),
        extendLock: async (ms: number) => {
          await keeper.hold(ms);
          return keeper.heldUntil;
        },
      },
    });
    const { ack, deadLetter } = delivery;
    const refused = (error: unknown) => {
      if (LockLostError.is(error)) done();
      throw error;
    };
    return Object.assign(delivery, {
      ack: (result?: unknown) => ack(result).catch(refused),
      deadLetter: (info: DeadLetterInfo) => deadLetter(info).catch(refused),
    });
  }

  /** The queuekit error an SDK error stands for (the core's guard and the kit apply it); unknown ones as DriverError. */
  classifyError(error: unknown, operation: string): QueuekitError | undefined {
    return (
      classifyError(error, operation, this.#scrubber, this.#broker) ??
      unknownError(error, operation, this.provider, this.#scrubber)
    );
  }

  /** `work` on an existing queue of an open driver, its SDK errors mapped as `what`. */
  private async managed<T>(queue: string, what: string, work: () => Promise<T>): Promise<T> {
    this.open();
    await this.ensureQueue(queue);
    try {
      return await work();
    } catch (error) {
      throw mapError(error, what, this.#scrubber, this.#broker);
    }
  }

  stats(queue: string): Promise<DriverStats> {
    return this.managed(queue, `stats of ${queue}`, () => countMessages(this.#client, queue));
  }

  listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    return this.managed(queue, `list dead letters of ${queue}`, () =>
      listDeadLetters(this.#client, queue, limit),
    );
  }

  redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    return this.managed(queue, `dead letters of ${queue}`, () =>
      redriveDeadLetters(this.#client, this.sender(queue), queue, options),
    );
  }

  purgeDeadLetters(queue: string): Promise<number> {
    return this.managed(queue, `dead letters of ${queue}`, () => purgeDeadLetters(this.#client, queue));
  }

  /** Name of the physical queue for an emulated priority band. */
  priorityQueueName(queue: string, band: number): string {
    return `${queue}-p${band}`;
  }

  /** Delete a queue through the administration API (only with `createQueues`). */
  async deleteQueue(queue: string): Promise<void> {
    this.open();
    if (!this.#admin) {
      throw new UnsupportedFeatureError(
        'deleteQueue',
        this.provider,
        'queue management needs the administration API: set createQueues',
      );
    }
    this.#ensured.delete(queue);
    await this.#admin.deleteQueue(queue).catch((error: unknown) => {
      if ((error as { code?: string }).code !== 'MessageEntityNotFoundError')
        throw mapError(error, 'deleteQueue', this.#scrubber, this.#broker);
    });
  }

  /** Close every link and the connection. Unsettled messages come back when their lock expires. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    for (const keeper of this.#keepers) keeper.stop();
    this.#keepers.clear();
    // Bounded: a black-holed namespace never answers the detach/close frames, and close() must return.
    const closing = (async () => {
      await Promise.allSettled([...this.#streams.values()].map((stream) => stream.close()));
      await Promise.allSettled([...this.#receivers].map((receiver) => receiver.close()));
      await Promise.allSettled([...this.#senders.values()].map((sender) => sender.close()));
      await this.#client.close();
    })();
    // Unanswered, the connection would stay open, and the namespace would go on handing its messages
    // to these links, each expired lock one more delivery (an inflated attempt). Drop it.
    if (!(await settlesWithin(closing, CLOSE_TIMEOUT_MS))) abortConnection(this.#client);
    this.#streams.clear();
    this.#receivers.clear();
    this.#senders.clear();
    this.#idleReceivers.clear();
  }
}

/** How long a refused credential check answers for the calls after it before it is made again. */
const REFUSAL_KEPT_MS = 10_000;

/** How long `close()` waits for the namespace to answer before it lets the SDK's connections go. */
const CLOSE_TIMEOUT_MS = 2_000;

/** The part of rhea's connection (under `@azure/service-bus` 7.9.x) that drops its socket at once. */
interface RheaConnection {
  readonly socket?: unknown;
  abort_socket?(socket: unknown): void;
}

/**
 * Destroy the SDK's AMQP socket without waiting for the namespace (SDK internals, pinned to 7.9.x:
 * `ServiceBusClient._connectionContext.connection._connection` is the rhea connection). A missing
 * field (another SDK version) leaves the connection to the SDK's own timeouts.
 */
function abortConnection(client: ServiceBusClient): void {
  const rhea = (
    client as unknown as { _connectionContext?: { connection?: { _connection?: RheaConnection } } }
  )._connectionContext?.connection?._connection;
  if (rhea?.socket && typeof rhea.abort_socket === 'function') rhea.abort_socket(rhea.socket);
}

/** `DefaultAzureCredential`, loaded on first use (it pulls in MSAL). */
function defaultCredential(): import('@azure/identity').TokenCredential {
  let inner: import('@azure/identity').TokenCredential | undefined;
  const load = import('@azure/identity').then((identity) => {
    inner = new identity.DefaultAzureCredential();
    return inner;
  });
  return {
    async getToken(scopes, options) {
      return (inner ?? (await load)).getToken(scopes, options);
    },
  };
}
