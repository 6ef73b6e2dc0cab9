/**
 * The Apache Pulsar standalone broker behind the gateway-pulsar targets: started by the benchmark
 * itself with scripts/pulsar/standalone.sh in its own folder under the temp dir (free ports),
 * stopped and deleted after the Pulsar targets of a phase. Each gateway start gets a fresh
 * namespace (the Pulsar counterpart of a fresh data directory).
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessEnv, repoRoot } from '../../test/helpers/clients/paths.js';
import { commandExists, runCommand } from '../../test/helpers/clients/proc.js';
import { peakRssMiB } from './system.js';

/** Keep in sync with default_version in scripts/pulsar/fetch-pulsar.sh. */
export const PULSAR_VERSION = process.env.KOP_PULSAR_BROKER_VERSION || '3.0.7';
/** JVM limits of the broker (Kafka's reference broker: -Xmx1g). */
export const PULSAR_HEAP = '1g';
export const PULSAR_DIRECT_MEMORY = '512m';

function pulsarHome(): string {
  return process.env.KOP_PULSAR_HOME || join(harnessEnv().cacheDir, `pulsar-${PULSAR_VERSION}`);
}

/** Why no Pulsar broker can run here (the targets are then skipped), or undefined. */
export function pulsarUnavailable(): string | undefined {
  for (const cmd of ['java', 'curl', 'openssl', 'bash']) if (!commandExists(cmd)) return `${cmd} not found`;
  const libs = join(pulsarHome(), 'libs');
  if (!existsSync(join(libs, `pulsar-broker-${PULSAR_VERSION}.jar`))) {
    return `Pulsar ${PULSAR_VERSION} broker jars not found in ${libs}: run \`bash scripts/pulsar/fetch-pulsar.sh\``;
  }
  return undefined;
}

/** The broker's settings that matter for the figures, read from the generated standalone.conf. */
export const PULSAR_CONF_KEYS = [
  'journalSyncData',
  'journalMaxGroupWaitMSec',
  'managedLedgerDefaultEnsembleSize',
  'managedLedgerDefaultWriteQuorum',
  'managedLedgerDefaultAckQuorum',
  'brokerDeduplicationEnabled',
  'managedLedgerCacheSizeMB',
  'dbStorage_writeCacheMaxSizeMb',
  'numIOThreads',
] as const;

export interface PulsarBroker {
  dir: string;
  serviceUrl: string;
  webUrl: string;
  adminTokenFile: string;
  pid: number;
  startupMs: number;
  /** key=value of PULSAR_CONF_KEYS as configured */
  conf: Record<string, string>;
  /** a fresh namespace public/<prefix>-<random> (and its -meta sibling is created by the gateway) */
  newNamespace(prefix: string): Promise<string>;
  peakRssMiB(): number | undefined;
  stop(): Promise<void>;
  /** for exit handlers: stop synchronously */
  stopSync(): void;
}

const STANDALONE = () => join(repoRoot(), 'scripts', 'pulsar', 'standalone.sh');

export async function startPulsarBroker(): Promise<PulsarBroker> {
  const why = pulsarUnavailable();
  if (why) throw new Error(why);
  const dir = mkdtempSync(join(tmpdir(), 'kop-bench-pulsar-'));
  const t0 = Date.now();
  const r = await runCommand(
    'bash',
    [STANDALONE(), 'start', '--dir', dir, '--port', 'auto', '--web-port', 'auto', '--heap', PULSAR_HEAP, '--direct', PULSAR_DIRECT_MEMORY, '--quiet'],
    { timeoutMs: 240_000 },
  );
  if (r.code !== 0) {
    spawnSync('bash', [STANDALONE(), 'stop', '--dir', dir, '--quiet'], { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`pulsar standalone start failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  const startupMs = Date.now() - t0;
  const env: Record<string, string> = {};
  for (const line of readFileSync(join(dir, 'standalone.env'), 'utf8').split('\n')) {
    const m = /^export ([A-Z_]+)=(.*)$/.exec(line);
    if (m) env[m[1]!] = m[2]!.replace(/^'(.*)'$/, '$1');
  }
  const conf: Record<string, string> = {};
  for (const line of readFileSync(join(dir, 'conf', 'standalone.conf'), 'utf8').split('\n')) {
    const m = /^([A-Za-z_]+)=(.*)$/.exec(line);
    if (m && (PULSAR_CONF_KEYS as readonly string[]).includes(m[1]!)) conf[m[1]!] = m[2]!;
  }
  const pid = Number(readFileSync(join(dir, 'pulsar.pid'), 'utf8').trim());
  const webUrl = env.PULSAR_WEB_URL!;
  const adminTokenFile = env.PULSAR_ADMIN_TOKEN_FILE!;
  const adminToken = readFileSync(adminTokenFile, 'utf8').trim();
  let stopped = false;
  const stopSync = () => {
    if (stopped) return;
    stopped = true;
    spawnSync('bash', [STANDALONE(), 'stop', '--dir', dir, '--quiet'], { stdio: 'ignore', timeout: 60_000 });
    rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', stopSync);
  return {
    dir,
    serviceUrl: env.PULSAR_SERVICE_URL!,
    webUrl,
    adminTokenFile,
    pid,
    startupMs,
    conf,
    async newNamespace(prefix) {
      const ns = `public/${prefix}-${randomBytes(3).toString('hex')}`;
      const res = await fetch(`${webUrl}/admin/v2/namespaces/${ns}`, { method: 'PUT', headers: { Authorization: `Bearer ${adminToken}` } });
      if (res.status !== 204 && res.status !== 409) throw new Error(`create namespace ${ns}: HTTP ${res.status} ${await res.text()}`);
      return ns;
    },
    peakRssMiB: () => peakRssMiB(pid),
    async stop() {
      if (stopped) return;
      stopped = true;
      process.off('exit', stopSync);
      await runCommand('bash', [STANDALONE(), 'stop', '--dir', dir, '--quiet'], { timeoutMs: 90_000 });
      rmSync(dir, { recursive: true, force: true });
    },
    stopSync,
  };
}
