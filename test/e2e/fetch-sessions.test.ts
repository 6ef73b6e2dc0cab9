/**
 * Incremental fetch sessions (KIP-227) and the presented __consumer_offsets,
 * on a gateway with SASL and policy-file authorization:
 *
 * - raw frames: a full fetch opens a session; incremental fetches carry only
 *   what changed, take updated and forgotten partitions, and get Kafka's codes
 *   for an unknown id, a wrong epoch, a topic-id mismatch and another
 *   connection's session; a revoked consume grant answers the session's
 *   partitions TOPIC_AUTHORIZATION_FAILED at the next fetch (sessions never
 *   cache authorization); a closed connection frees its sessions;
 * - __consumer_offsets: listed as internal with the offsets partitions, by
 *   name, in the full listing and by the Java AdminClient (internal only);
 *   DescribeConfigs shows Kafka's configs of it; Produce refused
 *   (INVALID_TOPIC_EXCEPTION), Fetch answered from the namespace's log;
 * - real clients that use sessions (the Java consumer, franz-go) or not
 *   (librdkafka via kcat) consume every record of a many-partition topic
 *   exactly once;
 * - the Pulsar engine with two gateway nodes: sessions are per node (another
 *   node answers FETCH_SESSION_ID_NOT_FOUND, a full fetch there opens one),
 *   and a Java consumer consumes exactly with sessions.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { startTestGateway, repoRoot, type TestGateway } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';
import { toolTest, unavailable, skipsFor } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { kcatConsume } from '../helpers/clients/kcat.js';
import { commandExists, runCommand } from '../helpers/clients/proc.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import { decodeResponse, encodeRequest, type ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import { API_KEYS, type RequestBodies, type ResponseBodies } from '../../src/protocol/generated/apis.js';
import { FetchRequest, MetadataRequest } from '../../src/protocol/generated/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { decodeBatchesSync, encodeBatchSync } from '../../src/protocol/records/index.js';
import type { FetchSessionCache } from '../../src/handlers/fetch-session.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';

const secret = randomBytes(32);
const dir = mkdtempSync(join(tmpdir(), 'kop-fetch-sessions-'));
const policies = join(dir, 'policies');
const OFFSETS_PARTITIONS = 7;
const TOPIC = 'sessions';
const POLICY = {
  adminRoles: ['acme-admin'],
  namespaces: { orders: { permissions: { alice: ['produce', 'consume'], carol: ['produce', 'consume'] } } },
};
let gw: TestGateway;

function writePolicy(body: object): void {
  writeFileSync(join(policies, 'acme.json'), JSON.stringify({ tenant: 'acme', ...body }, null, 2));
}

async function token(sub: string): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

class Raw {
  private corr = 1;
  private constructor(private readonly c: RawClient) {}
  static async login(role: string): Promise<Raw> {
    const raw = new Raw(await RawClient.open(gw.port));
    await raw.call(API_KEYS.SaslHandshake, 1, { mechanism: 'PLAIN' });
    const auth = await raw.call(API_KEYS.SaslAuthenticate, 1, { authBytes: Buffer.from(`\u0000acme/orders\u0000token:${await token(role)}`) });
    assert.equal(auth.errorCode, ErrorCode.NONE, String(auth.errorMessage));
    return raw;
  }
  async call<K extends ApiKeyNumber>(key: K, version: number, body: RequestBodies[K]): Promise<ResponseBodies[K]> {
    this.c.send(encodeRequest(key, version, this.corr++, 'fetch-sessions', body));
    const frame = await this.c.next(20_000);
    assert.ok(frame, `a response to API ${key}`);
    return decodeResponse(frame, key, version).body;
  }
  get closed(): boolean {
    return this.c.closed;
  }
  close(): void {
    this.c.close();
  }
}

function sessions(): FetchSessionCache {
  const s = gw.gateway.context.fetchSessions;
  assert.ok(s, 'the gateway keeps fetch sessions');
  return s;
}

function part(partition: number, fetchOffset: bigint) {
  return { partition, currentLeaderEpoch: -1, fetchOffset, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: Buffer.alloc(16) };
}

type FetchBody = RequestBodies[typeof API_KEYS.Fetch];
function fetchBody(sessionId: number, sessionEpoch: number, topics: FetchBody['topics'], forgotten: FetchBody['forgottenTopicsData'] = []): FetchBody {
  return { ...FetchRequest.defaults(), maxWaitMs: 0, minBytes: 0, sessionId, sessionEpoch, topics, forgottenTopicsData: forgotten };
}

/** [partition, record offsets] of each partition a response carries. */
function carried(r: ResponseBodies[typeof API_KEYS.Fetch]): Array<[number, number, bigint[]]> {
  return r.responses.flatMap((t) =>
    t.partitions.map((p): [number, number, bigint[]] => [p.partitionIndex, p.errorCode, p.records && (p.records as Buffer).length > 0 ? decodeBatchesSync(p.records as Buffer).map((b) => b.baseOffset) : []]),
  );
}

async function produce(raw: Raw, topic: string, partition: number, value: string): Promise<number> {
  const r = await raw.call(API_KEYS.Produce, 9, {
    transactionalId: null,
    acks: -1,
    timeoutMs: 10_000,
    topicData: [{ name: topic, partitionData: [{ index: partition, records: encodeBatchSync({ records: [{ key: null, value: Buffer.from(value) }] }) }] }],
  });
  return r.responses[0]!.partitionResponses[0]!.errorCode;
}

before(async () => {
  mkdirSync(policies, { recursive: true });
  writePolicy(POLICY);
  gw = await startTestGateway(
    {
      kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      authenticationEnabled: true,
      authorizationEnabled: true,
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      superUserRoles: 'admin',
      policiesDirectory: policies,
      policiesRefreshIntervalMs: 200,
      kafkaTenant: 'acme',
      kafkaNamespace: 'orders',
      offsetsTopicNumPartitions: OFFSETS_PARTITIONS,
      offsetsLogNumPartitions: OFFSETS_PARTITIONS,
      fetchSessionsPerConnection: 2,
    },
    join(dir, 'data'),
  );
  const admin = await Raw.login('acme-admin');
  const created = await admin.call(API_KEYS.CreateTopics, 5, {
    topics: [{ name: TOPIC, numPartitions: 3, replicationFactor: -1, assignments: [], configs: [] }],
    timeoutMs: 10_000,
    validateOnly: false,
  });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  admin.close();
});

after(async () => {
  await gw?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test('a full fetch opens a session; incremental fetches carry only what changed, take updates and forgotten partitions', async () => {
  const alice = await Raw.login('alice');
  assert.equal(await produce(alice, TOPIC, 0, 'p0-a'), ErrorCode.NONE);
  const full = await alice.call(API_KEYS.Fetch, 12, fetchBody(0, 0, [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [part(0, 0n), part(1, 0n), part(2, 0n)] }]));
  assert.equal(full.errorCode, ErrorCode.NONE);
  assert.notEqual(full.sessionId, 0, 'a session was opened');
  const id = full.sessionId;
  assert.deepEqual(carried(full), [
    [0, ErrorCode.NONE, [0n]],
    [1, ErrorCode.NONE, []],
    [2, ErrorCode.NONE, []],
  ]);

  // the client moves partition 0 on; nothing else changed: an empty answer
  const quiet = await alice.call(API_KEYS.Fetch, 12, fetchBody(id, 1, [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [part(0, 1n)] }]));
  assert.equal(quiet.sessionId, id);
  assert.deepEqual(carried(quiet), []);

  // new records on partition 2 only: the incremental answer carries just that partition (from the cached offset 0)
  assert.equal(await produce(alice, TOPIC, 2, 'p2-a'), ErrorCode.NONE);
  const changed = await alice.call(API_KEYS.Fetch, 12, fetchBody(id, 2, []));
  assert.deepEqual(carried(changed), [[2, ErrorCode.NONE, [0n]]]);
  assert.equal(changed.responses[0]!.partitions[0]!.highWatermark, 1n);

  // forget partition 2; partition 1 gets a record: only 1 is carried; partition 2's next record is not
  const forgot = await alice.call(API_KEYS.Fetch, 12, fetchBody(id, 3, [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [part(2, 1n)] }], [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [2] }]));
  assert.deepEqual(carried(forgot), [], 'partition 2 named and forgotten in one request: forgotten');
  assert.equal(await produce(alice, TOPIC, 1, 'p1-a'), ErrorCode.NONE);
  assert.equal(await produce(alice, TOPIC, 2, 'p2-b'), ErrorCode.NONE);
  const after = await alice.call(API_KEYS.Fetch, 12, fetchBody(id, 4, []));
  assert.deepEqual(carried(after), [[1, ErrorCode.NONE, [0n]]]);

  // epoch -1 closes it: a sessionless full answer
  const closing = await alice.call(API_KEYS.Fetch, 12, fetchBody(id, -1, [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [part(0, 0n)] }]));
  assert.equal(closing.sessionId, 0);
  assert.deepEqual(carried(closing), [[0, ErrorCode.NONE, [0n]]]);
  const gone = await alice.call(API_KEYS.Fetch, 12, fetchBody(id, 5, []));
  assert.equal(gone.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  alice.close();
});

test("Kafka's session error codes: unknown id, wrong epoch, topic-id mismatch, another connection's session", async () => {
  const alice = await Raw.login('alice');
  const other = await Raw.login('alice');
  const full = await alice.call(API_KEYS.Fetch, 12, fetchBody(0, 0, [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [part(0, 0n)] }]));
  const id = full.sessionId;
  assert.notEqual(id, 0);
  const check = async (raw: Raw, v: number, sessionId: number, epoch: number, code: number, what: string) => {
    const r = await raw.call(API_KEYS.Fetch, v, fetchBody(sessionId, epoch, []));
    assert.equal(r.errorCode, code, what);
    assert.equal(r.sessionId, 0, what);
    assert.deepEqual(r.responses, [], what);
  };
  await check(alice, 12, id ^ 0x5a5a5a, 1, ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 'unknown id');
  await check(alice, 12, id, 7, ErrorCode.INVALID_FETCH_SESSION_EPOCH, 'wrong epoch');
  await check(alice, 13, id, 1, ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR, 'a name session used by v13');
  await check(other, 12, id, 1, ErrorCode.FETCH_SESSION_ID_NOT_FOUND, "another connection's session");
  // none of these touched the session: epoch 1 still works
  const ok = await alice.call(API_KEYS.Fetch, 12, fetchBody(id, 1, []));
  assert.equal(ok.errorCode, ErrorCode.NONE);
  assert.equal(ok.sessionId, id);

  // a connection's third session (fetchSessionsPerConnection=2) ends its least recently used one
  const second = await alice.call(API_KEYS.Fetch, 12, fetchBody(0, 0, [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [part(1, 0n)] }]));
  const third = await alice.call(API_KEYS.Fetch, 12, fetchBody(0, 0, [{ topic: TOPIC, topicId: Buffer.alloc(16), partitions: [part(2, 0n)] }]));
  assert.ok(second.sessionId !== 0 && third.sessionId !== 0);
  await check(alice, 12, id, 2, ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 'the least recently used session was closed');

  // a closed connection frees its sessions
  const before = sessions().size;
  alice.close();
  other.close();
  for (let i = 0; i < 50 && sessions().size > before - 2; i++) await sleep(50);
  assert.equal(sessions().size, before - 2);
});

test('v13+ sessions by topic id; a session never caches authorization: a revoked grant refuses its partitions at the next fetch', async () => {
  const carol = await Raw.login('carol');
  const meta = await carol.call(API_KEYS.Metadata, 12, { ...MetadataRequest.defaults(), topics: [{ topicId: Buffer.alloc(16), name: TOPIC }] });
  const topicId = meta.topics[0]!.topicId;
  const full = await carol.call(API_KEYS.Fetch, 13, fetchBody(0, 0, [{ topic: '', topicId, partitions: [part(0, 0n), part(1, 0n)] }]));
  assert.notEqual(full.sessionId, 0);
  assert.ok(full.responses[0]!.topicId.equals(topicId));
  assert.equal(full.responses[0]!.partitions.length, 2);
  // the client moves both partitions to their ends: nothing changed, nothing carried
  const ends = full.responses[0]!.partitions.map((p) => part(p.partitionIndex, p.highWatermark));
  const quiet = await carol.call(API_KEYS.Fetch, 13, fetchBody(full.sessionId, 1, [{ topic: '', topicId, partitions: ends }]));
  assert.deepEqual(quiet.responses, []);

  writePolicy({ ...POLICY, namespaces: { orders: { permissions: { alice: ['produce', 'consume'] } } } });
  try {
    let epoch = 2;
    let refused: ResponseBodies[typeof API_KEYS.Fetch] | null = null;
    for (let i = 0; i < 100 && !refused; i++) {
      const r = await carol.call(API_KEYS.Fetch, 13, fetchBody(full.sessionId, epoch++, []));
      assert.equal(r.errorCode, ErrorCode.NONE);
      if (r.responses.length > 0) refused = r;
      else await sleep(50);
    }
    assert.ok(refused, 'the revocation reached the open session');
    assert.deepEqual(
      refused.responses[0]!.partitions.map((p) => [p.partitionIndex, p.errorCode]),
      [
        [0, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
        [1, ErrorCode.TOPIC_AUTHORIZATION_FAILED],
      ],
      "every partition of the session, though the request named none",
    );
    assert.ok(refused.responses[0]!.partitions.every((p) => (p.records as Buffer).length === 0), 'no records');
  } finally {
    writePolicy(POLICY);
  }
  carol.close();
});

test('__consumer_offsets: listed as an internal topic with the offsets partitions; not writable; readable (the namespace\'s log, test/e2e/offsets-topic.test.ts)', async () => {
  const alice = await Raw.login('alice');
  const named = await alice.call(API_KEYS.Metadata, 12, { ...MetadataRequest.defaults(), topics: [{ topicId: Buffer.alloc(16), name: '__consumer_offsets' }], allowAutoTopicCreation: true });
  const t = named.topics[0]!;
  assert.equal(t.errorCode, ErrorCode.NONE);
  assert.equal(t.isInternal, true);
  assert.equal(t.partitions.length, OFFSETS_PARTITIONS);
  const all = await alice.call(API_KEYS.Metadata, 12, { ...MetadataRequest.defaults(), topics: null });
  const listed = all.topics.filter((x) => x.name === '__consumer_offsets');
  assert.equal(listed.length, 1, 'listed once in the full listing');
  assert.equal(listed[0]!.isInternal, true);
  assert.ok(all.topics.some((x) => x.name === TOPIC && !x.isInternal));
  assert.equal(await produce(alice, '__consumer_offsets', 0, 'x'), ErrorCode.INVALID_TOPIC_EXCEPTION);
  const f = await alice.call(API_KEYS.Fetch, 12, fetchBody(0, -1, [{ topic: '__consumer_offsets', topicId: Buffer.alloc(16), partitions: [part(0, 0n)] }]));
  assert.equal(f.responses[0]!.partitions[0]!.errorCode, ErrorCode.NONE, 'alice may consume in acme/orders: she reads its groups\' log');
  // ListOffsets (latest) and OffsetForLeaderEpoch answer over the same log
  const lo = await alice.call(API_KEYS.ListOffsets, 7, { replicaId: -1, isolationLevel: 0, timeoutMs: 0, topics: [{ name: '__consumer_offsets', partitions: [{ partitionIndex: 0, currentLeaderEpoch: -1, timestamp: -1n, maxNumOffsets: 1 }] }] });
  assert.deepEqual(lo.topics[0]!.partitions.map((x) => [x.errorCode, x.offset]), [[ErrorCode.NONE, 0n]]);
  const ofle = await alice.call(API_KEYS.OffsetForLeaderEpoch, 4, { replicaId: -1, topics: [{ topic: '__consumer_offsets', partitions: [{ partition: 0, currentLeaderEpoch: -1, leaderEpoch: 0 }] }] });
  assert.deepEqual(ofle.topics[0]!.partitions.map((x) => [x.errorCode, x.endOffset]), [[ErrorCode.NONE, 0n]]);
  // DescribeConfigs (kafka-topics.sh --describe): Kafka's configs of it
  const configs = await alice.call(API_KEYS.DescribeConfigs, 4, { resources: [{ resourceType: 2, resourceName: '__consumer_offsets', configurationKeys: ['cleanup.policy', 'segment.bytes'] }], includeSynonyms: false, includeDocumentation: false });
  const res = configs.results[0]!;
  assert.equal(res.errorCode, ErrorCode.NONE, String(res.errorMessage));
  assert.deepEqual(
    res.configs.map((c) => [c.name, c.value]),
    [
      ['cleanup.policy', 'compact'],
      ['segment.bytes', '104857600'],
    ],
  );
  // the namespace's log, made for the first reader that may look it up (no group has committed here)
  const log = await gw.gateway.context.storage.describeTopic('persistent://acme/orders/__consumer_offsets');
  assert.equal(log?.internal, true);
  assert.equal(log?.partitions, OFFSETS_PARTITIONS);
  alice.close();
});

// ---------------------------------------------------------------- real clients over many partitions

const MANY = 60;
const PER_PARTITION = 5;

async function manyPartitionTopic(name: string): Promise<void> {
  const admin = await Raw.login('acme-admin');
  const created = await admin.call(API_KEYS.CreateTopics, 5, { topics: [{ name, numPartitions: MANY, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 10_000, validateOnly: false });
  assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
  // one Produce request: a batch of PER_PARTITION records on each partition
  const partitionData = Array.from({ length: MANY }, (_, p) => ({
    index: p,
    records: encodeBatchSync({ records: Array.from({ length: PER_PARTITION }, (_, i) => ({ key: null, value: Buffer.from(`${p}-${i}`) })) }),
  }));
  const r = await admin.call(API_KEYS.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 10_000, topicData: [{ name, partitionData }] });
  assert.deepEqual(new Set(r.responses[0]!.partitionResponses.map((x) => x.errorCode)), new Set([ErrorCode.NONE]));
  admin.close();
}

function expectedValues(): string[] {
  const out: string[] = [];
  for (let p = 0; p < MANY; p++) for (let i = 0; i < PER_PARTITION; i++) out.push(`${p}-${i}`);
  return out.sort();
}

function security(role: string, jwt: string) {
  void role;
  return { protocol: 'SASL_PLAINTEXT' as const, mechanism: 'PLAIN' as const, username: 'acme/orders', password: `token:${jwt}` };
}

toolTest(`the Java consumer over ${MANY} partitions uses incremental sessions and consumes every record exactly once`, unavailable('java'), async () => {
  const topic = 'sessions-java';
  await manyPartitionTopic(topic);
  const before = { created: sessions().created, incremental: sessions().incrementalFetches };
  // small fetches: many rounds, each partition's position moves through incremental requests
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, security: security('alice', await token('alice')), config: { 'max.partition.fetch.bytes': 200, 'fetch.max.bytes': 2000 } });
  const got = await java.consume({ topic, maxRecords: MANY * PER_PARTITION, timeoutMs: 90_000 });
  assert.deepEqual(got.map((r) => r.valueText ?? '').sort(), expectedValues());
  assert.equal(new Set(got.map((r) => `${r.partition}/${r.offset}`)).size, MANY * PER_PARTITION, 'no duplicates');
  assert.ok(sessions().created > before.created, 'the consumer opened a session');
  assert.ok(sessions().incrementalFetches > before.incremental, 'and fetched incrementally');
  // the Java AdminClient lists __consumer_offsets only when asked for internal topics, and as internal
  const listed = await java.listTopics({ internal: true });
  assert.deepEqual(listed.filter((t) => t.topic === '__consumer_offsets').map((t) => t.internal), [true]);
  assert.ok(!(await java.listTopics()).some((t) => t.topic === '__consumer_offsets'));
}, { timeout: 180_000 });

toolTest(`librdkafka (kcat) over ${MANY} partitions consumes every record exactly once`, unavailable('kcat'), async () => {
  const topic = 'sessions-kcat';
  await manyPartitionTopic(topic);
  const got = await kcatConsume(gw.bootstrap, topic, { security: security('alice', await token('alice')), timeoutMs: 60_000 });
  assert.deepEqual(got.map((r) => r.value ?? '').sort(), expectedValues());
}, { timeout: 120_000 });

const goWhy = commandExists('go') ? undefined : 'go not installed (franz-go driver)';
test(`franz-go over ${MANY} partitions (sessions) consumes every record exactly once; its regex consumer starts without waiting for __consumer_offsets`, { skip: skipsFor(goWhy), timeout: 300_000 }, async () => {
  const topic = 'sessions-franz';
  await manyPartitionTopic(topic);
  const bin = join(harnessEnv().cacheDir, 'franz-fetch', 'franz-fetch');
  const build = await runCommand('go', ['build', '-o', bin, '.'], { cwd: join(repoRoot, 'test', 'e2e', 'drivers', 'franz-fetch'), timeoutMs: 300_000 });
  assert.equal(build.code, 0, `go build failed:\n${build.stderr}`);
  const before = sessions().incrementalFetches;
  const jwt = await token('alice');
  const run = await runCommand(bin, [gw.bootstrap, 'acme/orders', `token:${jwt}`, topic, String(MANY * PER_PARTITION)], { timeoutMs: 120_000 });
  assert.equal(run.code, 0, `franz-fetch failed:\n${run.stdout}\n${run.stderr}`);
  const out = JSON.parse(run.stdout.trim().split('\n').pop()!) as { values: string[]; regexMs: number; regexValues: number; internalListed: boolean };
  assert.deepEqual(out.values.sort(), expectedValues());
  assert.ok(sessions().incrementalFetches > before, 'franz-go fetched incrementally');
  assert.equal(out.internalListed, true, '__consumer_offsets is internal in franz-go metadata');
  assert.equal(out.regexValues, MANY * PER_PARTITION, 'the regex consumer consumed the topic');
});

// ---------------------------------------------------------------- the Pulsar engine, two gateway nodes

const pulsarSkip = pulsarSkipReason();
test(
  pulsarSkip ? `pulsar: sessions per node [skipped: ${pulsarSkip}]` : 'pulsar: sessions are per gateway node (another node answers FETCH_SESSION_ID_NOT_FOUND, a full fetch there works); a Java consumer over 20 partitions consumes exactly',
  { skip: pulsarSkip, timeout: 240_000 },
  async () => {
    const p = await sharedPulsar();
    const ns = await createNamespace(p, uniqueName('fsess'));
    const nodes: TestGateway[] = [];
    try {
      for (const nodeId of [1, 2]) nodes.push(await startTestGateway({ ...pulsarGatewayConfig(p, ns), kafkaNodeId: nodeId }));
      const [one, two] = nodes as [TestGateway, TestGateway];
      const topic = 'sessions-pulsar';
      const parts = 20;
      const c1 = await RawClient.open(one.port);
      const c2 = await RawClient.open(two.port);
      let corr = 1;
      const call = async <K extends ApiKeyNumber>(c: RawClient, key: K, v: number, body: RequestBodies[K]): Promise<ResponseBodies[K]> => {
        c.send(encodeRequest(key, v, corr++, 'fetch-sessions', body));
        const frame = await c.next(30_000);
        assert.ok(frame);
        return decodeResponse(frame, key, v).body;
      };
      const created = await call(c1, API_KEYS.CreateTopics, 5, { topics: [{ name: topic, numPartitions: parts, replicationFactor: -1, assignments: [], configs: [] }], timeoutMs: 30_000, validateOnly: false });
      assert.equal(created.topics[0]!.errorCode, ErrorCode.NONE);
      for (let q = 0; q < parts; q++) {
        for (let i = 0; i < 3; i++) {
          const r = await call(c1, API_KEYS.Produce, 9, { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: q, records: encodeBatchSync({ records: [{ key: null, value: Buffer.from(`${q}-${i}`) }] }) }] }] });
          assert.equal(r.responses[0]!.partitionResponses[0]!.errorCode, ErrorCode.NONE);
        }
      }
      const full = await call(c1, API_KEYS.Fetch, 12, fetchBody(0, 0, [{ topic, topicId: Buffer.alloc(16), partitions: [part(0, 0n), part(1, 0n)] }]));
      assert.notEqual(full.sessionId, 0);
      assert.deepEqual(carried(full).map(([q, code, bases]) => [q, code, bases.length > 0]), [
        [0, ErrorCode.NONE, true],
        [1, ErrorCode.NONE, true],
      ]);
      const elsewhere = await call(c2, API_KEYS.Fetch, 12, fetchBody(full.sessionId, 1, []));
      assert.equal(elsewhere.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 'the other node does not know the session');
      const restart = await call(c2, API_KEYS.Fetch, 12, fetchBody(full.sessionId, 0, [{ topic, topicId: Buffer.alloc(16), partitions: [part(0, 0n)] }]));
      assert.equal(restart.errorCode, ErrorCode.NONE);
      assert.notEqual(restart.sessionId, 0, 'a full fetch opens a session there');
      c1.close();
      c2.close();

      if (!unavailable('java')) {
        const java = new JavaKafkaClient({ bootstrap: one.bootstrap, config: { 'max.partition.fetch.bytes': 200, 'fetch.max.bytes': 2000 } });
        // Metadata may name either node leader of a partition: count incremental fetches on both
        const incremental = () => nodes.reduce((n, g) => n + g.gateway.context.fetchSessions!.incrementalFetches, 0);
        const before = incremental();
        const got = await java.consume({ topic, maxRecords: parts * 3, timeoutMs: 90_000 });
        const expected: string[] = [];
        for (let q = 0; q < parts; q++) for (let i = 0; i < 3; i++) expected.push(`${q}-${i}`);
        assert.deepEqual(got.map((r) => r.valueText ?? '').sort(), expected.sort());
        assert.ok(incremental() > before, 'the Java consumer fetched incrementally');
      }
    } finally {
      for (const n of nodes) await n.stop();
    }
  },
);
