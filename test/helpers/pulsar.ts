/**
 * One real Apache Pulsar standalone broker shared by every test file of a run
 * (scripts/pulsar/standalone.sh; docs/pulsar-local.md). The first test file
 * that asks starts it in KOP_TEST_PULSAR_DIR (set by scripts/run-tests.sh to a
 * fresh folder per run, stopped and removed when the run ends); later files
 * find it running and reuse it. Outside that script the folder defaults to
 * $KOP_CACHE_DIR/test-pulsar and the broker is left running between runs
 * (stop it with `bash scripts/pulsar/standalone.sh stop --dir <dir>`).
 *
 * Test files isolate themselves by using their own namespace (uniqueNamespace()).
 * Without the broker's jars, java, curl or openssl, pulsarSkipReason() gives the
 * reason and the tests skip with it in their name; in strict mode (CI=true or
 * KOP_HARNESS_STRICT=1, as .ci/run runs) it gives none, so a missing broker fails.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { harnessEnv, repoRoot } from './clients/paths.js';
import { commandExists, runCommand } from './clients/proc.js';

/** Keep in sync with default_version in scripts/pulsar/fetch-pulsar.sh. */
export const DEFAULT_PULSAR_BROKER_VERSION = '3.0.7';

export interface SharedPulsar {
  dir: string;
  /** pulsar://127.0.0.1:port */
  serviceUrl: string;
  /** http://127.0.0.1:port */
  webUrl: string;
  /** role admin (superuser) */
  adminToken: string;
  /** role proxy (superuser and proxy role) */
  proxyToken: string;
  adminTokenFile: string;
  proxyTokenFile: string;
  /** HS256 secret key file of the broker (for tokenSecretKey=file://...) */
  secretKeyFile: string;
  /** A token for `role` signed with the broker's key; expSeconds from now when given. */
  token(role: string, expSeconds?: number): Promise<string>;
  /** The broker's own admin REST call with the admin token; returns status and body text. */
  rest(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }>;
  /** Stop and start the broker again (same ports and data). */
  restart(): Promise<void>;
}

const env = harnessEnv();
const version = process.env.KOP_PULSAR_BROKER_VERSION || DEFAULT_PULSAR_BROKER_VERSION;
const pulsarHome = process.env.KOP_PULSAR_HOME || join(env.cacheDir, `pulsar-${version}`);
const STANDALONE = join(repoRoot(), 'scripts/pulsar/standalone.sh');

/** Why no broker can run here, or undefined when one can. */
export function pulsarUnavailable(): string | undefined {
  for (const cmd of ['java', 'curl', 'openssl', 'bash']) {
    if (!commandExists(cmd)) return `${cmd} not found`;
  }
  if (!existsSync(join(pulsarHome, 'libs', `pulsar-broker-${version}.jar`))) {
    return `Pulsar ${version} broker jars not found in ${pulsarHome}/libs: run bash scripts/pulsar/fetch-pulsar.sh`;
  }
  return undefined;
}

/** The reason to skip Pulsar tests here, or undefined (always undefined in strict mode: a missing broker then fails). */
export function pulsarSkipReason(): string | undefined {
  return env.strict ? undefined : pulsarUnavailable();
}

export function sharedPulsarDir(): string {
  return process.env.KOP_TEST_PULSAR_DIR || join(env.cacheDir, 'test-pulsar');
}

function standalone(dir: string, ...args: string[]) {
  return runCommand('bash', [STANDALONE, ...args, '--dir', dir, '--quiet'], { timeoutMs: 240_000 });
}

function readEnv(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of readFileSync(join(dir, 'standalone.env'), 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (m) out[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  }
  return out;
}

let shared: Promise<SharedPulsar> | undefined;

/** The run's broker, started on first use (~6-10 s), reused afterwards. Throws when it cannot start. */
export function sharedPulsar(): Promise<SharedPulsar> {
  shared ??= startPulsarAt(sharedPulsarDir(), process.env.KOP_PULSAR_HEAP || '768m');
  return shared;
}

export interface PrivatePulsar extends SharedPulsar {
  /** Stop the broker (SIGTERM, then SIGKILL). */
  stop(): Promise<void>;
  /** Start the stopped broker again (same ports and data). */
  start(): Promise<void>;
  /** Stop the broker and delete its folder. */
  wipe(): Promise<void>;
}

/**
 * A broker of one test's own in `dir` (a fresh folder: new ports, keys and data), for tests that
 * stop or restart it; the shared broker is never restarted. Stop it with wipe() when done.
 */
export async function privatePulsar(dir: string, heap = '512m'): Promise<PrivatePulsar> {
  const p = await startPulsarAt(dir, heap);
  return {
    ...p,
    async stop() {
      const r = await standalone(dir, 'stop');
      if (r.code !== 0) throw new Error(`pulsar standalone stop failed: ${r.stderr}`);
    },
    async start() {
      const r = await standalone(dir, 'start');
      if (r.code !== 0) throw new Error(`pulsar standalone start failed: ${r.stdout}\n${r.stderr}`);
    },
    async wipe() {
      const r = await standalone(dir, 'wipe');
      if (r.code !== 0) throw new Error(`pulsar standalone wipe failed: ${r.stderr}`);
    },
  };
}

async function startPulsarAt(dir: string, heap: string): Promise<SharedPulsar> {
  const why = pulsarUnavailable();
  if (why) throw new Error(why);
  const started = await standalone(dir, 'start', '--port', 'auto', '--web-port', 'auto', '--heap', heap);
  if (started.code !== 0) throw new Error(`pulsar standalone start failed (exit ${started.code}):\n${started.stdout}\n${started.stderr}`);
  const e = readEnv(dir);
  const adminTokenFile = e.PULSAR_ADMIN_TOKEN_FILE!;
  const proxyTokenFile = e.PULSAR_PROXY_TOKEN_FILE!;
  const adminToken = readFileSync(adminTokenFile, 'utf8').trim();
  const webUrl = e.PULSAR_WEB_URL!;
  const p: SharedPulsar = {
    dir,
    serviceUrl: e.PULSAR_SERVICE_URL!,
    webUrl,
    adminToken,
    proxyToken: readFileSync(proxyTokenFile, 'utf8').trim(),
    adminTokenFile,
    proxyTokenFile,
    secretKeyFile: e.PULSAR_SECRET_KEY_FILE!,
    async token(role, expSeconds) {
      const r = await standalone(dir, 'token', role, ...(expSeconds !== undefined ? ['--exp', String(expSeconds)] : []));
      if (r.code !== 0) throw new Error(`standalone.sh token ${role}: ${r.stderr}`);
      return r.stdout.trim();
    },
    async rest(method, path, body) {
      const res = await fetch(`${webUrl}${path}`, {
        method,
        headers: { Authorization: `Bearer ${adminToken}`, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        body: body !== undefined ? JSON.stringify(body) : undefined,
      });
      return { status: res.status, text: await res.text() };
    },
    async restart() {
      const stop = await standalone(dir, 'stop');
      if (stop.code !== 0) throw new Error(`pulsar standalone stop failed: ${stop.stderr}`);
      const start = await standalone(dir, 'start');
      if (start.code !== 0) throw new Error(`pulsar standalone restart failed: ${start.stdout}\n${start.stderr}`);
    },
  };
  return p;
}

/** A namespace of its own for one test file: `public/t-<prefix>-<random>` (created by the caller through rest()). */
export function uniqueName(prefix: string): string {
  return `${prefix}-${randomBytes(4).toString('hex')}`;
}

/** Create tenant-less namespace `public/<name>` with the admin token; returns "public/<name>". */
export async function createNamespace(p: SharedPulsar, name: string, tenant = 'public'): Promise<string> {
  const ns = `${tenant}/${name}`;
  const r = await p.rest('PUT', `/admin/v2/namespaces/${ns}`);
  if (r.status !== 204 && r.status !== 409) throw new Error(`create namespace ${ns}: HTTP ${r.status} ${r.text}`);
  return ns;
}

/**
 * Gateway settings (config keys) for storageEngine=pulsar on this broker, the gateway authenticating
 * with the admin token; Kafka short names land in namespace `ns` ("tenant/name"), the gateway's own
 * state in "<tenant>/<name>-meta".
 */
export function pulsarGatewayConfig(p: SharedPulsar, ns: string, entryFormat: 'pulsar' | 'kafka' = 'pulsar'): Record<string, string | number | boolean> {
  const [tenant, namespace] = ns.split('/') as [string, string];
  return {
    storageEngine: 'pulsar',
    brokerServiceUrl: p.serviceUrl,
    webServiceUrl: p.webUrl,
    brokerClientAuthenticationPlugin: 'org.apache.pulsar.client.impl.auth.AuthenticationToken',
    brokerClientAuthenticationParameters: `file:${p.adminTokenFile}`,
    kafkaTenant: tenant,
    kafkaNamespace: namespace,
    kafkaMetadataNamespace: `${namespace}-meta`,
    entryFormat,
  };
}

/** The same settings as KOP_* environment variables (for a gateway child process). */
export function pulsarGatewayEnv(p: SharedPulsar, ns: string, entryFormat: 'pulsar' | 'kafka' = 'pulsar'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(pulsarGatewayConfig(p, ns, entryFormat))) out[`KOP_${k.replace(/([A-Z])/g, '_$1').toUpperCase()}`] = String(v);
  return out;
}
