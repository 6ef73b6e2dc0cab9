/**
 * Idempotent-producer state of one partition: pure logic, no I/O, reusable by
 * any storage engine.
 *
 * For each producer id: the current epoch and the metadata of its last 5
 * batches (Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN), the number of
 * in-flight requests a Kafka producer may have per partition. The rules follow
 * Kafka (UnifiedLog.analyzeAndValidateProducerState + ProducerAppendInfo, 2.5+):
 *
 * 1. A batch whose (epoch, firstSeq, lastSeq) equals one of the cached batches
 *    is a duplicate: answer with the original offsets, write nothing.
 * 2. epoch < current epoch                          -> INVALID_PRODUCER_EPOCH
 * 3. unknown producer (no state, e.g. expired)      -> accepted at any sequence (KIP-360)
 * 4. epoch > current epoch and firstSeq != 0        -> OUT_OF_ORDER_SEQUENCE_NUMBER
 * 5. same epoch and firstSeq != lastSeq + 1         -> OUT_OF_ORDER_SEQUENCE_NUMBER
 *    (sequence numbers wrap from Int32 max to 0)
 *
 * Transactions (Kafka's ProducerAppendInfo / ProducerStateManager semantics):
 *
 * 6. a transactional batch of a producer with no open transaction on the
 *    partition opens one at the batch's first offset; a non-transactional
 *    batch of a producer whose transaction is open -> INVALID_TXN_STATE
 *    (checked after duplicates, epoch and sequence, as Kafka does);
 * 7. a COMMIT/ABORT marker: producer epoch older than the current one ->
 *    INVALID_PRODUCER_EPOCH; coordinator epoch older than the last marker's ->
 *    TRANSACTION_COORDINATOR_FENCED. Otherwise it takes the marker's epoch
 *    (the coordinator bumps it when it aborts a timed-out transaction),
 *    closes the open transaction (a marker without one is allowed and
 *    changes no offsets), and an ABORT of a non-empty transaction adds
 *    (producer, first offset, marker offset) to the aborted-transaction index;
 * 8. the first unstable offset is the smallest first offset of the open
 *    transactions and of completed ones whose marker the high watermark has
 *    not passed yet (Kafka's unreplicatedTxns): the last stable offset is
 *    min(first unstable offset, high watermark);
 * 9. producers with an open transaction never expire.
 *
 * A snapshot (binary, CRC-protected) carries the state as of an offset, the
 * aborted-transaction index included; an engine rebuilds the rest by
 * replaying batch headers (and markers) from that offset.
 */
import { crc32c } from '@node-rs/crc32';
import { ErrorCode } from '../protocol/errors.js';
import type { ProducerStateView } from './engine.js';
import {
  ATTR_COMPRESSION_MASK,
  ATTR_CONTROL,
  ATTR_TRANSACTIONAL,
  OFF_ATTRIBUTES,
  baseSequence,
  lastSequence,
  producerEpoch,
  producerId as readProducerId,
} from '../protocol/records/batch-header.js';
import { ControlRecordType, parseControlRecord } from '../protocol/records/control.js';
import { forEachRecord } from '../protocol/records/records.js';

export const NUM_BATCHES_TO_RETAIN = 5;
export const NO_SEQUENCE = -1;
const INT32_MAX = 0x7fffffff;

export interface BatchMetadata {
  firstSeq: number;
  lastSeq: number;
  firstOffset: bigint;
  lastOffset: bigint;
  /** The batch's max timestamp (ms). */
  timestamp: bigint;
}

export interface ProducerEntry {
  producerId: bigint;
  epoch: number;
  /** Oldest first, at most NUM_BATCHES_TO_RETAIN. Never mutated in place (undo relies on it). */
  batches: readonly BatchMetadata[];
  lastTimestamp: bigint;
  /** Coordinator epoch of the last marker, -1 when none. */
  coordinatorEpoch: number;
  /** First offset of the producer's open transaction on the partition, -1n when none. */
  currentTxnFirstOffset: bigint;
}

/** What the engine reads from a batch header. */
export interface ProducerBatch {
  producerId: bigint;
  epoch: number;
  firstSeq: number;
  lastSeq: number;
  /** Attribute bit 4 (a transactional data batch). */
  transactional?: boolean;
}

/** A COMMIT/ABORT control batch as the producer state sees it. */
export interface MarkerBatch {
  producerId: bigint;
  epoch: number;
  commit: boolean;
  coordinatorEpoch: number;
}

/** Kafka's AbortedTxn: an aborted transaction's data lies in [firstOffset, lastOffset), its marker at lastOffset. */
export interface AbortedTxnEntry {
  producerId: bigint;
  firstOffset: bigint;
  /** The ABORT marker's offset. */
  lastOffset: bigint;
}

interface CompletedTxn extends AbortedTxnEntry {
  aborted: boolean;
}

export type SequenceCheck =
  | { result: 'ok' }
  | { result: 'duplicate'; firstOffset: bigint; lastOffset: bigint }
  | { result: 'error'; code: ErrorCode; message: string };

const OK: SequenceCheck = { result: 'ok' };

/** Opaque token to revert one `record` / `recordMarker` (e.g. when the write failed). */
export interface UndoToken {
  producerId: bigint;
  previous: ProducerEntry | undefined;
  /** The transaction the record completed (marker), to take back out of the lists. */
  completed?: CompletedTxn;
}

const FENCE_OK: { result: 'ok' } = { result: 'ok' };

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateTable {
  private readonly entries = new Map<bigint, ProducerEntry>();
  /** producer id -> first offset of its open transaction (the entries with currentTxnFirstOffset >= 0). */
  private readonly ongoing = new Map<bigint, bigint>();
  /** Completed transactions whose marker the high watermark has not passed yet, in marker order. */
  private unreplicated: CompletedTxn[] = [];
  /** The aborted-transaction index, in marker (lastOffset) order. */
  private aborted: AbortedTxnEntry[] = [];

  get size(): number {
    return this.entries.size;
  }

  get(producerId: bigint): ProducerEntry | undefined {
    return this.entries.get(producerId);
  }

  all(): IterableIterator<ProducerEntry> {
    return this.entries.values();
  }

  /** Every producer as DescribeProducers shows it. */
  describe(): ProducerStateView[] {
    const out: ProducerStateView[] = [];
    for (const e of this.entries.values()) {
      const last = e.batches[e.batches.length - 1];
      out.push({
        producerId: e.producerId,
        producerEpoch: e.epoch,
        lastSequence: last ? last.lastSeq : NO_SEQUENCE,
        lastTimestamp: e.lastTimestamp,
        coordinatorEpoch: e.coordinatorEpoch,
        currentTxnStartOffset: e.currentTxnFirstOffset,
      });
    }
    return out;
  }

  /** Validate a batch of an idempotent producer (producerId >= 0) against the state. Pure. */
  check(batch: ProducerBatch, partitionLabel = ''): SequenceCheck {
    const entry = this.entries.get(batch.producerId);
    if (entry === undefined) return OK; // unknown producer: any sequence (Kafka 2.5+, KIP-360)
    if (batch.epoch === entry.epoch) {
      for (const b of entry.batches) {
        if (b.firstSeq === batch.firstSeq && b.lastSeq === batch.lastSeq) {
          return { result: 'duplicate', firstOffset: b.firstOffset, lastOffset: b.lastOffset };
        }
      }
    }
    const where = partitionLabel ? ` in ${partitionLabel}` : '';
    if (batch.epoch < entry.epoch) {
      return {
        result: 'error',
        code: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer ${batch.producerId} epoch ${batch.epoch} is older than the current epoch ${entry.epoch}${where}`,
      };
    }
    if (batch.firstSeq !== NO_SEQUENCE) {
      if (batch.epoch !== entry.epoch) {
        if (batch.firstSeq !== 0) {
          return {
            result: 'error',
            code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: `producer ${batch.producerId} new epoch ${batch.epoch} must start at sequence 0, got ${batch.firstSeq}${where}`,
          };
        }
      } else {
        const last = entry.batches.length > 0 ? entry.batches[entry.batches.length - 1]!.lastSeq : NO_SEQUENCE;
        if (!inSequence(last, batch.firstSeq)) {
          return {
            result: 'error',
            code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: `producer ${batch.producerId} epoch ${batch.epoch}: out of order sequence ${batch.firstSeq}, expected ${last === INT32_MAX ? 0 : last + 1}${where}`,
          };
        }
      }
    }
    if (entry.currentTxnFirstOffset >= 0n && !batch.transactional) {
      return {
        result: 'error',
        code: ErrorCode.INVALID_TXN_STATE,
        message: `expected a transactional write from producer ${batch.producerId}: its transaction opened at offset ${entry.currentTxnFirstOffset} is still open${where}`,
      };
    }
    return OK;
  }

  /** Kafka's fencing of a COMMIT/ABORT marker (checkProducerEpoch + checkCoordinatorEpoch). Pure. */
  checkMarker(marker: MarkerBatch, partitionLabel = ''): { result: 'ok' } | { result: 'error'; code: ErrorCode; message: string } {
    const entry = this.entries.get(marker.producerId);
    if (entry === undefined) return FENCE_OK;
    const where = partitionLabel ? ` in ${partitionLabel}` : '';
    if (marker.epoch < entry.epoch) {
      return {
        result: 'error',
        code: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `transaction marker of producer ${marker.producerId} has epoch ${marker.epoch}, older than the current epoch ${entry.epoch}${where}`,
      };
    }
    if (entry.coordinatorEpoch > marker.coordinatorEpoch) {
      return {
        result: 'error',
        code: ErrorCode.TRANSACTION_COORDINATOR_FENCED,
        message: `transaction marker of producer ${marker.producerId} has coordinator epoch ${marker.coordinatorEpoch}, older than the last one seen (${entry.coordinatorEpoch})${where}`,
      };
    }
    return FENCE_OK;
  }

  /** Record an appended batch (after check said ok, or while replaying the log). */
  record(batch: ProducerBatch, firstOffset: bigint, lastOffset: bigint, timestamp: bigint): UndoToken {
    const previous = this.entries.get(batch.producerId);
    let batches: BatchMetadata[];
    if (previous === undefined || previous.epoch !== batch.epoch) batches = [];
    else batches = previous.batches.length >= NUM_BATCHES_TO_RETAIN ? previous.batches.slice(1) : previous.batches.slice();
    if (batch.firstSeq !== NO_SEQUENCE) batches.push({ firstSeq: batch.firstSeq, lastSeq: batch.lastSeq, firstOffset, lastOffset, timestamp });
    const lastTimestamp = previous !== undefined && previous.lastTimestamp > timestamp ? previous.lastTimestamp : timestamp;
    let txn = previous?.currentTxnFirstOffset ?? -1n;
    if (batch.transactional && txn < 0n) {
      txn = firstOffset; // the first batch of a transaction on this partition opens it
      this.ongoing.set(batch.producerId, txn);
    }
    this.entries.set(batch.producerId, {
      producerId: batch.producerId,
      epoch: batch.epoch,
      batches,
      lastTimestamp,
      coordinatorEpoch: previous?.coordinatorEpoch ?? -1,
      currentTxnFirstOffset: txn,
    });
    return { producerId: batch.producerId, previous };
  }

  /**
   * Record a batch reported by one of several sources that may each report it, in different
   * orders (the Pulsar engine: the send receipt and the tail reader): a batch at or below the
   * producer's newest recorded offset, or of an older epoch, was recorded already (or is
   * superseded) and changes nothing. Without this, a tail reader lagging more than
   * NUM_BATCHES_TO_RETAIN batches behind the receipts would record an old batch again and move
   * the producer's last sequence back (its next batch then fails OUT_OF_ORDER_SEQUENCE_NUMBER).
   * Returns whether it was recorded.
   */
  recordIfNewer(batch: ProducerBatch, firstOffset: bigint, lastOffset: bigint, timestamp: bigint): boolean {
    const cur = this.entries.get(batch.producerId);
    if (cur !== undefined) {
      if (batch.epoch < cur.epoch) return false;
      if (batch.epoch === cur.epoch) {
        const newest = cur.batches.length > 0 ? cur.batches[cur.batches.length - 1]!.lastOffset : -1n;
        if (lastOffset <= newest) return false;
      }
    }
    this.record(batch, firstOffset, lastOffset, timestamp);
    return true;
  }

  /**
   * Record a COMMIT/ABORT marker written at `offset` (after checkMarker said ok, or
   * while replaying the log): closes the producer's open transaction.
   */
  recordMarker(marker: MarkerBatch, offset: bigint, timestamp: bigint): UndoToken {
    const previous = this.entries.get(marker.producerId);
    const sameEpoch = previous !== undefined && previous.epoch === marker.epoch;
    const lastTimestamp = previous !== undefined && previous.lastTimestamp > timestamp ? previous.lastTimestamp : timestamp;
    this.entries.set(marker.producerId, {
      producerId: marker.producerId,
      epoch: marker.epoch,
      batches: sameEpoch ? previous.batches : [],
      lastTimestamp,
      coordinatorEpoch: marker.coordinatorEpoch,
      currentTxnFirstOffset: -1n,
    });
    const token: UndoToken = { producerId: marker.producerId, previous };
    const first = previous?.currentTxnFirstOffset ?? -1n;
    if (first >= 0n) {
      this.ongoing.delete(marker.producerId);
      const completed: CompletedTxn = { producerId: marker.producerId, firstOffset: first, lastOffset: offset, aborted: !marker.commit };
      this.unreplicated.push(completed);
      if (completed.aborted) this.aborted.push({ producerId: marker.producerId, firstOffset: first, lastOffset: offset });
      token.completed = completed;
    }
    return token;
  }

  /** Revert a `record` or `recordMarker`; tokens must be undone newest first. */
  undo(token: UndoToken): void {
    const now = this.entries.get(token.producerId);
    if (now !== undefined && now.currentTxnFirstOffset >= 0n) this.ongoing.delete(token.producerId);
    if (token.previous === undefined) this.entries.delete(token.producerId);
    else {
      this.entries.set(token.producerId, token.previous);
      if (token.previous.currentTxnFirstOffset >= 0n) this.ongoing.set(token.producerId, token.previous.currentTxnFirstOffset);
    }
    const c = token.completed;
    if (c !== undefined) {
      const u = this.unreplicated.lastIndexOf(c);
      if (u >= 0) this.unreplicated.splice(u, 1);
      const a = this.aborted[this.aborted.length - 1];
      if (c.aborted && a !== undefined && a.producerId === c.producerId && a.lastOffset === c.lastOffset) this.aborted.pop();
    }
  }

  /**
   * The first offset not yet stable given the high watermark (completed transactions
   * whose marker is below it are dropped from the unreplicated list); null when every
   * offset below the high watermark is stable.
   */
  firstUnstableOffset(highWatermark: bigint): bigint | null {
    if (this.unreplicated.length > 0) {
      let n = 0;
      while (n < this.unreplicated.length && this.unreplicated[n]!.lastOffset < highWatermark) n++;
      if (n > 0) this.unreplicated = this.unreplicated.slice(n);
    }
    let min: bigint | null = null;
    for (const first of this.ongoing.values()) if (min === null || first < min) min = first;
    for (const c of this.unreplicated) if (min === null || c.firstOffset < min) min = c.firstOffset;
    return min;
  }

  /** Kafka's last stable offset: min(first unstable offset, high watermark). */
  lastStableOffset(highWatermark: bigint): bigint {
    const first = this.firstUnstableOffset(highWatermark);
    return first !== null && first < highWatermark ? first : highWatermark;
  }

  /** Number of open transactions on the partition. */
  get openTransactions(): number {
    return this.ongoing.size;
  }

  /**
   * Aborted transactions overlapping [fetchOffset, upperBound): marker at or after
   * fetchOffset and data starting before upperBound (Kafka's collectAbortedTxns).
   */
  abortedTransactions(fetchOffset: bigint, upperBound: bigint): AbortedTxnEntry[] {
    const a = this.aborted;
    let lo = 0;
    let hi = a.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (a[mid]!.lastOffset < fetchOffset) lo = mid + 1;
      else hi = mid;
    }
    const out: AbortedTxnEntry[] = [];
    for (let i = lo; i < a.length; i++) if (a[i]!.firstOffset < upperBound) out.push(a[i]!);
    return out;
  }

  /** The whole aborted-transaction index (tests, the log cleaner). */
  abortedIndex(): readonly AbortedTxnEntry[] {
    return this.aborted;
  }

  /** Drop the aborted-index entries of these ABORT marker offsets (the log cleaner removed the markers). */
  dropAborted(markerOffsets: ReadonlySet<bigint>): void {
    this.aborted = this.aborted.filter((a) => !markerOffsets.has(a.lastOffset));
  }

  /** Drop aborted-index entries whose marker lies below the log start (their data is gone). */
  truncateAbortedBefore(logStart: bigint): number {
    let n = 0;
    while (n < this.aborted.length && this.aborted[n]!.lastOffset < logStart) n++;
    if (n > 0) this.aborted = this.aborted.slice(n);
    return n;
  }

  /**
   * Forget producers whose last batch timestamp is older than nowMs - maxAgeMs
   * (Kafka producer.id.expiration.ms); a producer with an open transaction stays.
   */
  expire(nowMs: bigint, maxAgeMs: bigint): number {
    let removed = 0;
    for (const [pid, e] of this.entries) {
      if (e.currentTxnFirstOffset < 0n && nowMs - e.lastTimestamp > maxAgeMs) {
        this.entries.delete(pid);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.entries.clear();
    this.ongoing.clear();
    this.unreplicated = [];
    this.aborted = [];
  }

  /**
   * Binary snapshot: "KPS2" | crc32c(u32, of everything after it) | offset i64 | count u32 |
   * entries (pid i64, epoch i16, lastTimestamp i64, coordinatorEpoch i32, currentTxnFirstOffset i64,
   * n u8, n x (firstSeq i32, lastSeq i32, firstOffset i64, lastOffset i64, timestamp i64)) |
   * aborted count u32 | aborted (pid i64, firstOffset i64, lastOffset i64).
   * "KPS1" snapshots (no transaction fields, no aborted index) are still read.
   */
  serialize(offset: bigint): Buffer {
    let size = 4 + 4 + 8 + 4 + 4 + this.aborted.length * 24;
    for (const e of this.entries.values()) size += 8 + 2 + 8 + 4 + 8 + 1 + e.batches.length * 32;
    const buf = Buffer.allocUnsafe(size);
    buf.write('KPS2', 0, 'latin1');
    let p = 8;
    buf.writeBigInt64BE(offset, p);
    p += 8;
    buf.writeUInt32BE(this.entries.size, p);
    p += 4;
    for (const e of this.entries.values()) {
      buf.writeBigInt64BE(e.producerId, p);
      buf.writeInt16BE(e.epoch, p + 8);
      buf.writeBigInt64BE(e.lastTimestamp, p + 10);
      buf.writeInt32BE(e.coordinatorEpoch, p + 18);
      buf.writeBigInt64BE(e.currentTxnFirstOffset, p + 22);
      buf.writeUInt8(e.batches.length, p + 30);
      p += 31;
      for (const b of e.batches) {
        buf.writeInt32BE(b.firstSeq, p);
        buf.writeInt32BE(b.lastSeq, p + 4);
        buf.writeBigInt64BE(b.firstOffset, p + 8);
        buf.writeBigInt64BE(b.lastOffset, p + 16);
        buf.writeBigInt64BE(b.timestamp, p + 24);
        p += 32;
      }
    }
    buf.writeUInt32BE(this.aborted.length, p);
    p += 4;
    for (const a of this.aborted) {
      buf.writeBigInt64BE(a.producerId, p);
      buf.writeBigInt64BE(a.firstOffset, p + 8);
      buf.writeBigInt64BE(a.lastOffset, p + 16);
      p += 24;
    }
    buf.writeUInt32BE(crc32c(buf.subarray(8)), 4);
    return buf;
  }

  /** Parse a snapshot; null when it is damaged (the caller then rebuilds from the log). */
  static deserialize(buf: Buffer): { table: ProducerStateTable; offset: bigint } | null {
    try {
      if (buf.length < 20) return null;
      const magic = buf.toString('latin1', 0, 4);
      const v2 = magic === 'KPS2';
      if (!v2 && magic !== 'KPS1') return null;
      if (buf.readUInt32BE(4) !== crc32c(buf.subarray(8))) return null;
      let p = 8;
      const offset = buf.readBigInt64BE(p);
      const count = buf.readUInt32BE(p + 8);
      p += 12;
      const table = new ProducerStateTable();
      for (let i = 0; i < count; i++) {
        const producerId = buf.readBigInt64BE(p);
        const epoch = buf.readInt16BE(p + 8);
        const lastTimestamp = buf.readBigInt64BE(p + 10);
        let coordinatorEpoch = -1;
        let currentTxnFirstOffset = -1n;
        if (v2) {
          coordinatorEpoch = buf.readInt32BE(p + 18);
          currentTxnFirstOffset = buf.readBigInt64BE(p + 22);
          p += 12;
        }
        const n = buf.readUInt8(p + 18);
        p += 19;
        const batches: BatchMetadata[] = [];
        for (let j = 0; j < n; j++) {
          batches.push({
            firstSeq: buf.readInt32BE(p),
            lastSeq: buf.readInt32BE(p + 4),
            firstOffset: buf.readBigInt64BE(p + 8),
            lastOffset: buf.readBigInt64BE(p + 16),
            timestamp: buf.readBigInt64BE(p + 24),
          });
          p += 32;
        }
        table.entries.set(producerId, { producerId, epoch, batches, lastTimestamp, coordinatorEpoch, currentTxnFirstOffset });
        if (currentTxnFirstOffset >= 0n) table.ongoing.set(producerId, currentTxnFirstOffset);
      }
      if (v2) {
        const n = buf.readUInt32BE(p);
        p += 4;
        for (let i = 0; i < n; i++) {
          table.aborted.push({ producerId: buf.readBigInt64BE(p), firstOffset: buf.readBigInt64BE(p + 8), lastOffset: buf.readBigInt64BE(p + 16) });
          p += 24;
        }
      }
      if (p !== buf.length) return null;
      return { table, offset };
    } catch {
      return null;
    }
  }
}

/**
 * The producer-state view of the stored batch at `p` (header fields; a control
 * batch's one record is read for the marker type and coordinator epoch):
 * null for a batch without producer id, or a control batch that is not a
 * readable COMMIT/ABORT marker (those change no producer state).
 */
export function producerBatchAt(buf: Buffer, p: number): { kind: 'data'; batch: ProducerBatch } | { kind: 'marker'; marker: MarkerBatch } | null {
  const pid = readProducerId(buf, p);
  if (pid < 0n) return null;
  const attrs = buf.readInt16BE(p + OFF_ATTRIBUTES);
  const epoch = producerEpoch(buf, p);
  if ((attrs & ATTR_CONTROL) === 0) {
    return { kind: 'data', batch: { producerId: pid, epoch, firstSeq: baseSequence(buf, p), lastSeq: lastSequence(buf, p), transactional: (attrs & ATTR_TRANSACTIONAL) !== 0 } };
  }
  if (attrs & ATTR_COMPRESSION_MASK) return null; // markers are written uncompressed
  let marker: MarkerBatch | null = null;
  try {
    forEachRecord(
      buf,
      (r) => {
        const c = parseControlRecord(r.key(), r.value());
        if (c.type === ControlRecordType.Commit || c.type === ControlRecordType.Abort) {
          marker = { producerId: pid, epoch, commit: c.type === ControlRecordType.Commit, coordinatorEpoch: c.coordinatorEpoch ?? -1 };
        }
        return false;
      },
      p,
    );
  } catch {
    return null;
  }
  return marker === null ? null : { kind: 'marker', marker };
}
