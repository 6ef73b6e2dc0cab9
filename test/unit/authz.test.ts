/**
 * The authorizer's rules, one by one, against Pulsar's PulsarAuthorizationProvider
 * semantics (docs/authorization.md): superusers, tenant admins, namespace and
 * topic grants, lookup, subscription permissions and Prefix mode, wildcards,
 * the anonymous role, tenant isolation, admin/cluster, authorization disabled.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ALLOW_ALL_AUTHORIZER, createAuthorizer, PulsarAuthorizer, StaticPolicySource, validateTenantPolicy, type PulsarAuthorizerOptions } from '../../src/security/authz/index.js';
import type { AuthAction, AuthResource } from '../../src/security/types.js';
import { silentLogger } from '../../src/logger.js';

const ACME = {
  tenant: 'acme',
  adminRoles: ['acme-admin'],
  namespaces: {
    orders: {
      permissions: { alice: ['produce', 'consume'], bob: ['consume'], 'svc-*': ['consume'], '*-writer': ['produce'] },
      subscriptionPermissions: { billing: ['bob'], open: [] },
      subscriptionAuthMode: 'None',
      topics: {
        payments: { permissions: { carol: ['produce'], 'team-*': ['consume'] } },
        audit: { permissions: { erin: ['consume'] } },
      },
    },
    strict: {
      permissions: { alice: ['consume'], bob: ['consume'] },
      subscriptionAuthMode: 'Prefix',
    },
    empty: {},
  },
};
const GLOBEX = {
  tenant: 'globex',
  adminRoles: ['globex-admin'],
  namespaces: { main: { permissions: { gina: ['produce', 'consume'] } } },
};

function source(): StaticPolicySource {
  return new StaticPolicySource([validateTenantPolicy(ACME, 'acme.json'), validateTenantPolicy(GLOBEX, 'globex.json')]);
}

function authz(options: Partial<PulsarAuthorizerOptions> = {}, src = source()): PulsarAuthorizer {
  return new PulsarAuthorizer(src, { superUserRoles: ['root', 'ops'], ...options });
}

const topic = (t: string, ns = 'orders', tenant = 'acme', subscription?: string): AuthResource =>
  subscription === undefined ? { kind: 'topic', tenant, namespace: ns, topic: t } : { kind: 'topic', tenant, namespace: ns, topic: t, subscription };
const group = (g: string, ns = 'orders', tenant = 'acme'): AuthResource => ({ kind: 'group', tenant, namespace: ns, group: g });

async function expectAllowed(a: PulsarAuthorizer, role: string | null, action: AuthAction, r: AuthResource, reason?: RegExp) {
  const d = await a.can(role, action, r);
  assert.equal(d.allowed, true, `${role} ${action} ${JSON.stringify(r)} should be allowed: ${d.reason}`);
  if (reason) assert.match(d.reason, reason);
}

async function expectDenied(a: PulsarAuthorizer, role: string | null, action: AuthAction, r: AuthResource, reason?: RegExp) {
  const d = await a.can(role, action, r);
  assert.equal(d.allowed, false, `${role} ${action} ${JSON.stringify(r)} should be denied (${d.reason})`);
  if (reason) assert.match(d.reason, reason);
}

test('authorization disabled: everything allowed with reason "authorization disabled"', async () => {
  for (const r of [topic('x'), group('g'), { kind: 'cluster' } as AuthResource, { kind: 'tenant', tenant: 'nope' } as AuthResource]) {
    assert.deepEqual(await ALLOW_ALL_AUTHORIZER.can(null, 'admin', r), { allowed: true, reason: 'authorization disabled', rule: 'authorizationEnabled=false: everything is allowed' });
  }
  const built = await createAuthorizer(
    {
      authorizationEnabled: false,
      superUserRoles: '',
      anonymousUserRole: '',
      authorizationAllowWildcardsMatching: false,
      policiesDirectory: '/nonexistent/never/read',
      policiesRefreshIntervalMs: 1000,
    },
    silentLogger(),
  );
  assert.equal(built.source, null);
  assert.deepEqual(await built.authorizer.can('anyone', 'produce', topic('t')), { allowed: true, reason: 'authorization disabled', rule: 'authorizationEnabled=false: everything is allowed' });
  await built.close();
});

test('superuser: everything, on any tenant (even one without a policy) and the cluster', async () => {
  const a = authz();
  for (const action of ['produce', 'consume', 'lookup', 'admin'] as const) {
    await expectAllowed(a, 'root', action, topic('t'), /^superuser$/);
    await expectAllowed(a, 'ops', action, topic('t', 'x', 'no-such-tenant'), /superuser/);
    await expectAllowed(a, 'root', action, group('billing', 'strict'), /superuser/);
  }
  await expectAllowed(a, 'root', 'admin', { kind: 'cluster' }, /superuser/);
  await expectAllowed(a, 'root', 'admin', { kind: 'tenant', tenant: 'nobody' }, /superuser/);
  // subscription rules do not apply to superusers (allowTopicOperation checks them first)
  await expectAllowed(a, 'root', 'consume', topic('t', 'strict', 'acme', 'billing'));
  // exact names only: no prefix/suffix games, not even with wildcards enabled
  await expectDenied(authz({ allowWildcards: true, superUserRoles: ['ro*'] }), 'root', 'produce', topic('t'));
  await expectDenied(a, 'root2', 'produce', topic('t'));
});

test('tenant admin: produce/consume/lookup/admin in its tenant (as Pulsar allowTopicOperation), not elsewhere, not the cluster', async () => {
  const a = authz();
  for (const action of ['produce', 'consume', 'lookup', 'admin'] as const) {
    await expectAllowed(a, 'acme-admin', action, topic('anything'), /^tenant admin$/);
    // even in a namespace without grants or without any policy entry
    await expectAllowed(a, 'acme-admin', action, topic('t', 'empty'), /tenant admin/);
    await expectAllowed(a, 'acme-admin', action, topic('t', 'not-listed'), /tenant admin/);
    await expectDenied(a, 'acme-admin', action, topic('t', 'main', 'globex'));
  }
  // subscription permissions and Prefix mode do not bind tenant admins
  await expectAllowed(a, 'acme-admin', 'consume', topic('t', 'orders', 'acme', 'billing'));
  await expectAllowed(a, 'acme-admin', 'consume', group('no-prefix', 'strict'));
  await expectAllowed(a, 'acme-admin', 'admin', { kind: 'tenant', tenant: 'acme' }, /tenant admin/);
  await expectDenied(a, 'acme-admin', 'admin', { kind: 'tenant', tenant: 'globex' }, /superuser or tenant admin/);
  await expectDenied(a, 'acme-admin', 'admin', { kind: 'cluster' }, /superuser/);
  // admin roles are exact names too
  await expectDenied(authz({ allowWildcards: true }), 'acme-admin2', 'admin', { kind: 'tenant', tenant: 'acme' });
});

test('namespace grant: every topic of the namespace, only the granted actions, only that namespace', async () => {
  const a = authz();
  await expectAllowed(a, 'alice', 'produce', topic('whatever'), /namespace grant: produce/);
  await expectAllowed(a, 'alice', 'consume', topic('payments'), /namespace grant: consume/);
  await expectDenied(a, 'alice', 'produce', topic('t', 'empty'), /no produce grant/);
  await expectDenied(a, 'alice', 'produce', topic('t', 'not-listed'), /namespace 'acme\/not-listed' has no policy/);
  await expectDenied(a, 'alice', 'admin', topic('t'), /needs a superuser or tenant admin/);
  await expectDenied(a, 'alice', 'admin', { kind: 'tenant', tenant: 'acme' });
});

test('topic grant: in addition to the namespace grants, only on that topic (all partitions, full or short name)', async () => {
  const a = authz();
  await expectAllowed(a, 'carol', 'produce', topic('payments'), /topic grant: produce/);
  await expectAllowed(a, 'carol', 'produce', topic('persistent://acme/orders/payments'));
  await expectAllowed(a, 'carol', 'produce', topic('payments-partition-3'));
  await expectDenied(a, 'carol', 'produce', topic('refunds'), /no produce grant for the role on persistent:\/\/acme\/orders\/refunds/);
  await expectDenied(a, 'carol', 'consume', topic('payments'));
  // namespace grant holders keep their rights on topics with their own grants
  await expectAllowed(a, 'bob', 'consume', topic('payments'), /namespace grant/);
  await expectAllowed(a, 'erin', 'consume', topic('audit'), /topic grant: consume/);
});

test('consume without produce, and lookup with either produce or consume (canLookup)', async () => {
  const a = authz();
  await expectAllowed(a, 'bob', 'consume', topic('t'));
  await expectDenied(a, 'bob', 'produce', topic('t'), /no produce grant/);
  await expectAllowed(a, 'bob', 'lookup', topic('t'), /consume/);
  await expectAllowed(a, 'carol', 'lookup', topic('payments'), /produce/);
  await expectDenied(a, 'carol', 'lookup', topic('refunds'), /no produce or consume grant/);
  await expectDenied(a, 'dave', 'lookup', topic('t'));
  // lookup ignores subscription rules (Pulsar looks up with no subscription)
  await expectAllowed(a, 'alice', 'lookup', topic('t', 'strict'));
});

test('subscription permissions: a listed subscription admits only its roles; unlisted or empty lists are open', async () => {
  const a = authz();
  await expectAllowed(a, 'bob', 'consume', topic('t', 'orders', 'acme', 'billing'));
  await expectDenied(a, 'alice', 'consume', topic('t', 'orders', 'acme', 'billing'), /not in subscriptionPermissions of subscription 'billing'/);
  await expectAllowed(a, 'alice', 'consume', topic('t', 'orders', 'acme', 'other-group'));
  await expectAllowed(a, 'alice', 'consume', topic('t', 'orders', 'acme', 'open'));
  // a blank subscription is no subscription
  await expectAllowed(a, 'alice', 'consume', topic('t', 'orders', 'acme', ''));
  // being listed on a subscription grants nothing by itself: consume is still needed
  const src = source();
  src.set(validateTenantPolicy({ tenant: 'acme', namespaces: { orders: { subscriptionPermissions: { billing: ['zed'] } } } }, 'acme.json'));
  await expectDenied(authz({}, src), 'zed', 'consume', topic('t', 'orders', 'acme', 'billing'), /no consume grant/);
  // groups (Kafka consumer groups) follow the same rules
  await expectAllowed(a, 'bob', 'consume', group('billing'), /namespace grant: consume/);
  await expectDenied(a, 'alice', 'consume', group('billing'), /subscriptionPermissions/);
  await expectDenied(a, 'alice', 'lookup', group('billing'));
  await expectAllowed(a, 'alice', 'lookup', group('reports'));
  await expectDenied(a, 'carol', 'consume', group('reports'), /no consume grant for the role in namespace acme\/orders/);
  await expectAllowed(a, 'erin', 'consume', group('reports'), /topic grant: consume on audit/);
  await expectDenied(a, 'alice', 'produce', group('reports'), /does not apply/);
  await expectDenied(a, 'alice', 'admin', group('reports'), /superuser or tenant admin/);
});

test('subscriptionAuthMode Prefix: the subscription (group) must start with the role name', async () => {
  const a = authz();
  await expectAllowed(a, 'alice', 'consume', topic('t', 'strict', 'acme', 'alice-reports'));
  await expectAllowed(a, 'alice', 'consume', topic('t', 'strict', 'acme', 'alice'));
  await expectDenied(a, 'alice', 'consume', topic('t', 'strict', 'acme', 'reports'), /Prefix/);
  await expectDenied(a, 'alice', 'consume', topic('t', 'strict', 'acme', 'bob-reports'), /must start with the role name/);
  await expectAllowed(a, 'bob', 'consume', group('bob-x', 'strict'));
  await expectDenied(a, 'bob', 'consume', group('x-bob', 'strict'), /Prefix/);
  // Prefix does not replace the grant
  await expectDenied(a, 'carol', 'consume', topic('t', 'strict', 'acme', 'carol-1'), /no consume grant/);
  // in mode None, any name
  await expectAllowed(a, 'alice', 'consume', topic('t', 'orders', 'acme', 'reports'));
});

test("a namespace's __consumer_offsets holds every group homed there: with subscription rules, tenant admins only", async () => {
  const a = authz();
  // acme/orders has subscriptionPermissions (billing: bob only): alice may not read every group's offsets
  await expectDenied(a, 'alice', 'consume', topic('__consumer_offsets', 'orders'), /subscription rules/);
  await expectDenied(a, 'bob', 'consume', topic('__consumer_offsets', 'orders'), /subscription rules/);
  // Prefix mode likewise
  await expectDenied(a, 'alice', 'consume', topic('__consumer_offsets', 'strict'), /subscription rules/);
  // looking it up (partitions, end offsets) is not reading it
  await expectAllowed(a, 'alice', 'lookup', topic('__consumer_offsets', 'orders'));
  // the tenant admin reads it
  await expectAllowed(a, 'acme-admin', 'consume', topic('__consumer_offsets', 'strict'), /tenant admin/);
  // without subscription rules: the consume grant of the namespace, as for any of its topics
  await expectAllowed(a, 'gina', 'consume', topic('__consumer_offsets', 'main', 'globex'));
  // another topic of a namespace with rules is unaffected
  await expectAllowed(a, 'alice', 'consume', topic('t', 'orders'));
});

test('wildcards: * at the end (prefix) or start (suffix) of a granted role, only when enabled', async () => {
  const off = authz();
  const on = authz({ allowWildcards: true });
  await expectDenied(off, 'svc-orders', 'consume', topic('t'));
  await expectAllowed(on, 'svc-orders', 'consume', topic('t'), /namespace grant \(wildcard 'svc-\*'\): consume/);
  await expectDenied(on, 'svc-orders', 'produce', topic('t'), /no produce grant/);
  await expectDenied(on, 'my-svc', 'consume', topic('t'));
  await expectAllowed(on, 'billing-writer', 'produce', topic('t'), /wildcard '\*-writer'/);
  await expectDenied(off, 'billing-writer', 'produce', topic('t'));
  await expectDenied(on, 'billing-writer-2', 'produce', topic('t'));
  // topic-level wildcard grants
  await expectAllowed(on, 'team-a', 'consume', topic('payments'), /topic grant \(wildcard 'team-\*'\)/);
  await expectDenied(on, 'team-a', 'consume', topic('refunds'));
  await expectDenied(off, 'team-a', 'consume', topic('payments'));
  // with wildcards off, a grant named "svc-*" is the literal role "svc-*"
  await expectAllowed(off, 'svc-*', 'consume', topic('t'), /^namespace grant: consume$/);
  // lookup and groups go through the same matching
  await expectAllowed(on, 'svc-x', 'lookup', topic('t'));
  await expectAllowed(on, 'svc-x', 'consume', group('g'));
  await expectDenied(off, 'svc-x', 'consume', group('g'));
  // subscription permission roles are exact, wildcards or not
  await expectDenied(on, 'svc-x', 'consume', topic('t', 'orders', 'acme', 'billing'), /subscriptionPermissions/);
  // "*" alone matches every role when enabled
  const src = new StaticPolicySource([validateTenantPolicy({ tenant: 'pub', namespaces: { n: { permissions: { '*': ['consume'] } } } }, 'pub.json')]);
  await expectAllowed(authz({ allowWildcards: true }, src), 'anyone', 'consume', topic('t', 'n', 'pub'));
  await expectDenied(authz({}, src), 'anyone', 'consume', topic('t', 'n', 'pub'));
});

test('anonymous: no role without anonymousUserRole; with it, the anonymous role is checked like any other', async () => {
  await expectDenied(authz(), null, 'lookup', topic('t'), /not authenticated and no anonymousUserRole/);
  await expectDenied(authz({ anonymousUserRole: '' }), null, 'consume', topic('t'));
  await expectAllowed(authz({ anonymousUserRole: 'bob' }), null, 'consume', topic('t'), /namespace grant: consume \(anonymous as role 'bob'\)/);
  await expectDenied(authz({ anonymousUserRole: 'bob' }), null, 'produce', topic('t'), /anonymous as role 'bob'/);
  await expectAllowed(authz({ anonymousUserRole: 'root' }), null, 'admin', { kind: 'cluster' }, /superuser/);
  // an authenticated role is never replaced by the anonymous one
  await expectDenied(authz({ anonymousUserRole: 'root' }), 'dave', 'produce', topic('t'));
});

test('tenant isolation: grants in tenant A give nothing in tenant B; unknown tenants deny', async () => {
  const a = authz();
  await expectDenied(a, 'alice', 'produce', topic('t', 'main', 'globex'), /no produce grant/);
  await expectDenied(a, 'alice', 'consume', topic('t', 'orders', 'globex'), /namespace 'globex\/orders' has no policy/);
  await expectAllowed(a, 'gina', 'produce', topic('t', 'main', 'globex'));
  await expectDenied(a, 'gina', 'produce', topic('t'));
  await expectDenied(a, 'globex-admin', 'admin', topic('t'));
  await expectDenied(a, 'alice', 'produce', topic('t', 'orders', 'initech'), /tenant 'initech' has no policy/);
  await expectDenied(a, 'alice', 'lookup', group('g', 'orders', 'initech'), /tenant 'initech' has no policy/);
});

test('cluster and tenant resources: cluster = superusers only; tenant = superuser or tenant admin, for any action', async () => {
  const a = authz();
  for (const action of ['produce', 'consume', 'lookup', 'admin'] as const) {
    await expectDenied(a, 'alice', action, { kind: 'cluster' }, /need a superuser/);
    await expectDenied(a, 'alice', action, { kind: 'tenant', tenant: 'acme' });
    await expectAllowed(a, 'acme-admin', action, { kind: 'tenant', tenant: 'acme' });
  }
});

test('a policy change applies to the next decision (no decision cache)', async () => {
  const src = source();
  const a = authz({}, src);
  await expectAllowed(a, 'alice', 'produce', topic('t'));
  src.set(validateTenantPolicy({ ...ACME, namespaces: { ...ACME.namespaces, orders: { permissions: { bob: ['consume'] } } } }, 'acme.json'));
  await expectDenied(a, 'alice', 'produce', topic('t'));
  src.remove('acme');
  await expectDenied(a, 'bob', 'consume', topic('t'), /tenant 'acme' has no policy/);
  await expectDenied(a, 'acme-admin', 'admin', { kind: 'tenant', tenant: 'acme' });
  await expectAllowed(a, 'root', 'produce', topic('t'));
});

test('asynchronous policy sources are awaited', async () => {
  const inner = source();
  const a = new PulsarAuthorizer(
    { getTenant: async (t) => inner.getTenant(t), onChange: () => () => {}, close: async () => {} },
    { superUserRoles: [] },
  );
  await expectAllowed(a, 'alice', 'produce', topic('t'));
  await expectDenied(a, 'carol', 'produce', topic('t'));
});

test('a namespace as a whole (InitProducerId: WRITE on any topic): a namespace or topic grant, tenant admins and superusers; admin on a group needs a tenant admin', async () => {
  const a = authz();
  const ns = (namespace: string, tenant = 'acme'): AuthResource => ({ kind: 'namespace', tenant, namespace });
  await expectAllowed(a, 'alice', 'produce', ns('orders'), /namespace grant: produce/);
  await expectAllowed(a, 'carol', 'produce', ns('orders'), /topic grant: produce on payments/);
  await expectDenied(a, 'bob', 'produce', ns('orders'), /no produce grant for the role in namespace acme\/orders or any of its topics/);
  await expectAllowed(a, 'bob', 'lookup', ns('orders'));
  await expectDenied(a, 'alice', 'produce', ns('empty'));
  await expectDenied(a, 'gina', 'produce', ns('orders'));
  await expectAllowed(a, 'acme-admin', 'produce', ns('empty'), /tenant admin/);
  await expectAllowed(a, 'root', 'produce', ns('orders', 'nobody'), /superuser/);
  await expectDenied(a, null, 'produce', ns('orders'), /not authenticated/);
  await expectAllowed(authz({ allowWildcards: true }), 'x-writer', 'produce', ns('orders'), /wildcard/);
  // DELETE on a group maps to admin: consume grants do not suffice
  await expectDenied(a, 'bob', 'admin', group('billing'), /needs a superuser or tenant admin/);
  await expectAllowed(a, 'acme-admin', 'admin', group('billing'), /tenant admin/);
});
