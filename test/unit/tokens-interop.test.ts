/**
 * Interop with Apache Pulsar's own token tool (`pulsar tokens`, TokensCliUtils of the
 * pulsar-broker jar, fetched by scripts/ci/fetch-pulsar-tokens-tool.sh):
 *   - keys and tokens made by Pulsar's tool validate with the gateway's validator;
 *   - keys and tokens made by `kop-gateway tokens` validate with Pulsar's `tokens validate`.
 * Skipped (reason in the name) without Java or the fetched jars; failing under CI.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { runTokensCli } from '../../src/cli/tokens.js';
import { AuthenticationError } from '../../src/security/types.js';
import { createTokenValidator } from '../../src/security/tokens/index.js';
import { toolTest } from '../helpers/clients/gate.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import { commandExists, runCommand } from '../helpers/clients/proc.js';
import { tempDir } from '../helpers/temp.js';

/** Keep in sync with default_version in scripts/ci/fetch-pulsar-tokens-tool.sh. */
const DEFAULT_PULSAR_VERSION = '3.0.7';
const FETCH = 'scripts/ci/fetch-pulsar-tokens-tool.sh';

const env = harnessEnv();
const pulsarVersion = process.env.KOP_PULSAR_VERSION || DEFAULT_PULSAR_VERSION;
const libs = join(process.env.KOP_PULSAR_TOKENS_HOME || join(env.cacheDir, `pulsar-tokens-${pulsarVersion}`), 'libs');

function unavailableReason(): string | undefined {
  if (!commandExists(env.java)) return `${env.java} not found: install a JDK 17+ (Debian: openjdk-17-jdk-headless) or set KOP_JAVA_HOME`;
  if (!existsSync(join(libs, `pulsar-broker-${pulsarVersion}.jar`))) return `Pulsar ${pulsarVersion} token tool not found in ${libs}: run \`bash ${FETCH}\` (or .ci/run)`;
  return undefined;
}

const why = unavailableReason();
const dir = tempDir('kop-tokens-interop-');

/** `pulsar tokens <args>` */
async function pulsar(...args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const r = await runCommand(env.java, ['-cp', join(libs, '*'), 'org.apache.pulsar.utils.auth.tokens.TokensCliUtils', ...args], { timeoutMs: 60_000 });
  return { code: r.code, stdout: r.stdout, stderr: r.stderr };
}

async function pulsarOk(...args: string[]): Promise<string> {
  const r = await pulsar(...args);
  assert.equal(r.code, 0, `pulsar tokens ${args.join(' ')}: exit ${r.code}\n${r.stderr}`);
  return r.stdout;
}

/** `kop-gateway tokens <args>`, in process */
async function ours(...args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const code = await runTokensCli(args, {
    stdout: { write: (d: string | Uint8Array) => (out += Buffer.from(d).toString('utf8')) },
    stderr: { write: (d: string) => (err += d) },
    readStdin: () => '',
    env: {},
    now: Date.now,
  });
  assert.equal(code, 0, `kop-gateway tokens ${args.join(' ')}: exit ${code}\n${err}`);
  return out;
}

toolTest(`Pulsar ${pulsarVersion} secret keys and tokens validate with the gateway (file:, data:, base64 forms; HS256 and HS512)`, why, async () => {
  const raw = join(dir, 'pulsar-secret.key');
  await pulsarOk('create-secret-key', '--output', raw);
  assert.equal(readFileSync(raw).length, 32);
  const token = (await pulsarOk('create', '--secret-key', `file://${raw}`, '--subject', 'alice', '--expiry-time', '1h')).trim();
  const before = Date.now();
  const id = await createTokenValidator({ tokenSecretKey: `file://${raw}` }).validate(token);
  assert.equal(id.role, 'alice');
  assert.ok(id.expiresAt! > before + 3_500_000 && id.expiresAt! <= before + 3_600_000, `expiresAt ${id.expiresAt}`);
  assert.equal((await createTokenValidator({ tokenSecretKey: raw }).validate(token)).role, 'alice');

  // --base64: the key as Pulsar docs use it, data:;base64,<key> and the bare base64 value
  const b64 = join(dir, 'pulsar-secret.b64');
  await pulsarOk('create-secret-key', '--base64', '--output', b64);
  const key64 = readFileSync(b64, 'utf8');
  const t64 = (await pulsarOk('create', '--secret-key', `data:;base64,${key64}`, '-s', 'bob')).trim();
  assert.equal((await createTokenValidator({ tokenSecretKey: `data:;base64,${key64}` }).validate(t64)).role, 'bob');
  assert.equal((await createTokenValidator({ tokenSecretKey: key64 }).validate(t64)).role, 'bob');

  const hs512 = join(dir, 'pulsar-secret-512.key');
  await pulsarOk('create-secret-key', '-a', 'HS512', '--output', hs512);
  const t512 = (await pulsarOk('create', '--secret-key', `file://${hs512}`, '-s', 'carol')).trim();
  assert.deepEqual(JSON.parse(Buffer.from(t512.split('.')[0]!, 'base64url').toString()), { alg: 'HS512' });
  assert.equal((await createTokenValidator({ tokenSecretKey: hs512 }).validate(t512)).role, 'carol');

  // and the gateway refuses what it must: another key, an expired Pulsar token
  await assert.rejects(createTokenValidator({ tokenSecretKey: hs512 }).validate(token), (e: unknown) => e instanceof AuthenticationError && /^bad signature/.test(e.message));
  const expired = (await pulsarOk('create', '--secret-key', `file://${raw}`, '-s', 'old', '-e', '-1h')).trim();
  await assert.rejects(createTokenValidator({ tokenSecretKey: raw }).validate(expired), (e: unknown) => e instanceof AuthenticationError && /^token expired at /.test(e.message));
});

toolTest(`Pulsar ${pulsarVersion} RSA and EC key pairs (DER) and tokens validate with the gateway`, why, async () => {
  for (const alg of ['RS256', 'ES256'] as const) {
    const priv = join(dir, `pulsar-${alg}.priv`);
    const pub = join(dir, `pulsar-${alg}.pub`);
    await pulsarOk('create-key-pair', '-a', alg, '--output-private-key', priv, '--output-public-key', pub);
    const token = (await pulsarOk('create', '-a', alg, '--private-key', `file://${priv}`, '-s', `svc-${alg}`, '-e', '1d')).trim();
    assert.deepEqual(JSON.parse(Buffer.from(token.split('.')[0]!, 'base64url').toString()), { alg });
    const v = createTokenValidator({ tokenPublicKey: `file://${pub}`, tokenPublicAlg: alg });
    assert.equal((await v.validate(token)).role, `svc-${alg}`);
    assert.equal((await createTokenValidator({ tokenPublicKey: pub, tokenPublicAlg: alg }).validate(token)).role, `svc-${alg}`);
  }
});

toolTest(`gateway secret keys and tokens validate with Pulsar ${pulsarVersion}'s \`tokens validate\``, why, async () => {
  const raw = join(dir, 'our-secret.key');
  await ours('create-secret-key', '--output', raw);
  const token = (await ours('create', '--secret-key', `file://${raw}`, '--subject', 'dave', '--expiry-time', '1h')).trim();
  const exp = JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()).exp as number;
  assert.equal((await pulsarOk('validate', '--secret-key', `file://${raw}`, token)).trim(), `{sub=dave, exp=${exp}}`);
  // the same output as our validate
  assert.equal(await ours('validate', '--secret-key', `file://${raw}`, token), await pulsarOk('validate', '-sk', raw, token));

  const b64 = join(dir, 'our-secret.b64');
  await ours('create-secret-key', '-a', 'HS512', '--base64', '--output', b64);
  const key64 = readFileSync(b64, 'utf8');
  const t512 = (await ours('create', '-sk', `data:;base64,${key64}`, '-s', 'erin', '-hs', 'kid=k1')).trim();
  assert.equal((await pulsarOk('validate', '-sk', `data:;base64,${key64}`, t512)).trim(), '{sub=erin}');

  // Pulsar refuses what the gateway refuses: an expired token, another key
  const expired = (await ours('create', '-sk', raw, '-s', 'old', '-e', '-1h')).trim();
  const r = await pulsar('validate', '-sk', raw, expired);
  assert.notEqual(r.code, 0);
  assert.match(r.stderr, /ExpiredJwtException: JWT expired at/);
  const wrong = await pulsar('validate', '-sk', `data:;base64,${key64}`, token);
  assert.notEqual(wrong.code, 0);
  assert.match(wrong.stderr, /SignatureException/);
});

toolTest(`gateway RSA and EC key pairs and tokens validate with Pulsar ${pulsarVersion}'s \`tokens validate\``, why, async () => {
  for (const alg of ['RS256', 'ES256'] as const) {
    const priv = join(dir, `our-${alg}.priv`);
    const pub = join(dir, `our-${alg}.pub`);
    await ours('create-key-pair', '-a', alg, '--output-private-key', priv, '--output-public-key', pub);
    const token = (await ours('create', '--private-key', `file://${priv}`, '-s', `svc-${alg}`)).trim();
    assert.equal((await pulsarOk('validate', '-a', alg, '--public-key', `file://${pub}`, token)).trim(), `{sub=svc-${alg}}`);
    // and Pulsar signs with our private key: the gateway validates that token
    const theirs = (await pulsarOk('create', '-a', alg, '--private-key', `file://${priv}`, '-s', `p-${alg}`)).trim();
    assert.equal((await createTokenValidator({ tokenPublicKey: pub, tokenPublicAlg: alg }).validate(theirs)).role, `p-${alg}`);
  }
});
