/**
 * storageEngine=pulsar against a real Apache Pulsar standalone broker (the
 * run's shared one, test/helpers/pulsar.ts): real Kafka clients (Java
 * kafka-clients, confluent-kafka-python / librdkafka, kcat, kafkajs) produce
 * and consume through the gateway with both entry formats; offsets are
 * Pulsar's broker entry index and survive a gateway restart (fetch from the
 * start, a middle offset and the end, ListOffsets by time); consumer groups
 * keep their committed offsets in Pulsar; topic administration acts on Pulsar
 * partitioned topics (checked through Pulsar's own admin API).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { PythonKafkaClient } from '../helpers/clients/python.js';
import { kcatConsume, kcatProduce } from '../helpers/clients/kcat.js';
import { kafkajsConsume, kafkajsProduce } from '../helpers/clients/kafkajs.js';
import type { Compression, ConsumedRecord, ProduceRecordInput } from '../helpers/clients/types.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';
import { tempDir } from '../helpers/temp.js';

const skip = pulsarSkipReason();
const BASE_TS = 1_700_000_000_000;

function records(n: number, tag: string): ProduceRecordInput[] {
  return Array.from({ length: n }, (_, i) => ({
    key: i % 17 === 0 ? null : Buffer.from(`${tag}-key-${i}\u0000\u00ff`, 'latin1'),
    value: i % 23 === 5 ? null : Buffer.concat([Buffer.from(`${tag}-value-${i}-`), Buffer.alloc(i % 300, i & 0xff)]),
    headers: [
      { key: 'seq', value: String(i) },
      { key: 'tag', value: tag },
    ],
    timestamp: BASE_TS + i * 1000,
  }));
}

function assertSameRecords(got: ConsumedRecord[], sent: ProduceRecordInput[], what: string, firstOffset = 0): void {
  assert.equal(got.length, sent.length, `${what}: record count`);
  got.forEach((r, i) => {
    const s = sent[i]!;
    assert.equal(r.offset, firstOffset + i, `${what}: offsets are dense`);
    assert.deepEqual(r.key, s.key === null ? null : Buffer.from(s.key as Buffer), `${what}: key of #${i}`);
    assert.deepEqual(r.value, s.value === null ? null : Buffer.from(s.value as Buffer), `${what}: value of #${i}`);
    assert.equal(r.timestamp, s.timestamp, `${what}: timestamp of #${i}`);
    const headers = (s.headers as Array<{ key: string; value: string }>).map((h) => ({ key: h.key, value: Buffer.from(h.value) }));
    assert.deepEqual(r.headers.map((h) => ({ key: h.key, value: h.value })), headers, `${what}: headers of #${i}`);
  });
}

if (skip) {
  test(`storageEngine=pulsar end to end [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  let p: SharedPulsar;
  const gateways: TestGateway[] = [];
  const nss: Record<'pulsar' | 'kafka', string> = { pulsar: '', kafka: '' };
  const dirs: Record<'pulsar' | 'kafka', string> = { pulsar: '', kafka: '' };
  const gw: Partial<Record<'pulsar' | 'kafka', TestGateway>> = {};

  async function start(format: 'pulsar' | 'kafka'): Promise<TestGateway> {
    const g = await startTestGateway(pulsarGatewayConfig(p, nss[format], format), dirs[format]);
    gateways.push(g);
    gw[format] = g;
    return g;
  }

  before(async () => {
    p = await sharedPulsar();
    for (const format of ['pulsar', 'kafka'] as const) {
      nss[format] = await createNamespace(p, uniqueName(`e2e-${format}`));
      dirs[format] = tempDir(`kop-e2e-pulsar-${format}-`);
      await start(format);
    }
  });
  after(async () => {
    for (const g of gateways) await g.stop().catch(() => undefined);
  });

  for (const format of ['pulsar', 'kafka'] as const) {
    const CODECS: Compression[] = format === 'pulsar' ? ['none', 'gzip', 'snappy', 'lz4', 'zstd'] : ['none', 'zstd', 'lz4'];
    toolTest(`pulsar/${format}: Java produces with ${CODECS.join(', ')}; confluent-kafka (librdkafka) consumes identical records`, unavailable('java', 'python'), async () => {
      const java = new JavaKafkaClient({ bootstrap: gw[format]!.bootstrap });
      const python = new PythonKafkaClient({ bootstrap: gw[format]!.bootstrap });
      for (const codec of CODECS) {
        const topic = `jp-${codec}`;
        await java.createTopics([{ name: topic, partitions: 1 }]);
        const sent = records(60, `${format}-${codec}`);
        const acked = await java.produce({ topic, records: sent, compression: codec, acks: 'all', lingerMs: 5 });
        assert.equal(acked.filter((a) => a.error).length, 0, JSON.stringify(acked.find((a) => a.error)));
        assert.deepEqual(acked.map((a) => a.offset), sent.map((_, i) => i), `${codec}: acknowledged offsets are dense from 0`);
        const got = await python.consume({ topic, partitions: [0], offset: 'beginning', maxRecords: sent.length, timeoutMs: 30_000 });
        assertSameRecords(got, sent, `${format} java->python ${codec}`);
      }
      // the topic is a Pulsar partitioned topic with one partition
      const meta = await p.rest('GET', `/admin/v2/persistent/${nss[format]}/jp-none/partitions`);
      assert.equal(meta.status, 200, meta.text);
      assert.equal(JSON.parse(meta.text).partitions, 1);
    }, { timeout: 240_000 });

    toolTest(`pulsar/${format}: kcat produces, kafkajs consumes; offsets continue across produce calls`, unavailable('kcat', 'kafkajs'), async () => {
      const bootstrap = gw[format]!.bootstrap;
      const topic = `kk-${format}`;
      await new JavaKafkaClient({ bootstrap }).createTopics([{ name: topic, partitions: 2 }]).catch(async () => undefined);
      const first = Array.from({ length: 30 }, (_, i) => ({ key: `k${i}`, value: `first-${i}`, partition: 1 }));
      await kcatProduce(bootstrap, topic, first.map((r) => ({ key: r.key, value: r.value })), { partition: 1 });
      await kafkajsProduce({ bootstrap }, { topic, records: Array.from({ length: 20 }, (_, i) => ({ key: `j${i}`, value: `second-${i}`, partition: 1 })), acks: 'all' });
      const got = await kafkajsConsume({ bootstrap }, { topic, partitions: [1], offset: 'beginning', maxRecords: 50, timeoutMs: 30_000 });
      assert.deepEqual(got.map((r) => r.offset), Array.from({ length: 50 }, (_, i) => i));
      assert.deepEqual(got.slice(0, 30).map((r) => r.valueText), first.map((r) => r.value));
      assert.deepEqual(got.slice(30).map((r) => r.valueText), Array.from({ length: 20 }, (_, i) => `second-${i}`));
      const k = await kcatConsume(bootstrap, topic, { partition: 1, offset: 25, count: 10 });
      assert.deepEqual(k.map((r) => r.offset), Array.from({ length: 10 }, (_, i) => 25 + i));
    }, { timeout: 120_000 });
  }

  toolTest('pulsar: after a gateway restart, fetch from the start, a middle offset and the end; ListOffsets earliest/latest/by time', unavailable('java'), async () => {
    const format = 'pulsar' as const;
    let java = new JavaKafkaClient({ bootstrap: gw[format]!.bootstrap });
    const topic = 'restart-offsets';
    await java.createTopics([{ name: topic, partitions: 1 }]);
    const sent = records(500, 'restart');
    // many small batches: many Pulsar entries, so a middle offset needs a real search
    const acked = await java.produce({ topic, records: sent, acks: 'all', lingerMs: 0, batchSize: 200 });
    assert.deepEqual(acked.map((a) => a.offset), sent.map((_, i) => i));
    await gw[format]!.stop();
    await start(format);
    java = new JavaKafkaClient({ bootstrap: gw[format]!.bootstrap });
    const engine = gw[format]!.gateway.storage as unknown as { locator: { probes: number } };
    const middle = await java.consume({ topic, partitions: [0], offset: 333, maxRecords: 20, timeoutMs: 30_000 });
    assertSameRecords(middle, sent.slice(333, 353), 'from offset 333 after restart', 333);
    const probes = engine.locator.probes;
    assert.ok(probes > 0 && probes <= 40, `a middle offset after a restart costs a bounded number of probes (${probes})`);
    const begin = await java.consume({ topic, partitions: [0], offset: 'beginning', maxRecords: 5, timeoutMs: 30_000 });
    assertSameRecords(begin, sent.slice(0, 5), 'from the beginning after restart');
    const earliest = await java.listOffsets(topic, 'earliest');
    const latest = await java.listOffsets(topic, 'latest');
    assert.equal(earliest[0]!.offset, 0);
    assert.equal(latest[0]!.offset, 500);
    // records carry CreateTime BASE_TS + i s, published now: by time finds the first record at/after ts
    const byTime = await java.listOffsets(topic, BASE_TS + 250_500);
    assert.equal(byTime[0]!.offset, 251);
    // new records continue the offsets
    const more = await java.produce({ topic, records: records(3, 'after'), acks: 'all' });
    assert.deepEqual(more.map((a) => a.offset), [500, 501, 502]);
  }, { timeout: 240_000 });

  toolTest('pulsar: a Java consumer group commits in Pulsar (mirrored as a durable subscription with its backlog) and resumes after a gateway restart', unavailable('java'), async () => {
    const format = 'kafka' as const;
    let java = new JavaKafkaClient({ bootstrap: gw[format]!.bootstrap });
    const topic = 'group-resume';
    await java.createTopics([{ name: topic, partitions: 2 }]);
    await java.produce({ topic, count: 40, acks: 'all' });
    const first = await java.consume({ topic, group: 'g-resume', commit: true, maxRecords: 40, timeoutMs: 40_000 });
    assert.equal(first.length, 40);
    // the committed position is mirrored into a durable Pulsar subscription named after the group
    const backlog = async (): Promise<number[] | null> => {
      const out: number[] = [];
      for (const part of [0, 1]) {
        const r = await p.rest('GET', `/admin/v2/persistent/${nss[format]}/${topic}-partition-${part}/stats`);
        const sub = (JSON.parse(r.text) as { subscriptions?: Record<string, { msgBacklog: number }> }).subscriptions?.['g-resume'];
        if (!sub) return null;
        out.push(sub.msgBacklog);
      }
      return out;
    };
    const until = async (ok: (b: number[] | null) => boolean, what: string): Promise<number[] | null> => {
      let b: number[] | null = null;
      for (const deadline = Date.now() + 15_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
        b = await backlog();
        if (ok(b)) return b;
      }
      assert.fail(`${what}: Pulsar subscription backlog ${JSON.stringify(b)}`);
    };
    await until((b) => b !== null && b.every((n) => n === 0), 'after committing everything the group subscription has no backlog');
    await gw[format]!.stop();
    await start(format);
    java = new JavaKafkaClient({ bootstrap: gw[format]!.bootstrap });
    const offsets = await java.listGroupOffsets('g-resume');
    const byPartition = Object.fromEntries(offsets.map((o) => [o.partition, o.offset]));
    const total = (byPartition[0] ?? 0) + (byPartition[1] ?? 0);
    assert.equal(total, 40, `committed offsets after restart: ${JSON.stringify(offsets)}`);
    await java.produce({ topic, count: 6, acks: 'all' });
    await until((b) => b !== null && b[0]! + b[1]! > 0, 'new records show as backlog of the group subscription');
    const next = await java.consume({ topic, group: 'g-resume', commit: true, maxRecords: 6, timeoutMs: 40_000 });
    assert.equal(next.length, 6, 'only the 6 new records are delivered to the group');
    await until((b) => b !== null && b.every((n) => n === 0), 'the backlog is gone once the group committed again');
  }, { timeout: 240_000 });

  toolTest('pulsar: CreatePartitions and DeleteTopics act on the Pulsar partitioned topic', unavailable('java'), async () => {
    const java = new JavaKafkaClient({ bootstrap: gw.pulsar!.bootstrap });
    const topic = 'admin-ops';
    await java.createTopics([{ name: topic, partitions: 2 }]);
    const dup = await java.createTopics([{ name: topic, partitions: 2 }], { allowErrors: true });
    assert.equal(dup[0]!.error, 'TopicExistsException');
    await java.createPartitions(topic, 4);
    const meta = await p.rest('GET', `/admin/v2/persistent/${nss.pulsar}/${topic}/partitions`);
    assert.equal(JSON.parse(meta.text).partitions, 4);
    const desc = await java.describeTopics([topic]);
    assert.equal(desc[0]!.partitions.length, 4);
    await java.deleteTopics([topic]);
    const gone = await p.rest('GET', `/admin/v2/persistent/${nss.pulsar}/${topic}/partitions`);
    assert.ok(gone.status === 404 || JSON.parse(gone.text).partitions === 0, `deleted in Pulsar: ${gone.status} ${gone.text}`);
  }, { timeout: 120_000 });
}
