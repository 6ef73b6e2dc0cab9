/**
 * The server's TLS material from the configuration: its key and certificate
 * chain (PEM files, a JKS, PKCS#12 or PEM key store, or the development
 * certificates) and the CA certificates that client certificates are checked
 * against. Every problem is reported as a ConfigError naming the key.
 */
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { ConfigError } from '../../config/load.js';
import type { GatewayConfig } from '../../config/schema.js';
import type { DevCertFiles } from '../dev-certs.js';
import { parseStoreType } from './options.js';
import { isJks, readJks } from './jks.js';
import { Pkcs12PasswordError, readPkcs12 } from './pkcs12.js';

export type TlsSettings = Pick<
  GatewayConfig,
  | 'tlsCertificateFilePath'
  | 'tlsKeyFilePath'
  | 'tlsTrustCertsFilePath'
  | 'tlsRequireTrustedClientCertOnConnect'
  | 'tlsAllowInsecureConnection'
  | 'tlsProtocols'
  | 'tlsCiphers'
  | 'tlsCertRefreshCheckDurationSec'
  | 'tlsDevCertsDirectory'
  | 'kopSslKeystoreType'
  | 'kopSslKeystoreLocation'
  | 'kopSslKeystorePassword'
  | 'kopSslTruststoreType'
  | 'kopSslTruststoreLocation'
  | 'kopSslTruststorePassword'
>;

export interface TlsMaterial {
  /** The server identity for the secure context. */
  identity: { key: string; cert: string } | { pfx: Buffer; passphrase: string };
  /** Trusted CAs for client certificates (PEM); empty = none (never the public roots). */
  ca: string[];
  /** Where the identity came from, for logs. */
  source: 'pem' | 'keystore' | 'dev';
  /** Files read: their contents are watched for changes. */
  files: string[];
  /** The server certificate, when readable (not for a key store only Node could open). */
  leaf: X509Certificate | null;
  /** Things worth a warning (an expired certificate...). */
  warnings: string[];
}

/** True when the configuration names a server certificate (PEM pair or key store). */
export function hasConfiguredIdentity(s: TlsSettings): boolean {
  return Boolean(s.tlsCertificateFilePath || s.tlsKeyFilePath || s.kopSslKeystoreLocation);
}

export function hasConfiguredTrust(s: TlsSettings): boolean {
  return Boolean(s.tlsTrustCertsFilePath || s.kopSslTruststoreLocation);
}

/**
 * Read and check everything. `dev`: the development certificate files to use
 * when no identity is configured. Synchronous; throws ConfigError.
 */
export function loadTlsMaterial(s: TlsSettings, dev?: DevCertFiles): TlsMaterial {
  const files: string[] = [];
  const warnings: string[] = [];
  const read = (key: string, path: string): Buffer => {
    files.push(path);
    return readConfiguredFile(key, path);
  };

  let identity: TlsMaterial['identity'];
  let leaf: X509Certificate | null = null;
  let source: TlsMaterial['source'];
  if (s.kopSslKeystoreLocation && (s.tlsCertificateFilePath || s.tlsKeyFilePath)) {
    throw new ConfigError('set either tlsCertificateFilePath/tlsKeyFilePath or kopSslKeystoreLocation, not both');
  }
  if (s.tlsCertificateFilePath || s.tlsKeyFilePath) {
    if (!s.tlsKeyFilePath) throw new ConfigError('tlsKeyFilePath is not set (tlsCertificateFilePath is): the server certificate needs its private key');
    if (!s.tlsCertificateFilePath) throw new ConfigError('tlsCertificateFilePath is not set (tlsKeyFilePath is): the private key needs its certificate');
    const certText = read('tlsCertificateFilePath', s.tlsCertificateFilePath).toString('utf8');
    const keyText = read('tlsKeyFilePath', s.tlsKeyFilePath).toString('utf8');
    ({ identity, leaf } = pemIdentity(certText, keyText, { key: 'tlsCertificateFilePath', path: s.tlsCertificateFilePath }, { key: 'tlsKeyFilePath', path: s.tlsKeyFilePath }));
    source = 'pem';
  } else if (s.kopSslKeystoreLocation) {
    const path = s.kopSslKeystoreLocation;
    const data = read('kopSslKeystoreLocation', path);
    source = 'keystore';
    if (parseStoreType(s.kopSslKeystoreType) === 'PEM') {
      const text = data.toString('utf8');
      ({ identity, leaf } = pemIdentity(text, text, { key: 'kopSslKeystoreLocation', path }, { key: 'kopSslKeystoreLocation', path }));
    } else {
      // a JKS file is read as JKS whatever the type says (Java's keystore.type.compat does the same)
      ({ identity, leaf } = isJks(data) ? jksIdentity(data, path, s.kopSslKeystorePassword) : pkcs12Identity(data, path, s.kopSslKeystorePassword));
    }
  } else if (dev) {
    const certText = read('tlsCertificateFilePath', dev.serverCertFile).toString('utf8');
    const keyText = read('tlsKeyFilePath', dev.serverKeyFile).toString('utf8');
    ({ identity, leaf } = pemIdentity(certText, keyText, { key: 'development certificate', path: dev.serverCertFile }, { key: 'development key', path: dev.serverKeyFile }));
    source = 'dev';
  } else {
    throw new ConfigError('no server certificate: set tlsCertificateFilePath and tlsKeyFilePath, or kopSslKeystoreLocation');
  }

  let ca: string[] = [];
  if (s.tlsTrustCertsFilePath && s.kopSslTruststoreLocation) {
    throw new ConfigError('set either tlsTrustCertsFilePath or kopSslTruststoreLocation, not both');
  }
  if (s.tlsTrustCertsFilePath) {
    ca = pemCertificates(read('tlsTrustCertsFilePath', s.tlsTrustCertsFilePath).toString('utf8'), 'tlsTrustCertsFilePath', s.tlsTrustCertsFilePath);
  } else if (s.kopSslTruststoreLocation) {
    const path = s.kopSslTruststoreLocation;
    const data = read('kopSslTruststoreLocation', path);
    if (parseStoreType(s.kopSslTruststoreType) === 'PEM') {
      ca = pemCertificates(data.toString('utf8'), 'kopSslTruststoreLocation', path);
    } else {
      const jks = isJks(data);
      try {
        ca = jks ? readJks(data, s.kopSslTruststorePassword).certPems : readPkcs12(data, s.kopSslTruststorePassword).certPems;
      } catch (err) {
        if (err instanceof Pkcs12PasswordError) throw new ConfigError(`kopSslTruststorePassword: wrong password for the trust store ${path} (${err.message})`);
        throw new ConfigError(`kopSslTruststoreLocation: ${path}: cannot read the ${jks ? 'JKS' : 'PKCS12'} trust store: ${(err as Error).message}`);
      }
      if (ca.length === 0) throw new ConfigError(`kopSslTruststoreLocation: ${path} holds no certificate`);
    }
  }

  if (leaf) {
    const now = Date.now();
    if (new Date(leaf.validTo).getTime() < now) warnings.push(`the server certificate (${leaf.subject.replace(/\n/g, ', ')}) expired ${leaf.validTo}`);
    if (new Date(leaf.validFrom).getTime() > now) warnings.push(`the server certificate is not valid before ${leaf.validFrom}`);
  }
  try {
    createSecureContext({ ...identity, ca });
  } catch (err) {
    throw new ConfigError(`TLS setup failed (${source} certificate): ${(err as Error).message}`);
  }
  return { identity, ca, source, files, leaf, warnings };
}

function readConfiguredFile(key: string, path: string): Buffer {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const why = e.code === 'ENOENT' ? 'no such file' : e.code === 'EACCES' ? 'permission denied' : e.message;
    throw new ConfigError(`${key}: cannot read ${path}: ${why}`);
  }
  if (data.length === 0) throw new ConfigError(`${key}: ${path} is empty`);
  return data;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The PEM certificates in a text, each checked; at least one. */
function pemCertificates(text: string, key: string, path: string): string[] {
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (blocks.length === 0) throw new ConfigError(`${key}: ${path} holds no PEM certificate (-----BEGIN CERTIFICATE-----)`);
  for (const [i, b] of blocks.entries()) {
    try {
      new X509Certificate(b);
    } catch (err) {
      throw new ConfigError(`${key}: ${path}: certificate #${i + 1} is invalid: ${(err as Error).message}`);
    }
  }
  return blocks.map((b) => `${b}\n`);
}

function pemIdentity(
  certText: string,
  keyText: string,
  certRef: { key: string; path: string },
  keyRef: { key: string; path: string },
): { identity: { key: string; cert: string }; leaf: X509Certificate } {
  const certs = pemCertificates(certText, certRef.key, certRef.path);
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(keyText)) {
    throw new ConfigError(`${keyRef.key}: ${keyRef.path} is an encrypted private key; give it unencrypted (mode 0600), e.g. openssl pkcs8 -topk8 -nocrypt`);
  }
  let key: KeyObject;
  try {
    key = createPrivateKey(keyText);
  } catch (err) {
    throw new ConfigError(`${keyRef.key}: ${keyRef.path} holds no readable PEM private key: ${(err as Error).message}`);
  }
  const leaf = new X509Certificate(certs[0]!);
  if (!leaf.checkPrivateKey(key)) {
    throw new ConfigError(`${keyRef.key}: ${keyRef.path} is not the private key of the (first) certificate in ${certRef.path}`);
  }
  return { identity: { key: key.export({ type: 'pkcs8', format: 'pem' }) as string, cert: certs.join('') }, leaf };
}

function jksIdentity(data: Buffer, path: string, password: string): { identity: TlsMaterial['identity']; leaf: X509Certificate | null } {
  let store;
  try {
    store = readJks(data, password);
  } catch (err) {
    if (err instanceof Pkcs12PasswordError) throw new ConfigError(`kopSslKeystorePassword: wrong password for the key store ${path} (${err.message})`);
    throw new ConfigError(`kopSslKeystoreLocation: ${path}: cannot read the JKS key store: ${(err as Error).message}`);
  }
  if (!store.keyPem) throw new ConfigError(`kopSslKeystoreLocation: ${path} holds no private key (a trust store? use kopSslTruststoreLocation for those)`);
  const leaf = new X509Certificate(store.certPems[0]!);
  if (!leaf.checkPrivateKey(createPrivateKey(store.keyPem))) throw new ConfigError(`kopSslKeystoreLocation: ${path}: the first certificate of the chain is not the private key's`);
  return { identity: { key: store.keyPem, cert: store.certPems.join('') }, leaf };
}

function pkcs12Identity(data: Buffer, path: string, password: string): { identity: TlsMaterial['identity']; leaf: X509Certificate | null } {
  try {
    const p12 = readPkcs12(data, password);
    if (!p12.keyPem) throw new ConfigError(`kopSslKeystoreLocation: ${path} holds no private key (a trust store? use kopSslTruststoreLocation for those)`);
    return { identity: { key: p12.keyPem, cert: p12.certPems.join('') }, leaf: new X509Certificate(p12.certPems[0]!) };
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    if (err instanceof Pkcs12PasswordError) throw new ConfigError(`kopSslKeystorePassword: wrong password for the key store ${path} (${err.message})`);
    // node-forge cannot read every PKCS#12 variant; OpenSSL (Node's pfx option) may.
    try {
      createSecureContext({ pfx: data, passphrase: password });
      return { identity: { pfx: data, passphrase: password }, leaf: null };
    } catch (nodeErr) {
      throw new ConfigError(`kopSslKeystoreLocation: ${path}: cannot read the PKCS12 key store: ${(err as Error).message}; OpenSSL: ${(nodeErr as Error).message}`);
    }
  }
}
