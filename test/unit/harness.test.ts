/**
 * Proves the test harness is real: starts the reference Apache Kafka broker (KRaft, from the Maven
 * jars) once, and runs every client helper against it. Under CI a missing tool fails; locally the
 * tests that need it are skipped with the reason in their name.
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe } from 'node:test';
import { startKafkaBroker, unsecuredJwt, type KafkaBroker } from '../../bench/kafka-reference/broker.js';
import { runConsumerPerf, runProducerPerf } from '../../bench/kafka-reference/perf.js';
import { createTestCertificates, type TestCertificates } from '../helpers/clients/certs.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { kafkajsConsume, kafkajsProduce } from '../helpers/clients/kafkajs.js';
import { kcatConsume, kcatMetadata, kcatProduce } from '../helpers/clients/kcat.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import { PythonKafkaClient } from '../helpers/clients/python.js';
import type {
  ClientOptions,
  Compression,
  ConsumedRecord,
  KafkaTestClient,
  ProducedRecord,
  ProduceRecordInput,
} from '../helpers/clients/types.js';

const brokerWhy = unavailable('java');

describe(`harness against a reference Apache Kafka ${harnessEnv().kafkaVersion} broker`, () => {
  let kafka: KafkaBroker | undefined;
  let certs: TestCertificates | undefined;

  before(
    async () => {
      if (brokerWhy) return; // each test then skips (locally) or fails (CI) with the reason
      certs = createTestCertificates();
      // PLAINTEXT listener + a SASL_SSL one (PLAIN users, OAUTHBEARER with unsigned JWTs)
      kafka = await startKafkaBroker({
        sasl: {
          plainUsers: { alice: 'alice-secret' },
          tls: { certPemFile: certs.serverCertPemFile, keyPemFile: certs.serverKeyPemFile },
        },
      });
    },
    { timeout: 180_000 },
  );

  after(async () => {
    await kafka?.stop();
    if (certs) rmSync(certs.dir, { recursive: true, force: true });
  });

  function broker(): KafkaBroker {
    if (!kafka) throw new Error('reference broker did not start');
    return kafka;
  }

  function plain(): ClientOptions {
    return { bootstrap: broker().bootstrap };
  }

  /** 10 records covering null keys, binary values, headers (repeated, null), explicit timestamps and partitions. */
  function sampleRecords(opts: { nullHeaderValues: boolean }): ProduceRecordInput[] {
    const base = Date.now() - 60_000;
    return Array.from({ length: 10 }, (_, i) => {
      const headers: Array<{ key: string; value: string | Buffer | null }> = [];
      if (i % 2 === 1) headers.push({ key: 'h', value: `hv-${i}` }, { key: 'bin', value: Buffer.from([i, 0, 255]) });
      if (i === 7 && opts.nullHeaderValues) headers.push({ key: 'null', value: null });
      return {
        key: i === 3 ? null : `key-${i}`,
        value: i === 5 ? Buffer.from([0, 1, 2, 254, 255]) : `value-${i} \u2713`,
        headers,
        timestamp: base + i,
        partition: i % 2,
      };
    });
  }

  function bytesOf(v: string | Buffer | Uint8Array | null | undefined): Buffer | null {
    if (v === undefined || v === null) return null;
    return typeof v === 'string' ? Buffer.from(v, 'utf8') : Buffer.from(v);
  }

  /** Asserts that the consumed records are exactly the produced ones, at the acked offsets. */
  function assertSameRecords(input: ProduceRecordInput[], acks: ProducedRecord[], consumed: ConsumedRecord[], topic: string): void {
    assert.equal(acks.length, input.length, 'one ack per record');
    assert.equal(consumed.length, input.length, 'every record consumed once');
    const byPos = new Map(consumed.map((c) => [`${c.partition}/${c.offset}`, c]));
    for (const ack of acks) {
      assert.equal(ack.error, undefined, `record ${ack.index} failed: ${ack.message ?? ''}`);
      const rec = input[ack.index]!;
      assert.equal(ack.topic, topic);
      assert.equal(ack.partition, rec.partition);
      const c = byPos.get(`${ack.partition}/${ack.offset}`);
      assert.ok(c, `record ${ack.index} at ${ack.partition}/${ack.offset} consumed`);
      assert.equal(c.topic, topic);
      assert.deepEqual(c.key, bytesOf(rec.key as string | null));
      assert.deepEqual(c.value, bytesOf(rec.value as string | Buffer));
      assert.equal(c.timestamp, rec.timestamp);
      assert.equal(c.timestampType, 'CreateTime');
      const hs = (rec.headers as Array<{ key: string; value: string | Buffer | null }>).map((h) => ({ key: h.key, value: bytesOf(h.value) }));
      assert.deepEqual(
        c.headers.map((h) => ({ key: h.key, value: h.value })),
        hs,
        `headers of record ${ack.index}`,
      );
    }
    // offsets are dense per partition, from 0
    for (const p of [0, 1]) {
      const offs = acks.filter((a) => a.partition === p).map((a) => a.offset);
      assert.deepEqual(offs, offs.map((_, i) => i), `offsets of partition ${p}`);
    }
  }

  async function driverRoundTrip(client: KafkaTestClient, compression: Compression): Promise<void> {
    const topic = `rt-${client.name}`;
    const created = await client.createTopics([{ name: topic, partitions: 2 }]);
    assert.deepEqual(created, [{ topic, created: true }]);
    const input = sampleRecords({ nullHeaderValues: true });
    const acks = await client.produce({ topic, records: input, compression, idempotence: true, acks: 'all' });
    const consumed = await client.consume({ topic, maxRecords: 10, timeoutMs: 30_000 });
    assertSameRecords(input, acks, consumed, topic);
    // the same through a consumer group, committing; the committed offsets are then listed
    const viaGroup = await client.consume({ topic, group: `g-${client.name}`, commit: true, maxRecords: 10, timeoutMs: 30_000 });
    assert.equal(viaGroup.length, 10);
    const committed = await client.listGroupOffsets(`g-${client.name}`, { topic });
    assert.deepEqual(
      committed.map((c) => [c.partition, c.offset]).sort(),
      [
        [0, 5],
        [1, 5],
      ],
    );
  }

  async function adminOps(client: KafkaTestClient): Promise<void> {
    const topic = `admin-${client.name}`;
    await client.createTopics([{ name: topic, partitions: 1, configs: { 'retention.ms': 3_600_000 } }]);
    const dup = await client.createTopics([{ name: topic }], { allowErrors: true });
    assert.equal(dup[0]?.created, false);
    assert.match(dup[0]?.error ?? '', /TopicExists|TOPIC_ALREADY_EXISTS/);
    assert.ok((await client.listTopics()).some((t) => t.topic === topic), 'listTopics shows the topic');
    const inc = await client.createPartitions(topic, 3);
    assert.deepEqual(inc, [{ topic, increased: true }]);
    const [desc] = await client.describeTopics([topic]);
    assert.equal(desc?.partitions.length, 3);
    assert.deepEqual(desc?.partitions[0]?.replicas, [1]);
    const ts = Date.now() - 10_000;
    await client.produce({
      topic,
      records: [0, 1, 2].map((i) => ({ value: `v${i}`, timestamp: ts + i * 1000, partition: 2 })),
    });
    const earliest = await client.listOffsets(topic, 'earliest', { partitions: [2] });
    const latest = await client.listOffsets(topic, 'latest', { partitions: [2] });
    const byTime = await client.listOffsets(topic, ts + 1500, { partitions: [2] });
    assert.deepEqual([earliest[0]?.offset, latest[0]?.offset, byTime[0]?.offset], [0, 3, 2]);
    const cfg = await client.describeConfigs({ topic });
    assert.equal(cfg.configs['retention.ms']?.value, '3600000');
    assert.equal(cfg.configs['retention.ms']?.source, 'DYNAMIC_TOPIC_CONFIG');
    const cluster = await client.describeCluster();
    assert.equal(cluster.clusterId, broker().clusterId);
    assert.deepEqual(
      cluster.nodes.map((n) => [n.id, n.port]),
      [[1, broker().port]],
    );
    assert.deepEqual(await client.deleteTopics([topic]), [{ topic, deleted: true }]);
  }

  // ---------------------------------------------------------------- kcat

  const kcatWhy = unavailable('java', 'kcat');

  toolTest('kcat -L -J sees the broker', kcatWhy, async () => {
    const md = await kcatMetadata(broker().bootstrap);
    assert.equal(md.controllerid, 1);
    assert.deepEqual(md.brokers, [{ id: 1, name: `127.0.0.1:${broker().port}` }]);
  });

  toolTest('kcat produces (-P -K) and consumes (-C -e -J) the same records', kcatWhy, async () => {
    const topic = 'kcat-rt';
    const recs = Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i} \u2713` }));
    await kcatProduce(broker().bootstrap, topic, recs, { headers: { origin: 'kcat' }, compression: 'snappy' });
    const got = await kcatConsume(broker().bootstrap, topic, {});
    assert.deepEqual(
      got.map((r) => [r.offset, r.key, r.value, r.headers]),
      recs.map((r, i) => [i, r.key, r.value, [{ key: 'origin', value: 'kcat' }]]),
    );
    const md = await kcatMetadata(broker().bootstrap, { topic });
    assert.equal(md.topics[0]?.topic, topic);
  });

  // -------------------------------------------------------- java / python

  const javaWhy = unavailable('java');
  const pythonWhy = unavailable('java', 'python');

  toolTest('java driver: 10 records produced (zstd, idempotent) and consumed back identically', javaWhy, () =>
    driverRoundTrip(new JavaKafkaClient(plain()), 'zstd'),
  );

  toolTest('python driver: 10 records produced (lz4, idempotent) and consumed back identically', pythonWhy, () =>
    driverRoundTrip(new PythonKafkaClient(plain()), 'lz4'),
  );

  toolTest('java driver: admin operations', javaWhy, () => adminOps(new JavaKafkaClient(plain())));

  toolTest('python driver: admin operations', pythonWhy, () => adminOps(new PythonKafkaClient(plain())));

  toolTest('kafkajs: 10 records produced (gzip) and consumed back identically', unavailable('java', 'kafkajs'), async () => {
    const topic = 'rt-kafkajs';
    const java = new JavaKafkaClient(plain());
    await java.createTopics([{ name: topic, partitions: 2 }]);
    const input = sampleRecords({ nullHeaderValues: false });
    const acks = await kafkajsProduce(plain(), { topic, records: input, compression: 'gzip' });
    const consumed = await kafkajsConsume(plain(), { topic, maxRecords: 10, timeoutMs: 30_000 });
    assertSameRecords(input, acks, consumed, topic);
  });

  toolTest('cross-client: java produces, python and kcat read the same records', unavailable('java', 'python', 'kcat'), async () => {
    const topic = 'cross';
    const java = new JavaKafkaClient(plain());
    const acks = await java.produce({ topic, count: 10, valueSize: 50, partition: 0, compression: 'gzip' });
    assert.deepEqual(acks.map((a) => a.offset), [...Array(10).keys()]);
    const py = await new PythonKafkaClient(plain()).consume({ topic, untilEnd: true, timeoutMs: 20_000 });
    const kc = await kcatConsume(broker().bootstrap, topic, {});
    const fromJava = await java.consume({ topic, untilEnd: true, timeoutMs: 20_000 });
    const view = (rs: Array<{ offset: number; keyText?: string | null; key?: string | null | Buffer; valueText?: string | null }>) =>
      rs.map((r) => [r.offset, r.keyText ?? r.key, r.valueText]);
    assert.deepEqual(view(py), view(fromJava));
    assert.deepEqual(
      kc.map((r) => [r.offset, r.key, r.value]),
      view(fromJava),
    );
    assert.equal(fromJava[0]?.valueText?.length, 50);
  });

  // -------------------------------------------------------------- security

  toolTest('SASL_SSL: PLAIN and OAUTHBEARER (given JWT) with java, python, kafkajs, kcat; a wrong password fails', unavailable('java', 'python', 'kafkajs', 'kcat'), async () => {
    const b = broker();
    const tls = { caPemFile: certs!.caPemFile, verifyHostname: true };
    const plainSec: ClientOptions = {
      bootstrap: b.saslBootstrap!,
      security: { protocol: 'SASL_SSL', mechanism: 'PLAIN', username: 'alice', password: 'alice-secret', ...tls },
    };
    const oauthSec: ClientOptions = {
      bootstrap: b.saslBootstrap!,
      security: { protocol: 'SASL_SSL', mechanism: 'OAUTHBEARER', token: unsecuredJwt('bob'), ...tls },
    };
    for (const opts of [plainSec, oauthSec]) {
      const mech = opts.security!.mechanism!;
      for (const client of [new JavaKafkaClient(opts), new PythonKafkaClient(opts)]) {
        const topic = `sasl-${mech}-${client.name}`;
        assert.equal((await client.describeCluster()).clusterId, b.clusterId, `${client.name} ${mech} admin`);
        const acks = await client.produce({ topic, count: 3 });
        assert.equal(acks.filter((a) => a.offset !== undefined && a.offset >= 0).length, 3, `${client.name} ${mech}`);
        const got = await client.consume({ topic, maxRecords: 3, timeoutMs: 20_000 });
        assert.deepEqual(got.map((r) => r.valueText), ['value-0', 'value-1', 'value-2']);
      }
      const kj = await kafkajsProduce(opts, { topic: `sasl-${mech}-kafkajs`, count: 2 });
      assert.equal(kj.length, 2, `kafkajs ${mech}`);
    }
    const md = await kcatMetadata(b.saslBootstrap!, { security: plainSec.security! });
    assert.deepEqual(md.brokers, [{ id: 1, name: `127.0.0.1:${b.saslPort!}` }]);
    const bad = new JavaKafkaClient({ ...plainSec, security: { ...plainSec.security, password: 'wrong' }, requestTimeoutMs: 5000 });
    await assert.rejects(bad.describeCluster(), /SaslAuthenticationException|Authentication failed/);
    const untrusted = new JavaKafkaClient({ ...plainSec, security: { ...plainSec.security, caPemFile: certs!.clientCertPemFile }, requestTimeoutMs: 5000 });
    await assert.rejects(untrusted.describeCluster(), /SSLHandshakeException|SslAuthenticationException|PKIX/);
  });

  // ------------------------------------------------------------------ perf

  toolTest('ProducerPerformance / ConsumerPerformance run and parse to positive numbers', javaWhy, async () => {
    const topic = 'perf';
    const p = await runProducerPerf({
      bootstrap: broker().bootstrap,
      topic,
      numRecords: 20_000,
      recordSize: 100,
      acks: 1,
      warmupRecords: 2_000,
    });
    assert.equal(p.records, 20_000);
    for (const v of [p.recordsPerSec, p.mbPerSec, p.maxLatencyMs, p.p99Ms!, p.p999Ms!]) assert.ok(v > 0, `positive: ${v}`);
    for (const v of [p.avgLatencyMs, p.p50Ms!, p.p95Ms!]) assert.ok(v >= 0 && Number.isFinite(v));
    assert.ok(p.steadyState && p.steadyState.records === 18_000, 'steady-state summary parsed');
    const c = await runConsumerPerf({ bootstrap: broker().bootstrap, topic, numRecords: 20_000 });
    assert.equal(c.records, 20_000);
    assert.ok(c.mbPerSec > 0 && c.recordsPerSec > 0 && c.dataMb > 1.9, JSON.stringify({ ...c, output: undefined }));
  });
});
