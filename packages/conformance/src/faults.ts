import type { Delivery, Driver, NativeWorkflows, Store } from '@queuekit/core';

/** Faults to inject into a driver's calls. */
export interface DriverFaults {
  /** Runs before every call (`send`, `receive`, `stats`, `workflows.setRateLimit`...): throw to fail it. */
  readonly beforeCall?: (method: string) => void | Promise<void>;
  /** Replace each received delivery (see {@link overrideDelivery}). */
  readonly mapDelivery?: (delivery: Delivery, queue: string) => Delivery;
}

type AnyFunction = (...args: never[]) => unknown;

function guarded<F extends AnyFunction>(name: string, fn: F, faults: DriverFaults): F {
  return (async (...args: Parameters<F>) => {
    await faults.beforeCall?.(name);
    return fn(...args);
  }) as unknown as F;
}

/** Own and inherited members (class instances keep their methods on the prototype), Object's excluded. */
function membersOf(target: object): string[] {
  const keys = new Set<string>();
  for (let o: object | null = target; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
    for (const key of Object.getOwnPropertyNames(o)) if (key !== 'constructor') keys.add(key);
  }
  return [...keys];
}

function wrapMethods<O extends object>(prefix: string, target: O, faults: DriverFaults): O {
  const out: Record<string, unknown> = {};
  for (const key of membersOf(target)) {
    const value = (target as Record<string, unknown>)[key];
    out[key] =
      typeof value === 'function'
        ? guarded(`${prefix}${key}`, (value as AnyFunction).bind(target), faults)
        : value !== null && typeof value === 'object'
          ? wrapMethods(`${prefix}${key}.`, value, faults)
          : value;
  }
  return out as O;
}

/**
 * `driver` with `faults` injected: a network that fails calls, a lock that cannot be renewed. Methods the
 * driver lacks stay absent, so the core sees the same capabilities and options.
 */
export function faultyDriver(driver: Driver, faults: DriverFaults): Driver {
  const call = <F extends AnyFunction>(name: string, fn: F | undefined): F | undefined =>
    fn ? guarded(name, fn.bind(driver) as F, faults) : undefined;
  const receive: Driver['receive'] = async (queue, options) => {
    await faults.beforeCall?.('receive');
    const got = await driver.receive(queue, options);
    return faults.mapDelivery
      ? got.map((delivery) => faults.mapDelivery?.(delivery, queue) ?? delivery)
      : got;
  };
  const optional = {
    priorityQueueName: driver.priorityQueueName?.bind(driver),
    peek: call('peek', driver.peek),
    deleteQueue: driver.deleteQueue?.bind(driver),
    reservedHeaders: driver.reservedHeaders,
    workflows: driver.workflows
      ? wrapMethods<NativeWorkflows>('workflows.', driver.workflows, faults)
      : undefined,
  };
  return {
    apiVersion: driver.apiVersion,
    provider: driver.provider,
    capabilities: driver.capabilities,
    send: guarded('send', driver.send.bind(driver), faults),
    receive,
    stats: guarded('stats', driver.stats.bind(driver), faults),
    listDeadLetters: guarded('listDeadLetters', driver.listDeadLetters.bind(driver), faults),
    redriveDeadLetters: guarded('redriveDeadLetters', driver.redriveDeadLetters.bind(driver), faults),
    purgeDeadLetters: guarded('purgeDeadLetters', driver.purgeDeadLetters.bind(driver), faults),
    close: () => driver.close(),
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
  };
}

/** `delivery` with some of its members replaced; everything else (getters included) read from it live. */
export function overrideDelivery(delivery: Delivery, overrides: Partial<Delivery>): Delivery {
  return new Proxy(delivery, {
    get(target, key) {
      if (Object.hasOwn(overrides, key)) return (overrides as Record<PropertyKey, unknown>)[key];
      const value = Reflect.get(target, key, target);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** `store` whose first call of `method` (optionally only for keys `match` accepts) throws: a crash between store calls. */
export function storeFailingOnce(
  store: Store,
  method: 'get' | 'set' | 'merge' | 'increment' | 'delete' | 'keys',
  match: (key: string) => boolean = () => true,
): Store & { readonly failed: boolean } {
  let failed = false;
  return new Proxy(store, {
    get(target, key) {
      if (key === 'failed') return failed;
      const value = Reflect.get(target, key, target);
      if (typeof value !== 'function') return value;
      if (key !== method) return value.bind(target);
      return (first: string, ...rest: unknown[]) => {
        if (!failed && match(first)) {
          failed = true;
          return Promise.reject(new Error(`injected store failure on ${method}(${first})`));
        }
        return value.call(target, first, ...rest);
      };
    },
  }) as Store & { readonly failed: boolean };
}
