import { errorMessage, type OutgoingMessage, type ReduceData } from '@queuekit/core';
import { FlowProducer, type Job, type JobsOptions } from 'bullmq';
import { deadLetterRecords } from '../admin.js';
import type { DriverHost } from '../admin.js';
import {
  bullJobId,
  INDEX_SLACK_MS,
  type JobPlacement,
  META_OPTION,
  placeMessages,
  readMeta,
  toBullJob,
} from '../wire.js';

/** Headers the core puts on every chunk of a fan-out. */
export const FANOUT_PARENT_HEADER = 'qk-fanout-parent';
export const FANOUT_INDEX_HEADER = 'qk-fanout-index';

/** A chunk that dead-lettered leaves its flow without failing or blocking the reduce job. */
const CHILD_OPTIONS = { ignoreDependencyOnFailure: true } as const satisfies JobsOptions;

const encoder = new TextEncoder();

/** Most chunks a fan-out record may declare: far above what a flow holds, low enough that a forged count cannot exhaust the heap. */
export const MAX_FAN_OUT_CHUNKS = 100_000;

/** A record key after its prefix: `<chunk queue>:qk:fan:<parentId>`, the queue name without `:`. */
const RECORD_KEY_TAIL = /^[^:]+:qk:fan:(.+)$/s;

/**
 * Fan-out on BullMQ flows. The reduce job is the flow's parent (on the reduce queue, in state
 * `waiting-children`), the chunk jobs its children; a chunk that dead-letters is moved to the
 * parent's ignored failures (`ignoreDependencyOnFailure`). When every child has finished BullMQ
 * moves the parent to `wait`, and its delivery's body is built from the children's return values
 * and failures.
 *
 * A small Redis hash per fan-out (the "record", under the chunk queue's prefix) holds the parent's
 * key, the chunk count, and for each chunk index the key of the latest BullMQ job of that chunk.
 * It is what keeps copies counted: when the core re-sends a chunk as a copy (RetryAfter, a delay
 * hop), the driver adds the copy as one more child of the same parent before the original is acked,
 * and points the chunk's index at the copy, whose outcome then wins over the original's.
 */
export class FanOutFlows {
  private producer: FlowProducer | undefined;

  constructor(private readonly host: DriverHost) {}

  recordKey(queue: string, parentId: string): string {
    return this.host.queue(queue).toKey(`qk:fan:${parentId}`);
  }

  private flowProducer(): FlowProducer {
    this.producer ??= new FlowProducer({ connection: this.host.connection, prefix: this.host.prefix });
    return this.producer;
  }

  async fanOut(
    queue: string,
    chunks: readonly OutgoingMessage[],
    reduce: { readonly queue: string; readonly message: OutgoingMessage },
  ): Promise<void> {
    const parentId = chunks[0]?.headers[FANOUT_PARENT_HEADER];
    if (parentId === undefined) throw new Error('fan-out chunks carry no qk-fanout-parent header');
    const record = this.recordKey(queue, parentId);
    const reduceQueue = this.host.queue(reduce.queue);
    const parentJob = toBullJob(reduce.message, this.host.jobSettings, {
      jobId: bullJobId(reduce.message.id),
    });
    const parentKey = reduceQueue.toKey(parentJob.opts.jobId as string);
    const ttlMs = this.host.jobSettings.keepCompletedMs + INDEX_SLACK_MS;
    // The parent's key first: a copy of a chunk may be sent as soon as the chunk is delivered.
    await this.host.connection
      .multi()
      .hset(record, 'parent', parentKey, 'n', String(chunks.length), 'id', parentId)
      .pexpire(record, ttlMs)
      .exec();
    const placements = placeMessages(chunks);
    const node = await this.flowProducer().add({
      ...parentJob,
      queueName: reduce.queue,
      opts: { ...parentJob.opts, [META_OPTION]: { ...readMeta(parentJob.opts), f: record } } as JobsOptions,
      children: chunks.map((chunk, index) => {
        const child = toBullJob(chunk, this.host.jobSettings, placements[index] as JobPlacement);
        return { ...child, queueName: queue, opts: { ...child.opts, ...CHILD_OPTIONS } };
      }),
    });
    const ids = chunks.map((_, index) => node.children?.[index]?.job.id);
    const target = this.host.queue(queue);
    const pipeline = this.host.connection.pipeline();
    for (const [index, id] of ids.entries()) {
      // HSETNX: a copy sent meanwhile has already pointed the index at itself.
      if (id !== undefined) pipeline.hsetnx(record, `i:${index}`, target.toKey(id));
    }
    await pipeline.exec();
    await this.host.indexNumbered(queue, chunks, placements, ids);
  }

  /**
   * Options that make copies of fan-out chunks children of their fan-out's reduce job. `undefined`
   * entries: not a chunk copy, or a fan-out this driver has no record of (not native, or expired). None
   * (and no promise per message) when the batch holds no chunk copy.
   */
  async copyParents(
    queue: string,
    messages: readonly OutgoingMessage[],
    placements: readonly JobPlacement[],
  ): Promise<(JobsOptions | undefined)[]> {
    if (!messages.some((m, i) => m.headers[FANOUT_PARENT_HEADER] !== undefined && placements[i]?.copy))
      return [];
    return Promise.all(
      messages.map(async (message, index) => {
        const parentId = message.headers[FANOUT_PARENT_HEADER];
        if (parentId === undefined || !placements[index]?.copy) return undefined;
        const parentKey = await this.host.connection.hget(this.recordKey(queue, parentId), 'parent');
        const parent = parentKey ? splitJobKey(parentKey) : undefined;
        return parent ? { parent, ...CHILD_OPTIONS } : undefined;
      }),
    );
  }

  /** Point each chunk index at its copy just added (so the copy's outcome is the chunk's). */
  async noteCopies(
    queue: string,
    messages: readonly OutgoingMessage[],
    parents: readonly (JobsOptions | undefined)[],
    ids: readonly (string | undefined)[],
  ): Promise<void> {
    const pipeline = this.host.connection.pipeline();
    for (const [i, message] of messages.entries()) {
      const id = ids[i];
      const parentId = message.headers[FANOUT_PARENT_HEADER];
      const index = message.headers[FANOUT_INDEX_HEADER];
      if (!parents[i] || id === undefined || parentId === undefined || index === undefined) continue;
      pipeline.hset(this.recordKey(queue, parentId), `i:${index}`, this.host.queue(queue).toKey(id));
    }
    if (pipeline.length > 0) await pipeline.exec();
  }

  /**
   * The body of a reduce job being delivered: the JSON of `{ parentId, results, failed }`;
   * `undefined` for any other job; `{ invalid }` when the job's fan-out meta cannot be trusted.
   *
   * The meta (`opts.queuekit.f`) comes from whoever added the job, so it is checked before use:
   * it must be the record key this driver would compute for a fan-out whose reduce job is this
   * one (`<parentId>-reduce`), the record must be a hash naming this job as its parent, and the
   * chunk count is bounded ({@link MAX_FAN_OUT_CHUNKS}).
   */
  async reduceBody(queue: string, job: Job): Promise<Uint8Array | { invalid: string } | undefined> {
    const meta = readMeta(job.opts);
    if (meta?.f === undefined) return undefined;
    const parentId = this.recordParentId(meta.f);
    if (parentId === undefined) return { invalid: 'fan-out meta: not a fan-out record key of this driver' };
    if ((meta.id ?? String(job.id)) !== `${parentId}-reduce`)
      return { invalid: 'fan-out meta: the record belongs to another reduce job' };
    const entries = await this.host.connection.hgetall(meta.f).catch((error: unknown) => {
      if (/WRONGTYPE/.test(errorMessage(error))) return undefined;
      throw error;
    });
    if (!entries) return { invalid: 'fan-out meta: the record is not a hash' };
    if (entries.parent !== this.host.queue(queue).toKey(String(job.id)) || entries.id !== parentId)
      return { invalid: 'fan-out record: it names another parent (or has expired)' };
    const total = Number(entries.n);
    if (!Number.isInteger(total) || total < 0 || total > MAX_FAN_OUT_CHUNKS)
      return { invalid: `fan-out record: chunk count outside 0..${MAX_FAN_OUT_CHUNKS}` };
    const [values, failures] = await Promise.all([job.getChildrenValues(), job.getIgnoredChildrenFailures()]);
    const results: unknown[] = [];
    const failed: ReduceData['failed'][number][] = [];
    const missing: { index: number; key: string | undefined }[] = [];
    for (let index = 0; index < total; index++) {
      const key = entries[`i:${index}`];
      const done = key !== undefined && Object.hasOwn(values, key);
      results.push(done ? (values[key] ?? null) : null);
      if (!done) missing.push({ index, key });
    }
    const stored = await deadLetterRecords(
      this.host.connection,
      missing.map((entry) => entry.key),
    );
    for (const [position, { index, key }] of missing.entries()) {
      const record = stored[position];
      const failedReason = key ? failures[key] : undefined;
      const error = record?.error ?? failedReason;
      const reason = record?.reason ?? (failedReason === undefined ? 'missing' : 'failed');
      failed.push({ index, reason, ...(error === undefined ? {} : { error }) });
    }
    return encoder.encode(JSON.stringify({ parentId, results, failed } satisfies ReduceData));
  }

  /** The fan-out id of a record key `<prefix>:<chunk queue>:qk:fan:<parentId>`, if `key` is one. */
  private recordParentId(key: string): string | undefined {
    if (!key.startsWith(`${this.host.prefix}:`)) return undefined;
    return RECORD_KEY_TAIL.exec(key.slice(this.host.prefix.length + 1))?.[1];
  }

  /** Once, as the driver closes (nothing makes a producer after that: every call checks the driver is open). */
  async close(): Promise<void> {
    await this.producer?.close();
  }
}

/** `{ id, queue }` of a BullMQ job key `<prefix>:<queue>:<id>` (ids never contain `:`). */
function splitJobKey(key: string): { id: string; queue: string } | undefined {
  const at = key.lastIndexOf(':');
  return at > 0 ? { id: key.slice(at + 1), queue: key.slice(0, at) } : undefined;
}
