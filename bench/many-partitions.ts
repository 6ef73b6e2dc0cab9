/**
 * `npm run bench:partitions`: one consumer over many partitions (1,000 by default), where
 * incremental fetch sessions (KIP-227) matter: the gateway with sessions (its default), the gateway
 * with sessions off (maxIncrementalFetchSessionCacheSlots=0: every fetch names every partition, as
 * before sessions existed) and Apache Kafka, one server at a time, same machine, same run.
 *
 *  - catch-up: records produced beforehand (100 B, spread over the partitions by Kafka's
 *    producer), then read by Kafka's ConsumerPerformance (one consumer in a group owning every
 *    partition): records/s and MB/s of its fetch phase, and the server's CPU seconds;
 *  - tail: the consumer is at the end of every partition and keeps polling while a producer adds a
 *    trickle of records (200/s by default): most partitions are empty on most fetches, which is
 *    what a many-partition consumer mostly does. The figure is the server's CPU seconds per second
 *    of tail (fetches answered, producer included, the same load on every target).
 *
 * Options: --partitions N (1000), --records N (1,000,000; --quick 100,000), --tail-seconds S (30;
 * --quick 15), --tail-rate R (200), --targets gateway,gateway-nosessions,kafka.
 * Writes bench/results/partitions-<timestamp>.md (+ .json) and prints the markdown.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { JavaKafkaClient } from '../test/helpers/clients/java.js';
import { repoRoot } from '../test/helpers/clients/paths.js';
import { runConsumerPerf, runProducerPerf } from './kafka-reference/perf.js';
import { TARGETS, startTarget, type RunningTarget, type TargetSpec } from './lib/targets.js';
import { cpuWindow, type CpuWindow } from './lib/system.js';

type Id = 'gateway' | 'gateway-nosessions' | 'kafka';
const IDS: readonly Id[] = ['gateway', 'gateway-nosessions', 'kafka'];

interface Options {
  partitions: number;
  records: number;
  tailSeconds: number;
  tailRate: number;
  quick: boolean;
  targets: Id[];
}

interface Result {
  target: Id;
  label: string;
  catchUp?: { records: number; fetchRecordsPerSec: number; fetchMbPerSec: number; cpu: CpuWindow };
  tail?: { records: number; seconds: number; cpu: CpuWindow; serverCpuPerSec?: number };
  error?: string;
}

const RECORD_SIZE = 100;
const PRODUCER_PROPS = { 'compression.type': 'none', 'linger.ms': '5', 'batch.size': '16384' };

function progress(msg: string): void {
  process.stderr.write(`[bench:partitions ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = { partitions: 1000, records: quick ? 100_000 : 1_000_000, tailSeconds: quick ? 15 : 30, tailRate: 200, quick, targets: [...IDS] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--partitions') o.partitions = Number(argv[++i]);
    else if (a === '--records') o.records = Number(argv[++i]);
    else if (a === '--tail-seconds') o.tailSeconds = Number(argv[++i]);
    else if (a === '--tail-rate') o.tailRate = Number(argv[++i]);
    else if (a === '--targets') o.targets = argv[++i]!.split(',').map((s) => s.trim()) as Id[];
    else if (a !== '--quick') throw new Error(`unknown option ${a}`);
  }
  for (const t of o.targets) if (!IDS.includes(t)) throw new Error(`unknown target ${t} (known: ${IDS.join(', ')})`);
  return o;
}

function specFor(id: Id): TargetSpec {
  if (id === 'kafka') return TARGETS.kafka;
  if (id === 'gateway') return { ...TARGETS.gateway, label: 'gateway (fetch sessions)' };
  return {
    ...TARGETS.gateway,
    label: 'gateway (fetch sessions off)',
    settings: { ...TARGETS.gateway.settings, KOP_MAX_INCREMENTAL_FETCH_SESSION_CACHE_SLOTS: '0' },
  };
}

async function runTarget(o: Options, id: Id): Promise<Result> {
  const spec = specFor(id);
  const result: Result = { target: id, label: spec.label };
  progress(`${spec.label}: starting`);
  const t: RunningTarget = await startTarget(spec);
  try {
    const admin = new JavaKafkaClient({ bootstrap: t.bootstrap, processTimeoutMs: 180_000 });
    const created = await admin.createTopics([
      { name: 'mp-catchup', partitions: o.partitions },
      { name: 'mp-tail', partitions: o.partitions },
    ]);
    for (const c of created) if (c.error) throw new Error(`create ${c.topic}: ${c.error}`);

    progress(`${spec.label}: producing ${o.records} records over ${o.partitions} partitions`);
    await runProducerPerf({ bootstrap: t.bootstrap, topic: 'mp-catchup', numRecords: o.records, recordSize: RECORD_SIZE, acks: 1, props: PRODUCER_PROPS, timeoutMs: 600_000 });
    await sleep(2000);
    let end = cpuWindow(t.pid);
    const c = await runConsumerPerf({ bootstrap: t.bootstrap, topic: 'mp-catchup', numRecords: o.records, group: 'mp-catchup', props: { 'auto.offset.reset': 'earliest' }, toolTimeoutMs: 30_000, timeoutMs: 600_000 });
    result.catchUp = { records: c.records, fetchRecordsPerSec: c.fetchRecordsPerSec, fetchMbPerSec: c.fetchMbPerSec, cpu: end() };
    progress(`${spec.label}: catch-up ${Math.round(c.fetchRecordsPerSec)} rec/s, ${c.fetchMbPerSec.toFixed(2)} MB/s, server CPU ${result.catchUp.cpu.serverCpuS?.toFixed(1)} s`);

    // tail: the consumer joins and polls the empty partitions, then the trickle starts
    const tailRecords = o.tailRate * o.tailSeconds;
    const consumer = runConsumerPerf({ bootstrap: t.bootstrap, topic: 'mp-tail', numRecords: tailRecords, group: 'mp-tail', props: { 'auto.offset.reset': 'earliest' }, toolTimeoutMs: 60_000, timeoutMs: 600_000 });
    await sleep(8000);
    end = cpuWindow(t.pid);
    const started = Date.now();
    await runProducerPerf({ bootstrap: t.bootstrap, topic: 'mp-tail', numRecords: tailRecords, recordSize: RECORD_SIZE, acks: 1, throughput: o.tailRate, props: PRODUCER_PROPS, timeoutMs: 600_000 });
    const tc = await consumer;
    const cpu = end();
    const seconds = (Date.now() - started) / 1000;
    result.tail = { records: tc.records, seconds, cpu, ...(cpu.serverCpuS !== undefined ? { serverCpuPerSec: cpu.serverCpuS / cpu.wallS } : {}) };
    progress(`${spec.label}: tail ${tc.records} records in ${seconds.toFixed(1)} s, server CPU ${cpu.serverCpuS?.toFixed(1)} s (${result.tail.serverCpuPerSec?.toFixed(3)} s/s)`);
  } catch (e) {
    result.error = e instanceof Error ? e.message : String(e);
    progress(`${spec.label}: FAILED ${result.error.split('\n')[0]}`);
  } finally {
    await t.stop();
  }
  return result;
}

function markdown(o: Options, results: Result[], startedAt: string): string {
  const f = (x: number | undefined, d = 0) => (x === undefined ? '?' : x.toFixed(d));
  return [
    `# Many-partition consumer: fetch sessions (KIP-227)`,
    '',
    `${startedAt}; ${o.partitions} partitions; catch-up over ${o.records} records of ${RECORD_SIZE} B; tail ${o.tailSeconds} s at ${o.tailRate} records/s${o.quick ? '; QUICK mode' : ''}.`,
    '',
    '| target | catch-up records/s | catch-up MB/s | catch-up server CPU s | tail server CPU s per s | error |',
    '| --- | --- | --- | --- | --- | --- |',
    ...results.map(
      (r) =>
        `| ${r.label} | ${f(r.catchUp?.fetchRecordsPerSec)} | ${f(r.catchUp?.fetchMbPerSec, 2)} | ${f(r.catchUp?.cpu.serverCpuS, 1)} | ${f(r.tail?.serverCpuPerSec, 3)} | ${r.error?.split('\n')[0] ?? ''} |`,
    ),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const startedAt = new Date().toISOString();
  const results: Result[] = [];
  for (const id of o.targets) results.push(await runTarget(o, id));
  const md = markdown(o, results, startedAt);
  const dir = join(repoRoot(), 'bench/results');
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '-');
  writeFileSync(join(dir, `partitions-${stamp}.md`), md);
  writeFileSync(join(dir, `partitions-${stamp}.json`), JSON.stringify({ options: o, results }, null, 2));
  process.stdout.write(md);
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
