/**
 * Rewriting one record batch for the log cleaner (pure: no I/O), with the rules
 * of Kafka's MemoryRecords.filterTo as its cleaner uses them:
 *
 *  - every record is offered to `retain`; a batch that keeps all of them (and
 *    needs no delete horizon) is copied byte for byte;
 *  - a batch that keeps some is rebuilt with the SAME base offset, lastOffsetDelta
 *    (so the producer's last sequence survives), producer id/epoch/base
 *    sequence, attributes and codec (compressed batches are decompressed and
 *    recompressed with their own codec); retained records keep their bytes and
 *    offsets, so no offset ever changes;
 *  - a kept tombstone (null value) in a batch without a delete horizon gets
 *    one: the batch's baseTimestamp becomes now + delete.retention.ms and the
 *    attribute bit 6 is set (KIP-534); record timestamp deltas are re-encoded
 *    against it, so every record keeps its timestamp. A later pass drops the
 *    tombstones once the horizon has passed;
 *  - a batch that keeps nothing is dropped, unless `retainEmpty` (the last
 *    batch of an active idempotent producer, or the last batch of the cleaning
 *    round): then only its header is written, with no records and no
 *    compression, as Kafka's DefaultRecordBatch.writeEmptyHeader;
 *  - a batch of an aborted transaction (`discard`, decided by the cleaner from
 *    the aborted-transaction index) keeps nothing;
 *  - control batches (transaction markers) are kept as they are, unless the
 *    cleaner found the marker removable (`discard`: its transaction has no
 *    batch left): then it gets a delete horizon (now + delete.retention.ms,
 *    as a tombstone does) and is dropped by the first pass after it.
 */
import { compress, decompress } from '../../protocol/compression/index.js';
import {
  ATTR_COMPRESSION_MASK,
  ATTR_CONTROL,
  ATTR_DELETE_HORIZON,
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_ATTRIBUTES,
  OFF_BASE_OFFSET,
  OFF_BASE_TIMESTAMP,
  OFF_BATCH_LENGTH,
  OFF_MAX_TIMESTAMP,
  OFF_RECORD_COUNT,
  updateCrc,
} from '../../protocol/records/batch-header.js';
import { forEachRecord, type RecordView, type RecordsSection } from '../../protocol/records/records.js';
import { cursor, readVarint, readVarlong, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../../protocol/records/varint.js';

export interface FilterOptions {
  /** Keep this record? `offset` is absolute; the view is valid only during the call. */
  retain: (record: RecordView, offset: bigint, deleteHorizonMs: bigint | null) => boolean;
  /** Write an empty header when nothing is kept (producer state / last batch of the round). */
  retainEmpty: boolean;
  /** now + delete.retention.ms: the horizon stamped on batches that keep a tombstone. */
  newDeleteHorizonMs: bigint;
  /** Bound on a decompressed records section. */
  maxUncompressedBytes: number;
  /** A data batch of an aborted transaction (drop its records), or a marker whose transaction has no batch left. */
  discard?: boolean;
  /** The pass's clock (a marker's delete horizon is compared with it). */
  nowMs?: bigint;
}

export interface FilterResult {
  /** The batch to write (the original slice, a rebuilt batch, an empty header), or null to drop it. */
  out: Buffer | null;
  recordsRead: number;
  recordsKept: number;
}

/** Batch at buf[pos, pos+size): the original is returned as a slice when kept whole. */
export async function filterBatch(buf: Buffer, pos: number, size: number, opts: FilterOptions): Promise<FilterResult> {
  const original = buf.subarray(pos, pos + size);
  const attrs = buf.readInt16BE(pos + OFF_ATTRIBUTES);
  const count = buf.readInt32BE(pos + OFF_RECORD_COUNT);
  const baseTs = buf.readBigInt64BE(pos + OFF_BASE_TIMESTAMP);
  const hasHorizon = (attrs & ATTR_DELETE_HORIZON) !== 0;
  const horizon = hasHorizon ? baseTs : null;
  if (attrs & ATTR_CONTROL) {
    if (!opts.discard) return { out: original, recordsRead: count, recordsKept: count };
    if (horizon !== null) {
      // past its horizon: gone (an empty header only where the producer state needs one)
      if (opts.nowMs !== undefined && horizon <= opts.nowMs) return { out: opts.retainEmpty ? emptyHeader(original) : null, recordsRead: count, recordsKept: 0 };
      return { out: original, recordsRead: count, recordsKept: count };
    }
  } else if (opts.discard) {
    return { out: opts.retainEmpty ? emptyHeader(original) : null, recordsRead: count, recordsKept: 0 };
  }
  const codec = attrs & ATTR_COMPRESSION_MASK;
  const baseOffset = buf.readBigInt64BE(pos + OFF_BASE_OFFSET);
  const control = (attrs & ATTR_CONTROL) !== 0; // a removable marker without a horizon yet: stamp one

  let section: RecordsSection;
  if (codec === 0) {
    section = { buf: original, start: BATCH_HEADER_SIZE, end: size, count, lastOffsetDelta: original.readInt32BE(23) };
  } else {
    const payload = await decompress(codec, original.subarray(BATCH_HEADER_SIZE), opts.maxUncompressedBytes);
    section = { buf: payload, start: 0, end: payload.length, count, lastOffsetDelta: original.readInt32BE(23) };
  }

  // Spans of the retained records in section.buf (start, end pairs) and their timestamp deltas.
  const spans: number[] = [];
  let tombstones = false;
  let kept = 0;
  let maxDelta = -Infinity;
  forEachRecord(section, (r) => {
    if (!control && !opts.retain(r, baseOffset + BigInt(r.offsetDelta), horizon)) return;
    spans.push(r.start, r.end, r.timestampDelta);
    if (r.valueLength < 0) tombstones = true;
    if (r.timestampDelta > maxDelta) maxDelta = r.timestampDelta;
    kept++;
  });

  if (kept === 0) {
    return { out: opts.retainEmpty ? emptyHeader(original) : null, recordsRead: count, recordsKept: 0 };
  }
  const needHorizon = (tombstones || control) && !hasHorizon;
  if (kept === count && !needHorizon) return { out: original, recordsRead: count, recordsKept: kept };

  // Rebuild the records section.
  const newBaseTs = needHorizon ? opts.newDeleteHorizonMs : baseTs;
  const shift = Number(baseTs - newBaseTs); // added to every timestamp delta
  let bytes = 0;
  for (let i = 0; i < spans.length; i += 3) bytes += shift === 0 ? spans[i + 1]! - spans[i]! : reencodedSize(section.buf, spans[i]!, spans[i + 1]!, shift);
  let records: Buffer = Buffer.allocUnsafe(bytes);
  let w = 0;
  for (let i = 0; i < spans.length; i += 3) {
    const s = spans[i]!;
    const e = spans[i + 1]!;
    if (shift === 0) w += section.buf.copy(records, w, s, e);
    else w = reencode(section.buf, s, e, shift, records, w);
  }
  if (codec !== 0) records = await compress(codec, records);

  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + records.length);
  original.copy(out, 0, 0, BATCH_HEADER_SIZE);
  records.copy(out, BATCH_HEADER_SIZE);
  out.writeInt32BE(out.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  out.writeInt16BE(needHorizon ? attrs | ATTR_DELETE_HORIZON : attrs, OFF_ATTRIBUTES);
  out.writeBigInt64BE(newBaseTs, OFF_BASE_TIMESTAMP);
  // CreateTime: the largest timestamp of what is kept (LogAppendTime keeps the append time).
  if (!(attrs & ATTR_TIMESTAMP_TYPE_LOG_APPEND)) out.writeBigInt64BE(baseTs + BigInt(maxDelta), OFF_MAX_TIMESTAMP);
  out.writeInt32BE(kept, OFF_RECORD_COUNT);
  updateCrc(out, 0);
  return { out, recordsRead: count, recordsKept: kept };
}

/** Header only: same offsets and producer fields, no records, no compression, base = max timestamp. */
function emptyHeader(original: Buffer): Buffer {
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE);
  original.copy(out, 0, 0, BATCH_HEADER_SIZE);
  const attrs = original.readInt16BE(OFF_ATTRIBUTES) & ~(ATTR_COMPRESSION_MASK | ATTR_DELETE_HORIZON);
  out.writeInt32BE(BATCH_HEADER_SIZE - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  out.writeInt16BE(attrs, OFF_ATTRIBUTES);
  out.writeBigInt64BE(original.readBigInt64BE(OFF_MAX_TIMESTAMP), OFF_BASE_TIMESTAMP);
  out.writeInt32BE(0, OFF_RECORD_COUNT);
  updateCrc(out, 0);
  return out;
}

/** Record layout: length varint | attributes int8 | timestampDelta varlong | rest (offsetDelta, key, value, headers). */
function parts(buf: Buffer, s: number, e: number): { tsPos: number; restPos: number; delta: number } {
  readVarint(buf, s, e);
  const tsPos = cursor.pos + 1;
  const delta = readVarlong(buf, tsPos, e);
  return { tsPos, restPos: cursor.pos, delta };
}

function reencodedSize(buf: Buffer, s: number, e: number, shift: number): number {
  const { restPos, delta } = parts(buf, s, e);
  const body = 1 + sizeOfVarlong(delta + shift) + (e - restPos);
  return sizeOfVarint(body) + body;
}

function reencode(buf: Buffer, s: number, e: number, shift: number, out: Buffer, w: number): number {
  const { tsPos, restPos, delta } = parts(buf, s, e);
  const body = 1 + sizeOfVarlong(delta + shift) + (e - restPos);
  w = writeVarint(out, w, body);
  out[w++] = buf[tsPos - 1]!;
  w = writeVarlong(out, w, delta + shift);
  w += buf.copy(out, w, restPos, e);
  return w;
}
