/**
 * `npm run bench:hop`: what one more process between a producer and the Pulsar broker costs on
 * this machine, as a yardstick for issue 12's produce target (the gateway on Pulsar at >= 0.9x the
 * native Pulsar producer with the same in-flight window).
 *
 * On one Pulsar standalone broker (the benchmark's settings), alternating, for --rounds rounds:
 *  - `native`: the native Pulsar Java producer with the Kafka producer's window (5 batches of
 *    16 KiB, bench/pulsar-native), straight to the broker: the target's denominator;
 *  - `native via relay`: the same producer through a zero-work TCP relay (bench/lib/relay.ts, a
 *    Node process forwarding bytes): the cost of the hop alone, with no work done in it;
 *  - `gateway`: franz-go (bench/franz-perf, the same window, acks=all) through the gateway on the
 *    same broker, entryFormat=kafka, after an unmeasured warm-up run on each gateway start. Its
 *    client-side request time (write to response read, from franz-go's hooks) is reported too.
 * Each run: --records records of 1 KiB (150,000; --quick 50,000), the first fifth left out as
 * warm-up. Before the rounds, one unmeasured run of each kind of producer warms the broker's JIT.
 * Figures per round and the mean of the rounds; the broker's CPU per record.
 *
 * Options: --rounds N (3), --records N, --quick. Writes bench/results/hop-<timestamp>.md (+ .json)
 * and prints the markdown.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../test/helpers/clients/paths.js';
import { prepareFranz, runFranzProducerPerf } from './lib/franz.js';
import { startPulsarBroker, pulsarUnavailable, type PulsarBroker } from './lib/pulsar.js';
import { kafkaProducerWindow, runNativeProducerPerf, type NativePulsar } from './lib/pulsar-native.js';
import { connectedPorts, relayPortLike } from './lib/relay.js';
import { cpuWindow } from './lib/system.js';
import { TARGETS, startGatewayProcess } from './lib/targets.js';

type Kind = 'native' | 'relay' | 'gateway';
const LABEL: Record<Kind, string> = { native: 'native', relay: 'native via relay', gateway: 'gateway (kafka format), franz-go' };
const RECORD_SIZE = 1024;

interface Options {
  rounds: number;
  records: number;
  quick: boolean;
}

interface Run {
  round: number;
  kind: Kind;
  recordsPerSec: number;
  brokerCpuUsPerRecord?: number;
  /** gateway: franz-go's Produce requests, client side */
  requests?: { perSec: number; e2eMs: number };
  error?: string;
}

function progress(msg: string): void {
  process.stderr.write(`[bench:hop ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

function parseOptions(argv: string[]): Options {
  const quick = argv.includes('--quick');
  const o: Options = { rounds: 3, records: quick ? 50_000 : 150_000, quick };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--records') o.records = Number(argv[++i]);
    else if (a !== '--quick') throw new Error(`unknown option ${a}`);
  }
  if (!(o.rounds >= 1 && o.records >= 10_000)) throw new Error('--rounds >= 1 and --records >= 10000');
  return o;
}

async function startRelayProcess(brokerPort: number): Promise<{ port: number; child: ChildProcess }> {
  const port = await relayPortLike(brokerPort);
  const child = spawn(process.execPath, [join(repoRoot(), 'dist', 'bench', 'lib', 'relay.js'), String(brokerPort), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`relay exited with ${code}`)));
    child.stdout!.on('data', (b: Buffer) => {
      if (b.toString().includes('relay ready')) resolve();
    });
  });
  return { port, child };
}

async function nativeRun(o: Options, broker: PulsarBroker, p: NativePulsar, topic: string, mustUsePort: number): Promise<Omit<Run, 'round' | 'kind'>> {
  const cpu = cpuWindow(broker.pid);
  const r = await runNativeProducerPerf(p, { topic, numRecords: o.records, recordSize: RECORD_SIZE, warmupRecords: o.records / 5, maxPending: kafkaProducerWindow(RECORD_SIZE) });
  const w = cpu();
  const ports = connectedPorts(r.output);
  if (ports.size === 0 || [...ports].some((x) => x !== mustUsePort)) throw new Error(`the client connected to port(s) ${[...ports].join(', ') || 'none seen'}, expected only ${mustUsePort}`);
  return { recordsPerSec: r.steadyState!.recordsPerSec, ...(w.serverCpuS !== undefined ? { brokerCpuUsPerRecord: (w.serverCpuS / o.records) * 1e6 } : {}) };
}

async function gatewayRun(o: Options, broker: PulsarBroker, tag: string): Promise<Omit<Run, 'round' | 'kind'>> {
  const gw = await startGatewayProcess(TARGETS['gateway-pulsar-kafka'], { pulsar: broker });
  try {
    await runFranzProducerPerf({ bootstrap: gw.bootstrap, topic: `hop-gw-warm-${tag}`, numRecords: Math.round(o.records / 3), recordSize: RECORD_SIZE });
    const cpu = cpuWindow(broker.pid);
    const r = await runFranzProducerPerf({ bootstrap: gw.bootstrap, topic: `hop-gw-${tag}`, numRecords: o.records, recordSize: RECORD_SIZE, warmupRecords: o.records / 5 });
    const w = cpu();
    const m = /produce requests: \d+, ([\d.]+)\/s, ([\d.]+) ms avg write-to-response-read/.exec(r.output);
    return {
      recordsPerSec: r.steadyState!.recordsPerSec,
      ...(w.serverCpuS !== undefined ? { brokerCpuUsPerRecord: (w.serverCpuS / o.records) * 1e6 } : {}),
      ...(m ? { requests: { perSec: Number(m[1]), e2eMs: Number(m[2]) } } : {}),
    };
  } finally {
    await gw.stop();
  }
}

function markdown(o: Options, runs: Run[], startedAt: string, brokerConf: Record<string, string>): string {
  const kinds: Kind[] = ['native', 'relay', 'gateway'];
  const ok = (k: Kind, round?: number) => runs.filter((r) => r.kind === k && !r.error && (round === undefined || r.round === round));
  const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : undefined);
  const f = (x: number | undefined, d = 0) => (x === undefined ? '?' : x.toFixed(d));
  const rate = (k: Kind, round?: number) => mean(ok(k, round).map((r) => r.recordsPerSec));
  const ratio = (k: Kind, round?: number) => {
    const a = rate(k, round);
    const b = rate('native', round);
    return a !== undefined && b ? `${(a / b).toFixed(2)}×` : '?';
  };
  const rows: string[] = [];
  for (let round = 0; round < o.rounds; round++) {
    rows.push(`| ${round + 1} | ${kinds.map((k) => f(rate(k, round))).join(' | ')} | ${ratio('relay', round)} | ${ratio('gateway', round)} |`);
  }
  rows.push(`| mean | ${kinds.map((k) => f(rate(k))).join(' | ')} | ${ratio('relay')} | ${ratio('gateway')} |`);
  // one disturbed run moves a mean of a few rounds a lot on a shared 2-core machine: the median of the rounds' ratios is the figure to quote
  const median = (k: Kind) => {
    const xs: number[] = [];
    for (let round = 0; round < o.rounds; round++) {
      const a = rate(k, round);
      const b = rate('native', round);
      if (a !== undefined && b) xs.push(a / b);
    }
    xs.sort((x, y) => x - y);
    if (!xs.length) return '?';
    const m = xs.length % 2 ? xs[(xs.length - 1) / 2]! : (xs[xs.length / 2 - 1]! + xs[xs.length / 2]!) / 2;
    return `${m.toFixed(2)}×`;
  };
  rows.push(`| median of the rounds' ratios | | | | **${median('relay')}** | **${median('gateway')}** |`);
  const errors = runs.filter((r) => r.error).map((r) => `- round ${r.round + 1}, ${LABEL[r.kind]}: ${r.error!.split('\n')[0]}`);
  const e2e = mean(ok('gateway').flatMap((r) => (r.requests ? [r.requests.e2eMs] : [])));
  return [
    '# One more hop: the native Pulsar producer direct, through a zero-work relay, and the gateway',
    '',
    `${startedAt}; ${o.rounds} rounds; ${o.records} records of ${RECORD_SIZE} B per run (the first fifth is warm-up)${o.quick ? '; QUICK mode' : ''}; window: ${kafkaProducerWindow(RECORD_SIZE)} records (5 batches of 16 KiB); broker: ${Object.entries(brokerConf).map(([k, v]) => `${k}=${v}`).join(', ') || 'standalone defaults'}.`,
    '',
    `| round | ${kinds.map((k) => `${LABEL[k]}, records/s`).join(' | ')} | relay ÷ native | gateway ÷ native |`,
    `| --- | ${kinds.map(() => '---').join(' | ')} | --- | --- |`,
    ...rows,
    '',
    `Broker CPU µs/record (mean): ${kinds.map((k) => `${LABEL[k]} ${f(mean(ok(k).flatMap((r) => (r.brokerCpuUsPerRecord !== undefined ? [r.brokerCpuUsPerRecord] : []))), 1)}`).join('; ')}.`,
    ...(e2e !== undefined ? [`franz-go's Produce request, write to response read (mean): ${e2e.toFixed(2)} ms.`] : []),
    ...(errors.length ? ['', 'Failed runs:', ...errors] : []),
    '',
  ].join('\n');
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const why = pulsarUnavailable();
  if (why) throw new Error(why);
  const startedAt = new Date().toISOString();
  await prepareFranz();
  const broker = await startPulsarBroker();
  let relay: ChildProcess | undefined;
  const runs: Run[] = [];
  try {
    const brokerPort = Number(new URL(broker.serviceUrl).port);
    const r = await startRelayProcess(brokerPort);
    relay = r.child;
    const namespace = await broker.newNamespace('bench-hop');
    const direct: NativePulsar = { serviceUrl: broker.serviceUrl, tokenFile: broker.adminTokenFile, namespace };
    const viaRelay: NativePulsar = { ...direct, serviceUrl: `pulsar://127.0.0.1:${r.port}` };
    // as npm run bench: the broker's JIT is warm before the first measured run, for both kinds of producer
    progress(`broker ${broker.serviceUrl}, relay on ${r.port}; warming the broker up (unmeasured)`);
    await nativeRun(o, broker, direct, 'hop-warm', brokerPort);
    await gatewayRun(o, broker, 'warm');
    for (let round = 0; round < o.rounds; round++) {
      for (const kind of ['native', 'relay', 'gateway'] as Kind[]) {
        try {
          const res =
            kind === 'gateway'
              ? await gatewayRun(o, broker, String(round))
              : await nativeRun(o, broker, kind === 'native' ? direct : viaRelay, `hop-${kind}-${round}`, kind === 'native' ? brokerPort : r.port);
          runs.push({ round, kind, ...res });
          progress(`round ${round + 1} ${LABEL[kind]}: ${Math.round(res.recordsPerSec)} records/s`);
        } catch (e) {
          runs.push({ round, kind, recordsPerSec: 0, error: e instanceof Error ? e.message : String(e) });
          progress(`round ${round + 1} ${LABEL[kind]}: FAILED ${String(e).split('\n')[0]}`);
        }
      }
    }
  } finally {
    relay?.kill('SIGTERM');
    await broker.stop();
  }
  const md = markdown(o, runs, startedAt, broker.conf);
  const dir = join(repoRoot(), 'bench/results');
  mkdirSync(dir, { recursive: true });
  const stamp = startedAt.replace(/[:.]/g, '').slice(0, 17);
  writeFileSync(join(dir, `hop-${stamp}.md`), md);
  writeFileSync(join(dir, `hop-${stamp}.json`), JSON.stringify({ options: o, runs }, null, 2));
  process.stdout.write(md);
  if (runs.some((r) => r.error)) process.exitCode = 1;
}

await main();
