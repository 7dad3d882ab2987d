import type { QueuekitError } from './base.js';
import type {
  AdapterNotInstalledError,
  AuthenticationError,
  BrokerUnavailableError,
  DriverError,
  PartialSendError,
  UnknownSchemeError,
} from './broker.js';
import type {
  ConfigError,
  DecodeError,
  EncodeError,
  ForgedMessageError,
  PayloadTooLargeError,
  SchemaValidationError,
  UnsupportedFeatureError,
} from './input.js';
import type {
  LockLostError,
  QueueClosedError,
  RetryAfterError,
  TimeoutError,
  UnrecoverableError,
} from './runtime.js';

/** The class behind each code (a code shared by several classes maps to their common base). */
export interface ErrorClassByCode {
  ERR_QUEUEKIT: QueuekitError;
  ERR_CONFIG: ConfigError;
  ERR_PAYLOAD_TOO_LARGE: PayloadTooLargeError;
  ERR_UNSUPPORTED_FEATURE: UnsupportedFeatureError;
  ERR_SCHEMA_VALIDATION: SchemaValidationError;
  ERR_UNRECOVERABLE: UnrecoverableError;
  ERR_RETRY_AFTER: RetryAfterError;
  ERR_LOCK_LOST: LockLostError;
  ERR_QUEUE_CLOSED: QueueClosedError;
  ERR_ADAPTER_NOT_INSTALLED: AdapterNotInstalledError;
  ERR_UNKNOWN_SCHEME: UnknownSchemeError;
  ERR_DECODE: DecodeError;
  ERR_BROKER_UNAVAILABLE: BrokerUnavailableError;
  ERR_TIMEOUT: TimeoutError;
  ERR_ENCODE: EncodeError;
  ERR_PARTIAL_SEND: PartialSendError;
  ERR_FORGED_MESSAGE: ForgedMessageError;
  ERR_AUTH: AuthenticationError;
  ERR_DRIVER: DriverError;
}
