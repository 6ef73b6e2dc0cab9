/**
 * What one benchmark run measures: options (flags and environment), record counts, and the
 * shape of the results that the report is made of.
 */
import { parseArgs } from 'node:util';
import type { ConsumerPerfResult, ProducerPerfSummary } from '../kafka-reference/perf.js';
import { TARGET_IDS, type TargetId } from './targets.js';
import type { CpuWindow, MachineInfo, ToolsInfo } from './system.js';

export const USAGE = `Usage: npm run bench -- [options]    (or node dist/bench/run.js after npm run build)

Measures the gateway and Apache Kafka ${'(the reference broker)'} with Kafka's own load generators,
one server at a time, and writes bench/results/<timestamp>.md and .json (markdown also on stdout).

  --quick                 about a tenth of the records (a smoke check, ~2 min)    env KOP_BENCH_QUICK=1
  --targets LIST          comma-separated: ${TARGET_IDS.join(', ')}
                          (default all; the gateway-pulsar ones start a Pulsar standalone broker
                          with scripts/pulsar/standalone.sh and are skipped without its jars)  env KOP_BENCH_TARGETS
  --sizes LIST            record sizes in bytes (default 100,1024)               env KOP_BENCH_SIZES
  --latency-fraction F    latency runs offer F x the slowest target's acks=all
                          throughput (default 0.5)                               env KOP_BENCH_LATENCY_FRACTION
  --out DIR               report folder (default bench/results)                  env KOP_BENCH_OUT
  --quiet-wait S          before each run, wait up to S seconds (default 30, 0 = off) for the
                          machine to be quiet (other processes under 15% of its CPU); at most
                          3 x S in total                                          env KOP_BENCH_QUIET_WAIT
  --retries N             repeat a run disturbed by other processes (over 10% of the machine's
                          CPU) up to N times, keep the least disturbed (default 1)  env KOP_BENCH_RETRIES
  --cpu-prof              run the gateway under node --cpu-prof; .cpuprofile files next to the report
  --help`;

export interface BenchOptions {
  quick: boolean;
  targets: TargetId[];
  sizes: number[];
  latencyFraction: number;
  outDir?: string;
  cpuProf: boolean;
  /** max seconds to wait for a quiet machine before each run (0 = do not wait) */
  quietWaitS: number;
  /** repeats of a disturbed run */
  retries: number;
}

function truthy(v: string | undefined): boolean {
  return v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv = process.env): BenchOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean' },
      targets: { type: 'string' },
      sizes: { type: 'string' },
      'latency-fraction': { type: 'string' },
      out: { type: 'string' },
      'quiet-wait': { type: 'string' },
      retries: { type: 'string' },
      'cpu-prof': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) return 'help';
  const targetsText = values.targets ?? env.KOP_BENCH_TARGETS ?? TARGET_IDS.join(',');
  const targets = targetsText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const t of targets) {
    if (!(TARGET_IDS as readonly string[]).includes(t)) throw new Error(`unknown target '${t}' (known: ${TARGET_IDS.join(', ')})`);
  }
  if (targets.length === 0) throw new Error('no targets selected');
  // keep the canonical order: gateway first, Kafka last
  const ordered = TARGET_IDS.filter((t) => targets.includes(t));
  const sizes = (values.sizes ?? env.KOP_BENCH_SIZES ?? '100,1024').split(',').map((s) => Number(s.trim()));
  for (const s of sizes) if (!Number.isInteger(s) || s < 1 || s > 1_000_000) throw new Error(`bad record size '${s}'`);
  const latencyFraction = Number(values['latency-fraction'] ?? env.KOP_BENCH_LATENCY_FRACTION ?? '0.5');
  if (!(latencyFraction > 0 && latencyFraction <= 1)) throw new Error('--latency-fraction must be in (0, 1]');
  const quietWaitS = Number(values['quiet-wait'] ?? env.KOP_BENCH_QUIET_WAIT ?? '30');
  if (!(quietWaitS >= 0)) throw new Error('--quiet-wait must be a number of seconds >= 0');
  const retries = Number(values.retries ?? env.KOP_BENCH_RETRIES ?? '1');
  if (!(Number.isInteger(retries) && retries >= 0)) throw new Error('--retries must be an integer >= 0');
  const o: BenchOptions = {
    quick: values.quick ?? truthy(env.KOP_BENCH_QUICK),
    targets: ordered,
    sizes,
    latencyFraction,
    cpuProf: values['cpu-prof'] ?? false,
    quietWaitS,
    retries,
  };
  const out = values.out ?? env.KOP_BENCH_OUT;
  if (out) o.outDir = out;
  return o;
}

/** Records per unthrottled produce run and its warm-up part, by record size. */
export function throughputCounts(size: number, quick: boolean): { records: number; warmup: number } {
  // 50 MB (100 B records) / 150 MB (1 KiB) of values: 5-25 s per run on the 2-core machine here
  const bytes = size <= 256 ? 50e6 : 150e6;
  let records = Math.round(bytes / size / 1000) * 1000;
  records = Math.min(Math.max(records, 10_000), 2_000_000);
  if (quick) records = Math.max(5_000, Math.round(records / 10 / 1000) * 1000);
  return { records, warmup: Math.round(records / 5) };
}

/** Duration of a latency run (fixed rate), seconds, and its warm-up, seconds. */
export function latencySeconds(quick: boolean): { measure: number; warmup: number } {
  return quick ? { measure: 3, warmup: 1 } : { measure: 10, warmup: 3 };
}

/** Used when no target produced an acks=all figure to derive the latency rate from. */
export function fallbackLatencyRate(size: number): number {
  return size <= 256 ? 10_000 : 2_000;
}

/** 2 significant digits, rounded down: 23_456 -> 23_000. */
export function roundDown2(x: number): number {
  if (x <= 0) return 0;
  const p = 10 ** Math.max(0, Math.floor(Math.log10(x)) - 1);
  return Math.floor(x / p) * p;
}

// ------------------------------------------------------------------ results

/**
 * produce-txn: unthrottled acks=all produce by a transactional producer (TXN_DURATION_MS per transaction).
 * produce-franz: unthrottled acks=all produce by the franz-go driver instead of ProducerPerformance (bench/lib/franz.ts).
 */
export type RunKind = 'produce' | 'produce-txn' | 'produce-franz' | 'latency' | 'consume';

/**
 * How long each transaction of a produce-txn run stays open: Kafka Streams' commit interval under
 * exactly_once_v2 (commit.interval.ms defaults to 100 ms there), the commonest transactional producer.
 */
export const TXN_DURATION_MS = 100;

export interface RunResult {
  target: TargetId;
  kind: RunKind;
  size: number;
  topic: string;
  acks?: 'all' | 1;
  /** --throughput given to ProducerPerformance (-1 = unthrottled) */
  throughputArg?: number;
  records: number;
  warmupRecords?: number;
  /** the summary the report uses: the steady-state line when there was a warm-up */
  producer?: ProducerPerfSummary;
  /** the tool's total line (warm-up included) */
  producerTotal?: ProducerPerfSummary;
  consumer?: Omit<ConsumerPerfResult, 'output'>;
  cpu?: CpuWindow;
  /** set when a repeat replaced a more disturbed attempt: which attempt this is (2, 3, ...) */
  attempt?: number;
  /** time spent waiting for a quiet machine before the run, and whether it got quiet */
  quietWait?: { waitedMs: number; quiet: boolean; lastShare?: number };
  error?: string;
  /** something the reader should know about this run */
  notes: string[];
}

export interface TargetRecord {
  id: TargetId;
  label: string;
  settings: Record<string, string>;
  durability: string;
  /** one entry per start (throughput phase, latency phase) */
  starts: Array<{
    phase: string;
    startupMs: number;
    peakRssMiB?: number;
    warnings: string[];
    error?: string;
    /** not run here, and why (Pulsar targets without the Pulsar jars) */
    skipped?: string;
    /** Pulsar targets: the broker was started for this start, in this many ms */
    pulsarStartupMs?: number;
    /** Pulsar targets: the broker's peak RSS since its start */
    brokerPeakRssMiB?: number;
  }>;
}

export interface BenchReport {
  title: string;
  startedAt: string;
  finishedAt: string;
  durationS: number;
  options: BenchOptions;
  command: string;
  machine: MachineInfo;
  tools: ToolsInfo;
  producerSettings: Record<string, string>;
  consumerSettings: Record<string, string>;
  latencyRates: Record<string, number>;
  targets: TargetRecord[];
  runs: RunResult[];
  /** attempts replaced by a less disturbed repeat */
  discardedRuns: RunResult[];
  /** the Pulsar standalone broker of the gateway-pulsar targets */
  pulsar?: { version: string; heap: string; directMemory: string; conf: Record<string, string>; skipped?: string };
  /** the franz-go produce runs: why they were skipped, when they were */
  franz?: { settings: Record<string, string>; skipped?: string };
  /** machine-wide CPU used by other processes during the measured runs, share of capacity */
  otherCpuShareMax?: number;
  loadAvgAtEnd: number[];
}
