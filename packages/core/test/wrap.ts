import type { Driver } from '../src/index.js';
import type { Store } from '../src/store/types.js';

/** `driver` with some members replaced (a Proxy: the rest, state included, is the real driver's). */
export function wrapDriver(driver: Driver, overrides: Partial<Record<keyof Driver, unknown>>): Driver {
  return new Proxy(driver, {
    get(target, property, receiver) {
      if (Object.hasOwn(overrides, property)) return overrides[property as keyof Driver];
      const value = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

/** `store` whose `method` throws once, on the `nth` call (1-based) whose key matches `match`. */
export function failingOnce(
  store: Store,
  method: 'set' | 'increment' | 'merge',
  match: RegExp,
  nth = 1,
): Store {
  let calls = 0;
  return new Proxy(store, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      if (property !== method) return value.bind(target);
      return (key: string, ...rest: unknown[]) => {
        if (match.test(key) && ++calls === nth)
          return Promise.reject(new Error(`injected ${method} failure on ${key}`));
        return value.call(target, key, ...rest);
      };
    },
  });
}
