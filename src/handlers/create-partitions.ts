/**
 * CreatePartitions (37): grow a topic to `count` partitions. Never shrinks
 * (INVALID_PARTITIONS, in Kafka's words); manual assignments, when given, must
 * name one new partition each, on this node only. validateOnly checks without
 * changing anything.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { CreatePartitionsRequest, CreatePartitionsResponse } from '../protocol/generated/index.js';
import { StorageError } from '../storage/engine.js';

import { checkReplicaList } from './create-topics.js';
import { resolveRequestTopic } from './topic-lookup.js';

type TopicIn = CreatePartitionsRequest['topics'][number];
type ResultOut = CreatePartitionsResponse['results'][number];

function result(name: string, errorCode: number, errorMessage: string | null = null): ResultOut {
  return { name, errorCode, errorMessage };
}

/** Kafka's checks of a partition increase, or null when `count` is a valid increase. */
export function checkIncrease(topic: string, current: number, count: number): string | null {
  if (count === current) return `Topic already has ${current} partition(s).`;
  if (count < current) return `The topic ${topic} currently has ${current} partition(s); ${count} would not be an increase.`;
  return null;
}

async function growOne(ctx: RequestContext, t: TopicIn, validateOnly: boolean): Promise<ResultOut> {
  const { storage, nodeId } = ctx.gateway;
  let full: string;
  let tenant: string;
  try {
    ({ full, tenant } = resolveRequestTopic(ctx, t.name));
  } catch (err) {
    if (err instanceof KafkaError) return result(t.name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`);
    throw err;
  }
  if (!(await ctx.access.tenantAdmin(tenant))) return result(t.name, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to alter topics in tenant ${tenant}`);
  const info = await storage.describeTopic(full);
  if (!info) return result(t.name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${t.name}' does not exist.`);
  const problem = checkIncrease(t.name, info.partitions, t.count);
  if (problem) return result(t.name, ErrorCode.INVALID_PARTITIONS, problem);
  const maxPartitions = ctx.gateway.config.maxNumPartitionsPerPartitionedTopic;
  if (maxPartitions > 0 && t.count > maxPartitions) {
    return result(t.name, ErrorCode.INVALID_PARTITIONS, `Number of partitions ${t.count} exceeds the maximum of ${maxPartitions} per topic (maxNumPartitionsPerPartitionedTopic).`);
  }
  if (t.assignments !== null) {
    const added = t.count - info.partitions;
    if (t.assignments.length !== added) {
      return result(t.name, ErrorCode.INVALID_REPLICA_ASSIGNMENT, `Attempted to add ${added} additional partition(s), but only ${t.assignments.length} assignment(s) were specified.`);
    }
    try {
      for (const a of t.assignments) checkReplicaList(a.brokerIds, nodeId);
    } catch (err) {
      if (err instanceof KafkaError) return result(t.name, err.code, err.message);
      throw err;
    }
  }
  try {
    await storage.createPartitions(full, t.count, validateOnly);
  } catch (err) {
    if (err instanceof StorageError) return result(t.name, err.code, err.message);
    throw err;
  }
  if (!validateOnly) {
    ctx.log.info({ conn: ctx.conn.id, clientId: ctx.clientId, principal: ctx.session.principal, topic: full, from: info.partitions, to: t.count }, 'partitions added (CreatePartitions)');
  }
  return result(t.name, ErrorCode.NONE);
}

export const createPartitions: ApiEntry<CreatePartitionsRequest, CreatePartitionsResponse> = {
  apiKey: API_KEYS.CreatePartitions,
  minVersion: 0,
  maxVersion: 3,
  rule: 'tenant-admin',
  authz: {
    checks: [{ action: 'admin', on: 'tenant-of-topic', denial: 'TOPIC_AUTHORIZATION_FAILED on the topic' }],
    needs: (request) => topicsNamed('admin', request.topics.map((t) => t.name), 'tenant-of-topic'),
  },
  async handle(ctx, request) {
    const counts = new Map<string, number>();
    for (const t of request.topics) counts.set(t.name, (counts.get(t.name) ?? 0) + 1);
    const results = await Promise.all(request.topics.filter((t) => counts.get(t.name) === 1).map((t) => growOne(ctx, t, request.validateOnly)));
    for (const [name, n] of counts) if (n > 1) results.push(result(name, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
    return { throttleTimeMs: 0, results };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, results: request.topics.map((t) => result(t.name, errorCode)) };
  },
};
