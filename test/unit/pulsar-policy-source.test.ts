/**
 * Authorization with storageEngine=pulsar: PulsarPolicySource reading tenant
 * and namespace policies from a real Pulsar broker's admin API
 * (test/helpers/pulsar.ts), and the authorizer over it (createAuthorizer):
 * the mapping of Pulsar's policies, grants and revokes applying within the
 * documented staleness (2 x cacheMs), Pulsar's semantics (tenant admin,
 * namespace and topic grants, subscription roles, Prefix mode), refresh on
 * denial, and fail closed when the admin API stays unreachable (through a TCP
 * relay to the broker that the test closes).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPulsarAdmin, type PulsarAdminClient } from '../../src/pulsar/admin/index.js';
import { createAuthorizer, PulsarAuthorizer, PulsarPolicySource, type PolicyChange } from '../../src/security/authz/index.js';
import type { AuthAction, AuthResource } from '../../src/security/types.js';
import { silentLogger } from '../../src/logger.js';
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

/** A TCP relay to the broker's web port that can be cut and restored (the admin API "unreachable"). */
class Relay {
  private server: net.Server | null = null;
  private readonly sockets = new Set<net.Socket>();
  port = 0;
  constructor(private readonly target: { host: string; port: number }) {}
  async open(): Promise<void> {
    const server = net.createServer((c) => {
      const up = net.connect(this.target.port, this.target.host);
      for (const s of [c, up]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      c.pipe(up).pipe(c);
    });
    await new Promise<void>((r) => server.listen(this.port, '127.0.0.1', r));
    this.port = (server.address() as net.AddressInfo).port;
    this.server = server;
  }
  async cut(): Promise<void> {
    const s = this.server;
    this.server = null;
    for (const x of this.sockets) x.destroy();
    if (s) await new Promise<void>((r) => s.close(() => r()));
  }
}

if (skip) {
  test(`Pulsar policy source against a broker [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  let p: SharedPulsar;
  let admin: PulsarAdminClient;
  const tenant = uniqueName('kop-authz');
  const ns1 = `${tenant}/ns1`;
  const ns2 = `${tenant}/ns2`;
  const topic = (t: string, ns = 'ns1', subscription?: string): AuthResource =>
    subscription === undefined ? { kind: 'topic', tenant, namespace: ns, topic: t } : { kind: 'topic', tenant, namespace: ns, topic: t, subscription };
  const group = (g: string, ns = 'ns1'): AuthResource => ({ kind: 'group', tenant, namespace: ns, group: g });

  async function expectDecision(a: PulsarAuthorizer, role: string | null, action: AuthAction, r: AuthResource, allowed: boolean, reason?: RegExp) {
    const d = await a.can(role, action, r);
    assert.equal(d.allowed, allowed, `${role} ${action} ${JSON.stringify(r)}: ${d.reason}`);
    if (reason) assert.match(d.reason, reason);
  }

  before(async () => {
    p = await sharedPulsar();
    admin = createPulsarAdmin({ webServiceUrl: p.webUrl, token: () => p.adminToken, timeoutMs: 15_000 });
    await admin.createTenant(tenant, { adminRoles: ['ta'], allowedClusters: await admin.listClusters() });
    await admin.createNamespace(ns1);
    await admin.createNamespace(ns2);
    await admin.grantNamespacePermission(ns1, 'alice', ['produce', 'consume', 'functions']);
    await admin.grantNamespacePermission(ns1, 'bob', ['consume']);
    await admin.createPartitionedTopic(`persistent://${ns1}/orders`, 2);
    await admin.grantTopicPermission(`persistent://${ns1}/orders`, 'carol', ['produce']);
    // a grant on one partition only: Pulsar scopes it to that partition; the gateway ignores it
    await admin.grantTopicPermission(`persistent://${ns1}/orders-partition-1`, 'pete', ['produce']);
    await admin.setSubscriptionAuthRoles(ns1, 'billing', ['bob']);
    await admin.grantNamespacePermission(ns2, 'dave', ['consume']);
    await admin.setSubscriptionAuthMode(ns2, 'Prefix');
  });

  after(async () => {
    if (!admin) return;
    await dropTenant(admin, tenant);
    admin.close();
  });

  test('policy source: Pulsar policies as the tenant policy (admin roles, grants, topics by local name, subscription roles and mode)', async () => {
    const source = new PulsarPolicySource({ admin, cacheMs: 1000 });
    try {
      const t = await source.getTenant(tenant);
      assert.ok(t);
      assert.deepEqual([...t.adminRoles], ['ta']);
      assert.deepEqual([...t.namespaces.keys()].sort(), ['ns1', 'ns2']);
      const n1 = t.namespaces.get('ns1')!;
      assert.deepEqual([...n1.permissions.get('alice')!].sort(), ['consume', 'produce'], 'functions dropped');
      assert.deepEqual([...n1.permissions.get('bob')!], ['consume']);
      assert.deepEqual([...n1.topics.keys()], ['orders'], 'the partition-only grant is not applied');
      assert.deepEqual([...n1.topics.get('orders')!.permissions.get('carol')!], ['produce']);
      assert.deepEqual([...n1.subscriptionPermissions.get('billing')!], ['bob']);
      assert.equal(n1.subscriptionAuthMode, 'None');
      assert.equal(t.namespaces.get('ns2')!.subscriptionAuthMode, 'Prefix');
      assert.equal(await source.getTenant(`no-such-${tenant}`), null, 'a tenant Pulsar does not know');
    } finally {
      await source.close();
    }
  });

  test('authorizer over Pulsar policies (createAuthorizer, storageEngine=pulsar): superuser, tenant admin, namespace/topic grants, subscription roles, Prefix', async () => {
    const built = await createAuthorizer(
      {
        authorizationEnabled: true,
        superUserRoles: 'admin,proxy',
        anonymousUserRole: '',
        authorizationAllowWildcardsMatching: false,
        policiesDirectory: '/nonexistent/never/read',
        policiesRefreshIntervalMs: 1000,
        storageEngine: 'pulsar',
        webServiceUrl: p.webUrl,
        brokerClientAuthenticationPlugin: 'token',
        brokerClientAuthenticationParameters: `file:${p.adminTokenFile}`,
        pulsarPolicyCacheMs: 5000,
        pulsarOperationTimeoutMs: 10_000,
      },
      silentLogger(),
    );
    const a = built.authorizer as PulsarAuthorizer;
    try {
      assert.ok(built.source instanceof PulsarPolicySource);
      await expectDecision(a, 'admin', 'produce', topic('anything'), true, /superuser/);
      await expectDecision(a, 'ta', 'produce', topic('orders'), true, /tenant admin/);
      await expectDecision(a, 'ta', 'consume', topic('x', 'ns1', 'billing'), true, /tenant admin/);
      await expectDecision(a, 'ta', 'admin', topic('x'), true);
      await expectDecision(a, 'alice', 'produce', topic('any'), true, /namespace grant: produce/);
      await expectDecision(a, 'alice', 'consume', topic('orders-partition-0', 'ns1', 'open-sub'), true);
      await expectDecision(a, 'alice', 'admin', topic('any'), false, /needs a superuser or tenant admin/);
      await expectDecision(a, 'bob', 'produce', topic('any'), false, /no produce grant/);
      await expectDecision(a, 'bob', 'consume', topic('any', 'ns1', 'billing'), true);
      await expectDecision(a, 'alice', 'consume', topic('any', 'ns1', 'billing'), false, /subscriptionPermissions/);
      await expectDecision(a, 'carol', 'produce', topic('orders-partition-1'), true, /topic grant: produce/);
      await expectDecision(a, 'carol', 'produce', topic('other'), false);
      await expectDecision(a, 'carol', 'consume', topic('orders'), false);
      await expectDecision(a, 'pete', 'produce', topic('orders-partition-1'), false, /no produce grant/);
      await expectDecision(a, 'carol', 'lookup', topic('orders'), true);
      await expectDecision(a, 'dave', 'consume', topic('t', 'ns2', 'dave-reports'), true);
      await expectDecision(a, 'dave', 'consume', topic('t', 'ns2', 'reports'), false, /Prefix/);
      await expectDecision(a, 'dave', 'consume', group('dave-g', 'ns2'), true);
      await expectDecision(a, 'bob', 'consume', group('billing'), true);
      await expectDecision(a, 'alice', 'consume', group('billing'), false, /subscriptionPermissions/);
      await expectDecision(a, 'alice', 'produce', topic('x', 'ns3'), false, /namespace '.*\/ns3' has no policy/);
      await expectDecision(a, 'alice', 'produce', { kind: 'topic', tenant: `no-such-${tenant}`, namespace: 'n', topic: 't' }, false, /has no policy/);
      await expectDecision(a, null, 'produce', topic('x'), false, /not authenticated/);
    } finally {
      await built.close();
    }
  });

  test('policy source: a grant and a revoke made through the admin API apply within 2 x cacheMs; onChange reports them', async () => {
    const cacheMs = 300;
    const source = new PulsarPolicySource({ admin, cacheMs, refreshFloorMs: 60_000 });
    const changes: PolicyChange[] = [];
    source.onChange((c) => changes.push(c));
    // refreshFloorMs of a minute: no refresh on denial here, only the cache's age bound
    const a = new PulsarAuthorizer(source, { superUserRoles: ['admin'] });
    try {
      await expectDecision(a, 'frank', 'produce', topic('t'), false);
      await sleep(50);
      await admin.grantNamespacePermission(ns1, 'frank', ['produce']);
      const granted = Date.now();
      let seen = 0;
      while (!(await a.can('frank', 'produce', topic('t'))).allowed) {
        assert.ok(Date.now() - granted <= 2 * cacheMs + 500, 'grant not applied within 2 x cacheMs');
        await sleep(20);
      }
      seen = Date.now() - granted;
      assert.ok(seen <= 2 * cacheMs + 500, `grant applied after ${seen} ms`);
      assert.ok(changes.some((c) => c.tenant === tenant && c.kind === 'updated'));

      await admin.revokeNamespacePermission(ns1, 'frank');
      await sleep(2 * cacheMs + 10);
      await expectDecision(a, 'frank', 'produce', topic('t'), false, /no produce grant/);
      // served from the cache in between: far fewer fetches than decisions
      const before = source.fetches;
      for (let i = 0; i < 50; i++) await a.can('alice', 'produce', topic('t'));
      assert.ok(source.fetches - before <= 1, `fetches ${source.fetches - before}`);
    } finally {
      await admin.revokeNamespacePermission(ns1, 'frank').catch(() => undefined);
      await source.close();
    }
  });

  test('refresh on denial: a fresh grant is usable at once despite a long cache; a denial storm refreshes at most once per floor', async () => {
    const source = new PulsarPolicySource({ admin, cacheMs: 60_000, refreshFloorMs: 500 });
    const a = new PulsarAuthorizer(source, { superUserRoles: ['admin'] });
    try {
      await expectDecision(a, 'gina', 'produce', topic('t'), false);
      await sleep(550); // past the floor: the next denial may refresh
      await admin.grantTopicPermission(`persistent://${ns1}/orders`, 'gina', ['produce']);
      const f0 = source.fetches;
      await expectDecision(a, 'gina', 'produce', topic('orders'), true, /topic grant: produce/);
      assert.equal(source.fetches - f0, 1, 'one refresh');

      // 100 concurrent denials right after a refresh: none refreshes (floor)
      const f1 = source.fetches;
      const ds = await Promise.all(Array.from({ length: 100 }, () => a.can('nobody', 'produce', topic('orders'))));
      assert.ok(ds.every((d) => !d.allowed));
      assert.equal(source.fetches - f1, 0);
      // after the floor, a storm of concurrent denials shares its refreshes: the first one, and
      // at most one more for the denials that came after it had started (it may predate a grant)
      await sleep(550);
      const f2 = source.fetches;
      await Promise.all(Array.from({ length: 100 }, () => a.can('nobody', 'produce', topic('orders'))));
      assert.ok(source.fetches - f2 >= 1 && source.fetches - f2 <= 2, `fetches ${source.fetches - f2}`);
      // and then the floor holds again
      const f3 = source.fetches;
      await Promise.all(Array.from({ length: 100 }, () => a.can('nobody', 'produce', topic('orders'))));
      assert.equal(source.fetches - f3, 0);
    } finally {
      await source.close();
    }
  });

  test('admin API unreachable: the last good policy is served up to failClosedAfterMs, then requests are denied (fail closed); back when it is reachable', async () => {
    const web = new URL(p.webUrl);
    const relay = new Relay({ host: web.hostname, port: Number(web.port) });
    await relay.open();
    const viaRelay = createPulsarAdmin({ webServiceUrl: `http://127.0.0.1:${relay.port}`, token: () => p.adminToken, timeoutMs: 2000 });
    const cacheMs = 200;
    const failClosedAfterMs = 1200;
    const source = new PulsarPolicySource({ admin: viaRelay, cacheMs, failClosedAfterMs, retryMs: 100, refreshFloorMs: 100 });
    const changes: PolicyChange[] = [];
    source.onChange((c) => changes.push(c));
    const a = new PulsarAuthorizer(source, { superUserRoles: ['admin'] });
    try {
      await expectDecision(a, 'alice', 'produce', topic('t'), true);
      const loadedAt = Date.now();
      await relay.cut();
      // stale but within the bound: still allowed (and a denial is still a denial)
      await sleep(2 * cacheMs + 50);
      await expectDecision(a, 'alice', 'produce', topic('t'), true);
      await expectDecision(a, 'bob', 'produce', topic('t'), false, /no produce grant/);
      // past failClosedAfterMs: denied with the reason
      await sleep(Math.max(0, loadedAt + failClosedAfterMs + 50 - Date.now()));
      await expectDecision(a, 'alice', 'produce', topic('t'), false, /policy of tenant '.*' is unavailable: cannot be read from Pulsar .*fail closed/);
      await expectDecision(a, 'ta', 'produce', topic('t'), false, /unavailable/);
      await expectDecision(a, 'admin', 'produce', topic('t'), true, /superuser/);
      assert.ok(changes.some((c) => c.kind === 'removed'), JSON.stringify(changes));
      // reachable again: the next decision after retryMs reads the policy
      await relay.open();
      await sleep(150);
      await expectDecision(a, 'alice', 'produce', topic('t'), true);
    } finally {
      await source.close();
      viaRelay.close();
      await relay.cut();
    }
  });

  test('policy source: never reachable at all -> denied from the first request', async () => {
    const dead = net.createServer();
    await new Promise<void>((r) => dead.listen(0, '127.0.0.1', r));
    const port = (dead.address() as net.AddressInfo).port;
    await new Promise<void>((r) => dead.close(() => r()));
    const unreachable = createPulsarAdmin({ webServiceUrl: `http://127.0.0.1:${port}`, timeoutMs: 1000 });
    const source = new PulsarPolicySource({ admin: unreachable, cacheMs: 100 });
    const a = new PulsarAuthorizer(source, { superUserRoles: ['admin'] });
    try {
      await expectDecision(a, 'alice', 'produce', topic('t'), false, /unavailable: cannot be read from Pulsar \(.*request failed/);
    } finally {
      await source.close();
      unreachable.close();
    }
  });
}
