/**
 * A single-node Apache Kafka broker (KRaft, combined broker+controller) from the Maven jars that
 * scripts/ci/fetch-java-deps.sh fetched: the reference the gateway is compared with, and a real
 * peer for checking the test clients.
 *
 *   const kafka = await startKafkaBroker();            // random free ports, temp dir, -Xmx1g
 *   ... kafka.bootstrap ('127.0.0.1:PORT') ...
 *   await kafka.stop();                                // SIGTERM, then SIGKILL; removes the dir
 */
import { newClusterId } from '../../src/cluster-id.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { harnessEnv, javaClasspathOrThrow, repoRoot } from '../../test/helpers/clients/paths.js';
import { checkResult, runCommand } from '../../test/helpers/clients/proc.js';

export interface SaslListenerOptions {
  /** port of the SASL_PLAINTEXT (or SASL_SSL with `tls`) listener; default a free one */
  port?: number;
  /** PLAIN users: name -> password (default { alice: 'alice-secret' }) */
  plainUsers?: Record<string, string>;
  /**
   * also enable OAUTHBEARER with Kafka's built-in *unsecured* validator: it accepts unsigned JWTs
   * ({"alg":"none"}) with `sub`, `iat`, `exp` claims; see `unsecuredJwt()`. Default true.
   */
  oauthbearer?: boolean;
  /** serve SASL over TLS (SASL_SSL) with this certificate */
  tls?: { certPemFile: string; keyPemFile: string };
}

export interface KafkaBrokerOptions {
  /** PLAINTEXT port on 127.0.0.1; default a free one */
  port?: number;
  controllerPort?: number;
  /** a second listener with SASL */
  sasl?: SaslListenerOptions;
  /** broker working dir (config, data, server.log); default a new temp dir, removed on stop */
  dir?: string;
  /** keep the dir after stop (default: keep only when `dir` was given) */
  keepDir?: boolean;
  /** JVM heap, e.g. '1g' (default) */
  heap?: string;
  /** more server.properties entries */
  config?: Record<string, string | number | boolean>;
  /** default 120 s */
  startTimeoutMs?: number;
  /** default process.env (KOP_* variables pick the jars and the JDK) */
  env?: NodeJS.ProcessEnv;
}

export interface KafkaBroker {
  /** '127.0.0.1:PORT' of the PLAINTEXT listener */
  bootstrap: string;
  port: number;
  /** '127.0.0.1:PORT' of the SASL listener, when asked for */
  saslBootstrap?: string;
  saslPort?: number;
  controllerPort: number;
  clusterId: string;
  kafkaVersion: string;
  dir: string;
  logFile: string;
  pid: number;
  /** ms from spawn to "Kafka Server started" */
  startupMs: number;
  stop(): Promise<void>;
}

export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePort(port));
    });
  });
}

/** A fresh Kafka cluster id: 16 random bytes, base64url without padding, never starting with '-' (StorageTool would take it for an option). */
export function randomClusterId(): string {
  return newClusterId();
}

/** An unsigned JWT ({"alg":"none"}) that Kafka's unsecured OAUTHBEARER validator accepts. */
export function unsecuredJwt(sub: string, lifetimeSeconds = 3600, extraClaims: Record<string, unknown> = {}): string {
  const now = Math.floor(Date.now() / 1000);
  const enc = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none' })}.${enc({ sub, iat: now, exp: now + lifetimeSeconds, ...extraClaims })}.`;
}

/** bench/kafka-reference in the source tree (holds log4j2-broker.properties). */
export function referenceDir(): string {
  return join(repoRoot(), 'bench', 'kafka-reference');
}

function jaasQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Java properties text: backslashes, CR and LF escaped (PEM files made by node-forge end their lines with CRLF; a raw CR would end the property). */
function propsText(p: Record<string, string | number | boolean>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\').replace(/\r/g, '\\r').replace(/\n/g, '\\n')}`)
    .join('\n') + '\n';
}

/** Whether something accepts TCP connections on 127.0.0.1:port (1 s timeout). */
export function tcpReady(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
    s.setTimeout(1000, () => {
      s.destroy();
      res(false);
    });
  });
}

const live = new Set<ChildProcess>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // never leave a broker JVM behind when the test process ends
  process.on('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
}

export async function startKafkaBroker(opts: KafkaBrokerOptions = {}): Promise<KafkaBroker> {
  const env = harnessEnv(opts.env);
  const classpath = javaClasspathOrThrow(env);
  const port = opts.port ?? (await freePort());
  const controllerPort = opts.controllerPort ?? (await freePort());
  const saslPort = opts.sasl ? (opts.sasl.port ?? (await freePort())) : undefined;
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'kop-kafka-ref-'));
  const keepDir = opts.keepDir ?? opts.dir !== undefined;
  const clusterId = randomClusterId();
  const saslName = opts.sasl?.tls ? 'SASL_SSL' : 'SASL_PLAINTEXT';

  const listeners = [`PLAINTEXT://127.0.0.1:${port}`];
  const advertised = [`PLAINTEXT://127.0.0.1:${port}`];
  const protoMap = ['PLAINTEXT:PLAINTEXT', 'CONTROLLER:PLAINTEXT'];
  if (saslPort !== undefined) {
    listeners.push(`${saslName}://127.0.0.1:${saslPort}`);
    advertised.push(`${saslName}://127.0.0.1:${saslPort}`);
    protoMap.push(`${saslName}:${saslName}`);
  }
  listeners.push(`CONTROLLER://127.0.0.1:${controllerPort}`);

  const props: Record<string, string | number | boolean> = {
    'process.roles': 'broker,controller',
    'node.id': 1,
    'controller.quorum.voters': `1@127.0.0.1:${controllerPort}`,
    listeners: listeners.join(','),
    'advertised.listeners': advertised.join(','),
    'controller.listener.names': 'CONTROLLER',
    'inter.broker.listener.name': 'PLAINTEXT',
    'listener.security.protocol.map': protoMap.join(','),
    'log.dirs': join(dir, 'data'),
    'num.partitions': 1,
    'default.replication.factor': 1,
    'offsets.topic.replication.factor': 1,
    'offsets.topic.num.partitions': 4,
    'transaction.state.log.replication.factor': 1,
    'transaction.state.log.min.isr': 1,
    'transaction.state.log.num.partitions': 4,
    'share.coordinator.state.topic.replication.factor': 1,
    'share.coordinator.state.topic.min.isr': 1,
    'group.initial.rebalance.delay.ms': 0,
    'auto.create.topics.enable': true,
  };
  if (opts.sasl) {
    const l = saslName.toLowerCase();
    const users = opts.sasl.plainUsers ?? { alice: 'alice-secret' };
    const mechs = ['PLAIN'];
    props[`listener.name.${l}.plain.sasl.jaas.config`] =
      'org.apache.kafka.common.security.plain.PlainLoginModule required ' +
      Object.entries(users)
        .map(([u, p]) => `user_${u}=${jaasQuote(p)}`)
        .join(' ') +
      ';';
    if (opts.sasl.oauthbearer ?? true) {
      mechs.push('OAUTHBEARER');
      props[`listener.name.${l}.oauthbearer.sasl.jaas.config`] =
        'org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required unsecuredLoginStringClaim_sub="broker";';
    }
    props[`listener.name.${l}.sasl.enabled.mechanisms`] = mechs.join(',');
    props['sasl.enabled.mechanisms'] = mechs.join(',');
    if (opts.sasl.tls) {
      props[`listener.name.${l}.ssl.keystore.type`] = 'PEM';
      props[`listener.name.${l}.ssl.keystore.certificate.chain`] = readFileSync(opts.sasl.tls.certPemFile, 'utf8');
      props[`listener.name.${l}.ssl.keystore.key`] = readFileSync(opts.sasl.tls.keyPemFile, 'utf8');
    }
  }
  Object.assign(props, opts.config ?? {});
  const configFile = join(dir, 'server.properties');
  writeFileSync(configFile, propsText(props));

  const log4j = join(referenceDir(), 'log4j2-broker.properties');
  const jvmBase = [`-Dlog4j2.configurationFile=${log4j}`, '-Djava.awt.headless=true', '-cp', classpath];

  // format the storage (KRaft metadata log) with a random cluster id
  checkResult(
    await runCommand(
      env.java,
      ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', ...jvmBase, 'kafka.tools.StorageTool', 'format', '-t', clusterId, '-c', configFile],
      { timeoutMs: 120_000, env: opts.env ?? process.env },
    ),
  );

  const logFile = join(dir, 'server.log');
  const log = createWriteStream(logFile);
  const heap = opts.heap ?? '1g';
  const started = Date.now();
  const child = spawn(
    env.java,
    [
      `-Xmx${heap}`,
      `-Xms${heap === '1g' ? '256m' : heap}`,
      '-XX:+UseG1GC',
      '-XX:MaxGCPauseMillis=20',
      '-Djava.net.preferIPv4Stack=true',
      ...jvmBase,
      'kafka.Kafka',
      configFile,
    ],
    { env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  installExitHook();
  child.stdout.pipe(log, { end: false });
  child.stderr.pipe(log, { end: false });

  let exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exitPromise = new Promise<void>((res) => {
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      live.delete(child);
      res();
    });
  });

  let sawStarted = false;
  const onData = (b: Buffer) => {
    if (b.toString('utf8').includes('Kafka Server started')) sawStarted = true;
  };
  child.stdout.on('data', onData);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    if (!exited) {
      child.kill('SIGTERM');
      const killTimer = setTimeout(() => child.kill('SIGKILL'), 30_000);
      await exitPromise;
      clearTimeout(killTimer);
    }
    log.end();
    if (!keepDir) rmSync(dir, { recursive: true, force: true });
  };

  const deadline = started + (opts.startTimeoutMs ?? 120_000);
  try {
    for (;;) {
      if (exited) {
        throw new Error(`Kafka broker exited during startup (${exited.code ?? exited.signal}); log: ${logFile}`);
      }
      if (sawStarted && (await tcpReady(port))) break;
      if (Date.now() > deadline) throw new Error(`Kafka broker not ready after ${opts.startTimeoutMs ?? 120_000} ms; log: ${logFile}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  } catch (e) {
    let tailText = '';
    try {
      if (existsSync(logFile)) tailText = readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n');
    } catch {
      // no log to show
    }
    await stop().catch(() => undefined);
    throw new Error(`${(e as Error).message}\n--- last lines of the broker log ---\n${tailText}`);
  }
  child.stdout.off('data', onData);

  const broker: KafkaBroker = {
    bootstrap: `127.0.0.1:${port}`,
    port,
    controllerPort,
    clusterId,
    kafkaVersion: env.kafkaVersion,
    dir,
    logFile,
    pid: child.pid ?? -1,
    startupMs: Date.now() - started,
    stop,
  };
  if (saslPort !== undefined) {
    broker.saslPort = saslPort;
    broker.saslBootstrap = `127.0.0.1:${saslPort}`;
  }
  return broker;
}
