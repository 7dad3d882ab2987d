import { guardDriver } from '../driver-kit/guard.js';
import type { Driver } from '../driver.js';
import { loadOtel } from '../observability/telemetry.js';
import { redactUrl } from '../redact.js';
import { driverFromUrl } from '../registry.js';
import { Scrubber } from '../scrubber.js';

/**
 * A queue's driver: made from its URL (or given) on first use, and guarded for the queue's own calls.
 * The source is ES-private: never shown by util.inspect, so URLs with passwords and driver internals stay hidden.
 */
export class QueueConnection {
  readonly #source: Driver | string;
  #raw: Promise<Driver> | undefined;
  #guarded: { readonly raw: Driver; readonly guarded: Driver } | undefined;
  /** The provider's name once the driver is known (`unknown` before). */
  provider: string;

  constructor(source: Driver | string) {
    this.#source = source;
    this.provider = typeof source === 'string' ? 'unknown' : source.provider;
  }

  /** Whether a driver was asked for (so there may be one to close). */
  get started(): boolean {
    return this.#raw !== undefined;
  }

  /** The driver as made or given, connected on first use; a failed connection is retried on the next call. */
  driver(): Promise<Driver> {
    if (!this.#raw) {
      const source = this.#source;
      const created = typeof source === 'string' ? driverFromUrl(source) : Promise.resolve(source);
      // OpenTelemetry is optional; loading it with the driver makes the first send traced too.
      this.#raw = Promise.all([created, loadOtel()]).then(([driver]) => {
        this.provider = driver.provider;
        return driver;
      });
      this.#raw.catch(() => {
        this.#raw = undefined;
      });
    }
    return this.#raw;
  }

  /**
   * The driver as the queue uses it: every call rejects only with queuekit errors (a driver's untyped
   * error is classified, or wrapped in a DriverError), with the URL's secrets scrubbed from them.
   */
  async guarded(): Promise<Driver> {
    const raw = await this.driver();
    if (this.#guarded?.raw !== raw) {
      const source = this.#source;
      const scrubber = typeof source === 'string' ? new Scrubber([source]) : undefined;
      const guarded = guardDriver(raw, scrubber ? { scrub: (error) => scrubber.error(error) } : {});
      this.#guarded = { raw, guarded };
    }
    return this.#guarded.guarded;
  }

  /** The source without secrets: the masked URL, or `driver:<provider>`. */
  describe(): { url: string } | { driver: string } {
    const source = this.#source;
    return typeof source === 'string' ? { url: redactUrl(source) } : { driver: source.provider };
  }
}
