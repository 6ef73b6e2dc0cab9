/**
 * Topic-level configuration: the keys the gateway understands, their
 * validation and defaults, the effective (typed) config of a topic, incremental
 * alterations and the describe listing. Engine independent.
 *
 * Values are kept as strings exactly as Kafka clients send them; `resolveTopicConfig`
 * turns explicit values + defaults into numbers. Long values beyond 2^53 (Kafka's
 * Long.MAX_VALUE "never") are clamped to Number.MAX_SAFE_INTEGER.
 */
import { ErrorCode } from '../protocol/errors.js';
import { StorageError, type ConfigAlteration, type TopicConfigEntry } from './engine.js';

type KeyType = 'long' | 'int' | 'double' | 'enum' | 'list' | 'boolean';

interface KeySpec {
  type: KeyType;
  default: string;
  min?: bigint;
  /** Range of a double key (inclusive). */
  range?: readonly [number, number];
  /** Allowed values (enum) or allowed list items (list). */
  values?: readonly string[];
  /** Extra check; returns a message when the value is not acceptable. */
  check?: (value: string) => string | null;
  /** A list key whose items are checked by `check` only (no fixed `values`). */
  freeList?: boolean;
}

const LONG_MAX = 9223372036854775807n;
const INT_MAX = 2147483647n;

export const TOPIC_CONFIG_SPECS = {
  'flush.messages': { type: 'long', default: LONG_MAX.toString(), min: 1n },
  'flush.ms': { type: 'long', default: LONG_MAX.toString(), min: 0n },
  'index.interval.bytes': { type: 'int', default: '4096', min: 0n },
  'max.message.bytes': { type: 'int', default: '1048588', min: 0n },
  'message.timestamp.after.max.ms': { type: 'long', default: LONG_MAX.toString(), min: 0n },
  'message.timestamp.before.max.ms': { type: 'long', default: LONG_MAX.toString(), min: 0n },
  'message.timestamp.difference.max.ms': { type: 'long', default: LONG_MAX.toString(), min: 0n },
  'message.timestamp.type': { type: 'enum', default: 'CreateTime', values: ['CreateTime', 'LogAppendTime'] },
  'min.insync.replicas': {
    type: 'int',
    default: '1',
    min: 1n,
    check: (v) => (v.trim() === '1' ? null : `min.insync.replicas=${v} cannot be met: every partition has exactly one replica, so only 1 is accepted`),
  },
  'retention.bytes': { type: 'long', default: '-1', min: -1n },
  'retention.ms': { type: 'long', default: '604800000', min: -1n },
  'segment.bytes': { type: 'int', default: '1073741824', min: 14n },
  'segment.ms': { type: 'long', default: '604800000', min: 1n },
  // --- log compaction (cleanup.policy and the cleaner's topic configs; see storage/embedded/cleaner.ts) ---
  'cleanup.policy': { type: 'list', default: 'delete', values: ['delete', 'compact'] },
  'delete.retention.ms': { type: 'long', default: '86400000', min: 0n },
  'max.compaction.lag.ms': { type: 'long', default: LONG_MAX.toString(), min: 1n },
  'min.cleanable.dirty.ratio': { type: 'double', default: '0.5', range: [0, 1] },
  'min.compaction.lag.ms': { type: 'long', default: '0', min: 0n },
} as const satisfies Record<string, KeySpec>;


/** Kafka's BrokerCompressionType names (compression.type). */
export const COMPRESSION_TYPES = ['uncompressed', 'zstd', 'lz4', 'snappy', 'gzip', 'producer'] as const;
export type TopicCompressionType = (typeof COMPRESSION_TYPES)[number];

const intRange = (lo: number, hi: number, orValue?: number) => (v: string): string | null => {
  const n = Number(v);
  if ((n >= lo && n <= hi) || n === orValue) return null;
  return `Value must be between ${lo} and ${hi}${orValue !== undefined ? ` or equal to ${orValue}` : ''}`;
};

/**
 * The rest of the topic configs Kafka 4.x accepts (Kafka's LogConfig, same
 * types, validators and defaults), kept apart from the keys above. Semantics
 * here (docs/topic-configs.md):
 *   compression.type        honoured: a batch produced with another codec is
 *                           recompressed to this one (`producer`: kept as sent;
 *                           `uncompressed`: stored uncompressed)
 *   compression.*.level     the level used when recompressing
 *   remote.storage.enable   only false: tiered storage is Pulsar's own offload
 *                           (true: INVALID_CONFIG, as a Kafka broker without
 *                           tiered storage answers)
 *   the others              accepted, validated, stored and described, without
 *                           effect: they tune machinery this gateway does not
 *                           have (replica throttling, unclean election, index
 *                           files, preallocation, delayed file deletion, local
 *                           retention of tiered storage, segment roll jitter)
 */
export const KAFKA_ACCEPTED_SPECS = {
  'compression.type': { type: 'enum', default: 'producer', values: COMPRESSION_TYPES },
  'compression.gzip.level': { type: 'int', default: '-1', min: -INT_MAX - 1n, check: intRange(1, 9, -1) },
  'compression.lz4.level': { type: 'int', default: '9', min: -INT_MAX - 1n, check: intRange(1, 17) },
  'compression.zstd.level': { type: 'int', default: '3', min: -INT_MAX - 1n, check: intRange(-131072, 22) },
  'file.delete.delay.ms': { type: 'long', default: '60000', min: 0n },
  'follower.replication.throttled.replicas': { type: 'list', default: '', freeList: true, check: (v) => throttledReplicas('follower.replication.throttled.replicas', v) },
  'leader.replication.throttled.replicas': { type: 'list', default: '', freeList: true, check: (v) => throttledReplicas('leader.replication.throttled.replicas', v) },
  'local.retention.bytes': { type: 'long', default: '-2', min: -2n },
  'local.retention.ms': { type: 'long', default: '-2', min: -2n },
  preallocate: { type: 'boolean', default: 'false' },
  'remote.log.copy.disable': { type: 'boolean', default: 'false' },
  'remote.log.delete.on.disable': { type: 'boolean', default: 'false' },
  'remote.storage.enable': {
    type: 'boolean',
    default: 'false',
    check: (v) =>
      v.toLowerCase() === 'true'
        ? 'You have to delete all topics with the property remote.storage.enable=true before disabling tiered storage cluster-wide: Tiered Storage functionality is disabled in the broker (this gateway leaves tiered storage to Pulsar\'s offloaders)'
        : null,
  },
  'segment.index.bytes': { type: 'int', default: '10485760', min: 4n },
  'segment.jitter.ms': { type: 'long', default: '0', min: 0n },
  'unclean.leader.election.enable': { type: 'boolean', default: 'false' },
} as const satisfies Record<string, KeySpec>;

/**
 * Keys Kafka 3.x accepted and Kafka 4.x ignores (message.format.version is
 * "ignored and removed" on create and alter): accepted, validated as strings,
 * never stored or described.
 */
export const IGNORED_LEGACY_KEYS: ReadonlySet<string> = new Set(['message.format.version', 'message.downconversion.enable']);

/** Kafka's ThrottledReplicaListValidator: '*' or [partitionId]:[brokerId],... (or empty). */
function throttledReplicas(name: string, v: string): string | null {
  const items = v.split(',').map((s) => s.trim());
  if (items.join('') === '*' || items.every((s) => /^([0-9]+:[0-9]+)?$/.test(s))) return null;
  return `${name} must be the literal '*' or a list of replicas in the following format: [partitionId]:[brokerId],[partitionId]:[brokerId],...`;
}

const ALL_SPECS = { ...TOPIC_CONFIG_SPECS, ...KAFKA_ACCEPTED_SPECS };

export type TopicConfigKey = keyof typeof ALL_SPECS;
export const TOPIC_CONFIG_KEYS = Object.keys(ALL_SPECS).sort() as TopicConfigKey[];

const SPECS: Record<string, KeySpec> = ALL_SPECS;

/** The spec of a key (its type, default, validator). */
export function topicConfigSpec(key: TopicConfigKey): KeySpec {
  return SPECS[key]!;
}

/** Typed effective configuration of one topic. */
export interface TopicConfig {
  /** Normalised cleanup.policy list ('delete', 'compact' or 'compact,delete' in the order given). */
  cleanupPolicy: string;
  /** cleanup.policy includes compact: the log cleaner keeps the latest record per key. */
  compact: boolean;
  /** cleanup.policy includes delete: time/size retention applies (a pure compact topic never loses a key's latest value to it). */
  delete: boolean;
  /** Tombstones (and, later, transaction markers) are kept this long after the cleaner first saw them. */
  deleteRetentionMs: number;
  minCleanableDirtyRatio: number;
  /** A record stays uncompacted at least this long. */
  minCompactionLagMs: number;
  /** A record becomes eligible for compaction at the latest after this long, whatever the dirty ratio. */
  maxCompactionLagMs: number;
  /** Flush after this many messages; 1 = every batch is fsynced before it is acknowledged. */
  flushMessages: number;
  flushMs: number;
  indexIntervalBytes: number;
  maxMessageBytes: number;
  timestampType: 'CreateTime' | 'LogAppendTime';
  /**
   * CreateTime topics: how far a record's timestamp may lie before / after the
   * broker's clock (message.timestamp.before/after.max.ms; while one is unset,
   * the deprecated message.timestamp.difference.max.ms, as in Kafka 3.6+).
   */
  timestampBeforeMaxMs: number;
  timestampAfterMaxMs: number;
  minInsyncReplicas: number;
  /** -1 = unlimited */
  retentionBytes: number;
  /** -1 = unlimited */
  retentionMs: number;
  segmentBytes: number;
  segmentMs: number;
  /** compression.type: `producer` keeps batches as sent; otherwise the codec batches are stored with. */
  compressionType: TopicCompressionType;
  /** compression.gzip.level / compression.lz4.level / compression.zstd.level (used when recompressing). */
  compressionLevels: { gzip: number; lz4: number; zstd: number };
}

export type ConfigDescription = TopicConfigEntry;

function splitList(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

function invalid(message: string): StorageError {
  return new StorageError(ErrorCode.INVALID_CONFIG, message);
}

/** Validate one key=value; throws INVALID_CONFIG naming the key. */
export function validateConfigValue(name: string, value: string): void {
  if (IGNORED_LEGACY_KEYS.has(name) && typeof value === 'string') return;
  const spec = SPECS[name];
  if (spec === undefined) throw invalid(`unknown topic config '${name}' (supported: ${TOPIC_CONFIG_KEYS.join(', ')})`);
  if (typeof value !== 'string') throw invalid(`topic config '${name}' needs a value`);
  const v = value.trim();
  switch (spec.type) {
    case 'long':
    case 'int': {
      if (!/^-?\d+$/.test(v)) throw invalid(`topic config '${name}'='${value}' is not an integer`);
      const n = BigInt(v);
      const max = spec.type === 'int' ? INT_MAX : LONG_MAX;
      if (n > max) throw invalid(`topic config '${name}'='${value}' is too large (max ${max})`);
      if (spec.min !== undefined && n < spec.min) throw invalid(`topic config '${name}'='${value}' must be at least ${spec.min}`);
      break;
    }
    case 'double': {
      const n = Number(v);
      if (v === '' || !/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(v) || !Number.isFinite(n)) throw invalid(`topic config '${name}'='${value}' is not a number`);
      const [lo, hi] = spec.range ?? [-Infinity, Infinity];
      if (n < lo || n > hi) throw invalid(`topic config '${name}'='${value}' must be between ${lo} and ${hi}`);
      break;
    }
    case 'enum':
      if (!spec.values!.includes(v)) throw invalid(`topic config '${name}'='${value}' must be one of ${spec.values!.join(', ')}`);
      break;
    case 'boolean':
      if (v.toLowerCase() !== 'true' && v.toLowerCase() !== 'false') throw invalid(`topic config '${name}'='${value}': Expected value to be either true or false`);
      break;
    case 'list': {
      if (spec.freeList) break; // items checked by spec.check
      const items = splitList(v);
      if (items.length === 0) throw invalid(`topic config '${name}' must not be empty`);
      for (const item of items) {
        if (!spec.values!.includes(item)) throw invalid(`topic config '${name}' has invalid value '${item}' (allowed: ${spec.values!.join(', ')})`);
      }
      break;
    }
  }
  const problem = spec.check?.(v);
  if (problem) throw invalid(problem);
}

/** Validate a whole set of explicit configs. */
export function validateTopicConfigs(configs: Record<string, string>): void {
  for (const [name, value] of Object.entries(configs)) validateConfigValue(name, value);
  checkCompactionLags(configs);
}

/**
 * Kafka's LogConfig.validateValues: min.compaction.lag.ms may not exceed
 * max.compaction.lag.ms. `defaults` fill the one not given (effective values conflict too).
 */
function checkCompactionLags(configs: Record<string, string>, defaults?: Record<string, string>): void {
  const min = configs['min.compaction.lag.ms'] ?? defaults?.['min.compaction.lag.ms'];
  const max = configs['max.compaction.lag.ms'] ?? defaults?.['max.compaction.lag.ms'];
  if (min === undefined || max === undefined) return;
  if (BigInt(min.trim()) > BigInt(max.trim())) {
    throw invalid(`conflict topic config setting min.compaction.lag.ms (${min.trim()}) > max.compaction.lag.ms (${max.trim()})`);
  }
}

/** Explicit configs validated against each other with the defaults they fall back to (create and alter). */
export function validateEffectiveConfigs(configs: Record<string, string>, defaults: Record<TopicConfigKey, string>): void {
  validateTopicConfigs(configs);
  checkCompactionLags(configs, defaults);
}

/** Complete default values: the built-in Kafka defaults overridden by `overrides` (validated). */
export function makeDefaults(overrides: Record<string, string> = {}): Record<TopicConfigKey, string> {
  validateTopicConfigs(overrides);
  const out = {} as Record<TopicConfigKey, string>;
  for (const key of TOPIC_CONFIG_KEYS) out[key] = overrides[key]?.trim() ?? SPECS[key]!.default;
  checkCompactionLags(out);
  return out;
}

function num(v: string): number {
  const n = BigInt(v.trim());
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

/** Explicit configs over defaults, typed. Assumes both were validated. */
export function resolveTopicConfig(explicit: Record<string, string>, defaults: Record<TopicConfigKey, string>): TopicConfig {
  const get = (k: TopicConfigKey): string => (explicit[k] ?? defaults[k]).trim();
  const orDifference = (v: string): string => (BigInt(v) === LONG_MAX ? get('message.timestamp.difference.max.ms') : v);
  const policy = splitList(get('cleanup.policy'));
  return {
    cleanupPolicy: policy.join(','),
    compact: policy.includes('compact'),
    delete: policy.includes('delete'),
    deleteRetentionMs: num(get('delete.retention.ms')),
    minCleanableDirtyRatio: Number(get('min.cleanable.dirty.ratio')),
    minCompactionLagMs: num(get('min.compaction.lag.ms')),
    maxCompactionLagMs: num(get('max.compaction.lag.ms')),
    flushMessages: num(get('flush.messages')),
    flushMs: num(get('flush.ms')),
    indexIntervalBytes: num(get('index.interval.bytes')),
    maxMessageBytes: num(get('max.message.bytes')),
    timestampType: get('message.timestamp.type') as TopicConfig['timestampType'],
    timestampBeforeMaxMs: num(orDifference(get('message.timestamp.before.max.ms'))),
    timestampAfterMaxMs: num(orDifference(get('message.timestamp.after.max.ms'))),
    minInsyncReplicas: num(get('min.insync.replicas')),
    retentionBytes: num(get('retention.bytes')),
    retentionMs: num(get('retention.ms')),
    segmentBytes: num(get('segment.bytes')),
    segmentMs: num(get('segment.ms')),
    compressionType: get('compression.type') as TopicCompressionType,
    compressionLevels: { gzip: Number(get('compression.gzip.level')), lz4: Number(get('compression.lz4.level')), zstd: Number(get('compression.zstd.level')) },
  };
}

/** Every known key with its effective value and where it comes from, sorted by name. */
export function describeTopicConfigs(explicit: Record<string, string>, defaults: Record<TopicConfigKey, string>): ConfigDescription[] {
  return TOPIC_CONFIG_KEYS.map((name) => {
    const set = explicit[name];
    return {
      name,
      value: set ?? defaults[name],
      source: set !== undefined ? ('topic' as const) : ('default' as const),
      readOnly: false,
      sensitive: false,
    };
  });
}

/**
 * Apply IncrementalAlterConfigs operations to the explicit configs and return
 * the new explicit set (validated). `append`/`subtract` work on list keys only,
 * starting from the effective value, as Kafka does.
 */
export function applyAlterations(
  explicit: Record<string, string>,
  changes: ConfigAlteration[],
  defaults: Record<TopicConfigKey, string>,
): Record<string, string> {
  const next: Record<string, string> = { ...explicit };
  for (const change of changes) {
    if (IGNORED_LEGACY_KEYS.has(change.name)) continue; // accepted, not kept (Kafka 4.x)
    const spec = SPECS[change.name];
    if (spec === undefined) throw invalid(`unknown topic config '${change.name}' (supported: ${TOPIC_CONFIG_KEYS.join(', ')})`);
    const current = next[change.name] ?? defaults[change.name as TopicConfigKey];
    switch (change.op) {
      case 'set':
        if (change.value === null) throw invalid(`topic config '${change.name}': SET needs a value`);
        next[change.name] = change.value;
        break;
      case 'delete':
        delete next[change.name];
        break;
      case 'append':
      case 'subtract': {
        if (spec.type !== 'list') throw invalid(`topic config '${change.name}' is not a list: ${change.op.toUpperCase()} is not allowed`);
        const items = splitList(current);
        const given = splitList(change.value ?? '');
        const result = change.op === 'append' ? [...items, ...given.filter((g) => !items.includes(g))] : items.filter((i) => !given.includes(i));
        next[change.name] = result.join(',');
        break;
      }
      default:
        throw invalid(`unknown config operation '${String((change as { op: unknown }).op)}' for '${change.name}'`);
    }
  }
  validateTopicConfigs(next);
  checkCompactionLags(next, defaults);
  return normalizeConfigs(next);
}

/** Normalised copy (trimmed values) of validated explicit configs. */
export function normalizeConfigs(configs: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(configs)) {
    if (IGNORED_LEGACY_KEYS.has(k)) continue; // accepted, not kept (Kafka 4.x)
    out[k] = SPECS[k]?.type === 'boolean' ? v.trim().toLowerCase() : v.trim();
  }
  return out;
}
