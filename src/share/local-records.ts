/**
 * The gateway's own share-partitions as the records side of share groups
 * (records.ts): the share-partition state machine (partition.ts) of each
 * (group, topic partition), kept by the share-group coordinator (groups.ts) and
 * durable in the engine's key-value store (store.ts), reading records through
 * the engine's `read`. Served by the node coordinating the group. The default
 * when the engine's wiring names no other (the embedded engine).
 *
 *  - Acknowledgements are applied per batch (all-or-nothing, INVALID_RECORD_STATE
 *    for records the member does not hold) and durable before the answer.
 *  - A fetch acquires the Available records of each partition (redeliveries first,
 *    then new ones up to the high watermark), at most MaxRecords in all, returns the
 *    whole batches holding them, and waits up to MaxWaitMs for an append or a lock
 *    expiry when there is nothing to acquire.
 */
import { ErrorCode } from '../protocol/errors.js';
import { StorageError, type PartitionRef } from '../storage/engine.js';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, baseOffset, isControl, lastOffsetDelta } from '../protocol/records/batch-header.js';
import type { GroupKey } from '../coordinator/locator.js';
import type { AcquiredRange, SharePartition } from './partition.js';
import type { AckBatch, FetchedPartition, OffsetsWanted, ShareFetchLimits, ShareOffsets, ShareReadContext, ShareRecords, ShareTarget } from './records.js';

/** A share-partition as the coordinator hands it out. */
export interface LocalSlot {
  sp: SharePartition;
  persist(): Promise<void>;
}

/** What the share-group coordinator provides to its own share-partitions. */
export interface LocalShareHost {
  localPartition(key: GroupKey, t: ShareTarget, initialOffset: (reset: 'latest' | 'earliest') => Promise<bigint>): Promise<LocalSlot>;
  existingLocalPartition(key: GroupKey, t: ShareTarget): LocalSlot | null;
  localPartitions(key: GroupKey): Array<{ topic: string; partition: number; topicId: Buffer; sp: SharePartition }>;
  releaseLocal(key: GroupKey, memberId: string): Promise<void>;
  expireLocal(now: number): Promise<void>;
  loadLocal(): Promise<void>;
  drainLocal(): Promise<void>;
  /** Replace the share-partition by a new one starting at `startOffset` (durable before it resolves). */
  resetLocal(key: GroupKey, t: ShareTarget, startOffset: bigint): Promise<void>;
  /** Forget the group's share-partitions of a topic (durable); whether it had any. */
  dropLocal(key: GroupKey, topic: string): Promise<boolean>;
}

/**
 * Whole batches of `buffers` (an engine's read: each buffer one or more batches) as
 * [first, last] ranges and their slices; control batches are left out (their offsets are
 * gaps), `end` is where the read ends (after the last batch, control or not).
 */
export function batchesOf(buffers: Buffer[]): { batches: Array<{ first: bigint; last: bigint; data: Buffer }>; end: bigint | undefined } {
  const batches: Array<{ first: bigint; last: bigint; data: Buffer }> = [];
  let end: bigint | undefined;
  for (const buf of buffers) {
    for (let pos = 0; pos + BATCH_HEADER_SIZE <= buf.length; ) {
      const size = buf.readInt32BE(pos + 8) + LOG_OVERHEAD;
      if (size <= LOG_OVERHEAD || pos + size > buf.length) break;
      const first = baseOffset(buf, pos);
      const last = first + BigInt(lastOffsetDelta(buf, pos));
      if (!isControl(buf, pos)) batches.push({ first, last, data: buf.subarray(pos, pos + size) });
      end = last + 1n;
      pos += size;
    }
  }
  return { batches, end };
}

export function acquiredCount(ranges: readonly AcquiredRange[]): number {
  let n = 0;
  for (const r of ranges) n += Number(r.lastOffset - r.firstOffset) + 1;
  return n;
}

interface Fetching {
  target: ShareTarget;
  slot: LocalSlot;
  out: FetchedPartition;
}

export class LocalShareRecords implements ShareRecords {
  readonly anyNode = false;

  constructor(private readonly host: LocalShareHost) {}

  start(): Promise<void> {
    return this.host.loadLocal();
  }

  close(): Promise<void> {
    return this.host.drainLocal();
  }

  releaseMember(key: GroupKey, memberId: string): Promise<void> {
    return this.host.releaseLocal(key, memberId);
  }

  sweep(now: number): Promise<void> {
    return this.host.expireLocal(now);
  }

  async resetStart(key: GroupKey, items: Array<{ target: ShareTarget; startOffset: bigint }>, rc: Pick<ShareReadContext, 'storage'>): Promise<number[]> {
    return Promise.all(
      items.map(async ({ target, startOffset }) => {
        try {
          const o = await rc.storage.offsets({ topic: target.topic, partition: target.partition });
          const start = startOffset < o.logStartOffset ? o.logStartOffset : startOffset > o.highWatermark ? o.highWatermark : startOffset;
          await this.host.resetLocal(key, target, start);
          return ErrorCode.NONE;
        } catch (err) {
          if (!(err instanceof StorageError)) throw err;
          return err.code;
        }
      }),
    );
  }

  async deleteOffsets(key: GroupKey, topics: Array<{ topic: string; partitions: number }>): Promise<number[]> {
    const out: number[] = [];
    for (const t of topics) {
      try {
        out.push((await this.host.dropLocal(key, t.topic)) ? ErrorCode.NONE : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
      } catch (err) {
        out.push(err instanceof StorageError ? err.code : ErrorCode.KAFKA_STORAGE_ERROR);
      }
    }
    return out;
  }

  async acknowledge(key: GroupKey, memberId: string, items: Array<{ target: ShareTarget; batches: AckBatch[] }>, allowRenew: boolean): Promise<number[]> {
    const dirty = new Set<LocalSlot>();
    const now = Date.now();
    const codes = items.map(({ target, batches }) => {
      const slot = this.host.existingLocalPartition(key, target);
      if (!slot) return ErrorCode.INVALID_RECORD_STATE;
      let code: number = ErrorCode.NONE;
      for (const b of batches) {
        const r = slot.sp.acknowledge(memberId, b.firstOffset, b.lastOffset, b.acknowledgeTypes, now, allowRenew);
        if (r === ErrorCode.NONE) dirty.add(slot);
        else if (code === ErrorCode.NONE) code = r;
      }
      return code;
    });
    let persisted: number = ErrorCode.NONE;
    try {
      await Promise.all([...dirty].map((s) => s.persist()));
    } catch (err) {
      persisted = err instanceof StorageError ? err.code : ErrorCode.KAFKA_STORAGE_ERROR;
    }
    return persisted === ErrorCode.NONE ? codes : codes.map((c) => (c === ErrorCode.NONE ? persisted : c));
  }

  /** The share-partitions this coordinator keeps (`assigned` ones it does not keep yet have not been read: not listed). */
  async offsets(key: GroupKey, wanted: OffsetsWanted | null, rc: Pick<ShareReadContext, 'storage'>, listed: (topic: string) => Promise<boolean>): Promise<ShareOffsets[]> {
    const out: ShareOffsets[] = [];
    for (const p of this.host.localPartitions(key)) {
      if (wanted && !wanted.some((w) => w.topic === p.topic && w.partition === p.partition && w.topicId.equals(p.topicId))) continue;
      if (!wanted && !(await listed(p.topic))) continue;
      let lag = -1n;
      try {
        const o = await rc.storage.offsets({ topic: p.topic, partition: p.partition });
        lag = o.highWatermark - p.sp.startOffset - BigInt(p.sp.doneInWindow());
        if (lag < 0n) lag = 0n;
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
      }
      out.push({ topic: p.topic, partition: p.partition, topicId: p.topicId, startOffset: p.sp.startOffset, lag });
    }
    return out;
  }

  async fetch(key: GroupKey, memberId: string, targets: ShareTarget[], limits: ShareFetchLimits, rc: ShareReadContext): Promise<FetchedPartition[]> {
    const outs: FetchedPartition[] = [];
    const fetching: Fetching[] = [];
    for (const target of targets) {
      const out: FetchedPartition = { errorCode: ErrorCode.NONE, errorMessage: null, records: [], acquired: [] };
      outs.push(out);
      const tp: PartitionRef = { topic: target.topic, partition: target.partition };
      try {
        const slot = await this.host.localPartition(key, target, async (reset) => {
          const o = await rc.storage.offsets(tp);
          return reset === 'earliest' ? o.logStartOffset : o.highWatermark;
        });
        fetching.push({ target, slot, out });
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
        out.errorCode = err.code;
        out.errorMessage = err.message;
      }
    }
    if (fetching.length === 0) return outs;
    const { maxRecords, maxBytes } = limits;
    const deadline = Date.now() + Math.max(0, limits.maxWaitMs);
    let records = 0;
    let bytes = 0;
    for (;;) {
      for (const f of fetching) {
        if (f.out.errorCode !== ErrorCode.NONE || records >= maxRecords || bytes >= maxBytes) continue;
        try {
          const before = f.out.acquired.length;
          bytes += await this.fetchOne(rc, f, memberId, maxRecords - records, maxBytes - bytes, bytes === 0);
          records += acquiredCount(f.out.acquired.slice(before));
        } catch (err) {
          if (!(err instanceof StorageError)) throw err;
          f.out.errorCode = err.code;
          f.out.errorMessage = err.message;
        }
      }
      if (records > 0 || rc.isClosed()) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      // wait for an append beyond what the share-partitions have seen (only where the in-flight
      // window has room: a full one acquires nothing new), or for a lock to expire
      let wake = left;
      let live = 0;
      const watch: Array<{ tp: PartitionRef; offset: bigint }> = [];
      for (const f of fetching) {
        if (f.out.errorCode !== ErrorCode.NONE) continue;
        live++;
        const sp = f.slot.sp;
        if (sp.fetchOffset() !== null) watch.push({ tp: { topic: f.target.topic, partition: f.target.partition }, offset: sp.endOffset });
        const d = sp.nextLockDeadline() - Date.now();
        if (d < wake) wake = Math.max(1, d);
      }
      if (live === 0) break;
      if (watch.length > 0) await rc.storage.waitForAppend(watch, wake);
      else await new Promise((resolve) => setTimeout(resolve, wake));
    }
    return outs;
  }

  /** Read and acquire for one partition; returns the bytes taken. */
  private async fetchOne(rc: ShareReadContext, f: Fetching, memberId: string, maxRecords: number, maxBytes: number, first: boolean): Promise<number> {
    const slot = f.slot;
    const sp = slot.sp;
    const tp: PartitionRef = { topic: f.target.topic, partition: f.target.partition };
    const now = Date.now();
    if (sp.expireLocks(now)) void slot.persist().catch(() => undefined);
    let from = sp.fetchOffset();
    if (from === null) return 0;
    let read;
    try {
      read = await rc.storage.read(tp, from, { maxBytes, minOneMessage: first, principal: rc.principal });
    } catch (err) {
      if (!(err instanceof StorageError) || err.code !== ErrorCode.OFFSET_OUT_OF_RANGE) throw err;
      // the log start moved past the share-partition's start (retention, DeleteRecords)
      const o = await rc.storage.offsets(tp);
      sp.moveLogStart(o.logStartOffset);
      from = sp.fetchOffset();
      if (from === null || from >= o.highWatermark) return 0;
      read = await rc.storage.read(tp, from, { maxBytes, minOneMessage: first, principal: rc.principal });
    }
    if (read.logStartOffset > sp.startOffset) sp.moveLogStart(read.logStartOffset);
    const { batches, end } = batchesOf(read.records);
    if (end === undefined) return 0;
    const acquired = sp.acquire(memberId, from, batches, maxRecords, Date.now(), end);
    if (acquired.length === 0) return 0;
    // only the batches holding acquired records go back
    let bytes = 0;
    let k = 0;
    for (const b of batches) {
      while (k < acquired.length && acquired[k]!.lastOffset < b.first) k++;
      if (k < acquired.length && acquired[k]!.firstOffset <= b.last) {
        f.out.records.push(b.data);
        bytes += b.data.length;
      }
    }
    f.out.acquired.push(...acquired);
    return bytes;
  }
}
