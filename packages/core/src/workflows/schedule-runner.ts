import { report, type ReportSink } from '../observability/report.js';
import { abortableDelay } from '../timers.js';
import type { Scheduler } from './schedules.js';

/** How often a consumer looks for schedules added by other processes. */
const SCHEDULE_SCAN_MS = 5_000;

/** A consumer's loop over due schedule ticks; the store's leases make each tick run once across processes. */
export class ScheduleRunner<T> {
  private readonly stopper = new AbortController();
  private loop: Promise<void> | undefined;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly scheduler: Scheduler<T>,
    private readonly sink: ReportSink<T>,
  ) {}

  start(): void {
    this.loop = this.run();
  }

  /** Look again now (a schedule was added or changed). */
  wake(): void {
    this.wakeUp?.();
  }

  async stop(): Promise<void> {
    this.stopper.abort();
    this.wakeUp?.();
    await this.loop;
  }

  private async run(): Promise<void> {
    const stop = this.stopper.signal;
    while (!stop.aborted) {
      let wait = SCHEDULE_SCAN_MS;
      try {
        await this.scheduler.runDue();
        const next = await this.scheduler.nextDueAt();
        if (next !== undefined) wait = Math.max(10, Math.min(wait, next - Date.now() + 5));
      } catch (error) {
        report(this.sink, { type: 'error', error });
      }
      await Promise.race([
        abortableDelay(wait, stop),
        new Promise<void>((resolve) => {
          this.wakeUp = resolve;
        }),
      ]);
    }
  }
}
