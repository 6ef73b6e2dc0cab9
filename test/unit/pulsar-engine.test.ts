/**
 * The Pulsar storage engine (src/storage/pulsar/) driven directly against the
 * run's real Pulsar standalone broker: offsets from the broker entry index,
 * reads from the newest-entry cache and through catch-up readers, a bounded
 * search for any offset after a restart (probes counted), ListOffsets by time,
 * DeleteRecords, idempotent producers, the key-value state shared by two
 * engine instances, topic administration, and the start-up check of the
 * broker's settings. Both entry formats.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeBatchSync } from '../../src/protocol/records/encode.js';
import { decodeBatchesSync } from '../../src/protocol/records/records.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { StorageError } from '../../src/storage/engine.js';
import { PulsarEngine } from '../../src/storage/pulsar/engine.js';
import { ReaderBudget } from '../../src/storage/pulsar/partition.js';
import { createPulsarAdmin } from '../../src/pulsar/admin/index.js';
import { createPulsarClient } from '../../src/pulsar/client/index.js';
import { createNamespace, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';
import { appendValidated, validated } from '../helpers/validated.js';
import { waitFor } from '../helpers/wait.js';

const skip = pulsarSkipReason();

function batch(n: number, tag: string, ts0: number, extra: { producerId?: bigint; producerEpoch?: number; baseSequence?: number } = {}): Buffer {
  return encodeBatchSync({
    records: Array.from({ length: n }, (_, i) => ({ key: `${tag}-k${i}`, value: `${tag}-v${i}`, timestamp: ts0 + i, headers: [{ key: 'h', value: `${i}` }] })),
    ...extra,
  });
}

async function rejectsCode(p: Promise<unknown>, code: number): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof StorageError && e.code === code);
}

/** The engine's open partition of a one-partition topic (the fields a test reaches into), if open. */
function openPartition<T>(e: PulsarEngine, topic: string): T | undefined {
  const inside = e as unknown as { partitions: Map<string, T> };
  for (const [key, p] of inside.partitions) if (key.startsWith(topic)) return p;
  return undefined;
}

function values(records: Buffer[]): Array<{ offset: bigint; value: string }> {
  const out: Array<{ offset: bigint; value: string }> = [];
  for (const b of records) for (const d of decodeBatchesSync(b)) for (const r of d.records) out.push({ offset: d.baseOffset + BigInt(r.offsetDelta), value: r.value!.toString() });
  return out;
}

if (skip) {
  test(`Pulsar storage engine [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  let p: SharedPulsar;
  let ns: string;
  const engines: PulsarEngine[] = [];

  function engine(format: 'pulsar' | 'kafka', opts: { rebuild?: number; cacheBytes?: number; timeoutMs?: number } = {}): PulsarEngine {
    const token = () => p.adminToken;
    const timeoutMs = opts.timeoutMs ?? 15_000;
    const e = new PulsarEngine({
      client: createPulsarClient({ serviceUrl: p.serviceUrl, auth: { method: 'token', token }, operationTimeoutMs: timeoutMs }),
      admin: createPulsarAdmin({ webServiceUrl: p.webUrl, token, timeoutMs }),
      entryFormat: format,
      metadataNamespace: `${ns}-meta`,
      nodeId: 0,
      operationTimeoutMs: timeoutMs,
      ...(opts.rebuild !== undefined ? { tailRebuildEntries: opts.rebuild } : {}),
      ...(opts.cacheBytes !== undefined ? { partitionCacheBytes: opts.cacheBytes } : {}),
    });
    engines.push(e);
    return e;
  }

  /** A started engine and a new one-partition topic on it (`name` under the test namespace). */
  async function withTopic(format: 'pulsar' | 'kafka', name: string, opts: Parameters<typeof engine>[1] = {}): Promise<{ e: PulsarEngine; topic: string; tp: { topic: string; partition: number } }> {
    const e = engine(format, opts);
    await e.start();
    const topic = `persistent://${ns}/${name}`;
    await e.createTopic(topic, 1, {});
    return { e, topic, tp: { topic, partition: 0 } };
  }

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('engine'));
  });
  after(async () => {
    for (const e of engines) await e.close().catch(() => undefined);
  });

  for (const format of ['pulsar', 'kafka'] as const) {
    test(`pulsar engine (${format}): appends get dense offsets from the broker index; reads from cache, middle and start`, async () => {
      const e = engine(format);
      await e.start();
      const topic = `persistent://${ns}/dense-${format}`;
      await e.createTopic(topic, 2, {});
      const tp = { topic, partition: 1 };
      const bases: bigint[] = [];
      for (let i = 0; i < 10; i++) bases.push((await e.append(tp, validated(batch(5, `b${i}`, 1_000 + i * 10)), { acks: -1 })).baseOffset);
      assert.deepEqual(bases, Array.from({ length: 10 }, (_, i) => BigInt(i * 5)));
      assert.deepEqual(await e.offsets(tp), { logStartOffset: 0n, highWatermark: 50n, lastStableOffset: 50n });
      const all = values((await e.read(tp, 0n, { maxBytes: 1 << 20, minOneMessage: true })).records);
      assert.deepEqual(all.map((r) => r.offset), Array.from({ length: 50 }, (_, i) => BigInt(i)));
      assert.equal(all[17]!.value, 'b3-v2');
      const mid = values((await e.read(tp, 23n, { maxBytes: 1 << 20, minOneMessage: true })).records);
      assert.equal(mid[0]!.offset, 20n, 'the batch holding offset 23 starts at 20');
      assert.equal(mid.length, 30);
      const end = await e.read(tp, 50n, { maxBytes: 1 << 20, minOneMessage: true });
      assert.equal(end.records.length, 0);
      await assert.rejects(e.read(tp, 51n, { maxBytes: 100, minOneMessage: true }), (x: unknown) => x instanceof StorageError && x.code === ErrorCode.OFFSET_OUT_OF_RANGE);
      // partition 0 is untouched
      assert.equal((await e.offsets({ topic, partition: 0 })).highWatermark, 0n);
    });
  }

  test('pulsar engine (pulsar): cached entries are converted once; a read while the cache evicts (the converted batches count in its size) returns dense offsets', async () => {
    // 20 entries of ~155 bytes fit a cache of 4,000 bytes as stored, not together with their converted batches
    const { e, tp } = await withTopic('pulsar', 'cache-evict', { cacheBytes: 4_000 });
    for (let i = 0; i < 20; i++) await e.append(tp, validated(batch(5, `c${i}`, 1_000 + i * 10)), { acks: -1 });
    const all: Array<{ offset: bigint; value: string }> = [];
    const firstReads: Buffer[][] = [];
    for (let next = 0n, reads = 0; next < 100n && reads < 100; reads++) {
      const r = await e.read(tp, next, { maxBytes: 1 << 20, minOneMessage: true });
      assert.ok(r.records.length > 0, `a read at ${next} returned nothing`);
      firstReads.push(r.records);
      const got = values(r.records);
      all.push(...got);
      next = got[got.length - 1]!.offset + 1n;
    }
    assert.deepEqual(
      all.map((r) => r.offset),
      Array.from({ length: 100 }, (_, i) => BigInt(i)),
    );
    assert.deepEqual(
      all.map((r) => r.value),
      Array.from({ length: 100 }, (_, i) => `c${Math.floor(i / 5)}-v${i % 5}`),
    );
    // the newest entries, still cached, are read again from their converted batches: the same bytes
    const again = await e.read(tp, 95n, { maxBytes: 1 << 20, minOneMessage: true });
    assert.equal(again.records.length, 1);
    assert.ok(again.records[0]!.equals(firstReads.flat().at(-1)!));
  });

  test('catch-up readers share one receive-queue budget: 4 MiB each up to 32 readers, then an even share of 128 MiB, never under 256 KiB', () => {
    assert.equal(ReaderBudget.share(1), 4 << 20);
    assert.equal(ReaderBudget.share(32), 4 << 20);
    assert.equal(ReaderBudget.share(64), 2 << 20);
    assert.equal(ReaderBudget.share(512), 256 << 10);
    assert.equal(ReaderBudget.share(5000), 256 << 10);
  });

  test('pulsar engine: after a restart a middle offset is found by a bounded search (probes counted), and by time', async () => {
    const topic = `persistent://${ns}/search`;
    const a = engine('kafka');
    await a.start();
    await a.createTopic(topic, 1, {});
    const tp = { topic, partition: 0 };
    for (let i = 0; i < 300; i++) await a.append(tp, validated(batch(2, `s${i}`, 10_000 + i * 2)), { acks: 1 });
    assert.equal((await a.offsets(tp)).highWatermark, 600n);
    await a.close();
    // a fresh engine that re-reads only the newest entry and caches almost nothing
    const b = engine('kafka', { rebuild: 1, cacheBytes: 1 });
    await b.start();
    const before = b.locator.probes;
    const r = values((await b.read(tp, 377n, { maxBytes: 200, minOneMessage: true })).records);
    assert.equal(r[0]!.offset, 376n);
    assert.equal(r[1]!.value, 's188-v1');
    const probes = b.locator.probes - before;
    assert.ok(probes >= 2 && probes <= 2 + Math.ceil(Math.log2(300)) + 2, `probes for one offset among 300 entries: ${probes}`);
    // the next fetch continues on the parked reader: no new search
    const p2 = b.locator.probes;
    const next = values((await b.read(tp, 378n, { maxBytes: 200, minOneMessage: true })).records);
    assert.equal(next[0]!.offset, 378n);
    assert.equal(b.locator.probes, p2, 'a consumer reading on needs no search');
    // ListOffsets by time: record timestamps are CreateTime; entries were published in order after them
    const now = BigInt(Date.now());
    assert.equal(await b.offsetForTimestamp(tp, now + 60_000n), null);
    const early = await b.offsetForTimestamp(tp, 0n);
    assert.deepEqual(early, { offset: 0n, timestamp: 10_000n });
  });

  test('pulsar engine: idempotent producer retries are answered with the original offsets, out-of-order is refused', async () => {
    const { e, tp } = await withTopic('pulsar', 'idem');
    const pid = await e.allocateProducerId();
    const first = await e.append(tp, validated(batch(3, 'i0', 1, { producerId: pid, producerEpoch: 0, baseSequence: 0 })), { acks: -1 });
    const second = await e.append(tp, validated(batch(3, 'i1', 1, { producerId: pid, producerEpoch: 0, baseSequence: 3 })), { acks: -1 });
    const retry = await e.append(tp, validated(batch(3, 'i1', 1, { producerId: pid, producerEpoch: 0, baseSequence: 3 })), { acks: -1 });
    assert.equal(first.baseOffset, 0n);
    assert.equal(second.baseOffset, 3n);
    assert.equal(retry.baseOffset, 3n);
    assert.equal(retry.duplicate, true);
    await assert.rejects(
      e.append(tp, validated(batch(1, 'gap', 1, { producerId: pid, producerEpoch: 0, baseSequence: 9 })), { acks: -1 }),
      (x: unknown) => x instanceof StorageError && x.code === ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
    );
    assert.equal((await e.offsets(tp)).highWatermark, 6n, 'nothing written twice');
    // a restarted engine rebuilds the producer state from the newest entries
    await e.close();
    const again = engine('pulsar');
    await again.start();
    const retry2 = await again.append(tp, validated(batch(3, 'i1', 1, { producerId: pid, producerEpoch: 0, baseSequence: 3 })), { acks: -1 });
    assert.equal(retry2.duplicate, true);
    assert.equal(retry2.baseOffset, 3n);
  });

  test('pulsar engine: an append waits for a silent tail reader at most the operation timeout (REQUEST_TIMED_OUT); the partition reopens and the retried idempotent batch is a duplicate at its offset', async () => {
    const { e, topic, tp } = await withTopic('kafka', 'silent-tail', { timeoutMs: 2_000 });
    assert.equal((await e.offsets(tp)).highWatermark, 0n); // opens the partition
    const part = openPartition<{ tail: { onMessage(...a: unknown[]): void } }>(e, topic);
    assert.ok(part);
    part.tail.onMessage = () => undefined; // the tail reader delivers nothing from now on, silently
    const pid = await e.allocateProducerId();
    const b0 = () => validated(batch(3, 's0', 1, { producerId: pid, producerEpoch: 0, baseSequence: 0 }));
    // the partition's first entry: its offsets can only come from the tail
    const t0 = Date.now();
    await rejectsCode(e.append(tp, b0(), { acks: -1 }), ErrorCode.REQUEST_TIMED_OUT);
    const waited = Date.now() - t0;
    assert.ok(waited >= 1_900 && waited < 10_000, `answered after ${waited} ms`);
    const retry = await e.append(tp, b0(), { acks: -1 });
    assert.equal(retry.duplicate, true, 'the reopened partition knows the batch was written');
    assert.equal(retry.baseOffset, 0n);
    const next = await e.append(tp, validated(batch(2, 's1', 1, { producerId: pid, producerEpoch: 0, baseSequence: 3 })), { acks: -1 });
    assert.equal(next.baseOffset, 3n);
    assert.equal((await e.offsets(tp)).highWatermark, 5n, 'nothing written twice');
  });

  test('pulsar engine: a send written but never answered (its receipt lost) times out; the retried idempotent batch is a duplicate at its offset, never written twice', async () => {
    const { e, topic, tp } = await withTopic('kafka', 'lost-receipt', { timeoutMs: 2_000 });
    const pid = await e.allocateProducerId();
    const idem = (seq: number, n: number, tag: string) => validated(batch(n, tag, 1, { producerId: pid, producerEpoch: 0, baseSequence: seq }));
    assert.equal((await e.append(tp, idem(0, 3, 's0'), { acks: -1 })).baseOffset, 0n);
    const part = openPartition<{ tail: { onMessage(...a: unknown[]): void }; producerByPrincipal: Map<string, Promise<{ onSendReceipt(r: unknown): void }>> }>(e, topic);
    assert.ok(part);
    // as after a broker that went away mid-send: the entry is written, its answer never comes, and the
    // tail reader (reconnecting, in that case) does not bring it back before the client retries
    part.tail.onMessage = () => undefined;
    const producer = await [...part.producerByPrincipal.values()][0]!;
    const receipts = producer.onSendReceipt.bind(producer);
    let dropped = 0;
    producer.onSendReceipt = (r: unknown) => {
      if (dropped++ === 0) return;
      receipts(r);
    };
    await rejectsCode(e.append(tp, idem(3, 2, 's1'), { acks: -1 }), ErrorCode.REQUEST_TIMED_OUT);
    assert.equal(dropped, 1, 'the broker answered the send (the answer was dropped)');
    const retry = await e.append(tp, idem(3, 2, 's1'), { acks: -1 });
    assert.equal(retry.duplicate, true, 'the retry is known as written');
    assert.equal(retry.baseOffset, 3n);
    assert.equal((await e.append(tp, idem(5, 1, 's2'), { acks: -1 })).baseOffset, 5n);
    assert.equal((await e.offsets(tp)).highWatermark, 6n, 'nothing written twice');
    assert.deepEqual(values((await e.read(tp, 0n, { maxBytes: 1 << 20, minOneMessage: true })).records).map((v) => v.value), ['s0-v0', 's0-v1', 's0-v2', 's1-v0', 's1-v1', 's2-v0']);
  });

  test('pulsar engine: with the tail reading on demand, two nodes appending to one partition keep dense offsets and the idempotent state', async () => {
    const topic = `persistent://${ns}/lazy-tail`;
    const a = engine('kafka');
    await a.start();
    await a.createTopic(topic, 1, {});
    const tp = { topic, partition: 0 };
    const pid = await a.allocateProducerId();
    const idem = (seq: number, tag: string) => validated(batch(2, tag, 1, { producerId: pid, producerEpoch: 0, baseSequence: seq }));
    // a first append opens the partition; once nothing has needed the tail for a while it turns lazy
    const expected: Array<{ base: bigint; tag: string }> = [];
    expected.push({ base: (await a.append(tp, idem(0, 'a0'), { acks: -1 })).baseOffset, tag: 'a0' });
    await new Promise((r) => setTimeout(r, 1500));
    for (let i = 1; i < 6; i++) expected.push({ base: (await a.append(tp, idem(2 * i, `a${i}`), { acks: -1 })).baseOffset, tag: `a${i}` });
    // another node writes between them (a writer the lazy tail of the first has to notice)
    const b = engine('kafka');
    await b.start();
    for (let i = 0; i < 3; i++) expected.push({ base: (await b.append(tp, validated(batch(3, `b${i}`, 1)), { acks: -1 })).baseOffset, tag: `b${i}` });
    const pending = [6, 7, 8].map((i) => a.append(tp, idem(2 * i, `a${i}`), { acks: -1 }));
    for (const [k, r] of (await Promise.all(pending)).entries()) expected.push({ base: r.baseOffset, tag: `a${6 + k}` });
    expected.sort((x, y) => (x.base < y.base ? -1 : 1));
    // offsets dense and in order, the same read from either node (a node sees another's entries through its tail: wait for them)
    for (const e of [a, b]) {
      await e.waitForAppend([{ tp, offset: 26n }], 15_000);
      assert.equal((await e.offsets(tp)).highWatermark, 27n);
      const got = values((await e.read(tp, 0n, { maxBytes: 1 << 20, minOneMessage: true })).records);
      assert.deepEqual(got.map((g) => g.offset), Array.from({ length: 27 }, (_, i) => BigInt(i)));
      let at = 0;
      for (const x of expected) {
        assert.equal(got[at]!.offset, x.base, `${x.tag} at its acknowledged offset`);
        assert.ok(got[at]!.value.startsWith(`${x.tag}-`), `${x.tag} at ${x.base}: ${got[at]!.value}`);
        at += x.tag.startsWith('a') ? 2 : 3;
      }
    }
    // the idempotent producer's state was kept from its receipts: a retry is a duplicate, the next sequence goes on
    const retry = await a.append(tp, idem(16, 'a8'), { acks: -1 });
    assert.equal(retry.duplicate, true);
    assert.equal(retry.baseOffset, expected.find((x) => x.tag === 'a8')!.base);
    await rejectsCode(a.append(tp, idem(30, 'gap'), { acks: -1 }), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal((await a.append(tp, idem(18, 'a9'), { acks: -1 })).baseOffset, 27n);
  });

  test('pulsar engine: DeleteRecords moves the log start; max.message.bytes; topic admin through Pulsar', async () => {
    const e = engine('kafka');
    await e.start();
    const topic = `persistent://${ns}/admin`;
    await e.createTopic(topic, 1, { 'max.message.bytes': '300' });
    await assert.rejects(e.createTopic(topic, 1, {}), (x: unknown) => x instanceof StorageError && x.code === ErrorCode.TOPIC_ALREADY_EXISTS);
    const tp = { topic, partition: 0 };
    for (let i = 0; i < 4; i++) await e.append(tp, validated(batch(2, `d${i}`, 1)), { acks: -1 });
    await assert.rejects(
      appendValidated(e, tp, batch(20, 'big'.repeat(20), 1), { acks: -1 }),
      (x: unknown) => x instanceof StorageError && x.code === ErrorCode.MESSAGE_TOO_LARGE,
    );
    assert.equal(await e.deleteRecords(tp, 5n), 5n);
    assert.equal((await e.offsets(tp)).logStartOffset, 5n);
    await assert.rejects(e.read(tp, 2n, { maxBytes: 1000, minOneMessage: true }), (x: unknown) => x instanceof StorageError && x.code === ErrorCode.OFFSET_OUT_OF_RANGE);
    const info = await e.describeTopic(topic);
    assert.equal(info?.partitions, 1);
    assert.equal(info?.configs['max.message.bytes'], '300');
    await e.createPartitions(topic, 3);
    const pulsarSide = await p.rest('GET', `/admin/v2/persistent/${ns}/admin/partitions`);
    assert.equal(JSON.parse(pulsarSide.text).partitions, 3);
    // a second engine (another gateway node) sees the same topic id and the log start
    const other = engine('kafka');
    await other.start();
    assert.deepEqual((await other.describeTopic(topic))?.topicId, info?.topicId);
    assert.equal((await other.offsets(tp)).logStartOffset, 5n);
    assert.ok((await other.listTopics()).some((t) => t.name === topic));
    await other.deleteTopic(topic);
    assert.equal(await other.describeTopic(topic), null);
  });

  test('pulsar engine: a failed look at the log start never invents one: offsets fail retriable (not log start = high watermark), appends are still answered', async () => {
    const a = engine('kafka');
    await a.start();
    const topic = `persistent://${ns}/log-start-look`;
    await a.createTopic(topic, 1, {});
    const tp = { topic, partition: 0 };
    for (let i = 0; i < 4; i++) await a.append(tp, validated(batch(2, `l${i}`, 1)), { acks: -1 });
    assert.equal((await a.offsets(tp)).logStartOffset, 0n);
    // another node, whose every look at the partition's ledgers fails (the admin API unavailable)
    const b = engine('kafka');
    await b.start();
    const stats = b.admin.internalStats.bind(b.admin);
    let looks = 0;
    b.admin.internalStats = async () => {
      looks++;
      throw Object.assign(new Error('admin API unavailable (test)'), { status: 503 });
    };
    const r = await b.append(tp, validated(batch(2, 'while-down', 1)), { acks: -1 });
    assert.equal(r.baseOffset, 8n, 'the append is answered: its records are written');
    await assert.rejects(b.offsets(tp), (x: unknown) => {
      assert.ok(x instanceof StorageError, String(x));
      assert.equal(x.code, ErrorCode.NOT_LEADER_OR_FOLLOWER, x.message);
      return true;
    });
    assert.ok(looks >= 2, `looked again on the offsets query (${looks} looks)`);
    b.admin.internalStats = stats;
    const o = await b.offsets(tp);
    assert.equal(o.logStartOffset, 0n);
    assert.equal(o.highWatermark, 10n);
  });

  test('pulsar engine: a log start look that found no entry says the log starts where it ended when the look began, not where it ends when the look answers (appends meanwhile)', async () => {
    const { e, topic, tp } = await withTopic('kafka', 'log-start-race');
    // the partition's first look at its ledgers reads them now (no entry yet) and answers once released
    const stats = e.admin.internalStats.bind(e.admin);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let looks = 0;
    e.admin.internalStats = async (name: string) => {
      const s = await stats(name);
      if (++looks === 1) await gate;
      return s;
    };
    const appended = e.append(tp, validated(batch(3, 'race', 1)), { acks: -1 }); // opens the partition, which starts the look
    const hw = () => openPartition<{ highWatermark: bigint }>(e, topic)?.highWatermark ?? 0n;
    await waitFor(() => hw() >= 3n, 10_000, 'the append to be written and seen by the tail');
    assert.equal(hw(), 3n, 'the entry was written and seen by the tail while the look was held');
    release();
    assert.equal((await appended).baseOffset, 0n);
    assert.equal((await e.offsets(tp)).logStartOffset, 0n, 'earliest is the first record, not the end of the log');
  });

  test('pulsar engine: lookups of names that are no topic are not kept once expired (any client can ask for any name); an existing topic\'s entry stays', async () => {
    const e = engine('kafka');
    await e.start();
    const topic = `persistent://${ns}/kept-entry`;
    await e.createTopic(topic, 1, {});
    await e.describeTopic(topic);
    for (let i = 0; i < 50; i++) assert.equal(await e.describeTopic(`persistent://${ns}/no-such-topic-${i}`), null);
    const inside = e as unknown as { topicCache: Map<string, unknown>; closeIdle(): Promise<void> };
    assert.equal(inside.topicCache.size, 51);
    await new Promise((r) => setTimeout(r, 1_100)); // past the 1 s a lookup is kept
    await inside.closeIdle(); // the engine's periodic sweep (every 30 s)
    assert.deepEqual([...inside.topicCache.keys()], [topic]);
  });

  test('pulsar engine: topic id -> name is one lookup (no listing of tenants, namespaces and topics) on a node that never saw the topic', async () => {
    const a = engine('kafka');
    await a.start();
    const topic = `persistent://${ns}/by-id`;
    const created = await a.createTopic(topic, 2, {});
    // another node that never saw the topic, as when Metadata went to one gateway and Fetch to another
    const b = engine('kafka');
    await b.start();
    let listings = 0;
    const listTenants = b.admin.listTenants.bind(b.admin);
    b.admin.listTenants = () => {
      listings++;
      return listTenants();
    };
    const found = await b.describeTopicById(created.topicId);
    assert.equal(found?.name, topic);
    assert.equal(found?.partitions, 2);
    assert.equal(listings, 0, 'found without listing every tenant');
    // deleted: no topic has the id any more (the listing fallback may run: only ids found nowhere take it)
    await a.deleteTopic(topic);
    await new Promise((r) => setTimeout(r, 1100)); // b's topic cache (1 s)
    assert.equal(await b.describeTopicById(created.topicId), null);
  });

  test('pulsar engine: topic metadata is refreshed ahead of expiry by one background read that requests never wait for; a read older than a deletion never restores the topic', async () => {
    const { e, topic, tp } = await withTopic('kafka', 'refresh-ahead');
    await e.append(tp, validated(batch(1, 'r0', 1_000)), { acks: -1 });
    const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
    // metadata read at a known time: expired after 1.1 s, so this lookup reads it again and waits
    await sleep(1_100);
    await e.describeTopic(topic);
    const readAt = Date.now();
    const read = e.admin.getPartitionedMetadata.bind(e.admin);
    let calls = 0;
    let hold: Promise<void> | null = null;
    let release!: () => void;
    // the first read from here on answers what the broker said, but only when the test releases it
    e.admin.getPartitionedMetadata = async (name: string) => {
      const first = ++calls === 1;
      const n = await read(name);
      if (first && hold) await hold;
      return n;
    };
    hold = new Promise<void>((r) => (release = r));
    await sleep(650 - (Date.now() - readAt)); // past half of the 1 s the metadata may be old, not past all of it
    let timer: NodeJS.Timeout | undefined;
    const stuck = new Promise<'stuck'>((r) => (timer = setTimeout(() => r('stuck'), 3_000)));
    const infos = await Promise.race([Promise.all(Array.from({ length: 10 }, () => e.describeTopic(topic))), stuck]);
    clearTimeout(timer);
    if (infos === 'stuck') {
      release();
      assert.fail(`lookups ${Date.now() - readAt - 3_000} ms after the metadata was read waited for the held refresh`);
    }
    assert.ok(infos.every((i) => i?.partitions === 1));
    for (let i = 1; i <= 3; i++) await e.append(tp, validated(batch(1, `r${i}`, 1_000 + i)), { acks: -1 });
    assert.equal(calls, 1, 'ten lookups and three appends started one refresh and completed while it was held');
    await sleep(500); // expired now: callers wait, and share the refresh under way
    const waiting = Promise.all(Array.from({ length: 5 }, () => e.describeTopic(topic)));
    await sleep(50);
    assert.equal(calls, 1, 'the callers that must wait share the one refresh');
    await e.deleteTopic(topic); // reads the topic itself (not held), deletes it
    release();
    await waiting;
    assert.equal(await e.describeTopic(topic), null, 'the held refresh read the topic before it was deleted and must not store that view');
    assert.equal(calls, 3, 'the held refresh, the deletion\'s own read, the lookup after the deletion');
  });

  test('pulsar engine: key-value state is durable and shared between engine instances', async () => {
    const a = engine('kafka');
    await a.start();
    await a.state.put('__consumer_offsets-7', 'k1', Buffer.from('v1'));
    await a.state.put('__consumer_offsets-7', 'k2', Buffer.from('v2'));
    await a.state.put('__consumer_offsets-7', 'k1', Buffer.from('v1b'));
    await a.state.put('__consumer_offsets-7', 'k2', null);
    const b = engine('kafka');
    await b.start();
    assert.deepEqual(await b.state.scan('__consumer_offsets-7'), [{ key: 'k1', value: Buffer.from('v1b') }]);
    // a later write by one is seen by the other's loaded view
    await a.state.put('__consumer_offsets-7', 'k3', Buffer.from('v3'));
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (await b.state.get('__consumer_offsets-7', 'k3')) === null) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await b.state.get('__consumer_offsets-7', 'k3'), Buffer.from('v3'));
  });

  test('pulsar engine: open transactions and aborted transactions outlive the rebuild window (producer-state snapshot in the state store + replay from it)', async () => {
    const topic = `persistent://${ns}/txn-snapshot`;
    const tp = { topic, partition: 0 };
    const a = engine('kafka', { rebuild: 2 });
    await a.start();
    await a.createTopic(topic, 1, {});
    const [x, y] = [await a.allocateProducerId(), await a.allocateProducerId()];
    const txn = (pid: bigint, seq: number, tag: string) => validated(encodeBatchSync({ records: [{ key: tag, value: tag }], producerId: pid, producerEpoch: 0, baseSequence: seq, transactional: true }));
    await a.append(tp, txn(x, 0, 'x0'), { acks: -1 }); // X opens at 0
    await a.append(tp, txn(y, 0, 'y0'), { acks: -1 }); // Y opens at 1
    await a.writeTxnMarker(tp, { producerId: x, producerEpoch: 0, commit: false, coordinatorEpoch: 3 }); // 2
    for (let i = 0; i < 6; i++) await a.append(tp, validated(batch(1, `f${i}`, 1_000)), { acks: -1 }); // 3..8: far beyond a 2-entry rebuild window
    const before = { offsets: await a.offsets(tp), producers: await a.describeProducers(tp) };
    assert.equal(before.offsets.lastStableOffset, 1n);
    await a.close();
    const b = engine('kafka', { rebuild: 2 });
    await b.start();
    assert.deepEqual(await b.offsets(tp), before.offsets, 'the LSO is the same: Y is still open');
    const ys = (await b.describeProducers(tp)).find((v) => v.producerId === y);
    assert.equal(ys?.currentTxnStartOffset, 1n);
    const r = await b.read(tp, 0n, { maxBytes: 1 << 20, minOneMessage: true, isolation: 'read_committed' });
    assert.deepEqual(r.abortedTransactions, [{ producerId: x, firstOffset: 0n }]);
    await rejectsCode(b.writeTxnMarker(tp, { producerId: x, producerEpoch: 0, commit: false, coordinatorEpoch: 2 }), ErrorCode.TRANSACTION_COORDINATOR_FENCED);
    await b.writeTxnMarker(tp, { producerId: y, producerEpoch: 0, commit: true, coordinatorEpoch: 3 });
    assert.deepEqual(await b.offsets(tp), { logStartOffset: 0n, highWatermark: 10n, lastStableOffset: 10n });
  });
}
