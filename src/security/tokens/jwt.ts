/**
 * Reading a compact JWS before and after its signature is checked, and the claim rules
 * of the two Pulsar providers:
 *   - AuthenticationProviderToken (jjwt 0.11): exp/nbf compared in milliseconds with
 *     tokenAllowedClockSkewSeconds; audience only when tokenAudienceClaim is set.
 *   - AuthenticationProviderOpenID (auth0 java-jwt): now truncated to seconds, leeway
 *     openIDAcceptedTimeLeewaySeconds, iat not in the future, iat/exp/nbf/sub required.
 * Messages say why and never contain the token; claim values are quoted and shortened.
 */
import { AuthenticationError } from '../types.js';

export type Claims = Record<string, unknown>;

export interface DecodedToken {
  header: Record<string, unknown>;
  /** the claims, when the payload is a JSON object */
  claims: Claims | null;
  alg: string;
}

/** Largest token looked at; SASL frames can be far larger than any real JWT. */
export const MAX_TOKEN_BYTES = 1024 * 1024;

const B64URL = /^[A-Za-z0-9_-]*$/;

function b64urlJson(part: string): unknown {
  if (!B64URL.test(part) || part.length % 4 === 1) throw new Error('not base64url');
  return JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A claim value for a message: JSON, at most 80 characters. */
export function show(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/** An alg header value for a message: as is when it looks like an algorithm name, else quoted. */
export function algName(alg: string): string {
  return /^[A-Za-z0-9-]{1,20}$/.test(alg) ? alg : show(alg);
}

/**
 * Splits and decodes a compact JWS without checking its signature: enough to reject
 * malformed and unsigned tokens early and to route by iss.
 */
export function decodeUnverified(token: string): DecodedToken {
  if (typeof token !== 'string' || token.trim() === '') throw new AuthenticationError('empty token');
  if (token.length > MAX_TOKEN_BYTES) throw new AuthenticationError(`malformed token: ${token.length} bytes, larger than ${MAX_TOKEN_BYTES}`);
  const parts = token.split('.');
  if (parts.length === 5) throw new AuthenticationError('malformed token: encrypted tokens (JWE) are not supported, a signed JWT (JWS) is expected');
  if (parts.length !== 3) throw new AuthenticationError(`malformed token: ${parts.length} dot-separated parts, a signed JWT has 3`);
  let header: unknown;
  try {
    header = b64urlJson(parts[0]!);
  } catch {
    throw new AuthenticationError('malformed token: the header is not base64url-encoded JSON');
  }
  if (!isObject(header)) throw new AuthenticationError('malformed token: the header is not a JSON object');
  const alg = header.alg;
  if (typeof alg !== 'string' || alg === '') throw new AuthenticationError('malformed token: the header has no alg');
  if (alg.toLowerCase() === 'none') throw new AuthenticationError('unsupported alg none: unsigned tokens are rejected');
  if (parts[2] === '') throw new AuthenticationError(`malformed token: no signature (alg ${algName(alg)})`);
  let claims: Claims | null = null;
  try {
    const payload = b64urlJson(parts[1]!);
    if (isObject(payload)) claims = payload;
  } catch {
    claims = null;
  }
  return { header, claims, alg };
}

/** The claims of a token whose signature has been verified. */
export function parseClaims(payload: Uint8Array): Claims {
  let v: unknown;
  try {
    v = JSON.parse(Buffer.from(payload).toString('utf8'));
  } catch {
    throw new AuthenticationError('malformed token: the payload is not JSON (signed plaintext tokens are not supported)');
  }
  if (!isObject(v)) throw new AuthenticationError('malformed token: the payload is not a JSON object of claims');
  return v;
}

function iso(ms: number): string {
  const d = new Date(ms);
  return Number.isNaN(d.getTime()) ? String(ms) : d.toISOString();
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?(Z|[+-]\d{2}:?\d{2})$/;

/**
 * A date claim as jjwt reads it, in epoch ms: a number of seconds (fraction dropped),
 * a string of digits (seconds) or an ISO-8601 string. undefined when absent.
 */
function jjwtDate(claims: Claims, name: string): number | undefined {
  const v = claims[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v) * 1000;
  if (typeof v === 'string') {
    if (/^-?\d+$/.test(v)) return Number(v) * 1000;
    if (ISO_8601.test(v)) {
      const ms = Date.parse(v);
      if (!Number.isNaN(ms)) return ms;
    }
  }
  throw new AuthenticationError(`malformed token: claim '${name}' is not a date (${show(v)})`);
}

/** exp/nbf as AuthenticationProviderToken (jjwt) checks them. Returns exp in ms, or null. */
export function checkTimesPulsarToken(claims: Claims, nowMs: number, skewSeconds: number): number | null {
  const skewMs = skewSeconds * 1000;
  const exp = jjwtDate(claims, 'exp');
  if (exp !== undefined && nowMs - skewMs > exp) {
    throw new AuthenticationError(`token expired at ${iso(exp)} (now ${iso(nowMs)}, allowed clock skew ${skewSeconds} s)`);
  }
  const nbf = jjwtDate(claims, 'nbf');
  if (nbf !== undefined && nowMs + skewMs < nbf) {
    throw new AuthenticationError(`token not valid before ${iso(nbf)} (now ${iso(nowMs)}, allowed clock skew ${skewSeconds} s)`);
  }
  return exp ?? null;
}

/** A NumericDate claim as auth0 java-jwt reads it (epoch seconds, fraction dropped). */
function numericDate(claims: Claims, name: string): number | undefined {
  const v = claims[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'number' && Number.isFinite(v)) return Math.trunc(v);
  throw new AuthenticationError(`malformed token: claim '${name}' is not a NumericDate (${show(v)})`);
}

/**
 * The OpenID provider's claim checks (AuthenticationProviderOpenID with auth0 java-jwt):
 * iat, exp, nbf and sub present; now truncated to seconds; exp must be after now - leeway,
 * nbf and iat not after now + leeway. Returns exp in ms.
 */
export function checkTimesOpenID(claims: Claims, nowMs: number, leewaySeconds: number): number {
  for (const name of ['iat', 'exp', 'nbf', 'sub']) {
    if (claims[name] === undefined || claims[name] === null) throw new AuthenticationError(`missing required claim '${name}' (OpenID tokens need iat, exp, nbf and sub)`);
  }
  const now = Math.floor(nowMs / 1000);
  const exp = numericDate(claims, 'exp')!;
  if (!(now - leewaySeconds < exp)) {
    throw new AuthenticationError(`token expired at ${iso(exp * 1000)} (now ${iso(now * 1000)}, leeway ${leewaySeconds} s)`);
  }
  const nbf = numericDate(claims, 'nbf')!;
  if (now + leewaySeconds < nbf) {
    throw new AuthenticationError(`token not valid before ${iso(nbf * 1000)} (now ${iso(now * 1000)}, leeway ${leewaySeconds} s)`);
  }
  const iat = numericDate(claims, 'iat')!;
  if (now + leewaySeconds < iat) {
    throw new AuthenticationError(`token issued in the future, at ${iso(iat * 1000)} (now ${iso(now * 1000)}, leeway ${leewaySeconds} s)`);
  }
  return exp * 1000;
}

/**
 * tokenAudienceClaim/tokenAudience as AuthenticationProviderToken checks them: the claim
 * must be present and be the audience or an array containing it.
 */
export function checkAudiencePulsarToken(claims: Claims, claim: string, audience: string): void {
  const v = claims[claim];
  if (v === undefined || v === null) throw new AuthenticationError(`missing audience claim '${claim}' (tokenAudience is ${show(audience)})`);
  if (Array.isArray(v)) {
    if (!v.some((a) => a === audience)) throw new AuthenticationError(`wrong audience: claim '${claim}' is ${show(v)}, which does not contain ${show(audience)}`);
    return;
  }
  if (typeof v === 'string') {
    if (v !== audience) throw new AuthenticationError(`wrong audience: claim '${claim}' is ${show(v)}, expected ${show(audience)}`);
    return;
  }
  throw new AuthenticationError(`wrong audience: claim '${claim}' is ${show(v)}, neither a string nor an array`);
}

/** openIDAllowedAudiences: the aud claim (string or array) must contain one of them. */
export function checkAudienceOpenID(claims: Claims, allowed: readonly string[]): void {
  const v = claims.aud;
  const auds = typeof v === 'string' ? [v] : Array.isArray(v) ? v : undefined;
  if (auds === undefined) {
    throw new AuthenticationError(
      v === undefined || v === null ? `missing audience claim 'aud' (openIDAllowedAudiences is ${show(allowed.join(','))})` : `wrong audience: claim 'aud' is ${show(v)}, neither a string nor an array`,
    );
  }
  if (!auds.some((a) => typeof a === 'string' && allowed.includes(a))) {
    throw new AuthenticationError(`wrong audience: claim 'aud' is ${show(v)}, none of openIDAllowedAudiences ${show(allowed.join(','))}`);
  }
}

/**
 * The role from the role claim (getPrincipal): a string, or an array whose first element
 * is a string. A missing, empty or otherwise typed claim fails authentication.
 */
export function roleFrom(claims: Claims, claim: string, option: string): string {
  const v = claims[claim];
  if (v === undefined || v === null) throw new AuthenticationError(`missing role claim '${claim}' (${option})`);
  const role = typeof v === 'string' ? v : Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined;
  if (role === undefined) throw new AuthenticationError(`role claim '${claim}' is ${show(v)}: neither a string nor an array starting with one`);
  if (role === '') throw new AuthenticationError(`role claim '${claim}' is empty`);
  return role;
}
