import { Scrubber } from '@queuekit/core';

/** Masks the arguments of Redis credential commands (`AUTH`, `HELLO`...) wherever an error holds them. */
const credentials = new Scrubber([], { credentialCommands: true });

/**
 * A copy of `error` with the arguments of credential commands that ioredis attaches to its errors as
 * `command.args` masked, in the error and everything it links to (`cause`, `errors`, ioredis's
 * `previousErrors` / `lastNodeError`): the core's `Scrubber` with `credentialCommands`, which needs no
 * knowledge of the password. The store also passes errors through a `Scrubber` of its URL, which removes
 * the known secrets from every string. The caller's error is not changed; use the returned one.
 */
export function redactCredentialCommands<E>(error: E): E {
  return credentials.error(error);
}
