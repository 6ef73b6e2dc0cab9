/**
 * CreateTopics (19), with a single node's semantics: every partition has one
 * replica, on this gateway node (durability is the storage engine's job), so
 * replication factor 1 or -1 (the default) is accepted and any other is
 * INVALID_REPLICATION_FACTOR; manual assignments must put each partition on
 * this node only. numPartitions -1 means defaultNumPartitions. Configs are
 * validated against the topic configs the engine honours. Checks and messages
 * follow Kafka's controller; v5+ answers with the topic's partitions,
 * replication factor and configs, v7+ with its id.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { CreateTopicsRequest, CreateTopicsResponse } from '../protocol/generated/index.js';
import { ZERO_UUID } from '../protocol/codec/types.js';
import { StorageError } from '../storage/engine.js';
import { describeTopicConfigs, validateConfigValue } from '../storage/topic-config.js';
import { isInternalTopic } from '../topics/names.js';
import { topicConfigDefaults, topicConfigViews } from './describe-configs.js';
import { resolveRequestTopic } from './topic-lookup.js';

/** Kafka's controller limit on the partitions one CreateTopics request may create (MAX_RECORDS_PER_USER_OP). */
export const MAX_PARTITIONS_PER_REQUEST = 10_000;

type TopicIn = CreateTopicsRequest['topics'][number];
type TopicOut = CreateTopicsResponse['topics'][number];

function failed(name: string, errorCode: number, errorMessage: string | null): TopicOut {
  return {
    name,
    topicId: ZERO_UUID,
    errorCode,
    errorMessage,
    topicConfigErrorCode: ErrorCode.NONE,
    numPartitions: -1,
    replicationFactor: -1,
    configs: [],
  };
}

/** Why a replication factor cannot be served by this single node, or null. */
export function checkReplicationFactor(rf: number): string | null {
  if (rf === -1 || rf === 1) return null;
  if (rf <= 0) return 'Replication factor must be larger than 0, or -1 to use the default value.';
  return (
    `Unable to replicate the partition ${rf} time(s): The target replication factor of ${rf} cannot be reached because only 1 broker(s) are registered. ` +
    'This gateway is a single Kafka node: every partition has exactly one replica and durability comes from its storage engine; use replication factor 1 or -1.'
  );
}

/**
 * Checks manual replica assignments (Kafka's wording): partitions 0..n-1, each
 * with one replica on `nodeId`. Returns the partition count, or throws.
 */
export function checkAssignments(assignments: TopicIn['assignments'], nodeId: number): number {
  const indexes = assignments.map((a) => a.partitionIndex).sort((a, b) => a - b);
  if (indexes.some((p, i) => p !== i)) {
    throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'partitions should be a consecutive 0-based integer sequence');
  }
  for (const a of assignments) checkReplicaList(a.brokerIds, nodeId);
  return assignments.length;
}

/** One partition's replicas in a manual assignment: exactly [nodeId]. */
export function checkReplicaList(brokerIds: readonly number[], nodeId: number): void {
  if (brokerIds.length === 0) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, 'The manual partition assignment includes an empty replica list.');
  const seen = new Set<number>();
  for (const id of brokerIds) {
    if (id !== nodeId) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes broker ${id}, but no such broker is registered.`);
    if (seen.has(id)) throw new KafkaError(ErrorCode.INVALID_REPLICA_ASSIGNMENT, `The manual partition assignment includes the broker ${id} more than once.`);
    seen.add(id);
  }
}

async function createOne(ctx: RequestContext, t: TopicIn, validateOnly: boolean): Promise<TopicOut> {
  const { config, nodeId, storage } = ctx.gateway;
  let resolved;
  try {
    resolved = resolveRequestTopic(ctx, t.name);
  } catch (err) {
    if (err instanceof KafkaError) return failed(t.name, err.code, err.message);
    throw err;
  }
  if (!(await ctx.access.tenantAdmin(resolved.tenant))) {
    return failed(t.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to create topics in tenant ${resolved.tenant}`);
  }
  if (isInternalTopic(resolved)) {
    return failed(t.name, ErrorCode.INVALID_TOPIC_EXCEPTION, `Creation of internal topic ${t.name} is prohibited: the gateway keeps its internal state itself.`);
  }

  let partitions: number;
  if (t.assignments.length > 0) {
    if (t.replicationFactor !== -1) return failed(t.name, ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but replication factor was not set to -1.');
    if (t.numPartitions !== -1) return failed(t.name, ErrorCode.INVALID_REQUEST, 'A manual partition assignment was specified, but numPartitions was not set to -1.');
    try {
      partitions = checkAssignments(t.assignments, nodeId);
    } catch (err) {
      if (err instanceof KafkaError) return failed(t.name, err.code, err.message);
      throw err;
    }
  } else {
    const rfProblem = checkReplicationFactor(t.replicationFactor);
    if (rfProblem) return failed(t.name, ErrorCode.INVALID_REPLICATION_FACTOR, rfProblem);
    if (t.numPartitions === -1) partitions = config.defaultNumPartitions;
    else if (t.numPartitions <= 0) return failed(t.name, ErrorCode.INVALID_PARTITIONS, 'Number of partitions was set to an invalid non-positive value.');
    else partitions = t.numPartitions;
  }
  const maxPartitions = config.maxNumPartitionsPerPartitionedTopic;
  if (maxPartitions > 0 && partitions > maxPartitions) {
    return failed(t.name, ErrorCode.INVALID_PARTITIONS, `Number of partitions ${partitions} exceeds the maximum of ${maxPartitions} per topic (maxNumPartitionsPerPartitionedTopic).`);
  }

  const configs: Record<string, string> = {};
  for (const c of t.configs) {
    if (c.value === null) return failed(t.name, ErrorCode.INVALID_CONFIG, `Null value not supported for topic configs: ${c.name}`);
    try {
      validateConfigValue(c.name, c.value);
    } catch (err) {
      if (err instanceof StorageError) return failed(t.name, err.code, err.message);
      throw err;
    }
    configs[c.name] = c.value;
  }

  if (await storage.describeTopic(resolved.full)) return failed(t.name, ErrorCode.TOPIC_ALREADY_EXISTS, `Topic '${t.name}' already exists.`);
  let info;
  try {
    info = await storage.createTopic(resolved.full, partitions, configs, validateOnly);
  } catch (err) {
    if (err instanceof StorageError) {
      const message = err.code === ErrorCode.TOPIC_ALREADY_EXISTS ? `Topic '${t.name}' already exists.` : err.message;
      return failed(t.name, err.code, message);
    }
    throw err;
  }
  if (!validateOnly) {
    ctx.log.info({ conn: ctx.conn.id, clientId: ctx.clientId, principal: ctx.session.principal, topic: resolved.full, partitions, configs }, 'topic created (CreateTopics)');
  }
  const views = topicConfigViews(describeTopicConfigs(info.configs, topicConfigDefaults(storage)), topicConfigDefaults(storage));
  return {
    name: t.name,
    topicId: validateOnly ? ZERO_UUID : info.topicId,
    errorCode: ErrorCode.NONE,
    errorMessage: null,
    topicConfigErrorCode: ErrorCode.NONE,
    numPartitions: info.partitions,
    replicationFactor: 1,
    configs: views.map((v) => ({ name: v.name, value: v.value, readOnly: v.readOnly, configSource: v.source, isSensitive: v.sensitive })),
  };
}

export const createTopics: ApiEntry<CreateTopicsRequest, CreateTopicsResponse> = {
  apiKey: API_KEYS.CreateTopics,
  minVersion: 0,
  maxVersion: 7,
  rule: 'tenant-admin',
  authz: {
    checks: [{ action: 'admin', on: 'tenant-of-topic', denial: 'TOPIC_AUTHORIZATION_FAILED on the topic' }],
    needs: (request) => topicsNamed('admin', request.topics.map((t) => t.name), 'tenant-of-topic'),
  },
  async handle(ctx, request) {
    const validateOnly = ctx.apiVersion >= 1 && request.validateOnly;
    const counts = new Map<string, number>();
    for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const unique = request.topics.filter((t) => counts.get(t.name) === 1);
    // Kafka's controller refuses a request for more than 10,000 new partitions in all, before creating any.
    const requested = unique.reduce((n, t) => n + (t.assignments.length > 0 ? t.assignments.length : t.numPartitions === -1 ? ctx.gateway.config.defaultNumPartitions : Math.max(0, t.numPartitions)), 0);
    if (requested > MAX_PARTITIONS_PER_REQUEST) {
      const message = `Unable to create topics: Excessively large number of partitions per request (${requested} > ${MAX_PARTITIONS_PER_REQUEST}).`;
      return { throttleTimeMs: 0, topics: request.topics.map((t) => failed(t.name, ErrorCode.POLICY_VIOLATION, message)) };
    }
    const topics = await Promise.all(unique.map((t) => createOne(ctx, t, validateOnly)));
    // Kafka: a name given more than once is refused (once), the others are created.
    for (const [name, n] of counts) if (n > 1) topics.push(failed(name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, topics: request.topics.map((t) => failed(t.name, errorCode, null)) };
  },
};
