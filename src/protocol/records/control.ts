/**
 * Control records (the single record of a control batch): transaction
 * markers (ABORT / COMMIT) and KRaft's own types. Key: int16 version, int16
 * type. End-transaction-marker value: int16 version, int32 coordinator epoch.
 * Parsing follows Kafka's ControlRecordType.parse / EndTransactionMarker:
 * negative versions and short keys/values are invalid; newer versions are
 * read by their version-0 prefix; unknown types are reported as read.
 */
import { RecordsError } from './errors.js';

export const ControlRecordType = {
  Abort: 0,
  Commit: 1,
  LeaderChange: 2,
  SnapshotHeader: 3,
  SnapshotFooter: 4,
  KRaftVersion: 5,
  KRaftVoters: 6,
} as const;

export interface ControlRecord {
  /** key version (0 today) */
  version: number;
  /** ControlRecordType value (other numbers are passed through: Kafka calls them UNKNOWN) */
  type: number;
  /** ABORT / COMMIT: end-transaction-marker value version, else null */
  markerVersion: number | null;
  /** ABORT / COMMIT: the transaction coordinator's epoch, else null */
  coordinatorEpoch: number | null;
}

export const CONTROL_KEY_SIZE = 4;
export const END_TXN_MARKER_VALUE_SIZE = 6;

export function isEndTxnMarker(type: number): boolean {
  return type === ControlRecordType.Abort || type === ControlRecordType.Commit;
}

/** Parse a control record's key and value; throws RecordsError 'bad-control-record'. */
export function parseControlRecord(key: Buffer | null, value: Buffer | null, recordIndex = 0): ControlRecord {
  if (key === null || key.length < CONTROL_KEY_SIZE) {
    throw new RecordsError('bad-control-record', `control record key must have at least ${CONTROL_KEY_SIZE} bytes`, recordIndex);
  }
  const version = key.readInt16BE(0);
  if (version < 0) throw new RecordsError('bad-control-record', `invalid control record key version ${version}`, recordIndex);
  const type = key.readInt16BE(2);
  if (!isEndTxnMarker(type)) return { version, type, markerVersion: null, coordinatorEpoch: null };
  if (value === null || value.length < END_TXN_MARKER_VALUE_SIZE) {
    throw new RecordsError('bad-control-record', `end transaction marker value must have at least ${END_TXN_MARKER_VALUE_SIZE} bytes`, recordIndex);
  }
  const markerVersion = value.readInt16BE(0);
  if (markerVersion < 0) throw new RecordsError('bad-control-record', `invalid end transaction marker version ${markerVersion}`, recordIndex);
  return { version, type, markerVersion, coordinatorEpoch: value.readInt32BE(2) };
}

export function controlRecordKey(type: number, version = 0): Buffer {
  const b = Buffer.allocUnsafe(CONTROL_KEY_SIZE);
  b.writeInt16BE(version, 0);
  b.writeInt16BE(type, 2);
  return b;
}

export function endTxnMarkerValue(coordinatorEpoch: number, version = 0): Buffer {
  const b = Buffer.allocUnsafe(END_TXN_MARKER_VALUE_SIZE);
  b.writeInt16BE(version, 0);
  b.writeInt32BE(coordinatorEpoch, 2);
  return b;
}
