/**
 * Topic configs Kafka 4.x accepts, on every engine (embedded; pulsar with both
 * entry formats when the shared Pulsar broker is up): the Java AdminClient and
 * librdkafka (confluent-kafka) create topics with them, DescribeConfigs reports
 * them with Kafka's sources, invalid values get InvalidConfigurationException,
 * and compression.type is honoured (a raw Fetch sees the topic's codec on the
 * wire while a Java consumer gets identical records).
 *
 * Also the Pulsar engine's record size bound: the broker's maxMessageSize caps
 * max.message.bytes, so a too-large record fails at once with
 * RecordTooLargeException, and a following producer and group are unaffected.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { PythonKafkaClient, pythonLibrdkafkaVersion } from '../helpers/clients/python.js';
import type { ProduceRecordInput } from '../helpers/clients/types.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';
import { decodeResponse, encodeRequest } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { FetchRequest } from '../../src/protocol/generated/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';

type Engine = 'embedded' | 'pulsar-kafka' | 'pulsar-pulsar';
const pulsarSkip = pulsarSkipReason();
const gws: Partial<Record<Engine, TestGateway>> = {};

before(async () => {
  gws.embedded = await startTestGateway({});
  if (!pulsarSkip) {
    const p = await sharedPulsar();
    for (const format of ['kafka', 'pulsar'] as const) {
      const ns = await createNamespace(p, uniqueName(`tcfg-${format}`));
      gws[`pulsar-${format}`] = await startTestGateway(pulsarGatewayConfig(p, ns, format));
    }
  }
});
after(async () => {
  for (const g of Object.values(gws)) await g?.stop().catch(() => undefined);
});

/** Kafka codec ids of the batches a raw Fetch (v4, by name) returns for partition 0 from offset 0. */
async function wireCodecs(g: TestGateway, topic: string): Promise<number[]> {
  const c = await RawClient.open(g.port);
  try {
    const body = {
      ...FetchRequest.defaults(),
      maxWaitMs: 0,
      minBytes: 1,
      maxBytes: 0x7fffffff,
      topics: [{ topic, topicId: Buffer.alloc(16), partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 0x7fffffff, replicaDirectoryId: Buffer.alloc(16) }] }],
    };
    c.send(encodeRequest(API_KEYS.Fetch as never, 4, 1, 'wire-codecs', body as never));
    const payload = await c.next(30_000);
    assert.ok(payload, 'a Fetch response');
    // eslint-disable-next-line @typescript-eslint/no-explicit-any
    const res = decodeResponse(payload, API_KEYS.Fetch as never, 4).body as any;
    const part = res.responses[0].partitions[0];
    assert.equal(part.errorCode, ErrorCode.NONE);
    const records: Buffer = part.records;
    const codecs: number[] = [];
    for (let pos = 0; pos + 61 <= records.length; ) {
      const len = records.readInt32BE(pos + 8);
      if (pos + 12 + len > records.length) break; // a partial batch at the end
      codecs.push(records.readInt16BE(pos + 21) & 7);
      pos += 12 + len;
    }
    return codecs;
  } finally {
    c.close();
  }
}

function sample(n: number, tag: string): ProduceRecordInput[] {
  return Array.from({ length: n }, (_, i) => ({ key: `${tag}-${i}`, value: Buffer.from(`${tag} value ${i} `.repeat(20)), headers: [{ key: 'i', value: String(i) }], timestamp: 1_700_000_000_000 + i }));
}

/** Every topic config Kafka 4.x accepts beyond the basics, with a non-default value. */
const KAFKA4_CONFIGS = {
  'compression.type': 'gzip',
  'compression.gzip.level': 6,
  'compression.lz4.level': 12,
  'compression.zstd.level': 5,
  'file.delete.delay.ms': 30000,
  'follower.replication.throttled.replicas': '0:1',
  'leader.replication.throttled.replicas': '*',
  'local.retention.bytes': -2,
  'local.retention.ms': -2,
  preallocate: 'true',
  'remote.log.copy.disable': 'false',
  'remote.log.delete.on.disable': 'false',
  'remote.storage.enable': 'false',
  'segment.index.bytes': 1048576,
  'segment.jitter.ms': 1000,
  'unclean.leader.election.enable': 'false',
};

for (const engine of ['embedded', 'pulsar-kafka', 'pulsar-pulsar'] as const) {
  const skip = engine !== 'embedded' ? pulsarSkip : undefined;
  toolTest(`${engine}: Java AdminClient creates topics with Kafka 4.x topic configs, describes them, refuses bad values; compression.type recompresses`, skip ?? unavailable('java'), async () => {
    const g = gws[engine]!;
    const java = new JavaKafkaClient({ bootstrap: g.bootstrap });
    assert.deepEqual(await java.createTopics([{ name: 'k4-configs', partitions: 1, configs: KAFKA4_CONFIGS }]), [{ topic: 'k4-configs', created: true }]);
    const d = await java.describeConfigs({ topic: 'k4-configs' });
    for (const [k, v] of Object.entries(KAFKA4_CONFIGS)) {
      assert.equal(d.configs[k]?.value, String(v), `${k} is described with its value`);
      assert.equal(d.configs[k]?.source, 'DYNAMIC_TOPIC_CONFIG', `${k} is a topic override`);
    }
    // a topic without overrides: Kafka's defaults, as DEFAULT_CONFIG
    await java.createTopics([{ name: 'k4-plain', partitions: 1 }]);
    const plain = await java.describeConfigs({ topic: 'k4-plain' }, { all: true });
    const defaults: Record<string, string> = { 'compression.type': 'producer', 'compression.gzip.level': '-1', 'compression.lz4.level': '9', 'compression.zstd.level': '3', 'remote.storage.enable': 'false', 'segment.index.bytes': '10485760', 'local.retention.ms': '-2' };
    for (const [k, v] of Object.entries(defaults)) {
      assert.equal(plain.configs[k]?.value, v, `default of ${k}`);
      assert.equal(plain.configs[k]?.source, 'DEFAULT_CONFIG', `source of ${k}`);
    }
    // bad values: Kafka's validators
    const bad: Array<[string, string | number]> = [
      ['compression.type', 'brotli'],
      ['compression.gzip.level', 0],
      ['compression.lz4.level', 18],
      ['compression.zstd.level', 23],
      ['preallocate', 'yes'],
      ['leader.replication.throttled.replicas', '0-1'],
      ['local.retention.ms', -3],
      ['segment.index.bytes', 3],
      ['remote.storage.enable', 'true'],
      ['no.such.config', 1],
    ];
    for (const [k, v] of bad) {
      const r = await java.createTopics([{ name: `k4-bad-${k.replace(/\./g, '-')}`, partitions: 1, configs: { [k]: v } }], { allowErrors: true });
      assert.equal(r[0]?.error, 'InvalidConfigurationException', `${k}=${v}: ${JSON.stringify(r)}`);
    }
    // compression.type: lz4-produced batches are stored (and fetched) as gzip, identical records
    const sent = sample(40, engine);
    const acked = await java.produce({ topic: 'k4-configs', records: sent, compression: 'lz4', acks: 'all', lingerMs: 5 });
    assert.equal(acked.filter((a) => a.error).length, 0, JSON.stringify(acked.find((a) => a.error)));
    const codecs = await wireCodecs(g, 'k4-configs');
    assert.ok(codecs.length > 0, 'batches fetched');
    assert.deepEqual([...new Set(codecs)], [1], `every fetched batch is gzip (codec 1): ${codecs}`);
    const got = await java.consume({ topic: 'k4-configs', partitions: [0], offset: 'beginning', maxRecords: sent.length, timeoutMs: 30_000 });
    assert.deepEqual(got.map((r) => r.keyText), sent.map((s) => s.key));
    assert.deepEqual(got.map((r) => r.value), sent.map((s) => s.value));
  }, { timeout: 180_000 });
}

toolTest('librdkafka (confluent-kafka): CreateTopics with compression.type and other Kafka 4.x configs, DescribeConfigs', unavailable('python'), async () => {
  const g = gws.embedded!;
  const py = new PythonKafkaClient({ bootstrap: g.bootstrap });
  const version = await pythonLibrdkafkaVersion();
  const created = await py.createTopics([{ name: 'rdk-compression', partitions: 2, configs: { 'compression.type': 'zstd', 'segment.jitter.ms': 5, preallocate: 'false' } }]);
  assert.deepEqual(created.map((c) => ({ topic: c.topic, created: c.created })), [{ topic: 'rdk-compression', created: true }], `librdkafka ${version}`);
  const d = await py.describeConfigs({ topic: 'rdk-compression' });
  assert.equal(d.configs['compression.type']?.value, 'zstd');
  assert.equal(d.configs['segment.jitter.ms']?.value, '5');
  assert.equal(d.configs['preallocate']?.value, 'false');
  const bad = await py.createTopics([{ name: 'rdk-bad', partitions: 1, configs: { 'compression.type': 'brotli' } }], { allowErrors: true });
  assert.equal(bad[0]?.error, 'INVALID_CONFIG', JSON.stringify(bad));
}, { timeout: 120_000 });

toolTest('pulsar: a record larger than the broker\'s maxMessageSize fails at once with RecordTooLargeException; the next producer and a group are unaffected', pulsarSkip ?? unavailable('java'), async () => {
  const g = gws['pulsar-kafka']!;
  const java = new JavaKafkaClient({ bootstrap: g.bootstrap });
  // the topic allows 10 MiB, the shared broker's maxMessageSize is Pulsar's default 5 MiB
  await java.createTopics([{ name: 'too-large', partitions: 1, configs: { 'max.message.bytes': 10 * 1024 * 1024 } }]);
  const big = randomBytes(5 * 1024 * 1024 + 1024); // incompressible
  const bigProducer = new JavaKafkaClient({ bootstrap: g.bootstrap, config: { 'max.request.size': 8 * 1024 * 1024, 'buffer.memory': 64 * 1024 * 1024 } });
  const r = await bigProducer.produce({ topic: 'too-large', records: [{ key: 'big', value: big }], acks: 'all', allowErrors: true });
  assert.equal(r[0]?.error, 'RecordTooLargeException', JSON.stringify(r));
  // a following producer and a consumer group work as before
  const small = sample(20, 'after');
  const acked = await java.produce({ topic: 'too-large', records: small, acks: 'all' });
  assert.deepEqual(acked.map((a) => a.offset), small.map((_, i) => i), 'offsets start at 0: nothing of the refused record was stored');
  const got = await java.consume({ topic: 'too-large', group: 'after-too-large', commit: true, maxRecords: small.length, timeoutMs: 60_000 });
  assert.deepEqual(got.map((x) => x.keyText), small.map((s) => s.key));
  const offsets = await java.listGroupOffsets('after-too-large', { topic: 'too-large' });
  assert.equal(offsets[0]?.offset, small.length);
  // a record just below the bound is stored
  const fits = await bigProducer.produce({ topic: 'too-large', records: [{ key: 'fits', value: randomBytes(4 * 1024 * 1024) }], acks: 'all' });
  assert.equal(fits[0]?.offset, small.length);
}, { timeout: 240_000 });

toolTest('pulsar entryFormat=pulsar: batches produced with gzip, snappy, lz4, zstd are fetched compressed with the same codec; a Java consumer gets identical records', pulsarSkip ?? unavailable('java'), async () => {
  const g = gws['pulsar-pulsar']!;
  const java = new JavaKafkaClient({ bootstrap: g.bootstrap });
  const CODECS = [['gzip', 1], ['snappy', 2], ['lz4', 3], ['zstd', 4], ['none', 0]] as const;
  for (const [codec, id] of CODECS) {
    const topic = `wire-${codec}`;
    await java.createTopics([{ name: topic, partitions: 1 }]);
    const sent = sample(300, codec);
    const acked = await java.produce({ topic, records: sent, compression: codec, acks: 'all', lingerMs: 20 });
    assert.equal(acked.filter((a) => a.error).length, 0, JSON.stringify(acked.find((a) => a.error)));
    const codecs = await wireCodecs(g, topic);
    assert.ok(codecs.length > 0, 'batches fetched');
    assert.deepEqual([...new Set(codecs)], [id], `${codec}: codecs on the wire ${codecs}`);
    const got = await java.consume({ topic, partitions: [0], offset: 'beginning', maxRecords: sent.length, timeoutMs: 30_000 });
    assert.deepEqual(got.map((r) => r.keyText), sent.map((x) => x.key), `${codec}: keys`);
    assert.deepEqual(got.map((r) => r.value), sent.map((x) => x.value), `${codec}: values`);
    assert.deepEqual(got.map((r) => r.timestamp), sent.map((x) => x.timestamp), `${codec}: timestamps`);
    assert.deepEqual(got.map((r) => r.headers.map((h) => h.valueText)), sent.map((x) => (x.headers as Array<{ value: string }>).map((h) => h.value)), `${codec}: headers`);
  }
}, { timeout: 240_000 });

test('engines started', () => {
  assert.ok(gws.embedded);
});
