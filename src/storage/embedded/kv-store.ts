/**
 * Durable key-value state (group coordinator offsets and metadata): an
 * append-only file of CRC-protected records, loaded into memory at start.
 *
 * Record: length u32 (of what follows the CRC) | crc32c u32 | type u8 (1 put, 2 delete)
 *         | nsLength u16 | ns | keyLength u32 | key | [valueLength u32 | value]   (utf8 strings)
 *
 * put() resolves after the record is fsynced, and only then is the new value
 * visible to get()/scan(); concurrent puts share one write and one fdatasync
 * (group commit). A torn or corrupt tail is truncated when loading.
 * When the file grows beyond twice the live data (and a minimum size), it is
 * rewritten with the live entries only (temp file + fsync + rename + dir fsync).
 */
import { crc32c } from '@node-rs/crc32';
import fs from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '../../protocol/errors.js';
import { StorageError, type KeyValueStore } from '../engine.js';
import { close, fdatasync, fstatSize, fsync, fsyncDir, ftruncate, open, pread, pwritev, type IoStats } from './io.js';
import type { EngineLogger } from './types.js';

const PUT = 1;
const DEL = 2;
const HEAD = 8;

interface PendingPut {
  record: Buffer;
  namespace: string;
  key: string;
  value: Buffer | null;
  resolve: () => void;
  reject: (err: unknown) => void;
}

export interface KvStoreOptions {
  /** Compact when the file exceeds this size and twice the live bytes. */
  compactMinBytes?: number;
}

export class FileKeyValueStore implements KeyValueStore {
  private readonly data = new Map<string, Map<string, Buffer>>();
  private fd = -1;
  private fileSize = 0;
  private liveBytes = 0;
  private queue: PendingPut[] = [];
  private draining: Promise<void> | null = null;
  private closed = false;
  private readonly compactMinBytes: number;
  readonly path: string;

  constructor(
    readonly dir: string,
    private readonly stats: IoStats,
    private readonly logger: EngineLogger,
    options: KvStoreOptions = {},
  ) {
    this.path = join(dir, 'kv.log');
    this.compactMinBytes = options.compactMinBytes ?? 4 << 20;
  }

  /** Bytes of the file (tests). */
  get sizeOnDisk(): number {
    return this.fileSize;
  }

  async open(): Promise<void> {
    await fs.promises.mkdir(this.dir, { recursive: true });
    await fs.promises.rm(`${this.path}.tmp`, { force: true });
    this.fd = await open(this.path, fs.constants.O_RDWR | fs.constants.O_CREAT);
    const size = await fstatSize(this.fd);
    const buf = Buffer.allocUnsafe(size);
    const n = await pread(this.fd, buf, 0, size, 0);
    let pos = 0;
    while (pos < n) {
      const len = parseRecord(buf, pos, n, (type, ns, key, value) => this.applyInMemory(type, ns, key, value));
      if (len < 0) break;
      pos += len;
    }
    if (pos < size) {
      this.logger.warn({ file: this.path, validBytes: pos, truncatedBytes: size - pos }, 'state store: truncating a torn or corrupt tail');
      await ftruncate(this.fd, pos);
      await fdatasync(this.fd, this.stats);
    }
    this.fileSize = pos;
    if (this.needsCompaction()) await this.compact();
  }

  async get(namespace: string, key: string): Promise<Buffer | null> {
    return this.data.get(namespace)?.get(key) ?? null;
  }

  async scan(namespace: string): Promise<Array<{ key: string; value: Buffer }>> {
    const m = this.data.get(namespace);
    if (!m) return [];
    return [...m].map(([key, value]) => ({ key, value }));
  }

  put(namespace: string, key: string, value: Buffer | null): Promise<void> {
    if (this.closed || this.fd < 0) return Promise.reject(new StorageError(ErrorCode.KAFKA_STORAGE_ERROR, 'state store is closed'));
    let record: Buffer;
    try {
      record = encodeRecord(value === null ? DEL : PUT, namespace, key, value);
    } catch (err) {
      return Promise.reject(err);
    }
    // Applied in memory once durable, in put order (get() never shows state a crash could lose).
    const copy = value === null ? null : Buffer.from(value);
    return new Promise((resolve, reject) => {
      this.queue.push({ record, namespace, key, value: copy, resolve, reject });
      this.kick();
    });
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length > 0) this.kick(); // queued after the loop's last check
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    while (this.draining) await this.draining;
    if (this.fd >= 0) {
      const fd = this.fd;
      this.fd = -1;
      await close(fd);
    }
  }

  private applyInMemory(type: number, ns: string, key: string, value: Buffer | null): void {
    let m = this.data.get(ns);
    const old = m?.get(key);
    if (old !== undefined) this.liveBytes -= entrySize(ns, key, old);
    if (type === PUT && value !== null) {
      if (!m) this.data.set(ns, (m = new Map()));
      m.set(key, value);
      this.liveBytes += entrySize(ns, key, value);
    } else if (m) {
      m.delete(key);
      if (m.size === 0) this.data.delete(ns);
    }
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      const bufs = batch.map((p) => p.record);
      let bytes = 0;
      for (const b of bufs) bytes += b.length;
      try {
        await pwritev(this.fd, bufs, this.fileSize);
        this.fileSize += bytes;
        await fdatasync(this.fd, this.stats);
        for (const p of batch) {
          this.applyInMemory(p.value === null ? DEL : PUT, p.namespace, p.key, p.value);
          p.resolve();
        }
      } catch (err) {
        this.logger.error({ err, file: this.path }, 'state store write failed');
        const e = new StorageError(ErrorCode.KAFKA_STORAGE_ERROR, `state store write failed: ${(err as Error).message}`);
        for (const p of batch) p.reject(e);
        try {
          await ftruncate(this.fd, this.fileSize);
        } catch {
          // keep going; the next open truncates a bad tail anyway
        }
        continue;
      }
      if (this.needsCompaction()) {
        try {
          await this.compact();
        } catch (err) {
          this.logger.error({ err, file: this.path }, 'state store compaction failed (will retry later)');
        }
      }
    }
  }

  private needsCompaction(): boolean {
    return this.fileSize > this.compactMinBytes && this.fileSize > 2 * this.liveBytes;
  }

  /** Rewrite the file with the live entries only. Runs inside the drain loop (no concurrent writes). */
  private async compact(): Promise<void> {
    const tmp = `${this.path}.tmp`;
    const bufs: Buffer[] = [];
    let size = 0;
    for (const [ns, m] of this.data) {
      for (const [key, value] of m) {
        const r = encodeRecord(PUT, ns, key, value);
        bufs.push(r);
        size += r.length;
      }
    }
    const fd = await open(tmp, 'w');
    try {
      await pwritev(fd, bufs, 0);
      await fsync(fd, this.stats);
    } catch (err) {
      await close(fd);
      throw err;
    }
    await fs.promises.rename(tmp, this.path);
    await fsyncDir(this.dir, this.stats);
    const old = this.fd;
    this.fd = fd;
    this.fileSize = size;
    await close(old);
    this.logger.info({ file: this.path, bytes: size }, 'state store compacted');
  }
}

function entrySize(ns: string, key: string, value: Buffer): number {
  return HEAD + 1 + 2 + Buffer.byteLength(ns) + 4 + Buffer.byteLength(key) + 4 + value.length;
}

function encodeRecord(type: number, ns: string, key: string, value: Buffer | null): Buffer {
  const nsLen = Buffer.byteLength(ns);
  const keyLen = Buffer.byteLength(key);
  if (nsLen > 0xffff) throw new StorageError(ErrorCode.INVALID_REQUEST, 'state namespace too long');
  const body = 1 + 2 + nsLen + 4 + keyLen + (value === null ? 0 : 4 + value.length);
  const buf = Buffer.allocUnsafe(HEAD + body);
  buf.writeUInt32BE(body, 0);
  let p = HEAD;
  buf.writeUInt8(type, p++);
  buf.writeUInt16BE(nsLen, p);
  p += 2;
  p += buf.write(ns, p, 'utf8');
  buf.writeUInt32BE(keyLen, p);
  p += 4;
  p += buf.write(key, p, 'utf8');
  if (value !== null) {
    buf.writeUInt32BE(value.length, p);
    p += 4;
    value.copy(buf, p);
  }
  buf.writeUInt32BE(crc32c(buf.subarray(HEAD)), 4);
  return buf;
}

/** Parse one record at pos; returns its length, or -1 when torn/corrupt. */
function parseRecord(buf: Buffer, pos: number, end: number, apply: (type: number, ns: string, key: string, value: Buffer | null) => void): number {
  if (end - pos < HEAD) return -1;
  const body = buf.readUInt32BE(pos);
  if (body < 7 || end - pos - HEAD < body) return -1;
  const start = pos + HEAD;
  const stop = start + body;
  if (crc32c(buf.subarray(start, stop)) !== buf.readUInt32BE(pos + 4)) return -1;
  let p = start;
  const type = buf.readUInt8(p++);
  const nsLen = buf.readUInt16BE(p);
  p += 2;
  if (p + nsLen + 4 > stop) return -1;
  const ns = buf.toString('utf8', p, p + nsLen);
  p += nsLen;
  const keyLen = buf.readUInt32BE(p);
  p += 4;
  if (p + keyLen > stop) return -1;
  const key = buf.toString('utf8', p, p + keyLen);
  p += keyLen;
  let value: Buffer | null = null;
  if (type === PUT) {
    if (p + 4 > stop) return -1;
    const vLen = buf.readUInt32BE(p);
    p += 4;
    if (p + vLen !== stop) return -1;
    value = Buffer.from(buf.subarray(p, stop));
  } else if (type !== DEL || p !== stop) {
    return -1;
  }
  apply(type, ns, key, value);
  return HEAD + body;
}
