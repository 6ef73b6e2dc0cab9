/**
 * A Pulsar producer on one topic (or partition), as Java's ProducerImpl, for
 * whole entries: PRODUCER (access mode, properties, epoch on reconnect,
 * producer_ready=false = queued behind an exclusive producer), pipelined
 * SENDs with increasing sequence ids whose receipts resolve in order,
 * SEND_ERROR (ChecksumError: resend; retriable: re-register and resend;
 * otherwise: reject that send), reconnect with back-off on connection loss or
 * CLOSE_PRODUCER with every pending message resent in order (the broker's
 * deduplication drops what it already has), and fencing (ProducerFenced, or
 * ProducerBusy in an exclusive mode) which ends the producer: `closed`
 * resolves with the error.
 */
import { BaseCommandType, ProducerAccessMode as AccessModes, type CommandCloseProducer, type CommandSendError, type CommandSendReceipt, type MessageMetadata } from '../proto/index.js';
import { closeProducerCommand, producerCommand, sendCommand } from '../wire/index.js';
import { Backoff } from './backoff.js';
import type { Connection, ProducerHandler } from './connection.js';
import type { ClientContext } from './context.js';
import { PulsarClientError, closedError, timeoutError } from './errors.js';
import { fromIdData } from './ids.js';
import type { OutgoingMessage, Producer, ProducerOptions, SendReceipt } from './types.js';

interface PendingSend {
  sequenceId: bigint;
  metadata: MessageMetadata;
  payload: Buffer;
  deadline: number;
  /** performance.now() at send (latency metric). */
  sentAt: number;
  resolve(r: SendReceipt): void;
  reject(e: Error): void;
}

type State = 'connecting' | 'ready' | 'closed';

export class ProducerImpl implements Producer, ProducerHandler {
  readonly topic: string;
  producerName: string;
  lastSequenceIdPublished = -1n;
  readonly closed: Promise<Error | null>;
  private resolveClosed!: (e: Error | null) => void;
  private state: State = 'connecting';
  private cnx: Connection | null = null;
  private readonly id: bigint;
  private epoch = 0n;
  private topicEpoch: bigint | undefined;
  private nextSequenceId = 0n;
  private sequenceInitialised = false;
  private readonly pending: PendingSend[] = [];
  private readonly slotWaiters: Array<() => void> = [];
  private readonly backoff: Backoff;
  private timeoutTimer: NodeJS.Timeout | undefined;
  private reconnectScheduled = false;
  private readonly untrack: () => void;
  private readonly maxPending: number;

  constructor(
    private readonly ctx: ClientContext,
    private readonly opts: ProducerOptions,
  ) {
    this.topic = opts.topic;
    this.producerName = opts.producerName ?? '';
    this.id = ctx.ids.next();
    this.maxPending = Math.max(1, opts.maxPendingMessages ?? 1000);
    this.backoff = new Backoff(100, ctx.maxBackoffMs);
    this.closed = new Promise((r) => (this.resolveClosed = r));
    this.untrack = ctx.track(this);
  }

  get connected(): boolean {
    return this.state === 'ready';
  }

  /** First registration: rejects on a non-retriable error, or when retriable ones last past operationTimeoutMs. */
  async start(): Promise<void> {
    try {
      await this.connectLoop(true);
    } catch (e) {
      this.state = 'closed';
      this.untrack();
      this.resolveClosed(e as Error);
      throw e;
    }
  }

  private accessMode(): number {
    return AccessModes[this.opts.accessMode ?? 'Shared'];
  }

  private isExclusive(): boolean {
    return (this.opts.accessMode ?? 'Shared') !== 'Shared';
  }

  /** Errors that end the producer for good. */
  private isFatal(e: PulsarClientError): boolean {
    switch (e.serverError) {
      case 'ProducerFenced':
      case 'TopicTerminatedError':
      case 'TopicNotFound':
      case 'Closed':
        return true;
      case 'ProducerBusy':
        return this.isExclusive();
      default:
        return false;
    }
  }

  private async connectLoop(initial: boolean): Promise<void> {
    const deadline = Date.now() + this.ctx.operationTimeoutMs;
    while (this.state === 'connecting') {
      let cnx: Connection | undefined;
      try {
        cnx = await this.ctx.connect(this.topic, this.opts.originalIdentity);
        if (this.state !== 'connecting') break;
        await this.register(cnx, initial);
        return;
      } catch (e) {
        cnx?.unregisterProducer(this.id, this);
        if (this.state !== 'connecting') break;
        const err = e instanceof PulsarClientError ? e : new PulsarClientError('UnknownError', `producer on ${this.topic}: ${(e as Error).message}`, true, { cause: e });
        if (this.isFatal(err) || (initial && (!err.retriable || Date.now() >= deadline))) {
          if (initial) throw err;
          this.ctx.logger.warn({ topic: this.topic, producer: this.producerName, err }, 'pulsar: producer closed for good');
          this.terminate(err);
          return;
        }
        const delay = this.backoff.nextDelay();
        this.ctx.logger.info({ topic: this.topic, producer: this.producerName, err: err.message, delayMs: delay }, 'pulsar: producer reconnecting');
        await this.backoff.sleep(delay, this.ctx.reachable);
      }
    }
    if (initial) throw closedError(`producer on ${this.topic}`);
  }

  private async register(cnx: Connection, initial: boolean): Promise<void> {
    cnx.registerProducer(this.id, this);
    const requestId = this.ctx.ids.next();
    const name = this.producerName || undefined;
    const props = this.opts.properties ? Object.entries(this.opts.properties).map(([key, value]) => ({ key, value })) : undefined;
    const answer = await cnx.request(
      requestId,
      producerCommand({
        topic: this.topic,
        producerId: this.id,
        requestId,
        ...(name !== undefined ? { producerName: name } : {}),
        ...(props ? { metadata: props } : {}),
        epoch: this.epoch,
        userProvidedProducerName: this.opts.producerName !== undefined,
        producerAccessMode: this.accessMode() as 0,
        ...(this.topicEpoch !== undefined ? { topicEpoch: this.topicEpoch } : {}),
      }),
      {
        what: `PRODUCER on ${this.topic}`,
        // the first registration of a WaitForExclusive producer waits in the broker's queue, without a timeout
        intermediate: (c) => initial && c.type === BaseCommandType.PRODUCER_SUCCESS && c.producerSuccess?.producerReady === false,
      },
    );
    const ok = answer.producerSuccess;
    if (!ok) throw new PulsarClientError('UnknownError', `PRODUCER on ${this.topic}: unexpected answer of type ${answer.type}`, true);
    if (ok.producerReady === false) {
      // a re-registration queued behind another producer: our exclusive session is over (fenced)
      cnx.unregisterProducer(this.id, this);
      const rid = this.ctx.ids.next();
      void cnx.request(rid, closeProducerCommand({ producerId: this.id, requestId: rid }), { what: 'CLOSE_PRODUCER' }).catch(() => undefined);
      throw new PulsarClientError('ProducerFenced', `PRODUCER on ${this.topic}: lost exclusive access, another producer holds the topic`, false);
    }
    if (cnx.isClosed) throw new PulsarClientError('ConnectionClosed', `PRODUCER on ${this.topic}: connection closed`, true);
    // a CLOSE_PRODUCER read together with the answer was dropped (not ready yet) and unregistered
    // us: ready now, the producer would send into a registration the broker has closed, and never
    // hear of the connection's end (its sends would time out, one by one, for good)
    if (!cnx.hasProducer(this.id, this)) throw new PulsarClientError('ServiceNotReady', `PRODUCER on ${this.topic}: the broker closed the producer as it registered`, true);
    if (this.state !== 'connecting') {
      // closed meanwhile: let the broker forget it
      cnx.unregisterProducer(this.id, this);
      const rid = this.ctx.ids.next();
      void cnx.request(rid, closeProducerCommand({ producerId: this.id, requestId: rid }), { what: 'CLOSE_PRODUCER' }).catch(() => undefined);
      return;
    }
    this.producerName = ok.producerName;
    if (ok.topicEpoch !== undefined) this.topicEpoch = ok.topicEpoch;
    const last = ok.lastSequenceId ?? -1n;
    this.lastSequenceIdPublished = last;
    if (!this.sequenceInitialised) {
      this.sequenceInitialised = true;
      this.nextSequenceId = last + 1n;
    }
    this.cnx = cnx;
    this.state = 'ready';
    this.epoch++;
    this.backoff.reset();
    this.ctx.logger.debug({ topic: this.topic, producer: this.producerName, broker: cnx.address, lastSequenceId: last, resend: this.pending.length }, 'pulsar: producer ready');
    for (const op of this.pending) this.write(op);
  }

  private write(op: PendingSend): void {
    const cnx = this.cnx;
    if (!cnx) return;
    const md = op.metadata;
    try {
      this.sendTo(cnx, op, md);
    } catch (e) {
      // permanent (too large for the broker): fail this message only, never resend it
      const at = this.pending.indexOf(op);
      if (at >= 0) this.pending.splice(at, 1);
      op.reject(e instanceof Error ? e : new Error(String(e)));
      this.releaseSlot();
    }
  }

  private sendTo(cnx: NonNullable<typeof this.cnx>, op: PendingSend, md: MessageMetadata): void {
    cnx.sendPayload(
      sendCommand({
        producerId: this.id,
        sequenceId: op.sequenceId,
        numMessages: md.numMessagesInBatch ?? 1,
        ...(md.highestSequenceId !== undefined ? { highestSequenceId: md.highestSequenceId } : {}),
      }),
      md,
      op.payload,
    );
  }

  async send(message: OutgoingMessage): Promise<SendReceipt> {
    while (this.state !== 'closed' && this.pending.length >= this.maxPending) {
      await new Promise<void>((r) => this.slotWaiters.push(r));
    }
    if (this.state === 'closed') throw closedError(`send on ${this.topic}`);
    const given = message.metadata ?? {};
    const sequenceId = given.sequenceId ?? this.nextSequenceId;
    if (sequenceId >= this.nextSequenceId) this.nextSequenceId = sequenceId + 1n;
    const metadata: MessageMetadata = {
      ...given,
      producerName: given.producerName ?? this.producerName,
      sequenceId,
      publishTime: given.publishTime ?? BigInt(Date.now()),
    };
    return new Promise<SendReceipt>((resolve, reject) => {
      const op: PendingSend = { sequenceId, metadata, payload: message.payload, deadline: Date.now() + this.ctx.operationTimeoutMs, sentAt: performance.now(), resolve, reject };
      this.pending.push(op);
      if (this.state === 'ready') this.write(op);
      this.armTimeout();
    });
  }

  private armTimeout(): void {
    if (this.timeoutTimer || this.pending.length === 0 || !(this.ctx.operationTimeoutMs > 0)) return;
    const wait = Math.max(0, this.pending[0]!.deadline - Date.now());
    this.timeoutTimer = setTimeout(() => {
      this.timeoutTimer = undefined;
      const now = Date.now();
      while (this.pending.length > 0 && this.pending[0]!.deadline <= now) {
        const op = this.pending.shift()!;
        op.reject(timeoutError(`send of sequence id ${op.sequenceId} to ${this.topic}`, this.ctx.operationTimeoutMs));
        this.releaseSlot();
      }
      this.armTimeout();
    }, wait + 1);
    this.timeoutTimer.unref();
  }

  private releaseSlot(): void {
    this.slotWaiters.shift()?.();
  }

  onSendReceipt(r: CommandSendReceipt): void {
    const head = this.pending[0];
    if (!head || r.sequenceId < head.sequenceId) return; // the receipt of a resend already answered
    if (r.sequenceId > head.sequenceId) {
      this.ctx.logger.warn({ topic: this.topic, producer: this.producerName, expected: head.sequenceId, got: r.sequenceId }, 'pulsar: receipt out of order, re-registering the producer');
      this.reconnectNow();
      return;
    }
    this.pending.shift();
    this.ctx.observer?.sendLatency((performance.now() - head.sentAt) / 1000);
    head.resolve({ messageId: r.messageId ? fromIdData(r.messageId) : { ledgerId: -1n, entryId: -1n, batchIndex: -1 }, sequenceId: head.sequenceId });
    this.releaseSlot();
    if (this.pending.length === 0 && this.timeoutTimer) {
      clearTimeout(this.timeoutTimer);
      this.timeoutTimer = undefined;
    }
  }

  onSendError(e: CommandSendError): void {
    const err = PulsarClientError.fromServer(e.error, e.message, `send of sequence id ${e.sequenceId} to ${this.topic}`);
    const at = this.pending.findIndex((op) => op.sequenceId === e.sequenceId);
    if (at < 0) return;
    if (err.serverError === 'ChecksumError') {
      // corrupted on the way: send everything from there again (Java's recoverChecksumError)
      this.ctx.logger.warn({ topic: this.topic, sequenceId: e.sequenceId }, 'pulsar: SEND_ERROR ChecksumError, resending');
      for (const op of this.pending.slice(at)) this.write(op);
      return;
    }
    if (err.retriable) {
      this.ctx.logger.warn({ topic: this.topic, err: err.message }, 'pulsar: retriable SEND_ERROR, re-registering the producer');
      this.reconnectNow();
      return;
    }
    const [op] = this.pending.splice(at, 1);
    op!.reject(err);
    this.releaseSlot();
  }

  onBrokerClose(c: CommandCloseProducer): void {
    void c;
    if (this.state !== 'ready') return;
    this.ctx.logger.info({ topic: this.topic, producer: this.producerName }, 'pulsar: broker closed the producer, reconnecting');
    this.lostConnection();
  }

  onConnectionClosed(err: PulsarClientError): void {
    if (this.state !== 'ready') return;
    this.ctx.logger.info({ topic: this.topic, producer: this.producerName, err: err.message }, 'pulsar: producer connection lost, reconnecting');
    this.lostConnection();
  }

  /** Leave the broker (CLOSE_PRODUCER) and register again: used when the stream of receipts is off. */
  private reconnectNow(): void {
    if (this.state !== 'ready') return;
    const cnx = this.cnx;
    if (cnx) {
      cnx.unregisterProducer(this.id, this);
      const requestId = this.ctx.ids.next();
      const closing = cnx.request(requestId, closeProducerCommand({ producerId: this.id, requestId }), { what: `CLOSE_PRODUCER on ${this.topic}` }).catch(() => undefined);
      this.cnx = null;
      this.state = 'connecting';
      void closing.then(() => this.scheduleReconnect());
      return;
    }
    this.lostConnection();
  }

  private lostConnection(): void {
    this.cnx?.unregisterProducer(this.id, this);
    this.cnx = null;
    this.state = 'connecting';
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.reconnectScheduled || this.state !== 'connecting') return;
    this.reconnectScheduled = true;
    this.ctx.observer?.reconnect('producer');
    void this.backoff.sleep(this.backoff.nextDelay(), this.ctx.reachable).then(async () => {
      this.reconnectScheduled = false;
      await this.connectLoop(false).catch(() => undefined);
    });
  }

  private terminate(err: Error): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.cnx?.unregisterProducer(this.id, this);
    this.cnx = null;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    for (const op of this.pending.splice(0)) op.reject(err);
    for (const w of this.slotWaiters.splice(0)) w();
    this.untrack();
    this.resolveClosed(err);
  }

  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const cnx = this.state === 'ready' ? this.cnx : null;
    this.state = 'closed';
    this.cnx = null;
    if (this.timeoutTimer) clearTimeout(this.timeoutTimer);
    for (const op of this.pending.splice(0)) op.reject(closedError(`send to ${this.topic}`));
    for (const w of this.slotWaiters.splice(0)) w();
    this.untrack();
    if (cnx) {
      const requestId = this.ctx.ids.next();
      await cnx.request(requestId, closeProducerCommand({ producerId: this.id, requestId }), { what: `CLOSE_PRODUCER on ${this.topic}` }).catch(() => undefined);
      cnx.unregisterProducer(this.id, this);
    }
    this.resolveClosed(null);
  }
}
