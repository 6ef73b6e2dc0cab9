/**
 * The benchmark's second Kafka producer: bench/franz-perf (franz-go), built once with the Go
 * toolchain into the harness cache. Kafka's ProducerPerformance caps near Apache Kafka's own
 * rate on a 2-core machine (its client CPU competes with the server's); franz-go with the same
 * window shows how fast the server itself takes records. PLAINTEXT targets only; without `go`
 * the runs are skipped and the report says why.
 */
import { join } from 'node:path';
import { harnessEnv, repoRoot } from '../../test/helpers/clients/paths.js';
import { checkResult, commandExists, runCommand } from '../../test/helpers/clients/proc.js';
import { parseProducerPerfOutput, type ProducerPerfResult } from '../kafka-reference/perf.js';

/** What franz-perf sets (bench/franz-perf/main.go), for the report. */
export const FRANZ_SETTINGS: Record<string, string> = {
  client: 'franz-go v1.22.3 (bench/franz-perf)',
  acks: 'all',
  'max in flight per broker': '5',
  'batch bytes': '16384',
  linger: '5 ms',
  compression: 'none',
  idempotence: 'off (franz-go allows 1 request in flight with it)',
};

/** Why franz-go runs cannot happen here, or undefined. */
export function franzUnavailable(): string | undefined {
  return commandExists('go') ? undefined : 'no Go toolchain (`go`) on PATH: the franz-go produce runs are skipped';
}

let built: Promise<string> | undefined;
function binary(): Promise<string> {
  built ??= (async () => {
    const bin = join(harnessEnv().cacheDir, 'franz-perf', 'franz-perf');
    checkResult(await runCommand('go', ['build', '-o', bin, '.'], { cwd: join(repoRoot(), 'bench', 'franz-perf'), timeoutMs: 600_000 }));
    return bin;
  })().catch((e: unknown) => {
    built = undefined;
    throw e;
  });
  return built;
}

/** Build the driver now (before any run is timed). */
export async function prepareFranz(): Promise<void> {
  await binary();
}

export async function runFranzProducerPerf(o: { bootstrap: string; topic: string; numRecords: number; recordSize: number; warmupRecords?: number; timeoutMs?: number }): Promise<ProducerPerfResult> {
  const args = ['--bootstrap-server', o.bootstrap, '--topic', o.topic, '--num-records', String(o.numRecords), '--record-size', String(o.recordSize)];
  if (o.warmupRecords) args.push('--warmup-records', String(o.warmupRecords));
  const r = checkResult(await runCommand(await binary(), args, { timeoutMs: o.timeoutMs ?? 600_000 }));
  return parseProducerPerfOutput(r.stdout);
}
