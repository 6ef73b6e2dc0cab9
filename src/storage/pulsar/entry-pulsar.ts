/**
 * entryFormat=pulsar: each Kafka record is one message of a Pulsar batch
 * entry, readable by any Pulsar consumer; and the reverse, for our entries
 * and for entries of any Pulsar producer (batched or not).
 *
 * Per record (SingleMessageMetadata + payload):
 *   key      partition_key: the key as UTF-8 when it is valid UTF-8, else base64
 *            with partition_key_b64_encoded=true (what Pulsar's keyBytes() does).
 *            A null key sets nothing (Pulsar: no key); null_partition_key is
 *            read as null too. An empty key is partition_key "".
 *   value    the message payload (no copy); a null value is an empty payload
 *            with null_value=true (Pulsar's tombstone flag).
 *   headers  properties, in order, repeated keys kept (Pulsar's wire format is a
 *            list; Java's getProperties() map keeps the last value of a key).
 *            Values are UTF-8 strings. A header whose value is null (stored as
 *            "") or not valid UTF-8 (stored as base64) is listed in ONE extra,
 *            trailing property HEADERS_ENCODING_KEY = "0n,3b" (header 0 null,
 *            header 3 base64), so the round trip is exact; records whose
 *            headers are all UTF-8 carry nothing extra. Should a record's last
 *            Kafka header itself be named HEADERS_ENCODING_KEY, the property is
 *            written (possibly empty) so reading stays unambiguous.
 *   time     event_time = the record's exact Kafka timestamp (base + delta) as a
 *            uint64 (a negative timestamp is its two's complement: Java's
 *            getEventTime() reads it back as the same long). Our entries are
 *            read back with exactly that time, 0 included.
 *
 * Per batch (entry MessageMetadata.properties), only what a Kafka consumer could
 * tell apart, and only when it differs from the default:
 *   kafka.entry.format=pulsar                      always
 *   kafka.batch.attributes   attributes without the codec bits (LogAppendTime,
 *                            transactional, control), when non-zero
 *   kafka.batch.base-timestamp / kafka.batch.max-timestamp
 *                            when not the first / the largest record timestamp
 *                            (LogAppendTime: max-timestamp = the append time;
 *                            records keep their create times as event_time)
 *   kafka.batch.producer     "producerId,producerEpoch,baseSequence" unless all -1
 *   kafka.batch.leader-epoch when not -1
 * so a Kafka -> pulsar -> Kafka round trip gives the same batch except for the
 * compression (read back uncompressed), the base offset and record attributes
 * (always 0 in Kafka).
 * Visible to Pulsar consumers: Pulsar's MessageImpl and RawMessageImpl give a
 * batch message WITHOUT properties of its own the entry's properties instead,
 * so a Kafka record without headers shows kafka.entry.format=pulsar (and the
 * kafka.batch.* keys when set) to a Pulsar consumer; records with headers show
 * just their headers. (Checked against Pulsar's classes in
 * test/unit/pulsar-entry-format.test.ts.)
 *
 * Reading plain Pulsar entries: key as above (base64 when flagged), value =
 * payload (null when null_value), headers = properties (UTF-8), timestamp =
 * event_time when non-zero else the entry's publish_time, CreateTime,
 * producerId -1. Messages marked compacted_out are left out (their offsets
 * become a gap, as in a compacted Kafka batch). Encrypted entries cannot be
 * read: each message becomes a record with null key and value and the header
 * pulsar.undecodable=encrypted.
 */
import { isUtf8 } from 'node:buffer';
import {
  ATTR_COMPRESSION_MASK,
  ATTR_TIMESTAMP_TYPE_LOG_APPEND,
  NO_PRODUCER_ID,
  NO_SEQUENCE,
} from '../../protocol/records/batch-header.js';
import { encodeBatchSync, type RecordInput } from '../../protocol/records/encode.js';
import { forEachRecord, type BatchHeader, type RecordsSection, type RecordView } from '../../protocol/records/records.js';
import type { KeyValue, MessageMetadata, SingleMessageMetadata } from '../../pulsar/proto/index.js';
import { decodeBatch, encodeBatch, type BatchEntryInput } from '../../pulsar/wire/batch.js';
import { EntryFormatError } from './entry-compression.js';

export const FORMAT_KEY = 'kafka.entry.format';
export const HEADERS_ENCODING_KEY = 'kafka.headers.encoding';
export const BATCH_ATTRIBUTES_KEY = 'kafka.batch.attributes';
export const BATCH_BASE_TIMESTAMP_KEY = 'kafka.batch.base-timestamp';
export const BATCH_MAX_TIMESTAMP_KEY = 'kafka.batch.max-timestamp';
export const BATCH_PRODUCER_KEY = 'kafka.batch.producer';
export const BATCH_LEADER_EPOCH_KEY = 'kafka.batch.leader-epoch';
export const UNDECODABLE_HEADER = 'pulsar.undecodable';

const EMPTY = Buffer.alloc(0);

function headerProperties(r: RecordView): KeyValue[] {
  const props: KeyValue[] = [];
  let encoding: string | undefined;
  let lastKey = '';
  r.forEachHeader((h, i) => {
    lastKey = h.key();
    let value: string;
    if (h.valueLength < 0) {
      value = '';
      encoding = encoding === undefined ? `${i}n` : `${encoding},${i}n`;
    } else {
      const v = h.value()!;
      if (isUtf8(v)) value = v.toString('utf8');
      else {
        value = v.toString('base64');
        encoding = encoding === undefined ? `${i}b` : `${encoding},${i}b`;
      }
    }
    props.push({ key: lastKey, value });
  });
  if (encoding !== undefined || lastKey === HEADERS_ENCODING_KEY) props.push({ key: HEADERS_ENCODING_KEY, value: encoding ?? '' });
  return props;
}

export interface PulsarBatch {
  /** the uncompressed Pulsar batch payload */
  payload: Buffer;
  /** entry-level properties (format marker + batch fields that differ from the defaults) */
  properties: KeyValue[];
}

/** The records of `section` (of the batch whose header is `h`) as a Pulsar batch payload. */
export function recordsToPulsarBatch(h: BatchHeader, section: RecordsSection): PulsarBatch {
  const n = section.count;
  const entries: BatchEntryInput[] = new Array(n);
  let first = 0n;
  let max = -1n;
  forEachRecord(section, (r, i) => {
    const ts = h.baseTimestamp + BigInt(r.timestampDelta);
    if (i === 0) first = max = ts;
    else if (ts > max) max = ts;
    const md: BatchEntryInput['metadata'] = { eventTime: BigInt.asUintN(64, ts) };
    const k = r.key();
    if (k !== null) {
      if (isUtf8(k)) md.partitionKey = k.toString('utf8');
      else {
        md.partitionKey = k.toString('base64');
        md.partitionKeyB64Encoded = true;
      }
    }
    const v = r.value();
    if (v === null) md.nullValue = true;
    if (r.headerCount > 0) md.properties = headerProperties(r);
    entries[i] = { metadata: md, payload: v ?? EMPTY };
  });
  const properties: KeyValue[] = [{ key: FORMAT_KEY, value: 'pulsar' }];
  const attrs = h.attributes & ~ATTR_COMPRESSION_MASK & 0xffff;
  if (attrs !== 0) properties.push({ key: BATCH_ATTRIBUTES_KEY, value: String(attrs) });
  if (n === 0 ? h.baseTimestamp !== -1n : h.baseTimestamp !== first) properties.push({ key: BATCH_BASE_TIMESTAMP_KEY, value: String(h.baseTimestamp) });
  if (h.maxTimestamp !== max) properties.push({ key: BATCH_MAX_TIMESTAMP_KEY, value: String(h.maxTimestamp) });
  if (h.producerId !== NO_PRODUCER_ID || h.producerEpoch !== -1 || h.baseSequence !== NO_SEQUENCE) {
    properties.push({ key: BATCH_PRODUCER_KEY, value: `${h.producerId},${h.producerEpoch},${h.baseSequence}` });
  }
  if (h.partitionLeaderEpoch !== -1) properties.push({ key: BATCH_LEADER_EPOCH_KEY, value: String(h.partitionLeaderEpoch) });
  return { payload: encodeBatch(entries), properties };
}

/** Batch fields read back from the entry properties of one of our pulsar-format entries. */
interface BatchFields {
  attributes: number;
  baseTimestamp?: bigint;
  maxTimestamp?: bigint;
  producerId: bigint;
  producerEpoch: number;
  baseSequence: number;
  partitionLeaderEpoch: number;
}

function int(value: string, what: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value) || n < min || n > max) throw new EntryFormatError(`bad ${what} "${value}"`);
  return n;
}

function long(value: string, what: string): bigint {
  if (!/^-?\d+$/.test(value)) throw new EntryFormatError(`bad ${what} "${value}"`);
  return BigInt.asIntN(64, BigInt(value));
}

function batchFields(properties: KeyValue[] | undefined): BatchFields {
  const f: BatchFields = { attributes: 0, producerId: NO_PRODUCER_ID, producerEpoch: -1, baseSequence: NO_SEQUENCE, partitionLeaderEpoch: -1 };
  for (const p of properties ?? []) {
    switch (p.key) {
      case BATCH_ATTRIBUTES_KEY:
        f.attributes = int(p.value, p.key, 0, 0x7fff) & ~ATTR_COMPRESSION_MASK;
        break;
      case BATCH_BASE_TIMESTAMP_KEY:
        f.baseTimestamp = long(p.value, p.key);
        break;
      case BATCH_MAX_TIMESTAMP_KEY:
        f.maxTimestamp = long(p.value, p.key);
        break;
      case BATCH_PRODUCER_KEY: {
        const parts = p.value.split(',');
        if (parts.length !== 3) throw new EntryFormatError(`bad ${p.key} "${p.value}"`);
        f.producerId = long(parts[0]!, p.key);
        f.producerEpoch = int(parts[1]!, p.key, -32768, 32767);
        f.baseSequence = int(parts[2]!, p.key, -(2 ** 31), 2 ** 31 - 1);
        break;
      }
      case BATCH_LEADER_EPOCH_KEY:
        f.partitionLeaderEpoch = int(p.value, p.key, -(2 ** 31), 2 ** 31 - 1);
        break;
      default:
        break;
    }
  }
  return f;
}

function keyOf(m: { partitionKey?: string; partitionKeyB64Encoded?: boolean; nullPartitionKey?: boolean }): Buffer | null {
  if (m.partitionKey === undefined || m.nullPartitionKey === true) return null;
  return Buffer.from(m.partitionKey, m.partitionKeyB64Encoded ? 'base64' : 'utf8');
}

function plainHeaders(props: KeyValue[] | undefined): RecordInput['headers'] {
  if (props === undefined || props.length === 0) return undefined;
  return props.map((p) => ({ key: p.key, value: Buffer.from(p.value, 'utf8') }));
}

/** Headers of one of our records: the trailing HEADERS_ENCODING_KEY property says which values are null or base64. */
function ourHeaders(props: KeyValue[] | undefined): RecordInput['headers'] {
  if (props === undefined || props.length === 0) return undefined;
  const last = props[props.length - 1]!;
  if (last.key !== HEADERS_ENCODING_KEY) return plainHeaders(props);
  const headers: NonNullable<RecordInput['headers']> = props.slice(0, -1).map((p) => ({ key: p.key, value: Buffer.from(p.value, 'utf8') }));
  if (last.value === '') return headers;
  for (const token of last.value.split(',')) {
    const m = /^(\d+)([nb])$/.exec(token);
    const i = m ? Number(m[1]) : -1;
    if (!m || i >= headers.length) throw new EntryFormatError(`bad ${HEADERS_ENCODING_KEY} "${last.value}"`);
    headers[i]!.value = m[2] === 'n' ? null : Buffer.from(props[i]!.value, 'base64');
  }
  return headers;
}

export interface PulsarDecodeOptions {
  /** bound on the records a single entry may claim when they cannot be checked against a payload (encrypted entries) */
  maxRecords?: number;
}

/**
 * A Pulsar entry (metadata, UNCOMPRESSED payload) as an uncompressed Kafka batch at baseOffset:
 * one of our pulsar-format entries (`ours`) or any Pulsar producer's.
 */
export function pulsarEntryToBatch(metadata: MessageMetadata, payload: Buffer, baseOffset: bigint, ours: boolean, options?: PulsarDecodeOptions): Buffer {
  const batched = metadata.numMessagesInBatch !== undefined;
  const n = batched ? metadata.numMessagesInBatch! : 1;
  const fields = ours ? batchFields(metadata.properties) : undefined;
  const publishTime = BigInt.asIntN(64, metadata.publishTime ?? 0n);
  const records: RecordInput[] = [];
  const timeOf = (eventTime: bigint | undefined): bigint => {
    const t = BigInt.asIntN(64, eventTime ?? 0n);
    return ours || t !== 0n ? t : publishTime;
  };
  if (metadata.encryptionKeys !== undefined && metadata.encryptionKeys.length > 0) {
    const max = options?.maxRecords ?? Math.max(1, payload.length);
    if (n < 0 || n > max) throw new EntryFormatError(`an encrypted entry of ${payload.length} bytes cannot hold ${n} messages`);
    for (let i = 0; i < n; i++) {
      records.push({ key: null, value: null, timestamp: publishTime, headers: [{ key: UNDECODABLE_HEADER, value: 'encrypted' }], offsetDelta: i });
    }
  } else if (!batched) {
    records.push({
      key: keyOf(metadata),
      value: metadata.nullValue ? null : payload,
      headers: plainHeaders(metadata.properties),
      timestamp: timeOf(metadata.eventTime),
      offsetDelta: 0,
    });
  } else {
    let entries;
    try {
      entries = decodeBatch(payload, n);
    } catch (err) {
      throw new EntryFormatError(`Pulsar batch payload: ${(err as Error).message}`, { cause: err });
    }
    for (let i = 0; i < n; i++) {
      const e = entries[i]!;
      const m: SingleMessageMetadata = e.metadata;
      if (m.compactedOut) continue;
      records.push({
        key: keyOf(m),
        value: m.nullValue ? null : e.payload,
        headers: ours ? ourHeaders(m.properties) : plainHeaders(m.properties),
        timestamp: timeOf(m.eventTime),
        offsetDelta: i,
      });
    }
  }
  let max = records.length > 0 ? (records[0]!.timestamp as bigint) : -1n;
  for (const r of records) if ((r.timestamp as bigint) > max) max = r.timestamp as bigint;
  const attributes = fields?.attributes ?? 0;
  return encodeBatchSync({
    records,
    baseOffset,
    lastOffsetDelta: Math.max(0, n - 1),
    baseTimestamp: fields?.baseTimestamp ?? (records.length > 0 ? (records[0]!.timestamp as bigint) : -1n),
    maxTimestamp: fields?.maxTimestamp ?? max,
    timestampType: attributes & ATTR_TIMESTAMP_TYPE_LOG_APPEND ? 1 : 0,
    transactional: (attributes & 0x10) !== 0,
    isControl: (attributes & 0x20) !== 0,
    producerId: fields?.producerId ?? NO_PRODUCER_ID,
    producerEpoch: fields?.producerEpoch ?? -1,
    baseSequence: fields?.baseSequence ?? NO_SEQUENCE,
    partitionLeaderEpoch: fields?.partitionLeaderEpoch ?? -1,
  });
}
