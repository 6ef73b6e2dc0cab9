/**
 * Token revocation without waiting for expiry (tokenRevocationFile), with real
 * kafkajs clients: an open producer whose jti is added to the file is cut (its
 * session_revoked and connection_closed records follow the change) while
 * another client goes on; a new login with that token is refused with "token
 * revoked"; a subject entry refuses every token of that role; a broken edit
 * keeps the list in force; removing the entries lets the same token in again;
 * an entry whose `until` has passed no longer applies.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { Kafka, logLevel, type Producer } from 'kafkajs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/temp.js';

const secret = randomBytes(32);
const dir = tempDir('kop-revocation-');
const policies = join(dir, 'policies');
const auditFile = join(dir, 'audit.log');
const revocationFile = join(dir, 'revoked.yaml');
let gw: TestGateway;

type Rec = Record<string, unknown>;
const audit = (): Rec[] =>
  readFileSync(auditFile, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);

async function waitFor(what: string, pred: (r: Rec) => boolean, timeoutMs = 15_000): Promise<Rec> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const found = audit().find(pred);
    if (found) return found;
    if (Date.now() > end) throw new Error(`no audit record for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Replace the file atomically, as an operator's tooling would (rename over it). */
function writeRevocations(text: string): void {
  writeFileSync(`${revocationFile}.tmp`, text);
  renameSync(`${revocationFile}.tmp`, revocationFile);
}

const token = (sub: string, jti?: string) => {
  const jwt = new SignJWT(jti ? { sub, jti } : { sub }).setProtectedHeader({ alg: 'HS256' });
  return jwt.sign(secret);
};

function client(jwt: string, clientId: string): Kafka {
  return new Kafka({ clientId, brokers: [gw.bootstrap], sasl: { mechanism: 'plain', username: 'acme/orders', password: `token:${jwt}` }, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
}

async function loginError(jwt: string): Promise<string | null> {
  const admin = client(jwt, 'login').admin();
  try {
    await admin.connect();
    await admin.listTopics();
    return null;
  } catch (e) {
    return (e as Error).message;
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

before(async () => {
  mkdirSync(policies, { recursive: true });
  writeFileSync(join(policies, 'acme.json'), JSON.stringify({ tenant: 'acme', adminRoles: ['admin'], namespaces: { orders: { permissions: { alice: ['produce', 'consume'], bob: ['produce', 'consume'], carol: ['produce'] } } } }));
  writeFileSync(revocationFile, '# revoked tokens\ntokens: []\n');
  gw = await startTestGateway(
    {
      kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
      authenticationEnabled: true,
      authorizationEnabled: true,
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      policiesDirectory: policies,
      policiesRefreshIntervalMs: 1000,
      tokenRevocationFile: revocationFile,
      auditLogFile: auditFile,
      auditAggregationIntervalMs: 0,
      auditSummaryIntervalMs: 0,
      failedAuthenticationDelayMs: 10,
      kafkaTenant: 'acme',
      kafkaNamespace: 'orders',
    },
    join(dir, 'data'),
  );
  const admin = client(await token('admin'), 'setup').admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'events', numPartitions: 1 }] });
  await admin.disconnect();
});
after(async () => {
  await gw?.stop();
});

test('an open producer is cut when its jti is revoked, a new login with the token is refused, removing the entry lets it in again', async () => {
  const aliceToken = await token('alice', 'tok-alice-1');
  const bobToken = await token('bob', 'tok-bob-1');
  const alice: Producer = client(aliceToken, 'alice').producer();
  const bob: Producer = client(bobToken, 'bob').producer();
  await alice.connect();
  await bob.connect();
  await alice.send({ topic: 'events', messages: [{ value: 'before' }] });
  await bob.send({ topic: 'events', messages: [{ value: 'before' }] });
  const aliceConns = audit()
    .filter((r) => r.event === 'authentication' && r.outcome === 'success' && r.principal === 'alice')
    .map((r) => r.connId);
  assert.ok(aliceConns.length > 0);

  writeRevocations('tokens:\n  - tok-alice-1\n');
  const revoked = await waitFor('session_revoked', (r) => r.event === 'session_revoked' && r.principal === 'alice');
  assert.equal(revoked.tokenId, 'tok-alice-1');
  assert.match(String(revoked.reason), /^token revoked: jti "tok-alice-1" is on the revocation list$/);
  assert.ok(aliceConns.includes(revoked.connId), 'the open session of that token');
  await waitFor('the connection closed', (r) => r.event === 'connection_closed' && r.connId === revoked.connId);
  // every open connection of that token was closed; none of bob's
  for (const c of aliceConns) {
    const closed = audit().some((r) => r.event === 'connection_closed' && r.connId === c);
    if (!closed) assert.fail(`alice's connection ${String(c)} is still open`);
  }
  assert.ok(!audit().some((r) => r.event === 'session_revoked' && r.principal === 'bob'));
  await bob.send({ topic: 'events', messages: [{ value: 'bob goes on' }] });

  // the producer's next send has to log in again: refused, audited with the reason
  await assert.rejects(alice.send({ topic: 'events', messages: [{ value: 'after' }] }));
  await alice.disconnect().catch(() => undefined);
  const err = await loginError(aliceToken);
  assert.ok(err !== null, 'a new login with the revoked token is refused');
  const failure = await waitFor('the refused login', (r) => r.event === 'authentication' && r.outcome === 'failure' && /^token revoked: jti "tok-alice-1"/.test(String(r.reason)));
  assert.equal(failure.mechanism, 'PLAIN');
  // another token of the same role is not revoked by a jti entry
  assert.equal(await loginError(await token('alice', 'tok-alice-2')), null);

  // a broken edit keeps the list in force
  writeRevocations('tokens: [tok-alice-1\n');
  await new Promise((r) => setTimeout(r, 2500)); // two rescans: the broken file has been read
  assert.notEqual(await loginError(aliceToken), null, 'still revoked after a broken edit');

  // removed: the same token logs in again and produces
  writeRevocations('tokens: []\n');
  let back: string | null = 'not yet';
  for (let i = 0; i < 50 && back !== null; i++) {
    back = await loginError(aliceToken);
    if (back !== null) await new Promise((r) => setTimeout(r, 200));
  }
  assert.equal(back, null, 'the token is accepted again once its entry is removed');
  const again = client(aliceToken, 'alice-again').producer();
  await again.connect();
  await again.send({ topic: 'events', messages: [{ value: 'again' }] });
  await again.disconnect();
  await bob.disconnect();
});

test('a subject entry refuses every token of the role (with or without jti) and cuts its open sessions; an entry whose until has passed does not apply', async () => {
  const carol = client(await token('carol'), 'carol').producer();
  await carol.connect();
  await carol.send({ topic: 'events', messages: [{ value: 'c' }] });
  const past = new Date(Date.now() - 60_000).toISOString();
  const future = new Date(Date.now() + 3_600_000).toISOString();
  writeRevocations(`subjects:\n  - subject: carol\n    until: ${future}\n  - subject: bob\n    until: ${past}\n`);
  const revoked = await waitFor('carol revoked', (r) => r.event === 'session_revoked' && r.principal === 'carol');
  assert.equal(revoked.tokenId, null);
  assert.match(String(revoked.reason), new RegExp(`^token revoked: subject "carol" is on the revocation list until ${future.replace(/[.]/g, '\\.')}$`));
  await carol.disconnect().catch(() => undefined);
  assert.notEqual(await loginError(await token('carol', 'any-jti')), null);
  assert.equal(await loginError(await token('bob')), null, 'an entry whose until has passed does not apply');
  writeRevocations('');
});
