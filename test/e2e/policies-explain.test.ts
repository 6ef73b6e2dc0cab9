/**
 * `kop-gateway policies explain` as an operator runs it (the CLI, a
 * configuration file), and the same explanation in the audit record of a
 * denial: a real gateway refuses a kafkajs producer, its access_denied record
 * carries `rule`, and the CLI prints that rule for the same question.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { SignJWT } from 'jose';
import { Kafka, logLevel } from 'kafkajs';
import { cliCommand, repoRoot, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/temp.js';

const secret = randomBytes(32);
const dir = tempDir('kop-explain-e2e-');
const policies = join(dir, 'policies');
const auditFile = join(dir, 'audit.log');
const secretFile = join(dir, 'secret.key');
const configFile = join(dir, 'gateway.properties');
let gw: TestGateway;

const settings = {
  kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
  authenticationEnabled: true,
  authorizationEnabled: true,
  tokenSecretKey: `file://${secretFile}`,
  superUserRoles: 'admin',
  policiesDirectory: policies,
  auditLogFile: auditFile,
  kafkaTenant: 'acme',
  kafkaNamespace: 'orders',
};

const token = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(secret);

function explain(...args: string[]): { code: number; out: string } {
  const { cmd, args: base } = cliCommand();
  const r = spawnSync(cmd, [...base, 'policies', 'explain', '--config', configFile, ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000, env: { PATH: process.env.PATH ?? '' } });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

before(async () => {
  mkdirSync(policies, { recursive: true });
  writeFileSync(secretFile, secret);
  writeFileSync(join(policies, 'acme.json'), JSON.stringify({ tenant: 'acme', adminRoles: [], namespaces: { orders: { permissions: { bob: ['consume'] }, topics: { ledger: { permissions: { bob: ['produce'] } } } } } }));
  writeFileSync(configFile, Object.entries(settings).map(([k, v]) => `${k}=${v}`).join('\n') + '\n');
  gw = await startTestGateway(settings, join(dir, 'data'));
  const admin = new Kafka({ clientId: 'setup', brokers: [gw.bootstrap], sasl: { mechanism: 'plain', username: 'acme/orders', password: `token:${await token('admin')}` }, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: 'payments', numPartitions: 1 }] });
  await admin.disconnect();
});
after(async () => {
  await gw?.stop();
});

test('a denial audited with its rule; policies explain (CLI, config file) prints the same rule, and the grant that allows', async () => {
  const kafka = new Kafka({ clientId: 'explain', brokers: [gw.bootstrap], sasl: { mechanism: 'plain', username: 'acme/orders', password: `token:${await token('bob')}` }, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  await assert.rejects(producer.send({ topic: 'payments', messages: [{ value: 'x' }] }));
  await producer.disconnect();
  let denied: Record<string, unknown> | undefined;
  for (let i = 0; i < 50 && !denied; i++) {
    denied = readFileSync(auditFile, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((r) => r.event === 'access_denied' && r.principal === 'bob' && r.resource === 'persistent://acme/orders/payments');
    if (!denied) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(denied, `the denial was audited: ${readFileSync(auditFile, "utf8")}`);
  assert.match(String(denied.rule), /namespace acme\/orders permissions: "bob" -> \[consume\]; topic acme\/orders\/payments permissions: nothing for "bob"/);

  const r = explain('--principal', 'bob', '--action', String(denied.action), '--topic', 'payments');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /^decision:\s+DENIED$/m);
  assert.equal(/^rule:\s+(.*)$/m.exec(r.out)?.[1], denied.rule, 'the CLI explains the denial with the audited rule');

  const ok = explain('--token', await token('bob'), '--action', 'produce', '--topic', 'acme/orders/ledger');
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /^principal:\s+"bob" \(from the token: valid, no expiry\)$/m);
  assert.match(ok.out, new RegExp(`^rule:\\s+topic acme/orders/ledger permissions: "bob" -> \\[produce\\] \\(${join(policies, 'acme.json')}\\)$`, 'm'));
  const usage = explain('--principal', 'bob', '--action', 'produce');
  assert.equal(usage.code, 2);
});
