/** A signal that fires when any of `signals` does, and a `dispose` that detaches it from them. */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  dispose(): void;
}

/**
 * Link `signals` into one for the length of a call. Unlike `AbortSignal.any()`, which on Node 20
 * and 22 keeps every composite it made reachable from a long-lived source signal, this adds one
 * listener per source and removes it in `dispose()`: a receive loop can run for months on one
 * consumer signal without growing it.
 */
export function linkSignals(...signals: readonly AbortSignal[]): LinkedSignal {
  const controller = new AbortController();
  const abort = () => controller.abort();
  const dispose = () => {
    for (const source of signals) source.removeEventListener('abort', abort);
  };
  for (const source of signals) {
    if (source.aborted) {
      dispose();
      controller.abort();
      break;
    }
    source.addEventListener('abort', abort, { once: true });
  }
  return { signal: controller.signal, dispose };
}
