/** Replace the password (and secret-looking query values) of a URL or connection string with `***`. */
export function redactUrl(url: string): string {
  if (/^\s*Endpoint=/i.test(url)) {
    return url.replace(/(SharedAccessKey|SharedAccessSignature|AccountKey|Password)=([^;]*)/gi, '$1=***');
  }
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const key of [...parsed.searchParams.keys()]) {
      if (/secret|password|token|key|signature|credential/i.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return url.replace(/\/\/([^:/@]*):([^@/]*)@/, '//$1:***@');
  }
}
