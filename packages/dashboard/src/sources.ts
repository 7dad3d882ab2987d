import { ConfigError, createQueue } from '@queuekit/core';
import { DashboardHttpError } from './http.js';
import type { AnyQueue, DashboardOptions, QueueUrlSource } from './options.js';

function isQueue(source: AnyQueue | QueueUrlSource): source is AnyQueue {
  return (
    typeof (source as AnyQueue).stats === 'function' && typeof (source as AnyQueue).metrics === 'function'
  );
}

/** The queues to show: given ones as they are, `{ url, names }` opened here (and owned: closed with the dashboard). */
export function openQueues(sources: DashboardOptions['queues']): {
  queues: AnyQueue[];
  owned: AnyQueue[];
  urls: string[];
} {
  if (!Array.isArray(sources) || sources.length === 0)
    throw new ConfigError('queues', 'expected at least one Queue or { url, name }');
  const queues: AnyQueue[] = [];
  const owned: AnyQueue[] = [];
  const urls: string[] = [];
  sources.forEach((source, index) => {
    if (isQueue(source)) {
      queues.push(source);
      return;
    }
    if (typeof source !== 'object' || source === null || typeof source.url !== 'string')
      throw new ConfigError(`queues[${index}]`, 'expected a Queue or { url, name | names }');
    const names = [...(source.name === undefined ? [] : [source.name]), ...(source.names ?? [])];
    if (names.length === 0) throw new ConfigError(`queues[${index}].name`, 'give `name` or `names`');
    urls.push(source.url);
    for (const name of names) {
      const queue = createQueue({ name, url: source.url, ...(source.store ? { store: source.store } : {}) });
      queues.push(queue);
      owned.push(queue);
    }
  });
  const seen = new Set<string>();
  for (const queue of queues) {
    if (seen.has(queue.name)) throw new ConfigError('queues', `queue \`${queue.name}\` is listed twice`);
    seen.add(queue.name);
  }
  return { queues, owned, urls };
}

/** `work`, or a 504 when the broker has not answered within `ms` (the call itself goes on). */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () =>
        reject(
          new DashboardHttpError(504, 'ERR_BROKER', `no answer from the broker ${what} within ${ms} ms`),
        ),
      ms,
    );
    work.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
