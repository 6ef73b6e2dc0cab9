/**
 * The log of one partition: a list of segments, offset assignment, durability,
 * high watermark, reads, timestamp lookups, retention and DeleteRecords.
 *
 * Appends are queued and written by a single drain loop per partition, so
 * offsets follow arrival order; everything queued while a write is in flight is
 * written by the next pwritev in one go (write coalescing). Different partitions
 * proceed in parallel. `append` takes ownership of the buffer: the base offsets
 * (and, for LogAppendTime topics, the timestamps + CRC) are patched in place and
 * the same bytes go to the file - no copy, no re-encoding.
 *
 * Durability and visibility (the high watermark, HW):
 *  - sync mode (flush.messages <= 1, the engine's `every-batch` policy): a write is
 *    fsynced by the group committer before it is acknowledged (acks 1 and -1) AND
 *    before the HW moves over it. Readers never see data that a crash could take
 *    back, so offsets a consumer saw are never reused with other content.
 *  - interval mode: the HW moves as soon as the write reached the page cache and
 *    acks resolve then, as with Kafka's flush.messages/flush.ms; the file is
 *    fsynced after flush.ms or flush.messages (or when the engine's flushBytes of
 *    unflushed data accumulate). A process crash loses nothing (the page cache
 *    survives); a power loss can lose the unflushed tail.
 *  - acks=0 resolves once the data is written, without waiting for the flush.
 */
import { join } from 'node:path';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  baseOffset as readBaseOffset,
  batchSize,
  lastOffsetDelta,
  maxTimestamp as readMaxTimestamp,
  setBaseOffset,
  stampLogAppendTime,
  type BatchSpan,
} from '../../protocol/records/batch-header.js';
import { ErrorCode } from '../../protocol/errors.js';
import {
  StorageError,
  type AbortedTransaction,
  type AppendResult,
  type PartitionOffsets,
  type ProducerStateView,
  type ReadOptions,
  type ReadResult,
  type TimestampLookup,
} from '../engine.js';
import { ProducerStateTable, producerBatchAt, type AbortedTxnEntry, type UndoToken } from '../producer-state.js';
import { assertValidated, type ValidatedBatch } from '../validated-batch.js';
import type { TopicConfig } from '../topic-config.js';
import { scanBatches } from './batch-scan.js';
import { SegmentGoneError, type FileCache } from './file-cache.js';
import type { GroupCommitter } from './group-commit.js';
import { fsyncDir, ftruncate, pread, pwritev, readFileOrNull, unlinkIfExists, writeFileAtomic, type IoStats } from './io.js';
import type { ReadBufferPool } from './read-buffers.js';
import { firstBatchTimestamp, planCleaning, type CleaningPlan } from './cleaner.js';
import { findByTimestamp, offsetOfMaxTimestamp } from './record-scan.js';
import {
  CLEANER_CHECKPOINT_FILE,
  CLEAN_SWAP_FILE,
  LOG_START_FILE,
  PRODUCER_SNAPSHOT_FILE,
  createSegmentFile,
  finishCleanSwap,
  loadPartition,
  rebuildSealedIndexes,
} from './recovery.js';
import { deletableSegments } from './retention.js';
import { Segment } from './segment.js';
import type { EngineLogger } from './types.js';

const INT32_MAX = 0x7fffffffn;
/** Reads and lookups that find their segment retired (deleted, or swapped for a cleaned one) start over this often. */
const SEGMENT_GONE_RETRIES = 5;

export interface PartitionLogContext {
  files: FileCache;
  committer: GroupCommitter<Segment>;
  stats: IoStats;
  logger: EngineLogger;
  /** Upper bound of one read's buffer. */
  maxReadBytes: number;
  /** Reused read buffers (read-buffers.ts); absent: every read allocates. */
  readBuffers?: ReadBufferPool;
  /** Called whenever the high watermark moves. */
  onHighWatermark: (log: PartitionLog, hw: bigint) => void;
}

interface AppendRequest {
  buf: Buffer;
  spans: BatchSpan[];
  acks: number;
  nowMs: bigint;
  records: number;
  /** Number of offsets the request takes. */
  offsetCount: number;
  resolve: (r: AppendResult) => void;
  reject: (e: unknown) => void;
  // assigned while writing
  baseOffset: bigint;
  startPos: number;
  undo: UndoToken[];
  /** In the file: its outcome now depends only on the flush. */
  written: boolean;
}

interface HwWaiter {
  /** Resolve once hw > offset. */
  offset: bigint;
  resolve: () => void;
  reject: (e: unknown) => void;
}

function storageError(code: ErrorCode, message: string): StorageError {
  return new StorageError(code, message);
}

export class PartitionLog {
  private segments: Segment[];
  private logStart: bigint;
  private hw: bigint;
  private hwSegment: Segment;
  private hwPosition: number;
  private queue: AppendRequest[] = [];
  private draining: Promise<void> | null = null;
  private hwWaiters: HwWaiter[] = [];
  /** Set when new appends must be refused (closing, deleted). */
  private refuse: StorageError | null = null;
  /** Set when the partition was deleted: queued appends are dropped too. */
  private deleted: StorageError | null = null;
  /** Set after an I/O failure that left the log in an unknown state. */
  private failed: StorageError | null = null;
  private unflushedMessages = 0;
  private checkpointChain: Promise<void> = Promise.resolve();
  private closing: Promise<boolean> | null = null;
  /** First offset the log cleaner has not cleaned yet (null: never cleaned). */
  private cleanerCheckpoint: bigint | null = null;
  /** A cleaned segment is being swapped in: segment deletion waits for the next retention run. */
  private swapping = false;

  private constructor(
    readonly dir: string,
    readonly label: string,
    private config: TopicConfig,
    private readonly ctx: PartitionLogContext,
    segments: Segment[],
    logStart: bigint,
    private readonly producers: ProducerStateTable,
  ) {
    this.segments = segments;
    this.logStart = logStart;
    const last = segments[segments.length - 1]!;
    this.hw = last.nextOffset;
    this.hwSegment = last;
    this.hwPosition = last.size;
    for (const s of segments) s.onSyncError = (err) => this.syncFailed(err);
  }

  static async open(dir: string, label: string, config: TopicConfig, clean: boolean, ctx: PartitionLogContext): Promise<PartitionLog> {
    const loaded = await loadPartition({
      dir,
      label,
      clean,
      indexIntervalBytes: config.indexIntervalBytes,
      files: ctx.files,
      stats: ctx.stats,
      logger: ctx.logger,
      nowMs: Date.now(),
    });
    const log = new PartitionLog(dir, label, config, ctx, loaded.segments, loaded.logStartOffset, loaded.producers);
    loaded.producers.truncateAbortedBefore(loaded.logStartOffset); // a snapshot from before the last retention run
    const cp = (await readFileOrNull(join(dir, CLEANER_CHECKPOINT_FILE)))?.toString('utf8').trim();
    if (cp !== undefined && /^\d+$/.test(cp)) log.cleanerCheckpoint = BigInt(cp);
    return log;
  }

  // ---------------------------------------------------------------- state

  private get active(): Segment {
    return this.segments[this.segments.length - 1]!;
  }

  get highWatermark(): bigint {
    return this.hw;
  }

  get logStartOffset(): bigint {
    return this.logStart;
  }

  get logEndOffset(): bigint {
    return this.active.nextOffset;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  /** Segment base offsets (tests, tooling). */
  segmentBases(): bigint[] {
    return this.segments.map((s) => s.baseOffset);
  }

  get sizeInBytes(): number {
    let n = 0;
    for (const s of this.segments) n += s.size;
    return n;
  }

  get producerCount(): number {
    return this.producers.size;
  }

  get isFailed(): boolean {
    return this.failed !== null;
  }

  offsets(): PartitionOffsets {
    this.checkReadable();
    return { logStartOffset: this.logStart, highWatermark: this.hw, lastStableOffset: this.producers.lastStableOffset(this.hw) };
  }

  /** Kafka's last stable offset: the first offset of the earliest unfinished transaction, else the high watermark. */
  get lastStableOffset(): bigint {
    return this.producers.lastStableOffset(this.hw);
  }

  /** Active producers (DescribeProducers). */
  describeProducers(): ProducerStateView[] {
    this.checkReadable();
    return this.producers.describe();
  }

  setConfig(config: TopicConfig): void {
    this.config = config;
  }

  private get syncMode(): boolean {
    return this.config.flushMessages <= 1;
  }

  private checkReadable(): void {
    if (this.deleted) throw this.deleted;
  }

  // ---------------------------------------------------------------- append

  /**
   * Append a validated record batch. Takes ownership of its bytes (patched in place).
   * Rejects with StorageError: RECORD_LIST_TOO_LARGE,
   * OUT_OF_ORDER_SEQUENCE_NUMBER, INVALID_PRODUCER_EPOCH, KAFKA_STORAGE_ERROR, or the
   * closing/deleted error.
   */
  append(batch: ValidatedBatch, acks: number, nowMs: bigint): Promise<AppendResult> {
    const stop = this.refuse ?? this.failed;
    if (stop) return Promise.reject(stop);
    assertValidated(batch);
    const { buf, size } = batch;
    // framing, CRC, records, max.message.bytes: checked once by the validator; segment.bytes is this engine's
    if (size > this.config.segmentBytes) {
      return Promise.reject(
        storageError(ErrorCode.RECORD_LIST_TOO_LARGE, `record batch of ${size} bytes exceeds segment.bytes=${this.config.segmentBytes} of ${this.label}`),
      );
    }
    const spans: BatchSpan[] = [{ pos: 0, size }];
    return new Promise<AppendResult>((resolve, reject) => {
      this.queue.push({ buf, spans, acks, nowMs, records: batch.recordCount, offsetCount: batch.offsetCount, resolve, reject, baseOffset: -1n, startPos: 0, undo: [], written: false });
      this.kick();
    });
  }

  private kick(): void {
    if (this.draining) return;
    this.draining = this.drain().finally(() => {
      this.draining = null;
      if (this.queue.length > 0) this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      try {
        await this.writeGroup(group);
      } catch (err) {
        const e = this.deleted ?? (err instanceof StorageError ? err : this.ioFailure('append', err));
        for (const r of group) if (!r.written) r.reject(e); // no-op for the ones already settled
      }
    }
  }

  private async writeGroup(group: AppendRequest[]): Promise<void> {
    const cfg = this.config;
    let seg = this.active;
    if (seg.size > 0 && Date.now() - seg.rollBaseMs >= cfg.segmentMs) seg = await this.roll();
    let bufs: Buffer[] = [];
    let accepted: AppendRequest[] = [];
    let pos = seg.size;
    let next = seg.nextOffset;
    for (const req of group) {
      const stop = this.deleted ?? this.failed;
      if (stop) {
        req.reject(stop);
        continue;
      }
      const lastOffset = next + BigInt(req.offsetCount) - 1n;
      if (pos > 0 && (pos + req.buf.length > cfg.segmentBytes || lastOffset - seg.baseOffset > INT32_MAX)) {
        if (bufs.length > 0) {
          await this.writeBatches(seg, bufs, accepted);
          bufs = [];
          accepted = [];
        }
        if (this.failed) {
          req.reject(this.failed);
          continue;
        }
        seg = await this.roll();
        pos = 0;
        next = seg.nextOffset;
      }
      if (!this.assign(req, next)) continue;
      req.startPos = pos;
      pos += req.buf.length;
      next += BigInt(req.offsetCount);
      bufs.push(req.buf);
      accepted.push(req);
    }
    if (bufs.length > 0) await this.writeBatches(seg, bufs, accepted);
  }

  /**
   * Idempotence checks, offset assignment and header patches for one request.
   * False when the request was settled here (duplicate or sequence error).
   */
  private assign(req: AppendRequest, firstOffset: bigint): boolean {
    const { buf } = req;
    const logAppendTime = this.config.timestampType === 'LogAppendTime';
    let offset = firstOffset;
    for (const span of req.spans) {
      const p = span.pos;
      const delta = BigInt(lastOffsetDelta(buf, p));
      const pb = producerBatchAt(buf, p);
      if (pb !== null) {
        const verdict = pb.kind === 'data' ? this.producers.check(pb.batch, this.label) : this.producers.checkMarker(pb.marker, this.label);
        if (verdict.result !== 'ok') {
          for (let i = req.undo.length - 1; i >= 0; i--) this.producers.undo(req.undo[i]!);
          req.undo = [];
          if (verdict.result === 'duplicate') this.answerDuplicate(req, verdict.firstOffset, verdict.lastOffset);
          else req.reject(storageError(verdict.code, verdict.message));
          return false;
        }
        if (logAppendTime) stampLogAppendTime(buf, req.nowMs, p);
        const ts = readMaxTimestamp(buf, p);
        req.undo.push(pb.kind === 'data' ? this.producers.record(pb.batch, offset, offset + delta, ts) : this.producers.recordMarker(pb.marker, offset, ts));
      } else if (logAppendTime) {
        stampLogAppendTime(buf, req.nowMs, p);
      }
      setBaseOffset(buf, offset, p);
      offset += delta + 1n;
    }
    req.baseOffset = firstOffset;
    return true;
  }

  private answerDuplicate(req: AppendRequest, firstOffset: bigint, lastOffset: bigint): void {
    const result: AppendResult = {
      baseOffset: firstOffset,
      logAppendTime: this.config.timestampType === 'LogAppendTime' ? req.nowMs : -1n,
      logStartOffset: this.logStart,
      duplicate: true,
    };
    // Acknowledge a retried batch only once the original is as durable as a fresh write would be.
    if (req.acks === 0 || this.hw > lastOffset) req.resolve(result);
    else this.hwWaiters.push({ offset: lastOffset, resolve: () => req.resolve({ ...result, logStartOffset: this.logStart }), reject: req.reject });
  }

  private async writeBatches(seg: Segment, bufs: Buffer[], reqs: AppendRequest[]): Promise<void> {
    const start = seg.size;
    let fd = -1;
    try {
      fd = await this.ctx.files.acquire(seg);
      await pwritev(fd, bufs, start);
      this.ctx.stats.logWrites++;
    } catch (err) {
      for (let r = reqs.length - 1; r >= 0; r--) {
        const undo = reqs[r]!.undo;
        for (let i = undo.length - 1; i >= 0; i--) this.producers.undo(undo[i]!);
      }
      const e = storageError(ErrorCode.KAFKA_STORAGE_ERROR, `write to ${seg.logPath} failed: ${(err as Error).message}`);
      this.ctx.logger.error({ err, partition: this.label }, 'append write failed');
      if (fd >= 0) {
        try {
          await ftruncate(fd, start);
        } catch (terr) {
          this.failed = e;
          this.ctx.logger.error({ err: terr, partition: this.label }, 'could not truncate after a failed write: partition is read-only until restart');
        }
      }
      for (const r of reqs) r.reject(e);
      return;
    } finally {
      if (fd >= 0) this.ctx.files.release(seg);
    }

    const interval = this.config.indexIntervalBytes;
    let records = 0;
    let bytes = 0;
    for (const r of reqs) {
      r.written = true;
      for (const s of r.spans) seg.track(r.buf, s.pos, s.size, r.startPos + s.pos, interval);
      records += r.records;
      bytes += r.buf.length;
    }
    if (start === 0) seg.rollBaseMs = Date.now();
    const end = { seg, position: seg.size, offset: seg.nextOffset };
    const lat = this.config.timestampType === 'LogAppendTime';
    const result = (r: AppendRequest): AppendResult => ({
      baseOffset: r.baseOffset,
      logAppendTime: lat ? r.nowMs : -1n,
      logStartOffset: this.logStart,
      duplicate: false,
    });

    if (this.syncMode) {
      for (const r of reqs) if (r.acks === 0) r.resolve(result(r));
      this.ctx.committer.flushNow(seg).then(
        () => {
          this.advanceHw(end.seg, end.position, end.offset);
          for (const r of reqs) if (r.acks !== 0) r.resolve(result(r));
        },
        (err: unknown) => {
          const e = this.syncFailed(err);
          for (const r of reqs) r.reject(e);
        },
      );
    } else {
      this.advanceHw(end.seg, end.position, end.offset);
      for (const r of reqs) r.resolve(result(r));
      this.unflushedMessages += records;
      let due = Date.now() + Math.min(this.config.flushMs, 2 ** 47);
      if (this.unflushedMessages >= this.config.flushMessages) {
        due = 0;
        this.unflushedMessages = 0;
      }
      this.ctx.committer.markDirty(seg, due, bytes);
    }
  }

  private advanceHw(seg: Segment, position: number, offset: bigint): void {
    if (offset <= this.hw) return;
    this.hw = offset;
    this.hwSegment = seg;
    this.hwPosition = position;
    if (this.hwWaiters.length > 0) {
      const still: HwWaiter[] = [];
      for (const w of this.hwWaiters) {
        if (offset > w.offset) w.resolve();
        else still.push(w);
      }
      this.hwWaiters = still;
    }
    this.ctx.onHighWatermark(this, offset);
  }

  private ioFailure(what: string, err: unknown): StorageError {
    const e = storageError(ErrorCode.KAFKA_STORAGE_ERROR, `${what} on ${this.label} failed: ${(err as Error)?.message ?? String(err)}`);
    this.ctx.logger.error({ err, partition: this.label }, `${what} failed`);
    return e;
  }

  /** An fsync failed: the page cache state is unknown (fsyncgate), stop accepting writes. */
  private syncFailed(err: unknown): StorageError {
    if (!this.failed) {
      this.failed = storageError(ErrorCode.KAFKA_STORAGE_ERROR, `fsync of ${this.label} failed: ${(err as Error)?.message ?? String(err)}; partition is read-only until restart`);
      this.ctx.logger.error({ err, partition: this.label }, 'fsync failed: partition stops accepting writes');
    }
    // Retries waiting for an original that will now never become durable.
    const waiters = this.hwWaiters;
    this.hwWaiters = [];
    for (const w of waiters) w.reject(this.failed);
    return this.failed;
  }

  /**
   * Seal the active segment and start a new one. Order matters for recovery:
   * old log fsynced -> its index files written + fsynced -> producer snapshot ->
   * new segment file created (+ dir fsync). So every non-last segment is durable.
   */
  private async roll(): Promise<Segment> {
    const old = this.active;
    const base = old.nextOffset;
    try {
      await this.ctx.committer.flushNow(old);
      old.finalizeTimeIndex();
      await old.writeIndexes(this.ctx.stats);
      old.sealed = true;
      await writeFileAtomic(join(this.dir, PRODUCER_SNAPSHOT_FILE), this.producers.serialize(base), this.ctx.stats);
      await createSegmentFile(this.dir, base, this.ctx.stats);
    } catch (err) {
      this.failed ??= this.ioFailure('segment roll', err);
      throw this.failed;
    }
    const seg = new Segment(this.dir, base);
    seg.resetIndexes();
    seg.rollBaseMs = Date.now();
    seg.onSyncError = (err) => this.syncFailed(err);
    this.segments.push(seg);
    this.ctx.logger.info({ partition: this.label, baseOffset: base.toString() }, 'rolled new log segment');
    return seg;
  }

  // ---------------------------------------------------------------- read

  private findSegment(offset: bigint): number {
    const segs = this.segments;
    let lo = 0;
    let hi = segs.length - 1;
    let found = 0;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (segs[mid]!.baseOffset <= offset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found;
  }

  /** Readable end (file position) of a segment, given a snapshot of the HW position. */
  private static readableEnd(seg: Segment, hwSeg: Segment, hwPos: number): number {
    if (seg === hwSeg) return hwPos;
    return seg.baseOffset < hwSeg.baseOffset ? seg.size : 0;
  }

  private ensureIndexes(seg: Segment, fd: number): Promise<void> {
    return seg.ensureIndexes(() => rebuildSealedIndexes(seg, fd, this.config.indexIntervalBytes, this.ctx.stats, this.ctx.logger));
  }

  /**
   * Whole batches from the one holding fetchOffset, up to maxBytes (the first batch
   * whole even if larger when minOneMessage), never past the HW/maxOffset, from a
   * single segment. `records` is one Buffer of consecutive whole batches.
   */
  async read(fetchOffset: bigint, options: ReadOptions): Promise<ReadResult> {
    try {
      return await this.readOnce(fetchOffset, options, SEGMENT_GONE_RETRIES);
    } catch (err) {
      throw this.explain(err);
    }
  }

  /** Errors of an operation that raced a topic deletion (files renamed/removed) become the deletion error. */
  private explain(err: unknown): unknown {
    if (this.deleted) return this.deleted;
    if (err instanceof StorageError) return err;
    return storageError(ErrorCode.KAFKA_STORAGE_ERROR, `I/O error on ${this.label}: ${(err as Error)?.message ?? String(err)}`);
  }

  private async readOnce(fetchOffset: bigint, options: ReadOptions, attempts: number): Promise<ReadResult> {
    this.checkReadable();
    const hw = this.hw;
    const hwSeg = this.hwSegment;
    const hwPos = this.hwPosition;
    const logStart = this.logStart;
    if (fetchOffset < logStart || fetchOffset > hw) {
      throw storageError(ErrorCode.OFFSET_OUT_OF_RANGE, `fetch offset ${fetchOffset} is out of range for ${this.label}: log start ${logStart}, high watermark ${hw}`);
    }
    const lso = this.producers.lastStableOffset(hw);
    const committed = options.isolation === 'read_committed';
    const upper = committed ? lso : hw;
    const limit = options.maxOffset !== undefined && options.maxOffset < upper ? options.maxOffset : upper;
    const empty: ReadResult = { logStartOffset: logStart, highWatermark: hw, lastStableOffset: lso, records: [], bytes: 0 };
    if (committed) empty.abortedTransactions = [];
    if (fetchOffset >= limit) return empty;
    // A cleaned segment may hold nothing at or after fetchOffset (its last records were compacted away):
    // the next batch is in a later segment, found again by offset (the list may change while we read).
    let from = fetchOffset;
    for (;;) {
      let i = this.findSegment(from);
      while (i < this.segments.length && this.segments[i]!.nextOffset <= from) i++;
      const seg = this.segments[i];
      if (seg === undefined || seg.baseOffset >= limit) return empty;
      const r = await this.readSegment(seg, fetchOffset, limit, options, hwSeg, hwPos, empty, attempts);
      if (r !== null) return r;
      if (seg === hwSeg || seg.baseOffset >= hwSeg.baseOffset) return empty;
      from = seg.nextOffset;
    }
  }

  /**
   * Read from one segment; null when the segment (sealed, below the HW) holds no
   * batch ending at or after fetchOffset.
   */
  private async readSegment(
    seg: Segment,
    fetchOffset: bigint,
    limit: bigint,
    options: ReadOptions,
    hwSeg: Segment,
    hwPos: number,
    empty: ReadResult,
    attempts: number,
  ): Promise<ReadResult | null> {
    const segEnd = PartitionLog.readableEnd(seg, hwSeg, hwPos);
    if (segEnd <= 0) return seg.size === 0 && seg !== hwSeg && seg.baseOffset < hwSeg.baseOffset ? null : empty;

    let fd: number;
    try {
      fd = await this.ctx.files.acquire(seg);
    } catch (err) {
      // deleted by retention (the retry then answers OFFSET_OUT_OF_RANGE) or replaced by a cleaned segment
      if (err instanceof SegmentGoneError && attempts > 1) return this.readOnce(fetchOffset, options, attempts - 1);
      throw err;
    }
    try {
      await this.ensureIndexes(seg, fd);
      this.checkReadable();
      const sealedBelowHw = seg !== hwSeg && seg.baseOffset < hwSeg.baseOffset;
      const maxBytes = Math.max(0, Math.min(options.maxBytes, this.ctx.maxReadBytes));
      const slack = Math.max(this.config.indexIntervalBytes, 4096) + BATCH_HEADER_SIZE;
      const windowFor = (from: number): number => Math.min(segEnd - from, Math.max(maxBytes + slack, BATCH_HEADER_SIZE));

      // 1. Find the batch holding fetchOffset, starting at the index entry before it.
      // `buf` may be longer than asked (a pooled buffer): lengths are explicit, and `buf` goes back to
      // the pool on every way out except a result that carries it (its release() gives it back).
      const pool = this.ctx.readBuffers;
      let pos = seg.offsetIndex!.lookup(seg.relative(fetchOffset)).position;
      let want = windowFor(pos);
      let buf = pool ? pool.take(want) : Buffer.allocUnsafe(want);
      let handedOut = false;
      try {
        let n = await pread(fd, buf, 0, want, pos);
        let p = 0;
        for (;;) {
          if (n - p < BATCH_HEADER_SIZE) {
            pos += p;
            if (pos >= segEnd) return sealedBelowHw ? null : empty;
            want = windowFor(pos);
            if (buf.length < want) {
              pool?.give(buf);
              buf = pool ? pool.take(want) : Buffer.allocUnsafe(want);
            }
            n = await pread(fd, buf, 0, want, pos);
            p = 0;
            if (n < BATCH_HEADER_SIZE) throw storageError(ErrorCode.KAFKA_STORAGE_ERROR, `short read in ${seg.logPath} at ${pos}`);
            continue;
          }
          const last = readBaseOffset(buf, p) + BigInt(lastOffsetDelta(buf, p));
          if (last >= fetchOffset) break;
          p += batchSize(buf, p, n);
        }
        const startPos = pos + p;
        if (readBaseOffset(buf, p) >= limit) return empty;
        const firstSize = batchSize(buf, p, n);
        if (firstSize > maxBytes && !options.minOneMessage) return empty;

        // 2. Make sure the buffer holds what we may return, re-reading once if needed.
        const desired = Math.min(segEnd - startPos, Math.max(maxBytes, firstSize));
        if (n - p < desired) {
          const have = n - p;
          const bigger = pool ? pool.take(desired) : Buffer.allocUnsafe(desired);
          buf.copy(bigger, 0, p, n);
          pool?.give(buf);
          buf = bigger;
          const got = await pread(fd, bigger, have, desired - have, startPos + have);
          n = have + got;
          p = 0;
        }

        // 3. Collect whole batches.
        let q = p;
        let bytes = 0;
        while (n - q >= LOG_OVERHEAD) {
          const size = batchSize(buf, q, n);
          if (q + size > n) break;
          if (readBaseOffset(buf, q) >= limit) break;
          if (bytes > 0 && bytes + size > maxBytes) break;
          bytes += size;
          q += size;
        }
        this.checkReadable();
        if (bytes === 0) return empty;
        const data = buf.subarray(p, q);
        const result: ReadResult = { ...empty, records: [data], bytes };
        if (options.isolation === 'read_committed') result.abortedTransactions = this.abortedIn(fetchOffset, data);
        if (pool) {
          const held = buf;
          let released = false;
          result.release = () => {
            if (released) return;
            released = true;
            pool.give(held);
          };
        }
        handedOut = true;
        return result;
      } finally {
        if (!handedOut) pool?.give(buf);
      }
    } finally {
      this.ctx.files.release(seg);
    }
  }

  /** The aborted transactions overlapping the returned batches (from fetchOffset to the end of the last one). */
  private abortedIn(fetchOffset: bigint, data: Buffer): AbortedTransaction[] {
    let end = fetchOffset;
    for (let q = 0; q + LOG_OVERHEAD <= data.length; ) {
      const size = batchSize(data, q, data.length);
      if (q + size > data.length) break;
      end = readBaseOffset(data, q) + BigInt(lastOffsetDelta(data, q)) + 1n;
      q += size;
    }
    const found = this.producers.abortedTransactions(fetchOffset, end);
    return found.map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
  }

  // ---------------------------------------------------------------- timestamps

  /** First offset (>= log start, < HW) whose timestamp >= ts. */
  async offsetForTimestamp(ts: bigint): Promise<TimestampLookup | null> {
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await this.offsetForTimestampOnce(ts);
        } catch (err) {
          // a segment was swapped for a cleaned one (or deleted) under the scan: look again
          if (!(err instanceof SegmentGoneError) || attempt >= SEGMENT_GONE_RETRIES) throw err;
        }
      }
    } catch (err) {
      throw this.explain(err);
    }
  }

  private async offsetForTimestampOnce(ts: bigint): Promise<TimestampLookup | null> {
    this.checkReadable();
    const hw = this.hw;
    const hwSeg = this.hwSegment;
    const hwPos = this.hwPosition;
    const logStart = this.logStart;
    for (const seg of [...this.segments]) {
      if (seg.nextOffset <= logStart || seg.maxTimestamp < ts) continue;
      if (seg.baseOffset >= hw) break;
      const segEnd = PartitionLog.readableEnd(seg, hwSeg, hwPos);
      if (segEnd <= 0) {
        if (seg.size === 0 && seg !== hwSeg && seg.baseOffset < hwSeg.baseOffset) continue; // emptied by the cleaner
        break;
      }
      const fd = await this.ctx.files.acquire(seg);
      try {
        await this.ensureIndexes(seg, fd);
        let startOffset = seg.baseOffset + BigInt(seg.timeIndex!.lookup(ts));
        if (startOffset < logStart) startOffset = logStart;
        const pos = seg.offsetIndex!.lookup(seg.relative(startOffset)).position;
        let found: TimestampLookup | null = null;
        await scanBatches(fd, pos, segEnd, false, (buf, p) => {
          const base = readBaseOffset(buf, p);
          if (base >= hw) return false;
          if (base + BigInt(lastOffsetDelta(buf, p)) < startOffset || readMaxTimestamp(buf, p) < ts) return true;
          const hit = findByTimestamp(buf, p, ts, logStart);
          if (hit) {
            found = hit;
            return false;
          }
          return true;
        });
        if (found) return found;
      } finally {
        this.ctx.files.release(seg);
      }
    }
    return null;
  }

  /** The record with the largest timestamp (first of them), for ListOffsets MAX_TIMESTAMP. */
  async maxTimestamp(): Promise<TimestampLookup | null> {
    try {
      return await this.maxTimestampOnce(3);
    } catch (err) {
      throw this.explain(err);
    }
  }

  private async maxTimestampOnce(attempts: number): Promise<TimestampLookup | null> {
    this.checkReadable();
    let best: Segment | null = null;
    for (const seg of this.segments) {
      if (seg.nextOffset <= this.logStart || seg.size === 0) continue;
      if (seg.maxTimestamp >= 0n && (best === null || seg.maxTimestamp > best.maxTimestamp)) best = seg;
    }
    if (best === null) return null;
    const seg = best;
    const target = seg.offsetOfMaxTimestamp;
    let fd: number;
    try {
      fd = await this.ctx.files.acquire(seg);
    } catch (err) {
      if (err instanceof SegmentGoneError && attempts > 1) return this.maxTimestampOnce(attempts - 1);
      throw err;
    }
    try {
      await this.ensureIndexes(seg, fd);
      const pos = seg.offsetIndex!.lookup(seg.relative(target)).position;
      let offset = target;
      await scanBatches(fd, pos, seg.size, false, (buf, p) => {
        const base = readBaseOffset(buf, p);
        if (base < target) return true;
        if (base === target) offset = offsetOfMaxTimestamp(buf, p);
        return false;
      });
      return { offset, timestamp: seg.maxTimestamp };
    } finally {
      this.ctx.files.release(seg);
    }
  }

  // ---------------------------------------------------------------- retention

  /** DeleteRecords: move the log start offset (persisted) and drop whole segments below it. */
  async deleteRecords(beforeOffset: bigint): Promise<bigint> {
    try {
      return await this.deleteRecordsOnce(beforeOffset);
    } catch (err) {
      throw this.explain(err);
    }
  }

  private async deleteRecordsOnce(beforeOffset: bigint): Promise<bigint> {
    this.checkReadable();
    const target = beforeOffset === -1n ? this.hw : beforeOffset;
    if (target < 0n || target > this.hw) {
      throw storageError(ErrorCode.OFFSET_OUT_OF_RANGE, `cannot delete records of ${this.label} before offset ${beforeOffset}: high watermark is ${this.hw}`);
    }
    if (target > this.logStart) {
      this.logStart = target;
      const write = this.checkpointChain.then(() =>
        writeFileAtomic(join(this.dir, LOG_START_FILE), `${this.logStart}\n`, this.ctx.stats),
      );
      this.checkpointChain = write.catch(() => undefined);
      await write;
      await this.deleteSegments(deletableSegments(this.segments, { retentionMs: -1, retentionBytes: -1 }, this.logStart, Date.now()), 'log start offset');
    }
    return this.logStart;
  }

  /** Time/size retention and segments below the log start. Returns the number of segments deleted. */
  async applyRetention(nowMs: number): Promise<number> {
    if (this.deleted || this.refuse) return 0;
    // cleanup.policy=compact without delete: time and size never remove a key's latest value
    const policy = this.config.delete ? this.config : { retentionMs: -1, retentionBytes: -1 };
    const n = deletableSegments(this.segments, policy, this.logStart, nowMs);
    return this.deleteSegments(n, 'retention');
  }

  private async deleteSegments(n: number, reason: string): Promise<number> {
    if (this.swapping) return 0; // the next retention run deletes them
    n = Math.min(n, this.segments.length - 1);
    if (n <= 0) return 0;
    const removed = this.segments.splice(0, n);
    const first = this.segments[0]!.baseOffset;
    if (first > this.logStart) this.logStart = first;
    this.producers.truncateAbortedBefore(this.logStart); // their data is gone
    for (const seg of removed) {
      this.ctx.files.retire(seg);
      this.ctx.committer.forget(seg);
    }
    this.ctx.logger.info(
      { partition: this.label, reason, segments: removed.map((s) => s.baseOffset.toString()), logStartOffset: this.logStart.toString() },
      'deleted log segments',
    );
    for (const seg of removed) {
      // The log first: a leftover index without its log is cleaned up on start.
      await unlinkIfExists(seg.logPath);
      await unlinkIfExists(seg.indexPath);
      await unlinkIfExists(seg.timeIndexPath);
    }
    return removed.length;
  }

  expireProducers(nowMs: bigint, maxAgeMs: bigint): number {
    return this.producers.expire(nowMs, maxAgeMs);
  }

  // ---------------------------------------------------------------- log cleaner

  get isCompacted(): boolean {
    return this.config.compact;
  }

  get cleanerCheckpointOffset(): bigint | null {
    return this.cleanerCheckpoint;
  }

  /** Run fn with seg's file descriptor pinned. */
  async withSegmentFd<T>(seg: Segment, fn: (fd: number) => Promise<T>): Promise<T> {
    const fd = await this.ctx.files.acquire(seg);
    try {
      return await fn(fd);
    } finally {
      this.ctx.files.release(seg);
    }
  }

  /** What the cleaner plans on (null: the partition is closing, deleted or failed). */
  async cleaningView(nowMs: number): Promise<{ plan: CleaningPlan; segments: Segment[]; config: TopicConfig; logStart: bigint } | null> {
    if (this.refuse || this.deleted || this.failed || !this.config.compact) return null;
    const segments = [...this.segments];
    const config = this.config;
    const firsts: bigint[] = [];
    if (config.maxCompactionLagMs < Number.MAX_SAFE_INTEGER) {
      for (let i = 0; i < segments.length - 1; i++) {
        const seg = segments[i]!;
        if (seg.firstBatchTimestamp === null) {
          try {
            seg.firstBatchTimestamp = await this.withSegmentFd(seg, (fd) => firstBatchTimestamp(fd, seg.size));
          } catch (err) {
            if (err instanceof SegmentGoneError) return null;
            throw err;
          }
        }
        firsts.push(seg.firstBatchTimestamp);
      }
    }
    // never beyond the last stable offset: an open transaction's records are not known to stay (Kafka's firstUnstableOffset)
    const plan = planCleaning(segments, this.logStart, this.producers.lastStableOffset(this.hw), this.cleanerCheckpoint, config, nowMs, firsts);
    return { plan, segments, config, logStart: this.logStart };
  }

  /** Aborted transactions overlapping [from, to) (the cleaner drops their batches). */
  abortedTransactionsIn(from: bigint, to: bigint): AbortedTxnEntry[] {
    return this.producers.abortedTransactions(from, to);
  }

  /** The cleaner removed these ABORT markers (and their transactions' data before): their index entries go too. */
  forgetAbortedTransactions(markerOffsets: ReadonlySet<bigint>): void {
    if (markerOffsets.size > 0) this.producers.dropAborted(markerOffsets);
  }

  /** producer id -> last offset of its last batch (the batches the cleaner must keep). */
  lastOffsetsOfProducers(): Map<bigint, bigint> {
    const out = new Map<bigint, bigint>();
    for (const e of this.producers.all()) {
      const last = e.batches[e.batches.length - 1];
      if (last) out.set(e.producerId, last.lastOffset);
    }
    return out;
  }

  async setCleanerCheckpoint(offset: bigint): Promise<void> {
    this.cleanerCheckpoint = offset;
    const write = this.checkpointChain.then(() => writeFileAtomic(join(this.dir, CLEANER_CHECKPOINT_FILE), `${offset}\n`, this.ctx.stats));
    this.checkpointChain = write.catch(() => undefined);
    await write;
  }

  /**
   * Swap the cleaned segment (its log at `cleanedPath`, fsynced; its indexes in
   * memory) in for `group`. False, with nothing changed, when the group is no
   * longer part of the log. Crash safety (recovery.ts finishCleanSwap): a commit
   * marker naming the group is written first; from then on recovery completes
   * the swap, before it any leftover `.cleaned` file is discarded.
   * Readers of the old segments keep their (pinned) descriptors on the old files.
   */
  async swapCleaned(group: Segment[], cleaned: Segment, cleanedPath: string): Promise<boolean> {
    if (this.swapping || this.refuse || this.deleted || this.failed) return false;
    const at = this.segments.indexOf(group[0]!);
    if (at < 0 || at + group.length >= this.segments.length) return false;
    for (let k = 0; k < group.length; k++) if (this.segments[at + k] !== group[k] || group[k]!.retired) return false;
    this.swapping = true;
    const pinned: Segment[] = [];
    try {
      // Pin the old files and their indexes: readers keep using them while the names change.
      for (const seg of group) {
        const fd = await this.ctx.files.acquire(seg);
        pinned.push(seg);
        await this.ensureIndexes(seg, fd);
      }
      const marker = { base: cleaned.baseOffset.toString(), replaces: group.map((s) => s.baseOffset.toString()) };
      await writeFileAtomic(join(this.dir, CLEAN_SWAP_FILE), JSON.stringify(marker), this.ctx.stats);
      await finishCleanSwap(this.dir, cleaned.baseOffset, group.map((s) => s.baseOffset), this.ctx.stats, async () => {
        await cleaned.writeIndexes(this.ctx.stats);
      });
      // In memory: one synchronous step.
      const now = this.segments.indexOf(group[0]!);
      this.segments.splice(now, group.length, cleaned);
      cleaned.onSyncError = (err) => this.syncFailed(err);
      if (group.includes(this.hwSegment)) {
        this.hwSegment = cleaned;
        this.hwPosition = cleaned.size;
      }
      for (const seg of group) {
        this.ctx.files.retire(seg);
        this.ctx.committer.forget(seg);
      }
      await unlinkIfExists(join(this.dir, CLEAN_SWAP_FILE));
      await fsyncDir(this.dir, this.ctx.stats);
      return true;
    } catch (err) {
      if (this.deleted || this.refuse) return false; // deleted or closed meanwhile: recovery finishes a committed swap
      this.failed ??= this.ioFailure('swapping in a cleaned segment', err);
      throw this.failed;
    } finally {
      for (const seg of pinned) this.ctx.files.release(seg);
      this.swapping = false;
    }
  }

  // ---------------------------------------------------------------- close

  /**
   * Stop accepting appends, let queued ones finish, and (unless deleted) flush and
   * write the indexes and producer snapshot of the active segment. Resolves to
   * true when the partition was closed cleanly.
   */
  close(reason: StorageError, deleted = false): Promise<boolean> {
    if (this.closing) return this.closing;
    this.refuse = reason;
    if (deleted) this.deleted = reason;
    this.closing = (async () => {
      while (this.draining) await this.draining;
      let clean = !deleted && !this.failed;
      if (!deleted) {
        try {
          const active = this.active;
          await this.ctx.committer.flushNow(active);
          active.finalizeTimeIndex();
          await active.writeIndexes(this.ctx.stats);
          await writeFileAtomic(join(this.dir, PRODUCER_SNAPSHOT_FILE), this.producers.serialize(active.nextOffset), this.ctx.stats);
          await this.checkpointChain;
        } catch (err) {
          clean = false;
          this.ctx.logger.error({ err, partition: this.label }, 'could not close the partition cleanly');
        }
      }
      // Flush callbacks of the last writes have run by now; anything left waits in vain.
      for (const w of this.hwWaiters) w.reject(reason);
      this.hwWaiters = [];
      for (const seg of this.segments) {
        this.ctx.committer.forget(seg);
        this.ctx.files.retire(seg);
      }
      return clean;
    })();
    return this.closing;
  }
}
