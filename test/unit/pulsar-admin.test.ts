/**
 * The Pulsar admin REST client (src/pulsar/admin/) against a real Pulsar
 * standalone broker (test/helpers/pulsar.ts): every method, the shapes the
 * broker answers with (entry headers, internalStats), error mapping (404, 409,
 * 401 bad token, 403 non-superuser), URL encoding of names. Transport behaviour
 * that a healthy broker cannot show (connection refused, no answer, a dropped
 * keep-alive connection) is checked against small local HTTP servers.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPulsarAdmin, PulsarAdminError, parseJson, topicPath, type PulsarAdminClient } from '../../src/pulsar/admin/index.js';
import { pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';

const skip = pulsarSkipReason();

/** Delete a tenant of this test (topics, namespaces, tenant); the broker refuses forced namespace deletion. */
async function dropTenant(admin: PulsarAdminClient, tenant: string): Promise<void> {
  for (const n of await admin.listNamespaces(tenant).catch(() => [] as string[])) {
    for (const t of await admin.listPartitionedTopics(n).catch(() => [] as string[])) await admin.deletePartitionedTopic(t, true).catch(() => undefined);
    for (const t of await admin.listTopics(n).catch(() => [] as string[])) await admin.deleteTopic(t, true).catch(() => undefined);
    await admin.deleteNamespace(n).catch(() => undefined);
  }
  await admin.deleteTenant(tenant).catch(() => undefined);
}

async function rejectsWith(p: Promise<unknown>, status: number, reason?: RegExp): Promise<PulsarAdminError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof PulsarAdminError, `expected PulsarAdminError, got ${String(e)}`);
    assert.equal(e.status, status, `status of ${e.message}`);
    if (reason) assert.match(e.reason, reason);
    return e;
  }
  assert.fail(`expected HTTP ${status}`);
}

/** Pulsar 3.0's REST producer (POST /topics/persistent/...); returns message ids "l:e:-1". */
async function restProduce(p: SharedPulsar, topic: string, messages: { payload: string; properties?: Record<string, string>; key?: string }[]): Promise<string[]> {
  const path = `/topics/${topicPath(topic)}`;
  const r = await p.rest('POST', path, { messages: messages.map((m) => ({ ...m, payload: Buffer.from(m.payload).toString('base64') })) });
  assert.equal(r.status, 200, `REST produce: ${r.text}`);
  const body = JSON.parse(r.text) as { messagePublishResults: { messageId: string; errorCode: number }[] };
  for (const m of body.messagePublishResults) assert.equal(m.errorCode, 0, r.text);
  return body.messagePublishResults.map((m) => m.messageId);
}

test('admin JSON: integers beyond 2^53 arrive exact (as strings), inside strings untouched', () => {
  const v = parseJson('{"ledgerId":9223372036854775807,"entries":12,"s":"9223372036854775807,","neg":-9007199254740993,"f":1.5e300}') as Record<string, unknown>;
  assert.equal(v.ledgerId, '9223372036854775807');
  assert.equal(v.entries, 12);
  assert.equal(v.s, '9223372036854775807,');
  assert.equal(v.neg, '-9007199254740993');
  assert.equal(v.f, 1.5e300);
  assert.equal(topicPath('persistent://a b/n%s/t?x#y'), 'persistent/a%20b/n%25s/t%3Fx%23y');
  assert.equal(topicPath('non-persistent://t/ns/x'), 'non-persistent/t/ns/x');
  assert.throws(() => topicPath('persistent://t/ns'), /invalid topic/);
});

test('admin transport: connection refused (status 0, retriable), no answer (timeout), a dropped connection is retried once for GET only', async () => {
  // a port with nothing listening
  const dead = http.createServer();
  await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
  const deadPort = (dead.address() as AddressInfo).port;
  await new Promise<void>((r) => dead.close(() => r()));
  const refused = createPulsarAdmin({ webServiceUrl: `http://127.0.0.1:${deadPort}`, timeoutMs: 2000 });
  const e = await rejectsWith(refused.listTenants(), 0, /request failed/);
  assert.equal(e.retriable, true);
  refused.close();

  // a server that drops the first connection of each request path, then answers; and one that never answers
  const seen = new Map<string, number>();
  const srv = http.createServer((req, res) => {
    const n = (seen.get(`${req.method} ${req.url}`) ?? 0) + 1;
    seen.set(`${req.method} ${req.url}`, n);
    if (req.url === '/admin/v2/clusters') return; // never answers
    if (n === 1) {
      req.socket.destroy();
      return;
    }
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(req.method === 'GET' ? '["a","b"]' : '');
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as AddressInfo).port;
  const a = createPulsarAdmin({ webServiceUrl: `http://127.0.0.1:${port}`, timeoutMs: 300 });
  try {
    assert.deepEqual(await a.listTenants(), ['a', 'b']);
    assert.equal(seen.get('GET /admin/v2/tenants'), 2, 'one retry');
    await rejectsWith(a.createNamespace('t/ns'), 0, /request failed/);
    assert.equal(seen.get('PUT /admin/v2/namespaces/t/ns'), 1, 'no retry of a PUT');
    const t0 = Date.now();
    const te = await rejectsWith(a.listClusters(), 0, /timed out/);
    assert.equal(te.serverError, 'Timeout');
    assert.ok(Date.now() - t0 < 2000);
    assert.equal(seen.get('GET /admin/v2/clusters'), 1, 'no retry after a timeout');
  } finally {
    a.close();
    srv.closeAllConnections();
    await new Promise<void>((r) => srv.close(() => r()));
  }
});

if (skip) {
  test(`Pulsar admin client against a broker [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  let p: SharedPulsar;
  let admin: PulsarAdminClient;
  const tenant = uniqueName('kop-admin');
  const ns = `${tenant}/ns1`;
  const topic = (local: string) => `persistent://${ns}/${local}`;

  before(async () => {
    p = await sharedPulsar();
    admin = createPulsarAdmin({ webServiceUrl: p.webUrl, token: () => p.adminToken, timeoutMs: 15_000 });
  });

  after(async () => {
    if (!admin) return;
    await dropTenant(admin, tenant);
    admin.close();
  });

  test('admin: clusters, broker runtime config, tenants (create, get, list, update, 409, missing -> null)', async () => {
    const clusters = await admin.listClusters();
    assert.ok(clusters.includes('standalone'), clusters.join());
    const conf = await admin.brokerRuntimeConfig();
    assert.match(conf.brokerEntryMetadataInterceptors ?? '', /AppendIndexMetadataInterceptor/);
    assert.equal(conf.authorizationEnabled, 'true');

    assert.equal(await admin.getTenant(tenant), null);
    await admin.createTenant(tenant, { adminRoles: ['ta'], allowedClusters: clusters });
    await rejectsWith(admin.createTenant(tenant, { adminRoles: [], allowedClusters: clusters }), 409, /already exist/i);
    assert.deepEqual(await admin.getTenant(tenant), { adminRoles: ['ta'], allowedClusters: clusters });
    assert.ok((await admin.listTenants()).includes(tenant));
    await admin.updateTenant(tenant, { adminRoles: ['ta', 'tb'], allowedClusters: clusters });
    assert.deepEqual((await admin.getTenant(tenant))?.adminRoles.sort(), ['ta', 'tb']);
  });

  test('admin: namespaces, permissions (namespace, topic, subscription roles, auth mode), retention, compaction', async () => {
    assert.equal(await admin.getNamespacePolicies(ns), null);
    await admin.createNamespace(ns);
    await rejectsWith(admin.createNamespace(ns), 409, /already exists/);
    await admin.createNamespace(ns, true);
    assert.deepEqual(await admin.listNamespaces(tenant), [ns]);

    const empty = await admin.getNamespacePolicies(ns);
    assert.deepEqual(empty, { authPolicies: { namespaceAuth: {}, destinationAuth: {}, subscriptionAuthRoles: {} }, subscriptionAuthMode: 'None' });

    // a role with characters that need encoding in the URL
    await admin.grantNamespacePermission(ns, 'alice@example.com', ['produce', 'consume']);
    await admin.grantNamespacePermission(ns, 'bob', ['consume', 'functions']);
    await admin.createNonPartitionedTopic(topic('granted'));
    await admin.grantTopicPermission(topic('granted'), 'carol', ['produce']);
    await admin.setSubscriptionAuthRoles(ns, 'billing', ['bob', 'dave']);
    await admin.setSubscriptionAuthRoles(ns, 'audit', ['erin']);
    await admin.setSubscriptionAuthMode(ns, 'Prefix');
    let pol = (await admin.getNamespacePolicies(ns))!;
    assert.deepEqual(pol.authPolicies.namespaceAuth['alice@example.com']?.sort(), ['consume', 'produce']);
    assert.deepEqual(pol.authPolicies.namespaceAuth.bob?.sort(), ['consume', 'functions']);
    assert.deepEqual(pol.authPolicies.destinationAuth, { [topic('granted')]: { carol: ['produce'] } });
    assert.deepEqual(pol.authPolicies.subscriptionAuthRoles.billing?.sort(), ['bob', 'dave']);
    assert.equal(pol.subscriptionAuthMode, 'Prefix');

    // setSubscriptionAuthRoles replaces the list; revoke removes one role
    await admin.setSubscriptionAuthRoles(ns, 'billing', ['bob']);
    await admin.revokeSubscriptionAuthRole(ns, 'audit', 'erin');
    await admin.revokeNamespacePermission(ns, 'alice@example.com');
    await admin.revokeTopicPermission(topic('granted'), 'carol');
    await admin.setSubscriptionAuthMode(ns, 'None');
    pol = (await admin.getNamespacePolicies(ns))!;
    assert.equal(pol.authPolicies.namespaceAuth['alice@example.com'], undefined);
    assert.deepEqual(pol.authPolicies.subscriptionAuthRoles.billing, ['bob']);
    assert.deepEqual(pol.authPolicies.subscriptionAuthRoles.audit ?? [], []);
    assert.deepEqual(pol.authPolicies.destinationAuth[topic('granted')] ?? {}, {});
    assert.equal(pol.subscriptionAuthMode, 'None');

    await admin.setRetention(ns, -1, 100);
    await admin.setCompactionThreshold(ns, 1024 * 1024);
    const ret = await p.rest('GET', `/admin/v2/namespaces/${ns}/retention`);
    assert.deepEqual(JSON.parse(ret.text), { retentionTimeInMinutes: -1, retentionSizeInMB: 100 });
    const ct = await p.rest('GET', `/admin/v2/namespaces/${ns}/compactionThreshold`);
    assert.equal(JSON.parse(ct.text), 1024 * 1024);
  });

  test('admin: partitioned topics (create with properties, 409, metadata, grow, list, delete) and non-partitioned ones', async () => {
    await admin.createNamespace(ns, true);
    const pt = topic('orders');
    assert.equal(await admin.getPartitionedMetadata(pt), 0, 'missing topic: 0');
    await admin.createPartitionedTopic(pt, 2, { 'kafka.topic.id': 'abc', Mixed: 'Case' });
    await rejectsWith(admin.createPartitionedTopic(pt, 2), 409, /already exist/);
    assert.equal(await admin.getPartitionedMetadata(pt), 2);
    assert.deepEqual(await admin.getTopicProperties(pt), { 'kafka.topic.id': 'abc', Mixed: 'Case' });
    await admin.updateTopicProperties(pt, { more: '1' });
    assert.equal((await admin.getTopicProperties(pt)).more, '1');
    await admin.updatePartitionedTopic(pt, 3);
    assert.equal(await admin.getPartitionedMetadata(pt), 3);
    await rejectsWith(admin.updatePartitionedTopic(pt, 2), 422); // Pulsar never shrinks a topic
    assert.ok((await admin.listPartitionedTopics(ns)).includes(pt));

    const np = topic('plain');
    await admin.createNonPartitionedTopic(np);
    await rejectsWith(admin.createNonPartitionedTopic(np), 409);
    assert.equal(await admin.getPartitionedMetadata(np), 0);
    const listed = await admin.listTopics(ns);
    assert.ok(listed.includes(np), listed.join());

    await admin.deletePartitionedTopic(pt, true);
    assert.equal(await admin.getPartitionedMetadata(pt), 0);
    assert.ok(!(await admin.listPartitionedTopics(ns)).includes(pt));
    await admin.deleteTopic(np, true);
    await rejectsWith(admin.deleteTopic(np), 404, /not found/);
    await rejectsWith(admin.deletePartitionedTopic(pt), 404);
  });

  test('admin: internalStats after producing, getEntry headers (index, times, properties with their case), subscriptions and cursors', async () => {
    await admin.createNamespace(ns, true);
    // Pulsar 3.0.7's REST producer has no producer name, and message deduplication (on in the test
    // broker: brokerDeduplicationEnabled=true) then fails it with a NullPointerException: off here
    const dedup = await p.rest('POST', `/admin/v2/namespaces/${ns}/deduplication`, false);
    assert.equal(dedup.status, 204, dedup.text);
    const t = topic('entries');
    await admin.createNonPartitionedTopic(t);
    let s = await admin.internalStats(t);
    assert.equal(s.lastConfirmedEntry.entryId, -1n, 'no entry yet');
    assert.ok(s.ledgers.length >= 1);
    assert.equal(s.ledgers[s.ledgers.length - 1]!.entries, 0n);

    const before = BigInt(Date.now());
    const ids = await restProduce(p, t, [
      { payload: 'hello', properties: { k1: 'v1', MixedCase: 'Value' }, key: 'kk' },
      { payload: 'world' },
      { payload: '!' },
    ]);
    assert.equal(ids.length, 3);
    s = await admin.internalStats(t);
    const last = s.ledgers[s.ledgers.length - 1]!;
    assert.equal(s.lastConfirmedEntry.ledgerId, last.ledgerId);
    assert.equal(s.lastConfirmedEntry.entryId, 2n);
    // the open ledger is listed by Pulsar with entries 0; the client counts it up to lastConfirmedEntry
    assert.equal(last.entries, 3n);
    assert.equal(typeof last.ledgerId, 'bigint');

    const e0 = await admin.getEntry(t, last.ledgerId, 0n);
    assert.ok(e0);
    assert.equal(e0.index, 0n, 'broker entry metadata index');
    assert.equal(e0.numMessages, 1);
    assert.ok(e0.publishTime! >= before - 5000n && e0.publishTime! <= BigInt(Date.now()) + 5000n, String(e0.publishTime));
    assert.ok(e0.brokerTimestamp! >= e0.publishTime! - 5000n);
    assert.deepEqual(e0.properties, { k1: 'v1', MixedCase: 'Value' });
    assert.ok(e0.payload.length > 0);
    const e2 = await admin.getEntry(t, last.ledgerId, 2n);
    assert.equal(e2?.index, 2n);
    assert.deepEqual(e2?.properties, {});
    assert.equal(await admin.getEntry(t, last.ledgerId + 1000n, 0n), null, 'a ledger that does not exist');
    assert.equal(await admin.getEntry(topic('never-created'), last.ledgerId, 0n), null, 'a topic that does not exist');

    // subscriptions and cursors
    await admin.createSubscription(t, 'sub-a', last.ledgerId, 1n);
    await rejectsWith(admin.createSubscription(t, 'sub-a', last.ledgerId, 1n), 409, /already exists/);
    // the namespace's compaction threshold gives every topic a __compaction cursor
    const user = (subs: string[]) => subs.filter((x) => x !== '__compaction');
    assert.deepEqual(user(await admin.listSubscriptions(t)), ['sub-a']);
    s = await admin.internalStats(t);
    assert.deepEqual(s.cursors['sub-a']?.markDeletePosition, { ledgerId: last.ledgerId, entryId: 0n }, 'created at 1: everything before it is acknowledged');
    await admin.resetCursor(t, 'sub-a', last.ledgerId, 0n);
    s = await admin.internalStats(t);
    assert.deepEqual(s.cursors['sub-a']?.markDeletePosition, { ledgerId: last.ledgerId, entryId: -1n });
    await admin.deleteSubscription(t, 'sub-a', true);
    assert.deepEqual(user(await admin.listSubscriptions(t)), []);
    await rejectsWith(admin.deleteSubscription(t, 'sub-a'), 404);
    await rejectsWith(admin.internalStats(topic('never-created')), 404, /not found/);
  });

  test('admin errors: 404 with Pulsar\'s reason, 401 for a bad token, 403 for a role that is not a superuser', async () => {
    const e = await rejectsWith(admin.listNamespaces(`no-such-${tenant}`), 404, /Tenant not found/);
    assert.match(e.message, /GET \/admin\/v2\/namespaces\/no-such-.*: HTTP 404/);
    assert.equal(e.retriable, false);

    const bad = createPulsarAdmin({ webServiceUrl: p.webUrl, token: () => 'not.a.token' });
    const none = createPulsarAdmin({ webServiceUrl: p.webUrl });
    const user = await p.token(uniqueName('plain-user'));
    const plain = createPulsarAdmin({ webServiceUrl: p.webUrl, token: () => user });
    const failing = createPulsarAdmin({
      webServiceUrl: p.webUrl,
      token: () => {
        throw new Error('token file gone');
      },
    });
    try {
      await rejectsWith(bad.listTenants(), 401);
      await rejectsWith(none.listTenants(), 401);
      // Pulsar 3.0.7 answers 401 (not 403) to an authenticated role that lacks superuser or
      // tenant-admin rights, and 403 to namespace-level operations it may not do
      await rejectsWith(plain.listTenants(), 401, /requires super-user access/);
      await rejectsWith(plain.getTenant(tenant), 401, /requires super-user access/);
      await rejectsWith(plain.brokerRuntimeConfig(), 401, /requires super-user access/);
      await rejectsWith(plain.createNamespace(`${tenant}/by-plain`), 401, /CREATE_NAMESPACE/);
      await admin.createNamespace(ns, true);
      await rejectsWith(plain.getNamespacePolicies(ns), 403, /Unauthorized/);
      await rejectsWith(plain.grantNamespacePermission(ns, 'me', ['produce']), 403, /GRANT_PERMISSION/);
      await rejectsWith(plain.listTopics(ns), 403, /GET_TOPICS/);
      await rejectsWith(failing.listTenants(), 0, /cannot read the admin token: token file gone/);
    } finally {
      for (const c of [bad, none, plain, failing]) c.close();
    }
  });
}
