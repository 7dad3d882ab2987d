import { redactUrl } from '@queuekit/core';

/** Remove the URL, its password and its user info from `text` (error messages may echo them). */
export function scrubSecrets(text: string, url: string): string {
  let out = text.split(url).join(redactUrl(url));
  try {
    const parsed = new URL(url);
    for (const secret of [parsed.password, decodeURIComponent(parsed.password)]) {
      if (secret.length >= 3) out = out.split(secret).join('***');
    }
  } catch {
    // An unparsable URL was refused by option validation already.
  }
  return out;
}
