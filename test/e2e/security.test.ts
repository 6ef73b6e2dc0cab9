/**
 * The security matrix with real clients against a gateway with SASL
 * (PLAIN and OAUTHBEARER carrying Pulsar JWTs), Pulsar-model authorization
 * from policies/ files, and the audit log. Each case asserts what the client
 * sees and the audit line it leaves.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes, generateKeyPairSync } from 'node:crypto';
import { SignJWT, UnsecuredJWT } from 'jose';
import { Kafka, logLevel, type SASLOptions } from 'kafkajs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { RawClient } from '../helpers/raw-client.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { PythonKafkaClient } from '../helpers/clients/python.js';
import { kcatConsume, kcatProduce } from '../helpers/clients/kcat.js';
import { encodeRequest, decodeResponse } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { ApiVersionsRequest, MetadataRequest } from '../../src/protocol/generated/index.js';
import { tempDir } from '../helpers/temp.js';

const secret = randomBytes(32);
const dir = tempDir('kop-security-');
const policies = join(dir, 'policies');
const auditFile = join(dir, 'audit.log');
let gw: TestGateway;

async function token(sub: string, opts: { expSeconds?: number; nbfSeconds?: number; aud?: string | null; key?: Uint8Array } = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' });
  if (opts.expSeconds !== undefined) jwt.setExpirationTime(now + opts.expSeconds);
  if (opts.nbfSeconds !== undefined) jwt.setNotBefore(now + opts.nbfSeconds);
  if (opts.aud !== null) jwt.setAudience(opts.aud ?? 'kop-gateway');
  return jwt.sign(opts.key ?? secret);
}

function writePolicy(tenant: string, body: object): void {
  writeFileSync(join(policies, `${tenant}.json`), JSON.stringify({ tenant, ...body }, null, 2));
}

const ACME = {
  adminRoles: ['acme-admin'],
  namespaces: {
    orders: {
      permissions: { alice: ['produce', 'consume'], bob: ['consume'], dave: ['produce', 'consume'] },
      subscriptionPermissions: {},
      topics: {},
    },
  },
};

before(async () => {
  mkdirSync(policies, { recursive: true });
  writePolicy('acme', ACME);
  writePolicy('beta', { adminRoles: ['beta-admin'], namespaces: { ns: { permissions: { eve: ['produce', 'consume'] } } } });
  gw = await startTestGateway(
    {
      kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      authenticationEnabled: true,
      authorizationEnabled: true,
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      tokenAudienceClaim: 'aud',
      tokenAudience: 'kop-gateway',
      superUserRoles: 'admin',
      policiesDirectory: policies,
      policiesRefreshIntervalMs: 500,
      auditLogFile: auditFile,
      auditSummaryIntervalMs: 0,
      failedAuthenticationDelayMs: 10,
      kafkaTenant: 'acme',
      kafkaNamespace: 'orders',
    },
    join(dir, 'data'),
  );
});
after(async () => {
  await gw?.stop();
});

function audit(): Array<Record<string, unknown>> {
  return readFileSync(auditFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** Waits until an audit record matching pred is written (the log is asynchronous). */
async function auditRecord(pred: (r: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
  for (let i = 0; i < 50; i++) {
    const found = audit().find(pred);
    if (found) return found;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no audit record for ${what}`);
}

function plain(username: string, password: string): SASLOptions {
  return { mechanism: 'plain', username, password };
}
function oauth(jwt: string): SASLOptions {
  return { mechanism: 'oauthbearer', oauthBearerProvider: async () => ({ value: jwt }) };
}

function kafka(sasl: SASLOptions, clientId = 'security-test'): Kafka {
  return new Kafka({ clientId, brokers: [gw.bootstrap], sasl, logLevel: logLevel.NOTHING, retry: { retries: 0 }, connectionTimeout: 3000, authenticationTimeout: 5000 });
}

/** The error type kafkajs reports when connecting an admin client with these credentials. */
async function connectError(sasl: SASLOptions): Promise<string | null> {
  const admin = kafka(sasl).admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return null;
  } catch (e) {
    const err = e as Error & { type?: string; name: string };
    return `${err.name}: ${err.message}`;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

test('authentication failures: each gets SASL_AUTHENTICATION_FAILED with its reason, and an audit line', async () => {
  const other = randomBytes(32);
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const now = Math.floor(Date.now() / 1000);
  const cases: Array<[string, SASLOptions, RegExp]> = [
    ['wrong signature', plain('acme/orders', `token:${await token('alice', { key: other })}`), /signature/i],
    ['expired token', plain('acme/orders', `token:${await token('alice', { expSeconds: -60 })}`), /expired/i],
    ['not-yet-valid token', plain('acme/orders', `token:${await token('alice', { nbfSeconds: 3600 })}`), /not (yet )?valid|nbf/i],
    ['wrong audience', plain('acme/orders', `token:${await token('alice', { aud: 'someone-else' })}`), /audience/i],
    ['alg none', plain('acme/orders', `token:${new UnsecuredJWT({ sub: 'admin', aud: 'kop-gateway' }).setIssuedAt(now).encode()}`), /alg|none|unsigned/i],
    ['RS256 token for an HMAC key (algorithm confusion)', plain('acme/orders', `token:${await new SignJWT({ sub: 'admin', aud: 'kop-gateway' }).setProtectedHeader({ alg: 'RS256' }).sign(privateKey)}`), /alg/i],
    ['empty password', plain('acme/orders', ''), /password is empty/],
  ];
  for (const [name, sasl, reason] of cases) {
    const error = await connectError(sasl);
    assert.ok(error, `${name}: must fail`);
    assert.match(error, /SASL|authentication/i, `${name}: ${error}`);
    const mechanism = sasl.mechanism === 'plain' ? 'PLAIN' : 'OAUTHBEARER';
    const line = await auditRecord((r) => r.event === 'authentication' && r.outcome === 'failure' && r.mechanism === mechanism && reason.test(String(r.reason)), name);
    assert.equal(line.principal ?? null, null, `${name}: no principal on failure`);
    const text = JSON.stringify(audit());
    assert.ok(!text.includes('token:ey'), 'the audit log never contains a token');
  }
});

test('PLAIN with or without the token: prefix, and OAUTHBEARER, authenticate as the token role', async () => {
  for (const sasl of [plain('acme/orders', `token:${await token('alice')}`), plain('acme/orders', await token('alice')), oauth(await token('alice'))]) {
    assert.equal(await connectError(sasl), null, JSON.stringify(sasl.mechanism));
  }
  const ok = await auditRecord((r) => r.event === 'authentication' && r.outcome === 'success' && r.principal === 'alice', 'success');
  assert.equal(ok.reauthentication, false);
});

test('a request before authentication, and an oversized pre-auth frame, close the connection', async () => {
  const c = await RawClient.open(gw.port);
  c.send(encodeRequest(API_KEYS.Metadata, 1, 1, 'raw', { ...MetadataRequest.defaults(), topics: null }));
  assert.equal(await c.next(), null, 'Metadata before SASL: closed');
  const d = await RawClient.open(gw.port);
  d.send(encodeRequest(API_KEYS.ApiVersions, 0, 1, 'raw', ApiVersionsRequest.defaults()));
  assert.ok(await d.next(), 'ApiVersions is served before authentication');
  const head = Buffer.alloc(4);
  head.writeInt32BE(600 * 1024, 0);
  d.send(head);
  assert.equal(await d.next(), null, '600 KiB frame before authentication: closed');
});

test('authorization: consume-only role cannot produce; tenant A role cannot read tenant B; non-admins cannot create or delete topics', async () => {
  const admin = kafka(plain('acme/orders', `token:${await token('acme-admin')}`)).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'payments', numPartitions: 1 }] });
  await admin.disconnect();
  const betaAdmin = kafka(plain('beta/ns', `token:${await token('beta-admin')}`)).admin();
  await betaAdmin.connect();
  await betaAdmin.createTopics({ topics: [{ topic: 'secrets', numPartitions: 1 }] });
  await betaAdmin.disconnect();

  // alice produces; bob (consume only) is refused
  const alice = kafka(plain('acme/orders', `token:${await token('alice')}`)).producer();
  await alice.connect();
  await alice.send({ topic: 'payments', messages: [{ value: 'paid' }, { value: 'twice' }] });
  await alice.disconnect();
  const summary = await auditRecord((r) => r.event === 'access_summary' && r.principal === 'alice' && r.operation === 'Produce', 'alice produce summary');
  assert.deepEqual([summary.resource, summary.requests, summary.records, summary.final], ['persistent://acme/orders/payments', 1, 2, true]);
  assert.ok((summary.bytes as number) > 0);
  const bob = kafka(plain('acme/orders', `token:${await token('bob')}`)).producer();
  await bob.connect();
  await assert.rejects(bob.send({ topic: 'payments', messages: [{ value: 'x' }] }), (e: Error & { type?: string }) => {
    assert.equal(e.type ?? (e as { cause?: { type?: string } }).cause?.type, 'TOPIC_AUTHORIZATION_FAILED', String(e));
    return true;
  });
  await bob.disconnect();
  const denied = await auditRecord((r) => r.event === 'access_denied' && r.principal === 'bob' && r.operation === 'Produce', 'bob produce');
  assert.equal(denied.resource, 'persistent://acme/orders/payments');

  // alice (acme) reading beta's topic by full name
  const aliceAdmin = kafka(plain('acme/orders', `token:${await token('alice')}`)).admin();
  await aliceAdmin.connect();
  await assert.rejects(aliceAdmin.fetchTopicOffsets('persistent://beta/ns/secrets'), /authoriz/i);
  // listing hides what she may not look up
  const listed = await aliceAdmin.listTopics();
  assert.ok(listed.includes('payments'), JSON.stringify(listed));
  assert.ok(!listed.some((t) => t.includes('secrets')), `forbidden topic hidden: ${JSON.stringify(listed)}`);
  // non-admin create/delete
  const typeOf = (e: unknown): string => {
    const err = e as { type?: string; errors?: Array<{ type?: string }>; cause?: { type?: string } };
    return err.type ?? err.errors?.[0]?.type ?? err.cause?.type ?? String(e);
  };
  await assert.rejects(aliceAdmin.createTopics({ topics: [{ topic: 'nope' }] }), (e) => typeOf(e) === 'TOPIC_AUTHORIZATION_FAILED');
  await assert.rejects(aliceAdmin.deleteTopics({ topics: ['payments'] }), (e) => /TOPIC_AUTHORIZATION_FAILED|authoriz/i.test(typeOf(e) + String(e)));
  await aliceAdmin.disconnect();
  await auditRecord((r) => r.event === 'access_denied' && r.principal === 'alice' && r.operation === 'CreateTopics', 'alice create');
});

test('a revoked grant stops an open connection within the policy refresh bound', async () => {
  const producer = kafka(plain('acme/orders', `token:${await token('dave')}`)).producer();
  await producer.connect();
  await producer.send({ topic: 'payments', messages: [{ value: 'before' }] });
  const { dave: _removed, ...rest } = ACME.namespaces.orders.permissions;
  writePolicy('acme', { ...ACME, namespaces: { orders: { ...ACME.namespaces.orders, permissions: rest } } });
  const t0 = Date.now();
  let refusedAfter = -1;
  while (Date.now() - t0 < 10_000) {
    try {
      await producer.send({ topic: 'payments', messages: [{ value: 'after' }] });
    } catch (e) {
      if (String((e as { type?: string }).type ?? e).includes('TOPIC_AUTHORIZATION_FAILED')) {
        refusedAfter = Date.now() - t0;
        break;
      }
      throw e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await producer.disconnect();
  writePolicy('acme', ACME);
  assert.ok(refusedAfter >= 0, 'the revoked role is refused on its open connection');
  assert.ok(refusedAfter < 5_000, `within the documented bound (took ${refusedAfter} ms)`);
});

test('a token expiring on an open connection ends the session: the connection is closed', async () => {
  const c = await RawClient.open(gw.port);
  const jwt = await token('alice', { expSeconds: 2 });
  c.send(encodeRequest(API_KEYS.SaslHandshake, 1, 1, 'raw', { mechanism: 'PLAIN' }));
  await c.next();
  c.send(encodeRequest(API_KEYS.SaslAuthenticate, 1, 2, 'raw', { authBytes: Buffer.from(`\u0000acme/orders\u0000token:${jwt}`) }));
  const auth = decodeResponse((await c.next())!, API_KEYS.SaslAuthenticate, 1);
  assert.equal(auth.body.errorCode, 0);
  const lifetime = Number(auth.body.sessionLifetimeMs);
  assert.ok(lifetime > 0 && lifetime <= 2000, `session lifetime bounded by the token (${lifetime} ms)`);
  c.send(encodeRequest(API_KEYS.Metadata, 1, 3, 'raw', { ...MetadataRequest.defaults(), topics: null }));
  assert.ok(await c.next(), 'works while the token is valid');
  const closed = await c.next(lifetime + 3000);
  assert.equal(closed, null, 'closed after the token expired, without any request');
});

test('re-authentication may extend the session but not change the principal', async () => {
  const c = await RawClient.open(gw.port);
  const auth = async (id: number, sub: string) => {
    c.send(encodeRequest(API_KEYS.SaslHandshake, 1, id, 'raw', { mechanism: 'PLAIN' }));
    await c.next();
    c.send(encodeRequest(API_KEYS.SaslAuthenticate, 2, id + 1, 'raw', { authBytes: Buffer.from(`\u0000acme/orders\u0000token:${await token(sub, { expSeconds: 60 })}`) }));
    const r = await c.next();
    return r ? decodeResponse(r, API_KEYS.SaslAuthenticate, 2).body : null;
  };
  assert.equal((await auth(1, 'alice'))?.errorCode, 0);
  assert.equal((await auth(3, 'alice'))?.errorCode, 0, 'same principal: fine');
  await auditRecord((r) => r.event === 'authentication' && r.reauthentication === true && r.principal === 'alice', 're-auth');
  const changed = await auth(5, 'admin');
  assert.equal(changed?.errorCode, 58, 'SASL_AUTHENTICATION_FAILED');
  assert.match(changed?.errorMessage ?? '', /may not change the principal/);
  assert.equal(await c.next(), null, 'and the connection closes');
});

const ALICE = { protocol: 'SASL_PLAINTEXT' as const, mechanism: 'PLAIN' as const, username: 'acme/orders' };

toolTest('real clients over SASL: Java (PLAIN and OAUTHBEARER), librdkafka (PLAIN, OAUTHBEARER), kcat (PLAIN) produce and consume', unavailable('java', 'python', 'kcat'), async () => {
  const jwt = await token('alice');
  const topic = 'sasl-clients';
  const javaPlain = new JavaKafkaClient({ bootstrap: gw.bootstrap, security: { ...ALICE, password: `token:${jwt}` } });
  const javaOauth = new JavaKafkaClient({ bootstrap: gw.bootstrap, security: { protocol: 'SASL_PLAINTEXT', mechanism: 'OAUTHBEARER', token: jwt } });
  const pyPlain = new PythonKafkaClient({ bootstrap: gw.bootstrap, security: { ...ALICE, password: `token:${jwt}` } });
  const pyOauth = new PythonKafkaClient({ bootstrap: gw.bootstrap, security: { protocol: 'SASL_PLAINTEXT', mechanism: 'OAUTHBEARER', token: jwt } });
  let expected = 0;
  for (const client of [javaPlain, javaOauth, pyPlain, pyOauth]) {
    const acked = await client.produce({ topic, count: 5 });
    assert.equal(acked.filter((a) => a.error).length, 0, `${client.name}: ${JSON.stringify(acked[0])}`);
    expected += 5;
  }
  await kcatProduce(gw.bootstrap, topic, ['from-kcat'], { security: { ...ALICE, password: `token:${jwt}` } });
  expected += 1;
  for (const client of [javaOauth, pyPlain]) {
    const got = await client.consume({ topic, partitions: [0], offset: 'beginning', maxRecords: expected });
    assert.equal(got.length, expected, client.name);
  }
  const viaKcat = await kcatConsume(gw.bootstrap, topic, { security: { ...ALICE, password: `token:${jwt}` } });
  assert.equal(viaKcat.length, expected);
  // OAUTHBEARER failure: the RFC 7628 error challenge, then SASL_AUTHENTICATION_FAILED (Java handles the challenge)
  const forged = await token('alice', { key: randomBytes(32) });
  const javaBad = new JavaKafkaClient({ bootstrap: gw.bootstrap, security: { protocol: 'SASL_PLAINTEXT', mechanism: 'OAUTHBEARER', token: forged }, config: { 'max.block.ms': 10000 } });
  await assert.rejects(javaBad.describeCluster(), /SaslAuthenticationException|Authentication failed/);
  await auditRecord((r) => r.event === 'authentication' && r.outcome === 'failure' && r.mechanism === 'OAUTHBEARER' && /signature/i.test(String(r.reason)), 'java oauthbearer failure');
  // a consume-only role cannot produce through the Java client either
  const bobJava = new JavaKafkaClient({ bootstrap: gw.bootstrap, security: { ...ALICE, password: `token:${await token('bob')}` }, config: { 'max.block.ms': 10000, 'delivery.timeout.ms': 10000, 'request.timeout.ms': 5000 } });
  const refused = await bobJava.produce({ topic, count: 1, allowErrors: true });
  assert.equal(refused[0]!.error, 'TopicAuthorizationException', JSON.stringify(refused));
}, { timeout: 240_000 });
