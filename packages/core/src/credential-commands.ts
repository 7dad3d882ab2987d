/**
 * Client commands whose arguments are credentials (Redis `AUTH user pass`, `HELLO 3 AUTH user pass`...).
 * Clients such as ioredis attach the failed command to their errors (`error.command = { name, args }`),
 * so the password may sit in an error whose URL the scrubber was never told about (a password set in
 * code, an ACL change). Replacing the arguments of these commands needs no knowledge of the secret.
 */

/** Redis commands whose arguments may carry credentials. */
export const REDIS_CREDENTIAL_COMMANDS: readonly string[] = ['auth', 'hello', 'migrate', 'acl', 'config'];

/** `true` for {@link REDIS_CREDENTIAL_COMMANDS}, or the command names to mask (any case). */
export type CredentialCommandOption = boolean | readonly string[];

/** Masks the arguments of `{ name, args }` command objects whose name is one of a set. */
export class CredentialCommands {
  readonly #names: ReadonlySet<string>;

  constructor(option: CredentialCommandOption | undefined) {
    const names = option === true ? REDIS_CREDENTIAL_COMMANDS : option === false || !option ? [] : option;
    this.#names = new Set(names.map((name) => name.toLowerCase()));
  }

  get enabled(): boolean {
    return this.#names.size > 0;
  }

  /** When `value` is such a command object, replace every argument by `mask` (in place); true when it did. */
  mask(value: object, mask: string): boolean {
    let name: unknown;
    let args: unknown;
    try {
      ({ name, args } = value as { name?: unknown; args?: unknown });
    } catch {
      return false;
    }
    if (typeof name !== 'string' || !this.#names.has(name.toLowerCase()) || !Array.isArray(args))
      return false;
    try {
      Object.defineProperty(value, 'args', {
        value: args.map(() => mask),
        writable: true,
        configurable: true,
        enumerable: Object.getOwnPropertyDescriptor(value, 'args')?.enumerable ?? true,
      });
      return true;
    } catch {
      return false; // A frozen object (client errors are not frozen).
    }
  }
}
