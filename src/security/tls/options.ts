/**
 * Parsing of the TLS protocol/cipher/store-type settings, shared by the config
 * schema (validation at load time) and the TLS listener (the values it uses).
 * No imports from the config layer: schema.ts imports this module.
 */
import { getCiphers } from 'node:tls';

export type TlsVersion = 'TLSv1.2' | 'TLSv1.3';

/** What `tlsProtocols` empty means: TLS 1.2 minimum. */
export const DEFAULT_TLS_PROTOCOLS: readonly TlsVersion[] = ['TLSv1.3', 'TLSv1.2'];

const INSECURE_VERSIONS = new Set(['SSLV2', 'SSLV3', 'TLSV1', 'TLSV1.0', 'TLSV1.1']);

/**
 * `tlsProtocols` (Pulsar): comma-separated, e.g. "TLSv1.3,TLSv1.2". Node/OpenSSL
 * configure a contiguous range, so the result is {min, max} of the listed ones.
 * TLS 1.1 and older are refused: OpenSSL 3 disables them at its default
 * security level and they are broken.
 */
export function parseTlsProtocols(value: string): { minVersion: TlsVersion; maxVersion: TlsVersion } {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  const versions = items.length ? items : [...DEFAULT_TLS_PROTOCOLS];
  const seen = new Set<TlsVersion>();
  for (const v of versions) {
    const upper = v.toUpperCase();
    if (upper === 'TLSV1.2') seen.add('TLSv1.2');
    else if (upper === 'TLSV1.3') seen.add('TLSv1.3');
    else if (INSECURE_VERSIONS.has(upper)) throw new Error(`'${v}' is not supported (insecure); use TLSv1.2 and/or TLSv1.3`);
    else throw new Error(`unknown TLS protocol '${v}'; expected TLSv1.2 and/or TLSv1.3`);
  }
  return {
    minVersion: seen.has('TLSv1.2') ? 'TLSv1.2' : 'TLSv1.3',
    maxVersion: seen.has('TLSv1.3') ? 'TLSv1.3' : 'TLSv1.2',
  };
}

/**
 * Java/IANA names of the TLS 1.2 suites worth enabling, to their OpenSSL names,
 * so a Pulsar `tlsCiphers` line works as is. TLS 1.3 suites have the same name in both.
 */
const IANA_TO_OPENSSL: Record<string, string> = {
  TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256: 'ECDHE-ECDSA-AES128-GCM-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384: 'ECDHE-ECDSA-AES256-GCM-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256: 'ECDHE-RSA-AES128-GCM-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384: 'ECDHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-ECDSA-CHACHA20-POLY1305',
  TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256: 'ECDHE-RSA-CHACHA20-POLY1305',
  TLS_DHE_RSA_WITH_AES_128_GCM_SHA256: 'DHE-RSA-AES128-GCM-SHA256',
  TLS_DHE_RSA_WITH_AES_256_GCM_SHA384: 'DHE-RSA-AES256-GCM-SHA384',
  TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256: 'ECDHE-ECDSA-AES128-SHA256',
  TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384: 'ECDHE-ECDSA-AES256-SHA384',
  TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256: 'ECDHE-RSA-AES128-SHA256',
  TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384: 'ECDHE-RSA-AES256-SHA384',
};

/**
 * `tlsCiphers` (Pulsar): comma-separated suite names, Java/IANA (the common
 * ECDHE/DHE AEAD ones) or OpenSSL names. Returns the OpenSSL cipher string for
 * Node's `ciphers` option, or undefined for Node's defaults. Unknown names fail.
 */
export function parseTlsCiphers(value: string): string | undefined {
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) return undefined;
  const known = new Set(getCiphers().map((c) => c.toUpperCase()));
  const out: string[] = [];
  for (const item of items) {
    const name = IANA_TO_OPENSSL[item.toUpperCase()] ?? item;
    const upper = name.toUpperCase();
    const tls13 = /^TLS_(AES_128_GCM_SHA256|AES_256_GCM_SHA384|CHACHA20_POLY1305_SHA256|AES_128_CCM_SHA256|AES_128_CCM_8_SHA256)$/.test(upper);
    if (!tls13 && !known.has(upper)) {
      throw new Error(`unknown or unsupported cipher suite '${item}' (use an OpenSSL name like ECDHE-RSA-AES128-GCM-SHA256, or TLS_AES_128_GCM_SHA256 for TLS 1.3)`);
    }
    out.push(tls13 ? upper : name.toUpperCase());
  }
  return out.join(':');
}

export type StoreType = 'PKCS12' | 'PEM' | 'JKS';

/** `kopSslKeystoreType` / `kopSslTruststoreType`: JKS, PKCS12 or PEM. */
export function parseStoreType(value: string): StoreType {
  const upper = value.trim().toUpperCase();
  if (upper === 'PKCS12' || upper === 'PEM' || upper === 'JKS') return upper;
  throw new Error(`unknown store type '${value}'; expected JKS, PKCS12 or PEM`);
}
