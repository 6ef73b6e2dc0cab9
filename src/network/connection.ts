/**
 * One client connection: 4-byte size framing, requests handled one after the
 * other with responses written strictly in request order (Kafka's broker mutes
 * a channel while it handles a request; clients rely on that ordering), and
 * back-pressure both ways, and bounds on what one connection may hold:
 *  - reading stops while `maxQueuedRequests` frames, or `maxQueuedBytes` bytes
 *    (queued frames plus a partly received one), wait behind the requests being
 *    handled, or while the socket's outgoing buffer is above its high-water mark
 *    (a slow reader); one frame is always received whole;
 *  - a size prefix above `maxFrameBytes` closes the connection, as Kafka does;
 *    before authentication both bounds are the small pre-authentication frame size;
 *  - a frame whose first byte arrived must arrive whole within
 *    `requestReceiveTimeoutMs` (time the connection itself stops reading does
 *    not count), or the connection closes;
 *  - on close every buffered byte is dropped, and the process-wide gauge
 *    boundCounters.bufferedRequestBytes follows what connections hold.
 *
 * It knows bytes, sizes and time only; Kafka semantics live in the FrameHandler.
 */
import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { ChunkQueue } from './chunk-queue.js';
import { boundCounters, noteRefusal } from './counters.js';

/** process.nextTick target: lets a corked socket write what the tick queued (one writev). */
function uncork(socket: Socket): void {
  socket.uncork();
}

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
  /**
   * Called once when the socket no longer needs the response's buffers: its write
   * completed (or failed), or it is never written (connection closed first).
   * Storage buffers the response refers to without a copy are reused from here.
   */
  written?: () => void;
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
  /** A bound closed the connection (frame too large, frame not received in time): for audit. */
  refused?(conn: Connection, reason: string): void;
}

export interface ConnectionOptions {
  maxFrameBytes: number;
  maxQueuedRequests: number;
  /** Bytes of queued frames (plus a partial one) before reading stops; default: no byte bound. */
  maxQueuedBytes?: number;
  /** A started frame must be received whole within this time; 0 or absent: no bound. */
  requestReceiveTimeoutMs?: number;
  idleTimeoutMs: number;
  /** Called once when the client has authenticated (or at once on listeners without authentication). */
  onAuthenticated?: () => void;
}

let nextConnectionId = 1;

/** Requests of one connection handled at once when handlers release early (Kafka producers send up to 5). */
export const MAX_PIPELINED_REQUESTS = 5;

export class Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly openedAt = Date.now();
  /** Lowered before authentication (preAuthenticationLimits), restored by authenticated(). */
  maxFrameBytes: number;
  /** Read-ahead bound in bytes; lowered before authentication like maxFrameBytes. */
  maxQueuedBytes: number;
  private preAuth = false;
  /** Free slot for the layers above (session state); the connection never reads it. */
  context: unknown = undefined;

  private readonly input = new ChunkQueue();
  private readonly queue: Buffer[] = [];
  /** Bytes of the frames in `queue`. */
  private queueBytes = 0;
  /** What this connection adds to boundCounters.bufferedRequestBytes. */
  private heldBytes = 0;
  private partialTimer: NodeJS.Timeout | null = null;
  /** When the frame now partly received started arriving (or reading resumed). */
  private partialSince = 0;
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
    this.maxQueuedBytes = options.maxQueuedBytes ?? Infinity;
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

  /** Bytes read ahead and not yet handed to the handler: queued frames plus a partly received one. */
  get bufferedBytes(): number {
    return this.queueBytes + this.input.length;
  }

  /** Frames received whole and waiting for their turn. */
  get queuedFrames(): number {
    return this.queue.length;
  }

  /**
   * Until authenticated(): frames and read-ahead are bounded by `frameBytes`
   * (saslMaxReceiveSize), so an unauthenticated client can make the gateway
   * hold at most about two small frames.
   */
  preAuthenticationLimits(frameBytes: number): void {
    this.preAuth = true;
    this.maxFrameBytes = Math.min(frameBytes, this.options.maxFrameBytes);
    this.maxQueuedBytes = Math.min(frameBytes, this.options.maxQueuedBytes ?? Infinity);
  }

  /** The client authenticated: the full limits apply and the unauthenticated slot is given back. */
  authenticated(): void {
    this.preAuth = false;
    this.maxFrameBytes = this.options.maxFrameBytes;
    this.maxQueuedBytes = this.options.maxQueuedBytes ?? Infinity;
    this.options.onAuthenticated?.();
    if (!this.overReadAhead() && !this.throttled) this.resume();
  }

  private onData(chunk: Buffer): void {
    if (this.closed || this.draining) return;
    this.bytesIn += chunk.length;
    this.input.push(chunk);
    this.extractFrames();
    this.account();
    this.pump();
  }

  private extractFrames(): void {
    let took = false;
    while (this.input.length >= 4) {
      const size = this.input.peekInt32();
      if (size < 0 || size > this.maxFrameBytes) {
        const preAuth = this.preAuth && size >= 0;
        const reason = size < 0 ? `invalid negative frame size ${size}` : `request frame of ${size} bytes, larger than ${this.maxFrameBytes} (${preAuth ? 'saslMaxReceiveSize, before authentication' : 'socketRequestMaxBytes'})`;
        noteRefusal(
          this.log,
          preAuth ? 'preAuthFrameTooLarge' : 'frameTooLarge',
          { conn: this.id, remote: this.remoteAddress, size, max: this.maxFrameBytes },
          size < 0 ? 'invalid negative frame size; closing connection' : 'request frame larger than allowed; closing connection',
        );
        this.refuse(reason);
        return;
      }
      if (this.input.length < 4 + size) break;
      const frame = this.input.take(4 + size).subarray(4);
      this.queue.push(frame);
      this.queueBytes += frame.length;
      this.queueTimes.push(performance.now());
      took = true;
    }
    if (took) this.partialSince = this.input.length > 0 ? Date.now() : 0; // what is left, if anything, is a new frame
    if (this.overReadAhead()) {
      if (!this.paused) boundCounters.readAheadPauses++;
      this.pause();
    }
    this.watchPartialFrame();
  }

  /** Read-ahead bounds: frames waiting, or bytes waiting behind at least one queued frame. */
  private overReadAhead(): boolean {
    if (this.queue.length >= this.options.maxQueuedRequests) return true;
    return this.queue.length > 0 && this.queueBytes + this.input.length >= this.maxQueuedBytes;
  }

  /** Keeps boundCounters.bufferedRequestBytes equal to the sum over open connections. */
  private account(): void {
    const held = this.closed ? 0 : this.queueBytes + this.input.length;
    boundCounters.bufferedRequestBytes += held - this.heldBytes;
    this.heldBytes = held;
  }

  /**
   * Arms the receive timer while a frame is partly received and the connection
   * is reading; the frame must then complete within requestReceiveTimeoutMs.
   */
  private watchPartialFrame(): void {
    const timeoutMs = this.options.requestReceiveTimeoutMs ?? 0;
    if (timeoutMs <= 0) return;
    if (this.input.length === 0 || this.paused || this.closed) {
      if (this.input.length === 0) this.partialSince = 0;
      if (this.partialTimer) clearTimeout(this.partialTimer);
      this.partialTimer = null;
      return;
    }
    if (this.partialSince === 0) this.partialSince = Date.now();
    if (this.partialTimer) return;
    const check = (): void => {
      this.partialTimer = null;
      if (this.closed || this.paused || this.input.length === 0 || this.partialSince === 0) return;
      const left = this.partialSince + timeoutMs - Date.now();
      if (left > 0) {
        this.partialTimer = setTimeout(check, left);
        this.partialTimer.unref();
        return;
      }
      const expected = this.input.length >= 4 ? this.input.peekInt32() + 4 : null;
      noteRefusal(
        this.log,
        'partialFrameTimeout',
        { conn: this.id, remote: this.remoteAddress, received: this.input.length, expected, timeoutMs },
        'request frame not received whole in time (requestReceiveTimeoutMs); closing connection',
      );
      this.refuse(`request frame not received whole within ${timeoutMs} ms (${this.input.length} of ${expected ?? '?'} bytes)`);
    };
    this.partialTimer = setTimeout(check, Math.max(0, this.partialSince + timeoutMs - Date.now()));
    this.partialTimer.unref();
  }

  private refuse(reason: string): void {
    if (this.closed) return;
    this.handler.refused?.(this, reason);
    this.destroy();
  }

  private throttled = false;

  private pause(): void {
    if (!this.paused) {
      this.paused = true;
      this.socket.pause();
    }
    this.watchPartialFrame();
  }

  private resume(): void {
    if (this.paused && !this.closed) {
      this.paused = false;
      this.socket.resume();
      this.partialSince = this.input.length > 0 ? Date.now() : 0; // waiting for us is not the client's time
      this.watchPartialFrame();
    }
  }

  private pump(): void {
    if (this.processing || this.closed || this.closingAfterResponse) return;
    if (this.outstanding >= MAX_PIPELINED_REQUESTS) return;
    const frame = this.queue.shift();
    if (frame) {
      this.queueBytes -= frame.length;
      this.account();
    }
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
    // the socket's callback for the response's last write: every part was handed off (written, or failed)
    let onWritten: (() => void) | undefined = result.written;
    try {
      if (this.closed || this.closingAfterResponse) return;
      if (result.response) {
        let flushed: boolean;
        const done = onWritten;
        onWritten = undefined; // from here the socket's callback runs it
        // Corked until the end of this tick: the responses of requests that complete together (the
        // broker's receipts of one read) leave in one writev instead of one write each.
        this.socket.cork();
        if (Array.isArray(result.response)) {
          flushed = true;
          const parts = result.response;
          for (let i = 0; i < parts.length; i++) {
            const part = parts[i]!;
            this.bytesOut += part.length;
            flushed = (i === parts.length - 1 && done ? this.socket.write(part, done) : this.socket.write(part)) && flushed;
          }
          if (parts.length === 0) done?.();
        } else {
          this.bytesOut += result.response.length;
          flushed = done ? this.socket.write(result.response, done) : this.socket.write(result.response);
        }
        process.nextTick(uncork, this.socket);
        if (!flushed) await this.waitDrain();
      }
      if (result.close) {
        this.closingAfterResponse = true;
        this.draining = true;
        this.dropBuffered();
        this.finishDrain();
        return;
      }
      if (result.throttleMs && result.throttleMs > 0) {
        this.throttled = true;
        this.pause();
        await new Promise((r) => setTimeout(r, result.throttleMs));
        this.throttled = false;
        if (this.closed) return;
      }
    } finally {
      onWritten?.(); // not handed to the socket: nothing refers to the buffers any more
      this.outstanding--;
      if (!released) {
        released = true;
        this.processing = false;
      }
      written();
    }
    if (!this.overReadAhead()) this.resume();
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

  /** Drops every frame read ahead and the partial one (close, or a response that closes). */
  private dropBuffered(): void {
    this.queue.length = 0;
    this.queueTimes.length = 0;
    this.queueBytes = 0;
    this.input.clear();
    if (this.partialTimer) clearTimeout(this.partialTimer);
    this.partialTimer = null;
    this.account();
  }

  private onClose(): void {
    this.closed = true;
    this.dropBuffered();
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
