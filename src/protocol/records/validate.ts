/**
 * Produce-side validation of a record batch, after Kafka's
 * UnifiedLog.analyzeAndValidateRecords + LogValidator for magic v2:
 *
 *  - batch: complete, length, magic 2, CRC32C, known codec    -> CORRUPT_MESSAGE
 *  - client rules (AppendOrigin.CLIENT; on by default):       -> INVALID_RECORD
 *      baseOffset 0; recordCount > 0 and == lastOffsetDelta + 1;
 *      no control batch; baseSequence >= 0 when a producer id is set
 *  - records (compressed batches are decompressed, bounded):  -> INVALID_RECORD
 *      each record's fields fit its length exactly, exactly recordCount
 *      records and nothing after them, offset deltas increasing within
 *      0..lastOffsetDelta, keys present on compacted topics (requireKeys)
 *  - decompression failures                                    -> CompressionError
 *      (CORRUPT_MESSAGE; MESSAGE_TOO_LARGE past maxUncompressedBytes)
 *
 * Errors are thrown (RecordsError / CompressionError, both KafkaError with
 * `.code`); success returns a summary with the records' timestamp range for
 * the caller's timestamp checks (message.timestamp.*.max.ms) and for
 * patching maxTimestamp. Timestamp policy and sizes (max.message.bytes) are
 * the caller's: they depend on topic configuration.
 */
import {
  ATTR_COMPRESSION_MASK,
  ATTR_CONTROL,
  LOG_OVERHEAD,
  OFF_ATTRIBUTES,
  OFF_BASE_OFFSET,
  OFF_BASE_SEQUENCE,
  OFF_BASE_TIMESTAMP,
  OFF_BATCH_LENGTH,
  OFF_LAST_OFFSET_DELTA,
  OFF_PRODUCER_ID,
  OFF_RECORD_COUNT,
} from './batch-header.js';
import { RecordsError } from './errors.js';
import {
  assertBatch,
  openRecords,
  openRecordsSync,
  validateRecords,
  validateRecordsAsync,
  type ReadOptions,
  type RecordsSection,
  type RecordsSummary,
} from './records.js';

export interface ValidateOptions extends ReadOptions {
  /** apply Kafka's rules for batches written by clients (default true) */
  fromClient?: boolean;
  /** compacted topic: every record needs a key */
  requireKeys?: boolean;
}

export interface BatchValidation {
  /** bytes of the batch (batchLength + 12) */
  size: number;
  recordCount: number;
  compression: number;
  /** bytes of the (decompressed) records section */
  uncompressedBytes: number;
  /** smallest / largest record timestamp (baseTimestamp + delta); baseTimestamp when empty */
  minTimestamp: bigint;
  maxTimestamp: bigint;
  /** the records section that was validated: the batch itself, or its decompressed payload */
  section: RecordsSection;
}

function clientRules(buf: Buffer, pos: number): void {
  if (buf.readBigInt64BE(pos + OFF_BASE_OFFSET) !== 0n) {
    throw new RecordsError('bad-base-offset', `the base offset of a produced batch must be 0, not ${buf.readBigInt64BE(pos + OFF_BASE_OFFSET)}`);
  }
  const count = buf.readInt32BE(pos + OFF_RECORD_COUNT);
  const lastDelta = buf.readInt32BE(pos + OFF_LAST_OFFSET_DELTA);
  if (count <= 0) throw new RecordsError('bad-count', `invalid record count ${count}`);
  if (lastDelta + 1 !== count) {
    throw new RecordsError('bad-count', `inconsistent batch offset range [0, ${lastDelta}] and record count ${count}`);
  }
  if (buf.readInt16BE(pos + OFF_ATTRIBUTES) & ATTR_CONTROL) {
    throw new RecordsError('control-from-client', 'clients are not allowed to write control records');
  }
  const producerId = buf.readBigInt64BE(pos + OFF_PRODUCER_ID);
  const baseSequence = buf.readInt32BE(pos + OFF_BASE_SEQUENCE);
  if (producerId >= 0n && baseSequence < 0) {
    throw new RecordsError('bad-sequence', `invalid sequence number ${baseSequence} in a batch of producer id ${producerId}`);
  }
}

function summarize(buf: Buffer, pos: number, r: RecordsSummary, section: RecordsSection): BatchValidation {
  const base = buf.readBigInt64BE(pos + OFF_BASE_TIMESTAMP);
  return {
    size: buf.readInt32BE(pos + OFF_BATCH_LENGTH) + LOG_OVERHEAD,
    recordCount: r.count,
    compression: buf.readInt16BE(pos + OFF_ATTRIBUTES) & ATTR_COMPRESSION_MASK,
    uncompressedBytes: r.bytes,
    minTimestamp: base + BigInt(r.minTimestampDelta),
    maxTimestamp: base + BigInt(r.maxTimestampDelta),
    section,
  };
}

/** Validate the batch at pos (decompressing it, bounded, when compressed). */
export async function validateBatch(buf: Buffer, pos = 0, options?: ValidateOptions): Promise<BatchValidation> {
  assertBatch(buf, pos, buf.length, options?.verifyCrc ?? true);
  if (options?.fromClient ?? true) clientRules(buf, pos);
  const s = await openRecords(buf, pos, { ...options, verifyCrc: false });
  return summarize(buf, pos, await validateRecordsAsync(s, { requireKeys: options?.requireKeys ?? false }), s);
}

/** validateBatch without yielding: compressed batches are decompressed on this thread at once. */
export function validateBatchSync(buf: Buffer, pos = 0, options?: ValidateOptions): BatchValidation {
  assertBatch(buf, pos, buf.length, options?.verifyCrc ?? true);
  if (options?.fromClient ?? true) clientRules(buf, pos);
  const s = openRecordsSync(buf, pos, { ...options, verifyCrc: false });
  return summarize(buf, pos, validateRecords(s, { requireKeys: options?.requireKeys ?? false }), s);
}
