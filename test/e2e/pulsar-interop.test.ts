/**
 * Interoperability of storageEngine=pulsar, entryFormat=pulsar with Pulsar applications, against a
 * real Apache Pulsar standalone broker (the run's shared one, test/helpers/pulsar.ts) and Pulsar's
 * own Java client (test/helpers/pulsar/PulsarInterop.java):
 *   1. records Kafka producers (Java kafka-clients with gzip, kcat, kafkajs) wrote through the
 *      gateway are read by a Pulsar consumer of the partitioned topic: keys (UTF-8 or base64
 *      flagged), values (null = Pulsar null value), headers as properties, timestamps as event
 *      time, in per-partition order;
 *   2. messages a Pulsar producer wrote (batched and not, LZ4 and ZSTD) to a topic created through
 *      the gateway are read by Kafka consumers (Java, confluent-kafka-python, kcat) with dense
 *      offsets, keys, values, properties as headers, event time (else publish time) as timestamp;
 *   3. Kafka and Pulsar producers take turns on one partition: the Kafka consumer sees everything
 *      in the broker's order with dense offsets (a Kafka produce after Pulsar writes gets the next
 *      offsets), and the Pulsar consumer agrees (its message index = the Kafka offset).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { PythonKafkaClient } from '../helpers/clients/python.js';
import { kcatConsume, kcatProduce } from '../helpers/clients/kcat.js';
import { kafkajsProduce } from '../helpers/clients/kafkajs.js';
import { toBuffer, type ConsumedRecord, type ProduceRecordInput } from '../helpers/clients/types.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';
import { pulsarConsume, pulsarJavaUnavailable, pulsarProduce, type PulsarConsumed, type PulsarProduced } from '../helpers/pulsar/interop.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import { tempDir } from '../helpers/temp.js';

const env = harnessEnv();
const skip = pulsarSkipReason() ?? (env.strict ? undefined : pulsarJavaUnavailable());
const BASE_TS = 1_700_000_000_000;


/** A Kafka record as it should look on either side. timestamp: exact, or a [from, to] window (producer-set CreateTime). */
interface Expected {
  what: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: Array<{ key: string; value: Buffer | null }>;
  timestamp: number | [number, number];
}

function fromInput(r: ProduceRecordInput, what: string): Expected {
  const hs = (r.headers ?? []) as Array<{ key: string; value: string | Buffer | null }>;
  return {
    what,
    key: r.key === undefined || r.key === null ? null : toBuffer(r.key),
    value: r.value === undefined || r.value === null ? null : toBuffer(r.value),
    headers: hs.map((h) => ({ key: h.key, value: h.value === null ? null : toBuffer(h.value) })),
    timestamp: r.timestamp!,
  };
}

const b64 = (s: string | null): Buffer | null => (s === null ? null : Buffer.from(s, 'base64'));

function fromPulsar(m: PulsarProduced, window: [number, number], what: string): Expected {
  return {
    what: `${what} #${m.i}`,
    key: b64(m.keyBytes),
    value: b64(m.value),
    headers: m.properties.map(([key, value]) => ({ key, value: Buffer.from(value, 'utf8') })),
    timestamp: m.eventTime !== 0 ? m.eventTime : window,
  };
}

function assertTime(got: number, want: Expected['timestamp'], what: string): void {
  if (typeof want === 'number') assert.equal(got, want, `${what}: timestamp`);
  else assert.ok(got >= want[0] && got <= want[1], `${what}: timestamp ${got} within [${want[0]}, ${want[1]}]`);
}

/** What a Pulsar consumer must see of a record a Kafka producer wrote in entryFormat=pulsar (entry-pulsar.ts). */
function assertPulsarSees(m: PulsarConsumed, e: Expected): void {
  const what = e.what;
  if (e.key === null) {
    assert.equal(m.key, null, `${what}: no key`);
  } else if (isUtf8(e.key)) {
    assert.equal(m.key, e.key.toString('utf8'), `${what}: key as a string`);
    assert.equal(m.keyB64, false, `${what}: key not base64-flagged`);
  } else {
    assert.equal(m.keyB64, true, `${what}: a non-UTF-8 key is base64-flagged`);
    assert.equal(m.keyBytes, e.key.toString('base64'), `${what}: key bytes`);
  }
  assert.equal(m.value, e.value === null ? null : e.value.toString('base64'), `${what}: value`);
  if (e.headers.length === 0) {
    // a batch message without properties of its own shows the entry's (kafka.* only)
    for (const k of Object.keys(m.properties)) assert.ok(k.startsWith('kafka.'), `${what}: no headers, but property ${k}`);
  } else {
    const props: Record<string, string> = {};
    const encoding: string[] = [];
    e.headers.forEach((h, i) => {
      if (h.value === null) {
        props[h.key] = '';
        encoding.push(`${i}n`);
      } else if (isUtf8(h.value)) {
        props[h.key] = h.value.toString('utf8');
      } else {
        props[h.key] = h.value.toString('base64');
        encoding.push(`${i}b`);
      }
    });
    if (encoding.length) props['kafka.headers.encoding'] = encoding.join(',');
    assert.deepEqual(m.properties, props, `${what}: headers as properties`);
  }
  assertTime(m.eventTime, e.timestamp, `${what} (event time)`);
}

/** What a Kafka consumer must see of a record (from a Kafka or a Pulsar producer). */
function assertKafkaSees(r: ConsumedRecord, e: Expected, offset: number, tsOverride?: number): void {
  const what = `${e.what} (offset ${offset})`;
  assert.equal(r.offset, offset, `${what}: offsets are dense`);
  assert.deepEqual(r.key, e.key, `${what}: key`);
  assert.deepEqual(r.value, e.value, `${what}: value`);
  assert.deepEqual(
    r.headers.map((h) => ({ key: h.key, value: h.value })),
    e.headers,
    `${what}: headers`,
  );
  assertTime(r.timestamp, tsOverride ?? e.timestamp, what);
  assert.equal(r.timestampType, 'CreateTime', `${what}: CreateTime`);
}

/** Records for the Java producer: null, empty, binary and text keys; null values; headers null / binary / none. */
function kafkaRecords(n: number, tag: string, partitions = 1): ProduceRecordInput[] {
  return Array.from({ length: n }, (_, i) => {
    const headers: Array<{ key: string; value: string | Buffer | null }> =
      i % 4 === 1
        ? []
        : [
            { key: 'seq', value: String(i) },
            { key: 'tag', value: `${tag}-ü` },
          ];
    if (i % 12 === 6) headers.push({ key: 'bin', value: Buffer.from([0xff, 0xfe, i]) });
    if (i % 12 === 10) headers.push({ key: 'nul', value: null });
    return {
      key: i % 8 === 0 ? null : i % 8 === 3 ? Buffer.from([0xff, 0x00, 0x80, i]) : i % 8 === 5 ? '' : `${tag}-key-${i}`,
      value: i % 10 === 4 ? null : Buffer.concat([Buffer.from(`${tag}-value-${i}-`), Buffer.alloc(i % 200, i & 0x7f)]),
      headers,
      timestamp: BASE_TS + i * 1000,
      partition: i % partitions,
    };
  });
}

if (skip) {
  test(`storageEngine=pulsar interop with Pulsar's Java client [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  let p: SharedPulsar;
  let ns: string;
  let gw: TestGateway;
  let conn: { url: string; token: string };

  before(async () => {
    p = await sharedPulsar();
    conn = { url: p.serviceUrl, token: p.adminToken };
    ns = await createNamespace(p, uniqueName('interop'));
    gw = await startTestGateway(pulsarGatewayConfig(p, ns), tempDir('kop-e2e-pulsar-interop-'));
  });
  after(async () => {
    await gw?.stop().catch(() => undefined);
  });

  toolTest(
    'pulsar interop: Kafka producers (Java gzip, kcat, kafkajs) write, the Pulsar Java consumer reads the same records per partition',
    unavailable('java', 'kcat', 'kafkajs'),
    async () => {
      const bootstrap = gw.bootstrap;
      const java = new JavaKafkaClient({ bootstrap });
      const topic = 'from-kafka';
      await java.createTopics([{ name: topic, partitions: 2 }]);
      const meta = await p.rest('GET', `/admin/v2/persistent/${ns}/${topic}/partitions`);
      assert.equal(JSON.parse(meta.text).partitions, 2, `a Pulsar partitioned topic: ${meta.text}`);

      const expected: Expected[][] = [[], []];
      // Java kafka-clients, gzip: a compressed batch becomes a ZLIB-compressed Pulsar batch
      const javaRecs = kafkaRecords(48, 'java', 2);
      const acked = await java.produce({ topic, records: javaRecs, compression: 'gzip', acks: 'all', lingerMs: 5 });
      assert.equal(acked.filter((a) => a.error).length, 0, JSON.stringify(acked.find((a) => a.error)));
      javaRecs.forEach((r, i) => expected[r.partition!]!.push(fromInput(r, `java #${i}`)));

      // kcat (librdkafka): text records, one header, CreateTime = now
      for (const partition of [0, 1]) {
        const recs = Array.from({ length: 10 }, (_, i) => ({ key: `kcat-${partition}-key-${i}`, value: `kcat-${partition}-value-${i}` }));
        const t0 = Date.now();
        await kcatProduce(bootstrap, topic, recs, { partition, headers: { src: 'kcat' }, acks: 'all' });
        const t1 = Date.now();
        recs.forEach((r, i) =>
          expected[partition]!.push({
            what: `kcat p${partition} #${i}`,
            key: Buffer.from(r.key),
            value: Buffer.from(r.value),
            headers: [{ key: 'src', value: Buffer.from('kcat') }],
            timestamp: [t0 - 1000, t1 + 1000],
          }),
        );
      }

      // kafkajs: one send per record, timestamps and headers
      const jsRecs: ProduceRecordInput[] = Array.from({ length: 12 }, (_, i) => ({
        key: i % 5 === 0 ? null : `kafkajs-key-${i}`,
        value: `kafkajs-value-${i}`,
        headers: i % 3 === 0 ? [] : [{ key: 'src', value: 'kafkajs' }, { key: 'i', value: String(i) }],
        timestamp: BASE_TS + 500_000 + i,
        partition: i % 2,
      }));
      await kafkajsProduce({ bootstrap }, { topic, records: jsRecs, acks: 'all' });
      jsRecs.forEach((r, i) => expected[r.partition!]!.push(fromInput(r, `kafkajs #${i}`)));

      const total = expected[0]!.length + expected[1]!.length;
      const got = await pulsarConsume({ ...conn, topic: `persistent://${ns}/${topic}`, subscription: 'interop-read', count: total, timeoutMs: 60_000 });
      assert.equal(got.length, total);
      for (const partition of [0, 1]) {
        const mine = got.filter((m) => m.topic === `persistent://${ns}/${topic}-partition-${partition}`);
        assert.equal(mine.length, expected[partition]!.length, `partition ${partition}: message count`);
        mine.forEach((m, i) => assertPulsarSees(m, expected[partition]![i]!));
        // the broker's index is the Kafka offset
        assert.deepEqual(
          mine.map((m) => m.index),
          mine.map((_, i) => i),
          `partition ${partition}: broker entry index = Kafka offset`,
        );
      }
    },
    { timeout: 240_000 },
  );

  toolTest(
    'pulsar interop: a Pulsar Java producer (batched and not, LZ4, ZSTD) writes; Java, confluent-kafka-python and kcat consumers read dense offsets, keys, values, headers, event times',
    unavailable('java', 'python', 'kcat'),
    async () => {
      const bootstrap = gw.bootstrap;
      const java = new JavaKafkaClient({ bootstrap });
      const python = new PythonKafkaClient({ bootstrap });
      const topic = 'from-pulsar';
      await java.createTopics([{ name: topic, partitions: 2 }]);
      const plan = [
        { partition: 0, batching: true, compression: 'LZ4', tag: 'lz4-batched', start: 0, count: 25 },
        { partition: 1, batching: false, compression: 'LZ4', tag: 'lz4-single', start: 0, count: 20 },
        { partition: 0, batching: false, compression: 'ZSTD', tag: 'zstd-single', start: 25, count: 15 },
        { partition: 1, batching: true, compression: 'ZSTD', tag: 'zstd-batched', start: 20, count: 30 },
      ] as const;
      const expected: Expected[][] = [[], []];
      for (const s of plan) {
        const t0 = Date.now();
        const sent = await pulsarProduce({ ...conn, topic: `persistent://${ns}/${topic}-partition-${s.partition}`, ...s });
        const t1 = Date.now();
        assert.equal(sent.length, s.count);
        sent.forEach((m) => expected[s.partition]!.push(fromPulsar(m, [t0 - 1000, t1 + 1000], s.tag)));
      }
      const latest = await java.listOffsets(topic, 'latest');
      assert.deepEqual(
        latest.map((o) => [o.partition, o.offset]).sort(),
        [
          [0, expected[0]!.length],
          [1, expected[1]!.length],
        ],
        'ListOffsets latest = message count per partition',
      );
      for (const partition of [0, 1]) {
        const want = expected[partition]!;
        const viaJava = await java.consume({ topic, partitions: [partition], offset: 'beginning', maxRecords: want.length, timeoutMs: 30_000 });
        assert.equal(viaJava.length, want.length, `java: partition ${partition} count`);
        viaJava.forEach((r, i) => assertKafkaSees(r, want[i]!, i));
        const viaPython = await python.consume({ topic, partitions: [partition], offset: 'beginning', maxRecords: want.length, timeoutMs: 30_000 });
        assert.equal(viaPython.length, want.length, `python: partition ${partition} count`);
        // both clients see the same timestamps (publish time where no event time was set)
        viaPython.forEach((r, i) => assertKafkaSees(r, want[i]!, i, viaJava[i]!.timestamp));
        // kcat prints text: compare what is text
        const viaKcat = await kcatConsume(bootstrap, topic, { partition, offset: 'beginning', count: want.length });
        assert.deepEqual(
          viaKcat.map((r) => r.offset),
          want.map((_, i) => i),
          `kcat: partition ${partition} offsets`,
        );
        viaKcat.forEach((r, i) => {
          const e = want[i]!;
          assert.equal(r.timestamp, viaJava[i]!.timestamp, `kcat ${e.what}: timestamp`);
          if (e.key === null) assert.equal(r.key, null, `kcat ${e.what}: key`);
          else if (isUtf8(e.key)) assert.equal(r.key, e.key.toString('utf8'), `kcat ${e.what}: key`);
          if (e.value === null) assert.equal(r.value, null, `kcat ${e.what}: value`);
          else if (isUtf8(e.value)) assert.equal(r.value, e.value.toString('utf8'), `kcat ${e.what}: value`);
          assert.deepEqual(
            r.headers,
            e.headers.map((h) => ({ key: h.key, value: h.value!.toString('utf8') })),
            `kcat ${e.what}: headers`,
          );
        });
      }
    },
    { timeout: 300_000 },
  );

  toolTest(
    'pulsar interop: Kafka and Pulsar producers take turns on one partition; Kafka and Pulsar consumers see one order, dense offsets',
    unavailable('java', 'kafkajs'),
    async () => {
      const bootstrap = gw.bootstrap;
      const java = new JavaKafkaClient({ bootstrap });
      const topic = 'mixed';
      await java.createTopics([{ name: topic, partitions: 1 }]);
      const partitionTopic = `persistent://${ns}/${topic}-partition-0`;
      const expected: Expected[] = [];
      const window = (): [number, number] => [Date.now() - 1000, Date.now() + 60_000];

      const k1 = kafkaRecords(5, 'java-1');
      const a1 = await java.produce({ topic, records: k1, acks: 'all' });
      assert.deepEqual(a1.map((a) => a.offset), [0, 1, 2, 3, 4]);
      k1.forEach((r, i) => expected.push(fromInput(r, `java-1 #${i}`)));

      let w = window();
      for (const m of await pulsarProduce({ ...conn, topic: partitionTopic, count: 6, batching: true, tag: 'pulsar-1' })) expected.push(fromPulsar(m, w, 'pulsar-1'));

      const k2: ProduceRecordInput[] = Array.from({ length: 4 }, (_, i) => ({
        key: `kafkajs-${i}`,
        value: `kafkajs-value-${i}`,
        headers: [{ key: 'src', value: 'kafkajs' }],
        timestamp: BASE_TS + 900_000 + i,
      }));
      const a2 = await kafkajsProduce({ bootstrap }, { topic, records: k2, acks: 'all' });
      assert.deepEqual(a2.map((a) => a.offset), [11, 12, 13, 14], 'kafkajs after 6 Pulsar messages: offsets continue');
      k2.forEach((r, i) => expected.push(fromInput(r, `kafkajs #${i}`)));

      w = window();
      for (const m of await pulsarProduce({ ...conn, topic: partitionTopic, count: 5, start: 6, batching: false, compression: 'ZSTD', tag: 'pulsar-2' })) {
        expected.push(fromPulsar(m, w, 'pulsar-2'));
      }

      const k3 = kafkaRecords(3, 'java-2');
      const a3 = await java.produce({ topic, records: k3, acks: 'all', compression: 'lz4' });
      assert.deepEqual(a3.map((a) => a.offset), [20, 21, 22], 'Java after 5 more Pulsar messages: offsets continue');
      k3.forEach((r, i) => expected.push(fromInput(r, `java-2 #${i}`)));

      const viaKafka = await java.consume({ topic, partitions: [0], offset: 'beginning', maxRecords: expected.length, timeoutMs: 30_000 });
      assert.equal(viaKafka.length, expected.length);
      const viaPulsar = await pulsarConsume({ ...conn, topic: `persistent://${ns}/${topic}`, subscription: 'mixed-read', count: expected.length });
      assert.equal(viaPulsar.length, expected.length);
      viaKafka.forEach((r, i) => {
        const m = viaPulsar[i]!;
        assert.equal(m.index, i, `${expected[i]!.what}: Pulsar's index = the Kafka offset`);
        assertKafkaSees(r, expected[i]!, i, m.eventTime !== 0 ? m.eventTime : m.publishTime);
        // same record on the Pulsar side: the Kafka records' view, or the Pulsar message as sent
        assert.equal(m.value, expected[i]!.value === null ? null : expected[i]!.value!.toString('base64'), `${expected[i]!.what}: Pulsar value`);
      });
    },
    { timeout: 240_000 },
  );
}
