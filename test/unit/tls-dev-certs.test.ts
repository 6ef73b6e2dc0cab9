/**
 * Development certificates (src/security/dev-certs.ts) and `kop-gateway certs create`:
 * what is created, that node:crypto verifies it, file modes, and the reuse /
 * re-issue rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DEV_CA_DAYS, DEV_SERVER_DAYS, devCertFiles, devCertHosts, ensureDevCertificates } from '../../src/security/dev-certs.js';
import { certsCommand } from '../../src/cli/certs.js';
import { cliCommand, repoRoot } from '../helpers/gateway.js';
import { tempDir as removedAtExit } from '../helpers/temp.js';

const DAY = 86_400_000;

function tempDir(): string {
  return removedAtExit('kop-devcerts-');
}

function load(file: string): X509Certificate {
  return new X509Certificate(readFileSync(file));
}

test('dev certs: a CA and a server certificate it signs, for the hosts + loopback, keys 0600', () => {
  const dir = join(tempDir(), 'certs'); // created when missing
  const r = ensureDevCertificates({ dir, hosts: ['gw.example.com', '10.1.2.3'] });
  assert.deepEqual(r.created, { ca: true, server: true });
  const ca = load(r.caCertFile);
  const server = load(r.serverCertFile);

  assert.equal(ca.ca, true);
  assert.equal(server.ca, false);
  assert.ok(ca.verify(ca.publicKey), 'CA is self-signed');
  assert.ok(server.checkIssued(ca), 'server certificate issued by the CA');
  assert.ok(server.verify(ca.publicKey), 'CA signature verifies');
  assert.equal(server.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
  assert.ok(server.checkPrivateKey(createPrivateKey(readFileSync(r.serverKeyFile))));
  assert.ok(ca.checkPrivateKey(createPrivateKey(readFileSync(r.caKeyFile))));
  assert.match(readFileSync(r.serverKeyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/, 'PKCS#8, as Java PEM key stores need');

  for (const h of ['gw.example.com', 'localhost']) assert.ok(server.checkHost(h, { subject: 'never' }), `SAN DNS ${h}`);
  for (const ip of ['10.1.2.3', '127.0.0.1', '::1']) assert.ok(server.checkIP(ip), `SAN IP ${ip}`);
  assert.equal(server.checkHost('other.example.com'), undefined);
  assert.match(server.keyUsage?.join(',') ?? '', /1\.3\.6\.1\.5\.5\.7\.3\.1/, 'extendedKeyUsage serverAuth');

  const serverDays = (Date.parse(server.validTo) - Date.now()) / DAY;
  const caDays = (Date.parse(ca.validTo) - Date.now()) / DAY;
  assert.ok(serverDays > DEV_SERVER_DAYS - 1 && serverDays <= DEV_SERVER_DAYS, `server valid ${serverDays} days`);
  assert.ok(caDays > DEV_CA_DAYS - 1 && caDays <= DEV_CA_DAYS, `CA valid ${caDays} days`);
  assert.ok(Date.parse(server.validFrom) < Date.now());

  assert.equal(statSync(r.caKeyFile).mode & 0o777, 0o600);
  assert.equal(statSync(r.serverKeyFile).mode & 0o777, 0o600);
  assert.equal(statSync(r.caCertFile).mode & 0o077, 0o044, 'certificates are readable');
  assert.equal(r.serverFingerprint256, server.fingerprint256);
});

test('dev certs: reused as they are on the next start', () => {
  const dir = tempDir();
  const first = ensureDevCertificates({ dir, hosts: ['gw.example.com'] });
  const before = readFileSync(first.serverCertFile, 'utf8');
  const second = ensureDevCertificates({ dir, hosts: ['gw.example.com', 'localhost'] });
  assert.deepEqual(second.created, { ca: false, server: false });
  assert.deepEqual(second.reasons, []);
  assert.equal(second.serverFingerprint256, first.serverFingerprint256);
  assert.equal(readFileSync(second.serverCertFile, 'utf8'), before);
});

test('dev certs: a new host name re-issues the server certificate (CA kept, earlier names kept)', () => {
  const dir = tempDir();
  const first = ensureDevCertificates({ dir, hosts: ['a.example'] });
  const caBefore = load(first.caCertFile).fingerprint256;
  const second = ensureDevCertificates({ dir, hosts: ['b.example'] });
  assert.deepEqual(second.created, { ca: false, server: true });
  assert.match(second.reasons.join(';'), /does not cover b\.example/);
  const ca = load(second.caCertFile);
  assert.equal(ca.fingerprint256, caBefore);
  const server = load(second.serverCertFile);
  assert.ok(server.verify(ca.publicKey));
  assert.ok(server.checkHost('a.example', { subject: 'never' }) && server.checkHost('b.example', { subject: 'never' }));
  assert.ok(server.checkIP('::1'));
  // --force starts from the given hosts only
  const forced = ensureDevCertificates({ dir, hosts: ['b.example'], forceServer: true });
  assert.equal(forced.created.server, true);
  assert.equal(load(forced.serverCertFile).checkHost('a.example', { subject: 'never' }), undefined);
});

test('dev certs: an expired (or soon expiring) server certificate is re-issued by the same CA', () => {
  const dir = tempDir();
  const old = ensureDevCertificates({ dir, now: new Date(Date.now() - (DEV_SERVER_DAYS + 5) * DAY) });
  assert.ok(Date.parse(load(old.serverCertFile).validTo) < Date.now(), 'made expired');
  const r = ensureDevCertificates({ dir });
  assert.deepEqual(r.created, { ca: false, server: true });
  assert.match(r.reasons.join(';'), /expires/);
  const server = load(r.serverCertFile);
  assert.ok(Date.parse(server.validTo) > Date.now() + 800 * DAY);
  assert.ok(server.verify(load(r.caCertFile).publicKey));

  const soon = ensureDevCertificates({ dir: tempDir(), serverDays: 10 });
  assert.equal(ensureDevCertificates({ dir: soon.dir }).created.server, true, 'expiring within 30 days: renewed');
});

test('dev certs: a broken or expired CA is replaced, and the server certificate with it', () => {
  const dir = tempDir();
  const first = ensureDevCertificates({ dir });
  writeFileSync(first.caCertFile, 'garbage');
  const r = ensureDevCertificates({ dir });
  assert.deepEqual(r.created, { ca: true, server: true });
  assert.match(r.reasons.join(';'), /dev CA unusable/);
  assert.ok(load(r.serverCertFile).verify(load(r.caCertFile).publicKey));

  const old = ensureDevCertificates({ dir: tempDir(), caDays: 5 });
  const renewed = ensureDevCertificates({ dir: old.dir });
  assert.deepEqual(renewed.created, { ca: true, server: true }, 'CA expiring within 30 days');
});

test('dev certs: a server key that does not match, or a certificate from another CA, is re-issued', () => {
  const a = ensureDevCertificates({ dir: tempDir() });
  const b = ensureDevCertificates({ dir: tempDir() });
  writeFileSync(a.serverKeyFile, readFileSync(b.serverKeyFile));
  const r1 = ensureDevCertificates({ dir: a.dir });
  assert.equal(r1.created.server, true);
  assert.match(r1.reasons.join(';'), /does not match/);

  writeFileSync(a.serverCertFile, readFileSync(b.serverCertFile));
  writeFileSync(a.serverKeyFile, readFileSync(b.serverKeyFile));
  const r2 = ensureDevCertificates({ dir: a.dir });
  assert.equal(r2.created.server, true);
  assert.match(r2.reasons.join(';'), /not signed by ca\.pem/);
  assert.ok(load(r2.serverCertFile).verify(load(r2.caCertFile).publicKey));
});

test('dev certs: host list (wildcard binds become this host name; IPv6 forms deduplicated)', () => {
  assert.deepEqual(devCertHosts(['0.0.0.0', '[::1]', '0:0:0:0:0:0:0:1', 'LOCALHOST', 'gw']), [hostname(), '::1', 'LOCALHOST', 'gw', '127.0.0.1']);
  assert.deepEqual(devCertHosts([]), ['localhost', '127.0.0.1', '::1']);
});

test('kop-gateway certs create: creates, then reuses; prints the files and client settings', async () => {
  const dir = tempDir();
  let out = '';
  const code = await certsCommand(['create', '--dir', dir, '--host', 'gw.example.com'], (s) => (out += s));
  assert.equal(code, 0);
  const files = devCertFiles(dir);
  assert.match(out, new RegExp(`${files.caCertFile.replace(/[.]/g, '\\.')} \\(created`));
  assert.match(out, /hosts: gw\.example\.com, localhost, 127\.0\.0\.1, ::1/);
  assert.match(out, /ssl\.ca\.location=/);
  assert.match(out, /ssl\.truststore\.type=PEM ssl\.truststore\.location=/);
  assert.ok(load(files.serverCertFile).checkHost('gw.example.com'));

  // the real CLI, as a user runs it
  const { cmd, args } = cliCommand();
  const r = spawnSync(cmd, [...args, 'certs', 'create', '--dir', dir, '--host', 'gw.example.com'], { cwd: repoRoot, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' } });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /Development CA .*\(reused/);
  assert.match(r.stdout, /Server certificate .*\(reused/);

  const bad = spawnSync(cmd, [...args, 'certs', 'frobnicate'], { cwd: repoRoot, encoding: 'utf8' });
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /certs create/);
});
