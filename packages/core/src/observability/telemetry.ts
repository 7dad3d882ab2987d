/**
 * OpenTelemetry, when `@opentelemetry/api` is installed (an optional peer): W3C trace context is
 * injected into message headers on send and extracted on receive; a PRODUCER span per send and a
 * CONSUMER span per processed job follow the messaging semantic conventions; counters and a
 * duration histogram are recorded on the `queuekit` meter. Without the package, all of it is a no-op.
 *
 * The types below are the few structural pieces used, so core has no dependency on the package.
 */
import { errorMessage } from '../errors.js';
import { capErrorText } from '../error-text.js';

interface Span {
  spanContext(): { traceId: string; spanId: string };
  isRecording(): boolean;
  setAttribute(key: string, value: string | number | boolean): Span;
  setStatus(status: { code: number; message?: string }): Span;
  recordException(error: { name: string; message: string; stack?: string }): void;
  end(): void;
}
interface Context {
  readonly __brand?: 'otel-context';
}
interface OtelApi {
  context: { active(): Context; with<R>(ctx: Context, fn: () => R): R };
  propagation: {
    fields(): string[];
    inject(ctx: Context, carrier: Record<string, string>): void;
    extract(ctx: Context, carrier: Record<string, string>): Context;
  };
  trace: {
    getTracer(
      name: string,
      version?: string,
    ): {
      startSpan(
        name: string,
        options: { kind: number; attributes?: Record<string, string | number> },
        ctx?: Context,
      ): Span;
    };
    setSpan(ctx: Context, span: Span): Context;
    /** The global provider: the API's proxy, whose `getDelegateTracer` is undefined until an SDK registers one. */
    getTracerProvider(): { getDelegateTracer?(name: string): unknown };
  };
  metrics: {
    getMeter(name: string): {
      createCounter(
        name: string,
        options?: { unit?: string; description?: string },
      ): {
        add(value: number, attributes?: Record<string, string>): void;
      };
      createHistogram(
        name: string,
        options?: { unit?: string; description?: string },
      ): {
        record(value: number, attributes?: Record<string, string>): void;
      };
    };
  };
  SpanKind: { PRODUCER: number; CONSUMER: number };
  SpanStatusCode: { ERROR: number };
}

let loading: Promise<OtelApi | undefined> | undefined;
let loaded: OtelApi | undefined;

/** Load `@opentelemetry/api` once; undefined when it is not installed. */
export function loadOtel(): Promise<OtelApi | undefined> {
  loading ??= import('@opentelemetry/api' as string).then(
    (mod: unknown) => {
      // The ESM build's default export lacks the enums (SpanKind); the namespace has everything.
      const ns = mod as Partial<OtelApi> & { default?: OtelApi };
      loaded = (ns.SpanKind ? ns : ns.default) as OtelApi;
      return loaded;
    },
    () => undefined,
  );
  return loading;
}

const TRACER = 'queuekit';

/** Whether `@opentelemetry/api` is loaded: without it, no span is opened and no context is carried. */
export function tracing(): boolean {
  return loaded !== undefined;
}

/** Whether a job's CONSUMER span would be more than a no-op: the API is loaded and something is registered. */
export function traced(): boolean {
  return loaded !== undefined && !untraced(loaded);
}

/** A PRODUCER span around a send; the trace context is injected into `headers`. */
export function startSendSpan(
  queue: string,
  provider: string,
  headers: Record<string, string>,
): Span | undefined {
  const api = loaded;
  // Nothing registered: the span would not record and there is nothing to inject (no span per message).
  if (!api || untraced(api)) return undefined;
  const span = api.trace.getTracer(TRACER).startSpan(`send ${queue}`, {
    kind: api.SpanKind.PRODUCER,
    attributes: {
      'messaging.system': provider,
      'messaging.destination.name': queue,
      'messaging.operation.name': 'send',
      'messaging.operation.type': 'send',
    },
  });
  // Without an SDK (no propagator, a non-recording span) there is nothing to carry: skip the context work.
  if (api.propagation.fields().length > 0) {
    const carrier: Record<string, string> = {};
    api.propagation.inject(api.trace.setSpan(api.context.active(), span), carrier);
    for (const [key, value] of Object.entries(carrier)) if (headers[key] === undefined) headers[key] = value;
  }
  return span.isRecording() ? span : undefined;
}

/** Run `fn` inside a CONSUMER span whose parent is the context carried in `headers`. */
export async function withProcessSpan<R>(
  queue: string,
  provider: string,
  job: { id: string; attempt: number },
  headers: Readonly<Record<string, string>>,
  fn: () => Promise<R>,
): Promise<R> {
  const api = loaded;
  if (!api || untraced(api)) return fn();
  const propagating = api.propagation.fields().length > 0;
  const parent = propagating
    ? api.propagation.extract(api.context.active(), { ...headers })
    : api.context.active();
  const span = api.trace.getTracer(TRACER).startSpan(
    `process ${queue}`,
    {
      kind: api.SpanKind.CONSUMER,
      attributes: {
        'messaging.system': provider,
        'messaging.destination.name': queue,
        'messaging.operation.name': 'process',
        'messaging.operation.type': 'process',
        'messaging.message.id': job.id,
        'queuekit.attempt': job.attempt,
      },
    },
    parent,
  );
  // No SDK registered: a non-recording span and nothing to propagate, so skip the context switch.
  if (!propagating && !span.isRecording()) return fn();
  try {
    return await api.context.with(api.trace.setSpan(parent, span), fn);
  } catch (error) {
    const message = capErrorText(errorMessage(error));
    const stack = (error as Error)?.stack;
    span.recordException({
      name: (error as Error)?.name ?? 'Error',
      message,
      ...(stack === undefined ? {} : { stack: capErrorText(stack) }),
    });
    span.setStatus({ code: api.SpanStatusCode.ERROR, message });
    throw error;
  } finally {
    span.end();
  }
}

/**
 * The API is installed but nothing is registered (no tracer provider behind its proxy, no propagator): the
 * span would be a non-recording one and there is no context to carry, so `fn` runs as it would then.
 */
function untraced(api: OtelApi): boolean {
  const provider = api.trace.getTracerProvider();
  return (
    typeof provider.getDelegateTracer === 'function' &&
    provider.getDelegateTracer(TRACER) === undefined &&
    api.propagation.fields().length === 0
  );
}

/** OpenTelemetry instruments of one queue, or no-ops. */
export interface OtelInstruments {
  count(
    event:
      | 'sent'
      | 'completed'
      | 'failed'
      | 'retried'
      | 'dead-lettered'
      | 'stalled'
      | 'lock-extended'
      | 'lock-lost',
  ): void;
  duration(ms: number, outcome: 'completed' | 'failed'): void;
}

/** Instruments on the `queuekit` meter, created once the API is loaded. */
export function otelInstruments(queue: string, provider: () => string): OtelInstruments {
  let made:
    | {
        counter: { add(value: number, attributes?: Record<string, string>): void };
        histogram: { record(value: number, attributes?: Record<string, string>): void };
      }
    | undefined;
  const get = () => {
    if (made || !loaded) return made;
    const meter = loaded.metrics.getMeter(TRACER);
    made = {
      counter: meter.createCounter('queuekit.jobs', { description: 'Job lifecycle events by outcome' }),
      histogram: meter.createHistogram('messaging.process.duration', {
        unit: 's',
        description: 'Handler duration',
      }),
    };
    return made;
  };
  // One attribute set per event or outcome (made again only if the provider's name changes): recorded per job.
  type Sets = Map<string, { system: string; attributes: Record<string, string> }>;
  const events: Sets = new Map();
  const outcomes: Sets = new Map();
  const attributes = (sets: Sets, key: string, value: string) => {
    const system = provider();
    const known = sets.get(value);
    if (known?.system === system) return known.attributes;
    const made = Object.freeze({
      'messaging.system': system,
      'messaging.destination.name': queue,
      [key]: value,
    });
    sets.set(value, { system, attributes: made });
    return made;
  };
  return {
    count: (event) => get()?.counter.add(1, attributes(events, 'queuekit.event', event)),
    duration: (ms, outcome) =>
      get()?.histogram.record(ms / 1000, attributes(outcomes, 'queuekit.outcome', outcome)),
  };
}
