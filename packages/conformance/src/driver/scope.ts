import { AsyncLocalStorage } from 'node:async_hooks';
import type { Driver } from '@queuekit/core';
import { type TestContext, it as vitestIt } from 'vitest';

/** What one case made (drivers, queue names, the signal of its receives), released when it finishes. */
export class CaseResources {
  readonly drivers: Driver[] = [];
  readonly names: string[] = [];
  readonly stop = new AbortController();
  /** Set by the harness that made the first resource: closes the drivers and deletes the queues. */
  release?: (resources: CaseResources) => Promise<void>;
}

const current = new AsyncLocalStorage<CaseResources>();

/** The resources of the case running here, if it was registered with this module's `it`. */
export function caseResources(): CaseResources | undefined {
  return current.getStore();
}

type CaseBody = (context: TestContext) => unknown;

function scoped(body: CaseBody): (context: TestContext) => Promise<unknown> {
  return async (context) => {
    const resources = new CaseResources();
    context.onTestFinished(async () => {
      await resources.release?.(resources);
    });
    return current.run(resources, () => body(context));
  };
}

/**
 * vitest's `it` for driver cases: every case's drivers and queues are its own (found through async
 * context, not a suite-wide list), so the cases of a suite run concurrently, each waiting out its own
 * locks and delays.
 */
export const it = Object.assign((name: string, body: CaseBody) => vitestIt(name, scoped(body)), {
  runIf: (condition: boolean) => (name: string, body: CaseBody) =>
    vitestIt.runIf(condition)(name, scoped(body)),
});
