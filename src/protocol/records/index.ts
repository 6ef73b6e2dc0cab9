/**
 * Kafka record batches (magic v2): header access (batch-header), reading
 * (records), validation for Produce (validate), writing (encode) and control
 * records (control). Compression codecs are in ../compression.
 */
export * from './batch-header.js';
export { RecordsError, type RecordsProblem } from './errors.js';
export {
  assertBatch,
  decodeBatch,
  decodeBatchSync,
  decodeBatches,
  decodeBatchesSync,
  DEFAULT_MAX_UNCOMPRESSED_BYTES,
  forEachRecord,
  HeaderView,
  openRecords,
  openRecordsSync,
  readBatchHeader,
  recordsSection,
  recordTimestamp,
  RecordView,
  TimestampType,
  validateRecords,
  validateRecordsAsync,
  VALIDATE_SLICE_BYTES,
  type BatchHeader,
  type DecodedBatch,
  type KafkaRecord,
  type ReadOptions,
  type RecordHeader,
  type RecordsSection,
  type RecordsSummary,
} from './records.js';
export { validateBatch, validateBatchSync, type BatchValidation, type ValidateOptions } from './validate.js';
export {
  encodeBatch,
  encodeBatchSync,
  encodeEndTxnMarker,
  type Bytes,
  type EncodeBatchOptions,
  type EndTxnMarkerOptions,
  type RecordInput,
} from './encode.js';
export {
  ControlRecordType,
  controlRecordKey,
  endTxnMarkerValue,
  isEndTxnMarker,
  parseControlRecord,
  type ControlRecord,
} from './control.js';
