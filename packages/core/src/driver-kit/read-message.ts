import type { Capabilities, ReceivedMessage } from '../driver.js';
import { attemptHeader, H, intHeader, userHeaders } from '../headers.js';

/** What the core reads from a received, peeked or dead-lettered message. */
export interface MessageView {
  readonly id: string;
  /** The broker's job name, else the `qk-name` header, else `default`. */
  readonly name: string;
  /**
   * The attempt this delivery is (1-based): `qk-attempt` (bumped on every re-sent copy) plus the
   * redeliveries of this physical message. For a dead letter, the attempts made as recorded, when recorded.
   */
  readonly attempt: number;
  /** 0-9: the broker's own priority when it is native, else the `qk-priority` header. */
  readonly priority: number;
  /** The user's headers (no `qk-*`, no `content-type`), in an object without prototype. */
  readonly headers: Record<string, string>;
  /** When the job may run, if it was parked (`qk-not-before`). */
  readonly runAt?: Date;
  /** When the job was first sent: `qk-enqueued-at`, else the broker's time, if any. */
  readonly enqueuedAt?: Date;
}

/** Options of {@link readMessage}. */
export interface ReadMessageOptions {
  /** The driver's `capabilities.priority`: only a `native` one is trusted for `priority`. Default: trust it when set. */
  readonly priority?: Capabilities['priority'];
}

/** The one reading of a message's identity, attempt, priority, headers and times (never throws). */
export function readMessage(
  message: ReceivedMessage & { readonly attempts?: number },
  options: ReadMessageOptions = {},
): MessageView {
  const count = message.deliveryCount;
  const redeliveries = Number.isSafeInteger(count) && count > 1 ? count - 1 : 0;
  const recorded = message.attempts;
  const attempt =
    recorded !== undefined && Number.isSafeInteger(recorded) && recorded >= 1
      ? recorded
      : attemptHeader(message.headers) + redeliveries;
  const header = intHeader(message.headers, H.priority, 0);
  const trusted = options.priority === undefined || options.priority === 'native';
  const priority = Math.min(9, Math.max(0, trusted ? (message.priority ?? header) : header));
  const runAt = validDate(intHeader(message.headers, H.notBefore, 0));
  const enqueuedAt =
    validDate(intHeader(message.headers, H.enqueuedAt, 0)) ?? validDate(message.enqueuedAt?.getTime());
  // Built by assignment: a literal with conditional spreads after its fields takes V8's slow path.
  const view: { -readonly [K in keyof MessageView]: MessageView[K] } = {
    id: message.id,
    name: message.name ?? message.headers[H.name] ?? 'default',
    attempt,
    priority,
    headers: userHeaders(message.headers),
  };
  if (runAt) view.runAt = runAt;
  if (enqueuedAt) view.enqueuedAt = enqueuedAt;
  return view;
}

function validDate(ms: number | undefined): Date | undefined {
  if (ms === undefined || !(ms > 0)) return undefined;
  const date = new Date(ms);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
