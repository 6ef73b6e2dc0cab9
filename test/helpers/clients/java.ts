/**
 * The Apache Kafka Java client as a test peer: test/helpers/java/*.java compiled at first use
 * into $KOP_CACHE_DIR/java-driver/<hash>/ (hash of the sources and the Kafka version), run with
 * the Kafka jars fetched by scripts/ci/fetch-java-deps.sh.
 *
 *   const java = new JavaKafkaClient({ bootstrap: '127.0.0.1:9092' });
 *   await java.produce({ topic: 't', records: [{ key: 'k', value: 'v' }] });
 *   const recs = await java.consume({ topic: 't', maxRecords: 1 });
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, mkdtempSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { DriverClient, type SpawnSpec } from './driver-client.js';
import { harnessEnv, javaClasspathOrThrow, repoRoot, ToolMissingError, type HarnessEnv } from './paths.js';
import { checkResult, commandExists, runCommand, type RunOptions, type RunResult } from './proc.js';
import type { ClientOptions } from './types.js';

export const JAVA_DRIVER_MAIN = 'KopKafkaDriver';
/** sasl.login.callback.handler.class that hands the client a fixed JWT (JAAS option token="...") */
export const STATIC_TOKEN_HANDLER_CLASS = 'KopStaticTokenLoginCallbackHandler';

export function javaSourceDir(): string {
  return join(repoRoot(), 'test', 'helpers', 'java');
}

/** log4j2 config sending all logging to stderr at WARN (keeps stdout for results). */
export function javaLog4jConfig(): string {
  return join(javaSourceDir(), 'log4j2.properties');
}

/** Why the Java client cannot run here, or undefined when it can. */
export function javaUnavailableReason(env: HarnessEnv = harnessEnv()): string | undefined {
  if (!commandExists(env.java)) return `${env.java} not found: install a JDK 17+ (Debian: openjdk-17-jdk-headless) or set KOP_JAVA_HOME`;
  if (!commandExists(env.javac)) return `${env.javac} not found: install a JDK 17+ (Debian: openjdk-17-jdk-headless) or set KOP_JAVA_HOME`;
  try {
    javaClasspathOrThrow(env);
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

export function javaAvailable(env: HarnessEnv = harnessEnv()): boolean {
  return javaUnavailableReason(env) === undefined;
}

function assertJava(env: HarnessEnv): void {
  const why = javaUnavailableReason(env);
  if (why) throw new ToolMissingError(`Java Kafka client unavailable: ${why}`);
}

let compiled: Promise<string> | undefined;

/**
 * Compiles the Java driver sources if no compiled copy for this source hash exists yet;
 * returns the classes folder. Safe against concurrent compiles (compile to a temp dir, rename).
 */
export function ensureJavaDriver(env: HarnessEnv = harnessEnv()): Promise<string> {
  compiled ??= compileJavaDriver(env).catch((e: unknown) => {
    compiled = undefined;
    throw e;
  });
  return compiled;
}

async function compileJavaDriver(env: HarnessEnv): Promise<string> {
  assertJava(env);
  const srcDir = javaSourceDir();
  const sources = readdirSync(srcDir)
    .filter((f) => f.endsWith('.java'))
    .sort();
  if (sources.length === 0) throw new Error(`no .java sources in ${srcDir}`);
  const h = createHash('sha256');
  h.update(`kafka ${env.kafkaVersion}\n`);
  for (const f of sources) {
    h.update(`${f}\n`);
    h.update(readFileSync(join(srcDir, f)));
  }
  const hash = h.digest('hex').slice(0, 16);
  const base = join(env.cacheDir, 'java-driver');
  const classes = join(base, hash);
  if (existsSync(join(classes, `${JAVA_DRIVER_MAIN}.class`))) return classes;
  mkdirSync(base, { recursive: true });
  const tmp = mkdtempSync(join(base, `.tmp-${hash}-`));
  try {
    const r = await runCommand(
      env.javac,
      ['-nowarn', '-encoding', 'UTF-8', '-d', tmp, '-cp', env.javaClasspath, ...sources.map((f) => join(srcDir, f))],
      { timeoutMs: 180_000 },
    );
    checkResult(r);
    try {
      renameSync(tmp, classes);
    } catch (e) {
      // another process finished first: use its copy
      if (!existsSync(join(classes, `${JAVA_DRIVER_MAIN}.class`))) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
  return classes;
}

/** Classpath with the compiled driver (and the token callback handler) first, then the Kafka jars. */
export async function javaDriverClasspath(env: HarnessEnv = harnessEnv()): Promise<string> {
  const classes = await ensureJavaDriver(env);
  return `${classes}${delimiter}${env.javaClasspath}`;
}

export interface JavaMainOptions {
  /** JVM options, e.g. ['-Xmx512m']; default a small quick-start set */
  jvmArgs?: string[];
  /** add the compiled driver classes to the classpath (default true) */
  withDriver?: boolean;
  env?: NodeJS.ProcessEnv;
}

const QUICK_JVM = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xss1m'];

/** The java command line that runs `mainClass` with the Kafka jars (and the driver classes). */
export async function javaMainSpec(mainClass: string, args: string[], opts: JavaMainOptions = {}): Promise<SpawnSpec> {
  const env = harnessEnv(opts.env);
  assertJava(env);
  const cp = opts.withDriver === false ? env.javaClasspath : await javaDriverClasspath(env);
  return {
    cmd: env.java,
    args: [
      ...(opts.jvmArgs ?? QUICK_JVM),
      `-Dlog4j2.configurationFile=${javaLog4jConfig()}`,
      '-Djava.awt.headless=true',
      '-cp',
      cp,
      mainClass,
      ...args,
    ],
    env: opts.env ?? process.env,
  };
}

/** Runs any Java main class with the Kafka jars (e.g. a Kafka CLI tool). Does not throw on exit codes. */
export async function runJavaMain(
  mainClass: string,
  args: string[],
  opts: JavaMainOptions & Omit<RunOptions, 'env'> = {},
): Promise<RunResult> {
  const spec = await javaMainSpec(mainClass, args, opts);
  const runOpts: RunOptions = { timeoutMs: opts.timeoutMs ?? 120_000 };
  if (spec.env) runOpts.env = spec.env;
  if (opts.input !== undefined) runOpts.input = opts.input;
  if (opts.cwd !== undefined) runOpts.cwd = opts.cwd;
  return runCommand(spec.cmd, spec.args, runOpts);
}

/** The Apache Kafka Java client (kafka-clients of KOP_KAFKA_VERSION) driven through KopKafkaDriver. */
export class JavaKafkaClient extends DriverClient {
  readonly name = 'java';

  constructor(options: ClientOptions) {
    super(options);
  }

  protected spawnSpec(command: string, flags: string[]): Promise<SpawnSpec> {
    return javaMainSpec(JAVA_DRIVER_MAIN, [command, ...flags]);
  }
}
