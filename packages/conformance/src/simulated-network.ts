import { BrokerUnavailableError, type Delivery, type Driver, TimeoutError } from '@queuekit/core';
import { overrideDelivery } from './faults.js';
import type { NetworkFaults } from './proxy.js';

/**
 * How long a simulated call waits in a black hole before it fails with TimeoutError, as a driver's
 * own request timeout would.
 */
export const SIMULATED_CALL_TIMEOUT_MS = 5000;

/** A network between in-process drivers and their broker (memory), with the faults of the TCP proxy. */
export interface SimulatedNetwork extends NetworkFaults {
  /** `driver` whose calls (and its deliveries' settlements) cross this network. */
  wrap(driver: Driver): Driver;
}

type Mode = 'up' | 'refused' | 'blackholed';

/**
 * Faults as a client sees them: a reset or refusal fails the calls in flight with BrokerUnavailableError
 * (what they did at the broker stays done, as with a connection cut after the request left); refused
 * calls fail at once; black-holed calls wait for the network, then fail with TimeoutError; latency
 * delays each call on the way out and on the way back.
 */
export function simulatedNetwork(): SimulatedNetwork {
  let mode: Mode = 'up';
  let latencyMs = 0;
  // Calls in flight: a reset or refusal fails them all.
  const inFlight = new Set<(error: Error) => void>();
  // Calls waiting in a black hole for the network to come back.
  let healed: { promise: Promise<void>; resolve: () => void } | undefined;

  const cutAll = (what: string) => {
    for (const fail of [...inFlight]) fail(new BrokerUnavailableError(`${what} (simulated network)`));
  };
  // The listener goes when the pause ends: the consumer passes one signal to every receive it makes.
  const pause = (ms: number, signal?: AbortSignal) =>
    new Promise<void>((resolve) => {
      if (ms <= 0 || signal?.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done, { once: true });
    });
  /** Pass the network once (out or back): refused fails, black-holed waits, latency delays. */
  const cross = async (method: string, signal?: AbortSignal): Promise<void> => {
    if (mode === 'refused')
      throw new BrokerUnavailableError(`${method}: connection refused (simulated network)`);
    if (mode === 'blackholed') {
      healed ??= (() => {
        let resolve!: () => void;
        const promise = new Promise<void>((r) => {
          resolve = r;
        });
        return { promise, resolve };
      })();
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), SIMULATED_CALL_TIMEOUT_MS);
      });
      let onAbort: (() => void) | undefined;
      const aborted = new Promise<'aborted'>((resolve) => {
        onAbort = () => resolve('aborted');
        if (signal?.aborted) onAbort();
        else signal?.addEventListener('abort', onAbort, { once: true });
      });
      const outcome = await Promise.race([healed.promise, timedOut, aborted]);
      clearTimeout(timer);
      if (onAbort) signal?.removeEventListener('abort', onAbort);
      if (outcome === 'aborted')
        throw new BrokerUnavailableError(`${method}: aborted in a black hole (simulated network)`);
      if (outcome === 'timeout')
        throw new TimeoutError(`${method}: no answer in ${SIMULATED_CALL_TIMEOUT_MS} ms (simulated network)`);
      if ((mode as Mode) === 'refused')
        throw new BrokerUnavailableError(`${method}: connection refused (simulated network)`);
    }
    await pause(latencyMs, signal);
  };
  const call = async <T>(method: string, fn: () => Promise<T>, signal?: AbortSignal): Promise<T> => {
    await cross(method, signal);
    let fail!: (error: Error) => void;
    const cut = new Promise<never>((_, reject) => {
      fail = reject;
    });
    inFlight.add(fail);
    try {
      const result = await Promise.race([fn(), cut]);
      await cross(method, signal);
      return result;
    } finally {
      inFlight.delete(fail);
    }
  };

  const wrapDelivery = (delivery: Delivery): Delivery => {
    const overrides: Partial<Delivery> = {
      ack: (result) => call('ack', () => delivery.ack(result)),
      deadLetter: (info) => call('deadLetter', () => delivery.deadLetter(info)),
    };
    const { ackWith, release, extendLock, progress } = delivery;
    if (ackWith)
      Object.assign(overrides, {
        ackWith: (...args: Parameters<typeof ackWith>) =>
          call('ackWith', () => ackWith.apply(delivery, args)),
      });
    if (release)
      Object.assign(overrides, {
        release: (...args: Parameters<typeof release>) =>
          call('release', () => release.apply(delivery, args)),
      });
    if (extendLock)
      Object.assign(overrides, {
        extendLock: (ms: number) => call('extendLock', () => extendLock.call(delivery, ms)),
      });
    if (progress)
      Object.assign(overrides, {
        progress: (value: unknown) => call('progress', () => progress.call(delivery, value)),
      });
    return overrideDelivery(delivery, overrides);
  };

  const network: SimulatedNetwork = {
    reset() {
      cutAll('connection reset');
    },
    refuse() {
      mode = 'refused';
      cutAll('connection refused');
      healed?.resolve();
      healed = undefined;
    },
    blackhole() {
      if (mode === 'up') mode = 'blackholed';
    },
    latency(ms) {
      latencyMs = Math.max(0, ms);
    },
    heal() {
      mode = 'up';
      latencyMs = 0;
      healed?.resolve();
      healed = undefined;
    },
    wrap(driver) {
      return new Proxy(driver, {
        get(target, key) {
          const value = Reflect.get(target, key, target);
          if (key === 'send')
            return (...args: Parameters<Driver['send']>) => call('send', () => target.send(...args));
          if (key === 'stats')
            return (...args: Parameters<Driver['stats']>) => call('stats', () => target.stats(...args));
          if (key === 'receive') {
            return async (...args: Parameters<Driver['receive']>) => {
              const got = await call('receive', () => target.receive(...args), args[1].signal);
              return got.map(wrapDelivery);
            };
          }
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    },
  };
  return network;
}
