/**
 * The tamper-evident audit log end to end: a real gateway (SASL, tokens,
 * policies) writes its log through a rotation and a restart while kafkajs
 * clients authenticate, produce and get denied; `kop-gateway audit verify`
 * (the CLI, as an operator runs it) proves the series complete and unmodified,
 * and names the first broken line of a tampered, truncated (middle and end),
 * reordered and spliced copy.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { SignJWT } from 'jose';
import { Kafka, logLevel } from 'kafkajs';
import { cliCommand, repoRoot, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { tempDir } from '../helpers/temp.js';

const secret = randomBytes(32);
const dir = tempDir('kop-audit-chain-');
const policies = join(dir, 'policies');
const auditFile = join(dir, 'logs', 'audit.log');
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const privateKeyFile = join(dir, 'audit-signing.pem');
const publicKeyFile = join(dir, 'audit-signing.pub.pem');
const otherKeyFile = join(dir, 'other.pub.pem');

function gatewayConfig(): Record<string, string | number | boolean> {
  return {
    kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    authenticationEnabled: true,
    authorizationEnabled: true,
    tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
    superUserRoles: 'admin',
    policiesDirectory: policies,
    auditLogFile: auditFile,
    auditLogSigningKeyFile: privateKeyFile,
    auditSummaryIntervalMs: 0,
    failedAuthenticationDelayMs: 10,
    kafkaTenant: 'acme',
    kafkaNamespace: 'orders',
  };
}

async function token(sub: string): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
}

/** One round of traffic: alice produces (allowed), mallory is denied, a bad token fails. */
async function traffic(gw: TestGateway, round: number): Promise<void> {
  const mk = async (sub: string) =>
    new Kafka({ clientId: `chain-${round}`, brokers: [gw.bootstrap], sasl: { mechanism: 'plain', username: 'acme/orders', password: `token:${await token(sub)}` }, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = (await mk('admin')).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic: `t${round}`, numPartitions: 1 }] }).catch(() => undefined);
  await admin.disconnect();
  const producer = (await mk('alice')).producer();
  await producer.connect();
  await producer.send({ topic: `t${round}`, messages: [{ value: `round ${round}` }] });
  await producer.disconnect();
  const denied = (await mk('mallory')).producer();
  await denied.connect();
  await assert.rejects(denied.send({ topic: `t${round}`, messages: [{ value: 'no' }] }));
  await denied.disconnect();
  const bad = new Kafka({ clientId: 'bad', brokers: [gw.bootstrap], sasl: { mechanism: 'plain', username: 'acme/orders', password: 'token:not-a-jwt' }, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  await assert.rejects(bad.connect());
  await bad.disconnect().catch(() => undefined);
}

function verify(...args: string[]): { code: number; out: string } {
  const { cmd, args: base } = cliCommand();
  const r = spawnSync(cmd, [...base, 'audit', 'verify', ...args], { cwd: repoRoot, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status ?? -1, out: `${r.stdout}${r.stderr}` };
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter(Boolean);
const write = (name: string, ls: string[]) => {
  const p = join(dir, name);
  writeFileSync(p, ls.map((l) => `${l}\n`).join(''));
  return p;
};

let rotated: string;

before(async () => {
  mkdirSync(policies, { recursive: true });
  writeFileSync(join(policies, 'acme.json'), JSON.stringify({ tenant: 'acme', adminRoles: [], namespaces: { orders: { permissions: { alice: ['produce', 'consume'] } } } }));
  writeFileSync(privateKeyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(publicKeyFile, publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(otherKeyFile, generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));

  // run 1, rotated while it runs (logrotate without copytruncate)
  const gw1 = await startTestGateway(gatewayConfig(), join(dir, 'data'));
  await traffic(gw1, 1);
  rotated = `${auditFile}.1`;
  renameSync(auditFile, rotated);
  // the writer notices within its 10 s check and reopens the name; traffic meanwhile lands in either file
  const deadline = Date.now() + 30_000;
  while (!existsSync(auditFile) && Date.now() < deadline) {
    await traffic(gw1, 2);
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok(existsSync(auditFile), 'the audit log was reopened under its name after the rotation');
  await traffic(gw1, 3);
  await gw1.stop();
  // run 2: a restart appends to the same file and continues its chain
  const gw2 = await startTestGateway(gatewayConfig(), join(dir, 'data'));
  await traffic(gw2, 4);
  await gw2.stop();
});

test('a real gateway log, rotated and restarted, verifies with the public key; the chain links the files and the runs', () => {
  const old = lines(rotated).map((l) => JSON.parse(l) as Record<string, unknown>);
  const cur = lines(auditFile).map((l) => JSON.parse(l) as Record<string, unknown>);
  // the rotated file ends with a signed rotation checkpoint; the new file's first record names it
  assert.equal(old.at(-1)!.event, 'audit_checkpoint');
  assert.equal(old.at(-1)!.reason, 'rotation');
  assert.equal(old.at(-1)!.alg, 'ed25519');
  assert.equal(cur[0]!.prev, old.at(-1)!.hash);
  // the restart: run 1 ends with audit_stopped + a stop checkpoint, run 2's audit_started continues from it
  const starts = cur.map((r, i) => [r, i] as const).filter(([r]) => r.event === 'audit_started');
  assert.equal(starts.length, 1, 'run 2 started in the current file');
  const i = starts[0]![1];
  assert.equal(cur[i - 2]!.event, 'audit_stopped');
  assert.equal(cur[i - 1]!.event, 'audit_checkpoint');
  assert.equal(cur[i - 1]!.reason, 'stop');
  assert.equal(cur[i]!.prev, cur[i - 1]!.hash);
  assert.equal(cur.at(-1)!.event, 'audit_checkpoint');
  // every kind of record is chained
  for (const ev of ['authentication', 'access_denied', 'access_summary', 'connection_closed']) assert.ok([...old, ...cur].some((r) => r.event === ev && typeof r.hash === 'string'), ev);

  const ok = verify('--key', publicKeyFile, rotated, auditFile);
  assert.equal(ok.code, 0, ok.out);
  assert.match(ok.out, /^OK: \d+ record\(s\) in 2 file\(s\) are complete and unmodified, 3 signed checkpoint\(s\) verified \(ed25519/m);
  // the private key verifies too; without a key the chain still verifies (signatures noted as unchecked)
  assert.equal(verify('--key', privateKeyFile, rotated, auditFile).code, 0);
  const nokey = verify(rotated, auditFile);
  assert.equal(nokey.code, 0, nokey.out);
  assert.match(nokey.out, /3 checkpoint signature\(s\) not checked/);
  // the current file alone: verified, with a note that it continues an earlier file
  const alone = verify('--key', publicKeyFile, auditFile);
  assert.equal(alone.code, 0, alone.out);
  assert.match(alone.out, /continues a chain whose earlier files were not given/);
  // another key: the first checkpoint is named
  const wrong = verify('--key', otherKeyFile, rotated, auditFile);
  assert.equal(wrong.code, 1);
  assert.match(wrong.out, new RegExp(`BROKEN: ${rotated.replace(/[.]/g, '\\.')}:${old.length}: checkpoint signed with another key`));
});

test('tampered, truncated, reordered and spliced copies fail, naming the first broken line', () => {
  const all = lines(auditFile);
  assert.ok(all.length > 12, `enough records (${all.length})`);
  const k = 5; // a record in the middle (1-based line k+1)
  // a field changed
  const changed = [...all];
  const rec = JSON.parse(changed[k]!) as Record<string, unknown>;
  const edited = changed[k]!.replace(`"ts":"${rec.ts as string}"`, `"ts":"${new Date(0).toISOString()}"`);
  assert.notEqual(edited, changed[k]);
  changed[k] = edited;
  let r = verify(write('changed.log', changed));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`changed\\.log:${k + 1}: hash does not match the record's content`));

  // a field changed and the chain recomputed after it (someone without the key): the signature catches it
  const forged = recomputed(changed, k);
  r = verify(write('forged.log', forged));
  assert.equal(r.code, 0, `without a key a fully recomputed chain is consistent: ${r.out}`);
  r = verify('--key', publicKeyFile, write('forged.log', forged));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /forged\.log:\d+: checkpoint signature does not verify/);

  // lines removed from the middle
  r = verify(write('gap.log', [...all.slice(0, k), ...all.slice(k + 2)]));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`gap\\.log:${k + 1}: prev names no record before this line`));

  // lines removed from the end: not ended by a stop (exit 3), naming where it ends
  r = verify('--key', publicKeyFile, write('cut.log', all.slice(0, -3)));
  assert.equal(r.code, 3, r.out);
  assert.match(r.out, new RegExp(`^OPEN: .*cut\\.log:${all.length - 2}: ends after line ${all.length - 3}`, 'm'));
  r = verify(write('cut.log', all.slice(0, -3)));
  assert.equal(r.code, 3, r.out);

  // two records swapped
  const swapped = [...all];
  [swapped[k], swapped[k + 1]] = [swapped[k + 1]!, swapped[k]!];
  r = verify(write('swapped.log', swapped));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`swapped\\.log:${k + 1}: prev names no record before this line`));
  // a record moved later
  const moved = [...all.slice(0, k), ...all.slice(k + 1, k + 4), all[k]!, ...all.slice(k + 4)];
  r = verify(write('moved.log', moved));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`moved\\.log:${k + 1}: `));

  // a record spliced in from the rotated file (another place of the same series) and from another chain
  const old = lines(rotated);
  r = verify(write('spliced.log', [...all.slice(0, k), old[3]!, ...all.slice(k)]));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`spliced\\.log:${k + 1}: `));
  // the files of the series out of order
  r = verify(auditFile, rotated);
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`${rotated.replace(/[.]/g, '\\.')}:1: .*first line of`));
  // a line cut short
  r = verify(write('partial.log', [...all.slice(0, k), all[k]!.slice(0, 40), ...all.slice(k + 1)]));
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, new RegExp(`partial\\.log:${k + 1}: not a JSON record`));
  assert.ok(statSync(auditFile).size > 0);
});

/** What someone without the key can do: recompute every hash after line k. */
function recomputed(ls: string[], k: number): string[] {
  const out = ls.slice(0, k);
  let prev = k === 0 ? null : (JSON.parse(ls[k - 1]!) as { hash: string }).hash;
  for (const line of ls.slice(k)) {
    const body = line.replace(/,"prev":(null|"[0-9a-f]{64}"),("sig":"[^"]*",)?"hash":"[0-9a-f]{64}"\}$/, '');
    const sig = /,"sig":"([^"]*)","hash"/.exec(line)?.[1];
    const chained = `${body},"prev":${prev === null ? 'null' : `"${prev}"`}}`;
    const withSig = sig ? `${chained.slice(0, -1)},"sig":"${sig}"}` : chained;
    const hash = createHashHex(withSig);
    out.push(`${withSig.slice(0, -1)},"hash":"${hash}"}`);
    prev = hash;
  }
  return out;
}

function createHashHex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
