/**
 * Long-running consumer group members for the group e2e tests, one process each, so a test can
 * close one cleanly (LeaveGroup) or kill it with SIGKILL: GroupConsumer.java (Apache Kafka Java
 * client, classic protocol, any assignor), group_consumer.py (librdkafka via confluent_kafka),
 * kafkajs-group-consumer.mjs (kafkajs) and franz-group (franz-go, Go). They print the same JSON lines (see each driver),
 * which GroupMember collects: the current assignment, records, commits. Also what the group tests
 * check them with: a kafkajs producer that remembers what it wrote, spreadOver, waitConsumed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { delimiter, join } from 'node:path';
import { javaLog4jConfig } from '../../helpers/clients/java.js';
import { harnessEnv, repoRoot } from '../../helpers/clients/paths.js';
import { compileJavaSource } from '../../helpers/clients/java-compile.js';
import { runCommand } from '../../helpers/clients/proc.js';
import kafkajs from 'kafkajs';
import { waitFor } from '../../helpers/wait.js';

export type MemberKind = 'java' | 'python' | 'kafkajs' | 'franz';

export interface MemberOptions {
  bootstrap: string;
  group: string;
  topic: string;
  /** Java: range | roundrobin | sticky | cooperative-sticky; librdkafka: range | roundrobin */
  assignor?: string;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  clientId?: string;
  /** group.instance.id (static membership; Java and librdkafka) */
  instanceId?: string;
  /** group.protocol (Java and librdkafka): classic (default) or consumer (KIP-848) */
  groupProtocol?: 'classic' | 'consumer';
  /** group.remote.assignor with the consumer protocol: uniform | range */
  remoteAssignor?: string;
  /** librdkafka: the python interpreter (default KOP_PYTHON) */
  python?: string;
  /** Java, consumer protocol: subscribe to this broker-side regex (SubscriptionPattern) instead of `topic` */
  topicRegex?: string;
}

export interface ConsumedEvent {
  member: string;
  /** the record's topic (Java driver) */
  topic?: string;
  partition: number;
  offset: number;
  value: string | null;
  /** position of the record among everything this member printed */
  seq: number;
}

function driversDir(): string {
  return join(repoRoot(), 'test', 'e2e', 'drivers');
}

let javaClasses: Promise<string> | undefined;

/** Compile GroupConsumer.java once per source hash into $KOP_CACHE_DIR/group-driver/<hash>/. */
export function ensureGroupConsumerJava(): Promise<string> {
  if (javaClasses) return javaClasses;
  const compiling = (() => {
    const env = harnessEnv();
    return compileJavaSource({
      source: join(driversDir(), 'GroupConsumer.java'),
      mainClass: 'GroupConsumer',
      cacheName: 'group-driver',
      classpath: env.javaClasspath,
      salt: `kafka ${env.kafkaVersion}`,
    });
  })().catch((e: unknown) => {
    javaClasses = undefined;
    throw e;
  });
  javaClasses = compiling;
  return compiling;
}

let franzBinary: Promise<string> | undefined;

/** Build franz-group (Go, franz-go; test/e2e/drivers/franz-group) once per run into $KOP_CACHE_DIR/franz-group/. */
export function ensureFranzGroup(): Promise<string> {
  franzBinary ??= (async () => {
    const bin = join(harnessEnv().cacheDir, 'franz-group', 'franz-group');
    const build = await runCommand('go', ['build', '-o', bin, '.'], { cwd: join(driversDir(), 'franz-group'), timeoutMs: 300_000 });
    if (build.code !== 0) throw new Error(`go build of franz-group failed:\n${build.stderr}`);
    return bin;
  })().catch((e: unknown) => {
    franzBinary = undefined;
    throw e;
  });
  return franzBinary;
}

async function commandFor(kind: MemberKind, o: MemberOptions): Promise<{ cmd: string; args: string[] }> {
  const flags = ['--bootstrap', o.bootstrap, '--group', o.group, '--topic', o.topic];
  if (o.sessionTimeoutMs !== undefined) flags.push('--session-timeout-ms', String(o.sessionTimeoutMs));
  if (o.heartbeatIntervalMs !== undefined) flags.push('--heartbeat-interval-ms', String(o.heartbeatIntervalMs));
  if (o.clientId !== undefined) flags.push('--client-id', o.clientId);
  const full = kind === 'java' || kind === 'python';
  if (full && o.assignor !== undefined) flags.push('--assignor', o.assignor);
  if (full && o.instanceId !== undefined) flags.push('--instance-id', o.instanceId);
  if (full && o.groupProtocol !== undefined) flags.push('--group-protocol', o.groupProtocol);
  if (full && o.remoteAssignor !== undefined) flags.push('--remote-assignor', o.remoteAssignor);
  if (kind === 'java' && o.topicRegex !== undefined) flags.push('--topic-regex', o.topicRegex);
  const env = harnessEnv();
  if (kind === 'java') {
    const classes = await ensureGroupConsumerJava();
    return {
      cmd: env.java,
      args: ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}${delimiter}${env.javaClasspath}`, 'GroupConsumer', ...flags],
    };
  }
  if (kind === 'franz') {
    // franz-go with kgo.ServerSideBalancer (KIP-848); its other settings are its defaults.
    return { cmd: await ensureFranzGroup(), args: ['--bootstrap', o.bootstrap, '--group', o.group, '--topic', o.topic, ...(o.clientId !== undefined ? ['--client-id', o.clientId] : [])] };
  }
  if (kind === 'python') return { cmd: o.python ?? env.python, args: [join(driversDir(), 'group_consumer.py'), ...flags] };
  return { cmd: process.execPath, args: [join(driversDir(), 'kafkajs-group-consumer.mjs'), ...flags] };
}

export class GroupMember {
  /** The member's latest assignment (partition numbers), null before the first one. */
  assignment: number[] | null = null;
  /** With a topic regex (Java, consumer protocol): the latest assignment as "topic:partition". */
  topicAssignment: string[] | null = null;
  readonly records: ConsumedEvent[] = [];
  /** partition -> next offset, from the member's last successful commit of it */
  readonly committed = new Map<number, number>();
  readonly commitFailures: string[] = [];
  /** Every line the driver printed, for failure messages. */
  readonly lines: string[] = [];
  stderr = '';
  private seq = 0;
  private ready = false;
  readonly exited: Promise<number | string>;
  private exitInfo: number | string | null = null;

  private constructor(
    readonly name: string,
    readonly kind: MemberKind,
    private readonly child: ChildProcess,
  ) {
    let buf = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) this.onLine(line);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      this.stderr = (this.stderr + d).slice(-20_000);
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        this.exitInfo = code ?? signal ?? -1;
        resolve(this.exitInfo);
      }),
    );
  }

  static async start(kind: MemberKind, name: string, o: MemberOptions): Promise<GroupMember> {
    const { cmd, args } = await commandFor(kind, o);
    const child = spawn(cmd, args, { cwd: repoRoot(), stdio: ['pipe', 'pipe', 'pipe'] });
    const m = new GroupMember(name, kind, child);
    await waitFor(() => m.ready || m.exitInfo !== null, 60_000, `${name} ready`);
    if (!m.ready) throw new Error(`${name} exited (${m.exitInfo}) before it was ready:\n${m.stderr}`);
    return m;
  }

  private onLine(line: string): void {
    this.lines.push(line);
    let e: any;
    try {
      e = JSON.parse(line);
    } catch {
      return;
    }
    switch (e.event) {
      case 'ready':
        this.ready = true;
        break;
      case 'assignment':
        if (e.partitions.length === 0) this.assignment = this.topicAssignment = [];
        else if (typeof e.partitions[0] === 'string') this.topicAssignment = e.partitions;
        else this.assignment = e.partitions;
        break;
      case 'record':
        this.records.push({ member: this.name, topic: e.topic, partition: e.partition, offset: e.offset, value: e.value, seq: this.seq++ });
        break;
      case 'committed':
        for (const [p, o] of Object.entries(e.offsets as Record<string, number>)) this.committed.set(Number(p), o);
        break;
      case 'commit-failed':
        this.commitFailures.push(e.error);
        break;
    }
  }

  get alive(): boolean {
    return this.exitInfo === null;
  }

  /** Clean close: the client leaves the group. */
  async close(timeoutMs = 30_000): Promise<void> {
    if (!this.alive) return;
    this.child.stdin!.write('close\n');
    this.child.stdin!.end();
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
  }

  /** Crash: SIGKILL, no LeaveGroup. */
  async kill(): Promise<void> {
    if (!this.alive) return;
    this.child.kill('SIGKILL');
    await this.exited;
  }

  describe(): string {
    return `${this.name} (${this.kind}, exit ${this.exitInfo ?? 'running'}): assignment ${JSON.stringify(this.assignment)}, ${this.records.length} records, commit failures ${JSON.stringify(this.commitFailures)}\n  last lines: ${this.lines.slice(-5).join('\n    ')}\n  stderr: ${this.stderr.slice(-1500)}`;
  }
}

/** Kept here for the end-to-end files that import it with the drivers. */
export { waitFor };

/** A kafkajs producer writing unique values round-robin over the partitions; remembers them. */
export class Producer {
  readonly values: string[] = [];
  private readonly kafka;
  private producer: ReturnType<InstanceType<typeof kafkajs.Kafka>['producer']> | null = null;

  constructor(
    bootstrap: string,
    readonly topic: string,
    private readonly partitions: number,
    clientId = 'kop-groups-producer',
  ) {
    this.kafka = new kafkajs.Kafka({ clientId, brokers: [bootstrap], logLevel: kafkajs.logLevel.NOTHING, retry: { retries: 10, initialRetryTime: 100, maxRetryTime: 1000 } });
  }

  async send(n: number): Promise<void> {
    if (!this.producer) {
      this.producer = this.kafka.producer({ allowAutoTopicCreation: false });
      await this.producer.connect();
    }
    const messages = Array.from({ length: n }, () => {
      const i = this.values.length;
      const value = `${this.topic}-${i}`;
      this.values.push(value);
      return { value, partition: i % this.partitions };
    });
    await this.producer.send({ topic: this.topic, acks: -1, messages });
  }

  async close(): Promise<void> {
    await this.producer?.disconnect();
    this.producer = null;
  }
}

/** Every member has partitions, none shared, all partitions covered. */
export function spreadOver(members: GroupMember[], partitions: number): boolean {
  const seen = new Set<number>();
  for (const m of members) {
    if (!m.assignment || m.assignment.length === 0) return false;
    for (const p of m.assignment) {
      if (seen.has(p)) return false;
      seen.add(p);
    }
  }
  return seen.size === partitions;
}

export function consumedValues(members: GroupMember[]): Set<string | null> {
  return new Set(members.flatMap((m) => m.records.map((r) => r.value)));
}

/** Wait (45 s) until the members together consumed every value the producer wrote. */
export async function waitConsumed(members: GroupMember[], producer: { readonly values: string[] }, what: string): Promise<void> {
  await waitFor(
    () => {
      const got = consumedValues(members);
      return producer.values.every((v) => got.has(v));
    },
    45_000,
    () => {
      const got = consumedValues(members);
      const missing = producer.values.filter((v) => !got.has(v));
      return `${what}: ${missing.length} of ${producer.values.length} records not consumed (e.g. ${missing.slice(0, 5).join(', ')})\n${members.map((m) => m.describe()).join('\n')}`;
    },
  );
}
