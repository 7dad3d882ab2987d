/**
 * queuekit priorities are 0-9 with 9 served first; BullMQ's are 1..2^21 with 1 served first, and
 * a job without priority (0) is served before every prioritized one. queuekit therefore always
 * sets a BullMQ priority: 0 maps to 10 and 9 to 1.
 */

/** Lowest BullMQ priority queuekit uses (queuekit priority 0). */
export const BULL_PRIORITY_OF_ZERO = 10;

/** BullMQ priority for a queuekit priority (clamped to 0-9). */
export function toBullPriority(priority: number | undefined): number {
  const p = Math.min(9, Math.max(0, Math.trunc(priority ?? 0)));
  return BULL_PRIORITY_OF_ZERO - p;
}

/**
 * queuekit priority of a BullMQ job: `undefined` for an unprioritized job (added by plain BullMQ),
 * 0 for BullMQ priorities beyond queuekit's range.
 */
export function fromBullPriority(bullPriority: number | undefined): number | undefined {
  if (!bullPriority || bullPriority <= 0) return undefined;
  if (bullPriority > BULL_PRIORITY_OF_ZERO) return 0;
  return BULL_PRIORITY_OF_ZERO - bullPriority;
}
