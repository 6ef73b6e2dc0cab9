/**
 * drivers/ContinuousProducer.java as a child process (compiled once per source
 * hash): an idempotent Java producer writing until told to stop, with every
 * acknowledgement and failed send, and the produce errors kafka-clients retried.
 * For the e2e tests that disturb the gateway or its storage meanwhile.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { javaLog4jConfig } from '../../helpers/clients/java.js';
import { harnessEnv, repoRoot } from '../../helpers/clients/paths.js';
import { compileJavaSource } from '../../helpers/clients/java-compile.js';
import { waitFor } from './group-members.js';

let compiled: Promise<string> | undefined;
/** Compile drivers/ContinuousProducer.java once per source hash into $KOP_CACHE_DIR/producer-driver/<hash>/. */
function ensureContinuousProducer(): Promise<string> {
  if (compiled) return compiled;
  const compiling = (() => {
    const env = harnessEnv();
    return compileJavaSource({
      source: join(repoRoot(), 'test', 'e2e', 'drivers', 'ContinuousProducer.java'),
      mainClass: 'ContinuousProducer',
      cacheName: 'producer-driver',
      classpath: env.javaClasspath,
      salt: `kafka ${env.kafkaVersion}`,
    });
  })().catch((e: unknown) => {
    compiled = undefined;
    throw e;
  });
  compiled = compiling;
  return compiling;
}

export interface Ack {
  value: string;
  partition: number;
  offset: number;
  at: number;
}

/** drivers/ContinuousProducer.java as a child process: its acks and failed sends, its client log. */
export class ContinuousProducer {
  readonly acks: Ack[] = [];
  readonly failures: Array<{ value: string; error: string; retriable: boolean; message: string }> = [];
  stderr = '';
  sent = -1;
  private ready = false;
  readonly exited: Promise<number | string>;

  private constructor(private readonly child: ChildProcess) {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (!line) continue;
        const e = JSON.parse(line) as { event: string; value: string; partition: number; offset: number; error: string; retriable: boolean; message: string; sent: number };
        if (e.event === 'ready') this.ready = true;
        else if (e.event === 'ack') this.acks.push({ value: e.value, partition: e.partition, offset: e.offset, at: Date.now() });
        else if (e.event === 'error') this.failures.push({ value: e.value, error: e.error, retriable: e.retriable, message: e.message });
        else if (e.event === 'closed') this.sent = e.sent;
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => (this.stderr += d));
    this.exited = new Promise((r) => child.on('exit', (code, signal) => r(code ?? signal ?? -1)));
  }

  static async start(bootstrap: string, topic: string, partitions: number, extra: string[] = []): Promise<ContinuousProducer> {
    const env = harnessEnv();
    const classes = await ensureContinuousProducer();
    const child = spawn(
      env.java,
      ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}${delimiter}${env.javaClasspath}`, 'ContinuousProducer', '--bootstrap', bootstrap, '--topic', topic, '--partitions', String(partitions), '--interval-ms', '20', ...extra],
      { cwd: repoRoot(), stdio: ['pipe', 'pipe', 'pipe'] },
    );
    const p = new ContinuousProducer(child);
    await waitFor(() => p.ready || child.exitCode !== null, 60_000, 'continuous producer ready');
    if (!p.ready) throw new Error(`continuous producer exited before it was ready:\n${p.stderr}`);
    return p;
  }

  /** Stop sending; resolves once every send was answered and the producer closed. */
  async close(timeoutMs = 200_000): Promise<void> {
    this.child.stdin!.end('close\n');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGKILL');
  }

  /** Kafka error codes of produce responses the client retried, as kafka-clients logs them, with counts. */
  retriedCodes(): Map<string, number> {
    const m = new Map<string, number>();
    for (const x of this.stderr.matchAll(/Got error produce response[^\n]*?Error: ([A-Z_]+)/g)) m.set(x[1]!, (m.get(x[1]!) ?? 0) + 1);
    return m;
  }
}
