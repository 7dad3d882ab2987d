import * as sqs from '@aws-sdk/client-sqs';
import {
  type Capabilities,
  DRIVER_API_VERSION,
  type Driver,
  type OutgoingMessage,
  PartialSendError,
  PayloadTooLargeError,
  QueueClosedError,
  type ReceiveOptions,
  type RedriveOptions,
  redactUrl,
} from '@queuekit/core';
import { Batcher, chunk, classified, deadLetterQueueOps } from '@queuekit/core/driver-kit';
import { QueueAdmin, type QueueInfo } from './admin.js';
import { classifyError, isQueueMissing } from './errors.js';
import { type ResolvedSqsOptions, resolveOptions, type SqsDriverOptions } from './options.js';
import { type ReceiverContext, receive } from './receiver.js';
import { toEntry } from './wire.js';

/** Options of {@link SqsDriver}: the URL options plus an optional client of your own. */
export type SqsDriverConfig = SqsDriverOptions & {
  /** Use this client instead of creating one (it is then not destroyed by `close()`). */
  readonly client?: sqs.SQSClient;
};

/** Entry ids of a send that SQS did not take, and why. */
type Unsent = { readonly ids: (string | undefined)[]; readonly reason?: Error };

/**
 * The Amazon SQS driver. Visibility timeout is the lock (extended with ChangeMessageVisibility),
 * `ApproximateReceiveCount` the delivery count, `DelaySeconds` carries delays up to 15 min, and each queue
 * has a dead-letter queue with a native redrive policy: an ordinary queue, so listing, redrive and purge are
 * the kit's. FIFO queues (`.fifo`) map job ids to deduplication ids and ordering keys to message group ids.
 */
export class SqsDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'sqs';
  readonly capabilities: Capabilities;
  /** Headers travel in one JSON attribute, apart from the driver's own attributes: none is reserved. */
  readonly reservedHeaders: readonly string[] = [];
  readonly deadLetterQueue = { queueOf: (queue: string) => this.#admin.deadLetterNameOf(queue) };
  // Private fields (not TypeScript `private`): util.inspect and JSON.stringify never see the client,
  // whose configuration and request objects can hold credentials.
  readonly #client: sqs.SQSClient;
  readonly #options: ResolvedSqsOptions;
  readonly #admin: QueueAdmin;
  readonly #ownsClient: boolean;
  readonly #closing = new AbortController();
  readonly #deadLetters = deadLetterQueueOps(this, this.deadLetterQueue, { batch: 10 });
  readonly #deletes = new Batcher<string>(10, async (QueueUrl, receipts) => {
    const Entries = receipts.map((receipt, i) => ({ Id: String(i), ReceiptHandle: receipt }));
    const out = await this.#client.send(new sqs.DeleteMessageBatchCommand({ QueueUrl, Entries }));
    const refused = (code = '') =>
      Object.assign(new Error(`SQS refused the delete (${code})`), { name: code });
    return Entries.map(({ Id }) => out.Failed?.find((f) => f.Id === Id)).map((f) => f && refused(f.Code));
  });
  readonly #receiver: ReceiverContext;
  #payloadLimit: number;

  constructor({ client, ...options }: SqsDriverConfig = {}) {
    this.#options = resolveOptions(options);
    const { region, endpoint, fifo, maxDelayMs, maxPayloadBytes, deadLetterScanWaitSeconds } = this.#options;
    this.#ownsClient = client === undefined;
    this.#client = client ?? new sqs.SQSClient({ region, ...(endpoint === undefined ? {} : { endpoint }) });
    this.#admin = new QueueAdmin(this.#client, this.#options);
    this.#receiver = {
      client: this.#client,
      admin: this.#admin,
      deletes: this.#deletes,
      closing: this.#closing.signal,
      scanWaitSeconds: deadLetterScanWaitSeconds,
      deadLetters: this.#deadLetters,
    };
    this.#payloadLimit = maxPayloadBytes;
    const driver = this;
    this.capabilities = {
      maxDelayMs,
      priority: 'emulated',
      dedup: fifo,
      ordering: fifo,
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
  get client(): sqs.SQSClient {
    return this.#client;
  }

  /** What the driver shows of itself: provider and settings, never the client or credentials. */
  toJSON(): Record<string, unknown> {
    const { region, endpoint, defaultQueue, fifo } = this.#options;
    const closed = this.#closing.signal.aborted;
    return { provider: 'sqs', region, endpoint: endpoint && redactUrl(endpoint), defaultQueue, fifo, closed };
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `SqsDriver ${JSON.stringify(this.toJSON())}`;
  }

  /** Resolve the default queue (created when allowed); its `MaximumMessageSize` becomes the payload limit. */
  async ready(): Promise<this> {
    const limit = this.#options.defaultQueue ? (await this.#info('')).maxMessageBytes : this.#payloadLimit;
    this.#payloadLimit = Math.min(this.#payloadLimit, limit);
    return this;
  }

  private assertOpen(): void {
    if (this.#closing.signal.aborted) throw new QueueClosedError('The SQS driver is closed');
  }

  /** `work` once the driver is known open, its errors classified. */
  #call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return classified(operation, { provider: 'sqs', classify: classifyError }, () => {
      this.assertOpen();
      return work();
    });
  }

  #info(queue: string): Promise<QueueInfo> {
    return this.#call('resolve queue', () => this.#admin.info(queue));
  }

  /** Name used when emulating priority band `band` of `queue`; keeps a `.fifo` suffix last. */
  priorityQueueName(queue: string, band: number): string {
    return queue.replace(/(\.fifo)?$/, `-p${band}$1`);
  }

  async send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const info = await this.#info(queue);
    const now = Date.now();
    const entries = messages.map((message, i) => {
      const due = info.fifo && message.delayMs && message.delayMs > 0 ? now + message.delayMs : undefined;
      const wire = toEntry(i, message, info.fifo, due);
      if (wire.size > info.maxMessageBytes)
        throw new PayloadTooLargeError(wire.size, info.maxMessageBytes, 'sqs');
      return wire;
    });
    const unsent = new Set<string | undefined>();
    let reason: Error | undefined;
    const run = async (part: typeof entries) => {
      // On FIFO queues nothing goes after a refusal.
      const ids = part.map((e) => e.entry.Id);
      const result =
        reason && info.fifo
          ? { ids }
          : await this.#sendChunk(
              info,
              part.map((e) => e.entry),
            );
      for (const id of result.ids) unsent.add(id);
      reason ??= result.reason;
    };
    const chunks = chunk(entries, { maxCount: 10, maxBytes: info.maxMessageBytes, sizeOf: (e) => e.size });
    // FIFO order across chunks matters; standard queues send chunks in parallel.
    if (info.fifo) for (const part of chunks) await run(part);
    else await Promise.all(chunks.map(run));
    if (reason === undefined) return;
    const jobIds = (sent: boolean) =>
      messages.filter((_, i) => unsent.has(`m${i}`) !== sent).map((m) => m.id);
    if (jobIds(true).length === 0) throw reason;
    // Say which jobs SQS took, so that only the others are sent again.
    throw new PartialSendError(jobIds(true), jobIds(false), { cause: reason });
  }

  /** One SendMessageBatch: what SQS refused with a retryable error is sent again, twice at most. */
  async #sendChunk(info: QueueInfo, entries: sqs.SendMessageBatchRequestEntry[]): Promise<Unsent> {
    for (let retries = 2; ; retries--) {
      let failed: sqs.BatchResultErrorEntry[];
      try {
        const input = { QueueUrl: info.url, Entries: entries };
        failed = (await this.#client.send(new sqs.SendMessageBatchCommand(input))).Failed ?? [];
      } catch (error) {
        if (isQueueMissing(error)) this.#admin.forget(info.name);
        return { ids: entries.map((e) => e.Id), reason: classifyError(error, 'send') };
      }
      entries = entries.filter((entry) => failed.some((f) => f.Id === entry.Id));
      if (entries.length === 0) return { ids: [] };
      if (retries === 0 || failed.some((f) => f.SenderFault)) {
        const codes = [...new Set(failed.map((f) => f.Code))].join(', ');
        return { ids: entries.map((e) => e.Id), reason: new Error(`send: SQS refused messages (${codes})`) };
      }
    }
  }

  async receive(queue: string, options: ReceiveOptions) {
    return receive(this.#receiver, await this.#info(queue), options);
  }

  stats(queue: string) {
    return this.#call('stats', () => this.#admin.stats(queue));
  }

  listDeadLetters(queue: string, limit: number) {
    return this.#call('listDeadLetters', () => this.#deadLetters.list(queue, limit));
  }

  redriveDeadLetters(queue: string, options: RedriveOptions) {
    return this.#call('redriveDeadLetters', () => this.#deadLetters.redrive(queue, options));
  }

  purgeDeadLetters(queue: string) {
    return this.#call('purgeDeadLetters', () => this.#deadLetters.purge(queue));
  }

  /** Delete the queue and its dead-letter queue if they exist (never creates them). */
  deleteQueue(queue: string) {
    return this.#call('deleteQueue', () => this.#admin.deleteQueue(queue));
  }

  classifyError(error: unknown, operation: string) {
    return classifyError(error, operation);
  }

  /** Abort pending receives and destroy the client (unless it was given); unsettled messages come back. */
  async close(): Promise<void> {
    if (this.#closing.signal.aborted) return;
    this.#closing.abort();
    // Acks already issued complete before the client goes away (the job is done: it must not come back).
    await new Promise((resolve) => setImmediate(resolve));
    await this.#deletes.drain();
    if (this.#ownsClient) this.#client.destroy();
  }
}
