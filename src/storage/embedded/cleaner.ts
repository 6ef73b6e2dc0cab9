/**
 * The embedded engine's log cleaner (log compaction of `cleanup.policy=compact`
 * topics), after the rules of Kafka's LogCleaner / Cleaner / LogCleanerManager:
 *
 * Which partition, and how far (`planCleaning`, pure):
 *  - the dirty section starts at the cleaner checkpoint (first offset not yet
 *    cleaned; the log start when the checkpoint is outside the log) and ends at
 *    the first uncleanable offset: the active segment's base, the high
 *    watermark, and the base of the first dirty segment holding a record
 *    younger than min.compaction.lag.ms. The active segment is never cleaned;
 *  - a partition is cleaned when dirty bytes / (clean + dirty bytes) >
 *    min.cleanable.dirty.ratio, or at once when a dirty segment's first batch
 *    is older than max.compaction.lag.ms; the dirtiest partition goes first.
 *
 * One pass over a partition (`cleanPartition`):
 *  1. key map: MD5(key) -> latest offset over the dirty section, in a bounded
 *     OffsetMap; when it is full the pass cleans only up to the last offset
 *     mapped, and the next pass continues from there;
 *  2. every segment below that end (clean and dirty ones: a new latest value
 *     makes older clean records obsolete) is rewritten, in groups whose total
 *     fits segment.bytes and an int32 offset range, into one `<base>.log.cleaned`
 *     file per group, keeping (batch-filter.ts): records past the map's end,
 *     the latest record of each key, tombstones until their delete horizon
 *     (delete.retention.ms after the pass that first kept them), control
 *     batches; records without a key are dropped (the produce path refuses
 *     them on compacted topics). Batches keep their base offset and last
 *     offset, so offsets never change; the last batch of every active
 *     idempotent producer is kept (as an empty header if need be), so its
 *     sequence state survives;
 *  3. the cleaned file is fsynced and swapped in (PartitionLog.swapCleaned: a
 *     commit marker, then renames; recovery.ts finishes or discards an
 *     interrupted swap), readers that hold the old files keep reading them;
 *  4. the checkpoint moves to the end of the pass.
 *
 * Transactions (Kafka's CleanedTransactionMetadata): the first uncleanable
 * offset is never beyond the last stable offset (an open transaction is not
 * touched); batches of aborted transactions (from the partition's
 * aborted-transaction index) add no key to the map and are removed; a COMMIT
 * marker whose transaction has no batch left in the pass, or an ABORT marker
 * whose transaction's batches were all removed by an earlier pass, gets a
 * delete horizon (delete.retention.ms, as a tombstone) and is removed by the
 * first pass after it, its aborted-index entry with it.
 *
 * A consumer that keeps up sees every record: only data below the first
 * uncleanable offset is touched, and a record is dropped only when a later
 * record of the same key exists (or its transaction was aborted).
 *
 * I/O is throttled (log.cleaner.io.max.bytes.per.second: bytes read plus
 * written) and the work yields to the event loop between chunks, so produce
 * and fetch keep their latency while the cleaner runs.
 */
import fs from 'node:fs';
import { setImmediate as yieldToLoop, setTimeout as sleep } from 'node:timers/promises';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  baseOffset as readBaseOffset,
  checkBatch,
  isControl,
  lastOffsetDelta,
  maxTimestamp as readMaxTimestamp,
  producerId as readProducerId,
} from '../../protocol/records/batch-header.js';
import { DEFAULT_MAX_UNCOMPRESSED_BYTES, forEachRecord, openRecords } from '../../protocol/records/records.js';
import type { TopicConfig } from '../topic-config.js';
import { producerBatchAt, type AbortedTxnEntry } from '../producer-state.js';
import { filterBatch } from './batch-filter.js';
import { close, fsync, open, pread, pwritev, unlinkIfExists, type IoStats } from './io.js';
import { OffsetMap } from './offset-map.js';
import type { PartitionLog } from './partition-log.js';
import { Segment } from './segment.js';
import type { EngineLogger } from './types.js';

export const CLEANED_SUFFIX = '.cleaned';

export interface CleanerOptions {
  /** Run the background cleaner (Kafka log.cleaner.enable). Default true. */
  enabled?: boolean;
  /** Pause when nothing needs cleaning (log.cleaner.backoff.ms). Default 15000. */
  backoffMs?: number;
  /** Bytes/s read + written; 0 = unthrottled (log.cleaner.io.max.bytes.per.second). Default 50 MiB. */
  ioMaxBytesPerSecond?: number;
  /** Memory of the key map (log.cleaner.dedupe.buffer.size). Default 32 MiB. */
  dedupeBufferBytes?: number;
  /** Read chunk (log.cleaner.io.buffer.size). Default 1 MiB. */
  ioBufferBytes?: number;
}

/** What the cleaner needs to know about one segment (pure planning). */
export interface PlanSegment {
  baseOffset: bigint;
  nextOffset: bigint;
  size: number;
  /** Largest record timestamp, -1 when unknown. */
  maxTimestamp: bigint;
}

export interface CleaningPlan {
  firstDirtyOffset: bigint;
  firstUncleanableOffset: bigint;
  cleanBytes: number;
  dirtyBytes: number;
  ratio: number;
  /** Some dirty record is older than max.compaction.lag.ms. */
  forced: boolean;
  /** Clean now (something cleanable and ratio >= min.cleanable.dirty.ratio, or forced). */
  due: boolean;
}

/**
 * Kafka's LogCleanerManager.cleanableOffsets + dirty ratio. `segments` are all
 * segments, the last one active; `firstBatchTimestamp(i)` gives the first batch
 * timestamp of segment i (max.compaction.lag.ms), -1 when unknown.
 */
export function planCleaning(
  segments: readonly PlanSegment[],
  logStart: bigint,
  highWatermark: bigint,
  checkpoint: bigint | null,
  config: Pick<TopicConfig, 'minCleanableDirtyRatio' | 'minCompactionLagMs' | 'maxCompactionLagMs'>,
  nowMs: number,
  firstBatchTimestamps: readonly bigint[],
): CleaningPlan {
  const active = segments[segments.length - 1]!;
  const logEnd = active.nextOffset;
  let firstDirty = checkpoint ?? logStart;
  if (firstDirty < logStart || firstDirty > logEnd) firstDirty = logStart;
  let uncleanable = active.baseOffset < highWatermark ? active.baseOffset : highWatermark;
  // min.compaction.lag.ms: the first dirty segment with a record younger than the lag stays dirty
  if (config.minCompactionLagMs > 0) {
    for (const s of segments) {
      if (s.nextOffset <= firstDirty || s.baseOffset >= uncleanable) continue;
      if (s.maxTimestamp >= 0n && Number(s.maxTimestamp) > nowMs - config.minCompactionLagMs) {
        if (s.baseOffset < uncleanable) uncleanable = s.baseOffset > firstDirty ? s.baseOffset : firstDirty;
        break;
      }
    }
  }
  let cleanBytes = 0;
  let dirtyBytes = 0;
  let forced = false;
  for (let i = 0; i < segments.length - 1; i++) {
    const s = segments[i]!;
    if (s.nextOffset <= logStart) continue;
    if (s.nextOffset <= firstDirty) cleanBytes += s.size;
    else if (s.baseOffset < uncleanable && s.nextOffset <= uncleanable) {
      dirtyBytes += s.size;
      const first = firstBatchTimestamps[i] ?? -1n;
      if (config.maxCompactionLagMs < Number.MAX_SAFE_INTEGER && first >= 0n && nowMs - Number(first) > config.maxCompactionLagMs) forced = true;
    }
  }
  const total = cleanBytes + dirtyBytes;
  const ratio = total === 0 ? 0 : dirtyBytes / total;
  const cleanable = firstDirty < uncleanable && dirtyBytes > 0;
  return {
    firstDirtyOffset: firstDirty,
    firstUncleanableOffset: uncleanable,
    cleanBytes,
    dirtyBytes,
    ratio,
    forced: cleanable && forced,
    due: cleanable && (forced || ratio > config.minCleanableDirtyRatio),
  };
}

/** Bytes per second over the whole run (Kafka's Throttler): sleeps when ahead of the rate. */
export class Throttler {
  private bytes = 0;
  private readonly start = Date.now();
  constructor(
    private readonly bytesPerSecond: number,
    private readonly aborted: () => boolean = () => false,
  ) {}
  async maybeThrottle(n: number): Promise<void> {
    this.bytes += n;
    if (this.bytesPerSecond <= 0) return;
    const due = this.start + (this.bytes / this.bytesPerSecond) * 1000;
    for (let wait = due - Date.now(); wait > 5; wait = due - Date.now()) {
      if (this.aborted()) throw new CleaningAborted();
      await sleep(Math.min(wait, 100));
    }
  }
}

/** The cleaner is stopping: the pass ends without swapping anything in. */
export class CleaningAborted extends Error {
  constructor() {
    super('log cleaning aborted');
  }
}

export interface CleanStats {
  bytesRead: number;
  bytesWritten: number;
  recordsRead: number;
  recordsKept: number;
  segmentsBefore: number;
  segmentsAfter: number;
  /** The new cleaner checkpoint. */
  endOffset: bigint;
  /** Wall time of the pass (key map + rewrite + swaps), ms. */
  elapsedMs: number;
  partition: string;
}

export interface CleanContext {
  stats: IoStats;
  logger: EngineLogger;
  throttler: Throttler;
  map: OffsetMap;
  ioBufferBytes: number;
  nowMs: number;
  /** True once the cleaner is stopping. */
  aborted: () => boolean;
}

/**
 * Visit the whole batches of seg's file range [start, end) with an async
 * visitor, chunk by chunk (a batch larger than the chunk gets its own buffer).
 * `buf` is reused: the visitor copies what it keeps.
 */
async function forEachBatch(
  fd: number,
  start: number,
  end: number,
  chunk: number,
  ctx: CleanContext,
  visit: (buf: Buffer, p: number, size: number) => Promise<boolean | void> | boolean | void,
): Promise<void> {
  let buf = Buffer.allocUnsafe(Math.max(BATCH_HEADER_SIZE, Math.min(chunk, end - start)));
  let pos = start;
  while (pos < end) {
    if (ctx.aborted()) throw new CleaningAborted();
    const n = await pread(fd, buf, 0, Math.min(buf.length, end - pos), pos);
    await ctx.throttler.maybeThrottle(n);
    let p = 0;
    while (n - p >= LOG_OVERHEAD) {
      const size = buf.readInt32BE(p + OFF_BATCH_LENGTH) + LOG_OVERHEAD;
      if (p + size > n) break;
      const problem = checkBatch(buf, p, n, false);
      if (problem !== null) throw new Error(`malformed batch (${problem}) at position ${pos + p}`);
      if ((await visit(buf, p, size)) === false) return;
      p += size;
    }
    if (p === 0) {
      // a batch larger than the buffer
      if (n < LOG_OVERHEAD) throw new Error(`truncated segment at position ${pos}`);
      const size = buf.readInt32BE(OFF_BATCH_LENGTH) + LOG_OVERHEAD;
      if (size <= buf.length || pos + size > end) throw new Error(`malformed batch length ${size} at position ${pos}`);
      buf = Buffer.allocUnsafe(size);
      continue;
    }
    pos += p;
    await yieldToLoop();
  }
}

/**
 * Which batches of a pass belong to aborted transactions, and which markers may
 * go (Kafka's CleanedTransactionMetadata), fed the batches in offset order.
 */
export class TxnCleaning {
  private next = 0;
  private readonly aborted: AbortedTxnEntry[];
  /** producer id -> its aborted transaction under way, and whether a batch of it was seen */
  private readonly ongoingAborted = new Map<bigint, { entry: AbortedTxnEntry; observed: boolean }>();
  private readonly ongoingCommitted = new Set<bigint>();

  constructor(aborted: readonly AbortedTxnEntry[]) {
    this.aborted = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0));
  }

  private upTo(offset: bigint): void {
    while (this.next < this.aborted.length && this.aborted[this.next]!.firstOffset <= offset) {
      const e = this.aborted[this.next++]!;
      this.ongoingAborted.set(e.producerId, { entry: e, observed: false });
    }
  }

  /** A data batch: true when it belongs to an aborted transaction (its records go). */
  onData(producerId: bigint, transactional: boolean, lastOffset: bigint): boolean {
    this.upTo(lastOffset);
    if (!transactional || producerId < 0n) return false;
    const a = this.ongoingAborted.get(producerId);
    if (a !== undefined) {
      a.observed = true;
      return true;
    }
    this.ongoingCommitted.add(producerId);
    return false;
  }

  /** A COMMIT/ABORT marker: true when no batch of its transaction is left, so it may go after its delete horizon. */
  onMarker(producerId: bigint, commit: boolean, lastOffset: bigint): boolean {
    this.upTo(lastOffset);
    if (commit) return !this.ongoingCommitted.delete(producerId);
    const a = this.ongoingAborted.get(producerId);
    this.ongoingAborted.delete(producerId);
    return !(a !== undefined && a.observed); // kept while this pass still removes its batches
  }
}

/** Whether the batch at p is removable in this pass (aborted data, or a marker with nothing left), and its marker, if one. */
function txnVerdict(txns: TxnCleaning, buf: Buffer, p: number): { discard: boolean; marker: boolean } {
  const last = readBaseOffset(buf, p) + BigInt(lastOffsetDelta(buf, p));
  const pb = producerBatchAt(buf, p);
  if (pb === null) {
    txns.onData(-1n, false, last);
    return { discard: false, marker: false };
  }
  if (pb.kind === 'data') return { discard: txns.onData(pb.batch.producerId, pb.batch.transactional === true, last), marker: false };
  return { discard: txns.onMarker(pb.marker.producerId, pb.marker.commit, last), marker: !pb.marker.commit };
}

/**
 * Fill the map from the dirty section [firstDirty, uncleanable). Returns the
 * map's end (last offset mapped + 1): the end of this cleaning pass.
 */
async function buildOffsetMap(log: PartitionLog, segs: readonly Segment[], firstDirty: bigint, uncleanable: bigint, ctx: CleanContext): Promise<bigint> {
  const map = ctx.map;
  map.clear();
  map.updateLatestOffset(firstDirty - 1n);
  const txns = new TxnCleaning(log.abortedTransactionsIn(firstDirty, uncleanable));
  for (let i = 0; i < segs.length; i++) {
    const seg = segs[i]!;
    if (seg.nextOffset <= firstDirty) continue;
    if (seg.baseOffset >= uncleanable) break;
    let full = false;
    await log.withSegmentFd(seg, async (fd) => {
      await forEachBatch(fd, 0, seg.size, ctx.ioBufferBytes, ctx, async (buf, p, size) => {
        const base = readBaseOffset(buf, p);
        const last = base + BigInt(lastOffsetDelta(buf, p));
        if (last < firstDirty) return true;
        if (base >= uncleanable) return false;
        // records of aborted transactions never shadow a committed value
        const aborted = txnVerdict(txns, buf, p).discard; // (markers too: they end their transaction)
        if (!isControl(buf, p) && !aborted) {
          const section = await openRecords(buf.subarray(p, p + size), 0, { verifyCrc: false, maxUncompressedBytes: DEFAULT_MAX_UNCOMPRESSED_BYTES });
          forEachRecord(section, (r) => {
            const offset = base + BigInt(r.offsetDelta);
            if (offset < firstDirty || r.keyLength < 0) return true;
            if (!map.put(r.key()!, offset)) {
              full = true;
              return false;
            }
            return true;
          });
          if (full) return false;
        }
        map.updateLatestOffset(last);
        return true;
      });
    });
    if (full) break;
    // gaps at the end of a segment belong to it
    const segEnd = i + 1 < segs.length ? segs[i + 1]!.baseOffset : seg.nextOffset;
    map.updateLatestOffset((segEnd < uncleanable ? segEnd : uncleanable) - 1n);
  }
  return map.latestOffset + 1n;
}

/** Kafka's groupSegmentsBySize: consecutive segments below `end` whose sizes fit segment.bytes and an int32 offset range. */
export function groupSegments<S extends PlanSegment>(segs: readonly S[], end: bigint, maxBytes: number): S[][] {
  const groups: S[][] = [];
  let i = 0;
  while (i < segs.length && segs[i]!.baseOffset < end) {
    const group = [segs[i]!];
    let bytes = segs[i]!.size;
    i++;
    while (i < segs.length && segs[i]!.baseOffset < end && bytes + segs[i]!.size <= maxBytes) {
      const lastOffset = (i + 1 < segs.length ? segs[i + 1]!.baseOffset : end) - 1n;
      if (segs[i]!.size > 0 && lastOffset - group[0]!.baseOffset > 0x7fffffffn) break;
      group.push(segs[i]!);
      bytes += segs[i]!.size;
      i++;
    }
    groups.push(group);
  }
  return groups;
}

/** One cleaning pass over a partition; null when the partition was not due. */
export async function cleanPartition(log: PartitionLog, ctx: CleanContext, force = false): Promise<CleanStats | null> {
  const view = await log.cleaningView(ctx.nowMs);
  if (view === null) return null;
  const { plan, segments, config } = view;
  if (!plan.due && !(force && plan.firstDirtyOffset < plan.firstUncleanableOffset)) return null;
  const started = Date.now();
  const stats: CleanStats = {
    partition: log.label,
    elapsedMs: 0,
    bytesRead: 0,
    bytesWritten: 0,
    recordsRead: 0,
    recordsKept: 0,
    segmentsBefore: log.segmentCount,
    segmentsAfter: 0,
    endOffset: plan.firstDirtyOffset,
  };
  const sealed = segments.slice(0, -1).filter((s) => s.nextOffset <= plan.firstUncleanableOffset);
  const end = await buildOffsetMap(log, sealed, plan.firstDirtyOffset, plan.firstUncleanableOffset, ctx);
  if (end <= plan.firstDirtyOffset) return null;
  const map = ctx.map;
  const latest = map.latestOffset;
  const now = BigInt(ctx.nowMs);
  const producers = log.lastOffsetsOfProducers();
  const newHorizon = now + BigInt(config.deleteRetentionMs);
  const retain = (r: { keyLength: number; valueLength: number; key(): Buffer | null }, offset: bigint, horizon: bigint | null): boolean => {
    if (offset > latest) return true;
    if (r.keyLength < 0) return false; // keyless records have no place in a compacted log
    const found = map.get(r.key()!);
    if (offset < found) return false; // a later record of the key exists
    return r.valueLength >= 0 || horizon === null || now < horizon;
  };

  const live = sealed.filter((s) => s.nextOffset > view.logStart);
  const droppedAborts = new Set<bigint>();
  for (const group of groupSegments(live, end, config.segmentBytes)) {
    const groupEnd = group[group.length - 1]!.nextOffset;
    const txns = new TxnCleaning(log.abortedTransactionsIn(group[0]!.baseOffset, groupEnd));
    const cleaned = new Segment(log.dir, group[0]!.baseOffset);
    cleaned.resetIndexes();
    const path = cleaned.logPath + CLEANED_SUFFIX;
    const out = await open(path, 'w');
    let written = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const flush = async (): Promise<void> => {
      if (pending.length === 0) return;
      await pwritev(out, pending, written - pendingBytes);
      await ctx.throttler.maybeThrottle(pendingBytes);
      pending = [];
      pendingBytes = 0;
    };
    let ok = false;
    try {
      for (const seg of group) {
        await log.withSegmentFd(seg, (fd) =>
          forEachBatch(fd, 0, seg.size, ctx.ioBufferBytes, ctx, async (buf, p, size) => {
            stats.bytesRead += size;
            const base = readBaseOffset(buf, p);
            const last = base + BigInt(lastOffsetDelta(buf, p));
            const pid = readProducerId(buf, p);
            const retainEmpty = (pid >= 0n && producers.get(pid) === last) || last + 1n === plan.firstUncleanableOffset;
            const txn = txnVerdict(txns, buf, p);
            const r = await filterBatch(buf, p, size, {
              retain,
              retainEmpty,
              newDeleteHorizonMs: newHorizon,
              maxUncompressedBytes: DEFAULT_MAX_UNCOMPRESSED_BYTES,
              discard: txn.discard,
              nowMs: now,
            });
            if (txn.marker && r.recordsKept === 0) droppedAborts.add(base);
            stats.recordsRead += r.recordsRead;
            stats.recordsKept += r.recordsKept;
            if (r.out === null) return;
            const copy = Buffer.from(r.out); // r.out may be a slice of the reused read buffer
            cleaned.track(copy, 0, copy.length, written, config.indexIntervalBytes);
            pending.push(copy);
            pendingBytes += copy.length;
            written += copy.length;
            if (pendingBytes >= ctx.ioBufferBytes) await flush();
          }),
        );
      }
      await flush();
      await fsync(out, ctx.stats);
      ok = true;
    } finally {
      await close(out);
      if (!ok) await unlinkIfExists(path);
    }
    stats.bytesWritten += written;
    cleaned.size = written;
    cleaned.nextOffset = group[group.length - 1]!.nextOffset;
    cleaned.finalizeTimeIndex();
    cleaned.sealed = true;
    const lastModified = Math.max(...group.map((s) => s.lastModifiedMs));
    cleaned.lastModifiedMs = lastModified;
    await fs.promises.utimes(path, new Date(), new Date(lastModified));
    if (!(await log.swapCleaned(group, cleaned, path))) {
      await unlinkIfExists(path);
      ctx.logger.info({ partition: log.label }, 'log cleaning aborted: the segments changed (retention or deletion)');
      return null;
    }
  }
  log.forgetAbortedTransactions(droppedAborts);
  await log.setCleanerCheckpoint(end);
  stats.endOffset = end;
  stats.segmentsAfter = log.segmentCount;
  stats.elapsedMs = Date.now() - started;
  ctx.logger.info(
    {
      partition: log.label,
      from: plan.firstDirtyOffset.toString(),
      to: end.toString(),
      dirtyRatio: Number(plan.ratio.toFixed(3)),
      bytesRead: stats.bytesRead,
      bytesWritten: stats.bytesWritten,
      ms: stats.elapsedMs,
      recordsRead: stats.recordsRead,
      recordsKept: stats.recordsKept,
      keys: map.size,
    },
    'log cleaned',
  );
  return stats;
}

/** The first batch's max timestamp (Kafka's LogSegment first batch timestamp, for max.compaction.lag.ms); -1 when empty. */
export async function firstBatchTimestamp(fd: number, size: number): Promise<bigint> {
  if (size < BATCH_HEADER_SIZE) return -1n;
  const b = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
  if ((await pread(fd, b, 0, BATCH_HEADER_SIZE, 0)) !== BATCH_HEADER_SIZE) return -1n;
  return readMaxTimestamp(b, 0);
}

/**
 * The background cleaner of an engine: one partition at a time, the dirtiest
 * due one first (Kafka's grabFilthiestCompactedLog), then the next; sleeps
 * backoffMs when none is due. The key map is allocated for a run and dropped
 * after it.
 */
export class LogCleaner {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  readonly options: Required<CleanerOptions>;
  /** The last passes (newest last, at most 64): metrics, benchmarks, tooling. */
  readonly history: CleanStats[] = [];

  constructor(
    options: CleanerOptions,
    private readonly logs: () => PartitionLog[],
    private readonly stats: IoStats,
    private readonly logger: EngineLogger,
  ) {
    this.options = {
      enabled: options.enabled ?? true,
      backoffMs: options.backoffMs ?? 15_000,
      ioMaxBytesPerSecond: options.ioMaxBytesPerSecond ?? 50 << 20,
      dedupeBufferBytes: options.dedupeBufferBytes ?? 32 << 20,
      ioBufferBytes: options.ioBufferBytes ?? 1 << 20,
    };
  }

  start(): void {
    if (!this.options.enabled) return;
    this.schedule(this.options.backoffMs);
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.run(Date.now(), false).then(
        (n) => this.schedule(n > 0 ? 0 : this.options.backoffMs),
        () => this.schedule(this.options.backoffMs),
      );
    }, ms);
    this.timer.unref();
  }

  /**
   * Clean every partition that is due (or, with force, every compacted partition
   * with anything cleanable) once, dirtiest first. Returns the passes made.
   */
  run(nowMs: number, force: boolean): Promise<number> {
    const previous = this.running ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.runOnce(nowMs, force));
    this.running = run.finally(() => {
      if (this.running === run) this.running = null;
    });
    return run;
  }

  private async runOnce(nowMs: number, force: boolean): Promise<number> {
    if (this.stopped) return 0;
    const candidates: Array<{ log: PartitionLog; ratio: number }> = [];
    for (const log of this.logs()) {
      if (!log.isCompacted) continue;
      try {
        const view = await log.cleaningView(nowMs);
        if (view && (view.plan.due || (force && view.plan.firstDirtyOffset < view.plan.firstUncleanableOffset))) {
          candidates.push({ log, ratio: view.plan.forced ? Infinity : view.plan.ratio });
        }
      } catch (err) {
        this.logger.warn({ err, partition: log.label }, 'log cleaner could not inspect the partition');
      }
    }
    if (candidates.length === 0) return 0;
    candidates.sort((a, b) => b.ratio - a.ratio);
    const aborted = (): boolean => this.stopped;
    const ctx: CleanContext = {
      stats: this.stats,
      logger: this.logger,
      aborted,
      throttler: new Throttler(this.options.ioMaxBytesPerSecond, aborted),
      map: new OffsetMap(this.options.dedupeBufferBytes),
      ioBufferBytes: this.options.ioBufferBytes,
      nowMs,
    };
    let passes = 0;
    for (const { log } of candidates) {
      if (this.stopped) break;
      try {
        const stats = await cleanPartition(log, ctx, force);
        if (stats) {
          passes++;
          this.history.push(stats);
          if (this.history.length > 64) this.history.shift();
        }
      } catch (err) {
        if (err instanceof CleaningAborted) break;
        this.logger.error({ err, partition: log.label }, 'log cleaning failed; the partition keeps its uncleaned segments');
      }
    }
    return passes;
  }

  /** Stop scheduling and wait for a pass in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => undefined);
  }
}
