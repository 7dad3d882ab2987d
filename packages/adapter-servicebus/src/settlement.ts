/**
 * Orders the settlements of one receiver so that each message is settled with its own outcome.
 *
 * `@azure/service-bus` 7.9.5 settles through rhea 3.0.5, which writes the dispositions pending on a session
 * in ranges (one frame, one state for `first..last`, AMQP 1.0 §2.7.6) and puts the second delivery of a
 * range into it without comparing outcomes (`write_dispositions` in rhea/lib/session.js). A complete and a
 * dead-letter of two consecutive deliveries issued in the same tick therefore went out as two dead-letters
 * (a job that had succeeded landed in the dead letters with the other job's reason and attempts) or as two
 * completes (the failed job vanished). Issue 12, "DLQ under load".
 *
 * Completes all carry the same state (`accepted`, no fields), so they may share a frame. Every other
 * settlement (dead-letter with its reason, abandon with properties) runs alone: it waits until the
 * settlements in flight on the receiver are answered (so written), and holds later ones until it is answered.
 */

/** `shared`: completes, equal on the wire. `exclusive`: anything whose state carries its own fields. */
export type SettlementKind = 'shared' | 'exclusive';

interface Waiting {
  readonly kind: SettlementKind;
  readonly start: () => void;
}

export class SettlementLane {
  private running = 0;
  private exclusiveRunning = false;
  private readonly waiting: Waiting[] = [];

  /** Run `operation` (one SDK settle call) when its kind allows; resolves or rejects as it does. */
  run<T>(kind: SettlementKind, operation: () => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const start = () => {
        this.running++;
        if (kind === 'exclusive') this.exclusiveRunning = true;
        Promise.resolve()
          .then(operation)
          .then(resolve, reject)
          .finally(() => {
            this.running--;
            if (kind === 'exclusive') this.exclusiveRunning = false;
            this.pump();
          });
      };
      this.waiting.push({ kind, start });
      this.pump();
    });
  }

  /** Start waiting settlements in order: shared ones together, an exclusive one alone. */
  private pump(): void {
    for (;;) {
      const next = this.waiting[0];
      if (!next || this.exclusiveRunning) return;
      if (next.kind === 'exclusive' && this.running > 0) return;
      this.waiting.shift();
      next.start();
      if (next.kind === 'exclusive') return;
    }
  }
}

const lanes = new WeakMap<object, SettlementLane>();

/** The lane of `receiver` (one SDK receiver: one AMQP link on its own session). */
export function laneOf(receiver: object): SettlementLane {
  let lane = lanes.get(receiver);
  if (!lane) {
    lane = new SettlementLane();
    lanes.set(receiver, lane);
  }
  return lane;
}
