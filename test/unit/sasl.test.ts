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
  assert.deepEqual(step, { kind: 'success', principal: 'alice', namespace: { tenant: 'acme', namespace: 'default' }, expiresAt: exp, tokenId: null });
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

test('PLAIN: credentials above their bounds fail cleanly at any size, before SASLprep (no stack overflow)', async () => {
  const { CredentialTooLargeError, MAX_NAME_BYTES } = await import('../../src/security/sasl/plain.js');
  const sizes = [16 * 1024 + 7, 100_000, 200_000, 300_000, 512 * 1024, 2 * 1024 * 1024];
  for (const n of sizes) {
    for (const fill of ['A', '\u00e9', '\u00ad']) {
      const msg = plain('', 'acme/orders', `token:${fill.repeat(n)}`);
      assert.throws(
        () => parsePlain(msg, 16 * 1024),
        (e: Error) => e instanceof CredentialTooLargeError && /password of \d+ bytes is longer than a token may be \(saslMaxTokenBytes 16384/.test(e.message),
        `${n} x ${JSON.stringify(fill)}`,
      );
    }
  }
  assert.throws(() => parsePlain(plain('', 'a'.repeat(MAX_NAME_BYTES + 1), 'token:x')), (e: Error) => e instanceof CredentialTooLargeError && /username of 1025 bytes/.test(e.message));
  assert.throws(() => parsePlain(plain('z'.repeat(MAX_NAME_BYTES + 1), 'acme', 'token:x')), (e: Error) => e instanceof CredentialTooLargeError && /authzid/.test(e.message));
  // a configured bound of 1 MiB: a long non-ASCII password is refused before SASLprep, an ASCII one skips it
  assert.throws(() => parsePlain(plain('', 'acme', `token:${'\u00e9'.repeat(300_000)}`), 1024 * 1024), (e: Error) => e instanceof CredentialTooLargeError && /non-ASCII/.test(e.message));
  assert.equal(parsePlain(plain('', 'acme', `token:${'A'.repeat(300_000)}`), 1024 * 1024).token.length, 300_000);
  // just inside the bounds, non-ASCII text still goes through SASLprep
  assert.equal(parsePlain(plain('', 'acme', `token:${'a\u00ad'.repeat(4000)}`), 16 * 1024).token, 'a'.repeat(4000));
});

test('authenticator: tokens above saslMaxTokenBytes fail with a clean reason on PLAIN and OAUTHBEARER (the OAUTHBEARER one through the error challenge)', async () => {
  const { boundCounters } = await import('../../src/network/counters.js');
  const before = boundCounters.closed.saslCredentialTooLarge;
  const a = new SaslAuthenticator({ ...settings, maxTokenBytes: 1000 });
  a.selectMechanism('PLAIN');
  const p = await a.step(plain('', 'acme', `token:${'x'.repeat(300_000)}`));
  assert.equal(p.kind, 'failure');
  assert.match((p as { reason: string }).reason, /longer than a token may be \(saslMaxTokenBytes 1000/);
  a.selectMechanism('OAUTHBEARER');
  const o = await a.step(Buffer.from(`n,,\u0001auth=Bearer ${'y'.repeat(300_000)}\u0001\u0001`));
  assert.equal(o.kind, 'challenge');
  assert.match((o as { failure: string }).failure, /OAUTHBEARER token of 300000 bytes is longer than saslMaxTokenBytes \(1000\)/);
  assert.equal(a.awaitingErrorAcknowledgement, true);
  const last = await a.step(Buffer.from([1]));
  assert.equal(last.kind, 'failure');
  assert.equal(a.awaitingErrorAcknowledgement, false);
  assert.equal(boundCounters.closed.saslCredentialTooLarge, before + 2);
});

test('PLAIN username rule: a bare username is a tenant (KoP); when it is the token role itself, the success carries a loud notice; tenant/namespace never does', async () => {
  const login = async (user: string, role: string) => {
    const a = new SaslAuthenticator(settings);
    a.selectMechanism('PLAIN');
    const step = await a.step(plain('', user, `token:${role}`));
    assert.equal(step.kind, 'success');
    return step as Extract<typeof step, { kind: 'success' }>;
  };
  const mistaken = await login('admin', 'admin');
  assert.deepEqual(mistaken.namespace, { tenant: 'admin', namespace: 'default' }, 'still read as the tenant (KoP convention)');
  assert.match(mistaken.notice ?? '', /username 'admin' is the token's role, and is read as TENANT 'admin'.*persistent:\/\/admin\/default\/.*username=<tenant>\/<namespace>/);
  assert.equal((await login('acme', 'alice')).notice, undefined, 'a bare tenant that is not the role');
  assert.equal((await login('admin/default', 'admin')).notice, undefined, 'tenant/namespace given');
  // OAUTHBEARER names its namespace in an extension: no username, no notice
  const o = new SaslAuthenticator(settings);
  o.selectMechanism('OAUTHBEARER');
  const step = await o.step(Buffer.from('n,,\u0001auth=Bearer admin\u0001\u0001'));
  assert.equal(step.kind, 'success');
  assert.equal((step as { notice?: string }).notice, undefined);
});
