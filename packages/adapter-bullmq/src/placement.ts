import type { OutgoingMessage } from '@queuekit/core';
import { bullJobId, type JobPlacement } from './job-mapping.js';

/**
 * Which BullMQ id each sent job gets, so that `getJob(id)` finds the latest job of a queuekit id
 * without an index for the common case:
 *
 * - `dedup` sends: the queuekit id itself (BullMQ drops a second one), as before.
 * - first sends of a core-generated id (a UUID): the queuekit id itself, so `getJob` reads the
 *   job directly.
 * - copies (the core re-sends a job it holds: retry-after, delay hops; redrives) and any other id:
 *   BullMQ numbers the job and a short-lived index key points the queuekit id at it.
 *
 * A copy is one the core names (`OutgoingMessage.copyOf`, driver contract 2), or a second message of
 * an id in one batch; ids that are not UUIDs always take the numbered path, so a non-dedup send of an
 * id already in the broker is never dropped.
 */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Index entries outlive the job's delay and the completed-job retention by this much (waiting time). */
export const INDEX_SLACK_MS = 7 * 24 * 60 * 60 * 1000;

/** Redis key (under the queue's BullMQ prefix) of the index entry of a queuekit id. */
export function indexKey(queueKeyPrefix: string, id: string): string {
  return `${queueKeyPrefix}qk:id:${id}`;
}

/**
 * BullMQ ids for a batch (`jobId` undefined: numbered, and indexed); `copies` marks every one a copy
 * (redrive).
 */
export function placeMessages(messages: readonly OutgoingMessage[], copies = false): JobPlacement[] {
  const seen = new Set<string>();
  return messages.map((message) => {
    if (message.dedup) return { jobId: bullJobId(message.id) };
    const copy = copies || message.copyOf !== undefined || seen.has(message.id);
    seen.add(message.id);
    if (copy) return { jobId: undefined, copy: true };
    return UUID.test(message.id) ? { jobId: message.id } : { jobId: undefined };
  });
}
