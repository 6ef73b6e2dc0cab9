/**
 * Topic admin APIs against a started gateway (embedded engine) with real
 * clients: kafkajs' admin client, the Apache Kafka Java AdminClient (through
 * the test driver), and Kafka's own CLI tools (kafka-topics, kafka-configs,
 * kafka-delete-records: TopicCommand, ConfigCommand, DeleteRecordsCommand,
 * which are AdminClient programs). Asserts what the clients see: results, the
 * error types and messages for existing topics, bad partition counts, bad
 * config keys, unknown topics and replication factor 3.
 * kcat has no admin API.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import kafkajs from 'kafkajs';
import type { Admin } from 'kafkajs';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient, runJavaMain } from '../helpers/clients/java.js';
import { kafkajsClient } from '../helpers/clients/kafkajs.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { TOPIC_CONFIG_KEYS } from '../../src/storage/topic-config.js';

const { ConfigResourceTypes } = kafkajs;

let gw: TestGateway;
let scratch: string;
before(async () => {
  gw = await startTestGateway();
  scratch = mkdtempSync(join(tmpdir(), 'kop-admin-e2e-'));
});
after(async () => {
  await gw?.stop();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

const NODE = 0; // kafkaNodeId default
const RF3_MESSAGE =
  'Unable to replicate the partition 3 time(s): The target replication factor of 3 cannot be reached because only 1 broker(s) are registered. ' +
  'This gateway is a single Kafka node: every partition has exactly one replica and durability comes from its storage engine; use replication factor 1 or -1.';

async function withAdmin<T>(fn: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = kafkajsClient({ bootstrap: gw.bootstrap, clientId: 'admin-e2e-kafkajs' }).admin();
  await admin.connect();
  try {
    return await fn(admin);
  } finally {
    await admin.disconnect();
  }
}

interface KafkajsErrorShape {
  name: string;
  type?: string;
  message: string;
  errors?: KafkajsErrorShape[];
}

async function kafkajsError(p: Promise<unknown>): Promise<KafkajsErrorShape> {
  try {
    await p;
  } catch (e) {
    return e as KafkajsErrorShape;
  }
  assert.fail('expected the admin call to fail');
}

async function partitionCount(admin: Admin, topic: string): Promise<number> {
  const md = await admin.fetchTopicMetadata({ topics: [topic] });
  return md.topics[0]!.partitions.length;
}

async function topicConfigs(admin: Admin, topic: string, names?: string[]) {
  const res = await admin.describeConfigs({
    includeSynonyms: true,
    resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, ...(names ? { configNames: names } : {}) }],
  });
  return new Map(res.resources[0]!.configEntries.map((e) => [e.configName, e]));
}

// ------------------------------------------------------------------ kafkajs

toolTest('kafkajs: createTopics (configs, validateOnly, existing, replication factor 3, bad config) and fetchTopicMetadata', unavailable('kafkajs'), async () => {
  await withAdmin(async (admin) => {
    assert.equal(
      await admin.createTopics({ topics: [{ topic: 'kjs-create', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '3600000' }] }] }),
      true,
    );
    assert.equal(await partitionCount(admin, 'kjs-create'), 3);
    const md = await admin.fetchTopicMetadata({ topics: ['kjs-create'] });
    assert.deepEqual(
      md.topics[0]!.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr]).sort(),
      [0, 1, 2].map((p) => [p, NODE, [NODE], [NODE]]),
    );
    const configs = await topicConfigs(admin, 'kjs-create', ['retention.ms']);
    assert.equal(configs.get('retention.ms')!.configValue, '3600000');

    // validateOnly: accepted, nothing created (kafkajs would wait for leaders of a topic that does not exist)
    assert.equal(await admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'kjs-validate-only', numPartitions: 2 }] }), true);
    assert.ok(!(await admin.listTopics()).includes('kjs-validate-only'));
    const voBad = await kafkajsError(admin.createTopics({ validateOnly: true, waitForLeaders: false, topics: [{ topic: 'kjs-validate-only', replicationFactor: 2 }] }));
    assert.deepEqual(voBad.errors?.map((e) => e.type), ['INVALID_REPLICATION_FACTOR']);

    // an existing topic: kafkajs reports "not created" (TOPIC_ALREADY_EXISTS)
    assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs-create', numPartitions: 3 }] }), false);

    const rf3 = await kafkajsError(admin.createTopics({ topics: [{ topic: 'kjs-rf3', replicationFactor: 3 }] }));
    assert.equal(rf3.name, 'KafkaJSAggregateError');
    assert.deepEqual(
      rf3.errors?.map((e) => [e.name, e.type, e.message]),
      [['KafkaJSCreateTopicError', 'INVALID_REPLICATION_FACTOR', 'Replication-factor is invalid']],
    );
    const badKey = await kafkajsError(admin.createTopics({ topics: [{ topic: 'kjs-bad-config', configEntries: [{ name: 'retention.mss', value: '1' }] }] }));
    assert.deepEqual(
      badKey.errors?.map((e) => [e.type, e.message]),
      [['INVALID_CONFIG', 'Configuration is invalid']],
    );
    const badValue = await kafkajsError(admin.createTopics({ topics: [{ topic: 'kjs-bad-config', configEntries: [{ name: 'retention.ms', value: 'forever' }] }] }));
    assert.deepEqual(badValue.errors?.map((e) => e.type), ['INVALID_CONFIG']);
    const badName = await kafkajsError(admin.createTopics({ topics: [{ topic: 'kjs bad name' }] }));
    assert.deepEqual(badName.errors?.map((e) => e.type), ['INVALID_TOPIC_EXCEPTION']);
    const listed = await admin.listTopics();
    for (const t of ['kjs-rf3', 'kjs-bad-config', 'kjs bad name']) assert.ok(!listed.includes(t), `${t} not created`);
  });
});

toolTest('kafkajs: createPartitions grows (validateOnly changes nothing); shrinking and unknown topics fail', unavailable('kafkajs'), async () => {
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: [{ topic: 'kjs-grow', numPartitions: 2 }] });
    await admin.createPartitions({ validateOnly: true, topicPartitions: [{ topic: 'kjs-grow', count: 8 }] });
    assert.equal(await partitionCount(admin, 'kjs-grow'), 2);
    await admin.createPartitions({ topicPartitions: [{ topic: 'kjs-grow', count: 5 }] });
    assert.equal(await partitionCount(admin, 'kjs-grow'), 5);
    const shrink = await kafkajsError(admin.createPartitions({ topicPartitions: [{ topic: 'kjs-grow', count: 3 }] }));
    assert.deepEqual([shrink.name, shrink.type, shrink.message], ['KafkaJSProtocolError', 'INVALID_PARTITIONS', 'Number of partitions is invalid']);
    const same = await kafkajsError(admin.createPartitions({ topicPartitions: [{ topic: 'kjs-grow', count: 5 }] }));
    assert.equal(same.type, 'INVALID_PARTITIONS');
    const unknown = await kafkajsError(admin.createPartitions({ topicPartitions: [{ topic: 'kjs-no-such-topic', count: 3 }] }));
    assert.deepEqual([unknown.type, unknown.message], ['UNKNOWN_TOPIC_OR_PARTITION', 'This server does not host this topic-partition']);
    assert.equal(await partitionCount(admin, 'kjs-grow'), 5);
  });
});

toolTest('kafkajs: describeConfigs (topic with synonyms, broker, unknown topic) and alterConfigs (replace, validateOnly, bad key)', unavailable('kafkajs'), async () => {
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: [{ topic: 'kjs-configs', configEntries: [{ name: 'retention.ms', value: '60000' }, { name: 'segment.ms', value: '3600000' }] }] });
    let configs = await topicConfigs(admin, 'kjs-configs');
    assert.deepEqual([...configs.keys()].sort(), TOPIC_CONFIG_KEYS);
    const retention = configs.get('retention.ms')!;
    assert.deepEqual(
      [retention.configValue, retention.configSource, retention.isDefault, retention.readOnly, retention.isSensitive],
      ['60000', 1, false, false, false],
    );
    assert.deepEqual(
      retention.configSynonyms.map((s) => [s.configName, s.configValue, s.configSource]),
      [
        ['retention.ms', '60000', 1],
        ['log.retention.ms', '604800000', 5],
      ],
    );
    const maxBytes = configs.get('max.message.bytes')!;
    assert.deepEqual([maxBytes.configValue, maxBytes.configSource, maxBytes.isDefault], ['1048588', 5, true]);

    const broker = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.BROKER, name: String(NODE), configNames: ['default.replication.factor', 'num.partitions', 'auto.create.topics.enable', 'message.max.bytes'] }],
    });
    assert.deepEqual(
      broker.resources[0]!.configEntries.map((e) => [e.configName, e.configValue, e.readOnly]),
      [
        ['auto.create.topics.enable', 'true', true],
        ['default.replication.factor', '1', true],
        ['message.max.bytes', '1048588', true],
        ['num.partitions', '1', true],
      ],
    );
    const unknown = await kafkajsError(admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-no-such-topic' }] }));
    assert.deepEqual([unknown.type, unknown.message], ['UNKNOWN_TOPIC_OR_PARTITION', 'This server does not host this topic-partition']);

    // AlterConfigs replaces the topic's explicit configs: segment.ms goes back to its default
    await admin.alterConfigs({ validateOnly: true, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-configs', configEntries: [{ name: 'retention.ms', value: '1' }] }] });
    assert.equal((await topicConfigs(admin, 'kjs-configs', ['retention.ms'])).get('retention.ms')!.configValue, '60000', 'validateOnly changed nothing');
    const res = await admin.alterConfigs({
      validateOnly: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-configs', configEntries: [{ name: 'retention.ms', value: '120000' }, { name: 'max.message.bytes', value: '2000000' }] }],
    });
    assert.deepEqual(res.resources, [{ errorCode: 0, errorMessage: null, resourceType: ConfigResourceTypes.TOPIC, resourceName: 'kjs-configs' }]);
    configs = await topicConfigs(admin, 'kjs-configs');
    assert.deepEqual(
      ['retention.ms', 'max.message.bytes', 'segment.ms'].map((k) => [k, configs.get(k)!.configValue, configs.get(k)!.configSource]),
      [
        ['retention.ms', '120000', 1],
        ['max.message.bytes', '2000000', 1],
        ['segment.ms', '604800000', 5],
      ],
    );
    const badKey = await kafkajsError(
      admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-configs', configEntries: [{ name: 'retention.mss', value: '1' }] }] }),
    );
    assert.deepEqual([badKey.name, badKey.type, badKey.message], ['KafkaJSProtocolError', 'INVALID_CONFIG', 'Configuration is invalid']);
    const unknownTopic = await kafkajsError(
      admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: 'kjs-no-such-topic', configEntries: [{ name: 'retention.ms', value: '1' }] }] }),
    );
    assert.equal(unknownTopic.type, 'UNKNOWN_TOPIC_OR_PARTITION');
    const brokerAlter = await kafkajsError(
      admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.BROKER, name: String(NODE), configEntries: [{ name: 'num.partitions', value: '3' }] }] }),
    );
    assert.equal(brokerAlter.type, 'INVALID_REQUEST');
  });
});

toolTest('kafkajs: deleteTopicRecords moves the low watermark (fetchTopicOffsets); beyond the high watermark fails; -1 = all', unavailable('kafkajs'), async () => {
  const kafka = kafkajsClient({ bootstrap: gw.bootstrap, clientId: 'admin-e2e-kafkajs' });
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: [{ topic: 'kjs-records', numPartitions: 2 }] });
    const producer = kafka.producer();
    await producer.connect();
    try {
      await producer.send({ topic: 'kjs-records', messages: Array.from({ length: 10 }, (_, i) => ({ value: `v${i}`, partition: 0 })) });
      await producer.send({ topic: 'kjs-records', messages: Array.from({ length: 4 }, (_, i) => ({ value: `w${i}`, partition: 1 })) });
    } finally {
      await producer.disconnect();
    }
    const offsets = async () => (await admin.fetchTopicOffsets('kjs-records')).sort((a, b) => a.partition - b.partition).map((o) => [o.partition, o.low, o.high]);
    assert.deepEqual(await offsets(), [
      [0, '0', '10'],
      [1, '0', '4'],
    ]);
    await admin.deleteTopicRecords({ topic: 'kjs-records', partitions: [{ partition: 0, offset: '6' }] });
    assert.deepEqual(await offsets(), [
      [0, '6', '10'],
      [1, '0', '4'],
    ]);
    const beyond = await kafkajsError(admin.deleteTopicRecords({ topic: 'kjs-records', partitions: [{ partition: 1, offset: '5' }] }));
    // kafkajs drops the per-partition error (OFFSET_OUT_OF_RANGE) when it wraps it; the Java test below sees it
    assert.deepEqual([beyond.name, beyond.message], ['KafkaJSNonRetriableError', 'Error while deleting records']);
    assert.deepEqual(await offsets(), [
      [0, '6', '10'],
      [1, '0', '4'],
    ]);
    await admin.deleteTopicRecords({ topic: 'kjs-records', partitions: [{ partition: 1, offset: '-1' }] });
    assert.deepEqual(await offsets(), [
      [0, '6', '10'],
      [1, '4', '4'],
    ]);
  });
});

toolTest('kafkajs: deleteTopics removes the topic; an unknown topic fails with UNKNOWN_TOPIC_OR_PARTITION', unavailable('kafkajs'), async () => {
  await withAdmin(async (admin) => {
    await admin.createTopics({ topics: [{ topic: 'kjs-delete-a' }, { topic: 'kjs-delete-b', numPartitions: 2 }] });
    await admin.deleteTopics({ topics: ['kjs-delete-a', 'kjs-delete-b'] });
    const listed = await admin.listTopics();
    assert.ok(!listed.includes('kjs-delete-a') && !listed.includes('kjs-delete-b'), JSON.stringify(listed));
    const unknown = await kafkajsError(admin.deleteTopics({ topics: ['kjs-delete-a'] }));
    assert.match(unknown.message, /This server does not host this topic-partition/);
    // a deleted name can be created again, empty
    assert.equal(await admin.createTopics({ topics: [{ topic: 'kjs-delete-a' }] }), true);
    assert.deepEqual((await admin.fetchTopicOffsets('kjs-delete-a')).map((o) => [o.low, o.high]), [['0', '0']]);
  });
});

// ------------------------------------------------------------------ Java AdminClient (driver)

toolTest('Java AdminClient: createTopics, describeTopics, createPartitions, listOffsets, deleteTopics with Kafka exceptions', unavailable('java'), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, clientId: 'admin-e2e-java' });
  assert.deepEqual(await java.createTopics([{ name: 'java-admin', partitions: 2, configs: { 'retention.ms': 60000 } }]), [{ topic: 'java-admin', created: true }]);
  const errs = await java.createTopics(
    [{ name: 'java-admin', partitions: 2 }, { name: 'java-rf3', replicationFactor: 3 }, { name: 'java-bad-config', configs: { 'retention.mss': 1 } }, { name: 'java-zero', partitions: 0 }],
    { allowErrors: true },
  );
  const by = new Map(errs.map((e) => [e.topic, e]));
  assert.deepEqual(by.get('java-admin'), { topic: 'java-admin', created: false, error: 'TopicExistsException', message: "Topic 'java-admin' already exists." });
  assert.deepEqual(by.get('java-rf3'), { topic: 'java-rf3', created: false, error: 'InvalidReplicationFactorException', message: RF3_MESSAGE });
  assert.equal(by.get('java-bad-config')!.error, 'InvalidConfigurationException');
  assert.match(by.get('java-bad-config')!.message!, /'retention\.mss'/);
  assert.deepEqual(by.get('java-zero'), { topic: 'java-zero', created: false, error: 'InvalidPartitionsException', message: 'Number of partitions was set to an invalid non-positive value.' });

  const [described] = await java.describeTopics(['java-admin']);
  assert.deepEqual(described!.partitions, [0, 1].map((p) => ({ partition: p, leader: NODE, replicas: [NODE], isr: [NODE] })));

  assert.deepEqual(await java.createPartitions('java-admin', 4), [{ topic: 'java-admin', increased: true }]);
  assert.deepEqual(await java.createPartitions('java-admin', 3, { allowErrors: true }), [
    { topic: 'java-admin', increased: false, error: 'InvalidPartitionsException', message: 'The topic java-admin currently has 4 partition(s); 3 would not be an increase.' },
  ]);
  assert.deepEqual(await java.createPartitions('java-admin', 4, { allowErrors: true }), [
    { topic: 'java-admin', increased: false, error: 'InvalidPartitionsException', message: 'Topic already has 4 partition(s).' },
  ]);
  const unknownGrow = await java.createPartitions('java-no-such-topic', 4, { allowErrors: true });
  assert.equal(unknownGrow[0]!.error, 'UnknownTopicOrPartitionException');

  await java.produce({ topic: 'java-admin', partition: 3, count: 7 });
  const latest = await java.listOffsets('java-admin', 'latest');
  assert.deepEqual(latest.map((o) => [o.partition, o.offset]), [[0, 0], [1, 0], [2, 0], [3, 7]]);

  assert.deepEqual(await java.deleteTopics(['java-admin']), [{ topic: 'java-admin', deleted: true }]);
  assert.deepEqual(await java.deleteTopics(['java-admin'], { allowErrors: true }), [
    { topic: 'java-admin', deleted: false, error: 'UnknownTopicOrPartitionException', message: 'This server does not host this topic-partition.' },
  ]);
  assert.ok(!(await java.listTopics()).some((t) => t.topic === 'java-admin'));
}, { timeout: 240_000 });

toolTest('Java AdminClient: describeConfigs of a topic (sources) and of the broker (read-only, single-node values)', unavailable('java'), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, clientId: 'admin-e2e-java' });
  await java.createTopics([{ name: 'java-configs', configs: { 'retention.ms': 60000, 'message.timestamp.type': 'LogAppendTime' } }]);
  const explicit = await java.describeConfigs({ topic: 'java-configs' });
  assert.deepEqual(explicit.configs['retention.ms'], { value: '60000', source: 'DYNAMIC_TOPIC_CONFIG', readOnly: false, sensitive: false });
  assert.deepEqual(explicit.configs['message.timestamp.type'], { value: 'LogAppendTime', source: 'DYNAMIC_TOPIC_CONFIG', readOnly: false, sensitive: false });
  const all = await java.describeConfigs({ topic: 'java-configs' }, { all: true });
  assert.deepEqual(Object.keys(all.configs).sort(), TOPIC_CONFIG_KEYS);
  assert.deepEqual(all.configs['segment.bytes'], { value: '1073741824', source: 'DEFAULT_CONFIG', readOnly: false, sensitive: false });

  const broker = await java.describeConfigs({ broker: NODE }, { all: true });
  assert.equal(broker.error, undefined, broker.message);
  for (const [name, value] of [
    ['default.replication.factor', '1'],
    ['num.partitions', '1'],
    ['auto.create.topics.enable', 'true'],
    ['message.max.bytes', '1048588'],
    ['log.retention.ms', '604800000'],
    ['min.insync.replicas', '1'],
    ['node.id', String(NODE)],
  ] as const) {
    assert.equal(broker.configs[name]?.value, value, name);
    assert.equal(broker.configs[name]?.readOnly, true, name);
  }
}, { timeout: 120_000 });

// ------------------------------------------------------------------ Kafka CLI tools (AdminClient programs)

async function cli(main: string, args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await runJavaMain(main, ['--bootstrap-server', gw.bootstrap, ...args], { withDriver: false, timeoutMs: 90_000 });
  return { code: r.code, out: `${r.stdout}\n${r.stderr}` };
}
const TOPICS = 'org.apache.kafka.tools.TopicCommand';
const CONFIGS = 'kafka.admin.ConfigCommand';
const DELETE_RECORDS = 'org.apache.kafka.tools.DeleteRecordsCommand';

toolTest('kafka-topics and kafka-configs (IncrementalAlterConfigs SET/DELETE, list values; broker configs refused)', unavailable('java'), async () => {
  let r = await cli(TOPICS, ['--create', '--topic', 'cli-topic', '--partitions', '2', '--config', 'retention.ms=60000']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Created topic cli-topic\./);
  r = await cli(TOPICS, ['--create', '--topic', 'cli-rf3', '--replication-factor', '3']);
  assert.equal(r.code, 1, r.out);
  assert.ok(r.out.includes(`InvalidReplicationFactorException: ${RF3_MESSAGE}`), r.out);
  r = await cli(TOPICS, ['--alter', '--topic', 'cli-topic', '--partitions', '3']);
  assert.equal(r.code, 0, r.out);
  r = await cli(TOPICS, ['--describe', '--topic', 'cli-topic']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /PartitionCount: 3\tReplicationFactor: 1\tConfigs: [^\n]*retention\.ms=60000/);
  assert.match(r.out, /Partition: 2\tLeader: 0\tReplicas: 0\tIsr: 0/);

  r = await cli(CONFIGS, ['--alter', '--entity-type', 'topics', '--entity-name', 'cli-topic', '--add-config', 'retention.ms=120000,segment.ms=3600000']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /Completed updating config for topic cli-topic\./);
  r = await cli(CONFIGS, ['--alter', '--entity-type', 'topics', '--entity-name', 'cli-topic', '--delete-config', 'segment.ms']);
  assert.equal(r.code, 0, r.out);
  // a list value (kafka-configs has no APPEND/SUBTRACT options; those are covered in test/unit/admin.test.ts)
  r = await cli(CONFIGS, ['--alter', '--entity-type', 'topics', '--entity-name', 'cli-topic', '--add-config', 'cleanup.policy=[delete]']);
  assert.equal(r.code, 0, r.out);
  r = await cli(CONFIGS, ['--alter', '--entity-type', 'topics', '--entity-name', 'cli-topic', '--add-config', 'cleanup.policy=[delete,compacted]']);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /InvalidConfigurationException: [^\n]*compacted/);
  r = await cli(CONFIGS, ['--describe', '--entity-type', 'topics', '--entity-name', 'cli-topic']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /retention\.ms=120000 sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:retention\.ms=120000, DEFAULT_CONFIG:log\.retention\.ms=604800000\}/);
  assert.match(r.out, /cleanup\.policy=delete sensitive=false synonyms=\{DYNAMIC_TOPIC_CONFIG:cleanup\.policy=delete/);
  assert.doesNotMatch(r.out, /segment\.ms/);

  r = await cli(CONFIGS, ['--alter', '--entity-type', 'topics', '--entity-name', 'cli-topic', '--add-config', 'retention.ms=abc']);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /InvalidConfigurationException: [^\n]*'retention\.ms'/);
  r = await cli(CONFIGS, ['--alter', '--entity-type', 'topics', '--entity-name', 'cli-no-such-topic', '--add-config', 'retention.ms=1']);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /UnknownTopicOrPartitionException: The topic 'cli-no-such-topic' does not exist\./);

  r = await cli(CONFIGS, ['--describe', '--entity-type', 'brokers', '--entity-name', String(NODE), '--all']);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /All configs for broker 0 are:/);
  assert.match(r.out, /default\.replication\.factor=1 sensitive=false/);
  assert.match(r.out, /num\.partitions=1 sensitive=false/);
  r = await cli(CONFIGS, ['--alter', '--entity-type', 'brokers', '--entity-name', String(NODE), '--add-config', 'num.partitions=3']);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /InvalidRequestException: Cannot update broker configs dynamically: this gateway's broker settings come from its configuration file/);

  r = await cli(TOPICS, ['--delete', '--topic', 'cli-topic']);
  assert.equal(r.code, 0, r.out);
  r = await cli(TOPICS, ['--list']);
  assert.doesNotMatch(r.out, /^cli-topic$/m);
}, { timeout: 300_000 });

toolTest('kafka-delete-records: low watermark, -1 = high watermark, OffsetOutOfRangeException beyond it', unavailable('java'), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, clientId: 'admin-e2e-java' });
  await java.createTopics([{ name: 'cli-records', partitions: 2 }]);
  await java.produce({ topic: 'cli-records', partition: 0, count: 12 });
  const spec = (partitions: Array<{ partition: number; offset: number }>) => {
    const file = join(scratch, `delete-records-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
    writeFileSync(file, JSON.stringify({ version: 1, partitions: partitions.map((p) => ({ topic: 'cli-records', ...p })) }));
    return ['--offset-json-file', file];
  };
  let r = await cli(DELETE_RECORDS, spec([{ partition: 0, offset: 5 }]));
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /partition: cli-records-0\tlow_watermark: 5/);
  assert.deepEqual((await java.listOffsets('cli-records', 'earliest')).map((o) => [o.partition, o.offset]), [[0, 5], [1, 0]]);
  r = await cli(DELETE_RECORDS, spec([{ partition: 1, offset: 1 }]));
  assert.match(r.out, /partition: cli-records-1\terror: org\.apache\.kafka\.common\.errors\.OffsetOutOfRangeException/);
  r = await cli(DELETE_RECORDS, spec([{ partition: 0, offset: -1 }]));
  assert.match(r.out, /partition: cli-records-0\tlow_watermark: 12/);
  const got = await java.consume({ topic: 'cli-records', partitions: [0], offset: 'beginning', maxRecords: 1, timeoutMs: 3000, allowPartial: true });
  assert.equal(got.length, 0, 'nothing left to read');
  await java.produce({ topic: 'cli-records', partition: 0, count: 1 });
  const after = await java.consume({ topic: 'cli-records', partitions: [0], offset: 'beginning', maxRecords: 1 });
  assert.equal(after[0]!.offset, 12, 'offsets continue after the deleted range');
}, { timeout: 240_000 });

toolTest('topics and configs created through the admin APIs survive a gateway restart', unavailable('kafkajs'), async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-admin-restart-'));
  try {
    let g = await startTestGateway({}, dir);
    const admin1 = kafkajsClient({ bootstrap: g.bootstrap }).admin();
    await admin1.connect();
    await admin1.createTopics({ topics: [{ topic: 'kept', numPartitions: 3, configEntries: [{ name: 'retention.ms', value: '90000' }] }] });
    await admin1.disconnect();
    await g.stop();
    g = await startTestGateway({}, dir);
    const admin2 = kafkajsClient({ bootstrap: g.bootstrap }).admin();
    await admin2.connect();
    try {
      assert.equal(await partitionCount(admin2, 'kept'), 3);
      assert.equal((await topicConfigs(admin2, 'kept', ['retention.ms'])).get('retention.ms')!.configValue, '90000');
    } finally {
      await admin2.disconnect();
      await g.stop();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
