import * as sqs from '@aws-sdk/client-sqs';
import { ConfigError, type DriverStats } from '@queuekit/core';
import { isQueueMissing } from './errors.js';
import { checkQueueName, type ResolvedSqsOptions } from './options.js';

/** What the driver knows about one physical queue. */
export interface QueueInfo {
  readonly name: string;
  readonly url: string;
  readonly fifo: boolean;
  readonly maxMessageBytes: number;
  /** It is the dead-letter queue of another queue. */
  readonly deadLetters: boolean;
}

const COUNTS = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesDelayed',
  'ApproximateNumberOfMessagesNotVisible',
] as const;

/** Queue names to URLs and attributes (creating queues when allowed), cached; counts and deletion. */
export class QueueAdmin {
  readonly #infos = new Map<string, Promise<QueueInfo>>();
  readonly #urls = new Map<string, string>();
  /** Dead-letter queue names met so far: created without a dead-letter queue of their own. */
  readonly #deadLetterNames = new Set<string>();

  constructor(
    readonly client: sqs.SQSClient,
    readonly options: ResolvedSqsOptions,
  ) {}

  /** Physical name of a logical queue (the default queue for `''`): `.fifo` appended in FIFO mode. */
  physicalName(queue: string): string {
    const base = queue || this.options.defaultQueue || '';
    const name = this.options.fifo && !base.endsWith('.fifo') ? `${base}.fifo` : base;
    checkQueueName(name);
    return name;
  }

  /** The dead-letter queue of `queue`: `NAME-dlq` (`NAME-dlq.fifo`), the suffix being `deadLetterSuffix`. */
  deadLetterNameOf(queue: string): string {
    const dlq = this.#deadLetterName(this.physicalName(queue));
    this.#deadLetterNames.add(dlq);
    return dlq;
  }

  #deadLetterName(name: string): string {
    return name.replace(/(\.fifo)?$/, `${this.options.deadLetterSuffix}$1`);
  }

  /** URL of a queue, or undefined when it does not exist (found URLs are cached). */
  async urlOf(name: string): Promise<string | undefined> {
    if (this.#urls.has(name)) return this.#urls.get(name);
    try {
      const url = (await this.client.send(new sqs.GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      if (url) this.#urls.set(name, url);
      return url;
    } catch (error) {
      if (isQueueMissing(error)) return undefined;
      throw error;
    }
  }

  /** Info of `queue`, created (with its dead-letter queue and redrive policy) when missing and allowed. */
  info(queue: string): Promise<QueueInfo> {
    const name = this.physicalName(queue);
    let pending = this.#infos.get(name);
    if (!pending) {
      // A cached URL can go stale (the queue or its dead-letter queue deleted, an emulator restarted): when
      // SQS says a queue is missing, forget both and look them up (or create them) once more.
      pending = this.#load(name).catch((error: unknown) => {
        if (!isQueueMissing(error)) throw error;
        this.#urls.delete(name);
        this.#urls.delete(this.#deadLetterName(name));
        return this.#load(name);
      });
      this.#infos.set(name, pending);
      pending.catch(() => this.forget(name));
    }
    return pending;
  }

  /** Forget a queue (deleted, or found missing) and the URL of its dead-letter queue, which may be gone too. */
  forget(name: string): void {
    this.#infos.delete(name);
    this.#urls.delete(name);
    this.#urls.delete(this.#deadLetterName(name));
  }

  async #load(name: string): Promise<QueueInfo> {
    const deadLetters = this.#deadLetterNames.has(name);
    const deadLetterName = this.deadLetterNameOf(name);
    let url = await this.urlOf(name);
    if (!url && !this.options.createIfMissing)
      throw new ConfigError('queue', `SQS queue \`${name}\` does not exist and createIfMissing is false`);
    if (!url) {
      const policy = deadLetters ? undefined : await this.#redrivePolicy(deadLetterName);
      url = await this.#create(name, policy ? { RedrivePolicy: policy } : {});
    }
    const max = Number((await this.#attributes(url, ['MaximumMessageSize'])).MaximumMessageSize);
    const maxMessageBytes = max > 0 ? max : this.options.maxPayloadBytes;
    return { name, url, fifo: name.endsWith('.fifo'), maxMessageBytes, deadLetters };
  }

  async #redrivePolicy(deadLetterName: string): Promise<string | undefined> {
    const url = (await this.urlOf(deadLetterName)) ?? (await this.#create(deadLetterName, {}));
    const arn = (await this.#attributes(url, ['QueueArn'])).QueueArn;
    return arn && JSON.stringify({ deadLetterTargetArn: arn, maxReceiveCount: this.options.maxReceiveCount });
  }

  async #create(name: string, attributes: Record<string, string>): Promise<string> {
    const all = name.endsWith('.fifo') ? { ...attributes, FifoQueue: 'true' } : attributes;
    const { QueueUrl } = await this.client.send(
      new sqs.CreateQueueCommand({ QueueName: name, Attributes: all }),
    );
    if (!QueueUrl) throw new Error(`CreateQueue returned no URL for \`${name}\``);
    this.#urls.set(name, QueueUrl);
    return QueueUrl;
  }

  async #attributes(QueueUrl: string, AttributeNames: sqs.QueueAttributeName[]) {
    const out = await this.client.send(new sqs.GetQueueAttributesCommand({ QueueUrl, AttributeNames }));
    return out.Attributes ?? {};
  }

  /** Counts of `queue` and its dead-letter queue (which is not created for this). */
  async stats(queue: string): Promise<DriverStats> {
    const info = await this.info(queue);
    const deadUrl = await this.urlOf(this.deadLetterNameOf(info.name));
    const main = await this.#attributes(info.url, [...COUNTS]);
    const dead = deadUrl ? await this.#attributes(deadUrl, [...COUNTS]) : {};
    const [waiting, delayed, active] = COUNTS.map((name) => Number(main[name] ?? 0));
    return {
      // FIFO queues carry delays as held messages: their counts cannot tell waiting from delayed from held.
      ...(info.fifo ? {} : { waiting, delayed, active }),
      deadLettered: COUNTS.reduce((total, name) => total + Number(dead[name] ?? 0), 0),
    };
  }

  /** Delete `queue` and its dead-letter queue if they exist (never creates them). */
  async deleteQueue(queue: string): Promise<void> {
    for (const name of [this.physicalName(queue), this.deadLetterNameOf(queue)]) {
      const url = await this.urlOf(name);
      const deleting = url && this.client.send(new sqs.DeleteQueueCommand({ QueueUrl: url }));
      await Promise.resolve(deleting).catch((error: unknown) => {
        if (!isQueueMissing(error)) throw error;
      });
      this.forget(name);
    }
  }
}
