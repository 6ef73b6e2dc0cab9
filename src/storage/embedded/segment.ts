/**
 * One log segment: `<base>.log` (raw record batches exactly as appended, base
 * offsets patched), `<base>.index` (sparse offset index) and `<base>.timeindex`.
 * File names are the base offset, 20 digits zero padded, as in Kafka.
 *
 * In-memory metadata (size, next offset, max timestamp) is always present; the
 * indexes of the active segment live in memory and are written to disk when the
 * segment is sealed (rolled) or on clean shutdown. A sealed segment's indexes are
 * loaded lazily (and dropped when its file descriptor is evicted from the cache).
 *
 * The file descriptor is managed by FileCache (reference counted, bounded LRU).
 */
import { join } from 'node:path';
import { baseOffset as readBaseOffset, lastOffsetDelta, maxTimestamp as readMaxTimestamp } from '../../protocol/records/batch-header.js';
import { close, fsync, open, readFileOrNull, writeAll, ftruncate, type IoStats } from './io.js';
import { OffsetIndex } from './offset-index.js';
import { TimeIndex } from './time-index.js';

export const LOG_SUFFIX = '.log';
export const INDEX_SUFFIX = '.index';
export const TIME_INDEX_SUFFIX = '.timeindex';

export function segmentFileName(base: bigint, suffix: string): string {
  return base.toString().padStart(20, '0') + suffix;
}

/** Base offset from a `<20 digits>.log` name, or null. */
export function parseSegmentName(name: string): bigint | null {
  const m = /^(\d{20})\.log$/.exec(name);
  return m ? BigInt(m[1]!) : null;
}

export class Segment {
  /** Bytes of valid data in the log file. */
  size = 0;
  /** Offset after the last batch of the segment. */
  nextOffset: bigint;
  maxTimestamp = -1n;
  /** Base offset of the first batch that reached maxTimestamp. */
  offsetOfMaxTimestamp = -1n;
  /** Time the segment.ms roll clock starts from (first append, or first batch's timestamp after restart). */
  rollBaseMs = -1;
  /** File mtime when loaded (retention fallback for segments without timestamps). */
  lastModifiedMs = Date.now();
  sealed = false;
  /** First batch's max timestamp, read once by the log cleaner (max.compaction.lag.ms); null until read. */
  firstBatchTimestamp: bigint | null = null;
  offsetIndex: OffsetIndex | null = null;
  timeIndex: TimeIndex | null = null;
  bytesSinceIndexEntry = 0;
  /** Told when an fsync of this segment failed (the owning partition stops accepting writes). */
  onSyncError: ((err: unknown) => void) | null = null;

  // --- file descriptor state (owned by FileCache) ---
  fd = -1;
  refs = 0;
  opening: Promise<number> | null = null;
  /** Files unlinked or partition closed: close the descriptor once unused, never reopen. */
  retired = false;
  private indexLoading: Promise<void> | null = null;

  constructor(
    readonly dir: string,
    readonly baseOffset: bigint,
  ) {
    this.nextOffset = baseOffset;
  }

  get logPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, LOG_SUFFIX));
  }
  get indexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, INDEX_SUFFIX));
  }
  get timeIndexPath(): string {
    return join(this.dir, segmentFileName(this.baseOffset, TIME_INDEX_SUFFIX));
  }

  relative(offset: bigint): number {
    return Number(offset - this.baseOffset);
  }

  /** Start empty in-memory indexes (new or fully rebuilt segment). */
  resetIndexes(): void {
    this.offsetIndex = new OffsetIndex();
    this.timeIndex = new TimeIndex();
    this.bytesSinceIndexEntry = 0;
    this.maxTimestamp = -1n;
    this.offsetOfMaxTimestamp = -1n;
    this.size = 0;
    this.nextOffset = this.baseOffset;
  }

  /**
   * Account for one batch written at file `position` (its bytes at buf[pos, pos+size)):
   * indexes, max timestamp, size and next offset. Kafka's LogSegment.append logic.
   */
  track(buf: Buffer, pos: number, size: number, position: number, indexIntervalBytes: number): void {
    const base = readBaseOffset(buf, pos);
    const ts = readMaxTimestamp(buf, pos);
    if (ts > this.maxTimestamp) {
      this.maxTimestamp = ts;
      this.offsetOfMaxTimestamp = base;
    }
    if (this.bytesSinceIndexEntry > indexIntervalBytes) {
      this.offsetIndex!.append(this.relative(base), position);
      if (this.maxTimestamp >= 0n) this.timeIndex!.maybeAppend(this.maxTimestamp, this.relative(this.offsetOfMaxTimestamp));
      this.bytesSinceIndexEntry = 0;
    }
    this.bytesSinceIndexEntry += size;
    this.size = position + size;
    this.nextOffset = base + BigInt(lastOffsetDelta(buf, pos)) + 1n;
  }

  /** Add the final max-timestamp entry (on seal and close), so the last entry is the segment's max. */
  finalizeTimeIndex(): void {
    if (this.timeIndex && this.maxTimestamp >= 0n) this.timeIndex.maybeAppend(this.maxTimestamp, this.relative(this.offsetOfMaxTimestamp));
  }

  /** Write both index files completely and fsync them. */
  async writeIndexes(stats: IoStats): Promise<void> {
    if (!this.offsetIndex || !this.timeIndex) return;
    await writeWhole(this.indexPath, this.offsetIndex.bytes(), stats);
    await writeWhole(this.timeIndexPath, this.timeIndex.bytes(), stats);
  }

  /**
   * Make sure the indexes are in memory: load the files, or rebuild them with
   * `rebuild` (a scan of the log) when missing or inconsistent.
   */
  ensureIndexes(rebuild: () => Promise<void>): Promise<void> {
    if (this.offsetIndex && this.timeIndex) return Promise.resolve();
    if (!this.indexLoading) {
      this.indexLoading = (async () => {
        const [off, time] = await Promise.all([readFileOrNull(this.indexPath), readFileOrNull(this.timeIndexPath)]);
        const offOk = off !== null && OffsetIndex.isValid(off) && (off.length === 0 || off.readInt32BE(off.length - 4) < this.size);
        const timeOk = time !== null && TimeIndex.isValid(time);
        if (offOk && timeOk) {
          this.offsetIndex = new OffsetIndex(off);
          this.timeIndex = new TimeIndex(time);
        } else {
          await rebuild();
        }
      })().finally(() => {
        this.indexLoading = null;
      });
    }
    return this.indexLoading;
  }

  /** Drop sealed indexes from memory (they are on disk). */
  unloadIndexes(): void {
    if (this.sealed) {
      this.offsetIndex = null;
      this.timeIndex = null;
    }
  }
}

async function writeWhole(path: string, data: Buffer, stats: IoStats): Promise<void> {
  const fd = await open(path, 'w');
  try {
    await writeAll(fd, data, 0);
    await ftruncate(fd, data.length);
    await fsync(fd, stats);
  } finally {
    await close(fd);
  }
}
