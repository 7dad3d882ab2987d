import { EventEmitter } from 'node:events';

type Listener<Args extends unknown[]> = (...args: Args) => void;

/** A strictly typed event emitter over an event map `{ name: [args...] }`. */
export class TypedEmitter<Events extends { [K in keyof Events]: unknown[] }> {
  private readonly emitter = new EventEmitter({ captureRejections: false });

  constructor() {
    this.emitter.setMaxListeners(100);
  }

  /** Subscribe to an event. */
  on<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.emitter.on(event, listener as Listener<unknown[]>);
    return this;
  }

  /** Subscribe once. */
  once<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.emitter.once(event, listener as Listener<unknown[]>);
    return this;
  }

  /** Unsubscribe. */
  off<K extends keyof Events & string>(event: K, listener: Listener<Events[K]>): this {
    this.emitter.off(event, listener as Listener<unknown[]>);
    return this;
  }

  /** Listener errors are isolated: a throwing listener never breaks job processing. */
  protected emit<K extends keyof Events & string>(event: K, ...args: Events[K]): void {
    // Most events of a busy queue have no listener: nothing to call (this runs several times per job).
    if (this.emitter.listenerCount(event) === 0) {
      // Without a listener an EventEmitter would throw on `error`; a worker must not die of a transient error.
      if (event === 'error') process.emitWarning(args[0] as Error);
      return;
    }
    try {
      this.emitter.emit(event, ...args);
    } catch (error) {
      if (event !== 'error' && this.emitter.listenerCount('error') > 0) this.emitter.emit('error', error);
    }
  }
}
