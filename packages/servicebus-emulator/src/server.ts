/**
 * The AMQP 1.0 server: the subset of the Service Bus wire protocol that `@azure/service-bus`
 * (7.9.x) uses for queues. Protocol reference:
 * https://learn.microsoft.com/azure/service-bus-messaging/service-bus-amqp-protocol-guide and
 * https://learn.microsoft.com/azure/service-bus-messaging/service-bus-amqp-request-response
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { AddressInfo, Server } from 'node:net';
import rhea from 'rhea';
import {
  DEFAULT_QUEUE_PROPERTIES,
  type QueueDefinition,
  type QueueProperties,
  loadConfigFile,
} from './config.js';
import { type AmqpMessage, type Consumer, Entity, type StoredMessage } from './entity.js';
import { acceptIncoming, rejectIncoming, settle } from './dispositions.js';
import { handleManagement, type ManagementRequest, type ManagementResponse } from './management.js';
import { encodeForDelivery, reorderGuid } from './wire.js';

/** Options of {@link ServiceBusEmulator}. */
export interface EmulatorOptions {
  /** TCP port; 0 (default) picks a free one. */
  readonly port?: number;
  /** Interface to bind. Default `127.0.0.1`. */
  readonly host?: string;
  /** Queues to create at start. */
  readonly queues?: readonly QueueDefinition[];
  /** A `Config.json` in the format of Microsoft's emulator; its queues are created at start. */
  readonly configFile?: string;
  /**
   * Create a queue on first use (attach). Real Service Bus answers `amqp:not-found` instead; this
   * is a test convenience (listed in the README's guesses and differences). Default true.
   */
  readonly autoCreateQueues?: boolean;
  /** Properties of auto-created queues, over the Service Bus defaults. */
  readonly defaultQueueProperties?: Partial<QueueProperties>;
  /**
   * Properties of auto-created queues whose name starts with a key, over `defaultQueueProperties`
   * (the longest matching prefix wins). E.g. `{ 'slow-': { lockDurationMs: 30_000 } }`.
   */
  readonly queuePropertiesByPrefix?: Readonly<Record<string, Partial<QueueProperties>>>;
  /**
   * Largest message accepted, advertised as the link's `max-message-size`: 256 KB on the Standard
   * tier, up to 100 MB on Premium (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas).
   */
  readonly maxMessageSizeBytes?: number;
  /**
   * Shared access keys (key name → key) a CBS token must be signed with: default the one key of
   * {@link ServiceBusEmulator.connectionString}; `false` accepts any token.
   */
  readonly sharedAccessKeys?: Readonly<Record<string, string>> | false;
  /** Period of the lock-expiry and scheduling sweep. Default 20 ms. */
  readonly tickMs?: number;
}

/** The key of Microsoft's emulator's connection string, which this server's connection string uses too. */
const DEFAULT_SHARED_ACCESS_KEYS: Readonly<Record<string, string>> = {
  RootManageSharedAccessKey: 'SAS_KEY_VALUE',
};

/**
 * Why a CBS token is refused (Service Bus's wording), or undefined when it is a SAS token
 * `SharedAccessSignature sr=<encoded audience>&sig=<encoded HMAC-SHA256>&se=<expiry s>&skn=<key name>`
 * signed over `<sr>\n<se>` with the named key, not expired.
 */
function checkSasToken(token: unknown, keys: Readonly<Record<string, string>>): string | undefined {
  const text = typeof token === 'string' ? token : Buffer.isBuffer(token) ? token.toString('utf8') : '';
  const match = /^SharedAccessSignature (.*)$/.exec(text);
  if (!match?.[1]) return 'InvalidSignature: The token is not a shared access signature.';
  const fields = new Map(
    match[1].split('&').map((pair) => {
      const at = pair.indexOf('=');
      return [pair.slice(0, at), pair.slice(at + 1)] as const;
    }),
  );
  const [sr, sig, se, skn] = ['sr', 'sig', 'se', 'skn'].map((field) => fields.get(field) ?? '');
  const key = keys[decodeURIComponent(skn ?? '')];
  if (key === undefined) return 'InvalidSignature: The token has an invalid signature.';
  const expected = createHmac('sha256', key).update(`${sr}\n${se}`).digest();
  let given: Buffer;
  try {
    given = Buffer.from(decodeURIComponent(sig ?? ''), 'base64');
  } catch {
    return 'InvalidSignature: The token has an invalid signature.';
  }
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return 'InvalidSignature: The token has an invalid signature.';
  if (!(Number(se) * 1000 > Date.now())) return 'ExpiredToken: The token is expired.';
  return undefined;
}

/** Batched send format: the body is one data section per encoded message (see messageSender.js). */
const BATCH_FORMAT = 0x80013700;
const STANDARD_MAX_MESSAGE_BYTES = 256 * 1024;

type Link = rhea.Sender | rhea.Receiver;

/** rhea keeps the attach frames on `local` and `remote`; its typings leave them out. */
interface Frames {
  local: { attach: Record<string, unknown> };
  remote: { attach: Record<string, unknown> };
}

function frames(link: Link): Frames {
  return link as unknown as Frames;
}
type Delivery = rhea.Delivery;

/** Strip `amqps://host/` from an address; Service Bus entity paths are relative. */
function entityPath(address: string | undefined): string {
  if (!address) return '';
  return address.replace(/^amqps?:\/\/[^/]+\//i, '');
}

/** A delivery sent on a link and not settled yet. */
interface Outstanding {
  readonly token: string;
  readonly delivery: Delivery;
  /** When the sweep first saw its lock gone (0: still locked). */
  lostAt: number;
}

/**
 * How long a delivery whose lock expired stays settleable (answered with message-lock-lost) before
 * the server forgets it. rhea keeps unsettled deliveries in a 2048-slot buffer per session.
 */
const FORGET_AFTER_MS = 60_000;

/**
 * Answer a drain (AMQP 1.0 §2.6.7): the next flow of `sender`, written after the transfers queued so far, gives
 * back the credit they left and carries `drain`. rhea's own answer (`set_drained`) marks the flow `drain` only while
 * credit is left when it is written; transfers written in the same pass (those the drain itself brought) or in
 * flight before it use it up, and the flow went out without `drain`: the SDK waited 200 ms, then closed its link.
 */
function answerDrain(sender: unknown): void {
  const link = sender as {
    _get_drain(): boolean;
    issue_flow: boolean;
    credit: number;
    delivery_count: number;
  };
  const getDrain = link._get_drain;
  link._get_drain = () => {
    link._get_drain = getDrain;
    // Written in the session's pass after its transfers: what they left is given back.
    link.delivery_count += link.credit;
    link.credit = 0;
    return true;
  };
  link.issue_flow = true;
}

/** The subset of the rhea sender API the consumer adapter needs. */
interface SenderLink {
  credit: number;
  session: { outgoing: { available(): number } };
  is_open(): boolean;
  send(message: unknown, tag?: Buffer, format?: number): Delivery;
}

/** A client receiver link seen as an entity consumer. */
class LinkConsumer implements Consumer {
  private pending = 0;
  /** Messages handed to this link so far. */
  sent = 0;
  /** Lock token (hex) → the entity holding it, for settlement through this link. */
  readonly deliveries = new Map<number, Outstanding>();

  constructor(
    readonly sender: SenderLink,
    readonly entity: Entity,
  ) {}

  credit(): number {
    if (!this.sender.is_open()) return 0;
    // rhea lowers `credit` when it writes the transfer (next tick): count what is queued since.
    // The session's outgoing buffer (2048 unsettled deliveries) bounds it too.
    return Math.min(
      this.sender.credit - this.pending,
      this.sender.session.outgoing.available() - this.pending,
    );
  }

  deliver(message: StoredMessage, lockToken: Buffer): void {
    if (this.pending === 0) {
      setImmediate(() => {
        this.pending = 0;
        this.entity.pump();
      });
    }
    this.pending++;
    this.sent++;
    // The SDK reverses the first 8 bytes of the delivery tag (.NET Guid layout) to make the
    // lock token string, then sends that string's bytes back in management requests. Sending
    // the reordered bytes as the tag makes the management bytes equal `lockToken`.
    const delivery = this.sender.send(
      encodeForDelivery(message, message.lock?.until ?? 0),
      reorderGuid(lockToken),
    );
    this.deliveries.set(delivery.id, { token: lockToken.toString('hex'), delivery, lostAt: 0 });
  }
}

/** A running server. Create with {@link startEmulator}. */
export class ServiceBusEmulator {
  private readonly entities = new Map<string, Entity>();
  private readonly container = rhea.create_container({
    id: 'queuekit-servicebus-emulator',
    autoaccept: false,
    treat_modified_as_released: false,
    // Small frames (flows, dispositions, replies) must not wait for Nagle's algorithm (~40 ms).
    tcp_no_delay: true,
  } as rhea.ContainerOptions);
  private listener: Server | undefined;
  private timer: NodeJS.Timeout | undefined;
  private sequence = 0;
  private lastSweep = 0;
  private readonly consumers = new Map<Link, LinkConsumer>();
  /** Per connection: reply-to address → the sender link that carries replies to it. */
  private readonly replyLinks = new WeakMap<rhea.Connection, Map<string, rhea.Sender>>();
  private readonly connections = new Set<rhea.Connection>();
  private readonly autoCreate: boolean;
  private readonly defaults: QueueProperties;
  /** Largest accepted message, in bytes. */
  readonly maxMessageSizeBytes: number;
  /** TCP port, once started. */
  port = 0;

  constructor(private readonly options: EmulatorOptions = {}) {
    this.autoCreate = options.autoCreateQueues ?? true;
    this.defaults = { ...DEFAULT_QUEUE_PROPERTIES, ...options.defaultQueueProperties };
    this.maxMessageSizeBytes = options.maxMessageSizeBytes ?? STANDARD_MAX_MESSAGE_BYTES;
    const definitions = [
      ...(options.configFile ? loadConfigFile(options.configFile) : []),
      ...(options.queues ?? []),
    ];
    for (const { name, properties } of definitions) this.createQueue(name, properties);
    this.wire();
  }

  /** Connection string for the SDK (`UseDevelopmentEmulator=true` makes it use plain TCP). */
  get connectionString(): string {
    const [name, key] = Object.entries(this.options.sharedAccessKeys || DEFAULT_SHARED_ACCESS_KEYS)[0] ?? [];
    return `Endpoint=sb://127.0.0.1:${this.port};SharedAccessKeyName=${name ?? 'RootManageSharedAccessKey'};SharedAccessKey=${key ?? 'SAS_KEY_VALUE'};UseDevelopmentEmulator=true;`;
  }

  /** Create (or reconfigure) a queue. */
  createQueue(name: string, properties: Partial<QueueProperties> = {}): Entity {
    const full = { ...this.defaults, ...properties };
    const existing = this.entities.get(name.toLowerCase());
    if (existing) {
      existing.properties = full;
      return existing;
    }
    const next = () => ++this.sequence;
    const dlq = new Entity(`${name}/$DeadLetterQueue`, full, next, undefined);
    const entity = new Entity(name, full, next, dlq);
    // Entity names are case-insensitive in Service Bus.
    this.entities.set(name.toLowerCase(), entity);
    return entity;
  }

  /** Delete a queue and its dead letters. Returns whether it existed. */
  deleteQueue(name: string): boolean {
    const entity = this.entities.get(name.toLowerCase());
    if (!entity) return false;
    entity.clear();
    entity.deadLetterQueue?.clear();
    this.entities.delete(name.toLowerCase());
    return true;
  }

  /** Names of the existing queues. */
  queueNames(): string[] {
    return [...this.entities.values()].map((entity) => entity.name);
  }

  /** The queue (or `<queue>/$DeadLetterQueue`) at `path`, created when auto-creation allows. */
  entity(path: string, create = this.autoCreate): Entity | undefined {
    const dlqSuffix = /\/\$deadletterqueue$/i;
    const isDlq = dlqSuffix.test(path);
    const queueName = path.replace(dlqSuffix, '');
    let queue = this.entities.get(queueName.toLowerCase());
    if (!queue && create && queueName !== '' && !queueName.startsWith('$'))
      queue = this.createQueue(queueName, this.propertiesByPrefix(queueName));
    if (!queue) return undefined;
    return isDlq ? queue.deadLetterQueue : queue;
  }

  private propertiesByPrefix(name: string): Partial<QueueProperties> {
    const prefixes = Object.keys(this.options.queuePropertiesByPrefix ?? {})
      .filter((prefix) => name.toLowerCase().startsWith(prefix.toLowerCase()))
      .sort((a, b) => b.length - a.length);
    const longest = prefixes[0];
    return longest === undefined ? {} : (this.options.queuePropertiesByPrefix?.[longest] ?? {});
  }

  /** Listen on the configured port. */
  async start(): Promise<this> {
    const server = this.container.listen({
      port: this.options.port ?? 0,
      host: this.options.host ?? '127.0.0.1',
    });
    await new Promise<void>((resolve, reject) => {
      (server as unknown as Server).once('listening', resolve);
      (server as unknown as Server).once('error', reject);
    });
    this.listener = server as unknown as Server;
    this.port = (this.listener.address() as AddressInfo).port;
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 20);
    this.timer.unref();
    return this;
  }

  /** Close every connection and stop listening. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    for (const connection of this.connections) {
      try {
        connection.close();
      } catch {
        // already gone
      }
    }
    const listener = this.listener;
    this.listener = undefined;
    if (listener) await new Promise<void>((resolve) => listener.close(() => resolve()));
    for (const connection of this.connections)
      (connection as unknown as { socket?: { destroy(): void } }).socket?.destroy();
    this.connections.clear();
  }

  private tick(): void {
    const now = Date.now();
    if (now - this.lastSweep >= 1000) {
      this.lastSweep = now;
      this.sweepDeliveries(now);
    }
    for (const entity of this.entities.values()) {
      entity.tick(now);
      entity.deadLetterQueue?.tick(now);
    }
  }

  /** Forget deliveries whose lock has been gone for a while (their client never settled them). */
  private sweepDeliveries(now: number): void {
    for (const consumer of this.consumers.values()) {
      for (const [id, outstanding] of consumer.deliveries) {
        if (consumer.entity.locked(outstanding.token, now)) continue;
        if (outstanding.lostAt === 0) outstanding.lostAt = now;
        else if (now - outstanding.lostAt >= FORGET_AFTER_MS) {
          consumer.deliveries.delete(id);
          settle(
            outstanding.delivery,
            'released',
            (rhea.message as unknown as { released(): { described(): unknown } }).released().described(),
          );
        }
      }
    }
  }

  private wire(): void {
    const c = this.container;
    c.on('connection_open', (ctx: rhea.EventContext) => {
      this.connections.add(ctx.connection);
    });
    c.on('disconnected', (ctx: rhea.EventContext) => this.dropConnection(ctx.connection));
    c.on('connection_close', (ctx: rhea.EventContext) => this.dropConnection(ctx.connection));
    c.on('error', () => {
      // A client vanished mid-frame; its links are cleaned up by `disconnected`.
    });
    c.on('sender_open', (ctx: rhea.EventContext) => this.onClientReceiver(ctx));
    c.on('receiver_open', (ctx: rhea.EventContext) => this.onClientSender(ctx));
    c.on('sender_close', (ctx: rhea.EventContext) => this.dropLink(ctx.sender as Link));
    c.on('receiver_close', (ctx: rhea.EventContext) => this.dropLink(ctx.receiver as Link));
    c.on('sendable', (ctx: rhea.EventContext) => this.consumers.get(ctx.sender as Link)?.entity.pump());
    c.on('sender_flow', (ctx: rhea.EventContext) => this.onFlow(ctx));
    c.on('message', (ctx: rhea.EventContext) => this.onMessage(ctx));
    for (const outcome of ['accepted', 'rejected', 'modified', 'released']) {
      c.on(outcome, (ctx: rhea.EventContext) => this.onDisposition(ctx));
    }
  }

  private dropConnection(connection: rhea.Connection): void {
    this.connections.delete(connection);
    for (const [link, consumer] of this.consumers) {
      if (link.connection === connection) {
        consumer.entity.removeConsumer(consumer);
        this.consumers.delete(link);
      }
    }
  }

  /** Locks taken by a link survive its detach and expire on their own (see README, guesses). */
  private dropLink(link: Link): void {
    const consumer = this.consumers.get(link);
    if (consumer) {
      consumer.entity.removeConsumer(consumer);
      this.consumers.delete(link);
    }
  }

  private replies(connection: rhea.Connection): Map<string, rhea.Sender> {
    let map = this.replyLinks.get(connection);
    if (!map) {
      map = new Map();
      this.replyLinks.set(connection, map);
    }
    return map;
  }

  /** The client attached a receiver: we are its sender (entity consumer or reply link). */
  private onClientReceiver(ctx: rhea.EventContext): void {
    const sender = ctx.sender as rhea.Sender;
    const remote = frames(sender).remote.attach as {
      source?: { address?: string };
      target?: { address?: string };
      rcv_settle_mode?: number;
    };
    const address = entityPath(remote.source?.address);
    const local = frames(sender).local.attach;
    local.source = { address: remote.source?.address };
    local.target = remote.target;
    if (address === '$cbs' || /\/?\$management$/i.test(address)) {
      // Replies go to the client's `reply-to`: the SDK sets it to the receiver link's name (its
      // target address is empty for `$cbs`) or to the target address; index both.
      const replies = this.replies(ctx.connection);
      replies.set(sender.name, sender);
      if (remote.target?.address) replies.set(remote.target.address, sender);
      return;
    }
    const entity = this.entity(address);
    if (!entity) {
      sender.close({
        condition: 'amqp:not-found',
        description: `The messaging entity '${address}' could not be found.`,
      });
      return;
    }
    if (entity.properties.requiresSession) {
      sender.close({
        condition: 'amqp:not-implemented',
        description: 'Sessions are not implemented by this test server.',
      });
      return;
    }
    // Peek-lock: we send unsettled; the client's rcv-settle-mode is echoed (second for peek-lock).
    local.snd_settle_mode = 0;
    local.rcv_settle_mode = remote.rcv_settle_mode ?? 0;
    const consumer = new LinkConsumer(sender as unknown as SenderLink, entity);
    this.consumers.set(sender as Link, consumer);
    entity.addConsumer(consumer);
  }

  /** The client attached a sender: we receive its messages or requests. */
  private onClientSender(ctx: rhea.EventContext): void {
    const receiver = ctx.receiver as rhea.Receiver;
    const remote = frames(receiver).remote.attach as { target?: { address?: string }; source?: unknown };
    const address = entityPath(remote.target?.address);
    const local = frames(receiver).local.attach;
    local.target = remote.target;
    local.source = remote.source;
    local.max_message_size = this.maxMessageSizeBytes;
    if (address === '$cbs' || /\/?\$management$/i.test(address)) return;
    const entity = this.entity(address);
    if (!entity || /\$deadletterqueue$/i.test(address)) {
      receiver.close({
        condition: 'amqp:not-found',
        description: `The messaging entity '${address}' could not be found.`,
      });
    }
  }

  private onFlow(ctx: rhea.EventContext): void {
    const sender = ctx.sender as rhea.Sender & {
      _draining?: boolean;
      credit: number;
    };
    const consumer = this.consumers.get(sender as Link);
    if (!consumer) return;
    const before = consumer.sent;
    consumer.entity.pump();
    // Drain: send what is available, then give back the rest of the credit (AMQP 1.0 §2.6.7).
    if (sender._draining) answerDrain(sender);
    else if (consumer.sent === before) {
      // Nothing to send: answer with our link state anyway. Without a frame back, the client's
      // next small frame (typically its drain) waits ~40 ms for Nagle + delayed ACK on loopback.
      (sender as unknown as { issue_flow: boolean }).issue_flow = true;
    }
    // rhea writes flows on its next processing pass: schedule one now.
    (sender.connection as unknown as { _register(): void })._register();
  }

  private onMessage(ctx: rhea.EventContext): void {
    const receiver = ctx.receiver as rhea.Receiver;
    const delivery = ctx.delivery as Delivery;
    const address = entityPath(
      (frames(receiver).remote.attach as { target?: { address?: string } }).target?.address,
    );
    const message = ctx.message as unknown as AmqpMessage;
    if (address === '$cbs') {
      this.onPutToken(ctx.connection, delivery, message);
      return;
    }
    const management = /^(.*?)\/?\$management$/i.exec(address);
    if (management) {
      this.onManagement(ctx.connection, delivery, management[1] ?? '', message);
      return;
    }
    const entity = this.entity(address);
    if (!entity) {
      rejectIncoming(delivery, {
        condition: 'amqp:not-found',
        description: `The messaging entity '${address}' could not be found.`,
      });
      return;
    }
    const format = (ctx as { format?: number }).format;
    if (this.tooLarge(message, format)) {
      // Quotas: 256 KB (Standard) / configurable on Premium, including headers
      // (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-quotas).
      rejectIncoming(delivery, {
        condition: 'amqp:link:message-size-exceeded',
        description: `The message exceeds the maximum size of ${this.maxMessageSizeBytes} bytes.`,
      });
      return;
    }
    const messages = format === BATCH_FORMAT ? decodeBatch(message as unknown as Buffer) : [message];
    const now = Date.now();
    for (const one of messages) {
      const scheduled = one.message_annotations?.['x-opt-scheduled-enqueue-time'];
      entity.enqueue(one, now, scheduled instanceof Date ? scheduled.getTime() : undefined);
    }
    acceptIncoming(delivery);
  }

  /** Whether a received message (decoded, or raw bytes for a batch) exceeds the size limit. */
  private tooLarge(message: AmqpMessage, format: number | undefined): boolean {
    if (format === BATCH_FORMAT) return (message as unknown as Buffer).length > this.maxMessageSizeBytes;
    const body = message.body as { content?: unknown } | undefined;
    const content = body?.content;
    const bodySize = Buffer.isBuffer(content) ? content.length : 0;
    // Re-encoding costs time: only near the limit (headers are at most 64 KB).
    if (bodySize > 0 && bodySize < this.maxMessageSizeBytes - 64 * 1024) return false;
    return rhea.message.encode(message as unknown as rhea.Message).length > this.maxMessageSizeBytes;
  }

  /**
   * Claims-based security: a SAS token signed with one of the server's keys, not expired, is accepted
   * with `status-code` 202, any other with 401 (`false` for `sharedAccessKeys`: every token)
   * (https://learn.microsoft.com/azure/service-bus-messaging/service-bus-amqp-protocol-guide#claims-based-authorization,
   * https://learn.microsoft.com/azure/service-bus-messaging/service-bus-sas#shared-access-signature-authentication-with-service-bus).
   */
  private onPutToken(connection: rhea.Connection, delivery: Delivery, request: AmqpMessage): void {
    delivery.accept();
    const keys = this.options.sharedAccessKeys ?? DEFAULT_SHARED_ACCESS_KEYS;
    const refusal = keys === false ? undefined : checkSasToken(request.body, keys);
    this.reply(connection, request, {
      application_properties: refusal
        ? { 'status-code': 401, 'status-description': refusal }
        : { 'status-code': 202, 'status-description': 'Accepted' },
    });
  }

  private onManagement(
    connection: rhea.Connection,
    delivery: Delivery,
    path: string,
    request: AmqpMessage,
  ): void {
    delivery.accept();
    const entity = this.entity(path);
    let response: ManagementResponse;
    if (!entity) {
      response = {
        status: 404,
        condition: 'amqp:not-found',
        description: `The messaging entity '${path}' could not be found.`,
      };
    } else {
      try {
        response = handleManagement(entity, request as ManagementRequest, this.lockHolder(entity));
      } catch (error) {
        response = { status: 400, condition: 'com.microsoft:argument-error', description: String(error) };
      }
    }
    const properties: Record<string, unknown> = { statusCode: response.status };
    if (response.description) properties.statusDescription = response.description;
    if (response.condition) properties.errorCondition = response.condition;
    this.reply(connection, request, {
      application_properties: properties,
      ...(response.body === undefined ? {} : { body: response.body }),
    });
  }

  /** Lock tokens live on the queue or on its dead-letter subqueue: find the holder. */
  private lockHolder(entity: Entity): (token: string) => Entity {
    return (token) => {
      if (entity.locked(token)) return entity;
      const dlq = entity.deadLetterQueue;
      if (dlq?.locked(token)) return dlq;
      return entity;
    };
  }

  private reply(connection: rhea.Connection, request: AmqpMessage, response: AmqpMessage): void {
    const replyTo = typeof request.reply_to === 'string' ? request.reply_to : undefined;
    const link = replyTo ? this.replies(connection).get(replyTo) : undefined;
    if (!link) return;
    link.send({ ...response, correlation_id: request.message_id } as rhea.Message);
  }

  /**
   * The client settled a delivery. In peek-lock the client uses rcv-settle-mode `second`: we
   * apply the outcome and settle with it, or with `com.microsoft:message-lock-lost` when the
   * lock expired (https://learn.microsoft.com/azure/service-bus-messaging/message-transfers-locks-settlement).
   */
  private onDisposition(ctx: rhea.EventContext): void {
    const delivery = ctx.delivery as Delivery & { remote_state?: unknown; id: number };
    const consumer = this.consumers.get(ctx.sender as Link);
    const token = consumer?.deliveries.get(delivery.id)?.token;
    if (consumer) consumer.deliveries.delete(delivery.id);
    const entity = consumer?.entity;
    let result: 'ok' | 'lock-lost' = 'lock-lost';
    const state = delivery.remote_state as {
      constructor: { composite_type?: string };
      error?: { condition?: string; description?: string; info?: Record<string, unknown> };
      undeliverable_here?: boolean;
      message_annotations?: Record<string, unknown>;
    };
    const kind = state?.constructor?.composite_type;
    if (entity && token) {
      if (kind === 'accepted') result = entity.complete(token);
      else if (kind === 'released') result = entity.abandon(token);
      else if (kind === 'modified') {
        result = state.undeliverable_here
          ? entity.defer(token, state.message_annotations)
          : entity.abandon(token, state.message_annotations);
      } else if (kind === 'rejected') {
        const info = { ...state.error?.info };
        const reason = info.DeadLetterReason;
        const description = info.DeadLetterErrorDescription;
        delete info.DeadLetterReason;
        delete info.DeadLetterErrorDescription;
        result = entity.deadLetter(token, {
          ...(reason === undefined || reason === null ? {} : { reason: String(reason) }),
          ...(description === undefined || description === null ? {} : { description: String(description) }),
          properties: info,
        });
      }
    }
    if (result === 'ok') {
      settle(delivery, kind ?? 'accepted', outcome(kind ?? 'accepted'));
    } else {
      settle(
        delivery,
        'lock-lost',
        (rhea.message as unknown as { rejected(fields: unknown): { described(): unknown } })
          .rejected({
            error: {
              condition: 'com.microsoft:message-lock-lost',
              description:
                'The lock supplied is invalid. Either the lock expired, or the message has already been removed from the queue.',
            },
          })
          .described(),
      );
    }
  }
}

/**
 * The outcome echoed back when settling. Without its error: the SDK treats any error in the
 * settled state as a failed settlement (onMessageSettled in core/shared.js).
 */
function outcome(kind: string): unknown {
  const m = rhea.message as unknown as Record<string, (fields?: unknown) => { described(): unknown }>;
  const make = m[kind] ?? m.accepted;
  return (make as (fields?: unknown) => { described(): unknown })({}).described();
}

/** Messages of a batched send (format 0x80013700): one encoded message per data section. */
function decodeBatch(raw: Buffer): AmqpMessage[] {
  const envelope = rhea.message.decode(raw) as unknown as {
    body?: { content?: unknown; multiple?: boolean };
  };
  const content = envelope.body?.content;
  const sections = envelope.body?.multiple ? (content as Buffer[]) : content ? [content as Buffer] : [];
  return sections.map((section) => rhea.message.decode(section) as unknown as AmqpMessage);
}

/** Create and start a server. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<ServiceBusEmulator> {
  return new ServiceBusEmulator(options).start();
}
