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
 * Transactions are out of scope: transactional batches are treated like
 * idempotent ones (no transaction markers, no LSO tracking).
 *
 * A snapshot (binary, CRC-protected) carries the state as of an offset; an
 * engine rebuilds the rest by replaying batch headers from that offset.
 */
import { crc32c } from '@node-rs/crc32';
import { ErrorCode } from '../protocol/errors.js';

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
}

/** What the engine reads from a batch header. */
export interface ProducerBatch {
  producerId: bigint;
  epoch: number;
  firstSeq: number;
  lastSeq: number;
}

export type SequenceCheck =
  | { result: 'ok' }
  | { result: 'duplicate'; firstOffset: bigint; lastOffset: bigint }
  | { result: 'error'; code: ErrorCode; message: string };

const OK: SequenceCheck = { result: 'ok' };

/** Opaque token to revert one `record` (e.g. when the write failed). */
export interface UndoToken {
  producerId: bigint;
  previous: ProducerEntry | undefined;
}

function inSequence(lastSeq: number, nextSeq: number): boolean {
  return nextSeq === lastSeq + 1 || (nextSeq === 0 && lastSeq === INT32_MAX);
}

export class ProducerStateTable {
  private readonly entries = new Map<bigint, ProducerEntry>();

  get size(): number {
    return this.entries.size;
  }

  get(producerId: bigint): ProducerEntry | undefined {
    return this.entries.get(producerId);
  }

  all(): IterableIterator<ProducerEntry> {
    return this.entries.values();
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
    if (batch.firstSeq === NO_SEQUENCE) return OK;
    if (batch.epoch !== entry.epoch) {
      if (batch.firstSeq !== 0) {
        return {
          result: 'error',
          code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
          message: `producer ${batch.producerId} new epoch ${batch.epoch} must start at sequence 0, got ${batch.firstSeq}${where}`,
        };
      }
      return OK;
    }
    const last = entry.batches.length > 0 ? entry.batches[entry.batches.length - 1]!.lastSeq : NO_SEQUENCE;
    if (!inSequence(last, batch.firstSeq)) {
      return {
        result: 'error',
        code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `producer ${batch.producerId} epoch ${batch.epoch}: out of order sequence ${batch.firstSeq}, expected ${last === INT32_MAX ? 0 : last + 1}${where}`,
      };
    }
    return OK;
  }

  /** Record an appended batch (after check said ok, or while replaying the log). */
  record(batch: ProducerBatch, firstOffset: bigint, lastOffset: bigint, timestamp: bigint): UndoToken {
    const previous = this.entries.get(batch.producerId);
    let batches: BatchMetadata[];
    if (previous === undefined || previous.epoch !== batch.epoch) batches = [];
    else batches = previous.batches.length >= NUM_BATCHES_TO_RETAIN ? previous.batches.slice(1) : previous.batches.slice();
    if (batch.firstSeq !== NO_SEQUENCE) batches.push({ firstSeq: batch.firstSeq, lastSeq: batch.lastSeq, firstOffset, lastOffset, timestamp });
    const lastTimestamp = previous !== undefined && previous.lastTimestamp > timestamp ? previous.lastTimestamp : timestamp;
    this.entries.set(batch.producerId, { producerId: batch.producerId, epoch: batch.epoch, batches, lastTimestamp });
    return { producerId: batch.producerId, previous };
  }

  /** Revert a `record`; tokens must be undone newest first. */
  undo(token: UndoToken): void {
    if (token.previous === undefined) this.entries.delete(token.producerId);
    else this.entries.set(token.producerId, token.previous);
  }

  /** Forget producers whose last batch timestamp is older than nowMs - maxAgeMs (Kafka producer.id.expiration.ms). */
  expire(nowMs: bigint, maxAgeMs: bigint): number {
    let removed = 0;
    for (const [pid, e] of this.entries) {
      if (nowMs - e.lastTimestamp > maxAgeMs) {
        this.entries.delete(pid);
        removed++;
      }
    }
    return removed;
  }

  clear(): void {
    this.entries.clear();
  }

  /**
   * Binary snapshot: "KPS1" | crc32c(u32, of everything after it) | offset i64 | count u32 |
   * entries (pid i64, epoch i16, lastTimestamp i64, n u8, n x (firstSeq i32, lastSeq i32,
   * firstOffset i64, lastOffset i64, timestamp i64)).
   */
  serialize(offset: bigint): Buffer {
    let size = 4 + 4 + 8 + 4;
    for (const e of this.entries.values()) size += 8 + 2 + 8 + 1 + e.batches.length * 32;
    const buf = Buffer.allocUnsafe(size);
    buf.write('KPS1', 0, 'latin1');
    let p = 8;
    buf.writeBigInt64BE(offset, p);
    p += 8;
    buf.writeUInt32BE(this.entries.size, p);
    p += 4;
    for (const e of this.entries.values()) {
      buf.writeBigInt64BE(e.producerId, p);
      buf.writeInt16BE(e.epoch, p + 8);
      buf.writeBigInt64BE(e.lastTimestamp, p + 10);
      buf.writeUInt8(e.batches.length, p + 18);
      p += 19;
      for (const b of e.batches) {
        buf.writeInt32BE(b.firstSeq, p);
        buf.writeInt32BE(b.lastSeq, p + 4);
        buf.writeBigInt64BE(b.firstOffset, p + 8);
        buf.writeBigInt64BE(b.lastOffset, p + 16);
        buf.writeBigInt64BE(b.timestamp, p + 24);
        p += 32;
      }
    }
    buf.writeUInt32BE(crc32c(buf.subarray(8)), 4);
    return buf;
  }

  /** Parse a snapshot; null when it is damaged (the caller then rebuilds from the log). */
  static deserialize(buf: Buffer): { table: ProducerStateTable; offset: bigint } | null {
    try {
      if (buf.length < 20 || buf.toString('latin1', 0, 4) !== 'KPS1') return null;
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
        table.entries.set(producerId, { producerId, epoch, batches, lastTimestamp });
      }
      if (p !== buf.length) return null;
      return { table, offset };
    } catch {
      return null;
    }
  }
}
