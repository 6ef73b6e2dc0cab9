/**
 * The native Pulsar baseline: bench/pulsar-native/PulsarPerf.java (a Pulsar Java client producer
 * and reader on the jars scripts/pulsar/fetch-pulsar.sh fetched), compiled once per source hash,
 * run against the same broker and settings as the gateway-pulsar targets. It prints the output
 * format of Kafka's ProducerPerformance / ConsumerPerformance, so the same parsers read it.
 */
import { join } from 'node:path';
import { harnessEnv, repoRoot } from '../../test/helpers/clients/paths.js';
import { checkResult, runCommand } from '../../test/helpers/clients/proc.js';
import { compileJavaSource } from '../../test/helpers/clients/java-compile.js';
import { PERF_JVM_ARGS, parseConsumerPerfOutput, parseProducerPerfOutput, type ConsumerPerfResult, type ProducerPerfResult } from '../kafka-reference/perf.js';
import { PULSAR_VERSION } from './pulsar.js';

function pulsarLibs(): string {
  return join(process.env.KOP_PULSAR_HOME || join(harnessEnv().cacheDir, `pulsar-${PULSAR_VERSION}`), 'libs');
}

let compiled: Promise<string> | undefined;
function classes(): Promise<string> {
  compiled ??= compileJavaSource({
    source: join(repoRoot(), 'bench', 'pulsar-native', 'PulsarPerf.java'),
    mainClass: 'PulsarPerf',
    cacheName: 'pulsar-perf',
    classpath: join(pulsarLibs(), '*'),
    salt: `pulsar ${PULSAR_VERSION}`,
  }).catch((e: unknown) => {
    compiled = undefined;
    throw e;
  });
  return compiled;
}

async function run(mode: 'produce' | 'read', args: string[], timeoutMs: number): Promise<string> {
  const env = harnessEnv();
  const cp = `${await classes()}:${join(pulsarLibs(), '*')}`;
  const r = checkResult(await runCommand(env.java, [...PERF_JVM_ARGS, '-cp', cp, 'PulsarPerf', mode, ...args], { timeoutMs }));
  return r.stdout;
}

export interface NativePulsar {
  serviceUrl: string;
  tokenFile: string;
  /** tenant/namespace of this target start */
  namespace: string;
}

/**
 * The in-flight window of the Kafka producer the other targets are measured with
 * (max.in.flight.requests.per.connection=5 batches of batch.size=16384 bytes), in records of `size` bytes.
 */
export function kafkaProducerWindow(size: number): number {
  return 5 * Math.max(1, Math.floor(16384 / size));
}

export async function runNativeProducerPerf(
  p: NativePulsar,
  o: { topic: string; numRecords: number; recordSize: number; throughput?: number; warmupRecords?: number; maxPending: number; timeoutMs?: number },
): Promise<ProducerPerfResult> {
  const args = ['--service-url', p.serviceUrl, '--token-file', p.tokenFile, '--topic', `persistent://${p.namespace}/${o.topic}`];
  args.push('--num-records', String(o.numRecords), '--record-size', String(o.recordSize), '--throughput', String(o.throughput ?? -1));
  args.push('--max-pending', String(o.maxPending), '--batch-delay-ms', '5', '--batch-bytes', '16384');
  if (o.warmupRecords !== undefined) args.push('--warmup-records', String(o.warmupRecords));
  return parseProducerPerfOutput(await run('produce', args, o.timeoutMs ?? 600_000));
}

export async function runNativeReaderPerf(p: NativePulsar, o: { topic: string; numRecords: number; toolTimeoutMs?: number; timeoutMs?: number }): Promise<ConsumerPerfResult> {
  const args = ['--service-url', p.serviceUrl, '--token-file', p.tokenFile, '--topic', `persistent://${p.namespace}/${o.topic}`, '--num-records', String(o.numRecords)];
  args.push('--timeout-ms', String(o.toolTimeoutMs ?? 15_000));
  return parseConsumerPerfOutput(await run('read', args, o.timeoutMs ?? 600_000));
}
