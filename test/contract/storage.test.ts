/**
 * The storage contract (src/storage/engine.ts): the same cases on every engine
 * (test/contract/engines.ts: embedded, and Pulsar on the real broker in both
 * entry formats). What handlers rely on: offsets, reads at any offset, batch
 * sizes and codecs, validation before any engine, idempotent producers,
 * DeleteRecords, ListOffsets by time, the topic life cycle (a re-created topic
 * never serves the old one's data, cf. KoP #530), configs, retention, restart
 * recovery, and long-poll wake-ups. A documented difference between engines is
 * a trait (engines.ts), and the case asserts what the docs say.
 */
import assert from 'node:assert/strict';
import { encodeBatchSync, type RecordInput } from '../../src/protocol/records/encode.js';
import { decodeBatchesSync, TimestampType } from '../../src/protocol/records/records.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { OFF_CRC } from '../../src/protocol/records/batch-header.js';
import { StorageError, type PartitionRef, type StorageEngine } from '../../src/storage/engine.js';
import { validateProduced } from '../../src/storage/validated-batch.js';
import { resolveTopicConfig } from '../../src/storage/topic-config.js';
import { appendValidated, validated } from '../helpers/validated.js';
import { contract } from './engines.js';

const READ_ALL = { maxBytes: 1 << 30, minOneMessage: true };
const T0 = Date.now() - 60_000;

interface Got {
  offset: bigint;
  key: string | null;
  value: string | null;
  timestamp: bigint;
  headers: string[];
}

function batch(
  n: number,
  tag: string,
  options: { ts0?: number; compression?: number; valueSize?: number; producerId?: bigint; producerEpoch?: number; baseSequence?: number; transactional?: boolean } = {},
): Buffer {
  const ts0 = options.ts0 ?? T0;
  const pad = options.valueSize ? 'x'.repeat(options.valueSize) : '';
  const records: RecordInput[] = Array.from({ length: n }, (_, i) => ({ key: `${tag}-k${i}`, value: `${tag}-v${i}${pad}`, timestamp: ts0 + i, headers: [{ key: 'h', value: `${tag}-${i}` }] }));
  return encodeBatchSync({
    records,
    ...(options.compression !== undefined ? { compression: options.compression } : {}),
    ...(options.producerId !== undefined ? { producerId: options.producerId, producerEpoch: options.producerEpoch ?? 0, baseSequence: options.baseSequence ?? 0 } : {}),
    ...(options.transactional ? { transactional: true } : {}),
  });
}

/**
 * What a Kafka read_committed consumer keeps of a read (Kafka's Fetcher): control
 * batches are dropped; a batch of a producer listed in aborted_transactions is
 * dropped from that transaction's first offset until the producer's ABORT marker.
 */
function committedValues(records: Buffer[], aborted: Array<{ producerId: bigint; firstOffset: bigint }>): string[] {
  const out: string[] = [];
  const pending = [...aborted].sort((a, b) => (a.firstOffset < b.firstOffset ? -1 : 1));
  const abortedPids = new Set<bigint>();
  for (const b of records) {
    for (const d of decodeBatchesSync(b)) {
      while (pending.length > 0 && pending[0]!.firstOffset <= d.baseOffset + BigInt(d.lastOffsetDelta)) abortedPids.add(pending.shift()!.producerId);
      if (d.isControl) {
        if (d.control?.type === 0) abortedPids.delete(d.producerId);
        continue;
      }
      if (d.transactional && abortedPids.has(d.producerId)) continue;
      for (const r of d.records) out.push(r.value?.toString() ?? '');
    }
  }
  return out;
}

/** read_committed reads from `from` up to the last stable offset: all batches and the aborted transactions listed. */
async function readCommitted(e: StorageEngine, tp: PartitionRef, from = 0n): Promise<{ records: Buffer[]; aborted: Array<{ producerId: bigint; firstOffset: bigint }>; lso: bigint }> {
  const records: Buffer[] = [];
  const aborted = new Map<string, { producerId: bigint; firstOffset: bigint }>();
  let next = from;
  for (let rounds = 0; rounds < 10_000; rounds++) {
    const r = await e.read(tp, next, { ...READ_ALL, isolation: 'read_committed' });
    assert.ok(r.abortedTransactions, 'a read_committed read lists aborted transactions (maybe none)');
    for (const a of r.abortedTransactions) aborted.set(`${a.producerId}@${a.firstOffset}`, a);
    if (r.records.length === 0) {
      assert.equal(next, r.lastStableOffset, `a read_committed read at ${next} below the LSO ${r.lastStableOffset} returned nothing`);
      return { records, aborted: [...aborted.values()], lso: r.lastStableOffset };
    }
    for (const b of r.records) {
      for (const d of decodeBatchesSync(b)) {
        assert.ok(d.baseOffset < r.lastStableOffset, `batch at ${d.baseOffset} returned beyond the LSO ${r.lastStableOffset}`);
        if (d.baseOffset + BigInt(d.lastOffsetDelta) >= next) next = d.baseOffset + BigInt(d.lastOffsetDelta) + 1n;
      }
      records.push(b);
    }
  }
  throw new Error('readCommitted did not end');
}

function decode(records: Buffer[]): Got[] {
  const out: Got[] = [];
  for (const b of records) {
    for (const d of decodeBatchesSync(b)) {
      for (const r of d.records) {
        out.push({
          offset: d.baseOffset + BigInt(r.offsetDelta),
          key: r.key?.toString() ?? null,
          value: r.value?.toString() ?? null,
          timestamp: d.timestampType === TimestampType.LogAppendTime ? d.maxTimestamp : d.baseTimestamp + BigInt(r.timestampDelta),
          headers: r.headers.map((h) => `${h.key}=${h.value?.toString() ?? ''}`),
        });
      }
    }
  }
  return out;
}

/**
 * Every record from `from` to the high watermark. A read may return less than
 * maxBytes allows (it stops at a segment or entry boundary, as Kafka's does),
 * never nothing before the high watermark: read on from where it stopped.
 */
async function readAll(e: StorageEngine, tp: PartitionRef, from = 0n): Promise<Got[]> {
  const out: Got[] = [];
  let next = from;
  for (let rounds = 0; rounds < 100_000; rounds++) {
    const r = await e.read(tp, next, READ_ALL);
    const got = decode(r.records).filter((x) => x.offset >= next);
    if (got.length === 0) {
      assert.equal(next, r.highWatermark, `a read at ${next} below the high watermark ${r.highWatermark} returned nothing`);
      return out;
    }
    out.push(...got);
    next = got.at(-1)!.offset + 1n;
  }
  throw new Error('readAll did not end');
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, what: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof StorageError, `${what}: expected a StorageError, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: code ${e.code} (${e.message})`);
    return true;
  });
}

async function withEngine<T>(open: () => Promise<StorageEngine>, fn: (e: StorageEngine) => Promise<T>): Promise<T> {
  const e = await open();
  try {
    return await fn(e);
  } finally {
    await e.close();
  }
}

contract('acks=0 appends are stored in order between acknowledged ones and read back at their offsets', async ({ store }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('acks0');
    await e.createTopic(topic, 1, {});
    const tp = { topic, partition: 0 };
    assert.equal((await e.append(tp, validated(batch(2, 'a')), { acks: -1 })).baseOffset, 0n);
    for (const [i, n] of [3, 1, 2].entries()) {
      await e.append(tp, validated(batch(n, `z${i}`)), { acks: 0 }); // no offset promised (the Kafka client gets no answer)
    }
    assert.equal((await e.append(tp, validated(batch(1, 'b')), { acks: -1 })).baseOffset, 8n, 'after the acks=0 batches');
    assert.equal((await e.offsets(tp)).highWatermark, 9n);
    const all = await readAll(e, tp);
    assert.deepEqual(
      all.map((r) => `${r.offset}:${r.key}`),
      ['0:a-k0', '1:a-k1', '2:z0-k0', '3:z0-k1', '4:z0-k2', '5:z1-k0', '6:z2-k0', '7:z2-k1', '8:b-k0'],
    );
  });
});

contract('append/read: dense offsets, every offset reads from the batch holding it, HW and out-of-range bounds', async ({ store }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('dense');
    await e.createTopic(topic, 2, {});
    const tp = { topic, partition: 1 };
    const sizes = [1, 3, 2, 5, 1, 4];
    const bases: bigint[] = [];
    for (const [i, n] of sizes.entries()) bases.push((await e.append(tp, validated(batch(n, `b${i}`)), { acks: -1 })).baseOffset);
    assert.deepEqual(bases, [0n, 1n, 4n, 6n, 11n, 12n]);
    const hw = 16n;
    assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: hw, lastStableOffset: hw });
    const all = await readAll(e, tp);
    assert.deepEqual(
      all.map((r) => r.offset),
      Array.from({ length: 16 }, (_, i) => BigInt(i)),
    );
    assert.deepEqual(all[7], { offset: 7n, key: 'b3-k1', value: 'b3-v1', timestamp: BigInt(T0 + 1), headers: ['h=b3-1'] });
    for (let o = 0n; o < hw; o++) {
      const r = await e.read(tp, o, READ_ALL);
      const got = decode(r.records);
      const holder = bases.filter((b) => b <= o).at(-1)!;
      assert.equal(got[0]!.offset, holder, `read at ${o} starts at the batch holding it`);
      assert.equal(r.highWatermark, hw);
      assert.deepEqual(
        (await readAll(e, tp, o)).map((x) => x.offset),
        Array.from({ length: Number(hw - o) }, (_, i) => o + BigInt(i)),
        `from ${o} to the end`,
      );
      assert.equal(r.bytes, r.records.reduce((n, b) => n + b.length, 0));
    }
    const end = await e.read(tp, hw, READ_ALL);
    assert.deepEqual([end.records.length, end.bytes, end.highWatermark], [0, 0, hw]);
    // maxBytes: the first batch whole (minOneMessage), never part of a batch
    const one = await e.read(tp, 6n, { maxBytes: 1, minOneMessage: true });
    assert.deepEqual(
      decode(one.records).map((r) => r.offset),
      [6n, 7n, 8n, 9n, 10n],
    );
    await rejectsWith(e.read(tp, hw + 1n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE, 'beyond HW');
    await rejectsWith(e.read(tp, -1n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE, 'negative');
    await rejectsWith(e.read({ topic, partition: 2 }, 0n, READ_ALL), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'unknown partition');
    await rejectsWith(e.append({ topic: `${topic}-nope`, partition: 0 }, validated(batch(1, 'x')), { acks: 1 }), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'unknown topic');
    assert.equal((await e.offsets({ topic, partition: 0 })).highWatermark, 0n, 'the other partition is untouched');
  });
});

contract('empty and huge batches: an empty produce is refused before the engine; a batch near max.message.bytes and one of 20,000 records round-trip', async ({ store }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('sizes');
    await e.createTopic(topic, 1, {});
    const tp = { topic, partition: 0 };
    const rules = { config: resolveTopicConfig({}, e.configDefaults), apiVersion: 11, nowMs: Date.now(), leaderEpoch: 0 };
    const none = await validateProduced(Buffer.alloc(0), rules);
    assert.equal(none.ok ? 'ok' : none.code, ErrorCode.INVALID_RECORD, 'no batch at all');
    const empty = encodeBatchSync({ records: [] });
    const v = await validateProduced(empty, rules);
    assert.equal(v.ok ? 'ok' : v.code, ErrorCode.INVALID_RECORD, 'a batch of zero records');
    assert.equal((await e.offsets(tp)).highWatermark, 0n);
    // ~900 KiB in 3 records (max.message.bytes is 1 MiB by default)
    const big = batch(3, 'big', { valueSize: 300 * 1024 });
    assert.ok(big.length > 900 * 1024 && big.length < 1_048_588);
    assert.equal((await appendValidated(e, tp, big, { acks: -1 })).baseOffset, 0n);
    const many = batch(20_000, 'many');
    assert.equal((await appendValidated(e, tp, many, { acks: -1 })).baseOffset, 3n);
    const got = await readAll(e, tp);
    assert.equal(got.length, 20_003);
    assert.equal(got[2]!.value!.length, 'big-v2'.length + 300 * 1024);
    assert.equal(got[20_002]!.value, 'many-v19999');
    assert.equal(got[20_002]!.offset, 20_002n);
    // above max.message.bytes: refused before the engine, nothing stored
    const tooBig = batch(4, 'huge', { valueSize: 300 * 1024 });
    await rejectsWith(appendValidated(e, tp, tooBig, { acks: -1 }), ErrorCode.MESSAGE_TOO_LARGE, 'above max.message.bytes');
    assert.equal((await e.offsets(tp)).highWatermark, 20_003n);
  });
});

contract('every codec (none, gzip, snappy, lz4, zstd) round-trips keys, values, headers and timestamps', async ({ store }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('codecs');
    await e.createTopic(topic, 1, {});
    const tp = { topic, partition: 0 };
    for (let codec = 0; codec <= 4; codec++) {
      const r = await e.append(tp, validated(batch(50, `c${codec}`, { compression: codec, ts0: T0 + codec * 100 })), { acks: -1 });
      assert.equal(r.baseOffset, BigInt(codec * 50));
    }
    const got = await readAll(e, tp);
    assert.equal(got.length, 250);
    for (let codec = 0; codec <= 4; codec++) {
      for (const i of [0, 17, 49]) {
        assert.deepEqual(got[codec * 50 + i], {
          offset: BigInt(codec * 50 + i),
          key: `c${codec}-k${i}`,
          value: `c${codec}-v${i}`,
          timestamp: BigInt(T0 + codec * 100 + i),
          headers: [`h=c${codec}-${i}`],
        });
      }
    }
    // read from inside a compressed batch
    const mid = decode((await e.read(tp, 130n, READ_ALL)).records);
    assert.equal(mid[0]!.offset, 100n);
  });
});

contract('a corrupt CRC is refused with CORRUPT_MESSAGE before any engine sees it; nothing is stored', async ({ store }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('crc');
    await e.createTopic(topic, 1, {});
    const tp = { topic, partition: 0 };
    for (const codec of [0, 1, 4]) {
      const b = batch(5, 'crc', { compression: codec });
      b.writeUInt32BE((b.readUInt32BE(OFF_CRC) ^ 0x1) >>> 0, OFF_CRC);
      await rejectsWith(appendValidated(e, tp, b, { acks: -1 }), ErrorCode.CORRUPT_MESSAGE, `codec ${codec}`);
      const c = batch(5, 'crc', { compression: codec });
      c[c.length - 1] ^= 0xff; // a payload byte
      await rejectsWith(appendValidated(e, tp, c, { acks: -1 }), ErrorCode.CORRUPT_MESSAGE, `codec ${codec}, payload`);
    }
    assert.equal((await e.offsets(tp)).highWatermark, 0n);
    assert.equal((await e.append(tp, validated(batch(2, 'ok')), { acks: -1 })).baseOffset, 0n);
  });
});

contract('idempotent producers: retries are answered with the original offsets, gaps refused, old epochs fenced; the state survives a restart', async ({ store }) => {
  const topic = store.topic('idem');
  const tp = { topic, partition: 0 };
  const pid = await withEngine(store.open, async (e) => {
    await e.createTopic(topic, 1, {});
    const pid = await e.allocateProducerId();
    const pid2 = await e.allocateProducerId();
    assert.notEqual(pid, pid2);
    // the engine owns the bytes it is handed (it writes offsets into them): a retry is a new buffer, as from a socket
    const b0 = () => batch(3, 'i0', { producerId: pid, producerEpoch: 0, baseSequence: 0 });
    const b1 = () => batch(2, 'i1', { producerId: pid, producerEpoch: 0, baseSequence: 3 });
    assert.deepEqual(await e.append(tp, validated(b0()), { acks: -1 }).then((r) => [r.baseOffset, r.duplicate]), [0n, false]);
    assert.deepEqual(await e.append(tp, validated(b1()), { acks: -1 }).then((r) => [r.baseOffset, r.duplicate]), [3n, false]);
    // a retry of either of the last batches: the original offsets, nothing written
    assert.deepEqual(await e.append(tp, validated(b1()), { acks: -1 }).then((r) => [r.baseOffset, r.duplicate]), [3n, true]);
    assert.deepEqual(await e.append(tp, validated(b0()), { acks: -1 }).then((r) => [r.baseOffset, r.duplicate]), [0n, true]);
    // a gap in the sequence
    await rejectsWith(e.append(tp, validated(batch(1, 'gap', { producerId: pid, producerEpoch: 0, baseSequence: 7 })), { acks: -1 }), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, 'gap');
    // another producer id is independent
    assert.equal((await e.append(tp, validated(batch(1, 'p2', { producerId: pid2, producerEpoch: 0, baseSequence: 0 })), { acks: -1 })).baseOffset, 5n);
    assert.equal((await e.offsets(tp)).highWatermark, 6n);
    return pid;
  });
  // after a restart: the retry is still recognised, the next sequence continues, a new epoch fences the old
  await withEngine(store.open, async (e) => {
    const b1 = batch(2, 'i1', { producerId: pid, producerEpoch: 0, baseSequence: 3 });
    assert.deepEqual(await e.append(tp, validated(b1), { acks: -1 }).then((r) => [r.baseOffset, r.duplicate]), [3n, true]);
    assert.equal((await e.append(tp, validated(batch(1, 'i2', { producerId: pid, producerEpoch: 0, baseSequence: 5 })), { acks: -1 })).baseOffset, 6n);
    assert.equal((await e.append(tp, validated(batch(1, 'e1', { producerId: pid, producerEpoch: 1, baseSequence: 0 })), { acks: -1 })).baseOffset, 7n);
    await rejectsWith(e.append(tp, validated(batch(1, 'old', { producerId: pid, producerEpoch: 0, baseSequence: 6 })), { acks: -1 }), ErrorCode.INVALID_PRODUCER_EPOCH, 'old epoch');
    const got = await readAll(e, tp);
    assert.deepEqual(
      got.map((r) => r.value),
      ['i0-v0', 'i0-v1', 'i0-v2', 'i1-v0', 'i1-v1', 'p2-v0', 'i2-v0', 'e1-v0'],
    );
  });
});

contract('DeleteRecords moves the log start (bounds checked, -1 = HW), reads below it are out of range, and it survives a restart', async ({ store }) => {
  const topic = store.topic('delrec');
  const tp = { topic, partition: 0 };
  await withEngine(store.open, async (e) => {
    await e.createTopic(topic, 1, {});
    for (let i = 0; i < 5; i++) await e.append(tp, validated(batch(2, `d${i}`)), { acks: -1 });
    await rejectsWith(e.deleteRecords(tp, 11n), ErrorCode.OFFSET_OUT_OF_RANGE, 'beyond HW');
    assert.equal(await e.deleteRecords(tp, 3n), 3n);
    assert.equal(await e.deleteRecords(tp, 2n), 3n, 'never moves back');
    assert.equal((await e.offsets(tp)).logStartOffset, 3n);
    await rejectsWith(e.read(tp, 2n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE, 'below the log start');
    const from3 = await readAll(e, tp, 3n);
    assert.ok(from3[0]!.offset === 3n && from3.at(-1)!.offset === 9n);
    const a = await e.append(tp, validated(batch(1, 'after')), { acks: -1 });
    assert.equal(a.baseOffset, 10n);
    assert.equal(a.logStartOffset, 3n);
  });
  await withEngine(store.open, async (e) => {
    assert.deepEqual(await e.offsets(tp), { logStartOffset: 3n, highWatermark: 11n, lastStableOffset: 11n });
    assert.equal(await e.deleteRecords(tp, -1n), 11n);
    const o = await e.offsets(tp);
    assert.deepEqual([o.logStartOffset, o.highWatermark], [11n, 11n]);
    assert.equal((await e.read(tp, 11n, READ_ALL)).records.length, 0);
    assert.equal((await e.append(tp, validated(batch(1, 'later')), { acks: -1 })).baseOffset, 11n);
  });
});

contract('ListOffsets by time: the first offset at or after a timestamp (also inside a batch), none after the newest, and the max timestamp', async ({ store }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('bytime');
    await e.createTopic(topic, 1, {});
    const tp = { topic, partition: 0 };
    assert.equal(await e.offsetForTimestamp(tp, 0n), null, 'empty partition');
    assert.equal(await e.maxTimestamp(tp), null, 'empty partition');
    for (let i = 0; i < 6; i++) await e.append(tp, validated(batch(4, `t${i}`, { ts0: T0 + i * 1000 })), { acks: -1 });
    // records: offset 4i+j has timestamp T0 + 1000i + j
    assert.deepEqual(await e.offsetForTimestamp(tp, 0n), { offset: 0n, timestamp: BigInt(T0) });
    assert.deepEqual(await e.offsetForTimestamp(tp, BigInt(T0 + 2000)), { offset: 8n, timestamp: BigInt(T0 + 2000) });
    assert.deepEqual(await e.offsetForTimestamp(tp, BigInt(T0 + 3002)), { offset: 14n, timestamp: BigInt(T0 + 3002) });
    assert.deepEqual(await e.offsetForTimestamp(tp, BigInt(T0 + 3500)), { offset: 16n, timestamp: BigInt(T0 + 4000) });
    assert.equal(await e.offsetForTimestamp(tp, BigInt(T0 + 5004)), null);
    assert.deepEqual(await e.maxTimestamp(tp), { offset: 23n, timestamp: BigInt(T0 + 5003) });
  });
});

contract('topics: create, describe (by name and id), list, add partitions, delete; a re-created topic has a new id and never serves the old data (KoP #530)', async ({ store }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('life');
    const created = await e.createTopic(topic, 2, { 'retention.ms': '3600000' });
    assert.equal(created.partitions, 2);
    await rejectsWith(e.createTopic(topic, 1, {}), ErrorCode.TOPIC_ALREADY_EXISTS, 'twice');
    await rejectsWith(e.createTopic(store.topic('zero'), 0, {}), ErrorCode.INVALID_PARTITIONS, 'zero partitions');
    await rejectsWith(e.createTopic(store.topic('badcfg'), 1, { 'retention.ms': 'soon' }), ErrorCode.INVALID_CONFIG, 'bad config');
    const v = await e.createTopic(store.topic('dry'), 1, {}, true);
    assert.equal(await e.describeTopic(v.name), null, 'validateOnly creates nothing');
    const d = await e.describeTopic(topic);
    assert.ok(d && d.topicId.equals(created.topicId) && d.partitions === 2 && d.configs['retention.ms'] === '3600000');
    assert.equal((await e.describeTopicById(created.topicId))?.name, topic);
    assert.ok((await e.listTopics()).some((t) => t.name === topic));
    for (let p = 0; p < 2; p++) for (let i = 0; i < 3; i++) await e.append({ topic, partition: p }, validated(batch(2, `old${p}${i}`)), { acks: -1 });
    await rejectsWith(e.createPartitions(topic, 1), ErrorCode.INVALID_PARTITIONS, 'shrink');
    await e.createPartitions(topic, 3);
    assert.equal((await e.describeTopic(topic))?.partitions, 3);
    assert.equal((await e.offsets({ topic, partition: 2 })).highWatermark, 0n);

    await e.deleteTopic(topic);
    assert.equal(await e.describeTopic(topic), null);
    assert.equal(await e.describeTopicById(created.topicId), null);
    await rejectsWith(e.deleteTopic(topic), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'deleted twice');
    await rejectsWith(e.read({ topic, partition: 0 }, 0n, READ_ALL), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'read after delete');

    const again = await e.createTopic(topic, 1, {});
    assert.ok(!again.topicId.equals(created.topicId), 'a new topic id');
    assert.deepEqual((await e.describeTopic(topic))?.configs, {}, 'no old configs');
    const tp = { topic, partition: 0 };
    assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: 0n, lastStableOffset: 0n });
    assert.equal((await e.read(tp, 0n, READ_ALL)).records.length, 0);
    assert.equal((await e.append(tp, validated(batch(1, 'new')), { acks: -1 })).baseOffset, 0n);
    assert.deepEqual(
      decode((await e.read(tp, 0n, READ_ALL)).records).map((r) => r.value),
      ['new-v0'],
    );
    assert.equal(await e.offsetForTimestamp(tp, 0n).then((x) => x?.offset), 0n);
  });
});

contract('a topic deleted and re-created through another engine instance: this one notices within its topic cache time and then serves only the new topic', async ({ store, engineName }) => {
  if (engineName === 'embedded') {
    // one engine per data directory (a second one is refused): the same instance re-creates it, covered above
    return;
  }
  const a = await store.open();
  const b = await store.open();
  try {
    const topic = store.topic('recreate');
    const tp = { topic, partition: 0 };
    await a.createTopic(topic, 1, {});
    for (let i = 0; i < 3; i++) await a.append(tp, validated(batch(2, `old${i}`)), { acks: -1 });
    assert.equal((await readAll(b, tp)).length, 6, 'b has the partition open');
    await a.deleteTopic(topic);
    await a.createTopic(topic, 1, {});
    const recreated = Date.now();
    await a.append(tp, validated(batch(1, 'new')), { acks: -1 });
    // docs/pulsar-engine.md: another node learns of a deleted or re-created topic within 1 s (its topic cache)
    let sawNew = false;
    for (;;) {
      const got = await readAll(b, tp).then(
        (r) => r.map((x) => x.value),
        (e: unknown) => (e instanceof StorageError ? [`error ${e.code}`] : Promise.reject(e)),
      );
      const old = got.some((v) => v?.startsWith('old'));
      assert.ok(!old || (!sawNew && Date.now() - recreated < 1_500), `b served old data ${Date.now() - recreated} ms after the re-creation: ${got.join(',')}`);
      if (got.length === 1 && got[0] === 'new-v0') {
        if (sawNew) break;
        sawNew = true;
      }
      assert.ok(Date.now() - recreated < 15_000, `b still answers ${got.join(',')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await b.describeTopic(topic))?.topicId.equals((await a.describeTopic(topic))!.topicId), true);
  } finally {
    await a.close();
    await b.close();
  }
});

contract('topic configs: describe with sources, incremental alter, replace, validateOnly, invalid values; kept across a restart', async ({ store }) => {
  const topic = store.topic('cfg');
  await withEngine(store.open, async (e) => {
    await e.createTopic(topic, 1, { 'cleanup.policy': 'delete', 'max.message.bytes': '2000000' });
    const entry = async (name: string) => (await e.describeTopicConfigs(topic)).find((c) => c.name === name);
    assert.deepEqual([(await entry('max.message.bytes'))?.value, (await entry('max.message.bytes'))?.source], ['2000000', 'topic']);
    assert.equal((await entry('retention.ms'))?.source, 'default');
    await e.alterTopicConfigs(topic, [{ name: 'retention.ms', value: '60000', op: 'set' }]);
    await e.alterTopicConfigs(topic, [{ name: 'max.message.bytes', value: null, op: 'delete' }]);
    assert.deepEqual((await e.describeTopic(topic))?.configs, { 'cleanup.policy': 'delete', 'retention.ms': '60000' });
    await e.alterTopicConfigs(topic, [{ name: 'retention.ms', value: '1', op: 'set' }], true);
    assert.equal((await entry('retention.ms'))?.value, '60000', 'validateOnly changes nothing');
    await rejectsWith(e.alterTopicConfigs(topic, [{ name: 'retention.ms', value: 'x', op: 'set' }]), ErrorCode.INVALID_CONFIG, 'bad value');
    await rejectsWith(e.alterTopicConfigs(store.topic('missing'), [{ name: 'retention.ms', value: '1', op: 'set' }]), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'unknown topic');
    await e.replaceTopicConfigs(topic, { 'message.timestamp.type': 'LogAppendTime' });
    assert.deepEqual((await e.describeTopic(topic))?.configs, { 'message.timestamp.type': 'LogAppendTime' });
    // the config applies to appends: LogAppendTime stamps the batch
    const before = BigInt(Date.now());
    const r = await appendValidated(e, { topic, partition: 0 }, batch(2, 'lat', { ts0: 1000 }), { acks: -1 });
    assert.ok(r.logAppendTime >= before, `logAppendTime ${r.logAppendTime}`);
    const got = await readAll(e, { topic, partition: 0 });
    assert.deepEqual(
      got.map((x) => x.timestamp),
      [r.logAppendTime, r.logAppendTime],
    );
  });
  await withEngine(store.open, async (e) => {
    assert.deepEqual((await e.describeTopic(topic))?.configs, { 'message.timestamp.type': 'LogAppendTime' });
    const sorted = (await e.describeTopicConfigs(topic)).map((c) => c.name);
    assert.deepEqual(sorted, [...sorted].sort());
  });
});

contract('retention.bytes / retention.ms: enforced by the engine, or (Pulsar engine) shown but left to Pulsar retention policies', async ({ store, traits }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('retention');
    await e.createTopic(topic, 1, { 'retention.bytes': '2000', 'segment.bytes': '1024' });
    const tp = { topic, partition: 0 };
    for (let i = 0; i < 20; i++) await e.append(tp, validated(batch(2, `r${i}`, { valueSize: 200 })), { acks: -1 });
    await store.enforceRetention(e);
    const o = await e.offsets(tp);
    assert.equal(o.highWatermark, 40n);
    assert.equal((await e.describeTopic(topic))?.configs['retention.bytes'], '2000');
    if (traits.enforcesRetention) {
      assert.ok(o.logStartOffset > 0n, 'old segments deleted');
      await rejectsWith(e.read(tp, 0n, READ_ALL), ErrorCode.OFFSET_OUT_OF_RANGE, 'below the new log start');
      const rest = await readAll(e, tp, o.logStartOffset);
      assert.equal(rest.at(-1)!.offset, 39n);
    } else {
      assert.equal(o.logStartOffset, 0n);
      assert.equal((await readAll(e, tp)).length, 40);
    }
  });
});

contract('restart recovery: data, offsets, topic ids and partitions survive; appends continue densely', async ({ store }) => {
  const topic = store.topic('restart');
  const before = await withEngine(store.open, async (e) => {
    const info = await e.createTopic(topic, 3, {});
    for (let p = 0; p < 3; p++) for (let i = 0; i <= p; i++) await e.append({ topic, partition: p }, validated(batch(3, `p${p}b${i}`, { compression: i % 2 === 0 ? 0 : 3 })), { acks: -1 });
    return info;
  });
  await withEngine(store.open, async (e) => {
    const info = await e.describeTopic(topic);
    assert.ok(info && info.topicId.equals(before.topicId) && info.partitions === 3);
    for (let p = 0; p < 3; p++) {
      const tp = { topic, partition: p };
      assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: BigInt(3 * (p + 1)), lastStableOffset: BigInt(3 * (p + 1)) });
      const got = await readAll(e, tp, 1n);
      assert.equal(got[0]!.offset, 1n);
      assert.equal(got.at(-1)!.value, `p${p}b${p}-v2`);
      assert.equal((await e.append(tp, validated(batch(1, 'more')), { acks: -1 })).baseOffset, BigInt(3 * (p + 1)));
    }
  });
});

contract('long-poll: waitForAppend wakes on an append to any watched partition, times out, aborts, and returns at once when data is already there', async ({ store }) => {
  await withEngine(store.open, async (e) => {
    const topic = store.topic('wait');
    await e.createTopic(topic, 2, {});
    const tps: Array<{ tp: PartitionRef; offset: bigint }> = [
      { tp: { topic, partition: 0 }, offset: 0n },
      { tp: { topic, partition: 1 }, offset: 0n },
    ];
    // times out: nothing appended
    let woke = false;
    await e.waitForAppend(tps, 300).then(() => (woke = true));
    assert.ok(woke);
    assert.equal((await e.offsets(tps[1]!.tp)).highWatermark, 0n);
    // an append to partition 1 wakes a long wait
    const started = Date.now();
    const waiting = e.waitForAppend(tps, 60_000);
    await new Promise((r) => setTimeout(r, 100));
    await e.append(tps[1]!.tp, validated(batch(1, 'w')), { acks: -1 });
    await waiting;
    assert.ok(Date.now() - started < 30_000, 'woken by the append, not the timeout');
    assert.equal((await e.offsets(tps[1]!.tp)).highWatermark, 1n);
    // data beyond the offset already: at once
    const t0 = Date.now();
    await e.waitForAppend([{ tp: tps[1]!.tp, offset: 0n }], 60_000);
    assert.ok(Date.now() - t0 < 30_000);
    // an abort ends the wait
    const ac = new AbortController();
    const aborted = e.waitForAppend([{ tp: tps[0]!.tp, offset: 0n }], 60_000, ac.signal);
    setTimeout(() => ac.abort(), 50);
    const t1 = Date.now();
    await aborted;
    assert.ok(Date.now() - t1 < 30_000);
  });
});

contract('state: the key-value store is durable across a restart (puts, overwrites, deletes, scan)', async ({ store }) => {
  const ns = `contract-${Math.random().toString(36).slice(2, 8)}`;
  await withEngine(store.open, async (e) => {
    await e.state.put(ns, 'a', Buffer.from('1'));
    await e.state.put(ns, 'b', Buffer.from('2'));
    await e.state.put(ns, 'a', Buffer.from('3'));
    await e.state.put(ns, 'b', null);
    assert.equal((await e.state.get(ns, 'a'))?.toString(), '3');
    assert.equal(await e.state.get(ns, 'b'), null);
  });
  await withEngine(store.open, async (e) => {
    assert.equal((await e.state.get(ns, 'a'))?.toString(), '3');
    assert.deepEqual(
      (await e.state.scan(ns)).map((x) => `${x.key}=${x.value.toString()}`),
      ['a=3'],
    );
  });
});


contract('transactions: transactional appends, COMMIT/ABORT markers, the LSO with interleaved transactions and a plain producer, read_committed with aborted_transactions, marker fencing, describeProducers; all the same after a restart', async ({ store }) => {
  const topic = store.topic('txn');
  const tp = { topic, partition: 0 };
  const txn = (n: number, tag: string, pid: bigint, seq: number, epoch = 1) => validated(batch(n, tag, { producerId: pid, producerEpoch: epoch, baseSequence: seq, transactional: true }));
  const { a, b } = await withEngine(store.open, async (e) => {
    await e.createTopic(topic, 1, {});
    const a = await e.allocateProducerId();
    const b = await e.allocateProducerId();
    assert.equal((await e.append(tp, txn(3, 'a1', a, 0), { acks: -1 })).baseOffset, 0n); // A opens at 0
    assert.equal((await e.append(tp, validated(batch(2, 'plain')), { acks: -1 })).baseOffset, 3n);
    assert.equal((await e.append(tp, txn(2, 'b1', b, 0), { acks: -1 })).baseOffset, 5n); // B opens at 5
    assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: 7n, lastStableOffset: 0n });
    // read_committed sees nothing below an open transaction; read_uncommitted sees everything, and the LSO
    const rc = await e.read(tp, 0n, { ...READ_ALL, isolation: 'read_committed' });
    assert.deepEqual([rc.records.length, rc.lastStableOffset, rc.highWatermark, rc.abortedTransactions], [0, 0n, 7n, []]);
    const ru = await e.read(tp, 0n, READ_ALL);
    assert.equal(ru.lastStableOffset, 0n);
    assert.equal(ru.abortedTransactions, undefined);
    // a plain batch of a producer inside a transaction is INVALID_TXN_STATE
    await rejectsWith(e.append(tp, validated(batch(1, 'x', { producerId: a, producerEpoch: 1, baseSequence: 3 })), { acks: -1 }), ErrorCode.INVALID_TXN_STATE, 'non-transactional write in a transaction');
    // ABORT A: the LSO moves to B's first offset
    assert.equal((await e.writeTxnMarker(tp, { producerId: a, producerEpoch: 1, commit: false, coordinatorEpoch: 1 })).offset, 7n);
    assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: 8n, lastStableOffset: 5n });
    const r1 = await readCommitted(e, tp);
    assert.equal(r1.lso, 5n);
    assert.deepEqual(r1.aborted, [{ producerId: a, firstOffset: 0n }]);
    assert.deepEqual(committedValues(r1.records, r1.aborted), ['plain-v0', 'plain-v1']);
    // A's next transaction opens at 8; COMMIT B: the LSO stops at A's open transaction
    assert.equal((await e.append(tp, txn(1, 'a2', a, 3), { acks: -1 })).baseOffset, 8n);
    assert.equal((await e.writeTxnMarker(tp, { producerId: b, producerEpoch: 1, commit: true, coordinatorEpoch: 1 })).offset, 9n);
    assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: 10n, lastStableOffset: 8n });
    // fencing: an older producer epoch, an older coordinator epoch; nothing written
    await rejectsWith(e.writeTxnMarker(tp, { producerId: a, producerEpoch: 0, commit: true, coordinatorEpoch: 1 }), ErrorCode.INVALID_PRODUCER_EPOCH, 'marker with an old producer epoch');
    await rejectsWith(e.writeTxnMarker(tp, { producerId: b, producerEpoch: 1, commit: true, coordinatorEpoch: 0 }), ErrorCode.TRANSACTION_COORDINATOR_FENCED, 'marker with an old coordinator epoch');
    assert.equal((await e.offsets(tp)).highWatermark, 10n);
    return { a, b };
  });
  const byPid = (views: Awaited<ReturnType<StorageEngine['describeProducers']>>) => new Map(views.map((v) => [v.producerId, v]));
  await withEngine(store.open, async (e) => {
    // the open transaction, the aborted index and the LSO survive the restart
    assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: 10n, lastStableOffset: 8n });
    const ps = byPid(await e.describeProducers(tp));
    assert.deepEqual(
      [ps.get(a)?.producerEpoch, ps.get(a)?.coordinatorEpoch, ps.get(a)?.currentTxnStartOffset, ps.get(a)?.lastSequence],
      [1, 1, 8n, 3],
    );
    assert.deepEqual([ps.get(b)?.currentTxnStartOffset, ps.get(b)?.coordinatorEpoch, ps.get(b)?.lastSequence], [-1n, 1, 1]);
    const r2 = await readCommitted(e, tp);
    assert.deepEqual(r2.aborted, [{ producerId: a, firstOffset: 0n }]);
    assert.deepEqual(committedValues(r2.records, r2.aborted), ['plain-v0', 'plain-v1', 'b1-v0', 'b1-v1']);
    await rejectsWith(e.writeTxnMarker(tp, { producerId: b, producerEpoch: 1, commit: false, coordinatorEpoch: 0 }), ErrorCode.TRANSACTION_COORDINATOR_FENCED, 'old coordinator epoch after the restart');
    // a read_committed long-poll at the LSO is woken by the marker that moves it (the HW alone would not)
    let woke = false;
    const waiting = e.waitForAppend([{ tp, offset: 8n }], 60_000, undefined, 'read_committed').then(() => (woke = true));
    await e.append(tp, validated(batch(1, 'plain2')), { acks: -1 }); // offset 10: HW moves, LSO does not
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(woke, false, 'an append behind an open transaction does not wake a read_committed fetch');
    assert.equal((await e.writeTxnMarker(tp, { producerId: a, producerEpoch: 1, commit: true, coordinatorEpoch: 2 })).offset, 11n);
    await waiting;
    assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: 12n, lastStableOffset: 12n });
    const r3 = await readCommitted(e, tp);
    assert.deepEqual(committedValues(r3.records, r3.aborted), ['plain-v0', 'plain-v1', 'b1-v0', 'b1-v1', 'a2-v0', 'plain2-v0']);
    // reading from inside the aborted range still reports it; from after its marker it does not
    assert.deepEqual((await e.read(tp, 1n, { ...READ_ALL, isolation: 'read_committed' })).abortedTransactions, [{ producerId: a, firstOffset: 0n }]);
    assert.deepEqual((await e.read(tp, 8n, { ...READ_ALL, isolation: 'read_committed' })).abortedTransactions, []);
    // a marker with a new producer epoch (the coordinator's abort of a timed-out transaction) is accepted, no open transaction needed
    assert.equal((await e.writeTxnMarker(tp, { producerId: a, producerEpoch: 2, commit: false, coordinatorEpoch: 2 })).offset, 12n);
    assert.equal(byPid(await e.describeProducers(tp)).get(a)?.producerEpoch, 2);
    await rejectsWith(e.append(tp, txn(1, 'zombie', a, 4, 1), { acks: -1 }), ErrorCode.INVALID_PRODUCER_EPOCH, 'the old epoch is fenced by the bumped marker');
  });
});
