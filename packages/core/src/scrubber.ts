import { types } from 'node:util';
import { type CredentialCommandOption, CredentialCommands } from './credential-commands.js';

export type { CredentialCommandOption } from './credential-commands.js';
import { MASK, redactUrl, secretsOf } from './redact.js';

/** Options of a {@link Scrubber}. */
export interface ScrubberOptions {
  /**
   * Also mask every argument of client commands that carry credentials, wherever an error holds them as
   * `{ name, args }` (ioredis's `error.command`): `true` for Redis's (`AUTH`, `HELLO`, `MIGRATE`, `ACL`,
   * `CONFIG`), or a list of command names. Default: none.
   */
  readonly credentialCommands?: CredentialCommandOption;
}

/**
 * Removes the secrets of some URLs from any text: the CLI passes every line it prints through one,
 * adapters their error messages.
 */
export class Scrubber {
  readonly #secrets: string[];
  readonly #commands: CredentialCommands;

  constructor(urls: readonly (string | undefined)[], options: ScrubberOptions = {}) {
    // Longest first, so a secret containing another one is replaced whole.
    this.#secrets = [...new Set(urls.flatMap(secretsOf))].sort((a, b) => b.length - a.length);
    this.#commands = new CredentialCommands(options.credentialCommands);
  }

  /** `text` with every known secret replaced by `***`. */
  scrub(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join(MASK);
    return out;
  }

  /** A URL safe to show: `redactUrl`, then scrubbed (covers secrets of the other URLs). */
  url(url: string): string {
    return this.scrub(redactUrl(url));
  }

  /**
   * A copy of `error` with the secrets removed from it and everything it holds: every string property
   * (`message`, `stack`, a client's `command.args`...), in nested objects and arrays, through `cause`,
   * `errors` and any other link, cycles and getters included (a getter is read once, its copy a plain
   * value; one that throws is left out). With `credentialCommands`, the `args` of credential commands found
   * anywhere in it (`error.command`, `error.previousErrors[i].command`...) are masked whole, known secret
   * or not.
   *
   * The caller's objects are never written to: only the objects on a path to a secret are copied (same
   * prototype, so `instanceof` and `QueuekitError.is` still answer; a native error stays one), the rest are
   * shared with the original. `error` itself comes back when nothing in it needed scrubbing.
   */
  error<E>(error: E): E {
    if (this.#secrets.length === 0 && !this.#commands.enabled) return error;
    if (typeof error !== 'object' || error === null) return error;
    return this.#copy(error);
  }

  /** Pass 1 finds what holds a secret (or reaches something that does); pass 2 copies just those. */
  #copy<E extends object>(root: E): E {
    const nodes = new Map<object, ScrubNode>();
    const pending: [object, number][] = [[root, 0]];
    for (let next = pending.pop(); next; next = pending.pop()) {
      const [value, depth] = next;
      const node = nodes.get(value) ?? this.#read(value, nodes);
      if (node.visited) continue;
      node.visited = true;
      for (const field of node.fields) {
        if (typeof field.value === 'string') {
          const clean = this.#secrets.length > 0 ? this.scrub(field.value) : field.value;
          if (clean !== field.value) {
            field.value = clean;
            node.dirty = true;
          }
        } else if (typeof field.value === 'object' && field.value !== null && depth < MAX_ERROR_DEPTH) {
          const child = nodes.get(field.value) ?? this.#read(field.value, nodes);
          child.parents.push(node);
          field.child = child;
          if (!child.visited) pending.push([field.value, depth + 1]);
        }
      }
    }
    // Whatever reaches a dirty object must be copied too, to point at its copy.
    const dirty = [...nodes.values()].filter((node) => node.dirty);
    for (let node = dirty.pop(); node; node = dirty.pop()) {
      for (const parent of node.parents) {
        if (parent.dirty) continue;
        parent.dirty = true;
        dirty.push(parent);
      }
    }
    const copies = new Map<ScrubNode, object>();
    for (const node of nodes.values()) if (node.dirty) copies.set(node, blankCopy(node));
    for (const [node, copy] of copies) {
      for (const { key, value, child, enumerable } of node.fields) {
        const shown = child?.dirty ? copies.get(child) : value;
        try {
          Object.defineProperty(copy, key, { value: shown, writable: true, configurable: true, enumerable });
        } catch {
          // A key the blank copy refuses (an array's `length` is set by its elements).
        }
      }
      if (node.command) this.#commands.mask(copy, MASK);
    }
    const top = nodes.get(root);
    return ((top && copies.get(top)) as E | undefined) ?? root;
  }

  /** Read the own fields of `value` once (getters included), and whether it is a credential command. */
  #read(value: object, nodes: Map<object, ScrubNode>): ScrubNode {
    const node: ScrubNode = { value, fields: [], parents: [], dirty: false, command: false, visited: false };
    nodes.set(value, node);
    let keys: PropertyKey[] = [];
    try {
      keys = Reflect.ownKeys(value);
      node.prototype = Object.getPrototypeOf(value);
    } catch {
      // A hostile proxy: nothing to read.
    }
    const isArray = Array.isArray(value);
    for (const key of keys) {
      if (isArray && key === 'length') continue;
      try {
        const enumerable = Object.getOwnPropertyDescriptor(value, key)?.enumerable ?? true;
        node.fields.push({ key, value: (value as Record<PropertyKey, unknown>)[key], enumerable });
      } catch {
        // A getter that throws: the copy goes without it.
      }
    }
    if (this.#commands.enabled) {
      // `mask` rewrites the probe, never `value`.
      const probe: { name?: unknown; args?: unknown } = {};
      try {
        ({ name: probe.name, args: probe.args } = value as typeof probe);
      } catch {
        // Getters that throw: not a command.
      }
      node.command = this.#commands.mask(probe, MASK);
      if (node.command) node.dirty = true;
    }
    return node;
  }

  /** Never shows the secrets it holds. */
  toJSON(): string {
    return `Scrubber(${this.#secrets.length} secrets)`;
  }

  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toJSON();
  }
}

/** How deep `Scrubber.error` follows nested objects (causes of causes, `command.args`...). */
const MAX_ERROR_DEPTH = 20;

/** One object reached from the error, as `Scrubber.error` read it. */
interface ScrubNode {
  readonly value: object;
  prototype?: object | null;
  /** Own fields, read once; strings already scrubbed after the first pass. */
  readonly fields: { key: PropertyKey; value: unknown; enumerable: boolean; child?: ScrubNode }[];
  /** The objects holding this one. */
  readonly parents: ScrubNode[];
  /** Holds a secret, or reaches an object that does: copied. */
  dirty: boolean;
  /** A credential command (`{ name: 'auth', args }`): its copy's `args` are masked. */
  command: boolean;
  visited: boolean;
}

/** An empty object standing in for `node.value`: same prototype; an array, a native error where it was one. */
function blankCopy(node: ScrubNode): object {
  const { value } = node;
  const prototype = node.prototype === undefined ? Object.prototype : node.prototype;
  if (Array.isArray(value)) {
    const copy = new Array<unknown>(value.length);
    if (prototype !== Array.prototype) Object.setPrototypeOf(copy, prototype);
    return copy;
  }
  if (types.isNativeError(value)) {
    // A real error object (inspect, `Error.isError` and loggers treat it as one), with none of its own fields yet.
    const copy = new Error();
    for (const key of Reflect.ownKeys(copy)) Reflect.deleteProperty(copy, key);
    Object.setPrototypeOf(copy, prototype);
    return copy;
  }
  return Object.create(prototype) as object;
}

/** `error` with the secrets of `urls` removed from it and all it holds, as a copy (see `Scrubber.error`). */
export function scrubError<E>(error: E, urls: readonly (string | undefined)[]): E {
  return new Scrubber(urls).error(error);
}

/** `text` with the secrets of `url` (and the URL itself, redacted) scrubbed out. */
export function scrubSecrets(text: string, url: string): string {
  return new Scrubber([url]).scrub(text.split(url).join(redactUrl(url)));
}
