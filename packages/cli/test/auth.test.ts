import { describe, expect, it } from 'vitest';
import { queueName, runCli } from './helpers.js';

// A wrong password is a refusal, said as such and at once: not "no answer from the broker" after --timeout.
const WRONG = 'wr0ng-Pa55-cli';
const cases = [
  { label: 'RabbitMQ', url: `amqp://guest:${WRONG}@127.0.0.1:5672` },
  { label: 'Redis (BullMQ)', url: `redis://qk-nobody:${WRONG}@127.0.0.1:6379` },
];

describe('wrong credentials', () => {
  for (const { label, url } of cases) {
    it(`${label}: stats exits 1 with "refused the credentials" [ERR_AUTH], well before --timeout, without the password`, async () => {
      const result = await runCli(['stats', queueName(), '--timeout', '20000'], { QUEUE_URL: url });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(/^queuekit: the broker .* refused the credentials: .*\[ERR_AUTH\]\n$/);
      expect(result.stderr).not.toContain(WRONG);
      // Node start-up included; the refusal itself takes well under 2 s.
      expect(result.ms, `took ${result.ms} ms`).toBeLessThan(4000);
    });
  }
});
