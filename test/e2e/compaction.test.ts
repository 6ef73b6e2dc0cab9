/**
 * Log compaction end to end on the embedded engine with the Java client
 * (kafka-clients 4.3.1): a compacted topic created by the AdminClient, its
 * configs described with their sources, keyless records refused with
 * InvalidRecordException, and after the gateway's background cleaner ran, a
 * consumer reading from the beginning gets exactly the latest record of every
 * key (tombstones within delete.retention.ms included) below the active
 * segment and everything in it, at the offsets they were written at,
 * increasing.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import type { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import type { ProduceRecordInput } from '../helpers/clients/types.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({ logCleanerBackoffMs: 100, logCleanerIoMaxBytesPerSecond: 0 });
});
after(async () => {
  await gw?.stop();
});

toolTest('java: a compacted topic read from the beginning after cleaning holds the latest value per key and unexpired tombstones at their offsets', unavailable('java'), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, processTimeoutMs: 120_000 });
  const topic = 'compacted-e2e';
  const created = await java.createTopics([
    { name: topic, partitions: 1, replicationFactor: 1, configs: { 'cleanup.policy': 'compact', 'segment.bytes': '4096', 'min.cleanable.dirty.ratio': '0.01', 'delete.retention.ms': '3600000' } },
  ]);
  assert.equal(created[0]!.error, undefined, JSON.stringify(created));
  const desc = await java.describeConfigs({ topic }, { all: true });
  assert.equal(desc.configs['cleanup.policy']!.value, 'compact');
  assert.equal(desc.configs['cleanup.policy']!.source, 'DYNAMIC_TOPIC_CONFIG');
  assert.equal(desc.configs['delete.retention.ms']!.value, '3600000');
  assert.equal(desc.configs['min.cleanable.dirty.ratio']!.source, 'DYNAMIC_TOPIC_CONFIG');
  assert.equal(desc.configs['min.compaction.lag.ms']!.value, '0');
  assert.equal(desc.configs['min.compaction.lag.ms']!.source, 'DEFAULT_CONFIG');
  assert.equal(desc.configs['max.compaction.lag.ms']!.value, '9223372036854775807');

  // keyless: refused as Kafka refuses it
  const keyless = await java.produce({ topic, records: [{ key: null, value: 'no key' }], allowErrors: true });
  assert.equal(keyless[0]!.error, 'InvalidRecordException', JSON.stringify(keyless));

  // 30 keys updated many times, two of them deleted, compressed and not, then other keys so they all lie below the active segment
  const records: ProduceRecordInput[] = [];
  for (let i = 0; i < 600; i++) {
    const key = `key-${i % 30}`;
    const deleted = (key === 'key-7' || key === 'key-11') && i >= 540;
    records.push({ key, value: deleted ? null : `value-${i}-`.padEnd(40 + (i % 50), '#') });
  }
  for (let i = 0; i < 200; i++) records.push({ key: `tail-${i % 10}`, value: `tail-${i}`.padEnd(60, '~') });
  const sent: Array<{ offset: number; key: string; value: string | null }> = [];
  for (let chunk = 0; chunk < records.length; chunk += 100) {
    const part = records.slice(chunk, chunk + 100);
    const res = await java.produce({ topic, records: part, acks: 'all', idempotence: true, compression: chunk % 200 === 0 ? 'zstd' : 'none', batchSize: 2048, lingerMs: 0 });
    res.forEach((r, i) => {
      assert.equal(r.error, undefined, JSON.stringify(r));
      const rec = part[i]!;
      sent.push({ offset: r.offset!, key: rec.key as string, value: (rec.value as string | null) ?? null });
    });
  }
  sent.sort((a, b) => a.offset - b.offset);
  assert.deepEqual(sent.map((s) => s.offset), Array.from({ length: 800 }, (_, i) => i));

  // the background cleaner compacts everything below the active segment
  const engine = gw.gateway.context.storage as EmbeddedEngine;
  const log = engine.partitionLog({ topic: `persistent://public/default/${topic}`, partition: 0 });
  let activeBase = 0n;
  for (let i = 0; i < 200; i++) {
    activeBase = log.segmentBases().at(-1)!;
    if (log.cleanerCheckpointOffset === activeBase) break;
    assert.ok(i < 199, `the cleaner reached the active segment (checkpoint ${log.cleanerCheckpointOffset}, active ${activeBase})`);
    await sleep(100);
  }
  assert.ok(activeBase > 600n, `the keyed records lie below the active segment (base ${activeBase})`);

  const got = await java.consume({ topic, untilEnd: true, timeoutMs: 60_000 });
  const below = sent.filter((s) => BigInt(s.offset) < activeBase);
  const latest = new Map<string, number>();
  for (const s of below) latest.set(s.key, s.offset);
  const expected = sent.filter((s) => BigInt(s.offset) >= activeBase || latest.get(s.key) === s.offset);
  assert.deepEqual(
    got.map((r) => [r.offset, r.keyText, r.value === null ? null : r.valueText]),
    expected.map((s) => [s.offset, s.key, s.value]),
    'exactly the latest record per key below the active segment, everything after it, at the original offsets',
  );
  const gotKeyed = got.filter((r) => r.keyText!.startsWith('key-'));
  assert.equal(gotKeyed.length, 30, 'one record per key');
  assert.deepEqual(
    gotKeyed.filter((r) => r.value === null).map((r) => r.keyText).sort(),
    ['key-11', 'key-7'],
    'the tombstones are kept within delete.retention.ms',
  );
  for (let i = 1; i < got.length; i++) assert.ok(got[i]!.offset > got[i - 1]!.offset, 'offsets increase');
});
