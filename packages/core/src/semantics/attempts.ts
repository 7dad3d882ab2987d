import type { BackoffOptions } from './backoff.js';
import type { Delivery } from '../driver.js';
import {
  attemptHeader,
  backoffHeader,
  H,
  HEADER_BOUNDS,
  maxAttemptsHeader,
  notBeforeHeader,
} from '../headers.js';

/** Attempts a job gets when neither the send nor the queue's defaults say. */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** Attempt metadata read from a delivery's headers (parsed strictly, see HEADER_BOUNDS) and delivery count. */
export interface AttemptInfo {
  readonly attempt: number;
  readonly maxAttempts: number;
  /** Epoch ms before which the job must not run; 0 for none. */
  readonly notBefore: number;
  readonly backoff: BackoffOptions | undefined;
  /** Why the core headers cannot be honoured (the message is dead-lettered as `invalid-headers`). */
  readonly invalid?: string;
}

/** The attempt count survives redelivery: header (bumped on re-send) plus redeliveries in place. */
export function attemptInfo(delivery: Delivery, defaultMaxAttempts = DEFAULT_MAX_ATTEMPTS): AttemptInfo {
  const count = delivery.deliveryCount;
  const redeliveries = Number.isSafeInteger(count) && count > 1 ? count - 1 : 0;
  const notBefore = notBeforeHeader(delivery.headers);
  const info: { -readonly [K in keyof AttemptInfo]: AttemptInfo[K] } = {
    attempt: attemptHeader(delivery.headers) + redeliveries,
    maxAttempts: maxAttemptsHeader(delivery.headers, defaultMaxAttempts),
    notBefore: notBefore ?? 0,
    backoff: backoffHeader(delivery.headers),
  };
  // By assignment: a conditional spread after the fields takes V8's slow path (this runs once per job).
  if (notBefore === undefined)
    info.invalid = `${H.notBefore} lies more than ${HEADER_BOUNDS.maxDelayMs} ms ahead`;
  return info;
}
