import { readFileSync } from 'node:fs';
import { ConfigError } from '@queuekit/core';

/** PEM text (a string containing `-----BEGIN`), its bytes, or the path of a PEM file. */
export type PemSource = string | Buffer;

/** TLS options of an `amqps://` connection (Node's `tls.connect` options of the same names). */
export interface RabbitMqTlsOptions {
  /** CA certificate(s) the broker's certificate must chain to. Default: Node's bundled root CAs. */
  readonly ca?: PemSource | readonly PemSource[];
  /** Client certificate (for brokers with `ssl_options.verify = verify_peer`). Needs `key`. */
  readonly cert?: PemSource;
  /** Private key of `cert`. Kept private: never printed, logged or serialised. */
  readonly key?: PemSource;
  /** Passphrase of an encrypted `key`. Kept private like the key. */
  readonly passphrase?: string;
  /** Name sent in SNI and checked against the broker's certificate. Default: the URL's host name. */
  readonly servername?: string;
  /** Verify the broker's certificate (default true). `false` is for throwaway test brokers only. */
  readonly rejectUnauthorized?: boolean;
}

/** What `tls.connect` gets: PEM bytes read, nothing left as a path. */
export interface ResolvedTls {
  readonly ca?: Buffer[];
  readonly cert?: Buffer;
  readonly key?: Buffer;
  readonly passphrase?: string;
  readonly servername?: string;
  readonly rejectUnauthorized?: boolean;
}

/**
 * URL query parameters with RabbitMQ's own names (as in its Erlang client's URIs and `rabbitmq.conf`
 * `ssl_options.*`), mapped to {@link RabbitMqTlsOptions}.
 */
const URL_PARAMETERS = ['cacertfile', 'certfile', 'keyfile', 'verify', 'server_name_indication'] as const;

/** PEM bytes of `source`; a key's source is never echoed (a mistyped PEM would be read as a path). */
function pem(field: string, source: PemSource, secret = false): Buffer {
  if (Buffer.isBuffer(source)) return source;
  if (typeof source !== 'string' || source === '') {
    throw new ConfigError(field, 'expected PEM text, a Buffer or a file path');
  }
  if (source.includes('-----BEGIN')) return Buffer.from(source, 'utf8');
  try {
    return readFileSync(source);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    const why = typeof code === 'string' ? ` (${code})` : '';
    throw new ConfigError(
      field,
      secret ? `cannot read the key file${why}` : `cannot read the file \`${source}\`${why}`,
    );
  }
}

/**
 * Take RabbitMQ's TLS parameters out of `url` (so they never reach amqplib) and merge them under the
 * explicit `tls` options (which win). Returns undefined when neither gives any.
 */
export function resolveTls(url: URL, options: RabbitMqTlsOptions | undefined): ResolvedTls | undefined {
  const fromUrl: Record<string, string> = {};
  for (const name of URL_PARAMETERS) {
    const value = url.searchParams.get(name);
    url.searchParams.delete(name);
    if (value !== null) fromUrl[name] = value;
  }
  if (options !== undefined && (typeof options !== 'object' || options === null)) {
    throw new ConfigError('tls', 'expected an object');
  }
  if (Object.keys(fromUrl).length === 0 && options === undefined) return undefined;
  if (url.protocol.toLowerCase() !== 'amqps:') {
    throw new ConfigError('tls', 'TLS options need an amqps:// URL (amqp:// is plaintext)');
  }
  const verify = fromUrl.verify;
  if (verify !== undefined && verify !== 'verify_peer' && verify !== 'verify_none') {
    throw new ConfigError('url', "query parameter `verify` must be 'verify_peer' or 'verify_none'");
  }
  const ca = options?.ca ?? fromUrl.cacertfile;
  const cert = options?.cert ?? fromUrl.certfile;
  const key = options?.key ?? fromUrl.keyfile;
  const field = (name: string, fromOptions: unknown) => (fromOptions === undefined ? 'url' : `tls.${name}`);
  if ((cert === undefined) !== (key === undefined)) {
    throw new ConfigError(
      cert === undefined ? 'tls.cert' : 'tls.key',
      'a client certificate needs both cert and key',
    );
  }
  if (options?.passphrase !== undefined && typeof options.passphrase !== 'string') {
    throw new ConfigError('tls.passphrase', 'expected a string');
  }
  if (options?.rejectUnauthorized !== undefined && typeof options.rejectUnauthorized !== 'boolean') {
    throw new ConfigError('tls.rejectUnauthorized', 'expected a boolean');
  }
  const servername = options?.servername ?? fromUrl.server_name_indication;
  if (servername !== undefined && (typeof servername !== 'string' || servername === '')) {
    throw new ConfigError('tls.servername', 'expected a host name');
  }
  const rejectUnauthorized =
    options?.rejectUnauthorized ?? (verify === undefined ? undefined : verify === 'verify_peer');
  return {
    ...(ca === undefined
      ? {}
      : {
          ca: (Array.isArray(ca) ? ca : [ca]).map((one: PemSource, i: number) =>
            pem(options?.ca === undefined ? 'url' : Array.isArray(ca) ? `tls.ca[${i}]` : 'tls.ca', one),
          ),
        }),
    ...(cert === undefined ? {} : { cert: pem(field('cert', options?.cert), cert) }),
    ...(key === undefined ? {} : { key: pem(field('key', options?.key), key, true) }),
    ...(options?.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(servername === undefined ? {} : { servername }),
    ...(rejectUnauthorized === undefined ? {} : { rejectUnauthorized }),
  };
}
