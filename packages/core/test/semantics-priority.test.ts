import { describe, expect, it } from 'vitest';
import { type Capabilities, createMemoryDriver, createQueue, PriorityBands } from '../src/index.js';

const caps = (priority: Capabilities['priority']): Capabilities => ({
  maxDelayMs: 1000,
  priority,
  dedup: false,
  ordering: false,
  maxBatchSize: 10,
  lockRenewal: true,
  redelivery: 'timeout',
  deadLetter: 'emulated',
  maxPayloadBytes: 1024,
});

describe('PriorityBands', () => {
  it('emulates: ten queues, highest band first, band 0 the queue itself', () => {
    const bands = new PriorityBands({ capabilities: caps('emulated') }, 'jobs');
    expect(bands.emulated).toBe(true);
    expect(bands.queues).toEqual([
      'jobs-p9',
      'jobs-p8',
      'jobs-p7',
      'jobs-p6',
      'jobs-p5',
      'jobs-p4',
      'jobs-p3',
      'jobs-p2',
      'jobs-p1',
      'jobs',
    ]);
    expect(bands.queueOf(7)).toBe('jobs-p7');
    expect(bands.queueOf(0)).toBe('jobs');
    // A forged header outside 0-9 never names a band.
    expect(bands.queueOfMessage({ headers: { 'qk-priority': '12' } })).toBe('jobs');
    expect(bands.queueOfMessage({ headers: { 'qk-priority': '3' } })).toBe('jobs-p3');
  });

  it("uses the driver's band names", () => {
    const bands = new PriorityBands(
      { capabilities: caps('emulated'), priorityQueueName: (queue, band) => `${queue}.band${band}` },
      'jobs',
    );
    expect(bands.queues[0]).toBe('jobs.band9');
    expect(bands.queueOf(1)).toBe('jobs.band1');
  });

  it('is one band when priority is native, absent, or refused by a strict queue', () => {
    expect(new PriorityBands({ capabilities: caps('native') }, 'jobs').queues).toEqual(['jobs']);
    expect(new PriorityBands({ capabilities: caps('none') }, 'jobs').queues).toEqual(['jobs']);
    const strict = new PriorityBands({ capabilities: caps('emulated') }, 'jobs', true);
    expect(strict.queues).toEqual(['jobs']);
    expect(strict.queueOf(5)).toBe('jobs');
  });

  it('collects highest band first up to the limit, asking each band for the room left', async () => {
    const bands = new PriorityBands({ capabilities: caps('emulated') }, 'q');
    const asked: string[] = [];
    const got = await bands.collect(3, async (queue, room) => {
      asked.push(`${queue}:${room}`);
      return queue === 'q-p9' || queue === 'q-p4' ? [queue, queue] : [];
    });
    expect(got).toEqual(['q-p9', 'q-p9', 'q-p4']);
    expect(asked).toEqual(['q-p9:3', 'q-p8:1', 'q-p7:1', 'q-p6:1', 'q-p5:1', 'q-p4:1']);
    expect(await bands.sum(async (queue) => (queue === 'q' ? 2 : 1))).toBe(11);
  });

  it('is what a queue uses: peek lists higher bands first on an emulating driver', async () => {
    const driver = createMemoryDriver({ limitCapabilities: { priority: 'emulated' } });
    const queue = createQueue<number>({ name: `bands-${Date.now()}`, driver, ownsDriver: true });
    await queue.send('low', 1, { priority: 1 });
    await queue.send('high', 2, { priority: 8 });
    await queue.send('none', 3);
    expect((await queue.peek()).map((job) => job.name)).toEqual(['high', 'low', 'none']);
    await queue.close();
  });
});
