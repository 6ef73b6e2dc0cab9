import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parsePlain } from '../../src/security/sasl/plain.js';
import { parseOAuthBearer, oauthBearerErrorChallenge } from '../../src/security/sasl/oauthbearer.js';
import { SaslAuthenticator } from '../../src/security/sasl/authenticator.js';
import { AuthenticationError, type TokenValidator } from '../../src/security/types.js';

const plain = (authzid: string, user: string, pass: string) => Buffer.from(`${authzid}\u0000${user}\u0000${pass}`);

test('PLAIN: tenant/namespace username, token: prefix or a bare token, SASLprep', () => {
  assert.deepEqual(parsePlain(plain('', 'acme/orders', 'token:abc.def.ghi')), { authzid: '', username: 'acme/orders', token: 'abc.def.ghi' });
  assert.equal(parsePlain(plain('', 'acme', 'abc.def.ghi')).token, 'abc.def.ghi');
  // SASLprep maps the soft hyphen to nothing (RFC 4013 B.1)
  assert.equal(parsePlain(plain('', 'ac\u00ADme', 'token:x')).username, 'acme');
});

test('PLAIN: malformed or empty credentials fail with a reason', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [Buffer.from('no-separators'), /expected authzid NUL username NUL password/],
    [Buffer.from('a\u0000b\u0000c\u0000d'), /expected authzid NUL username NUL password/],
    [plain('', '', 'token:x'), /username is empty/],
    [plain('', 'acme', ''), /password is empty/],
    [plain('', 'acme', 'token:'), /empty token/],
    [plain('', 'acme', 'token:\u0007'), /invalid SASL\/PLAIN credentials/],
  ];
  for (const [msg, re] of cases) assert.throws(() => parsePlain(msg), (e: Error) => e instanceof AuthenticationError && re.test(e.message));
});

test('OAUTHBEARER: RFC 7628 initial response with extensions; malformed ones fail', () => {
  const ok = parseOAuthBearer(Buffer.from('n,,\u0001auth=Bearer eyJ.x.y\u0001namespace=acme/orders\u0001\u0001'));
  assert.deepEqual(ok, { authzid: null, token: 'eyJ.x.y', extensions: { namespace: 'acme/orders' } });
  assert.equal(parseOAuthBearer(Buffer.from('n,a=someone,\u0001auth=Bearer t\u0001\u0001')).authzid, 'someone');
  for (const bad of ['y,,\u0001auth=Bearer t\u0001\u0001', 'n,,auth=Bearer t', 'n,,\u0001auth=Basic t\u0001\u0001', 'n,,\u0001foo=bar\u0001\u0001', 'n,,\u0001=x\u0001\u0001']) {
    assert.throws(() => parseOAuthBearer(Buffer.from(bad)), AuthenticationError, JSON.stringify(bad));
  }
  assert.deepEqual(JSON.parse(oauthBearerErrorChallenge().toString()), { status: 'invalid_token' });
});

/** Tokens of the form "role:expiresAtMs" - enough to drive the state machine; real JWTs are tested end to end. */
const fakeValidator: TokenValidator = {
  async validate(token: string) {
    const [role, exp] = token.split(':');
    if (!role || role === 'bad') throw new AuthenticationError('bad signature');
    return { role, expiresAt: exp ? Number(exp) : null };
  },
};

const settings = { validator: fakeValidator, mechanisms: ['PLAIN', 'OAUTHBEARER'] as const, defaults: { tenant: 'public', namespace: 'default' }, maxReauthMs: 0 };

test('authenticator: PLAIN success sets principal, namespace and expiry; unknown mechanisms are refused', async () => {
  const a = new SaslAuthenticator(settings);
  assert.equal(a.selectMechanism('SCRAM-SHA-256'), false);
  assert.equal(a.selectMechanism('PLAIN'), true);
  const exp = Date.now() + 60_000;
  const step = await a.step(plain('', 'acme', `token:alice:${exp}`));
  assert.deepEqual(step, { kind: 'success', principal: 'alice', namespace: { tenant: 'acme', namespace: 'default' }, expiresAt: exp });
});

test('authenticator: maxReauthMs bounds the session below the token expiry; expired tokens fail', async () => {
  const a = new SaslAuthenticator({ ...settings, maxReauthMs: 1000 });
  a.selectMechanism('PLAIN');
  const now = 1_000_000;
  const step = await a.step(plain('', 'acme/x', 'token:alice'), now);
  assert.equal(step.kind === 'success' && step.expiresAt, now + 1000);
  const b = new SaslAuthenticator(settings);
  b.selectMechanism('PLAIN');
  assert.deepEqual(await b.step(plain('', 'acme/x', `token:alice:${now - 1}`), now), { kind: 'failure', reason: 'token expired' });
});

test('authenticator: OAUTHBEARER failure goes through the RFC 7628 error challenge, then fails', async () => {
  const a = new SaslAuthenticator(settings);
  a.selectMechanism('OAUTHBEARER');
  const first = await a.step(Buffer.from('n,,\u0001auth=Bearer bad\u0001\u0001'));
  assert.equal(first.kind, 'challenge');
  const second = await a.step(Buffer.from([1]));
  assert.deepEqual(second, { kind: 'failure', reason: 'bad signature' });
});

test('authenticator: re-authentication keeps the principal; a different one fails', async () => {
  const a = new SaslAuthenticator(settings);
  a.selectMechanism('PLAIN');
  assert.equal((await a.step(plain('', 'acme', 'token:alice'))).kind, 'success');
  a.selectMechanism('OAUTHBEARER');
  assert.equal((await a.step(Buffer.from('n,,\u0001auth=Bearer alice\u0001\u0001'))).kind, 'success');
  a.selectMechanism('PLAIN');
  const changed = await a.step(plain('', 'acme', 'token:mallory'));
  assert.equal(changed.kind, 'failure');
  assert.match((changed as { reason: string }).reason, /may not change the principal/);
});

test('authenticator: SaslAuthenticate without a handshake, and bad namespaces, fail', async () => {
  const a = new SaslAuthenticator(settings);
  assert.deepEqual(await a.step(plain('', 'acme', 'token:alice')), { kind: 'failure', reason: 'SaslAuthenticate before SaslHandshake' });
  a.selectMechanism('PLAIN');
  const bad = await a.step(plain('', 'acme/a/b', 'token:alice'));
  assert.match((bad as { reason: string }).reason, /invalid username "acme\/a\/b": expected tenant\/namespace/);
});
