/**
 * Names are data, never paths (issue 10): adversarial probes against live
 * gateways, asserting what a Kafka client sees, that the refusal is logged and
 * audited, and that nothing else is touched.
 *
 *  - authorization on (a tenant admin of `acme`) and off (anonymous): CreateTopics,
 *    DeleteTopics, Produce and Metadata naming `persistent://acme/../other`,
 *    '.'/'..' segments, '/', '%2e', over-long names... are refused; tenant
 *    `other`'s records (and, anonymous, the gateway's own state store: a
 *    committed group offset) are intact before and after a gateway restart; the
 *    data directory holds nothing new.
 *  - SASL/PLAIN usernames `../x`, `acme/..` and the OAUTHBEARER `namespace`
 *    extension `..` are authentication failures with an audit record.
 *  - roles that only look like `admin` are audited distinguishably.
 *  - storageEngine=pulsar (the shared broker): the same probes, plus the
 *    gateway's metadata namespace and Pulsar's system names, never reach Pulsar.
 *
 * Codes: CreateTopics, Produce and Metadata answer INVALID_TOPIC_EXCEPTION (17);
 * DeleteTopics answers UNKNOWN_TOPIC_OR_PARTITION (3) for a name that cannot
 * exist, as Kafka's controller does (ControllerApis.deleteTopics: findTopicIds
 * finds no such name) - docs/names.md.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, mkdirSync, writeFileSync, statSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { pino } from 'pino';
import { SignJWT } from 'jose';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/server.js';
import { RawClient } from '../helpers/raw-client.js';
import { kafkajsClient, kafkajsConsume, kafkajsProduce } from '../helpers/clients/kafkajs.js';
import type { ClientOptions } from '../helpers/clients/types.js';
import { encodeRequest, decodeResponse } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { MetadataRequest } from '../../src/protocol/generated/index.js';
import { encodeBatchSync } from '../../src/protocol/records/encode.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { showName } from '../../src/topics/names.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';

type LogLine = { level: number; msg: string } & Record<string, unknown>;

const cleanup: string[] = [];
after(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

/** Every class of bad name: '.'/'..' segments, separators, encodings, over-long parts. */
const PROBES = [
  'persistent://acme/../other', // the reported attack: tenant other's directory
  'persistent://acme/../other/data',
  'persistent://./x/y',
  'persistent://../other/ns',
  'persistent://.././state', // the embedded engine's state store
  'persistent://../../x',
  'persistent://acme/./t',
  'persistent://acme/orders/..',
  'persistent://acme/orders/.',
  'persistent://acme/orders/a/b',
  'persistent://acme//t',
  'persistent://%2e%2e/other/ns',
  'persistent://acme/%2e%2e/x',
  'persistent://acme/orders/%2e%2e',
  'persistent://acme/orders/..%2fother',
  'persistent://acme\\..\\other/ns/x',
  'persistent://acme/orders/t\u0000',
  '../other',
  '..',
  '.',
  'a/b',
  `persistent://${'t'.repeat(250)}/ns/x`,
  `persistent://acme/${'n'.repeat(250)}/x`,
  `persistent://acme/orders/${'x'.repeat(250)}`,
  'x'.repeat(250),
  `persistent://${'t'.repeat(4000)}/ns/x`,
  'persistent://pulsar/system/x',
  'persistent://acme/orders/__change_events',
];

interface Started {
  gateway: Gateway;
  port: number;
  bootstrap: string;
  logs: LogLine[];
  stop(): Promise<void>;
}

async function startLogged(overrides: Record<string, string | number | boolean>, dataDirectory: string): Promise<Started> {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const config = loadConfig({
    env: {},
    overrides: { kafkaListeners: 'PLAINTEXT://127.0.0.1:0', dataDirectory, auditLogFile: join(dataDirectory, 'audit.log'), auditSummaryIntervalMs: 0, ...overrides },
  });
  const gateway = await Gateway.start(config, { logger });
  const port = gateway.port();
  return { gateway, port, bootstrap: `127.0.0.1:${port}`, logs, stop: () => gateway.stop(2000) };
}

class Conn {
  private corr = 1;
  private constructor(readonly raw: RawClient) {}
  static async open(port: number, plain?: { username: string; token: string }): Promise<Conn> {
    const c = new Conn(await RawClient.open(port));
    if (plain) {
      const auth = await c.saslPlain(plain.username, plain.token);
      assert.equal(auth.errorCode, 0, `login as ${plain.username}: ${auth.errorMessage}`);
    }
    return c;
  }
  async call(key: number, version: number, body: unknown): Promise<any> {
    const id = this.corr++;
    this.raw.send(encodeRequest(key as never, version, id, 'adversarial-names', body as never));
    const frame = await this.raw.next(15_000);
    assert.ok(frame, `API ${key} v${version}: the connection stays open`);
    return decodeResponse(frame, key as never, version).body;
  }
  async saslPlain(username: string, token: string): Promise<{ errorCode: number; errorMessage: string | null }> {
    const hs = await this.call(API_KEYS.SaslHandshake, 1, { mechanism: 'PLAIN' });
    assert.equal(hs.errorCode, 0);
    return this.call(API_KEYS.SaslAuthenticate, 2, { authBytes: Buffer.from(`\u0000${username}\u0000token:${token}`) });
  }
  close(): void {
    this.raw.close();
  }
}

const batch = (tag: string) => encodeBatchSync({ records: [{ key: 'k', value: `probe-${tag}` }] });

/** Runs every probe through CreateTopics, DeleteTopics, Produce and Metadata; returns the codes seen. */
async function probe(c: Conn, names: string[]): Promise<Record<string, Record<string, number>>> {
  const out: Record<string, Record<string, number>> = {};
  for (const name of names) {
    const create = await c.call(API_KEYS.CreateTopics, 5, { topics: [{ name, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    const del = await c.call(API_KEYS.DeleteTopics, 5, { topics: [], topicNames: [name], timeoutMs: 5000 });
    const produce = await c.call(API_KEYS.Produce, 8, { transactionalId: null, acks: -1, timeoutMs: 5000, topicData: [{ name, partitionData: [{ index: 0, records: batch(name.slice(0, 20)) }] }] });
    const meta = await c.call(API_KEYS.Metadata, 9, { ...MetadataRequest.defaults(), topics: [{ topicId: Buffer.alloc(16), name }], allowAutoTopicCreation: true });
    out[name] = {
      CreateTopics: create.topics[0].errorCode,
      DeleteTopics: del.responses[0].errorCode,
      Produce: produce.responses[0].partitionResponses[0].errorCode,
      Metadata: meta.topics[0].errorCode,
    };
  }
  return out;
}

function assertRefused(codes: Record<string, Record<string, number>>, names: string[]): void {
  for (const name of names) {
    const got = codes[name]!;
    assert.deepEqual(
      got,
      { CreateTopics: ErrorCode.INVALID_TOPIC_EXCEPTION, DeleteTopics: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, Produce: ErrorCode.INVALID_TOPIC_EXCEPTION, Metadata: ErrorCode.INVALID_TOPIC_EXCEPTION },
      `refused: ${showName(name)}`,
    );
  }
}

function assertLogged(logs: LogLine[], names: string[]): void {
  for (const name of names) {
    const lines = logs.filter((l) => l.msg === 'refused an illegal topic name' && l.topic === showName(name));
    assert.ok(lines.length >= 4, `the refusal of ${showName(name)} is logged for each API (${lines.length} lines)`);
    assert.equal(lines[0]!.errorCode, ErrorCode.INVALID_TOPIC_EXCEPTION);
    assert.match(String(lines[0]!.reason), /invalid topic name/);
  }
}

/** Every file and directory under dir (relative paths), minus what a run or a restart changes by itself. */
function tree(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (['.lock', 'clean-shutdown', 'audit.log', 'producer-ids.json', 'trash'].includes(e.name)) continue;
    if (/\/(producer-state\.snapshot|log-start-offset|\d+\.(index|timeindex))$/.test(p)) continue;
    out.push(p);
    if (e.isDirectory()) out.push(...tree(dir, p));
  }
  return out.sort();
}

function auditLines(file: string): Array<Record<string, unknown>> {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function auditRecord(_gw: Gateway, file: string, pred: (r: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50; i++) {
    const found = auditLines(file).find(pred);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no audit record for ${what}`);
}

const OTHER_RECORDS = Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, value: `other-${i}` }));

async function readOther(o: ClientOptions, topic: string): Promise<string[]> {
  const got = await kafkajsConsume(o, { topic, maxRecords: OTHER_RECORDS.length, timeoutMs: 20_000 });
  return got.map((r) => r.value!.toString());
}

// ---------------------------------------------------------------- authorization on

const secret = randomBytes(32);
const token = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(secret);

test('authorization on: a tenant admin of acme cannot reach tenant other (or anything) through names; refusals are logged; other survives a restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-adv-names-authz-'));
  cleanup.push(dir);
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'acme.json'), JSON.stringify({ tenant: 'acme', adminRoles: ['acme-admin'], namespaces: { orders: {} } }));
  writeFileSync(join(policies, 'other.json'), JSON.stringify({ tenant: 'other', adminRoles: ['other-admin'], namespaces: { ns: {} } }));
  const data = join(dir, 'data');
  const settings = {
    kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    authenticationEnabled: true,
    authorizationEnabled: true,
    tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
    superUserRoles: 'admin',
    policiesDirectory: policies,
    failedAuthenticationDelayMs: 1,
    kafkaTenant: 'acme',
    kafkaNamespace: 'orders',
  };
  let gw = await startLogged(settings, data);
  try {
    const otherClient = (g: Started): ClientOptions => ({ bootstrap: g.bootstrap, security: { protocol: 'SASL_PLAINTEXT', mechanism: 'PLAIN', username: 'other/ns', password: `token:${otherToken}` } });
    const otherToken = await token('other-admin');
    const otherTopic = 'persistent://other/ns/data';
    const admin = kafkajsClient(otherClient(gw)).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: otherTopic, numPartitions: 1 }] });
    await admin.disconnect();
    await kafkajsProduce(otherClient(gw), { topic: otherTopic, records: OTHER_RECORDS });
    const before = tree(data);
    assert.ok(before.includes('embedded/topics/other/ns/data/0'), before.join('\n'));

    const c = await Conn.open(gw.port, { username: 'acme/orders', token: await token('acme-admin') });
    // the tenant admin may do what it is there for
    const ok = await c.call(API_KEYS.CreateTopics, 5, { topics: [{ name: 'fine', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
    assert.equal(ok.topics[0].errorCode, 0);
    const codes = await probe(c, PROBES);
    assertRefused(codes, PROBES);
    assertLogged(gw.logs, PROBES);
    c.close();

    const after = tree(data).filter((p) => !p.startsWith('embedded/topics/acme'));
    assert.deepEqual(after, before, 'the data directory holds nothing new and lost nothing');
    assert.deepEqual(await readOther(otherClient(gw), otherTopic), OTHER_RECORDS.map((r) => r.value), 'tenant other reads its records');

    await gw.stop();
    gw = await startLogged(settings, data);
    assert.deepEqual(await readOther(otherClient(gw), otherTopic), OTHER_RECORDS.map((r) => r.value), 'and after a restart');
  } finally {
    await gw.stop();
  }
});

test('SASL: usernames ../x, acme/.., .., over-long, fullwidth dots and the OAUTHBEARER namespace extension .. are authentication failures, audited', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-adv-names-sasl-'));
  cleanup.push(dir);
  const data = join(dir, 'data');
  const gw = await startLogged(
    {
      kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      authenticationEnabled: true,
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      failedAuthenticationDelayMs: 1,
    },
    data,
  );
  const auditFile = join(data, 'audit.log');
  try {
    const jwt = await token('alice');
    const usernames: Array<[string, string]> = [
      ['../x', '../x'],
      ['acme/..', 'acme/..'],
      ['..', '..'],
      ['./x', './x'],
      ['acme/.', 'acme/.'],
      [`${'t'.repeat(300)}/ns`, `${'t'.repeat(300)}/ns`],
      ['\uff0e\uff0e/x', '../x'], // SASLprep (NFKC) turns fullwidth dots into '..': checked after it
      ['acme/orders/x', 'acme/orders/x'],
    ];
    for (const [username, prepared] of usernames) {
      const c = await Conn.open(gw.port);
      const r = await c.saslPlain(username, jwt);
      assert.equal(r.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED, showName(username));
      assert.match(r.errorMessage ?? '', /invalid username/, showName(username));
      assert.equal(await c.raw.next(), null, 'and the connection closes');
      const line = await auditRecord(gw.gateway, auditFile, (l) => l.event === 'authentication' && l.outcome === 'failure' && String(l.reason).includes(`invalid username ${showName(prepared)}`), showName(username));
      assert.equal(line.mechanism, 'PLAIN');
      assert.equal(line.principal, null);
      assert.match(String(line.reason), /invalid username/);
    }
    for (const ns of ['..', '.', 'acme/..', '../x']) {
      const c = await Conn.open(gw.port);
      assert.equal((await c.call(API_KEYS.SaslHandshake, 1, { mechanism: 'OAUTHBEARER' })).errorCode, 0);
      const first = await c.call(API_KEYS.SaslAuthenticate, 2, { authBytes: Buffer.from(`n,,\u0001auth=Bearer ${jwt}\u0001namespace=${ns}\u0001\u0001`) });
      assert.equal(first.errorCode, 0, 'RFC 7628: the error arrives as a challenge');
      assert.match(first.authBytes.toString(), /invalid_token|status/);
      const second = await c.call(API_KEYS.SaslAuthenticate, 2, { authBytes: Buffer.from('\u0001') });
      assert.equal(second.errorCode, ErrorCode.SASL_AUTHENTICATION_FAILED, ns);
      assert.match(second.errorMessage ?? '', /invalid namespace extension/);
      await auditRecord(gw.gateway, auditFile, (l) => l.event === 'authentication' && l.outcome === 'failure' && l.mechanism === 'OAUTHBEARER' && String(l.reason).includes(`invalid namespace extension ${showName(ns)}`), ns);
      c.close();
    }
    // a legal username still works on the same gateway
    const good = await Conn.open(gw.port, { username: 'acme/orders', token: jwt });
    good.close();
  } finally {
    await gw.stop();
  }
});

test('audit: roles that only look like admin (trailing space, homoglyph, bidi override, zero-width) are refused and recorded distinguishably', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-adv-names-audit-'));
  cleanup.push(dir);
  const data = join(dir, 'data');
  const policies = join(dir, 'policies');
  mkdirSync(policies);
  writeFileSync(join(policies, 'acme.json'), JSON.stringify({ tenant: 'acme', adminRoles: ['acme-admin'], namespaces: { orders: {} } }));
  const gw = await startLogged(
    {
      kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      authenticationEnabled: true,
      authorizationEnabled: true,
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      superUserRoles: 'admin',
      policiesDirectory: policies,
      kafkaTenant: 'acme',
      kafkaNamespace: 'orders',
    },
    data,
  );
  const auditFile = join(data, 'audit.log');
  try {
    const lookalikes: Array<[string, string]> = [
      ['admin ', 'admin<U+0020>'],
      ['\u0430dmin', '<U+0430>dmin'],
      ['admin\u202e', 'admin<U+202E>'],
      ['ad\u200bmin', 'ad<U+200B>min'],
    ];
    for (const [role, visible] of lookalikes) {
      const c = await Conn.open(gw.port, { username: 'acme/orders', token: await token(role) });
      const res = await c.call(API_KEYS.CreateTopics, 5, { topics: [{ name: `t${visible.length}`, numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }], timeoutMs: 5000, validateOnly: false });
      assert.equal(res.topics[0].errorCode, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `${visible} is not the superuser admin`);
      c.close();
      const auth = await auditRecord(gw.gateway, auditFile, (l) => l.event === 'authentication' && l.outcome === 'success' && l.principal === role, visible);
      assert.equal(auth.principalEscaped, visible);
      const denied = await auditRecord(gw.gateway, auditFile, (l) => l.event === 'access_denied' && l.principal === role, visible);
      assert.equal(denied.principalEscaped, visible);
    }
    // the genuine admin has no escaped twin, and every line of the file is printable ASCII
    const c = await Conn.open(gw.port, { username: 'acme/orders', token: await token('admin') });
    c.close();
    const real = await auditRecord(gw.gateway, auditFile, (l) => l.event === 'authentication' && l.principal === 'admin', 'admin');
    assert.equal('principalEscaped' in real, false);
    for (const line of readFileSync(auditFile, 'utf8').split('\n')) assert.doesNotMatch(line, /[^\x20-\x7e]/);
  } finally {
    await gw.stop();
  }
});

// ---------------------------------------------------------------- authorization off, anonymous

test("authorization off: an anonymous client cannot reach another tenant or the gateway's state store through names; both survive a restart", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-adv-names-anon-'));
  cleanup.push(dir);
  const data = join(dir, 'data');
  let gw = await startLogged({ kafkaTenant: 'acme', kafkaNamespace: 'orders' }, data);
  try {
    const o = (g: Started): ClientOptions => ({ bootstrap: g.bootstrap });
    const otherTopic = 'persistent://other/ns/data';
    const admin = kafkajsClient(o(gw)).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: otherTopic, numPartitions: 1 }] });
    await admin.disconnect();
    await kafkajsProduce(o(gw), { topic: otherTopic, records: OTHER_RECORDS });
    // state in the gateway's own store: a committed offset
    await kafkajsConsume(o(gw), { topic: otherTopic, group: 'keeper', commit: true, maxRecords: OTHER_RECORDS.length, timeoutMs: 20_000 });
    const committed = async (g: Started) => {
      const a = kafkajsClient(o(g)).admin();
      await a.connect();
      try {
        return (await a.fetchOffsets({ groupId: 'keeper', topics: [otherTopic] }))[0]!.partitions[0]!.offset;
      } finally {
        await a.disconnect();
      }
    };
    assert.equal(await committed(gw), String(OTHER_RECORDS.length));
    // the group's records in acme/orders' readable __consumer_offsets are written after the commit: let them land first
    await gw.gateway.context.offsetsLog?.flushed();
    const kvSize = statSync(join(data, 'embedded', 'state', 'kv.log')).size;
    const before = tree(data);

    const c = await Conn.open(gw.port);
    const codes = await probe(c, PROBES);
    assertRefused(codes, PROBES);
    assertLogged(gw.logs, PROBES);
    c.close();

    assert.deepEqual(tree(data), before, 'the data directory holds nothing new and lost nothing');
    assert.ok(existsSync(join(data, 'embedded', 'state', 'kv.log')) && statSync(join(data, 'embedded', 'state', 'kv.log')).size >= kvSize, 'the state store is in place');
    assert.deepEqual(await readOther(o(gw), otherTopic), OTHER_RECORDS.map((r) => r.value));

    await gw.stop();
    gw = await startLogged({ kafkaTenant: 'acme', kafkaNamespace: 'orders' }, data);
    assert.deepEqual(await readOther(o(gw), otherTopic), OTHER_RECORDS.map((r) => r.value), 'records after a restart');
    assert.equal(await committed(gw), String(OTHER_RECORDS.length), 'committed offsets after a restart');
  } finally {
    await gw.stop();
  }
});

// ---------------------------------------------------------------- storageEngine=pulsar

const skip = pulsarSkipReason();
if (skip) {
  test(`storageEngine=pulsar: bad names never reach Pulsar [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  let p: SharedPulsar;
  let ns = '';
  before(async () => {
    p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('adv-names'));
  });

  test("storageEngine=pulsar: the probes, the gateway's metadata namespace and Pulsar's system names are refused before Pulsar's admin API; data intact after a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kop-adv-names-pulsar-'));
    cleanup.push(dir);
    const settings = pulsarGatewayConfig(p, ns);
    const [tenant, local] = ns.split('/') as [string, string];
    const metaNs = `${tenant}/${local}-meta`;
    let gw = await startLogged(settings, dir);
    try {
      const o = (g: Started): ClientOptions => ({ bootstrap: g.bootstrap });
      const topic = `persistent://${ns}/kept`;
      const admin = kafkajsClient(o(gw)).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 1 }] });
      await admin.disconnect();
      await kafkajsProduce(o(gw), { topic, records: OTHER_RECORDS });

      const json = async (path: string) => {
        const r = await p.rest('GET', path);
        assert.equal(r.status, 200, `${path}: ${r.text}`);
        return (JSON.parse(r.text) as string[]).sort();
      };
      const tenantsBefore = await json('/admin/v2/tenants');
      const nssBefore = await json(`/admin/v2/namespaces/${tenant}`);
      const metaBefore = await json(`/admin/v2/persistent/${metaNs}`);
      assert.ok(metaBefore.some((t) => t.includes('kop-state-')), metaBefore.join('\n'));

      const reserved = [
        ...new Set(metaBefore.map((t) => t.replace(/-partition-\d+$/, ''))),
        `persistent://${metaNs}/kop-state-topics`,
        `persistent://${metaNs}/new-topic`,
        `persistent://${ns}/__change_events`,
        `persistent://${ns}/x__transaction_pending_ack`,
        'persistent://pulsar/system/transaction_coordinator_assign',
      ];
      const c = await Conn.open(gw.port);
      const codes = await probe(c, [...PROBES, ...reserved]);
      assertRefused(codes, [...PROBES, ...reserved]);
      assertLogged(gw.logs, [...PROBES, ...reserved]);
      c.close();

      assert.deepEqual(await json('/admin/v2/tenants'), tenantsBefore, 'no tenant created or removed');
      assert.deepEqual(await json(`/admin/v2/namespaces/${tenant}`), nssBefore, 'no namespace created or removed');
      assert.deepEqual(await json(`/admin/v2/persistent/${metaNs}`), metaBefore, "the gateway's state topics are untouched");
      assert.deepEqual(await readOther(o(gw), topic), OTHER_RECORDS.map((r) => r.value));

      await gw.stop();
      gw = await startLogged(settings, dir);
      assert.deepEqual(await readOther(o(gw), topic), OTHER_RECORDS.map((r) => r.value), 'after a restart');
    } finally {
      await gw.stop();
    }
  });
}
