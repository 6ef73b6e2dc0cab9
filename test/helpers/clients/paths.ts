/**
 * Where the test harness finds its tools: the env vars documented in .ci/README.md,
 * with the same defaults as scripts/ci/fetch-java-deps.sh when they are unset.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Keep in sync with scripts/ci/fetch-java-deps.sh and scripts/ci/java/pom.xml. */
export const DEFAULT_KAFKA_VERSION = '4.3.1';

export const FETCH_SCRIPT = 'scripts/ci/fetch-java-deps.sh';

let cachedRoot: string | undefined;

/** The repository root (the folder holding package.json named kop-gateway). */
export function repoRoot(): string {
  if (cachedRoot) return cachedRoot;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        const name = (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name;
        if (name === 'kop-gateway') return (cachedRoot = dir);
      } catch {
        // not ours; keep walking up
      }
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('kop-gateway repository root not found above ' + fileURLToPath(import.meta.url));
    dir = up;
  }
}

export interface HarnessEnv {
  /** root of the download/compile cache */
  cacheDir: string;
  kafkaVersion: string;
  /** folder holding libs/*.jar of that Kafka version */
  kafkaHome: string;
  /** Java classpath with every Kafka jar (client, tools, broker) */
  javaClasspath: string;
  /** `java` / `javac` commands */
  java: string;
  javac: string;
  kcat: string;
  python: string;
  /** a missing tool fails instead of skipping */
  strict: boolean;
}

function nonEmpty(v: string | undefined): string | undefined {
  return v !== undefined && v !== '' ? v : undefined;
}

export function harnessEnv(env: NodeJS.ProcessEnv = process.env): HarnessEnv {
  const cacheDir = resolve(
    nonEmpty(env.KOP_CACHE_DIR) ?? join(nonEmpty(env.XDG_CACHE_HOME) ?? join(homedir(), '.cache'), 'kop-gateway'),
  );
  const kafkaVersion = nonEmpty(env.KOP_KAFKA_VERSION) ?? DEFAULT_KAFKA_VERSION;
  const kafkaHome = nonEmpty(env.KOP_KAFKA_HOME) ?? join(cacheDir, `kafka-${kafkaVersion}`);
  const javaClasspath = nonEmpty(env.KOP_JAVA_CLASSPATH) ?? join(kafkaHome, 'libs', '*');
  const javaHome = nonEmpty(env.KOP_JAVA_HOME) ?? nonEmpty(env.JAVA_HOME);
  const java = javaHome ? join(javaHome, 'bin', 'java') : 'java';
  const javac = javaHome ? join(javaHome, 'bin', 'javac') : 'javac';
  const strictVar = nonEmpty(env.KOP_HARNESS_STRICT);
  const strict = strictVar !== undefined ? strictVar === '1' || strictVar === 'true' : env.CI === 'true' || env.CI === '1';
  return {
    cacheDir,
    kafkaVersion,
    kafkaHome,
    javaClasspath,
    java,
    javac,
    kcat: nonEmpty(env.KOP_KCAT) ?? 'kcat',
    python: nonEmpty(env.KOP_PYTHON) ?? '/usr/bin/python3',
    strict,
  };
}

/** A tool the harness needs is not installed. The message says how to install it. */
export class ToolMissingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ToolMissingError';
  }
}

/**
 * The Java classpath holding the Kafka jars, checked to exist; a ToolMissingError telling to run
 * the fetch script otherwise.
 */
export function javaClasspathOrThrow(env: HarnessEnv = harnessEnv()): string {
  const parts = env.javaClasspath.split(delimiter).filter((p) => p !== '');
  const found = parts.some((p) => {
    if (p.endsWith('*')) {
      const dir = p.slice(0, -1);
      try {
        return readdirSync(dir === '' ? '.' : dir).some((f) => /^kafka-clients-.*\.jar$/.test(f));
      } catch {
        return false;
      }
    }
    return /kafka-clients[^/\\]*\.jar$/.test(p) && existsSync(p);
  });
  if (!found) {
    throw new ToolMissingError(
      `Apache Kafka ${env.kafkaVersion} jars not found (classpath ${env.javaClasspath}): run \`bash ${FETCH_SCRIPT}\` (or .ci/run)`,
    );
  }
  return env.javaClasspath;
}

/** The folder of the Kafka jars (KOP_KAFKA_HOME/libs). */
export function kafkaLibsDir(env: HarnessEnv = harnessEnv()): string {
  return join(env.kafkaHome, 'libs');
}
