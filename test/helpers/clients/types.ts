/**
 * Types shared by the client drivers (Java: KopKafkaDriver, Python: kafka_driver.py), which take
 * the same command-line flags and print the same JSON lines; and the code turning options into
 * those flags and the printed lines back into objects.
 */

export type SecurityProtocol = 'PLAINTEXT' | 'SSL' | 'SASL_PLAINTEXT' | 'SASL_SSL';
export type SaslMechanism = 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512' | 'OAUTHBEARER';
export type Compression = 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd';

export interface ClientSecurity {
  /** default PLAINTEXT */
  protocol?: SecurityProtocol;
  /** default OAUTHBEARER when `token` is set, else PLAIN */
  mechanism?: SaslMechanism;
  username?: string;
  password?: string;
  /** OAUTHBEARER: a JWT the client sends as is (e.g. a Pulsar token) */
  token?: string;
  /** trust store: CA certificate(s), PEM file */
  caPemFile?: string;
  /** client certificate chain and its PKCS#8 private key, PEM files (mTLS) */
  certPemFile?: string;
  keyPemFile?: string;
  /** TLS host name verification; default false (test certificates) */
  verifyHostname?: boolean;
}

export interface ClientOptions {
  /** host:port[,host:port] */
  bootstrap: string;
  security?: ClientSecurity;
  clientId?: string;
  /** raw client configs, applied last (Java names for the Java driver, librdkafka names for Python) */
  config?: Record<string, string | number | boolean>;
  /** request timeout the client uses, ms (default 15000) */
  requestTimeoutMs?: number;
  /** kill the driver process after this long, ms (default 60000) */
  processTimeoutMs?: number;
}

export type Bytes = string | Buffer | Uint8Array;

export interface RecordHeaderInput {
  key: string;
  value: Bytes | null;
}

export interface ProduceRecordInput {
  key?: Bytes | null;
  value?: Bytes | null;
  headers?: RecordHeaderInput[] | Record<string, Bytes | null>;
  /** CreateTime, ms */
  timestamp?: number;
  partition?: number;
  /** override the produce call's topic */
  topic?: string;
}

export interface ProduceOptions {
  topic: string;
  /** the records; or `count` generated records key-i / value-i */
  records?: ProduceRecordInput[];
  count?: number;
  /** pad generated values to this many bytes */
  valueSize?: number;
  partition?: number;
  acks?: 'all' | -1 | 0 | 1;
  idempotence?: boolean;
  compression?: Compression;
  lingerMs?: number;
  batchSize?: number;
  /** do not throw when some records fail; failed ones have `error` */
  allowErrors?: boolean;
}

export interface ProducedRecord {
  /** position of the record in the input */
  index: number;
  topic?: string;
  partition?: number;
  offset?: number;
  timestamp?: number;
  /** error class name (Java) or librdkafka error name (Python) when the record failed */
  error?: string;
  message?: string;
}

export interface ConsumeOptions {
  topic: string;
  /** join this consumer group (subscribe) instead of assigning partitions */
  group?: string;
  /** group mode: commit the consumed offsets before leaving */
  commit?: boolean;
  /** assign mode: these partitions (default all) */
  partitions?: number[];
  /** assign mode start: default 'beginning' */
  offset?: 'beginning' | 'end' | number;
  /** stop after this many records (exit code 3 = timeout before that, which throws unless allowPartial) */
  maxRecords?: number;
  /** assign mode: stop at the end offsets seen at start */
  untilEnd?: boolean;
  /** overall time limit inside the driver, ms (default 30000) */
  timeoutMs?: number;
  isolationLevel?: 'read_uncommitted' | 'read_committed';
  /** return what arrived when the time limit hits before maxRecords */
  allowPartial?: boolean;
}

export interface ConsumedHeader {
  key: string;
  value: Buffer | null;
  valueText: string | null;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  /** CreateTime | LogAppendTime | NoTimestampType */
  timestampType: string;
  key: Buffer | null;
  value: Buffer | null;
  keyText: string | null;
  valueText: string | null;
  headers: ConsumedHeader[];
  leaderEpoch?: number;
}

export interface NodeInfo {
  id: number;
  host: string;
  port: number;
  rack: string | null;
}

export interface ClusterDescription {
  clusterId: string | null;
  controller: NodeInfo | null;
  nodes: NodeInfo[];
}

export interface NewTopicSpec {
  name: string;
  partitions?: number;
  replicationFactor?: number;
  configs?: Record<string, string | number>;
}

/** Per-topic result of create/delete topics and create partitions. */
export interface TopicOpResult {
  topic: string;
  created?: boolean;
  deleted?: boolean;
  increased?: boolean;
  error?: string;
  message?: string;
}

export interface TopicListing {
  topic: string;
  topicId: string | null;
  internal: boolean | null;
}

export interface TopicDescription {
  topic: string;
  topicId: string | null;
  internal: boolean | null;
  partitions: Array<{ partition: number; leader: number; replicas: number[]; isr: number[] }>;
  error?: string;
  message?: string;
}

export type OffsetSpec = 'earliest' | 'latest' | 'max-timestamp' | number;

export interface PartitionOffset {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  leaderEpoch?: number;
  error?: string;
  message?: string;
}

export interface ConfigEntryInfo {
  value: string | null;
  source: string;
  readOnly: boolean;
  sensitive: boolean;
}

export interface ConfigDescription {
  type: 'topic' | 'broker';
  name: string;
  configs: Record<string, ConfigEntryInfo>;
  error?: string;
  message?: string;
}

export interface GroupListing {
  groupId: string;
  type: string | null;
  state: string | null;
  protocol: string | null;
}

export interface GroupOffset {
  group: string;
  topic: string;
  partition: number;
  offset: number | null;
  metadata?: string | null;
}

/** What the Java and the Python driver both offer. */
export interface KafkaTestClient {
  readonly name: string;
  produce(opts: ProduceOptions): Promise<ProducedRecord[]>;
  consume(opts: ConsumeOptions): Promise<ConsumedRecord[]>;
  describeCluster(): Promise<ClusterDescription>;
  createTopics(topics: NewTopicSpec[], opts?: { allowErrors?: boolean }): Promise<TopicOpResult[]>;
  deleteTopics(topics: string[], opts?: { allowErrors?: boolean }): Promise<TopicOpResult[]>;
  createPartitions(topic: string, totalCount: number, opts?: { allowErrors?: boolean }): Promise<TopicOpResult[]>;
  listTopics(opts?: { internal?: boolean }): Promise<TopicListing[]>;
  describeTopics(topics: string[], opts?: { allowErrors?: boolean }): Promise<TopicDescription[]>;
  listOffsets(topic: string, spec: OffsetSpec, opts?: { partitions?: number[]; allowErrors?: boolean }): Promise<PartitionOffset[]>;
  describeConfigs(resource: { topic: string } | { broker: number | string }, opts?: { all?: boolean }): Promise<ConfigDescription>;
  listGroups(): Promise<GroupListing[]>;
  /** Python needs `topic` (its client lists committed offsets per topic). */
  listGroupOffsets(group: string, opts?: { topic?: string }): Promise<GroupOffset[]>;
}

// ------------------------------------------------------------------ flags

export function toBuffer(b: Bytes): Buffer {
  return typeof b === 'string' ? Buffer.from(b, 'utf8') : Buffer.from(b);
}

/** Flags common to every driver command. */
export function commonFlags(o: ClientOptions): string[] {
  const a = ['--bootstrap', o.bootstrap];
  const s = o.security;
  if (s) {
    if (s.protocol) a.push('--security-protocol', s.protocol);
    if (s.mechanism) a.push('--sasl-mechanism', s.mechanism);
    if (s.username !== undefined) a.push('--username', s.username);
    if (s.password !== undefined) a.push('--password', s.password);
    if (s.token !== undefined) a.push('--token', s.token);
    if (s.caPemFile) a.push('--ca-pem', s.caPemFile);
    if (s.certPemFile) a.push('--cert-pem', s.certPemFile);
    if (s.keyPemFile) a.push('--key-pem', s.keyPemFile);
    if (s.verifyHostname !== undefined) a.push('--verify-hostname', String(s.verifyHostname));
  }
  if (o.clientId) a.push('--client-id', o.clientId);
  if (o.requestTimeoutMs !== undefined) a.push('--request-timeout-ms', String(o.requestTimeoutMs));
  for (const [k, v] of Object.entries(o.config ?? {})) a.push('--config', `${k}=${String(v)}`);
  return a;
}

/** One stdin JSON line for the produce command. */
export function produceInputLine(r: ProduceRecordInput): string {
  const o: Record<string, unknown> = {};
  if (r.key !== undefined) o.keyB64 = r.key === null ? null : toBuffer(r.key).toString('base64');
  if (r.value !== undefined) o.valueB64 = r.value === null ? null : toBuffer(r.value).toString('base64');
  if (r.headers !== undefined) {
    const hs: RecordHeaderInput[] = Array.isArray(r.headers)
      ? r.headers
      : Object.entries(r.headers).map(([key, value]) => ({ key, value }));
    o.headers = hs.map((h) => ({ key: h.key, valueB64: h.value === null ? null : toBuffer(h.value).toString('base64') }));
  }
  if (r.timestamp !== undefined) o.timestamp = r.timestamp;
  if (r.partition !== undefined) o.partition = r.partition;
  if (r.topic !== undefined) o.topic = r.topic;
  return JSON.stringify(o);
}

export function produceFlags(p: ProduceOptions): string[] {
  const a = ['--topic', p.topic];
  if (p.partition !== undefined) a.push('--partition', String(p.partition));
  if (p.acks !== undefined) a.push('--acks', String(p.acks));
  if (p.idempotence !== undefined) a.push('--idempotence', String(p.idempotence));
  if (p.compression !== undefined) a.push('--compression', p.compression);
  if (p.lingerMs !== undefined) a.push('--linger-ms', String(p.lingerMs));
  if (p.batchSize !== undefined) a.push('--batch-size', String(p.batchSize));
  if (p.records === undefined) {
    a.push('--count', String(p.count ?? 0));
    if (p.valueSize !== undefined) a.push('--value-size', String(p.valueSize));
  }
  return a;
}

export function consumeFlags(c: ConsumeOptions): string[] {
  const a = ['--topic', c.topic, '--encoding', 'base64'];
  if (c.group !== undefined) a.push('--group', c.group);
  if (c.commit) a.push('--commit');
  for (const p of c.partitions ?? []) a.push('--partition', String(p));
  if (c.offset !== undefined) a.push('--offset', String(c.offset));
  if (c.maxRecords !== undefined) a.push('--max-records', String(c.maxRecords));
  if (c.untilEnd) a.push('--until-end');
  if (c.timeoutMs !== undefined) a.push('--timeout-ms', String(c.timeoutMs));
  if (c.isolationLevel !== undefined) a.push('--isolation-level', c.isolationLevel);
  return a;
}

interface RawConsumed {
  topic: string;
  partition: number;
  offset: number;
  timestamp: number;
  timestampType: string;
  key: string | null;
  value: string | null;
  headers?: Array<{ key: string; value: string | null }>;
  leaderEpoch?: number;
}

function b64(s: string | null | undefined): Buffer | null {
  return s === null || s === undefined ? null : Buffer.from(s, 'base64');
}

/** A consumed-record JSON line printed with `--encoding base64`, decoded. */
export function decodeConsumed(raw: unknown): ConsumedRecord {
  const r = raw as RawConsumed;
  const key = b64(r.key);
  const value = b64(r.value);
  const rec: ConsumedRecord = {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset,
    timestamp: r.timestamp,
    timestampType: r.timestampType,
    key,
    value,
    keyText: key === null ? null : key.toString('utf8'),
    valueText: value === null ? null : value.toString('utf8'),
    headers: (r.headers ?? []).map((h) => {
      const v = b64(h.value);
      return { key: h.key, value: v, valueText: v === null ? null : v.toString('utf8') };
    }),
  };
  if (r.leaderEpoch !== undefined) rec.leaderEpoch = r.leaderEpoch;
  return rec;
}
