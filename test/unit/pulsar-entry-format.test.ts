/**
 * Entry formats of the Pulsar storage engine (src/storage/pulsar/entry-format.ts):
 * Kafka batch -> Pulsar entry -> Kafka batch in both formats and every codec,
 * plain Pulsar entries (batched or not, every CompressionType), and interop
 * with Apache Pulsar's own Java code: Pulsar's codecs and batch reader
 * (CompressionCodecProvider, Commands.deSerializeSingleMessageInBatch and
 * MessageParser, which Pulsar's readers use) read our pulsar-format entries,
 * and entries built the way Pulsar's Java producer builds them
 * (Commands.serializeSingleMessageInBatchWithPayload + its codecs) decode here.
 *
 * The Java part needs java and the Pulsar 3.0.7 jars of scripts/pulsar/fetch-pulsar.sh
 * (.ci/run fetches them): without them it is skipped with the reason in the
 * test name, except in strict mode (CI=true / KOP_HARNESS_STRICT=1) where it fails.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { createRequire } from 'node:module';
import {
  decodeBatchSync,
  encodeBatchSync,
  recordTimestamp,
  TimestampType,
  type DecodedBatch,
  type RecordInput,
} from '../../src/protocol/records/index.js';
import { stampLogAppendTime } from '../../src/protocol/records/batch-header.js';
import { compressSync } from '../../src/protocol/compression/index.js';
import { CompressionType, MessageMetadata, type KeyValue } from '../../src/pulsar/proto/index.js';
import { encodeBatch as encodePulsarBatch, decodeBatch as decodePulsarBatch, type BatchEntryInput } from '../../src/pulsar/wire/index.js';
import {
  decodeEntry,
  decodeEntrySync,
  encodeEntry,
  encodeEntryAsync,
  entryFormatOf,
  entryRecordCount,
  EntryFormatError,
  HEADERS_ENCODING_KEY,
  UNDECODABLE_HEADER,
  type EncodedEntry,
} from '../../src/storage/pulsar/entry-format.js';
import { pulsarCompressSync, pulsarDecompressSync } from '../../src/storage/pulsar/entry-compression.js';
import { OFFLOAD_MIN_BYTES } from '../../src/storage/pulsar/entry-offload.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import { DEFAULT_PULSAR_BROKER_VERSION } from '../helpers/pulsar.js';

const KAFKA_CODECS = [
  ['none', 0, CompressionType.NONE],
  ['gzip', 1, CompressionType.ZLIB],
  ['snappy', 2, CompressionType.SNAPPY],
  ['lz4', 3, CompressionType.LZ4],
  ['zstd', 4, CompressionType.ZSTD],
] as const;
const PULSAR_CODECS = ['NONE', 'LZ4', 'ZLIB', 'ZSTD', 'SNAPPY'] as const;

const T = 1_700_000_000_000;
const RECORDS: RecordInput[] = [
  { key: 'k-utf8 ✓', value: 'v0', headers: [{ key: 'h', value: '1' }, { key: 'h', value: '2' }, { key: 'z', value: '' }], timestamp: T },
  { key: Buffer.from([0xff, 0x00, 0xfe]), value: Buffer.from([0, 1, 2, 0xff]), timestamp: T + 5 },
  { key: null, value: null, timestamp: T - 3 },
  { key: '', value: '', headers: [{ key: 'n', value: null }, { key: 'b', value: Buffer.from([0xc3, 0x28]) }, { key: 'ok', value: 'ü' }], timestamp: T + 1 },
  { key: 'big', value: 'abc'.repeat(2000), headers: [{ key: HEADERS_ENCODING_KEY, value: 'looks like ours' }], timestamp: T + 100 },
  { key: 'zero', value: 'z', timestamp: 0 },
  { key: 'neg', value: 'n', timestamp: -1 },
];

const buf = (b: RecordInput['value']): Buffer | null => (b === null || b === undefined ? null : Buffer.from(b as string | Buffer));

function expectRecords(got: DecodedBatch, want: RecordInput[], what: string): void {
  assert.equal(got.records.length, want.length, `${what}: record count`);
  got.records.forEach((r, i) => {
    const w = want[i]!;
    assert.deepEqual(r.key, buf(w.key), `${what}: record ${i} key`);
    assert.deepEqual(r.value, buf(w.value), `${what}: record ${i} value`);
    assert.deepEqual(
      r.headers,
      (w.headers ?? []).map((h) => ({ key: h.key, value: buf(h.value) })),
      `${what}: record ${i} headers`,
    );
    if (w.timestamp !== undefined) assert.equal(recordTimestamp(got, r.timestampDelta), BigInt(w.timestamp), `${what}: record ${i} timestamp`);
    assert.equal(r.offsetDelta, i, `${what}: record ${i} offset delta`);
  });
}

/** The metadata as a Pulsar broker would hand it back: what we set plus the producer's fields. */
function asReceived(e: EncodedEntry, publishTime = 1_700_000_009_999n): MessageMetadata {
  return MessageMetadata.decode(MessageMetadata.encode({ producerName: 'p', sequenceId: 1n, publishTime, ...e.metadata }));
}

async function bothDecodes(md: MessageMetadata, payload: Buffer, baseOffset: bigint): Promise<Buffer> {
  const sync = decodeEntrySync(md, Buffer.from(payload), baseOffset);
  const async = await decodeEntry(md, Buffer.from(payload), baseOffset);
  assert.deepEqual(async, sync, 'decodeEntry and decodeEntrySync agree');
  return sync;
}

// ---------------------------------------------------------------- kafka format

test('kafka format: the payload IS the batch (no copy); metadata marks the format and counts records', () => {
  const batch = encodeBatchSync({ records: RECORDS, compression: 4 });
  const e = encodeEntry('kafka', batch);
  assert.equal(e.payload, batch);
  assert.equal(e.numMessages, RECORDS.length);
  assert.deepEqual(e.metadata, { properties: [{ key: 'kafka.entry.format', value: 'kafka' }], numMessagesInBatch: RECORDS.length, eventTime: BigInt(T) });
  assert.equal(entryFormatOf(asReceived(e)), 'kafka');
  assert.equal(entryRecordCount(asReceived(e)), RECORDS.length);
});

test('kafka format: decoding patches baseOffset in place (CRC still valid), or a copy with { copy: true }', async () => {
  for (const [name, codec] of KAFKA_CODECS) {
    const batch = encodeBatchSync({ records: RECORDS, compression: codec, partitionLeaderEpoch: 3, producerId: 9n, producerEpoch: 1, baseSequence: 0 });
    const original = Buffer.from(batch);
    const e = encodeEntry('kafka', batch);
    const md = asReceived(e);
    const copy = decodeEntrySync(md, e.payload, 500n, { copy: true });
    assert.deepEqual(e.payload, original, `${name}: untouched with copy`);
    const out = decodeEntrySync(md, e.payload, 1000n);
    assert.equal(out, e.payload, `${name}: patched in place`);
    assert.equal(out.readBigInt64BE(0), 1000n);
    assert.equal(copy.readBigInt64BE(0), 500n);
    assert.deepEqual(out.subarray(8), original.subarray(8), `${name}: nothing but the base offset changes`);
    const d = decodeBatchSync(out); // verifies the CRC
    assert.equal(d.baseOffset, 1000n);
    assert.equal(d.partitionLeaderEpoch, 3);
    expectRecords(d, RECORDS, `kafka ${name}`);
    assert.equal(await decodeEntry(md, e.payload, 1000n), out);
  }
});

test('kafka format: rejects what is not exactly one non-empty v2 batch', () => {
  const one = encodeBatchSync({ records: [{ value: 'a' }] });
  assert.throws(() => encodeEntry('kafka', Buffer.concat([one, one])), EntryFormatError);
  assert.throws(() => encodeEntry('pulsar', Buffer.concat([one, one])), EntryFormatError);
  assert.throws(() => encodeEntry('kafka', one.subarray(0, 40)), EntryFormatError);
  assert.throws(() => encodeEntry('kafka', encodeBatchSync({ records: [] })), /empty/);
  assert.throws(() => encodeEntry('kafka', encodeBatchSync({ records: [{ value: 'a', offsetDelta: 1 }] })), /offset deltas/);
  // a kafka-format entry whose batch does not match num_messages_in_batch
  const md = asReceived(encodeEntry('kafka', one));
  assert.throws(() => decodeEntrySync({ ...md, numMessagesInBatch: 2 }, one, 0n), /span 1 offsets/);
  assert.throws(() => decodeEntrySync(md, Buffer.from('not a batch'), 0n), EntryFormatError);
});

// --------------------------------------------------------------- pulsar format

for (const [name, codec, pulsarCodec] of KAFKA_CODECS) {
  test(`pulsar format, Kafka ${name}: records, keys, values, headers, timestamps round trip; Pulsar codec ${pulsarCodec}`, async () => {
    const batch = encodeBatchSync({ records: RECORDS, compression: codec });
    const e = encodeEntry('pulsar', batch);
    assert.deepEqual(await encodeEntryAsync('pulsar', batch), e, 'encodeEntryAsync gives the same entry');
    assert.equal(e.numMessages, RECORDS.length);
    assert.equal(e.metadata.numMessagesInBatch, RECORDS.length);
    assert.equal(e.metadata.compression, pulsarCodec === CompressionType.NONE ? undefined : pulsarCodec);
    assert.equal(e.metadata.producerName ?? e.metadata.sequenceId ?? e.metadata.publishTime, undefined);
    assert.deepEqual(e.metadata.properties, [{ key: 'kafka.entry.format', value: 'pulsar' }]);
    const md = asReceived(e);
    assert.equal(entryFormatOf(md), 'pulsar');
    const d = decodeBatchSync(await bothDecodes(md, e.payload, 42n));
    assert.equal(d.baseOffset, 42n);
    assert.equal(d.compression, codec, 'read back compressed with the codec it was produced with');
    assert.equal(d.lastOffsetDelta, RECORDS.length - 1);
    assert.equal(d.producerId, -1n);
    const src = decodeBatchSync(batch);
    assert.equal(d.baseTimestamp, src.baseTimestamp);
    assert.equal(d.maxTimestamp, src.maxTimestamp);
    assert.equal(d.timestampType, TimestampType.CreateTime);
    expectRecords(d, RECORDS, `pulsar ${name}`);
    if (codec !== 0) assert.ok(e.payload.length < 3000, `compressed (${e.payload.length} bytes)`);
  });
}

test('pulsar format: the Pulsar messages (key, b64 flag, null value, properties, event_time)', () => {
  const e = encodeEntry('pulsar', encodeBatchSync({ records: RECORDS }));
  const msgs = decodePulsarBatch(e.payload, RECORDS.length);
  const m = msgs.map((x) => x.metadata);
  assert.equal(m[0]!.partitionKey, 'k-utf8 ✓');
  assert.equal(m[0]!.partitionKeyB64Encoded, undefined);
  assert.deepEqual(m[0]!.properties, [{ key: 'h', value: '1' }, { key: 'h', value: '2' }, { key: 'z', value: '' }]);
  assert.equal(m[0]!.eventTime, BigInt(T));
  assert.equal(m[1]!.partitionKey, Buffer.from([0xff, 0x00, 0xfe]).toString('base64'));
  assert.equal(m[1]!.partitionKeyB64Encoded, true);
  assert.equal(m[2]!.partitionKey, undefined, 'null key: no key');
  assert.equal(m[2]!.nullValue, true);
  assert.equal(msgs[2]!.payload.length, 0);
  assert.equal(m[3]!.partitionKey, '');
  assert.equal(m[3]!.nullValue, undefined, 'empty value is not null');
  assert.deepEqual(m[3]!.properties, [
    { key: 'n', value: '' },
    { key: 'b', value: Buffer.from([0xc3, 0x28]).toString('base64') },
    { key: 'ok', value: 'ü' },
    { key: HEADERS_ENCODING_KEY, value: '0n,1b' },
  ]);
  assert.deepEqual(m[4]!.properties, [{ key: HEADERS_ENCODING_KEY, value: 'looks like ours' }, { key: HEADERS_ENCODING_KEY, value: '' }]);
  assert.equal(m[5]!.eventTime, 0n);
  assert.equal(m[6]!.eventTime, (1n << 64n) - 1n, '-1 as the uint64 Java reads back as -1L');
  assert.equal(m[6]!.properties, undefined);
});

test('pulsar format: LogAppendTime, transactional producer fields, leader epoch, odd base timestamp round trip', async () => {
  const records = RECORDS.slice(0, 4);
  const batch = encodeBatchSync({ records, compression: 3, producerId: 1234n, producerEpoch: 5, baseSequence: 10, transactional: true, partitionLeaderEpoch: 7 });
  stampLogAppendTime(batch, BigInt(T + 999_999));
  const e = encodeEntry('pulsar', batch);
  const d = decodeBatchSync(await bothDecodes(asReceived(e), e.payload, 0n));
  const src = decodeBatchSync(batch);
  assert.equal(d.timestampType, TimestampType.LogAppendTime);
  for (const k of ['baseTimestamp', 'maxTimestamp', 'producerId', 'producerEpoch', 'baseSequence', 'transactional', 'isControl', 'partitionLeaderEpoch', 'recordCount'] as const) {
    assert.equal(d[k], src[k], k);
  }
  // what a Kafka consumer sees: the append time for every record
  for (const r of d.records) assert.equal(recordTimestamp(d, r.timestampDelta), BigInt(T + 999_999));
  // lz4 as produced, and the exact records of the batch once decompressed (records keep their create-time deltas)
  assert.equal(d.compression, 3);
  const same = encodeBatchSync({ records, producerId: 1234n, producerEpoch: 5, baseSequence: 10, transactional: true, partitionLeaderEpoch: 7 });
  stampLogAppendTime(same, BigInt(T + 999_999));
  const back = await bothDecodes(asReceived(e), e.payload, 0n);
  const records2 = decodeBatchSync(back).records;
  assert.deepEqual(records2, decodeBatchSync(same).records);

  // a base timestamp that is not the first record's (deltas relative to it)
  const odd = encodeBatchSync({ records: [{ value: 'a', timestampDelta: 10 }, { value: 'b', timestampDelta: 4 }], baseTimestamp: 1000, maxTimestamp: 1010 });
  const e2 = encodeEntry('pulsar', odd);
  assert.deepEqual(decodeEntrySync(asReceived(e2), e2.payload, 0n), odd, 'byte-identical');
});

test('pulsar format: option compression overrides the codec (ZSTD for an uncompressed batch, NONE for a gzip one)', () => {
  const plain = encodeBatchSync({ records: RECORDS });
  const z = encodeEntry('pulsar', plain, { compression: CompressionType.ZSTD });
  assert.equal(z.metadata.compression, CompressionType.ZSTD);
  assert.ok(z.metadata.uncompressedSize! > z.payload.length);
  expectRecords(decodeBatchSync(decodeEntrySync(asReceived(z), z.payload, 0n)), RECORDS, 'zstd override');
  const n = encodeEntry('pulsar', encodeBatchSync({ records: RECORDS, compression: 1 }), { compression: CompressionType.NONE });
  assert.equal(n.metadata.compression, undefined);
  expectRecords(decodeBatchSync(decodeEntrySync(asReceived(n), n.payload, 0n)), RECORDS, 'none override');
});

test('pulsar format: random batches round trip (keys, values, headers of random bytes)', () => {
  let seed = 12345;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => (rnd(4) === 0 ? 0x41 + rnd(26) : rnd(256))));
  for (let round = 0; round < 60; round++) {
    const records: RecordInput[] = Array.from({ length: 1 + rnd(20) }, () => ({
      key: rnd(4) === 0 ? null : bytes(rnd(12)),
      value: rnd(5) === 0 ? null : bytes(rnd(300)),
      headers: Array.from({ length: rnd(4) }, () => ({ key: ['a', 'b', 'kafka.headers.encoding', 'ä'][rnd(4)]!, value: rnd(3) === 0 ? null : bytes(rnd(10)) })),
      timestamp: T + rnd(100000) - 50000,
    }));
    const codec = rnd(5);
    const e = encodeEntry('pulsar', encodeBatchSync({ records, compression: codec }));
    expectRecords(decodeBatchSync(decodeEntrySync(asReceived(e), e.payload, BigInt(round))), records, `round ${round} codec ${codec}`);
  }
});

// ------------------------------------------------------------- plain Pulsar

const PUBLISH = 1_700_000_009_999n;
const plainMd = (m: Partial<MessageMetadata>): MessageMetadata => ({ producerName: 'java', sequenceId: 3n, publishTime: PUBLISH, ...m });

/** Messages as a Pulsar Java producer sets them, and the Kafka record each must become. */
const PLAIN: Array<{ md: BatchEntryInput['metadata']; payload: Buffer; want: RecordInput }> = [
  {
    md: { partitionKey: 'k1', properties: [{ key: 'a', value: '1' }, { key: 'b', value: 'ü' }], eventTime: BigInt(T + 1) },
    payload: Buffer.from('v1'),
    want: { key: 'k1', value: 'v1', headers: [{ key: 'a', value: '1' }, { key: 'b', value: 'ü' }], timestamp: T + 1 },
  },
  {
    md: { partitionKey: Buffer.from([0xff, 0, 1]).toString('base64'), partitionKeyB64Encoded: true },
    payload: Buffer.from([0, 1, 2]),
    want: { key: Buffer.from([0xff, 0, 1]), value: Buffer.from([0, 1, 2]), timestamp: Number(PUBLISH) },
  },
  { md: { nullValue: true, eventTime: 5n }, payload: Buffer.alloc(0), want: { key: null, value: null, timestamp: 5 } },
  { md: { partitionKey: 'x', nullPartitionKey: true, eventTime: 0n }, payload: Buffer.alloc(0), want: { key: null, value: '', timestamp: Number(PUBLISH) } },
  { md: { partitionKey: 'big' }, payload: Buffer.from('abc'.repeat(3000)), want: { key: 'big', value: 'abc'.repeat(3000), timestamp: Number(PUBLISH) } },
];

const snappy = createRequire(import.meta.url)('snappy') as { compressSync(b: Buffer): Buffer };
/** Compressed independently of entry-compression.ts where a library can (zlib, snappy, zstd). */
function independentCompress(c: (typeof PULSAR_CODECS)[number], data: Buffer): Buffer {
  switch (c) {
    case 'ZLIB':
      return zlib.deflateSync(data);
    case 'SNAPPY':
      return snappy.compressSync(data);
    case 'ZSTD':
      return compressSync(4, data);
    default:
      return pulsarCompressSync(CompressionType[c], data);
  }
}

for (const c of PULSAR_CODECS) {
  test(`plain Pulsar entries, ${c}: batched and single messages become Kafka records`, async () => {
    const payload = encodePulsarBatch(PLAIN.map((p) => ({ metadata: p.md, payload: p.payload })));
    const compression = CompressionType[c];
    const md = plainMd({ numMessagesInBatch: PLAIN.length, ...(c === 'NONE' ? {} : { compression, uncompressedSize: payload.length }) });
    assert.equal(entryFormatOf(md), 'plain');
    assert.equal(entryRecordCount(md), PLAIN.length);
    const d = decodeBatchSync(await bothDecodes(md, independentCompress(c, payload), 77n));
    assert.equal(d.baseOffset, 77n);
    assert.equal(d.producerId, -1n);
    assert.equal(d.timestampType, TimestampType.CreateTime);
    expectRecords(d, PLAIN.map((p) => p.want), `batch ${c}`);
    for (const [i, p] of PLAIN.entries()) {
      const single = plainMd({ ...p.md, ...(c === 'NONE' ? {} : { compression, uncompressedSize: p.payload.length }) });
      assert.equal(entryRecordCount(single), 1);
      const one = decodeBatchSync(await bothDecodes(single, independentCompress(c, p.payload), BigInt(i)));
      assert.equal(one.baseOffset, BigInt(i));
      expectRecords(one, [p.want], `single ${i} ${c}`);
    }
  });
}

test('plain Pulsar: a batch of one is still a batch; compacted-out messages leave an offset gap', () => {
  const payload = encodePulsarBatch([{ metadata: { partitionKey: 'only' }, payload: Buffer.from('x') }]);
  const d = decodeBatchSync(decodeEntrySync(plainMd({ numMessagesInBatch: 1 }), payload, 5n));
  assert.deepEqual(d.records[0]!.key, Buffer.from('only'));
  const three = encodePulsarBatch(['a', 'b', 'c'].map((v, i) => ({ metadata: { compactedOut: i === 1 }, payload: Buffer.from(v) })));
  const c = decodeBatchSync(decodeEntrySync(plainMd({ numMessagesInBatch: 3 }), three, 10n));
  assert.deepEqual(c.records.map((r) => [r.offsetDelta, r.value!.toString()]), [[0, 'a'], [2, 'c']]);
  assert.equal(c.lastOffsetDelta, 2, 'the entry still spans 3 offsets');
});

test('plain Pulsar: encrypted entries become placeholder records (null value, pulsar.undecodable header)', () => {
  const md = plainMd({ numMessagesInBatch: 2, compression: CompressionType.LZ4, uncompressedSize: 100, encryptionKeys: [{ key: 'k', value: Buffer.from('x') }] });
  const d = decodeBatchSync(decodeEntrySync(md, Buffer.alloc(64, 7), 0n));
  assert.equal(d.records.length, 2);
  for (const r of d.records) {
    assert.equal(r.value, null);
    assert.deepEqual(r.headers, [{ key: UNDECODABLE_HEADER, value: Buffer.from('encrypted') }]);
  }
});

test('corrupt or oversized Pulsar payloads fail with a KafkaError, never a crash', async () => {
  const payload = encodePulsarBatch(PLAIN.map((p) => ({ metadata: p.md, payload: p.payload })));
  const bad: Array<[string, MessageMetadata, Buffer, RegExp]> = [
    ['batch count larger than the payload', plainMd({ numMessagesInBatch: 100_000 }), payload, /cannot hold/],
    ['batch count past the last message', plainMd({ numMessagesInBatch: 6 }), payload, /batch entry 5/],
    ['zlib garbage', plainMd({ numMessagesInBatch: 5, compression: CompressionType.ZLIB, uncompressedSize: payload.length }), Buffer.from('garbage'), /ZLIB/],
    ['lz4 garbage', plainMd({ numMessagesInBatch: 5, compression: CompressionType.LZ4, uncompressedSize: payload.length }), Buffer.from([0xff, 0xff, 0xff]), /LZ4/],
    ['wrong uncompressed_size', plainMd({ numMessagesInBatch: 5, compression: CompressionType.ZSTD, uncompressedSize: payload.length + 1 }), compressSync(4, payload), /uncompressed_size/],
    ['over the limit', plainMd({ numMessagesInBatch: 5, compression: CompressionType.SNAPPY, uncompressedSize: 2 ** 30 }), snappy.compressSync(payload), /exceeds the limit/],
    ['unknown codec', plainMd({ compression: 9 as CompressionType }), payload, /unknown Pulsar compression/],
  ];
  for (const [what, md, p, re] of bad) {
    assert.throws(() => decodeEntrySync(md, p, 0n), (e: Error) => re.test(e.message) && 'code' in e, what);
    await assert.rejects(async () => decodeEntry(md, p, 0n), (e: Error) => re.test(e.message) && 'code' in e, what);
  }
  // a header-encoding property that lies
  const props: KeyValue[] = [{ key: 'kafka.entry.format', value: 'pulsar' }];
  const lying = encodePulsarBatch([{ metadata: { properties: [{ key: HEADERS_ENCODING_KEY, value: '7n' }] }, payload: Buffer.from('x') }]);
  assert.throws(() => decodeEntrySync(plainMd({ numMessagesInBatch: 1, properties: props }), lying, 0n), EntryFormatError);
});

test(`entries of ${OFFLOAD_MIN_BYTES} bytes and more are converted on a worker thread: the same batch as on the event loop; corrupt ones fail with EntryFormatError`, async () => {
  const records: RecordInput[] = Array.from({ length: 400 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(1024, i & 0xff), headers: [{ key: 'i', value: String(i) }], timestamp: T + i }));
  for (const codec of [0, 4]) {
    const entry = encodeEntry('pulsar', encodeBatchSync({ records, compression: codec }));
    const md = asReceived(entry);
    const raw = codec === 0 ? entry.payload : pulsarDecompressSync(md.compression!, entry.payload, md.uncompressedSize ?? 0, 1 << 26);
    assert.ok(raw.length >= OFFLOAD_MIN_BYTES, `a large entry (${raw.length} bytes)`);
    const pending = decodeEntry(md, Buffer.from(entry.payload), 7n);
    assert.ok(pending instanceof Promise, 'handed to the worker');
    const out = await bothDecodes(md, entry.payload, 7n);
    assert.deepEqual(await pending, out);
    const got = decodeBatchSync(out);
    assert.equal(got.baseOffset, 7n);
    expectRecords(got, records, `codec ${codec}`);
  }
  // a plain Pulsar batch whose message count runs past its last message
  const big = Array.from({ length: 300 }, (_, i) => ({ metadata: { payloadSize: 1024, eventTime: BigInt(T + i) }, payload: Buffer.alloc(1024, 1) }));
  const payload = encodePulsarBatch(big);
  await assert.rejects(async () => decodeEntry(plainMd({ numMessagesInBatch: 301 }), payload, 0n), (e: unknown) => e instanceof EntryFormatError && /batch entry 300/.test(e.message));
  assert.throws(() => decodeEntrySync(plainMd({ numMessagesInBatch: 301 }), payload, 0n), EntryFormatError);
});

test('Pulsar codecs: every CompressionType round trips through entry-compression (incl. empty payloads)', () => {
  for (const c of PULSAR_CODECS) {
    for (const data of [Buffer.alloc(0), Buffer.from('x'), Buffer.from('hello hello hello hello hello hello'.repeat(100))]) {
      const packed = pulsarCompressSync(CompressionType[c], data);
      assert.deepEqual(pulsarDecompressSync(CompressionType[c], packed, data.length, 1 << 20), data, `${c} ${data.length}`);
    }
  }
});

// ------------------------------------------------------- Java interop (Pulsar's own classes)

const henv = harnessEnv();
const pulsarVersion = process.env.KOP_PULSAR_BROKER_VERSION || DEFAULT_PULSAR_BROKER_VERSION;
const libs = join(process.env.KOP_PULSAR_HOME || join(henv.cacheDir, `pulsar-${pulsarVersion}`), 'libs');
const javaFound = spawnSync(henv.java, ['-version'], { stdio: 'ignore' }).status === 0;
const jarsFound = existsSync(join(libs, `pulsar-common-${pulsarVersion}.jar`)) && existsSync(join(libs, `pulsar-client-original-${pulsarVersion}.jar`));
const unavailable = !javaFound
  ? `java (${henv.java}) not found`
  : !jarsFound
    ? `Pulsar ${pulsarVersion} jars not found in ${libs} (run bash scripts/pulsar/fetch-pulsar.sh)`
    : '';
const skipJava = henv.strict ? '' : unavailable;
const javaTitle = (what: string) => (skipJava ? `${what}: skipped because ${skipJava}` : what);

const JAVA_SOURCE = String.raw`import io.netty.buffer.*;
import java.io.*;
import java.nio.charset.StandardCharsets;
import java.util.*;
import org.apache.pulsar.common.api.proto.*;
import org.apache.pulsar.common.api.raw.*;
import org.apache.pulsar.common.compression.*;
import org.apache.pulsar.common.naming.TopicName;
import org.apache.pulsar.common.protocol.Commands;

/** stdin lines: "read <metadata hex> <payload hex>" | "produce <CompressionType>". */
public class EntryInterop {
  static final HexFormat HEX = HexFormat.of();
  static final long PUBLISH = 1700000009999L;
  static String hex(ByteBuf b) { return ByteBufUtil.hexDump(b); }
  static String hex(String s) { return HEX.formatHex(s.getBytes(StandardCharsets.UTF_8)); }
  static String props(List<KeyValue> l) {
    StringBuilder s = new StringBuilder();
    for (KeyValue kv : l) s.append(s.length() == 0 ? "" : ",").append(hex(kv.getKey())).append(':').append(hex(kv.getValue()));
    return s.toString();
  }

  /** What Pulsar's codec + batch reader and its MessageParser (raw reader) see in an entry. */
  static void read(PrintStream out, String mdHex, String payloadHex) throws Exception {
    MessageMetadata md = new MessageMetadata();
    md.parseFrom(HEX.parseHex(mdHex));
    byte[] payload = HEX.parseHex(payloadHex);
    ByteBuf un = CompressionCodecProvider.getCompressionCodec(md.getCompression()).decode(Unpooled.wrappedBuffer(payload), md.getUncompressedSize());
    int n = md.getNumMessagesInBatch();
    StringBuilder s = new StringBuilder("ok n=" + n + " compression=" + md.getCompression());
    for (int i = 0; i < n; i++) {
      SingleMessageMetadata smm = new SingleMessageMetadata();
      ByteBuf p = Commands.deSerializeSingleMessageInBatch(un, smm, i, n);
      s.append(" |smm key=").append(smm.hasPartitionKey() ? hex(smm.getPartitionKey()) : "-")
        .append(" b64=").append(smm.isPartitionKeyB64Encoded())
        .append(" null=").append(smm.isNullValue())
        .append(" event=").append(smm.getEventTime())
        .append(" props=").append(props(smm.getPropertiesList()))
        .append(" data=").append(hex(p));
    }
    ByteBuf entry = Commands.serializeMetadataAndPayload(Commands.ChecksumType.Crc32c, md, Unpooled.wrappedBuffer(payload));
    MessageParser.parseMessage(TopicName.get("persistent://public/default/t"), 1, 2, entry, m -> {
      TreeMap<String, String> p = new TreeMap<>(m.getProperties());
      StringBuilder ps = new StringBuilder();
      for (Map.Entry<String, String> e : p.entrySet()) ps.append(ps.length() == 0 ? "" : ",").append(hex(e.getKey())).append(':').append(hex(e.getValue()));
      s.append(" |raw key=").append(m.getKeyBytes().map(b -> hex(b)).orElse("-"))
        .append(" event=").append(m.getEventTime())
        .append(" props=").append(ps)
        .append(" data=").append(hex(m.getData()));
      m.release();
    }, 5 * 1024 * 1024);
    out.println(s);
  }

  /** Message i as TypedMessageBuilderImpl sets it (key / keyBytes / property / eventTime / value(null)). */
  static MessageMetadata msg(int i) {
    MessageMetadata m = new MessageMetadata();
    switch (i) {
      case 0: m.setPartitionKey("k1").setEventTime(1700000000001L); m.addProperty().setKey("a").setValue("1"); m.addProperty().setKey("b").setValue("\u00fc"); break;
      case 1: m.setPartitionKey(Base64.getEncoder().encodeToString(new byte[] {(byte) 0xff, 0, 1})).setPartitionKeyB64Encoded(true); break;
      case 2: m.setNullValue(true).setEventTime(5); break;
      case 3: m.setPartitionKey("").setEventTime(7); break;
      default: m.setPartitionKey("big"); break;
    }
    return m;
  }
  static byte[] value(int i) {
    switch (i) {
      case 0: return "v1".getBytes(StandardCharsets.UTF_8);
      case 1: return new byte[] {0, 1, 2};
      case 2: case 3: return new byte[0];
      default: return "abc".repeat(3000).getBytes(StandardCharsets.UTF_8);
    }
  }
  static final int N = 5;

  /** One batched entry (as BatchMessageContainerImpl builds it) and N single-message entries, compressed with the codec. */
  static void produce(PrintStream out, String type) throws Exception {
    CompressionType ct = CompressionType.valueOf(type);
    CompressionCodec codec = CompressionCodecProvider.getCompressionCodec(ct);
    ByteBuf batch = Unpooled.buffer();
    for (int i = 0; i < N; i++) Commands.serializeSingleMessageInBatchWithPayload(msg(i), Unpooled.wrappedBuffer(value(i)), batch);
    int size = batch.readableBytes();
    ByteBuf packed = codec.encode(batch);
    MessageMetadata md = new MessageMetadata().setProducerName("java").setSequenceId(1).setPublishTime(PUBLISH).setNumMessagesInBatch(N);
    if (ct != CompressionType.NONE) md.setCompression(ct).setUncompressedSize(size);
    StringBuilder s = new StringBuilder("ok ").append(HEX.formatHex(md.toByteArray())).append(' ').append(hex(packed));
    for (int i = 0; i < N; i++) {
      MessageMetadata m = msg(i).setProducerName("java").setSequenceId(10 + i).setPublishTime(PUBLISH);
      ByteBuf v = Unpooled.wrappedBuffer(value(i));
      int sz = v.readableBytes();
      ByteBuf p = codec.encode(v);
      if (ct != CompressionType.NONE) m.setCompression(ct).setUncompressedSize(sz);
      s.append(' ').append(HEX.formatHex(m.toByteArray())).append(' ').append(hex(p));
    }
    out.println(s);
  }

  public static void main(String[] args) throws Exception {
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
    PrintStream out = new PrintStream(new BufferedOutputStream(System.out), false);
    for (String line; (line = in.readLine()) != null; ) {
      String[] p = line.split(" ", -1);
      try {
        switch (p[0]) {
          case "read": read(out, p[1], p[2]); break;
          case "produce": produce(out, p[1]); break;
          default: out.println("err unknown command " + p[0]);
        }
      } catch (Throwable t) {
        out.println("err " + t.getClass().getSimpleName() + ": " + String.valueOf(t.getMessage()).replace('\n', ' '));
      }
    }
    out.flush();
  }
}
`;

/** Runs the Java side once with every request line; answers come back in order. */
function runJava(lines: string[]): Promise<string[]> {
  const dir = mkdtempSync(join(tmpdir(), 'pulsar-entry-interop-'));
  const src = join(dir, 'EntryInterop.java');
  writeFileSync(src, JAVA_SOURCE);
  return new Promise((resolve, reject) => {
    const child = spawn(henv.java, ['-cp', join(libs, '*'), src], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      rmSync(dir, { recursive: true, force: true });
      if (code !== 0) reject(new Error(`java exited ${code}: ${err}`));
      else resolve(out.trimEnd().split('\n'));
    });
    child.stdin.end(lines.join('\n') + '\n');
  });
}

const hexOf = (s: string) => Buffer.from(s, 'utf8').toString('hex');

/** The fields Pulsar must read in our message i of RECORDS. */
const ENTRY_PROPS: Array<[string, string]> = [['kafka.entry.format', 'pulsar']];
function expectedSmm(r: RecordInput): { smm: string; raw: string } {
  const key = buf(r.key);
  const keyStr = key === null ? '-' : hexOf(require8(key) ? key.toString('utf8') : key.toString('base64'));
  const headers = r.headers ?? [];
  const props: Array<[string, string]> = headers.map((h) => {
    const v = buf(h.value);
    return [h.key, v === null ? '' : require8(v) ? v.toString('utf8') : v.toString('base64')];
  });
  const flags = headers.map((h, i) => (h.value === null ? `${i}n` : require8(buf(h.value)!) ? '' : `${i}b`)).filter((x) => x !== '');
  if (flags.length > 0 || headers.at(-1)?.key === HEADERS_ENCODING_KEY) props.push([HEADERS_ENCODING_KEY, flags.join(',')]);
  const ts = BigInt(r.timestamp!);
  const value = buf(r.value);
  const smm = `smm key=${keyStr} b64=${key !== null && !require8(key)} null=${value === null} event=${ts} props=${props.map(([k, v]) => `${hexOf(k)}:${hexOf(v)}`).join(',')} data=${(value ?? Buffer.alloc(0)).toString('hex')}`;
  // Pulsar's raw reader (RawMessageImpl) shows the entry's properties for messages without their own
  const map = new Map(props.length > 0 ? props : ENTRY_PROPS);
  const rawProps = [...map.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([k, v]) => `${hexOf(k)}:${hexOf(v)}`).join(',');
  const raw = `raw key=${key === null ? '-' : key.toString('hex')} event=${ts} props=${rawProps} data=${(value ?? Buffer.alloc(0)).toString('hex')}`;
  return { smm, raw };
}
function require8(b: Buffer): boolean {
  return Buffer.from(b.toString('utf8'), 'utf8').equals(b);
}

const JAVA_WANT: RecordInput[] = [
  { key: 'k1', value: 'v1', headers: [{ key: 'a', value: '1' }, { key: 'b', value: 'ü' }], timestamp: T + 1 },
  { key: Buffer.from([0xff, 0, 1]), value: Buffer.from([0, 1, 2]), timestamp: Number(PUBLISH) },
  { key: null, value: null, timestamp: 5 },
  { key: '', value: '', timestamp: 7 },
  { key: 'big', value: 'abc'.repeat(3000), timestamp: Number(PUBLISH) },
];

let javaAnswers: Promise<{ reads: string[]; produced: string[] }> | undefined;
const READ_CASES = KAFKA_CODECS.map(([name, codec]) => ({ name, entry: encodeEntry('pulsar', encodeBatchSync({ records: RECORDS, compression: codec })) }));

function javaRun(): Promise<{ reads: string[]; produced: string[] }> {
  javaAnswers ??= runJava([
    ...READ_CASES.map((c) => `read ${MessageMetadata.encode(asReceived(c.entry)).toString('hex')} ${c.entry.payload.toString('hex')}`),
    ...PULSAR_CODECS.map((c) => `produce ${c}`),
  ]).then((lines) => {
    assert.equal(lines.length, READ_CASES.length + PULSAR_CODECS.length, lines.slice(0, 3).join('\n'));
    return { reads: lines.slice(0, READ_CASES.length), produced: lines.slice(READ_CASES.length) };
  });
  return javaAnswers;
}

const javaOpts = { skip: skipJava || false, timeout: 120_000 };

test(javaTitle(`Pulsar ${pulsarVersion}'s codecs, batch reader and MessageParser read our pulsar-format entries (every codec)`), javaOpts, async () => {
  assert.equal(unavailable, '', `strict mode: ${unavailable}`);
  const { reads } = await javaRun();
  reads.forEach((line, i) => {
    const c = READ_CASES[i]!;
    assert.ok(line.startsWith('ok '), `${c.name}: ${line}`);
    const [head, ...parts] = line.split(' |');
    const pulsarCodec = KAFKA_CODECS[i]![2];
    const codecName = Object.entries(CompressionType).find(([, v]) => v === pulsarCodec)![0];
    assert.equal(head, `ok n=${RECORDS.length} compression=${codecName}`);
    const smm = parts.filter((p) => p.startsWith('smm '));
    const raw = parts.filter((p) => p.startsWith('raw '));
    assert.equal(smm.length, RECORDS.length);
    assert.equal(raw.length, RECORDS.length);
    RECORDS.forEach((r, j) => {
      const want = expectedSmm(r);
      assert.equal(smm[j], want.smm, `${c.name} message ${j} (batch reader)`);
      assert.equal(raw[j], want.raw, `${c.name} message ${j} (MessageParser)`);
    });
  });
});

test(javaTitle(`entries made like Pulsar ${pulsarVersion}'s Java producer makes them (batched and single, every codec) decode to Kafka records`), javaOpts, async () => {
  assert.equal(unavailable, '', `strict mode: ${unavailable}`);
  const { produced } = await javaRun();
  for (const [i, line] of produced.entries()) {
    const c = PULSAR_CODECS[i]!;
    assert.ok(line.startsWith('ok '), `${c}: ${line}`);
    const f = line.slice(3).split(' ').map((h) => Buffer.from(h, 'hex'));
    assert.equal(f.length, 2 + 2 * JAVA_WANT.length);
    const md = MessageMetadata.decode(f[0]!);
    assert.equal(md.compression ?? CompressionType.NONE, CompressionType[c]);
    assert.equal(entryFormatOf(md), 'plain');
    assert.equal(entryRecordCount(md), JAVA_WANT.length);
    const d = decodeBatchSync(await bothDecodes(md, f[1]!, 100n));
    assert.equal(d.baseOffset, 100n);
    expectRecords(d, JAVA_WANT, `Java batch ${c}`);
    for (let j = 0; j < JAVA_WANT.length; j++) {
      const one = MessageMetadata.decode(f[2 + 2 * j]!);
      assert.equal(entryRecordCount(one), 1);
      expectRecords(decodeBatchSync(await bothDecodes(one, f[3 + 2 * j]!, BigInt(j))), [JAVA_WANT[j]!], `Java single ${j} ${c}`);
    }
  }
});
