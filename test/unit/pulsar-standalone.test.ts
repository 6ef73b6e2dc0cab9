/**
 * A real Apache Pulsar standalone broker (scripts/pulsar/, docs/pulsar-local.md):
 *   - scripts/pulsar/smoke.sh passes: REST admin API (tenant, namespace, grants, partitioned
 *     topic), authentication and authorization (also the proxy role acting for an original
 *     principal), Pulsar's Java client producing and consuming with broker entry metadata;
 *   - tokens interoperate with the gateway: a token minted by `standalone.sh token` validates with
 *     the gateway's validator, and one minted by `kop-gateway tokens create` with the broker's
 *     secret key is accepted by the broker;
 *   - `standalone.sh status` tells running (0) from stopped (3).
 * One broker start (~6 s) for the whole file, ~25 s in all.
 * Skipped, with the reason in the name, without the broker's jars (`bash scripts/pulsar/fetch-pulsar.sh`)
 * or without java / curl / openssl: .ci/run does not fetch them (yet), so this does not fail CI then.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { runTokensCli } from '../../src/cli/tokens.js';
import { createTokenValidator } from '../../src/security/tokens/index.js';
import { harnessEnv, repoRoot } from '../helpers/clients/paths.js';
import { commandExists, runCommand } from '../helpers/clients/proc.js';

/** Keep in sync with default_version in scripts/pulsar/fetch-pulsar.sh. */
const DEFAULT_PULSAR_BROKER_VERSION = '3.0.7';

const env = harnessEnv();
const version = process.env.KOP_PULSAR_BROKER_VERSION || DEFAULT_PULSAR_BROKER_VERSION;
const pulsarHome = process.env.KOP_PULSAR_HOME || join(env.cacheDir, `pulsar-${version}`);
const root = repoRoot();
const STANDALONE = join(root, 'scripts/pulsar/standalone.sh');
const SMOKE = join(root, 'scripts/pulsar/smoke.sh');

function unavailableReason(): string | undefined {
  for (const cmd of ['java', 'curl', 'openssl', 'bash']) {
    if (!commandExists(cmd)) return `${cmd} not found`;
  }
  if (!existsSync(join(pulsarHome, 'libs', `pulsar-broker-${version}.jar`))) {
    return `Pulsar ${version} broker jars not found in ${pulsarHome}/libs: run \`bash scripts/pulsar/fetch-pulsar.sh\``;
  }
  return undefined;
}

const why = unavailableReason();
const dir = why ? '' : mkdtempSync(join(tmpdir(), 'kop-pulsar-standalone-'));
let smoke = { code: null as number | null, stdout: '', stderr: '' };

function standalone(...args: string[]) {
  return runCommand('bash', [STANDALONE, ...args, '--dir', dir], { timeoutMs: 240_000 });
}

/** name=value lines of the broker's standalone.env (`export NAME=value`) */
function brokerEnv(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(dir, 'standalone.env'), 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!;
  }
  return out;
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

if (why) {
  test(`Pulsar ${version} standalone broker [skipped: ${why}]`, { skip: why }, () => undefined);
} else {
  before(async () => {
    // the smoke test leaves its broker running (--keep) for the tests below
    const r = await runCommand('bash', [SMOKE, '--keep', '--dir', dir], { timeoutMs: 300_000 });
    smoke = { code: r.code, stdout: r.stdout, stderr: r.stderr };
  });
  after(async () => {
    await standalone('stop');
    rmSync(dir, { recursive: true, force: true });
  });

  test(`Pulsar ${version} standalone: scripts/pulsar/smoke.sh passes (admin API, authz, proxy role, Java client)`, () => {
    const summary = /^smoke: (\d+) passed, (\d+) failed$/m.exec(smoke.stdout);
    assert.ok(summary, `no summary line; exit ${smoke.code}\n${smoke.stdout}\n${smoke.stderr}`);
    assert.equal(summary[2], '0', smoke.stdout);
    assert.ok(Number(summary[1]) >= 16, smoke.stdout);
    assert.equal(smoke.code, 0, smoke.stderr);
  });

  test(`Pulsar ${version} standalone: tokens of standalone.sh and of kop-gateway interoperate`, async () => {
    const e = brokerEnv();
    const secret = e.PULSAR_SECRET_KEY_FILE!;
    // standalone.sh's shell-made HS256 token -> the gateway's validator
    const minted = await standalone('token', 'carol');
    assert.equal(minted.code, 0, minted.stderr);
    const id = await createTokenValidator({ tokenSecretKey: `file://${secret}` }).validate(minted.stdout.trim());
    assert.equal(id.role, 'carol');
    assert.equal((await createTokenValidator({ tokenSecretKey: `file://${secret}` }).validate(readFileSync(e.PULSAR_ADMIN_TOKEN_FILE!, 'utf8').trim())).role, 'admin');

    // kop-gateway tokens create, with the broker's key -> the broker (a superuser operation)
    const adminToken = (await ours('create', '--secret-key', `file://${secret}`, '--subject', 'admin', '--expiry-time', '1h')).trim();
    const ok = await fetch(`${e.PULSAR_WEB_URL}/admin/v2/clusters`, { headers: { Authorization: `Bearer ${adminToken}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), ['standalone']);
    // ... and an expired one is refused
    const expired = (await ours('create', '--secret-key', `file://${secret}`, '--subject', 'admin', '--expiry-time', '-1h')).trim();
    const no = await fetch(`${e.PULSAR_WEB_URL}/admin/v2/clusters`, { headers: { Authorization: `Bearer ${expired}` } });
    assert.equal(no.status, 401);
  });

  test(`Pulsar ${version} standalone: status tells running from stopped`, async () => {
    const running = await standalone('status');
    assert.equal(running.code, 0, running.stderr);
    assert.match(running.stdout, /running \(pid \d+, RSS \d+ MB/);
    assert.match(running.stdout, /service URL : pulsar:\/\/127\.0\.0\.1:\d+/);
    const stop = await standalone('stop');
    assert.equal(stop.code, 0, stop.stderr);
    const stopped = await standalone('status');
    assert.equal(stopped.code, 3);
    assert.match(stopped.stdout, /not running/);
  });
}
