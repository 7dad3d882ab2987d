import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createMemoryDriver,
  createQueue,
  MAX_ERROR_TEXT,
  MemoryBroker,
  UnrecoverableError,
} from '../src/index.js';
import { until } from './helpers.js';

const spans = new InMemorySpanExporter();

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
});

afterAll(() => {
  trace.disable();
  propagation.disable();
  context.disable();
});

describe('error text from handlers is bounded', () => {
  it('caps the error kept in dead letters, job records, the dead-lettered event and span events', async () => {
    const queue = createQueue<null>({
      name: 'capped-errors',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
    });
    const huge = 'e'.repeat(200_000);
    const events: string[] = [];
    queue.on('dead-lettered', (event) => events.push(event.error ?? ''));
    const id = await queue.send('boom', null);
    queue.process(async () => {
      throw new UnrecoverableError(huge);
    });
    const [dead] = await until(
      async () => {
        const listed = await queue.deadLetters.list();
        return listed.length > 0 ? listed : undefined;
      },
      'the dead letter',
      5_000,
    );
    const record = await until(
      async () => {
        const job = await queue.getJob(id);
        return job?.state === 'failed' ? job : undefined;
      },
      'the failed job record',
      5_000,
    );
    await queue.close();
    const bound = MAX_ERROR_TEXT + 64; // the cut marker says how much went
    expect(dead?.error?.length).toBeLessThanOrEqual(bound);
    expect(dead?.error?.startsWith('eeee')).toBe(true);
    expect(record.error?.length).toBeLessThanOrEqual(bound);
    expect(events).toHaveLength(1);
    expect(events[0]?.length).toBeLessThanOrEqual(bound);
    const processSpan = spans.getFinishedSpans().find((span) => span.name === 'process capped-errors');
    const exception = processSpan?.events.find((event) => event.name === 'exception');
    const message = String(exception?.attributes?.['exception.message'] ?? '');
    expect(message.length).toBeGreaterThan(0);
    expect(message.length).toBeLessThanOrEqual(bound);
    expect(String(exception?.attributes?.['exception.stacktrace'] ?? '').length).toBeLessThanOrEqual(bound);
  });
});
