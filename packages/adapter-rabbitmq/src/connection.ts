import { EventEmitter } from 'node:events';
import {
  AuthenticationError,
  abortableDelay,
  BrokerUnavailableError,
  QueueClosedError,
  settlesWithin,
} from '@queuekit/core';
import amqp, { type Channel, type ChannelModel, type ConfirmChannel } from 'amqplib';
import type { ResolvedOptions } from './options.js';
import type { Secrets } from './secrets.js';

/** Events of {@link ConnectionManager}, for logs and tests. Payloads never contain the URL. */
export interface ConnectionEvents {
  /** A connection is open; `generation` counts connections made by this driver (1, 2, ...). */
  connected: [generation: number];
  /** The connection was lost (not by `close()`); a reconnect is under way. */
  disconnected: [reason: string];
  /** One connection attempt failed; the next one follows after `delayMs`. */
  'connect-failed': [reason: string, delayMs: number];
}

/**
 * One AMQP connection that re-establishes itself with capped exponential backoff (with jitter)
 * until `close()`. Callers ask for the open connection with a bounded wait.
 */
export class ConnectionManager extends EventEmitter<ConnectionEvents> {
  private model: ChannelModel | undefined;
  private generationCount = 0;
  private closed = false;
  private loop: Promise<void> | undefined;
  private readonly waiters = new Set<() => void>();
  private lastError = 'not connected yet';
  /** Set while the last attempt was refused for credentials or certificates: callers fail at once. */
  private refused: AuthenticationError | undefined;
  private readonly stopRetry = new AbortController();
  readonly #options: ResolvedOptions;
  readonly #secrets: Secrets;

  constructor(options: ResolvedOptions, secrets: Secrets) {
    super();
    this.#options = options;
    this.#secrets = secrets;
  }

  /** What `console.log` shows: the broker and the state, never the URL or TLS material. */
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return `ConnectionManager(${this.#options.broker}, ${this.model ? 'open' : 'closed'}, generation ${this.generationCount})`;
  }

  toJSON(): { broker: string; open: boolean; generation: number } {
    return { broker: this.#options.broker, open: this.model !== undefined, generation: this.generationCount };
  }

  /** Number of connections opened so far; changes on every reconnect. */
  get generation(): number {
    return this.generationCount;
  }

  /** Whether a connection is open right now. */
  get isOpen(): boolean {
    return this.model !== undefined;
  }

  /** Start connecting in the background (no-op when open or already connecting). */
  start(): void {
    if (this.closed || this.model || this.loop) return;
    this.loop = this.connectLoop().finally(() => {
      this.loop = undefined;
    });
  }

  private async connectLoop(): Promise<void> {
    let attempt = 0;
    while (!this.closed && !this.model) {
      try {
        const model = await amqp.connect(this.#options.url, {
          ...this.#options.tls,
          clientProperties: { connection_name: this.#options.connectionName },
          timeout: 10_000,
        });
        if (this.closed) {
          await model.close().catch(() => undefined);
          return;
        }
        this.adopt(model);
        return;
      } catch (error) {
        this.lastError = this.describe(error);
        this.refused = refusal(error, this.#options.broker, this.lastError);
        if (this.refused) for (const wake of [...this.waiters]) wake();
        const base = Math.min(this.#options.reconnectMaxMs, this.#options.reconnectInitialMs * 2 ** attempt);
        const delayMs = Math.round(base * (0.8 + Math.random() * 0.2));
        attempt++;
        this.emit('connect-failed', this.lastError, delayMs);
        await abortableDelay(delayMs, this.stopRetry.signal);
      }
    }
  }

  private adopt(model: ChannelModel): void {
    model.on('error', (error: unknown) => {
      this.lastError = this.describe(error);
    });
    model.on('close', (error?: unknown) => {
      if (this.model !== model) return;
      this.model = undefined;
      if (error) this.lastError = this.describe(error);
      if (this.closed) return;
      this.emit('disconnected', this.lastError);
      this.start();
    });
    this.model = model;
    this.refused = undefined;
    this.generationCount++;
    this.emit('connected', this.generationCount);
    for (const wake of [...this.waiters]) wake();
  }

  /**
   * The open connection, waiting up to `timeoutMs` for a (re)connect. Resolves `undefined` when
   * `signal` fires first; rejects with BrokerUnavailableError on timeout, QueueClosedError once closed,
   * and at once with AuthenticationError while the broker refuses our credentials or certificate
   * (reconnecting goes on in the background, with backoff, in case they are fixed).
   */
  async open(timeoutMs: number, signal?: AbortSignal): Promise<ChannelModel | undefined> {
    for (;;) {
      if (this.closed) throw new QueueClosedError('The RabbitMQ driver is closed');
      if (this.model) return this.model;
      if (signal?.aborted) return undefined;
      if (this.refused) throw this.refused;
      this.start();
      const woke = await this.waitForChange(timeoutMs, signal);
      if (!woke && !signal?.aborted && !this.model) {
        throw new BrokerUnavailableError(
          `RabbitMQ unavailable for ${timeoutMs} ms (${this.lastError}); nothing was done`,
        );
      }
    }
  }

  private waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    return new Promise((resolve) => {
      const done = (woke: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        signal?.removeEventListener('abort', abort);
        resolve(woke);
      };
      const wake = () => done(true);
      const abort = () => done(false);
      const timer = setTimeout(() => done(false), timeoutMs);
      this.waiters.add(wake);
      signal?.addEventListener('abort', abort, { once: true });
    });
  }

  /** Open a channel (plain or confirm) on the current connection, with an error listener attached. */
  async channel(confirm: false, timeoutMs: number): Promise<Channel>;
  async channel(confirm: true, timeoutMs: number): Promise<ConfirmChannel>;
  async channel(confirm: boolean, timeoutMs: number): Promise<Channel> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const model = (await this.open(Math.max(1, deadline - Date.now()))) as ChannelModel;
      try {
        const channel = confirm ? await model.createConfirmChannel() : await model.createChannel();
        channel.on('error', () => {
          // A channel error closes the channel; its 'close' listeners handle it. Never crash the process.
        });
        return channel;
      } catch (error) {
        this.lastError = this.describe(error);
        if (this.closed) throw new QueueClosedError('The RabbitMQ driver is closed');
        if (Date.now() >= deadline) {
          throw new BrokerUnavailableError(`Could not open a RabbitMQ channel (${this.lastError})`);
        }
        await abortableDelay(50, this.stopRetry.signal);
      }
    }
  }

  /** A readable, secret-free description of an amqplib error. */
  private describe(error: unknown): string {
    return this.#secrets.scrub(error instanceof Error ? error.message : String(error));
  }

  /**
   * Stop reconnecting and close the connection (and with it every channel), by `deadline` (epoch ms):
   * a broker that does not answer connection.close in time gets its socket destroyed.
   */
  async close(deadline = Date.now() + CLOSE_TIMEOUT_MS): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.stopRetry.abort();
    for (const wake of [...this.waiters]) wake();
    const model = this.model;
    this.model = undefined;
    if (model && !(await settlesWithin(model.close(), deadline - Date.now()))) destroySocket(model);
    // A connect attempt in flight (a black hole answers no handshake) ends on its own timeout; don't wait for it.
    if (this.loop) await settlesWithin(this.loop, deadline - Date.now());
  }
}

/**
 * How long `close()` waits for the broker's answers (basic.cancel-ok, channel.close-ok, connection.close-ok).
 * A black-holed broker never answers: past this, the socket is destroyed and the broker redelivers what
 * was not acknowledged.
 */
export const CLOSE_TIMEOUT_MS = 2_000;

/** Node's TLS verification failures of the broker's certificate (we refuse it). */
const UNTRUSTED_CERTIFICATE = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_REVOKED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * An AuthenticationError when a connection attempt failed because credentials or certificates
 * were refused (retrying cannot help), else undefined. `text` is the scrubbed description.
 */
function refusal(error: unknown, broker: string, text: string): AuthenticationError | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code === 'string' && UNTRUSTED_CERTIFICATE.has(code)) {
    return new AuthenticationError(
      broker,
      `The TLS certificate of RabbitMQ at ${broker} does not verify (${text}); check tls.ca / cacertfile and the host name`,
    );
  }
  // The broker's TLS alerts: no client certificate, or one it does not accept.
  if (
    typeof code === 'string' &&
    /^ERR_SSL_.*ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|ACCESS_DENIED|HANDSHAKE_FAILURE|CERTIFICATE_EXPIRED|CERTIFICATE_REVOKED|UNSUPPORTED_CERTIFICATE)$/.test(
      code,
    )
  ) {
    return new AuthenticationError(
      broker,
      `RabbitMQ at ${broker} refused the TLS handshake (${text}); check tls.cert / tls.key (certfile / keyfile)`,
    );
  }
  if (/\b403 \(ACCESS-REFUSED\)/.test(text)) {
    return new AuthenticationError(
      broker,
      `RabbitMQ at ${broker} refused the login: wrong user name or password (${text})`,
    );
  }
  // amqplib reports a refused `connection.open` without RabbitMQ's reason: the vhost does not exist or
  // the user has no permissions on it (both need an operator, not a retry).
  if (/Expected ConnectionOpenOk; got <ConnectionClose/.test(text)) {
    return new AuthenticationError(
      broker,
      `RabbitMQ at ${broker} refused to open the vhost: it does not exist or the user has no permissions on it`,
    );
  }
  return undefined;
}

/** Tear the TCP (or TLS) socket under an amqplib connection down without waiting for the broker. */
function destroySocket(model: ChannelModel): void {
  const stream = (model as unknown as { connection?: { stream?: { destroy?: () => void } } }).connection
    ?.stream;
  stream?.destroy?.();
}
