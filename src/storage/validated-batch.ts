/**
 * The one place where produced record batches are validated, for every
 * storage engine. `StorageEngine.append` takes a `ValidatedBatch`, and only
 * `validateProduced` (or its sync twin) makes one, so no engine can receive a
 * batch that skipped validation, and none re-checks it: the CRC32C is
 * computed exactly once and the records are walked exactly once.
 *
 * The rules and codes are Kafka's (ProduceRequest.validateRecords,
 * UnifiedLog.analyzeAndValidateRecords, LogValidator) for magic v2 batches
 * from clients, in Kafka's order:
 *
 *   no batch                                      INVALID_RECORD
 *   batch shorter than a v2 header, truncated     CORRUPT_MESSAGE
 *   magic 0/1 | magic > 2                         INVALID_RECORD | CORRUPT_MESSAGE
 *   more than one batch                           INVALID_RECORD
 *   zstd before Produce v7                        UNSUPPORTED_COMPRESSION_TYPE
 *   unknown codec id (5..7)                       CORRUPT_MESSAGE
 *   base offset != 0                              INVALID_RECORD
 *   batch larger than max.message.bytes           MESSAGE_TOO_LARGE
 *   CRC32C mismatch                               CORRUPT_MESSAGE
 *   control batch ("Clients are not allowed to
 *   write control records")                       INVALID_RECORD
 *   transactional batch without a producer id     INVALID_RECORD (a transaction
 *                                                 is tracked per producer id: such a
 *                                                 batch could never be committed)
 *   record count vs lastOffsetDelta, count <= 0,
 *   producer id with a negative base sequence     INVALID_RECORD
 *   records (decompressed, bounded): a record
 *   that does not parse (lengths, varints longer
 *   than Java's 5/10 bytes), offset deltas not
 *   increasing within 0..lastOffsetDelta, fewer
 *   or more records than declared                 INVALID_RECORD + record_errors
 *   compressed payload that does not decompress   INVALID_RECORD (the CRC matched, so the
 *                                                 client wrote it so; Kafka answers
 *                                                 UNKNOWN_SERVER_ERROR, an unmapped exception)
 *   decompressed records above the bound          MESSAGE_TOO_LARGE
 *   CreateTime topic: a record timestamp outside
 *   [now - message.timestamp.before.max.ms,
 *    now + message.timestamp.after.max.ms]
 *   (the deprecated difference.max.ms when they
 *   are unset); LogAppendTime set by the client
 *   on a LogAppendTime topic or without a max
 *   timestamp                                     INVALID_TIMESTAMP + record_errors
 *
 * What passes is kept as the bytes the client sent (no copy). Like a Kafka
 * leader, the validator then writes the fields it owns: the partition leader
 * epoch (outside the CRC) and, on CreateTime topics, a header maxTimestamp (and
 * timestamp type) that disagrees with the records, with a new CRC (only for
 * batches that got it wrong). LogAppendTime stamping stays with the engines:
 * it needs the append time.
 *
 * A topic whose compression.type names a codec (not `producer`) gets batches
 * of another codec recompressed to it here (the records were decompressed for
 * validation anyway), as Kafka's LogValidator does; the one new buffer is the
 * only copy.
 */
import {
  ATTR_COMPRESSION_MASK,
  ATTR_CONTROL,
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  ATTR_TRANSACTIONAL,
  BATCH_HEADER_SIZE,
  Compression,
  LOG_OVERHEAD,
  OFF_ATTRIBUTES,
  OFF_BASE_OFFSET,
  OFF_BASE_TIMESTAMP,
  OFF_BATCH_LENGTH,
  OFF_CRC,
  OFF_LAST_OFFSET_DELTA,
  OFF_MAGIC,
  OFF_MAX_TIMESTAMP,
  OFF_PRODUCER_ID,
  setLeaderEpoch,
  updateCrc,
} from '../protocol/records/batch-header.js';
import { crc32c } from '@node-rs/crc32';
import { CompressionError, compress, compressSync } from '../protocol/compression/index.js';
import { ErrorCode } from '../protocol/errors.js';
import { RecordsError } from '../protocol/records/errors.js';
import { DEFAULT_MAX_UNCOMPRESSED_BYTES, forEachRecord, type RecordsSection } from '../protocol/records/records.js';
import { validateBatch, validateBatchSync, type BatchValidation, type ValidateOptions } from '../protocol/records/validate.js';
import { encodeEndTxnMarker } from '../protocol/records/encode.js';
import type { TopicConfig } from './topic-config.js';

/** What the Produce handler knows when it validates a partition's records. */
export interface ProduceRules {
  /** The topic's effective configuration (max.message.bytes, timestamp type and bounds). */
  config: Pick<TopicConfig, 'maxMessageBytes' | 'timestampType' | 'timestampBeforeMaxMs' | 'timestampAfterMaxMs' | 'cleanupPolicy'> &
    Partial<Pick<TopicConfig, 'compressionType' | 'compressionLevels'>>;
  /** Produce request version (zstd needs v7+). */
  apiVersion: number;
  /** Wall clock for the timestamp bounds. */
  nowMs: number;
  /** Written into the batch header, as a Kafka leader does. */
  leaderEpoch: number;
  /** Bound on a compressed batch's records once decompressed (default 64 MiB). */
  maxUncompressedBytes?: number;
}

/** One Kafka ProduceResponse record_errors entry. */
export interface RecordError {
  batchIndex: number;
  batchIndexErrorMessage: string | null;
}

export type ProduceVerdict = { ok: true; batch: ValidatedBatch } | { ok: false; code: ErrorCode; message: string; recordErrors: RecordError[] };

/** At most this many record_errors are listed in a response (the message says how many there were). */
export const MAX_RECORD_ERRORS = 100;

const TOKEN: unique symbol = Symbol('ValidatedBatch');

/**
 * Exactly one magic v2 record batch that passed validateProduced. The engine
 * takes ownership of `buf` (it patches base offset and, for LogAppendTime,
 * timestamps in place). Only this module can construct one.
 */
export class ValidatedBatch {
  /** The batch, a slice of the request (never copied). */
  readonly buf: Buffer;
  readonly recordCount: number;
  readonly lastOffsetDelta: number;
  /** Kafka codec id (attributes & 7). */
  readonly compression: number;
  /** Largest record timestamp (CreateTime), as now in the header. */
  readonly maxTimestamp: bigint;
  /**
   * The records section validation walked: for a compressed batch its
   * decompressed payload, so an engine converting records (Pulsar's `pulsar`
   * entry format) need not decompress again; null for an uncompressed batch.
   */
  readonly decompressed: RecordsSection | null;

  /** The codec the producer sent the batch with (differs from `compression` after recompression). */
  readonly producedCompression: number;

  constructor(token: typeof TOKEN, buf: Buffer, v: BatchValidation, maxTimestamp: bigint, producedCompression = v.compression) {
    if (token !== TOKEN) throw new TypeError('a ValidatedBatch is made only by validateProduced');
    this.buf = buf;
    this.recordCount = v.recordCount;
    this.lastOffsetDelta = buf.readInt32BE(OFF_LAST_OFFSET_DELTA);
    this.compression = v.compression;
    this.maxTimestamp = maxTimestamp;
    this.decompressed = v.compression === Compression.None ? null : v.section;
    this.producedCompression = producedCompression;
  }

  /** Bytes of the batch. */
  get size(): number {
    return this.buf.length;
  }

  /** Offsets the batch takes (lastOffsetDelta + 1 = recordCount: checked). */
  get offsetCount(): number {
    return this.lastOffsetDelta + 1;
  }
}

/** Engines call this on what they are handed: a cast cannot smuggle in an unvalidated batch. */
export function assertValidated(batch: unknown): asserts batch is ValidatedBatch {
  if (!(batch instanceof ValidatedBatch)) throw new TypeError('storage engines append only batches made by validateProduced');
}

class Refusal extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly recordErrors: RecordError[] = [],
  ) {
    super(message);
  }
}

function refuse(code: ErrorCode, message: string, recordErrors: RecordError[] = []): never {
  throw new Refusal(code, message, recordErrors);
}

/** The batch-level checks, before any record is read (Kafka's order; see the file comment). */
function checkHeader(buf: Buffer, rules: ProduceRules): void {
  const v = rules.apiVersion;
  if (buf.length === 0) refuse(ErrorCode.INVALID_RECORD, `Produce requests with version ${v} must have at least one record batch per partition`);
  if (buf.length < LOG_OVERHEAD) refuse(ErrorCode.CORRUPT_MESSAGE, `record batch of ${buf.length} bytes is truncated`);
  const length = buf.readInt32BE(OFF_BATCH_LENGTH);
  if (length < BATCH_HEADER_SIZE - LOG_OVERHEAD) {
    refuse(ErrorCode.CORRUPT_MESSAGE, `record batch length ${length} is less than the minimum of a v2 batch (${BATCH_HEADER_SIZE - LOG_OVERHEAD})`);
  }
  const size = length + LOG_OVERHEAD;
  if (buf.length < size) refuse(ErrorCode.CORRUPT_MESSAGE, `record batch is truncated: ${buf.length} of its ${size} bytes`);
  const magic = buf.readInt8(OFF_MAGIC);
  if (magic === 0 || magic === 1) refuse(ErrorCode.INVALID_RECORD, `Produce requests with version ${v} are only allowed to contain record batches with magic version 2`);
  if (magic !== 2) refuse(ErrorCode.CORRUPT_MESSAGE, `invalid magic found in record batch: ${magic}`);
  if (buf.length > size) refuse(ErrorCode.INVALID_RECORD, `Produce requests with version ${v} are only allowed to contain exactly one record batch per partition`);
  const codec = buf.readInt16BE(OFF_ATTRIBUTES) & ATTR_COMPRESSION_MASK;
  if (codec > Compression.Zstd) refuse(ErrorCode.CORRUPT_MESSAGE, `unknown compression codec id ${codec}`);
  if (codec === Compression.Zstd && v < 7) refuse(ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, `Produce requests with version ${v} are not allowed to use ZStandard compression`);
  const baseOffset = buf.readBigInt64BE(OFF_BASE_OFFSET);
  if (baseOffset !== 0n) refuse(ErrorCode.INVALID_RECORD, `the baseOffset of a produced record batch should be 0, but it is ${baseOffset}`);
  if (size > rules.config.maxMessageBytes) {
    refuse(ErrorCode.MESSAGE_TOO_LARGE, `the record batch is ${size} bytes, which exceeds the maximum configured value of ${rules.config.maxMessageBytes} (max.message.bytes)`);
  }
  const stored = buf.readUInt32BE(OFF_CRC);
  const actual = crc32c(buf.subarray(OFF_ATTRIBUTES, size));
  if (stored !== actual) refuse(ErrorCode.CORRUPT_MESSAGE, `record batch is corrupt (stored crc = ${stored}, computed crc = ${actual})`);
  const attrs = buf.readInt16BE(OFF_ATTRIBUTES);
  // (Kafka checks the record count first; a control batch is refused either way, with its own message)
  if (attrs & ATTR_CONTROL) refuse(ErrorCode.INVALID_RECORD, 'Clients are not allowed to write control records');
  if (attrs & ATTR_TRANSACTIONAL && buf.readBigInt64BE(OFF_PRODUCER_ID) < 0n) {
    refuse(ErrorCode.INVALID_RECORD, 'transactional records must carry a producer id');
  }
}

function validateOptions(rules: ProduceRules): ValidateOptions {
  return {
    verifyCrc: false, // checked once, above
    fromClient: true,
    requireKeys: rules.config.cleanupPolicy.split(',').includes('compact'),
    maxUncompressedBytes: rules.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES,
  };
}

/** Map what the record walk threw to Kafka's answer. */
function recordsFailure(err: unknown): never {
  if (err instanceof RecordsError) {
    const recordErrors = err.recordIndex >= 0 ? [{ batchIndex: err.recordIndex, batchIndexErrorMessage: err.message }] : [];
    refuse(err.code, err.message, recordErrors);
  }
  if (err instanceof CompressionError) {
    if (err.problem === 'corrupt') refuse(ErrorCode.INVALID_RECORD, `the batch's records do not decompress: ${err.message}`);
    refuse(err.code, err.message);
  }
  throw err;
}

const LONG_MIN = -(2n ** 63n);
const LONG_MAX = 2n ** 63n - 1n;

/**
 * Timestamp rules; returns the batch's max timestamp as it must be stored
 * (CreateTime topics), or null when the header may stay as it is.
 */
function checkTimestamps(buf: Buffer, v: BatchValidation, rules: ProduceRules): bigint | null {
  const cfg = rules.config;
  const attrs = buf.readInt16BE(OFF_ATTRIBUTES);
  const clientLogAppendTime = (attrs & ATTR_TIMESTAMP_TYPE_LOG_APPEND) !== 0;
  const headerMax = buf.readBigInt64BE(OFF_MAX_TIMESTAMP);
  const now = BigInt(rules.nowMs);
  const before = BigInt(cfg.timestampBeforeMaxMs);
  const after = BigInt(cfg.timestampAfterMaxMs);
  const lo = now - before < LONG_MIN ? LONG_MIN : now - before;
  const hi = now + after > LONG_MAX ? LONG_MAX : now + after;
  const range = `[${lo}, ${hi}]`;
  const allFail = (why: string): never => {
    const recordErrors: RecordError[] = [];
    for (let i = 0; i < Math.min(v.recordCount, MAX_RECORD_ERRORS); i++) recordErrors.push({ batchIndex: i, batchIndexErrorMessage: why });
    refuse(ErrorCode.INVALID_TIMESTAMP, `One or more records have been rejected due to invalid timestamp: ${why}`, recordErrors);
  };
  if (clientLogAppendTime) {
    // a LogAppendTime batch's records all have the header's maxTimestamp (Kafka's DefaultRecordBatch)
    const why = 'Producer should not set timestamp type to LogAppendTime.';
    if (cfg.timestampType === 'LogAppendTime' || headerMax === -1n) allFail(why);
    if (headerMax < lo || headerMax > hi) allFail(`Timestamp ${headerMax} is out of range. The timestamp should be within ${range}`);
    return headerMax; // stored as CreateTime with that max, as Kafka's setMaxTimestamp(CREATE_TIME, ..) does
  }
  if (cfg.timestampType === 'LogAppendTime') return null; // the engine stamps the append time
  if (v.minTimestamp < lo || v.maxTimestamp > hi) {
    // the slow path, only for a batch that breaks the bounds: which records (a timestamp of -1 means none)
    const base = buf.readBigInt64BE(OFF_BASE_TIMESTAMP);
    const recordErrors: RecordError[] = [];
    let bad = 0;
    forEachRecord(v.section, (r, i) => {
      const ts = base + BigInt(r.timestampDelta);
      if (ts !== -1n && (ts < lo || ts > hi)) {
        bad++;
        if (recordErrors.length < MAX_RECORD_ERRORS) {
          recordErrors.push({ batchIndex: i, batchIndexErrorMessage: `Timestamp ${ts} of message with offset ${i} is out of range. The timestamp should be within ${range}` });
        }
      }
    });
    if (bad > 0) refuse(ErrorCode.INVALID_TIMESTAMP, `One or more records have been rejected due to invalid timestamp (${bad} of ${v.recordCount}; allowed ${range})`, recordErrors);
  }
  return v.maxTimestamp;
}

/** Kafka codec id of a compression.type other than `producer`. */
const TARGET_CODEC: Record<string, number> = { uncompressed: Compression.None, gzip: Compression.Gzip, snappy: Compression.Snappy, lz4: Compression.Lz4, zstd: Compression.Zstd };

/** The codec the topic wants the batch stored with, when it differs from the one it came with; else null. */
function recompressTarget(v: BatchValidation, rules: ProduceRules): number | null {
  const type = rules.config.compressionType;
  if (type === undefined || type === 'producer') return null;
  const target = TARGET_CODEC[type];
  return target === undefined || target === v.compression ? null : target;
}

function levelFor(codec: number, rules: ProduceRules): number | undefined {
  const levels = rules.config.compressionLevels;
  if (!levels) return undefined;
  if (codec === Compression.Gzip) return levels.gzip === -1 ? undefined : levels.gzip;
  if (codec === Compression.Zstd) return levels.zstd;
  return undefined; // snappy has no level; the lz4 codec uses its own
}

/**
 * compression.type other than `producer` (Kafka's LogValidator): the validated
 * batch with its records (already decompressed by validation) compressed with
 * the topic's codec; same header fields, new length, attributes and CRC.
 * MESSAGE_TOO_LARGE when the result exceeds max.message.bytes, as in Kafka.
 */
function recompressed(buf: Buffer, v: BatchValidation, target: number, payload: Buffer): { buf: Buffer; v: BatchValidation } {
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + payload.length);
  buf.copy(out, 0, 0, BATCH_HEADER_SIZE);
  payload.copy(out, BATCH_HEADER_SIZE);
  out.writeInt32BE(out.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  out.writeInt16BE((out.readInt16BE(OFF_ATTRIBUTES) & ~ATTR_COMPRESSION_MASK) | target, OFF_ATTRIBUTES);
  updateCrc(out, 0);
  const section: RecordsSection =
    target === Compression.None ? { ...v.section, buf: out, start: BATCH_HEADER_SIZE, end: out.length } : v.section;
  return { buf: out, v: { ...v, size: out.length, compression: target, section } };
}

function checkRecompressedSize(size: number, rules: ProduceRules): void {
  if (size > rules.config.maxMessageBytes) {
    refuse(ErrorCode.MESSAGE_TOO_LARGE, `the record batch is ${size} bytes once recompressed to the topic's compression.type=${rules.config.compressionType}, which exceeds max.message.bytes=${rules.config.maxMessageBytes}`);
  }
}

async function recompressAsync(buf: Buffer, v: BatchValidation, rules: ProduceRules): Promise<{ buf: Buffer; v: BatchValidation }> {
  const target = recompressTarget(v, rules);
  if (target === null) return { buf, v };
  const records = v.section.buf.subarray(v.section.start, v.section.end);
  const r = recompressed(buf, v, target, await compress(target, records, { level: levelFor(target, rules) }));
  checkRecompressedSize(r.buf.length, rules);
  return r;
}

function recompressSync(buf: Buffer, v: BatchValidation, rules: ProduceRules): { buf: Buffer; v: BatchValidation } {
  const target = recompressTarget(v, rules);
  if (target === null) return { buf, v };
  const records = v.section.buf.subarray(v.section.start, v.section.end);
  const r = recompressed(buf, v, target, compressSync(target, records, { level: levelFor(target, rules) }));
  checkRecompressedSize(r.buf.length, rules);
  return r;
}

/** Leader-owned header fields: leader epoch; on CreateTime topics the true max timestamp (new CRC when it changes). */
function finish(buf: Buffer, v: BatchValidation, rules: ProduceRules, producedCompression = v.compression): ValidatedBatch {
  const storedMax = checkTimestamps(buf, v, rules);
  let maxTimestamp = buf.readBigInt64BE(OFF_MAX_TIMESTAMP);
  if (storedMax !== null) {
    const attrs = buf.readInt16BE(OFF_ATTRIBUTES);
    if (storedMax !== maxTimestamp || attrs & ATTR_TIMESTAMP_TYPE_LOG_APPEND) {
      buf.writeInt16BE(attrs & ~ATTR_TIMESTAMP_TYPE_LOG_APPEND, OFF_ATTRIBUTES);
      buf.writeBigInt64BE(storedMax, OFF_MAX_TIMESTAMP);
      updateCrc(buf, 0);
    }
    maxTimestamp = storedMax;
  }
  setLeaderEpoch(buf, rules.leaderEpoch, 0); // outside the CRC
  return new ValidatedBatch(TOKEN, buf, v, maxTimestamp, producedCompression);
}

function refused(err: unknown): ProduceVerdict {
  if (err instanceof Refusal) return { ok: false, code: err.code, message: err.message, recordErrors: err.recordErrors };
  throw err;
}

/**
 * Validate one partition's records of a Produce request. Compressed batches
 * are decompressed (bounded) off the event loop's critical path, and large
 * record sections are walked in slices with yields in between.
 */
export async function validateProduced(records: Buffer | null, rules: ProduceRules): Promise<ProduceVerdict> {
  const buf = records ?? Buffer.alloc(0);
  try {
    checkHeader(buf, rules);
    let v: BatchValidation;
    try {
      v = await validateBatch(buf, 0, validateOptions(rules));
    } catch (err) {
      recordsFailure(err);
    }
    const r = await recompressAsync(buf, v, rules);
    return { ok: true, batch: finish(r.buf, r.v, rules, v.compression) };
  } catch (err) {
    return refused(err);
  }
}

/** validateProduced without yielding (tools and tests; the Produce handler uses the async one). */
export function validateProducedSync(records: Buffer | null, rules: ProduceRules): ProduceVerdict {
  const buf = records ?? Buffer.alloc(0);
  try {
    checkHeader(buf, rules);
    let v: BatchValidation;
    try {
      v = validateBatchSync(buf, 0, validateOptions(rules));
    } catch (err) {
      recordsFailure(err);
    }
    const r = recompressSync(buf, v, rules);
    return { ok: true, batch: finish(r.buf, r.v, rules, v.compression) };
  } catch (err) {
    return refused(err);
  }
}

/** What a transaction marker batch is made from (the coordinator's WriteTxnMarkers entry). */
export interface EndTxnMarkerSpec {
  producerId: bigint;
  producerEpoch: number;
  commit: boolean;
  coordinatorEpoch: number;
}

/**
 * The one way a control batch reaches an engine: a COMMIT/ABORT marker built
 * here by the gateway for StorageEngine.writeTxnMarker (never bytes from a
 * client, which validateProduced refuses). Uncompressed, one control record.
 */
export function endTxnMarkerBatch(marker: EndTxnMarkerSpec, nowMs: bigint, leaderEpoch = 0): ValidatedBatch {
  const buf = encodeEndTxnMarker({
    commit: marker.commit,
    coordinatorEpoch: marker.coordinatorEpoch,
    producerId: marker.producerId,
    producerEpoch: marker.producerEpoch,
    partitionLeaderEpoch: leaderEpoch,
    timestamp: nowMs,
  });
  const v = validateBatchSync(buf, 0, { verifyCrc: false, fromClient: false });
  return new ValidatedBatch(TOKEN, buf, v, nowMs);
}
