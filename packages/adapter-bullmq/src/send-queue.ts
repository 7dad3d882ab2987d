import { Job, type JobJson, Queue } from 'bullmq';
import { META_OPTION } from './payload.js';

/**
 * A job as this driver stores it: its options without `jobId`, and the queuekit meta stamped with the
 * job's creation time (`t`, BullMQ's `timestamp`).
 *
 * BullMQ keeps the `jobId` option in the stored options, so a tool that re-adds a job with its
 * options (Bull Board's "Duplicate") would be dropped as a duplicate of the original. Without it, the
 * re-added job gets a new BullMQ id; its copied `t` then differs from its own `timestamp`, which
 * tells the driver it is a new job and not the original (see `fromBullJob`). The BullMQ id is still
 * the `jobId` given: BullMQ takes it from the options before they are stored.
 */
export class StoredJob extends Job {
  override asJSON(): JobJson {
    const json = super.asJSON();
    const { jobId: _jobId, ...opts } = this.opts;
    const meta = (opts as Record<string, unknown>)[META_OPTION];
    if (typeof meta === 'object' && meta !== null)
      (opts as Record<string, unknown>)[META_OPTION] = { ...meta, t: this.timestamp };
    return { ...json, opts };
  }
}

/** The BullMQ `Queue` the driver sends with: its `add` and `addBulk` store {@link StoredJob}s. */
export class SendQueue extends Queue {
  protected override get Job(): typeof Job {
    // The same class with one method overridden; TypeScript cannot relate its generic statics.
    return StoredJob as unknown as typeof Job;
  }
}
