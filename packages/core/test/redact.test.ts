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

describe('a queue never shows its credentials', () => {
  it('masks the URL in toString, JSON and util.inspect (even with hidden fields)', async () => {
    const { inspect } = await import('node:util');
    const { createQueue } = await import('../src/index.js');
    const queue = createQueue({ name: 'secret', url: `amqp://guest:${SECRET}@127.0.0.1:1/vhost` });
    for (const shown of [
      String(queue),
      JSON.stringify(queue),
      inspect(queue, { showHidden: true, depth: 10 }),
    ]) {
      expect(shown).not.toContain(SECRET);
    }
    expect(String(queue)).toBe('Queue(secret, amqp://guest:***@127.0.0.1:1/vhost)');
  });
});
