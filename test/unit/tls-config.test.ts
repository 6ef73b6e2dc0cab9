/**
 * TLS settings and material: config validation, startup errors naming the key,
 * PEM / PKCS#12 / PEM key stores and trust stores, protocol and cipher parsing,
 * and the reload of changed files (TlsManager.checkForChanges).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import forge from 'node-forge';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import type { GatewayConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/logger.js';
import { parseListenerList } from '../../src/network/listeners.js';
import { ensureDevCertificates, type DevCertResult } from '../../src/security/dev-certs.js';
import { TlsManager, loadTlsMaterial, parseStoreType, parseTlsCiphers, parseTlsProtocols, readPkcs12 } from '../../src/security/tls/index.js';
import { commandExists } from '../helpers/clients/proc.js';
import { startTestGateway } from '../helpers/gateway.js';
import { tempDir as removedAtExit } from '../helpers/temp.js';

function tempDir(): string {
  return removedAtExit('kop-tls-');
}

/** Two independent dev CA + server certificate sets, made once. */
let sets: DevCertResult[] | null = null;
function certSets(): DevCertResult[] {
  sets ??= [ensureDevCertificates({ dir: tempDir() }), ensureDevCertificates({ dir: tempDir() })];
  return sets;
}

function config(overrides: Record<string, string | number | boolean>): GatewayConfig {
  return loadConfig({ env: {}, overrides: { kafkaListeners: 'SSL://127.0.0.1:0', ...overrides } });
}

function manager(overrides: Record<string, string | number | boolean>): TlsManager | null {
  const c = config(overrides);
  const specs = parseListenerList(c.kafkaListeners, c.kafkaProtocolMap);
  return TlsManager.create(c, specs, specs, silentLogger());
}

function configError(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: Error) => {
    assert.ok(err instanceof ConfigError, `ConfigError expected, got ${err.name}: ${err.message}`);
    assert.match(err.message, pattern);
    return true;
  });
}

// ---------------------------------------------------------------- config keys

test('tls config: defaults (TLS 1.2 minimum, refresh 300 s, ./certs, PKCS12 stores)', () => {
  const c = loadConfig({ env: {} });
  assert.equal(c.tlsCertRefreshCheckDurationSec, 300);
  assert.equal(c.tlsDevCertsDirectory, './certs');
  assert.equal(c.tlsRequireTrustedClientCertOnConnect, false);
  assert.equal(c.tlsAllowInsecureConnection, false);
  assert.equal(c.kopSslKeystoreType, 'PKCS12');
  assert.deepEqual(parseTlsProtocols(c.tlsProtocols), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
  assert.equal(parseTlsCiphers(c.tlsCiphers), undefined);
});

test('tls config: bad protocols, ciphers and store types fail at load, naming the key', () => {
  const bad = (k: string, v: string, pattern: RegExp) =>
    configError(() => loadConfig({ env: {}, overrides: { [k]: v } }), new RegExp(`${k}: .*${pattern.source}`));
  bad('tlsProtocols', 'TLSv1.1,TLSv1.2', /TLSv1\.1' is not supported \(insecure\)/);
  bad('tlsProtocols', 'TLSv9', /unknown TLS protocol/);
  bad('tlsCiphers', 'TLS_FOO_WITH_BAR', /unknown or unsupported cipher suite 'TLS_FOO_WITH_BAR'/);
  bad('kopSslTruststoreType', 'BKS', /expected JKS, PKCS12 or PEM/);
  // environment variables too
  configError(() => loadConfig({ env: { KOP_TLS_PROTOCOLS: 'SSLv3' } }), /tlsProtocols/);
  assert.equal(loadConfig({ env: { KOP_TLS_CERT_REFRESH_CHECK_DURATION_SEC: '1' } }).tlsCertRefreshCheckDurationSec, 1);
});

test('tls config: protocol ranges and cipher names (Java/IANA names mapped to OpenSSL)', () => {
  assert.deepEqual(parseTlsProtocols('TLSv1.3'), { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' });
  assert.deepEqual(parseTlsProtocols('TLSv1.2'), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.2' });
  assert.deepEqual(parseTlsProtocols(' tlsv1.2 , TLSv1.3 '), { minVersion: 'TLSv1.2', maxVersion: 'TLSv1.3' });
  assert.equal(
    parseTlsCiphers('TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, ECDHE-ECDSA-AES256-GCM-SHA384, TLS_AES_128_GCM_SHA256'),
    'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:TLS_AES_128_GCM_SHA256',
  );
  assert.equal(parseStoreType('pkcs12'), 'PKCS12');
});

// ---------------------------------------------------------------- startup errors

test('tls startup: missing or unreadable files are errors naming the key', () => {
  const [a] = certSets();
  const dir = tempDir();
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile }), /^tlsKeyFilePath is not set/);
  configError(() => manager({ tlsKeyFilePath: a!.serverKeyFile }), /^tlsCertificateFilePath is not set/);
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: join(dir, 'nope.key') }), /^tlsKeyFilePath: cannot read .*nope\.key: no such file/);
  configError(() => manager({ tlsCertificateFilePath: join(dir, 'nope.pem'), tlsKeyFilePath: a!.serverKeyFile }), /^tlsCertificateFilePath: cannot read .*nope\.pem: no such file/);
  writeFileSync(join(dir, 'empty.pem'), '');
  configError(() => manager({ tlsCertificateFilePath: join(dir, 'empty.pem'), tlsKeyFilePath: a!.serverKeyFile }), /^tlsCertificateFilePath: .*empty\.pem is empty/);
  writeFileSync(join(dir, 'junk.pem'), 'not a certificate');
  configError(() => manager({ tlsCertificateFilePath: join(dir, 'junk.pem'), tlsKeyFilePath: a!.serverKeyFile }), /^tlsCertificateFilePath: .*holds no PEM certificate/);
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: join(dir, 'junk.pem') }), /^tlsKeyFilePath: .*holds no readable PEM private key/);
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile, tlsTrustCertsFilePath: a!.caCertFile, tlsKeyFilePath: certSets()[1]!.serverKeyFile }), /^tlsKeyFilePath: .* is not the private key of the \(first\) certificate/);
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: a!.serverKeyFile, tlsTrustCertsFilePath: join(dir, 'junk.pem') }), /^tlsTrustCertsFilePath: .*holds no PEM certificate/);
  // an encrypted key: Pulsar has no password for PEM keys either
  const enc = forge.pki.encryptRsaPrivateKey(forge.pki.privateKeyFromPem(readFileSync(a!.serverKeyFile, 'utf8')), 'pw');
  writeFileSync(join(dir, 'enc.key'), enc);
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: join(dir, 'enc.key') }), /^tlsKeyFilePath: .*encrypted private key/);
});

test('tls startup: contradictory settings are errors', () => {
  const [a] = certSets();
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: a!.serverKeyFile, kopSslKeystoreLocation: '/x.p12' }), /either tlsCertificateFilePath\/tlsKeyFilePath or kopSslKeystoreLocation/);
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: a!.serverKeyFile, tlsTrustCertsFilePath: a!.caCertFile, kopSslTruststoreLocation: '/t.p12' }), /either tlsTrustCertsFilePath or kopSslTruststoreLocation/);
  configError(() => manager({ tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: a!.serverKeyFile, tlsRequireTrustedClientCertOnConnect: true }), /tlsRequireTrustedClientCertOnConnect=true needs tlsTrustCertsFilePath/);
  // ...unless any certificate is accepted
  assert.ok(manager({ tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: a!.serverKeyFile, tlsRequireTrustedClientCertOnConnect: true, tlsAllowInsecureConnection: true }));
  // no TLS listener: no manager (settings ignored with a warning)
  const c = config({ kafkaListeners: 'PLAINTEXT://127.0.0.1:0', tlsCertificateFilePath: '/nope' });
  const specs = parseListenerList(c.kafkaListeners, '');
  assert.equal(TlsManager.create(c, specs, specs, silentLogger()), null);
});

test('tls startup: the gateway refuses to start with a missing key file, naming the key', async () => {
  const [a] = certSets();
  await assert.rejects(
    startTestGateway({ kafkaListeners: 'SSL://127.0.0.1:0', tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: '/nonexistent/server.key' }),
    /tlsKeyFilePath: cannot read \/nonexistent\/server\.key: no such file/,
  );
});

test('tls startup: no certificate configured creates development certificates in tlsDevCertsDirectory', () => {
  const dir = join(tempDir(), 'certs');
  const m = manager({ tlsDevCertsDirectory: dir, kafkaListeners: 'SSL://127.0.0.1:0,PLAINTEXT://127.0.0.1:0' });
  assert.ok(m);
  const leaf = new X509Certificate(readFileSync(join(dir, 'server.pem')));
  assert.equal(m.fingerprint256, leaf.fingerprint256);
  assert.ok(leaf.checkIP('127.0.0.1'));
});

// ---------------------------------------------------------------- PKCS#12 and PEM stores

/** A PKCS#12 made by node-forge: RSA key, leaf + CA chain, 3DES. */
function forgeP12(set: DevCertResult, password: string): Buffer {
  const key = forge.pki.privateKeyFromPem(readFileSync(set.serverKeyFile, 'utf8'));
  const chain = [set.serverCertFile, set.caCertFile].map((f) => forge.pki.certificateFromPem(readFileSync(f, 'utf8')));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, chain, password, { algorithm: '3des' });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

test('pkcs12 key store: key + chain, leaf first; wrong password names kopSslKeystorePassword', () => {
  const [a] = certSets();
  const dir = tempDir();
  const p12 = join(dir, 'server.p12');
  writeFileSync(p12, forgeP12(a!, 'changeit'));
  const contents = readPkcs12(readFileSync(p12), 'changeit');
  assert.equal(contents.certPems.length, 2);
  assert.equal(new X509Certificate(contents.certPems[0]!).fingerprint256, a!.serverFingerprint256);

  const m = manager({ kopSslKeystoreLocation: p12, kopSslKeystorePassword: 'changeit' });
  assert.equal(m?.fingerprint256, a!.serverFingerprint256);
  configError(() => manager({ kopSslKeystoreLocation: p12, kopSslKeystorePassword: 'wrong' }), /^kopSslKeystorePassword: wrong password for the key store .*server\.p12/);
  configError(() => manager({ kopSslKeystoreLocation: join(dir, 'missing.p12') }), /^kopSslKeystoreLocation: cannot read .*missing\.p12: no such file/);
  writeFileSync(join(dir, 'junk.p12'), 'junk');
  configError(() => manager({ kopSslKeystoreLocation: join(dir, 'junk.p12') }), /^kopSslKeystoreLocation: .*junk\.p12: cannot read the PKCS12 key store/);
});

test('pkcs12 key stores from openssl (EC, AES-256 default and legacy RC2/3DES) and keytool', (t) => {
  const [a] = certSets();
  const dir = tempDir();
  const haveOpenssl = commandExists('openssl');
  if (haveOpenssl) {
    execFileSync('openssl', ['pkcs12', '-export', '-inkey', a!.serverKeyFile, '-in', a!.serverCertFile, '-certfile', a!.caCertFile, '-out', join(dir, 'modern.p12'), '-passout', 'pass:secret']);
    assert.equal(manager({ kopSslKeystoreLocation: join(dir, 'modern.p12'), kopSslKeystorePassword: 'secret' })?.fingerprint256, a!.serverFingerprint256);
    // EC P-256 key (node-forge cannot parse EC keys itself; the raw PKCS#8 is used)
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'ec.key'), '-out', join(dir, 'ec.pem'), '-days', '2', '-subj', '/CN=ec-server'], { stdio: 'pipe' });
    execFileSync('openssl', ['pkcs12', '-export', '-inkey', join(dir, 'ec.key'), '-in', join(dir, 'ec.pem'), '-out', join(dir, 'ec.p12'), '-passout', 'pass:secret']);
    assert.equal(manager({ kopSslKeystoreLocation: join(dir, 'ec.p12'), kopSslKeystorePassword: 'secret' })?.fingerprint256, new X509Certificate(readFileSync(join(dir, 'ec.pem'))).fingerprint256);
    // legacy algorithms (old Java keytool default) that OpenSSL 3 itself no longer loads
    try {
      execFileSync('openssl', ['pkcs12', '-export', '-legacy', '-inkey', a!.serverKeyFile, '-in', a!.serverCertFile, '-out', join(dir, 'legacy.p12'), '-passout', 'pass:secret'], { stdio: 'pipe' });
      assert.equal(manager({ kopSslKeystoreLocation: join(dir, 'legacy.p12'), kopSslKeystorePassword: 'secret' })?.fingerprint256, a!.serverFingerprint256);
    } catch (err) {
      if (!/legacy/i.test(String((err as { stderr?: Buffer }).stderr ?? ''))) throw err;
      t.diagnostic('openssl has no -legacy here');
    }
  } else t.diagnostic('openssl missing: openssl-made stores not checked');
  if (commandExists('keytool')) {
    execFileSync('keytool', ['-genkeypair', '-alias', 'gw', '-keyalg', 'RSA', '-keysize', '2048', '-dname', 'CN=keytool-server', '-storetype', 'PKCS12', '-keystore', join(dir, 'kt.p12'), '-storepass', 'secret', '-validity', '2'], { stdio: 'pipe' });
    const m = manager({ kopSslKeystoreLocation: join(dir, 'kt.p12'), kopSslKeystorePassword: 'secret' });
    assert.ok(m?.fingerprint256);
  } else t.diagnostic('keytool missing: Java-made stores not checked');
});

test('trust stores: PKCS12 (keytool / openssl, certificates only) and PEM; wrong password names the key', (t) => {
  const [a, b] = certSets();
  const dir = tempDir();
  const base = { tlsCertificateFilePath: a!.serverCertFile, tlsKeyFilePath: a!.serverKeyFile };
  let made = false;
  if (commandExists('keytool')) {
    for (const [alias, file] of [['ca-a', a!.caCertFile], ['ca-b', b!.caCertFile]] as const) {
      execFileSync('keytool', ['-importcert', '-noprompt', '-alias', alias, '-file', file, '-storetype', 'PKCS12', '-keystore', join(dir, 'trust.p12'), '-storepass', 'secret'], { stdio: 'pipe' });
    }
    made = true;
  } else if (commandExists('openssl')) {
    writeFileSync(join(dir, 'both.pem'), readFileSync(a!.caCertFile, 'utf8') + readFileSync(b!.caCertFile, 'utf8'));
    execFileSync('openssl', ['pkcs12', '-export', '-nokeys', '-in', join(dir, 'both.pem'), '-out', join(dir, 'trust.p12'), '-passout', 'pass:secret']);
    made = true;
  }
  if (made) {
    const contents = readPkcs12(readFileSync(join(dir, 'trust.p12')), 'secret');
    assert.equal(contents.keyPem, null);
    assert.deepEqual(
      contents.certPems.map((p) => new X509Certificate(p).fingerprint256).sort(),
      [a!.caCertFile, b!.caCertFile].map((f) => new X509Certificate(readFileSync(f)).fingerprint256).sort(),
    );
    const material = loadTlsMaterial(config({ ...base, kopSslTruststoreLocation: join(dir, 'trust.p12'), kopSslTruststorePassword: 'secret' }));
    assert.equal(material.ca.length, 2);
    configError(() => manager({ ...base, kopSslTruststoreLocation: join(dir, 'trust.p12'), kopSslTruststorePassword: 'nope' }), /^kopSslTruststorePassword: wrong password/);
    // a trust store given as key store
    configError(() => manager({ kopSslKeystoreLocation: join(dir, 'trust.p12'), kopSslKeystorePassword: 'secret' }), /holds no private key \(a trust store\?/);
  } else t.diagnostic('neither keytool nor openssl: PKCS12 trust store not checked');

  copyFileSync(a!.caCertFile, join(dir, 'ca.pem'));
  const pem = loadTlsMaterial(config({ ...base, kopSslTruststoreType: 'PEM', kopSslTruststoreLocation: join(dir, 'ca.pem') }));
  assert.equal(pem.ca.length, 1);
  assert.equal(loadTlsMaterial(config({ ...base, tlsTrustCertsFilePath: join(dir, 'ca.pem') })).ca.length, 1);
  // no trust configured: an empty list, never Node's public root CAs
  assert.deepEqual(loadTlsMaterial(config(base)).ca, []);
});

test('PEM key store: one file with the certificate chain and the key', () => {
  const [a] = certSets();
  const file = join(tempDir(), 'server-all.pem');
  writeFileSync(file, readFileSync(a!.serverCertFile, 'utf8') + readFileSync(a!.caCertFile, 'utf8') + readFileSync(a!.serverKeyFile, 'utf8'));
  const m = manager({ kopSslKeystoreType: 'PEM', kopSslKeystoreLocation: file });
  assert.equal(m?.fingerprint256, a!.serverFingerprint256);
});

// ---------------------------------------------------------------- reload

test('reload: changed files are loaded, a broken change keeps the current certificate', () => {
  const [a, b] = certSets();
  const dir = tempDir();
  const cert = join(dir, 'server.pem');
  const key = join(dir, 'server.key');
  copyFileSync(a!.serverCertFile, cert);
  copyFileSync(a!.serverKeyFile, key);
  const m = manager({ tlsCertificateFilePath: cert, tlsKeyFilePath: key, tlsCertRefreshCheckDurationSec: 1 })!;
  assert.equal(m.checkForChanges(), 'unchanged');
  assert.equal(m.fingerprint256, a!.serverFingerprint256);

  // certificate written before its key: a mismatch, kept; then the key arrives
  copyFileSync(b!.serverCertFile, cert);
  assert.equal(m.checkForChanges(), 'failed');
  assert.equal(m.fingerprint256, a!.serverFingerprint256);
  assert.equal(m.checkForChanges(), 'unchanged', 'the same broken state is not retried');
  copyFileSync(b!.serverKeyFile, key);
  assert.equal(m.checkForChanges(), 'reloaded');
  assert.equal(m.fingerprint256, b!.serverFingerprint256);

  writeFileSync(cert, 'garbage');
  assert.equal(m.checkForChanges(), 'failed');
  assert.equal(m.fingerprint256, b!.serverFingerprint256);
  copyFileSync(b!.serverCertFile, cert);
  assert.equal(m.checkForChanges(), 'reloaded', 'back to a good file');
  m.close();
});
