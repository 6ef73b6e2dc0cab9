/**
 * Pulsar JWT validation for the gateway: the rules of Pulsar's AuthenticationProviderToken
 * (one static key: tokenSecretKey or tokenPublicKey) and AuthenticationProviderOpenID
 * (JWKS of allowed OpenID issuers). With both configured, a token whose iss is an allowed
 * OpenID issuer is validated by the OpenID rules, any other by the static key.
 * See docs/tokens.md.
 *
 *   const validator = createTokenValidator(config);       // throws ConfigError on bad settings
 *   const { role, expiresAt } = await validator.validate(jwt);  // or AuthenticationError(why)
 */
import { ConfigError } from '../../config/load.js';
import { SCHEMA, type GatewayConfig } from '../../config/schema.js';
import { AuthenticationError, type AuthenticatedIdentity, type TokenValidator } from '../types.js';
import { decodeUnverified } from './jwt.js';
import { KeyError, isPublicKeyAlg } from './keys.js';
import { OpenIDValidator, splitList, type OpenIDOptions, type OpenIDSettings } from './openid.js';
import { StaticKeyValidator, type StaticKeySettings } from './static-key.js';

export { AuthenticationError } from '../types.js';
export type { AuthenticatedIdentity, TokenValidator } from '../types.js';

/** The configuration keys read here (all in src/config/schema.ts). */
export const TOKEN_CONFIG_KEYS = [
  'tokenSecretKey',
  'tokenPublicKey',
  'tokenPublicAlg',
  'tokenAuthClaim',
  'tokenAudienceClaim',
  'tokenAudience',
  'tokenAllowedClockSkewSeconds',
  'openIDAllowedTokenIssuers',
  'openIDAllowedAudiences',
  'openIDRoleClaim',
  'openIDAcceptedTimeLeewaySeconds',
  'openIDRequireIssuersUseHttps',
  'openIDCacheExpirationSeconds',
  'openIDKeyIdCacheMissRefreshSeconds',
  'openIDHttpReadTimeoutMillis',
] as const satisfies ReadonlyArray<keyof GatewayConfig>;

export type TokenConfigKey = (typeof TOKEN_CONFIG_KEYS)[number];
export type TokenValidatorConfig = Pick<GatewayConfig, TokenConfigKey>;

export interface TokenValidatorOptions extends OpenIDOptions {
  /** the clock, epoch ms (tests) */
  now?: () => number;
}

export interface GatewayTokenValidator extends TokenValidator {
  /** What is configured, for the startup log: keys, algorithms, issuers (no key material). */
  readonly description: string;
  /** Settings accepted as Pulsar accepts them but worth a warning in the log. */
  readonly warnings: readonly string[];
}

/** Whether any token validation key or issuer is configured. */
export function tokenValidationConfigured(config: Partial<TokenValidatorConfig>): boolean {
  return [config.tokenSecretKey, config.tokenPublicKey, config.openIDAllowedTokenIssuers].some((v) => (v ?? '').trim() !== '');
}

/** The full token configuration: the given values over the schema defaults. */
export function tokenConfig(config: Partial<TokenValidatorConfig>): TokenValidatorConfig {
  const out: Record<string, unknown> = {};
  for (const k of TOKEN_CONFIG_KEYS) out[k] = config[k] ?? SCHEMA[k].default;
  return out as TokenValidatorConfig;
}

/**
 * A validator for the configured keys and issuers. Missing keys fall back to their defaults
 * (so a test may pass only what it sets). Throws ConfigError naming the key when a setting
 * is unusable (unreadable key, weak key, key/algorithm mismatch, http issuer...).
 */
export function createTokenValidator(config: Partial<TokenValidatorConfig>, options: TokenValidatorOptions = {}): GatewayTokenValidator {
  const c = tokenConfig(config);
  const warnings: string[] = [];
  const trimmed = (v: string) => v.trim();
  const authClaim = trimmed(c.tokenAuthClaim) || 'sub';
  const audienceClaim = trimmed(c.tokenAudienceClaim);
  const audience = trimmed(c.tokenAudience);
  const hasStatic = trimmed(c.tokenSecretKey) !== '' || trimmed(c.tokenPublicKey) !== '';
  const hasOpenID = splitList(c.openIDAllowedTokenIssuers).length > 0;
  if (!hasStatic && !hasOpenID) {
    throw new ConfigError('token authentication needs tokenSecretKey, tokenPublicKey or openIDAllowedTokenIssuers');
  }
  if (audienceClaim !== '' && audience === '') {
    throw new ConfigError(`invalid configuration: tokenAudienceClaim is '${audienceClaim}' but tokenAudience (the audience that stands for this gateway) is not set`);
  }
  if (audience !== '' && audienceClaim === '') {
    throw new ConfigError(
      "invalid configuration: tokenAudience is set but tokenAudienceClaim is not: Pulsar would not check the audience at all; set tokenAudienceClaim=aud (or the claim your tokens carry it in)",
    );
  }
  if (!isPublicKeyAlg(c.tokenPublicAlg)) {
    throw new ConfigError(`invalid configuration: tokenPublicAlg: ${c.tokenPublicAlg} is not an algorithm of key pairs (RS*, PS*, ES*)`);
  }
  if (trimmed(c.tokenSecretKey) !== '' && trimmed(c.tokenPublicKey) !== '') {
    warnings.push('tokenSecretKey and tokenPublicKey are both set: tokenPublicKey is ignored (as Pulsar does)');
  }

  let staticKey: StaticKeyValidator | undefined;
  let openID: OpenIDValidator | undefined;
  try {
    if (hasStatic) {
      const s: StaticKeySettings = {
        tokenSecretKey: c.tokenSecretKey.trim(),
        tokenPublicKey: c.tokenPublicKey.trim(),
        tokenPublicAlg: c.tokenPublicAlg,
        tokenAuthClaim: authClaim,
        tokenAudienceClaim: audienceClaim,
        tokenAudience: audience,
        tokenAllowedClockSkewSeconds: c.tokenAllowedClockSkewSeconds,
      };
      staticKey = new StaticKeyValidator(s);
    }
    if (hasOpenID) {
      const s: OpenIDSettings = {
        openIDAllowedTokenIssuers: c.openIDAllowedTokenIssuers,
        openIDAllowedAudiences: c.openIDAllowedAudiences,
        openIDRoleClaim: trimmed(c.openIDRoleClaim) || 'sub',
        openIDAcceptedTimeLeewaySeconds: c.openIDAcceptedTimeLeewaySeconds,
        openIDRequireIssuersUseHttps: c.openIDRequireIssuersUseHttps,
        openIDCacheExpirationSeconds: c.openIDCacheExpirationSeconds,
        openIDKeyIdCacheMissRefreshSeconds: c.openIDKeyIdCacheMissRefreshSeconds,
        openIDHttpReadTimeoutMillis: c.openIDHttpReadTimeoutMillis,
      };
      openID = new OpenIDValidator(s, options);
    }
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    if (e instanceof KeyError || e instanceof Error) throw new ConfigError(`invalid configuration: ${e.message}`);
    throw e;
  }

  const now = options.now ?? Date.now;
  const description = [staticKey?.description, openID?.description].filter((d) => d !== undefined).join(' + ');
  return {
    description,
    warnings,
    async validate(token: string): Promise<AuthenticatedIdentity> {
      const decoded = decodeUnverified(token);
      const iss = decoded.claims?.iss;
      const jti = decoded.claims?.jti;
      // the jti (for revocation) only when the token has one
      const withId = (id: AuthenticatedIdentity): AuthenticatedIdentity => (typeof jti === 'string' && jti !== '' ? { ...id, tokenId: jti } : id);
      if (openID && typeof iss === 'string' && openID.issuers.has(iss)) return withId(await openID.validate(token, decoded, now()));
      if (staticKey) return withId(await staticKey.validate(token, decoded, now()));
      // OpenID only
      if (iss === undefined || iss === null) throw new AuthenticationError('missing iss claim: tokens must come from one of openIDAllowedTokenIssuers');
      throw new AuthenticationError(`issuer not allowed: ${typeof iss === 'string' ? iss.slice(0, 200) : JSON.stringify(iss).slice(0, 200)} (not one of openIDAllowedTokenIssuers)`);
    },
  };
}
