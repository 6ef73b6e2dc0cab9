/**
 * librdkafka (Debian's python3-confluent-kafka) as a test peer, through kafka_driver.py beside
 * this file, run with /usr/bin/python3 (KOP_PYTHON). Same commands and results as JavaKafkaClient;
 * raw `config` keys are librdkafka property names.
 *
 *   const py = new PythonKafkaClient({ bootstrap: '127.0.0.1:9092' });
 *   await py.produce({ topic: 't', records: [{ key: 'k', value: 'v' }] });
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { DriverClient, type SpawnSpec } from './driver-client.js';
import { harnessEnv, repoRoot, ToolMissingError, type HarnessEnv } from './paths.js';
import { checkResult, runCommand, type RunOptions, type RunResult } from './proc.js';
import type { ClientOptions } from './types.js';

export function pythonDriverPath(): string {
  return join(repoRoot(), 'test', 'helpers', 'clients', 'kafka_driver.py');
}

const availability = new Map<string, string | undefined>();

/** Why the Python client cannot run here, or undefined when it can. */
export function pythonUnavailableReason(env: HarnessEnv = harnessEnv()): string | undefined {
  if (availability.has(env.python)) return availability.get(env.python);
  const r = spawnSync(env.python, ['-c', 'import confluent_kafka; print(confluent_kafka.version()[0])'], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  let why: string | undefined;
  const fix = 'run .ci/run or `apt-get install python3-confluent-kafka` (or set KOP_PYTHON)';
  if (r.error) why = `${env.python} cannot be run (${r.error.message}): ${fix}`;
  else if (r.status !== 0) why = `confluent_kafka does not import under ${env.python} (${r.stderr.trim().split('\n').pop() ?? ''}): ${fix}`;
  availability.set(env.python, why);
  return why;
}

export function pythonAvailable(env: HarnessEnv = harnessEnv()): boolean {
  return pythonUnavailableReason(env) === undefined;
}

function assertPython(env: HarnessEnv): void {
  const why = pythonUnavailableReason(env);
  if (why) throw new ToolMissingError(why);
}

/** Runs any python script with KOP_PYTHON (e.g. one of your own using confluent_kafka). */
export async function runPythonScript(script: string, args: string[], opts: RunOptions = {}): Promise<RunResult> {
  const env = harnessEnv();
  assertPython(env);
  return runCommand(env.python, [script, ...args], { timeoutMs: 60_000, ...opts });
}

/** The librdkafka client (confluent_kafka) driven through kafka_driver.py. */
export class PythonKafkaClient extends DriverClient {
  readonly name = 'python';

  constructor(options: ClientOptions) {
    super(options);
  }

  protected spawnSpec(command: string, flags: string[]): Promise<SpawnSpec> {
    const env = harnessEnv();
    assertPython(env);
    return Promise.resolve({ cmd: env.python, args: [pythonDriverPath(), command, ...flags] });
  }
}

/** librdkafka version string seen by the Python client, e.g. "2.0.2". */
export async function pythonLibrdkafkaVersion(): Promise<string> {
  const env = harnessEnv();
  assertPython(env);
  const r = checkResult(
    await runCommand(env.python, ['-c', 'import confluent_kafka; print(confluent_kafka.libversion()[0])'], {
      timeoutMs: 20_000,
    }),
  );
  return r.stdout.trim();
}
