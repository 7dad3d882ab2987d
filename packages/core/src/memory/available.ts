import type { StoredMessage } from './state.js';

/**
 * The messages of a queue that may be handed out now, best priority then oldest first, with what the
 * ordering rule needs: the ordering keys already locked, and the oldest message of each key (only it
 * may go out).
 */
export function available(
  messages: ReadonlyMap<string, StoredMessage>,
  now: number,
): {
  candidates: [string, StoredMessage][];
  busyKeys: Set<string>;
  earliestByKey: Map<string, number>;
} {
  const busyKeys = new Set<string>();
  const candidates: [string, StoredMessage][] = [];
  const earliestByKey = new Map<string, number>();
  for (const entry of messages) {
    const message = entry[1];
    const locked = message.lockToken !== undefined && message.lockedUntil > now;
    if (locked && message.orderingKey !== undefined) busyKeys.add(message.orderingKey);
    if (!locked && message.visibleAt <= now) candidates.push(entry);
    if (message.orderingKey !== undefined) {
      const seen = earliestByKey.get(message.orderingKey);
      if (seen === undefined || message.seq < seen) earliestByKey.set(message.orderingKey, message.seq);
    }
  }
  candidates.sort(([, a], [, b]) => b.priority - a.priority || a.seq - b.seq);
  return { candidates, busyKeys, earliestByKey };
}
