/**
 * PKCS#12 key/trust stores (KoP's kopSslKeystore*, kopSslTruststore*) read with
 * node-forge into PEM: the private key as PKCS#8, the certificates in chain
 * order. Node's own `pfx` option is the fallback for keystores forge cannot
 * read; trust stores (certificates only) need forge.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import forge from 'node-forge';

export interface Pkcs12Contents {
  /** PKCS#8 PEM, or null when the store holds no key (a trust store). */
  keyPem: string | null;
  /** Certificates, PEM: with a key, the one matching it first, then the rest of its chain. */
  certPems: string[];
}

/** Thrown when the MAC or decryption fails: almost always a wrong password. */
export class Pkcs12PasswordError extends Error {
  override name = 'Pkcs12PasswordError';
}

export function readPkcs12(data: Buffer, password: string): Pkcs12Contents {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(data.toString('binary')));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password);
  } catch (err) {
    const msg = (err as Error).message;
    if (/MAC could not be verified|Invalid password|wrong password|decrypt/i.test(msg)) throw new Pkcs12PasswordError(msg);
    throw err;
  }
  const keyBags = [
    ...(p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!] ?? []),
    ...(p12.getBags({ bagType: forge.pki.oids.keyBag! })[forge.pki.oids.keyBag!] ?? []),
  ];
  const certBags = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? [];
  const certPems: string[] = [];
  for (const bag of certBags) {
    if (bag.cert) certPems.push(forge.pki.certificateToPem(bag.cert));
    else if (bag.asn1) certPems.push(derToPem(forge.asn1.toDer(bag.asn1).getBytes(), 'CERTIFICATE')); // forge parses RSA certificates only; others keep their ASN.1
  }
  if (keyBags.length > 1) throw new Error(`the store holds ${keyBags.length} private keys; keep exactly one`);
  const keyBag = keyBags[0];
  if (!keyBag) return { keyPem: null, certPems };
  let keyDer: string;
  if (keyBag.key) keyDer = forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key))).getBytes();
  else if (keyBag.asn1) keyDer = forge.asn1.toDer(keyBag.asn1).getBytes();
  else throw new Error('cannot read the private key');
  const key = createPrivateKey({ key: Buffer.from(keyDer, 'binary'), format: 'der', type: 'pkcs8' });
  const keyPem = key.export({ type: 'pkcs8', format: 'pem' }) as string;
  // Leaf (the certificate of the key) first, then the others as the chain.
  const leafIndex = certPems.findIndex((pem) => new X509Certificate(pem).checkPrivateKey(key));
  if (leafIndex < 0) throw new Error('no certificate in the store matches its private key');
  const ordered = [certPems[leafIndex]!, ...certPems.filter((_, i) => i !== leafIndex)];
  return { keyPem, certPems: ordered };
}

function derToPem(der: string, label: string): string {
  const b64 = Buffer.from(der, 'binary').toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}
