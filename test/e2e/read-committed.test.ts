/**
 * Fetch and ListOffsets with isolation_level=1 (read_committed) on the wire
 * (raw frames, the generated codec), against the in-process gateway on the
 * embedded engine: records only up to the last stable offset, last_stable_offset
 * and aborted_transactions as Kafka fills them, ListOffsets LATEST = the LSO, and
 * a read_committed long-poll woken by the COMMIT/ABORT marker that moves the LSO.
 * Markers are written through the storage engine (what the transaction
 * coordinator does); the transactional batches come in through Produce.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';
import { decodeResponse, encodeRequest } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { FetchRequest } from '../../src/protocol/generated/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { decodeBatchesSync, encodeBatchSync } from '../../src/protocol/records/index.js';

const TOPIC = 'read-committed';
const FULL = 'persistent://public/default/read-committed';
let g: TestGateway;
let c: RawClient;
let corr = 1;
let a = -1n;
let b = -1n;

async function call<K extends number>(apiKey: K, version: number, body: unknown, timeoutMs = 30_000): Promise<any> {
  c.send(encodeRequest(apiKey as never, version, corr++, 'read-committed', body as never));
  const payload = await c.next(timeoutMs);
  assert.ok(payload, 'a response');
  return decodeResponse(payload, apiKey as never, version).body;
}

async function produce(records: Buffer): Promise<bigint> {
  const r = await call(API_KEYS.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: TOPIC, partitionData: [{ index: 0, records }] }] });
  const p = r.responses[0].partitionResponses[0];
  assert.equal(p.errorCode, ErrorCode.NONE, p.errorMessage ?? '');
  return p.baseOffset;
}

function fetchBody(fetchOffset: bigint, isolationLevel: number, maxWaitMs = 0) {
  return {
    ...FetchRequest.defaults(),
    maxWaitMs,
    minBytes: 1,
    maxBytes: 1 << 20,
    isolationLevel,
    topics: [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [{ partition: 0, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20 }] }],
  };
}

async function fetchAt(fetchOffset: bigint, isolationLevel: number, maxWaitMs = 0) {
  const r = await call(API_KEYS.Fetch, 12, fetchBody(fetchOffset, isolationLevel, maxWaitMs), maxWaitMs + 30_000);
  const p = r.responses[0].partitions[0];
  assert.equal(p.errorCode, ErrorCode.NONE);
  const batches = p.records && p.records.length > 0 ? decodeBatchesSync(Buffer.isBuffer(p.records) ? p.records : Buffer.concat(p.records)) : [];
  return { p, bases: batches.map((x) => x.baseOffset), controls: batches.filter((x) => x.isControl).map((x) => x.baseOffset) };
}

async function latest(isolationLevel: number): Promise<bigint> {
  const r = await call(API_KEYS.ListOffsets, 5, { replicaId: -1, isolationLevel, topics: [{ name: TOPIC, partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] });
  const p = r.topics[0].partitions[0];
  assert.equal(p.errorCode, ErrorCode.NONE);
  return p.offset;
}

const txn = (pid: bigint, seq: number, n: number, tag: string) =>
  encodeBatchSync({ records: Array.from({ length: n }, (_, i) => ({ key: `${tag}${i}`, value: `${tag}-v${i}` })), producerId: pid, producerEpoch: 0, baseSequence: seq, transactional: true });

before(async () => {
  g = await startTestGateway();
  c = await RawClient.open(g.port);
  const created = await call(API_KEYS.CreateTopics, 5, { topics: [{ name: TOPIC, numPartitions: 1, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false });
  assert.equal(created.topics[0].errorCode, ErrorCode.NONE);
  a = await g.gateway.storage.allocateProducerId();
  b = await g.gateway.storage.allocateProducerId();
  assert.equal(await produce(encodeBatchSync({ records: [{ key: 'p', value: 'plain' }] })), 0n);
  assert.equal(await produce(txn(a, 0, 2, 'a')), 1n); // A's transaction opens at 1
  assert.equal(await produce(txn(b, 0, 1, 'b')), 3n); // B's at 3
});

after(async () => {
  c?.close();
  await g?.stop();
});

test('read_committed Fetch stops at the LSO and reports it; read_uncommitted reads on; ListOffsets LATEST answers the LSO for read_committed', async () => {
  const rc = await fetchAt(0n, 1);
  assert.deepEqual(rc.bases, [0n], 'only the batch below the open transaction');
  assert.deepEqual([rc.p.highWatermark, rc.p.lastStableOffset], [4n, 1n]);
  assert.deepEqual(rc.p.abortedTransactions, []);
  const ru = await fetchAt(0n, 0);
  assert.deepEqual(ru.bases, [0n, 1n, 3n]);
  assert.equal(ru.p.lastStableOffset, 1n);
  assert.equal(ru.p.abortedTransactions, null, 'read_uncommitted: no aborted transactions list');
  assert.equal(await latest(1), 1n);
  assert.equal(await latest(0), 4n);
  // a plain batch from a producer inside a transaction is refused as Kafka does
  const r = await call(API_KEYS.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30_000,
    topicData: [{ name: TOPIC, partitionData: [{ index: 0, records: encodeBatchSync({ records: [{ key: 'x', value: 'x' }], producerId: a, producerEpoch: 0, baseSequence: 2 }) }] }],
  });
  assert.equal(r.responses[0].partitionResponses[0].errorCode, ErrorCode.INVALID_TXN_STATE);
});

test('a read_committed long-poll at the LSO is woken by the ABORT marker; aborted_transactions lists the aborted transaction; COMMIT then releases the rest', async () => {
  const started = Date.now();
  const waiting = fetchAt(1n, 1, 60_000);
  await new Promise((r) => setTimeout(r, 200));
  const marker = await g.gateway.storage.writeTxnMarker({ topic: FULL, partition: 0 }, { producerId: a, producerEpoch: 0, commit: false, coordinatorEpoch: 0 });
  assert.equal(marker.offset, 4n);
  const r = await waiting;
  assert.ok(Date.now() - started < 30_000, 'woken by the marker, not the 60 s max wait');
  assert.deepEqual(r.bases, [1n], "A's batch, up to the new LSO (B still open at 3)");
  assert.equal(r.p.lastStableOffset, 3n);
  assert.deepEqual(r.p.abortedTransactions, [{ producerId: a, firstOffset: 1n }]);
  assert.equal(await latest(1), 3n);
  await g.gateway.storage.writeTxnMarker({ topic: FULL, partition: 0 }, { producerId: b, producerEpoch: 0, commit: true, coordinatorEpoch: 0 });
  const rest = await fetchAt(3n, 1);
  assert.deepEqual(rest.bases, [3n, 4n, 5n]);
  assert.deepEqual(rest.controls, [4n, 5n], 'the markers are delivered (clients skip them)');
  assert.deepEqual(rest.p.abortedTransactions, [{ producerId: a, firstOffset: 1n }], "A's ABORT marker at 4 is in the range read");
  assert.deepEqual([rest.p.highWatermark, rest.p.lastStableOffset], [6n, 6n]);
  assert.equal(await latest(1), 6n);
});
