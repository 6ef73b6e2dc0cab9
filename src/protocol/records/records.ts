/**
 * Reading the records of a magic v2 batch.
 *
 *   forEachRecord(batch, (r) => { ... r.offsetDelta, r.key(), r.valueLength ... })
 *       visits an uncompressed batch with ONE reusable RecordView: no
 *       allocation per record unless the callback asks (key()/value() slices,
 *       headers()). The view is only valid inside the callback.
 *   openRecords(batch) / openRecordsSync(batch)
 *       the records section, decompressed (bounded) when the batch is compressed;
 *       forEachRecord and validateRecords take it too.
 *   decodeBatch(batch) / decodeBatchSync(batch)
 *       header fields + records as objects; keys, values and header values are
 *       SLICES of the batch (or of the decompressed payload), never copies.
 *
 * Every read is bounded by the batch (or a record's own length): truncated or
 * lying lengths raise RecordsError, never a RangeError or a huge allocation.
 * Each visit also checks what Kafka's reader checks (record lengths match
 * their fields, exactly `recordCount` records and no bytes after them), plus
 * offset deltas strictly increasing within 0..lastOffsetDelta.
 */
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { decompress, decompressSync } from '../compression/index.js';
import {
  ATTR_COMPRESSION_MASK,
  ATTR_CONTROL,
  ATTR_DELETE_HORIZON,
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_SIZE,
  checkBatch,
  LOG_OVERHEAD,
  OFF_ATTRIBUTES,
  OFF_BASE_OFFSET,
  OFF_BASE_SEQUENCE,
  OFF_BASE_TIMESTAMP,
  OFF_BATCH_LENGTH,
  OFF_CRC,
  OFF_LAST_OFFSET_DELTA,
  OFF_LEADER_EPOCH,
  OFF_MAGIC,
  OFF_MAX_TIMESTAMP,
  OFF_PRODUCER_EPOCH,
  OFF_PRODUCER_ID,
  OFF_RECORD_COUNT,
  type BatchProblem,
} from './batch-header.js';
import { parseControlRecord, type ControlRecord } from './control.js';
import { RecordsError } from './errors.js';
import { cursor, readVarint, readVarlong } from './varint.js';

/** Kafka's TimestampType ids (attributes bit 3). */
export const TimestampType = { CreateTime: 0, LogAppendTime: 1 } as const;
export type TimestampType = (typeof TimestampType)[keyof typeof TimestampType];

/** Default bound on a batch's decompressed records section. */
export const DEFAULT_MAX_UNCOMPRESSED_BYTES = 64 * 1024 * 1024;

export interface RecordHeader {
  key: string;
  value: Buffer | null;
}

export interface KafkaRecord {
  offsetDelta: number;
  timestampDelta: number;
  key: Buffer | null;
  value: Buffer | null;
  headers: RecordHeader[];
  attributes: number;
}

export interface BatchHeader {
  baseOffset: bigint;
  batchLength: number;
  partitionLeaderEpoch: number;
  magic: number;
  crc: number;
  attributes: number;
  compression: number;
  timestampType: TimestampType;
  transactional: boolean;
  isControl: boolean;
  hasDeleteHorizon: boolean;
  lastOffsetDelta: number;
  baseTimestamp: bigint;
  maxTimestamp: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  recordCount: number;
}

export interface DecodedBatch extends BatchHeader {
  /** total bytes of the batch (batchLength + 12) */
  size: number;
  records: KafkaRecord[];
  /** the parsed control record of a control batch, else null */
  control: ControlRecord | null;
}

/** Where a batch's records are: the batch itself when uncompressed, else its decompressed payload. */
export interface RecordsSection {
  buf: Buffer;
  start: number;
  end: number;
  /** recordCount of the batch header */
  count: number;
  lastOffsetDelta: number;
}

export interface ReadOptions {
  /** bound on the decompressed records section (default DEFAULT_MAX_UNCOMPRESSED_BYTES) */
  maxUncompressedBytes?: number;
  /** verify the CRC32C (default true) */
  verifyCrc?: boolean;
}

const PROBLEM_TEXT: Record<BatchProblem, string> = {
  truncated: 'batch is truncated',
  'bad-length': 'batch length is too small for a v2 batch',
  'bad-magic': 'batch magic is not 2',
  'bad-crc': 'batch CRC32C does not match (corrupt)',
  'bad-count': 'record count is negative or larger than lastOffsetDelta + 1',
  'bad-compression': 'unknown compression codec id',
};

/** Throws RecordsError when the batch at pos is not a well-formed v2 batch (see checkBatch). */
export function assertBatch(buf: Buffer, pos = 0, end = buf.length, verifyCrc = true): void {
  const problem = checkBatch(buf, pos, end, verifyCrc);
  if (problem !== null) throw new RecordsError(problem, PROBLEM_TEXT[problem]);
}

/** The header fields of the (already checked) batch at pos. */
export function readBatchHeader(buf: Buffer, pos = 0): BatchHeader {
  const attributes = buf.readInt16BE(pos + OFF_ATTRIBUTES);
  return {
    baseOffset: buf.readBigInt64BE(pos + OFF_BASE_OFFSET),
    batchLength: buf.readInt32BE(pos + OFF_BATCH_LENGTH),
    partitionLeaderEpoch: buf.readInt32BE(pos + OFF_LEADER_EPOCH),
    magic: buf[pos + OFF_MAGIC]!,
    crc: buf.readUInt32BE(pos + OFF_CRC),
    attributes,
    compression: attributes & ATTR_COMPRESSION_MASK,
    timestampType: attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND ? TimestampType.LogAppendTime : TimestampType.CreateTime,
    transactional: (attributes & ATTR_TRANSACTIONAL) !== 0,
    isControl: (attributes & ATTR_CONTROL) !== 0,
    hasDeleteHorizon: (attributes & ATTR_DELETE_HORIZON) !== 0,
    lastOffsetDelta: buf.readInt32BE(pos + OFF_LAST_OFFSET_DELTA),
    baseTimestamp: buf.readBigInt64BE(pos + OFF_BASE_TIMESTAMP),
    maxTimestamp: buf.readBigInt64BE(pos + OFF_MAX_TIMESTAMP),
    producerId: buf.readBigInt64BE(pos + OFF_PRODUCER_ID),
    producerEpoch: buf.readInt16BE(pos + OFF_PRODUCER_EPOCH),
    baseSequence: buf.readInt32BE(pos + OFF_BASE_SEQUENCE),
    recordCount: buf.readInt32BE(pos + OFF_RECORD_COUNT),
  };
}

/** A record's timestamp: maxTimestamp for LogAppendTime batches (as consumers see it), else base + delta. */
export function recordTimestamp(batch: Pick<BatchHeader, 'timestampType' | 'baseTimestamp' | 'maxTimestamp'>, timestampDelta: number): bigint {
  return batch.timestampType === TimestampType.LogAppendTime ? batch.maxTimestamp : batch.baseTimestamp + BigInt(timestampDelta);
}

/**
 * One record inside a visit. Positions are absolute in `buf`; lengths are -1
 * for null. Reused for every record: copy what you need to keep.
 */
export class RecordView {
  buf: Buffer = Buffer.alloc(0);
  /** index of the record in its batch */
  index = 0;
  /** first byte of the record (its length varint) and one past its last byte */
  start = 0;
  end = 0;
  attributes = 0;
  timestampDelta = 0;
  offsetDelta = 0;
  keyStart = 0;
  keyLength = -1;
  valueStart = 0;
  valueLength = -1;
  headersStart = 0;
  headerCount = 0;

  /** The key as a slice of the batch (no copy), or null. */
  key(): Buffer | null {
    return this.keyLength < 0 ? null : this.buf.subarray(this.keyStart, this.keyStart + this.keyLength);
  }

  /** The value as a slice of the batch (no copy), or null. */
  value(): Buffer | null {
    return this.valueLength < 0 ? null : this.buf.subarray(this.valueStart, this.valueStart + this.valueLength);
  }

  /** Visit the headers with a reusable HeaderView (already validated: no checks here); return false to stop. */
  forEachHeader(cb: (h: HeaderView, index: number) => void | boolean): void {
    const h = (headerViews[headerDepth] ??= new HeaderView());
    h.buf = this.buf;
    headerDepth++;
    try {
      this.visitHeaders(h, cb);
    } finally {
      headerDepth--;
      h.buf = EMPTY_HEADER_BUF;
    }
  }

  private visitHeaders(h: HeaderView, cb: (h: HeaderView, index: number) => void | boolean): void {
    let pos = this.headersStart;
    const end = this.end;
    for (let i = 0; i < this.headerCount; i++) {
      h.keyLength = readVarint(this.buf, pos, end);
      h.keyStart = cursor.pos;
      pos = h.keyStart + h.keyLength;
      h.valueLength = readVarint(this.buf, pos, end);
      h.valueStart = cursor.pos;
      pos = h.valueStart + (h.valueLength > 0 ? h.valueLength : 0);
      if (cb(h, i) === false) return;
    }
  }

  /** The headers as objects (keys decoded as UTF-8, values sliced). */
  headers(): RecordHeader[] {
    const out: RecordHeader[] = [];
    if (this.headerCount === 0) return out;
    this.forEachHeader((h) => {
      out.push({ key: h.key(), value: h.value() });
    });
    return out;
  }

  /** A detached object of this record (slices, no copies). */
  toRecord(): KafkaRecord {
    return {
      offsetDelta: this.offsetDelta,
      timestampDelta: this.timestampDelta,
      key: this.key(),
      value: this.value(),
      headers: this.headers(),
      attributes: this.attributes,
    };
  }
}

export class HeaderView {
  buf: Buffer = Buffer.alloc(0);
  keyStart = 0;
  keyLength = 0;
  valueStart = 0;
  valueLength = -1;
  key(): string {
    return this.buf.toString('utf8', this.keyStart, this.keyStart + this.keyLength);
  }
  keyBytes(): Buffer {
    return this.buf.subarray(this.keyStart, this.keyStart + this.keyLength);
  }
  value(): Buffer | null {
    return this.valueLength < 0 ? null : this.buf.subarray(this.valueStart, this.valueStart + this.valueLength);
  }
}

const headerViews: HeaderView[] = [];
let headerDepth = 0;
const EMPTY_HEADER_BUF = Buffer.alloc(0);

function bad(index: number, what: string): RecordsError {
  return new RecordsError('bad-record', `record ${index}: ${what}`, index);
}

/**
 * Parse the record at pos (bounded by end) into v; returns the position after it.
 * Checks every length against the record's own length and that the fields
 * fill it exactly (Kafka's DefaultRecord.readFrom).
 */
function parseRecord(v: RecordView, buf: Buffer, pos: number, end: number, index: number): number {
  cursor.ok = true;
  v.start = pos;
  const length = readVarint(buf, pos, end);
  pos = cursor.pos;
  if (!cursor.ok) throw bad(index, 'truncated or malformed length');
  // attributes + timestampDelta + offsetDelta + key length + value length + header count: >= 6 bytes
  if (length < 6 || length > end - pos) throw bad(index, `length ${length} does not fit the ${end - pos} bytes left`);
  const recEnd = pos + length;
  v.end = recEnd;
  v.attributes = buf[pos++]!;
  v.timestampDelta = readVarlong(buf, pos, recEnd);
  pos = cursor.pos;
  v.offsetDelta = readVarint(buf, pos, recEnd);
  pos = cursor.pos;
  const keyLength = readVarint(buf, pos, recEnd);
  pos = cursor.pos;
  if (!cursor.ok) throw bad(index, 'malformed timestamp delta, offset delta or key length');
  if (keyLength < -1 || keyLength > recEnd - pos) throw bad(index, `key length ${keyLength} out of range`);
  v.keyStart = pos;
  v.keyLength = keyLength;
  if (keyLength > 0) pos += keyLength;
  const valueLength = readVarint(buf, pos, recEnd);
  pos = cursor.pos;
  if (!cursor.ok) throw bad(index, 'malformed value length');
  if (valueLength < -1 || valueLength > recEnd - pos) throw bad(index, `value length ${valueLength} out of range`);
  v.valueStart = pos;
  v.valueLength = valueLength;
  if (valueLength > 0) pos += valueLength;
  const headerCount = readVarint(buf, pos, recEnd);
  pos = cursor.pos;
  if (!cursor.ok) throw bad(index, 'malformed header count');
  // each header takes at least 2 bytes (two length varints)
  if (headerCount < 0 || headerCount * 2 > recEnd - pos) throw bad(index, `header count ${headerCount} out of range`);
  v.headersStart = pos;
  v.headerCount = headerCount;
  for (let i = 0; i < headerCount; i++) {
    const kLen = readVarint(buf, pos, recEnd);
    pos = cursor.pos;
    if (!cursor.ok || kLen < 0 || kLen > recEnd - pos) throw bad(index, `header ${i} key length out of range (null header keys are invalid)`);
    pos += kLen;
    const vLen = readVarint(buf, pos, recEnd);
    pos = cursor.pos;
    if (!cursor.ok || vLen < -1 || vLen > recEnd - pos) throw bad(index, `header ${i} value length out of range`);
    if (vLen > 0) pos += vLen;
  }
  if (pos !== recEnd) throw bad(index, `fields end ${recEnd - pos} bytes before the record length`);
  return recEnd;
}

/** The records section of an uncompressed batch at pos (header fields are read, not checked: see assertBatch). */
export function recordsSection(buf: Buffer, pos = 0): RecordsSection {
  if (buf.readInt16BE(pos + OFF_ATTRIBUTES) & ATTR_COMPRESSION_MASK) {
    throw new RecordsError('compressed', 'the batch is compressed: use openRecords() to decompress it first');
  }
  return {
    buf,
    start: pos + BATCH_HEADER_SIZE,
    end: pos + LOG_OVERHEAD + buf.readInt32BE(pos + OFF_BATCH_LENGTH),
    count: buf.readInt32BE(pos + OFF_RECORD_COUNT),
    lastOffsetDelta: buf.readInt32BE(pos + OFF_LAST_OFFSET_DELTA),
  };
}

function compressedSection(buf: Buffer, pos: number, payload: Buffer): RecordsSection {
  return {
    buf: payload,
    start: 0,
    end: payload.length,
    count: buf.readInt32BE(pos + OFF_RECORD_COUNT),
    lastOffsetDelta: buf.readInt32BE(pos + OFF_LAST_OFFSET_DELTA),
  };
}

function compressedPayload(buf: Buffer, pos: number): Buffer {
  return buf.subarray(pos + BATCH_HEADER_SIZE, pos + LOG_OVERHEAD + buf.readInt32BE(pos + OFF_BATCH_LENGTH));
}

/**
 * The records section of the batch at pos, after checking the batch (length,
 * magic, CRC unless disabled) and decompressing it (bounded) if compressed.
 * Throws RecordsError, or CompressionError for a bad compressed payload.
 */
export async function openRecords(buf: Buffer, pos = 0, options?: ReadOptions): Promise<RecordsSection> {
  assertBatch(buf, pos, buf.length, options?.verifyCrc ?? true);
  const codec = buf.readInt16BE(pos + OFF_ATTRIBUTES) & ATTR_COMPRESSION_MASK;
  if (codec === 0) return recordsSection(buf, pos);
  const max = options?.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  return compressedSection(buf, pos, await decompress(codec, compressedPayload(buf, pos), max));
}

export function openRecordsSync(buf: Buffer, pos = 0, options?: ReadOptions): RecordsSection {
  assertBatch(buf, pos, buf.length, options?.verifyCrc ?? true);
  const codec = buf.readInt16BE(pos + OFF_ATTRIBUTES) & ATTR_COMPRESSION_MASK;
  if (codec === 0) return recordsSection(buf, pos);
  const max = options?.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  return compressedSection(buf, pos, decompressSync(codec, compressedPayload(buf, pos), max));
}

// Views reused across visits; one per nesting level (a callback may visit another batch).
const views: RecordView[] = [];
let depth = 0;
const EMPTY = Buffer.alloc(0);

function withView<T>(fn: (v: RecordView) => T): T {
  const v = (views[depth] ??= new RecordView());
  depth++;
  try {
    return fn(v);
  } finally {
    depth--;
    v.buf = EMPTY;
  }
}

/**
 * Visit every record of an uncompressed batch (a Buffer holding the batch at
 * pos; its header is NOT re-checked here: see assertBatch) or of a records
 * section. The callback may return false to stop early (the end-of-section
 * checks are then skipped). Returns the number of records visited.
 * Throws RecordsError on malformed records, a count mismatch or bytes after
 * the last record.
 */
export function forEachRecord(batch: Buffer | RecordsSection, cb: (r: RecordView, index: number) => void | boolean, pos = 0): number {
  const s = Buffer.isBuffer(batch) ? recordsSection(batch, pos) : batch;
  return withView((v) => visit(s, v, cb));
}

/** Where a visit stopped, to resume it (async validation of large sections). */
interface VisitState {
  pos: number;
  index: number;
  prevDelta: number;
}

/**
 * Visit records; with `st`, stop after about `budget` bytes, save the place
 * and return -1 (call again to continue). Otherwise returns the number of
 * records visited.
 */
function visit(
  s: RecordsSection,
  v: RecordView,
  cb: ((r: RecordView, index: number) => void | boolean) | null,
  st?: VisitState,
  budget = Number.POSITIVE_INFINITY,
): number {
  const { buf, end, count, lastOffsetDelta } = s;
  if (s.start < 0 || end > buf.length || s.start > end) throw new RecordsError('truncated', 'records section out of the buffer');
  v.buf = buf;
  let pos = st ? st.pos : s.start;
  let prevDelta = st ? st.prevDelta : -1;
  const stop = pos + budget;
  for (let i = st ? st.index : 0; i < count; i++) {
    if (pos >= end) throw new RecordsError('count-mismatch', `the batch declares ${count} records but holds ${i}`, i);
    if (st !== undefined && pos >= stop) {
      st.pos = pos;
      st.index = i;
      st.prevDelta = prevDelta;
      return -1;
    }
    v.index = i;
    pos = parseRecord(v, buf, pos, end, i);
    const d = v.offsetDelta;
    if (d <= prevDelta || d > lastOffsetDelta) {
      throw new RecordsError('bad-offset-delta', `record ${i}: offset delta ${d} not in ${prevDelta + 1}..${lastOffsetDelta}`, i);
    }
    prevDelta = d;
    if (cb !== null && cb(v, i) === false) return i + 1;
  }
  if (pos !== end) throw new RecordsError('count-mismatch', `${end - pos} bytes after the ${count} declared records`);
  return count;
}

export interface RecordsSummary {
  count: number;
  /** smallest / largest timestampDelta (0 for an empty section) */
  minTimestampDelta: number;
  maxTimestampDelta: number;
  /** bytes of the records section */
  bytes: number;
}

/**
 * Validate a records section without allocating per record: structure,
 * count, offset deltas (see forEachRecord) and, with requireKeys (compacted
 * topics), that no key is null. Returns the timestamp delta range.
 */
function summaryVisitor(requireKeys: boolean): { cb: (r: RecordView, i: number) => void; min: number; max: number } {
  const acc = {
    min: 0,
    max: 0,
    cb: (r: RecordView, i: number): void => {
      const t = r.timestampDelta;
      if (i === 0 || t < acc.min) acc.min = t;
      if (i === 0 || t > acc.max) acc.max = t;
      if (requireKeys && r.keyLength < 0) {
        throw new RecordsError('missing-key', `record ${i}: a compacted topic does not accept records without key`, i);
      }
    },
  };
  return acc;
}

/**
 * Validate a records section without allocating per record: structure,
 * count, offset deltas (see forEachRecord) and, with requireKeys (compacted
 * topics), that no key is null. Returns the timestamp delta range.
 */
export function validateRecords(s: RecordsSection, options?: { requireKeys?: boolean }): RecordsSummary {
  const acc = summaryVisitor(options?.requireKeys ?? false);
  withView((v) => visit(s, v, acc.cb));
  return { count: s.count, minTimestampDelta: acc.min, maxTimestampDelta: acc.max, bytes: s.end - s.start };
}

/** Bytes of records validated between yields by validateRecordsAsync. */
export const VALIDATE_SLICE_BYTES = 4 * 1024 * 1024;

/** validateRecords in slices of about 4 MiB, yielding to the event loop between them. */
export async function validateRecordsAsync(s: RecordsSection, options?: { requireKeys?: boolean }): Promise<RecordsSummary> {
  if (s.end - s.start <= VALIDATE_SLICE_BYTES) return validateRecords(s, options);
  const acc = summaryVisitor(options?.requireKeys ?? false);
  const st: VisitState = { pos: s.start, index: 0, prevDelta: -1 };
  while (withView((v) => visit(s, v, acc.cb, st, VALIDATE_SLICE_BYTES)) < 0) await yieldToLoop();
  return { count: s.count, minTimestampDelta: acc.min, maxTimestampDelta: acc.max, bytes: s.end - s.start };
}

function decodeFrom(buf: Buffer, pos: number, s: RecordsSection): DecodedBatch {
  const header = readBatchHeader(buf, pos);
  const records: KafkaRecord[] = [];
  withView((v) =>
    visit(s, v, (r) => {
      records.push(r.toRecord());
    }),
  );
  let control: ControlRecord | null = null;
  if (header.isControl && records.length > 0) control = parseControlRecord(records[0]!.key, records[0]!.value);
  return { ...header, size: header.batchLength + LOG_OVERHEAD, records, control };
}

/** Decode the batch at pos: header fields and all records (decompressing, bounded, when needed). */
export async function decodeBatch(buf: Buffer, pos = 0, options?: ReadOptions): Promise<DecodedBatch> {
  return decodeFrom(buf, pos, await openRecords(buf, pos, options));
}

export function decodeBatchSync(buf: Buffer, pos = 0, options?: ReadOptions): DecodedBatch {
  return decodeFrom(buf, pos, openRecordsSync(buf, pos, options));
}

/** Decode consecutive batches filling buf[start, end) (a Produce partition's records, a segment read). */
export async function decodeBatches(buf: Buffer, options?: ReadOptions & { start?: number; end?: number }): Promise<DecodedBatch[]> {
  const out: DecodedBatch[] = [];
  const end = options?.end ?? buf.length;
  const view = end === buf.length ? buf : buf.subarray(0, end);
  let pos = options?.start ?? 0;
  while (pos < end) {
    const b = await decodeBatch(view, pos, options);
    out.push(b);
    pos += b.size;
  }
  return out;
}

export function decodeBatchesSync(buf: Buffer, options?: ReadOptions & { start?: number; end?: number }): DecodedBatch[] {
  const out: DecodedBatch[] = [];
  const end = options?.end ?? buf.length;
  const view = end === buf.length ? buf : buf.subarray(0, end);
  let pos = options?.start ?? 0;
  while (pos < end) {
    const b = decodeBatchSync(view, pos, options);
    out.push(b);
    pos += b.size;
  }
  return out;
}
