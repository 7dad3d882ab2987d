import { QueuekitError } from '@queuekit/core';
import { UsageError } from './args.js';
import { InterruptedError, storeErrors, urlErrors } from './session.js';

/** Exit codes of `queuekit`. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The broker or the operation failed (down, timeout, refused, unsupported). */
  failure: 1,
  /** The command line, the URL or the configuration is wrong, or the adapter is not installed. */
  usage: 2,
  /** Interrupted with Ctrl-C. */
  interrupted: 130,
} as const;

/** What to print for an error (one line, no secrets yet: the Output scrubs) and the exit code. */
export interface ErrorReport {
  readonly line: string;
  readonly exitCode: number;
}

const MAX_LINE = 400;

function oneLine(text: string): string {
  const flat = text.replace(/\s*\n\s*/g, ' ').trim();
  return flat.length > MAX_LINE ? `${flat.slice(0, MAX_LINE - 1)}…` : flat;
}

/** The URLs an error line may name, already redacted. */
export interface ShownUrls {
  readonly queue?: string;
  readonly store?: string;
}

/** Turn any thrown value into one clear line and an exit code. */
export function describeError(error: unknown, urls: ShownUrls = {}): ErrorReport {
  if (error instanceof UsageError) {
    return { line: `queuekit: ${oneLine(error.message)} (see \`queuekit --help\`)`, exitCode: EXIT.usage };
  }
  if (error instanceof InterruptedError) return { line: 'queuekit: interrupted', exitCode: EXIT.interrupted };
  const fromStore = typeof error === 'object' && error !== null && storeErrors.has(error);
  const shownUrl = fromStore ? urls.store : urls.queue;
  const where = shownUrl ? ` ${shownUrl}` : '';
  const peer = fromStore ? 'the store' : 'the broker';
  if (QueuekitError.is(error)) {
    const message = oneLine(error.message);
    switch (error.code) {
      case 'ERR_UNKNOWN_SCHEME':
        return {
          line: `queuekit: bad queue URL${where}: ${message} (memory, redis, rediss, amqp, amqps, sqs, pubsub, servicebus) [${error.code}]`,
          exitCode: EXIT.usage,
        };
      case 'ERR_CONFIG': {
        const field = (error as QueuekitError & { field?: string }).field;
        const subject = field === 'url' || urlErrors.has(error) ? `bad queue URL${where}` : 'invalid input';
        return { line: `queuekit: ${subject}: ${message} [${error.code}]`, exitCode: EXIT.usage };
      }
      case 'ERR_ADAPTER_NOT_INSTALLED':
        return { line: `queuekit: ${message} [${error.code}]`, exitCode: EXIT.usage };
      case 'ERR_TIMEOUT':
        return {
          line: `queuekit: ${message} (${shownUrl ?? peer.slice(4)}): is it running and reachable, and are the credentials right? Raise --timeout to wait longer [${error.code}]`,
          exitCode: EXIT.failure,
        };
      case 'ERR_AUTH':
        return {
          line: `queuekit: ${peer}${where} refused the credentials: ${message}. Check the user and password (or key) [${error.code}]`,
          exitCode: EXIT.failure,
        };
      case 'ERR_BROKER_UNAVAILABLE':
        return {
          line: `queuekit: cannot reach ${peer}${where}: ${message} [${error.code}]`,
          exitCode: EXIT.failure,
        };
      default:
        return { line: `queuekit: ${message} [${error.code}]`, exitCode: EXIT.failure };
    }
  }
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown } | null)?.code;
  const suffix = typeof code === 'string' || typeof code === 'number' ? ` [${code}]` : '';
  return {
    line: `queuekit: ${oneLine(message || 'unknown error')}${where ? ` (${shownUrl})` : ''}${suffix}`,
    exitCode: EXIT.failure,
  };
}
