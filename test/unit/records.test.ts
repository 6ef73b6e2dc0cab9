/**
 * src/protocol/records: encode/decode round trips for every codec (empty,
 * one, many records; null keys/values; headers; large values), CRC, zero-copy
 * slices, the allocation-free visitor, Produce validation (Kafka's
 * LogValidator rules and error codes), control records and varints.
 * Real-client batches are in records-clients.test.ts, fuzzing in records-fuzz.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import { CompressionError } from '../../src/protocol/compression/index.js';
import {
  BATCH_HEADER_SIZE,
  checkBatch,
  controlRecordKey,
  ControlRecordType,
  decodeBatch,
  decodeBatches,
  decodeBatchSync,
  encodeBatch,
  encodeBatchSync,
  encodeEndTxnMarker,
  endTxnMarkerValue,
  forEachRecord,
  openRecords,
  openRecordsSync,
  parseControlRecord,
  readBatchHeader,
  recordsSection,
  recordTimestamp,
  RecordsError,
  RecordView,
  stampLogAppendTime,
  TimestampType,
  updateCrc,
  validateBatch,
  validateBatchSync,
  validateRecords,
  validateRecordsAsync,
  VALIDATE_SLICE_BYTES,
  type DecodedBatch,
  type RecordInput,
} from '../../src/protocol/records/index.js';
import { cursor, readVarint, readVarlong, sizeOfVarint, sizeOfVarlong, writeVarint, writeVarlong } from '../../src/protocol/records/varint.js';

const CODECS = [0, 1, 2, 3, 4];
const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'];
const T0 = 1_700_000_000_000n;

function many(n: number): RecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 7 === 3 ? null : `key-${i}`,
    value: i % 11 === 5 ? null : `value-${i}-${'v'.repeat(i % 50)}`,
    timestamp: T0 + BigInt(i * 3 - 20),
    headers: i % 4 === 0 ? [{ key: `h${i}`, value: i % 8 === 0 ? null : `hv${i}` }, { key: 'ünï', value: '€' }] : [],
  }));
}

const SHAPES: [string, RecordInput[]][] = [
  ['empty', []],
  ['one', [{ key: 'k', value: 'v', timestamp: T0 }]],
  ['null key and value', [{ key: null, value: null, timestamp: T0 }]],
  ['empty key and value', [{ key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: T0 }]],
  ['headers', [{ key: 'k', value: 'v', timestamp: T0, headers: [{ key: 'a', value: 'b' }, { key: '', value: null }, { key: 'a', value: '' }] }]],
  ['many', many(500)],
  ['large value', [{ key: 'big', value: Buffer.alloc(3 << 20, 'large-value '), timestamp: T0 }, { key: 'small', value: 's', timestamp: T0 + 1n }]],
];

function bytesOf(b: RecordInput['key']): Buffer | null {
  if (b === null || b === undefined) return null;
  return typeof b === 'string' ? Buffer.from(b) : Buffer.from(b);
}

function assertDecoded(d: DecodedBatch, input: RecordInput[], what: string): void {
  assert.equal(d.recordCount, input.length, what);
  assert.equal(d.records.length, input.length, what);
  d.records.forEach((r, i) => {
    const e = input[i]!;
    assert.equal(r.offsetDelta, i);
    assert.equal(d.baseTimestamp + BigInt(r.timestampDelta), BigInt(e.timestamp!), `${what} #${i} timestamp`);
    assert.deepEqual(r.key, bytesOf(e.key), `${what} #${i} key`);
    assert.deepEqual(r.value, bytesOf(e.value), `${what} #${i} value`);
    assert.deepEqual(
      r.headers,
      (e.headers ?? []).map((h) => ({ key: h.key, value: bytesOf(h.value) })),
      `${what} #${i} headers`,
    );
    assert.equal(r.attributes, 0);
  });
}

function isRecordsError(problem: string, code?: number) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof RecordsError, `expected RecordsError, got ${String(e)}`);
    assert.equal(e.problem, problem, e.message);
    if (code !== undefined) assert.equal(e.code, code);
    return true;
  };
}

for (const codec of CODECS) {
  test(`round trip, ${NAMES[codec]}: every record shape (async and sync)`, async () => {
    for (const [what, input] of SHAPES) {
      const a = await encodeBatch({ records: input, compression: codec });
      const s = encodeBatchSync({ records: input, compression: codec });
      for (const b of [a, s]) {
        assert.equal(checkBatch(b, 0), null, what);
        assert.equal(b.readInt16BE(21) & 7, codec);
        assertDecoded(await decodeBatch(b), input, what);
        assertDecoded(decodeBatchSync(b), input, what);
        if (input.length > 0) {
          const v = await validateBatch(b);
          assert.equal(v.recordCount, input.length);
          assert.equal(v.compression, codec);
          assert.equal(v.size, b.length);
        }
      }
    }
  });
}

test('header fields round trip (producer, transactional, leader epoch, base offset, LogAppendTime)', async () => {
  const b = await encodeBatch({
    baseOffset: 1234567890123n,
    records: many(3),
    compression: 4,
    producerId: 9007199254740993n,
    producerEpoch: 32000,
    baseSequence: 2147483000,
    transactional: true,
    partitionLeaderEpoch: 17,
    timestampType: TimestampType.LogAppendTime,
    maxTimestamp: T0 + 99n,
  });
  const d = await decodeBatch(b);
  assert.equal(d.baseOffset, 1234567890123n);
  assert.equal(d.producerId, 9007199254740993n);
  assert.equal(d.producerEpoch, 32000);
  assert.equal(d.baseSequence, 2147483000);
  assert.equal(d.transactional, true);
  assert.equal(d.isControl, false);
  assert.equal(d.partitionLeaderEpoch, 17);
  assert.equal(d.timestampType, TimestampType.LogAppendTime);
  assert.equal(d.maxTimestamp, T0 + 99n);
  assert.equal(d.lastOffsetDelta, 2);
  assert.equal(d.size, b.length);
  assert.equal(d.batchLength, b.length - 12);
  assert.equal(d.magic, 2);
  assert.equal(recordTimestamp(d, d.records[0]!.timestampDelta), T0 + 99n, 'LogAppendTime: every record has maxTimestamp');
  const c = readBatchHeader(encodeBatchSync({ records: many(3) }));
  assert.equal(c.timestampType, TimestampType.CreateTime);
  assert.equal(c.maxTimestamp, T0 + 6n - 20n);
  assert.equal(recordTimestamp(c, 5), c.baseTimestamp + 5n);
});

test('empty batch: count 0, lastOffsetDelta 0, timestamps -1 (like Kafka writeEmptyHeader)', () => {
  const d = decodeBatchSync(encodeBatchSync({ records: [] }));
  assert.equal(d.recordCount, 0);
  assert.equal(d.lastOffsetDelta, 0);
  assert.equal(d.baseTimestamp, -1n);
  assert.equal(d.maxTimestamp, -1n);
});

test('timestamp deltas: negative, large, and records given by delta', () => {
  const input: RecordInput[] = [
    { value: 'a', timestampDelta: 0 },
    { value: 'b', timestampDelta: -5_000_000_000 },
    { value: 'c', timestampDelta: 2 ** 52 },
  ];
  const d = decodeBatchSync(encodeBatchSync({ records: input, baseTimestamp: 10n }));
  assert.deepEqual(
    d.records.map((r) => r.timestampDelta),
    [0, -5_000_000_000, 2 ** 52],
  );
  assert.equal(d.maxTimestamp, 10n + 2n ** 52n);
});

test('CRC: any change to the covered bytes is detected; baseOffset / leader epoch are outside the CRC', async () => {
  const b = encodeBatchSync({ records: many(10) });
  for (const at of [21, 30, 45, 52, 61, 100, b.length - 1]) {
    const bad = Buffer.from(b);
    bad[at]! ^= 0x40;
    assert.equal(checkBatch(bad, 0), 'bad-crc', `byte ${at}`);
    assert.throws(() => decodeBatchSync(bad), isRecordsError('bad-crc', ErrorCode.CORRUPT_MESSAGE));
    await assert.rejects(validateBatch(bad), isRecordsError('bad-crc', ErrorCode.CORRUPT_MESSAGE));
  }
  const moved = Buffer.from(b);
  moved.writeBigInt64BE(99n, 0);
  moved.writeInt32BE(5, 12);
  assert.equal(checkBatch(moved, 0), null);
  // verifyCrc: false reads past a bad CRC
  const bad = Buffer.from(b);
  bad.writeUInt32BE(0, 17);
  assert.equal(decodeBatchSync(bad, 0, { verifyCrc: false }).records.length, 10);
  // stampLogAppendTime keeps the batch valid
  const stamped = Buffer.from(b);
  stampLogAppendTime(stamped, T0 + 5000n);
  assert.equal(checkBatch(stamped, 0), null);
  assert.equal(decodeBatchSync(stamped).timestampType, TimestampType.LogAppendTime);
});

test('decoded keys, values and header values are slices of the batch (uncompressed) or of the decompressed payload', async () => {
  const b = encodeBatchSync({ records: [{ key: 'k', value: 'value', timestamp: T0, headers: [{ key: 'h', value: 'hv' }] }] });
  const r = decodeBatchSync(b).records[0]!;
  for (const s of [r.key!, r.value!, r.headers[0]!.value!]) {
    assert.equal(s.buffer, b.buffer, 'same memory');
    assert.ok(s.byteOffset >= b.byteOffset && s.byteOffset < b.byteOffset + b.length);
  }
  const z = await encodeBatch({ records: many(20), compression: 3 });
  const d = await decodeBatch(z);
  const section = await openRecords(z);
  const firstKey = d.records[0]!.key!;
  assert.notEqual(firstKey.buffer, z.buffer);
  assert.equal(section.buf.length, d.records.length > 0 ? section.end : 0);
  // all records share one decompressed buffer
  assert.equal(new Set(d.records.filter((x) => x.value).map((x) => x.value!.buffer)).size, 1);
});

test('decodeBatches reads consecutive batches; a batch inside a larger buffer is read in place', async () => {
  const parts = await Promise.all([0, 1, 2, 3, 4].map((c, i) => encodeBatch({ baseOffset: BigInt(i * 100), records: many(i + 1), compression: c })));
  const all = Buffer.concat([Buffer.from('prefix'), ...parts]);
  const ds = await decodeBatches(all, { start: 6 });
  assert.deepEqual(
    ds.map((d) => [d.baseOffset, d.records.length, d.compression]),
    [
      [0n, 1, 0],
      [100n, 2, 1],
      [200n, 3, 2],
      [300n, 4, 3],
      [400n, 5, 4],
    ],
  );
  const inner = decodeBatchSync(all, 6);
  assert.equal(inner.records[0]!.key!.buffer, all.buffer);
  // a truncated last batch is an error
  await assert.rejects(decodeBatches(all.subarray(0, all.length - 1), { start: 6 }), isRecordsError('truncated'));
});

// ------------------------------------------------------------------ visitor

test('forEachRecord: one reused view, lazy slices, early stop, nested visits', () => {
  const input = many(50);
  const b = encodeBatchSync({ records: input });
  const views = new Set<RecordView>();
  const keys: (string | null)[] = [];
  const n = forEachRecord(b, (r, i) => {
    views.add(r);
    assert.equal(r.index, i);
    keys.push(r.key()?.toString() ?? null);
    assert.equal(r.keyLength, input[i]!.key === null ? -1 : Buffer.byteLength(input[i]!.key as string));
    assert.equal(r.valueLength, input[i]!.value === null ? -1 : Buffer.byteLength(input[i]!.value as string));
    assert.equal(r.headerCount, input[i]!.headers!.length);
  });
  assert.equal(n, 50);
  assert.equal(views.size, 1, 'the same view object for every record');
  assert.deepEqual(
    keys,
    input.map((r) => r.key as string | null),
  );
  assert.equal(
    forEachRecord(b, (_r, i) => i < 9),
    10,
    'returning false stops',
  );
  // nested: the inner visit has its own view
  const other = encodeBatchSync({ records: many(3) });
  let inner = 0;
  forEachRecord(b, (outer, i) => {
    if (i !== 4) return;
    const key = outer.key()?.toString();
    forEachRecord(other, (x) => {
      assert.notEqual(x, outer);
      inner++;
    });
    assert.equal(outer.key()?.toString(), key, 'outer view intact after a nested visit');
  });
  assert.equal(inner, 3);
  // headers without objects
  const seen: string[] = [];
  forEachRecord(b, (r) => {
    r.forEachHeader((h) => {
      seen.push(`${h.key()}=${h.value()?.toString() ?? 'null'}`);
    });
  });
  assert.equal(seen.length, input.reduce((s, r) => s + (r.headers?.length ?? 0), 0));
  assert.equal(seen[0], 'h0=null');
  assert.equal(seen[1], 'ünï=€');
});

test('forEachRecord refuses compressed batches; openRecords decompresses (bounded) for it', async () => {
  const z = await encodeBatch({ records: many(40), compression: 2 });
  assert.throws(() => forEachRecord(z, () => {}), isRecordsError('compressed'));
  assert.throws(() => recordsSection(z), isRecordsError('compressed'));
  const s = await openRecords(z);
  assert.equal(forEachRecord(s, () => {}), 40);
  assert.equal(forEachRecord(openRecordsSync(z), () => {}), 40);
  await assert.rejects(openRecords(z, 0, { maxUncompressedBytes: 100 }), (e: unknown) => e instanceof CompressionError && e.problem === 'too-large');
  assert.throws(() => openRecordsSync(z, 0, { maxUncompressedBytes: 100 }), CompressionError);
});

test('the visitor allocates nothing per record (heap stays flat over 200k records)', () => {
  const b = encodeBatchSync({ records: Array.from({ length: 2000 }, (_, i) => ({ key: `k${i}`, value: 'v', timestamp: T0, headers: [{ key: 'h', value: 'x' }] })) });
  let total = 0;
  const visit = (r: RecordView) => {
    total += r.valueLength + r.keyLength + r.headerCount + r.offsetDelta;
  };
  for (let i = 0; i < 20; i++) forEachRecord(b, visit); // warm up
  globalThis.gc?.();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 100; i++) forEachRecord(b, visit);
  const grown = process.memoryUsage().heapUsed - before;
  assert.ok(total > 0);
  // 200 000 records: an object per record would be several MB
  assert.ok(grown < 2_000_000, `heap grew by ${grown} bytes`);
});

// ------------------------------------------------------------------ validation

/** An uncompressed batch whose records section is `records` (raw bytes), with a correct CRC. */
function rawBatch(records: Buffer, count: number, lastOffsetDelta = count - 1, patch?: (b: Buffer) => void): Buffer {
  const b = Buffer.concat([encodeBatchSync({ records: [] }).subarray(0, BATCH_HEADER_SIZE), records]);
  b.writeInt32BE(b.length - 12, 8);
  b.writeInt32BE(count, 57);
  b.writeInt32BE(lastOffsetDelta, 23);
  patch?.(b);
  updateCrc(b, 0);
  return b;
}

/** Records section bytes of records built by hand: [attributes, tsDelta, offDelta, key, value, headers...]. */
function rec(fields: number[], payload: number[] = []): Buffer {
  const body = Buffer.from([...fields, ...payload]);
  const len = Buffer.alloc(5);
  const n = writeVarint(len, 0, body.length);
  return Buffer.concat([len.subarray(0, n), body]);
}

// zig-zag: 0 -> 0, -1 -> 1, 1 -> 2, 2 -> 4 ...
const OK_RECORD = (offsetDelta: number) => rec([0, 0, offsetDelta * 2, 1 /* key null */, 1 /* value null */, 0 /* no headers */]);

test('validateBatch: well-formed hand-built records pass; summary has the timestamp range', () => {
  const b = rawBatch(Buffer.concat([OK_RECORD(0), OK_RECORD(1), OK_RECORD(2)]), 3);
  const v = validateBatchSync(b);
  assert.equal(v.recordCount, 3);
  assert.equal(v.uncompressedBytes, b.length - BATCH_HEADER_SIZE);
  const t = encodeBatchSync({ records: many(10) });
  const s = validateBatchSync(t);
  assert.equal(s.minTimestamp, T0 - 20n);
  assert.equal(s.maxTimestamp, T0 + 7n);
});

test('validateBatch: malformed records are INVALID_RECORD, never a crash', () => {
  const cases: [string, Buffer, string][] = [
    ['record length larger than the batch', rawBatch(Buffer.concat([OK_RECORD(0), Buffer.from([0x7e, 0, 0])]), 2), 'bad-record'],
    ['record length too small', rawBatch(Buffer.from([2, 0, 0]), 1), 'bad-record'],
    ['negative record length', rawBatch(Buffer.from([1, 0, 0, 0, 1, 1, 0]), 1), 'bad-record'],
    ['key length past the record', rawBatch(rec([0, 0, 0, 20, 1, 0]), 1), 'bad-record'],
    ['key length -2', rawBatch(rec([0, 0, 0, 3, 1, 0]), 1), 'bad-record'],
    ['value length past the record', rawBatch(rec([0, 0, 0, 1, 40, 0]), 1), 'bad-record'],
    ['header count huge', rawBatch(rec([0, 0, 0, 1, 1, 0xfe, 0xff, 0xff, 0xff, 0x0f]), 1), 'bad-record'],
    ['negative header count', rawBatch(rec([0, 0, 0, 1, 1, 1]), 1), 'bad-record'],
    ['null header key', rawBatch(rec([0, 0, 0, 1, 1, 2, 1, 1]), 1), 'bad-record'],
    ['header value past the record', rawBatch(rec([0, 0, 0, 1, 1, 2, 2, 0x61, 30]), 1), 'bad-record'],
    ['fields shorter than the length', rawBatch(rec([0, 0, 0, 1, 1, 0, 0, 0]), 1), 'bad-record'],
    ['varint longer than 5 bytes', rawBatch(rec([0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 1, 1, 0]), 1), 'bad-record'],
    ['timestamp delta beyond 2^53', rawBatch(rec([0, 0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01, 0, 1, 1, 0]), 1), 'bad-record'],
    ['fewer records than the count', rawBatch(OK_RECORD(0), 2), 'count-mismatch'],
    ['bytes after the last record', rawBatch(Buffer.concat([OK_RECORD(0), Buffer.from([0])]), 1), 'count-mismatch'],
    ['offset deltas not increasing', rawBatch(Buffer.concat([OK_RECORD(1), OK_RECORD(0)]), 2), 'bad-offset-delta'],
    ['repeated offset delta', rawBatch(Buffer.concat([OK_RECORD(0), OK_RECORD(0)]), 2), 'bad-offset-delta'],
    ['offset delta past lastOffsetDelta', rawBatch(Buffer.concat([OK_RECORD(0), OK_RECORD(5)]), 2), 'bad-offset-delta'],
    ['negative offset delta', rawBatch(rec([0, 0, 1, 1, 1, 0]), 1), 'bad-offset-delta'],
  ];
  for (const [what, b, problem] of cases) {
    assert.equal(checkBatch(b, 0), null, `${what}: header and CRC are fine`);
    assert.throws(
      () => validateBatchSync(b),
      (e: unknown) => {
        assert.ok(e instanceof RecordsError, `${what}: ${String(e)}`);
        assert.equal(e.problem, problem, `${what}: ${e.message}`);
        assert.equal(e.code, ErrorCode.INVALID_RECORD, what);
        return true;
      },
      what,
    );
    assert.throws(() => decodeBatchSync(b), RecordsError, what);
    assert.throws(() => forEachRecord(b, () => {}), RecordsError, what);
  }
});

test('validateBatch: the same record problems inside compressed batches', async () => {
  const { compressSync } = await import('../../src/protocol/compression/index.js');
  for (const codec of [1, 2, 3, 4]) {
    for (const [section, count] of [
      [Buffer.concat([OK_RECORD(0), OK_RECORD(0)]), 2],
      [rec([0, 0, 0, 20, 1, 0]), 1],
      [Buffer.concat([OK_RECORD(0), Buffer.from([9, 9])]), 1],
    ] as const) {
      const payload = compressSync(codec, section);
      const b = rawBatch(payload, count, count - 1, (x) => x.writeInt16BE(codec, 21));
      await assert.rejects(validateBatch(b), (e: unknown) => e instanceof RecordsError && e.code === ErrorCode.INVALID_RECORD, NAMES[codec]);
    }
    // a corrupt compressed payload: CompressionError CORRUPT_MESSAGE
    const b = rawBatch(Buffer.from('not compressed at all, not at all'), 1, 0, (x) => x.writeInt16BE(codec, 21));
    await assert.rejects(validateBatch(b), (e: unknown) => e instanceof CompressionError && e.code === ErrorCode.CORRUPT_MESSAGE, NAMES[codec]);
    // decompression bomb: bounded by maxUncompressedBytes
    const bomb = await encodeBatch({ records: [{ value: Buffer.alloc(8 << 20), timestamp: T0 }], compression: codec });
    await assert.rejects(validateBatch(bomb, 0, { maxUncompressedBytes: 1 << 20 }), (e: unknown) => e instanceof CompressionError && e.code === ErrorCode.MESSAGE_TOO_LARGE);
  }
});

test("validateBatch: Kafka's rules for client batches (fromClient, default) and compacted topics", async () => {
  const ok = encodeBatchSync({ records: many(3) });
  const cases: [string, Buffer, string][] = [
    ['baseOffset != 0', encodeBatchSync({ records: many(3), baseOffset: 5n }), 'bad-base-offset'],
    ['count != lastOffsetDelta + 1', encodeBatchSync({ records: many(3), lastOffsetDelta: 5 }), 'bad-count'],
    ['empty batch', encodeBatchSync({ records: [] }), 'bad-count'],
    ['control batch', encodeEndTxnMarker({ commit: true, coordinatorEpoch: 1, producerId: 5n, producerEpoch: 0 }), 'control-from-client'],
    ['producer id without sequence', encodeBatchSync({ records: many(3), producerId: 5n, producerEpoch: 0, baseSequence: -1 }), 'bad-sequence'],
  ];
  for (const [what, b, problem] of cases) {
    await assert.rejects(validateBatch(b), isRecordsError(problem, ErrorCode.INVALID_RECORD), what);
  }
  // not from a client (a replica, the log itself): the same batches pass
  await validateBatch(encodeBatchSync({ records: many(3), baseOffset: 5n }), 0, { fromClient: false });
  await validateBatch(encodeBatchSync({ records: [{ value: 'a', offsetDelta: 0 }, { value: 'b', offsetDelta: 4 }], lastOffsetDelta: 4 }), 0, { fromClient: false });
  // compacted topic: keys required
  const keyless = encodeBatchSync({ records: [{ key: 'k', value: 'v' }, { key: null, value: 'v' }] });
  await assert.rejects(validateBatch(keyless, 0, { requireKeys: true }), (e: unknown) => e instanceof RecordsError && e.problem === 'missing-key' && e.recordIndex === 1);
  await validateBatch(ok, 0, { requireKeys: true });
  await validateBatch(encodeBatchSync({ records: [{ key: 'k', value: null }] }), 0, { requireKeys: true });
  // header-level problems are CORRUPT_MESSAGE
  const truncated = ok.subarray(0, ok.length - 1);
  await assert.rejects(validateBatch(truncated), isRecordsError('truncated', ErrorCode.CORRUPT_MESSAGE));
  const magic1 = Buffer.from(ok);
  magic1[16] = 1;
  await assert.rejects(validateBatch(magic1), isRecordsError('bad-magic', ErrorCode.CORRUPT_MESSAGE));
  const codec7 = Buffer.from(ok);
  codec7.writeInt16BE(7, 21);
  updateCrc(codec7);
  await assert.rejects(validateBatch(codec7), isRecordsError('bad-compression', ErrorCode.CORRUPT_MESSAGE));
});

test('validateRecords reports record index of the first missing key', () => {
  const b = encodeBatchSync({ records: [{ key: 'a' }, { key: 'b' }, { key: null }, { key: null }] });
  assert.throws(
    () => validateRecords(recordsSection(b), { requireKeys: true }),
    (e: unknown) => e instanceof RecordsError && e.recordIndex === 2,
  );
});

test('validateBatch (async) validates large sections in slices, yielding, with the same result and errors', async () => {
  const records = Array.from({ length: 30_000 }, (_, i) => ({ key: `k${i}`, value: Buffer.alloc(400, i), timestamp: T0 + BigInt(i % 1000) - 500n }));
  const b = encodeBatchSync({ records });
  assert.ok(b.length > 2 * VALIDATE_SLICE_BYTES);
  let ticks = 0;
  const timer = setInterval(() => ticks++, 0);
  try {
    await new Promise((r) => setImmediate(r));
    ticks = 0;
    const a = await validateBatch(b);
    assert.ok(ticks > 0, 'the event loop ran during validation');
    assert.deepEqual(a, validateBatchSync(b));
    assert.equal(a.minTimestamp, T0 - 500n);
    assert.equal(a.maxTimestamp, T0 + 499n);
  } finally {
    clearInterval(timer);
  }
  // a problem in the last slice is still found; early slices do not hide it
  const s = recordsSection(b);
  const broken = { ...s, end: s.end - 1 };
  await assert.rejects(validateRecordsAsync(broken), RecordsError);
  const keyless = encodeBatchSync({ records: [...records.slice(0, 20_000), { key: null, value: Buffer.alloc(1), timestamp: T0 }] });
  await assert.rejects(validateBatch(keyless, 0, { requireKeys: true }), (e: unknown) => e instanceof RecordsError && e.recordIndex === 20_000);
});

// ------------------------------------------------------------------ control records

test('control records: markers round trip; malformed keys/values are INVALID_RECORD', async () => {
  const m = encodeEndTxnMarker({ commit: false, coordinatorEpoch: 77, producerId: 12n, producerEpoch: 3, baseOffset: 1000n, timestamp: T0 });
  const d = await decodeBatch(m);
  assert.equal(d.isControl, true);
  assert.equal(d.transactional, true);
  assert.deepEqual(d.control, { version: 0, type: ControlRecordType.Abort, markerVersion: 0, coordinatorEpoch: 77 });
  assert.deepEqual(parseControlRecord(controlRecordKey(ControlRecordType.LeaderChange), Buffer.from([0, 0])), {
    version: 0,
    type: 2,
    markerVersion: null,
    coordinatorEpoch: null,
  });
  // a newer key version is read by its v0 prefix
  const newer = Buffer.concat([controlRecordKey(1, 3), Buffer.from([1, 2])]);
  assert.equal(parseControlRecord(newer, endTxnMarkerValue(5, 1)).coordinatorEpoch, 5);
  for (const [k, v] of [
    [null, endTxnMarkerValue(1)],
    [Buffer.from([0, 0, 0]), endTxnMarkerValue(1)],
    [controlRecordKey(1, -1), endTxnMarkerValue(1)],
    [controlRecordKey(1), Buffer.from([0, 0, 0, 0, 1])],
    [controlRecordKey(0), null],
    [controlRecordKey(1), endTxnMarkerValue(1, -2)],
  ] as const) {
    assert.throws(() => parseControlRecord(k, v), isRecordsError('bad-control-record', ErrorCode.INVALID_RECORD));
  }
  const badControl = encodeBatchSync({ records: [{ key: Buffer.from([0, 0]), value: null }], isControl: true, transactional: true });
  assert.throws(() => decodeBatchSync(badControl), isRecordsError('bad-control-record'));
});

// ------------------------------------------------------------------ varints

test('varints: boundaries, sizes, and malformed encodings', () => {
  const buf = Buffer.alloc(16);
  for (const v of [0, 1, -1, 63, -64, 64, -65, 8191, -8192, 2 ** 31 - 1, -(2 ** 31)]) {
    const n = writeVarint(buf, 0, v);
    assert.equal(n, sizeOfVarint(v), `size ${v}`);
    cursor.ok = true;
    assert.equal(readVarint(buf, 0, n), v);
    assert.equal(cursor.pos, n);
    assert.ok(cursor.ok);
  }
  for (const v of [0, -1, 2 ** 31, -(2 ** 31) - 1, 2 ** 40 + 3, -(2 ** 45) - 7, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER, 1_700_000_000_000]) {
    const n = writeVarlong(buf, 0, v);
    assert.equal(n, sizeOfVarlong(v), `size ${v}`);
    cursor.ok = true;
    assert.equal(readVarlong(buf, 0, n), v, `varlong ${v}`);
    assert.ok(cursor.ok);
  }
  // the Kafka encoding of -1 is 0x01, of 1 is 0x02, of 150 is 0xac 0x02
  assert.deepEqual(buf.subarray(0, writeVarint(buf, 0, 150)), Buffer.from([0xac, 0x02]));
  cursor.ok = true;
  readVarint(Buffer.from([0x80, 0x80]), 0, 2); // truncated
  assert.equal(cursor.ok, false);
  cursor.ok = true;
  readVarint(Buffer.from([0x80, 0x80, 0x80, 0x80, 0x80, 0x01]), 0, 6); // 6 bytes
  assert.equal(cursor.ok, false);
  cursor.ok = true;
  readVarlong(Buffer.alloc(11, 0x80), 0, 11); // 11 bytes
  assert.equal(cursor.ok, false);
  cursor.ok = true;
  readVarlong(Buffer.from([0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), 0, 10); // 2^63-1: beyond 2^53
  assert.equal(cursor.ok, false);
});
