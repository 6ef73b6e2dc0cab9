/**
 * Log compaction on the embedded engine: Kafka's contract, rule by rule, with
 * small segments and the cleaner run on demand (engine.runCleaner):
 * the latest record of every key survives, offsets never change, tombstones
 * stay delete.retention.ms after the first pass that kept them, the active
 * segment is not cleaned, keyless records are refused, a consumer that keeps up
 * sees every record, retention never removes a key's latest value on a pure
 * compact topic, min/max.compaction.lag.ms and min.cleanable.dirty.ratio,
 * compressed batches, idempotent producers' last batches, reopen after
 * cleaning (index files rebuilt), the pure parts (planCleaning, OffsetMap,
 * groupSegments) and the config rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { ErrorCode } from '../../src/protocol/errors.js';
import { Compression, baseOffset, lastOffsetDelta, recordCount, splitBatches, compression as batchCodec } from '../../src/protocol/records/batch-header.js';
import { decodeBatchesSync, encodeBatchSync } from '../../src/protocol/records/index.js';
import { StorageError } from '../../src/storage/engine.js';
import type { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import { groupSegments, planCleaning } from '../../src/storage/embedded/cleaner.js';
import { OffsetMap } from '../../src/storage/embedded/offset-map.js';
import { makeDefaults, resolveTopicConfig, validateEffectiveConfigs, applyAlterations, describeTopicConfigs } from '../../src/storage/topic-config.js';
import { ConfigSource, ConfigType, topicConfigViews } from '../../src/handlers/describe-configs.js';
import { buildBatch, openEngine, tempDir } from './storage-fixtures.test.js';
import { appendValidated } from '../helpers/validated.js';

const TOPIC = 'persistent://public/default/compacted';
const tp = { topic: TOPIC, partition: 0 };
const READ_ALL = { maxBytes: 1 << 30, minOneMessage: true };
/** Small segments, every batch indexed: many segments from few records. */
const SMALL = { 'cleanup.policy': 'compact', 'segment.bytes': '1200', 'index.interval.bytes': '100', 'min.cleanable.dirty.ratio': '0.01' };

interface Rec {
  offset: bigint;
  key: string | null;
  value: string | null;
  timestamp: bigint;
}

/** Every record of the partition from `from`, following gaps, as a consumer reads (decompressing). */
async function readAll(engine: EmbeddedEngine, from = 0n, t = tp): Promise<{ records: Rec[]; batches: Buffer[] }> {
  const records: Rec[] = [];
  const batches: Buffer[] = [];
  let offset = from;
  const { highWatermark } = await engine.offsets(t);
  for (let guard = 0; offset < highWatermark && guard < 100_000; guard++) {
    const r = await engine.read(t, offset, READ_ALL);
    assert.ok(r.records.length > 0, `read at ${offset} below the HW ${highWatermark} returned nothing`);
    for (const buf of r.records) {
      for (const { pos, size } of splitBatches(buf).spans) batches.push(Buffer.from(buf.subarray(pos, pos + size)));
      for (const b of decodeBatchesSync(buf)) {
        for (const rec of b.records) {
          const o = b.baseOffset + BigInt(rec.offsetDelta);
          if (o < offset) continue;
          records.push({ offset: o, key: rec.key?.toString() ?? null, value: rec.value?.toString() ?? null, timestamp: b.baseTimestamp + BigInt(rec.timestampDelta) });
        }
        offset = b.baseOffset + BigInt(b.lastOffsetDelta) + 1n;
      }
    }
  }
  return { records, batches };
}

function put(engine: EmbeddedEngine, key: string | null, value: string | null, ts = BigInt(Date.now()), t = tp): Promise<bigint> {
  return appendValidated(engine, t, buildBatch([{ key, value, timestamp: ts }]), { acks: -1 }).then((r) => r.baseOffset);
}

/** What was written, by offset, and the latest offset per key. */
class Model {
  readonly byOffset = new Map<bigint, { key: string; value: string | null }>();
  readonly latest = new Map<string, bigint>();
  add(offset: bigint, key: string, value: string | null): void {
    this.byOffset.set(offset, { key, value });
    this.latest.set(key, offset);
  }
}

function assertConsistent(model: Model, records: Rec[]): void {
  let prev = -1n;
  for (const r of records) {
    assert.ok(r.offset > prev, `offsets increase: ${r.offset} after ${prev}`);
    prev = r.offset;
    const w = model.byOffset.get(r.offset);
    assert.ok(w, `offset ${r.offset} was written`);
    assert.equal(r.key, w.key, `key at ${r.offset} unchanged`);
    assert.equal(r.value, w.value, `value at ${r.offset} unchanged`);
  }
  const seen = new Set(records.map((r) => r.offset));
  for (const [key, offset] of model.latest) {
    if (model.byOffset.get(offset)!.value !== null) assert.ok(seen.has(offset), `latest value of ${key} (offset ${offset}) kept`);
  }
}

test('config: cleanup.policy=compact and compact,delete accepted with the compaction keys; bad values and conflicting lags refused', () => {
  const defaults = makeDefaults();
  validateEffectiveConfigs({ 'cleanup.policy': 'compact' }, defaults);
  validateEffectiveConfigs({ 'cleanup.policy': 'compact,delete', 'delete.retention.ms': '0', 'min.cleanable.dirty.ratio': '0.25' }, defaults);
  const c = resolveTopicConfig({ 'cleanup.policy': 'delete, compact', 'min.compaction.lag.ms': '10', 'max.compaction.lag.ms': '20' }, defaults);
  assert.equal(c.compact, true);
  assert.equal(c.delete, true);
  assert.equal(c.minCompactionLagMs, 10);
  assert.equal(c.maxCompactionLagMs, 20);
  assert.equal(resolveTopicConfig({}, defaults).compact, false);
  assert.equal(resolveTopicConfig({}, defaults).deleteRetentionMs, 86_400_000);
  assert.equal(resolveTopicConfig({}, defaults).minCleanableDirtyRatio, 0.5);
  const refused = (configs: Record<string, string>, re: RegExp): void => {
    assert.throws(
      () => validateEffectiveConfigs(configs, defaults),
      (e: unknown) => e instanceof StorageError && e.code === ErrorCode.INVALID_CONFIG && re.test(e.message),
    );
  };
  refused({ 'cleanup.policy': 'compacted' }, /invalid value 'compacted'/);
  refused({ 'min.cleanable.dirty.ratio': '1.5' }, /between 0 and 1/);
  refused({ 'min.cleanable.dirty.ratio': 'half' }, /not a number/);
  refused({ 'delete.retention.ms': '-1' }, /at least 0/);
  refused({ 'max.compaction.lag.ms': '0' }, /at least 1/);
  refused({ 'min.compaction.lag.ms': '100', 'max.compaction.lag.ms': '10' }, /min.compaction.lag.ms \(100\) > max.compaction.lag.ms \(10\)/);
  // against the effective (default) value too
  assert.throws(() => validateEffectiveConfigs({ 'min.compaction.lag.ms': '100' }, makeDefaults({ 'max.compaction.lag.ms': '50' })), /min.compaction.lag.ms \(100\) > max.compaction.lag.ms \(50\)/);
  // incremental APPEND of compact to the list
  assert.deepEqual(applyAlterations({}, [{ name: 'cleanup.policy', value: 'compact', op: 'append' }], defaults), { 'cleanup.policy': 'delete,compact' });
  // broker default
  assert.equal(resolveTopicConfig({}, makeDefaults({ 'cleanup.policy': 'compact' })).compact, true);
});

test('keyless records are refused on compacted topics with INVALID_RECORD; keyed ones and delete topics accept them', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'cleanup.policy': 'compact' });
    await assert.rejects(put(engine, null, 'v'), (e: unknown) => e instanceof StorageError && e.code === ErrorCode.INVALID_RECORD && /without key/.test(e.message));
    assert.equal(await put(engine, 'k', 'v'), 0n);
    // a batch with one keyless record among keyed ones is refused whole
    await assert.rejects(
      appendValidated(engine, tp, buildBatch([{ key: 'a', value: '1' }, { key: null, value: '2' }]), { acks: -1 }),
      (e: unknown) => e instanceof StorageError && e.code === ErrorCode.INVALID_RECORD,
    );
    await engine.alterTopicConfigs(TOPIC, [{ name: 'cleanup.policy', value: 'delete', op: 'set' }]);
    assert.equal(await put(engine, null, 'v'), 1n);
    // a broker default of compact applies to topics without their own policy
    const e2 = await openEngine(join(d.path, 'b'), { defaults: { 'cleanup.policy': 'compact' } });
    try {
      await e2.createTopic(TOPIC, 1, {});
      await assert.rejects(put(e2, null, 'v'), (e: unknown) => e instanceof StorageError && e.code === ErrorCode.INVALID_RECORD);
      const described = await e2.describeTopicConfigs(TOPIC);
      assert.deepEqual(
        described.filter((c) => ['cleanup.policy', 'delete.retention.ms', 'min.cleanable.dirty.ratio', 'min.compaction.lag.ms', 'max.compaction.lag.ms'].includes(c.name)).map((c) => [c.name, c.value, c.source]),
        [
          ['cleanup.policy', 'compact', 'default'],
          ['delete.retention.ms', '86400000', 'default'],
          ['max.compaction.lag.ms', '9223372036854775807', 'default'],
          ['min.cleanable.dirty.ratio', '0.5', 'default'],
          ['min.compaction.lag.ms', '0', 'default'],
        ],
      );
    } finally {
      await e2.close();
    }
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('cleaning keeps the latest record of every key at its offset, never touches the active segment, reclaims space, and survives a reopen', async () => {
  const d = tempDir();
  let engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, SMALL);
    const model = new Model();
    for (let i = 0; i < 300; i++) {
      const key = `key-${i % 12}`;
      const value = `value-${i}`.padEnd(24 + (i % 7), '.');
      model.add(await put(engine, key, value), key, value);
    }
    const log = engine.partitionLog(tp);
    const before = { bytes: log.sizeInBytes, segments: log.segmentCount };
    const activeBase = log.segmentBases().at(-1)!;
    const activeBefore = (await readAll(engine, activeBase)).records;
    assert.ok(before.segments > 10, `many segments (${before.segments})`);
    assert.equal(await engine.runCleaner(), 1);

    const after = await readAll(engine);
    assertConsistent(model, after.records);
    // the active segment (not cleaned) still holds every record it had
    assert.deepEqual((await readAll(engine, activeBase)).records, activeBefore);
    // below the active segment exactly one record per key: its latest one there
    const cleaned = after.records.filter((r) => r.offset < activeBase);
    const latestBelow = new Map<string, bigint>();
    for (const [o, w] of model.byOffset) if (o < activeBase) latestBelow.set(w.key, o);
    assert.deepEqual(
      cleaned.map((r) => r.offset),
      [...latestBelow.values()].sort((a, b) => (a < b ? -1 : 1)),
      'below the active segment only the latest record of each key',
    );
    assert.ok(log.sizeInBytes < before.bytes / 3, `space reclaimed: ${log.sizeInBytes} of ${before.bytes} bytes`);
    assert.equal(log.cleanerCheckpointOffset, activeBase);
    // the log end and HW did not move; offsets in the gaps read the next record
    assert.equal((await engine.offsets(tp)).highWatermark, 300n);
    const gapRead = await engine.read(tp, 1n, READ_ALL);
    assert.ok(gapRead.records.length > 0);
    // nothing dirty: a second run does nothing
    assert.equal(await engine.runCleaner(), 0);
    // groups are formed from the segment sizes before cleaning (as Kafka): the next pass merges the shrunk segments
    const segmentsAfterFirst = log.segmentCount;
    for (let i = 300; i < 340; i++) {
      const key = `key-${i % 12}`;
      const value = `value-${i}`.padEnd(24 + (i % 7), '.');
      model.add(await put(engine, key, value), key, value);
    }
    assert.equal(await engine.runCleaner(Date.now(), true), 1);
    assert.ok(log.segmentCount < segmentsAfterFirst, `segments merged: ${log.segmentCount} of ${segmentsAfterFirst}`);
    const after2 = await readAll(engine);
    assertConsistent(model, after2.records);

    // reopen (clean shutdown), then again without the index files of the cleaned segments
    await engine.close();
    engine = await openEngine(d.path);
    assert.deepEqual((await readAll(engine)).records, after2.records);
    await engine.close();
    const pdir = join(d.path, 'topics');
    const indexFiles: string[] = [];
    const walk = (p: string): void => {
      for (const e of fs.readdirSync(p, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(p, e.name));
        else if (/\.(index|timeindex)$/.test(e.name)) indexFiles.push(join(p, e.name));
      }
    };
    walk(pdir);
    assert.ok(indexFiles.length > 0);
    for (const f of indexFiles) fs.unlinkSync(f);
    engine = await openEngine(d.path);
    assert.deepEqual((await readAll(engine)).records, after2.records);
    // appends continue at the old log end
    assert.equal(await put(engine, 'key-0', 'after-reopen'), 340n);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('tombstones stay until delete.retention.ms after the pass that first kept them, then go; older values of the key go at once', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { ...SMALL, 'delete.retention.ms': '60000' });
    const model = new Model();
    const write = async (key: string, value: string | null): Promise<void> => model.add(await put(engine, key, value), key, value);
    for (let i = 0; i < 40; i++) await write(`k${i % 5}`, `v${i}`.padEnd(30, '-'));
    await write('k1', null);
    await write('k3', null);
    for (let i = 0; i < 40; i++) await write(`filler${i % 4}`, `f${i}`.padEnd(30, '-'));
    const t0 = Date.now();
    assert.equal(await engine.runCleaner(t0), 1);
    let recs = (await readAll(engine)).records;
    assertConsistent(model, recs);
    const tomb = recs.filter((r) => r.value === null).map((r) => r.key);
    assert.deepEqual(tomb.sort(), ['k1', 'k3'], 'tombstones kept by the first pass');
    assert.equal(recs.filter((r) => r.key === 'k1').length, 1, 'values before the tombstone are gone');
    // the batch holding a kept tombstone carries the delete horizon (attribute bit 6), timestamps unchanged
    const { batches } = await readAll(engine);
    const horizonBatches = batches.filter((b) => (b.readInt16BE(21) & 0x40) !== 0);
    assert.equal(horizonBatches.length, 2);
    for (const b of horizonBatches) {
      const horizon = b.readBigInt64BE(27);
      assert.ok(horizon >= BigInt(t0 + 60_000) && horizon < BigInt(t0 + 70_000), `horizon ${horizon} = now + delete.retention.ms`);
    }
    // more dirty data, a pass before the horizon: the tombstones stay
    for (let i = 0; i < 30; i++) await write(`filler${i % 4}`, `g${i}`.padEnd(30, '-'));
    assert.equal(await engine.runCleaner(t0 + 30_000, true), 1);
    recs = (await readAll(engine)).records;
    assertConsistent(model, recs);
    assert.equal(recs.filter((r) => r.value === null).length, 2);
    // after the horizon: removed
    for (let i = 0; i < 30; i++) await write(`filler${i % 4}`, `h${i}`.padEnd(30, '-'));
    assert.equal(await engine.runCleaner(t0 + 61_000, true), 1);
    recs = (await readAll(engine)).records;
    assertConsistent(model, recs);
    assert.equal(recs.filter((r) => r.value === null).length, 0, 'tombstones removed after delete.retention.ms');
    assert.equal(recs.filter((r) => r.key === 'k1' || r.key === 'k3').length, 0);
    for (const k of ['k0', 'k2', 'k4']) assert.equal(recs.filter((r) => r.key === k).length, 1, `${k} keeps its latest value`);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('compressed batches: retained records are recompressed with the batch codec; a batch keeping all its records is kept byte for byte', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, SMALL);
    const model = new Model();
    const codecs = [Compression.Gzip, Compression.Snappy, Compression.Lz4, Compression.Zstd, Compression.None];
    let n = 0;
    for (let b = 0; b < 40; b++) {
      const codec = codecs[b % codecs.length]!;
      const records = Array.from({ length: 4 }, (_, i) => ({ key: `c${(n + i) % 9}`, value: `payload-${n + i}-`.padEnd(40, 'x'), timestamp: BigInt(Date.now()) }));
      const batch = encodeBatchSync({ records, compression: codec });
      const r = await appendValidated(engine, tp, batch, { acks: -1 });
      records.forEach((rec, i) => model.add(r.baseOffset + BigInt(i), rec.key, rec.value));
      n += 4;
    }
    const beforeBatches = (await readAll(engine)).batches;
    const codecOf = new Map(beforeBatches.map((b) => [baseOffset(b, 0), batchCodec(b, 0)]));
    const lastDelta = new Map(beforeBatches.map((b) => [baseOffset(b, 0), lastOffsetDelta(b, 0)]));
    assert.equal(await engine.runCleaner(), 1);
    const { records, batches } = await readAll(engine);
    assertConsistent(model, records);
    for (const b of batches) {
      const base = baseOffset(b, 0);
      assert.ok(codecOf.has(base), `batch ${base} keeps its base offset`);
      assert.equal(lastOffsetDelta(b, 0), lastDelta.get(base), `batch ${base} keeps its last offset`);
      if (recordCount(b, 0) > 0) assert.equal(batchCodec(b, 0), codecOf.get(base), `batch ${base} keeps its codec`);
      const orig = beforeBatches.find((x) => baseOffset(x, 0) === base)!;
      if (recordCount(b, 0) === recordCount(orig, 0)) assert.ok(b.equals(orig), `whole batch ${base} copied as it was`);
    }
    assert.ok(batches.length < beforeBatches.length);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test("an idempotent producer's last batch survives cleaning (as an empty batch), so its next sequence is accepted", async () => {
  const d = tempDir();
  let engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, SMALL);
    const pid = await engine.allocateProducerId();
    let seq = 0;
    let lastBase = -1n;
    for (let i = 0; i < 30; i++) {
      const r = await appendValidated(engine, tp, buildBatch([{ key: `p${i % 3}`, value: `x${i}`.padEnd(40, '.') }], { producerId: pid, producerEpoch: 0, baseSequence: seq++ }), { acks: -1 });
      lastBase = r.baseOffset;
    }
    // another producer's records supersede every key of the first one
    for (let i = 0; i < 40; i++) await put(engine, `p${i % 3}`, `y${i}`.padEnd(40, '.'));
    assert.equal(await engine.runCleaner(), 1);
    const { batches } = await readAll(engine);
    const kept = batches.find((b) => baseOffset(b, 0) === lastBase);
    assert.ok(kept, 'the producer-s last batch is kept');
    assert.equal(recordCount(kept, 0), 0, 'as an empty header');
    assert.equal(kept.readBigInt64BE(43), pid);
    assert.equal(kept.readInt32BE(53), 29, 'with its sequence');
    // the producer continues; a retry of its last batch is a duplicate, not written again
    const dup = await appendValidated(engine, tp, buildBatch([{ key: 'p2', value: 'x29'.padEnd(40, '.') }], { producerId: pid, producerEpoch: 0, baseSequence: 29 }), { acks: -1 });
    assert.equal(dup.duplicate, true);
    assert.equal(dup.baseOffset, lastBase);
    await engine.close();
    engine = await openEngine(d.path);
    const next = await appendValidated(engine, tp, buildBatch([{ key: 'p0', value: 'next' }], { producerId: pid, producerEpoch: 0, baseSequence: seq }), { acks: -1 });
    assert.equal(next.duplicate, false);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('retention: a pure compact topic never loses a key to retention.ms/bytes; compact,delete applies both', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  const old = BigInt(Date.now() - 3_600_000);
  try {
    for (const [name, policy] of [
      ['persistent://public/default/pure', 'compact'],
      ['persistent://public/default/both', 'compact,delete'],
    ] as const) {
      await engine.createTopic(name, 1, { ...SMALL, 'cleanup.policy': policy, 'retention.ms': '1000', 'retention.bytes': '100' });
      for (let i = 0; i < 60; i++) await put(engine, `r${i}`, `v${i}`.padEnd(30, '.'), old, { topic: name, partition: 0 });
    }
    await engine.runRetention();
    const pure = await readAll(engine, 0n, { topic: 'persistent://public/default/pure', partition: 0 });
    assert.equal(pure.records.length, 60, 'every key of the pure compact topic is still there');
    const both = await engine.offsets({ topic: 'persistent://public/default/both', partition: 0 });
    assert.ok(both.logStartOffset > 0n, `compact,delete: retention deleted old segments (log start ${both.logStartOffset})`);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('min.cleanable.dirty.ratio decides when a partition is cleaned; max.compaction.lag.ms forces it; min.compaction.lag.ms keeps recent records uncleaned', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { ...SMALL, 'min.cleanable.dirty.ratio': '0.9' });
    const now = Date.now();
    const old = BigInt(now - 600_000);
    for (let i = 0; i < 100; i++) await put(engine, `d${i % 50}`, `v${i}`.padEnd(30, '.'), old);
    assert.equal(await engine.runCleaner(now), 1, 'all dirty (ratio 1): cleaned');
    for (let i = 0; i < 15; i++) await put(engine, `d${i}`, `w${i}`.padEnd(30, '.'), old);
    assert.equal(await engine.runCleaner(now), 0, 'ratio below 0.9: not cleaned');
    await engine.alterTopicConfigs(TOPIC, [{ name: 'max.compaction.lag.ms', value: '60000', op: 'set' }]);
    assert.equal(await engine.runCleaner(now), 1, 'dirty records older than max.compaction.lag.ms: cleaned whatever the ratio');

    // min.compaction.lag.ms: records younger than the lag stay as written
    const t2 = 'persistent://public/default/lagged';
    await engine.createTopic(t2, 1, { ...SMALL, 'min.compaction.lag.ms': '300000' });
    const tp2 = { topic: t2, partition: 0 };
    for (let i = 0; i < 60; i++) await put(engine, `m${i % 5}`, `old${i}`.padEnd(30, '.'), BigInt(now - 900_000), tp2);
    const boundary = (await engine.offsets(tp2)).highWatermark;
    for (let i = 0; i < 60; i++) await put(engine, `m${i % 5}`, `new${i}`.padEnd(30, '.'), BigInt(now), tp2);
    assert.equal(await engine.runCleaner(now), 1);
    const recs = (await readAll(engine, 0n, tp2)).records;
    const checkpoint = engine.partitionLog(tp2).cleanerCheckpointOffset!;
    assert.ok(checkpoint > 0n && checkpoint <= boundary, `cleaned up to ${checkpoint}, not past the first young record at ${boundary}`);
    const hw = (await engine.offsets(tp2)).highWatermark;
    assert.deepEqual(
      recs.filter((r) => r.offset >= checkpoint).map((r) => r.offset),
      Array.from({ length: Number(hw - checkpoint) }, (_, i) => checkpoint + BigInt(i)),
      'everything from the first segment with a young record on is untouched',
    );
    const below = recs.filter((r) => r.offset < checkpoint);
    assert.equal(new Set(below.map((r) => r.key)).size, below.length, 'below it one record per key');
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('a consumer that keeps up sees every record while the cleaner runs, and reads stay consistent', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path, { cleaner: { enabled: false, ioMaxBytesPerSecond: 200_000 } });
  try {
    await engine.createTopic(TOPIC, 1, SMALL);
    const model = new Model();
    const seen: Rec[] = [];
    let consumed = 0n;
    let done = false;
    const consumer = (async () => {
      while (!done || consumed < (await engine.offsets(tp)).highWatermark) {
        const { highWatermark } = await engine.offsets(tp);
        if (consumed >= highWatermark) {
          await new Promise((r) => setTimeout(r, 1));
          continue;
        }
        const got = await readAll(engine, consumed);
        seen.push(...got.records);
        consumed = highWatermark;
      }
    })();
    const cleaner = (async () => {
      let passes = 0;
      while (!done) {
        passes += await engine.runCleaner(Date.now(), true);
        await new Promise((r) => setImmediate(r));
      }
      return passes;
    })();
    for (let i = 0; i < 400; i++) {
      const key = `k${i % 10}`;
      const value = `v${i}`.padEnd(28, '.');
      model.add(await put(engine, key, value), key, value);
    }
    done = true;
    const passes = await cleaner;
    await consumer;
    assert.ok(passes > 0, 'the cleaner ran while producing');
    assert.deepEqual(
      seen.map((r) => r.offset),
      Array.from({ length: 400 }, (_, i) => BigInt(i)),
      'the consumer that kept up saw every offset',
    );
    assertConsistent(model, seen);
    assertConsistent(model, (await readAll(engine)).records);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('pure parts: OffsetMap (bounded, latest offset per key), planCleaning, groupSegments', () => {
  const m = new OffsetMap(24 * 10, 0.5); // 10 slots, 5 entries
  for (let i = 0; i < 5; i++) assert.equal(m.put(Buffer.from(`k${i}`), BigInt(i)), true);
  assert.equal(m.full, true);
  assert.equal(m.put(Buffer.from('new'), 9n), false, 'full: a new key is not stored');
  assert.equal(m.put(Buffer.from('k1'), 7n), true, 'full: an existing key is updated');
  assert.equal(m.get(Buffer.from('k1')), 7n);
  assert.equal(m.get(Buffer.from('k0')), 0n);
  assert.equal(m.get(Buffer.from('absent')), -1n);
  assert.equal(m.latestOffset, 7n);

  const seg = (base: bigint, next: bigint, size: number, maxTs = 1000n) => ({ baseOffset: base, nextOffset: next, size, maxTimestamp: maxTs });
  const segs = [seg(0n, 10n, 100), seg(10n, 20n, 100), seg(20n, 30n, 100), seg(30n, 35n, 50)];
  const cfg = { minCleanableDirtyRatio: 0.5, minCompactionLagMs: 0, maxCompactionLagMs: Number.MAX_SAFE_INTEGER };
  let p = planCleaning(segs, 0n, 35n, null, cfg, 10_000, []);
  assert.deepEqual([p.firstDirtyOffset, p.firstUncleanableOffset, p.dirtyBytes, p.cleanBytes, p.due], [0n, 30n, 300, 0, true]);
  p = planCleaning(segs, 0n, 35n, 20n, cfg, 10_000, []);
  assert.deepEqual([p.firstDirtyOffset, p.dirtyBytes, p.cleanBytes, p.due], [20n, 100, 200, false]);
  p = planCleaning(segs, 0n, 15n, null, cfg, 10_000, []);
  assert.equal(p.firstUncleanableOffset, 15n, 'never past the high watermark');
  p = planCleaning(segs, 0n, 35n, 20n, { ...cfg, maxCompactionLagMs: 5000 }, 10_000, [100n, 100n, 100n]);
  assert.equal(p.due, true, 'forced by max.compaction.lag.ms');
  p = planCleaning([seg(0n, 10n, 100, 500n), seg(10n, 20n, 100, 9_500n), seg(20n, 30n, 10)], 0n, 30n, null, { ...cfg, minCompactionLagMs: 1000 }, 10_000, []);
  assert.equal(p.firstUncleanableOffset, 10n, 'min.compaction.lag.ms stops at the first young segment');
  p = planCleaning(segs, 25n, 35n, 5n, cfg, 10_000, []);
  assert.equal(p.firstDirtyOffset, 25n, 'a checkpoint below the log start restarts at the log start');

  assert.deepEqual(
    groupSegments(segs, 30n, 250).map((g) => g.map((s) => s.baseOffset)),
    [[0n, 10n], [20n]],
  );
});

test('recovery of an interrupted swap: with the commit marker the swap is completed (before or after the rename), without it the cleaned file is discarded', async () => {
  for (const stage of ['no-marker', 'before-rename', 'after-rename'] as const) {
    const d = tempDir();
    let engine = await openEngine(d.path);
    try {
      await engine.createTopic(TOPIC, 1, { ...SMALL, 'min.cleanable.dirty.ratio': '0.5' });
      const model = new Model();
      for (let i = 0; i < 60; i++) {
        const key = `s${i}`;
        const value = `v${i}`.padEnd(30, '.');
        model.add(await put(engine, key, value), key, value);
      }
      const log = engine.partitionLog(tp);
      const [x, y] = log.segmentBases();
      const dir = log.dir;
      const expected = (await readAll(engine)).records;
      await engine.close();
      const name = (b: bigint, suffix: string): string => join(dir, `${b.toString().padStart(20, '0')}${suffix}`);
      // a "cleaned" segment merging x and y (nothing to drop: every key is distinct), as the cleaner writes it
      const merged = Buffer.concat([fs.readFileSync(name(x!, '.log')), fs.readFileSync(name(y!, '.log'))]);
      fs.writeFileSync(name(x!, '.log.cleaned'), merged);
      const marker = JSON.stringify({ base: x!.toString(), replaces: [x!.toString(), y!.toString()] });
      if (stage !== 'no-marker') fs.writeFileSync(join(dir, 'clean-swap'), marker);
      if (stage === 'after-rename') {
        fs.renameSync(name(x!, '.log.cleaned'), name(x!, '.log'));
        fs.unlinkSync(name(x!, '.index'));
      }
      engine = await openEngine(d.path);
      const names = fs.readdirSync(dir);
      assert.deepEqual(names.filter((n) => n.endsWith('.cleaned') || n === 'clean-swap'), [], `${stage}: no leftovers`);
      assert.equal(names.includes(`${y!.toString().padStart(20, '0')}.log`), stage === 'no-marker', `${stage}: the replaced segment is gone once the swap is committed`);
      if (stage !== 'no-marker') assert.equal(fs.statSync(name(x!, '.log')).size, merged.length);
      const got = (await readAll(engine)).records;
      assert.deepEqual(got, expected, `${stage}: the same records at the same offsets`);
      assertConsistent(model, got);
    } finally {
      await engine.close();
      d.cleanup();
    }
  }
});

test('DescribeConfigs views: compaction keys with Kafka types, broker synonyms and sources (topic, broker default from the gateway, Kafka default)', () => {
  const defaults = makeDefaults({ 'cleanup.policy': 'compact', 'delete.retention.ms': '1000' });
  const views = topicConfigViews(describeTopicConfigs({ 'min.cleanable.dirty.ratio': '0.2' }, defaults), defaults);
  const v = (name: string) => views.find((x) => x.name === name)!;
  assert.deepEqual([v('cleanup.policy').value, v('cleanup.policy').source, v('cleanup.policy').type], ['compact', ConfigSource.STATIC_BROKER_CONFIG, ConfigType.LIST]);
  assert.deepEqual(v('cleanup.policy').synonyms, [{ name: 'log.cleanup.policy', value: 'compact', source: ConfigSource.STATIC_BROKER_CONFIG }]);
  assert.deepEqual([v('delete.retention.ms').value, v('delete.retention.ms').synonyms[0]!.name], ['1000', 'log.cleaner.delete.retention.ms']);
  assert.deepEqual([v('min.cleanable.dirty.ratio').value, v('min.cleanable.dirty.ratio').source, v('min.cleanable.dirty.ratio').type], ['0.2', ConfigSource.DYNAMIC_TOPIC_CONFIG, ConfigType.DOUBLE]);
  assert.deepEqual(v('min.cleanable.dirty.ratio').synonyms.map((x) => [x.name, x.value, x.source]), [
    ['min.cleanable.dirty.ratio', '0.2', ConfigSource.DYNAMIC_TOPIC_CONFIG],
    ['log.cleaner.min.cleanable.ratio', '0.5', ConfigSource.DEFAULT_CONFIG],
  ]);
  assert.deepEqual([v('max.compaction.lag.ms').source, v('max.compaction.lag.ms').synonyms[0]!.name], [ConfigSource.DEFAULT_CONFIG, 'log.cleaner.max.compaction.lag.ms']);
  assert.equal(v('min.compaction.lag.ms').synonyms[0]!.name, 'log.cleaner.min.compaction.lag.ms');
});

test('a key map smaller than the dirty keys: each pass cleans up to the last offset it mapped, the next pass continues, the result is the same', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path, { cleaner: { enabled: false, dedupeBufferBytes: 24 * 20 } }); // 18 keys a pass
  try {
    await engine.createTopic(TOPIC, 1, SMALL);
    const model = new Model();
    for (let i = 0; i < 240; i++) {
      const key = `m${(i * 7) % 60}`;
      const value = `v${i}`.padEnd(24, '.');
      model.add(await put(engine, key, value), key, value);
    }
    const log = engine.partitionLog(tp);
    const activeBase = log.segmentBases().at(-1)!;
    const checkpoints: bigint[] = [];
    for (let pass = 0; pass < 50 && log.cleanerCheckpointOffset !== activeBase; pass++) {
      assert.equal(await engine.runCleaner(Date.now(), true), 1);
      checkpoints.push(log.cleanerCheckpointOffset!);
    }
    assert.equal(log.cleanerCheckpointOffset, activeBase);
    assert.ok(checkpoints.length > 2, `several passes (${checkpoints.join(', ')})`);
    for (let i = 1; i < checkpoints.length; i++) assert.ok(checkpoints[i]! > checkpoints[i - 1]!, 'each pass moves the checkpoint');
    const recs = (await readAll(engine)).records;
    assertConsistent(model, recs);
    const below = recs.filter((r) => r.offset < activeBase);
    assert.equal(new Set(below.map((r) => r.key)).size, below.length, 'one record per key below the active segment');
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('transactions: aborted records are removed, committed ones compacted, nothing at or past an open transaction is cleaned, markers go delete.retention.ms after their data', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  const txnBatch = (pid: bigint, seq: number, recs: Array<[string, string]>) =>
    encodeBatchSync({ records: recs.map(([key, value]) => ({ key, value: value.padEnd(30, '-') })), producerId: pid, producerEpoch: 0, baseSequence: seq, transactional: true });
  const controls = (batches: Buffer[]) => batches.filter((b) => (b.readInt16BE(21) & 0x20) !== 0);
  try {
    await engine.createTopic(TOPIC, 1, { ...SMALL, 'delete.retention.ms': '60000' });
    const [a, b, c] = [await engine.allocateProducerId(), await engine.allocateProducerId(), await engine.allocateProducerId()];
    for (let i = 0; i < 5; i++) await put(engine, `k${i}`, 'old'.padEnd(30, '-'));
    // B writes every key and commits; then A writes every key (and one of its own) and aborts:
    // the aborted values must neither survive nor shadow the committed ones in the key map
    for (let i = 0; i < 5; i++) await appendValidated(engine, tp, txnBatch(b, i, [[`k${i}`, 'committed']]), { acks: -1 });
    await engine.writeTxnMarker(tp, { producerId: b, producerEpoch: 0, commit: true, coordinatorEpoch: 0 });
    for (let i = 0; i < 5; i++) await appendValidated(engine, tp, txnBatch(a, i * 2, [[`k${i}`, 'aborted'], [`only-a${i}`, 'aborted']]), { acks: -1 });
    const abortAt = (await engine.writeTxnMarker(tp, { producerId: a, producerEpoch: 0, commit: false, coordinatorEpoch: 0 })).offset;
    // A goes on outside a transaction: its last batch (which the cleaner keeps for its sequence state) is no longer an aborted one
    await appendValidated(engine, tp, buildBatch([{ key: 'a-after', value: 'plain' }], { producerId: a, producerEpoch: 0, baseSequence: 10 }), { acks: -1 });
    for (let i = 0; i < 30; i++) await put(engine, `f${i % 3}`, `f${i}`.padEnd(30, '-'));
    // C's transaction stays open: the cleaner stops at its first offset (the LSO)
    const open = (await appendValidated(engine, tp, txnBatch(c, 0, [['k0', 'open']]), { acks: -1 })).baseOffset;
    for (let i = 0; i < 40; i++) await put(engine, `f${i % 3}`, `g${i}`.padEnd(30, '-'));
    assert.equal((await engine.offsets(tp)).lastStableOffset, open);
    const t0 = Date.now();
    assert.equal(await engine.runCleaner(t0, true), 1);
    let { records, batches } = await readAll(engine);
    assert.equal(records.filter((r) => r.value?.startsWith('aborted')).length, 0, 'aborted records removed');
    assert.equal(records.filter((r) => r.value?.startsWith('old')).length, 0, 'committed values shadow the older ones');
    assert.deepEqual(records.filter((r) => r.value?.startsWith('committed')).map((r) => r.key), ['k0', 'k1', 'k2', 'k3', 'k4']);
    assert.equal(records.filter((r) => r.value?.startsWith('open')).length, 1, 'the open transaction is untouched');
    const fillerBeyond = records.filter((r) => r.offset > open && r.key?.startsWith('f'));
    assert.equal(fillerBeyond.length, 40, 'nothing past the LSO is cleaned');
    assert.equal(controls(batches).length, 2, 'both markers kept while their transactions had batches in the pass');
    // the aborted index still reports A (its marker is kept)
    const firstAfter = (await readAll(engine, 11n)).records[0]!.offset; // A's batches are gone: the next offset kept
    assert.deepEqual((await engine.read(tp, firstAfter, { ...READ_ALL, isolation: 'read_committed' })).abortedTransactions, [{ producerId: a, firstOffset: 11n }]);
    // commit C; a later pass finds A's and B's markers without data (B's records are kept, so B's marker stays)
    await engine.writeTxnMarker(tp, { producerId: c, producerEpoch: 0, commit: true, coordinatorEpoch: 0 });
    for (let i = 0; i < 40; i++) await put(engine, `f${i % 3}`, `h${i}`.padEnd(30, '-'));
    assert.equal(await engine.runCleaner(t0 + 1000, true), 1);
    ({ records, batches } = await readAll(engine));
    const abortMarker = controls(batches).find((x) => baseOffset(x, 0) === abortAt);
    assert.ok(abortMarker, 'the ABORT marker stays until its delete horizon');
    assert.ok((abortMarker.readInt16BE(21) & 0x40) !== 0, 'with a delete horizon');
    // (stamped by the first pass that found no batch of A beside it: the same pass that removed them when they were in an earlier segment group)
    assert.ok(abortMarker.readBigInt64BE(27) >= BigInt(t0 + 60_000), 'horizon = pass time + delete.retention.ms');
    // after the horizon the ABORT marker and its index entry are gone; committed data stays
    for (let i = 0; i < 40; i++) await put(engine, `f${i % 3}`, `i${i}`.padEnd(30, '-'));
    assert.equal(await engine.runCleaner(t0 + 62_000, true), 1);
    ({ records, batches } = await readAll(engine));
    assert.equal(controls(batches).find((x) => baseOffset(x, 0) === abortAt), undefined, 'ABORT marker removed after delete.retention.ms');
    assert.deepEqual((await engine.read(tp, firstAfter, { ...READ_ALL, isolation: 'read_committed' })).abortedTransactions, []);
    assert.deepEqual(records.filter((r) => r.value?.startsWith('committed')).map((r) => r.key), ['k1', 'k2', 'k3', 'k4'], 'k0 now has the value of C');
    assert.equal(records.filter((r) => r.value?.startsWith('open')).length, 1);
  } finally {
    await engine.close();
    d.cleanup();
  }
});
