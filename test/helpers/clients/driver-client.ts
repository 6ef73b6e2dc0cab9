/**
 * The part of the Java and Python clients that is the same: both drivers take the same flags and
 * print the same JSON lines (see test/helpers/java/KopKafkaDriver.java and kafka_driver.py).
 */
import { checkResult, parseJsonLines, runCommand, type RunResult } from './proc.js';
import {
  commonFlags,
  consumeFlags,
  decodeConsumed,
  produceFlags,
  produceInputLine,
  type ClientOptions,
  type ClusterDescription,
  type ConfigDescription,
  type ConsumedRecord,
  type ConsumeOptions,
  type GroupListing,
  type GroupOffset,
  type KafkaTestClient,
  type NewTopicSpec,
  type OffsetSpec,
  type PartitionOffset,
  type ProducedRecord,
  type ProduceOptions,
  type TopicDescription,
  type TopicListing,
  type TopicOpResult,
} from './types.js';

export interface SpawnSpec {
  cmd: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
}

export interface DriverRunOptions {
  input?: string;
  /** exit codes that do not throw (default [0]) */
  okCodes?: number[];
  timeoutMs?: number;
}

export abstract class DriverClient implements KafkaTestClient {
  abstract readonly name: string;

  constructor(readonly options: ClientOptions) {}

  /** The program and arguments that run one driver command. */
  protected abstract spawnSpec(command: string, flags: string[]): Promise<SpawnSpec>;

  /** Runs one driver command with the common flags plus `flags`; returns the raw result. */
  async run(command: string, flags: string[] = [], opts: DriverRunOptions = {}): Promise<RunResult> {
    const spec = await this.spawnSpec(command, [...commonFlags(this.options), ...flags]);
    const runOpts: Parameters<typeof runCommand>[2] = {
      timeoutMs: opts.timeoutMs ?? this.options.processTimeoutMs ?? 60_000,
    };
    if (opts.input !== undefined) runOpts.input = opts.input;
    if (spec.env !== undefined) runOpts.env = spec.env;
    const r = await runCommand(spec.cmd, spec.args, runOpts);
    return checkResult(r, opts.okCodes ?? [0]);
  }

  /** Runs one command and parses its JSON lines. */
  async runJson<T>(command: string, flags: string[] = [], opts: DriverRunOptions = {}): Promise<T[]> {
    return parseJsonLines<T>((await this.run(command, flags, opts)).stdout);
  }

  private okCodes(allowErrors: boolean | undefined, extra: number[] = []): number[] {
    return allowErrors ? [0, 1, ...extra] : [0, ...extra];
  }

  async produce(p: ProduceOptions): Promise<ProducedRecord[]> {
    const input = p.records ? p.records.map(produceInputLine).join('\n') + '\n' : undefined;
    const opts: DriverRunOptions = { okCodes: this.okCodes(p.allowErrors) };
    if (input !== undefined) opts.input = input;
    const lines = await this.runJson<ProducedRecord>('produce', produceFlags(p), opts);
    return lines.sort((a, b) => a.index - b.index);
  }

  async consume(c: ConsumeOptions): Promise<ConsumedRecord[]> {
    const driverTimeout = c.timeoutMs ?? 30_000;
    const opts: DriverRunOptions = {
      okCodes: c.allowPartial ? [0, 3] : [0],
      // leave the driver time to start, time out by itself and report
      timeoutMs: Math.max(this.options.processTimeoutMs ?? 60_000, driverTimeout + 30_000),
    };
    const lines = await this.runJson<unknown>('consume', consumeFlags(c), opts);
    return lines.map(decodeConsumed);
  }

  async describeCluster(): Promise<ClusterDescription> {
    const [d] = await this.runJson<ClusterDescription>('describe-cluster');
    if (!d) throw new Error(`${this.name}: describe-cluster printed nothing`);
    return d;
  }

  async createTopics(topics: NewTopicSpec[], opts: { allowErrors?: boolean } = {}): Promise<TopicOpResult[]> {
    // the driver takes one partition count / replication factor / config set per call: group by them
    const groups = new Map<string, NewTopicSpec[]>();
    for (const t of topics) {
      const k = JSON.stringify([t.partitions ?? 1, t.replicationFactor ?? 1, Object.entries(t.configs ?? {}).sort()]);
      groups.set(k, [...(groups.get(k) ?? []), t]);
    }
    const out: TopicOpResult[] = [];
    for (const ts of groups.values()) {
      const first = ts[0]!;
      const flags: string[] = [];
      for (const t of ts) flags.push('--topic', t.name);
      flags.push('--partitions', String(first.partitions ?? 1));
      flags.push('--replication-factor', String(first.replicationFactor ?? 1));
      for (const [k, v] of Object.entries(first.configs ?? {})) flags.push('--topic-config', `${k}=${String(v)}`);
      out.push(...(await this.runJson<TopicOpResult>('create-topics', flags, { okCodes: this.okCodes(opts.allowErrors) })));
    }
    return out;
  }

  async deleteTopics(topics: string[], opts: { allowErrors?: boolean } = {}): Promise<TopicOpResult[]> {
    return this.runJson<TopicOpResult>('delete-topics', topics.flatMap((t) => ['--topic', t]), {
      okCodes: this.okCodes(opts.allowErrors),
    });
  }

  async createPartitions(topic: string, totalCount: number, opts: { allowErrors?: boolean } = {}): Promise<TopicOpResult[]> {
    return this.runJson<TopicOpResult>('create-partitions', ['--topic', topic, '--total', String(totalCount)], {
      okCodes: this.okCodes(opts.allowErrors),
    });
  }

  async listTopics(opts: { internal?: boolean } = {}): Promise<TopicListing[]> {
    return this.runJson<TopicListing>('list-topics', opts.internal ? ['--internal'] : []);
  }

  async describeTopics(topics: string[], opts: { allowErrors?: boolean } = {}): Promise<TopicDescription[]> {
    return this.runJson<TopicDescription>('describe-topics', topics.flatMap((t) => ['--topic', t]), {
      okCodes: this.okCodes(opts.allowErrors),
    });
  }

  async listOffsets(
    topic: string,
    spec: OffsetSpec,
    opts: { partitions?: number[]; allowErrors?: boolean } = {},
  ): Promise<PartitionOffset[]> {
    const flags = ['--topic', topic, '--spec', String(spec)];
    for (const p of opts.partitions ?? []) flags.push('--partition', String(p));
    return this.runJson<PartitionOffset>('list-offsets', flags, { okCodes: this.okCodes(opts.allowErrors) });
  }

  async describeConfigs(
    resource: { topic: string } | { broker: number | string },
    opts: { all?: boolean } = {},
  ): Promise<ConfigDescription> {
    const flags = 'topic' in resource ? ['--topic', resource.topic] : ['--broker', String(resource.broker)];
    if (opts.all) flags.push('--all');
    const [d] = await this.runJson<ConfigDescription>('describe-configs', flags);
    if (!d) throw new Error(`${this.name}: describe-configs printed nothing`);
    return d;
  }

  async listGroups(): Promise<GroupListing[]> {
    return this.runJson<GroupListing>('list-groups');
  }

  async listGroupOffsets(group: string, opts: { topic?: string } = {}): Promise<GroupOffset[]> {
    const flags = ['--group', group];
    if (opts.topic !== undefined) flags.push('--topic', opts.topic);
    return this.runJson<GroupOffset>('list-group-offsets', flags);
  }
}
