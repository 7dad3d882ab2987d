/**
 * How a queuekit message is stored as a BullMQ job, so that plain BullMQ workers see ordinary jobs:
 * a JSON body becomes the job's `data` as real JSON, and the headers travel in a job option
 * (`opts.queuekit`) that plain workers ignore.
 */

/** How the body is stored in `job.data`. Absent means JSON: `data` is the parsed body. */
export type BodyEncoding = 'text' | 'base64';

/** The `opts.queuekit` option stored with every job sent by queuekit. */
export interface QueuekitJobMeta {
  /** Format version of this object. */
  readonly v: 1;
  /** queuekit job id, when it differs from the BullMQ job id. */
  readonly id?: string;
  /** Headers, verbatim (`qk-*`, `content-type` and user headers). */
  readonly h: Readonly<Record<string, string>>;
  /** Body encoding when the body is not stored as JSON data. */
  readonly e?: BodyEncoding;
  /** `false` when the headers had no `qk-name` (otherwise it is the job name unless stored in `h`). */
  readonly n?: false;
  /** `1` when the job is a later copy of one with the same queuekit id (retry-after, delay hop, redrive). */
  readonly c?: 1;
  /** On the reduce job of a native fan-out: Redis key of the fan-out's record (see `fanout.ts`). */
  readonly f?: string;
  /**
   * BullMQ `timestamp` of the job this meta was written for (set as the job is stored, see
   * `send-queue.ts`): a job whose own timestamp differs is a copy another tool added with these
   * options (Bull Board's "Duplicate"), a new job.
   */
  readonly t?: number;
}

/** Name of the BullMQ job option carrying {@link QueuekitJobMeta}. */
export const META_OPTION = 'queuekit';

const encoder = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

/** Whether a `content-type` value is JSON (`application/json`, `application/x+json`, with parameters). */
export function isJsonContentType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const mime = contentType.split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return mime === 'application/json' || mime.endsWith('+json');
}

/**
 * Turn a body into BullMQ `data`. JSON bodies become real JSON values when that is lossless (the
 * text is exactly what `JSON.stringify` produces, as for queuekit's JSON codec); other UTF-8 text
 * is stored as a string; anything else as base64.
 */
export function bodyToData(
  body: Uint8Array,
  contentType: string | undefined,
): { data: unknown; e?: BodyEncoding } {
  let text: string;
  try {
    text = strictUtf8.decode(body);
  } catch {
    return {
      data: Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('base64'),
      e: 'base64',
    };
  }
  if (isJsonContentType(contentType)) {
    try {
      const value: unknown = JSON.parse(text);
      if (JSON.stringify(value) === text) return { data: value };
    } catch {
      // Not JSON after all: kept as text below, and the consumer's codec reports it.
    }
  }
  return { data: text, e: 'text' };
}

/** Turn BullMQ `data` back into the body bytes (`e` from the job's meta; absent = JSON). */
export function dataToBody(data: unknown, e: BodyEncoding | undefined): Uint8Array {
  if (e === 'base64' && typeof data === 'string') return new Uint8Array(Buffer.from(data, 'base64'));
  if (e === 'text' && typeof data === 'string') return encoder.encode(data);
  return encoder.encode(JSON.stringify(data === undefined ? null : data));
}

/**
 * Read and check the queuekit meta of a job's options; `undefined` for jobs added by plain BullMQ.
 * Any producer can write this option, so the result is rebuilt from checked fields only: header
 * values that are not strings are dropped (into an object without a prototype, so `__proto__` is
 * just a name), and `id`, `e`, `n`, `c`, `f`, `t` are kept only with their documented types.
 */
export function readMeta(opts: unknown): QueuekitJobMeta | undefined {
  if (typeof opts !== 'object' || opts === null) return undefined;
  const meta = (opts as Record<string, unknown>)[META_OPTION];
  if (typeof meta !== 'object' || meta === null) return undefined;
  const candidate = meta as Record<string, unknown>;
  const h = candidate.h;
  if (candidate.v !== 1 || typeof h !== 'object' || h === null || Array.isArray(h)) return undefined;
  const headers: Record<string, string> = Object.create(null);
  for (const [key, value] of Object.entries(h)) if (typeof value === 'string') headers[key] = value;
  const { id, e, n, c, f, t } = candidate;
  return {
    v: 1,
    h: headers,
    ...(typeof id === 'string' && id !== '' ? { id } : {}),
    ...(e === 'text' || e === 'base64' ? { e } : {}),
    ...(n === false ? { n } : {}),
    ...(c === 1 ? { c } : {}),
    // A fan-out meta of another type stays visible (as no key), so that the job is refused.
    ...(f !== undefined ? { f: typeof f === 'string' ? f : '' } : {}),
    ...(typeof t === 'number' && Number.isFinite(t) ? { t } : {}),
  };
}
