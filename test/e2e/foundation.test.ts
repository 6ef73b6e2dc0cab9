/**
 * The gateway as a Kafka client sees it before any data: version negotiation,
 * metadata, and Kafka's answers to bad input. Real clients (kcat, kafkajs) and
 * raw sockets against a real started gateway.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Kafka, logLevel } from 'kafkajs';
import { RawClient } from '../helpers/raw-client.js';
import { startTestGateway, spawnGateway, cliCommand, repoRoot, type TestGateway } from '../helpers/gateway.js';
import { kcatMetadata } from '../helpers/clients/kcat.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { encodeRequest, decodeResponse } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { ApiVersionsRequest, FetchRequest, MetadataRequest } from '../../src/protocol/generated/index.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { tempDir } from '../helpers/temp.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw?.stop();
});

toolTest('kcat -L lists this gateway as the only broker (librdkafka metadata)', unavailable('kcat'), async () => {
  const md = await kcatMetadata(gw.bootstrap);
  assert.equal(md.brokers.length, 1);
  assert.deepEqual({ id: md.brokers[0]!.id, name: md.brokers[0]!.name }, { id: 0, name: `127.0.0.1:${gw.port}` });
});

test('kafkajs admin describeCluster() shows the advertised broker, controller and a stable cluster id', async () => {
  const kafka = new Kafka({ clientId: 'foundation-test', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  try {
    const cluster = await admin.describeCluster();
    assert.deepEqual(cluster.brokers, [{ nodeId: 0, host: '127.0.0.1', port: gw.port }]);
    assert.equal(cluster.controller, 0);
    assert.match(cluster.clusterId, /^[A-Za-z0-9_-]{22}$/);
    assert.equal(cluster.clusterId, gw.gateway.context.clusterId);
  } finally {
    await admin.disconnect();
  }
});

test('cluster id survives a restart on the same data directory', async () => {
  const dir = tempDir('kop-clusterid-');
  const a = await startTestGateway({}, dir);
  const id = a.gateway.context.clusterId;
  await a.stop();
  const b = await startTestGateway({}, dir);
  assert.equal(b.gateway.context.clusterId, id);
  await b.stop();
});

test('advertised listeners are what Metadata announces', async () => {
  const g = await startTestGateway({ kafkaAdvertisedListeners: 'PLAINTEXT://gateway.example.com:19092' });
  try {
    const c = await RawClient.open(g.port);
    c.send(encodeRequest(API_KEYS.Metadata, 9, 1, 'raw', { ...MetadataRequest.defaults(), topics: [] }));
    const md = decodeResponse(await c.next() as Buffer, API_KEYS.Metadata, 9);
    assert.deepEqual(md.body.brokers.map((b) => [b.nodeId, b.host, b.port]), [[0, 'gateway.example.com', 19092]]);
    c.close();
  } finally {
    await g.stop();
  }
});

test('ApiVersions advertises exactly the served APIs, and an unknown ApiVersions version gets a v0 UNSUPPORTED_VERSION answer', async () => {
  const c = await RawClient.open(gw.port);
  c.send(encodeRequest(API_KEYS.ApiVersions, 3, 7, 'raw', { ...ApiVersionsRequest.defaults(), clientSoftwareName: 'raw-test', clientSoftwareVersion: '1.0' }));
  const ok = decodeResponse((await c.next())!, API_KEYS.ApiVersions, 3);
  assert.equal(ok.correlationId, 7);
  assert.equal(ok.body.errorCode, ErrorCode.NONE);
  assert.deepEqual(ok.body.apiKeys, gw.gateway.context.table.advertised());
  assert.ok(ok.body.apiKeys.some((k) => k.apiKey === API_KEYS.Produce));

  // A future ApiVersions v9: header + empty flexible body. Kafka answers v0 with UNSUPPORTED_VERSION.
  const future = Buffer.from([0, 0, 0, 12, 0, 18, 0, 9, 0, 0, 0, 8, 0xff, 0xff, 0, 0]);
  future.writeInt32BE(future.length - 4, 0);
  c.send(future);
  const v0 = decodeResponse((await c.next())!, API_KEYS.ApiVersions, 0);
  assert.equal(v0.correlationId, 8);
  assert.equal(v0.body.errorCode, ErrorCode.UNSUPPORTED_VERSION);
  assert.ok(v0.body.apiKeys.length > 3, 'the supported ranges come with the error');
  c.close();
});

test('an unknown API key or unsupported version closes the connection, as Kafka does; other clients carry on', async () => {
  const bystander = await RawClient.open(gw.port);
  for (const [apiKey, version] of [[9999, 0], [API_KEYS.Metadata, 99], [API_KEYS.Produce, 0]] as const) {
    const c = await RawClient.open(gw.port);
    const f = Buffer.alloc(14);
    f.writeInt32BE(10, 0);
    f.writeInt16BE(apiKey, 4);
    f.writeInt16BE(version, 6);
    f.writeInt32BE(1, 8);
    f.writeInt16BE(-1, 12);
    c.send(f);
    assert.equal(await c.next(), null, `apiKey ${apiKey} v${version}: connection closed without a response`);
  }
  bystander.send(encodeRequest(API_KEYS.ApiVersions, 0, 3, 'raw', ApiVersionsRequest.defaults()));
  assert.equal(decodeResponse((await bystander.next())!, API_KEYS.ApiVersions, 0).body.errorCode, ErrorCode.NONE);
  bystander.close();
});

test('a truncated request body closes the connection', async () => {
  const c = await RawClient.open(gw.port);
  const good = encodeRequest(API_KEYS.Metadata, 9, 1, 'raw', { ...MetadataRequest.defaults(), topics: [{ topicId: Buffer.alloc(16), name: 'abc' }] });
  const cut = Buffer.from(good.subarray(0, good.length - 6));
  cut.writeInt32BE(cut.length - 4, 0);
  c.send(cut);
  assert.equal(await c.next(), null);
});

test('a request larger than socketRequestMaxBytes closes the connection before it is read', async () => {
  const g = await startTestGateway({ socketRequestMaxBytes: 4096 });
  try {
    const c = await RawClient.open(g.port);
    const head = Buffer.alloc(4);
    head.writeInt32BE(1 << 20, 0);
    c.send(head);
    assert.equal(await c.next(), null);
  } finally {
    await g.stop();
  }
});

test('pipelined requests on one connection are answered in request order', async () => {
  const c = await RawClient.open(gw.port);
  const frames = [];
  for (let i = 0; i < 50; i++) {
    frames.push(i % 2 === 0 ? encodeRequest(API_KEYS.Metadata, 1, i, 'raw', { ...MetadataRequest.defaults(), topics: null }) : encodeRequest(API_KEYS.ApiVersions, 2, i, 'raw', ApiVersionsRequest.defaults()));
  }
  c.send(Buffer.concat(frames));
  for (let i = 0; i < 50; i++) {
    const payload = (await c.next())!;
    assert.equal(payload.readInt32BE(0), i);
  }
  c.close();
});

test('CLI: a bad config key or value exits non-zero with a message naming the key', () => {
  const dir = tempDir('kop-cli-');
  const file = join(dir, 'bad.conf');
  const { cmd, args } = cliCommand();
  writeFileSync(file, 'kafkaListeners=PLAINTEXT://127.0.0.1:0\nkafkaTennant=acme\n');
  let r = spawnSync(cmd, [...args, 'start', '--config', file], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown configuration key 'kafkaTennant' \(did you mean 'kafkaTenant'\?\)/);
  writeFileSync(file, 'maxQueuedRequests=lots\n');
  r = spawnSync(cmd, [...args, 'config', 'check', file], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /maxQueuedRequests: must be an integer/);
  r = spawnSync(cmd, [...args, 'start'], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH, KOP_KAFKA_LISTENERS: 'NOPE://x:1' } });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /kafkaListeners/);
});

test('CLI: SIGTERM finishes an in-flight long-poll before exiting 0', async () => {
  const dir = tempDir('kop-sigterm-');
  const p = await spawnGateway({ KOP_KAFKA_LISTENERS: 'PLAINTEXT://127.0.0.1:0', KOP_DATA_DIRECTORY: dir });
  const c = await RawClient.open(p.port);
  c.send(encodeRequest(API_KEYS.Metadata, 9, 5, 'raw', { ...MetadataRequest.defaults(), topics: [{ topicId: Buffer.alloc(16), name: 'sigterm-t' }] }));
  const md = decodeResponse((await c.next())!, API_KEYS.Metadata, 9);
  assert.equal(md.body.topics[0]!.errorCode, ErrorCode.NONE, 'topic auto-created');
  const fetch = {
    ...FetchRequest.defaults(),
    maxWaitMs: 1500,
    minBytes: 1,
    topics: [{ topic: 'sigterm-t', topicId: Buffer.alloc(16), partitions: [{ ...FetchRequest.defaults().topics[0]?.partitions[0], partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: Buffer.alloc(16) }] }],
  };
  const t0 = Date.now();
  c.send(encodeRequest(API_KEYS.Fetch, 11, 6, 'raw', fetch));
  await new Promise((r) => setTimeout(r, 200));
  p.child.kill('SIGTERM');
  const resp = decodeResponse((await c.next(5000))!, API_KEYS.Fetch, 11);
  assert.equal(resp.correlationId, 6);
  assert.equal(resp.body.responses[0]!.partitions[0]!.errorCode, ErrorCode.NONE);
  assert.ok(Date.now() - t0 >= 1400, 'the long-poll ran its course instead of being cut');
  assert.equal(await p.exited, 0, p.output());
  assert.match(p.output(), /shutting down/);
  assert.match(p.output(), /kop-gateway stopped/);
});

test('connection limits: per-address and total caps refuse extra connections; open ones keep working', async () => {
  const g = await startTestGateway({ maxConnectionsPerIp: 2, maxConnections: 3 });
  try {
    const a = await RawClient.open(g.port);
    const b = await RawClient.open(g.port);
    const c = await RawClient.open(g.port);
    assert.equal(await c.next(2000), null, 'third connection from one address is closed');
    a.send(encodeRequest(API_KEYS.ApiVersions, 0, 1, 'raw', ApiVersionsRequest.defaults()));
    assert.equal(decodeResponse((await a.next())!, API_KEYS.ApiVersions, 0).body.errorCode, ErrorCode.NONE);
    b.close();
    await new Promise((r) => setTimeout(r, 100));
    const d = await RawClient.open(g.port);
    d.send(encodeRequest(API_KEYS.ApiVersions, 0, 2, 'raw', ApiVersionsRequest.defaults()));
    assert.ok(await d.next(), 'a slot freed by a closed connection is reusable');
    a.close();
    d.close();
  } finally {
    await g.stop();
  }
});

test('connection creation rate: connections beyond the per-second rate are refused', async () => {
  const g = await startTestGateway({ maxConnectionCreationRate: 3 });
  try {
    const clients = await Promise.all(Array.from({ length: 5 }, () => RawClient.open(g.port)));
    const outcomes = await Promise.all(
      clients.map(async (c, i) => {
        c.send(encodeRequest(API_KEYS.ApiVersions, 0, i, 'raw', ApiVersionsRequest.defaults()));
        return (await c.next(2000)) !== null;
      }),
    );
    assert.equal(outcomes.filter(Boolean).length, 3, JSON.stringify(outcomes));
    clients.forEach((c) => c.close());
  } finally {
    await g.stop();
  }
});
