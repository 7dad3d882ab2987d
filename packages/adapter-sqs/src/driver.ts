import * as sqs from '@aws-sdk/client-sqs';
import type { Capabilities, Driver, OutgoingMessage, ReceiveOptions, RedriveOptions } from '@queuekit/core';
import {
  DRIVER_API_VERSION,
  lifetimeController,
  PartialSendError,
  PayloadTooLargeError,
  QueueClosedError,
  redactUrl,
} from '@queuekit/core';
import { Batcher, chunk, classified, deadLetterQueueOps } from '@queuekit/core/driver-kit';
import { QueueAdmin } from './admin.js';
import { classifyError, isQueueMissing } from './errors.js';
import { type ResolvedSqsOptions, resolveOptions, type SqsDriverOptions } from './options.js';
import { type ReceiverContext, receive } from './receiver.js';
import { toEntry } from './wire.js';

const ERRORS = { provider: 'sqs', classify: classifyError };

/** Options of {@link SqsDriver}: the URL options plus an optional client of your own. */
export type SqsDriverConfig = SqsDriverOptions & {
  /** Use this client instead of creating one (it is then not destroyed by `close()`). */
  readonly client?: sqs.SQSClient;
};

/**
 * The Amazon SQS driver: the visibility timeout is the lock, `ApproximateReceiveCount` the delivery count; each
 * queue's dead-letter queue (native redrive policy) is an ordinary queue, so its list, redrive, purge are the kit's.
 */
export class SqsDriver implements Driver {
  readonly apiVersion = DRIVER_API_VERSION;
  readonly provider = 'sqs';
  readonly capabilities: Capabilities;
  /** Headers travel in one JSON attribute, apart from the driver's own attributes: none is reserved. */
  readonly reservedHeaders: readonly string[] = [];
  readonly deadLetterQueue = { queueOf: (queue: string) => this.#ctx.admin.deadLetterNameOf(queue) };
  // Private fields (not TypeScript `private`): util.inspect and JSON.stringify never see the client,
  // whose configuration and request objects can hold credentials.
  readonly #ctx: ReceiverContext;
  readonly #options: ResolvedSqsOptions;
  readonly #ownsClient: boolean;
  readonly #closing = lifetimeController();
  readonly #deadLetters = deadLetterQueueOps(this, this.deadLetterQueue, { batch: 10 });
  #payloadLimit: number;

  constructor({ client: given, ...options }: SqsDriverConfig = {}) {
    this.#options = resolveOptions(options);
    const { region, endpoint, fifo, maxDelayMs, maxPayloadBytes } = this.#options;
    this.#ownsClient = !given;
    const client = given ?? new sqs.SQSClient({ region, ...(endpoint === undefined ? {} : { endpoint }) });
    const refused = (code = '') =>
      Object.assign(new Error(`SQS refused the delete (${code})`), { name: code });
    const deletes = new Batcher<string>(10, async (QueueUrl, receipts) => {
      const Entries = receipts.map((receipt, i) => ({ Id: String(i), ReceiptHandle: receipt }));
      const { Failed } = await client.send(new sqs.DeleteMessageBatchCommand({ QueueUrl, Entries }));
      return Entries.map(({ Id }) => Failed?.find((f) => f.Id === Id)).map((f) => f && refused(f.Code));
    });
    const admin = new QueueAdmin(client, this.#options);
    this.#ctx = { admin, deletes, closing: this.#closing.signal, deadLetters: this.#deadLetters };
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
    return this.#ctx.admin.client;
  }

  /** What the driver shows of itself: provider and settings, never the client or credentials. */
  toJSON(): Record<string, unknown> {
    const { region, endpoint, defaultQueue, fifo } = this.#options;
    const closed = this.#closing.signal.aborted;
    return { provider: 'sqs', region, endpoint: endpoint && redactUrl(endpoint), defaultQueue, fifo, closed };
  }

  /** Resolve the default queue (created when allowed); its `MaximumMessageSize` becomes the payload limit. */
  async ready(): Promise<this> {
    if (this.#options.defaultQueue) {
      const { maxMessageBytes } = await this.#call('resolve queue', () => this.#ctx.admin.info(''));
      this.#payloadLimit = Math.min(this.#payloadLimit, maxMessageBytes);
    }
    return this;
  }

  private assertOpen(): void {
    if (this.#closing.signal.aborted) throw new QueueClosedError('The SQS driver is closed');
  }

  /**
   * `work` on an open driver, its errors classified once, here (the core's guard passes them through): an SDK
   * error holds the signed request, so even a driver used without the core never rejects with one.
   */
  #call<T>(operation: string, work: () => Promise<T>): Promise<T> {
    return classified(operation, ERRORS, () => {
      this.assertOpen();
      return work();
    });
  }

  /** Name used when emulating priority band `band` of `queue`; keeps a `.fifo` suffix last. */
  priorityQueueName(queue: string, band: number): string {
    return queue.replace(/(\.fifo)?$/, `-p${band}$1`);
  }

  send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    if (messages.length === 0) return Promise.resolve();
    return this.#call('send', () => this.#send(queue, messages));
  }

  async #send(queue: string, messages: readonly OutgoingMessage[]): Promise<void> {
    const info = await this.#ctx.admin.info(queue);
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
    const refuse = (batch: sqs.SendMessageBatchRequestEntry[], why: Error) => {
      for (const { Id } of batch) unsent.add(Id);
      reason ??= why;
    };
    // One SendMessageBatch per chunk: what SQS refused with a retryable error is sent again, twice at most.
    const run = async (part: typeof entries) => {
      let batch = part.map((e) => e.entry);
      // On FIFO queues nothing goes after a refusal.
      if (reason && info.fifo) return refuse(batch, reason);
      for (let retries = 2; batch.length > 0; retries--) {
        let failed: sqs.BatchResultErrorEntry[];
        try {
          const input = { QueueUrl: info.url, Entries: batch };
          failed = (await this.#ctx.admin.client.send(new sqs.SendMessageBatchCommand(input))).Failed ?? [];
        } catch (error) {
          if (isQueueMissing(error)) this.#ctx.admin.forget(info.name);
          // Typed here: it may be the cause of a PartialSendError (the SDK's error holds the signed request).
          return refuse(batch, classifyError(error, 'send'));
        }
        if (failed.length === 0) return;
        batch = batch.filter((entry) => failed.some((f) => f.Id === entry.Id));
        const codes = [...new Set(failed.map((f) => f.Code))].join(', ');
        if (batch.length > 0 && (retries === 0 || failed.some((f) => f.SenderFault)))
          return refuse(batch, new Error(`send: SQS refused messages (${codes})`));
      }
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

  receive(queue: string, options: ReceiveOptions) {
    return this.#call('receive', async () => receive(this.#ctx, await this.#ctx.admin.info(queue), options));
  }

  stats(queue: string) {
    return this.#call('stats', () => this.#ctx.admin.stats(queue));
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

  deleteQueue(queue: string) {
    return this.#call('deleteQueue', () => this.#ctx.admin.deleteQueue(queue));
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
    await this.#ctx.deletes.drain();
    if (this.#ownsClient) this.#ctx.admin.client.destroy();
  }
}
