/**
 * One signal that fires when any of its sources fires, with listeners removed when the receive is done.
 * `AbortSignal.any()` per receive keeps every composite alive as long as a long-lived source (the driver's
 * closing signal) on Node 20/22: memory grew with each poll.
 */
export interface LinkedSignal {
  readonly signal: AbortSignal;
  /** Remove the listeners from the sources. */
  dispose(): void;
}

export function linkSignals(...sources: readonly AbortSignal[]): LinkedSignal {
  const controller = new AbortController();
  const abort = () => {
    dispose();
    controller.abort();
  };
  const dispose = () => {
    for (const source of sources) source.removeEventListener('abort', abort);
  };
  for (const source of sources) {
    if (source.aborted) {
      controller.abort();
      break;
    }
    source.addEventListener('abort', abort, { once: true });
  }
  if (controller.signal.aborted) dispose();
  return { signal: controller.signal, dispose };
}
