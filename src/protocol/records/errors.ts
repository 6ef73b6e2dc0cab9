/**
 * RecordsError: a record batch that is malformed or breaks Kafka's rules,
 * with the Kafka error code to answer (like Kafka: batch-level damage —
 * truncation, bad length/magic/CRC — is CORRUPT_MESSAGE; bad record structure
 * and rule violations are INVALID_RECORD, as Kafka's InvalidRecordException).
 */
import { ErrorCode, KafkaError } from '../errors.js';
import type { BatchProblem } from './batch-header.js';

export type RecordsProblem =
  | BatchProblem
  | 'bad-record' // a record's fields do not fit its length, or a length is out of range
  | 'bad-offset-delta' // offset deltas not increasing within 0..lastOffsetDelta
  | 'count-mismatch' // fewer records than the header's count, or bytes left after them
  | 'compressed' // a visitor was given a compressed batch: use openRecords()
  | 'bad-base-offset' // client batch with baseOffset != 0
  | 'control-from-client' // clients may not write control batches
  | 'bad-sequence' // producer id set, base sequence negative
  | 'missing-key' // compacted topic, record without key
  | 'bad-control-record'; // control record key/value malformed

const CORRUPT: ReadonlySet<RecordsProblem> = new Set<RecordsProblem>(['truncated', 'bad-length', 'bad-magic', 'bad-crc', 'bad-compression']);

export class RecordsError extends KafkaError {
  constructor(
    readonly problem: RecordsProblem,
    message: string,
    /** index of the offending record in its batch, -1 for batch-level problems (ProduceResponse record_errors) */
    readonly recordIndex = -1,
  ) {
    super(CORRUPT.has(problem) ? ErrorCode.CORRUPT_MESSAGE : ErrorCode.INVALID_RECORD, message);
    this.name = 'RecordsError';
  }
}
