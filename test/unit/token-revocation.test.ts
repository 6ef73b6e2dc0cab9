/**
 * The token revocation list (src/security/tokens/revocation.ts): the file
 * format (JSON and YAML, plain entries and { id|subject, until }), the errors
 * that name the entry, check() with until-times, the watcher keeping the list
 * in force over a broken edit, and SaslAuthenticator refusing a revoked token
 * at authentication and at re-authentication (with real token validation).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { parseRevocationFile, RevocationFileError, RevocationWatcher } from '../../src/security/tokens/revocation.js';
import { createTokenValidator } from '../../src/security/tokens/index.js';
import { SaslAuthenticator } from '../../src/security/sasl/authenticator.js';
import { tempDir } from '../helpers/temp.js';

test('revocation file: JSON and YAML, plain and timed entries; check() by jti and by subject', () => {
  const now = Date.parse('2026-01-02T00:00:00Z');
  const y = parseRevocationFile('tokens:\n  - a1\n  - { id: a2, until: 2026-01-01T00:00:00Z }\n  - id: a3\n    until: "2026-02-01T00:00:00Z"\n    comment: leaked in ticket 42\nsubjects: [mallory]\n', 'f.yaml');
  assert.match(y.check({ role: 'x', tokenId: 'a1' }, now)!, /^token revoked: jti "a1" is on the revocation list$/);
  assert.equal(y.check({ role: 'x', tokenId: 'a2' }, now), null, 'until passed');
  assert.match(y.check({ role: 'x', tokenId: 'a3' }, now)!, /until 2026-02-01T00:00:00\.000Z$/);
  assert.match(y.check({ role: 'mallory', tokenId: null }, now)!, /^token revoked: subject "mallory"/);
  assert.equal(y.check({ role: 'mallory ', tokenId: null }, now), null, 'exact subjects');
  assert.equal(y.check({ role: null }, now), null);
  const j = parseRevocationFile(JSON.stringify({ subjects: [{ subject: 'bob', until: '2026-03-01T00:00:00Z' }] }), 'f.json');
  assert.ok(j.check({ role: 'bob' }, now));
  assert.equal(parseRevocationFile('', 'empty').size, 0);
  assert.equal(parseRevocationFile('# nothing\n', 'comment').size, 0);
  const bad: Array<[string, RegExp]> = [
    ['tokens: a1', /f: tokens: expected a list/],
    ['token: [a1]', /unknown key "token"/],
    ['tokens: [{ jti: a1 }]', /tokens\[0\]: unknown key "jti" \(expected id, until, comment\)/],
    ['tokens: [{ id: a1, until: tomorrow }]', /tokens\[0\]: until: expected an ISO-8601 time/],
    ['subjects: [""]', /subjects\[0\]: subject: expected a non-empty string/],
    ['subjects: [[x]]', /subjects\[0\]: expected a string or \{ subject, until \}/],
    ['tokens: [a1', /^f: /],
    ['[a1]', /expected an object/],
  ];
  for (const [text, re] of bad) assert.throws(() => parseRevocationFile(text, 'f'), (e: Error) => e instanceof RevocationFileError && re.test(e.message), text);
});

test('watcher: a missing file fails the open; a change applies; a broken edit keeps the list in force', async () => {
  const dir = tempDir('kop-revoke-');
  const file = join(dir, 'revoked.json');
  await assert.rejects(RevocationWatcher.open(file), /tokenRevocationFile '.*' cannot be read/);
  writeFileSync(file, '{"tokens":["t1"]}');
  const w = await RevocationWatcher.open(file, { refreshIntervalMs: 60_000 });
  const seen: number[] = [];
  w.onChange((l) => seen.push(l.size));
  assert.ok(w.list.check({ role: 'a', tokenId: 't1' }));
  writeFileSync(file, '{"tokens":["t1","t2"]}');
  await w.reload();
  assert.ok(w.list.check({ role: 'a', tokenId: 't2' }));
  writeFileSync(file, '{"tokens":["t1"');
  await w.reload();
  assert.ok(w.list.check({ role: 'a', tokenId: 't2' }), 'kept');
  writeFileSync(file, '{}');
  await w.reload();
  assert.equal(w.list.size, 0);
  assert.deepEqual(seen, [2, 0]);
  await w.close();
});

test('SaslAuthenticator: a revoked token is refused at authentication and at re-authentication; the jti reaches the session', async () => {
  const secret = randomBytes(32);
  const validator = createTokenValidator({ tokenSecretKey: `data:;base64,${secret.toString('base64')}` });
  const list = { current: parseRevocationFile('', 'f') };
  const revocation = {
    get list() {
      return list.current;
    },
  };
  const jwt = await new SignJWT({ sub: 'alice', jti: 'j-1' }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  const plain = Buffer.from(`\u0000public/default\u0000token:${jwt}`);
  const a = new SaslAuthenticator({ validator, mechanisms: ['PLAIN'], defaults: { tenant: 'public', namespace: 'default' }, maxReauthMs: 0, revocation });
  assert.ok(a.selectMechanism('PLAIN'));
  const ok = await a.step(plain);
  assert.equal(ok.kind, 'success');
  assert.equal(ok.kind === 'success' && ok.tokenId, 'j-1');
  list.current = parseRevocationFile('tokens: [j-1]', 'f');
  assert.ok(a.selectMechanism('PLAIN'));
  const reauth = await a.step(plain);
  assert.deepEqual(reauth, { kind: 'failure', reason: 'token revoked: jti "j-1" is on the revocation list' });
  const b = new SaslAuthenticator({ validator, mechanisms: ['PLAIN'], defaults: { tenant: 'public', namespace: 'default' }, maxReauthMs: 0, revocation });
  b.selectMechanism('PLAIN');
  assert.equal((await b.step(plain)).kind, 'failure');
});

test('config check: a tokenRevocationFile that cannot be used and a public auditLogSigningKeyFile are errors', async () => {
  const { checkConfiguration } = await import('../../src/config/check.js');
  const { loadConfig } = await import('../../src/config/load.js');
  const { generateKeyPairSync } = await import('node:crypto');
  const dir = tempDir('kop-revoke-check-');
  writeFileSync(join(dir, 'bad.yaml'), 'tokens: a1\n');
  writeFileSync(join(dir, 'pub.pem'), generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }));
  const config = loadConfig({
    env: {},
    overrides: {
      authenticationEnabled: true,
      tokenSecretKey: `data:;base64,${randomBytes(32).toString('base64')}`,
      tokenRevocationFile: join(dir, 'bad.yaml'),
      auditLogSigningKeyFile: join(dir, 'pub.pem'),
      auditLogFile: join(dir, 'audit.log'),
      dataDirectory: dir,
    },
  });
  const { errors } = await checkConfiguration(config);
  assert.ok(errors.some((e) => /^tokenRevocationFile: .*bad\.yaml: tokens: expected a list/.test(e)), errors.join('\n'));
  assert.ok(errors.some((e) => /^auditLogSigningKeyFile holds a public key/.test(e)), errors.join('\n'));
});
