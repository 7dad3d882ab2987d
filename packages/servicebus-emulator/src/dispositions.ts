/**
 * Settles deliveries so that each one goes out with its own outcome.
 *
 * Service Bus settles every message on its own: a complete of one message and a lost lock of the next one
 * are two answers (https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement,
 * "Settling receive operations"; transfers and settlements are pipelined over AMQP). A disposition frame
 * applies its one `state` to every delivery from `first` to `last` (AMQP 1.0 §2.7.6), and rhea 3.0.5 writes
 * the pending dispositions of a session in such ranges, but puts the second delivery of a range into the range
 * without comparing its outcome (`write_dispositions` in rhea/lib/session.js). Settled in the same pass, a
 * complete next to a lost lock went out as two completes: the client was told a complete succeeded that the
 * server had refused.
 *
 * So per session, only deliveries with the same outcome (all outcomes of one kind are identical here) are
 * settled within one processing pass; the others wait for the next pass (the next `setImmediate`, after rhea
 * wrote the previous ones on `process.nextTick`).
 */
import type rhea from 'rhea';

interface Pending {
  readonly kind: string;
  readonly apply: () => void;
}

interface Lane {
  /** Outcome kind settled in the current pass, if any. */
  kind: string | undefined;
  readonly waiting: Pending[];
  scheduled: boolean;
}

const lanes = new WeakMap<object, Lane>();

/** Settle locally and forget: in rcv-settle-mode `second` the client sends nothing after our settle. */
function forget(delivery: rhea.Delivery, state: unknown): void {
  delivery.update(true, state);
  (delivery as unknown as { remote_settled: boolean }).remote_settled = true;
}

function laneOf(delivery: rhea.Delivery): Lane {
  const session = (delivery as unknown as { link: { session: object } }).link.session;
  let lane = lanes.get(session);
  if (!lane) {
    lane = { kind: undefined, waiting: [], scheduled: false };
    lanes.set(session, lane);
  }
  return lane;
}

function schedule(lane: Lane): void {
  if (lane.scheduled) return;
  lane.scheduled = true;
  setImmediate(() => {
    lane.scheduled = false;
    lane.kind = undefined;
    const first = lane.waiting[0];
    if (!first) return;
    lane.kind = first.kind;
    while (lane.waiting[0]?.kind === lane.kind) (lane.waiting.shift() as Pending).apply();
    // Reset `kind` (and settle the rest) once rhea has written this pass.
    schedule(lane);
  });
}

/** Apply a settlement of `delivery` in a pass where only settlements of the same `kind` are written. */
function inLane(delivery: rhea.Delivery, kind: string, apply: () => void): void {
  const lane = laneOf(delivery);
  if (lane.waiting.length === 0 && (lane.kind === undefined || lane.kind === kind)) {
    lane.kind = kind;
    apply();
  } else lane.waiting.push({ kind, apply });
  schedule(lane);
}

/**
 * Settle a delivery we sent with `state`; `kind` names the outcome (`accepted`, `lock-lost`, ...):
 * deliveries of one kind carry equal states and may share a disposition range.
 */
export function settle(delivery: rhea.Delivery, kind: string, state: unknown): void {
  inLane(delivery, kind, () => forget(delivery, state));
}

/** Accept a delivery we received (a sent message), each in its own outcome's pass. */
export function acceptIncoming(delivery: rhea.Delivery): void {
  inLane(delivery, 'accepted', () => delivery.accept());
}

/** Reject a delivery we received with `error` (its condition is the kind: equal errors may share a range). */
export function rejectIncoming(
  delivery: rhea.Delivery,
  error: { condition: string; description: string },
): void {
  inLane(delivery, `rejected:${error.condition}:${error.description}`, () => delivery.reject(error));
}
