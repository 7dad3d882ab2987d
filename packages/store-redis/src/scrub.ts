/**
 * Credential commands in ioredis errors. The BullMQ adapter has the same small walker: packages
 * import only core and their own client. Known secrets are removed by the core's `Scrubber`.
 */
const REDACTED = '***';
/** Redis commands whose arguments carry credentials. */
const CREDENTIAL_COMMANDS = new Set(['auth', 'hello', 'migrate', 'acl', 'config']);

/**
 * Replace the arguments of credential commands (`AUTH`, `HELLO`...) that ioredis attaches to its
 * errors as `command.args`, in the error and everything it links to (`cause`, `errors`, ioredis's
 * `previousErrors` / `lastNodeError`), in place. This needs no knowledge of the password; the
 * store also passes errors through the core's `Scrubber`, which removes the known secrets from
 * every string. Returns the same error.
 */
export function redactCredentialCommands<E>(error: E): E {
  const seen = new Set<object>();
  const visit = (value: unknown, depth: number) => {
    if (typeof value !== 'object' || value === null || seen.has(value) || depth > 20) return;
    seen.add(value);
    const record = value as Record<string, unknown>;
    redactCommand(record.command);
    for (const field of ['cause', 'previousErrors', 'lastNodeError', 'errors']) {
      const linked = record[field];
      if (Array.isArray(linked)) for (const item of linked) visit(item, depth + 1);
      else visit(linked, depth + 1);
    }
  };
  visit(error, 0);
  return error;
}

function redactCommand(command: unknown): void {
  if (typeof command !== 'object' || command === null) return;
  const { name, args } = command as { name?: unknown; args?: unknown };
  if (typeof name !== 'string' || !CREDENTIAL_COMMANDS.has(name.toLowerCase()) || !Array.isArray(args))
    return;
  try {
    Object.defineProperty(command, 'args', {
      value: args.map(() => REDACTED),
      writable: true,
      configurable: true,
      enumerable: Object.getOwnPropertyDescriptor(command, 'args')?.enumerable ?? true,
    });
  } catch {
    // A frozen object: nothing to do but leave it (ioredis errors are not frozen).
  }
}
