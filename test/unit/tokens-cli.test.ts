/**
 * `kop-gateway tokens ...` (src/cli/tokens.ts), in process with captured output, and once
 * through the real command line.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { javaString, parseRelativeTimeSeconds, runTokensCli } from '../../src/cli/tokens.js';
import { createTokenValidator } from '../../src/security/tokens/index.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('kop-tokens-cli-');
const NOW = Date.UTC(2030, 5, 1, 0, 0, 0);

interface Run {
  code: number;
  stdout: string;
  stdoutBytes: Buffer;
  stderr: string;
}

async function cli(args: string[], opts: { stdin?: string; env?: NodeJS.ProcessEnv; now?: number } = {}): Promise<Run> {
  const out: Buffer[] = [];
  let err = '';
  const code = await runTokensCli(args, {
    stdout: { write: (d: string | Uint8Array) => out.push(Buffer.from(d)) },
    stderr: { write: (d: string) => (err += d) },
    readStdin: () => opts.stdin ?? '',
    env: opts.env ?? {},
    now: () => opts.now ?? NOW,
  });
  const bytes = Buffer.concat(out);
  return { code, stdout: bytes.toString('utf8'), stdoutBytes: bytes, stderr: err };
}

function decode(token: string): { header: unknown; claims: unknown } {
  const [h, p] = token.split('.');
  return { header: JSON.parse(Buffer.from(h!, 'base64url').toString()), claims: JSON.parse(Buffer.from(p!, 'base64url').toString()) };
}

test('relative expiry times as Pulsar parses them', () => {
  const cases: Array<[string, number]> = [['30', 30], ['30s', 30], ['5m', 300], ['5M', 300], ['2h', 7200], ['30d', 2_592_000], ['1w', 604_800], ['1y', 31_536_000], ['-1h', -3600]];
  for (const [v, s] of cases) assert.equal(parseRelativeTimeSeconds(v), s, v);
  assert.throws(() => parseRelativeTimeSeconds('3x'), /invalid time unit 'x' in "3x" \(s, m, h, d, w, y\)/);
  assert.throws(() => parseRelativeTimeSeconds('abc'), /invalid expiry time "abc"/);
});

test('create-secret-key: raw 32/48/64 bytes to a file (mode 600) or stdout; --base64', async () => {
  const f = join(dir, 'secret.key');
  assert.equal((await cli(['create-secret-key', '--output', f])).code, 0);
  assert.equal(readFileSync(f).length, 32);
  assert.equal(statSync(f).mode & 0o777, 0o600);
  const raw = await cli(['create-secret-key']);
  assert.equal(raw.stdoutBytes.length, 32);
  const b64 = await cli(['create-secret-key', '-b', '-a', 'HS512']);
  assert.match(b64.stdout, /^[A-Za-z0-9+/]{86}==$/);
  assert.equal(Buffer.from(b64.stdout, 'base64').length, 64);
  assert.equal((await cli(['create-secret-key', '-a', 'HS384'])).stdoutBytes.length, 48);
  const bad = await cli(['create-secret-key', '-a', 'RS256']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--signature-algorithm RS256: create-secret-key takes HS256, HS384, HS512/);
});

test('create-key-pair: PKCS#8 DER private key, X.509 DER public key; RSA sizes and EC curves', async () => {
  for (const [alg, check] of [
    ['RS256', (k: ReturnType<typeof createPublicKey>) => k.asymmetricKeyDetails?.modulusLength === 2048],
    ['ES256', (k: ReturnType<typeof createPublicKey>) => k.asymmetricKeyDetails?.namedCurve === 'prime256v1'],
    ['ES384', (k: ReturnType<typeof createPublicKey>) => k.asymmetricKeyDetails?.namedCurve === 'secp384r1'],
  ] as const) {
    const priv = join(dir, `${alg}.priv`);
    const pub = join(dir, `${alg}.pub`);
    assert.equal((await cli(['create-key-pair', '-a', alg, '--output-private-key', priv, '--output-public-key', pub])).code, 0);
    const pk = createPublicKey({ key: readFileSync(pub), format: 'der', type: 'spki' });
    assert.ok(check(pk), alg);
    createPrivateKey({ key: readFileSync(priv), format: 'der', type: 'pkcs8' });
    assert.equal(statSync(priv).mode & 0o777, 0o600);
  }
  const missing = await cli(['create-key-pair', '--output-public-key', join(dir, 'x')]);
  assert.equal(missing.code, 2);
  assert.match(missing.stderr, /create-key-pair needs --output-private-key FILE and --output-public-key FILE/);
});

test('create: Pulsar token layout ({"alg"} header, {"sub","exp"} claims), alg from the key, validated by the gateway', async () => {
  const f = join(dir, 'c.key');
  await cli(['create-secret-key', '-o', f]);
  const r = await cli(['create', '-sk', `file://${f}`, '-s', 'alice', '-e', '1h']);
  assert.equal(r.code, 0, r.stderr);
  const token = r.stdout.trim();
  assert.ok(r.stdout.endsWith('\n'));
  assert.deepEqual(decode(token), { header: { alg: 'HS256' }, claims: { sub: 'alice', exp: NOW / 1000 + 3600 } });
  const v = createTokenValidator({ tokenSecretKey: f }, { now: () => NOW });
  assert.deepEqual(await v.validate(token), { role: 'alice', expiresAt: NOW + 3_600_000 });
  // a negative expiry (Pulsar's `-e -1h`): an already expired token
  assert.deepEqual(decode((await cli(['create', '-sk', f, '-s', 'old', '-e', '-1h'])).stdout.trim()).claims, { sub: 'old', exp: NOW / 1000 - 3600 });
  // no expiry by default; --headers
  const h = await cli(['create', '--secret-key', f, '--subject', 'bob', '-hs', 'kid=key-1', '--headers', 'x=y']);
  assert.deepEqual(decode(h.stdout.trim()), { header: { kid: 'key-1', x: 'y', alg: 'HS256' }, claims: { sub: 'bob' } });
  // a 64-byte secret signs HS512 (jjwt picks the strongest)
  const f64 = join(dir, 'c64.key');
  await cli(['create-secret-key', '-a', 'HS512', '-o', f64]);
  assert.deepEqual(decode((await cli(['create', '-sk', f64, '-s', 'x'])).stdout.trim()).header, { alg: 'HS512' });
  // private keys: RSA -> RS256, EC P-256 -> ES256 (no -a needed; -a of the wrong family refused)
  for (const alg of ['RS256', 'ES256']) {
    const priv = join(dir, `c-${alg}.priv`);
    const pub = join(dir, `c-${alg}.pub`);
    await cli(['create-key-pair', '-a', alg, '--output-private-key', priv, '--output-public-key', pub]);
    const t = (await cli(['create', '-pk', priv, '-s', `svc-${alg}`])).stdout.trim();
    assert.deepEqual(decode(t).header, { alg });
    const pv = createTokenValidator({ tokenPublicKey: pub, tokenPublicAlg: alg as 'RS256' | 'ES256' });
    assert.equal((await pv.validate(t)).role, `svc-${alg}`);
  }
  const wrong = await cli(['create', '-pk', join(dir, 'c-ES256.priv'), '-a', 'RS256', '-s', 'x']);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /--private-key: the key is an EC key but --signature-algorithm is RS256, an RSA algorithm: set --signature-algorithm=ES256/);
});

test('create: usage errors (no key, both keys, bad header, bad expiry) and key errors', async () => {
  const f = join(dir, 'u.key');
  await cli(['create-secret-key', '-o', f]);
  const cases: Array<[string[], number, RegExp]> = [
    [['create', '-s', 'a'], 2, /Either --secret-key or --private-key needs to be passed for signing a token/],
    [['create', '-s', 'a', '-sk', f, '-pk', f], 2, /Only one of --secret-key and --private-key needs to be passed/],
    [['create', '-sk', f], 2, /create needs --subject ROLE/],
    [['create', '-s', 'a', '-sk', f, '-hs', 'novalue'], 2, /--headers "novalue": expected name=value/],
    [['create', '-s', 'a', '-sk', f, '-hs', 'alg=none'], 2, /--headers: alg is chosen from the key/],
    [['create', '-s', 'a', '-sk', f, '-e', '1q'], 2, /invalid time unit 'q'/],
    [['create', '-s', 'a', '-sk', 'data:;base64,AAAA'], 1, /--secret-key: the secret key is 24 bits, not secure enough/],
    [['create', '-s', 'a', '-sk', join(dir, 'missing.key')], 1, /--secret-key: key file doesn't exist/],
    [['nope'], 2, /unknown command "nope"/],
  ];
  for (const [args, code, msg] of cases) {
    const r = await cli(args);
    assert.equal(r.code, code, args.join(' '));
    assert.match(r.stderr, msg, args.join(' '));
  }
});

test('validate: prints the claims as Pulsar does; expired, wrong key and alg none fail with the reason', async () => {
  const f = join(dir, 'v.key');
  await cli(['create-secret-key', '-o', f]);
  const token = (await cli(['create', '-sk', f, '-s', 'alice', '-e', '2h'])).stdout.trim();
  const ok = await cli(['validate', '-sk', f, token]);
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, `{sub=alice, exp=${NOW / 1000 + 7200}}\n`);
  // from TOKEN, --stdin, --token-file
  assert.equal((await cli(['validate', '-sk', f], { env: { TOKEN: token } })).code, 0);
  assert.equal((await cli(['validate', '-sk', f, '-i'], { stdin: `${token}\nignored\n` })).code, 0);
  const tf = join(dir, 'token.txt');
  (await import('node:fs')).writeFileSync(tf, `${token}\n`);
  assert.equal((await cli(['validate', '-sk', f, '-f', tf])).code, 0);

  const expired = await cli(['validate', '-sk', f, token], { now: NOW + 3 * 3600_000 });
  assert.equal(expired.code, 1);
  assert.equal(expired.stderr, `kop-gateway tokens: invalid token: token expired at ${new Date(NOW + 7200_000).toISOString()} (now ${new Date(NOW + 3 * 3600_000).toISOString()}, allowed clock skew 0 s)\n`);
  const other = join(dir, 'v2.key');
  await cli(['create-secret-key', '-o', other]);
  const bad = await cli(['validate', '-sk', other, token]);
  assert.equal(bad.stderr, 'kop-gateway tokens: invalid token: bad signature: the token was not signed with the key of --secret-key\n');
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${token.split('.')[1]}.`;
  assert.equal((await cli(['validate', '-sk', f, none])).stderr, 'kop-gateway tokens: invalid token: unsupported alg none: unsigned tokens are rejected\n');
  assert.equal((await cli(['validate', '-sk', f])).code, 2);
  assert.equal(javaString({ sub: ['a', 'b'], n: 1, o: { x: null } }), '{sub=[a, b], n=1, o={x=null}}');
});

test('show: header, ---, claims', async () => {
  const f = join(dir, 's.key');
  await cli(['create-secret-key', '-o', f]);
  const token = (await cli(['create', '-sk', f, '-s', 'alice'])).stdout.trim();
  const r = await cli(['show', token]);
  assert.equal(r.stdout, '{"alg":"HS256"}\n---\n{"sub":"alice"}\n');
  assert.equal((await cli(['show'], { env: { TOKEN: token } })).stdout, r.stdout);
  assert.equal((await cli(['show'])).code, 2);
});

test('kop-gateway tokens: dispatched by the command line', () => {
  const here = fileURLToPath(import.meta.url);
  const ext = here.endsWith('.ts') ? 'ts' : 'js';
  const cliPath = join(here, '..', '..', '..', 'src', `cli.${ext}`);
  assert.ok(existsSync(cliPath), cliPath);
  const help = spawnSync(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--test')), cliPath, 'tokens', '--help'], { encoding: 'utf8' });
  assert.equal(help.status, 0, help.stderr);
  assert.match(help.stdout, /^Usage: kop-gateway tokens <command> \[options\]/);
  const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.sig';
  const show = spawnSync(process.execPath, [...process.execArgv.filter((a) => !a.startsWith('--test')), cliPath, 'tokens', 'show', token], { encoding: 'utf8' });
  assert.equal(show.stdout, '{"alg":"HS256"}\n---\n{"sub":"alice"}\n');
});
