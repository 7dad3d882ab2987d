import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_QUEUE_PROPERTIES, loadConfigFile, parseIsoDuration } from '../src/config.js';

describe('Config.json (format of Microsoft emulator: learn.microsoft.com/azure/service-bus-messaging/overview-emulator)', () => {
  it('parses ISO 8601 durations as the emulator config uses them', () => {
    expect(parseIsoDuration('PT1M')).toBe(60_000);
    expect(parseIsoDuration('PT20S')).toBe(20_000);
    expect(parseIsoDuration('PT0.5S')).toBe(500);
    expect(parseIsoDuration('P1DT1H')).toBe(25 * 3_600_000);
    expect(() => parseIsoDuration('1 minute')).toThrow(/ISO 8601/);
  });

  it('reads queue properties, with Service Bus defaults for the missing ones', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sbemu-'));
    const file = join(dir, 'Config.json');
    writeFileSync(
      file,
      JSON.stringify({
        UserConfig: {
          Namespaces: [
            {
              Name: 'sbemulatorns',
              Queues: [
                {
                  Name: 'orders',
                  Properties: {
                    DeadLetteringOnMessageExpiration: true,
                    DefaultMessageTimeToLive: 'PT1H',
                    DuplicateDetectionHistoryTimeWindow: 'PT20S',
                    LockDuration: 'PT5S',
                    MaxDeliveryCount: 3,
                    RequiresDuplicateDetection: true,
                    RequiresSession: false,
                  },
                },
                { Name: 'plain' },
              ],
              Topics: [],
            },
          ],
          Logging: { Type: 'File' },
        },
      }),
    );
    const [orders, plain] = loadConfigFile(file);
    expect(orders).toEqual({
      name: 'orders',
      properties: {
        lockDurationMs: 5000,
        maxDeliveryCount: 3,
        requiresDuplicateDetection: true,
        duplicateDetectionWindowMs: 20_000,
        defaultMessageTimeToLiveMs: 3_600_000,
        deadLetteringOnMessageExpiration: true,
        requiresSession: false,
      },
    });
    expect(plain).toEqual({ name: 'plain', properties: DEFAULT_QUEUE_PROPERTIES });
  });
});
