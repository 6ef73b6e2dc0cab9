/**
 * DescribeConfigs (32).
 *  - TOPIC (2): every topic config the storage engine honours, with its value and
 *    source: DYNAMIC_TOPIC_CONFIG when set on the topic, otherwise the broker-level
 *    default it inherits (DEFAULT_CONFIG, or STATIC_BROKER_CONFIG when the
 *    gateway's default differs from Kafka's), as Kafka reports it. Synonyms list
 *    the topic override, then the broker default (log.retention.ms ...).
 *  - BROKER (4) with our node id: a read-only set of broker configs, so admin
 *    tools (kafka-configs, AdminClient) find what they look for. "" (the
 *    cluster-wide dynamic defaults) has none. Another id: INVALID_REQUEST.
 *  - BROKER_LOGGER (8) with our node id: the root logger's level.
 *  - anything else: INVALID_REQUEST, as Kafka answers.
 * Also the config listing CreateTopics v5+ returns.
 *
 * Authorization: a topic needs `lookup` on it (TOPIC_AUTHORIZATION_FAILED). The
 * BROKER and BROKER_LOGGER resources need what Kafka requires, DESCRIBE_CONFIGS
 * on the cluster, which maps to Pulsar's broker configuration (a superuser
 * operation): superusers only, CLUSTER_AUTHORIZATION_FAILED for anyone else,
 * checked before the broker id is looked at (as Kafka does), and audited.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { DescribeConfigsRequest, DescribeConfigsResponse } from '../protocol/generated/index.js';
import { SCHEMA } from '../config/schema.js';
import type { GatewayConfig } from '../config/schema.js';
import { StorageError, type StorageEngine, type TopicConfigEntry } from '../storage/engine.js';
import { TOPIC_CONFIG_KEYS, describeTopicConfigs, makeDefaults, topicConfigSpec, type TopicConfigKey } from '../storage/topic-config.js';
import { OFFSETS_TOPIC_CONFIGS, isOffsetsTopic, resolveRequestTopic } from './topic-lookup.js';

type ResultOut = DescribeConfigsResponse['results'][number];
type ConfigOut = ResultOut['configs'][number];
type SynonymOut = ConfigOut['synonyms'][number];

/** Kafka's ConfigResource.Type ids. */
export const ResourceType = { TOPIC: 2, BROKER: 4, BROKER_LOGGER: 8, GROUP: 32 } as const;

/** Kafka's DescribeConfigsResponse.ConfigSource ids. */
export const ConfigSource = {
  UNKNOWN: 0,
  DYNAMIC_TOPIC_CONFIG: 1,
  DYNAMIC_BROKER_CONFIG: 2,
  DYNAMIC_DEFAULT_BROKER_CONFIG: 3,
  STATIC_BROKER_CONFIG: 4,
  DEFAULT_CONFIG: 5,
  DYNAMIC_BROKER_LOGGER_CONFIG: 6,
} as const;

/** Kafka's DescribeConfigsResponse.ConfigType ids (v3+). */
export const ConfigType = { UNKNOWN: 0, BOOLEAN: 1, STRING: 2, INT: 3, SHORT: 4, LONG: 5, DOUBLE: 6, LIST: 7 } as const;

/** One config as every describing API needs it, before version-specific shaping. */
export interface ConfigView {
  name: string;
  value: string | null;
  source: number;
  readOnly: boolean;
  sensitive: boolean;
  type: number;
  synonyms: Array<{ name: string; value: string | null; source: number }>;
  documentation: string | null;
}

/**
 * The broker config each topic config falls back to (Kafka's ServerTopicConfigSynonyms);
 * keys without one (remote.storage.enable, the throttled-replica lists...) have no server default.
 */
export const BROKER_SYNONYMS: Partial<Record<TopicConfigKey, string>> = {
  'cleanup.policy': 'log.cleanup.policy',
  'flush.messages': 'log.flush.interval.messages',
  'flush.ms': 'log.flush.interval.ms',
  'index.interval.bytes': 'log.index.interval.bytes',
  'max.message.bytes': 'message.max.bytes',
  'message.timestamp.after.max.ms': 'log.message.timestamp.after.max.ms',
  'message.timestamp.before.max.ms': 'log.message.timestamp.before.max.ms',
  'message.timestamp.difference.max.ms': 'log.message.timestamp.difference.max.ms',
  'message.timestamp.type': 'log.message.timestamp.type',
  'min.insync.replicas': 'min.insync.replicas',
  'retention.bytes': 'log.retention.bytes',
  'retention.ms': 'log.retention.ms',
  'segment.bytes': 'log.segment.bytes',
  'segment.ms': 'log.roll.ms',
  // the other keys Kafka 4.x accepts (KAFKA_ACCEPTED_SPECS)
  'compression.type': 'compression.type',
  'compression.gzip.level': 'compression.gzip.level',
  'compression.lz4.level': 'compression.lz4.level',
  'compression.zstd.level': 'compression.zstd.level',
  'file.delete.delay.ms': 'log.segment.delete.delay.ms',
  'local.retention.bytes': 'log.local.retention.bytes',
  'local.retention.ms': 'log.local.retention.ms',
  preallocate: 'log.preallocate',
  'segment.index.bytes': 'log.index.size.max.bytes',
  'segment.jitter.ms': 'log.roll.jitter.ms',
  'unclean.leader.election.enable': 'unclean.leader.election.enable',
  'delete.retention.ms': 'log.cleaner.delete.retention.ms',
  'max.compaction.lag.ms': 'log.cleaner.max.compaction.lag.ms',
  'min.cleanable.dirty.ratio': 'log.cleaner.min.cleanable.ratio',
  'min.compaction.lag.ms': 'log.cleaner.min.compaction.lag.ms',
};

const NO_EFFECT = ' Accepted and kept for compatibility; it has no effect on this gateway.';

const TOPIC_DOCS: Partial<Record<TopicConfigKey, string>> = {
  'cleanup.policy':
    "Retention policy of old log segments: 'delete' discards segments older than retention.ms or beyond retention.bytes; 'compact' keeps the latest record of every key (log compaction); 'compact,delete' does both.",
  'delete.retention.ms': 'Compacted topics: how long a tombstone (a record with a null value) is kept after the cleaner first saw it, so consumers reading from the start see the delete.',
  'max.compaction.lag.ms': 'Compacted topics: a record becomes eligible for compaction at the latest after this long, whatever the dirty ratio.',
  'min.cleanable.dirty.ratio': 'Compacted topics: the cleaner cleans a partition once at least this share of its log is uncleaned.',
  'min.compaction.lag.ms': 'Compacted topics: a record stays uncompacted for at least this long.',
  'flush.messages': 'Force an fsync of the partition after this many messages; 1 makes every batch durable before it is acknowledged.',
  'flush.ms': 'Force an fsync of the partition when data has been unflushed for this many milliseconds.',
  'index.interval.bytes': 'Bytes of log between two entries of the sparse offset index.',
  'max.message.bytes': 'Largest record batch (after compression) the topic accepts.',
  'message.timestamp.after.max.ms':
    'CreateTime topics: how far in the future (ms after the gateway clock) a record timestamp may be; a batch with a later one is refused with INVALID_TIMESTAMP.',
  'message.timestamp.before.max.ms':
    'CreateTime topics: how far in the past (ms before the gateway clock) a record timestamp may be; a batch with an earlier one is refused with INVALID_TIMESTAMP.',
  'message.timestamp.difference.max.ms':
    '[DEPRECATED] Bound used for message.timestamp.before.max.ms and message.timestamp.after.max.ms while they are unset.',
  'message.timestamp.type':
    'CreateTime keeps the timestamps producers set; LogAppendTime replaces them with the time the gateway appended the batch.',
  'min.insync.replicas': 'Fixed at 1: every partition has exactly one replica (durability comes from the storage engine).',
  'retention.bytes': 'Size a partition may grow to before its oldest segments are deleted; -1 means no size limit.',
  'retention.ms': 'How long records are kept before the segments holding them are deleted; -1 means forever.',
  'segment.bytes': 'Size of one log segment file.',
  'segment.ms': 'Time after which the active segment is rolled even if it is not full, so that retention can delete it.',
  'compression.type':
    "Codec batches are stored with: 'producer' keeps each batch as the producer compressed it; 'uncompressed', 'gzip', 'snappy', 'lz4' or 'zstd' recompress batches produced with another codec.",
  'compression.gzip.level': 'Level of gzip when batches are recompressed to gzip (1..9, or -1 for the codec default).',
  'compression.lz4.level': 'Level of lz4 when batches are recompressed to lz4 (1..17).',
  'compression.zstd.level': 'Level of zstd when batches are recompressed to zstd (-131072..22).',
  'file.delete.delay.ms': 'Time to wait before deleting a file from the filesystem.' + NO_EFFECT,
  'follower.replication.throttled.replicas': 'Replicas whose replication is throttled on the follower side.' + NO_EFFECT + ' (one replica per partition)',
  'leader.replication.throttled.replicas': 'Replicas whose replication is throttled on the leader side.' + NO_EFFECT + ' (one replica per partition)',
  'local.retention.bytes': 'Local size bound of a tiered-storage topic (-2: retention.bytes).' + NO_EFFECT,
  'local.retention.ms': 'Local time bound of a tiered-storage topic (-2: retention.ms).' + NO_EFFECT,
  preallocate: 'Preallocate segment files.' + NO_EFFECT,
  'remote.log.copy.disable': 'Stop copying segments to tiered storage.' + NO_EFFECT,
  'remote.log.delete.on.disable': 'Delete tiered data when tiered storage is disabled on the topic.' + NO_EFFECT,
  'remote.storage.enable': "Kafka's tiered storage: only false is accepted (Pulsar's offloaders tier this gateway's data).",
  'segment.index.bytes': 'Size of the offset index of a segment.' + NO_EFFECT,
  'segment.jitter.ms': 'Random jitter subtracted from segment.ms.' + NO_EFFECT,
  'unclean.leader.election.enable': 'Every partition has one replica: there is no leader election.' + NO_EFFECT,
};

const TOPIC_TYPES: Record<string, number> = { long: ConfigType.LONG, int: ConfigType.INT, double: ConfigType.DOUBLE, enum: ConfigType.STRING, list: ConfigType.LIST, boolean: ConfigType.BOOLEAN };

const KAFKA_TOPIC_DEFAULTS = makeDefaults();

function isDefaults(v: unknown): v is Record<TopicConfigKey, string> {
  return typeof v === 'object' && v !== null && TOPIC_CONFIG_KEYS.every((k) => typeof (v as Record<string, unknown>)[k] === 'string');
}

/**
 * The topic config defaults the engine applies. The embedded engine exposes
 * them (`configDefaults`, which include its flush policy); otherwise Kafka's.
 */
export function topicConfigDefaults(storage: StorageEngine): Record<TopicConfigKey, string> {
  const exposed = (storage as unknown as { configDefaults?: unknown }).configDefaults;
  return isDefaults(exposed) ? exposed : KAFKA_TOPIC_DEFAULTS;
}

/** Where a broker-level default comes from: Kafka's own default, or the gateway's configuration. */
function defaultSource(key: TopicConfigKey, value: string): number {
  return value === topicConfigSpec(key).default ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG;
}

/** Topic configs as Kafka describes them (pure: entries from the engine, defaults it applies). */
export function topicConfigViews(entries: readonly TopicConfigEntry[], defaults: Record<TopicConfigKey, string>): ConfigView[] {
  const out: ConfigView[] = [];
  for (const e of entries) {
    const key = e.name as TopicConfigKey;
    const spec = (TOPIC_CONFIG_KEYS as readonly string[]).includes(key) ? topicConfigSpec(key) : undefined;
    const brokerName = BROKER_SYNONYMS[key];
    const synonyms: ConfigView['synonyms'] = [];
    if (e.source === 'topic') synonyms.push({ name: e.name, value: e.value, source: ConfigSource.DYNAMIC_TOPIC_CONFIG });
    if (brokerName !== undefined && defaults[key] !== undefined) {
      synonyms.push({ name: brokerName, value: defaults[key], source: defaultSource(key, defaults[key]) });
    }
    out.push({
      name: e.name,
      value: e.sensitive ? null : e.value,
      source: synonyms[0]?.source ?? ConfigSource.DEFAULT_CONFIG,
      readOnly: e.readOnly,
      sensitive: e.sensitive,
      type: spec ? (TOPIC_TYPES[spec.type] ?? ConfigType.UNKNOWN) : ConfigType.UNKNOWN,
      synonyms,
      documentation: TOPIC_DOCS[key] ?? null,
    });
  }
  return out;
}

const READ_ONLY_NOTE = " Read-only: set in the gateway's configuration.";

/**
 * The broker configs this gateway reports for its node: the gateway settings
 * that correspond to Kafka broker configs, the broker-level topic defaults, and
 * the fixed single-node facts (replication factor 1...). All read-only.
 */
export function brokerConfigViews(nodeId: number, config: GatewayConfig, topicDefaults: Record<TopicConfigKey, string>): ConfigView[] {
  const views: ConfigView[] = [];
  const add = (name: string, value: string, type: number, source: number, doc: string): void => {
    views.push({ name, value, source, readOnly: true, sensitive: false, type, synonyms: [{ name, value, source }], documentation: doc + READ_ONLY_NOTE });
  };
  const fromGateway = (key: keyof typeof SCHEMA, value: string | number | boolean): number =>
    value === SCHEMA[key].default ? ConfigSource.DEFAULT_CONFIG : ConfigSource.STATIC_BROKER_CONFIG;

  add('node.id', String(nodeId), ConfigType.INT, fromGateway('kafkaNodeId', config.kafkaNodeId), 'The node id of this gateway (kafkaNodeId).');
  add('broker.id', String(nodeId), ConfigType.INT, fromGateway('kafkaNodeId', config.kafkaNodeId), 'The broker id of this gateway (kafkaNodeId).');
  add('auto.create.topics.enable', String(config.allowAutoTopicCreation), ConfigType.BOOLEAN, fromGateway('allowAutoTopicCreation', config.allowAutoTopicCreation), 'Whether Metadata requests create unknown topics (allowAutoTopicCreation).');
  add('num.partitions', String(config.defaultNumPartitions), ConfigType.INT, fromGateway('defaultNumPartitions', config.defaultNumPartitions), 'Partitions of auto-created topics and of CreateTopics requests asking for the default (defaultNumPartitions).');
  add('socket.request.max.bytes', String(config.socketRequestMaxBytes), ConfigType.INT, fromGateway('socketRequestMaxBytes', config.socketRequestMaxBytes), 'Largest request the gateway accepts (socketRequestMaxBytes).');
  add('connections.max.idle.ms', String(config.connectionMaxIdleMs), ConfigType.LONG, fromGateway('connectionMaxIdleMs', config.connectionMaxIdleMs), 'Idle connections are closed after this long (connectionMaxIdleMs).');
  const D = ConfigSource.DEFAULT_CONFIG;
  add('default.replication.factor', '1', ConfigType.INT, D, 'Every partition has exactly one replica on this gateway node; durability comes from the storage engine.');
  add('offsets.topic.replication.factor', '1', ConfigType.SHORT, D, 'Consumer group offsets are kept by the storage engine; one replica.');
  add('transaction.state.log.replication.factor', '1', ConfigType.SHORT, D, 'One replica, as for every topic of this gateway.');
  add('delete.topic.enable', 'true', ConfigType.BOOLEAN, D, 'Topics can be deleted with DeleteTopics.');
  for (const key of TOPIC_CONFIG_KEYS) {
    const spec = topicConfigSpec(key);
    const brokerName = BROKER_SYNONYMS[key];
    if (brokerName === undefined) continue;
    add(brokerName, topicDefaults[key], TOPIC_TYPES[spec.type] ?? ConfigType.UNKNOWN, defaultSource(key, topicDefaults[key]), `Default of the topic config ${key}. ${TOPIC_DOCS[key]}`);
  }
  return views.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** log4j level names for the gateway's log level. */
const LOG4J_LEVELS: Record<string, string> = { trace: 'TRACE', debug: 'DEBUG', info: 'INFO', warn: 'WARN', error: 'ERROR', fatal: 'FATAL', silent: 'OFF' };

export function brokerLoggerViews(logLevel: string): ConfigView[] {
  const value = LOG4J_LEVELS[logLevel] ?? logLevel.toUpperCase();
  const source = ConfigSource.DYNAMIC_BROKER_LOGGER_CONFIG;
  return [{ name: 'root', value, source, readOnly: true, sensitive: false, type: ConfigType.STRING, synonyms: [], documentation: null }];
}

/** The subset asked for (null or empty: all), shaped for the request version and flags. */
export function describeResult(
  views: readonly ConfigView[],
  keys: readonly string[] | null,
  opts: { includeSynonyms: boolean; includeDocumentation: boolean },
): ConfigOut[] {
  const wanted = keys === null || keys.length === 0 ? null : new Set(keys);
  return views
    .filter((v) => wanted === null || wanted.has(v.name))
    .map((v) => ({
      name: v.name,
      value: v.value,
      readOnly: v.readOnly,
      isDefault: v.source === ConfigSource.DEFAULT_CONFIG,
      configSource: v.source,
      isSensitive: v.sensitive,
      synonyms: opts.includeSynonyms ? v.synonyms.map((s): SynonymOut => ({ ...s })) : [],
      configType: v.type,
      documentation: opts.includeDocumentation ? v.documentation : null,
    }));
}

/** Our node id when `name` names it; throws INVALID_REQUEST with Kafka's wording otherwise. */
export function checkBrokerId(name: string, nodeId: number, allowEmpty: boolean): void {
  if (!/^-?\d+$/.test(name)) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Broker id must be an integer, but it is: ${name}`);
  if (Number(name) !== nodeId) {
    throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unexpected broker id, expected ${nodeId}${allowEmpty ? ' or empty string' : ''}, but received ${name}`);
  }
}

async function topicViews(ctx: RequestContext, name: string): Promise<ConfigView[]> {
  const resolved = resolveRequestTopic(ctx, name);
  if (!(await ctx.access.topic(resolved, 'lookup'))) throw new KafkaError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to describe topic ${name}`);
  const storage = ctx.gateway.storage;
  let entries: TopicConfigEntry[];
  try {
    entries = await storage.describeTopicConfigs(resolved.full);
  } catch (err) {
    if (err instanceof StorageError && err.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
      // the presented __consumer_offsets (topic-lookup.ts): Kafka's configs of it, read-only
      if (isOffsetsTopic(resolved)) {
        const defaults = topicConfigDefaults(storage);
        return topicConfigViews(
          describeTopicConfigs(OFFSETS_TOPIC_CONFIGS, defaults).map((e) => ({ ...e, readOnly: true })),
          defaults,
        );
      }
      throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
    }
    throw err;
  }
  return topicConfigViews(entries, topicConfigDefaults(storage));
}

/** Kafka's DESCRIBE_CONFIGS on the cluster: a superuser (the decision is audited). */
async function requireCluster(ctx: RequestContext): Promise<void> {
  if (!(await ctx.access.cluster())) throw new KafkaError(ErrorCode.CLUSTER_AUTHORIZATION_FAILED, 'Cluster authorization failed.');
}

async function describeResource(ctx: RequestContext, type: number, name: string): Promise<ConfigView[]> {
  const { nodeId, config } = ctx.gateway;
  switch (type) {
    case ResourceType.TOPIC:
      return topicViews(ctx, name);
    case ResourceType.BROKER:
      await requireCluster(ctx);
      if (name === '') return []; // no cluster-wide dynamic broker defaults: the gateway's config file is all
      checkBrokerId(name, nodeId, true);
      return brokerConfigViews(nodeId, config, topicConfigDefaults(ctx.gateway.storage));
    case ResourceType.BROKER_LOGGER:
      await requireCluster(ctx);
      if (name === '') throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Broker id must not be empty');
      checkBrokerId(name, nodeId, false);
      return brokerLoggerViews(config.logLevel);
    default:
      throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unsupported resource type ${type}: this gateway describes TOPIC (2), BROKER (4) and BROKER_LOGGER (8) configs`);
  }
}

function failed(resourceType: number, resourceName: string, errorCode: number, errorMessage: string | null): ResultOut {
  return { errorCode, errorMessage, resourceType, resourceName, configs: [] };
}

export const describeConfigs: ApiEntry<DescribeConfigsRequest, DescribeConfigsResponse> = {
  apiKey: API_KEYS.DescribeConfigs,
  minVersion: 0,
  maxVersion: 4,
  rule: 'topic-lookup',
  authz: {
    checks: [
      { action: 'lookup', on: 'topic', when: 'resource type TOPIC', denial: 'TOPIC_AUTHORIZATION_FAILED on the resource' },
      { action: 'admin', on: 'cluster', when: 'resource type BROKER or BROKER_LOGGER', denial: 'CLUSTER_AUTHORIZATION_FAILED on the resource' },
    ],
    needs(request) {
      const out: Need[] = [];
      for (const r of request.resources) {
        if (r.resourceType === ResourceType.TOPIC) out.push({ on: 'topic', action: 'lookup', name: r.resourceName });
        else if (r.resourceType === ResourceType.BROKER || r.resourceType === ResourceType.BROKER_LOGGER) out.push({ on: 'cluster', action: 'admin' });
      }
      return out;
    },
  },
  async handle(ctx, request) {
    const opts = {
      includeSynonyms: ctx.apiVersion >= 1 && request.includeSynonyms,
      includeDocumentation: ctx.apiVersion >= 3 && request.includeDocumentation,
    };
    const results = await Promise.all(
      request.resources.map(async (r): Promise<ResultOut> => {
        try {
          const views = await describeResource(ctx, r.resourceType, r.resourceName);
          return { errorCode: ErrorCode.NONE, errorMessage: null, resourceType: r.resourceType, resourceName: r.resourceName, configs: describeResult(views, r.configurationKeys, opts) };
        } catch (err) {
          if (err instanceof KafkaError || err instanceof StorageError) return failed(r.resourceType, r.resourceName, err.code, err.message);
          throw err;
        }
      }),
    );
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, results: request.resources.map((r) => failed(r.resourceType, r.resourceName, errorCode, null)) };
  },
};
