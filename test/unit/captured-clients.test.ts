/**
 * Real request bytes from real clients (test/fixtures/captured/*.json, written
 * by test/fixtures/captured/capture-server.ts): each frame must decode, with
 * the fields the client really sent, and re-encode to the very same bytes.
 * Plus a LIVE capture with kcat when it is installed (required under CI=true).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { decodeRequest, encodeRequest, type DecodedRequest } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { CaptureServer, TOPIC, kcatRuns, run, type CaptureFixture } from '../fixtures/captured/capture-server.js';

function repoRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && JSON.parse(readFileSync(pkg, 'utf8')).name === 'kop-gateway') return dir;
    if (dirname(dir) === dir) throw new Error('repository root not found');
  }
}

const fixtureDir = join(repoRoot(), 'test', 'fixtures', 'captured');
const fixtures = new Map<string, CaptureFixture>(
  readdirSync(fixtureDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => [f.replace(/\.json$/, ''), JSON.parse(readFileSync(join(fixtureDir, f), 'utf8')) as CaptureFixture]),
);

function decodeAll(fx: CaptureFixture): DecodedRequest[] {
  return fx.frames.map((f) => {
    const bytes = Buffer.from(f.hex, 'hex');
    const req = decodeRequest(bytes);
    assert.equal(req.header.apiKey, f.apiKey);
    assert.equal(req.header.apiVersion, f.apiVersion);
    assert.equal(req.trailingBytes, 0, `${f.apiName} v${f.apiVersion}: trailing bytes`);
    // Re-encoding what we decoded gives the client's exact bytes.
    const again = encodeRequest(req.apiKey, f.apiVersion, req.header.correlationId, req.header.clientId, req.body as never);
    assert.equal(again.subarray(4).toString('hex'), f.hex, `${f.apiName} v${f.apiVersion}: re-encoding differs`);
    return req;
  });
}

function find<K extends DecodedRequest['apiKey']>(reqs: DecodedRequest[], apiKey: K): Extract<DecodedRequest, { apiKey: K }>[] {
  return reqs.filter((r) => r.apiKey === apiKey) as Extract<DecodedRequest, { apiKey: K }>[];
}

/** The record batch of the single partition of a Produce request: magic 2, the value text inside. */
function checkProduce(reqs: DecodedRequest[], text: string): void {
  const produce = find(reqs, API_KEYS.Produce);
  assert.ok(produce.length > 0, 'no Produce request');
  const batches = produce.map((p) => {
    assert.equal(p.body.acks, -1);
    assert.equal(p.body.transactionalId, null);
    assert.equal(p.body.topicData[0]!.name, TOPIC);
    const records = p.body.topicData[0]!.partitionData[0]!.records!;
    assert.equal(records.readInt8(16), 2, 'record batch magic v2');
    assert.equal(records.readInt32BE(8), records.length - 12, 'batch length covers the records slice');
    return records.toString('latin1');
  });
  assert.ok(batches.some((b) => b.includes(text)), `no batch contains ${JSON.stringify(text)}`);
}

test('captured fixtures exist for kcat, kafkajs and confluent-kafka', () => {
  assert.deepEqual([...fixtures.keys()], ['confluent-kafka', 'kafkajs', 'kcat']);
  for (const fx of fixtures.values()) assert.ok(fx.frames.length >= 3 && fx.clientVersion && fx.commands.length);
});

test('kcat (librdkafka): ApiVersions v3, Metadata, Produce, SASL/PLAIN, ListOffsets, Fetch', () => {
  const fx = fixtures.get('kcat')!;
  const reqs = decodeAll(fx);
  for (const r of reqs) assert.equal(r.header.clientId, 'rdkafka');

  const [apiVersions] = find(reqs, API_KEYS.ApiVersions);
  assert.equal(apiVersions!.header.apiVersion, 3);
  assert.equal(apiVersions!.headerVersion, 2, 'flexible request header');
  assert.equal(apiVersions!.body.clientSoftwareName, 'librdkafka');
  assert.match(apiVersions!.body.clientSoftwareVersion, /^\d+\.\d+\.\d+/);

  const metadata = find(reqs, API_KEYS.Metadata);
  assert.ok(metadata.every((m) => m.body.topics?.length === 1 && m.body.topics[0]!.name === TOPIC));

  checkProduce(reqs, 'hello from kcat');
  const [handshake] = find(reqs, API_KEYS.SaslHandshake);
  assert.equal(handshake!.body.mechanism, 'PLAIN');
  const [auth] = find(reqs, API_KEYS.SaslAuthenticate);
  assert.equal(auth!.body.authBytes.toString(), '\0alice\0alice-secret');

  const [listOffsets] = find(reqs, API_KEYS.ListOffsets);
  assert.equal(listOffsets!.body.topics[0]!.partitions[0]!.timestamp, -2n, 'earliest');
  const [fetch] = find(reqs, API_KEYS.Fetch);
  const part = fetch!.body.topics[0]!.partitions[0]!;
  assert.equal(fetch!.body.topics[0]!.topic, TOPIC);
  assert.equal(part.fetchOffset, 0n);
  assert.ok(fetch!.body.maxBytes > 0 && part.partitionMaxBytes > 0);
});

test('kafkajs: ApiVersions v2 (no body fields), Metadata v6, Produce v7 with headers', () => {
  const reqs = decodeAll(fixtures.get('kafkajs')!);
  for (const r of reqs) assert.equal(r.header.clientId, 'capture-kafkajs');
  const [apiVersions] = find(reqs, API_KEYS.ApiVersions);
  assert.equal(apiVersions!.headerVersion, 1);
  assert.equal(apiVersions!.body.clientSoftwareName, '', 'v2 has no software name: default');
  const [metadata] = find(reqs, API_KEYS.Metadata);
  assert.equal(metadata!.body.allowAutoTopicCreation, false);
  assert.deepEqual(metadata!.body.topics?.map((t) => t.name), [TOPIC]);
  checkProduce(reqs, 'hello from kafkajs');
});

test('confluent-kafka-python: client software name and version, Produce', () => {
  const reqs = decodeAll(fixtures.get('confluent-kafka')!);
  for (const r of reqs) assert.equal(r.header.clientId, 'capture-confluent');
  const [apiVersions] = find(reqs, API_KEYS.ApiVersions);
  assert.equal(apiVersions!.body.clientSoftwareName, 'confluent-kafka-python');
  assert.match(apiVersions!.body.clientSoftwareVersion, /rdkafka/);
  checkProduce(reqs, 'hello from confluent-kafka');
});

// ---------------------------------------------------------------- live capture

const kcat = process.env.KOP_KCAT ?? 'kcat';
const kcatFound = spawnSync(kcat, ['-V'], { stdio: 'ignore' }).status === 0;
const requireKcat = process.env.CI === 'true';
const liveName = kcatFound
  ? 'LIVE kcat against the capture server: requests decode and our responses satisfy librdkafka'
  : requireKcat
    ? `LIVE kcat capture: FAILS because kcat (${kcat}) is not installed and CI=true`
    : `LIVE kcat capture: skipped because kcat (${kcat}) is not installed (apt-get install kcat)`;

test(liveName, { skip: !kcatFound && !requireKcat ? 'kcat not installed' : false, timeout: 60_000 }, async () => {
  assert.ok(kcatFound, `kcat (${kcat}) is required under CI=true: .ci/run installs it`);
  const capture = await CaptureServer.start();
  try {
    const [list, produce] = kcatRuns(kcat, capture.bootstrap);
    const listed = await run(kcat, list!.args);
    assert.equal(listed.code, 0, listed.out);
    assert.match(listed.out, new RegExp(`topic "${TOPIC}" with 1 partitions`), 'kcat understood our Metadata response');
    const produced = await run(kcat, produce!.args, 'live:message from the live test\n');
    assert.equal(produced.code, 0, produced.out);
    assert.deepEqual(capture.errors, []);
    const reqs = capture.frames.map((f) => decodeRequest(Buffer.from(f.hex, 'hex')));
    const [apiVersions] = find(reqs, API_KEYS.ApiVersions);
    assert.equal(apiVersions?.body.clientSoftwareName, 'librdkafka');
    checkProduce(reqs, 'message from the live test');
  } finally {
    await capture.close();
  }
});
