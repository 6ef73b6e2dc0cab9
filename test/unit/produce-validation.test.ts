/**
 * validateProduced (src/storage/validated-batch.ts): the one place produced
 * batches are validated for every engine. Kafka's codes in Kafka's order,
 * record_errors, timestamp bounds, the leader-owned header fields, zero copy,
 * and that nothing but the validator makes a ValidatedBatch. The record-level
 * parsing rules themselves are covered in records.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compressSync } from '../../src/protocol/compression/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { BATCH_HEADER_SIZE, checkBatch, encodeBatchSync, encodeEndTxnMarker, updateCrc, type RecordInput } from '../../src/protocol/records/index.js';
import { writeVarint } from '../../src/protocol/records/varint.js';
import { makeDefaults, resolveTopicConfig, type TopicConfig } from '../../src/storage/topic-config.js';
import { ValidatedBatch, endTxnMarkerBatch, validateProduced, validateProducedSync, type ProduceRules, type ProduceVerdict } from '../../src/storage/validated-batch.js';

const NOW = 1_800_000_000_000;
const DEFAULTS = resolveTopicConfig({}, makeDefaults());

function rules(config: Partial<TopicConfig> = {}, apiVersion = 11): ProduceRules {
  return { config: { ...DEFAULTS, ...config }, apiVersion, nowMs: NOW, leaderEpoch: 0 };
}

function recs(n: number, ts = BigInt(NOW)): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: `v${i}`, timestamp: ts + BigInt(i) }));
}

function rawBatch(records: Buffer, count: number, lastOffsetDelta = count - 1, patch?: (b: Buffer) => void): Buffer {
  const b = Buffer.concat([encodeBatchSync({ records: [] }).subarray(0, BATCH_HEADER_SIZE), records]);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt32BE(count, 57);
  b.writeInt32BE(lastOffsetDelta, 23);
  b.writeBigInt64BE(BigInt(NOW), 27);
  b.writeBigInt64BE(BigInt(NOW), 35);
  patch?.(b);
  updateCrc(b, 0);
  return b;
}

function rec(fields: number[]): Buffer {
  const body = Buffer.from(fields);
  const len = Buffer.alloc(5);
  const n = writeVarint(len, 0, body.length);
  return Buffer.concat([len.subarray(0, n), body]);
}

const OK_RECORD = (offsetDelta: number) => rec([0, 0, offsetDelta * 2, 1, 1, 0]);

function refused(v: ProduceVerdict, code: number, re?: RegExp): Extract<ProduceVerdict, { ok: false }> {
  assert.equal(v.ok, false, 'expected a refusal');
  if (v.ok) throw new Error('unreachable');
  assert.equal(v.code, code, `code ${v.code}: ${v.message}`);
  if (re) assert.match(v.message, re);
  return v;
}

async function both(buf: () => Buffer, r: ProduceRules): Promise<ProduceVerdict[]> {
  return [await validateProduced(buf(), r), validateProducedSync(buf(), r)];
}

test('a good batch passes as the same bytes (no copy), with its summary; the leader epoch is written', async () => {
  for (const codec of [0, 1, 2, 3, 4]) {
    const buf = encodeBatchSync({ records: recs(5), compression: codec, partitionLeaderEpoch: -1 });
    const before = Buffer.from(buf);
    const v = await validateProduced(buf, rules());
    assert.ok(v.ok, v.ok ? '' : v.message);
    const b = v.batch;
    assert.equal(b.buf, buf, 'the batch is the request bytes');
    assert.equal(b.recordCount, 5);
    assert.equal(b.offsetCount, 5);
    assert.equal(b.compression, codec);
    assert.equal(b.maxTimestamp, BigInt(NOW) + 4n);
    assert.equal(buf.readInt32BE(12), 0, 'leader epoch');
    assert.deepEqual(buf.subarray(16), before.subarray(16), 'nothing inside the CRC changed');
    assert.equal(checkBatch(buf, 0), null);
    if (codec === 0) assert.equal(b.decompressed, null);
    else assert.equal(b.decompressed!.count, 5, 'the decompressed section travels with the batch');
  }
});

test("batch-level refusals: Kafka's codes in Kafka's order", async () => {
  const good = () => encodeBatchSync({ records: recs(3) });
  const cases: Array<[string, () => Buffer | null, number, RegExp, ProduceRules?]> = [
    ['no records', () => null, ErrorCode.INVALID_RECORD, /at least one record batch/],
    ['empty records', () => Buffer.alloc(0), ErrorCode.INVALID_RECORD, /at least one record batch/],
    ['shorter than the length field', () => good().subarray(0, 10), ErrorCode.CORRUPT_MESSAGE, /truncated/],
    ['length below a v2 header', () => { const b = good(); b.writeInt32BE(20, 8); return b; }, ErrorCode.CORRUPT_MESSAGE, /minimum/],
    ['truncated', () => good().subarray(0, 70), ErrorCode.CORRUPT_MESSAGE, /truncated/],
    ['magic 1', () => { const b = good(); b[16] = 1; return b; }, ErrorCode.INVALID_RECORD, /magic version 2/],
    ['magic 3', () => { const b = good(); b[16] = 3; return b; }, ErrorCode.CORRUPT_MESSAGE, /invalid magic/],
    ['two batches', () => Buffer.concat([good(), good()]), ErrorCode.INVALID_RECORD, /exactly one record batch/],
    ['trailing bytes', () => Buffer.concat([good(), Buffer.alloc(3)]), ErrorCode.INVALID_RECORD, /exactly one record batch/],
    ['codec id 6', () => { const b = good(); b.writeInt16BE(6, 21); updateCrc(b); return b; }, ErrorCode.CORRUPT_MESSAGE, /codec id 6/],
    ['zstd before Produce v7', () => encodeBatchSync({ records: recs(2), compression: 4 }), ErrorCode.UNSUPPORTED_COMPRESSION_TYPE, /ZStandard/, rules({}, 6)],
    ['base offset 7', () => encodeBatchSync({ records: recs(2), baseOffset: 7n }), ErrorCode.INVALID_RECORD, /baseOffset/],
    ['over max.message.bytes', good, ErrorCode.MESSAGE_TOO_LARGE, /max\.message\.bytes/, rules({ maxMessageBytes: 80 })],
    ['bad CRC', () => { const b = good(); b[b.length - 1]! ^= 1; return b; }, ErrorCode.CORRUPT_MESSAGE, /corrupt \(stored crc/],
    // the size is checked before the CRC, as Kafka does
    ['too large and corrupt', () => { const b = good(); b[b.length - 1]! ^= 1; return b; }, ErrorCode.MESSAGE_TOO_LARGE, /max\.message\.bytes/, rules({ maxMessageBytes: 80 })],
    ['transactional without a producer id', () => encodeBatchSync({ records: recs(2), transactional: true }), ErrorCode.INVALID_RECORD, /transactional records must carry a producer id/],
    ['control batch', () => encodeEndTxnMarker({ commit: true, coordinatorEpoch: 1, producerId: 5n, producerEpoch: 0 }), ErrorCode.INVALID_RECORD, /Clients are not allowed to write control records/],
    ['lastOffsetDelta 2^31-1 for one record', () => encodeBatchSync({ records: recs(1), lastOffsetDelta: 0x7fffffff }), ErrorCode.INVALID_RECORD, /inconsistent batch offset range/],
    ['count larger than lastOffsetDelta + 1', () => encodeBatchSync({ records: recs(3), lastOffsetDelta: 1 }), ErrorCode.INVALID_RECORD, /record count/],
    ['empty batch (count 0)', () => encodeBatchSync({ records: [] }), ErrorCode.INVALID_RECORD, /record count 0/],
    ['producer id with sequence -1', () => encodeBatchSync({ records: recs(2), producerId: 3n, producerEpoch: 0, baseSequence: -1 }), ErrorCode.INVALID_RECORD, /sequence/],
  ];
  for (const [what, make, code, re, r] of cases) {
    for (const v of [await validateProduced(make(), r ?? rules()), validateProducedSync(make(), r ?? rules())]) {
      const no = refused(v, code, re);
      assert.deepEqual(no.recordErrors, [], `${what}: batch-level problems name no record`);
    }
  }
});

test('transactional batches with a producer id pass; markers are made only by endTxnMarkerBatch', () => {
  const v = validateProducedSync(encodeBatchSync({ records: recs(2), producerId: 3n, producerEpoch: 0, baseSequence: 0, transactional: true }), rules());
  assert.equal(v.ok, true);
  const m = endTxnMarkerBatch({ producerId: 9n, producerEpoch: 2, commit: false, coordinatorEpoch: 4 }, 1234n);
  assert.equal(m.recordCount, 1);
  assert.equal(m.buf.readInt16BE(21) & 0x30, 0x30, 'transactional control batch');
  assert.equal(m.maxTimestamp, 1234n);
});

test('record-level refusals: INVALID_RECORD with record_errors naming the record', async () => {
  const cases: Array<[string, () => Buffer, number, RegExp]> = [
    ['varint longer than 5 bytes (valid CRC)', () => rawBatch(Buffer.concat([OK_RECORD(0), rec([0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1, 0])]), 2), 1, /record 1/],
    ['record that does not parse', () => rawBatch(Buffer.concat([OK_RECORD(0), OK_RECORD(1), rec([0, 0, 4, 20, 1, 0])]), 3), 2, /key length/],
    ['offset deltas not increasing', () => rawBatch(Buffer.concat([OK_RECORD(1), OK_RECORD(0)]), 2), 1, /offset delta/],
    ['fewer records than declared', () => rawBatch(OK_RECORD(0), 2), 1, /declares 2 records/],
  ];
  for (const [what, make, index, re] of cases) {
    for (const v of await both(make, rules())) {
      const no = refused(v, ErrorCode.INVALID_RECORD, re);
      assert.deepEqual(no.recordErrors.map((e) => e.batchIndex), [index], what);
      assert.match(no.recordErrors[0]!.batchIndexErrorMessage!, re);
    }
  }
  // bytes after the last record: the batch, not a record, is wrong
  const v = await validateProduced(rawBatch(Buffer.concat([OK_RECORD(0), Buffer.from([0])]), 1), rules());
  refused(v, ErrorCode.INVALID_RECORD, /bytes after/);
});

test('compression: a codec flag on bytes that are not compressed is INVALID_RECORD; output is bounded (MESSAGE_TOO_LARGE)', async () => {
  const raw = encodeBatchSync({ records: recs(3) }).subarray(BATCH_HEADER_SIZE);
  for (const codec of [1, 2, 3, 4]) {
    const make = () => rawBatch(Buffer.from(raw), 3, 2, (b) => b.writeInt16BE(codec, 21));
    for (const v of await both(make, rules())) refused(v, ErrorCode.INVALID_RECORD, /do not decompress/);
    // a valid compressed payload whose records are broken is INVALID_RECORD with the record named
    const broken = () => rawBatch(compressSync(codec, Buffer.concat([OK_RECORD(0), OK_RECORD(0)])), 2, 1, (b) => b.writeInt16BE(codec, 21));
    for (const v of await both(broken, rules())) assert.deepEqual(refused(v, ErrorCode.INVALID_RECORD).recordErrors.map((e) => e.batchIndex), [1]);
    const bomb = () => encodeBatchSync({ records: [{ value: Buffer.alloc(4 << 20), timestamp: BigInt(NOW) }], compression: codec });
    for (const v of await both(bomb, { ...rules(), maxUncompressedBytes: 1 << 20 })) refused(v, ErrorCode.MESSAGE_TOO_LARGE);
  }
});

test('timestamps: message.timestamp.before/after.max.ms (difference.max.ms as fallback) give INVALID_TIMESTAMP per record', async () => {
  const hour = 3_600_000;
  const bounds = { timestampBeforeMaxMs: hour, timestampAfterMaxMs: hour };
  const mixed = () =>
    encodeBatchSync({
      records: [
        { value: 'ok', timestamp: BigInt(NOW) },
        { value: 'future', timestamp: BigInt(NOW + 2 * hour) },
        { value: 'ok2', timestamp: BigInt(NOW - hour) },
        { value: 'past', timestamp: BigInt(NOW - 3 * hour) },
        { value: 'none', timestamp: -1n }, // NO_TIMESTAMP is not checked (Kafka)
      ],
    });
  for (const v of await both(mixed, rules(bounds))) {
    const no = refused(v, ErrorCode.INVALID_TIMESTAMP, /invalid timestamp/);
    assert.deepEqual(no.recordErrors.map((e) => e.batchIndex), [1, 3]);
    assert.match(no.recordErrors[0]!.batchIndexErrorMessage!, new RegExp(`Timestamp ${NOW + 2 * hour} .* within \\[${NOW - hour}, ${NOW + hour}\\]`));
  }
  // within bounds: passes; LogAppendTime topics do not check
  assert.ok((await validateProduced(encodeBatchSync({ records: recs(3) }), rules(bounds))).ok);
  assert.ok((await validateProduced(mixed(), rules({ ...bounds, timestampType: 'LogAppendTime' }))).ok);
  // the config resolution: before/after unset -> difference.max.ms; set -> their own value
  const c1 = resolveTopicConfig({ 'message.timestamp.difference.max.ms': '1000' }, makeDefaults());
  assert.deepEqual([c1.timestampBeforeMaxMs, c1.timestampAfterMaxMs], [1000, 1000]);
  const c2 = resolveTopicConfig({ 'message.timestamp.difference.max.ms': '1000', 'message.timestamp.after.max.ms': '5' }, makeDefaults());
  assert.deepEqual([c2.timestampBeforeMaxMs, c2.timestampAfterMaxMs], [1000, 5]);
  assert.equal(DEFAULTS.timestampAfterMaxMs, Number.MAX_SAFE_INTEGER, 'unbounded by default (Long.MAX_VALUE)');
});

test('timestamps: LogAppendTime set by the client; a wrong header maxTimestamp is corrected (new CRC), as a Kafka leader does', async () => {
  const lat = () => encodeBatchSync({ records: recs(2), timestampType: 1, maxTimestamp: BigInt(NOW) });
  refused(await validateProduced(lat(), rules({ timestampType: 'LogAppendTime' })), ErrorCode.INVALID_TIMESTAMP, /should not set timestamp type to LogAppendTime/);
  const noMax = () => encodeBatchSync({ records: recs(2), timestampType: 1, maxTimestamp: -1n });
  refused(await validateProduced(noMax(), rules()), ErrorCode.INVALID_TIMESTAMP);
  // CreateTime topic: stored as CreateTime with that max timestamp
  const b = lat();
  const v = await validateProduced(b, rules());
  assert.ok(v.ok);
  assert.equal(b.readInt16BE(21) & 0x08, 0, 'timestamp type cleared');
  assert.equal(checkBatch(b, 0), null, 'CRC recomputed');
  // a lying maxTimestamp is replaced by the records' real maximum
  const liar = encodeBatchSync({ records: recs(4), maxTimestamp: 5n });
  const w = await validateProduced(liar, rules());
  assert.ok(w.ok);
  assert.equal(liar.readBigInt64BE(35), BigInt(NOW) + 3n);
  assert.equal(w.batch.maxTimestamp, BigInt(NOW) + 3n);
  assert.equal(checkBatch(liar, 0), null);
});

test('a refusal changes nothing in the batch; a ValidatedBatch cannot be made outside the validator', async () => {
  const b = encodeBatchSync({ records: recs(3), partitionLeaderEpoch: 9, maxTimestamp: 1n });
  b[b.length - 1]! ^= 1;
  const copy = Buffer.from(b);
  refused(await validateProduced(b, rules()), ErrorCode.CORRUPT_MESSAGE);
  assert.deepEqual(b, copy);
  const ctor = ValidatedBatch as unknown as new (...a: unknown[]) => ValidatedBatch;
  assert.throws(() => new ctor(Symbol('ValidatedBatch'), b, {}, 0n), /only by validateProduced/);
});

test('large record sections are validated in slices (async: the event loop runs in between) with the same verdict as the sync path', async () => {
  const big = () => encodeBatchSync({ records: Array.from({ length: 3000 }, (_, i) => ({ value: Buffer.alloc(3000, i), timestamp: BigInt(NOW) })) });
  let ran = false;
  setImmediate(() => (ran = true));
  const a = await validateProduced(big(), rules({ maxMessageBytes: 64 << 20 }));
  assert.ok(ran, 'the event loop turned while a 9 MB batch was validated');
  const s = validateProducedSync(big(), rules({ maxMessageBytes: 64 << 20 }));
  assert.ok(a.ok && s.ok);
  assert.equal(a.batch.recordCount, 3000);
  // a fault at the very end of a large batch is found by both
  const tail = () => {
    const b = big();
    b[b.length - 1] = 7; // the last record's header count: now past its end
    updateCrc(b);
    return b;
  };
  for (const v of await both(tail, rules({ maxMessageBytes: 64 << 20 }))) assert.deepEqual(refused(v, ErrorCode.INVALID_RECORD).recordErrors.map((e) => e.batchIndex), [2999]);
});
