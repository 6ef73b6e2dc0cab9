/**
 * Kafka Streams apps as test peers: the Streams jars fetched by
 * scripts/ci/fetch-java-deps.sh (KOP_STREAMS_CLASSPATH), whether they are
 * here, and a Streams main class of test/helpers/java-streams/ compiled at
 * first use and started as a child process with the Kafka client jars.
 */
import { spawn, type ChildProcess, type StdioOptions } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { unavailable } from './gate.js';
import { javaLog4jConfig } from './java.js';
import { compileJavaSource } from './java-compile.js';
import { harnessEnv, repoRoot } from './paths.js';

const env = harnessEnv();
export const streamsClasspath = process.env.KOP_STREAMS_CLASSPATH || join(env.cacheDir, `kafka-streams-${env.kafkaVersion}`, 'libs', '*');

/** Why a Streams app cannot run here (no Java, no Streams jars), or undefined. */
export function streamsUnavailable(): string | undefined {
  const java = unavailable('java');
  if (java) return java;
  const dir = streamsClasspath.endsWith('*') ? streamsClasspath.slice(0, -1) : streamsClasspath;
  try {
    if (readdirSync(dir).some((f) => f.startsWith('kafka-streams-'))) return undefined;
  } catch {
    // missing folder
  }
  return `Kafka Streams jars not found in ${dir}: run \`bash scripts/ci/fetch-java-deps.sh\``;
}

/** Compile test/helpers/java-streams/<mainClass>.java (cached) and start it with `args`. */
export async function spawnStreamsApp(mainClass: string, cacheName: string, args: string[], stdio: StdioOptions): Promise<ChildProcess> {
  const classes = await compileJavaSource({
    source: join(repoRoot(), 'test', 'helpers', 'java-streams', `${mainClass}.java`),
    mainClass,
    cacheName,
    classpath: `${streamsClasspath}${delimiter}${env.javaClasspath}`,
    salt: `kafka-streams ${env.kafkaVersion}`,
  });
  return spawn(
    env.java,
    ['-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}${delimiter}${streamsClasspath}${delimiter}${env.javaClasspath}`, mainClass, ...args],
    { stdio },
  );
}
