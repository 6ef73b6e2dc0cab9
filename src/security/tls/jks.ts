/**
 * JKS key/trust stores (KoP's default store type, keytool's before JDK 9) read
 * with jks-js into the same shape as PKCS#12 stores: the private key as PKCS#8
 * PEM with its certificate chain, or the trusted certificates. The store's
 * integrity digest is checked with the password (a wrong password fails).
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { decrypt, parseJks } from 'jks-js';
import { Pkcs12PasswordError, type Pkcs12Contents } from './pkcs12.js';

/** JKS files start with 0xFEEDFEED (JCEKS: 0xCECECECE, not read here). */
export function isJks(data: Buffer): boolean {
  return data.length >= 4 && data.readUInt32BE(0) === 0xfeedfeed;
}

export class JksPasswordError extends Pkcs12PasswordError {
  override name = 'JksPasswordError';
}

function derToPem(der: Buffer): string {
  return new X509Certificate(der).toString();
}

export function readJks(data: Buffer, password: string): Pkcs12Contents {
  let entries: ReturnType<typeof parseJks>;
  try {
    entries = parseJks(data, password);
  } catch (err) {
    const msg = (err as Error).message;
    if (/password/i.test(msg)) throw new JksPasswordError(`${msg} (wrong password)`);
    throw new Error(`not a readable JKS store: ${msg}`);
  }
  const keys = entries.filter((e): e is Extract<typeof e, { chain: unknown }> => 'chain' in e);
  if (keys.length > 1) throw new Error(`the store holds ${keys.length} private keys; keep exactly one`);
  const key = keys[0];
  if (!key) return { keyPem: null, certPems: entries.map((e) => derToPem(('cert' in e ? e.cert : e.chain[0]!).value)) };
  let keyPem: string;
  try {
    // Java's keytool protects the key with the store password unless told otherwise
    keyPem = createPrivateKey(decrypt(key.protectedPrivateKey, password)).export({ type: 'pkcs8', format: 'pem' }) as string;
  } catch (err) {
    throw new JksPasswordError(`cannot decrypt the private key of '${key.alias}' with the store password: ${(err as Error).message}`);
  }
  const certPems = key.chain.map((c) => derToPem(c.value));
  // the chain starts with the key's own certificate; the trusted entries are not part of an identity
  return { keyPem, certPems };
}
