/**
 * SSL:// listeners with real clients: kcat, the Java client and confluent-kafka-python produce and
 * consume over TLS against the development certificates the gateway creates itself; TLS 1.1 and
 * untrusted CAs are refused; mutual TLS (required client certificate, its CN as principal);
 * PKCS#12 key stores; certificate reload without restart.
 */
import { spawnSync } from 'node:child_process';
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { copyFileSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type ConnectionOptions } from 'node:tls';
import forge from 'node-forge';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { Gateway } from '../../src/server.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { kcatConsume, kcatMetadata, kcatProduce } from '../helpers/clients/kcat.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { PythonKafkaClient } from '../helpers/clients/python.js';
import { createTestCertificates, opensslAvailable, type TestCertificates } from '../helpers/clients/certs.js';
import type { ClientSecurity } from '../helpers/clients/types.js';
import { tempDir } from '../helpers/temp.js';

const tmp = (): string => tempDir('kop-tls-e2e-');
const cleanup: string[] = [];
after(() => {
  for (const d of cleanup) rmSync(d, { recursive: true, force: true });
});

type LogLine = { level: number; msg: string } & Record<string, unknown>;

/** A gateway with captured (debug) log lines, for checks on what it logs. */
async function startLogged(overrides: Record<string, string | number | boolean>): Promise<{ gateway: Gateway; port: number; bootstrap: string; logs: LogLine[]; stop(): Promise<void> }> {
  const dir = tmp();
  const logs: LogLine[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => void logs.push(JSON.parse(s) as LogLine) });
  const config = loadConfig({ env: {}, overrides: { kafkaListeners: 'SSL://127.0.0.1:0', dataDirectory: dir, ...overrides } });
  const gateway = await Gateway.start(config, { logger });
  const port = gateway.port();
  return {
    gateway,
    port,
    bootstrap: `127.0.0.1:${port}`,
    logs,
    async stop() {
      await gateway.stop(2000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

interface Probe {
  ok: boolean;
  protocol?: string | null;
  fingerprint256?: string;
  /** The server closed the connection right after the handshake (a refused client certificate). */
  closedAfterHandshake?: boolean;
  error?: string;
}

/** A node:tls connection: handshake result and, on success, whether the server keeps it open. */
function probe(port: number, opts: ConnectionOptions = {}): Promise<Probe> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false, ...opts });
    let result: Probe | null = null;
    s.on('secureConnect', () => {
      result = { ok: true, protocol: s.getProtocol(), fingerprint256: s.getPeerCertificate().fingerprint256 };
      // A refused client certificate (TLS 1.3: after the client's handshake is done) closes the connection at once.
      setTimeout(() => {
        s.destroy();
        resolve(result!);
      }, 300);
    });
    s.on('close', () => {
      if (result) resolve({ ...result, ok: false, closedAfterHandshake: true });
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (!result) resolve({ ok: false, error: `${e.code ?? ''} ${e.message}` });
    });
  });
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

// ---------------------------------------------------------------- SSL with development certificates

let devDir: string;
let gw: TestGateway;
let ssl: ClientSecurity;
before(async () => {
  devDir = join(tmp(), 'certs');
  cleanup.push(devDir);
  gw = await startTestGateway({ kafkaListeners: 'SSL://127.0.0.1:0', tlsDevCertsDirectory: devDir });
  ssl = { protocol: 'SSL', caPemFile: join(devDir, 'ca.pem'), verifyHostname: true };
});
after(async () => {
  await gw?.stop();
});

test('dev certificates: created on first start with an SSL listener, logged with client hints, reused on restart', async () => {
  const dir = join(tmp(), 'certs');
  cleanup.push(dir);
  const first = await startLogged({ tlsDevCertsDirectory: dir });
  const serverPem = readFileSync(join(dir, 'server.pem'), 'utf8');
  const leaf = new X509Certificate(serverPem);
  try {
    const warn = first.logs.find((l) => l.level === 40 && /created development certificates/.test(l.msg));
    assert.ok(warn, 'a warning says development certificates were created');
    assert.equal(warn.ca, join(dir, 'ca.pem'));
    const hint = first.logs.find((l) => /clients must trust the development CA/.test(l.msg));
    assert.match(String(hint?.kcat), new RegExp(`-X ssl\\.ca\\.location=${join(dir, 'ca.pem')}`));
    assert.match(String(hint?.java), /ssl\.truststore\.type=PEM ssl\.truststore\.location=/);
    assert.match(String(hint?.python), /'ssl\.ca\.location'/);
    const p = await probe(first.port, { ca: readFileSync(join(dir, 'ca.pem')), rejectUnauthorized: true });
    assert.ok(p.ok, p.error);
    assert.equal(p.fingerprint256, leaf.fingerprint256);
  } finally {
    await first.stop();
  }
  const second = await startLogged({ tlsDevCertsDirectory: dir });
  try {
    assert.ok(second.logs.some((l) => /using development certificates/.test(l.msg)), 'reused');
    assert.equal(readFileSync(join(dir, 'server.pem'), 'utf8'), serverPem);
    assert.equal((await probe(second.port)).fingerprint256, leaf.fingerprint256);
  } finally {
    await second.stop();
  }
});

toolTest('kcat produces and consumes over TLS (ssl.ca.location = the dev CA, host name verified)', unavailable('kcat'), async () => {
  const topic = 'tls-kcat';
  await kcatProduce(gw.bootstrap, topic, [{ key: 'k1', value: 'over-tls-1' }, { key: 'k2', value: 'over-tls-2' }], { security: ssl, acks: 'all' });
  const got = await kcatConsume(gw.bootstrap, topic, { security: ssl, count: 2 });
  assert.deepEqual(got.map((r) => [r.key, r.value, r.offset]), [['k1', 'over-tls-1', 0], ['k2', 'over-tls-2', 1]]);
  const md = await kcatMetadata(gw.bootstrap, { security: ssl });
  assert.equal(md.brokers[0]!.name, gw.bootstrap);
});

toolTest('Java client produces and consumes over TLS (PEM trust store, host name verification on)', unavailable('java'), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, security: ssl });
  const topic = 'tls-java';
  const acked = await java.produce({ topic, records: [{ key: 'a', value: 'java-1' }, { key: 'b', value: 'java-2' }], acks: 'all', compression: 'zstd' });
  assert.deepEqual(acked.map((a) => a.offset), [0, 1]);
  const got = await java.consume({ topic, maxRecords: 2, timeoutMs: 30_000 });
  assert.deepEqual(got.map((r) => r.valueText), ['java-1', 'java-2']);
});

toolTest('Python (librdkafka) produces and consumes over TLS', unavailable('python'), async () => {
  const py = new PythonKafkaClient({ bootstrap: gw.bootstrap, security: ssl });
  const topic = 'tls-python';
  const acked = await py.produce({ topic, records: [{ key: 'p', value: 'python-1' }, { key: 'q', value: 'python-2' }], acks: 'all' });
  assert.deepEqual(acked.map((a) => a.offset), [0, 1]);
  const got = await py.consume({ topic, maxRecords: 2, timeoutMs: 30_000 });
  assert.deepEqual(got.map((r) => r.valueText), ['python-1', 'python-2']);
});

test('TLS versions: 1.2 and 1.3 accepted, 1.1 and 1.0 refused (protocol_version alert)', async () => {
  const ca = readFileSync(join(devDir, 'ca.pem'));
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const p = await probe(gw.port, { ca, rejectUnauthorized: true, minVersion: v, maxVersion: v });
    assert.ok(p.ok, `${v}: ${p.error}`);
    assert.equal(p.protocol, v);
  }
  for (const v of ['TLSv1.1', 'TLSv1'] as const) {
    const p = await probe(gw.port, { ca, minVersion: v, maxVersion: v, ciphers: 'DEFAULT:@SECLEVEL=0' });
    assert.equal(p.ok, false, `${v} must be refused`);
    assert.match(p.error ?? '', /protocol version/i);
  }
});

test('tlsProtocols=TLSv1.3: a TLS 1.2 client is refused', async () => {
  const g = await startLogged({ tlsProtocols: 'TLSv1.3', tlsDevCertsDirectory: devDir });
  try {
    assert.equal((await probe(g.port, { maxVersion: 'TLSv1.2' })).ok, false);
    assert.equal((await probe(g.port)).protocol, 'TLSv1.3');
    await waitFor('handshake failure log', () => g.logs.some((l) => l.msg === 'TLS handshake failed'));
  } finally {
    await g.stop();
  }
});

toolTest('a client that does not trust the gateway CA refuses it (kcat, Java, node:tls)', unavailable('kcat', 'java'), async () => {
  const other = join(tmp(), 'other');
  cleanup.push(other);
  // another CA, as a client configured for a different cluster has
  const { ensureDevCertificates } = await import('../../src/security/dev-certs.js');
  const otherCa = ensureDevCertificates({ dir: other }).caCertFile;
  const wrong: ClientSecurity = { protocol: 'SSL', caPemFile: otherCa };
  await assert.rejects(kcatMetadata(gw.bootstrap, { security: wrong, timeoutMs: 6000 }), /Failed to acquire metadata|certificate verify failed|SSL handshake failed/);
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, security: wrong, requestTimeoutMs: 8000 });
  await assert.rejects(java.describeCluster(), /SSLHandshakeException|PKIX path|SslAuthenticationException/);
  const p = await probe(gw.port, { ca: readFileSync(otherCa), rejectUnauthorized: true });
  assert.equal(p.ok, false);
  assert.match(p.error ?? '', /UNABLE_TO_VERIFY_LEAF_SIGNATURE|unable to verify/);
});

// ---------------------------------------------------------------- mutual TLS

const noOpenssl = opensslAvailable() ? undefined : 'openssl not found: apt-get install openssl';

toolTest('mTLS required: no client certificate or an untrusted one is refused; a trusted one works and its CN is the principal', unavailable('kcat', 'java', 'python') ?? noOpenssl, async () => {
  const pki = createTestCertificates({ clientCn: 'orders-service' });
  const stranger = createTestCertificates({ clientCn: 'stranger' });
  cleanup.push(pki.dir, stranger.dir);
  const g = await startLogged({
    tlsCertificateFilePath: pki.serverCertPemFile,
    tlsKeyFilePath: pki.serverKeyPemFile,
    tlsTrustCertsFilePath: pki.caPemFile,
    tlsRequireTrustedClientCertOnConnect: true,
  });
  const withCert = (c: TestCertificates): ClientSecurity => ({ protocol: 'SSL', caPemFile: pki.caPemFile, certPemFile: c.clientCertPemFile, keyPemFile: c.clientKeyPemFile });
  try {
    // no certificate
    await assert.rejects(kcatMetadata(g.bootstrap, { security: { protocol: 'SSL', caPemFile: pki.caPemFile }, timeoutMs: 6000 }));
    const bare = await probe(g.port, { ca: readFileSync(pki.caPemFile) });
    assert.equal(bare.ok, false, 'node:tls without a certificate is cut after the handshake');
    assert.ok(g.logs.some((l) => /client certificate required but none presented/.test(l.msg)));

    // a certificate from another CA
    const untrusted = await probe(g.port, { cert: readFileSync(stranger.clientCertPemFile), key: readFileSync(stranger.clientKeyPemFile) });
    assert.equal(untrusted.ok, false);
    await assert.rejects(kcatMetadata(g.bootstrap, { security: { ...withCert(stranger), caPemFile: pki.caPemFile }, timeoutMs: 6000 }));
    const refused = g.logs.find((l) => /client certificate not trusted/.test(l.msg));
    assert.equal(refused?.subject, 'stranger');

    // trusted certificate: kcat, Java and Python work, and the CN is the principal
    const md = await kcatMetadata(g.bootstrap, { security: withCert(pki) });
    assert.equal(md.brokers.length, 1);
    const java = new JavaKafkaClient({ bootstrap: g.bootstrap, security: withCert(pki) });
    assert.deepEqual((await java.produce({ topic: 'mtls', records: [{ value: 'from-java' }], acks: 'all' })).map((a) => a.offset), [0]);
    const py = new PythonKafkaClient({ bootstrap: g.bootstrap, security: withCert(pki) });
    assert.deepEqual((await py.consume({ topic: 'mtls', maxRecords: 1, timeoutMs: 30_000 })).map((r) => r.valueText), ['from-java']);
    const established = g.logs.filter((l) => l.msg === 'TLS connection established');
    assert.ok(established.length >= 3);
    assert.ok(established.every((l) => l.principal === 'orders-service'), JSON.stringify(established.map((l) => l.principal)));
  } finally {
    await g.stop();
  }
});

toolTest('mTLS with tlsAllowInsecureConnection: an untrusted client certificate is accepted but names no principal', noOpenssl, async () => {
  const pki = createTestCertificates({ clientCn: 'trusted-client' });
  const stranger = createTestCertificates({ clientCn: 'stranger' });
  cleanup.push(pki.dir, stranger.dir);
  const g = await startLogged({
    tlsCertificateFilePath: pki.serverCertPemFile,
    tlsKeyFilePath: pki.serverKeyPemFile,
    tlsTrustCertsFilePath: pki.caPemFile,
    tlsAllowInsecureConnection: true,
  });
  try {
    assert.ok((await probe(g.port, { cert: readFileSync(stranger.clientCertPemFile), key: readFileSync(stranger.clientKeyPemFile) })).ok);
    assert.ok((await probe(g.port, { cert: readFileSync(pki.clientCertPemFile), key: readFileSync(pki.clientKeyPemFile) })).ok);
    assert.ok((await probe(g.port)).ok, 'optional: no certificate is fine');
    const established = g.logs.filter((l) => l.msg === 'TLS connection established');
    assert.deepEqual(established.map((l) => [l.principal, l.untrustedClientCert ?? null]), [[null, 'stranger'], ['trusted-client', null], [null, null]]);
  } finally {
    await g.stop();
  }
});

// ---------------------------------------------------------------- PKCS#12 key store

toolTest('PKCS#12 key store (kopSslKeystoreLocation): kcat produces and consumes', unavailable('kcat'), async () => {
  const dir = tmp();
  cleanup.push(dir);
  const key = forge.pki.privateKeyFromPem(readFileSync(join(devDir, 'server.key'), 'utf8'));
  const chain = ['server.pem', 'ca.pem'].map((f) => forge.pki.certificateFromPem(readFileSync(join(devDir, f), 'utf8')));
  const p12 = forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(key, chain, 'changeit', { algorithm: 'aes256' })).getBytes();
  writeFileSync(join(dir, 'server.p12'), Buffer.from(p12, 'binary'));
  const g = await startLogged({ kopSslKeystoreLocation: join(dir, 'server.p12'), kopSslKeystorePassword: 'changeit', kopSslKeystoreType: 'PKCS12' });
  try {
    assert.ok(g.logs.some((l) => l.msg === 'TLS enabled' && l.source === 'keystore'));
    await kcatProduce(g.bootstrap, 'p12', ['v1'], { security: ssl });
    assert.deepEqual((await kcatConsume(g.bootstrap, 'p12', { security: ssl, count: 1 })).map((r) => r.value), ['v1']);
  } finally {
    await g.stop();
  }
});

// ---------------------------------------------------------------- JKS key and trust stores

const noKeytool = spawnSync('keytool', ['-help'], { stdio: 'ignore' }).error ? 'keytool not found: install a JDK' : undefined;

toolTest('JKS key and trust stores made by keytool (kopSslKeystoreType=JKS): the Java client produces and consumes; a wrong password names the key', unavailable('java') ?? noKeytool, async () => {
  const dir = tmp();
  cleanup.push(dir);
  const key = forge.pki.privateKeyFromPem(readFileSync(join(devDir, 'server.key'), 'utf8'));
  const chain = ['server.pem', 'ca.pem'].map((f) => forge.pki.certificateFromPem(readFileSync(join(devDir, f), 'utf8')));
  const p12 = forge.asn1.toDer(forge.pkcs12.toPkcs12Asn1(key, chain, 'changeit', { algorithm: '3des' })).getBytes();
  writeFileSync(join(dir, 'server.p12'), Buffer.from(p12, 'binary'));
  const keytool = (args: string[]): void => {
    const r = spawnSync('keytool', args, { encoding: 'utf8' });
    assert.equal(r.status, 0, `keytool ${args.join(' ')}: ${r.stdout}${r.stderr}`);
  };
  keytool(['-importkeystore', '-noprompt', '-srckeystore', join(dir, 'server.p12'), '-srcstoretype', 'PKCS12', '-srcstorepass', 'changeit', '-destkeystore', join(dir, 'server.jks'), '-deststoretype', 'JKS', '-deststorepass', 'changeit', '-destkeypass', 'changeit']);
  keytool(['-importcert', '-noprompt', '-alias', 'ca', '-file', join(devDir, 'ca.pem'), '-keystore', join(dir, 'trust.jks'), '-storetype', 'JKS', '-storepass', 'changeit']);
  assert.equal(readFileSync(join(dir, 'server.jks')).readUInt32BE(0), 0xfeedfeed, 'keytool wrote a JKS store');
  const stores = { kopSslKeystoreLocation: join(dir, 'server.jks'), kopSslKeystorePassword: 'changeit', kopSslKeystoreType: 'JKS', kopSslTruststoreLocation: join(dir, 'trust.jks'), kopSslTruststorePassword: 'changeit', kopSslTruststoreType: 'JKS' };
  const g = await startLogged(stores);
  try {
    assert.ok(g.logs.some((l) => l.msg === 'TLS enabled' && l.source === 'keystore'));
    const java = new JavaKafkaClient({ bootstrap: g.bootstrap, security: ssl });
    const acked = await java.produce({ topic: 'jks', records: [{ key: 'a', value: 'over-jks' }], acks: 'all' });
    assert.deepEqual(acked.map((a) => a.offset), [0]);
    assert.deepEqual((await java.consume({ topic: 'jks', maxRecords: 1, timeoutMs: 30_000 })).map((r) => r.valueText), ['over-jks']);
  } finally {
    await g.stop();
  }
  await assert.rejects(startLogged({ ...stores, kopSslKeystorePassword: 'wrong' }), /kopSslKeystorePassword: wrong password/);
  await assert.rejects(startLogged({ ...stores, kopSslTruststorePassword: 'wrong' }), /kopSslTruststorePassword: wrong password/);
});

// ---------------------------------------------------------------- reload

toolTest('certificate reload: replaced files reach new connections without a restart; a broken file keeps the current one', noOpenssl, async () => {
  const one = createTestCertificates();
  const two = createTestCertificates();
  const dir = tmp();
  cleanup.push(one.dir, two.dir, dir);
  const cert = join(dir, 'server.pem');
  const key = join(dir, 'server.key');
  copyFileSync(one.serverCertPemFile, cert);
  copyFileSync(one.serverKeyPemFile, key);
  const fp = (f: string) => new X509Certificate(readFileSync(f)).fingerprint256;
  const g = await startLogged({ tlsCertificateFilePath: cert, tlsKeyFilePath: key, tlsCertRefreshCheckDurationSec: 1 });
  try {
    assert.equal((await probe(g.port)).fingerprint256, fp(one.serverCertPemFile));
    // a connection made before the change stays up
    const before = connect({ host: '127.0.0.1', port: g.port, rejectUnauthorized: false });
    await new Promise((r) => before.once('secureConnect', r));

    copyFileSync(two.serverKeyPemFile, key);
    copyFileSync(two.serverCertPemFile, cert);
    await waitFor('the new certificate', async () => (await probe(g.port)).fingerprint256 === fp(two.serverCertPemFile));
    assert.ok(g.logs.some((l) => /TLS certificate reloaded/.test(l.msg)));
    assert.equal(before.destroyed, false, 'existing connections are not cut');
    before.destroy();

    writeFileSync(cert, '-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n');
    await waitFor('the reload error', () => g.logs.some((l) => l.level === 50 && /cannot be used/.test(l.msg)));
    const p = await probe(g.port);
    assert.ok(p.ok);
    assert.equal(p.fingerprint256, fp(two.serverCertPemFile), 'the previous certificate is kept');
  } finally {
    await g.stop();
  }
});

test('tlsCertRefreshCheckDurationSec=0: the files are checked at each new connection', async () => {
  const { ensureDevCertificates } = await import('../../src/security/dev-certs.js');
  const a = ensureDevCertificates({ dir: join(tmp(), 'a') });
  const b = ensureDevCertificates({ dir: join(tmp(), 'b') });
  const dir = tmp();
  cleanup.push(a.dir, b.dir, dir);
  const cert = join(dir, 'server.pem');
  const key = join(dir, 'server.key');
  copyFileSync(a.serverCertFile, cert);
  copyFileSync(a.serverKeyFile, key);
  const g = await startLogged({ tlsCertificateFilePath: cert, tlsKeyFilePath: key, tlsCertRefreshCheckDurationSec: 0 });
  try {
    assert.equal((await probe(g.port)).fingerprint256, a.serverFingerprint256);
    copyFileSync(b.serverKeyFile, key);
    copyFileSync(b.serverCertFile, cert);
    assert.equal((await probe(g.port)).fingerprint256, b.serverFingerprint256, 'the very next connection');
  } finally {
    await g.stop();
  }
});
