/**
 * The readable __consumer_offsets logs (src/coordinator/offsets-log.ts) over a real embedded
 * engine: each record lands in the log of its group's home namespace, in Kafka's partition of the
 * group, in the order the changes were reported; offsets of topics of other namespaces and groups
 * without a home are left out; the queue is bounded (excess dropped, counted, order kept); the
 * log is an internal compacted topic with the partitions it is given (offsetsLogNumPartitions), and a grown log's
 * new partition count applies to later records.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OffsetsLog } from '../../src/coordinator/offsets-log.js';
import { kafkaOffsetsPartition } from '../../src/coordinator/offsets-records.js';
import { decodeBatchesSync } from '../../src/protocol/records/index.js';
import { silentLogger } from '../../src/logger.js';
import type { StorageEngine } from '../../src/storage/engine.js';
import { openEngine, tempDir } from './storage-fixtures.test.js';

const PARTITIONS = 7;

/** [partition, offset, group, topic|null, committed offset|null] of every record of a log. */
async function readLog(engine: StorageEngine, name: string): Promise<Array<[number, bigint, number, string, string | null, bigint | null]>> {
  const info = await engine.describeTopic(name);
  if (!info) return [];
  const out: Array<[number, bigint, number, string, string | null, bigint | null]> = [];
  for (let p = 0; p < info.partitions; p++) {
    const r = await engine.read({ topic: name, partition: p }, 0n, { maxBytes: 1 << 20, minOneMessage: true });
    for (const buf of r.records) {
      for (const b of decodeBatchesSync(buf)) {
        for (const rec of b.records) {
          const key = rec.key!;
          const type = key.readInt16BE(0);
          const glen = key.readInt16BE(2);
          const group = key.toString('utf8', 4, 4 + glen);
          let topic: string | null = null;
          if (type === 1) topic = key.toString('utf8', 6 + glen, 6 + glen + key.readInt16BE(4 + glen));
          const offset = rec.value === null || type !== 1 ? null : rec.value.readBigInt64BE(2);
          out.push([p, b.baseOffset + BigInt(rec.offsetDelta), type, group, topic, offset]);
        }
      }
    }
  }
  return out;
}

const commit = (offset: number) => ({ offset: BigInt(offset), leaderEpoch: 0, metadata: '', commitTimestamp: 1_700_000_000_000, expireTimestamp: null });

test("records go to the home namespace's log, in Kafka's partition of the group, in order; other namespaces' topics and homeless groups are left out", async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    const log = new OffsetsLog(engine, silentLogger(), { numPartitions: PARTITIONS });
    const billing = { tenant: 'acme', groupId: 'billing' };
    const audit = { tenant: 'acme', groupId: 'audit' };
    for (let i = 1; i <= 5; i++) log.offsetCommitted(billing, 'orders', 'persistent://acme/orders/payments', 0, commit(i));
    log.offsetCommitted(billing, 'orders', 'persistent://acme/other/secret', 0, commit(9)); // another namespace's topic
    log.offsetCommitted(audit, 'ops', 'persistent://acme/ops/events', 3, commit(11));
    log.offsetCommitted({ tenant: 'globex', groupId: 'billing' }, 'orders', 'persistent://globex/orders/payments', 0, commit(21));
    log.offsetCommitted({ tenant: 'acme', groupId: 'homeless' }, null, 'persistent://acme/orders/payments', 0, commit(1));
    log.groupChanged(billing, 'orders', null); // a deleted group's metadata: a tombstone
    log.offsetCommitted(billing, 'orders', 'persistent://acme/orders/payments', 0, null);
    await log.flushed();

    const orders = await readLog(engine, 'persistent://acme/orders/__consumer_offsets');
    const p = kafkaOffsetsPartition('billing', PARTITIONS);
    assert.deepEqual(orders, [
      [p, 0n, 1, 'billing', 'payments', 1n],
      [p, 1n, 1, 'billing', 'payments', 2n],
      [p, 2n, 1, 'billing', 'payments', 3n],
      [p, 3n, 1, 'billing', 'payments', 4n],
      [p, 4n, 1, 'billing', 'payments', 5n],
      [p, 5n, 2, 'billing', null, null],
      [p, 6n, 1, 'billing', 'payments', null],
    ]);
    assert.deepEqual(await readLog(engine, 'persistent://acme/ops/__consumer_offsets'), [[kafkaOffsetsPartition('audit', PARTITIONS), 0n, 1, 'audit', 'events', 11n]]);
    assert.deepEqual(await readLog(engine, 'persistent://globex/orders/__consumer_offsets'), [[p, 0n, 1, 'billing', 'payments', 21n]]);
    assert.equal(await engine.describeTopic('persistent://acme/other/__consumer_offsets'), null, 'nothing written for the other namespace');

    const info = (await engine.describeTopic('persistent://acme/orders/__consumer_offsets'))!;
    assert.equal(info.internal, true);
    assert.equal(info.partitions, PARTITIONS);
    assert.equal(info.configs['cleanup.policy'], 'compact');
    assert.equal(log.appended, 9);
    assert.equal(log.dropped, 0);

    // a tenant admin grows the log (CreatePartitions): later records go to the group's partition among the new count
    let grown = PARTITIONS + 1;
    while (kafkaOffsetsPartition('billing', grown) === p) grown++;
    await engine.createPartitions('persistent://acme/orders/__consumer_offsets', grown);
    log.offsetCommitted(billing, 'orders', 'persistent://acme/orders/payments', 0, commit(6));
    await log.flushed();
    const after = await readLog(engine, 'persistent://acme/orders/__consumer_offsets');
    assert.deepEqual(after.filter((r) => r[5] === 6n), [[kafkaOffsetsPartition('billing', grown), 0n, 1, 'billing', 'payments', 6n]]);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('the queue is bounded: records beyond it are dropped and counted, the rest keep their order', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    const log = new OffsetsLog(engine, silentLogger(), { numPartitions: 1, maxQueued: 3 });
    const g = { tenant: 'acme', groupId: 'g' };
    // reported in one turn: the drain cannot append meanwhile, so at most 3 wait (besides what it took at once)
    for (let i = 1; i <= 10; i++) log.offsetCommitted(g, 'orders', 'persistent://acme/orders/t', 0, commit(i));
    await log.flushed();
    const kept = (await readLog(engine, 'persistent://acme/orders/__consumer_offsets')).map((r) => r[5]);
    assert.ok(log.dropped >= 5, `dropped ${log.dropped}`);
    assert.equal(kept.length + log.dropped, 10);
    assert.deepEqual(kept, Array.from({ length: kept.length }, (_, i) => BigInt(i + 1)), 'the first ones, in order');
    // once drained, there is room again
    log.offsetCommitted(g, 'orders', 'persistent://acme/orders/t', 0, commit(11));
    await log.flushed();
    assert.deepEqual((await readLog(engine, 'persistent://acme/orders/__consumer_offsets')).map((r) => r[5]), [...kept, 11n]);
  } finally {
    await engine.close();
    d.cleanup();
  }
});
