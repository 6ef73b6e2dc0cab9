/**
 * One TCP (or TLS) connection to a Pulsar broker, as Java's ClientCnx: the
 * CONNECT handshake (token auth, original identity for a proxy role, feature
 * flags), AUTH_CHALLENGE answers, PING/PONG and the keep-alive check,
 * requests matched by request id with a per-request timeout, and the frames
 * addressed to producers and consumers (by id) handed to their handlers.
 * Closing fails every pending request with a retriable ConnectionClosed and
 * tells every registered producer and consumer, which reconnect themselves.
 */
import net from 'node:net';
import tls from 'node:tls';
import {
  BaseCommandType,
  type BaseCommand,
  type CommandCloseConsumer,
  type CommandCloseProducer,
  type CommandConnected,
  type CommandMessage,
  type CommandSendError,
  type CommandSendReceipt,
  type MessageMetadata,
} from '../proto/index.js';
import {
  PulsarChecksumError,
  PulsarFrameSplitter,
  authResponseCommand,
  connectCommand,
  decodeFrame,
  encodeCommand,
  encodePayloadCommandChunks,
  maxFrameSizeFor,
  pingCommand,
  pongCommand,
  DEFAULT_MAX_MESSAGE_SIZE,
  type MessagePayload,
} from '../wire/index.js';
import { PulsarClientError, connectionClosedError, timeoutError } from './errors.js';
import { formatHost, type HostPort } from './url.js';
import type { ClientLogger, OriginalIdentity, PulsarAuth, PulsarTlsOptions } from './types.js';

export const CLIENT_VERSION = 'kop-gateway';

export interface ProducerHandler {
  onSendReceipt(r: CommandSendReceipt): void;
  onSendError(e: CommandSendError): void;
  /** CLOSE_PRODUCER from the broker (topic unloaded / moved). */
  onBrokerClose(c: CommandCloseProducer): void;
  onConnectionClosed(err: PulsarClientError): void;
}

export interface ConsumerHandler {
  /** A MESSAGE frame; `checksumError` set (and payload null) when the CRC32C did not match. */
  onMessage(cmd: CommandMessage, payload: MessagePayload | null, checksumError?: PulsarChecksumError): void;
  onBrokerClose(c: CommandCloseConsumer): void;
  onConnectionClosed(err: PulsarClientError): void;
  onReachedEndOfTopic?(): void;
  onActiveConsumerChange?(active: boolean): void;
}

export interface ConnectionOptions {
  host: HostPort;
  tls: boolean;
  tlsOptions?: PulsarTlsOptions;
  auth?: PulsarAuth;
  identity?: OriginalIdentity;
  /** CONNECT proxy_to_broker_url (when reaching a broker through a proxy at the service URL). */
  proxyToBrokerUrl?: string;
  connectionTimeoutMs: number;
  keepAliveIntervalMs: number;
  operationTimeoutMs: number;
  logger: ClientLogger;
}

interface PendingRequest {
  what: string;
  resolve(cmd: BaseCommand): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout | undefined;
  /** Returns true when `cmd` is only an intermediate answer (PRODUCER_SUCCESS with producer_ready=false). */
  intermediate?: (cmd: BaseCommand) => boolean;
}

export interface RequestOptions {
  what: string;
  timeoutMs?: number;
  intermediate?: (cmd: BaseCommand) => boolean;
}

async function authData(auth: PulsarAuth | undefined): Promise<{ method?: string; data?: Buffer }> {
  if (!auth || auth.method === 'none') return {};
  if (!auth.token) throw new PulsarClientError('AuthenticationError', "auth.method 'token' without a token supplier", false);
  const t = await auth.token();
  return { method: 'token', data: Buffer.from(t, 'utf8') };
}

function requestIdOf(cmd: BaseCommand): bigint | undefined {
  switch (cmd.type) {
    case BaseCommandType.SUCCESS:
      return cmd.success?.requestId;
    case BaseCommandType.ERROR:
      return cmd.error?.requestId;
    case BaseCommandType.PRODUCER_SUCCESS:
      return cmd.producerSuccess?.requestId;
    case BaseCommandType.LOOKUP_RESPONSE:
      return cmd.lookupTopicResponse?.requestId;
    case BaseCommandType.PARTITIONED_METADATA_RESPONSE:
      return cmd.partitionMetadataResponse?.requestId;
    case BaseCommandType.GET_LAST_MESSAGE_ID_RESPONSE:
      return cmd.getLastMessageIdResponse?.requestId;
    case BaseCommandType.ACK_RESPONSE:
      return cmd.ackResponse?.requestId;
    case BaseCommandType.CONSUMER_STATS_RESPONSE:
      return cmd.consumerStatsResponse?.requestId;
    default:
      return undefined;
  }
}

export class Connection {
  readonly address: string;
  private socket!: net.Socket;
  private readonly splitter = new PulsarFrameSplitter();
  private readonly pending = new Map<bigint, PendingRequest>();
  private readonly producers = new Map<bigint, ProducerHandler>();
  private readonly consumers = new Map<bigint, ConsumerHandler>();
  private readonly closeListeners: Array<(e: PulsarClientError) => void> = [];
  private keepAlive: NodeJS.Timeout | undefined;
  private lastReceived = Date.now();
  private closedWith: PulsarClientError | null = null;
  private handshake: { resolve(c: CommandConnected): void; reject(e: Error): void } | null = null;
  connected: CommandConnected | null = null;
  maxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;

  private constructor(private readonly o: ConnectionOptions) {
    this.address = `${o.tls ? 'pulsar+ssl' : 'pulsar'}://${formatHost(o.host)}`;
  }

  /** Connects and completes the CONNECT handshake; rejects with a clear error (auth failure, timeout, refused). */
  static async open(o: ConnectionOptions): Promise<Connection> {
    const c = new Connection(o);
    await c.start();
    return c;
  }

  get isClosed(): boolean {
    return this.closedWith !== null;
  }

  get handlerCount(): number {
    return this.producers.size + this.consumers.size;
  }

  private start(): Promise<void> {
    const o = this.o;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.close(timeoutError(`connect to ${this.address}`, o.connectionTimeoutMs));
      }, o.connectionTimeoutMs);
      this.handshake = {
        resolve: (c) => {
          clearTimeout(timer);
          resolve();
          void c;
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const onConnect = () => void this.sendConnect().catch((e: unknown) => this.close(e instanceof PulsarClientError ? e : new PulsarClientError('AuthenticationError', `getting a token: ${(e as Error).message}`, false)));
      if (o.tls) {
        this.socket = tls.connect({
          host: o.host.host,
          port: o.host.port,
          ...(o.tlsOptions?.ca !== undefined ? { ca: o.tlsOptions.ca } : {}),
          rejectUnauthorized: o.tlsOptions?.rejectUnauthorized ?? true,
          ...(net.isIP(o.host.host) ? {} : { servername: o.host.host }),
        });
        this.socket.once('secureConnect', onConnect);
      } else {
        this.socket = net.connect({ host: o.host.host, port: o.host.port });
        this.socket.once('connect', onConnect);
      }
      this.socket.setNoDelay(true);
      this.socket.on('data', (chunk: Buffer) => this.onData(chunk));
      this.socket.on('error', (e) => this.close(connectionClosedError(this.address, e)));
      this.socket.on('close', () => this.close(connectionClosedError(this.address)));
    });
  }

  private async sendConnect(): Promise<void> {
    const { method, data } = await authData(this.o.auth);
    const id = this.o.identity;
    this.write(
      encodeCommand(
        connectCommand({
          clientVersion: CLIENT_VERSION,
          ...(method ? { authMethodName: method, authData: data } : {}),
          ...(this.o.proxyToBrokerUrl ? { proxyToBrokerUrl: this.o.proxyToBrokerUrl } : {}),
          ...(id ? { originalPrincipal: id.principal } : {}),
          ...(id?.authData !== undefined ? { originalAuthData: id.authData } : {}),
          ...(id?.authMethod !== undefined ? { originalAuthMethod: id.authMethod } : {}),
          featureFlags: { supportsAuthRefresh: true, supportsBrokerEntryMetadata: true, supportsPartialProducer: true },
        }),
      ),
    );
  }

  private async answerChallenge(): Promise<void> {
    const { method, data } = await authData(this.o.auth);
    this.write(
      encodeCommand(authResponseCommand({ clientVersion: CLIENT_VERSION, response: { authMethodName: method ?? 'none', authData: data ?? Buffer.alloc(0) } })),
    );
  }

  private startKeepAlive(): void {
    const every = this.o.keepAliveIntervalMs;
    if (!(every > 0)) return;
    this.keepAlive = setInterval(() => {
      if (Date.now() - this.lastReceived >= 2 * every) {
        this.close(new PulsarClientError('ConnectionClosed', `${this.address}: no frame for ${2 * every} ms (keep-alive)`, true));
        return;
      }
      this.write(encodeCommand(pingCommand()));
    }, every);
    this.keepAlive.unref();
  }

  private write(buf: Buffer): void {
    if (this.closedWith || this.socket.destroyed) return;
    this.socket.write(buf);
  }

  /** A simple command (FLOW, ACK without a response, ...); dropped silently when the connection is closed. */
  send(cmd: BaseCommand): void {
    this.write(encodeCommand(cmd));
  }

  /** A payload command (SEND): headers and payload written together, the payload not copied. */
  /**
   * Sends a command with a message. Throws a non-retriable PulsarClientError
   * 'MessageTooBig' (nothing is written) when metadata and payload exceed the
   * broker's max_message_size (of CONNECTED), as Java's client refuses such a
   * message before sending: the broker would close the whole connection.
   */
  sendPayload(cmd: BaseCommand, metadata: MessageMetadata, payload: Buffer): void {
    if (this.closedWith || this.socket.destroyed) return;
    const [headers, body] = encodePayloadCommandChunks(cmd, metadata, payload);
    if (headers.length + body.length > this.maxMessageSize) {
      throw new PulsarClientError('MessageTooBig', `message of ${headers.length + body.length} bytes (metadata and payload) is larger than the broker's max message size of ${this.maxMessageSize} bytes`, false);
    }
    this.socket.cork();
    this.socket.write(headers);
    if (body.length > 0) this.socket.write(body);
    process.nextTick(() => this.socket.uncork());
  }

  /** Sends a command carrying `requestId` and resolves with the broker's answer (ERROR rejects). */
  request(requestId: bigint, cmd: BaseCommand, opts: RequestOptions): Promise<BaseCommand> {
    if (this.closedWith) return Promise.reject(connectionClosedError(`${opts.what} on ${this.address}`, this.closedWith));
    return new Promise<BaseCommand>((resolve, reject) => {
      const ms = opts.timeoutMs ?? this.o.operationTimeoutMs;
      const p: PendingRequest = { what: opts.what, resolve, reject, timer: undefined };
      if (opts.intermediate) p.intermediate = opts.intermediate;
      if (ms > 0) {
        p.timer = setTimeout(() => {
          this.pending.delete(requestId);
          reject(timeoutError(`${opts.what} on ${this.address}`, ms));
        }, ms);
      }
      this.pending.set(requestId, p);
      this.write(encodeCommand(cmd));
    });
  }

  /** Drops a pending request (its answer, if any, is ignored). */
  forget(requestId: bigint): void {
    const p = this.pending.get(requestId);
    if (p?.timer) clearTimeout(p.timer);
    this.pending.delete(requestId);
  }

  registerProducer(id: bigint, h: ProducerHandler): void {
    this.producers.set(id, h);
  }

  unregisterProducer(id: bigint, h?: ProducerHandler): void {
    if (h === undefined || this.producers.get(id) === h) this.producers.delete(id);
  }

  /**
   * Whether `h` is still producer `id` of this connection. A registration checks it once the
   * broker has answered: a CLOSE_PRODUCER (the broker unloading the topic) can arrive in the same
   * read as the PRODUCER_SUCCESS, before the producer counts itself ready, and removes it here.
   */
  hasProducer(id: bigint, h: ProducerHandler): boolean {
    return this.producers.get(id) === h;
  }

  /** Whether `h` is still consumer `id` of this connection (see hasProducer: CLOSE_CONSUMER beside the SUBSCRIBE's SUCCESS). */
  hasConsumer(id: bigint, h: ConsumerHandler): boolean {
    return this.consumers.get(id) === h;
  }

  registerConsumer(id: bigint, h: ConsumerHandler): void {
    this.consumers.set(id, h);
  }

  unregisterConsumer(id: bigint, h?: ConsumerHandler): void {
    if (h === undefined || this.consumers.get(id) === h) this.consumers.delete(id);
  }

  onClose(fn: (e: PulsarClientError) => void): void {
    if (this.closedWith) fn(this.closedWith);
    else this.closeListeners.push(fn);
  }

  /** Closes the socket; fails pending requests and tells producers and consumers (once). */
  close(err: PulsarClientError = connectionClosedError(this.address)): void {
    if (this.closedWith) return;
    this.closedWith = err;
    if (this.keepAlive) clearInterval(this.keepAlive);
    this.socket?.destroy();
    if (this.handshake) {
      this.handshake.reject(err);
      this.handshake = null;
    }
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) {
      if (p.timer) clearTimeout(p.timer);
      p.reject(err.serverError === 'ConnectionClosed' ? err : connectionClosedError(`${p.what} on ${this.address}`, err));
    }
    const producers = [...this.producers.values()];
    const consumers = [...this.consumers.values()];
    this.producers.clear();
    this.consumers.clear();
    const closed = err.serverError === 'ConnectionClosed' ? err : connectionClosedError(this.address, err);
    for (const h of producers) h.onConnectionClosed(closed);
    for (const h of consumers) h.onConnectionClosed(closed);
    for (const fn of this.closeListeners.splice(0)) fn(err);
  }

  private onData(chunk: Buffer): void {
    this.lastReceived = Date.now();
    let frames: Buffer[];
    try {
      frames = this.splitter.push(chunk);
    } catch (e) {
      this.o.logger.error({ err: e, broker: this.address }, 'pulsar: framing error, closing the connection');
      this.close(connectionClosedError(this.address, e));
      return;
    }
    for (const f of frames) {
      if (this.closedWith) return;
      try {
        this.onFrame(f);
      } catch (e) {
        this.o.logger.error({ err: e, broker: this.address }, 'pulsar: bad frame, closing the connection');
        this.close(connectionClosedError(this.address, e));
        return;
      }
    }
  }

  private onFrame(frame: Buffer): void {
    let cmd: BaseCommand;
    let message: MessagePayload | null;
    try {
      ({ command: cmd, message } = decodeFrame(frame));
    } catch (e) {
      if (e instanceof PulsarChecksumError && e.command.type === BaseCommandType.MESSAGE && e.command.message) {
        this.consumers.get(e.command.message.consumerId)?.onMessage(e.command.message, null, e);
        return;
      }
      throw e;
    }
    switch (cmd.type) {
      case BaseCommandType.MESSAGE: {
        const m = cmd.message!;
        const h = this.consumers.get(m.consumerId);
        if (h) h.onMessage(m, message);
        return;
      }
      case BaseCommandType.SEND_RECEIPT:
        this.producers.get(cmd.sendReceipt!.producerId)?.onSendReceipt(cmd.sendReceipt!);
        return;
      case BaseCommandType.SEND_ERROR:
        this.producers.get(cmd.sendError!.producerId)?.onSendError(cmd.sendError!);
        return;
      case BaseCommandType.PING:
        this.write(encodeCommand(pongCommand()));
        return;
      case BaseCommandType.PONG:
        return;
      case BaseCommandType.CONNECTED: {
        this.connected = cmd.connected!;
        if (this.connected.maxMessageSize) {
          this.maxMessageSize = this.connected.maxMessageSize;
          this.splitter.maxFrameSize = maxFrameSizeFor(this.maxMessageSize);
        }
        if (this.handshake) {
          const h = this.handshake;
          this.handshake = null;
          this.startKeepAlive();
          h.resolve(this.connected);
        }
        return;
      }
      case BaseCommandType.AUTH_CHALLENGE:
        void this.answerChallenge().catch((e: unknown) => {
          this.o.logger.error({ err: e, broker: this.address }, 'pulsar: cannot answer AUTH_CHALLENGE');
          this.close(new PulsarClientError('AuthenticationError', `answering the broker's auth challenge: ${(e as Error).message}`, false));
        });
        return;
      case BaseCommandType.CLOSE_PRODUCER: {
        const c = cmd.closeProducer!;
        const h = this.producers.get(c.producerId);
        this.producers.delete(c.producerId);
        h?.onBrokerClose(c);
        return;
      }
      case BaseCommandType.CLOSE_CONSUMER: {
        const c = cmd.closeConsumer!;
        const h = this.consumers.get(c.consumerId);
        this.consumers.delete(c.consumerId);
        h?.onBrokerClose(c);
        return;
      }
      case BaseCommandType.REACHED_END_OF_TOPIC:
        this.consumers.get(cmd.reachedEndOfTopic!.consumerId)?.onReachedEndOfTopic?.();
        return;
      case BaseCommandType.ACTIVE_CONSUMER_CHANGE:
        this.consumers.get(cmd.activeConsumerChange!.consumerId)?.onActiveConsumerChange?.(cmd.activeConsumerChange!.isActive ?? false);
        return;
      case BaseCommandType.ERROR:
        if (this.handshake) {
          // the broker refuses CONNECT (bad token, ...) with ERROR and then closes
          const e = cmd.error!;
          this.close(PulsarClientError.fromServer(e.error, e.message, `connect to ${this.address}`));
          return;
        }
        break;
      default:
        break;
    }
    const requestId = requestIdOf(cmd);
    if (requestId === undefined) {
      this.o.logger.debug({ broker: this.address, type: cmd.type }, 'pulsar: ignored command');
      return;
    }
    const p = this.pending.get(requestId);
    if (!p) return;
    if (cmd.type === BaseCommandType.ERROR) {
      this.pending.delete(requestId);
      if (p.timer) clearTimeout(p.timer);
      p.reject(PulsarClientError.fromServer(cmd.error!.error, cmd.error!.message, p.what));
      return;
    }
    if (p.intermediate?.(cmd)) {
      // keep waiting (no timeout: e.g. a WaitForExclusive producer queued behind another)
      if (p.timer) clearTimeout(p.timer);
      p.timer = undefined;
      return;
    }
    this.pending.delete(requestId);
    if (p.timer) clearTimeout(p.timer);
    p.resolve(cmd);
  }
}
