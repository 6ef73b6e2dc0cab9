/**
 * Record-level timestamp lookups inside one batch, for ListOffsets only (never on
 * the produce/fetch path). Uncompressed batches are walked record by record
 * (length, attributes, timestampDelta, offsetDelta are the first fields of a
 * v2 record); compressed batches answer at batch granularity.
 */
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  baseOffset,
  baseTimestamp,
  compression,
  isLogAppendTime,
  lastOffsetDelta,
  maxTimestamp,
  recordCount,
} from '../../protocol/records/batch-header.js';

let cursor = 0;

/** Zig-zag varint/varlong as a JS number (exact up to 2^53). */
function readVar(buf: Buffer, end: number): number {
  let value = 0;
  let mul = 1;
  for (let i = 0; i < 10; i++) {
    if (cursor >= end) throw new RangeError('varint past end of batch');
    const b = buf[cursor++]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
    mul *= 128;
  }
  throw new RangeError('varint too long');
}

export interface RecordPoint {
  offset: bigint;
  timestamp: bigint;
}

/**
 * Each record's (offset, timestamp) of an uncompressed batch, in order; null for
 * compressed batches. LogAppendTime batches give every record the batch's max timestamp.
 */
function* records(buf: Buffer, pos: number): Generator<RecordPoint, void, void> {
  const base = baseOffset(buf, pos);
  const end = pos + LOG_OVERHEAD + buf.readInt32BE(pos + OFF_BATCH_LENGTH);
  const logAppend = isLogAppendTime(buf, pos);
  const batchMax = maxTimestamp(buf, pos);
  const baseTs = baseTimestamp(buf, pos);
  const count = recordCount(buf, pos);
  cursor = pos + BATCH_HEADER_SIZE;
  for (let i = 0; i < count && cursor < end; i++) {
    const length = readVar(buf, end);
    const next = cursor + length;
    cursor++; // attributes
    const tsDelta = readVar(buf, end);
    const offsetDelta = readVar(buf, end);
    cursor = next;
    yield { offset: base + BigInt(offsetDelta), timestamp: logAppend ? batchMax : baseTs + BigInt(tsDelta) };
  }
}

/**
 * First record of the batch at pos with timestamp >= ts and offset >= minOffset.
 * Compressed batches: the batch's first offset (>= minOffset) with its max timestamp.
 */
export function findByTimestamp(buf: Buffer, pos: number, ts: bigint, minOffset: bigint): RecordPoint | null {
  const base = baseOffset(buf, pos);
  if (compression(buf, pos) !== 0 || isLogAppendTime(buf, pos)) {
    const batchMax = maxTimestamp(buf, pos);
    const last = base + BigInt(lastOffsetDelta(buf, pos));
    if (batchMax < ts || last < minOffset) return null;
    return { offset: base > minOffset ? base : minOffset, timestamp: batchMax };
  }
  try {
    for (const r of records(buf, pos)) {
      if (r.timestamp >= ts && r.offset >= minOffset) return r;
    }
  } catch {
    // malformed record framing: fall back to batch granularity
    const batchMax = maxTimestamp(buf, pos);
    return batchMax >= ts ? { offset: base > minOffset ? base : minOffset, timestamp: batchMax } : null;
  }
  return null;
}

/**
 * Offset of the first record carrying the batch's max timestamp; for compressed
 * batches the batch's last offset (Kafka's "shallow" offset of max timestamp).
 */
export function offsetOfMaxTimestamp(buf: Buffer, pos: number): bigint {
  const base = baseOffset(buf, pos);
  const last = base + BigInt(lastOffsetDelta(buf, pos));
  if (compression(buf, pos) !== 0) return last;
  if (isLogAppendTime(buf, pos)) return base;
  const max = maxTimestamp(buf, pos);
  try {
    for (const r of records(buf, pos)) if (r.timestamp === max) return r.offset;
  } catch {
    // fall through
  }
  return last;
}
