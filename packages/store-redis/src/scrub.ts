/**
 * Credential scrubbing for ioredis errors. The BullMQ adapter has the same helper: packages import
 * only core and their own client, and core has no error walker yet (see the board).
 */
const REDACTED = '***';
/** Redis commands whose arguments carry credentials. */
const CREDENTIAL_COMMANDS = new Set(['auth', 'hello', 'migrate', 'acl', 'config']);

/**
 * Remove credentials from an error and everything it links to (`cause`, `errors`, ioredis's
 * `previousErrors` / `lastNodeError`), in place: the arguments of AUTH / HELLO commands that
 * ioredis attaches as `command.args`, and any occurrence of the given secrets in messages and
 * stacks. Returns the same error.
 */
export function scrubError<E>(error: E, secrets: readonly string[] = []): E {
  const wanted = secrets.filter((secret) => secret.length > 0);
  const forms = [...new Set(wanted.flatMap((secret) => [secret, encodeURIComponent(secret)]))];
  const seen = new Set<object>();
  const visit = (value: unknown, depth: number) => {
    if (typeof value !== 'object' || value === null || seen.has(value) || depth > 20) return;
    seen.add(value);
    const record = value as Record<string, unknown>;
    scrubCommand(record.command);
    for (const field of ['message', 'stack']) {
      const text = record[field];
      if (typeof text === 'string' && forms.some((form) => text.includes(form))) {
        setField(
          record,
          field,
          forms.reduce((out, form) => out.split(form).join(REDACTED), text),
        );
      }
    }
    for (const field of ['cause', 'previousErrors', 'lastNodeError', 'errors']) {
      const linked = record[field];
      if (Array.isArray(linked)) for (const item of linked) visit(item, depth + 1);
      else visit(linked, depth + 1);
    }
  };
  visit(error, 0);
  return error;
}

function scrubCommand(command: unknown): void {
  if (typeof command !== 'object' || command === null) return;
  const { name, args } = command as { name?: unknown; args?: unknown };
  if (typeof name !== 'string' || !CREDENTIAL_COMMANDS.has(name.toLowerCase()) || !Array.isArray(args))
    return;
  setField(
    command as Record<string, unknown>,
    'args',
    args.map(() => REDACTED),
  );
}

function setField(target: Record<string, unknown>, field: string, value: unknown): void {
  try {
    const enumerable = Object.getOwnPropertyDescriptor(target, field)?.enumerable ?? true;
    Object.defineProperty(target, field, { value, writable: true, configurable: true, enumerable });
  } catch {
    // A frozen object: nothing to do but leave it (ioredis errors are not frozen).
  }
}
