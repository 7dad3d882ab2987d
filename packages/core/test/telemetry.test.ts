import { trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import {
  AggregationTemporality,
  InMemoryMetricExporter,
  MeterProvider,
  PeriodicExportingMetricReader,
} from '@opentelemetry/sdk-metrics';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { context, metrics, propagation } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMemoryDriver, createQueue, MemoryBroker } from '../src/index.js';
import { until } from './helpers.js';

const spans = new InMemorySpanExporter();
const metricExporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
const reader = new PeriodicExportingMetricReader({ exporter: metricExporter, exportIntervalMillis: 60_000 });

beforeAll(() => {
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(
    new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }),
  );
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }));
});

afterAll(() => {
  trace.disable();
  metrics.disable();
  propagation.disable();
  context.disable();
});

describe('OpenTelemetry', () => {
  it('carries the trace id from the sender through the broker to the handler, with PRODUCER and CONSUMER spans', async () => {
    const queue = createQueue<null>({
      name: 'traced',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
    });
    const tracer = trace.getTracer('test');
    const parent = tracer.startSpan('http POST /reports');
    const sentTraceId = parent.spanContext().traceId;
    await context.with(trace.setSpan(context.active(), parent), () => queue.send('traced', null));
    parent.end();
    const seen = await new Promise<{ traceId?: string; traceparent?: string }>((resolve) =>
      queue.process(async (job) =>
        resolve({
          traceId: trace.getActiveSpan()?.spanContext().traceId,
          traceparent: job.headers.traceparent,
        }),
      ),
    );
    await queue.close();
    expect(seen.traceId).toBe(sentTraceId);
    expect(seen.traceparent).toContain(sentTraceId);
    const finished = spans.getFinishedSpans();
    const send = finished.find((s) => s.name === 'send traced');
    const process = finished.find((s) => s.name === 'process traced');
    expect(send?.spanContext().traceId).toBe(sentTraceId);
    expect(process?.spanContext().traceId).toBe(sentTraceId);
    expect(process?.attributes['messaging.system']).toBe('memory');
  });

  it('exports job counters and the duration histogram, and queue.metrics() counts the same', async () => {
    const queue = createQueue<{ fail: boolean }>({
      name: 'metered',
      driver: createMemoryDriver({ broker: new MemoryBroker() }),
      ownsDriver: true,
    });
    let settled = 0;
    queue.on('completed', () => settled++);
    queue.on('dead-lettered', () => settled++);
    queue.process(async (job) => {
      if (job.data.fail) throw new Error('nope');
    });
    await queue.send('ok', { fail: false });
    await queue.send('bad', { fail: true }, { maxAttempts: 2, backoff: { type: 'fixed', delay: 10 } });
    await until(() => settled >= 2, 'both jobs settled');
    const m = await queue.metrics();
    expect(m).toMatchObject({
      completed: 1,
      failed: 2,
      retried: 1,
      deadLetteredTotal: 1,
      sent: 2,
      waiting: 0,
      deadLettered: 1,
    });
    expect(m.processingDuration.count).toBe(3);
    expect(m.processingDuration.buckets.at(-1)).toEqual({ le: Number.POSITIVE_INFINITY, count: 3 });
    await reader.forceFlush();
    const exported = metricExporter.getMetrics().flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics));
    const jobs = exported.find((metric) => metric.descriptor.name === 'queuekit.jobs');
    const completedPoint = jobs?.dataPoints.find(
      (p) =>
        p.attributes['queuekit.event'] === 'completed' &&
        p.attributes['messaging.destination.name'] === 'metered',
    );
    expect(completedPoint?.value).toBe(1);
    expect(exported.some((metric) => metric.descriptor.name === 'messaging.process.duration')).toBe(true);
    await queue.close();
  });
});
