import type { TestingModule } from '@nestjs/testing';

let counter = 0;

/** A queue name no other run has used (Redis keeps queues between runs). */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter}`;
}

/** Resolves when `check` holds, polled every 5 ms; rejects after `ms`. */
export async function until(check: () => boolean, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A promise and its resolver. */
export function deferred<T = void>(): { promise: Promise<T>; resolve: (value: T) => void } {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((done) => {
    resolve = done;
  });
  return { promise, resolve };
}

/** Closes every module given to it, even when a test failed before closing its own. */
export class Modules {
  private readonly open = new Set<TestingModule>();

  track(module: TestingModule): TestingModule {
    this.open.add(module);
    return module;
  }

  async closeAll(): Promise<void> {
    const modules = [...this.open];
    this.open.clear();
    await Promise.all(modules.map((module) => module.close()));
  }
}
