/**
 * Where audit lines go, off the data path: callers append to a memory queue and
 * return at once; one writer drains the queue with asynchronous file writes,
 * batching whatever accumulated meanwhile.
 *
 * When the file cannot be written (disk full, file system gone...) the failure
 * is logged LOUDLY on the main log (at once, then every 30 s while it lasts), the
 * lines stay queued (up to maxBufferBytes, then new lines are dropped and
 * counted), and the file is reopened with backoff; when writing works again the
 * queue is written and a record tells how many lines were dropped. A file that
 * is moved or deleted (log rotation) is noticed and reopened under its name.
 *
 * With a chain (chain.ts) every line is sealed (prev/hash) when it is accepted
 * into the queue, so the file holds exactly the sealed order and a dropped line
 * is never sealed; with a signing key a checkpoint ends the old file at rotation
 * and the log at close, and the last hash is saved next to the file.
 */
import { mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import { saveChainState, type AuditChain } from './chain.js';

export interface AuditSink {
  /** Queue one line (with its newline). Never blocks, never throws. */
  write(line: string): void;
  /** Resolves when every line queued so far has been written (or after timeoutMs; false then). */
  flush(timeoutMs?: number): Promise<boolean>;
  close(): Promise<void>;
  readonly stats: AuditSinkStats;
}

export interface AuditSinkStats {
  lines: number;
  /** Dropped since the last 'records were dropped' record was written. */
  dropped: number;
  /** Dropped since the sink opened (metrics). */
  droppedTotal: number;
  failing: boolean;
  queuedBytes: number;
}

export interface FileAuditSinkOptions {
  logger?: Logger;
  /** Memory kept for unwritten lines while the file fails; beyond it lines are dropped (counted). Default 64 MiB. */
  maxBufferBytes?: number;
  /** First reopen delay after a failure, doubled up to retryMaxMs. Defaults 500 ms / 30 s. */
  retryMinMs?: number;
  retryMaxMs?: number;
  /** How often to check whether the file was moved or deleted. Default 10 s; 0 disables. */
  rotationCheckMs?: number;
  /** How often a persisting failure is logged again. Default 30 s. */
  repeatErrorMs?: number;
  /** How long close() waits for queued lines to be written. Default 5 s. */
  closeTimeoutMs?: number;
  /** The line written after a failure when lines were dropped. */
  droppedLine?: (count: number, since: Date) => string;
  /** Opens the file for appending (tests inject failures here). Default: mkdir -p, then open(path, 'a', 0o640). */
  openFile?: (path: string) => Promise<FileHandle>;
  /** Hash chain (and checkpoint key) sealing every accepted line (docs/audit-log.md#tamper-evidence). */
  chain?: AuditChain;
}

const MiB = 1024 * 1024;

export class FileAuditSink implements AuditSink {
  private fh: FileHandle | null;
  private ino = 0;
  private dev = 0;
  private queue: Buffer[] = [];
  private queuedBytes = 0;
  private draining = false;
  private failing = false;
  private failingSince: Date | null = null;
  private lastErrorLog = 0;
  private retryDelay: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private rotationTimer: NodeJS.Timeout | null = null;
  private dropped = 0;
  private droppedTotal = 0;
  private droppedSince: Date | null = null;
  private lines = 0;
  private closed = false;
  private waiters: Array<() => void> = [];
  private readonly log: Logger;
  private readonly maxBufferBytes: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly repeatErrorMs: number;
  private readonly openFile: (path: string) => Promise<FileHandle>;

  private constructor(
    readonly path: string,
    fh: FileHandle,
    private readonly options: FileAuditSinkOptions,
  ) {
    this.fh = fh;
    this.log = options.logger ?? silentLogger();
    this.maxBufferBytes = options.maxBufferBytes ?? 64 * MiB;
    this.retryMinMs = options.retryMinMs ?? 500;
    this.retryMaxMs = options.retryMaxMs ?? 30_000;
    this.repeatErrorMs = options.repeatErrorMs ?? 30_000;
    this.retryDelay = this.retryMinMs;
    this.openFile = options.openFile ?? openAppend;
  }

  /** Create the directory and open the file for appending; rejects when it cannot (the gateway must not start). */
  static async open(path: string, options: FileAuditSinkOptions = {}): Promise<FileAuditSink> {
    const fh = await (options.openFile ?? openAppend)(path);
    const sink = new FileAuditSink(path, fh, options);
    await sink.remember(fh);
    const every = options.rotationCheckMs ?? 10_000;
    if (every > 0) {
      sink.rotationTimer = setInterval(() => void sink.checkRotation(), every);
      sink.rotationTimer.unref();
    }
    return sink;
  }

  get stats(): AuditSinkStats {
    return { lines: this.lines, dropped: this.dropped, droppedTotal: this.droppedTotal, failing: this.failing, queuedBytes: this.queuedBytes };
  }

  write(line: string): void {
    if (this.closed) {
      this.drop();
      return;
    }
    if (this.queuedBytes + line.length > this.maxBufferBytes) {
      this.drop();
      return;
    }
    this.enqueue(line);
    this.kick();
  }

  /** Queue an accepted line, sealed by the chain when there is one (in acceptance order). */
  private enqueue(line: string): void {
    const buf = Buffer.from(this.options.chain ? this.options.chain.seal(line) : line, 'utf8');
    this.queue.push(buf);
    this.queuedBytes += buf.length;
  }

  async flush(timeoutMs = 5_000): Promise<boolean> {
    if (this.queue.length === 0 && !this.draining) return true;
    return new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.push(done);
      this.kick();
    });
  }

  /** Reopen the file under its name (after rotation; also what the failure retry does). */
  async reopen(): Promise<void> {
    if (this.closed) return;
    const old = this.fh;
    const fh = await this.openFile(this.path);
    this.fh = fh;
    await this.remember(fh);
    if (old) await old.close().catch(() => {});
    this.kick();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    const chain = this.options.chain;
    const checkpoint = chain?.checkpoint('stop');
    if (checkpoint) {
      this.queue.push(Buffer.from(checkpoint, 'utf8'));
      this.queuedBytes += checkpoint.length;
      this.kick();
    }
    const ok = await this.flush(this.options.closeTimeoutMs ?? 5_000);
    if (chain) await saveChainState(this.path, chain.last);
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.rotationTimer) clearInterval(this.rotationTimer);
    if (!ok || this.queue.length > 0) {
      this.log.error(
        { auditLogFile: this.path, unwrittenBytes: this.queuedBytes, dropped: this.dropped },
        'AUDIT LOG: closing with audit records that could not be written',
      );
    }
    await this.fh?.close().catch(() => {});
    this.fh = null;
  }

  private drop(): void {
    if (this.dropped === 0) {
      this.droppedSince = new Date();
      this.log.error(
        { auditLogFile: this.path, maxBufferBytes: this.maxBufferBytes },
        this.closed ? 'AUDIT LOG: record after close dropped' : 'AUDIT LOG: buffer full while the file cannot be written: audit records are being DROPPED',
      );
    }
    this.dropped++;
    this.droppedTotal++;
  }

  private kick(): void {
    if (this.draining || this.failing || !this.fh) return;
    this.draining = true;
    setImmediate(() => void this.drain());
  }

  private async drain(): Promise<void> {
    try {
      while (this.fh && !this.failing) {
        if (this.dropped > 0 && this.options.droppedLine && this.droppedSince) {
          // after the lines accepted before the drops (the order they were sealed in)
          this.enqueue(this.options.droppedLine(this.dropped, this.droppedSince));
          this.log.warn({ auditLogFile: this.path, dropped: this.dropped }, 'AUDIT LOG: records were dropped; a record saying so is written');
          this.dropped = 0;
          this.droppedSince = null;
        }
        if (this.queue.length === 0) break;
        const batch = this.queue;
        this.queue = [];
        const buf = batch.length === 1 ? batch[0]! : Buffer.concat(batch);
        let off = 0;
        try {
          while (off < buf.length) {
            const { bytesWritten } = await this.fh.write(buf, off, buf.length - off);
            off += bytesWritten;
          }
          this.queuedBytes -= buf.length;
          this.lines += countNewlines(buf);
          if (this.failingSince) {
            this.log.warn({ auditLogFile: this.path, failingSince: this.failingSince.toISOString() }, 'AUDIT LOG: the file is writable again');
            this.failingSince = null;
          }
        } catch (err) {
          // keep what was not written, in order, before anything queued meanwhile
          const rest = buf.subarray(off);
          this.queue.unshift(rest);
          this.queuedBytes -= off;
          this.fail(err as Error);
        }
      }
    } finally {
      this.draining = false;
    }
    if (this.queue.length === 0 && !this.failing) {
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    } else if (!this.failing && this.fh) {
      this.kick();
    }
  }

  private fail(err: Error): void {
    this.failing = true;
    const now = Date.now();
    if (!this.failingSince || now - this.lastErrorLog >= this.repeatErrorMs) {
      this.lastErrorLog = now;
      this.log.error(
        { auditLogFile: this.path, err: err.message, code: (err as NodeJS.ErrnoException).code, queuedBytes: this.queuedBytes, failingSince: (this.failingSince ?? new Date()).toISOString() },
        this.failingSince
          ? 'AUDIT LOG STILL CANNOT BE WRITTEN: records are held in memory (and dropped when the buffer is full); retrying'
          : 'AUDIT LOG WRITE FAILED: records are held in memory (and dropped when the buffer is full) until the file can be written again; retrying',
      );
    }
    this.failingSince ??= new Date();
    this.scheduleRetry();
  }

  private scheduleRetry(): void {
    if (this.closed || this.retryTimer) return;
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, this.retryMaxMs);
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      void this.retry();
    }, delay);
    this.retryTimer.unref();
  }

  private async retry(): Promise<void> {
    if (this.closed) return;
    try {
      const old = this.fh;
      this.fh = null;
      await old?.close().catch(() => {});
      const fh = await this.openFile(this.path);
      this.fh = fh;
      await this.remember(fh);
      this.failing = false;
      this.retryDelay = this.retryMinMs;
      this.kick();
    } catch (err) {
      this.fail(err as Error);
    }
  }

  private async remember(fh: FileHandle): Promise<void> {
    try {
      const st = await fh.stat();
      this.ino = st.ino;
      this.dev = st.dev;
    } catch {
      this.ino = 0;
    }
  }

  private async checkRotation(): Promise<void> {
    if (this.closed || this.failing || this.draining || !this.fh || this.ino === 0) return;
    let moved = false;
    try {
      const st = await stat(this.path);
      moved = st.ino !== this.ino || st.dev !== this.dev;
    } catch {
      moved = true;
    }
    if (!moved || this.closed || this.failing || this.draining) return;
    // Not draining and not failing: every accepted line is in the old file. A checkpoint ends it.
    const chain = this.options.chain;
    const checkpoint = chain?.checkpoint('rotation');
    // Lines accepted from here on wait (queued) until the new file is open: the checkpoint stays the
    // old file's last line. (draining keeps kick() from writing to the old file meanwhile.)
    this.draining = true;
    try {
      if (checkpoint && this.fh) {
        try {
          await this.fh.write(checkpoint);
        } catch {
          this.queue.unshift(Buffer.from(checkpoint, 'utf8')); // then it starts the new file: the chain still holds
          this.queuedBytes += checkpoint.length;
        }
      }
      await this.reopen();
      if (chain) await saveChainState(this.path, chain.last);
      this.log.info({ auditLogFile: this.path }, 'audit log file was moved or deleted: reopened under its name');
    } catch (err) {
      this.draining = false;
      this.fail(err as Error);
      return;
    }
    this.draining = false;
    this.kick();
  }
}

export async function openAppend(path: string): Promise<FileHandle> {
  await mkdir(dirname(path), { recursive: true });
  return open(path, 'a', 0o640);
}

function countNewlines(buf: Buffer): number {
  let n = 0;
  let i = buf.indexOf(10);
  while (i !== -1) {
    n++;
    i = buf.indexOf(10, i + 1);
  }
  return n;
}

/** auditLogFile=- : lines go to stdout (synchronous like the main log when stdout is a file or pipe). */
export class StdoutAuditSink implements AuditSink {
  private lines = 0;
  private closed = false;
  private dropped = 0;

  constructor(
    private readonly out: NodeJS.WritableStream = process.stdout,
    private readonly chain: AuditChain | null = null,
  ) {}

  get stats(): AuditSinkStats {
    return { lines: this.lines, dropped: this.dropped, droppedTotal: this.dropped, failing: false, queuedBytes: 0 };
  }

  write(line: string): void {
    if (this.closed) {
      this.dropped++;
      return;
    }
    this.lines++;
    this.out.write(this.chain ? this.chain.seal(line) : line);
  }

  async flush(): Promise<boolean> {
    return new Promise((resolve) => {
      if (!this.out.write('')) this.out.once('drain', () => resolve(true));
      else resolve(true);
    });
  }

  async close(): Promise<void> {
    const checkpoint = this.closed ? null : this.chain?.checkpoint('stop');
    if (checkpoint) this.out.write(checkpoint);
    await this.flush();
    this.closed = true;
  }
}

/** Keeps lines in memory (tests, embedding). */
export class MemoryAuditSink implements AuditSink {
  readonly lines: string[] = [];

  get stats(): AuditSinkStats {
    return { lines: this.lines.length, dropped: 0, droppedTotal: 0, failing: false, queuedBytes: 0 };
  }

  write(line: string): void {
    this.lines.push(line);
  }

  records(): Array<Record<string, unknown>> {
    return this.lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  }

  async flush(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {}
}
