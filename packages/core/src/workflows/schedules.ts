import { Cron } from 'croner';
import type { QueueContext } from '../context.js';
import { maxDuration } from '../config.js';
import { ConfigError } from '../errors.js';
import type { NativeScheduleInfo } from '../driver.js';
import { decodeOrUndefined } from '../codec.js';
import { prepareMessage } from '../producer/prepare.js';
import { sendEntries } from '../producer/send.js';
import type { Store } from '../store/types.js';
import type { SendOptions } from '../types.js';

/** A recurring job: a cron pattern (with optional time zone) or a fixed interval. */
export interface ScheduleSpec<T> {
  /** Cron pattern (5 or 6 fields, seconds first when 6), parsed by croner. Exclusive with `every`. */
  readonly cron?: string;
  /** Interval in ms. Exclusive with `cron`. */
  readonly every?: number;
  /** IANA time zone of `cron` (e.g. `Europe/Paris`). Default UTC. */
  readonly tz?: string;
  /** Payload of every run. */
  readonly data: T;
  /** Job name of every run. Default: the schedule's name. */
  readonly jobName?: string;
  /** Send options of every run (priority, maxAttempts, backoff, headers). */
  readonly options?: Pick<SendOptions, 'priority' | 'maxAttempts' | 'backoff' | 'headers'>;
}

/** A stored schedule, as listed. */
export interface ScheduleInfo<T> extends ScheduleSpec<T> {
  readonly name: string;
  /** Time of the last tick that was run. */
  readonly lastRunAt?: Date;
  /** Time of the next tick. */
  readonly nextRunAt?: Date;
}

interface StoredSchedule<T> extends ScheduleSpec<T> {
  name: string;
  createdAt: number;
  lastTick?: number;
}

const defKey = (queue: string, name: string) => `qk:sched:${queue}:def:${name}`;
/** The last tick run, apart from the definition: a tick never writes the definition back (a removed schedule stays removed). */
const lastKey = (queue: string, name: string) => `qk:sched:${queue}:last:${name}`;
const LEASE_MS = 30_000;

function validateSpec<T>(name: string, spec: ScheduleSpec<T>): void {
  if (typeof name !== 'string' || !/^[\w.:-]{1,100}$/.test(name))
    throw new ConfigError('schedule', 'name: 1-100 letters, digits, `_.:-`');
  if ((spec.cron === undefined) === (spec.every === undefined))
    throw new ConfigError('schedule', 'give exactly one of `cron` and `every`');
  if (spec.every !== undefined && (!Number.isInteger(spec.every) || spec.every < 1000)) {
    throw new ConfigError('schedule.every', 'expected an integer number of ms ≥ 1000');
  }
  maxDuration('schedule.every', spec.every);
  if (spec.cron !== undefined) {
    try {
      new Cron(spec.cron, { timezone: spec.tz ?? 'UTC', paused: true }).nextRun();
    } catch (error) {
      throw new ConfigError(
        spec.tz && /time ?zone/i.test(String(error)) ? 'schedule.tz' : 'schedule.cron',
        String((error as Error).message ?? error),
      );
    }
  }
}

/** The first tick strictly after `after`, or undefined when the pattern has no more. */
function nextTick<T>(schedule: StoredSchedule<T>, after: number): number | undefined {
  if (schedule.every !== undefined) {
    const anchor = schedule.createdAt;
    const periods = Math.floor((after - anchor) / schedule.every) + 1;
    return anchor + Math.max(1, periods) * schedule.every;
  }
  const next = new Cron(schedule.cron ?? '', { timezone: schedule.tz ?? 'UTC', paused: true }).nextRun(
    new Date(after),
  );
  return next?.getTime();
}

/** The latest tick ≤ now that has not run yet (missed ticks coalesce into one), or undefined. */
function dueTick<T>(schedule: StoredSchedule<T>, now: number): number | undefined {
  const first = nextTick(schedule, schedule.lastTick ?? schedule.createdAt);
  if (first === undefined || first > now) return undefined;
  let tick: number = first;
  for (;;) {
    const following: number | undefined = nextTick(schedule, tick);
    if (following === undefined || following > now) return tick;
    tick = following;
  }
}

/** Recurring jobs of one queue, kept in the store and run by whichever consumer claims each tick. */
export class Scheduler<T> {
  constructor(
    private readonly ctx: QueueContext<T>,
    private readonly store: Store,
  ) {}

  async upsert(name: string, spec: ScheduleSpec<T>): Promise<void> {
    validateSpec(name, spec);
    const driver = await this.ctx.driver();
    const native = driver.workflows?.schedules;
    if (native) {
      const { message } = await prepareMessage(this.ctx, driver, spec.jobName ?? name, spec.data, {
        ...spec.options,
        headers: { ...spec.options?.headers, 'queuekit-schedule': name },
      });
      const timing =
        spec.cron !== undefined
          ? { cron: spec.cron, ...(spec.tz ? { tz: spec.tz } : {}) }
          : { every: spec.every as number };
      await native.upsert(this.ctx.name, name, timing, message);
      return;
    }
    const existing = await this.store.get<StoredSchedule<T>>(defKey(this.ctx.name, name));
    // A new schedule starts afresh, whatever ticks a removed one of that name ran.
    if (!existing) await this.store.delete(lastKey(this.ctx.name, name));
    const stored: StoredSchedule<T> = {
      ...spec,
      name,
      createdAt: existing?.createdAt ?? Date.now(),
      ...(existing?.lastTick === undefined ? {} : { lastTick: existing.lastTick }),
    };
    await this.store.set(defKey(this.ctx.name, name), stored);
  }

  async remove(name: string): Promise<boolean> {
    const native = (await this.ctx.driver()).workflows?.schedules;
    if (native) return native.remove(this.ctx.name, name);
    const existed = (await this.store.get(defKey(this.ctx.name, name))) !== undefined;
    await this.store.delete(defKey(this.ctx.name, name));
    await this.store.delete(lastKey(this.ctx.name, name));
    return existed;
  }

  async list(): Promise<ScheduleInfo<T>[]> {
    const native = (await this.ctx.driver()).workflows?.schedules;
    if (native)
      return (await native.list(this.ctx.name))
        .map((info) => this.fromNative(info))
        .sort((a, b) => a.name.localeCompare(b.name));
    const out: ScheduleInfo<T>[] = [];
    for (const key of (await this.store.keys(defKey(this.ctx.name, ''))).sort()) {
      const stored = await this.load(key);
      if (!stored) continue;
      const next = nextTick(stored, Math.max(stored.lastTick ?? stored.createdAt, Date.now() - 1));
      const { createdAt: _created, lastTick, ...spec } = stored;
      out.push({
        ...spec,
        ...(lastTick === undefined ? {} : { lastRunAt: new Date(lastTick) }),
        ...(next === undefined ? {} : { nextRunAt: new Date(next) }),
      });
    }
    return out;
  }

  /** The definition at `key` with its last tick (kept apart), or undefined when removed. */
  private async load(key: string): Promise<StoredSchedule<T> | undefined> {
    const stored = await this.store.get<StoredSchedule<T>>(key);
    if (!stored) return undefined;
    const last = await this.store.get<number>(lastKey(this.ctx.name, stored.name));
    const lastTick = Math.max(stored.lastTick ?? Number.NEGATIVE_INFINITY, last ?? Number.NEGATIVE_INFINITY);
    return Number.isFinite(lastTick) ? { ...stored, lastTick } : stored;
  }

  private fromNative(info: NativeScheduleInfo): ScheduleInfo<T> {
    const data = info.template ? decodeOrUndefined(this.ctx.codec, info.template.body) : undefined;
    const jobName = info.template?.name ?? info.template?.headers['qk-name'];
    return {
      name: info.name,
      data: data as T,
      ...(info.cron === undefined ? {} : { cron: info.cron }),
      ...(info.every === undefined ? {} : { every: info.every }),
      ...(info.tz === undefined ? {} : { tz: info.tz }),
      ...(jobName && jobName !== info.name ? { jobName } : {}),
      ...(info.lastRunAt ? { lastRunAt: info.lastRunAt } : {}),
      ...(info.nextRunAt ? { nextRunAt: info.nextRunAt } : {}),
    };
  }

  /** Run every due tick that this process wins; returns how many jobs it sent. Brokers with native schedules run their own. */
  async runDue(now = Date.now()): Promise<number> {
    if ((await this.ctx.driver()).workflows?.schedules) return 0;
    let sent = 0;
    for (const key of await this.store.keys(defKey(this.ctx.name, ''))) {
      const schedule = await this.load(key);
      if (!schedule) continue;
      const tick = dueTick(schedule, now);
      if (tick === undefined) continue;
      const leaseKey = `qk:sched:${this.ctx.name}:tick:${schedule.name}:${tick}`;
      if (!(await this.store.set(leaseKey, 'running', { ifAbsent: true, ttlMs: LEASE_MS }))) continue;
      const done = `${leaseKey}:done`;
      if (await this.store.get(done)) continue;
      const driver = await this.ctx.driver();
      await sendEntries(this.ctx, [
        {
          name: schedule.jobName ?? schedule.name,
          data: schedule.data,
          options: {
            ...schedule.options,
            headers: {
              ...schedule.options?.headers,
              'queuekit-schedule': schedule.name,
              'queuekit-tick': new Date(tick).toISOString(),
            },
            ...(driver.capabilities.dedup ? { jobId: `${schedule.name}-${tick}` } : {}),
          },
        },
      ]);
      await this.store.set(done, true, { ttlMs: 24 * 3_600_000 });
      // Only the run field, and only while the schedule exists: never the (possibly stale) definition.
      if (await this.store.get(key)) await this.store.set(lastKey(this.ctx.name, schedule.name), tick);
      sent++;
    }
    return sent;
  }

  /** When the next tick of any schedule is due (ms epoch), for the runner's timer. */
  async nextDueAt(now = Date.now()): Promise<number | undefined> {
    if ((await this.ctx.driver()).workflows?.schedules) return undefined;
    let earliest: number | undefined;
    for (const key of await this.store.keys(defKey(this.ctx.name, ''))) {
      const schedule = await this.load(key);
      if (!schedule) continue;
      const next = nextTick(schedule, Math.max(schedule.lastTick ?? schedule.createdAt, now - 1));
      if (next !== undefined && (earliest === undefined || next < earliest)) earliest = next;
    }
    return earliest;
  }
}
