/**
 * Share groups (KIP-932) on storageEngine=pulsar against the run's shared Pulsar standalone
 * broker, mapped onto Pulsar Shared subscriptions (docs/share-groups.md): the same Java
 * KafkaShareConsumer scenarios as share-groups.test.ts (accept, release, reject, lock expiry,
 * two members sharing a topic); the group's subscription `share:<group>` is a Shared one and has
 * no backlog once everything is accepted or rejected. Two gateway nodes on one Pulsar: share
 * consumers bootstrapped to different nodes divide a topic's records, each delivered and
 * accepted once, each node holding a consumer of the subscription (no NOT_COORDINATOR). Raw
 * ShareFetch frames: part of a batch released stays on the node (delivery count 2), a released
 * entry comes back from the broker with delivery count 2, the delivery-count limit archives.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';
import { runShareAdminScenario, runShareNodesScenario, runShareQueueScenario, runShareScenario } from './drivers/share-scenario.js';
import { runJavaMain } from '../helpers/clients/java.js';
import { ensurePulsarInterop, pulsarConsume, pulsarJavaUnavailable } from '../helpers/pulsar/interop.js';
import { RawClient } from '../helpers/raw-client.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import type { ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import { ErrorCode } from '../../src/protocol/errors.js';

const { Kafka, logLevel } = kafkajs;
const skip = pulsarSkipReason();

/** Topics created through a gateway (kafkajs admin), as a user would. */
async function createTopicsVia(bootstrap: string, topics: Array<{ topic: string; numPartitions: number }>): Promise<void> {
  const admin = new Kafka({ clientId: 'share-admin', brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ topics });
  } finally {
    await admin.disconnect();
  }
}

describe('share groups on the Pulsar engine', { skip }, () => {
  let gw: TestGateway | undefined;
  let p: SharedPulsar;
  let ns: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  const topic = `share-ack-${suffix}`;
  const shareTopic = `share-spread-${suffix}`;
  const group = `share-g-${suffix}`;
  const shareGroup = `share-h-${suffix}`;

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('e2e-share'));
    gw = await startTestGateway({ ...pulsarGatewayConfig(p, ns, 'kafka'), shareAutoOffsetReset: 'earliest', shareGroupRecordLockDurationMs: 2000, shareGroupHeartbeatIntervalMs: 500, opsListener: 'http://127.0.0.1:0' });
    await createTopicsVia(gw.bootstrap, [{ topic, numPartitions: 1 }, { topic: shareTopic, numPartitions: 2 }]);
  });

  after(async () => {
    await gw?.stop();
  });

  toolTest('accept, release, reject, lock expiry and two members sharing a topic', unavailable('java'), async () => {
    await runShareScenario(gw!.bootstrap, topic, group, shareTopic, shareGroup);
    // Kafka's kafka-share-groups.sh: the start offset (after the subscription's mark-delete position) moved past all six records
    const d = await runJavaMain('org.apache.kafka.tools.consumer.group.ShareGroupCommand', ['--bootstrap-server', gw!.bootstrap, '--describe', '--group', group], { timeoutMs: 60_000 });
    assert.equal(d.code, 0, d.stderr);
    const row = d.stdout.split('\n').find((l) => l.startsWith(group));
    assert.ok(row, d.stdout);
    assert.deepEqual(row.trim().split(/\s+/), [group, topic, '0', '6', '0'], d.stdout);
    // the share-group metrics count what happened on the Pulsar mapping too: v2 released, v3 rejected, v5's lock expired
    const text = await (await fetch(`${gw!.gateway.ops!.url}/metrics`)).text();
    const count = (event: string) => Number(new RegExp(`^kop_gateway_share_records_total\\{event="${event}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    assert.equal(count('released'), 1, text);
    assert.equal(count('rejected'), 1);
    assert.ok(count('expired') >= 1);
    assert.ok(count('redelivered') >= 2);
    assert.equal(count('accepted'), 5 + 40, 'v0-v5 but the rejected v3, and the 40 shared records');
    // every record of `topic` is done: the group's Shared subscription has no backlog
    let seen: unknown = null;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const r = await p.rest('GET', `/admin/v2/persistent/${ns}/${topic}-partition-0/stats`);
      const stats = JSON.parse(r.text) as { subscriptions?: Record<string, { msgBacklog: number; type?: string }> };
      seen = stats.subscriptions?.[`share:${group}`] ?? null;
      if (stats.subscriptions?.[`share:${group}`]?.msgBacklog === 0) {
        assert.equal(stats.subscriptions[`share:${group}`]!.type, 'Shared');
        return;
      }
    }
    assert.fail(`the share group's subscription on ${topic}: ${JSON.stringify(seen)}`);
  });

  toolTest('kafka-share-groups.sh --reset-offsets moves share:<group>, --delete-offsets and --delete remove the subscriptions', unavailable('java'), async () => {
    const subscriptions = async (partitionTopic: string): Promise<string[]> => JSON.parse((await p.rest('GET', `/admin/v2/persistent/${ns}/${partitionTopic}/subscriptions`)).text) as string[];
    assert.ok((await subscriptions(`${shareTopic}-partition-0`)).includes(`share:${shareGroup}`), 'the other group read shareTopic');
    await runShareAdminScenario(gw!.bootstrap, gw!.port, topic, group, shareGroup);
    // --delete-offsets deleted the group's subscription on the topic; --delete the other group's on each partition
    assert.ok(!(await subscriptions(`${topic}-partition-0`)).includes(`share:${group}`));
    for (const partition of [0, 1]) assert.ok(!(await subscriptions(`${shareTopic}-partition-${partition}`)).includes(`share:${shareGroup}`), `partition ${partition}`);
  });
});

describe('share groups on the Pulsar engine, two gateway nodes', { skip }, () => {
  const nodes: TestGateway[] = [];
  let p: SharedPulsar;
  let ns: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  const topic = `share-nodes-${suffix}`;

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('e2e-share-nodes'));
    for (const kafkaNodeId of [1, 2]) {
      nodes.push(await startTestGateway({ ...pulsarGatewayConfig(p, ns, 'kafka'), kafkaNodeId, shareAutoOffsetReset: 'earliest', shareGroupRecordLockDurationMs: 5000, shareGroupHeartbeatIntervalMs: 500 }));
    }
    await createTopicsVia(nodes[0]!.bootstrap, [{ topic, numPartitions: 1 }]);
  });

  after(async () => {
    for (const n of nodes) await n.stop();
  });

  toolTest('share consumers on different nodes divide the records: each delivered and accepted once', unavailable('java'), async () => {
    const group = `share-n-${suffix}`;
    await runShareNodesScenario(nodes[0]!.bootstrap, nodes[1]!.bootstrap, topic, group, 60);
    // both nodes served ShareFetch for the partition: each holds a consumer of the group's Shared subscription
    const r = await p.rest('GET', `/admin/v2/persistent/${ns}/${topic}-partition-0/stats`);
    const stats = JSON.parse(r.text) as { subscriptions?: Record<string, { msgBacklog: number; type?: string; consumers?: Array<{ consumerName?: string }> }> };
    const sub = stats.subscriptions?.[`share:${group}`];
    assert.ok(sub, r.text);
    assert.equal(sub.type, 'Shared');
    assert.deepEqual((sub.consumers ?? []).map((c) => c.consumerName).sort(), ['kop-gateway-1', 'kop-gateway-2'], r.text);
    assert.equal(sub.msgBacklog, 0, r.text);
  });
});

describe('share groups on the Pulsar engine: a Pulsar consumer on the same Shared subscription', { skip }, () => {
  let gw: TestGateway | undefined;
  let p: SharedPulsar;
  let ns: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  const topic = `share-interop-${suffix}`;

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('e2e-share-interop'));
    // entryFormat=pulsar: Pulsar consumers can read what Kafka producers wrote
    gw = await startTestGateway({ ...pulsarGatewayConfig(p, ns, 'pulsar'), shareAutoOffsetReset: 'earliest', shareGroupHeartbeatIntervalMs: 500 });
    await createTopicsVia(gw.bootstrap, [{ topic, numPartitions: 1 }]);
  });

  after(async () => {
    await gw?.stop();
  });

  toolTest('a Kafka share consumer and a Pulsar Shared consumer of share:<group> divide the records, each once', unavailable('java') ?? pulsarJavaUnavailable(), async () => {
    const group = `share-i-${suffix}`;
    const total = 40;
    await ensurePulsarInterop(); // compiled before the race starts
    const [kafkaSide, pulsarSide] = await Promise.all([
      runShareQueueScenario(gw!.bootstrap, topic, group, 25, total),
      pulsarConsume({ url: p.serviceUrl, token: p.adminToken, topic: `persistent://${ns}/${topic}-partition-0`, subscription: `share:${group}`, subscriptionType: 'Shared', count: total, timeoutMs: 25_000, allowPartial: true }),
    ]);
    const viaKafka = kafkaSide.map((e) => e.value!);
    const viaPulsar = pulsarSide.map((m) => Buffer.from(m.value ?? '', 'base64').toString('utf8'));
    const context = `kafka: ${JSON.stringify(viaKafka)}\npulsar: ${JSON.stringify(viaPulsar)}`;
    assert.deepEqual(
      [...viaKafka, ...viaPulsar].sort(),
      Array.from({ length: total }, (_, i) => `q${i}`).sort(),
      `every record went to exactly one of the two consumers\n${context}`,
    );
    assert.ok(viaKafka.length > 0 && viaPulsar.length > 0, `both consumers took part\n${context}`);
  });
});

describe('share groups on the Pulsar engine: batches and the delivery-count limit (raw frames)', { skip }, () => {
  let gw: TestGateway | undefined;
  let p: SharedPulsar;
  let ns: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  const topic = `share-limit-${suffix}`;

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('e2e-share-limit'));
    gw = await startTestGateway({ ...pulsarGatewayConfig(p, ns, 'kafka'), shareAutoOffsetReset: 'earliest', shareGroupDeliveryCountLimit: 2 });
    await createTopicsVia(gw.bootstrap, [{ topic, numPartitions: 1 }]);
  });

  after(async () => {
    await gw?.stop();
  });

  test('a partly released batch stays on the node; a released entry comes back from the broker; the limit archives', async () => {
    const group = `share-l-${suffix}`;
    const kafka = new Kafka({ clientId: 'share-limit', brokers: [gw!.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    // one batch of three records: one Pulsar entry (entryFormat=kafka)
    await producer.send({ topic, messages: [{ value: 'x0' }, { value: 'x1' }, { value: 'x2' }] });
    const raw = await RawClient.open(gw!.port);
    // request bodies as plain objects, answers read as any
    const call = (apiKey: ApiKeyNumber, version: number, body: object): Promise<any> => raw.call(apiKey, version, body as never, 20_000);
    const backlog = async (): Promise<number | undefined> => {
      const r = await p.rest('GET', `/admin/v2/persistent/${ns}/${topic}-partition-0/stats`);
      return (JSON.parse(r.text) as { subscriptions?: Record<string, { msgBacklog: number }> }).subscriptions?.[`share:${group}`]?.msgBacklog;
    };
    try {
      const joined = await call(API_KEYS.ShareGroupHeartbeat, 1, { groupId: group, memberId: 'raw-m', memberEpoch: 0, rackId: null, subscribedTopicNames: [topic] });
      assert.equal(joined.errorCode, ErrorCode.NONE);
      const topicId = joined.assignment.topicPartitions[0].topicId as Buffer;
      let epoch = 0;
      const fetch = async (acks: Array<{ firstOffset: bigint; lastOffset: bigint; acknowledgeTypes: number[] }>, maxWaitMs: number) => {
        const r = await call(API_KEYS.ShareFetch, 1, { groupId: group, memberId: 'raw-m', shareSessionEpoch: epoch, maxWaitMs, minBytes: 1, maxBytes: 1 << 20, maxRecords: 10, batchSize: 10, topics: [{ topicId, partitions: [{ partitionIndex: 0, acknowledgementBatches: acks }] }], forgottenTopicsData: [] });
        epoch++;
        assert.equal(r.errorCode, ErrorCode.NONE);
        const part = r.responses[0]?.partitions[0];
        if (acks.length > 0) assert.equal(part?.acknowledgeErrorCode, ErrorCode.NONE, JSON.stringify(part, (_k, v) => (typeof v === 'bigint' ? String(v) : v)));
        return (part?.acquiredRecords ?? []).map((a: any) => [Number(a.firstOffset), Number(a.lastOffset), a.deliveryCount]);
      };
      assert.deepEqual(await fetch([], 10_000), [[0, 2, 1]]);
      // accept x0, release x1 and x2: the entry cannot go back without x0, so x1 and x2 are acquired again here
      assert.deepEqual(await fetch([{ firstOffset: 0n, lastOffset: 2n, acknowledgeTypes: [1, 2, 2] }], 5_000), [[1, 2, 2]]);
      // released at the limit (2 deliveries): archived, the entry is done and acknowledged in Pulsar
      assert.deepEqual(await fetch([{ firstOffset: 1n, lastOffset: 2n, acknowledgeTypes: [2] }], 500), []);
      for (const deadline = Date.now() + 10_000; (await backlog()) !== 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 200));
      assert.equal(await backlog(), 0, 'the batch is acknowledged on the subscription');

      await producer.send({ topic, messages: [{ value: 'y3' }] });
      assert.deepEqual(await fetch([], 10_000), [[3, 3, 1]]);
      // released: back to the broker, which dispatches it again with redelivery count 1 (delivery count 2)
      assert.deepEqual(await fetch([{ firstOffset: 3n, lastOffset: 3n, acknowledgeTypes: [2] }], 10_000), [[3, 3, 2]]);
      assert.deepEqual(await fetch([{ firstOffset: 3n, lastOffset: 3n, acknowledgeTypes: [2] }], 1_000), [], 'archived at the limit, not delivered a third time');
      for (const deadline = Date.now() + 10_000; (await backlog()) !== 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 200));
      assert.equal(await backlog(), 0);
    } finally {
      raw.close();
      await producer.disconnect();
    }
  });
});
