/**
 * Fetch response bounds on the wire (raw frames, the generated codec): the
 * gateway's fetchMaxBytes (Kafka's fetch.max.bytes) caps a response whatever
 * max_bytes the request asks for; a partition named many times in one request
 * is read and answered once (Kafka's fetchData map), by name and by topic id;
 * the first partition with data still returns one whole batch larger than the
 * limits (KIP-74). A real Java consumer with a small fetch.max.bytes consumes
 * everything.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { decodeResponse, encodeRequest } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { FetchRequest } from '../../src/protocol/generated/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { decodeBatchesSync, encodeBatchSync } from '../../src/protocol/records/index.js';

const BOUND = 1 << 20; // the gateway's fetchMaxBytes in this test
const BATCH_VALUE = 600_000; // two batches do not fit in BOUND
const TOPIC = 'fetch-bounds';
const INT32_MAX = 0x7fffffff;

let g: TestGateway;
let c: RawClient;
let corr = 1;

async function call<K extends number>(apiKey: K, version: number, body: unknown): Promise<{ body: any; frameBytes: number; requestBytes: number }> {
  const frame = encodeRequest(apiKey as never, version, corr++, 'fetch-bounds', body as never);
  c.send(frame);
  const payload = await c.next(30_000);
  assert.ok(payload, 'a response');
  return { body: decodeResponse(payload, apiKey as never, version).body, frameBytes: payload.length, requestBytes: frame.length };
}

function partition(fetchOffset: bigint, partitionMaxBytes = INT32_MAX) {
  return { partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes, replicaDirectoryId: Buffer.alloc(16) };
}

function fetchBody(topics: Array<{ topic: string; topicId: Buffer; partitions: ReturnType<typeof partition>[] }>, maxBytes = INT32_MAX) {
  return { ...FetchRequest.defaults(), maxWaitMs: 0, minBytes: 1, maxBytes, topics };
}

function batchBases(records: Buffer): bigint[] {
  return decodeBatchesSync(records).map((b) => b.baseOffset);
}

before(async () => {
  g = await startTestGateway({ fetchMaxBytes: BOUND });
  c = await RawClient.open(g.port);
  const created = await call(API_KEYS.CreateTopics, 5, {
    topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }],
    timeoutMs: 30_000,
    validateOnly: false,
  });
  assert.equal(created.body.topics[0].errorCode, ErrorCode.NONE);
  for (let i = 0; i < 6; i++) {
    const batch = encodeBatchSync({ records: [{ key: `k${i}`, value: Buffer.alloc(BATCH_VALUE, i) }] });
    const r = await call(API_KEYS.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: batch }] }] });
    assert.equal(r.body.responses[0].partitionResponses[0].errorCode, ErrorCode.NONE);
  }
});

after(async () => {
  c?.close();
  await g?.stop();
});

test('one partition named 1,000 times with max_bytes 2^31-1: read once, the response stays within fetchMaxBytes', async () => {
  const parts = Array.from({ length: 1000 }, () => partition(0n));
  const r = await call(API_KEYS.Fetch, 12, fetchBody([{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: parts }]));
  assert.ok(r.requestBytes < 64 * 1024, `a small request (${r.requestBytes} bytes)`);
  assert.ok(r.frameBytes <= BOUND + 1024, `response of ${r.frameBytes} bytes within the bound ${BOUND}`);
  assert.equal(r.body.responses.length, 1, 'one topic entry');
  const ps = r.body.responses[0].partitions;
  assert.equal(ps.length, 1, 'the partition is answered once');
  assert.equal(ps[0].errorCode, ErrorCode.NONE);
  assert.deepEqual(batchBases(ps[0].records), [0n], 'one 600 KB batch: a second would pass the bound');
});

test("duplicates across topic entries collapse as in Kafka's fetchData map: the last occurrence's fields count", async () => {
  const r = await call(
    API_KEYS.Fetch,
    12,
    fetchBody([
      { topic: TOPIC, topicId: Buffer.alloc(16), partitions: [partition(0n)] },
      { topic: 'no-such-topic', topicId: Buffer.alloc(16), partitions: [partition(0n)] },
      { topic: TOPIC, topicId: Buffer.alloc(16), partitions: [partition(3n)] },
    ]),
  );
  assert.deepEqual(
    r.body.responses.map((t: { topic: string; partitions: unknown[] }) => [t.topic, t.partitions.length]),
    [
      [TOPIC, 1],
      ['no-such-topic', 1],
    ],
  );
  assert.deepEqual(batchBases(r.body.responses[0].partitions[0].records), [3n], 'read from the last fetch offset given');
  assert.equal(r.body.responses[1].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
});

test('by topic id (v13+): the same id named 500 times is read and answered once', async () => {
  const info = await g.gateway.storage.describeTopic(`persistent://public/default/${TOPIC}`);
  assert.ok(info);
  const topics = Array.from({ length: 500 }, () => ({ topic: '', topicId: info.topicId, partitions: [partition(0n)] }));
  const r = await call(API_KEYS.Fetch, 13, fetchBody(topics));
  assert.ok(r.frameBytes <= BOUND + 1024, `response of ${r.frameBytes} bytes`);
  assert.equal(r.body.responses.length, 1);
  assert.ok(r.body.responses[0].topicId.equals(info.topicId));
  assert.equal(r.body.responses[0].partitions.length, 1);
  assert.deepEqual(batchBases(r.body.responses[0].partitions[0].records), [0n]);
});

test('max_bytes smaller than a batch: the first batch still comes whole (KIP-74), nothing more', async () => {
  const r = await call(API_KEYS.Fetch, 12, fetchBody([{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [partition(1n, 100)] }], 1000));
  assert.deepEqual(batchBases(r.body.responses[0].partitions[0].records), [1n]);
  assert.ok(r.body.responses[0].partitions[0].records.length > BATCH_VALUE);
});

toolTest('a Java consumer with a small fetch.max.bytes consumes every record', unavailable('java'), async () => {
  const topic = 'fetch-bounds-java';
  const java = new JavaKafkaClient({ bootstrap: g.bootstrap });
  await java.createTopics([{ name: topic, partitions: 1 }]);
  const acked = await java.produce({ topic, count: 60, valueSize: 50_000, lingerMs: 50, batchSize: 300_000, acks: 'all' });
  assert.equal(acked.filter((a) => a.error).length, 0);
  const consumer = new JavaKafkaClient({ bootstrap: g.bootstrap, config: { 'fetch.max.bytes': 100_000, 'max.partition.fetch.bytes': 60_000 } });
  const got = await consumer.consume({ topic, partitions: [0], offset: 'beginning', maxRecords: 60, timeoutMs: 60_000 });
  assert.deepEqual(got.map((r) => r.offset), Array.from({ length: 60 }, (_, i) => i));
  assert.ok(got.every((r) => r.value!.length >= 50_000));
}, { timeout: 180_000 });
