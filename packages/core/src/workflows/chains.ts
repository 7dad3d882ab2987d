import type { QueueContext } from '../context.js';
import type { Delivery, Driver, OutgoingMessage } from '../driver.js';
import { report } from '../observability/report.js';
import { prepareEntries } from '../producer/prepare.js';
import { sendEntries } from '../producer/send.js';
import type { BatchEntry, Job } from '../types.js';

/** Header carrying a follow-up's deterministic key (`<parent id>-next-<n>`) where the driver cannot deduplicate. */
export const CHAIN_KEY_HEADER = 'queuekit-chain-key';

/**
 * Complete `job` and send the follow-ups its handler queued with `ctx.enqueue`: atomically where the
 * driver can (`ackWith`), else send first, then ack (at-least-once, deduplicated by id where the driver can).
 */
export async function completeWithFollowUps<T>(
  ctx: QueueContext<T>,
  driver: Driver,
  delivery: Delivery,
  job: Job<T>,
  entries: readonly BatchEntry<T>[],
  result: unknown,
): Promise<void> {
  const dedup = driver.capabilities.dedup;
  const keyed = entries.map((entry, index) => {
    const key = `${job.id}-next-${index}`;
    const options = entry.options ?? {};
    return {
      ...entry,
      options: {
        ...options,
        headers: { ...options.headers, [CHAIN_KEY_HEADER]: key },
        ...(dedup && options.jobId === undefined ? { jobId: key } : {}),
      },
    };
  });
  if (!delivery.ackWith) {
    await sendEntries(ctx, keyed);
    await delivery.ack(result);
    return;
  }
  const prepared = await prepareEntries(ctx, driver, keyed);
  const byQueue = new Map<string, OutgoingMessage[]>();
  for (const { queue, message } of prepared) byQueue.set(queue, [...(byQueue.get(queue) ?? []), message]);
  await delivery.ackWith(
    [...byQueue].map(([queue, messages]) => ({ queue, messages })),
    result,
  );
  for (const { span } of prepared) span?.end();
  report(ctx, { type: 'sent', count: prepared.length });
}
