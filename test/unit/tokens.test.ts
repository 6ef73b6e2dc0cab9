/**
 * Token validation with Pulsar's rules (src/security/tokens): static keys as
 * AuthenticationProviderToken, OpenID issuers (local http JWKS server) as
 * AuthenticationProviderOpenID. Every failure asserts its exact reason, and that no
 * message contains the token.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { CompactSign, exportJWK } from 'jose';
import { ConfigError } from '../../src/config/load.js';
import { SCHEMA } from '../../src/config/schema.js';
import { AuthenticationError } from '../../src/security/types.js';
import {
  createTokenValidator,
  tokenValidationConfigured,
  TOKEN_CONFIG_KEYS,
  type TokenValidatorConfig,
  type TokenValidatorOptions,
} from '../../src/security/tokens/index.js';
import { readKeyFromUrl } from '../../src/security/tokens/keys.js';
import { tempDir } from '../helpers/temp.js';

// ---------------------------------------------------------------- helpers

const dir = tempDir('kop-tokens-');
let fileNo = 0;
function tempFile(content: string | Uint8Array): string {
  const f = join(dir, `f${fileNo++}`);
  writeFileSync(f, content);
  return f;
}

const NOW = Date.UTC(2030, 0, 15, 12, 0, 0); // fixed clock, epoch ms
const NOW_S = NOW / 1000;
const iso = (s: number) => new Date(s * 1000).toISOString();

type Key = Uint8Array | KeyObject;

/** A compact JWS with exactly these header params and claims. */
async function sign(claims: Record<string, unknown>, key: Key, alg: string, header: Record<string, unknown> = {}): Promise<string> {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(claims))).setProtectedHeader({ ...header, alg }).sign(key);
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A validator on the fixed clock. */
function validator(config: Partial<TokenValidatorConfig>, opts: TokenValidatorOptions = {}) {
  return createTokenValidator(config, { now: () => NOW, ...opts });
}

/** Asserts the token is rejected with exactly `reason`, and that the message does not contain it. */
async function rejects(v: { validate(t: string): Promise<unknown> }, token: string, reason: string | RegExp): Promise<void> {
  await assert.rejects(v.validate(token), (e: unknown) => {
    assert.ok(e instanceof AuthenticationError, `AuthenticationError expected, got ${String(e)}`);
    if (typeof reason === 'string') assert.equal(e.message, reason);
    else assert.match(e.message, reason);
    if (token.length > 0) {
      assert.ok(!e.message.includes(token), 'the message contains the token');
      for (const part of token.split('.')) if (part.length > 8) assert.ok(!e.message.includes(part), 'the message contains a part of the token');
    }
    return true;
  });
}

function configError(fn: () => unknown, reason: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ConfigError, `ConfigError expected, got ${String(e)}`);
    if (typeof reason === 'string') assert.equal(e.message, reason);
    else assert.match(e.message, reason);
    return true;
  });
}

const secret32 = randomBytes(32);
const secret64 = randomBytes(64);
const dataUrl = (b: Uint8Array) => `data:;base64,${Buffer.from(b).toString('base64')}`;

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const rsaPubDer = rsa.publicKey.export({ format: 'der', type: 'spki' });
const rsaPubPem = rsa.publicKey.export({ format: 'pem', type: 'spki' }) as string;
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const ecPubDer = ec.publicKey.export({ format: 'der', type: 'spki' });

// ---------------------------------------------------------------- configuration

test('config: the keys are in the schema with Pulsar defaults', () => {
  for (const k of TOKEN_CONFIG_KEYS) assert.ok(k in SCHEMA, `${k} missing from the schema`);
  assert.equal(SCHEMA.tokenPublicAlg.default, 'RS256');
  assert.equal(SCHEMA.tokenAuthClaim.default, 'sub');
  assert.equal(SCHEMA.tokenAllowedClockSkewSeconds.default, 0);
  assert.equal(SCHEMA.openIDRoleClaim.default, 'sub');
  assert.equal(SCHEMA.openIDRequireIssuersUseHttps.default, true);
  assert.equal(SCHEMA.openIDAcceptedTimeLeewaySeconds.default, 0);
  assert.equal((SCHEMA.tokenSecretKey as { sensitive?: boolean }).sensitive, true);
  assert.equal(tokenValidationConfigured({}), false);
  assert.equal(tokenValidationConfigured({ tokenPublicKey: 'x' }), true);
});

test('config: nothing configured, audience settings half set, bad keys: ConfigError naming the key', () => {
  configError(() => validator({}), 'token authentication needs tokenSecretKey, tokenPublicKey or openIDAllowedTokenIssuers');
  configError(
    () => validator({ tokenSecretKey: dataUrl(secret32), tokenAudienceClaim: 'aud' }),
    "invalid configuration: tokenAudienceClaim is 'aud' but tokenAudience (the audience that stands for this gateway) is not set",
  );
  configError(
    () => validator({ tokenSecretKey: dataUrl(secret32), tokenAudience: 'kop' }),
    'invalid configuration: tokenAudience is set but tokenAudienceClaim is not: Pulsar would not check the audience at all; set tokenAudienceClaim=aud (or the claim your tokens carry it in)',
  );
  configError(
    () => validator({ tokenSecretKey: dataUrl(randomBytes(31)) }),
    'invalid configuration: tokenSecretKey: the secret key is 248 bits, not secure enough for any JWT HMAC-SHA algorithm (at least 256 bits, 32 bytes, are needed)',
  );
  const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' });
  configError(
    () => validator({ tokenPublicKey: tempFile(weak) }),
    'invalid configuration: tokenPublicKey: the RSA key is 1024 bits, not secure enough for RS*/PS* algorithms (at least 2048 bits are needed)',
  );
  configError(
    () => validator({ tokenPublicKey: tempFile(ecPubDer) }),
    'invalid configuration: tokenPublicKey: the key is an EC key but tokenPublicAlg is RS256, an RSA algorithm: set tokenPublicAlg=ES256',
  );
  configError(
    () => validator({ tokenPublicKey: tempFile(rsaPubDer), tokenPublicAlg: 'ES256' }),
    'invalid configuration: tokenPublicKey: the key is an RSA key but tokenPublicAlg is ES256, an EC algorithm: set tokenPublicAlg=RS256 (or another RSA algorithm)',
  );
  configError(() => validator({ tokenPublicKey: tempFile('not a key') }), /^invalid configuration: tokenPublicKey: failed to decode the public key/);
  const missing = join(dir, 'no-such.key');
  configError(() => validator({ tokenPublicKey: `file://${missing}` }), `invalid configuration: tokenPublicKey: key file ${missing} doesn't exist`);
  // a secret value is never repeated in a message
  const secretish = 'my secret value!';
  configError(
    () => validator({ tokenSecretKey: secretish }),
    "invalid configuration: tokenSecretKey: key file doesn't exist (and the value is not a data: or file: URL, nor base64)",
  );
  configError(() => validator({ tokenSecretKey: 'data:;base64,@@@' }), 'invalid configuration: tokenSecretKey: data: URL has ;base64 but its data is not valid standard base64');
});

test('config: both keys set: the secret key wins, with a warning (as Pulsar)', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32), tokenPublicKey: tempFile(rsaPubDer) });
  assert.deepEqual(v.warnings, ['tokenSecretKey and tokenPublicKey are both set: tokenPublicKey is ignored (as Pulsar does)']);
  assert.equal(v.description, 'tokenSecretKey (an HMAC secret key of 32 bytes; accepts HS256)');
  assert.equal((await v.validate(await sign({ sub: 'a' }, secret32, 'HS256'))).role, 'a');
});

// ---------------------------------------------------------------- key value forms (AuthTokenUtils.readKeyFromUrl)

test('key forms: data:;base64, data:, file:///, file:, plain path, raw base64 all read the same bytes', async () => {
  const token = await sign({ sub: 'alice' }, secret32, 'HS256');
  const raw = tempFile(secret32);
  const forms = [dataUrl(secret32), `file://${raw}`, pathToFileURL(raw).href, `file:${raw}`, raw, Buffer.from(secret32).toString('base64')];
  for (const form of forms) {
    const v = validator({ tokenSecretKey: form });
    assert.equal((await v.validate(token)).role, 'alice', form.startsWith('data') ? 'data:' : form);
  }
  // a data: URL without ;base64 is the text itself; a data: media type is ignored
  const text = 'a text secret that is long enough!!';
  const textToken = await sign({ sub: 'bob' }, Buffer.from(text), 'HS256');
  assert.equal((await validator({ tokenSecretKey: `data:,${encodeURIComponent(text)}` }).validate(textToken)).role, 'bob');
  assert.equal((await validator({ tokenSecretKey: `data:application/octet-stream;base64,${Buffer.from(text).toString('base64')}` }).validate(textToken)).role, 'bob');
  // file contents are taken as they are: a base64 text file is a key made of that text (as in Pulsar)
  const b64File = tempFile(Buffer.from(secret32).toString('base64'));
  await rejects(validator({ tokenSecretKey: b64File }), token, 'bad signature: the token was not signed with the key of tokenSecretKey');
  const asText = await sign({ sub: 'carol' }, Buffer.from(Buffer.from(secret32).toString('base64')), 'HS256');
  assert.equal((await validator({ tokenSecretKey: b64File }).validate(asText)).role, 'carol');
  // public keys: DER or PEM, in any of the forms
  const rsaToken = await sign({ sub: 'dave' }, rsa.privateKey, 'RS256');
  for (const form of [tempFile(rsaPubDer), `file://${tempFile(rsaPubPem)}`, dataUrl(rsaPubDer), Buffer.from(rsaPubDer).toString('base64')]) {
    assert.equal((await validator({ tokenPublicKey: form }).validate(rsaToken)).role, 'dave');
  }
  assert.deepEqual(readKeyFromUrl('data:,abc%20def', { what: 'x', secret: false }), Buffer.from('abc def'));
  assert.throws(() => readKeyFromUrl('data:nocomma', { what: 'x', secret: false }), /x: malformed data: URL \(expected data:\[<mediatype>\]\[;base64\],<data>\)/);
  assert.throws(() => readKeyFromUrl('abc-_def', { what: 'x', secret: false }), /x: not a data: or file: URL, not an existing file, and not valid standard base64 \(file "abc-_def" doesn't exist\)/);
});

// ---------------------------------------------------------------- HMAC

test('HS256: a good token gives the role and its expiry', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32) });
  const token = await sign({ sub: 'alice', exp: NOW_S + 3600 }, secret32, 'HS256');
  assert.deepEqual(await v.validate(token), { role: 'alice', expiresAt: (NOW_S + 3600) * 1000 });
  assert.deepEqual(await v.validate(await sign({ sub: 'alice' }, secret32, 'HS256')), { role: 'alice', expiresAt: null });
});

test('HS384/HS512: need a key of 48/64 bytes (jjwt), accepted with one', async () => {
  const v64 = validator({ tokenSecretKey: dataUrl(secret64) });
  for (const alg of ['HS256', 'HS384', 'HS512']) assert.equal((await v64.validate(await sign({ sub: alg }, secret64, alg))).role, alg);
  const v32 = validator({ tokenSecretKey: dataUrl(secret32) });
  await rejects(v32, await sign({ sub: 'x' }, secret32, 'HS512'), 'token alg HS512 needs a secret key of at least 64 bytes; tokenSecretKey has 32');
  await rejects(v32, await sign({ sub: 'x' }, secret32, 'HS384'), 'token alg HS384 needs a secret key of at least 48 bytes; tokenSecretKey has 32');
});

test('wrong signature: another key, a changed payload, a changed signature', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32) });
  const reason = 'bad signature: the token was not signed with the key of tokenSecretKey';
  await rejects(v, await sign({ sub: 'alice' }, randomBytes(32), 'HS256'), reason);
  const good = await sign({ sub: 'alice' }, secret32, 'HS256');
  const [h, , s] = good.split('.');
  await rejects(v, `${h}.${b64url({ sub: 'admin' })}.${s}`, reason);
  const sig = Buffer.from(s!, 'base64url');
  sig[0]! ^= 1;
  await rejects(v, `${h}.${good.split('.')[1]}.${sig.toString('base64url')}`, reason);
});

test('exp: expired tokens fail with when; exp is exact to the millisecond (jjwt)', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32) });
  const token = await sign({ sub: 'alice', exp: NOW_S - 10 }, secret32, 'HS256');
  await rejects(v, token, `token expired at ${iso(NOW_S - 10)} (now ${iso(NOW_S)}, allowed clock skew 0 s)`);
  const atNow = await sign({ sub: 'alice', exp: NOW_S }, secret32, 'HS256');
  assert.equal((await v.validate(atNow)).role, 'alice');
  const oneMsLater = createTokenValidator({ tokenSecretKey: dataUrl(secret32) }, { now: () => NOW + 1 });
  await rejects(oneMsLater, atNow, `token expired at ${iso(NOW_S)} (now 2030-01-15T12:00:00.001Z, allowed clock skew 0 s)`);
  // jjwt also reads exp given as a string of seconds or an ISO-8601 date
  await rejects(v, await sign({ sub: 'a', exp: String(NOW_S - 5) }, secret32, 'HS256'), `token expired at ${iso(NOW_S - 5)} (now ${iso(NOW_S)}, allowed clock skew 0 s)`);
  await rejects(v, await sign({ sub: 'a', exp: '2030-01-15T11:00:00Z' }, secret32, 'HS256'), `token expired at 2030-01-15T11:00:00.000Z (now ${iso(NOW_S)}, allowed clock skew 0 s)`);
  await rejects(v, await sign({ sub: 'a', exp: true }, secret32, 'HS256'), "malformed token: claim 'exp' is not a date (true)");
});

test('nbf: a token not yet valid fails with when', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32) });
  await rejects(v, await sign({ sub: 'alice', nbf: NOW_S + 30 }, secret32, 'HS256'), `token not valid before ${iso(NOW_S + 30)} (now ${iso(NOW_S)}, allowed clock skew 0 s)`);
  assert.equal((await v.validate(await sign({ sub: 'alice', nbf: NOW_S }, secret32, 'HS256'))).role, 'alice');
});

test('tokenAllowedClockSkewSeconds: exp and nbf within the skew pass, beyond it fail', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32), tokenAllowedClockSkewSeconds: 60 });
  assert.equal((await v.validate(await sign({ sub: 'a', exp: NOW_S - 60 }, secret32, 'HS256'))).role, 'a');
  assert.equal((await v.validate(await sign({ sub: 'a', nbf: NOW_S + 60 }, secret32, 'HS256'))).role, 'a');
  await rejects(v, await sign({ sub: 'a', exp: NOW_S - 61 }, secret32, 'HS256'), `token expired at ${iso(NOW_S - 61)} (now ${iso(NOW_S)}, allowed clock skew 60 s)`);
  await rejects(v, await sign({ sub: 'a', nbf: NOW_S + 61 }, secret32, 'HS256'), `token not valid before ${iso(NOW_S + 61)} (now ${iso(NOW_S)}, allowed clock skew 60 s)`);
  // the identity's expiry is the token's exp itself, not exp + skew
  assert.equal((await v.validate(await sign({ sub: 'a', exp: NOW_S - 1 }, secret32, 'HS256'))).expiresAt, (NOW_S - 1) * 1000);
});

test('audience: tokenAudienceClaim must hold tokenAudience (string or array)', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32), tokenAudienceClaim: 'aud', tokenAudience: 'kop' });
  assert.equal((await v.validate(await sign({ sub: 'a', aud: 'kop' }, secret32, 'HS256'))).role, 'a');
  assert.equal((await v.validate(await sign({ sub: 'a', aud: ['x', 'kop'] }, secret32, 'HS256'))).role, 'a');
  await rejects(v, await sign({ sub: 'a', aud: 'other' }, secret32, 'HS256'), `wrong audience: claim 'aud' is "other", expected "kop"`);
  await rejects(v, await sign({ sub: 'a', aud: ['x', 'y'] }, secret32, 'HS256'), `wrong audience: claim 'aud' is ["x","y"], which does not contain "kop"`);
  await rejects(v, await sign({ sub: 'a' }, secret32, 'HS256'), `missing audience claim 'aud' (tokenAudience is "kop")`);
  await rejects(v, await sign({ sub: 'a', aud: 7 }, secret32, 'HS256'), `wrong audience: claim 'aud' is 7, neither a string nor an array`);
  // a custom claim name
  const c = validator({ tokenSecretKey: dataUrl(secret32), tokenAudienceClaim: 'brokers', tokenAudience: 'kop' });
  assert.equal((await c.validate(await sign({ sub: 'a', brokers: ['kop'] }, secret32, 'HS256'))).role, 'a');
  await rejects(c, await sign({ sub: 'a', aud: 'kop' }, secret32, 'HS256'), `missing audience claim 'brokers' (tokenAudience is "kop")`);
});

test('alg none: unsigned tokens are rejected, whatever the case or signature', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32) });
  const claims = b64url({ sub: 'admin' });
  for (const alg of ['none', 'None', 'NONE']) {
    await rejects(v, `${b64url({ alg })}.${claims}.`, 'unsupported alg none: unsigned tokens are rejected');
    await rejects(v, `${b64url({ alg })}.${claims}.c2lnbmF0dXJl`, 'unsupported alg none: unsigned tokens are rejected');
  }
  await rejects(validator({ tokenPublicKey: tempFile(rsaPubDer) }), `${b64url({ alg: 'none' })}.${claims}.`, 'unsupported alg none: unsigned tokens are rejected');
});

test('HS/RS confusion: an HS256 token signed with the RSA public key bytes fails', async () => {
  const v = validator({ tokenPublicKey: tempFile(rsaPubDer) });
  const reason =
    'token alg HS256 does not match the configured key: tokenPublicKey is an RSA public key of 2048 bits (accepts RS256, RS384, RS512, PS256, PS384, PS512)';
  await rejects(v, await sign({ sub: 'admin' }, new Uint8Array(rsaPubDer), 'HS256'), reason);
  await rejects(v, await sign({ sub: 'admin' }, Buffer.from(rsaPubPem), 'HS256'), reason);
  // and the other way round: an RS256 token against an HMAC key
  await rejects(
    validator({ tokenSecretKey: dataUrl(secret32) }),
    await sign({ sub: 'admin' }, rsa.privateKey, 'RS256'),
    'token alg RS256 does not match the configured key: tokenSecretKey is an HMAC secret key of 32 bytes (accepts HS256)',
  );
  await rejects(
    validator({ tokenPublicKey: tempFile(ecPubDer), tokenPublicAlg: 'ES256' }),
    await sign({ sub: 'admin' }, new Uint8Array(ecPubDer), 'HS256'),
    'token alg HS256 does not match the configured key: tokenPublicKey is an EC public key on P-256 (accepts ES256)',
  );
});

test('RS256 (and the other RSA algorithms, as jjwt accepts them for an RSA key)', async () => {
  const v = validator({ tokenPublicKey: tempFile(rsaPubDer) });
  for (const alg of ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512']) {
    assert.deepEqual(await v.validate(await sign({ sub: alg, exp: NOW_S + 60 }, rsa.privateKey, alg)), { role: alg, expiresAt: (NOW_S + 60) * 1000 });
  }
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
  await rejects(v, await sign({ sub: 'a' }, other.privateKey, 'RS256'), 'bad signature: the token was not signed with the key of tokenPublicKey');
  await rejects(v, await sign({ sub: 'a' }, ec.privateKey, 'ES256'), /^token alg ES256 does not match the configured key: tokenPublicKey is an RSA public key of 2048 bits/);
});

test('ES256 with tokenPublicAlg=ES256; ES384 on a P-256 key fails', async () => {
  const v = validator({ tokenPublicKey: tempFile(ecPubDer), tokenPublicAlg: 'ES256' });
  assert.deepEqual(await v.validate(await sign({ sub: 'eve' }, ec.privateKey, 'ES256')), { role: 'eve', expiresAt: null });
  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  await rejects(v, await sign({ sub: 'a' }, p384.privateKey, 'ES384'), 'token alg ES384 does not match the configured key: tokenPublicKey is an EC public key on P-256 (accepts ES256)');
  await rejects(v, await sign({ sub: 'a' }, generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey, 'ES256'), 'bad signature: the token was not signed with the key of tokenPublicKey');
  const v384 = validator({ tokenPublicKey: tempFile(p384.publicKey.export({ format: 'der', type: 'spki' })), tokenPublicAlg: 'ES384' });
  assert.equal((await v384.validate(await sign({ sub: 'f' }, p384.privateKey, 'ES384'))).role, 'f');
});

test('role claim: a string, an array whose first element is used; missing, empty or other types fail', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32) });
  assert.equal((await v.validate(await sign({ sub: ['admin', 'other'] }, secret32, 'HS256'))).role, 'admin');
  await rejects(v, await sign({ name: 'alice' }, secret32, 'HS256'), "missing role claim 'sub' (tokenAuthClaim)");
  await rejects(v, await sign({ sub: [] }, secret32, 'HS256'), "role claim 'sub' is []: neither a string nor an array starting with one");
  await rejects(v, await sign({ sub: [1, 'a'] }, secret32, 'HS256'), `role claim 'sub' is [1,"a"]: neither a string nor an array starting with one`);
  await rejects(v, await sign({ sub: 42 }, secret32, 'HS256'), "role claim 'sub' is 42: neither a string nor an array starting with one");
  await rejects(v, await sign({ sub: '' }, secret32, 'HS256'), "role claim 'sub' is empty");
});

test('tokenAuthClaim: a custom role claim', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32), tokenAuthClaim: 'role' });
  assert.equal((await v.validate(await sign({ sub: 'alice', role: 'writer' }, secret32, 'HS256'))).role, 'writer');
  assert.equal((await v.validate(await sign({ role: ['reader', 'x'] }, secret32, 'HS256'))).role, 'reader');
  await rejects(v, await sign({ sub: 'alice' }, secret32, 'HS256'), "missing role claim 'role' (tokenAuthClaim)");
});

test('malformed tokens: empty, wrong part count, JWE, bad header, non-JSON payload', async () => {
  const v = validator({ tokenSecretKey: dataUrl(secret32) });
  await rejects(v, '', 'empty token');
  await rejects(v, '   ', 'empty token');
  await rejects(v, 'abc.def', 'malformed token: 2 dot-separated parts, a signed JWT has 3');
  await rejects(v, 'a.b.c.d.e', 'malformed token: encrypted tokens (JWE) are not supported, a signed JWT (JWS) is expected');
  await rejects(v, '!!!.abc.def', 'malformed token: the header is not base64url-encoded JSON');
  await rejects(v, `${b64url([1])}.abc.def`, 'malformed token: the header is not a JSON object');
  await rejects(v, `${b64url({ typ: 'JWT' })}.abc.def`, 'malformed token: the header has no alg');
  await rejects(v, `${b64url({ alg: 'HS256' })}.${b64url({ sub: 'a' })}.`, 'malformed token: no signature (alg HS256)');
  const plain = await new CompactSign(new TextEncoder().encode('hello')).setProtectedHeader({ alg: 'HS256' }).sign(secret32);
  await rejects(v, plain, 'malformed token: the payload is not JSON (signed plaintext tokens are not supported)');
  const arr = await new CompactSign(new TextEncoder().encode('[1]')).setProtectedHeader({ alg: 'HS256' }).sign(secret32);
  await rejects(v, arr, 'malformed token: the payload is not a JSON object of claims');
  await rejects(v, `${b64url({ alg: 'HS999' })}.${b64url({ sub: 'a' })}.c2lnbmF0dXJl`, 'token alg HS999 does not match the configured key: tokenSecretKey is an HMAC secret key of 32 bytes (accepts HS256)');
  await rejects(v, `${b64url({ alg: 'x y' })}.${b64url({ sub: 'a' })}.c2lnbmF0dXJl`, 'token alg "x y" does not match the configured key: tokenSecretKey is an HMAC secret key of 32 bytes (accepts HS256)');
});

// ---------------------------------------------------------------- OpenID

interface Issuer {
  url: string;
  server: Server;
  keys: Array<{ kid: string; privateKey: KeyObject; publicKey: KeyObject; alg: string }>;
  /** JWKS served: kids of `keys` */
  served: string[];
  metadataFetches: number;
  jwksFetches: number;
  metadataIssuer?: string;
  close(): Promise<void>;
}

async function startIssuer(): Promise<Issuer> {
  const iss: Issuer = {
    url: '',
    server: undefined as unknown as Server,
    keys: [],
    served: [],
    metadataFetches: 0,
    jwksFetches: 0,
    close: () => new Promise((r) => iss.server.close(() => r())),
  };
  const addKey = (kid: string, type: 'rsa' | 'ec', alg: string) => {
    const pair = type === 'rsa' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
    iss.keys.push({ kid, alg, ...pair });
  };
  addKey('k1', 'rsa', 'RS256');
  addKey('k2', 'rsa', 'RS256');
  addKey('e1', 'ec', 'ES256');
  iss.served = ['k1', 'e1'];
  iss.server = createServer((req, res) => {
    void (async () => {
      if (req.url === '/.well-known/openid-configuration') {
        iss.metadataFetches++;
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ issuer: iss.metadataIssuer ?? iss.url, jwks_uri: `${iss.url}/jwks`, id_token_signing_alg_values_supported: ['RS256'] }));
      } else if (req.url === '/jwks') {
        iss.jwksFetches++;
        const keys = await Promise.all(
          iss.keys.filter((k) => iss.served.includes(k.kid)).map(async (k) => ({ ...(await exportJWK(k.publicKey)), kid: k.kid, alg: k.alg, use: 'sig' })),
        );
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ keys }));
      } else {
        res.statusCode = 404;
        res.end();
      }
    })();
  });
  await new Promise<void>((r) => iss.server.listen(0, '127.0.0.1', () => r()));
  iss.url = `http://127.0.0.1:${(iss.server.address() as AddressInfo).port}`;
  return iss;
}

function oidcConfig(iss: Issuer, extra: Partial<TokenValidatorConfig> = {}): Partial<TokenValidatorConfig> {
  return { openIDAllowedTokenIssuers: iss.url, openIDAllowedAudiences: 'kop-gateway,other', openIDRequireIssuersUseHttps: false, ...extra };
}

/** A token of the issuer, signed with key `kid`, with the OpenID claims (now = real time: jose's cache is on real time). */
async function oidcToken(iss: Issuer, kid: string, claims: Record<string, unknown> = {}, header: Record<string, unknown> = { kid }): Promise<string> {
  const k = iss.keys.find((x) => x.kid === kid)!;
  const now = Math.floor(Date.now() / 1000);
  return sign({ iss: iss.url, sub: 'svc-a', aud: 'kop-gateway', iat: now, nbf: now, exp: now + 600, ...claims }, k.privateKey, k.alg, header);
}

test('OpenID: discovery, JWKS by kid (RS256 and ES256), cached; role and expiry', async () => {
  const iss = await startIssuer();
  try {
    const v = createTokenValidator(oidcConfig(iss));
    assert.match(v.description, /^OpenID issuers http:\/\/127\.0\.0\.1:\d+ \(audiences kop-gateway, other; accepts RS256, RS384, RS512, ES256, ES384, ES512\)$/);
    const t = await oidcToken(iss, 'k1');
    const id = await v.validate(t);
    assert.equal(id.role, 'svc-a');
    assert.ok(id.expiresAt! > Date.now() + 590_000 && id.expiresAt! <= Date.now() + 600_000);
    assert.equal((await v.validate(await oidcToken(iss, 'e1', { sub: 'svc-ec', aud: ['x', 'other'] }))).role, 'svc-ec');
    await v.validate(t);
    assert.equal(iss.metadataFetches, 1);
    assert.equal(iss.jwksFetches, 1);
  } finally {
    await iss.close();
  }
});

test('OpenID: an unknown kid refetches the JWKS, at most once per openIDKeyIdCacheMissRefreshSeconds', async () => {
  const iss = await startIssuer();
  try {
    const v = createTokenValidator(oidcConfig(iss, { openIDKeyIdCacheMissRefreshSeconds: 1 }));
    await v.validate(await oidcToken(iss, 'k1'));
    assert.equal(iss.jwksFetches, 1);
    const rotated = await oidcToken(iss, 'k2');
    const reason = `no key "k2" for alg RS256 in the JWKS of OpenID issuer ${iss.url} (${iss.url}/jwks; refetched on an unknown kid at most every 1 s)`;
    await rejects(v, rotated, reason); // cooling down: no fetch
    assert.equal(iss.jwksFetches, 1);
    iss.served = ['k1', 'k2']; // the issuer rotates its keys
    await rejects(v, rotated, reason); // still cooling down
    assert.equal(iss.jwksFetches, 1);
    await new Promise((r) => setTimeout(r, 1100));
    assert.equal((await v.validate(rotated)).role, 'svc-a'); // refetched
    assert.equal(iss.jwksFetches, 2);
    // a kid the issuer does not have: one refetch after the cooldown, then none
    await new Promise((r) => setTimeout(r, 1100));
    await rejects(v, await oidcToken(iss, 'k2', {}, { kid: 'nope' }), /^no key "nope" for alg RS256 in the JWKS of OpenID issuer/);
    assert.equal(iss.jwksFetches, 3);
    await rejects(v, await oidcToken(iss, 'k2', {}, { kid: 'nope' }), /^no key "nope"/);
    assert.equal(iss.jwksFetches, 3);
  } finally {
    await iss.close();
  }
});

test('OpenID: disallowed or missing issuer, http issuer refused, audiences required', async () => {
  const iss = await startIssuer();
  try {
    const v = createTokenValidator(oidcConfig(iss));
    await rejects(v, await oidcToken(iss, 'k1', { iss: 'https://evil.example' }), 'issuer not allowed: https://evil.example (not one of openIDAllowedTokenIssuers)');
    await rejects(v, await oidcToken(iss, 'k1', { iss: undefined }), 'missing iss claim: tokens must come from one of openIDAllowedTokenIssuers');
    assert.equal(iss.metadataFetches, 0);
    configError(
      () => createTokenValidator({ openIDAllowedTokenIssuers: iss.url, openIDAllowedAudiences: 'a' }),
      `invalid configuration: openIDAllowedTokenIssuers: issuer URL ${iss.url} does not use https, but must (openIDRequireIssuersUseHttps=true)`,
    );
    configError(
      () => createTokenValidator({ openIDAllowedTokenIssuers: 'https://idp.example', openIDAllowedAudiences: ' , ' }),
      'invalid configuration: openIDAllowedAudiences: must be set when openIDAllowedTokenIssuers is (OpenID tokens must carry one of these audiences)',
    );
    configError(() => createTokenValidator({ openIDAllowedTokenIssuers: 'not a url', openIDAllowedAudiences: 'a' }), 'invalid configuration: openIDAllowedTokenIssuers: "not a url" is not a URL');
  } finally {
    await iss.close();
  }
});

test('OpenID: claims checked as Pulsar (iat/exp/nbf/sub required, leeway, audiences, role claim)', async () => {
  const iss = await startIssuer();
  try {
    const v = createTokenValidator(oidcConfig(iss));
    const now = Math.floor(Date.now() / 1000);
    for (const c of ['iat', 'exp', 'nbf', 'sub']) {
      await rejects(v, await oidcToken(iss, 'k1', { [c]: undefined }), `missing required claim '${c}' (OpenID tokens need iat, exp, nbf and sub)`);
    }
    await rejects(v, await oidcToken(iss, 'k1', { aud: 'someone-else' }), `wrong audience: claim 'aud' is "someone-else", none of openIDAllowedAudiences "kop-gateway,other"`);
    await rejects(v, await oidcToken(iss, 'k1', { aud: undefined }), `missing audience claim 'aud' (openIDAllowedAudiences is "kop-gateway,other")`);
    await rejects(v, await oidcToken(iss, 'k1', { exp: now - 5 }), /^token expired at .* \(now .*, leeway 0 s\)$/);
    await rejects(v, await oidcToken(iss, 'k1', { nbf: now + 100 }), /^token not valid before .* \(now .*, leeway 0 s\)$/);
    await rejects(v, await oidcToken(iss, 'k1', { iat: now + 100 }), /^token issued in the future, at .* \(now .*, leeway 0 s\)$/);
    const lenient = createTokenValidator(oidcConfig(iss, { openIDAcceptedTimeLeewaySeconds: 300 }));
    assert.equal((await lenient.validate(await oidcToken(iss, 'k1', { exp: now - 5, nbf: now + 100, iat: now + 100 }))).role, 'svc-a');
    const roles = createTokenValidator(oidcConfig(iss, { openIDRoleClaim: 'groups' }));
    assert.equal((await roles.validate(await oidcToken(iss, 'k1', { groups: ['g1', 'g2'] }))).role, 'g1');
    await rejects(roles, await oidcToken(iss, 'k1'), "missing role claim 'groups' (openIDRoleClaim)");
  } finally {
    await iss.close();
  }
});

test('OpenID: alg, kid and signature rules; metadata issuer must match', async () => {
  const iss = await startIssuer();
  try {
    const v = createTokenValidator(oidcConfig(iss));
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: iss.url, sub: 'x', aud: 'kop-gateway', iat: now, nbf: now, exp: now + 60 };
    await rejects(v, await sign(claims, secret32, 'HS256', { kid: 'k1' }), `unsupported alg HS256 for tokens of OpenID issuer ${iss.url} (accepts RS256, RS384, RS512, ES256, ES384, ES512)`);
    await rejects(v, await sign(claims, iss.keys[0]!.privateKey, 'PS256', { kid: 'k1' }), /^unsupported alg PS256 for tokens of OpenID issuer/);
    await rejects(v, await oidcToken(iss, 'k1', {}, {}), `token of OpenID issuer ${iss.url} has no kid header: the issuer's key is chosen by kid`);
    // signed by another key under kid k1
    await rejects(v, await sign(claims, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, 'RS256', { kid: 'k1' }), `bad signature: the token was not signed with key "k1" of OpenID issuer ${iss.url}`);
    // the JWK says RS256: an RS512 token under that kid finds no key
    await rejects(v, await sign(claims, iss.keys[0]!.privateKey, 'RS512', { kid: 'k1' }), /^no key "k1" for alg RS512 in the JWKS/);
    await rejects(v, `${b64url({ alg: 'none' })}.${b64url(claims)}.`, 'unsupported alg none: unsigned tokens are rejected');

    iss.metadataIssuer = 'https://somewhere.else';
    const w = createTokenValidator(oidcConfig(iss));
    await rejects(w, await oidcToken(iss, 'k1'), `OpenID issuer URL mismatch: [${iss.url}] should match ["https://somewhere.else"] from ${iss.url}/.well-known/openid-configuration`);
  } finally {
    await iss.close();
  }
});

test('OpenID unreachable: the reason names the issuer and URL', async () => {
  const iss = await startIssuer();
  await iss.close();
  const v = createTokenValidator(oidcConfig(iss, { openIDHttpReadTimeoutMillis: 2000 }));
  await rejects(v, await oidcToken(iss, 'k1'), new RegExp(`^cannot read the OpenID metadata of issuer ${iss.url.replace(/\./g, '\\.')} at ${iss.url.replace(/\./g, '\\.')}/\\.well-known/openid-configuration: `));
});

test('static key and OpenID together: routed by iss', async () => {
  const iss = await startIssuer();
  try {
    const v = createTokenValidator(oidcConfig(iss, { tokenSecretKey: dataUrl(secret32) }));
    assert.match(v.description, /^tokenSecretKey \(an HMAC secret key of 32 bytes; accepts HS256\) \+ OpenID issuers /);
    // no iss, or another iss: the static key
    assert.equal((await v.validate(await sign({ sub: 'static' }, secret32, 'HS256'))).role, 'static');
    assert.equal((await v.validate(await sign({ sub: 'static2', iss: 'pulsar' }, secret32, 'HS256'))).role, 'static2');
    // the OpenID issuer: its JWKS
    assert.equal((await v.validate(await oidcToken(iss, 'k1'))).role, 'svc-a');
    // an HMAC token claiming to come from the OpenID issuer is judged by the OpenID rules
    await rejects(v, await sign({ sub: 'admin', iss: iss.url }, secret32, 'HS256'), `unsupported alg HS256 for tokens of OpenID issuer ${iss.url} (accepts RS256, RS384, RS512, ES256, ES384, ES512)`);
    // an RS256 token of another issuer: the static key, which is HMAC
    await rejects(v, await oidcToken(iss, 'k1', { iss: 'https://other.example' }), /^token alg RS256 does not match the configured key: tokenSecretKey/);
  } finally {
    await iss.close();
  }
});
