/**
 * Apache Pulsar's Java client as a test peer (PulsarInterop.java next to this file): compiled at
 * first use into $KOP_CACHE_DIR/pulsar-interop/<hash>/ (hash of the source and the Pulsar
 * version) against the broker's jars (scripts/pulsar/fetch-pulsar.sh), run as a child process.
 *
 *   const sent = await pulsarProduce({ url, token, topic: 'persistent://public/ns/t-partition-0', count: 20 });
 *   const got = await pulsarConsume({ url, token, topic: 'persistent://public/ns/t', subscription: 's', count: 20 });
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { harnessEnv, repoRoot, type HarnessEnv } from '../clients/paths.js';
import { checkResult, commandExists, parseJsonLines, runCommand } from '../clients/proc.js';
import { DEFAULT_PULSAR_BROKER_VERSION } from '../pulsar.js';
import { compileJavaSource } from '../clients/java-compile.js';

const MAIN = 'PulsarInterop';
// the sources, not the compiled folder: dist/test/helpers holds no .java files
const HELPERS = join(repoRoot(), 'test', 'helpers');
const SOURCE = join(HELPERS, 'pulsar', `${MAIN}.java`);
const LOG4J = join(HELPERS, 'java', 'log4j2.properties');

function pulsarLibs(env: HarnessEnv): { version: string; libs: string } {
  const version = process.env.KOP_PULSAR_BROKER_VERSION || DEFAULT_PULSAR_BROKER_VERSION;
  const home = process.env.KOP_PULSAR_HOME || join(env.cacheDir, `pulsar-${version}`);
  return { version, libs: join(home, 'libs') };
}

/** Why the Pulsar Java client cannot run here, or undefined when it can. */
export function pulsarJavaUnavailable(env: HarnessEnv = harnessEnv()): string | undefined {
  if (!commandExists(env.java)) return `${env.java} not found: install a JDK 17+ (Debian: openjdk-17-jdk-headless)`;
  if (!commandExists(env.javac)) return `${env.javac} not found: install a JDK 17+ (Debian: openjdk-17-jdk-headless)`;
  const { version, libs } = pulsarLibs(env);
  if (!existsSync(join(libs, `pulsar-client-original-${version}.jar`))) {
    return `Pulsar ${version} client jars not found in ${libs}: run bash scripts/pulsar/fetch-pulsar.sh`;
  }
  return undefined;
}

let compiled: Promise<string> | undefined;

/** The classes folder of PulsarInterop, compiled once per source hash (safe against concurrent compiles). */
export function ensurePulsarInterop(env: HarnessEnv = harnessEnv()): Promise<string> {
  compiled ??= compile(env).catch((e: unknown) => {
    compiled = undefined;
    throw e;
  });
  return compiled;
}

async function compile(env: HarnessEnv): Promise<string> {
  const why = pulsarJavaUnavailable(env);
  if (why) throw new Error(`Pulsar Java client unavailable: ${why}`);
  const { version, libs } = pulsarLibs(env);
  return compileJavaSource({ source: SOURCE, mainClass: MAIN, cacheName: 'pulsar-interop', classpath: join(libs, '*'), salt: `pulsar ${version}` });
}

async function run(command: 'consume' | 'produce', flags: Record<string, string | number | boolean | undefined>, timeoutMs: number, okCodes = [0]) {
  const env = harnessEnv();
  const classes = await ensurePulsarInterop(env);
  const { libs } = pulsarLibs(env);
  const args = [
    '-Xmx256m',
    '-XX:+UseSerialGC',
    '-XX:TieredStopAtLevel=1',
    `-Dlog4j2.configurationFile=${LOG4J}`,
    `-Dlog4j.configurationFile=${LOG4J}`,
    '-cp',
    `${classes}:${join(libs, '*')}`,
    MAIN,
    command,
  ];
  for (const [k, v] of Object.entries(flags)) if (v !== undefined) args.push(`--${k}`, String(v));
  return checkResult(await runCommand(env.java, args, { timeoutMs }), okCodes);
}

export interface PulsarConnection {
  /** pulsar://host:port */
  url: string;
  token: string;
}

export interface PulsarConsumed {
  topic: string;
  key: string | null;
  keyB64: boolean;
  /** base64 of getKeyBytes() */
  keyBytes: string | null;
  /** base64; null for a null value */
  value: string | null;
  properties: Record<string, string>;
  eventTime: number;
  publishTime: number;
  messageId: string;
  index: number | null;
  producerName: string;
  sequenceId: number;
}

/** Subscribes from the earliest position and returns `count` messages in arrival order (throws on timeout unless allowPartial). */
export async function pulsarConsume(
  c: PulsarConnection & { topic: string; subscription: string; count: number; timeoutMs?: number; allowPartial?: boolean; subscriptionType?: 'Exclusive' | 'Shared' },
): Promise<PulsarConsumed[]> {
  const timeoutMs = c.timeoutMs ?? 30_000;
  const r = await run(
    'consume',
    { url: c.url, token: c.token, topic: c.topic, subscription: c.subscription, count: c.count, 'timeout-ms': timeoutMs, type: c.subscriptionType },
    timeoutMs + 60_000,
    c.allowPartial ? [0, 3] : [0],
  );
  return parseJsonLines<PulsarConsumed>(r.stdout);
}

export interface PulsarProduced {
  i: number;
  key: string | null;
  /** base64 of the key bytes (also for a string key); null without a key */
  keyBytes: string | null;
  /** base64; null for a null value */
  value: string | null;
  /** in the order they were set */
  properties: Array<[string, string]>;
  /** 0 = none set */
  eventTime: number;
  messageId: string;
}

export type PulsarCompression = 'NONE' | 'LZ4' | 'ZLIB' | 'ZSTD' | 'SNAPPY';

/** Produces `count` generated messages (see PulsarInterop.java for what message i holds) in order; returns what was sent. */
export async function pulsarProduce(
  p: PulsarConnection & {
    topic: string;
    count: number;
    batching?: boolean;
    compression?: PulsarCompression;
    tag?: string;
    start?: number;
    eventTimeBase?: number;
    timeoutMs?: number;
  },
): Promise<PulsarProduced[]> {
  const r = await run(
    'produce',
    {
      url: p.url,
      token: p.token,
      topic: p.topic,
      count: p.count,
      batching: p.batching,
      compression: p.compression,
      tag: p.tag,
      start: p.start,
      'event-time-base': p.eventTimeBase,
    },
    p.timeoutMs ?? 120_000,
  );
  return parseJsonLines<PulsarProduced>(r.stdout);
}
