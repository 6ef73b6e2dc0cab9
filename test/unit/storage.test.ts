import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '../../src/protocol/errors.js';
import { StorageError } from '../../src/storage/engine.js';
import { batchBases, buildBatch, decodeRecords, openEngine, tempDir, TOPIC, valuesBatch } from './storage-fixtures.test.js';
import { appendValidated, validated } from '../helpers/validated.js';

const tp = { topic: TOPIC, partition: 0 };
const READ_ALL = { maxBytes: 1 << 30, minOneMessage: true };

async function rejectsWith(p: Promise<unknown>, code: number, re?: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StorageError, `expected StorageError, got ${String(e)}`);
    assert.equal(e.code, code, `code ${e.code} (${e.message})`);
    if (re) assert.match(e.message, re);
    return true;
  });
}

test('append/read round trip keeps the batch bytes and assigns dense offsets', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, {});
    const a = await engine.append(tp, validated(valuesBatch(['a0', 'a1', 'a2'])), { acks: -1 });
    const b = await engine.append(tp, validated(valuesBatch(['b0'])), { acks: 1 });
    const c = await engine.append(tp, validated(valuesBatch(['c0', 'c1'])), { acks: -1 });
    const dd = await engine.append(tp, validated(valuesBatch(['d0'])), { acks: -1 });
    assert.deepEqual([a.baseOffset, b.baseOffset, c.baseOffset, dd.baseOffset], [0n, 3n, 4n, 6n]);
    assert.equal(a.duplicate, false);
    assert.equal(a.logAppendTime, -1n);
    assert.equal(a.logStartOffset, 0n);
    const r = await engine.read(tp, 0n, READ_ALL);
    assert.equal(r.highWatermark, 7n);
    assert.equal(r.lastStableOffset, 7n);
    assert.equal(r.logStartOffset, 0n);
    assert.deepEqual(batchBases(r.records), [0n, 3n, 4n, 6n]);
    assert.equal(r.bytes, r.records.reduce((n, b) => n + b.length, 0));
    const recs = decodeRecords(r.records);
    assert.deepEqual(
      recs.map((x) => [x.offset, x.value]),
      [
        [0n, 'a0'],
        [1n, 'a1'],
        [2n, 'a2'],
        [3n, 'b0'],
        [4n, 'c0'],
        [5n, 'c1'],
        [6n, 'd0'],
      ],
    );
    // Reading from the middle of a batch returns the batch holding the offset.
    const mid = await engine.read(tp, 5n, READ_ALL);
    assert.deepEqual(batchBases(mid.records), [4n, 6n]);
    // At the high watermark: empty.
    const end = await engine.read(tp, 7n, READ_ALL);
    assert.equal(end.records.length, 0);
    assert.equal(end.bytes, 0);
    assert.deepEqual(await engine.offsets(tp), { logStartOffset: 0n, highWatermark: 7n, lastStableOffset: 7n });
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('OFFSET_OUT_OF_RANGE outside [logStart, HW], UNKNOWN_TOPIC_OR_PARTITION for unknown partitions', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 2, {});
    await engine.append(tp, validated(valuesBatch(['x', 'y'])), { acks: -1 });
    await rejectsWith(engine.read(tp, 3n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE, /out of range/);
    await rejectsWith(engine.read(tp, -1n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE);
    await rejectsWith(engine.read({ topic: TOPIC, partition: 2 }, 0n, READ_ALL), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await rejectsWith(engine.append({ topic: TOPIC + 'x', partition: 0 }, validated(valuesBatch(['z'])), { acks: 1 }), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await rejectsWith(engine.offsets({ topic: TOPIC, partition: 5 }), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('maxBytes: whole batches only, first batch whole when minOneMessage, maxOffset bound', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, {});
    const sizes: number[] = [];
    for (let i = 0; i < 10; i++) {
      const b = valuesBatch([`v${i}`.padEnd(100 + i * 10, '.')]);
      sizes.push(b.length);
      await engine.append(tp, validated(b), { acks: -1 });
    }
    const r1 = await engine.read(tp, 0n, { maxBytes: sizes[0]! + sizes[1]! + 5, minOneMessage: true });
    assert.deepEqual(batchBases(r1.records), [0n, 1n]);
    assert.equal(r1.bytes, sizes[0]! + sizes[1]!);
    const r2 = await engine.read(tp, 3n, { maxBytes: 10, minOneMessage: true });
    assert.deepEqual(batchBases(r2.records), [3n]);
    const r3 = await engine.read(tp, 3n, { maxBytes: 10, minOneMessage: false });
    assert.equal(r3.records.length, 0);
    const r4 = await engine.read(tp, 2n, { maxBytes: 1 << 20, minOneMessage: true, maxOffset: 5n });
    assert.deepEqual(batchBases(r4.records), [2n, 3n, 4n]);
    const r5 = await engine.read(tp, 0n, { maxBytes: 0, minOneMessage: false });
    assert.equal(r5.bytes, 0);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('segments roll by segment.bytes; offsets stay dense; every offset is found through the index', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'segment.bytes': '2000', 'index.interval.bytes': '150' });
    const expected: string[] = [];
    let next = 0n;
    for (let i = 0; i < 120; i++) {
      const n = 1 + (i % 4);
      const values = Array.from({ length: n }, (_, k) => `m${i}-${k}`);
      const r = await engine.append(tp, validated(valuesBatch(values)), { acks: -1 });
      assert.equal(r.baseOffset, next);
      next += BigInt(n);
      expected.push(...values);
    }
    const log = engine.partitionLog(tp);
    assert.ok(log.segmentCount > 5, `rolled into ${log.segmentCount} segments`);
    const files = fs.readdirSync(join(d.path, 'topics/public/default/t1/0')).filter((f) => f.endsWith('.log'));
    assert.equal(files.length, log.segmentCount);
    for (const f of files) assert.match(f, /^\d{20}\.log$/);
    assert.equal(files.sort()[0], '00000000000000000000.log');
    assert.ok(log.segmentBases().every((b, i, a) => i === 0 || b > a[i - 1]!));
    // From every offset, the first record returned at or after it is that offset.
    for (let o = 0n; o < next; o++) {
      const r = await engine.read(tp, o, { maxBytes: 300, minOneMessage: true });
      const recs = decodeRecords(r.records).filter((x) => x.offset >= o);
      assert.ok(recs.length > 0, `offset ${o}`);
      assert.equal(recs[0]!.offset, o);
      assert.equal(recs[0]!.value, expected[Number(o)]);
    }
    // Walking the log like a consumer yields everything exactly once, in order.
    const seen: string[] = [];
    let pos = 0n;
    while (pos < next) {
      const r = await engine.read(tp, pos, { maxBytes: 700, minOneMessage: true });
      for (const rec of decodeRecords(r.records)) {
        if (rec.offset < pos) continue;
        assert.equal(rec.offset, BigInt(seen.length));
        seen.push(rec.value!);
      }
      pos = BigInt(seen.length);
    }
    assert.deepEqual(seen, expected);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('segment.ms rolls the active segment by age', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'segment.ms': '30' });
    await engine.append(tp, validated(valuesBatch(['a'])), { acks: -1 });
    await engine.append(tp, validated(valuesBatch(['b'])), { acks: -1 });
    assert.equal(engine.partitionLog(tp).segmentCount, 1);
    await new Promise((r) => setTimeout(r, 50));
    await engine.append(tp, validated(valuesBatch(['c'])), { acks: -1 });
    assert.deepEqual(engine.partitionLog(tp).segmentBases(), [0n, 2n]);
    assert.deepEqual(decodeRecords((await engine.read(tp, 0n, READ_ALL)).records).map((r) => r.value), ['a', 'b']);
    assert.deepEqual(decodeRecords((await engine.read(tp, 2n, READ_ALL)).records).map((r) => r.value), ['c']);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('max.message.bytes (the topic config, validated before the engine), segment.bytes and corrupt batches are refused', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'max.message.bytes': '200' });
    await rejectsWith(appendValidated(engine, tp, valuesBatch(['x'.repeat(300)]), { acks: -1 }), ErrorCode.MESSAGE_TOO_LARGE, /of 200 \(max\.message\.bytes\)/);
    const bad = valuesBatch(['ok']);
    bad[bad.length - 1] ^= 0xff;
    await rejectsWith(appendValidated(engine, tp, bad, { acks: -1 }), ErrorCode.CORRUPT_MESSAGE, /corrupt \(stored crc/);
    await rejectsWith(appendValidated(engine, tp, valuesBatch(['ok']).subarray(0, 30), { acks: -1 }), ErrorCode.CORRUPT_MESSAGE);
    // an engine takes nothing but a ValidatedBatch, even through a cast
    await assert.rejects(engine.append(tp, valuesBatch(['raw']) as never, { acks: -1 }), /only batches made by validateProduced/);
    assert.equal((await engine.offsets(tp)).highWatermark, 0n, 'nothing was stored');
    await engine.alterTopicConfigs(TOPIC, [
      { name: 'max.message.bytes', value: '100000', op: 'set' },
      { name: 'segment.bytes', value: '500', op: 'set' },
    ]);
    await rejectsWith(engine.append(tp, validated(valuesBatch(['x'.repeat(600)])), { acks: -1 }), ErrorCode.RECORD_LIST_TOO_LARGE);
    const ok = await engine.append(tp, validated(valuesBatch(['x'.repeat(300)])), { acks: -1 });
    assert.equal(ok.baseOffset, 0n);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('LogAppendTime topics stamp the batch and return the append time', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'message.timestamp.type': 'LogAppendTime' });
    const r = await engine.append(tp, validated(valuesBatch(['a', 'b'], { baseTimestamp: 5n })), { acks: -1, nowMs: 1_234_567n });
    assert.equal(r.logAppendTime, 1_234_567n);
    const read = await engine.read(tp, 0n, READ_ALL);
    const buf = read.records[0]!;
    assert.equal(buf.readBigInt64BE(35), 1_234_567n);
    assert.ok((buf.readInt16BE(21) & 0x08) !== 0);
    assert.deepEqual(await engine.offsetForTimestamp(tp, 1_000_000n), { offset: 0n, timestamp: 1_234_567n });
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('offsetForTimestamp via the time index and maxTimestamp', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'segment.bytes': '1500', 'index.interval.bytes': '200' });
    // Batch i has records with timestamps 1000 + 10*i + k (k = 0..2); batch 39 holds the max (9999).
    for (let i = 0; i < 40; i++) {
      const base = 1000n + BigInt(10 * i);
      const recs = [0, 1, 2].map((k) => ({ value: `r${i}-${k}`, timestamp: i === 39 && k === 1 ? 9999n : base + BigInt(k) }));
      await engine.append(tp, validated(buildBatch(recs, { baseTimestamp: base })), { acks: -1 });
    }
    assert.ok(engine.partitionLog(tp).segmentCount > 2);
    assert.deepEqual(await engine.offsetForTimestamp(tp, 0n), { offset: 0n, timestamp: 1000n });
    assert.deepEqual(await engine.offsetForTimestamp(tp, 1000n), { offset: 0n, timestamp: 1000n });
    assert.deepEqual(await engine.offsetForTimestamp(tp, 1001n), { offset: 1n, timestamp: 1001n });
    assert.deepEqual(await engine.offsetForTimestamp(tp, 1003n), { offset: 3n, timestamp: 1010n });
    // Every batch start, reached through the time index, in every segment.
    for (let i = 0; i < 39; i++) {
      const ts = 1000n + BigInt(10 * i) + 2n;
      assert.deepEqual(await engine.offsetForTimestamp(tp, ts), { offset: BigInt(3 * i + 2), timestamp: ts }, `batch ${i}`);
    }
    assert.deepEqual(await engine.offsetForTimestamp(tp, 1075n), { offset: 24n, timestamp: 1080n });
    assert.deepEqual(await engine.offsetForTimestamp(tp, 1385n), { offset: 117n, timestamp: 1390n });
    // 1391 is first reached by the 9999 record at offset 118 (batch 39, k=1), not by 1392 at 119.
    assert.deepEqual(await engine.offsetForTimestamp(tp, 1391n), { offset: 118n, timestamp: 9999n });
    assert.equal(await engine.offsetForTimestamp(tp, 10_000n), null);
    assert.deepEqual(await engine.maxTimestamp(tp), { offset: 118n, timestamp: 9999n });
    // Survives a restart (sealed segments' time indexes come from disk).
    await engine.close();
    const again = await openEngine(d.path);
    try {
      assert.deepEqual(await again.maxTimestamp(tp), { offset: 118n, timestamp: 9999n });
      assert.deepEqual(await again.offsetForTimestamp(tp, 1302n), { offset: 92n, timestamp: 1302n });
    } finally {
      await again.close();
    }
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('restart keeps data, offsets, configs, topic ids; appends continue', async () => {
  const d = tempDir();
  let engine = await openEngine(d.path);
  const id = (await engine.createTopic(TOPIC, 3, { 'retention.ms': '123456', 'segment.bytes': '1000' })).topicId;
  for (let i = 0; i < 30; i++) await engine.append({ topic: TOPIC, partition: i % 3 }, validated(valuesBatch([`v${i}`])), { acks: -1 });
  await engine.close();
  assert.ok(fs.existsSync(join(d.path, 'clean-shutdown')));
  engine = await openEngine(d.path);
  try {
    assert.ok(!fs.existsSync(join(d.path, 'clean-shutdown')), 'marker removed while running');
    const info = await engine.describeTopic(TOPIC);
    assert.ok(info);
    assert.deepEqual(info.topicId, id);
    assert.equal(info.partitions, 3);
    assert.deepEqual(info.configs, { 'retention.ms': '123456', 'segment.bytes': '1000' });
    for (let p = 0; p < 3; p++) {
      const o = await engine.offsets({ topic: TOPIC, partition: p });
      assert.equal(o.highWatermark, 10n);
      const r = await engine.append({ topic: TOPIC, partition: p }, validated(valuesBatch(['more'])), { acks: -1 });
      assert.equal(r.baseOffset, 10n);
      const all = decodeRecords((await engine.read({ topic: TOPIC, partition: p }, 0n, READ_ALL)).records);
      assert.ok(all.length >= 1);
    }
    // Read everything of partition 0 across segments.
    const vals: string[] = [];
    let pos = 0n;
    for (;;) {
      const r = await engine.read(tp, pos, READ_ALL);
      if (r.bytes === 0) break;
      const recs = decodeRecords(r.records).filter((x) => x.offset >= pos);
      vals.push(...recs.map((x) => x.value!));
      pos = recs[recs.length - 1]!.offset + 1n;
    }
    assert.deepEqual(vals, [...Array.from({ length: 10 }, (_, k) => `v${k * 3}`), 'more']);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('topics: create/describe/list/delete/createPartitions with Kafka error codes', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    const t2 = 'persistent://acme/sales/orders';
    const dry = await engine.createTopic(TOPIC, 2, {}, true);
    assert.equal(dry.partitions, 2);
    assert.equal(await engine.describeTopic(TOPIC), null, 'validateOnly creates nothing');
    const info = await engine.createTopic(TOPIC, 2, { 'cleanup.policy': 'delete' });
    assert.equal(info.topicId.length, 16);
    assert.equal(info.internal, false);
    await rejectsWith(engine.createTopic(TOPIC, 1, {}), ErrorCode.TOPIC_ALREADY_EXISTS);
    await rejectsWith(engine.createTopic(t2, 0, {}), ErrorCode.INVALID_PARTITIONS);
    await rejectsWith(engine.createTopic(t2, 1, { 'no.such': '1' }), ErrorCode.INVALID_CONFIG, /no\.such/);
    await rejectsWith(engine.createTopic(t2, 1, { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '5' }), ErrorCode.INVALID_CONFIG, /min\.compaction\.lag\.ms/);
    await rejectsWith(engine.createTopic('persistent://bad name/x/y', 1, {}), ErrorCode.INVALID_TOPIC_EXCEPTION);
    await engine.createTopic(t2, 1, {});
    assert.ok(fs.existsSync(join(d.path, 'topics/acme/sales/orders/topic.json')));
    assert.deepEqual((await engine.listTopics()).map((t) => t.name).sort(), [t2, TOPIC].sort());
    const internal = await engine.createTopic('persistent://public/default/__consumer_offsets', 1, {});
    assert.equal(internal.internal, true);

    await rejectsWith(engine.createPartitions(TOPIC, 1), ErrorCode.INVALID_PARTITIONS, /only be added/);
    await rejectsWith(engine.createPartitions(TOPIC, 2), ErrorCode.INVALID_PARTITIONS);
    await rejectsWith(engine.createPartitions(TOPIC + 'nope', 4), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await engine.createPartitions(TOPIC, 4, true);
    assert.equal((await engine.describeTopic(TOPIC))!.partitions, 2);
    await engine.createPartitions(TOPIC, 4);
    assert.equal((await engine.describeTopic(TOPIC))!.partitions, 4);
    const r = await engine.append({ topic: TOPIC, partition: 3 }, validated(valuesBatch(['p3'])), { acks: -1 });
    assert.equal(r.baseOffset, 0n);

    await engine.append(tp, validated(valuesBatch(['x'])), { acks: -1 });
    await engine.deleteTopic(TOPIC);
    assert.equal(await engine.describeTopic(TOPIC), null);
    assert.ok(!fs.existsSync(join(d.path, 'topics/public/default/t1')));
    await rejectsWith(engine.deleteTopic(TOPIC), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await rejectsWith(engine.read(tp, 0n, READ_ALL), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    // Re-created: new id, empty.
    const again = await engine.createTopic(TOPIC, 1, {});
    assert.notDeepEqual(again.topicId, info.topicId);
    assert.equal((await engine.offsets(tp)).highWatermark, 0n);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('deleteTopic while appends and reads are in flight fails them cleanly', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, {});
    for (let i = 0; i < 20; i++) await engine.append(tp, validated(valuesBatch([`v${i}`.repeat(50)])), { acks: -1 });
    const appends = Array.from({ length: 50 }, (_, i) => engine.append(tp, validated(valuesBatch([`late${i}`])), { acks: -1 }).then(() => 'ok', (e: StorageError) => e.code));
    const reads = Array.from({ length: 20 }, (_, i) => engine.read(tp, BigInt(i), READ_ALL).then(() => 'ok', (e: StorageError) => e.code));
    const wait = engine.waitForAppend([{ tp, offset: 1000n }], 10_000);
    await engine.deleteTopic(TOPIC);
    const outcomes = [...(await Promise.all(appends)), ...(await Promise.all(reads))];
    for (const o of outcomes) assert.ok(o === 'ok' || o === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `outcome ${String(o)}`);
    await wait; // woken, not left hanging
    assert.equal(engine.waitingFetches, 0);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('concurrent appends to many partitions: per-partition order, dense offsets', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    const P = 16;
    await engine.createTopic(TOPIC, P, { 'segment.bytes': '4000' });
    const N = 40;
    const results = await Promise.all(
      Array.from({ length: P * N }, (_, i) => {
        const p = i % P;
        const k = Math.floor(i / P);
        return engine.append({ topic: TOPIC, partition: p }, validated(valuesBatch([`p${p}-${k}`])), { acks: -1 }).then((r) => ({ p, k, off: r.baseOffset }));
      }),
    );
    for (const r of results) assert.equal(r.off, BigInt(r.k), 'arrival order = offset order within a partition');
    for (let p = 0; p < P; p++) {
      const vals: string[] = [];
      let pos = 0n;
      while (pos < BigInt(N)) {
        const r = await engine.read({ topic: TOPIC, partition: p }, pos, READ_ALL);
        const recs = decodeRecords(r.records).filter((x) => x.offset >= pos);
        vals.push(...recs.map((x) => x.value!));
        pos += BigInt(recs.length);
      }
      assert.deepEqual(vals, Array.from({ length: N }, (_, k) => `p${p}-${k}`));
    }
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('group commit: concurrent acks=-1 appends across partitions share fdatasyncs', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path, { flushPolicy: 'every-batch' });
  try {
    const P = 8;
    await engine.createTopic(TOPIC, P, {});
    // Sequential appends: one sync each (the baseline).
    const before = engine.stats.logSyncs;
    for (let i = 0; i < 5; i++) await engine.append(tp, validated(valuesBatch(['seq'])), { acks: -1 });
    assert.equal(engine.stats.logSyncs - before, 5);

    const N = 400;
    const s0 = { ...engine.stats };
    await Promise.all(Array.from({ length: N }, (_, i) => engine.append({ topic: TOPIC, partition: i % P }, validated(valuesBatch([`v${i}`])), { acks: -1 })));
    const syncs = engine.stats.logSyncs - s0.logSyncs;
    const rounds = engine.stats.flushRounds - s0.flushRounds;
    const writes = engine.stats.logWrites - s0.logWrites;
    // At most one fdatasync per partition file per round, and far fewer than one per append.
    assert.ok(syncs <= rounds * P, `syncs ${syncs} rounds ${rounds}`);
    assert.ok(syncs < N / 4, `${syncs} fdatasyncs for ${N} appends`);
    assert.ok(writes < N, `${writes} writes for ${N} appends (coalesced)`);
    for (let p = 0; p < P; p++) assert.equal((await engine.offsets({ topic: TOPIC, partition: p })).highWatermark, p === 0 ? 55n : 50n);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('every-batch: HW moves only after the fsync; interval: after the write, fsynced later', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path, { flushPolicy: 'interval', flushIntervalMs: 40 });
  try {
    await engine.createTopic(TOPIC, 1, {});
    await engine.createTopic(TOPIC + 's', 1, { 'flush.messages': '1' });
    const syncsBefore = engine.stats.logSyncs;
    const r = await engine.append(tp, validated(valuesBatch(['a'])), { acks: -1 });
    assert.equal(r.baseOffset, 0n);
    assert.equal((await engine.offsets(tp)).highWatermark, 1n, 'visible after the page-cache write');
    assert.equal(engine.stats.logSyncs, syncsBefore, 'not fsynced yet');
    await new Promise((res) => setTimeout(res, 120));
    assert.equal(engine.stats.logSyncs, syncsBefore + 1, 'fsynced by the interval flusher');

    // Per-topic flush.messages=1 overrides the engine policy: ack and HW after fsync.
    const stp = { topic: TOPIC + 's', partition: 0 };
    const p = engine.append(stp, validated(valuesBatch(['s'])), { acks: 0 });
    const ack0 = await p;
    assert.equal(ack0.baseOffset, 0n);
    const s1 = engine.stats.logSyncs;
    await engine.append(stp, validated(valuesBatch(['t'])), { acks: 1 });
    assert.ok(engine.stats.logSyncs > s1);
    assert.equal((await engine.offsets(stp)).highWatermark, 2n);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('waitForAppend wakes on a HW move, times out, aborts, and leaves no listeners', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 2, {});
    const tp1 = { topic: TOPIC, partition: 1 };
    // Already past: resolves at once.
    await engine.append(tp, validated(valuesBatch(['a'])), { acks: -1 });
    await engine.waitForAppend([{ tp, offset: 0n }], 5000);
    // Wakes on append to one of the watched partitions.
    const t0 = Date.now();
    const w = engine.waitForAppend(
      [
        { tp, offset: 1n },
        { tp: tp1, offset: 0n },
      ],
      5000,
    );
    setTimeout(() => void engine.append(tp1, validated(valuesBatch(['b'])), { acks: -1 }), 30);
    await w;
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(engine.waitingFetches, 0);
    // Times out.
    const t1 = Date.now();
    await engine.waitForAppend([{ tp, offset: 1n }], 60);
    assert.ok(Date.now() - t1 >= 50);
    assert.equal(engine.waitingFetches, 0);
    // Abort.
    const ac = new AbortController();
    const w2 = engine.waitForAppend([{ tp, offset: 1n }], 10_000, ac.signal);
    setTimeout(() => ac.abort(), 20);
    await w2;
    assert.equal(engine.waitingFetches, 0);
    // Many waiters, all cleaned.
    await Promise.all(Array.from({ length: 100 }, () => engine.waitForAppend([{ tp, offset: 1n }], 20)));
    assert.equal(engine.waitingFetches, 0);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('retention by size and time deletes whole old segments and moves the log start', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'segment.bytes': '1000', 'retention.bytes': '3000' });
    const now = Date.now();
    for (let i = 0; i < 60; i++) await engine.append(tp, validated(valuesBatch([`v${i}`.padEnd(80, '.')], { baseTimestamp: BigInt(now - 100_000 + i) })), { acks: -1 });
    const log = engine.partitionLog(tp);
    const segsBefore = log.segmentCount;
    assert.ok(segsBefore > 4);
    const deleted = await engine.runRetention();
    assert.ok(deleted > 0);
    assert.ok(log.sizeInBytes <= 3000 + 1000, `size ${log.sizeInBytes}`);
    const start = (await engine.offsets(tp)).logStartOffset;
    assert.equal(start, log.segmentBases()[0]);
    assert.ok(start > 0n);
    await rejectsWith(engine.read(tp, start - 1n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE);
    assert.equal(decodeRecords((await engine.read(tp, start, READ_ALL)).records)[0]!.offset, start);
    const files = fs.readdirSync(join(d.path, 'topics/public/default/t1/0')).filter((f) => f.endsWith('.log'));
    assert.equal(files.length, log.segmentCount);

    // Time: everything older than 50 s goes, except the active segment.
    await engine.alterTopicConfigs(TOPIC, [
      { name: 'retention.bytes', value: null, op: 'delete' },
      { name: 'retention.ms', value: '50000', op: 'set' },
    ]);
    await engine.runRetention();
    assert.equal(log.segmentCount, 1, 'only the active segment is left');
    const o = await engine.offsets(tp);
    assert.equal(o.logStartOffset, log.segmentBases()[0]);
    assert.equal(o.highWatermark, 60n);
    // Restart: log start derived from the first segment.
    await engine.close();
    const again = await openEngine(d.path);
    try {
      assert.deepEqual(await again.offsets(tp), o);
    } finally {
      await again.close();
    }
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('deleteRecords moves the log start (persisted), drops old segments, bounds are checked', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'segment.bytes': '800' });
    for (let i = 0; i < 30; i++) await engine.append(tp, validated(valuesBatch([`v${i}`.padEnd(60, '.')])), { acks: -1 });
    const log = engine.partitionLog(tp);
    const segs = log.segmentCount;
    await rejectsWith(engine.deleteRecords(tp, 31n), ErrorCode.OFFSET_OUT_OF_RANGE);
    assert.equal(await engine.deleteRecords(tp, 17n), 17n);
    assert.ok(log.segmentCount < segs);
    assert.ok(log.segmentBases()[0]! <= 17n);
    await rejectsWith(engine.read(tp, 16n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE);
    const r = await engine.read(tp, 17n, READ_ALL);
    assert.ok(decodeRecords(r.records).some((x) => x.offset === 17n));
    assert.equal(r.logStartOffset, 17n);
    assert.equal(await engine.deleteRecords(tp, 5n), 17n, 'never moves backwards');
    assert.equal((await engine.offsetForTimestamp(tp, 0n))!.offset, 17n);
    await engine.close();
    const again = await openEngine(d.path);
    try {
      assert.equal((await again.offsets(tp)).logStartOffset, 17n);
      assert.equal(await again.deleteRecords(tp, -1n), 30n);
      await rejectsWith(again.read(tp, 29n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE);
      assert.equal((await again.read(tp, 30n, READ_ALL)).bytes, 0);
      const more = await again.append(tp, validated(valuesBatch(['after'])), { acks: -1 });
      assert.equal(more.baseOffset, 30n);
      assert.equal(more.logStartOffset, 30n);
    } finally {
      await again.close();
    }
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('topic configs: describe, incremental alter, replace, validateOnly', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path, { defaults: { 'retention.ms': '3600000' } });
  try {
    await engine.createTopic(TOPIC, 1, { 'retention.bytes': '1000000' });
    const desc = await engine.describeTopicConfigs(TOPIC);
    const byName = new Map(desc.map((e) => [e.name, e]));
    assert.deepEqual(byName.get('retention.bytes'), { name: 'retention.bytes', value: '1000000', source: 'topic', readOnly: false, sensitive: false });
    assert.equal(byName.get('retention.ms')!.value, '3600000');
    assert.equal(byName.get('retention.ms')!.source, 'default');
    assert.equal(byName.get('max.message.bytes')!.value, '1048588');
    assert.equal(byName.get('flush.messages')!.value, '1', 'every-batch policy default');
    assert.deepEqual(
      desc.map((e) => e.name),
      [...desc.map((e) => e.name)].sort(),
    );
    await engine.alterTopicConfigs(TOPIC, [{ name: 'retention.ms', value: '1', op: 'set' }], true);
    assert.deepEqual((await engine.describeTopic(TOPIC))!.configs, { 'retention.bytes': '1000000' });
    await rejectsWith(engine.alterTopicConfigs(TOPIC, [{ name: 'bogus', value: '1', op: 'set' }]), ErrorCode.INVALID_CONFIG, /bogus/);
    await rejectsWith(engine.alterTopicConfigs(TOPIC, [{ name: 'cleanup.policy', value: 'compacted', op: 'append' }]), ErrorCode.INVALID_CONFIG, /compacted/);
    await rejectsWith(engine.alterTopicConfigs(TOPIC, [{ name: 'retention.ms', value: '5', op: 'append' }]), ErrorCode.INVALID_CONFIG);
    await rejectsWith(engine.alterTopicConfigs(TOPIC + 'x', [{ name: 'retention.ms', value: '5', op: 'set' }]), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    await engine.alterTopicConfigs(TOPIC, [
      { name: 'retention.ms', value: '5000', op: 'set' },
      { name: 'retention.bytes', value: null, op: 'delete' },
    ]);
    assert.deepEqual((await engine.describeTopic(TOPIC))!.configs, { 'retention.ms': '5000' });
    await engine.replaceTopicConfigs(TOPIC, { 'segment.bytes': '100000' }, true);
    assert.deepEqual((await engine.describeTopic(TOPIC))!.configs, { 'retention.ms': '5000' });
    await engine.replaceTopicConfigs(TOPIC, { 'segment.bytes': '100000' });
    assert.deepEqual((await engine.describeTopic(TOPIC))!.configs, { 'segment.bytes': '100000' });
    await rejectsWith(engine.replaceTopicConfigs(TOPIC, { 'segment.bytes': 'lots' }), ErrorCode.INVALID_CONFIG, /segment\.bytes/);
    await engine.close();
    const again = await openEngine(d.path);
    try {
      assert.deepEqual((await again.describeTopic(TOPIC))!.configs, { 'segment.bytes': '100000' });
    } finally {
      await again.close();
    }
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('producer ids are unique and never reused across restarts', async () => {
  const d = tempDir();
  let engine = await openEngine(d.path);
  const ids = new Set<bigint>();
  try {
    const first = await Promise.all(Array.from({ length: 50 }, () => engine.allocateProducerId()));
    for (const id of first) ids.add(id);
    assert.equal(ids.size, 50);
    await engine.close();
    engine = await openEngine(d.path);
    for (let i = 0; i < 20; i++) {
      const id = await engine.allocateProducerId();
      assert.ok(!ids.has(id));
      assert.ok(id > first.reduce((a, b) => (a > b ? a : b)));
      ids.add(id);
    }
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('a second engine on a running data directory is refused', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    fs.writeFileSync(join(d.path, '.lock'), `${process.ppid}\n`);
    const other = openEngine(d.path);
    await assert.rejects(other, /in use by process/);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('open file descriptors stay bounded; reads racing retention retry or fail cleanly', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path, { maxOpenFiles: 4 });
  try {
    await engine.createTopic(TOPIC, 2, { 'segment.bytes': '400' });
    for (let i = 0; i < 80; i++) await engine.append({ topic: TOPIC, partition: i % 2 }, validated(valuesBatch([`v${i}`.padEnd(100, '.')])), { acks: -1 });
    assert.ok(engine.partitionLog(tp).segmentCount >= 10);
    for (let o = 0n; o < 40n; o++) {
      for (let p = 0; p < 2; p++) {
        const r = await engine.read({ topic: TOPIC, partition: p }, o, { maxBytes: 1, minOneMessage: true });
        assert.equal(decodeRecords(r.records)[0]!.offset, o);
      }
      assert.ok(engine.openFileCount <= 4, `${engine.openFileCount} open`);
    }
    // Reads from every offset while retention deletes segments underneath.
    await engine.alterTopicConfigs(TOPIC, [{ name: 'retention.bytes', value: '0', op: 'set' }]);
    const reads = Array.from({ length: 40 }, (_, i) =>
      engine.read(tp, BigInt(i), READ_ALL).then(
        (r) => (decodeRecords(r.records).some((x) => x.offset === BigInt(i)) ? 'ok' : 'wrong'),
        (e: StorageError) => e.code,
      ),
    );
    const deleted = engine.runRetention();
    const outcomes = await Promise.all(reads);
    assert.ok((await deleted) > 0);
    for (const o of outcomes) assert.ok(o === 'ok' || o === ErrorCode.OFFSET_OUT_OF_RANGE, `outcome ${String(o)}`);
    assert.equal(engine.partitionLog(tp).segmentCount, 1);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('a topic flushed only by count (flush.ms = Long.MAX) arms no runaway timer', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(w.name);
  process.on('warning', onWarning);
  try {
    await engine.createTopic(TOPIC, 1, { 'flush.messages': '1000' });
    await engine.append(tp, validated(valuesBatch(['a'])), { acks: -1 });
    const rounds = engine.stats.flushRounds;
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(engine.stats.flushRounds, rounds, 'no flush round before the count or close');
    assert.deepEqual(warnings, []);
    assert.equal((await engine.offsets(tp)).highWatermark, 1n);
  } finally {
    process.off('warning', onWarning);
    await engine.close();
    d.cleanup();
  }
});

test('reads reuse buffers only after release(): unreleased results keep their bytes, a second release() is a no-op', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, {});
    // 40 batches of 16 records of ~1 KiB: reads of 128 KiB take pooled buffers
    for (let b = 0; b < 40; b++) {
      const values = Array.from({ length: 16 }, (_, i) => `${b}-${i}-`.padEnd(1000, String.fromCharCode(97 + ((b + i) % 26))));
      await engine.append(tp, validated(valuesBatch(values)), { acks: -1 });
    }
    const window = { maxBytes: 128 * 1024, minOneMessage: true };
    const snapshot = (r: { records: Buffer[] }): Buffer => Buffer.concat(r.records.map((x) => Buffer.from(x)));
    const r1 = await engine.read(tp, 0n, window);
    const r1Bytes = snapshot(r1);
    assert.ok(r1.release, 'a pooled read result carries release()');
    const next = (r: { records: Buffer[] }): bigint => {
      const recs = decodeRecords(r.records);
      return recs[recs.length - 1]!.offset + 1n;
    };
    const r2 = await engine.read(tp, next(r1), window);
    const r2Bytes = snapshot(r2);
    assert.notEqual(r2.records[0]!.buffer, r1.records[0]!.buffer, 'an unreleased buffer is never handed to another read');
    assert.ok(snapshot(r1).equals(r1Bytes), 'the first result is intact after a second read');
    r1.release!();
    r1.release!(); // twice: must not put the buffer in the pool twice
    const r3 = await engine.read(tp, next(r2), window);
    const r4 = await engine.read(tp, 0n, window);
    assert.notEqual(r3.records[0]!.buffer, r4.records[0]!.buffer, 'a buffer released twice still goes to one reader');
    assert.ok(snapshot(r2).equals(r2Bytes), 'an unreleased result is intact after its neighbours were released and reused');
    assert.ok(snapshot(r4).equals(r1Bytes), 'a re-read into a reused buffer returns the same bytes');
    // every record, in order, through released and reused buffers
    let offset = 0n;
    let seen = 0;
    for (;;) {
      const r = await engine.read(tp, offset, window);
      if (r.bytes === 0) break;
      for (const rec of decodeRecords(r.records)) {
        if (rec.offset < offset) continue;
        assert.equal(rec.offset, BigInt(seen));
        assert.ok(rec.value!.startsWith(`${Math.floor(seen / 16)}-${seen % 16}-`), `record ${seen}: ${rec.value!.slice(0, 12)}`);
        seen++;
      }
      offset = BigInt(seen);
      r.release?.();
    }
    assert.equal(seen, 640);
  } finally {
    await engine.close();
    d.cleanup();
  }
});
