/**
 * Tokens signed with one configured key, as Pulsar's AuthenticationProviderToken validates
 * them: tokenSecretKey (HMAC) or tokenPublicKey (RSA/EC, family from tokenPublicAlg).
 */
import type { KeyObject } from 'node:crypto';
import { compactVerify, errors } from 'jose';
import { AuthenticationError, type AuthenticatedIdentity } from '../types.js';
import { checkAudiencePulsarToken, checkTimesPulsarToken, parseClaims, roleFrom, algName, type Claims, type DecodedToken } from './jwt.js';
import {
  HMAC_ALGS,
  HMAC_MIN_BYTES,
  decodePublicKey,
  decodeSecretKey,
  isHmacAlg,
  readKeyFromUrl,
  type AsymmetricKeyInfo,
  type PublicKeyAlg,
  type SignatureAlg,
} from './keys.js';

export interface StaticKeySettings {
  tokenSecretKey: string;
  tokenPublicKey: string;
  /** undefined: any key family (the CLI without --signature-algorithm) */
  tokenPublicAlg: PublicKeyAlg | undefined;
  tokenAuthClaim: string;
  tokenAudienceClaim: string;
  tokenAudience: string;
  tokenAllowedClockSkewSeconds: number;
}

export class StaticKeyValidator {
  private readonly key: Uint8Array | KeyObject;
  private readonly keyName: string;
  private readonly isSecret: boolean;
  /** the algorithms the key verifies */
  private readonly algs: readonly SignatureAlg[];
  private readonly secretLength: number;
  private readonly keyDescription: string;
  readonly description: string;

  constructor(
    private readonly s: StaticKeySettings,
    names: { secretKey: string; publicKey: string; publicAlg: string } = { secretKey: 'tokenSecretKey', publicKey: 'tokenPublicKey', publicAlg: 'tokenPublicAlg' },
  ) {
    if (s.tokenSecretKey.trim() !== '') {
      this.keyName = names.secretKey;
      const { key } = decodeSecretKey(readKeyFromUrl(s.tokenSecretKey, { what: names.secretKey, secret: true }), names.secretKey);
      this.key = new Uint8Array(key);
      this.secretLength = key.length;
      this.isSecret = true;
      // jjwt refuses HS384/HS512 with a key shorter than the hash: only the algorithms this key is long enough for
      this.algs = HMAC_ALGS.filter((a) => key.length >= HMAC_MIN_BYTES[a]);
      this.keyDescription = `an HMAC secret key of ${key.length} bytes`;
    } else {
      this.keyName = names.publicKey;
      const info: AsymmetricKeyInfo = decodePublicKey(
        readKeyFromUrl(s.tokenPublicKey, { what: names.publicKey, secret: false }),
        s.tokenPublicAlg,
        names.publicKey,
        names.publicAlg,
      );
      this.key = info.key;
      this.secretLength = 0;
      this.isSecret = false;
      this.algs = info.algs;
      this.keyDescription = info.kind === 'RSA' ? `an RSA public key of ${info.bits} bits` : `an EC public key on ${info.curve}`;
    }
    this.description = `${this.keyName} (${this.keyDescription}; accepts ${this.algs.join(', ')})`;
  }

  async validate(token: string, decoded: DecodedToken, nowMs: number): Promise<AuthenticatedIdentity> {
    const { claims, expiresAt } = await this.verify(token, decoded, nowMs);
    if (this.s.tokenAudienceClaim !== '') checkAudiencePulsarToken(claims, this.s.tokenAudienceClaim, this.s.tokenAudience);
    const role = roleFrom(claims, this.s.tokenAuthClaim, 'tokenAuthClaim');
    return { role, expiresAt };
  }

  /** Signature, alg/key match, exp and nbf: what Pulsar's `tokens validate` checks. */
  async verify(token: string, decoded: DecodedToken, nowMs: number): Promise<{ claims: Claims; expiresAt: number | null }> {
    const alg = decoded.alg;
    if (!(this.algs as readonly string[]).includes(alg)) {
      if (this.isSecret && isHmacAlg(alg)) {
        throw new AuthenticationError(
          `token alg ${alg} needs a secret key of at least ${HMAC_MIN_BYTES[alg]} bytes; ${this.keyName} has ${this.secretLength}`,
        );
      }
      throw new AuthenticationError(
        `token alg ${algName(alg)} does not match the configured key: ${this.keyName} is ${this.keyDescription} (accepts ${this.algs.join(', ')})`,
      );
    }
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(token, this.key, { algorithms: [...this.algs] }));
    } catch (e) {
      if (e instanceof errors.JWSSignatureVerificationFailed) {
        throw new AuthenticationError(`bad signature: the token was not signed with the key of ${this.keyName}`);
      }
      if (e instanceof errors.JOSEError) throw new AuthenticationError(`invalid token: ${e.message}`);
      throw new AuthenticationError(`invalid token: ${(e as Error).message}`);
    }
    const claims = parseClaims(payload);
    const expiresAt = checkTimesPulsarToken(claims, nowMs, this.s.tokenAllowedClockSkewSeconds);
    return { claims, expiresAt };
  }
}
