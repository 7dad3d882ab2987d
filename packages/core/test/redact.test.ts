import { describe, expect, it } from 'vitest';
import { redactUrl } from '../src/redact.js';

const SECRET = 'S3nt1nel-P4ss';

describe('redactUrl', () => {
  it('masks URL passwords and secret query values', () => {
    const out = redactUrl(`amqp://guest:${SECRET}@broker:5672/vhost?token=${SECRET}&region=eu`);
    expect(out).not.toContain(SECRET);
    expect(out).toContain('guest:***@broker');
    expect(out).toContain('region=eu');
  });

  it('masks Service Bus connection string keys', () => {
    const out = redactUrl(
      `Endpoint=sb://ns.servicebus.windows.net/;SharedAccessKeyName=root;SharedAccessKey=${SECRET}`,
    );
    expect(out).not.toContain(SECRET);
    expect(out).toContain('SharedAccessKeyName=root');
  });

  it('masks credentials in strings that do not parse as URLs', () => {
    expect(redactUrl(`redis://user:${SECRET}@[bad`)).not.toContain(SECRET);
  });
});
