/**
 * Apache Kafka's own load generators, run from the Maven jars against any bootstrap server (the
 * reference broker or the gateway), with their output parsed into numbers:
 *   org.apache.kafka.tools.ProducerPerformance  (kafka-producer-perf-test)
 *   org.apache.kafka.tools.ConsumerPerformance  (kafka-consumer-perf-test)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runJavaMain, STATIC_TOKEN_HANDLER_CLASS } from '../../test/helpers/clients/java.js';
import { checkResult } from '../../test/helpers/clients/proc.js';
import type { ClientSecurity, Compression } from '../../test/helpers/clients/types.js';

export const PRODUCER_PERF_CLASS = 'org.apache.kafka.tools.ProducerPerformance';
export const CONSUMER_PERF_CLASS = 'org.apache.kafka.tools.ConsumerPerformance';

/** JVM options for the perf tools: enough heap, the default JIT (these runs are measured). */
export const PERF_JVM_ARGS = ['-Xmx1g', '-XX:+UseG1GC'];

function jaasQuote(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** Java client properties for a security setup (same mapping as the Java test driver). */
export function securityToJavaProps(s: ClientSecurity | undefined): Record<string, string> {
  const p: Record<string, string> = {};
  if (!s) return p;
  const protocol = s.protocol ?? 'PLAINTEXT';
  p['security.protocol'] = protocol;
  if (protocol.startsWith('SASL')) {
    const mech = s.mechanism ?? (s.token ? 'OAUTHBEARER' : 'PLAIN');
    p['sasl.mechanism'] = mech;
    if (mech === 'OAUTHBEARER') {
      if (!s.token) throw new Error('OAUTHBEARER needs a token');
      p['sasl.jaas.config'] =
        `org.apache.kafka.common.security.oauthbearer.OAuthBearerLoginModule required token=${jaasQuote(s.token)};`;
      p['sasl.login.callback.handler.class'] = STATIC_TOKEN_HANDLER_CLASS;
    } else {
      const module =
        mech === 'PLAIN' ? 'org.apache.kafka.common.security.plain.PlainLoginModule' : 'org.apache.kafka.common.security.scram.ScramLoginModule';
      p['sasl.jaas.config'] = `${module} required username=${jaasQuote(s.username ?? '')} password=${jaasQuote(s.password ?? '')};`;
    }
  }
  if (protocol.endsWith('SSL')) {
    if (s.caPemFile) {
      p['ssl.truststore.type'] = 'PEM';
      p['ssl.truststore.location'] = s.caPemFile;
    }
    if (s.certPemFile || s.keyPemFile) {
      throw new Error('client certificates: pass ssl.keystore.* in `props` (PEM text) for the perf tools');
    }
    p['ssl.endpoint.identification.algorithm'] = s.verifyHostname ? 'https' : '';
  }
  return p;
}

function writeProps(dir: string, props: Record<string, string | number | boolean>): string {
  const file = join(dir, 'client.properties');
  const text = Object.entries(props)
    .map(([k, v]) => `${k}=${String(v).replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
    .join('\n');
  writeFileSync(file, text + '\n');
  return file;
}

// ------------------------------------------------------------------ producer

export interface ProducerPerfOptions {
  bootstrap: string;
  topic: string;
  numRecords: number;
  recordSize: number;
  /** records/s cap; -1 (default) = as fast as possible */
  throughput?: number;
  acks?: 'all' | -1 | 0 | 1;
  compression?: Compression;
  lingerMs?: number;
  batchSize?: number;
  /** records excluded from the steady-state summary */
  warmupRecords?: number;
  /** a transactional producer (ProducerPerformance --transactional-id): records sent in transactions */
  transactionalId?: string;
  /** how long each transaction stays open before it is committed, ms (--transaction-duration-ms) */
  transactionDurationMs?: number;
  security?: ClientSecurity;
  /** more producer properties */
  props?: Record<string, string | number | boolean>;
  /** kill after this long, ms (default 10 min) */
  timeoutMs?: number;
  jvmArgs?: string[];
}

export interface ProducerPerfSummary {
  records: number;
  recordsPerSec: number;
  mbPerSec: number;
  avgLatencyMs: number;
  maxLatencyMs: number;
  /** percentiles, present on the final summary lines */
  p50Ms?: number;
  p95Ms?: number;
  p99Ms?: number;
  p999Ms?: number;
}

export interface ProducerPerfResult extends ProducerPerfSummary {
  /** the periodic progress lines */
  intervals: ProducerPerfSummary[];
  /** steady-state summary (after warmup), when warmupRecords was given */
  steadyState?: ProducerPerfSummary;
  output: string;
}

const PRODUCER_LINE =
  /(\d+) (?:steady state )?records sent, ([\d.]+) records\/sec \(([\d.]+) MB\/sec\), ([\d.]+) ms avg latency, ([\d.]+) ms max latency(?:, ([\d.]+) ms 50th, ([\d.]+) ms 95th, ([\d.]+) ms 99th, ([\d.]+) ms 99\.9th)?/;

/** Parses ProducerPerformance's stdout; the last line with percentiles is the total. */
export function parseProducerPerfOutput(text: string): ProducerPerfResult {
  const intervals: ProducerPerfSummary[] = [];
  const finals: Array<{ s: ProducerPerfSummary; steady: boolean }> = [];
  for (const line of text.split('\n')) {
    const m = PRODUCER_LINE.exec(line);
    if (!m) continue;
    const s: ProducerPerfSummary = {
      records: Number(m[1]),
      recordsPerSec: Number(m[2]),
      mbPerSec: Number(m[3]),
      avgLatencyMs: Number(m[4]),
      maxLatencyMs: Number(m[5]),
    };
    if (m[6] !== undefined) {
      s.p50Ms = Number(m[6]);
      s.p95Ms = Number(m[7]);
      s.p99Ms = Number(m[8]);
      s.p999Ms = Number(m[9]);
      finals.push({ s, steady: /steady/i.test(line) });
    } else {
      intervals.push(s);
    }
  }
  const total = finals.filter((f) => !f.steady).pop() ?? finals[finals.length - 1];
  if (!total) throw new Error(`no summary line in ProducerPerformance output:\n${text.slice(-2000)}`);
  const result: ProducerPerfResult = { ...total.s, intervals, output: text };
  const steady = finals.find((f) => f.steady);
  if (steady) result.steadyState = steady.s;
  return result;
}

export async function runProducerPerf(o: ProducerPerfOptions): Promise<ProducerPerfResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kop-perf-'));
  try {
    const props: Record<string, string | number | boolean> = { ...securityToJavaProps(o.security) };
    if (o.acks !== undefined) props.acks = String(o.acks);
    if (o.compression !== undefined) props['compression.type'] = o.compression;
    if (o.lingerMs !== undefined) props['linger.ms'] = o.lingerMs;
    if (o.batchSize !== undefined) props['batch.size'] = o.batchSize;
    Object.assign(props, o.props ?? {});
    const args = [
      '--bootstrap-server',
      o.bootstrap,
      '--topic',
      o.topic,
      '--num-records',
      String(o.numRecords),
      '--record-size',
      String(o.recordSize),
      '--throughput',
      String(o.throughput ?? -1),
      '--command-config',
      writeProps(dir, props),
    ];
    if (o.warmupRecords !== undefined) args.push('--warmup-records', String(o.warmupRecords));
    if (o.transactionalId !== undefined) args.push('--transactional-id', o.transactionalId);
    if (o.transactionDurationMs !== undefined) args.push('--transaction-duration-ms', String(o.transactionDurationMs));
    const r = checkResult(
      await runJavaMain(PRODUCER_PERF_CLASS, args, { jvmArgs: o.jvmArgs ?? PERF_JVM_ARGS, timeoutMs: o.timeoutMs ?? 600_000 }),
    );
    return parseProducerPerfOutput(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ consumer

export interface ConsumerPerfOptions {
  bootstrap: string;
  topic: string;
  /** records to consume; the tool fails when they do not arrive within `toolTimeoutMs` */
  numRecords: number;
  group?: string;
  fetchSize?: number;
  /** the tool's own limit on time without records, ms (default 10000) */
  toolTimeoutMs?: number;
  security?: ClientSecurity;
  props?: Record<string, string | number | boolean>;
  timeoutMs?: number;
  jvmArgs?: string[];
}

export interface ConsumerPerfResult {
  startTime: string;
  endTime: string;
  dataMb: number;
  mbPerSec: number;
  records: number;
  recordsPerSec: number;
  rebalanceMs: number;
  fetchMs: number;
  fetchMbPerSec: number;
  fetchRecordsPerSec: number;
  output: string;
}

/** Parses ConsumerPerformance's CSV-ish stdout (header line + one line of numbers). */
export function parseConsumerPerfOutput(text: string): ConsumerPerfResult {
  const lines = text.split('\n').map((l) => l.trim());
  const h = lines.findIndex((l) => l.startsWith('start.time'));
  if (h < 0) throw new Error(`no header line in ConsumerPerformance output:\n${text.slice(-2000)}`);
  const header = lines[h]!.split(',').map((s) => s.trim());
  const valuesLine = lines.slice(h + 1).find((l) => l !== '' && l.split(',').length >= header.length);
  if (!valuesLine) throw new Error(`no result line in ConsumerPerformance output:\n${text.slice(-2000)}`);
  const values = valuesLine.split(',').map((s) => s.trim());
  const get = (name: string): string => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`ConsumerPerformance output lacks ${name}: ${header.join(',')}`);
    return values[i]!;
  };
  const num = (name: string): number => Number(get(name));
  return {
    startTime: get('start.time'),
    endTime: get('end.time'),
    dataMb: num('data.consumed.in.MB'),
    mbPerSec: num('MB.sec'),
    records: num('data.consumed.in.nMsg'),
    recordsPerSec: num('nMsg.sec'),
    rebalanceMs: num('rebalance.time.ms'),
    fetchMs: num('fetch.time.ms'),
    fetchMbPerSec: num('fetch.MB.sec'),
    fetchRecordsPerSec: num('fetch.nMsg.sec'),
    output: text,
  };
}

export async function runConsumerPerf(o: ConsumerPerfOptions): Promise<ConsumerPerfResult> {
  const dir = mkdtempSync(join(tmpdir(), 'kop-perf-'));
  try {
    const props: Record<string, string | number | boolean> = {
      ...securityToJavaProps(o.security),
      'auto.offset.reset': 'earliest',
      ...(o.props ?? {}),
    };
    const args = [
      '--bootstrap-server',
      o.bootstrap,
      '--topic',
      o.topic,
      '--num-records',
      String(o.numRecords),
      '--timeout',
      String(o.toolTimeoutMs ?? 10_000),
      '--command-config',
      writeProps(dir, props),
    ];
    if (o.group !== undefined) args.push('--group', o.group);
    if (o.fetchSize !== undefined) args.push('--fetch-size', String(o.fetchSize));
    const r = checkResult(
      await runJavaMain(CONSUMER_PERF_CLASS, args, { jvmArgs: o.jvmArgs ?? PERF_JVM_ARGS, timeoutMs: o.timeoutMs ?? 600_000 }),
    );
    return parseConsumerPerfOutput(r.stdout);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
