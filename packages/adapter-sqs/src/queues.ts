import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { ConfigError } from '@queuekit/core';
import { isQueueMissing } from './errors.js';
import { checkQueueName, type ResolvedSqsOptions } from './options.js';

/** What the driver knows about one physical queue. */
export interface QueueInfo {
  readonly name: string;
  readonly url: string;
  readonly fifo: boolean;
  /** The queue's `MaximumMessageSize`, in bytes. */
  readonly maxMessageBytes: number;
  /** Name of the dead-letter queue (from the redrive policy, else the conventional name). */
  readonly deadLetterName: string;
}

/** Resolves queue names to URLs and attributes (creating queues when allowed), with a cache. */
export class QueueDirectory {
  private readonly cache = new Map<string, Promise<QueueInfo>>();
  private readonly urls = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly client: SQSClient,
    private readonly options: ResolvedSqsOptions,
  ) {}

  /** Physical name of a logical queue: `.fifo` appended in FIFO mode. */
  physicalName(queue: string): string {
    const name = this.options.fifo && !queue.endsWith('.fifo') ? `${queue}.fifo` : queue;
    checkQueueName(name);
    return name;
  }

  /** Conventional dead-letter queue name: `NAME-dlq` (or `NAME-dlq.fifo`). */
  deadLetterNameOf(name: string): string {
    return name.endsWith('.fifo')
      ? `${name.slice(0, -5)}${this.options.deadLetterSuffix}.fifo`
      : `${name}${this.options.deadLetterSuffix}`;
  }

  /** URL of a queue, or undefined when it does not exist. Only successful look-ups are cached. */
  async urlOf(name: string): Promise<string | undefined> {
    let pending = this.urls.get(name);
    if (!pending) {
      pending = this.client
        .send(new GetQueueUrlCommand({ QueueName: name }))
        .then((out) => out.QueueUrl)
        .catch((error: unknown) => {
          if (isQueueMissing(error)) return undefined;
          throw error;
        });
      this.urls.set(name, pending);
      pending.then(
        (url) => url === undefined && this.urls.delete(name),
        () => this.urls.delete(name),
      );
    }
    return pending;
  }

  /** Info of the physical queue `name`, created (with its dead-letter queue) when missing and allowed. */
  info(name: string): Promise<QueueInfo> {
    let pending = this.cache.get(name);
    if (!pending) {
      pending = this.load(name);
      this.cache.set(name, pending);
      pending.catch(() => this.cache.delete(name));
    }
    return pending;
  }

  /** URL of the dead-letter queue of `name`, created when missing and allowed; undefined if absent. */
  async deadLetterUrl(name: string, create: boolean): Promise<string | undefined> {
    const info = await this.info(name);
    const existing = await this.urlOf(info.deadLetterName);
    if (existing || !create || !this.options.createIfMissing) return existing;
    return this.create(info.deadLetterName, {});
  }

  /** Forget a queue (after deleting it). */
  forget(name: string): void {
    this.cache.delete(name);
    this.urls.delete(name);
  }

  private async load(name: string): Promise<QueueInfo> {
    let url = await this.urlOf(name);
    if (!url) {
      if (!this.options.createIfMissing)
        throw new ConfigError('queue', `SQS queue \`${name}\` does not exist and createIfMissing is false`);
      url = await this.createWithDeadLetter(name);
    }
    const out = await this.client.send(
      new GetQueueAttributesCommand({
        QueueUrl: url,
        AttributeNames: ['MaximumMessageSize', 'RedrivePolicy'],
      }),
    );
    const max = Number(out.Attributes?.MaximumMessageSize);
    let deadLetterName = this.deadLetterNameOf(name);
    const policy = out.Attributes?.RedrivePolicy;
    if (policy) {
      try {
        const arn = (JSON.parse(policy) as { deadLetterTargetArn?: string }).deadLetterTargetArn;
        const last = arn?.split(':').pop();
        if (last) deadLetterName = last;
      } catch {
        // keep the conventional name
      }
    }
    return {
      name,
      url,
      fifo: name.endsWith('.fifo'),
      maxMessageBytes: Number.isFinite(max) && max > 0 ? max : this.options.maxPayloadBytes,
      deadLetterName,
    };
  }

  private async createWithDeadLetter(name: string): Promise<string> {
    const deadLetterName = this.deadLetterNameOf(name);
    const deadLetterUrl = (await this.urlOf(deadLetterName)) ?? (await this.create(deadLetterName, {}));
    const arn = await this.client.send(
      new GetQueueAttributesCommand({ QueueUrl: deadLetterUrl, AttributeNames: ['QueueArn'] }),
    );
    const attributes: Record<string, string> = {};
    if (arn.Attributes?.QueueArn) {
      attributes.RedrivePolicy = JSON.stringify({
        deadLetterTargetArn: arn.Attributes.QueueArn,
        maxReceiveCount: this.options.maxReceiveCount,
      });
    }
    return this.create(name, attributes);
  }

  private async create(name: string, attributes: Record<string, string>): Promise<string> {
    const all = name.endsWith('.fifo') ? { ...attributes, FifoQueue: 'true' } : attributes;
    const out = await this.client.send(new CreateQueueCommand({ QueueName: name, Attributes: all }));
    if (!out.QueueUrl) throw new Error(`CreateQueue returned no URL for \`${name}\``);
    this.urls.set(name, Promise.resolve(out.QueueUrl));
    return out.QueueUrl;
  }
}
