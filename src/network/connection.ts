/**
 * One client connection: 4-byte size framing, requests handled one after the
 * other with responses written strictly in request order (Kafka's broker mutes
 * a channel while it handles a request; clients rely on that ordering), and
 * back-pressure both ways:
 *  - reading stops while `maxQueuedRequests` frames wait, or while the socket's
 *    outgoing buffer is above its high-water mark (a slow reader);
 *  - a size prefix above `maxFrameBytes` closes the connection, as Kafka does.
 *
 * It knows bytes, sizes and time only; Kafka semantics live in the FrameHandler.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ChunkQueue } from './chunk-queue.js';

export interface FrameResult {
  /**
   * Complete size-prefixed response frame, or its segments in order (large
   * record data is written without being copied into one buffer), or null when
   * the request takes no response.
   */
  response: Buffer | Buffer[] | null;
  /** Close the connection after writing the response (if any). */
  close?: boolean;
  /** Quota violation: handle nothing more from this client for this long (Kafka mutes the channel). */
  throttleMs?: number;
}

export interface FrameHandler {
  /** Called once when the connection is set up, before any byte is read. */
  opened?(conn: Connection): void;
  /**
   * Handle one request. `release` lets the connection start on the next queued
   * request before this one's response is ready (responses still go out in
   * request order); a handler calls it once the order-sensitive part of its
   * work is under way (Produce: appends handed to storage). Never called: the
   * next request waits for this one's response, as Kafka's muted channels do.
   */
  handle(frame: Buffer, conn: Connection, release?: () => void): Promise<FrameResult>;
  /** Called once when the connection is gone, for session clean-up and audit. */
  closed?(conn: Connection): void;
}

export interface ConnectionOptions {
  maxFrameBytes: number;
  maxQueuedRequests: number;
  idleTimeoutMs: number;
}

let nextConnectionId = 1;

/** Requests of one connection handled at once when handlers release early (Kafka producers send up to 5). */
export const MAX_PIPELINED_REQUESTS = 5;

export class Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly openedAt = Date.now();
  /** May be lowered/raised by the session (e.g. a small pre-authentication limit). */
  maxFrameBytes: number;
  /** Free slot for the layers above (session state); the connection never reads it. */
  context: unknown = undefined;

  private readonly input = new ChunkQueue();
  private readonly queue: Buffer[] = [];
  /** performance.now() when each queued frame was complete (request queue-time metric). */
  private readonly queueTimes: number[] = [];
  private processing = false;
  /** Requests started and not yet answered (more than one while released requests pipeline). */
  private outstanding = 0;
  /** Resolves when the response of the latest started request has been written. */
  private writeChain: Promise<void> = Promise.resolve();
  /** A response asked to close the connection: later responses are not written. */
  private closingAfterResponse = false;
  private draining = false;
  private closed = false;
  private paused = false;
  private drainWaiter: (() => void) | null = null;
  private closeWaiters: Array<() => void> = [];
  bytesIn = 0;
  bytesOut = 0;
  requests = 0;
  /** performance.now() when the request being handed to the handler was read (valid until the handler's first await). */
  requestReceivedAt = 0;

  constructor(
    readonly socket: Socket,
    private readonly handler: FrameHandler,
    private readonly options: ConnectionOptions,
    readonly log: Logger,
    readonly listenerName: string,
  ) {
    this.remoteAddress = socket.remoteAddress ?? '?';
    this.remotePort = socket.remotePort ?? 0;
    this.maxFrameBytes = options.maxFrameBytes;
    socket.setNoDelay(true);
    if (options.idleTimeoutMs > 0) {
      socket.setTimeout(options.idleTimeoutMs, () => {
        if (this.outstanding > 0) return; // a long request is not idleness
        this.log.info({ conn: this.id, idleMs: options.idleTimeoutMs }, 'closing idle connection');
        this.destroy();
      });
    }
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('drain', () => {
      const w = this.drainWaiter;
      this.drainWaiter = null;
      w?.();
    });
    socket.on('error', (err) => this.log.debug({ conn: this.id, err: err.message }, 'socket error'));
    socket.on('close', () => this.onClose());
    handler.opened?.(this);
    socket.on('end', () => {
      // Client half-closed: finish what it sent, then close our side.
      this.draining = true;
      if (this.outstanding === 0 && this.queue.length === 0) socket.end();
    });
  }

  get isClosed(): boolean {
    return this.closed;
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.draining) return;
    this.bytesIn += chunk.length;
    this.input.push(chunk);
    this.extractFrames();
    this.pump();
  }

  private extractFrames(): void {
    while (this.input.length >= 4) {
      const size = this.input.peekInt32();
      if (size < 0 || size > this.maxFrameBytes) {
        this.log.warn(
          { conn: this.id, remote: this.remoteAddress, size, max: this.maxFrameBytes },
          size < 0 ? 'invalid negative frame size; closing connection' : 'request frame larger than allowed; closing connection',
        );
        this.destroy();
        return;
      }
      if (this.input.length < 4 + size) break;
      this.queue.push(this.input.take(4 + size).subarray(4));
      this.queueTimes.push(performance.now());
    }
    if (this.queue.length >= this.options.maxQueuedRequests) this.pause();
  }

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private resume(): void {
    if (this.paused && !this.closed) {
      this.paused = false;
      this.socket.resume();
    }
  }

  private pump(): void {
    if (this.processing || this.closed || this.closingAfterResponse) return;
    if (this.outstanding >= MAX_PIPELINED_REQUESTS) return;
    const frame = this.queue.shift();
    const receivedAt = this.queueTimes.shift() ?? 0;
    if (!frame) {
      if (this.draining && this.outstanding === 0) this.finishDrain();
      return;
    }
    this.processing = true;
    this.outstanding++;
    void this.run(frame, receivedAt);
  }

  private async run(frame: Buffer, receivedAt: number): Promise<void> {
    this.requests++;
    const previousWrite = this.writeChain;
    let written!: () => void;
    this.writeChain = new Promise<void>((r) => (written = r));
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.processing = false;
      this.pump();
    };
    let result: FrameResult;
    try {
      this.requestReceivedAt = receivedAt; // read by the handler before its first await
      result = await this.handler.handle(frame, this, release);
    } catch (err) {
      this.log.warn({ conn: this.id, err: (err as Error).message }, 'request failed; closing connection');
      released = true;
      this.processing = false;
      this.outstanding--;
      written();
      this.destroy();
      return;
    }
    await previousWrite; // responses leave in request order
    try {
      if (this.closed || this.closingAfterResponse) return;
      if (result.response) {
        let flushed: boolean;
        if (Array.isArray(result.response)) {
          this.socket.cork();
          flushed = true;
          for (const part of result.response) {
            this.bytesOut += part.length;
            flushed = this.socket.write(part) && flushed;
          }
          this.socket.uncork();
        } else {
          this.bytesOut += result.response.length;
          flushed = this.socket.write(result.response);
        }
        if (!flushed) await this.waitDrain();
      }
      if (result.close) {
        this.closingAfterResponse = true;
        this.draining = true;
        this.queue.length = 0;
        this.queueTimes.length = 0;
        this.finishDrain();
        return;
      }
      if (result.throttleMs && result.throttleMs > 0) {
        this.pause();
        await new Promise((r) => setTimeout(r, result.throttleMs));
        if (this.closed) return;
      }
    } finally {
      this.outstanding--;
      if (!released) {
        released = true;
        this.processing = false;
      }
      written();
    }
    if (this.queue.length < this.options.maxQueuedRequests) this.resume();
    this.pump();
  }

  private waitDrain(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.drainWaiter = resolve;
    });
  }

  /**
   * Graceful close: stop reading, finish the requests already received, then
   * end the socket. Resolves when closed (or destroys after timeoutMs).
   */
  drain(timeoutMs: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    this.draining = true;
    this.pause();
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    if (this.outstanding === 0 && this.queue.length === 0) this.finishDrain();
    const timer = setTimeout(() => this.destroy(), timeoutMs);
    timer.unref();
    return done.finally(() => clearTimeout(timer));
  }

  private finishDrain(): void {
    this.socket.end();
    // If the peer never reads our FIN, 'close' still comes once the socket is destroyed.
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }

  /** Close now, dropping queued requests. */
  destroy(): void {
    if (!this.socket.destroyed) this.socket.destroy();
  }

  private onClose(): void {
    this.closed = true;
    this.queue.length = 0;
    this.queueTimes.length = 0;
    this.input.clear();
    const w = this.drainWaiter;
    this.drainWaiter = null;
    w?.();
    for (const resolve of this.closeWaiters.splice(0)) resolve();
    if (!this.closedNotified) {
      this.closedNotified = true;
      this.handler.closed?.(this);
    }
  }

  private closedNotified = false;
}
