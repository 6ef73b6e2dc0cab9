/**
 * Thin promise wrappers over the callback fs API with raw file descriptors
 * (no FileHandle objects on the hot path), an fsync counter, and the atomic
 * small-file write used for metadata (temp + fsync + rename + fsync dir).
 * Nothing here blocks the event loop.
 */
import fs from 'node:fs';
import { dirname } from 'node:path';

/** Counters the tests (and metrics) read. */
export interface IoStats {
  /** Every fsync/fdatasync the engine issued (log files, indexes, metadata, directories). */
  fsyncs: number;
  /** fdatasyncs of segment log files by the group committer (one per file per round). */
  logSyncs: number;
  /** Group-commit rounds run. */
  flushRounds: number;
  /** pwritev calls for segment data. */
  logWrites: number;
  /** Seconds of each group-commit round (metrics; absent when nobody listens). */
  observeFlushRound?: (seconds: number) => void;
}

export function newIoStats(): IoStats {
  return { fsyncs: 0, logSyncs: 0, flushRounds: 0, logWrites: 0 };
}

export function open(path: string, flags: string | number, mode = 0o644): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
}

export function close(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
}

/** Read exactly up to `length` bytes at `position` (loops on short reads); returns bytes read (< length only at EOF). */
export async function pread(fd: number, buf: Buffer, offset: number, length: number, position: number): Promise<number> {
  let done = 0;
  while (done < length) {
    const n = await new Promise<number>((resolve, reject) =>
      fs.read(fd, buf, offset + done, length - done, position + done, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
    if (n === 0) break;
    done += n;
  }
  return done;
}

const IOV_MAX = 1024;

/** Write all buffers at `position`, looping on partial writes and IOV_MAX. Returns bytes written. */
export async function pwritev(fd: number, bufs: Buffer[], position: number): Promise<number> {
  let list = bufs;
  let idx = 0;
  let total = 0;
  while (idx < list.length) {
    const chunk = idx === 0 && list.length <= IOV_MAX ? list : list.slice(idx, idx + IOV_MAX);
    let want = 0;
    for (const b of chunk) want += b.length;
    const n = await new Promise<number>((resolve, reject) =>
      fs.writev(fd, chunk, position + total, (err, bytes) => (err ? reject(err) : resolve(bytes))),
    );
    total += n;
    if (n === want) {
      idx += chunk.length;
      continue;
    }
    // Partial write: continue with what is left.
    let skip = n;
    let k = 0;
    while (skip >= chunk[k]!.length) skip -= chunk[k++]!.length;
    list = [chunk[k]!.subarray(skip), ...chunk.slice(k + 1), ...list.slice(idx + chunk.length)];
    idx = 0;
  }
  return total;
}

export async function writeAll(fd: number, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    done += await new Promise<number>((resolve, reject) =>
      fs.write(fd, buf, done, buf.length - done, position + done, (err, n) => (err ? reject(err) : resolve(n))),
    );
  }
}

export function fdatasync(fd: number, stats: IoStats): Promise<void> {
  stats.fsyncs++;
  return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
}

export function fsync(fd: number, stats: IoStats): Promise<void> {
  stats.fsyncs++;
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
}

export function ftruncate(fd: number, length: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, length, (err) => (err ? reject(err) : resolve())));
}

export function fstatSize(fd: number): Promise<number> {
  return new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st.size))));
}

/** fsync a directory so that creates, renames and unlinks in it are durable. */
export async function fsyncDir(dir: string, stats: IoStats): Promise<void> {
  const fd = await open(dir, 'r');
  try {
    await fsync(fd, stats);
  } finally {
    await close(fd);
  }
}

/** Read a whole (small) file; null when it does not exist. */
export async function readFileOrNull(path: string): Promise<Buffer | null> {
  try {
    return await fs.promises.readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Replace `path` atomically and durably: write `path.tmp`, fsync it, rename
 * over `path`, fsync the directory. A crash leaves either the old or the new
 * content, never a mix (a stray .tmp is ignored by readers).
 */
export async function writeFileAtomic(path: string, data: Buffer | string, stats: IoStats): Promise<void> {
  const tmp = `${path}.tmp`;
  const fd = await open(tmp, 'w');
  try {
    await writeAll(fd, typeof data === 'string' ? Buffer.from(data) : data, 0);
    await fsync(fd, stats);
  } finally {
    await close(fd);
  }
  await fs.promises.rename(tmp, path);
  await fsyncDir(dirname(path), stats);
}

export async function unlinkIfExists(path: string): Promise<void> {
  try {
    await fs.promises.unlink(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

export function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | null)?.code === code;
}
