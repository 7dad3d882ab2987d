/**
 * Request/response operations on `<entity>/$management`, as documented in
 * https://learn.microsoft.com/azure/service-bus-messaging/service-bus-amqp-request-response
 * (operation names `com.microsoft:<op>`, body maps, `statusCode` 200/204 and error conditions).
 */
import rhea from 'rhea';
import type { AmqpMessage, Entity, StoredMessage } from './entity.js';
import { encodeForDelivery } from './wire.js';

/** A request as decoded by rhea. */
export interface ManagementRequest extends AmqpMessage {
  application_properties?: { operation?: string } & Record<string, unknown>;
  body?: Record<string, unknown>;
}

/** What the server sends back. */
export interface ManagementResponse {
  readonly status: number;
  readonly condition?: string;
  readonly description?: string;
  readonly body?: unknown;
}

/** A sequence number as sent by the SDK: a long, decoded as a number or as 8 big-endian bytes. */
export function toNumber(value: unknown): number {
  if (Buffer.isBuffer(value)) return Number(value.readBigInt64BE(0));
  if (typeof value === 'bigint') return Number(value);
  return Number(value);
}

function lockTokens(body: Record<string, unknown>): string[] {
  const raw = body['lock-tokens'];
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list.map((token) => Buffer.from(token as Uint8Array).toString('hex'));
}

function sequenceNumbers(body: Record<string, unknown>): number[] {
  const raw = body['sequence-numbers'];
  const list = Array.isArray(raw) ? raw : raw === undefined ? [] : [raw];
  return list.map(toNumber);
}

const lockLost: ManagementResponse = {
  status: 410,
  condition: 'com.microsoft:message-lock-lost',
  description:
    'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.',
};

function encodeMessage(message: StoredMessage, lockedUntil = 0): Buffer {
  return rhea.message.encode(encodeForDelivery(message, lockedUntil) as unknown as rhea.Message) as Buffer;
}

/** Handle one request against `entity`. `holder` finds the entity (queue or DLQ) holding a lock token. */
export function handleManagement(
  entity: Entity,
  request: ManagementRequest,
  holder: (token: string) => Entity,
): ManagementResponse {
  const operation = request.application_properties?.operation;
  const body = (request.body ?? {}) as Record<string, unknown>;
  const now = Date.now();
  switch (operation) {
    case 'com.microsoft:renew-lock': {
      // Message renew lock: body `lock-tokens` (uuid[]), response `expirations` (timestamp[]).
      const expirations: Date[] = [];
      for (const token of lockTokens(body)) {
        const until = holder(token).renew(token, now);
        if (until === undefined) return lockLost;
        expirations.push(new Date(until));
      }
      return { status: 200, body: { expirations } };
    }
    case 'com.microsoft:schedule-message': {
      // Schedule message: body `messages` (map[] with `message` binary), response `sequence-numbers`.
      const entries = (body.messages as Record<string, unknown>[] | undefined) ?? [];
      const numbers: number[] = [];
      for (const entry of entries) {
        const message = rhea.message.decode(entry.message as Buffer) as unknown as AmqpMessage;
        const at = message.message_annotations?.['x-opt-scheduled-enqueue-time'];
        const stored = entity.enqueue(message, now, at instanceof Date ? at.getTime() : toNumber(at));
        numbers.push(stored?.sequenceNumber ?? 0);
      }
      return { status: 200, body: { 'sequence-numbers': numbers } };
    }
    case 'com.microsoft:cancel-scheduled-message': {
      entity.cancelScheduled(sequenceNumbers(body));
      return { status: 200, body: {} };
    }
    case 'com.microsoft:peek-message': {
      // Peek: `from-sequence-number`, `message-count`; 204 when nothing is there.
      const from = toNumber(body['from-sequence-number'] ?? 0);
      const count = Math.max(1, toNumber(body['message-count'] ?? 1));
      const found = entity.peek(from, count);
      if (found.length === 0) return { status: 204, description: 'No messages' };
      return {
        status: 200,
        // Guess: a peeked message that is locked right now carries its `x-opt-locked-until`.
        body: {
          messages: found.map((message) => ({
            message: encodeMessage(
              message,
              message.lock && message.lock.until > now ? message.lock.until : 0,
            ),
          })),
        },
      };
    }
    case 'com.microsoft:receive-by-sequence-number': {
      const locked = entity.lockDeferred(sequenceNumbers(body), now);
      if (locked.length === 0) {
        return {
          status: 404,
          condition: 'com.microsoft:message-not-found',
          description: 'No deferred message with that sequence number',
        };
      }
      return {
        status: 200,
        body: {
          messages: locked.map(({ message, token }) => ({
            'lock-token': rhea.types.wrap_uuid(token),
            message: encodeMessage(message, message.lock?.until ?? 0),
          })),
        },
      };
    }
    case 'com.microsoft:update-disposition': {
      // Settlement by lock token, used when the receiving link is gone or for deferred messages.
      const status = body['disposition-status'];
      const properties = body['properties-to-modify'] as Record<string, unknown> | undefined;
      for (const token of lockTokens(body)) {
        const target = holder(token);
        let result: 'ok' | 'lock-lost';
        if (status === 'completed') result = target.complete(token, now);
        else if (status === 'abandoned') result = target.abandon(token, properties, now);
        else if (status === 'defered') result = target.defer(token, properties, now);
        else if (status === 'suspended') {
          const reason = body['deadletter-reason'];
          const description = body['deadletter-description'];
          result = target.deadLetter(
            token,
            {
              ...(typeof reason === 'string' ? { reason } : {}),
              ...(typeof description === 'string' ? { description } : {}),
              ...(properties ? { properties } : {}),
            },
            now,
          );
        } else
          return {
            status: 400,
            condition: 'com.microsoft:argument-error',
            description: `Unknown disposition ${String(status)}`,
          };
        if (result === 'lock-lost') return lockLost;
      }
      return { status: 200, body: {} };
    }
    default:
      return {
        status: 501,
        condition: 'amqp:not-implemented',
        description: `Operation ${String(operation)} is not implemented by this test server`,
      };
  }
}
