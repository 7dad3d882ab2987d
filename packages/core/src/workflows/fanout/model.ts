import { isQueueName } from '../../config.js';
import { ConfigError } from '../../errors.js';

/** Options of `queue.fanOut`. */
export interface FanOutOptions {
  /** Items per chunk job. */
  readonly chunkSize: number;
  /** Queue that receives the single reduce job once every chunk has finished. */
  readonly reduce: string;
  /** Job name of the reduce job. Default `reduce`. */
  readonly reduceName?: string;
  /** Id of the fan-out (and prefix of its chunk ids). Default: a UUID. */
  readonly parentId?: string;
}

/** What `fanOut` returns. */
export interface FanOutResult {
  readonly parentId: string;
  readonly chunkIds: readonly string[];
}

/** Data of the reduce job: chunk results by chunk index, and the chunks that were dead-lettered. */
export interface ReduceData<R = unknown> {
  readonly parentId: string;
  /** `results[i]` is chunk i's result (null for a failed chunk). */
  readonly results: readonly (R | null)[];
  readonly failed: readonly { readonly index: number; readonly error?: string; readonly reason?: string }[];
}

export interface FanOutMeta {
  total: number;
  reduce: string;
  reduceName: string;
}

export interface ChunkOutcome {
  ok: boolean;
  result?: unknown;
  error?: string;
  reason?: string;
}

/** Header names carried by chunk jobs. */
export const FANOUT_PARENT = 'qk-fanout-parent';
export const FANOUT_INDEX = 'qk-fanout-index';

/**
 * A fan-out id: 1-100 letters, digits, `_`, `.` or `-`. No `:`, so one fan-out's store keys can never be
 * another's, and the reduce job id `<parentId>-reduce` stays within 128 characters.
 */
export const PARENT_ID = /^[\w.-]{1,100}$/;
export const INDEX = /^(0|[1-9]\d{0,8})$/;

/** Store keys of one fan-out, scoped by the queue of its chunks (a chunk of queue A cannot touch B's). */
export const keysOf = (queue: string, parentId: string) => {
  const base = `qk:fan:${queue}:${parentId}:`;
  return {
    meta: `${base}meta`,
    chunk: (index: number) => `${base}chunk:${index}`,
    done: `${base}done`,
    recounts: `${base}recounts`,
    reducing: `${base}reducing`,
    reduced: `${base}reduced`,
  };
};
export type FanOutKeys = ReturnType<typeof keysOf>;

/** Check `fanOut` arguments before anything is written or sent; throws ConfigError naming the field. */
export function validateFanOut(items: unknown, options: FanOutOptions | undefined): void {
  if (!Array.isArray(items) || items.length === 0)
    throw new ConfigError('items', 'expected a non-empty array');
  if (typeof options !== 'object' || options === null) throw new ConfigError('options', 'expected an object');
  if (!Number.isInteger(options.chunkSize) || options.chunkSize < 1)
    throw new ConfigError('chunkSize', 'expected an integer ≥ 1');
  if (!isQueueName(options.reduce)) {
    throw new ConfigError(
      'reduce',
      'expected a queue name: 1-80 letters, digits, `.`, `_` or `-`, starting with a letter or digit',
    );
  }
  if (
    options.reduceName !== undefined &&
    (typeof options.reduceName !== 'string' || options.reduceName === '')
  )
    throw new ConfigError('reduceName', 'expected a non-empty string');
  if (
    options.parentId !== undefined &&
    (typeof options.parentId !== 'string' || !PARENT_ID.test(options.parentId))
  )
    throw new ConfigError('parentId', 'expected 1-100 letters, digits, `_`, `.` or `-`');
}
