/**
 * Opening a partition directory: find the segments, check or rebuild their
 * indexes, recover the tail after an unclean shutdown, and rebuild the
 * idempotent-producer state.
 *
 * Invariant relied on (see PartitionLog.roll): a segment is sealed only after its
 * log data and index files were fsynced, and the next segment file is created only
 * after that. So after any crash only the LAST segment can hold a torn or
 * unflushed tail; earlier segments are trusted (their indexes are checked and
 * rebuilt when missing or inconsistent).
 *
 * - Clean shutdown: the last segment's indexes are loaded and only the batches
 *   after its last index entry are walked (no CRC) to find the log end.
 * - Unclean: the last segment is scanned completely, validating lengths, magic,
 *   CRC32C and offset continuity; everything from the first bad byte on is
 *   truncated (a torn write), the indexes are rebuilt, and the file is fsynced.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import {
  BATCH_HEADER_SIZE,
  baseOffset as readBaseOffset,
  lastOffsetDelta,
  maxTimestamp as readMaxTimestamp,
  type BatchProblem,
} from '../../protocol/records/batch-header.js';
import { ProducerStateTable, producerBatchAt } from '../producer-state.js';
import { scanBatches } from './batch-scan.js';
import type { FileCache } from './file-cache.js';
import { close, fdatasync, fsyncDir, ftruncate, isErrno, open, pread, readFileOrNull, unlinkIfExists, type IoStats } from './io.js';
import { OffsetIndex } from './offset-index.js';
import { INDEX_SUFFIX, LOG_SUFFIX, Segment, TIME_INDEX_SUFFIX, parseSegmentName, segmentFileName } from './segment.js';
import { TIME_ENTRY, TimeIndex } from './time-index.js';
import type { EngineLogger } from './types.js';

export const LOG_START_FILE = 'log-start-offset';
export const PRODUCER_SNAPSHOT_FILE = 'producer-state.snapshot';
/** The log cleaner's first dirty offset. */
export const CLEANER_CHECKPOINT_FILE = 'cleaner-offset-checkpoint';
/** Commit marker of a cleaned-segment swap in progress: {"base": "...", "replaces": ["...", ...]}. */
export const CLEAN_SWAP_FILE = 'clean-swap';
const CLEANED_LOG_SUFFIX = '.log.cleaned';

/**
 * Complete a committed cleaned-segment swap (idempotent: the cleaner calls it,
 * recovery calls it again after a crash): the replaced segments' indexes go
 * (then `writeIndexes` writes the new segment's), `<base>.log.cleaned` is
 * renamed over `<base>.log`, the other replaced segment logs are unlinked.
 */
export async function finishCleanSwap(
  dir: string,
  base: bigint,
  replaces: readonly bigint[],
  stats: IoStats,
  writeIndexes?: () => Promise<void>,
): Promise<void> {
  for (const b of replaces) {
    await unlinkIfExists(join(dir, segmentFileName(b, INDEX_SUFFIX)));
    await unlinkIfExists(join(dir, segmentFileName(b, TIME_INDEX_SUFFIX)));
  }
  const cleaned = join(dir, segmentFileName(base, CLEANED_LOG_SUFFIX));
  const target = join(dir, segmentFileName(base, LOG_SUFFIX));
  const pending = await exists(cleaned);
  if (pending) {
    if (writeIndexes) await writeIndexes();
    await fs.promises.rename(cleaned, target);
  }
  for (const b of replaces) if (b !== base) await unlinkIfExists(join(dir, segmentFileName(b, LOG_SUFFIX)));
  await fsyncDir(dir, stats);
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.promises.access(path);
    return true;
  } catch {
    return false;
  }
}

/** A swap interrupted by a crash is completed; cleaned files without a commit marker are discarded. */
async function recoverCleanSwap(dir: string, stats: IoStats, logger: EngineLogger, label: string): Promise<void> {
  const data = await readFileOrNull(join(dir, CLEAN_SWAP_FILE));
  if (data !== null) {
    let marker: { base: string; replaces: string[] } | null = null;
    try {
      const m = JSON.parse(data.toString('utf8')) as { base?: unknown; replaces?: unknown };
      if (typeof m.base === 'string' && /^\d+$/.test(m.base) && Array.isArray(m.replaces) && m.replaces.every((r) => typeof r === 'string' && /^\d+$/.test(r))) {
        marker = m as { base: string; replaces: string[] };
      }
    } catch {
      marker = null;
    }
    if (marker) {
      logger.warn({ partition: label, base: marker.base, replaces: marker.replaces }, 'recovery: completing an interrupted swap of a cleaned segment');
      await finishCleanSwap(dir, BigInt(marker.base), marker.replaces.map((r) => BigInt(r)), stats);
    }
    await unlinkIfExists(join(dir, CLEAN_SWAP_FILE));
  }
  for (const name of await fs.promises.readdir(dir)) {
    if (name.endsWith('.cleaned')) {
      logger.info({ partition: label, file: name }, 'recovery: discarding an unfinished cleaned segment');
      await unlinkIfExists(join(dir, name));
    }
  }
  await fsyncDir(dir, stats);
}

export interface LoadContext {
  dir: string;
  label: string;
  clean: boolean;
  indexIntervalBytes: number;
  files: FileCache;
  stats: IoStats;
  logger: EngineLogger;
  nowMs: number;
}

export interface LoadedPartition {
  segments: Segment[];
  logStartOffset: bigint;
  producers: ProducerStateTable;
  /** Bytes cut off the tail by recovery. */
  truncatedBytes: number;
}

export interface RebuildResult {
  validEnd: number;
  problem: BatchProblem | 'bad-offset' | null;
}

/**
 * Walk the batches of `seg` from `start` to `end`, feeding its indexes and metadata
 * (seg.track); stops at the first malformed batch or offset discontinuity.
 * For a full rebuild call seg.resetIndexes() first and pass start = 0.
 */
export async function scanIntoSegment(
  seg: Segment,
  fd: number,
  start: number,
  end: number,
  verifyCrc: boolean,
  indexIntervalBytes: number,
  allowGaps = false,
): Promise<RebuildResult> {
  let expected = start === 0 ? seg.baseOffset : -1n;
  let badAt = -1;
  const r = await scanBatches(fd, start, end, verifyCrc, (buf, p, size, filePos) => {
    const base = readBaseOffset(buf, p);
    // offsets are contiguous in segments the cleaner never rewrote; a cleaned one has gaps, never a step back
    if (expected >= 0n && (allowGaps ? base < expected : base !== expected)) {
      badAt = filePos;
      return false;
    }
    seg.track(buf, p, size, filePos, indexIntervalBytes);
    expected = seg.nextOffset;
    return true;
  });
  if (badAt >= 0) return { validEnd: badAt, problem: 'bad-offset' };
  return { validEnd: r.endPosition, problem: r.problem };
}

/** Rebuild a sealed segment's indexes from its log (used when index files are missing or damaged). */
export async function rebuildSealedIndexes(seg: Segment, fd: number, indexIntervalBytes: number, stats: IoStats, logger: EngineLogger): Promise<void> {
  const size = seg.size;
  const next = seg.nextOffset;
  seg.resetIndexes();
  const r = await scanIntoSegment(seg, fd, 0, size, false, indexIntervalBytes, true);
  if (r.problem !== null) {
    logger.error({ segment: seg.logPath, problem: r.problem, at: r.validEnd }, 'sealed segment has a malformed batch; serving only the data before it');
  }
  seg.size = r.validEnd;
  // A sealed segment's end offset is the next segment's base even if its tail is unreadable.
  seg.nextOffset = next;
  seg.finalizeTimeIndex();
  try {
    await seg.writeIndexes(stats);
  } catch (err) {
    logger.warn({ err, segment: seg.logPath }, 'could not rewrite rebuilt index files');
  }
}

export async function createSegmentFile(dir: string, base: bigint, stats: IoStats): Promise<void> {
  const fd = await open(join(dir, segmentFileName(base, LOG_SUFFIX)), 'w');
  await close(fd);
  await fsyncDir(dir, stats);
}

async function readTimeIndexTail(seg: Segment): Promise<void> {
  let fd: number;
  try {
    fd = await open(seg.timeIndexPath, 'r');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return;
    throw err;
  }
  try {
    const size = (await fs.promises.stat(seg.timeIndexPath)).size;
    if (size < TIME_ENTRY || size % TIME_ENTRY !== 0) return;
    const b = Buffer.alloc(TIME_ENTRY);
    if ((await pread(fd, b, 0, TIME_ENTRY, size - TIME_ENTRY)) !== TIME_ENTRY) return;
    seg.maxTimestamp = b.readBigInt64BE(0);
    seg.offsetOfMaxTimestamp = seg.baseOffset + BigInt(b.readInt32BE(8));
  } finally {
    await close(fd);
  }
}

async function indexFilesLookValid(seg: Segment): Promise<boolean> {
  try {
    const [a, b] = await Promise.all([fs.promises.stat(seg.indexPath), fs.promises.stat(seg.timeIndexPath)]);
    return a.size % 8 === 0 && b.size % TIME_ENTRY === 0;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

export async function readLogStartCheckpoint(dir: string): Promise<bigint | null> {
  const data = await readFileOrNull(join(dir, LOG_START_FILE));
  if (data === null) return null;
  const text = data.toString('utf8').trim();
  return /^\d+$/.test(text) ? BigInt(text) : null;
}

export async function loadPartition(ctx: LoadContext): Promise<LoadedPartition> {
  const { dir, label, files, stats, logger } = ctx;
  await fs.promises.mkdir(dir, { recursive: true });
  await recoverCleanSwap(dir, stats, logger, label);
  const names = await fs.promises.readdir(dir);
  const bases: bigint[] = [];
  const present = new Set<string>();
  for (const name of names) {
    const base = parseSegmentName(name);
    if (base !== null) {
      bases.push(base);
      present.add(base.toString());
    }
  }
  bases.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  // Leftovers: temp files of interrupted atomic writes, indexes of deleted segments.
  for (const name of names) {
    const m = /^(\d{20})\.(index|timeindex)$/.exec(name);
    if (name.endsWith('.tmp') || (m && !present.has(BigInt(m[1]!).toString()))) await unlinkIfExists(join(dir, name));
  }

  const checkpoint = await readLogStartCheckpoint(dir);
  let truncatedBytes = 0;
  let segments = bases.map((b) => new Segment(dir, b));
  if (segments.length === 0) {
    const base = checkpoint ?? 0n;
    await createSegmentFile(dir, base, stats);
    const seg = new Segment(dir, base);
    seg.resetIndexes();
    seg.rollBaseMs = ctx.nowMs;
    segments = [seg];
  }

  for (const seg of segments) {
    const st = await fs.promises.stat(seg.logPath);
    seg.size = st.size;
    seg.lastModifiedMs = st.mtimeMs;
  }

  // Sealed segments: trusted; metadata from the time index, indexes loaded lazily.
  for (let i = 0; i < segments.length - 1; i++) {
    const seg = segments[i]!;
    seg.sealed = true;
    seg.nextOffset = segments[i + 1]!.baseOffset;
    if (await indexFilesLookValid(seg)) {
      await readTimeIndexTail(seg);
    } else {
      logger.warn({ partition: label, segment: seg.logPath }, 'index files missing or damaged: rebuilding');
      const fd = await files.acquire(seg);
      try {
        await rebuildSealedIndexes(seg, fd, ctx.indexIntervalBytes, stats, logger);
      } finally {
        files.release(seg);
      }
    }
  }

  // The active (last) segment.
  const last = segments[segments.length - 1]!;
  const fileSize = last.size;
  const fd = await files.acquire(last);
  try {
    let recovered = false;
    if (ctx.clean) recovered = await openCleanTail(last, fd, fileSize, ctx.indexIntervalBytes);
    if (!recovered) {
      last.resetIndexes();
      const r = await scanIntoSegment(last, fd, 0, fileSize, true, ctx.indexIntervalBytes);
      if (r.validEnd < fileSize) {
        truncatedBytes = fileSize - r.validEnd;
        logger.warn(
          { partition: label, segment: last.logPath, problem: r.problem, validBytes: r.validEnd, truncatedBytes },
          'recovery: truncating a torn or corrupt tail of the log',
        );
        await ftruncate(fd, r.validEnd);
      }
      last.size = r.validEnd;
      // What survived the crash is in the page cache: make it durable before it counts as acknowledged.
      await fdatasync(fd, stats);
    }
    last.rollBaseMs = ctx.nowMs;
    if (last.size >= BATCH_HEADER_SIZE) {
      const head = Buffer.alloc(BATCH_HEADER_SIZE);
      if ((await pread(fd, head, 0, BATCH_HEADER_SIZE, 0)) === BATCH_HEADER_SIZE) {
        const ts = Number(readMaxTimestamp(head, 0));
        if (ts > 0 && ts <= ctx.nowMs) last.rollBaseMs = ts;
      }
    }
  } finally {
    files.release(last);
  }

  // Log start offset.
  let logStartOffset = checkpoint ?? segments[0]!.baseOffset;
  if (logStartOffset < segments[0]!.baseOffset) logStartOffset = segments[0]!.baseOffset;
  const logEnd = last.nextOffset;
  if (logStartOffset > logEnd) {
    logger.warn({ partition: label, logStartOffset, logEndOffset: logEnd }, 'log start offset is beyond the recovered log end: starting an empty log there');
    for (const seg of segments) {
      files.retire(seg);
      await unlinkIfExists(seg.logPath);
      await unlinkIfExists(seg.indexPath);
      await unlinkIfExists(seg.timeIndexPath);
    }
    await createSegmentFile(dir, logStartOffset, stats);
    const seg = new Segment(dir, logStartOffset);
    seg.resetIndexes();
    seg.rollBaseMs = ctx.nowMs;
    segments = [seg];
  }

  const producers = await loadProducerState(ctx, segments);
  return { segments, logStartOffset, producers, truncatedBytes };
}

/** Clean-shutdown fast path; false when anything looks off (the caller then does a full recovery). */
async function openCleanTail(seg: Segment, fd: number, fileSize: number, indexIntervalBytes: number): Promise<boolean> {
  const [off, time] = await Promise.all([readFileOrNull(seg.indexPath), readFileOrNull(seg.timeIndexPath)]);
  if (off === null || time === null || !OffsetIndex.isValid(off) || !TimeIndex.isValid(time)) return false;
  seg.offsetIndex = new OffsetIndex(off);
  seg.timeIndex = new TimeIndex(time);
  const lastEntry = seg.offsetIndex.last();
  const start = lastEntry?.position ?? 0;
  if (start > fileSize) return false;
  const lastTime = seg.timeIndex.last();
  seg.maxTimestamp = lastTime?.timestamp ?? -1n;
  seg.offsetOfMaxTimestamp = lastTime ? seg.baseOffset + BigInt(lastTime.relOffset) : -1n;
  seg.size = start;
  seg.nextOffset = seg.baseOffset + BigInt(lastEntry?.relOffset ?? 0);
  seg.bytesSinceIndexEntry = 0;
  const expectedFirst = seg.nextOffset;
  let first = true;
  let ok = true;
  const r = await scanBatches(fd, start, fileSize, false, (buf, p, size, filePos) => {
    if (first && readBaseOffset(buf, p) !== expectedFirst) {
      ok = false;
      return false;
    }
    if (!first && readBaseOffset(buf, p) !== seg.nextOffset) {
      ok = false;
      return false;
    }
    first = false;
    seg.track(buf, p, size, filePos, indexIntervalBytes);
    return true;
  });
  if (!ok || r.problem !== null || seg.size !== fileSize) return false;
  return true;
}

/**
 * Producer state: the snapshot (written at every roll and clean shutdown) plus a
 * replay of the batch headers (and transaction markers) after it. Without a usable
 * snapshot the whole log is replayed: open transactions and the aborted-transaction
 * index (which lives in the snapshot) must come back complete, whatever segment
 * their first batch or marker is in.
 */
async function loadProducerState(ctx: LoadContext, segments: Segment[]): Promise<ProducerStateTable> {
  const last = segments[segments.length - 1]!;
  const logEnd = last.nextOffset;
  const data = await readFileOrNull(join(ctx.dir, PRODUCER_SNAPSHOT_FILE));
  const snap = data ? ProducerStateTable.deserialize(data) : null;
  let table: ProducerStateTable;
  let from: bigint;
  if (snap && snap.offset <= logEnd && snap.offset >= segments[0]!.baseOffset) {
    table = snap.table;
    from = snap.offset;
  } else {
    if (data) ctx.logger.warn({ partition: ctx.label }, 'producer state snapshot unusable: rebuilding from the log');
    table = new ProducerStateTable();
    from = segments[0]!.baseOffset;
  }
  for (const seg of segments) {
    if (seg.nextOffset <= from || seg.size === 0) continue;
    const fd = await ctx.files.acquire(seg);
    try {
      let start = 0;
      if (!seg.sealed && seg.offsetIndex && from > seg.baseOffset) start = seg.offsetIndex.lookup(seg.relative(from)).position;
      await scanBatches(fd, start, seg.size, false, (buf, p) => {
        const base = readBaseOffset(buf, p);
        const lastOffset = base + BigInt(lastOffsetDelta(buf, p));
        if (lastOffset < from) return true;
        const pb = producerBatchAt(buf, p);
        if (pb?.kind === 'data') table.record(pb.batch, base, lastOffset, readMaxTimestamp(buf, p));
        else if (pb?.kind === 'marker') table.recordMarker(pb.marker, base, readMaxTimestamp(buf, p));
        return true;
      });
    } finally {
      ctx.files.release(seg);
    }
  }
  return table;
}
