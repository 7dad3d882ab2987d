import { afterEach, expect, it } from 'vitest';
import { Resources } from './helpers.js';

const resources = new Resources();
afterEach(() => resources.cleanup());

it('quorum: several drivers polling a brand-new queue at once (RabbitMQ may kill a connection with 541 noproc) never reject a receive', async () => {
  const drivers = await Promise.all([1, 2, 3, 4].map(() => resources.driver({ queueType: 'quorum' })));
  const failures: string[] = [];
  let drops = 0;
  for (const driver of drivers) driver.connection.on('disconnected', () => drops++);
  for (let round = 0; round < 15; round++) {
    const names = Array.from({ length: 4 }, (_, band) => resources.queue(`first-use-${round}-p${band}`));
    // Every driver declares each new queue and polls it at once, as the core's consumers poll priority bands.
    await Promise.all(
      drivers.flatMap((driver) =>
        names.map((name) =>
          driver
            .receive(name, { max: 5, waitMs: 0, lockMs: 1_000, signal: new AbortController().signal })
            .catch((error: unknown) => failures.push(`${name}: ${(error as Error).message}`)),
        ),
      ),
    );
  }
  expect(failures).toEqual([]);
  // Not asserted (it depends on the broker's timing), reported for whoever investigates the race.
  if (drops > 0) console.info(`connections RabbitMQ dropped during first use: ${drops}`);
});
