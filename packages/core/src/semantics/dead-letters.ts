import type { DeadLetterInfo } from '../driver.js';
import { capErrorText } from '../error-text.js';
import { H } from '../headers.js';

/**
 * Dead letters. A job goes to the dead letters when it exhausts its attempts (`max-attempts`), throws
 * UnrecoverableError (`unrecoverable`), cannot be decoded (`undecodable`), fails its schema
 * (`invalid-payload`) or carries core headers that cannot be honoured (`invalid-headers`); the decision is
 * in outcome.ts. The dead-letter API lists, redrives and purges them (queue/dead-letters.ts).
 */

/** `info` with its error text and stack bounded (they are the handler's: they may carry whole payloads). */
export function cappedDeadLetterInfo(info: DeadLetterInfo): DeadLetterInfo {
  return {
    ...info,
    ...(info.error === undefined ? {} : { error: capErrorText(info.error) }),
    ...(info.stack === undefined ? {} : { stack: capErrorText(info.stack) }),
  };
}

/** Headers a redriven job is sent with: a fresh attempt count, due now. */
export const REDRIVE_HEADERS: Readonly<Record<string, string>> = { [H.attempt]: '1', [H.notBefore]: '0' };
