/**
 * Share groups (KIP-932) on storageEngine=pulsar against the run's shared Pulsar standalone
 * broker: the same Java KafkaShareConsumer scenarios as share-groups.test.ts (accept, release,
 * reject, lock expiry, two members sharing a topic), served by the gateway's own share-group
 * coordinator over the Pulsar engine's reads and its state topic (docs/share-groups.md). The
 * share-partition's start offset shows in Pulsar as a durable subscription named after the group
 * (its backlog: what the share group has not finished).
 */
import assert from 'node:assert/strict';
import { after, before, describe } from 'node:test';
import kafkajs from 'kafkajs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';
import { runShareScenario } from './drivers/share-scenario.js';

const { Kafka, logLevel } = kafkajs;
const skip = pulsarSkipReason();

describe('share groups on the Pulsar engine', { skip }, () => {
  let gw: TestGateway | undefined;
  let p: SharedPulsar;
  let ns: string;
  const suffix = Math.random().toString(36).slice(2, 8);
  const topic = `share-ack-${suffix}`;
  const shareTopic = `share-spread-${suffix}`;

  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('e2e-share'));
    gw = await startTestGateway({ ...pulsarGatewayConfig(p, ns, 'kafka'), shareAutoOffsetReset: 'earliest', shareGroupRecordLockDurationMs: 2000, shareGroupHeartbeatIntervalMs: 500 });
    const kafka = new Kafka({ clientId: 'share-admin', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: shareTopic, numPartitions: 2 }] });
    await admin.disconnect();
  });

  after(async () => {
    await gw?.stop();
  });

  toolTest('accept, release, reject, lock expiry and two members sharing a topic', unavailable('java'), async () => {
    const group = `share-g-${suffix}`;
    await runShareScenario(gw!.bootstrap, topic, group, shareTopic, `share-h-${suffix}`);
    // every record of `topic` is done: the group's Pulsar subscription has no backlog (mirrored within 5 s)
    let seen: unknown = null;
    for (const deadline = Date.now() + 20_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 250))) {
      const r = await p.rest('GET', `/admin/v2/persistent/${ns}/${topic}-partition-0/stats`);
      const stats = JSON.parse(r.text) as { subscriptions?: Record<string, { msgBacklog: number }> };
      seen = stats.subscriptions?.[group] ?? null;
      if (stats.subscriptions?.[group]?.msgBacklog === 0) return;
    }
    assert.fail(`the share group's subscription on ${topic}: ${JSON.stringify(seen)}`);
  });
});
