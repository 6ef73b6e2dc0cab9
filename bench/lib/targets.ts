/**
 * The servers the benchmark measures, each started fresh (new data directory) and stopped after
 * its runs: the gateway as a separate process through its production entry point
 * (`node dist/src/cli.js start`), and the Apache Kafka reference broker.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { ClientSecurity } from '../../test/helpers/clients/types.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, startKafkaBroker, tcpReady } from '../kafka-reference/broker.js';
import { repoRoot } from '../../test/helpers/clients/paths.js';
import { ensureDevCertificates } from '../../src/security/dev-certs.js';
import type { PulsarBroker } from './pulsar.js';
import type { NativePulsar } from './pulsar-native.js';

export type TargetId =
  | 'gateway'
  | 'gateway-metrics'
  | 'gateway-interval'
  | 'gateway-sasl-ssl'
  | 'gateway-pulsar'
  | 'gateway-pulsar-kafka'
  | 'pulsar-native'
  | 'pulsar-native-window'
  | 'kafka'
  | 'kafka-sasl-ssl';
export const TARGET_IDS: readonly TargetId[] = [
  'gateway',
  'gateway-metrics',
  'gateway-interval',
  'gateway-sasl-ssl',
  'gateway-pulsar',
  'gateway-pulsar-kafka',
  'pulsar-native',
  'pulsar-native-window',
  'kafka',
  'kafka-sasl-ssl',
];

export interface TargetSpec {
  id: TargetId;
  /** pulsar-native: no Kafka server; a Pulsar Java client produces and reads on the broker directly (bench/lib/pulsar-native.ts) */
  kind: 'gateway' | 'kafka' | 'pulsar-native';
  label: string;
  /** what is configured, for the report */
  settings: Record<string, string>;
  /** one sentence on durability */
  durability: string;
  /** the gateway listener's security protocol (default PLAINTEXT) */
  listener?: 'PLAINTEXT' | 'SASL_SSL';
  /** runs against the benchmark's Pulsar standalone broker; gateway targets use storageEngine=pulsar with this entryFormat */
  pulsar?: { entryFormat: 'pulsar' | 'kafka' };
  /** pulsar-native: messages in flight (maxPendingMessages): the Pulsar client's default, or the Kafka producer's window */
  window?: 'pulsar-default' | 'kafka-producer';
  /** an opsListener with metrics on, scraped every METRICS_SCRAPE_MS as Prometheus would (the cost of metrics) */
  metrics?: boolean;
}

/** How often the benchmark scrapes /metrics of a `metrics` target (Prometheus' default interval is 15 s: this is harsher). */
export const METRICS_SCRAPE_MS = 5_000;

/**
 * Gateway settings shared by both gateway targets (plus, per start: a PLAINTEXT listener on a free
 * port, a fresh data directory and the audit log file in a temp dir). groupInitialRebalanceDelayMs=0
 * matches the reference broker's group.initial.rebalance.delay.ms=0, so ConsumerPerformance's
 * group join is not 3 s longer on one side. Everything else is the gateway's default.
 */
const GATEWAY_COMMON: Record<string, string> = {
  KOP_LOG_LEVEL: 'warn',
  KOP_LOG_PRETTY: 'false',
  KOP_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
};

/** Both Pulsar targets: what an acknowledgement means (see scripts/pulsar/standalone.sh). */
const PULSAR_DURABILITY =
  'acknowledged when the Pulsar broker confirmed the send: the entry is in the BookKeeper journal of the one bookie ' +
  '(ensemble = write quorum = ack quorum = 1) but the journal is not fsynced (journalSyncData=false, the standalone default): ' +
  'an OS crash or power loss can lose acknowledged records, a gateway crash cannot (the gateway keeps no data); ' +
  'comparable to Kafka\'s defaults (page cache, one replica), not to gateway (every-batch). The broker (one JVM, ' +
  'Pulsar standalone with the bookie in process) runs on the same machine, started by the benchmark';

export const TARGETS: Record<TargetId, TargetSpec> = {
  gateway: {
    id: 'gateway',
    kind: 'gateway',
    label: 'gateway (every-batch)',
    settings: { ...GATEWAY_COMMON, KOP_EMBEDDED_FLUSH_POLICY: 'every-batch' },
    durability: 'embedded engine default: fdatasync (group-committed) before every acks=1/all response',
  },
  'gateway-metrics': {
    id: 'gateway-metrics',
    kind: 'gateway',
    label: 'gateway (every-batch, metrics on)',
    settings: { ...GATEWAY_COMMON, KOP_EMBEDDED_FLUSH_POLICY: 'every-batch' },
    durability: 'as gateway (every-batch), with Prometheus metrics collected (opsListener, metricsEnabled) and /metrics scraped every 5 s',
    metrics: true,
  },
  'gateway-interval': {
    id: 'gateway-interval',
    kind: 'gateway',
    label: 'gateway (interval)',
    settings: { ...GATEWAY_COMMON, KOP_EMBEDDED_FLUSH_POLICY: 'interval', KOP_EMBEDDED_FLUSH_INTERVAL_MS: '1000' },
    durability: 'acknowledged after the page-cache write; fdatasync every 1000 ms (or 64 MiB unflushed)',
  },
  'gateway-sasl-ssl': {
    id: 'gateway-sasl-ssl',
    kind: 'gateway',
    label: 'gateway (interval, SASL_SSL)',
    settings: {
      ...GATEWAY_COMMON,
      KOP_EMBEDDED_FLUSH_POLICY: 'interval',
      KOP_EMBEDDED_FLUSH_INTERVAL_MS: '1000',
      KOP_AUTHENTICATION_ENABLED: 'true',
      KOP_AUTHORIZATION_ENABLED: 'true',
      KOP_SUPER_USER_ROLES: 'bench',
    },
    durability: 'as gateway (interval), over a SASL_SSL listener: TLS (development certificate), SASL/PLAIN with a Pulsar token, Pulsar authorization and the audit log on every request',
    listener: 'SASL_SSL',
  },
  'gateway-pulsar': {
    id: 'gateway-pulsar',
    kind: 'gateway',
    label: 'gateway (Pulsar, pulsar format)',
    settings: { ...GATEWAY_COMMON, KOP_STORAGE_ENGINE: 'pulsar', KOP_ENTRY_FORMAT: 'pulsar' },
    durability: PULSAR_DURABILITY,
    pulsar: { entryFormat: 'pulsar' },
  },
  'gateway-pulsar-kafka': {
    id: 'gateway-pulsar-kafka',
    kind: 'gateway',
    label: 'gateway (Pulsar, kafka format)',
    settings: { ...GATEWAY_COMMON, KOP_STORAGE_ENGINE: 'pulsar', KOP_ENTRY_FORMAT: 'kafka' },
    durability: PULSAR_DURABILITY,
    pulsar: { entryFormat: 'kafka' },
  },
  'pulsar-native': {
    id: 'pulsar-native',
    kind: 'pulsar-native',
    label: 'native Pulsar client',
    settings: {
      client: 'Pulsar Java client (the broker\'s version), async sends, batching 5 ms / 16 KiB, maxPendingMessages=1000 (the client default); a Reader from the earliest message',
      'acks=1 runs': 'the same as acks=all (a Pulsar send is acknowledged once persisted by the configured ack quorum)',
    },
    durability: 'as the Pulsar targets: the same broker and settings, without the gateway',
    pulsar: { entryFormat: 'pulsar' },
    window: 'pulsar-default',
  },
  'pulsar-native-window': {
    id: 'pulsar-native-window',
    kind: 'pulsar-native',
    label: 'native Pulsar client (Kafka\'s window)',
    settings: {
      client: 'as native Pulsar client, with maxPendingMessages = the Kafka producer\'s in-flight window: 5 requests x 16 KiB batches (80 records of 1 KiB)',
    },
    durability: 'as the Pulsar targets: the same broker and settings, without the gateway',
    pulsar: { entryFormat: 'pulsar' },
    window: 'kafka-producer',
  },
  kafka: {
    id: 'kafka',
    kind: 'kafka',
    label: 'Apache Kafka',
    settings: {
      'process.roles': 'broker,controller (KRaft, one node)',
      heap: '-Xmx1g -Xms256m, G1 (MaxGCPauseMillis=20)',
      'log.flush.interval.messages / log.flush.interval.ms': 'defaults (no fsync per batch)',
      'group.initial.rebalance.delay.ms': '0',
    },
    durability:
      'Kafka defaults: acknowledged after the page-cache write, no fsync per batch (the OS writes back; Kafka fsyncs on segment roll and shutdown); the fair peer of gateway (interval)',
  },
  'kafka-sasl-ssl': {
    id: 'kafka-sasl-ssl',
    kind: 'kafka',
    label: 'Apache Kafka (SASL_SSL)',
    settings: {
      listener: 'SASL_SSL (SASL/PLAIN, one user; PEM key store holding a certificate made by the gateway\'s own development-certificate code, RSA 2048 as the gateway target\'s)',
      'process.roles': 'broker,controller (KRaft, one node)',
      heap: '-Xmx1g -Xms256m, G1 (MaxGCPauseMillis=20)',
      authorizer: 'none (Kafka\'s default: every authenticated principal is allowed; the gateway target also authorizes and audits every request)',
    },
    durability: 'as Apache Kafka, over a SASL_SSL listener: the fair peer of gateway (interval, SASL_SSL)',
    listener: 'SASL_SSL',
  },
};

export interface RunningTarget {
  spec: TargetSpec;
  bootstrap: string;
  pid: number;
  startupMs: number;
  /** the server's own log file (kept until stop for gateway, inside Kafka's dir for Kafka) */
  logFile: string;
  /** what the load generators need to connect (SASL_SSL target) */
  security?: ClientSecurity;
  /** the Pulsar broker behind a gateway-pulsar target (its CPU counts as the server's too) */
  pulsarBrokerPid?: number;
  /** the gateway's Pulsar namespace (gateway-pulsar targets) */
  pulsarNamespace?: string;
  /** pulsar-native targets: where the Pulsar client produces and reads (no Kafka bootstrap) */
  native?: NativePulsar;
  /** lines at warn level or above in the gateway log (its level is warn); empty for Kafka */
  warnings(): string[];
  stop(): Promise<void>;
}

export interface GatewayStartOptions {
  /** extra node flags, e.g. ['--cpu-prof', '--cpu-prof-dir=DIR'] */
  nodeArgs?: string[];
  /** where the gateway's stdout/stderr go (default: a file in its temp dir) */
  logFile?: string;
  /** the running Pulsar broker, for targets with `pulsar` */
  pulsar?: PulsarBroker;
}

/**
 * `node dist/src/cli.js start` with env configuration on a free port and a fresh data directory.
 * The log level is warn, so readiness is the port accepting connections, not the start line.
 */
export async function startGatewayProcess(spec: TargetSpec, opts: GatewayStartOptions = {}): Promise<RunningTarget> {
  const cli = join(repoRoot(), 'dist', 'src', 'cli.js');
  if (!existsSync(cli)) throw new Error(`${cli} not found: run npm run build`);
  const dir = mkdtempSync(join(tmpdir(), 'kop-bench-gw-'));
  const port = await freePort();
  const opsPort = spec.metrics ? await freePort() : 0;
  const logFile = opts.logFile ?? join(dir, 'gateway.log');
  const secure = spec.listener === 'SASL_SSL' ? await saslSslSetup(dir) : null;
  let pulsarEnv: Record<string, string> = {};
  let pulsarNamespace: string | undefined;
  if (spec.pulsar) {
    const broker = opts.pulsar;
    if (!broker) throw new Error(`${spec.id} needs a running Pulsar broker`);
    // a fresh namespace per start: the Pulsar counterpart of a fresh data directory
    pulsarNamespace = await broker.newNamespace(`bench-${spec.id}`);
    const [tenant, namespace] = pulsarNamespace.split('/') as [string, string];
    pulsarEnv = {
      KOP_BROKER_SERVICE_URL: broker.serviceUrl,
      KOP_WEB_SERVICE_URL: broker.webUrl,
      KOP_BROKER_CLIENT_AUTHENTICATION_PLUGIN: 'org.apache.pulsar.client.impl.auth.AuthenticationToken',
      KOP_BROKER_CLIENT_AUTHENTICATION_PARAMETERS: `file:${broker.adminTokenFile}`,
      KOP_KAFKA_TENANT: tenant,
      KOP_KAFKA_NAMESPACE: namespace,
      KOP_KAFKA_METADATA_NAMESPACE: `${namespace}-meta`,
    };
  }
  const log = createWriteStream(logFile, { flags: 'a' });
  const started = Date.now();
  const child = spawn(process.execPath, [...(opts.nodeArgs ?? []), cli, 'start'], {
    cwd: repoRoot(),
    // only what the gateway needs: no KOP_* harness variables from this environment
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '',
      ...spec.settings,
      KOP_KAFKA_LISTENERS: `${spec.listener ?? 'PLAINTEXT'}://127.0.0.1:${port}`,
      KOP_DATA_DIRECTORY: join(dir, 'data'),
      ...(secure ? secure.env : {}),
      ...pulsarEnv,
      ...(spec.metrics ? { KOP_OPS_LISTENER: `http://127.0.0.1:${opsPort}`, KOP_METRICS_ENABLED: 'true' } : {}),
      // the audit log stays on (the default) but not in the repository's ./logs
      KOP_AUDIT_LOG_FILE: join(dir, 'audit.log'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const onData = (b: Buffer) => {
    log.write(b);
    if (out.length < 1 << 20) out += b.toString('utf8');
  };
  child.stdout.on('data', onData);
  child.stderr.on('data', onData);
  let exited: string | undefined;
  const exitPromise = new Promise<void>((res) =>
    child.once('exit', (code, signal) => {
      exited = String(code ?? signal);
      res();
    }),
  );
  const killOnExit = () => child.kill('SIGKILL');
  process.on('exit', killOnExit);

  let stopped = false;
  let scraper: NodeJS.Timeout | undefined;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (scraper) clearInterval(scraper);
    if (exited === undefined) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exitPromise;
      clearTimeout(t);
    }
    process.off('exit', killOnExit);
    await new Promise<void>((res) => log.end(res));
    // the data directory and (unless it was placed elsewhere) the log
    rmSync(dir, { recursive: true, force: true });
  };

  const startLimitS = spec.pulsar ? 90 : 30;
  const deadline = Date.now() + startLimitS * 1000;
  for (;;) {
    if (exited !== undefined) {
      await stop();
      throw new Error(`gateway exited (${exited}) during startup:\n${out.slice(-4000)}`);
    }
    if (await tcpReady(port)) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`gateway not listening on ${port} after ${startLimitS} s:\n${out.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  if (spec.metrics) {
    const url = `http://127.0.0.1:${opsPort}/metrics`;
    const scrape = () =>
      void fetch(url)
        .then((res) => res.text())
        .catch(() => undefined);
    scrape();
    scraper = setInterval(scrape, METRICS_SCRAPE_MS);
    scraper.unref();
  }
  return {
    spec,
    ...(secure ? { security: secure.security } : {}),
    ...(spec.pulsar && opts.pulsar ? { pulsarBrokerPid: opts.pulsar.pid, pulsarNamespace: pulsarNamespace! } : {}),
    bootstrap: `127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    startupMs: Date.now() - started,
    logFile,
    warnings: () =>
      out
        .split('\n')
        .filter((l) => {
          const m = /"level":(\d+)/.exec(l);
          return m ? Number(m[1]) >= 40 : l.trim() !== '';
        }),
    stop,
  };
}

/**
 * SASL_SSL target: a token secret, a superuser token for the load generators, an empty policies
 * directory (the superuser needs no grant, every request is still authorized and audited) and
 * development certificates made by the gateway in the temp dir.
 */
async function saslSslSetup(dir: string): Promise<{ env: Record<string, string>; security: ClientSecurity }> {
  const secret = randomBytes(32);
  const token = await new SignJWT({ sub: 'bench' }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
  mkdirSync(join(dir, 'policies'), { recursive: true });
  const certs = join(dir, 'certs');
  return {
    env: {
      KOP_TOKEN_SECRET_KEY: `data:;base64,${secret.toString('base64')}`,
      KOP_POLICIES_DIRECTORY: join(dir, 'policies'),
      KOP_TLS_DEV_CERTS_DIRECTORY: certs,
    },
    security: { protocol: 'SASL_SSL', mechanism: 'PLAIN', username: 'public/default', password: `token:${token}`, caPemFile: join(certs, 'ca.pem') },
  };
}

export async function startKafkaTarget(spec: TargetSpec): Promise<RunningTarget> {
  if (spec.listener === 'SASL_SSL') return startKafkaSaslSslTarget(spec);
  const k = await startKafkaBroker();
  return {
    spec,
    bootstrap: k.bootstrap,
    pid: k.pid,
    startupMs: k.startupMs,
    logFile: k.logFile,
    warnings: () => {
      try {
        return readFileSync(k.logFile, 'utf8')
          .split('\n')
          .filter((l) => /\b(ERROR|FATAL)\b/.test(l));
      } catch {
        return [];
      }
    },
    stop: () => k.stop(),
  };
}

/**
 * Kafka with a SASL_SSL listener (SASL/PLAIN, TLS with a certificate made by the gateway's own
 * development-certificate code): the load generators use that listener, with the same client
 * settings as against the gateway's SASL_SSL target.
 */
async function startKafkaSaslSslTarget(spec: TargetSpec): Promise<RunningTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'kop-bench-kafka-certs-'));
  const certs = ensureDevCertificates({ dir });
  const password = randomBytes(12).toString('hex');
  const k = await startKafkaBroker({
    sasl: { plainUsers: { bench: password }, oauthbearer: false, tls: { certPemFile: certs.serverCertFile, keyPemFile: certs.serverKeyFile } },
  });
  return {
    spec,
    bootstrap: k.saslBootstrap!,
    pid: k.pid,
    startupMs: k.startupMs,
    logFile: k.logFile,
    security: { protocol: 'SASL_SSL', mechanism: 'PLAIN', username: 'bench', password, caPemFile: certs.caCertFile },
    warnings: () => {
      try {
        return readFileSync(k.logFile, 'utf8')
          .split('\n')
          .filter((l) => /\b(ERROR|FATAL)\b/.test(l));
      } catch {
        return [];
      }
    },
    stop: async () => {
      await k.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A native Pulsar target: nothing to start but a fresh namespace on the broker; its CPU is the broker's. */
export async function startNativePulsarTarget(spec: TargetSpec, broker: PulsarBroker | undefined): Promise<RunningTarget> {
  if (!broker) throw new Error(`${spec.id} needs a running Pulsar broker`);
  const started = Date.now();
  const namespace = await broker.newNamespace(`bench-${spec.id}`);
  return {
    spec,
    bootstrap: broker.serviceUrl,
    pid: broker.pid,
    startupMs: Date.now() - started,
    logFile: '',
    pulsarNamespace: namespace,
    native: { serviceUrl: broker.serviceUrl, tokenFile: broker.adminTokenFile, namespace },
    warnings: () => [],
    stop: async () => undefined,
  };
}

export function startTarget(spec: TargetSpec, gatewayOpts: GatewayStartOptions = {}): Promise<RunningTarget> {
  if (spec.kind === 'pulsar-native') return startNativePulsarTarget(spec, gatewayOpts.pulsar);
  return spec.kind === 'kafka' ? startKafkaTarget(spec) : startGatewayProcess(spec, gatewayOpts);
}
