/**
 * Writing magic v2 record batches (tests, the Pulsar engine, control
 * markers). Mirrors Java's MemoryRecordsBuilder: baseTimestamp is the first
 * record's timestamp, maxTimestamp the largest (CreateTime), offset deltas
 * default to the record index, lastOffsetDelta to the last record's delta.
 *
 *   const batch = await encodeBatch({ records: [{ key: 'k', value: 'v', timestamp: 1700000000000n }],
 *                                     compression: Compression.Zstd });
 */
import { compress, compressSync, type CompressOptions } from '../compression/index.js';
import {
  ATTR_COMPRESSION_MASK,
  ATTR_CONTROL,
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
  OFF_ATTRIBUTES,
  OFF_BASE_OFFSET,
  OFF_BASE_SEQUENCE,
  OFF_BASE_TIMESTAMP,
  OFF_BATCH_LENGTH,
  OFF_LAST_OFFSET_DELTA,
  OFF_LEADER_EPOCH,
  OFF_MAGIC,
  OFF_MAX_TIMESTAMP,
  OFF_PRODUCER_EPOCH,
  OFF_PRODUCER_ID,
  OFF_RECORD_COUNT,
  updateCrc,
} from './batch-header.js';
import { controlRecordKey, endTxnMarkerValue } from './control.js';
import { TimestampType } from './records.js';
import { sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from './varint.js';

export type Bytes = Buffer | Uint8Array | string;

export interface RecordInput {
  key?: Bytes | null;
  value?: Bytes | null;
  headers?: { key: string; value: Bytes | null }[];
  /** absolute timestamp in ms */
  timestamp?: bigint | number;
  /** relative to the batch's baseTimestamp; used when `timestamp` is absent (default 0) */
  timestampDelta?: number;
  /** default: the record's index */
  offsetDelta?: number;
  /** record attributes (unused by Kafka; default 0) */
  attributes?: number;
}

export interface EncodeBatchOptions {
  records: RecordInput[];
  baseOffset?: bigint | number;
  /** codec id (0 none .. 4 zstd); default 0 */
  compression?: number;
  compressionLevel?: number;
  producerId?: bigint | number;
  producerEpoch?: number;
  baseSequence?: number;
  transactional?: boolean;
  isControl?: boolean;
  partitionLeaderEpoch?: number;
  timestampType?: TimestampType;
  /** default: the first record's timestamp, else now (-1 for an empty batch) */
  baseTimestamp?: bigint | number;
  /** default: the largest record timestamp (CreateTime) or now (LogAppendTime); -1 for an empty batch */
  maxTimestamp?: bigint | number;
  /** default: the last record's offset delta (0 for an empty batch) */
  lastOffsetDelta?: number;
}

interface Prepared {
  key: Buffer | null;
  value: Buffer | null;
  headers: { key: Buffer; value: Buffer | null }[];
  timestampDelta: number;
  offsetDelta: number;
  attributes: number;
  bodySize: number;
}

function bytes(b: Bytes | null | undefined): Buffer | null {
  if (b === null || b === undefined) return null;
  if (typeof b === 'string') return Buffer.from(b, 'utf8');
  return Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

const sizeOfBytes = (b: Buffer | null): number => (b === null ? 1 : sizeOfVarint(b.length) + b.length);

function prepare(o: EncodeBatchOptions): { recs: Prepared[]; baseTimestamp: bigint; maxTimestamp: bigint; size: number } {
  const n = o.records.length;
  const first = o.records[0]?.timestamp;
  const baseTimestamp =
    o.baseTimestamp !== undefined ? BigInt(o.baseTimestamp) : first !== undefined ? BigInt(first) : n === 0 ? -1n : BigInt(Date.now());
  let maxDelta = Number.NEGATIVE_INFINITY;
  let size = 0;
  const recs: Prepared[] = o.records.map((r, i) => {
    const timestampDelta = r.timestamp !== undefined ? Number(BigInt(r.timestamp) - baseTimestamp) : (r.timestampDelta ?? 0);
    if (!Number.isSafeInteger(timestampDelta)) throw new RangeError(`record ${i}: timestamp delta out of range`);
    if (timestampDelta > maxDelta) maxDelta = timestampDelta;
    const key = bytes(r.key);
    const value = bytes(r.value);
    const headers = (r.headers ?? []).map((h) => ({ key: Buffer.from(h.key, 'utf8'), value: bytes(h.value) }));
    const offsetDelta = r.offsetDelta ?? i;
    let bodySize = 1 + sizeOfVarlong(timestampDelta) + sizeOfVarint(offsetDelta) + sizeOfBytes(key) + sizeOfBytes(value) + sizeOfVarint(headers.length);
    for (const h of headers) bodySize += sizeOfBytes(h.key) + sizeOfBytes(h.value);
    size += sizeOfVarint(bodySize) + bodySize;
    return { key, value, headers, timestampDelta, offsetDelta, attributes: r.attributes ?? 0, bodySize };
  });
  const logAppend = (o.timestampType ?? TimestampType.CreateTime) === TimestampType.LogAppendTime;
  const maxTimestamp =
    o.maxTimestamp !== undefined
      ? BigInt(o.maxTimestamp)
      : n === 0
        ? -1n
        : logAppend
          ? BigInt(Date.now())
          : baseTimestamp + BigInt(maxDelta);
  return { recs, baseTimestamp, maxTimestamp, size };
}

function writeBytes(buf: Buffer, pos: number, b: Buffer | null): number {
  if (b === null) return writeVarint(buf, pos, -1);
  pos = writeVarint(buf, pos, b.length);
  return pos + b.copy(buf, pos);
}

function writeRecords(buf: Buffer, pos: number, recs: Prepared[]): number {
  for (const r of recs) {
    pos = writeVarint(buf, pos, r.bodySize);
    buf[pos++] = r.attributes;
    pos = writeVarlong(buf, pos, r.timestampDelta);
    pos = writeVarint(buf, pos, r.offsetDelta);
    pos = writeBytes(buf, pos, r.key);
    pos = writeBytes(buf, pos, r.value);
    pos = writeVarint(buf, pos, r.headers.length);
    for (const h of r.headers) {
      pos = writeBytes(buf, pos, h.key);
      pos = writeBytes(buf, pos, h.value);
    }
  }
  return pos;
}

function writeHeader(b: Buffer, o: EncodeBatchOptions, p: ReturnType<typeof prepare>, codec: number): void {
  const n = o.records.length;
  let attributes = codec & ATTR_COMPRESSION_MASK;
  if ((o.timestampType ?? TimestampType.CreateTime) === TimestampType.LogAppendTime) attributes |= ATTR_TIMESTAMP_TYPE_LOG_APPEND;
  if (o.transactional) attributes |= ATTR_TRANSACTIONAL;
  if (o.isControl) attributes |= ATTR_CONTROL;
  const lastOffsetDelta = o.lastOffsetDelta ?? (n === 0 ? 0 : p.recs[n - 1]!.offsetDelta);
  b.writeBigInt64BE(BigInt(o.baseOffset ?? 0n), OFF_BASE_OFFSET);
  b.writeInt32BE(b.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  b.writeInt32BE(o.partitionLeaderEpoch ?? -1, OFF_LEADER_EPOCH);
  b[OFF_MAGIC] = 2;
  b.writeInt16BE(attributes, OFF_ATTRIBUTES);
  b.writeInt32BE(lastOffsetDelta, OFF_LAST_OFFSET_DELTA);
  b.writeBigInt64BE(p.baseTimestamp, OFF_BASE_TIMESTAMP);
  b.writeBigInt64BE(p.maxTimestamp, OFF_MAX_TIMESTAMP);
  b.writeBigInt64BE(BigInt(o.producerId ?? NO_PRODUCER_ID), OFF_PRODUCER_ID);
  b.writeInt16BE(o.producerEpoch ?? -1, OFF_PRODUCER_EPOCH);
  b.writeInt32BE(o.baseSequence ?? NO_SEQUENCE, OFF_BASE_SEQUENCE);
  b.writeInt32BE(n, OFF_RECORD_COUNT);
  updateCrc(b, 0);
}

function uncompressed(o: EncodeBatchOptions, p: ReturnType<typeof prepare>): Buffer {
  const b = Buffer.allocUnsafe(BATCH_HEADER_SIZE + p.size);
  writeRecords(b, BATCH_HEADER_SIZE, p.recs);
  writeHeader(b, o, p, 0);
  return b;
}

function withPayload(o: EncodeBatchOptions, p: ReturnType<typeof prepare>, payload: Buffer, codec: number): Buffer {
  const b = Buffer.allocUnsafe(BATCH_HEADER_SIZE + payload.length);
  payload.copy(b, BATCH_HEADER_SIZE);
  writeHeader(b, o, p, codec);
  return b;
}

function recordsOnly(p: ReturnType<typeof prepare>): Buffer {
  const r = Buffer.allocUnsafe(p.size);
  writeRecords(r, 0, p.recs);
  return r;
}

function codecOptions(o: EncodeBatchOptions): CompressOptions | undefined {
  return o.compressionLevel === undefined ? undefined : { level: o.compressionLevel };
}

/** Encode one batch (CRC32C included); compressed batches are compressed asynchronously. */
export async function encodeBatch(o: EncodeBatchOptions): Promise<Buffer> {
  const p = prepare(o);
  const codec = o.compression ?? 0;
  if (codec === 0) return uncompressed(o, p);
  return withPayload(o, p, await compress(codec, recordsOnly(p), codecOptions(o)), codec);
}

export function encodeBatchSync(o: EncodeBatchOptions): Buffer {
  const p = prepare(o);
  const codec = o.compression ?? 0;
  if (codec === 0) return uncompressed(o, p);
  return withPayload(o, p, compressSync(codec, recordsOnly(p), codecOptions(o)), codec);
}

export interface EndTxnMarkerOptions {
  commit: boolean;
  coordinatorEpoch: number;
  producerId: bigint | number;
  producerEpoch: number;
  baseOffset?: bigint | number;
  partitionLeaderEpoch?: number;
  timestamp?: bigint | number;
}

/** A transaction marker batch, as the broker writes it (transactional control batch with one record). */
export function encodeEndTxnMarker(o: EndTxnMarkerOptions): Buffer {
  const timestamp = o.timestamp ?? Date.now();
  return encodeBatchSync({
    baseOffset: o.baseOffset ?? 0n,
    records: [
      { key: controlRecordKey(o.commit ? 1 : 0), value: endTxnMarkerValue(o.coordinatorEpoch), timestamp },
    ],
    producerId: o.producerId,
    producerEpoch: o.producerEpoch,
    baseSequence: NO_SEQUENCE,
    transactional: true,
    isControl: true,
    partitionLeaderEpoch: o.partitionLeaderEpoch ?? -1,
  });
}
