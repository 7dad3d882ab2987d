import {
  type Delivery,
  type Driver,
  type DriverApiVersion,
  type NativeWorkflows,
  SUPPORTED_DRIVER_API_VERSIONS,
} from '../driver.js';
import { UnsupportedFeatureError } from '../errors.js';
import { type ClassifyContext, classifyError } from './classify.js';
import { isKitDelivery } from './delivery.js';

const GUARDED = Symbol.for('queuekit.guarded-driver');

/** The asynchronous members of a driver, a delivery and the native workflows: each is guarded. */
const DRIVER_CALLS = new Set<PropertyKey>([
  'send',
  'receive',
  'stats',
  'listDeadLetters',
  'redriveDeadLetters',
  'purgeDeadLetters',
  'peek',
  'deleteQueue',
  'close',
]);
const DELIVERY_CALLS = new Set<PropertyKey>([
  'ack',
  'ackWith',
  'deadLetter',
  'release',
  'defer',
  'extendLock',
  'progress',
  'log',
]);
const WORKFLOW_CALLS = new Set<PropertyKey>(['fanOut', 'setRateLimit']);
const SCHEDULE_CALLS = new Set<PropertyKey>(['upsert', 'remove', 'list']);
const JOB_CALLS = new Set<PropertyKey>(['get']);

/** Options of {@link guardDriver}. */
export interface GuardDriverOptions {
  /** Applied to an untyped error before it is wrapped (a `Scrubber.error` holding the queue URL's secrets). */
  readonly scrub?: <E>(error: E) => E;
}

/**
 * `driver` with every asynchronous call (its own, its deliveries', its native workflows') made to reject
 * only with queuekit errors: an error that is not one goes through `driver.classifyError`, else becomes a
 * `DriverError` holding it as `cause`. A synchronous throw becomes a rejection. Everything else (capabilities,
 * getters such as `lockedUntil`, vendor extras) reads through unchanged; guarding twice guards once.
 * A driver declaring a contract version this core does not speak is an `UnsupportedFeatureError`.
 */
export function guardDriver<D extends Driver>(driver: D, options: GuardDriverOptions = {}): D {
  if ((driver as { [GUARDED]?: unknown })[GUARDED] === true) return driver;
  const version: unknown = driver.apiVersion;
  if (typeof version === 'number' && !SUPPORTED_DRIVER_API_VERSIONS.includes(version as DriverApiVersion))
    throw new UnsupportedFeatureError(
      `driver contract version ${version}`,
      String(driver.provider),
      `this core speaks versions ${SUPPORTED_DRIVER_API_VERSIONS.join(' and ')}; upgrade @queuekit/core`,
    );
  const context: ClassifyContext = {
    provider: driver.provider,
    classify: driver.classifyError
      ? (error, operation) => driver.classifyError?.(error, operation)
      : undefined,
    scrub: options.scrub,
  };
  // A kit delivery already rejects only with queuekit errors: it needs no wrapper.
  const guardDelivery = (delivery: Delivery) =>
    isKitDelivery(delivery) ? delivery : guard(delivery, DELIVERY_CALLS, context, 'delivery.');
  const guardAll = (deliveries: unknown) => (deliveries as Delivery[]).map(guardDelivery);
  // One wrapper per call (re-made only if the property changes): reads on the hot path allocate nothing.
  const wrappers = new Map<PropertyKey, { value: unknown; wrapper: unknown }>();
  let guardedWorkflows: { value: unknown; wrapper: unknown } | undefined;
  return new Proxy(driver, {
    get(target, property) {
      if (property === GUARDED) return true;
      const value = Reflect.get(target, property, target);
      if (property === 'workflows' && value) {
        if (guardedWorkflows?.value !== value)
          guardedWorkflows = { value, wrapper: guardWorkflows(value as NativeWorkflows, context) };
        return guardedWorkflows.wrapper;
      }
      if (typeof value !== 'function' || !DRIVER_CALLS.has(property)) return value;
      const cached = wrappers.get(property);
      if (cached?.value === value) return cached.wrapper;
      const operation = String(property);
      const wrapper =
        property === 'receive'
          ? (...args: unknown[]) => call(context, operation, () => value.apply(target, args)).then(guardAll)
          : (...args: unknown[]) => call(context, operation, () => value.apply(target, args));
      wrappers.set(property, { value, wrapper });
      return wrapper;
    },
  });
}

function guardWorkflows(workflows: NativeWorkflows, context: ClassifyContext): NativeWorkflows {
  const guarded = guard(workflows, WORKFLOW_CALLS, context, 'workflows.');
  return new Proxy(guarded, {
    get(target, property) {
      const value = Reflect.get(target, property);
      if (property === 'schedules' && value)
        return guard(value as object, SCHEDULE_CALLS, context, 'schedules.');
      if (property === 'jobs' && value) return guard(value as object, JOB_CALLS, context, 'jobs.');
      return value;
    },
  });
}

/** `target` with the functions named in `calls` guarded; everything else read from `target` itself. */
function guard<T extends object>(
  target: T,
  calls: ReadonlySet<PropertyKey>,
  context: ClassifyContext,
  prefix: string,
): T {
  // One wrapper per function (re-made only if the property changes): reads allocate nothing.
  const wrappers = new Map<PropertyKey, { value: unknown; wrapper: unknown }>();
  return new Proxy(target, {
    get(object, property) {
      const value = Reflect.get(object, property, object);
      if (typeof value !== 'function' || !calls.has(property)) return value;
      const cached = wrappers.get(property);
      if (cached?.value === value) return cached.wrapper;
      const operation = `${prefix}${String(property)}`;
      const wrapper = (...args: unknown[]) => call(context, operation, () => value.apply(object, args));
      wrappers.set(property, { value, wrapper });
      return wrapper;
    },
  });
}

async function call<T>(context: ClassifyContext, operation: string, work: () => T | Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw classifyError(error, operation, context);
  }
}
