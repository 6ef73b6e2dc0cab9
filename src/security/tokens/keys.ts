/**
 * Token keys as Pulsar reads them (AuthTokenUtils): where a key value comes from
 * (readKeyFromUrl), how its bytes become a key (decodeSecretKey / decodePublicKey /
 * decodePrivateKey), and which JWS algorithms each kind of key signs and verifies.
 *
 * Error messages never contain key material: a secret key value is never echoed.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const HMAC_ALGS = ['HS256', 'HS384', 'HS512'] as const;
export const RSA_ALGS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512'] as const;
export const EC_ALGS = ['ES256', 'ES384', 'ES512'] as const;
/** Values of tokenPublicAlg: the algorithms of key pairs (Pulsar's SignatureAlgorithm minus HS* and NONE). */
export const PUBLIC_KEY_ALGS = [...RSA_ALGS, ...EC_ALGS] as const;

export type HmacAlg = (typeof HMAC_ALGS)[number];
export type PublicKeyAlg = (typeof PUBLIC_KEY_ALGS)[number];
export type SignatureAlg = HmacAlg | PublicKeyAlg;

/** Minimum HMAC key length in bytes per algorithm (jjwt: key size >= hash output size, RFC 7518 3.2). */
export const HMAC_MIN_BYTES: Record<HmacAlg, number> = { HS256: 32, HS384: 48, HS512: 64 };
/** EC curve of each ES algorithm (RFC 7518 3.4). */
export const EC_CURVE: Record<(typeof EC_ALGS)[number], string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };
const NODE_CURVE: Record<string, string> = { prime256v1: 'P-256', 'P-256': 'P-256', secp384r1: 'P-384', 'P-384': 'P-384', secp521r1: 'P-521', 'P-521': 'P-521' };

export class KeyError extends Error {
  override name = 'KeyError';
}

export function isHmacAlg(alg: string): alg is HmacAlg {
  return (HMAC_ALGS as readonly string[]).includes(alg);
}
export function isPublicKeyAlg(alg: string): alg is PublicKeyAlg {
  return (PUBLIC_KEY_ALGS as readonly string[]).includes(alg);
}
export function isRsaAlg(alg: string): boolean {
  return (RSA_ALGS as readonly string[]).includes(alg);
}
export function isEcAlg(alg: string): alg is (typeof EC_ALGS)[number] {
  return (EC_ALGS as readonly string[]).includes(alg);
}

const STD_BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict standard base64 (java.util.Base64.getDecoder(): padding optional, nothing outside the alphabet). */
function decodeStrictBase64(s: string): Buffer | undefined {
  if (!STD_BASE64.test(s)) return undefined;
  const body = s.replace(/=+$/, '');
  if (body.length % 4 === 1) return undefined;
  if (s.length !== body.length && s.length % 4 !== 0) return undefined;
  return Buffer.from(body, 'base64');
}

/** commons-codec Base64.isBase64(bytes): every character is in the (standard or URL-safe) alphabet, '=' or whitespace. */
function looksBase64(s: string): boolean {
  return /^[A-Za-z0-9+/\-_=\s]*$/.test(s);
}

export interface ReadKeyOptions {
  /** the configuration key or option the value came from, for messages */
  what: string;
  /** the value is secret: never repeat it in an error */
  secret: boolean;
}

/**
 * The bytes of a key value, exactly as Pulsar's AuthTokenUtils.readKeyFromUrl reads it:
 *   data:[<mediatype>][;base64],<data>   the data (base64-decoded with ;base64)
 *   file:///path (or file:path)          the file's bytes
 *   a path of an existing file           the file's bytes
 *   standard base64                      the decoded bytes
 * File contents are used as they are (no trimming, no base64 decoding): a file written
 * by `create-secret-key --base64` holds a key that is the base64 text itself.
 */
export function readKeyFromUrl(value: string, opts: ReadKeyOptions): Buffer {
  const shown = opts.secret ? '' : ` ${JSON.stringify(value.length > 200 ? value.slice(0, 200) + '...' : value)}`;
  if (value.startsWith('data:')) return readDataUrl(value, opts);
  if (value.startsWith('file:')) {
    let path: string;
    try {
      path = value.startsWith('file://') ? fileURLToPath(value) : decodeURIComponent(value.slice('file:'.length));
    } catch (e) {
      throw new KeyError(`${opts.what}: malformed file: URL${shown} (${(e as Error).message})`);
    }
    return readKeyFile(path, opts);
  }
  if (value !== '' && existsSync(value)) return readKeyFile(value, opts);
  if (value !== '' && looksBase64(value)) {
    const decoded = decodeStrictBase64(value.trim());
    if (decoded) return decoded;
    throw new KeyError(
      `${opts.what}: not a data: or file: URL, not an existing file, and not valid standard base64${opts.secret ? '' : ` (file${shown} doesn't exist)`}`,
    );
  }
  throw new KeyError(`${opts.what}: key file${opts.secret ? '' : shown} doesn't exist (and the value is not a data: or file: URL, nor base64)`);
}

function readKeyFile(path: string, opts: ReadKeyOptions): Buffer {
  try {
    if (!statSync(path).isFile()) throw new Error('not a regular file');
    return readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? "doesn't exist" : err.code === 'EACCES' ? 'is not readable (permission denied)' : err.message;
    throw new KeyError(`${opts.what}: key file ${path} ${why}`);
  }
}

// Pulsar's DataURLStreamHandler: (mime)?(;charset=...)?(;base64)?,(data) on the percent-decoded value.
const DATA_URL = /^(?<mime>[^;,]+)?(?:;(?<charset>charset=[^;,]+))?(?<b64>;base64)?,(?<data>[\s\S]+)$/;

function readDataUrl(value: string, opts: ReadKeyOptions): Buffer {
  let ssp: string;
  try {
    ssp = decodeURIComponent(value.slice('data:'.length));
  } catch {
    throw new KeyError(`${opts.what}: malformed data: URL (bad percent-encoding)`);
  }
  const m = DATA_URL.exec(ssp);
  if (!m?.groups) throw new KeyError(`${opts.what}: malformed data: URL (expected data:[<mediatype>][;base64],<data>)`);
  const data = m.groups.data!;
  if (!m.groups.b64) return Buffer.from(data, 'utf8');
  const decoded = decodeStrictBase64(data);
  if (!decoded) throw new KeyError(`${opts.what}: data: URL has ;base64 but its data is not valid standard base64`);
  return decoded;
}

/**
 * An HMAC key from its bytes (Keys.hmacShaKeyFor): at least 256 bits, else Pulsar's
 * WeakKeyException. Returns the strongest HS algorithm it may sign with.
 */
export function decodeSecretKey(bytes: Buffer, what: string): { key: Buffer; strongestAlg: HmacAlg } {
  if (bytes.length < 32) {
    throw new KeyError(
      `${what}: the secret key is ${bytes.length * 8} bits, not secure enough for any JWT HMAC-SHA algorithm (at least 256 bits, 32 bytes, are needed)`,
    );
  }
  const strongestAlg: HmacAlg = bytes.length >= 64 ? 'HS512' : bytes.length >= 48 ? 'HS384' : 'HS256';
  return { key: bytes, strongestAlg };
}

function looksPem(bytes: Buffer): boolean {
  return bytes.subarray(0, 64).toString('latin1').trimStart().startsWith('-----BEGIN');
}

export interface AsymmetricKeyInfo {
  key: KeyObject;
  kind: 'RSA' | 'EC';
  /** RSA modulus bits, or the EC curve order bits (256, 384, 521) */
  bits: number;
  /** EC only: P-256, P-384 or P-521 */
  curve?: string;
  /** algorithms this key verifies (or signs with) */
  algs: readonly SignatureAlg[];
}

function describeKey(key: KeyObject, what: string): AsymmetricKeyInfo {
  const type = key.asymmetricKeyType;
  const details = key.asymmetricKeyDetails ?? {};
  if (type === 'rsa') {
    const bits = details.modulusLength ?? 0;
    return { key, kind: 'RSA', bits, algs: RSA_ALGS };
  }
  if (type === 'ec') {
    const curve = NODE_CURVE[details.namedCurve ?? ''];
    if (!curve) throw new KeyError(`${what}: EC key on unsupported curve ${details.namedCurve ?? '?'} (JWT needs P-256, P-384 or P-521)`);
    const alg = (Object.keys(EC_CURVE) as Array<keyof typeof EC_CURVE>).find((a) => EC_CURVE[a] === curve)!;
    return { key, kind: 'EC', bits: curve === 'P-521' ? 521 : Number(curve.slice(2)), curve, algs: [alg] };
  }
  throw new KeyError(`${what}: unsupported key type ${type ?? '?'} (RSA or EC keys only)`);
}

/** The expected key family of a public-key algorithm. */
export function familyOf(alg: PublicKeyAlg): 'RSA' | 'EC' {
  return isRsaAlg(alg) ? 'RSA' : 'EC';
}

function checkFamily(info: AsymmetricKeyInfo, alg: PublicKeyAlg | undefined, what: string, algOption: string): void {
  if (alg && familyOf(alg) !== info.kind) {
    const fix = info.kind === 'EC' ? `set ${algOption}=${info.algs[0]}` : `set ${algOption}=RS256 (or another RSA algorithm)`;
    throw new KeyError(`${what}: the key is an ${info.kind} key but ${algOption} is ${alg}, an ${familyOf(alg)} algorithm: ${fix}`);
  }
  if (info.kind === 'RSA' && info.bits < 2048) {
    throw new KeyError(`${what}: the RSA key is ${info.bits} bits, not secure enough for RS*/PS* algorithms (at least 2048 bits are needed)`);
  }
}

/**
 * A public key from its bytes: X.509 SubjectPublicKeyInfo DER (what Pulsar reads and
 * `create-key-pair` writes) or PEM. `alg` (tokenPublicAlg) must be of the key's family,
 * as Pulsar decodes the key with the KeyFactory of that family.
 */
export function decodePublicKey(bytes: Buffer, alg: PublicKeyAlg | undefined, what: string, algOption = 'tokenPublicAlg'): AsymmetricKeyInfo {
  let key: KeyObject;
  try {
    key = looksPem(bytes) ? createPublicKey({ key: bytes.toString('utf8'), format: 'pem' }) : createPublicKey({ key: bytes, format: 'der', type: 'spki' });
  } catch (e) {
    throw new KeyError(`${what}: failed to decode the public key (X.509 SubjectPublicKeyInfo, DER or PEM, expected): ${(e as Error).message}`);
  }
  if (key.type !== 'public') throw new KeyError(`${what}: not a public key`);
  const info = describeKey(key, what);
  checkFamily(info, alg, what, algOption);
  return info;
}

/** A private key from its bytes: PKCS#8 DER (what Pulsar reads and writes) or PEM. */
export function decodePrivateKey(bytes: Buffer, alg: PublicKeyAlg | undefined, what: string, algOption = '--signature-algorithm'): AsymmetricKeyInfo {
  let key: KeyObject;
  try {
    key = looksPem(bytes) ? createPrivateKey({ key: bytes.toString('utf8'), format: 'pem' }) : createPrivateKey({ key: bytes, format: 'der', type: 'pkcs8' });
  } catch {
    // the decoder's message could quote key bytes: say only what was expected
    throw new KeyError(`${what}: failed to decode the private key (PKCS#8, DER or PEM, expected)`);
  }
  const info = describeKey(key, what);
  checkFamily(info, alg, what, algOption);
  return info;
}

/** The algorithm jjwt's signWith(key) picks for a key (SignatureAlgorithm.forSigningKey). */
export function signingAlgFor(info: AsymmetricKeyInfo): PublicKeyAlg {
  if (info.kind === 'EC') return info.algs[0] as PublicKeyAlg;
  return info.bits >= 4096 ? 'RS512' : info.bits >= 3072 ? 'RS384' : 'RS256';
}
