/**
 * How one Kafka produce batch becomes ONE Pulsar entry, and how a Pulsar entry
 * becomes Kafka record batch bytes for a Fetch response (config `entryFormat`).
 *
 *   kafka   the payload is the Kafka batch exactly as it arrived (encode copies
 *           nothing); metadata: property kafka.entry.format=kafka,
 *           num_messages_in_batch = record count, event_time = the batch's
 *           base timestamp (when > 0). Reading patches the batch's baseOffset
 *           IN PLACE in the payload given to decodeEntry (the CRC does not
 *           cover it; patching is idempotent since an entry's offset never
 *           changes; pass { copy: true } to leave the payload untouched).
 *           partitionLeaderEpoch, attributes, timestamps stay as written.
 *           Pulsar consumers cannot read these entries (num_messages_in_batch
 *           makes them parse the Kafka bytes as a Pulsar batch); only we can.
 *   pulsar  one Pulsar batch message per Kafka record, readable by every Pulsar
 *           consumer: see entry-pulsar.ts for the mapping of keys, values,
 *           headers and timestamps. A compressed Kafka batch becomes a Pulsar
 *           batch compressed with the matching codec (gzip -> ZLIB, snappy ->
 *           SNAPPY, lz4 -> LZ4, zstd -> ZSTD; entry-compression.ts), so what is
 *           stored stays about as small as what the producer sent; an
 *           uncompressed one stays uncompressed (option `compression` overrides).
 *
 * Reading accepts any entry: ours in either format, or a plain Pulsar producer's
 * (batched or not, any CompressionType). Entries that are not kafka-format come
 * back as ONE Kafka batch with offsets baseOffset .. baseOffset +
 * entryRecordCount - 1, compressed with the Kafka codec matching the entry's
 * (ZLIB -> gzip, SNAPPY -> snappy, LZ4 -> lz4, ZSTD -> zstd): so a batch comes
 * back compressed as it was produced (or as compression.type made it), and
 * consumers with decompressed-size bounds or pooled buffers, and every
 * consumer's bandwidth, see what Kafka would send. An uncompressed entry comes
 * back uncompressed. decodeEntry compresses with the async codecs and converts
 * entries of 256 KiB and more on a worker thread (entry-offload.ts), so large
 * batches do not hold the event loop; decodeEntrySync does all on the caller's thread.
 *
 * Sync / async: encodeEntry is synchronous (the kafka format is a few header
 * reads; the pulsar format decompresses / compresses with the sync codecs);
 * encodeEntryAsync does the same with codecs that keep the event loop free for
 * large batches. decodeEntry returns a Buffer when no decompression is needed
 * and a Promise otherwise (async codecs, or the worker); decodeEntrySync is always synchronous.
 */
import { KafkaError } from '../../protocol/errors.js';
import {
  DEFAULT_MAX_UNCOMPRESSED_BYTES,
  openRecords,
  openRecordsSync,
  readBatchHeader,
  type BatchHeader,
  type RecordsSection,
} from '../../protocol/records/records.js';
import {
  ATTR_COMPRESSION_MASK,
  BATCH_HEADER_SIZE,
  checkBatch,
  LOG_OVERHEAD,
  OFF_ATTRIBUTES,
  OFF_BATCH_LENGTH,
  OFF_LAST_OFFSET_DELTA,
  setBaseOffset,
  updateCrc,
} from '../../protocol/records/batch-header.js';
import {
  CODEC_GZIP,
  CODEC_LZ4,
  CODEC_NONE,
  CODEC_SNAPPY,
  CODEC_ZSTD,
  compress as kafkaCompress,
  compressSync as kafkaCompressSync,
} from '../../protocol/compression/index.js';
import { CompressionType, type KeyValue, type MessageMetadata } from '../../pulsar/proto/index.js';
import {
  compressionName,
  EntryFormatError,
  pulsarCodecFor,
  pulsarCompress,
  pulsarCompressSync,
  pulsarDecompress,
  pulsarDecompressSync,
} from './entry-compression.js';
import { FORMAT_KEY, pulsarEntryToBatch, recordsToPulsarBatch, type PulsarBatch } from './entry-pulsar.js';
import { convertPulsarEntry } from './entry-offload.js';

export { EntryFormatError, pulsarCodecFor } from './entry-compression.js';
export {
  BATCH_ATTRIBUTES_KEY,
  BATCH_BASE_TIMESTAMP_KEY,
  BATCH_LEADER_EPOCH_KEY,
  BATCH_MAX_TIMESTAMP_KEY,
  BATCH_PRODUCER_KEY,
  FORMAT_KEY,
  HEADERS_ENCODING_KEY,
  UNDECODABLE_HEADER,
} from './entry-pulsar.js';

export type EntryFormat = 'kafka' | 'pulsar';

export interface EncodedEntry {
  metadata: Partial<MessageMetadata>;
  payload: Buffer;
  numMessages: number;
}

export interface EncodeOptions {
  /**
   * pulsar format only: the Pulsar codec of the entry; 'same' (default) = the
   * one matching the Kafka batch's codec (NONE for an uncompressed batch).
   */
  compression?: 'same' | CompressionType;
  /** bound on a compressed Kafka batch's records once decompressed (default 64 MiB) */
  maxUncompressedBytes?: number;
  /**
   * pulsar format: the batch's records section as validation already
   * decompressed it (a ValidatedBatch's `decompressed`), so it is not
   * decompressed a second time; null/absent: read from the batch.
   */
  records?: RecordsSection | null;
}

export interface DecodeOptions {
  /** bound on a compressed payload once decompressed (default 64 MiB) */
  maxUncompressedBytes?: number;
  /** kafka format: patch a copy of the payload instead of the payload itself (default false) */
  copy?: boolean;
}

/** How an entry was written: by us in one of the formats, or by a plain Pulsar producer. */
export function entryFormatOf(metadata: Pick<MessageMetadata, 'properties'>): EntryFormat | 'plain' {
  const props = metadata.properties;
  if (props !== undefined) {
    for (const p of props) {
      if (p.key === FORMAT_KEY) {
        if (p.value === 'kafka' || p.value === 'pulsar') return p.value;
        break;
      }
    }
  }
  return 'plain';
}

/** How many Kafka records (= broker entry index slots) the entry occupies. */
export function entryRecordCount(metadata: Pick<MessageMetadata, 'numMessagesInBatch'>): number {
  return metadata.numMessagesInBatch ?? 1;
}

/** Checks that `batch` is exactly one v2 batch whose records fill offsets 0..n-1; returns n. */
function checkOne(batch: Buffer): number {
  const problem = checkBatch(batch, 0, batch.length, false);
  if (problem !== null) throw new EntryFormatError(`not a Kafka v2 record batch: ${problem}`);
  const size = batch.readInt32BE(8) + LOG_OVERHEAD;
  if (size !== batch.length) throw new EntryFormatError(`expected exactly one record batch, got ${batch.length - size} bytes after the first`);
  const n = batch.readInt32BE(57);
  if (n === 0) throw new EntryFormatError('an empty record batch cannot be stored');
  if (batch.readInt32BE(OFF_LAST_OFFSET_DELTA) !== n - 1) {
    throw new EntryFormatError(`record count ${n} does not fill offset deltas 0..${batch.readInt32BE(OFF_LAST_OFFSET_DELTA)}`);
  }
  return n;
}

function kafkaEntry(batch: Buffer, n: number): EncodedEntry {
  const properties: KeyValue[] = [{ key: FORMAT_KEY, value: 'kafka' }];
  const metadata: Partial<MessageMetadata> = { properties, numMessagesInBatch: n };
  const baseTimestamp = batch.readBigInt64BE(27);
  if (baseTimestamp > 0n) metadata.eventTime = baseTimestamp;
  return { metadata, payload: batch, numMessages: n };
}

function pulsarEntry(h: BatchHeader, b: PulsarBatch, codec: CompressionType, compressed: Buffer): EncodedEntry {
  const metadata: Partial<MessageMetadata> = { properties: b.properties, numMessagesInBatch: h.recordCount };
  if (codec !== CompressionType.NONE) {
    metadata.compression = codec;
    metadata.uncompressedSize = b.payload.length;
  }
  return { metadata, payload: compressed, numMessages: h.recordCount };
}

function codecOf(h: BatchHeader, options: EncodeOptions | undefined): CompressionType {
  const c = options?.compression ?? 'same';
  return c === 'same' ? pulsarCodecFor(h.compression) : c;
}

function readOptions(options: { maxUncompressedBytes?: number } | undefined) {
  return { verifyCrc: false, maxUncompressedBytes: options?.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES };
}

/**
 * One Kafka v2 record batch (exactly one, already validated: the CRC is not
 * checked again) -> one Pulsar entry. The metadata never sets producerName,
 * sequenceId or publishTime (the producer does).
 */
export function encodeEntry(format: EntryFormat, batch: Buffer, options?: EncodeOptions): EncodedEntry {
  const n = checkOne(batch);
  if (format === 'kafka') return kafkaEntry(batch, n);
  const h = readBatchHeader(batch);
  const section: RecordsSection = options?.records ?? openRecordsSync(batch, 0, readOptions(options));
  const b = recordsToPulsarBatch(h, section);
  const codec = codecOf(h, options);
  return pulsarEntry(h, b, codec, pulsarCompressSync(codec, b.payload));
}

/** encodeEntry with (de)compression that does not block the event loop on large batches. */
export async function encodeEntryAsync(format: EntryFormat, batch: Buffer, options?: EncodeOptions): Promise<EncodedEntry> {
  const n = checkOne(batch);
  if (format === 'kafka') return kafkaEntry(batch, n);
  const h = readBatchHeader(batch);
  const section = options?.records ?? (await openRecords(batch, 0, readOptions(options)));
  const b = recordsToPulsarBatch(h, section);
  const codec = codecOf(h, options);
  return pulsarEntry(h, b, codec, await pulsarCompress(codec, b.payload));
}

/** Patch the base offsets of the batch(es) of a kafka-format payload. */
function patchKafka(metadata: MessageMetadata, payload: Buffer, baseOffset: bigint, copy: boolean): Buffer {
  const out = copy ? Buffer.from(payload) : payload;
  let pos = 0;
  let next = baseOffset;
  while (pos < out.length) {
    const problem = checkBatch(out, pos, out.length, false);
    if (problem !== null) throw new EntryFormatError(`kafka-format entry: bad record batch at byte ${pos}: ${problem}`);
    setBaseOffset(out, next, pos);
    next += BigInt(out.readInt32BE(pos + OFF_LAST_OFFSET_DELTA) + 1);
    pos += out.readInt32BE(pos + 8) + LOG_OVERHEAD;
  }
  const slots = Number(next - baseOffset);
  if (slots !== entryRecordCount(metadata)) {
    throw new EntryFormatError(`kafka-format entry: its batches span ${slots} offsets, num_messages_in_batch says ${entryRecordCount(metadata)}`);
  }
  return out;
}

function fromUncompressed(metadata: MessageMetadata, payload: Buffer, baseOffset: bigint, copy: boolean): Buffer {
  try {
    const format = entryFormatOf(metadata);
    if (format === 'kafka') return patchKafka(metadata, payload, baseOffset, copy);
    return pulsarEntryToBatch(metadata, payload, baseOffset, format === 'pulsar');
  } catch (err) {
    if (err instanceof KafkaError) throw err;
    throw new EntryFormatError((err as Error).message ?? String(err), { cause: err });
  }
}

/** fromUncompressed, with large pulsar-format / plain entries converted off the event loop (entry-offload.ts). */
function fromUncompressedAsync(metadata: MessageMetadata, payload: Buffer, baseOffset: bigint, copy: boolean): Buffer | Promise<Buffer> {
  const format = entryFormatOf(metadata);
  if (format === 'kafka' || isEncrypted(metadata)) return fromUncompressed(metadata, payload, baseOffset, copy);
  return convertPulsarEntry(metadata, payload, baseOffset, format === 'pulsar');
}

function isEncrypted(metadata: MessageMetadata): boolean {
  return metadata.encryptionKeys !== undefined && metadata.encryptionKeys.length > 0;
}

function compressionOf(metadata: MessageMetadata): CompressionType {
  const c = metadata.compression ?? CompressionType.NONE;
  if (!(Object.values(CompressionType) as number[]).includes(c)) throw new EntryFormatError(`unknown Pulsar compression ${compressionName(c)}`);
  return c;
}

/**
 * One Pulsar entry (metadata + payload as received, from any producer) ->
 * Kafka v2 record batch bytes whose first offset is baseOffset and which hold
 * exactly the entry's messages. A Buffer when no decompression is needed, else
 * a Promise. Bad entries throw (or reject with) a KafkaError: EntryFormatError
 * or CompressionError (CORRUPT_MESSAGE / MESSAGE_TOO_LARGE).
 */
export function decodeEntry(metadata: MessageMetadata, payload: Buffer, baseOffset: bigint, options?: DecodeOptions): Buffer | Promise<Buffer> {
  const c = compressionOf(metadata);
  // encrypted payloads cannot be decompressed (compression comes before encryption)
  if (c === CompressionType.NONE || isEncrypted(metadata)) return fromUncompressedAsync(metadata, payload, baseOffset, options?.copy ?? false);
  const max = options?.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES;
  return pulsarDecompress(c, payload, metadata.uncompressedSize ?? 0, max).then(async (raw) => {
    const batch = await fromUncompressedAsync(metadata, raw, baseOffset, false);
    if (entryFormatOf(metadata) === 'kafka') return batch;
    const codec = kafkaCodecFor(c);
    return withCompressedRecords(batch, codec, await kafkaCompress(codec, batch.subarray(BATCH_HEADER_SIZE)));
  });
}

/** decodeEntry, always synchronous. */
export function decodeEntrySync(metadata: MessageMetadata, payload: Buffer, baseOffset: bigint, options?: DecodeOptions): Buffer {
  const c = compressionOf(metadata);
  if (c === CompressionType.NONE || isEncrypted(metadata)) return fromUncompressed(metadata, payload, baseOffset, options?.copy ?? false);
  const raw = pulsarDecompressSync(c, payload, metadata.uncompressedSize ?? 0, options?.maxUncompressedBytes ?? DEFAULT_MAX_UNCOMPRESSED_BYTES);
  const batch = fromUncompressed(metadata, raw, baseOffset, false);
  if (entryFormatOf(metadata) === 'kafka') return batch;
  const codec = kafkaCodecFor(c);
  return withCompressedRecords(batch, codec, kafkaCompressSync(codec, batch.subarray(BATCH_HEADER_SIZE)));
}

/** The Kafka codec id matching a Pulsar entry codec (the inverse of pulsarCodecFor). */
export function kafkaCodecFor(c: CompressionType): number {
  switch (c) {
    case CompressionType.ZLIB:
      return CODEC_GZIP;
    case CompressionType.SNAPPY:
      return CODEC_SNAPPY;
    case CompressionType.LZ4:
      return CODEC_LZ4;
    case CompressionType.ZSTD:
      return CODEC_ZSTD;
    default:
      return CODEC_NONE;
  }
}

/** An uncompressed single batch with its records section replaced by `compressed` (codec `codec`): new length, attributes, CRC. */
function withCompressedRecords(batch: Buffer, codec: number, compressed: Buffer): Buffer {
  if (codec === CODEC_NONE) return batch;
  const out = Buffer.allocUnsafe(BATCH_HEADER_SIZE + compressed.length);
  batch.copy(out, 0, 0, BATCH_HEADER_SIZE);
  compressed.copy(out, BATCH_HEADER_SIZE);
  out.writeInt32BE(out.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  out.writeInt16BE((out.readInt16BE(OFF_ATTRIBUTES) & ~ATTR_COMPRESSION_MASK) | codec, OFF_ATTRIBUTES);
  updateCrc(out, 0);
  return out;
}
