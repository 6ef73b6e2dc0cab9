/**
 * Tokens of OpenID Connect issuers, as Pulsar's AuthenticationProviderOpenID validates them:
 * the iss claim must be one of openIDAllowedTokenIssuers; the issuer's metadata is read from
 * <issuer>/.well-known/openid-configuration (its "issuer" must equal the iss); its JWKS
 * (jwks_uri) gives the key by the token's kid, refetched on an unknown kid at most once per
 * openIDKeyIdCacheMissRefreshSeconds; RS256/384/512 and ES256/384/512 only; iat, exp, nbf and
 * sub required, aud one of openIDAllowedAudiences, leeway openIDAcceptedTimeLeewaySeconds.
 */
import { compactVerify, createRemoteJWKSet, errors } from 'jose';
import { AuthenticationError, type AuthenticatedIdentity } from '../types.js';
import { algName, checkAudienceOpenID, checkTimesOpenID, parseClaims, roleFrom, show, type DecodedToken } from './jwt.js';

/** AuthenticationProviderOpenID's supported algorithms. */
export const OPENID_ALGS = ['RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512'] as const;

export interface OpenIDSettings {
  openIDAllowedTokenIssuers: string;
  openIDAllowedAudiences: string;
  openIDRoleClaim: string;
  openIDAcceptedTimeLeewaySeconds: number;
  openIDRequireIssuersUseHttps: boolean;
  openIDCacheExpirationSeconds: number;
  openIDKeyIdCacheMissRefreshSeconds: number;
  openIDHttpReadTimeoutMillis: number;
}

export interface OpenIDOptions {
  /** how long a failed metadata fetch is remembered before the next try (default 5 s) */
  metadataFailureBackoffMs?: number;
}

type RemoteJWKS = ReturnType<typeof createRemoteJWKSet>;

interface IssuerState {
  /** metadata + key set, or the pending/failed fetch */
  metadata?: Promise<{ jwksUri: string; jwks: RemoteJWKS }>;
  fetchedAt: number;
  failed: boolean;
}

const MAX_METADATA_BYTES = 1024 * 1024;

export function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

export class OpenIDValidator {
  readonly issuers: ReadonlySet<string>;
  private readonly audiences: readonly string[];
  private readonly state = new Map<string, IssuerState>();
  /** key sets by jwks_uri, kept across metadata refreshes so that their caches survive */
  private readonly keySets = new Map<string, RemoteJWKS>();
  private readonly failureBackoffMs: number;
  readonly description: string;

  constructor(
    private readonly s: OpenIDSettings,
    opts: OpenIDOptions = {},
  ) {
    const issuers = splitList(s.openIDAllowedTokenIssuers);
    if (issuers.length === 0) throw new Error('openIDAllowedTokenIssuers: no issuer configured');
    for (const iss of issuers) {
      let url: URL;
      try {
        url = new URL(iss);
      } catch {
        throw new Error(`openIDAllowedTokenIssuers: ${JSON.stringify(iss)} is not a URL`);
      }
      if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new Error(`openIDAllowedTokenIssuers: ${JSON.stringify(iss)} is not an http(s) URL`);
      if (url.protocol !== 'https:' && s.openIDRequireIssuersUseHttps) {
        throw new Error(`openIDAllowedTokenIssuers: issuer URL ${iss} does not use https, but must (openIDRequireIssuersUseHttps=true)`);
      }
    }
    this.audiences = splitList(s.openIDAllowedAudiences);
    if (this.audiences.length === 0) {
      throw new Error('openIDAllowedAudiences: must be set when openIDAllowedTokenIssuers is (OpenID tokens must carry one of these audiences)');
    }
    this.issuers = new Set(issuers);
    this.failureBackoffMs = opts.metadataFailureBackoffMs ?? 5000;
    this.description = `OpenID issuers ${issuers.join(', ')} (audiences ${this.audiences.join(', ')}; accepts ${OPENID_ALGS.join(', ')})`;
  }

  async validate(token: string, decoded: DecodedToken, nowMs: number): Promise<AuthenticatedIdentity> {
    const iss = decoded.claims?.iss as string;
    const alg = decoded.alg;
    if (!(OPENID_ALGS as readonly string[]).includes(alg)) {
      throw new AuthenticationError(`unsupported alg ${algName(alg)} for tokens of OpenID issuer ${iss} (accepts ${OPENID_ALGS.join(', ')})`);
    }
    const kid = decoded.header.kid;
    if (typeof kid !== 'string' || kid === '') throw new AuthenticationError(`token of OpenID issuer ${iss} has no kid header: the issuer's key is chosen by kid`);
    const { jwksUri, jwks } = await this.metadata(iss);
    let payload: Uint8Array;
    try {
      ({ payload } = await compactVerify(token, jwks, { algorithms: [...OPENID_ALGS] }));
    } catch (e) {
      if (e instanceof errors.JWSSignatureVerificationFailed) throw new AuthenticationError(`bad signature: the token was not signed with key ${show(kid)} of OpenID issuer ${iss}`);
      if (e instanceof errors.JWKSNoMatchingKey) {
        throw new AuthenticationError(
          `no key ${show(kid)} for alg ${alg} in the JWKS of OpenID issuer ${iss} (${jwksUri}; refetched on an unknown kid at most every ${this.s.openIDKeyIdCacheMissRefreshSeconds} s)`,
        );
      }
      if (e instanceof errors.JWKSMultipleMatchingKeys) throw new AuthenticationError(`several keys ${show(kid)} for alg ${alg} in the JWKS of OpenID issuer ${iss}`);
      if (e instanceof errors.JWKSTimeout) throw new AuthenticationError(`timed out fetching the JWKS of OpenID issuer ${iss} (${jwksUri})`);
      if (e instanceof errors.JWKSInvalid) throw new AuthenticationError(`malformed JWKS from OpenID issuer ${iss} (${jwksUri}): ${e.message}`);
      if (e instanceof errors.JOSEError && e.code === 'ERR_JOSE_GENERIC') throw new AuthenticationError(`cannot fetch the JWKS of OpenID issuer ${iss} (${jwksUri}): ${e.message}`);
      if (e instanceof errors.JOSEError) throw new AuthenticationError(`invalid token of OpenID issuer ${iss}: ${e.message}`);
      throw new AuthenticationError(`cannot verify token of OpenID issuer ${iss}: ${(e as Error).message} (JWKS ${jwksUri})`);
    }
    const claims = parseClaims(payload);
    const expiresAt = checkTimesOpenID(claims, nowMs, this.s.openIDAcceptedTimeLeewaySeconds);
    checkAudienceOpenID(claims, this.audiences);
    const role = roleFrom(claims, this.s.openIDRoleClaim, 'openIDRoleClaim');
    return { role, expiresAt };
  }

  /** The issuer's metadata and key set: cached for openIDCacheExpirationSeconds, a failure for a few seconds. */
  private metadata(iss: string): Promise<{ jwksUri: string; jwks: RemoteJWKS }> {
    const now = Date.now();
    const st = this.state.get(iss);
    const maxAge = st?.failed ? this.failureBackoffMs : this.s.openIDCacheExpirationSeconds * 1000;
    if (st?.metadata && now - st.fetchedAt < maxAge) return st.metadata;
    const next: IssuerState = { fetchedAt: now, failed: false };
    next.metadata = this.fetchMetadata(iss).catch((e: unknown) => {
      next.failed = true;
      throw e;
    });
    this.state.set(iss, next);
    return next.metadata;
  }

  private async fetchMetadata(iss: string): Promise<{ jwksUri: string; jwks: RemoteJWKS }> {
    const url = `${iss.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let text: string;
    try {
      const res = await fetch(url, {
        redirect: 'manual',
        signal: AbortSignal.timeout(this.s.openIDHttpReadTimeoutMillis),
        headers: { accept: 'application/json' },
      });
      if (res.status !== 200) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      text = await res.text();
    } catch (e) {
      const err = e as Error;
      const why = err.name === 'TimeoutError' ? `timed out after ${this.s.openIDHttpReadTimeoutMillis} ms` : (err.cause as Error | undefined)?.message ?? err.message;
      throw new AuthenticationError(`cannot read the OpenID metadata of issuer ${iss} at ${url}: ${why}`);
    }
    if (text.length > MAX_METADATA_BYTES) throw new AuthenticationError(`OpenID metadata of issuer ${iss} is larger than ${MAX_METADATA_BYTES} bytes`);
    let meta: unknown;
    try {
      meta = JSON.parse(text);
    } catch {
      throw new AuthenticationError(`OpenID metadata of issuer ${iss} at ${url} is not JSON`);
    }
    const m = (typeof meta === 'object' && meta !== null ? meta : {}) as { issuer?: unknown; jwks_uri?: unknown };
    if (m.issuer !== iss) throw new AuthenticationError(`OpenID issuer URL mismatch: [${iss}] should match [${show(m.issuer)}] from ${url}`);
    if (typeof m.jwks_uri !== 'string') throw new AuthenticationError(`OpenID metadata of issuer ${iss} has no jwks_uri`);
    let jwksUrl: URL;
    try {
      jwksUrl = new URL(m.jwks_uri);
    } catch {
      throw new AuthenticationError(`OpenID metadata of issuer ${iss} has a jwks_uri that is not a URL: ${show(m.jwks_uri)}`);
    }
    if (jwksUrl.protocol !== 'https:' && (jwksUrl.protocol !== 'http:' || this.s.openIDRequireIssuersUseHttps)) {
      throw new AuthenticationError(`OpenID issuer ${iss} publishes jwks_uri ${jwksUrl.href}, which does not use https (openIDRequireIssuersUseHttps=true)`);
    }
    let jwks = this.keySets.get(jwksUrl.href);
    if (!jwks) {
      jwks = createRemoteJWKSet(jwksUrl, {
        timeoutDuration: this.s.openIDHttpReadTimeoutMillis,
        cooldownDuration: this.s.openIDKeyIdCacheMissRefreshSeconds * 1000,
        cacheMaxAge: this.s.openIDCacheExpirationSeconds * 1000,
      });
      this.keySets.set(jwksUrl.href, jwks);
    }
    return { jwksUri: jwksUrl.href, jwks };
  }
}
