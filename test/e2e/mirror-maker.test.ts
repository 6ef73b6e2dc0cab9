/**
 * MirrorMaker 2 (connect-mirror 4.3.1 from Maven Central, its dedicated driver as
 * `connect-mirror-maker.sh mm2.properties` runs it) migrating from a real Apache Kafka broker
 * (KRaft, the jars of scripts/ci/fetch-java-deps.sh) to the gateway on the Pulsar engine (the run's
 * shared real broker), secured as in production: SASL PLAIN with Pulsar tokens and authorization
 * from Pulsar's permissions. MirrorMaker authenticates as a tenant admin (it creates topics and sets
 * their configs); the application's role has only `produce` and `consume` on the namespace. The
 * path docs/migration.md describes, step by step as here.
 *  - a topic is replicated with its partitions and topic configs, every record at the same partition
 *    and offset (IdentityReplicationPolicy: the same topic name on the gateway), including records
 *    produced while MirrorMaker runs;
 *  - a consumer group's committed offsets are translated (checkpoints) and written to the gateway's
 *    group coordinator (sync.group.offsets.enabled);
 *  - after the cut-over (MirrorMaker stopped) the group resumes on the gateway from the translated
 *    offsets: no record it had not consumed on Kafka is skipped, and it does not start over from
 *    the beginning (MM2's translation is conservative: it may repeat the records after its last
 *    offset sync, never skip one).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { skipsFor } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import type { ConsumedRecord } from '../helpers/clients/types.js';
import { startKafkaBroker, type KafkaBroker } from '../../bench/kafka-reference/broker.js';
import { connectUnavailable, startMirrorMaker, waitUntil, type JavaProcess } from '../helpers/connect.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';

const why = connectUnavailable();
const skip = pulsarSkipReason() ?? (skipsFor(why) ? why : undefined);

describe('MirrorMaker 2: Apache Kafka -> gateway (Pulsar engine)', () => {
  if (skip) {
    test(`MirrorMaker 2 migration [skipped: ${skip}]`, { skip }, () => undefined);
    return;
  }
  let kafka: KafkaBroker | undefined;
  let gw: TestGateway | undefined;
  let mm2: JavaProcess | undefined;
  let dir: string;
  let namespace: string;
  const tokens: Record<string, string> = {};
  /** SASL PLAIN as `role` (username tenant/namespace, password token:<jwt>), as a property map */
  const saslProps = (role: string): Record<string, string> => ({
    'security.protocol': 'SASL_PLAINTEXT',
    'sasl.mechanism': 'PLAIN',
    'sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required username="${namespace}" password="token:${tokens[role]}";`,
  });
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kop-mm2-'));
    const p = await sharedPulsar();
    // a tenant of its own: role mm2 is its admin; billing-app may produce and consume in its namespace
    const tenant = uniqueName('e2e-mm2');
    const put = await p.rest('PUT', `/admin/v2/tenants/${tenant}`, { adminRoles: ['mm2'], allowedClusters: ['standalone'] });
    assert.equal(put.status, 204, put.text);
    const ns = await createNamespace(p, 'apps', tenant);
    const grant = await p.rest('POST', `/admin/v2/namespaces/${ns}/permissions/billing-app`, ['produce', 'consume']);
    assert.equal(grant.status, 204, grant.text);
    for (const role of ['mm2', 'billing-app']) tokens[role] = await p.token(role);
    const settings = {
      ...pulsarGatewayConfig(p, ns),
      kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      authenticationEnabled: true,
      authorizationEnabled: true,
      tokenSecretKey: `file://${p.secretKeyFile}`,
    };
    [kafka, gw] = await Promise.all([startKafkaBroker({ heap: '512m' }), startTestGateway(settings)]);
    namespace = ns;
  });
  after(async () => {
    await mm2?.kill();
    await gw?.stop();
    await kafka?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test('a topic and a consumer group move from Kafka to the gateway; the group resumes from the translated offsets, nothing skipped', { timeout: 420_000 }, async (t) => {
    if (why) throw new Error(`test tool missing (required under CI): ${why}`);
    const topic = 'orders';
    const group = 'billing';
    const partitions = [0, 1, 2];
    const src = new JavaKafkaClient({ bootstrap: kafka!.bootstrap, processTimeoutMs: 90_000 });
    // the test's own look at the gateway: as the tenant admin
    const dst = new JavaKafkaClient({ bootstrap: gw!.bootstrap, processTimeoutMs: 90_000, config: saslProps('mm2') });
    const context = (): string => `--- MirrorMaker:\n${mm2?.tail(40) ?? ''}`;
    const records = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ key: `customer-${(from + i) % 37}`, value: `order-${from + i}` }));
    const byPosition = (rs: ConsumedRecord[]) => rs.map((r) => `${r.partition}/${r.offset} ${r.keyText}=${r.valueText}`).sort();

    // 1. on Kafka: a topic, records, and a group that consumed part of them (committed, then gone)
    const topicConfigs = { 'retention.ms': '86400000', 'max.message.bytes': '2000000' };
    const created = await src.createTopics([{ name: topic, partitions: partitions.length, replicationFactor: 1, configs: topicConfigs }]);
    assert.equal(created[0]!.error, undefined, JSON.stringify(created));
    for (const r of await src.produce({ topic, records: records(0, 600), acks: 'all' })) assert.equal(r.error, undefined, JSON.stringify(r));
    // one record per poll: the commit covers exactly the records consumed
    const onKafka = await new JavaKafkaClient({ bootstrap: kafka!.bootstrap, config: { 'max.poll.records': 1 } }).consume({ topic, group, commit: true, maxRecords: 250, timeoutMs: 60_000 });
    assert.equal(onKafka.length, 250);
    const committed = new Map((await src.listGroupOffsets(group)).map((o) => [o.partition, o.offset ?? 0]));
    assert.equal([...committed.values()].reduce((a, b) => a + b, 0), 250, `the group committed what it consumed: ${JSON.stringify([...committed])}`);

    // 2. MirrorMaker 2, Kafka -> gateway, same topic names, group offsets synced
    mm2 = startMirrorMaker({
      dir: join(dir, 'mm2'),
      props: {
        clusters: 'kafka, gateway',
        'kafka.bootstrap.servers': kafka!.bootstrap,
        'gateway.bootstrap.servers': gw!.bootstrap,
        ...Object.fromEntries(Object.entries(saslProps('mm2')).map(([k, v]) => [`gateway.${k}`, v])),
        'kafka->gateway.enabled': true,
        'gateway->kafka.enabled': false,
        'kafka->gateway.topics': topic,
        'kafka->gateway.groups': group,
        'replication.policy.class': 'org.apache.kafka.connect.mirror.IdentityReplicationPolicy',
        'sync.group.offsets.enabled': true,
        'sync.group.offsets.interval.seconds': 1,
        'emit.checkpoints.interval.seconds': 1,
        'refresh.topics.interval.seconds': 5,
        'refresh.groups.interval.seconds': 5,
        // single-broker clusters on both sides
        'replication.factor': 1,
        'checkpoints.topic.replication.factor': 1,
        'heartbeats.topic.replication.factor': 1,
        'offset-syncs.topic.replication.factor': 1,
        'offset.storage.replication.factor': 1,
        'status.storage.replication.factor': 1,
        'config.storage.replication.factor': 1,
        'tasks.max': 1,
      },
    });
    // records produced to Kafka while MirrorMaker runs are replicated too
    await waitUntil('MirrorMaker created the topic on the gateway', 120_000, async () => {
      const [d] = await dst.describeTopics([topic], { allowErrors: true });
      return d && !d.error && d.partitions.length === partitions.length ? true : undefined;
    }, context, 2000);
    for (const r of await src.produce({ topic, records: records(600, 200), acks: 'all' })) assert.equal(r.error, undefined, JSON.stringify(r));

    // 3. the gateway holds every record at the same partition and offset
    const kafkaRecords = byPosition(await src.consume({ topic, untilEnd: true, timeoutMs: 30_000 }));
    assert.equal(kafkaRecords.length, 800);
    await waitUntil('every record replicated to the gateway', 120_000, async () => {
      const ends = await dst.listOffsets(topic, 'latest');
      return ends.reduce((n, e) => n + (e.offset ?? 0), 0) >= 800 ? true : undefined;
    }, context, 2000);
    assert.deepEqual(byPosition(await dst.consume({ topic, untilEnd: true, timeoutMs: 30_000 })), kafkaRecords, 'the same records at the same partitions and offsets');
    // with the topic configs set on Kafka (MirrorMaker copies them with IncrementalAlterConfigs)
    const described = await dst.describeConfigs({ topic });
    for (const [k, v] of Object.entries(topicConfigs)) assert.deepEqual([described.configs[k]?.value, described.configs[k]?.source], [v, 'DYNAMIC_TOPIC_CONFIG'], `${k} copied`);

    // 4. the group's offsets arrive translated on the gateway
    const consumedOnKafka = [...committed].filter(([, o]) => o > 0).map(([p]) => p);
    await waitUntil('the group offsets synced to the gateway', 120_000, async () => {
      const offs = await dst.listGroupOffsets(group);
      return consumedOnKafka.every((p) => offs.some((o) => o.partition === p && (o.offset ?? 0) > 0)) ? true : undefined;
    }, context, 2000);

    // MirrorMaker's own topics: its Connect state and the checkpoints on the gateway, compacted; the offset syncs on Kafka
    const onGateway = new Set((await dst.listTopics({ internal: true })).map((l) => l.topic));
    for (const name of ['mm2-configs.kafka.internal', 'mm2-offsets.kafka.internal', 'mm2-status.kafka.internal', 'kafka.checkpoints.internal']) {
      assert.ok(onGateway.has(name), `${name} on the gateway (${[...onGateway].join(', ')})`);
      assert.equal((await dst.describeConfigs({ topic: name })).configs['cleanup.policy']?.value, 'compact', `${name} is compacted`);
    }
    assert.ok((await src.listTopics({ internal: true })).some((l) => l.topic === 'mm2-offset-syncs.gateway.internal'), 'the offset syncs on Kafka');

    // 5. cut-over: MirrorMaker stops; the group resumes on the gateway
    await mm2.stop();
    const translated = new Map((await dst.listGroupOffsets(group)).map((o) => [o.partition, o.offset ?? 0]));
    t.diagnostic(`committed on Kafka ${JSON.stringify([...committed])}, translated on the gateway ${JSON.stringify([...translated])}`);
    for (const p of partitions) {
      const c = committed.get(p) ?? 0;
      const tr = translated.get(p) ?? 0;
      assert.ok(tr <= c, `partition ${p}: the translated offset ${tr} skips nothing (committed on Kafka: ${c})`);
      if (c > 0) assert.ok(tr > 0, `partition ${p}: the group resumes from a translated offset, not from the beginning (committed ${c})`);
    }
    const ends = new Map((await dst.listOffsets(topic, 'latest')).map((e) => [e.partition, e.offset ?? 0]));
    const toRead = partitions.reduce((n, p) => n + ends.get(p)! - (translated.get(p) ?? 0), 0);
    // the application, with its own role (no admin)
    const resumed = await new JavaKafkaClient({ bootstrap: gw!.bootstrap, config: { ...saslProps('billing-app'), 'max.poll.records': 50 } }).consume({ topic, group, commit: true, maxRecords: toRead, timeoutMs: 60_000 });
    for (const p of partitions) {
      const got = resumed.filter((r) => r.partition === p).map((r) => r.offset);
      const from = translated.get(p) ?? 0;
      assert.deepEqual(got, Array.from({ length: ends.get(p)! - from }, (_, i) => from + i), `partition ${p}: the group read every offset from ${from} to the end, once`);
    }
    // every record was consumed by the group, on Kafka or on the gateway
    const seen = new Set([...onKafka, ...resumed].map((r) => r.valueText));
    assert.equal(seen.size, 800, 'no record skipped across the move');
    t.diagnostic(`records read again after the move (MM2's conservative translation): ${onKafka.length + resumed.length - 800}`);
    const after = new Map((await dst.listGroupOffsets(group)).map((o) => [o.partition, o.offset ?? 0]));
    for (const p of partitions) assert.equal(after.get(p), ends.get(p), `partition ${p}: the group committed on the gateway`);
  });
});
