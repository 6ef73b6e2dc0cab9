/**
 * Topic admin APIs (CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs,
 * AlterConfigs, IncrementalAlterConfigs, DeleteRecords):
 *  - the pure parts (config describe / synonyms / broker configs, replica and
 *    partition checks);
 *  - every served version through the Dispatcher (request frame -> handler ->
 *    response frame, decoded again) against a real embedded engine in a temp
 *    dir, with Kafka's error codes and messages.
 * The same APIs with real clients against a started gateway: test/e2e/admin.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { Dispatcher } from '../../src/dispatch/dispatcher.js';
import { ALLOW_ALL } from '../../src/security/index.js';
import { DispatchTable, type ApiEntry } from '../../src/dispatch/registry.js';
import type { GatewayContext } from '../../src/gateway-context.js';
import { alterConfigs, incrementalAlterConfigs } from '../../src/handlers/alter-configs.js';
import { checkIncrease, createPartitions } from '../../src/handlers/create-partitions.js';
import { checkAssignments, checkReplicationFactor, createTopics } from '../../src/handlers/create-topics.js';
import { deleteRecords } from '../../src/handlers/delete-records.js';
import { deleteTopics } from '../../src/handlers/delete-topics.js';
import {
  BROKER_SYNONYMS,
  ConfigSource,
  ConfigType,
  brokerConfigViews,
  checkBrokerId,
  describeConfigs,
  describeResult,
  topicConfigViews,
} from '../../src/handlers/describe-configs.js';
import { silentLogger } from '../../src/logger.js';
import type { Connection } from '../../src/network/connection.js';
import { decodeResponse, encodeRequest, type ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import { ZERO_UUID } from '../../src/protocol/codec/types.js';
import { KafkaError, ErrorCode } from '../../src/protocol/errors.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import type { RequestBodies, ResponseBodies } from '../../src/protocol/generated/index.js';
import { encodeBatchSync } from '../../src/protocol/records/encode.js';
import { anonymousSession } from '../../src/session/session.js';
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import { TOPIC_CONFIG_KEYS, describeTopicConfigs, makeDefaults } from '../../src/storage/topic-config.js';
import { validated } from '../helpers/validated.js';

const NODE = 7;

// ------------------------------------------------------------------ pure parts

describe('admin: config describe mapping', () => {
  const defaults = makeDefaults();

  test('topic configs: DYNAMIC_TOPIC_CONFIG when set, DEFAULT_CONFIG otherwise; synonyms topic first, then the broker default', () => {
    const views = topicConfigViews(describeTopicConfigs({ 'retention.ms': '5000' }, defaults), defaults);
    assert.deepEqual(
      views.map((v) => v.name),
      TOPIC_CONFIG_KEYS,
    );
    const retention = views.find((v) => v.name === 'retention.ms')!;
    assert.equal(retention.value, '5000');
    assert.equal(retention.source, ConfigSource.DYNAMIC_TOPIC_CONFIG);
    assert.equal(retention.type, ConfigType.LONG);
    assert.equal(retention.readOnly, false);
    assert.equal(retention.sensitive, false);
    assert.deepEqual(retention.synonyms, [
      { name: 'retention.ms', value: '5000', source: ConfigSource.DYNAMIC_TOPIC_CONFIG },
      { name: 'log.retention.ms', value: '604800000', source: ConfigSource.DEFAULT_CONFIG },
    ]);
    const maxBytes = views.find((v) => v.name === 'max.message.bytes')!;
    assert.equal(maxBytes.source, ConfigSource.DEFAULT_CONFIG);
    assert.equal(maxBytes.type, ConfigType.INT);
    assert.deepEqual(maxBytes.synonyms, [{ name: 'message.max.bytes', value: '1048588', source: ConfigSource.DEFAULT_CONFIG }]);
    assert.equal(views.find((v) => v.name === 'cleanup.policy')!.type, ConfigType.LIST);
    assert.equal(views.find((v) => v.name === 'message.timestamp.type')!.type, ConfigType.STRING);
    for (const v of views) assert.ok(v.documentation && v.documentation.length > 10, `documentation of ${v.name}`);
  });

  test('topic configs: a default the gateway overrides is STATIC_BROKER_CONFIG, as Kafka reports broker-file settings', () => {
    const gatewayDefaults = makeDefaults({ 'flush.messages': '1' });
    const views = topicConfigViews(describeTopicConfigs({}, gatewayDefaults), gatewayDefaults);
    const flush = views.find((v) => v.name === 'flush.messages')!;
    assert.equal(flush.value, '1');
    assert.equal(flush.source, ConfigSource.STATIC_BROKER_CONFIG);
    assert.deepEqual(flush.synonyms, [{ name: 'log.flush.interval.messages', value: '1', source: ConfigSource.STATIC_BROKER_CONFIG }]);
  });

  test('every topic config has a broker synonym, except those Kafka gives no server default', () => {
    // Kafka's LogConfig.CONFIGS_WITH_NO_SERVER_DEFAULTS, and the remote-log switches (not in ServerTopicConfigSynonyms)
    const none = new Set(['remote.storage.enable', 'leader.replication.throttled.replicas', 'follower.replication.throttled.replicas', 'remote.log.copy.disable', 'remote.log.delete.on.disable']);
    for (const k of TOPIC_CONFIG_KEYS) assert.equal(BROKER_SYNONYMS[k] === undefined, none.has(k), k);
  });

  test('broker configs: read-only, sorted, single-node facts and the gateway settings', () => {
    const config = loadConfig({ env: {}, overrides: { defaultNumPartitions: 3, allowAutoTopicCreation: false } });
    const views = brokerConfigViews(NODE, config, defaults);
    const names = views.map((v) => v.name);
    assert.deepEqual(names, [...names].sort());
    assert.equal(new Set(names).size, names.length, 'no duplicates');
    const get = (n: string) => views.find((v) => v.name === n)!;
    for (const v of views) assert.equal(v.readOnly, true, v.name);
    assert.equal(get('node.id').value, '7');
    assert.equal(get('broker.id').value, '7');
    assert.equal(get('num.partitions').value, '3');
    assert.equal(get('num.partitions').source, ConfigSource.STATIC_BROKER_CONFIG);
    assert.equal(get('auto.create.topics.enable').value, 'false');
    assert.equal(get('auto.create.topics.enable').type, ConfigType.BOOLEAN);
    assert.equal(get('default.replication.factor').value, '1');
    assert.equal(get('default.replication.factor').source, ConfigSource.DEFAULT_CONFIG);
    assert.equal(get('message.max.bytes').value, '1048588');
    assert.equal(get('log.retention.ms').value, '604800000');
    assert.equal(get('log.retention.ms').type, ConfigType.LONG);
    assert.equal(get('min.insync.replicas').value, '1');
    assert.equal(get('socket.request.max.bytes').source, ConfigSource.DEFAULT_CONFIG, 'schema default');
  });

  test('describeResult: subset, all for null or empty, synonyms and documentation only when asked, isDefault', () => {
    const views = topicConfigViews(describeTopicConfigs({ 'retention.ms': '5000' }, defaults), defaults);
    const none = { includeSynonyms: false, includeDocumentation: false };
    assert.equal(describeResult(views, null, none).length, TOPIC_CONFIG_KEYS.length);
    assert.equal(describeResult(views, [], none).length, TOPIC_CONFIG_KEYS.length);
    const two = describeResult(views, ['retention.ms', 'segment.ms', 'no.such.key'], none);
    assert.deepEqual(
      two.map((c) => [c.name, c.value, c.isDefault, c.configSource, c.synonyms.length, c.documentation]),
      [
        ['retention.ms', '5000', false, ConfigSource.DYNAMIC_TOPIC_CONFIG, 0, null],
        ['segment.ms', '604800000', true, ConfigSource.DEFAULT_CONFIG, 0, null],
      ],
    );
    const full = describeResult(views, ['retention.ms'], { includeSynonyms: true, includeDocumentation: true });
    assert.equal(full[0]!.synonyms.length, 2);
    assert.match(full[0]!.documentation!, /kept/);
  });

  test('broker ids: Kafka wording', () => {
    checkBrokerId('7', NODE, true);
    assert.throws(() => checkBrokerId('x', NODE, true), (e: KafkaError) => e.code === ErrorCode.INVALID_REQUEST && e.message === 'Broker id must be an integer, but it is: x');
    assert.throws(() => checkBrokerId('5', NODE, true), (e: KafkaError) => e.message === 'Unexpected broker id, expected 7 or empty string, but received 5');
    assert.throws(() => checkBrokerId('5', NODE, false), (e: KafkaError) => e.message === 'Unexpected broker id, expected 7, but received 5');
  });
});

describe('admin: replica and partition checks', () => {
  test('replication factor: 1 and -1 only, with a single-node explanation', () => {
    assert.equal(checkReplicationFactor(1), null);
    assert.equal(checkReplicationFactor(-1), null);
    assert.equal(checkReplicationFactor(0), 'Replication factor must be larger than 0, or -1 to use the default value.');
    assert.match(checkReplicationFactor(3)!, /^Unable to replicate the partition 3 time\(s\): The target replication factor of 3 cannot be reached because only 1 broker\(s\) are registered\. This gateway is a single Kafka node/);
  });

  test('manual assignments: consecutive partitions, one replica on this node', () => {
    assert.equal(checkAssignments([{ partitionIndex: 1, brokerIds: [NODE] }, { partitionIndex: 0, brokerIds: [NODE] }], NODE), 2);
    const code = (fn: () => unknown, message: string) =>
      assert.throws(fn, (e: KafkaError) => e.code === ErrorCode.INVALID_REPLICA_ASSIGNMENT && e.message === message);
    code(() => checkAssignments([{ partitionIndex: 0, brokerIds: [NODE] }, { partitionIndex: 2, brokerIds: [NODE] }], NODE), 'partitions should be a consecutive 0-based integer sequence');
    code(() => checkAssignments([{ partitionIndex: 0, brokerIds: [1] }], NODE), 'The manual partition assignment includes broker 1, but no such broker is registered.');
    code(() => checkAssignments([{ partitionIndex: 0, brokerIds: [NODE, NODE] }], NODE), `The manual partition assignment includes the broker ${NODE} more than once.`);
    code(() => checkAssignments([{ partitionIndex: 0, brokerIds: [] }], NODE), 'The manual partition assignment includes an empty replica list.');
  });

  test('partition increase: Kafka wording', () => {
    assert.equal(checkIncrease('t', 2, 3), null);
    assert.equal(checkIncrease('t', 2, 2), 'Topic already has 2 partition(s).');
    assert.equal(checkIncrease('t', 3, 1), 'The topic t currently has 3 partition(s); 1 would not be an increase.');
  });
});

// ------------------------------------------------------------------ through the dispatcher

const ENTRIES: ApiEntry[] = [createTopics, deleteTopics, createPartitions, describeConfigs, alterConfigs, incrementalAlterConfigs, deleteRecords];

describe('admin APIs through the dispatcher, embedded engine', () => {
  let dir: string;
  let engine: EmbeddedEngine;
  let dispatcher: Dispatcher;
  let conn: Connection;
  let correlation = 1;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kop-admin-unit-'));
    engine = new EmbeddedEngine({ dataDirectory: dir, retentionCheckIntervalMs: 0 });
    await engine.start();
    const table = new DispatchTable();
    for (const e of ENTRIES) table.register(e);
    const config = loadConfig({ env: {}, overrides: { defaultNumPartitions: 2, kafkaNodeId: NODE } });
    const log = silentLogger();
    const gateway: GatewayContext = {
      config,
      storage: engine,
      table,
      log,
      clusterId: 'AAAAAAAAAAAAAAAAAAAAAA',
      nodeId: NODE,
      security: { sasl: null, failedAuthenticationDelayMs: 0, authorizer: ALLOW_ALL, audit: null },
      advertisedEndpoint: () => ({ host: '127.0.0.1', port: 9092 }),
    };
    dispatcher = new Dispatcher(gateway, () => anonymousSession(null, { tenant: 'public', namespace: 'default' }));
    conn = { id: 1, log, remoteAddress: '127.0.0.1', listenerName: 'PLAINTEXT', context: undefined, destroy() {} } as unknown as Connection;
  });

  after(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  async function call<K extends ApiKeyNumber>(key: K, version: number, body: RequestBodies[K]): Promise<ResponseBodies[K]> {
    const frame = encodeRequest(key, version, correlation++, 'admin-unit', body);
    const r = await dispatcher.handle(frame.subarray(4), conn);
    assert.ok(r.response && !r.close, `API ${key} v${version} answered`);
    const buf = Array.isArray(r.response) ? Buffer.concat(r.response) : r.response;
    return decodeResponse(buf.subarray(4), key, version).body;
  }

  const topic = (name: string, extra: Partial<RequestBodies[19]['topics'][number]> = {}) => ({
    name,
    numPartitions: 1,
    replicationFactor: 1,
    assignments: [],
    configs: [],
    ...extra,
  });
  const create = (version: number, topics: RequestBodies[19]['topics'], validateOnly = false) =>
    call(API_KEYS.CreateTopics, version, { topics, timeoutMs: 5000, validateOnly });

  test('served versions are the codec versions', () => {
    assert.deepEqual(
      ENTRIES.map((e) => [e.apiKey, e.minVersion, e.maxVersion, e.rule]),
      [
        [19, 0, 7, 'tenant-admin'],
        [20, 0, 6, 'tenant-admin'],
        [37, 0, 3, 'tenant-admin'],
        [32, 0, 4, 'topic-lookup'],
        [33, 0, 2, 'tenant-admin'],
        [44, 0, 1, 'tenant-admin'],
        [21, 0, 2, 'tenant-admin'],
      ],
    );
  });

  test('CreateTopics: every version creates; v5+ reports partitions, replication factor and configs; v7 the topic id', async () => {
    for (let v = 0; v <= 7; v++) {
      const name = `ct-v${v}`;
      const res = await create(v, [topic(name, { numPartitions: -1, replicationFactor: -1, configs: [{ name: 'retention.ms', value: '60000' }] })]);
      const [t] = res.topics;
      assert.equal(t!.name, name);
      assert.equal(t!.errorCode, ErrorCode.NONE, `v${v}: ${t!.errorMessage}`);
      const info = await engine.describeTopic(`persistent://public/default/${name}`);
      assert.ok(info, `v${v} created`);
      assert.equal(info.partitions, 2, 'numPartitions -1 = defaultNumPartitions');
      assert.deepEqual(info.configs, { 'retention.ms': '60000' });
      if (v >= 5) {
        assert.equal(t!.numPartitions, 2);
        assert.equal(t!.replicationFactor, 1);
        const retention = t!.configs!.find((c) => c.name === 'retention.ms')!;
        assert.deepEqual(retention, { name: 'retention.ms', value: '60000', readOnly: false, configSource: ConfigSource.DYNAMIC_TOPIC_CONFIG, isSensitive: false });
        assert.equal(t!.configs!.find((c) => c.name === 'segment.ms')!.configSource, ConfigSource.DEFAULT_CONFIG);
      }
      if (v >= 7) assert.ok(t!.topicId.equals(info.topicId));
    }
  });

  test('CreateTopics: Kafka error codes and messages', async () => {
    const res = await create(7, [
      topic('ct-v7'),
      topic('err-rf3', { replicationFactor: 3 }),
      topic('err-rf0', { replicationFactor: 0 }),
      topic('err-np0', { numPartitions: 0 }),
      topic('err-key', { configs: [{ name: 'foo.bar', value: '1' }] }),
      topic('err-val', { configs: [{ name: 'retention.ms', value: 'soon' }] }),
      topic('err-null', { configs: [{ name: 'retention.ms', value: null }] }),
      topic('err-compact', { configs: [{ name: 'min.cleanable.dirty.ratio', value: '2' }] }),
      topic('a b'),
      topic('__consumer_offsets'),
      topic('err-assign-rf', { numPartitions: -1, assignments: [{ partitionIndex: 0, brokerIds: [NODE] }] }),
      topic('err-assign-node', { numPartitions: -1, replicationFactor: -1, assignments: [{ partitionIndex: 0, brokerIds: [1] }] }),
      topic('dup'),
      topic('dup'),
    ]);
    const by = new Map(res.topics.map((t) => [t.name, t]));
    const expect = (name: string, code: number, message: string | RegExp) => {
      const t = by.get(name);
      assert.ok(t, name);
      assert.equal(t.errorCode, code, `${name}: ${t.errorMessage}`);
      if (typeof message === 'string') assert.equal(t.errorMessage, message, name);
      else assert.match(t.errorMessage ?? '', message, name);
      assert.equal(t.numPartitions, -1);
      assert.equal(t.replicationFactor, -1);
      assert.ok(t.topicId.equals(ZERO_UUID));
    };
    expect('ct-v7', ErrorCode.TOPIC_ALREADY_EXISTS, "Topic 'ct-v7' already exists.");
    expect('err-rf3', ErrorCode.INVALID_REPLICATION_FACTOR, /target replication factor of 3 cannot be reached.*single Kafka node/);
    expect('err-rf0', ErrorCode.INVALID_REPLICATION_FACTOR, 'Replication factor must be larger than 0, or -1 to use the default value.');
    expect('err-np0', ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.');
    expect('err-key', ErrorCode.INVALID_CONFIG, /foo\.bar/);
    expect('err-val', ErrorCode.INVALID_CONFIG, /retention\.ms/);
    expect('err-null', ErrorCode.INVALID_CONFIG, 'Null value not supported for topic configs: retention.ms');
    expect('err-compact', ErrorCode.INVALID_CONFIG, /min\.cleanable\.dirty\.ratio/);
    expect('a b', ErrorCode.INVALID_TOPIC_EXCEPTION, /a b/);
    expect('__consumer_offsets', ErrorCode.INVALID_TOPIC_EXCEPTION, /internal topic/);
    expect('err-assign-rf', ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.');
    expect('err-assign-node', ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes broker 1, but no such broker is registered.');
    expect('dup', ErrorCode.INVALID_REQUEST, 'Duplicate topic name.');
    assert.equal(res.topics.filter((t) => t.name === 'dup').length, 1);
    assert.equal(await engine.describeTopic('persistent://public/default/dup'), null);
  });

  test('CreateTopics: validateOnly checks and creates nothing; manual assignment on this node creates', async () => {
    const res = await create(7, [topic('vo', { numPartitions: 4, configs: [{ name: 'retention.ms', value: '1000' }] })], true);
    assert.equal(res.topics[0]!.errorCode, ErrorCode.NONE);
    assert.equal(res.topics[0]!.numPartitions, 4);
    assert.equal(await engine.describeTopic('persistent://public/default/vo'), null);
    const bad = await create(7, [topic('vo', { replicationFactor: 2 })], true);
    assert.equal(bad.topics[0]!.errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
    const manual = await create(7, [
      topic('manual', { numPartitions: -1, replicationFactor: -1, assignments: [0, 1, 2].map((p) => ({ partitionIndex: p, brokerIds: [NODE] })) }),
    ]);
    assert.equal(manual.topics[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await engine.describeTopic('persistent://public/default/manual'))!.partitions, 3);
  });

  test('partition bounds: more than 10,000 new partitions per CreateTopics is POLICY_VIOLATION for the whole request; CreatePartitions beyond maxNumPartitionsPerPartitionedTopic is INVALID_PARTITIONS; nothing created', async () => {
    const max = 10_000; // the default bound
    const ok = await create(7, [topic('np-ok', { numPartitions: 3 })]);
    assert.equal(ok.topics[0]!.errorCode, ErrorCode.NONE);
    // 2^31-1 partitions in one request: refused before anything is created
    const huge = await create(7, [topic('np-huge-a', { numPartitions: 2_147_483_647 }), topic('np-huge-b', { numPartitions: 1 })]);
    for (const t of huge.topics) {
      assert.equal(t.errorCode, ErrorCode.POLICY_VIOLATION, `${t.name}: ${t.errorMessage}`);
      assert.match(t.errorMessage ?? '', /Excessively large number of partitions per request/);
    }
    assert.equal(await engine.describeTopic('persistent://public/default/np-huge-b'), null);
    const grow = await call(API_KEYS.CreatePartitions, 3, { topics: [{ name: 'np-ok', count: max + 1, assignments: null }], timeoutMs: 5000, validateOnly: false });
    assert.equal(grow.results[0]!.errorCode, ErrorCode.INVALID_PARTITIONS);
    assert.match(grow.results[0]!.errorMessage ?? '', /exceeds the maximum/);
    assert.equal((await engine.describeTopic('persistent://public/default/np-ok'))!.partitions, 3);
  });

  test('CreatePartitions: every version grows; shrink, same count, unknown topic, assignments, validateOnly', async () => {
    await create(7, [topic('cp', { numPartitions: 1 })]);
    for (let v = 0; v <= 3; v++) {
      const res = await call(API_KEYS.CreatePartitions, v, { topics: [{ name: 'cp', count: v + 2, assignments: null }], timeoutMs: 5000, validateOnly: false });
      assert.deepEqual(res.results, [{ name: 'cp', errorCode: ErrorCode.NONE, errorMessage: null }]);
    }
    assert.equal((await engine.describeTopic('persistent://public/default/cp'))!.partitions, 5);
    const grow = (topics: RequestBodies[37]['topics'], validateOnly = false) => call(API_KEYS.CreatePartitions, 3, { topics, timeoutMs: 5000, validateOnly });
    assert.deepEqual((await grow([{ name: 'cp', count: 5, assignments: null }])).results[0], { name: 'cp', errorCode: ErrorCode.INVALID_PARTITIONS, errorMessage: 'Topic already has 5 partition(s).' });
    assert.deepEqual((await grow([{ name: 'cp', count: 2, assignments: null }])).results[0], {
      name: 'cp',
      errorCode: ErrorCode.INVALID_PARTITIONS,
      errorMessage: 'The topic cp currently has 5 partition(s); 2 would not be an increase.',
    });
    assert.equal((await grow([{ name: 'nope', count: 2, assignments: null }])).results[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.deepEqual((await grow([{ name: 'cp', count: 7, assignments: [{ brokerIds: [NODE] }] }])).results[0], {
      name: 'cp',
      errorCode: ErrorCode.INVALID_REPLICA_ASSIGNMENT,
      errorMessage: 'Attempted to add 2 additional partition(s), but only 1 assignment(s) were specified.',
    });
    assert.equal((await grow([{ name: 'cp', count: 6, assignments: [{ brokerIds: [3] }] }])).results[0]!.errorCode, ErrorCode.INVALID_REPLICA_ASSIGNMENT);
    const dup = await grow([{ name: 'cp', count: 9, assignments: null }, { name: 'cp', count: 9, assignments: null }]);
    assert.deepEqual(dup.results, [{ name: 'cp', errorCode: ErrorCode.INVALID_REQUEST, errorMessage: 'Duplicate topic name.' }]);
    assert.equal((await grow([{ name: 'cp', count: 9, assignments: null }], true)).results[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await engine.describeTopic('persistent://public/default/cp'))!.partitions, 5, 'validateOnly changed nothing');
    assert.equal((await grow([{ name: 'cp', count: 6, assignments: [{ brokerIds: [NODE] }] }])).results[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await engine.describeTopic('persistent://public/default/cp'))!.partitions, 6);
  });

  test('DescribeConfigs: every version; topic, subset, synonyms, documentation, broker, logger, errors', async () => {
    await create(7, [topic('dc', { configs: [{ name: 'retention.ms', value: '5000' }] })]);
    for (let v = 0; v <= 4; v++) {
      const res = await call(API_KEYS.DescribeConfigs, v, {
        resources: [{ resourceType: 2, resourceName: 'dc', configurationKeys: ['retention.ms', 'segment.ms'] }],
        includeSynonyms: true,
        includeDocumentation: true,
      });
      const [r] = res.results;
      assert.equal(r!.errorCode, ErrorCode.NONE);
      assert.deepEqual(
        r!.configs.map((c) => c.name),
        ['retention.ms', 'segment.ms'],
      );
      const [retention, segment] = r!.configs;
      assert.equal(retention!.value, '5000');
      if (v === 0) {
        assert.equal(retention!.isDefault, false);
        assert.equal(segment!.isDefault, true);
      } else {
        assert.equal(retention!.configSource, ConfigSource.DYNAMIC_TOPIC_CONFIG);
        assert.equal(segment!.configSource, ConfigSource.DEFAULT_CONFIG);
        assert.deepEqual(
          retention!.synonyms.map((s) => [s.name, s.value, s.source]),
          [
            ['retention.ms', '5000', 1],
            ['log.retention.ms', '604800000', 5],
          ],
        );
      }
      if (v >= 3) {
        assert.equal(retention!.configType, ConfigType.LONG);
        assert.ok(retention!.documentation);
      }
    }
    const d = (resources: RequestBodies[32]['resources'], includeSynonyms = false) =>
      call(API_KEYS.DescribeConfigs, 4, { resources, includeSynonyms, includeDocumentation: false });
    const all = await d([{ resourceType: 2, resourceName: 'dc', configurationKeys: null }]);
    assert.deepEqual(
      all.results[0]!.configs.map((c) => c.name),
      TOPIC_CONFIG_KEYS,
    );
    assert.equal(all.results[0]!.configs[0]!.synonyms.length, 0, 'no synonyms unless asked');
    assert.equal(all.results[0]!.configs[0]!.documentation, null);
    // the engine's flush policy (every-batch) overrides Kafka's flush.messages default
    assert.equal(all.results[0]!.configs.find((c) => c.name === 'flush.messages')!.value, '1');

    const errs = await d([
      { resourceType: 2, resourceName: 'nope', configurationKeys: null },
      { resourceType: 2, resourceName: 'a b', configurationKeys: null },
      { resourceType: 4, resourceName: '5', configurationKeys: null },
      { resourceType: 4, resourceName: 'x', configurationKeys: null },
      { resourceType: 8, resourceName: '', configurationKeys: null },
      { resourceType: 99, resourceName: 'x', configurationKeys: null },
    ]);
    assert.deepEqual(
      errs.results.map((r) => [r.resourceType, r.resourceName, r.errorCode, r.configs.length]),
      [
        [2, 'nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 0],
        [2, 'a b', ErrorCode.INVALID_TOPIC_EXCEPTION, 0],
        [4, '5', ErrorCode.INVALID_REQUEST, 0],
        [4, 'x', ErrorCode.INVALID_REQUEST, 0],
        [8, '', ErrorCode.INVALID_REQUEST, 0],
        [99, 'x', ErrorCode.INVALID_REQUEST, 0],
      ],
    );
    assert.equal(errs.results[0]!.errorMessage, "The topic 'nope' does not exist.");
    assert.equal(errs.results[2]!.errorMessage, `Unexpected broker id, expected ${NODE} or empty string, but received 5`);

    const broker = await d(
      [
        { resourceType: 4, resourceName: String(NODE), configurationKeys: ['num.partitions', 'default.replication.factor', 'message.max.bytes'] },
        { resourceType: 4, resourceName: '', configurationKeys: null },
        { resourceType: 8, resourceName: String(NODE), configurationKeys: null },
      ],
      true,
    );
    assert.deepEqual(
      broker.results[0]!.configs.map((c) => [c.name, c.value, c.readOnly, c.configSource]),
      [
        ['default.replication.factor', '1', true, ConfigSource.DEFAULT_CONFIG],
        ['message.max.bytes', '1048588', true, ConfigSource.DEFAULT_CONFIG],
        ['num.partitions', '2', true, ConfigSource.STATIC_BROKER_CONFIG],
      ],
    );
    assert.deepEqual(broker.results[1], { errorCode: 0, errorMessage: null, resourceType: 4, resourceName: '', configs: [] });
    assert.deepEqual(
      broker.results[2]!.configs.map((c) => [c.name, c.value, c.configSource]),
      [['root', 'INFO', ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG]],
    );
  });

  test('AlterConfigs: every version replaces the explicit set; errors per resource; validateOnly', async () => {
    await create(7, [topic('ac', { configs: [{ name: 'retention.ms', value: '5000' }] })]);
    const full = 'persistent://public/default/ac';
    const alter = (version: number, resources: RequestBodies[33]['resources'], validateOnly = false) =>
      call(API_KEYS.AlterConfigs, version, { resources, validateOnly });
    for (let v = 0; v <= 2; v++) {
      const res = await alter(v, [{ resourceType: 2, resourceName: 'ac', configs: [{ name: 'segment.ms', value: String(100000 + v) }] }]);
      assert.deepEqual(res.responses, [{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'ac' }]);
      assert.deepEqual((await engine.describeTopic(full))!.configs, { 'segment.ms': String(100000 + v) }, 'retention.ms replaced away');
    }
    const res = await alter(2, [
      { resourceType: 2, resourceName: 'nope', configs: [{ name: 'retention.ms', value: '1' }] },
      { resourceType: 2, resourceName: 'ac', configs: [{ name: 'foo', value: '1' }] },
      { resourceType: 4, resourceName: String(NODE), configs: [{ name: 'num.partitions', value: '3' }] },
      { resourceType: 99, resourceName: 'x', configs: [] },
    ]);
    assert.deepEqual(
      res.responses.map((r) => [r.resourceName, r.errorCode]),
      [
        ['nope', ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        ['ac', ErrorCode.INVALID_CONFIG],
        [String(NODE), ErrorCode.INVALID_REQUEST],
        ['x', ErrorCode.INVALID_REQUEST],
      ],
    );
    assert.match(res.responses[1]!.errorMessage!, /foo/);
    assert.match(res.responses[2]!.errorMessage!, /configuration file/);
    const more = await alter(2, [{ resourceType: 2, resourceName: 'ac', configs: [{ name: 'retention.ms', value: null }] }]);
    assert.deepEqual([more.responses[0]!.errorCode, more.responses[0]!.errorMessage], [ErrorCode.INVALID_REQUEST, 'Null value not supported for : retention.ms']);
    const dupKeys = await alter(2, [{ resourceType: 2, resourceName: 'ac', configs: [{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }] }]);
    assert.deepEqual([dupKeys.responses[0]!.errorCode, dupKeys.responses[0]!.errorMessage], [ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys']);
    const dupRes = await alter(2, [
      { resourceType: 2, resourceName: 'ac', configs: [] },
      { resourceType: 2, resourceName: 'ac', configs: [] },
    ]);
    assert.deepEqual(
      dupRes.responses.map((r) => r.errorCode),
      [ErrorCode.INVALID_REQUEST, ErrorCode.INVALID_REQUEST],
    );
    const vo = await alter(2, [{ resourceType: 2, resourceName: 'ac', configs: [{ name: 'retention.ms', value: '1' }] }], true);
    assert.equal(vo.responses[0]!.errorCode, ErrorCode.NONE);
    assert.deepEqual((await engine.describeTopic(full))!.configs, { 'segment.ms': '100002' }, 'validateOnly changed nothing');
  });

  test('IncrementalAlterConfigs: every version; SET / DELETE / APPEND / SUBTRACT; errors; validateOnly', async () => {
    await create(7, [topic('iac', { configs: [{ name: 'retention.ms', value: '5000' }, { name: 'segment.ms', value: '100000' }] })]);
    const full = 'persistent://public/default/iac';
    const alter = (version: number, configs: RequestBodies[44]['resources'][number]['configs'], validateOnly = false, name = 'iac', type = 2) =>
      call(API_KEYS.IncrementalAlterConfigs, version, { resources: [{ resourceType: type, resourceName: name, configs }], validateOnly });
    for (let v = 0; v <= 1; v++) {
      const res = await alter(v, [{ name: 'retention.bytes', configOperation: 0, value: String(1000 + v) }]);
      assert.deepEqual(res.responses, [{ errorCode: 0, errorMessage: null, resourceType: 2, resourceName: 'iac' }]);
    }
    assert.deepEqual((await engine.describeTopic(full))!.configs, { 'retention.ms': '5000', 'segment.ms': '100000', 'retention.bytes': '1001' }, 'SET keeps the others');
    const del = await alter(1, [
      { name: 'segment.ms', configOperation: 1, value: null },
      { name: 'no.such.key', configOperation: 1, value: null },
    ]);
    assert.equal(del.responses[0]!.errorCode, ErrorCode.NONE, 'deleting an unknown key is ignored, as Kafka does');
    assert.deepEqual((await engine.describeTopic(full))!.configs, { 'retention.ms': '5000', 'retention.bytes': '1001' });
    const sub = await alter(1, [{ name: 'cleanup.policy', configOperation: 3, value: 'compact' }]);
    assert.equal(sub.responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await engine.describeTopic(full))!.configs['cleanup.policy'], 'delete');
    // log compaction through IncrementalAlterConfigs: APPEND compact, then SUBTRACT delete
    assert.equal((await alter(1, [{ name: 'cleanup.policy', configOperation: 2, value: 'compact' }])).responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await engine.describeTopic(full))!.configs['cleanup.policy'], 'delete,compact');
    assert.equal((await alter(1, [{ name: 'cleanup.policy', configOperation: 3, value: 'delete' }])).responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await engine.describeTopic(full))!.configs['cleanup.policy'], 'compact');
    const lags = await alter(1, [{ name: 'min.compaction.lag.ms', configOperation: 0, value: '10' }, { name: 'max.compaction.lag.ms', configOperation: 0, value: '5' }]);
    assert.equal(lags.responses[0]!.errorCode, ErrorCode.INVALID_CONFIG);
    assert.match(lags.responses[0]!.errorMessage!, /min\.compaction\.lag\.ms \(10\) > max\.compaction\.lag\.ms \(5\)/);
    assert.equal((await alter(1, [{ name: 'cleanup.policy', configOperation: 0, value: 'delete' }])).responses[0]!.errorCode, ErrorCode.NONE);
    const cases: Array<[RequestBodies[44]['resources'][number]['configs'], number, RegExp]> = [
      [[{ name: 'cleanup.policy', configOperation: 2, value: 'compacted' }], ErrorCode.INVALID_CONFIG, /compacted/],
      [[{ name: 'retention.ms', configOperation: 2, value: '1' }], ErrorCode.INVALID_CONFIG, /retention\.ms/],
      [[{ name: 'retention.ms', configOperation: 0, value: 'x' }], ErrorCode.INVALID_CONFIG, /retention\.ms/],
      [[{ name: 'foo', configOperation: 0, value: '1' }], ErrorCode.INVALID_CONFIG, /foo/],
      [[{ name: 'retention.ms', configOperation: 0, value: null }], ErrorCode.INVALID_REQUEST, /^Null value not supported for : retention\.ms$/],
      [[{ name: 'retention.ms', configOperation: 9, value: '1' }], ErrorCode.INVALID_REQUEST, /operation 9/],
      [
        [
          { name: 'retention.ms', configOperation: 1, value: null },
          { name: 'retention.ms', configOperation: 0, value: '1' },
        ],
        ErrorCode.INVALID_REQUEST,
        /^Error due to duplicate config keys$/,
      ],
    ];
    for (const [configs, code, message] of cases) {
      const r = (await alter(1, configs)).responses[0]!;
      assert.equal(r.errorCode, code, JSON.stringify(configs));
      assert.match(r.errorMessage ?? '', message);
    }
    assert.equal((await alter(1, [{ name: 'retention.ms', configOperation: 0, value: '1' }], false, 'nope')).responses[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal((await alter(1, [{ name: 'num.partitions', configOperation: 0, value: '3' }], false, String(NODE), 4)).responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal((await alter(1, [{ name: 'root', configOperation: 0, value: 'DEBUG' }], false, String(NODE), 8)).responses[0]!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal((await alter(1, [{ name: 'retention.ms', configOperation: 0, value: '77' }], true)).responses[0]!.errorCode, ErrorCode.NONE);
    assert.equal((await engine.describeTopic(full))!.configs['retention.ms'], '5000', 'validateOnly changed nothing');
  });

  test('DeleteRecords: every version; -1 = high watermark; beyond it OFFSET_OUT_OF_RANGE; unknown partition', async () => {
    await create(7, [topic('dr', { numPartitions: 2 })]);
    const full = 'persistent://public/default/dr';
    const batch = () => encodeBatchSync({ records: Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` })) });
    await engine.append({ topic: full, partition: 0 }, validated(batch()), { acks: -1 });
    await engine.append({ topic: full, partition: 0 }, validated(batch()), { acks: -1 });
    const del = (version: number, partitions: Array<[number, bigint]>, name = 'dr') =>
      call(API_KEYS.DeleteRecords, version, { topics: [{ name, partitions: partitions.map(([p, o]) => ({ partitionIndex: p, offset: o })) }], timeoutMs: 5000 });
    for (let v = 0; v <= 2; v++) {
      const res = await del(v, [[0, BigInt(v + 1)]]);
      assert.deepEqual(res.topics[0]!.partitions, [{ partitionIndex: 0, lowWatermark: BigInt(v + 1), errorCode: 0 }]);
    }
    const res = await del(2, [
      [0, 1n],
      [1, -1n],
      [2, 0n],
    ]);
    assert.deepEqual(res.topics[0]!.partitions, [
      { partitionIndex: 0, lowWatermark: 3n, errorCode: 0 },
      { partitionIndex: 1, lowWatermark: 0n, errorCode: 0 },
      { partitionIndex: 2, lowWatermark: -1n, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION },
    ]);
    assert.deepEqual((await del(2, [[0, 21n]])).topics[0]!.partitions[0], { partitionIndex: 0, lowWatermark: -1n, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
    assert.deepEqual((await del(2, [[0, -7n]])).topics[0]!.partitions[0], { partitionIndex: 0, lowWatermark: -1n, errorCode: ErrorCode.OFFSET_OUT_OF_RANGE });
    assert.deepEqual((await del(2, [[0, -1n]])).topics[0]!.partitions[0], { partitionIndex: 0, lowWatermark: 20n, errorCode: 0 });
    assert.equal((await engine.offsets({ topic: full, partition: 0 })).logStartOffset, 20n);
    assert.equal((await del(2, [[0, 0n]], 'nope')).topics[0]!.partitions[0]!.errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  });

  test('DeleteTopics: every version by name, v6 by id; unknown names and ids, duplicates, both or neither', async () => {
    await create(7, [topic('dt-0'), topic('dt-1'), topic('dt-2'), topic('dt-3'), topic('dt-4'), topic('dt-5'), topic('dt-6'), topic('dt-id')]);
    for (let v = 0; v <= 6; v++) {
      const body = v >= 6 ? { topics: [{ name: `dt-${v}`, topicId: ZERO_UUID }], topicNames: [], timeoutMs: 5000 } : { topics: [], topicNames: [`dt-${v}`], timeoutMs: 5000 };
      const res = await call(API_KEYS.DeleteTopics, v, body);
      assert.equal(res.responses[0]!.name, `dt-${v}`);
      assert.equal(res.responses[0]!.errorCode, ErrorCode.NONE, `v${v}`);
      assert.equal(await engine.describeTopic(`persistent://public/default/dt-${v}`), null);
    }
    const v5 = await call(API_KEYS.DeleteTopics, 5, { topics: [], topicNames: ['dt-0'], timeoutMs: 5000 });
    assert.deepEqual(v5.responses[0], { name: 'dt-0', topicId: ZERO_UUID, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'This server does not host this topic-partition.' });

    const id = (await engine.describeTopic('persistent://public/default/dt-id'))!.topicId;
    const unknownId = Buffer.alloc(16, 7);
    const v6 = await call(API_KEYS.DeleteTopics, 6, {
      topics: [
        { name: null, topicId: id },
        { name: null, topicId: unknownId },
        { name: null, topicId: ZERO_UUID },
        { name: 'dt-x', topicId: unknownId },
        { name: 'twice', topicId: ZERO_UUID },
        { name: 'twice', topicId: ZERO_UUID },
        { name: '__consumer_offsets', topicId: ZERO_UUID },
      ],
      topicNames: [],
      timeoutMs: 5000,
    });
    const rows = v6.responses.map((r) => [r.name, r.topicId.toString('hex'), r.errorCode, r.errorMessage]);
    const hex = (b: Buffer) => b.toString('hex');
    assert.deepEqual(
      rows.sort((a, b) => String(a[1]).localeCompare(String(b[1])) || String(a[0]).localeCompare(String(b[0]))),
      [
        [null, hex(ZERO_UUID), ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.'],
        ['__consumer_offsets', hex(ZERO_UUID), ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'This server does not host this topic-partition.'],
        ['twice', hex(ZERO_UUID), ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'],
        [null, hex(unknownId), ErrorCode.UNKNOWN_TOPIC_ID, 'This server does not host this topic ID.'],
        ['dt-x', hex(unknownId), ErrorCode.INVALID_REQUEST, 'You may not specify both topic name and topic id.'],
        ['dt-id', hex(id), ErrorCode.NONE, null],
      ].sort((a, b) => String(a[1]).localeCompare(String(b[1])) || String(a[0]).localeCompare(String(b[0]))),
    );
    assert.equal(await engine.describeTopic('persistent://public/default/dt-id'), null);
  });

  test('DeleteTopics: an internal topic that exists is refused', async () => {
    await engine.createTopic('persistent://public/default/__consumer_offsets', 1, {});
    const res = await call(API_KEYS.DeleteTopics, 6, { topics: [{ name: '__consumer_offsets', topicId: ZERO_UUID }], topicNames: [], timeoutMs: 5000 });
    assert.equal(res.responses[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.ok(await engine.describeTopic('persistent://public/default/__consumer_offsets'));
  });
});
