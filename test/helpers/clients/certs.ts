/**
 * Throw-away TLS material for tests, made with the openssl CLI: a CA, a server certificate for
 * localhost / 127.0.0.1 / ::1 and a client certificate (CN given), all EC P-256, keys in
 * unencrypted PKCS#8 PEM (what Java's PEM key stores, librdkafka and Node accept).
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { commandExists } from './proc.js';
import { ToolMissingError } from './paths.js';
import { tempDir } from '../temp.js';

export interface TestCertificates {
  dir: string;
  caPemFile: string;
  caKeyFile: string;
  serverCertPemFile: string;
  serverKeyPemFile: string;
  clientCertPemFile: string;
  clientKeyPemFile: string;
}

export function opensslAvailable(): boolean {
  return commandExists('openssl');
}

export function createTestCertificates(opts: { dir?: string; clientCn?: string; days?: number } = {}): TestCertificates {
  if (!opensslAvailable()) throw new ToolMissingError('openssl not found: apt-get install openssl');
  const dir = opts.dir ?? tempDir('kop-test-certs-');
  const days = String(opts.days ?? 2);
  const run = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  run(['req', '-x509', ...key, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', days, '-subj', '/CN=kop-test-ca']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n');
  writeFileSync(join(dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
  run(['req', ...key, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  run(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', days, '-extfile', 'server.ext']);
  run(['req', ...key, '-keyout', 'client.key', '-out', 'client.csr', '-subj', `/CN=${opts.clientCn ?? 'kop-test-client'}`]);
  run(['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', days, '-extfile', 'client.ext']);
  return {
    dir,
    caPemFile: join(dir, 'ca.pem'),
    caKeyFile: join(dir, 'ca.key'),
    serverCertPemFile: join(dir, 'server.pem'),
    serverKeyPemFile: join(dir, 'server.key'),
    clientCertPemFile: join(dir, 'client.pem'),
    clientKeyPemFile: join(dir, 'client.key'),
  };
}
