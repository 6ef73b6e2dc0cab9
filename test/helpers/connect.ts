/**
 * Kafka Connect processes for the acceptance tests, from the jars scripts/ci/fetch-java-deps.sh
 * fetches from Maven Central (KOP_CONNECT_CLASSPATH: connect-runtime, connect-file, connect-mirror,
 * connect-json 4.3.1): a distributed worker exactly as `connect-distributed.sh worker.properties`
 * starts one (org.apache.kafka.connect.cli.ConnectDistributed), MirrorMaker 2's dedicated driver as
 * `connect-mirror-maker.sh mm2.properties` starts it (org.apache.kafka.connect.mirror.MirrorMaker),
 * and a small client for the worker's REST API. Each process logs to a file in its own folder; a
 * failed wait shows its last lines.
 */
import { AssertionError } from 'node:assert';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { harnessEnv } from './clients/paths.js';
import { unavailable } from './clients/gate.js';

const env = harnessEnv();
export const connectClasspath = process.env.KOP_CONNECT_CLASSPATH || join(env.cacheDir, `kafka-connect-${env.kafkaVersion}`, 'libs', '*');

/** Why Connect cannot run here, or undefined. */
export function connectUnavailable(): string | undefined {
  const java = unavailable('java');
  if (java) return java;
  const dir = connectClasspath.endsWith('*') ? connectClasspath.slice(0, -1) : connectClasspath;
  try {
    const jars = readdirSync(dir);
    if (jars.some((f) => f.startsWith('connect-file-')) && jars.some((f) => f.startsWith('connect-mirror-'))) return undefined;
  } catch {
    // missing folder
  }
  return `Kafka Connect jars not found in ${dir}: run \`bash scripts/ci/fetch-java-deps.sh\``;
}

function propsText(p: Record<string, string | number | boolean>): string {
  return Object.entries(p)
    .map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    .join('\n') + '\n';
}

export interface JavaProcess {
  child: ChildProcess;
  dir: string;
  logFile: string;
  /** the last `lines` lines of its log */
  tail(lines?: number): string;
  exited(): boolean;
  /** SIGKILL, resolves once it is gone */
  kill(): Promise<void>;
  /** SIGTERM (a clean shutdown: the worker leaves its group), SIGKILL after `graceMs` */
  stop(graceMs?: number): Promise<void>;
}

const live = new Set<ChildProcess>();
let hook = false;

function startJava(dir: string, mainClass: string, propsFile: string, heap: string): JavaProcess {
  mkdirSync(dir, { recursive: true });
  const logFile = join(dir, 'process.log');
  // INFO into the log file (what a failed wait shows), without the config dumps of every client
  const log4j = join(dir, 'log4j2.properties');
  writeFileSync(
    log4j,
    [
      'status = error',
      'appender.out.type = Console',
      'appender.out.name = OUT',
      'appender.out.layout.type = PatternLayout',
      'appender.out.layout.pattern = [%d{HH:mm:ss.SSS}] %p %c{1}: %m%n',
      'rootLogger.level = info',
      'rootLogger.appenderRef.out.ref = OUT',
      'logger.config.name = org.apache.kafka.common.config.AbstractConfig',
      'logger.config.level = warn',
      'logger.appinfo.name = org.apache.kafka.common.utils.AppInfoParser',
      'logger.appinfo.level = warn',
      '',
    ].join('\n'),
  );
  const log = createWriteStream(logFile, { flags: 'a' });
  const child = spawn(
    env.java,
    [`-Xmx${heap}`, '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Djava.net.preferIPv4Stack=true', `-Dlog4j2.configurationFile=${log4j}`, '-cp', connectClasspath, mainClass, propsFile],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  if (!hook) {
    hook = true;
    process.on('exit', () => {
      for (const c of live) c.kill('SIGKILL');
    });
  }
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  let gone = false;
  const exit = new Promise<void>((res) =>
    child.once('exit', () => {
      gone = true;
      live.delete(child);
      log.end();
      res();
    }),
  );
  return {
    child,
    dir,
    logFile,
    tail(lines = 40) {
      return existsSync(logFile) ? readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n') : '';
    },
    exited: () => gone,
    async kill() {
      if (!gone) child.kill('SIGKILL');
      await exit;
    },
    async stop(graceMs = 30_000) {
      if (!gone) child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exit;
      clearTimeout(t);
    },
  };
}

export interface ConnectWorker extends JavaProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  /** the worker id Connect reports in statuses ('127.0.0.1:PORT') */
  workerId: string;
  rest<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

/**
 * Start a Connect distributed worker (the `connect-distributed.sh` main class) with these worker
 * properties (bootstrap.servers, group.id and the storage topics are the caller's); resolves once
 * its REST API answers.
 */
export async function startConnectWorker(opts: { dir: string; restPort: number; props: Record<string, string | number | boolean>; heap?: string; timeoutMs?: number }): Promise<ConnectWorker> {
  mkdirSync(opts.dir, { recursive: true });
  const propsFile = join(opts.dir, 'worker.properties');
  writeFileSync(
    propsFile,
    propsText({
      listeners: `http://127.0.0.1:${opts.restPort}`,
      'rest.advertised.host.name': '127.0.0.1',
      'rest.advertised.port': opts.restPort,
      // the plugins are on the classpath (connect-file); no plugin.path scanning
      'plugin.discovery': 'service_load',
      ...opts.props,
    }),
  );
  const p = startJava(opts.dir, 'org.apache.kafka.connect.cli.ConnectDistributed', propsFile, opts.heap ?? '384m');
  const url = `http://127.0.0.1:${opts.restPort}`;
  const worker: ConnectWorker = {
    ...p,
    url,
    workerId: `127.0.0.1:${opts.restPort}`,
    async rest<T>(method: string, path: string, body?: unknown) {
      const res = await fetch(`${url}${path}`, {
        method,
        headers: body !== undefined ? { 'Content-Type': 'application/json' } : {},
        body: body !== undefined ? JSON.stringify(body) : undefined,
        signal: AbortSignal.timeout(30_000),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = text ? JSON.parse(text) : undefined;
      } catch {
        // not JSON: keep the text
      }
      return { status: res.status, body: parsed as T };
    },
  };
  const end = Date.now() + (opts.timeoutMs ?? 120_000);
  for (;;) {
    if (p.exited()) throw new Error(`the Connect worker exited during startup:\n${p.tail()}`);
    try {
      const r = await worker.rest('GET', '/connectors');
      if (r.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > end) {
      await p.kill();
      throw new Error(`the Connect worker's REST API did not answer within ${opts.timeoutMs ?? 120_000} ms:\n${p.tail()}`);
    }
    await sleep(500);
  }
  return worker;
}

/** Start MirrorMaker 2's dedicated driver (`connect-mirror-maker.sh mm2.properties`). */
export function startMirrorMaker(opts: { dir: string; props: Record<string, string | number | boolean>; heap?: string }): JavaProcess {
  mkdirSync(opts.dir, { recursive: true });
  const propsFile = join(opts.dir, 'mm2.properties');
  writeFileSync(propsFile, propsText(opts.props));
  return startJava(opts.dir, 'org.apache.kafka.connect.mirror.MirrorMaker', propsFile, opts.heap ?? '512m');
}

/**
 * Poll `check` every `everyMs` until it returns a value other than undefined; fail with `what` and
 * `context()` after `timeoutMs`. Other errors (a REST API not answering yet) are retried; an
 * AssertionError fails at once.
 */
export async function waitUntil<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, context: () => string = () => '', everyMs = 500): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      if (e instanceof AssertionError) throw new AssertionError({ message: `${e.message}\n${context()}`, actual: e.actual, expected: e.expected, operator: e.operator });
      last = e;
    }
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (last error: ${(last as Error).message})` : ''}\n${context()}`);
    await sleep(everyMs);
  }
}
