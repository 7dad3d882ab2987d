import { capErrorText } from '../error-text.js';
import { ConfigError } from '../errors.js';
import type { BatchEntry, HandlerContext, Job, SendOptions } from '../types.js';
import type { HeldDelivery } from './heartbeat.js';
import { type ConsumerScope, recordJob, reportTo } from './scope.js';

/**
 * The `ctx` a handler gets. One per job run: a class, so `signal` is a prototype getter rather than a
 * literal's accessor, and the follow-up list is made only when the handler enqueues one. Its calls are
 * own arrows, so a handler may destructure them.
 */
export class JobContext<T> implements HandlerContext {
  /** Follow-ups `enqueue` collected (undefined while there are none). */
  followUps: BatchEntry<T>[] | undefined;
  readonly extendLock: () => Promise<void>;

  constructor(
    private readonly scope: ConsumerScope<T>,
    private readonly held: HeldDelivery,
    private readonly job: Job<T>,
  ) {
    this.extendLock = held.extend;
  }

  get signal(): AbortSignal {
    return this.held.signal;
  }

  readonly progress = async (value: number | Record<string, unknown>): Promise<void> => {
    const { scope, job } = this;
    reportTo(scope, { type: 'progress', job, value });
    if (scope.nativeJobs) await this.held.delivery.progress?.(value);
    else await recordJob(scope, job.id, { progress: value });
  };

  readonly enqueue = (name: string, data: unknown, options?: SendOptions): void => {
    const entry: BatchEntry<T> = { name, data: data as T, ...(options ? { options } : {}) };
    if (this.followUps) this.followUps.push(entry);
    else this.followUps = [entry];
  };

  readonly log = async (message: string): Promise<void> => {
    if (typeof message !== 'string') throw new ConfigError('message', 'expected a string');
    await this.held.delivery.log?.(capErrorText(message));
  };
}
