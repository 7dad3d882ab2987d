import {
  ChangeMessageVisibilityCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SendMessageBatchCommandOutput,
  type SendMessageBatchRequestEntry,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  type Capabilities,
  DRIVER_API_VERSION,
  type DeadLetteredMessage,
  type DeadLetterInfo,
  type Delivery,
  type Driver,
  type DriverStats,
  type OutgoingMessage,
  PartialSendError,
  PayloadTooLargeError,
  QueueClosedError,
  QueuekitError,
  type ReceiveOptions,
  type RedriveOptions,
  redactUrl,
  linkSignals,
} from '@queuekit/core';
import { createDelivery } from '@queuekit/core/driver-kit';
import { deleteAll, SYSTEM_ATTRIBUTES, scanQueue } from './dead-letters.js';
import { DeleteBatcher } from './delete-batcher.js';
import { isAbort, isQueueMissing, mapError } from './errors.js';
import {
  ATTR,
  batchEntry,
  type DecodedMessage,
  deadLetterWire,
  fromWire,
  toBase64Entry,
  toWire,
  type WireMessage,
  wireSize,
} from './message.js';
import { resolveOptions, type ResolvedSqsOptions, type SqsDriverOptions } from './options.js';
import { type QueueDirectory as Directory, type QueueInfo, QueueDirectory } from './queues.js';

/** Options of {@link SqsDriver}: the URL options plus an optional client of your own. */
export interface SqsDriverConfig extends SqsDriverOptions {
  /** Use this client instead of creating one (it is then not destroyed by `close()`). */
  readonly client?: SQSClient;
}

const MAX_VISIBILITY_SECONDS = 43_200;
const MAX_WAIT_SECONDS = 20;

function seconds(ms: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, Math.ceil(ms / 1000)));
}

/**
 * The Amazon SQS driver. Visibility timeout is the lock (extended with ChangeMessageVisibility),
 * `ApproximateReceiveCount` is the delivery count, `DelaySeconds` carries delays up to 15 min, and
 * each queue has a dead-letter queue with a native redrive policy. FIFO queues (`.fifo`) map job
 * ids to deduplication ids and ordering keys to message group ids. Priority is emulated by the core
 * with one queue per band.
 */
export class SqsDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'sqs';
  readonly capabilities: Capabilities;
  /** Attribute names the driver interprets: none are headers (headers travel in one JSON attribute). */
  readonly reservedHeaders: readonly string[] = [];
  // Private fields (not TypeScript `private`): util.inspect and JSON.stringify never see the client,
  // whose configuration and request objects can hold credentials.
  readonly #client: SQSClient;
  readonly #options: ResolvedSqsOptions;
  readonly #queues: Directory;
  readonly #deletes: DeleteBatcher;
  readonly #ownsClient: boolean;
  readonly #closing = new AbortController();
  #payloadLimit: number;
  /** Whether bodies with characters beyond U+FFFF may go as text (false after the service refused one). */
  #astralText = true;

  constructor(config: SqsDriverConfig = {}) {
    this.#options = resolveOptions(config);
    this.#ownsClient = config.client === undefined;
    this.#client =
      config.client ??
      new SQSClient({
        region: this.#options.region,
        ...(this.#options.endpoint === undefined ? {} : { endpoint: this.#options.endpoint }),
      });
    this.#queues = new QueueDirectory(this.#client, this.#options);
    this.#deletes = new DeleteBatcher(this.#client);
    this.#payloadLimit = this.#options.maxPayloadBytes;
    const driver = this;
    this.capabilities = {
      maxDelayMs: this.#options.maxDelayMs,
      priority: 'emulated',
      dedup: this.#options.fifo,
      ordering: this.#options.fifo,
      maxBatchSize: 10,
      lockRenewal: true,
      redelivery: 'timeout',
      // ApproximateReceiveCount counts every receive, crashes included.
      deliveryCount: 'exact',
      deadLetter: 'native',
      get maxPayloadBytes() {
        return driver.#payloadLimit;
      },
    };
  }

  /** The underlying client (escape hatch for admin calls). */
  get client(): SQSClient {
    return this.#client;
  }

  /** What the driver shows of itself: provider and settings, never the client or credentials. */
  toJSON(): Record<string, unknown> {
    return {
      provider: this.provider,
      region: this.#options.region,
      ...(this.#options.endpoint === undefined ? {} : { endpoint: redactUrl(this.#options.endpoint) }),
      ...(this.#options.defaultQueue === undefined ? {} : { defaultQueue: this.#options.defaultQueue }),
      fifo: this.#options.fifo,
      closed: this.#closing.signal.aborted,
    };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SqsDriver ${JSON.stringify(this.toJSON())}`;
  }

  /**
   * Resolve the default queue (creating it when allowed) and adopt its `MaximumMessageSize` as the
   * declared payload limit. Called by `createDriver`; harmless to skip.
   */
  async ready(): Promise<this> {
    if (this.#options.defaultQueue) {
      const info = await this.info(this.#options.defaultQueue);
      this.#payloadLimit = Math.min(this.#payloadLimit, info.maxMessageBytes);
    }
    return this;
  }

  private open(): void {
    if (this.#closing.signal.aborted) throw new QueueClosedError('The SQS driver is closed');
  }

  private async info(queue: string): Promise<QueueInfo> {
    this.open();
    try {
      return await this.#queues.info(this.#queues.physicalName(queue || this.#options.defaultQueue || ''));
    } catch (error) {
      throw mapError(error, 'resolve queue');
    }
  }

  async #urlOf(name: string): Promise<string | undefined> {
    try {
      return await this.#queues.urlOf(name);
    } catch (error) {
      throw mapError(error, 'resolve queue');
    }
  }

  /** Name used when emulating priority band `band` of `queue`; keeps a `.fifo` suffix last. */
  priorityQueueName(queue: string, band: number): string {
    return queue.endsWith('.fifo') ? `${queue.slice(0, -5)}-p${band}.fifo` : `${queue}-p${band}`;
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const info = await this.info(queue);
    const now = Date.now();
    const wires = messages.map((message) => {
      const extra: Record<string, string> =
        info.fifo && message.delayMs && message.delayMs > 0
          ? { [ATTR.due]: String(now + message.delayMs) }
          : {};
      const wire = toWire(message, extra, this.#astralFor(info));
      if (wire.size > info.maxMessageBytes)
        throw new PayloadTooLargeError(wire.size, info.maxMessageBytes, this.provider);
      return wire;
    });
    const entries = messages.map((message, i) => batchEntry(i, wires[i] as WireMessage, message, info.fifo));
    const chunks = chunkBySize(entries, wires, info.maxMessageBytes);
    const notSent = new Set<string>();
    let reason: Error | undefined;
    const run = async (chunk: SendMessageBatchRequestEntry[]) => {
      try {
        await this.sendBatch(info, chunk);
      } catch (error) {
        if (!(error instanceof EntriesNotSent)) throw error;
        for (const id of error.entryIds) notSent.add(id);
        reason ??= error.reason;
      }
    };
    // FIFO order across chunks matters (and nothing goes after a refusal); standard queues send chunks in parallel.
    if (info.fifo) {
      for (const chunk of chunks) {
        if (reason) for (const entry of chunk) notSent.add(entry.Id ?? '');
        else await run(chunk);
      }
    } else await Promise.all(chunks.map(run));
    if (reason === undefined) return;
    const jobIds = (sent: boolean) =>
      entries.flatMap((entry, i) => (notSent.has(entry.Id ?? '') === sent ? [] : [messages[i]?.id ?? '']));
    const sent = jobIds(true);
    if (sent.length === 0) throw reason;
    // Say which jobs SQS took, so that only the others are sent again.
    throw new PartialSendError(sent, jobIds(false), { cause: reason });
  }

  /**
   * Whether bodies with characters beyond U+FFFF may go as text to this queue. FIFO queues always
   * send them as base64: a refused entry re-sent after the rest of its batch would break its group's order.
   */
  #astralFor(info: QueueInfo): boolean {
    return this.#astralText && !info.fifo;
  }

  private async sendBatch(
    info: QueueInfo,
    entries: SendMessageBatchRequestEntry[],
    retries = 2,
  ): Promise<void> {
    let out: SendMessageBatchCommandOutput;
    try {
      out = await this.#client.send(new SendMessageBatchCommand({ QueueUrl: info.url, Entries: entries }));
    } catch (error) {
      if (isQueueMissing(error)) this.#queues.forget(info.name);
      throw new EntriesNotSent(entries, mapError(error, 'send'));
    }
    const failed = out.Failed ?? [];
    if (failed.length === 0) return;
    const refusedText = failed.filter((f) => f.Code === 'InvalidMessageContents');
    const byId = new Map(entries.map((e) => [e.Id, e]));
    if (
      refusedText.length > 0 &&
      refusedText.every((f) => byId.get(f.Id)?.MessageAttributes?.[ATTR.encoding] === undefined)
    ) {
      // This service refuses some characters AWS accepts (emoji on some emulators): send those bodies as base64 from now on.
      this.#astralText = false;
      const retried = refusedText.map((f) => toBase64Entry(byId.get(f.Id) as SendMessageBatchRequestEntry));
      for (const entry of retried) {
        const size = wireSize(entry.MessageBody ?? '', entry.MessageAttributes ?? {});
        if (size > info.maxMessageBytes)
          throw new PayloadTooLargeError(size, info.maxMessageBytes, this.provider);
      }
      const rest = failed
        .filter((f) => f.Code !== 'InvalidMessageContents')
        .map((f) => byId.get(f.Id) as SendMessageBatchRequestEntry);
      const unsent: SendMessageBatchRequestEntry[] = [];
      let reason: Error | undefined;
      for (const [part, left] of [
        [retried, retries],
        [rest, retries - 1],
      ] as const) {
        if (part.length === 0) continue;
        try {
          await this.sendBatch(info, part, left);
        } catch (error) {
          if (!(error instanceof EntriesNotSent)) throw error;
          unsent.push(...part.filter((entry) => error.entryIds.has(entry.Id ?? '')));
          reason ??= error.reason;
        }
      }
      if (reason) throw new EntriesNotSent(unsent, reason);
      return;
    }
    const retryable = failed.every((f) => !f.SenderFault);
    if (retryable && retries > 0) {
      const ids = new Set(failed.map((f) => f.Id));
      return this.sendBatch(
        info,
        entries.filter((e) => ids.has(e.Id)),
        retries - 1,
      );
    }
    const codes = [...new Set(failed.map((f) => f.Code))].join(', ');
    const refused = new Set(failed.map((f) => f.Id));
    throw new EntriesNotSent(
      entries.filter((entry) => refused.has(entry.Id)),
      new Error(`send: SQS refused ${failed.length} of ${entries.length} messages (${codes})`),
    );
  }

  async receive(queue: string, options: ReceiveOptions): Promise<Delivery[]> {
    const info = await this.info(queue);
    const linked = linkSignals(options.signal, this.#closing.signal);
    try {
      return await this.#receive(info, options, linked.signal);
    } finally {
      linked.dispose();
    }
  }

  async #receive(info: QueueInfo, options: ReceiveOptions, signal: AbortSignal): Promise<Delivery[]> {
    const deadline = performance.now() + Math.max(0, options.waitMs);
    const visibility = seconds(options.lockMs, 1, MAX_VISIBILITY_SECONDS);
    const out: Delivery[] = [];
    while (out.length < options.max && !signal.aborted) {
      const left = options.max - out.length;
      const wait = out.length > 0 ? 0 : seconds(deadline - performance.now(), 0, MAX_WAIT_SECONDS);
      // The first call long-polls for up to 10. Once a full batch came, more are probably waiting: the
      // rest is asked for at once in parallel calls (one round trip, not one per 10). A FIFO queue keeps
      // one call at a time so its batches arrive in order.
      const calls = out.length > 0 && !info.fifo ? Math.ceil(left / 10) : 1;
      const wanted = Array.from({ length: calls }, (_, i) => Math.min(10, left - i * 10));
      const results = await Promise.allSettled(
        wanted.map((count) => this.#receiveOnce(info, count, wait, visibility, signal)),
      );
      let received = 0;
      let failure: unknown;
      for (const result of results) {
        if (result.status === 'rejected') failure ??= result.reason;
        else if (result.value) {
          received += result.value.received;
          out.push(...result.value.deliveries);
        }
      }
      // Deliveries already in hand are returned (their messages are locked to us); the error comes back
      // on the next receive if it persists.
      if (failure !== undefined) {
        if (out.length > 0) break;
        throw failure;
      }
      if (signal.aborted) break;
      const asked = wanted.reduce((total, count) => total + count, 0);
      if (received === asked) continue; // every call came back full: maybe more waiting, ask again without waiting
      if (out.length > 0 || performance.now() >= deadline) break;
    }
    return out;
  }

  /** One ReceiveMessage call; undefined when the signal stopped it. */
  async #receiveOnce(
    info: QueueInfo,
    wanted: number,
    wait: number,
    visibility: number,
    signal: AbortSignal,
  ): Promise<{ received: number; deliveries: Delivery[] } | undefined> {
    const sentAt = performance.now();
    let batch: Message[];
    try {
      const res = await this.#client.send(
        new ReceiveMessageCommand({
          QueueUrl: info.url,
          MaxNumberOfMessages: wanted,
          WaitTimeSeconds: wait,
          VisibilityTimeout: visibility,
          MessageAttributeNames: ['All'],
          MessageSystemAttributeNames: [...SYSTEM_ATTRIBUTES],
        }),
        { abortSignal: signal },
      );
      batch = res.Messages ?? [];
    } catch (error) {
      if (signal.aborted || isAbort(error)) return undefined;
      if (isQueueMissing(error)) this.#queues.forget(info.name);
      throw mapError(error, 'receive');
    }
    const lockedUntil = sentAt + visibility * 1000;
    const deliveries: Delivery[] = [];
    for (const message of batch) {
      const decoded = fromWire(message);
      if (info.fifo && decoded.due !== undefined && decoded.due > Date.now()) {
        await this.hold(info, message, decoded.due);
        continue;
      }
      deliveries.push(this.delivery(info, message, decoded, lockedUntil));
    }
    return { received: batch.length, deliveries };
  }

  /** FIFO queues have no per-message delay: a message received before its due time is hidden until then. */
  private async hold(info: QueueInfo, message: Message, due: number): Promise<void> {
    await this.#client
      .send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: info.url,
          ReceiptHandle: message.ReceiptHandle,
          VisibilityTimeout: seconds(due - Date.now(), 1, MAX_VISIBILITY_SECONDS),
        }),
      )
      .catch(() => undefined); // the receive's own visibility timeout brings it back
  }

  private delivery(
    info: QueueInfo,
    message: Message,
    decoded: DecodedMessage,
    lockedUntil: number,
  ): Delivery {
    const receipt = message.ReceiptHandle ?? '';
    const changeVisibility = (timeout: number) =>
      this.#client.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: info.url,
          ReceiptHandle: receipt,
          VisibilityTimeout: timeout,
        }),
      );
    /** The SDK's errors as queuekit errors (a receipt no longer valid is LockLostError). */
    const mapped = async (action: string, work: () => Promise<unknown>): Promise<void> => {
      try {
        await work();
      } catch (error) {
        throw mapError(error, action);
      }
    };
    const deliveryCount =
      info.fifo && decoded.due !== undefined ? heldCount(message, decoded) : decoded.receiveCount;
    // The kit keeps settle-once, the local lock expiry and lockedUntil across renewals.
    const epochOffset = Date.now() - performance.now();
    const monotonicNow = () => performance.now() + epochOffset;
    const delivery = createDelivery({
      message: {
        id: decoded.id,
        ...(decoded.name === undefined ? {} : { name: decoded.name }),
        body: decoded.body,
        headers: decoded.headers,
        deliveryCount,
        ...(decoded.sentAt === undefined ? {} : { enqueuedAt: decoded.sentAt }),
        ...(info.fifo && decoded.orderingKey !== undefined ? { orderingKey: decoded.orderingKey } : {}),
        raw: message,
      },
      // `lockedUntil` is on the monotonic clock of the receive, and so are the kit's lock checks (a wall
      // clock that jumps must not lose locks); both as epoch ms.
      lockedUntil: lockedUntil + epochOffset,
      now: monotonicNow,
      provider: this.provider,
      isClosed: () => this.#closing.signal.aborted,
      operations: {
        ack: () => mapped('ack', () => this.#deletes.delete(info.url, receipt)),
        release: (delayMs) =>
          mapped('release', () => changeVisibility(seconds(delayMs, 0, MAX_VISIBILITY_SECONDS))),
        extendLock: async (ms) => {
          const from = monotonicNow();
          const timeout = seconds(ms, 1, MAX_VISIBILITY_SECONDS);
          await mapped('extendLock', () => changeVisibility(timeout));
          return from + timeout * 1000;
        },
        deadLetter: (dl) => mapped('deadLetter', () => this.moveToDeadLetters(info, message, decoded, dl)),
      },
    });
    // Reported against the wall clock of the moment it is read, as the core's heartbeat reads it.
    return {
      ...delivery,
      get lockedUntil() {
        return Date.now() + ((delivery.lockedUntil ?? 0) - monotonicNow());
      },
    };
  }

  private async moveToDeadLetters(
    info: QueueInfo,
    message: Message,
    decoded: DecodedMessage,
    dl: DeadLetterInfo,
  ): Promise<void> {
    const url = await this.#queues.deadLetterUrl(info.name, true);
    if (!url)
      throw new Error(
        `deadLetter: the dead-letter queue of \`${info.name}\` does not exist and createIfMissing is false`,
      );
    const source = {
      id: decoded.id,
      name: decoded.name ?? decoded.headers['qk-name'] ?? 'default',
      body: decoded.body,
      headers: decoded.headers,
      ...(info.fifo && decoded.orderingKey !== undefined ? { orderingKey: decoded.orderingKey } : {}),
    };
    const wire = deadLetterWire(source, dl, info.maxMessageBytes, this.#astralFor(info));
    try {
      await this.sendBatch({ ...info, url, name: info.deadLetterName }, [
        batchEntry(0, wire, source, info.fifo),
      ]);
    } catch (error) {
      throw error instanceof EntriesNotSent ? error.reason : error;
    }
    await this.#deletes.delete(info.url, message.ReceiptHandle ?? '');
  }

  async stats(queue: string): Promise<DriverStats> {
    const info = await this.info(queue);
    const names = [
      'ApproximateNumberOfMessages',
      'ApproximateNumberOfMessagesDelayed',
      'ApproximateNumberOfMessagesNotVisible',
    ] as const;
    const read = async (url: string) =>
      (await this.#client.send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...names] })))
        .Attributes ?? {};
    try {
      const main = await read(info.url);
      const deadUrl = await this.#urlOf(info.deadLetterName);
      const dead = deadUrl ? await read(deadUrl) : undefined;
      // FIFO queues carry delays as held messages (no per-message DelaySeconds), so their counts cannot
      // tell waiting from delayed from held: those fields are left out.
      const counts = info.fifo
        ? {}
        : {
            waiting: Number(main.ApproximateNumberOfMessages ?? 0),
            delayed: Number(main.ApproximateNumberOfMessagesDelayed ?? 0),
            active: Number(main.ApproximateNumberOfMessagesNotVisible ?? 0),
          };
      return {
        ...counts,
        deadLettered: dead
          ? Number(dead.ApproximateNumberOfMessages ?? 0) +
            Number(dead.ApproximateNumberOfMessagesNotVisible ?? 0) +
            Number(dead.ApproximateNumberOfMessagesDelayed ?? 0)
          : 0,
      };
    } catch (error) {
      throw mapError(error, 'stats');
    }
  }

  async listDeadLetters(queue: string, limit: number): Promise<DeadLetteredMessage[]> {
    const info = await this.info(queue);
    const url = await this.#urlOf(info.deadLetterName);
    if (!url || limit <= 0) return [];
    const out: DeadLetteredMessage[] = [];
    try {
      await scanQueue(this.#client, url, limit, this.#options.deadLetterScanWaitSeconds, async (batch) => {
        for (const message of batch) out.push(toDeadLettered(message));
        return new Set();
      });
    } catch (error) {
      throw mapError(error, 'listDeadLetters');
    }
    return out;
  }

  async redriveDeadLetters(queue: string, options: RedriveOptions): Promise<number> {
    const info = await this.info(queue);
    const url = await this.#urlOf(info.deadLetterName);
    if (!url) return 0;
    const wanted = options.ids ? new Set(options.ids) : undefined;
    // A job moved by this call that a consumer dead-letters again while the scan goes on comes back to the
    // dead-letter queue as a new message: it is left there, or one call would move it again and again.
    const movedIds = new Set<string>();
    let moved = 0;
    try {
      await scanQueue(
        this.#client,
        url,
        Number.POSITIVE_INFINITY,
        this.#options.deadLetterScanWaitSeconds,
        async (batch) => {
          const picked = batch.filter((m) => {
            const id = fromWire(m).id;
            return (!wanted || wanted.has(id)) && !movedIds.has(id);
          });
          if (picked.length === 0) return new Set();
          for (const m of picked) movedIds.add(fromWire(m).id);
          const copies: OutgoingMessage[] = picked.map((m) => {
            const d = fromWire(m);
            return {
              id: d.id,
              name: d.name ?? d.headers['qk-name'] ?? 'default',
              body: d.body,
              headers: { ...d.headers, ...options.headers },
              ...(info.fifo && d.orderingKey !== undefined ? { orderingKey: d.orderingKey } : {}),
            };
          });
          await this.send(queue, copies);
          moved += await deleteAll(this.#client, url, picked);
          return new Set(picked);
        },
      );
    } catch (error) {
      throw mapError(error, 'redriveDeadLetters');
    }
    return moved;
  }

  async purgeDeadLetters(queue: string): Promise<number> {
    const info = await this.info(queue);
    const url = await this.#urlOf(info.deadLetterName);
    if (!url) return 0;
    let deleted = 0;
    try {
      await scanQueue(
        this.#client,
        url,
        Number.POSITIVE_INFINITY,
        this.#options.deadLetterScanWaitSeconds,
        async (batch) => {
          deleted += await deleteAll(this.#client, url, batch);
          return new Set(batch);
        },
      );
    } catch (error) {
      throw mapError(error, 'purgeDeadLetters');
    }
    return deleted;
  }

  /** Delete the queue and its dead-letter queue if they exist (never creates them). */
  async deleteQueue(queue: string): Promise<void> {
    this.open();
    const name = this.#queues.physicalName(queue);
    const url = await this.#urlOf(name);
    let deadLetterName = this.#queues.deadLetterNameOf(name);
    if (url) {
      const policy = await this.#client
        .send(new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ['RedrivePolicy'] }))
        .then((out) => out.Attributes?.RedrivePolicy)
        .catch(() => undefined);
      const arn = policy
        ? (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn
        : undefined;
      if (arn?.split(':').pop()) deadLetterName = arn.split(':').pop() as string;
    }
    for (const target of [name, deadLetterName]) {
      const targetUrl = target === name ? url : await this.#urlOf(target);
      if (!targetUrl) continue;
      await this.#client.send(new DeleteQueueCommand({ QueueUrl: targetUrl })).catch((error: unknown) => {
        if (!isQueueMissing(error)) throw mapError(error, 'deleteQueue');
      });
      this.#queues.forget(target);
    }
  }

  /** The queuekit error an SDK error stands for (credentials refused, receipt gone, unreachable), else undefined. */
  classifyError(error: unknown, operation: string): QueuekitError | undefined {
    try {
      const mapped = mapError(error, operation);
      return QueuekitError.is(mapped) ? mapped : undefined;
    } catch {
      return undefined;
    }
  }

  /** Abort pending receives and destroy the client (unless it was given). Unsettled messages come back after their visibility timeout. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    // Acks already issued complete before the client goes away (the job is done: it must not come back).
    await new Promise((resolve) => setImmediate(resolve));
    await this.#deletes.drain();
    if (this.#ownsClient) this.#client.destroy();
  }
}

/** Entries of a SendMessageBatch call that SQS did not take (all of them when the call itself failed). */
class EntriesNotSent extends Error {
  readonly entryIds: ReadonlySet<string>;

  constructor(
    entries: readonly SendMessageBatchRequestEntry[],
    readonly reason: Error,
  ) {
    super(reason.message, { cause: reason });
    this.entryIds = new Set(entries.map((entry) => entry.Id ?? ''));
  }
}

/**
 * Deliveries of a FIFO message that the driver held back for its due time do not count: each
 * hold lasted until the due time, so the holds are the 12-hour windows between first receive and due.
 */
function heldCount(message: Message, decoded: DecodedMessage): number {
  const first = Number(message.Attributes?.ApproximateFirstReceiveTimestamp);
  const due = decoded.due ?? 0;
  const holds =
    Number.isFinite(first) && first > 0 && first < due
      ? Math.ceil((due - first) / (MAX_VISIBILITY_SECONDS * 1000))
      : 0;
  return Math.max(1, decoded.receiveCount - holds);
}

/** Split entries into SendMessageBatch calls of ≤10 entries and ≤ `maxBytes` in total. */
function chunkBySize(
  entries: SendMessageBatchRequestEntry[],
  wires: readonly WireMessage[],
  maxBytes: number,
): SendMessageBatchRequestEntry[][] {
  const chunks: SendMessageBatchRequestEntry[][] = [];
  let current: SendMessageBatchRequestEntry[] = [];
  let bytes = 0;
  for (const [i, entry] of entries.entries()) {
    const size = wires[i]?.size ?? 0;
    if (current.length === 10 || (current.length > 0 && bytes + size > maxBytes)) {
      chunks.push(current);
      current = [];
      bytes = 0;
    }
    current.push(entry);
    bytes += size;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** A dead-letter queue message as listed: the reason recorded by `deadLetter`, or `max-receive-count` when SQS moved it. */
function toDeadLettered(message: Message): DeadLetteredMessage {
  const d = fromWire(message);
  const record = d.deadLetter;
  // `qk-attempt` may come from another producer: only a positive integer counts.
  const header = Number(d.headers['qk-attempt']);
  const sent = Number.isSafeInteger(header) && header >= 1 ? header : 1;
  const attempts = record?.attempts ?? sent + Math.max(0, d.receiveCount - 2);
  return {
    id: d.id,
    ...(d.name === undefined ? {} : { name: d.name }),
    body: d.body,
    headers: d.headers,
    deliveryCount: d.receiveCount,
    ...(d.sentAt === undefined ? {} : { enqueuedAt: d.sentAt }),
    raw: message,
    reason: record?.reason ?? 'max-receive-count',
    ...(record?.error === undefined ? {} : { error: record.error }),
    attempts,
    ...(record?.at === undefined ? {} : { deadLetteredAt: new Date(record.at) }),
  };
}
