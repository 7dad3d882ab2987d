import { DecodeError } from './errors.js';

/** Turns payloads into bytes and back. JSON is the default; pass another to `createQueue`. */
export interface Codec<T = unknown> {
  /** MIME type stored with each message (header `content-type`). */
  readonly contentType: string;
  encode(data: T): Uint8Array;
  /** Throw (any error) when the bytes are not valid; the job is then dead-lettered as `undecodable`. */
  decode(bytes: Uint8Array): T;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** UTF-8 JSON. `undefined` payloads are sent as `null`. */
export const jsonCodec: Codec<unknown> = {
  contentType: 'application/json',
  encode: (data) => encoder.encode(JSON.stringify(data ?? null)),
  decode: (bytes) => {
    try {
      return JSON.parse(decoder.decode(bytes));
    } catch (error) {
      throw new DecodeError(`Message body is not valid UTF-8 JSON (${bytes.byteLength} bytes)`, {
        cause: error,
      });
    }
  },
};

/** Raw bytes, untouched: payloads are `Uint8Array`. */
export const binaryCodec: Codec<Uint8Array> = {
  contentType: 'application/octet-stream',
  encode: (data) => {
    if (!(data instanceof Uint8Array)) throw new TypeError('binaryCodec payloads must be Uint8Array');
    return data;
  },
  decode: (bytes) => bytes,
};

/** UTF-8 text. */
export const textCodec: Codec<string> = {
  contentType: 'text/plain; charset=utf-8',
  encode: (data) => encoder.encode(data),
  decode: (bytes) => {
    try {
      return decoder.decode(bytes);
    } catch (error) {
      throw new DecodeError('Message body is not valid UTF-8', { cause: error });
    }
  },
};

/** The payload, or undefined when `codec` cannot decode it (listings never throw on a bad message). */
export function decodeOrUndefined<T>(codec: Codec<T>, body: Uint8Array): T | undefined {
  try {
    return codec.decode(body);
  } catch {
    return undefined;
  }
}

/** Encode text as UTF-8 bytes. */
export const utf8 = (text: string): Uint8Array => encoder.encode(text);
