/**
 * A Pulsar consumer (durable subscription) or reader (non-durable), as Java's
 * ConsumerImpl but for whole entries: SUBSCRIBE, FLOW permits counted in
 * messages (an entry of a batch of n takes n permits, as on the broker),
 * MESSAGE frames kept whole with their broker entry metadata, receive() with
 * a timeout, onReadable, SEEK, acks (individual acks of several entries in
 * one ACK), REDELIVER_UNACKNOWLEDGED_MESSAGES of given entries (Shared
 * subscriptions: the broker dispatches them again, redelivery_count + 1),
 * GET_LAST_MESSAGE_ID, UNSUBSCRIBE.
 *
 * Permits: by message count (receiverQueueSize, replenished half a queue at a
 * time, as Java's ConsumerImpl), or with receiverQueueBytes also by bytes:
 * the permits out plus the messages buffered are kept near
 * receiverQueueBytes / (the average message size seen), topped up whenever
 * half of that is missing, on arrival and on hand-out, so a reader drained
 * in bursts (one Kafka Fetch at a time) finds the next burst already
 * buffered instead of waiting a broker round trip per few entries.
 *
 * Start positions (checked against Pulsar 3.0.7, see
 * test/unit/pulsar-client.test.ts): for a non-durable subscription the broker
 * starts AT start_message_id (it steps back one entry and opens the cursor
 * there), so an exclusive start is made by dropping entries up to and
 * including the start on the client, as Java's reader does.
 *
 * On CLOSE_CONSUMER or connection loss the consumer subscribes again with
 * back-off and clears its buffer; a reader resumes after the last entry it
 * handed out (never skipping, never repeating); a durable subscription gets
 * its unacknowledged entries again from the broker.
 */
import { CommandAckAckType, CommandSubscribeInitialPosition, CommandSubscribeSubType, type CommandCloseConsumer, type CommandMessage, type MessageIdData } from '../proto/index.js';
import {
  ackCommand,
  closeConsumerCommand,
  flowCommand,
  getLastMessageIdCommand,
  redeliverUnacknowledgedCommand,
  seekCommand,
  subscribeCommand,
  unsubscribeCommand,
  type MessagePayload,
  type PulsarChecksumError,
} from '../wire/index.js';
import { Backoff } from './backoff.js';
import type { Connection, ConsumerHandler } from './connection.js';
import type { ClientContext } from './context.js';
import { PulsarClientError, closedError, timeoutError } from './errors.js';
import { compareEntry, fromIdData, toIdData } from './ids.js';
import type { Consumer, ConsumerOptions, MessageId, ReceivedEntry } from './types.js';

type State = 'connecting' | 'ready' | 'closed';

interface Waiter {
  resolve(e: ReceivedEntry | null): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
}

/** Errors after which subscribing again cannot help. */
const FATAL = new Set(['AuthorizationError', 'AuthenticationError', 'TopicNotFound', 'SubscriptionNotFound', 'NotAllowedError', 'InvalidTopicName', 'IncompatibleSchema', 'Closed']);

export class ConsumerImpl implements Consumer, ConsumerHandler {
  readonly topic: string;
  readonly subscription: string;
  readonly closed: Promise<Error | null>;
  private resolveClosed!: (e: Error | null) => void;
  private state: State = 'connecting';
  private cnx: Connection | null = null;
  /** A SUBSCRIBE succeeded once: later ones are re-subscriptions (they never create the topic). */
  private subscribedOnce = false;
  private consumerId = -1n;
  private readonly buffer: ReceivedEntry[] = [];
  private bufferHead = 0;
  private readonly waiters: Waiter[] = [];
  private readonly readable = new Set<() => void>();
  private readonly readyWaiters: Array<{ resolve(): void; reject(e: Error): void }> = [];
  private readonly queueSize: number;
  private readonly durable: boolean;
  /** Messages handed out since the last FLOW. */
  private consumedSinceFlow = 0;
  /** Explicit flow() permits not yet used (receiverQueueSize 0), granted again after a resubscribe. */
  private manualPermits = 0;
  /** receiverQueueBytes (0: permits by count only) */
  private queueBytes: number;
  /** Byte mode: permits granted for messages that have not arrived yet. */
  private permitsOut = 0;
  /** Byte mode: messages in the buffer (entries count numMessagesInBatch each). */
  private bufferedMessages = 0;
  /** Byte mode: running average of payload bytes per message (0: none seen yet). */
  private messageBytes = 0;
  private lastDelivered: MessageId | null = null;
  /** Where a (re)subscription of a reader starts; null: the options' initial position. */
  private start: { id: MessageId; inclusive: boolean } | null;
  /** Drop entries at or before this one (exclusive starts), until one after it arrives. */
  private skipUpTo: MessageId | null = null;
  private seekInFlight: Promise<unknown> | null = null;
  private reconnectScheduled = false;
  private failure: Error | null = null;
  private readonly backoff: Backoff;
  private readonly untrack: () => void;

  constructor(
    private readonly ctx: ClientContext,
    private readonly opts: ConsumerOptions,
  ) {
    this.topic = opts.topic;
    this.subscription = opts.subscription;
    this.queueSize = Math.max(0, opts.receiverQueueSize ?? 1000);
    this.queueBytes = this.queueSize > 0 ? Math.max(0, opts.receiverQueueBytes ?? 0) : 0;
    this.durable = opts.durable ?? true;
    this.start = !this.durable && opts.startMessageId ? { id: opts.startMessageId, inclusive: opts.startInclusive ?? false } : null;
    this.backoff = new Backoff(100, ctx.maxBackoffMs);
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.untrack = ctx.track(this);
  }

  get connected(): boolean {
    return this.state === 'ready';
  }

  get permits(): number {
    return this.queueSize === 0 ? this.manualPermits : this.queueSize - this.consumedSinceFlow;
  }

  get buffered(): number {
    return this.buffer.length - this.bufferHead;
  }

  get availablePermits(): number {
    return this.queueSize === 0 ? this.manualPermits : Math.max(0, this.queueSize - this.buffered);
  }

  async startConsumer(): Promise<void> {
    try {
      await this.connectLoop(true);
    } catch (e) {
      this.state = 'closed';
      this.untrack();
      this.resolveClosed(e as Error);
      throw e;
    }
  }

  private async connectLoop(initial: boolean): Promise<void> {
    const deadline = Date.now() + this.ctx.operationTimeoutMs;
    while (this.state === 'connecting') {
      let cnx: Connection | undefined;
      try {
        if (this.seekInFlight) await this.seekInFlight.catch(() => undefined);
        cnx = await this.ctx.connect(this.topic, this.opts.originalIdentity);
        if (this.state !== 'connecting') break;
        await this.register(cnx);
        return;
      } catch (e) {
        if (cnx) cnx.unregisterConsumer(this.consumerId, this);
        if (this.state !== 'connecting') break;
        const err = e instanceof PulsarClientError ? e : new PulsarClientError('UnknownError', `subscribe to ${this.topic}: ${(e as Error).message}`, true, { cause: e });
        if (initial ? !err.retriable || Date.now() >= deadline : FATAL.has(err.serverError)) {
          if (initial) throw err;
          this.ctx.logger.warn({ topic: this.topic, subscription: this.subscription, err }, 'pulsar: consumer closed for good');
          this.terminate(err);
          return;
        }
        const delay = this.backoff.nextDelay();
        this.ctx.logger.info({ topic: this.topic, subscription: this.subscription, err: err.message, delayMs: delay }, 'pulsar: consumer resubscribing');
        await this.backoff.sleep(delay, this.ctx.reachable);
      }
    }
    if (initial) throw this.failure ?? closedError(`consumer on ${this.topic}`);
  }

  /** start_message_id for a reader's SUBSCRIBE; sets the client-side skip for exclusive starts. */
  private startMessageIdData(): MessageIdData | undefined {
    this.skipUpTo = null;
    if (this.durable) return undefined;
    const from = this.lastDelivered ? { id: this.lastDelivered, inclusive: false } : this.start;
    if (!from) return undefined;
    // the broker delivers the start entry itself: drop it for an exclusive start
    if (!from.inclusive) this.skipUpTo = from.id;
    return toIdData(from.id, false);
  }

  private async register(cnx: Connection): Promise<void> {
    const consumerId = this.ctx.ids.next();
    this.consumerId = consumerId;
    cnx.registerConsumer(consumerId, this);
    const requestId = this.ctx.ids.next();
    const o = this.opts;
    const startMessageId = this.startMessageIdData();
    const answer = await cnx.request(
      requestId,
      subscribeCommand({
        topic: this.topic,
        subscription: this.subscription,
        subType: CommandSubscribeSubType[o.subscriptionType ?? 'Exclusive'],
        consumerId,
        requestId,
        ...(o.consumerName !== undefined ? { consumerName: o.consumerName } : {}),
        durable: this.durable,
        ...(startMessageId ? { startMessageId } : {}),
        ...(o.readCompacted ? { readCompacted: true } : {}),
        initialPosition: CommandSubscribeInitialPosition[o.initialPosition ?? 'Latest'],
        replicateSubscriptionState: false,
        // the first SUBSCRIBE may create a missing partition of a topic the caller checked exists (a
        // partition Pulsar creates on first use); a re-subscription never re-creates a deleted topic
        forceTopicCreation: o.forceTopicCreation ?? !this.subscribedOnce,
        ...(o.subscriptionProperties ? { subscriptionProperties: Object.entries(o.subscriptionProperties).map(([key, value]) => ({ key, value })) } : {}),
      }),
      { what: `SUBSCRIBE ${this.subscription} on ${this.topic}` },
    );
    void answer;
    if (cnx.isClosed) throw new PulsarClientError('ConnectionClosed', `SUBSCRIBE on ${this.topic}: connection closed`, true);
    // as for producers: a CLOSE_CONSUMER read together with the SUCCESS unregistered us (see Connection.hasConsumer)
    if (this.consumerId === consumerId && !cnx.hasConsumer(consumerId, this)) {
      throw new PulsarClientError('ServiceNotReady', `SUBSCRIBE ${this.subscription} on ${this.topic}: the broker closed the consumer as it subscribed`, true);
    }
    if (this.state !== 'connecting' || this.consumerId !== consumerId) {
      cnx.unregisterConsumer(consumerId, this);
      const rid = this.ctx.ids.next();
      void cnx.request(rid, closeConsumerCommand({ consumerId, requestId: rid }), { what: 'CLOSE_CONSUMER' }).catch(() => undefined);
      return;
    }
    this.cnx = cnx;
    this.state = 'ready';
    this.subscribedOnce = true;
    this.backoff.reset();
    this.consumedSinceFlow = 0;
    this.permitsOut = 0;
    this.bufferedMessages = 0; // the buffer was cleared when the previous registration was lost
    const permits = this.queueBytes > 0 ? this.wantedPermits() : this.queueSize > 0 ? this.queueSize : this.manualPermits;
    if (permits > 0) cnx.send(flowCommand({ consumerId, messagePermits: permits }));
    this.permitsOut = permits;
    this.ctx.logger.debug({ topic: this.topic, subscription: this.subscription, broker: cnx.address, startMessageId }, 'pulsar: consumer ready');
    for (const w of this.readyWaiters.splice(0)) w.resolve();
  }

  onMessage(cmd: CommandMessage, payload: MessagePayload | null, checksumError?: PulsarChecksumError): void {
    if (this.state !== 'ready' || cmd.consumerId !== this.consumerId) return;
    if (checksumError || !payload) {
      this.ctx.logger.error({ topic: this.topic, subscription: this.subscription, messageId: cmd.messageId, err: checksumError }, 'pulsar: entry failed its CRC32C check, subscribing again to get it redelivered');
      this.resubscribe();
      return;
    }
    const id = fromIdData(cmd.messageId);
    id.batchIndex = -1;
    const n = payload.metadata.numMessagesInBatch ?? 1;
    if (this.queueSize === 0) this.manualPermits -= n; // as the broker counts: an entry of n messages takes n permits, below 0 if need be
    if (this.queueBytes > 0) this.arrived(n, payload.payload.length);
    if (this.skipUpTo) {
      if (compareEntry(id, this.skipUpTo) <= 0) {
        this.returnPermits(n);
        return;
      }
      this.skipUpTo = null;
    }
    const entry: ReceivedEntry = { messageId: id, metadata: payload.metadata, payload: payload.payload, redeliveryCount: cmd.redeliveryCount ?? 0 };
    if (payload.brokerEntryMetadata) entry.brokerEntryMetadata = payload.brokerEntryMetadata;
    const w = this.waiters.shift();
    if (w) {
      if (w.timer) clearTimeout(w.timer);
      this.handOut(entry);
      w.resolve(entry);
      return;
    }
    const wasEmpty = this.buffered === 0;
    this.buffer.push(entry);
    if (this.queueBytes > 0) {
      this.bufferedMessages += n;
      this.topUp();
    }
    if (wasEmpty) {
      for (const fn of [...this.readable]) {
        try {
          fn();
        } catch (e) {
          this.ctx.logger.error({ err: e }, 'pulsar: onReadable listener threw');
        }
      }
    }
  }

  private take(): ReceivedEntry | undefined {
    if (this.bufferHead >= this.buffer.length) return undefined;
    const e = this.buffer[this.bufferHead]!;
    this.buffer[this.bufferHead++] = undefined as unknown as ReceivedEntry;
    if (this.queueBytes > 0) this.bufferedMessages -= e.metadata.numMessagesInBatch ?? 1;
    if (this.bufferHead > 1024 && this.bufferHead * 2 > this.buffer.length) {
      this.buffer.splice(0, this.bufferHead);
      this.bufferHead = 0;
    }
    this.handOut(e);
    return e;
  }

  private clearBuffer(): void {
    this.buffer.length = 0;
    this.bufferHead = 0;
    this.bufferedMessages = 0;
  }

  private handOut(e: ReceivedEntry): void {
    this.lastDelivered = e.messageId;
    this.returnPermits(e.metadata.numMessagesInBatch ?? 1);
  }

  /** Byte mode: an entry of n messages arrived (buffered, handed to a waiter, or skipped). */
  private arrived(n: number, bytes: number): void {
    this.permitsOut = Math.max(0, this.permitsOut - n); // the broker may overshoot by the rest of a batch
    const per = bytes / Math.max(1, n);
    this.messageBytes = this.messageBytes === 0 ? per : this.messageBytes * 0.875 + per * 0.125;
  }

  /** Byte mode: permits for receiverQueueBytes at the average message size. */
  private wantedPermits(): number {
    if (this.messageBytes === 0) return Math.min(this.queueSize, 100);
    return Math.max(1, Math.min(this.queueSize, Math.floor(this.queueBytes / this.messageBytes)));
  }

  /** Byte mode: grant what is missing once it is half of what is wanted (few FLOW commands). */
  private topUp(): void {
    if (this.state !== 'ready' || !this.cnx) return;
    const want = this.wantedPermits();
    const missing = want - this.permitsOut - this.bufferedMessages;
    if (missing <= 0 || missing * 2 < want) return;
    this.cnx.send(flowCommand({ consumerId: this.consumerId, messagePermits: missing }));
    this.permitsOut += missing;
  }

  private returnPermits(n: number): void {
    if (this.queueSize === 0) return;
    if (this.queueBytes > 0) {
      this.topUp();
      return;
    }
    this.consumedSinceFlow += n;
    if (this.consumedSinceFlow >= Math.max(1, this.queueSize >> 1) && this.state === 'ready' && this.cnx) {
      this.cnx.send(flowCommand({ consumerId: this.consumerId, messagePermits: this.consumedSinceFlow }));
      this.consumedSinceFlow = 0;
    }
  }

  receive(timeoutMs: number): Promise<ReceivedEntry | null> {
    const e = this.take();
    if (e) return Promise.resolve(e);
    if (this.state === 'closed') return Promise.reject(this.failure ?? closedError(`receive on ${this.topic}`));
    return new Promise((resolve, reject) => {
      const w: Waiter = { resolve, reject, timer: undefined };
      if (timeoutMs >= 0 && Number.isFinite(timeoutMs)) {
        w.timer = setTimeout(() => {
          const i = this.waiters.indexOf(w);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve(null);
        }, timeoutMs);
      }
      this.waiters.push(w);
    });
  }

  setReceiverQueueBytes(bytes: number): void {
    if (this.queueBytes === 0 || !(bytes > 0)) return; // only a byte-bounded queue changes its bound
    this.queueBytes = bytes;
    this.topUp(); // a larger bound grants at once; a smaller one takes effect as the buffer drains
  }

  flow(permits: number): void {
    if (!(permits > 0)) return;
    if (this.queueSize === 0) this.manualPermits += permits;
    if (this.state === 'ready' && this.cnx) {
      this.cnx.send(flowCommand({ consumerId: this.consumerId, messagePermits: permits }));
      if (this.queueBytes > 0) this.permitsOut += permits;
    }
  }

  onReadable(fn: () => void): () => void {
    this.readable.add(fn);
    return () => this.readable.delete(fn);
  }

  /** Waits (up to operationTimeoutMs) for a live registration. */
  private async ready(what: string): Promise<Connection> {
    if (this.state === 'ready' && this.cnx) return this.cnx;
    if (this.state === 'closed') throw this.failure ?? closedError(what);
    const ms = this.ctx.operationTimeoutMs;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => {
        const i = this.readyWaiters.indexOf(entry);
        if (i >= 0) this.readyWaiters.splice(i, 1);
        reject(timeoutError(`${what} (not connected)`, ms));
      }, ms);
      const entry = {
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(t);
          reject(e);
        },
      };
      this.readyWaiters.push(entry);
    });
    return this.ready(what);
  }

  private async ack(ids: MessageId[], type: number, what: string): Promise<void> {
    const cnx = await this.ready(what);
    const requestId = this.ctx.ids.next();
    const answer = await cnx.request(requestId, ackCommand({ consumerId: this.consumerId, ackType: type as 0, messageId: ids.map((id) => toIdData(id, false)), requestId }), { what });
    const r = answer.ackResponse;
    if (r?.error !== undefined) throw PulsarClientError.fromServer(r.error, r.message, what);
  }

  acknowledgeCumulative(id: MessageId): Promise<void> {
    return this.ack([id], CommandAckAckType.Cumulative, `cumulative ACK on ${this.topic}`);
  }

  acknowledge(id: MessageId): Promise<void> {
    return this.ack([id], CommandAckAckType.Individual, `ACK on ${this.topic}`);
  }

  acknowledgeMany(ids: readonly MessageId[]): Promise<void> {
    if (ids.length === 0) return Promise.resolve();
    return this.ack([...ids], CommandAckAckType.Individual, `ACK of ${ids.length} on ${this.topic}`);
  }

  redeliver(ids: readonly MessageId[]): void {
    // the broker answers nothing; after a reconnect it redelivers every unacknowledged entry anyway
    if (ids.length === 0 || this.state !== 'ready' || !this.cnx) return;
    this.cnx.send(redeliverUnacknowledgedCommand({ consumerId: this.consumerId, messageIds: ids.map((id) => toIdData(id, false)) }));
  }

  async seek(target: MessageId | { publishTime: bigint }): Promise<void> {
    const what = `SEEK on ${this.topic}`;
    const cnx = await this.ready(what);
    const requestId = this.ctx.ids.next();
    const byId = 'ledgerId' in target;
    const p = cnx.request(
      requestId,
      seekCommand({ consumerId: this.consumerId, requestId, ...(byId ? { messageId: toIdData(target, false) } : { messagePublishTime: target.publishTime }) }),
      { what },
    );
    this.seekInFlight = p;
    try {
      await p;
    } finally {
      if (this.seekInFlight === p) this.seekInFlight = null;
    }
    // the broker resets the cursor and closes the consumer (CLOSE_CONSUMER): what was buffered is stale
    this.clearBuffer();
    this.lastDelivered = null;
    this.skipUpTo = null;
    // a reader resubscribing after the reset starts at the target (by time: the broker's cursor position is kept)
    this.start = byId ? { id: target, inclusive: true } : null;
  }

  async getLastMessageId(): Promise<MessageId> {
    const what = `GET_LAST_MESSAGE_ID on ${this.topic}`;
    const cnx = await this.ready(what);
    const requestId = this.ctx.ids.next();
    const answer = await cnx.request(requestId, getLastMessageIdCommand({ consumerId: this.consumerId, requestId }), { what });
    const r = answer.getLastMessageIdResponse;
    if (!r) throw new PulsarClientError('UnknownError', `${what}: unexpected answer of type ${answer.type}`, false);
    return fromIdData(r.lastMessageId);
  }

  onBrokerClose(c: CommandCloseConsumer): void {
    void c;
    if (this.state !== 'ready') return;
    this.ctx.logger.debug({ topic: this.topic, subscription: this.subscription }, 'pulsar: broker closed the consumer, resubscribing');
    this.lost();
  }

  onConnectionClosed(err: PulsarClientError): void {
    if (this.state !== 'ready') return;
    this.ctx.logger.info({ topic: this.topic, subscription: this.subscription, err: err.message }, 'pulsar: consumer connection lost, resubscribing');
    this.lost();
  }

  onReachedEndOfTopic(): void {
    this.ctx.logger.info({ topic: this.topic, subscription: this.subscription }, 'pulsar: reached the end of a terminated topic');
  }

  /** Leave (CLOSE_CONSUMER) and subscribe again. */
  private resubscribe(): void {
    if (this.state !== 'ready' || !this.cnx) return;
    const cnx = this.cnx;
    const consumerId = this.consumerId;
    const requestId = this.ctx.ids.next();
    this.lost();
    void cnx.request(requestId, closeConsumerCommand({ consumerId, requestId }), { what: 'CLOSE_CONSUMER' }).catch(() => undefined);
  }

  private lost(): void {
    this.cnx?.unregisterConsumer(this.consumerId, this);
    this.cnx = null;
    this.state = 'connecting';
    this.clearBuffer();
    if (this.reconnectScheduled) return;
    this.reconnectScheduled = true;
    this.ctx.observer?.reconnect('consumer');
    void this.backoff.sleep(this.backoff.nextDelay(), this.ctx.reachable).then(async () => {
      this.reconnectScheduled = false;
      await this.connectLoop(false).catch(() => undefined);
    });
  }

  private terminate(err: Error): void {
    if (this.state === 'closed') return;
    this.failure = err;
    this.state = 'closed';
    this.cnx?.unregisterConsumer(this.consumerId, this);
    this.cnx = null;
    this.clearBuffer();
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.reject(err);
    }
    for (const w of this.readyWaiters.splice(0)) w.reject(err);
    this.untrack();
    this.resolveClosed(err);
  }

  async unsubscribe(): Promise<void> {
    const what = `UNSUBSCRIBE ${this.subscription} on ${this.topic}`;
    const cnx = await this.ready(what);
    const requestId = this.ctx.ids.next();
    await cnx.request(requestId, unsubscribeCommand({ consumerId: this.consumerId, requestId }), { what });
    this.finish(null);
  }

  private finish(err: Error | null): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.cnx?.unregisterConsumer(this.consumerId, this);
    this.cnx = null;
    this.clearBuffer();
    for (const w of this.waiters.splice(0)) {
      if (w.timer) clearTimeout(w.timer);
      w.resolve(null);
    }
    for (const w of this.readyWaiters.splice(0)) w.reject(closedError(`consumer on ${this.topic}`));
    this.untrack();
    this.resolveClosed(err);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const cnx = this.state === 'ready' ? this.cnx : null;
    const consumerId = this.consumerId;
    this.finish(null);
    if (cnx) {
      const requestId = this.ctx.ids.next();
      await cnx.request(requestId, closeConsumerCommand({ consumerId, requestId }), { what: `CLOSE_CONSUMER on ${this.topic}` }).catch(() => undefined);
    }
  }
}
