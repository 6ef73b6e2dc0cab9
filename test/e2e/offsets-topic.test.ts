/**
 * The readable __consumer_offsets (src/coordinator/offsets-log.ts, docs/consumer-groups.md), read
 * the way lag monitors and Kafka's own tools read it, on gateways with SASL and two tenants:
 *
 * - Kafka's kafka-console-consumer (ConsoleConsumer, Kafka 4.3) with `--formatter
 *   org.apache.kafka.tools.consumer.OffsetsMessageFormatter --consumer-property
 *   exclude.internal.topics=false --from-beginning` decodes, with Kafka's own classes, the commits
 *   of a Java consumer group (the last record of each partition is its committed offset), and the
 *   tombstones of a group deleted with kafka-consumer-groups --delete; GroupMetadataMessageFormatter
 *   shows the group's metadata (protocol type, generation, the member's client id);
 * - the records sit in Kafka's partition of the group (abs(groupId.hashCode) % 50), read by a
 *   Java consumer assigned to every partition;
 * - a second tenant reading its own __consumer_offsets sees its own group and none of the first's;
 *   the first tenant does not see the second's either;
 * - the same on the Pulsar engine (shared broker), each tenant in its own Pulsar tenant;
 * - Kafka's own GroupCoordinatorRecordSerde (the group coordinator's loader) decodes every record
 *   type the gateway writes, including ConsumerGroupMetadata, which no formatter prints.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient, runJavaMain } from '../helpers/clients/java.js';
import type { ClientSecurity } from '../helpers/clients/types.js';
import { consumerGroupMetadataKey, consumerGroupMetadataValue, groupMetadataKey, groupMetadataValue, kafkaOffsetsPartition, offsetCommitKey, offsetCommitValue } from '../../src/coordinator/offsets-records.js';
import { runCommand } from '../helpers/clients/proc.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import { pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';

const CONSOLE_CONSUMER = 'org.apache.kafka.tools.consumer.ConsoleConsumer';
const CONSUMER_GROUP_COMMAND = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand';
const OFFSETS_FORMATTER = 'org.apache.kafka.tools.consumer.OffsetsMessageFormatter';
const GROUP_FORMATTER = 'org.apache.kafka.tools.consumer.GroupMetadataMessageFormatter';

const dir = mkdtempSync(join(tmpdir(), 'kop-offsets-topic-'));
let files = 0;

/** One principal of one tenant: SASL PLAIN tenant/namespace + token. */
interface Login {
  username: string;
  jwt: string;
}

function security(l: Login): ClientSecurity {
  return { protocol: 'SASL_PLAINTEXT', mechanism: 'PLAIN', username: l.username, password: `token:${l.jwt}` };
}

function commandConfig(l: Login): string {
  const path = join(dir, `client-${files++}.properties`);
  writeFileSync(
    path,
    [
      'security.protocol=SASL_PLAINTEXT',
      'sasl.mechanism=PLAIN',
      `sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="${l.username}" password="token:${l.jwt}";`,
    ].join('\n'),
  );
  return path;
}

interface Formatted {
  key: { type: number; data: Record<string, unknown> };
  value: { version: number; data: Record<string, unknown> } | null;
}

/** kafka-console-consumer over __consumer_offsets with one of Kafka's coordinator record formatters. */
async function consoleConsumer(bootstrap: string, l: Login, formatter: string): Promise<Formatted[]> {
  const r = await runJavaMain(
    CONSOLE_CONSUMER,
    ['--bootstrap-server', bootstrap, '--topic', '__consumer_offsets', '--formatter', formatter, '--command-config', commandConfig(l), '--consumer-property', 'exclude.internal.topics=false', '--from-beginning', '--timeout-ms', '8000'],
    { withDriver: false, timeoutMs: 120_000 },
  );
  // the formatters print one JSON object per record (with or without a line separator)
  const objects = r.stdout.split(/(?=\{"key":)/).map((s) => s.trim()).filter((s) => s.startsWith('{'));
  assert.ok(r.code === 0 || objects.length > 0, `kafka-console-consumer failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  assert.doesNotMatch(r.stderr, /Could not read record|SerializationException|TopicAuthorizationException/, r.stderr);
  return objects.map((s) => JSON.parse(s) as Formatted);
}

/** The committed offsets of a group as the OffsetsMessageFormatter shows them: the last record per partition (null: tombstone). */
function lastCommits(records: Formatted[], group: string): Map<string, number | null> {
  const out = new Map<string, number | null>();
  for (const r of records) {
    if (r.key.type !== 1 || r.key.data.group !== group) continue;
    out.set(`${r.key.data.topic}/${r.key.data.partition}`, r.value === null ? null : Number(r.value.data.offset));
  }
  return out;
}

/** Produce, then consume everything in a group with commits (the Java client); the offsets it committed. */
async function javaGroupCommits(bootstrap: string, l: Login, topic: string, group: string, count: number, config: Record<string, string> = {}): Promise<Map<string, number>> {
  const java = new JavaKafkaClient({ bootstrap, security: security(l), config });
  await java.produce({ topic, records: Array.from({ length: count }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
  const got = await java.consume({ topic, group, commit: true, maxRecords: count, timeoutMs: 60_000 });
  assert.equal(got.length, count);
  const committed = new Map<string, number>();
  for (const r of got) committed.set(`${topic}/${r.partition}`, Math.max(committed.get(`${topic}/${r.partition}`) ?? 0, r.offset + 1));
  return committed;
}

/** Two tenants' groups, each reading its own tenant's __consumer_offsets. */
async function tenantsScenario(t: { diagnostic(m: string): void }, bootstrap: string, a: Login, b: Login, admins: [Login, Login] | null): Promise<void> {
  const suffix = Math.random().toString(36).slice(2, 8);
  const aTopic = `lag-a-${suffix}`;
  const bTopic = `lag-b-${suffix}`;
  const aGroup = `monitored-${suffix}`;
  const bGroup = `other-tenant-${suffix}`;
  await new JavaKafkaClient({ bootstrap, security: security(admins?.[0] ?? a) }).createTopics([{ name: aTopic, partitions: 3 }]);
  await new JavaKafkaClient({ bootstrap, security: security(admins?.[1] ?? b) }).createTopics([{ name: bTopic, partitions: 2 }]);
  const aCommitted = await javaGroupCommits(bootstrap, a, aTopic, aGroup, 30);
  const bCommitted = await javaGroupCommits(bootstrap, b, bTopic, bGroup, 12);

  const aSees = await consoleConsumer(bootstrap, a, OFFSETS_FORMATTER);
  t.diagnostic(`tenant A sees ${aSees.length} offset records`);
  assert.deepEqual(Object.fromEntries(lastCommits(aSees, aGroup)), Object.fromEntries(aCommitted), "tenant A sees its group's commits, Kafka-decoded");
  const aRecord = aSees.find((r) => r.key.data.group === aGroup)!;
  assert.deepEqual(Object.keys(aRecord.key.data).sort(), ['group', 'partition', 'topic']);
  assert.equal(aRecord.value?.version, 3);
  assert.equal(typeof aRecord.value?.data.commitTimestamp, 'number');
  assert.ok(!aSees.some((r) => r.key.data.group === bGroup || String(r.key.data.topic).includes(bTopic)), "tenant A sees nothing of tenant B's group");

  const bSees = await consoleConsumer(bootstrap, b, OFFSETS_FORMATTER);
  assert.deepEqual(Object.fromEntries(lastCommits(bSees, bGroup)), Object.fromEntries(bCommitted), 'tenant B sees its own group');
  assert.ok(!bSees.some((r) => r.key.data.group === aGroup || String(r.key.data.topic).includes(aTopic)), "tenant B sees nothing of tenant A's group");

  // GroupMetadataMessageFormatter: the classic group's metadata, as Kafka records it
  const groups = await consoleConsumer(bootstrap, a, GROUP_FORMATTER);
  const meta = groups.filter((r) => r.key.type === 2 && r.key.data.group === aGroup && r.value !== null);
  assert.ok(meta.length > 0, `group metadata records of ${aGroup}: ${JSON.stringify(groups.slice(0, 3))}`);
  assert.equal(meta[0]!.value!.data.protocolType, 'consumer');
  assert.ok(Number(meta[0]!.value!.data.generation) >= 1);
  assert.ok(!groups.some((r) => r.key.data.group === bGroup));

  // Kafka's partitioning: every record of a group in abs(groupId.hashCode) % partitions
  const raw = await new JavaKafkaClient({ bootstrap, security: security(a) }).consume({ topic: '__consumer_offsets', offset: 'beginning', untilEnd: true, timeoutMs: 60_000 });
  const partitions = new Set<number>();
  for (const r of raw) {
    const key = r.key!;
    const group = key.toString('utf8', 4, 4 + key.readInt16BE(2));
    if (group === aGroup) partitions.add(r.partition);
  }
  const described = await new JavaKafkaClient({ bootstrap, security: security(a) }).describeTopics(['__consumer_offsets']);
  const count = described[0]!.partitions.length;
  assert.deepEqual([...partitions], [kafkaOffsetsPartition(aGroup, count)], `the group's records are in Kafka's partition of it (of ${count})`);
}

test("Kafka's GroupCoordinatorRecordSerde decodes every record type the gateway writes", { skip: unavailable('java'), timeout: 120_000 }, async () => {
  const member = { memberId: 'm-1', groupInstanceId: 'i-1', clientId: 'c', clientHost: '/h', rebalanceTimeoutMs: 300000, sessionTimeoutMs: 10000, metadata: Buffer.from([1, 2]), assignment: Buffer.from([3]), namespace: { tenant: 't', namespace: 'n' } };
  const records: Array<[Buffer, Buffer | null]> = [
    [offsetCommitKey('grp', 'orders', 4), offsetCommitValue({ offset: 42n, leaderEpoch: 5, metadata: 'meta', commitTimestamp: 1700000000000, expireTimestamp: null })],
    [offsetCommitKey('grp', 'orders', 4), offsetCommitValue({ offset: 7n, leaderEpoch: -1, metadata: '', commitTimestamp: 1700000000000, expireTimestamp: 1700000000001 })],
    [groupMetadataKey('grp'), groupMetadataValue({ state: 'Stable', stateTimestamp: 1700000000000, protocolType: 'consumer', protocolName: 'range', generationId: 7, leaderId: 'm-1', members: [member] })],
    [consumerGroupMetadataKey('grp'), consumerGroupMetadataValue(12)],
    [offsetCommitKey('grp', 'orders', 4), null],
  ];
  const source = join(dir, 'DecodeRecords.java');
  writeFileSync(
    source,
    `import java.nio.ByteBuffer;
import java.util.HexFormat;
public class DecodeRecords {
  public static void main(String[] args) {
    var serde = new org.apache.kafka.coordinator.group.GroupCoordinatorRecordSerde();
    for (int i = 0; i + 1 < args.length; i += 2) {
      var value = args[i + 1].equals("null") ? null : ByteBuffer.wrap(HexFormat.of().parseHex(args[i + 1]));
      var rec = serde.deserialize(ByteBuffer.wrap(HexFormat.of().parseHex(args[i])), value);
      System.out.println(rec.key() + " | " + (rec.value() == null ? "null" : "v" + rec.value().version() + " " + rec.value().message()));
    }
  }
}
`,
  );
  const env = harnessEnv();
  const r = await runCommand(env.java, ['-cp', env.javaClasspath, source, ...records.flatMap(([k, v]) => [k.toString('hex'), v === null ? 'null' : v.toString('hex')])], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(r.stdout.trim().split('\n'), [
    "OffsetCommitKey(group='grp', topic='orders', partition=4) | v3 OffsetCommitValue(offset=42, leaderEpoch=5, metadata='meta', commitTimestamp=1700000000000, expireTimestamp=-1, topicId=AAAAAAAAAAAAAAAAAAAAAA)",
    "OffsetCommitKey(group='grp', topic='orders', partition=4) | v1 OffsetCommitValue(offset=7, leaderEpoch=-1, metadata='', commitTimestamp=1700000000000, expireTimestamp=1700000000001, topicId=AAAAAAAAAAAAAAAAAAAAAA)",
    "GroupMetadataKey(group='grp') | v3 GroupMetadataValue(protocolType='consumer', generation=7, protocol='range', leader='m-1', currentStateTimestamp=1700000000000, members=[MemberMetadata(memberId='m-1', groupInstanceId='i-1', clientId='c', clientHost='/h', rebalanceTimeout=300000, sessionTimeout=10000, subscription=[1, 2], assignment=[3])])",
    "ConsumerGroupMetadataKey(groupId='grp') | v0 ConsumerGroupMetadataValue(epoch=12, metadataHash=0)",
    "OffsetCommitKey(group='grp', topic='orders', partition=4) | null",
  ]);
});

// ---------------------------------------------------------------- embedded engine

describe('embedded engine', { skip: unavailable('java') }, () => {
  const secret = randomBytes(32);
  const policies = join(dir, 'policies');
  let gw: TestGateway;
  const jwt = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(secret);

  before(async () => {
    mkdirSync(policies, { recursive: true });
    writeFileSync(join(policies, 'acme.json'), JSON.stringify({ tenant: 'acme', adminRoles: ['acme-admin'], namespaces: { orders: { permissions: { alice: ['produce', 'consume'] } }, locked: { permissions: { alice: ['produce', 'consume'] }, subscriptionAuthMode: 'Prefix' } } }));
    writeFileSync(join(policies, 'globex.json'), JSON.stringify({ tenant: 'globex', adminRoles: ['globex-admin'], namespaces: { orders: { permissions: { bob: ['produce', 'consume'] } } } }));
    gw = await startTestGateway(
      {
        kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
        authenticationEnabled: true,
        authorizationEnabled: true,
        tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
        policiesDirectory: policies,
        kafkaTenant: 'acme',
        kafkaNamespace: 'orders',
        groupInitialRebalanceDelayMs: 0,
      },
      join(dir, 'data'),
    );
  });

  after(async () => {
    await gw?.stop();
  });

  test('kafka-console-consumer with OffsetsMessageFormatter / GroupMetadataMessageFormatter shows a Java group; each tenant sees only its own', { timeout: 600_000 }, async (t) => {
    const alice = { username: 'acme/orders', jwt: await jwt('alice') };
    const bob = { username: 'globex/orders', jwt: await jwt('bob') };
    const admins: [Login, Login] = [
      { username: 'acme/orders', jwt: await jwt('acme-admin') },
      { username: 'globex/orders', jwt: await jwt('globex-admin') },
    ];
    await tenantsScenario(t, gw.bootstrap, alice, bob, admins);
    const info = await gw.gateway.context.storage.describeTopic('persistent://acme/orders/__consumer_offsets');
    assert.equal(info?.internal, true);
    assert.equal(info?.partitions, 1, 'offsetsLogNumPartitions, one by default (a log per namespace)');
    assert.equal(info?.configs['cleanup.policy'], 'compact');
  });

  test('a deleted group leaves tombstones (value null), as Kafka writes them', { timeout: 300_000 }, async () => {
    const alice = { username: 'acme/orders', jwt: await jwt('alice') };
    const admin = { username: 'acme/orders', jwt: await jwt('acme-admin') };
    const suffix = Math.random().toString(36).slice(2, 8);
    const topic = `lag-del-${suffix}`;
    const group = `deleted-${suffix}`;
    await new JavaKafkaClient({ bootstrap: gw.bootstrap, security: security(admin) }).createTopics([{ name: topic, partitions: 2 }]);
    const committed = await javaGroupCommits(gw.bootstrap, alice, topic, group, 10);
    const del = await runJavaMain(CONSUMER_GROUP_COMMAND, ['--bootstrap-server', gw.bootstrap, '--command-config', commandConfig(admin), '--delete', '--group', group], { withDriver: false, timeoutMs: 90_000 });
    assert.equal(del.code, 0, `kafka-consumer-groups --delete: ${del.stdout}\n${del.stderr}`);
    const seen = await consoleConsumer(gw.bootstrap, alice, OFFSETS_FORMATTER);
    const last = lastCommits(seen, group);
    assert.deepEqual([...last.keys()].sort(), [...committed.keys()].sort());
    assert.ok([...last.values()].every((v) => v === null), `every committed offset ends in a tombstone: ${JSON.stringify([...last])}`);
    // the commits came first
    assert.ok(seen.some((r) => r.key.data.group === group && r.value !== null));
  });

  test('a KIP-848 group (group.protocol=consumer): its commits, and ConsumerGroupMetadata records with its epoch', { timeout: 300_000 }, async () => {
    const alice = { username: 'acme/orders', jwt: await jwt('alice') };
    const admin = { username: 'acme/orders', jwt: await jwt('acme-admin') };
    const suffix = Math.random().toString(36).slice(2, 8);
    const topic = `lag-848-${suffix}`;
    const group = `kip848-${suffix}`;
    await new JavaKafkaClient({ bootstrap: gw.bootstrap, security: security(admin) }).createTopics([{ name: topic, partitions: 2 }]);
    const committed = await javaGroupCommits(gw.bootstrap, alice, topic, group, 10, { 'group.protocol': 'consumer' });
    const seen = await consoleConsumer(gw.bootstrap, alice, OFFSETS_FORMATTER);
    assert.deepEqual(Object.fromEntries(lastCommits(seen, group)), Object.fromEntries(committed));
    const raw = await new JavaKafkaClient({ bootstrap: gw.bootstrap, security: security(alice) }).consume({ topic: '__consumer_offsets', offset: 'beginning', untilEnd: true, timeoutMs: 60_000 });
    const epochs = raw
      .filter((r) => r.key!.readInt16BE(0) === 3 && r.key!.toString('utf8', 4) === group)
      .map((r) => (r.value === null ? null : r.value.readInt32BE(2)));
    assert.ok(epochs.length > 0 && epochs.every((e) => e !== null && e >= 1), `ConsumerGroupMetadata records of ${group}: ${JSON.stringify(epochs)}`);
    assert.deepEqual(epochs, [...epochs].sort((x, y) => x! - y!), 'epochs in the order they moved');
  });

  test('a namespace with subscription rules: only tenant admins read its __consumer_offsets', { timeout: 120_000 }, async () => {
    const alice = { username: 'acme/locked', jwt: await jwt('alice') };
    const admin = { username: 'acme/locked', jwt: await jwt('acme-admin') };
    const suffix = Math.random().toString(36).slice(2, 8);
    const topic = `locked-${suffix}`;
    const group = `alice-${suffix}`; // Prefix mode: alice's groups start with her role
    await new JavaKafkaClient({ bootstrap: gw.bootstrap, security: security(admin) }).createTopics([{ name: topic, partitions: 1 }]);
    await javaGroupCommits(gw.bootstrap, alice, topic, group, 3);
    // alice may use her group, but not read every group of acme/locked
    const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, security: security(alice) });
    await assert.rejects(java.consume({ topic: '__consumer_offsets', offset: 'beginning', untilEnd: true, timeoutMs: 15_000 }), /TopicAuthorization|TOPIC_AUTHORIZATION_FAILED|Not authorized/i);
    // the tenant admin may
    const read = await new JavaKafkaClient({ bootstrap: gw.bootstrap, security: security(admin) }).consume({ topic: '__consumer_offsets', offset: 'beginning', untilEnd: true, timeoutMs: 30_000 });
    assert.ok(read.some((r) => r.key!.includes(Buffer.from(group))), "the admin reads alice's group's records");
  });
});

// ---------------------------------------------------------------- Pulsar engine

describe('Pulsar engine (shared broker)', { skip: unavailable('java') ?? pulsarSkipReason() }, () => {
  let p: SharedPulsar;
  let gw: TestGateway;
  const tenants: string[] = [];

  before(async () => {
    p = await sharedPulsar();
    for (const prefix of ['kop-offs-a', 'kop-offs-b']) {
      const tenant = uniqueName(prefix);
      const t = await p.rest('PUT', `/admin/v2/tenants/${tenant}`, { adminRoles: [], allowedClusters: ['standalone'] });
      assert.ok(t.status === 204 || t.status === 409, `tenant ${tenant}: HTTP ${t.status} ${t.text}`);
      const n = await p.rest('PUT', `/admin/v2/namespaces/${tenant}/apps`);
      assert.ok(n.status === 204 || n.status === 409, `namespace: HTTP ${n.status} ${n.text}`);
      tenants.push(tenant);
    }
    gw = await startTestGateway(
      {
        ...pulsarGatewayConfig(p, `${tenants[0]!}/apps`, 'kafka'),
        kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
        authenticationEnabled: true,
        tokenSecretKey: `file://${p.secretKeyFile}`,
        superUserRoles: 'admin',
        kafkaMetadataTenant: tenants[0]!,
        groupInitialRebalanceDelayMs: 0,
        offsetsLogNumPartitions: 5,
      },
      join(dir, 'pulsar-data'),
    );
  });

  after(async () => {
    await gw?.stop().catch(() => undefined);
    for (const tenant of p ? tenants : []) {
      const listed = await p.rest('GET', `/admin/v2/namespaces/${tenant}`);
      for (const namespace of listed.status === 200 ? (JSON.parse(listed.text) as string[]) : []) {
        const parts = await p.rest('GET', `/admin/v2/persistent/${namespace}/partitioned`);
        for (const t of parts.status === 200 ? (JSON.parse(parts.text) as string[]) : []) await p.rest('DELETE', `/admin/v2/persistent/${t.replace('persistent://', '')}/partitions?force=true`);
        const topics = await p.rest('GET', `/admin/v2/namespaces/${namespace}/topics`);
        for (const t of topics.status === 200 ? (JSON.parse(topics.text) as string[]) : []) await p.rest('DELETE', `/admin/v2/persistent/${t.replace('persistent://', '')}?force=true`);
        await p.rest('DELETE', `/admin/v2/namespaces/${namespace}`);
      }
      await p.rest('DELETE', `/admin/v2/tenants/${tenant}`);
    }
  });

  test('kafka-console-consumer with Kafka formatters shows a Java group; each tenant sees only its own', { timeout: 600_000 }, async (t) => {
    // authentication without authorization: the SASL username picks the tenant, the log is the session namespace's
    const a = { username: `${tenants[0]}/apps`, jwt: await p.token('alice') };
    const b = { username: `${tenants[1]}/apps`, jwt: await p.token('bob') };
    await tenantsScenario(t, gw.bootstrap, a, b, null);
    const info = await gw.gateway.context.storage.describeTopic(`persistent://${tenants[0]}/apps/__consumer_offsets`);
    assert.equal(info?.partitions, 5);
    assert.equal(info?.internal, true);
  });
});

after(() => rmSync(dir, { recursive: true, force: true }));
