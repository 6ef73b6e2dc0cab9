/**
 * `npm run bench:compaction`: log compaction, the gateway (embedded engine) against Apache Kafka's
 * log cleaner, same machine, same run, same keyed load:
 *
 *  - produce throughput on a compacted topic while the cleaner runs (keyed records, acks=all,
 *    Kafka's producer defaults; bench/kafka-reference/KopKeyedLoad.java, since
 *    ProducerPerformance sends no keys and compacted topics refuse keyless records);
 *  - the cleaner's throughput: MB of log processed per second of cleaning, summed over the passes
 *    the cleaner made during and after the load (Kafka: its "MB of log processed in N seconds"
 *    lines; the gateway: its cleaner's pass statistics, the same measure: bytes of the segments
 *    rewritten / wall time of the pass including the key map).
 *
 * Both cleaners run unthrottled with a 32 MiB key map, a 200 ms back-off and
 * min.cleanable.dirty.ratio=0.01 on a topic with 4 MiB segments. The gateway fsyncs every batch
 * before acknowledging (its default), Kafka leaves flushing to the OS (its default).
 *
 * Options: --records N (600000), --keys K (20000), --value-size S (100), --quick (150000 records).
 * Writes bench/results/compaction-<timestamp>.md (+ .json) and prints the markdown.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startKafkaBroker } from './kafka-reference/broker.js';
import { compileJavaSource } from '../test/helpers/clients/java-compile.js';
import { JavaKafkaClient, javaLog4jConfig } from '../test/helpers/clients/java.js';
import { harnessEnv, repoRoot } from '../test/helpers/clients/paths.js';
import { checkResult, runCommand } from '../test/helpers/clients/proc.js';
import { startTestGateway } from '../test/helpers/gateway.js';
import type { EmbeddedEngine } from '../src/storage/embedded/engine.js';

interface Options {
  records: number;
  keys: number;
  valueSize: number;
}

interface TargetResult {
  target: 'kafka' | 'gateway';
  produce: { records: number; seconds: number; recordsPerSec: number; mbPerSec: number };
  passes: number;
  mbCleaned: number;
  cleanerSeconds: number;
  cleanerMbPerSec: number;
}

const TOPIC = 'compaction-bench';
const TOPIC_CONFIGS = { 'cleanup.policy': 'compact', 'segment.bytes': String(4 << 20), 'min.cleanable.dirty.ratio': '0.01' };

function progress(msg: string): void {
  process.stderr.write(`[bench:compaction ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function parseOptions(argv: string[]): Options {
  const o: Options = { records: 600_000, keys: 20_000, valueSize: 100 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') o.records = 150_000;
    else if (a === '--records') o.records = Number(argv[++i]);
    else if (a === '--keys') o.keys = Number(argv[++i]);
    else if (a === '--value-size') o.valueSize = Number(argv[++i]);
    else throw new Error(`unknown option ${a} (see the top of bench/compaction.ts)`);
  }
  return o;
}

async function keyedLoad(bootstrap: string, o: Options): Promise<TargetResult['produce']> {
  const env = harnessEnv();
  const classes = await compileJavaSource({
    source: join(repoRoot(), 'bench/kafka-reference/KopKeyedLoad.java'),
    mainClass: 'KopKeyedLoad',
    cacheName: 'bench-keyed-load',
    classpath: env.javaClasspath,
    salt: `kafka ${env.kafkaVersion}`,
  });
  const r = await runCommand(
    env.java,
    ['-Xmx512m', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}:${env.javaClasspath}`, 'KopKeyedLoad', bootstrap, TOPIC, String(o.records), String(o.keys), String(o.valueSize)],
    { timeoutMs: 900_000 },
  );
  checkResult(r);
  const m = /records=(\d+) seconds=([\d.]+) recordsPerSec=([\d.]+) mbPerSec=([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`unexpected KopKeyedLoad output: ${r.stdout} ${r.stderr}`);
  return { records: Number(m[1]), seconds: Number(m[2]), recordsPerSec: Number(m[3]), mbPerSec: Number(m[4]) };
}

async function createTopic(bootstrap: string): Promise<void> {
  const res = await new JavaKafkaClient({ bootstrap }).createTopics([{ name: TOPIC, partitions: 1, replicationFactor: 1, configs: TOPIC_CONFIGS }]);
  if (res[0]?.error) throw new Error(`create ${TOPIC}: ${res[0].error} ${res[0].message ?? ''}`);
}

/** Wait until `count()` has not changed for quietMs (after at least one pass), at most maxMs. */
async function settle(count: () => number, quietMs: number, maxMs: number): Promise<void> {
  const end = Date.now() + maxMs;
  let last = count();
  let since = Date.now();
  while (Date.now() < end) {
    await sleep(250);
    const c = count();
    if (c !== last) {
      last = c;
      since = Date.now();
    } else if (c > 0 && Date.now() - since >= quietMs) return;
  }
}

async function runKafka(o: Options): Promise<TargetResult> {
  progress('kafka: starting the reference broker');
  const kafka = await startKafkaBroker({ config: { 'log.cleaner.backoff.ms': 200, 'log.cleaner.dedupe.buffer.size': 32 << 20, 'log.cleaner.threads': 1 } });
  try {
    await createTopic(kafka.bootstrap);
    progress(`kafka: producing ${o.records} keyed records`);
    const produce = await keyedLoad(kafka.bootstrap, o);
    const passes = (): Array<{ mb: number; secs: number }> => {
      const text = readFileSync(kafka.logFile, 'utf8');
      const re = new RegExp(`cleaned log ${TOPIC}-0 \\(dirty section = \\[\\d+, \\d+\\]\\)\\s+([\\d,.]+) MB of log processed in ([\\d,.]+) seconds`, 'g');
      return [...text.matchAll(re)].map((m) => ({ mb: Number(m[1]!.replace(/,/g, '')), secs: Number(m[2]!.replace(/,/g, '')) }));
    };
    await settle(() => passes().length, 3000, 120_000);
    const p = passes();
    const mb = p.reduce((n, x) => n + x.mb, 0);
    const secs = p.reduce((n, x) => n + x.secs, 0);
    return { target: 'kafka', produce, passes: p.length, mbCleaned: mb, cleanerSeconds: secs, cleanerMbPerSec: secs > 0 ? mb / secs : 0 };
  } finally {
    await kafka.stop();
  }
}

async function runGateway(o: Options): Promise<TargetResult> {
  progress('gateway: starting (embedded engine)');
  const gw = await startTestGateway({ logCleanerBackoffMs: 200, logCleanerIoMaxBytesPerSecond: 0, logCleanerDedupeBufferSize: 32 << 20 });
  try {
    await createTopic(gw.bootstrap);
    progress(`gateway: producing ${o.records} keyed records`);
    const produce = await keyedLoad(gw.bootstrap, o);
    const engine = gw.gateway.context.storage as EmbeddedEngine;
    const mine = () => engine.cleaner.history.filter((s) => s.partition.includes(TOPIC));
    await settle(() => mine().length, 3000, 120_000);
    const p = mine();
    const mb = p.reduce((n, x) => n + x.bytesRead / 1048576, 0);
    const secs = p.reduce((n, x) => n + x.elapsedMs / 1000, 0);
    return { target: 'gateway', produce, passes: p.length, mbCleaned: mb, cleanerSeconds: secs, cleanerMbPerSec: secs > 0 ? mb / secs : 0 };
  } finally {
    await gw.stop();
  }
}

function markdown(o: Options, results: TargetResult[]): string {
  const f = (x: number, d = 1): string => x.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });
  const lines = [
    `# Compaction benchmark (${new Date().toISOString()})`,
    '',
    `${o.records.toLocaleString('en-US')} records, ${o.keys.toLocaleString('en-US')} keys, ${o.valueSize} B values, acks=all; topic: ${Object.entries(TOPIC_CONFIGS).map(([k, v]) => `${k}=${v}`).join(', ')}; cleaners unthrottled, 32 MiB key map, 200 ms back-off.`,
    '',
    '| target | produce records/s | produce MB/s | cleaner passes | MB cleaned | cleaning s | cleaner MB/s |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...results.map((r) => `| ${r.target} | ${f(r.produce.recordsPerSec, 0)} | ${f(r.produce.mbPerSec, 2)} | ${r.passes} | ${f(r.mbCleaned)} | ${f(r.cleanerSeconds, 2)} | ${f(r.cleanerMbPerSec)} |`),
  ];
  const k = results.find((r) => r.target === 'kafka');
  const g = results.find((r) => r.target === 'gateway');
  if (k && g) {
    lines.push(
      `| gateway ÷ kafka | ${f(g.produce.recordsPerSec / k.produce.recordsPerSec, 2)} | ${f(g.produce.mbPerSec / k.produce.mbPerSec, 2)} | | | | ${k.cleanerMbPerSec > 0 ? f(g.cleanerMbPerSec / k.cleanerMbPerSec, 2) : 'n/a'} |`,
    );
  }
  lines.push('', 'Kafka prints its cleaning time with one decimal: short passes round to 0.0 s, so the Kafka MB/s is only meaningful with enough data (use the default size, not --quick).');
  return lines.join('\n') + '\n';
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const results: TargetResult[] = [];
  results.push(await runKafka(o));
  results.push(await runGateway(o));
  const md = markdown(o, results);
  const dir = join(repoRoot(), 'bench/results');
  mkdirSync(dir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  writeFileSync(join(dir, `compaction-${stamp}.md`), md);
  writeFileSync(join(dir, `compaction-${stamp}.json`), JSON.stringify({ options: o, results }, null, 2));
  process.stdout.write(md);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:compaction failed: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
