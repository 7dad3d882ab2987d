import { DeleteMessageBatchCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { isLockGone, mapError } from './errors.js';

interface Pending {
  readonly receiptHandle: string;
  resolve(): void;
  reject(error: Error): void;
}

/**
 * Coalesces deletes issued in the same turn of the event loop into `DeleteMessageBatch` calls of
 * up to 10 per queue, resolving or rejecting each caller with its own entry's result.
 */
export class DeleteBatcher {
  private readonly pending = new Map<string, Pending[]>();
  private readonly inflight = new Set<Promise<void>>();
  private scheduled = false;

  constructor(private readonly client: SQSClient) {}

  /** Delete one message; resolves when SQS confirmed its entry. */
  delete(queueUrl: string, receiptHandle: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const list = this.pending.get(queueUrl) ?? [];
      list.push({ receiptHandle, resolve, reject });
      this.pending.set(queueUrl, list);
      if (list.length >= 10) {
        this.pending.delete(queueUrl);
        this.track(this.flush(queueUrl, list));
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flushAll());
      }
    });
  }

  private flushAll(): void {
    this.scheduled = false;
    const all = [...this.pending];
    this.pending.clear();
    for (const [url, list] of all) this.track(this.flush(url, list));
  }

  private track(work: Promise<void>): void {
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
  }

  /** Send what is pending now and wait for every delete in flight (before the client is destroyed). */
  async drain(): Promise<void> {
    if (this.scheduled) this.flushAll();
    while (this.inflight.size > 0) await Promise.allSettled([...this.inflight]);
  }

  private async flush(queueUrl: string, list: Pending[]): Promise<void> {
    try {
      const out = await this.client.send(
        new DeleteMessageBatchCommand({
          QueueUrl: queueUrl,
          Entries: list.map((p, i) => ({ Id: String(i), ReceiptHandle: p.receiptHandle })),
        }),
      );
      const failed = new Map((out.Failed ?? []).map((f) => [f.Id, f]));
      for (const [i, p] of list.entries()) {
        const failure = failed.get(String(i));
        if (!failure) p.resolve();
        else {
          const error = { name: failure.Code ?? 'DeleteFailed', message: failure.Message ?? '' };
          p.reject(
            isLockGone(error)
              ? mapError(error, 'ack')
              : new Error(`ack: SQS refused the delete (${failure.Code})`),
          );
        }
      }
    } catch (error) {
      const mapped = mapError(error, 'ack');
      for (const p of list) p.reject(mapped);
    }
  }
}
