import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import {
  BasicTracerProvider,
  InMemorySpanExporter,
  SimpleSpanProcessor,
} from '@opentelemetry/sdk-trace-base';
import { expect, it } from 'vitest';
import { deferred, type Harness } from '../harness.js';

/** W3C trace context crosses the broker in message headers. */
export function tracingCases(h: Harness): void {
  it('carries the W3C trace context from the sender through the broker into the handler span', async () => {
    const exporter = new InMemorySpanExporter();
    context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
    propagation.setGlobalPropagator(new W3CTraceContextPropagator());
    trace.setGlobalTracerProvider(
      new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }),
    );
    try {
      const name = h.queueName();
      const queue = await h.queue<null>(name);
      const parent = trace.getTracer('conformance').startSpan('incoming request');
      const traceId = parent.spanContext().traceId;
      await context.with(trace.setSpan(context.active(), parent), () => queue.send('traced', null));
      parent.end();
      const seen = deferred<{ active?: string; header?: string }>();
      queue.process(async (job) => {
        seen.resolve({
          active: trace.getActiveSpan()?.spanContext().traceId,
          header: job.headers.traceparent,
        });
      });
      const { active, header } = await seen.promise;
      expect(header).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-0[01]$`));
      expect(active).toBe(traceId);
      const names = exporter.getFinishedSpans().map((span) => `${span.name}:${span.spanContext().traceId}`);
      expect(names).toContain(`send ${name}:${traceId}`);
    } finally {
      trace.disable();
      propagation.disable();
      context.disable();
    }
  });
}
