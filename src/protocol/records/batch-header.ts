/**
 * Kafka record batch (magic v2) header access without decoding the records.
 *
 * A batch is kept as the bytes the producer sent; the gateway only reads header
 * fields and patches the few it owns (base offset, leader epoch, log-append
 * time). Every function takes (buf, pos) so a batch can live anywhere inside a
 * larger buffer (a Produce request, a segment read) without a slice or copy.
 *
 * Layout (big endian):
 *   0 baseOffset int64 | 8 batchLength int32 | 12 partitionLeaderEpoch int32
 *  16 magic int8 | 17 crc uint32 (CRC32C of bytes 21..end) | 21 attributes int16
 *  23 lastOffsetDelta int32 | 27 baseTimestamp int64 | 35 maxTimestamp int64
 *  43 producerId int64 | 51 producerEpoch int16 | 53 baseSequence int32
 *  57 recordCount int32 | 61 records...
 */
import { crc32c } from '@node-rs/crc32';

export const OFF_BASE_OFFSET = 0;
export const OFF_BATCH_LENGTH = 8;
export const OFF_LEADER_EPOCH = 12;
export const OFF_MAGIC = 16;
export const OFF_CRC = 17;
export const OFF_ATTRIBUTES = 21;
export const OFF_LAST_OFFSET_DELTA = 23;
export const OFF_BASE_TIMESTAMP = 27;
export const OFF_MAX_TIMESTAMP = 35;
export const OFF_PRODUCER_ID = 43;
export const OFF_PRODUCER_EPOCH = 51;
export const OFF_BASE_SEQUENCE = 53;
export const OFF_RECORD_COUNT = 57;
export const BATCH_HEADER_SIZE = 61;
/** Bytes before and including batchLength: total batch size = batchLength + LOG_OVERHEAD. */
export const LOG_OVERHEAD = 12;

export const ATTR_COMPRESSION_MASK = 0x07;
export const ATTR_TIMESTAMP_TYPE_LOG_APPEND = 0x08;
export const ATTR_TRANSACTIONAL = 0x10;
export const ATTR_CONTROL = 0x20;
export const ATTR_DELETE_HORIZON = 0x40;

export const enum Compression {
  None = 0,
  Gzip = 1,
  Snappy = 2,
  Lz4 = 3,
  Zstd = 4,
}

export const NO_PRODUCER_ID = -1n;
export const NO_SEQUENCE = -1;

export type BatchProblem =
  | 'truncated' // fewer bytes than the header or the declared length
  | 'bad-length' // batchLength too small for a v2 header
  | 'bad-magic' // magic != 2
  | 'bad-crc' // CRC32C mismatch: corrupt
  | 'bad-count' // record count negative or inconsistent with lastOffsetDelta
  | 'bad-compression'; // unknown codec id

/** Total size of the batch starting at pos, or -1 when fewer than LOG_OVERHEAD bytes are there. */
export function batchSize(buf: Buffer, pos: number, end = buf.length): number {
  if (end - pos < LOG_OVERHEAD) return -1;
  return buf.readInt32BE(pos + OFF_BATCH_LENGTH) + LOG_OVERHEAD;
}

/**
 * Check one batch at pos without trusting any length. Returns null when the
 * batch is well formed and its CRC matches; otherwise what is wrong with it.
 */
export function checkBatch(buf: Buffer, pos: number, end = buf.length, verifyCrc = true): BatchProblem | null {
  if (end - pos < LOG_OVERHEAD) return 'truncated';
  const length = buf.readInt32BE(pos + OFF_BATCH_LENGTH);
  if (length < BATCH_HEADER_SIZE - LOG_OVERHEAD) return 'bad-length';
  if (end - pos < length + LOG_OVERHEAD) return 'truncated';
  if (buf[pos + OFF_MAGIC] !== 2) return 'bad-magic';
  const attributes = buf.readInt16BE(pos + OFF_ATTRIBUTES);
  if ((attributes & ATTR_COMPRESSION_MASK) > Compression.Zstd) return 'bad-compression';
  const count = buf.readInt32BE(pos + OFF_RECORD_COUNT);
  const lastDelta = buf.readInt32BE(pos + OFF_LAST_OFFSET_DELTA);
  if (count < 0 || lastDelta < 0) return 'bad-count';
  // An uncompressed, non-empty batch has records whose deltas end at lastOffsetDelta;
  // count may be smaller than lastDelta + 1 only after compaction, never larger.
  if (count > lastDelta + 1) return 'bad-count';
  if (verifyCrc) {
    const stored = buf.readUInt32BE(pos + OFF_CRC);
    const actual = crc32c(buf.subarray(pos + OFF_ATTRIBUTES, pos + LOG_OVERHEAD + length));
    if (stored !== actual) return 'bad-crc';
  }
  return null;
}

export interface BatchSpan {
  pos: number;
  size: number;
}

/**
 * Split a buffer holding consecutive batches into spans, validating each.
 * Throws nothing: returns the problem and the position of the first bad batch.
 */
export function splitBatches(
  buf: Buffer,
  start = 0,
  end = buf.length,
  verifyCrc = true,
): { spans: BatchSpan[]; problem: BatchProblem | null; problemAt: number } {
  const spans: BatchSpan[] = [];
  let pos = start;
  while (pos < end) {
    const problem = checkBatch(buf, pos, end, verifyCrc);
    if (problem !== null) return { spans, problem, problemAt: pos };
    const size = buf.readInt32BE(pos + OFF_BATCH_LENGTH) + LOG_OVERHEAD;
    spans.push({ pos, size });
    pos += size;
  }
  return { spans, problem: null, problemAt: -1 };
}

export const baseOffset = (b: Buffer, p = 0): bigint => b.readBigInt64BE(p + OFF_BASE_OFFSET);
export const leaderEpoch = (b: Buffer, p = 0): number => b.readInt32BE(p + OFF_LEADER_EPOCH);
export const magic = (b: Buffer, p = 0): number => b[p + OFF_MAGIC]!;
export const attributes = (b: Buffer, p = 0): number => b.readInt16BE(p + OFF_ATTRIBUTES);
export const compression = (b: Buffer, p = 0): Compression => (b.readInt16BE(p + OFF_ATTRIBUTES) & ATTR_COMPRESSION_MASK) as Compression;
export const isTransactional = (b: Buffer, p = 0): boolean => (b.readInt16BE(p + OFF_ATTRIBUTES) & ATTR_TRANSACTIONAL) !== 0;
export const isControl = (b: Buffer, p = 0): boolean => (b.readInt16BE(p + OFF_ATTRIBUTES) & ATTR_CONTROL) !== 0;
export const isLogAppendTime = (b: Buffer, p = 0): boolean => (b.readInt16BE(p + OFF_ATTRIBUTES) & ATTR_TIMESTAMP_TYPE_LOG_APPEND) !== 0;
export const lastOffsetDelta = (b: Buffer, p = 0): number => b.readInt32BE(p + OFF_LAST_OFFSET_DELTA);
export const baseTimestamp = (b: Buffer, p = 0): bigint => b.readBigInt64BE(p + OFF_BASE_TIMESTAMP);
export const maxTimestamp = (b: Buffer, p = 0): bigint => b.readBigInt64BE(p + OFF_MAX_TIMESTAMP);
export const producerId = (b: Buffer, p = 0): bigint => b.readBigInt64BE(p + OFF_PRODUCER_ID);
export const producerEpoch = (b: Buffer, p = 0): number => b.readInt16BE(p + OFF_PRODUCER_EPOCH);
export const baseSequence = (b: Buffer, p = 0): number => b.readInt32BE(p + OFF_BASE_SEQUENCE);
export const recordCount = (b: Buffer, p = 0): number => b.readInt32BE(p + OFF_RECORD_COUNT);

/** Last sequence number of the batch, wrapping at Int32 max as Kafka does. */
export function lastSequence(b: Buffer, p = 0): number {
  const base = baseSequence(b, p);
  if (base === NO_SEQUENCE) return NO_SEQUENCE;
  const last = base + lastOffsetDelta(b, p);
  return last > 0x7fffffff ? last - 0x80000000 : last;
}

/** Base offset and leader epoch are outside the CRC: patching them needs no CRC update. */
export function setBaseOffset(b: Buffer, offset: bigint, p = 0): void {
  b.writeBigInt64BE(offset, p + OFF_BASE_OFFSET);
}

export function setLeaderEpoch(b: Buffer, epoch: number, p = 0): void {
  b.writeInt32BE(epoch, p + OFF_LEADER_EPOCH);
}

/** Recompute and store the CRC32C over attributes..end of the batch at p. */
export function updateCrc(b: Buffer, p = 0): void {
  const end = p + LOG_OVERHEAD + b.readInt32BE(p + OFF_BATCH_LENGTH);
  b.writeUInt32BE(crc32c(b.subarray(p + OFF_ATTRIBUTES, end)), p + OFF_CRC);
}

/**
 * Broker-side LogAppendTime: mark the batch and set maxTimestamp to the append
 * time (records keep their deltas; readers use maxTimestamp). Updates the CRC.
 */
export function stampLogAppendTime(b: Buffer, appendTimeMs: bigint, p = 0): void {
  const attrs = b.readInt16BE(p + OFF_ATTRIBUTES);
  b.writeInt16BE(attrs | ATTR_TIMESTAMP_TYPE_LOG_APPEND, p + OFF_ATTRIBUTES);
  b.writeBigInt64BE(appendTimeMs, p + OFF_MAX_TIMESTAMP);
  updateCrc(b, p);
}
