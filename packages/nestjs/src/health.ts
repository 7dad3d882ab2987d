import { Inject, Injectable } from '@nestjs/common';
import { type QueueStats, settlesWithin } from '@queuekit/core';
import { QueueRegistry } from './queue-registry.js';

/** One queue's line in a health result. */
export type QueueHealth = ({ status: 'up' } & QueueStats) | { status: 'down'; error: string };

/** The shape `@nestjs/terminus` reads: `{ [key]: { status, ...details } }`. */
export type QueuekitHealthResult<Key extends string = string> = Record<
  Key,
  { status: 'up' | 'down'; queues: Record<string, QueueHealth> }
>;

export interface QueuekitHealthOptions {
  /** The queues to check. Default: every registered queue. */
  readonly queues?: readonly string[];
  /** Most ms to wait for one queue's stats before calling it down. Default 3,000. */
  readonly timeout?: number;
}

const DEFAULT_TIMEOUT_MS = 3_000;

/**
 * A health indicator for `@nestjs/terminus` (no import of it needed): a queue is up when its broker
 * answers `stats()` in time. Use it in a `HealthCheckService.check([() => queues.isHealthy('queues')])`.
 */
@Injectable()
export class QueuekitHealthIndicator {
  constructor(@Inject(QueueRegistry) private readonly registry: QueueRegistry) {}

  async isHealthy<Key extends string>(
    key: Key,
    options: QueuekitHealthOptions = {},
  ): Promise<QueuekitHealthResult<Key>> {
    const timeout = options.timeout ?? DEFAULT_TIMEOUT_MS;
    const names = options.queues ?? [...this.registry.all().keys()];
    const entries = await Promise.all(
      names.map(async (name): Promise<[string, QueueHealth]> => [name, await this.check(name, timeout)]),
    );
    const queues = Object.fromEntries(entries);
    const status = entries.every(([, health]) => health.status === 'up') ? 'up' : 'down';
    return { [key]: { status, queues } } as QueuekitHealthResult<Key>;
  }

  private async check(name: string, timeout: number): Promise<QueueHealth> {
    const queue = this.registry.get(name);
    if (!queue) return { status: 'down', error: `no queue "${name}" is registered` };
    try {
      const stats = queue.stats();
      if (!(await settlesWithin(stats, timeout))) {
        stats.catch(() => undefined);
        return { status: 'down', error: `stats() did not answer within ${timeout} ms` };
      }
      return { status: 'up', ...(await stats) };
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      return { status: 'down', error: typeof code === 'string' ? code : 'ERR_UNKNOWN' };
    }
  }
}
