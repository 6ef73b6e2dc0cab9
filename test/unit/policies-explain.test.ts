/**
 * `kop-gateway policies explain` over policy files (every rule of the
 * authorizer: superuser, tenant admin, namespace and topic grants, wildcards,
 * subscription rules, and why nothing matched, with the file that says so),
 * with a token validated by the configured key, and against a real Pulsar
 * broker's admin API (storageEngine=pulsar, the shared test broker).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { loadConfig } from '../../src/config/load.js';
import { explainCommand } from '../../src/cli/explain.js';
import { createPulsarAdmin, type PulsarAdminClient } from '../../src/pulsar/admin/index.js';
import { pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName, type SharedPulsar } from '../helpers/pulsar.js';
import { tempDir } from '../helpers/temp.js';

const secret = randomBytes(32);
const dir = tempDir('kop-explain-');
const acmeFile = join(dir, 'acme.yaml');
writeFileSync(
  acmeFile,
  `tenant: acme
adminRoles: [acme-admin]
namespaces:
  orders:
    permissions:
      alice: [produce, consume]
      bob: [consume]
      "ops-*": [consume]
    subscriptionPermissions:
      billing: [bob]
    topics:
      payments:
        permissions:
          carol: [produce]
`,
);

function config(extra: Record<string, string | number | boolean> = {}) {
  return loadConfig({
    env: {},
    overrides: {
      authorizationEnabled: true,
      policiesDirectory: dir,
      superUserRoles: 'root',
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      kafkaTenant: 'acme',
      kafkaNamespace: 'orders',
      ...extra,
    },
  });
}

async function explain(args: string[], cfg = config()): Promise<{ code: number; out: string; err: string; field: (name: string) => string }> {
  let out = '';
  let err = '';
  const code = await explainCommand(args, { write: (t: string) => (out += t) }, { write: (t: string) => (err += t) }, { config: cfg });
  const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(out)?.[1] ?? '';
  return { code, out, err, field };
}

test('explain over policy files: each rule that decides, with the file it is written in', async () => {
  const cases: Array<[string[], number, RegExp]> = [
    [['--principal', 'root', '--action', 'admin', '--cluster'], 0, /^superUserRoles contains "root"$/],
    [['--principal', 'alice', '--action', 'admin', '--cluster'], 1, /^cluster operations: superUserRoles only, and it does not contain "alice"$/],
    [['--principal', 'acme-admin', '--action', 'admin', '--tenant', 'acme'], 0, new RegExp(`^tenant acme adminRoles contains "acme-admin" \\(${acmeFile}\\)$`)],
    [['--principal', 'alice', '--action', 'admin', '--tenant', 'acme'], 1, /^admin on tenant acme: neither superUserRoles nor tenant acme adminRoles \[acme-admin\] contains "alice"/],
    [['--principal', 'alice', '--action', 'produce', '--topic', 'anything'], 0, new RegExp(`^namespace acme/orders permissions: "alice" -> \\[consume, produce\\] \\(${acmeFile}\\)$`)],
    [['--principal', 'carol', '--action', 'produce', '--topic', 'acme/orders/payments'], 0, /^topic acme\/orders\/payments permissions: "carol" -> \[produce\]/],
    [
      ['--principal', 'carol', '--action', 'produce', '--topic', 'persistent://acme/orders/refunds'],
      1,
      /^produce needs a grant: namespace acme\/orders permissions: nothing for "carol"; topic acme\/orders\/refunds permissions: nothing for "carol" \(/,
    ],
    [['--principal', 'bob', '--action', 'produce', '--topic', 'payments'], 1, /namespace acme\/orders permissions: "bob" -> \[consume\]; topic acme\/orders\/payments permissions: nothing for "bob"/],
    [['--principal', 'bob', '--action', 'lookup', '--topic', 'payments'], 0, /^namespace acme\/orders permissions: "bob" -> \[consume\]/],
    [['--principal', 'alice', '--action', 'consume', '--topic', 'payments', '--subscription', 'billing'], 1, /^namespace acme\/orders subscriptionPermissions\["billing"\] = \[bob\], without "alice"/],
    [['--principal', 'bob', '--action', 'consume', '--group', 'acme/orders/billing'], 0, /^namespace acme\/orders permissions: "bob" -> \[consume\]/],
    [['--principal', 'carol', '--action', 'consume', '--group', 'acme/orders/g'], 1, /^a group needs consume on its namespace or one of its topics: namespace acme\/orders permissions: nothing for "carol"/],
    [['--principal', 'carol', '--action', 'produce', '--namespace', 'acme/orders'], 0, /^topic acme\/orders\/payments permissions: "carol" -> \[produce\]/],
    [['--principal', 'alice', '--action', 'produce', '--topic', 'acme/other/t'], 1, /^the policy of tenant acme has no namespace 'other'/],
    [['--principal', 'alice', '--action', 'produce', '--topic', 'beta/ns/t'], 1, new RegExp(`^no policy for tenant 'beta' \\(${dir}: no valid beta.json/.yaml/.yml\\)$`)],
    [['--anonymous', '--action', 'lookup', '--topic', 't'], 1, /^not authenticated, and anonymousUserRole is empty/],
    // "admin " is not "admin": the rule quotes the role exactly
    [['--principal', 'alice ', '--action', 'produce', '--topic', 't'], 1, /nothing for "alice "/],
  ];
  for (const [args, code, rule] of cases) {
    const r = await explain(args);
    assert.equal(r.code, code, `${args.join(' ')}: ${r.out}${r.err}`);
    assert.equal(r.field('decision'), code === 0 ? 'ALLOWED' : 'DENIED');
    assert.match(r.field('rule'), rule, args.join(' '));
    assert.equal(r.field('source'), `policy files in ${dir}`);
  }
  // wildcards only with authorizationAllowWildcardsMatching
  const off = await explain(['--principal', 'ops-1', '--action', 'consume', '--topic', 't']);
  assert.equal(off.code, 1);
  const on = await explain(['--principal', 'ops-1', '--action', 'consume', '--topic', 't'], config({ authorizationAllowWildcardsMatching: true }));
  assert.equal(on.code, 0, on.out);
  assert.match(on.field('rule'), /^namespace acme\/orders permissions: wildcard "ops-\*" -> \[consume\]/);
  // anonymous with anonymousUserRole
  const anon = await explain(['--anonymous', '--action', 'produce', '--topic', 't'], config({ anonymousUserRole: 'alice' }));
  assert.equal(anon.code, 0);
  assert.match(anon.field('rule'), /^not authenticated: anonymousUserRole "alice"; namespace acme\/orders permissions/);
  // authorization disabled
  const disabled = await explain(['--principal', 'x', '--action', 'admin', '--cluster'], config({ authorizationEnabled: false }));
  assert.equal(disabled.code, 0);
  assert.equal(disabled.field('rule'), 'authorizationEnabled=false: everything is allowed');
});

test('explain with a token: validated with the configured key, its role is the principal; a bad token is refused as authentication would', async () => {
  const jwt = await new SignJWT({ sub: 'carol', jti: 'tok-1' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(secret);
  const r = await explain(['--token', `token:${jwt}`, '--action', 'produce', '--topic', 'payments']);
  assert.equal(r.code, 0, r.out + r.err);
  assert.match(r.field('principal'), /^"carol" \(from the token: valid, expires .*Z, jti "tok-1"\)$/);
  const forged = await new SignJWT({ sub: 'root' }).setProtectedHeader({ alg: 'HS256' }).sign(randomBytes(32));
  const bad = await explain(['--token', forged, '--action', 'admin', '--cluster']);
  assert.equal(bad.code, 1);
  assert.match(bad.field('reason'), /refused at authentication: .*signature/i);
});

test('explain: usage errors exit 2 and say what is missing', async () => {
  assert.equal((await explain(['--action', 'produce', '--topic', 't'])).code, 2);
  assert.equal((await explain(['--principal', 'a', '--topic', 't'])).code, 2);
  assert.equal((await explain(['--principal', 'a', '--action', 'write', '--topic', 't'])).code, 2);
  assert.equal((await explain(['--principal', 'a', '--action', 'produce'])).code, 2);
  const bad = await explain(['--principal', 'a', '--action', 'consume', '--group', 'nogroup']);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /expected tenant\/namespace\/group/);
  const badTopic = await explain(['--principal', 'a', '--action', 'produce', '--topic', 'a/b/c/d']);
  assert.equal(badTopic.code, 2);
});

const skip = pulsarSkipReason();
if (skip) {
  test(`explain against Pulsar's admin API [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  let p: SharedPulsar;
  let admin: PulsarAdminClient;
  const tenant = uniqueName('kop-explain');
  before(async () => {
    p = await sharedPulsar();
    admin = createPulsarAdmin({ webServiceUrl: p.webUrl, token: () => p.adminToken, timeoutMs: 15_000 });
    await admin.createTenant(tenant, { adminRoles: ['ta'], allowedClusters: await admin.listClusters() });
    await admin.createNamespace(`${tenant}/ns1`);
    await admin.grantNamespacePermission(`${tenant}/ns1`, 'alice', ['produce']);
    await admin.createPartitionedTopic(`persistent://${tenant}/ns1/orders`, 1);
    await admin.grantTopicPermission(`persistent://${tenant}/ns1/orders`, 'carol', ['consume']);
  });
  after(async () => {
    if (!admin) return;
    await admin.deletePartitionedTopic(`persistent://${tenant}/ns1/orders`, true).catch(() => undefined);
    await admin.deleteNamespace(`${tenant}/ns1`).catch(() => undefined);
    await admin.deleteTenant(tenant).catch(() => undefined);
    admin.close();
  });

  test("explain against Pulsar's admin API (storageEngine=pulsar, the configured admin credentials)", async () => {
    const cfg = loadConfig({ env: {}, overrides: { ...pulsarGatewayConfig(p, `${tenant}/ns1`), authorizationEnabled: true, superUserRoles: 'admin' } });
    const cases: Array<[string[], number, RegExp]> = [
      [['--principal', 'alice', '--action', 'produce', '--topic', 'orders'], 0, /^namespace .*\/ns1 permissions: "alice" -> \[produce\] \(Pulsar admin API: tenant /],
      [['--principal', 'carol', '--action', 'consume', '--topic', 'orders'], 0, /^topic .*\/ns1\/orders permissions: "carol" -> \[consume\] \(Pulsar admin API/],
      [['--principal', 'carol', '--action', 'produce', '--topic', 'orders'], 1, /^produce needs a grant: namespace .* nothing for "carol"; topic .*orders permissions: "carol" -> \[consume\] \(Pulsar admin API/],
      [['--principal', 'ta', '--action', 'admin', '--tenant', tenant], 0, /^tenant .* adminRoles contains "ta" \(Pulsar admin API/],
      [['--principal', 'alice', '--action', 'produce', '--topic', 'no-such-tenant-x/ns/t'], 1, /^no policy for tenant 'no-such-tenant-x' \(Pulsar admin API/],
    ];
    for (const [args, code, rule] of cases) {
      const r = await explain(args, cfg);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.out}${r.err}`);
      assert.match(r.field('rule'), rule, args.join(' '));
      assert.equal(r.field('source'), `Pulsar admin API at ${p.webUrl}`);
    }
    // a grant made now is what the next explain sees (the live source)
    await admin.grantNamespacePermission(`${tenant}/ns1`, 'dave', ['consume']);
    const now = await explain(['--principal', 'dave', '--action', 'consume', '--topic', 'orders'], cfg);
    assert.equal(now.code, 0, now.out);
  });
}
