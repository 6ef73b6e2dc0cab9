/**
 * Metadata (3): this gateway node is the only broker, the controller and the
 * leader of every partition it serves (ordering and offsets come from the
 * storage engine, so any node can lead any partition). Topics come from the
 * storage engine; unknown topics are auto-created when both the gateway
 * (allowAutoTopicCreation) and the client (v4+ flag) allow it.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { MetadataResponse, type MetadataRequest } from '../protocol/generated/index.js';
import { isInternalTopic, kafkaNameFor, parseFullName, resolveTopic } from '../topics/names.js';
import { StorageError, type TopicInfo } from '../storage/engine.js';
import { ZERO_UUID } from '../protocol/codec/types.js';
import { OFFSETS_TOPIC, isOffsetsTopic, offsetsLogFor, offsetsTopicInfo, resolveRequestTopic } from './topic-lookup.js';

type TopicOut = MetadataResponse['topics'][number];

/** Kafka's "authorized operations not requested" marker. */
const OPS_NOT_REQUESTED = -2147483648;

function describeTopic(ctx: RequestContext, info: TopicInfo, requestedName: string | null): TopicOut {
  const nodeId = ctx.gateway.nodeId;
  const partitions = [];
  for (let p = 0; p < info.partitions; p++) {
    partitions.push({
      errorCode: ErrorCode.NONE,
      partitionIndex: p,
      leaderId: nodeId,
      leaderEpoch: 0,
      replicaNodes: [nodeId],
      isrNodes: [nodeId],
      offlineReplicas: [],
    });
  }
  return {
    errorCode: ErrorCode.NONE,
    name: requestedName ?? kafkaNameFor(info.name, ctx.session.defaultNamespace),
    topicId: info.topicId,
    isInternal: info.internal,
    partitions,
    topicAuthorizedOperations: OPS_NOT_REQUESTED,
  };
}

function topicError(name: string | null, code: number, topicId: Buffer = ZERO_UUID): TopicOut {
  return { errorCode: code, name, topicId, isInternal: false, partitions: [], topicAuthorizedOperations: OPS_NOT_REQUESTED };
}

async function lookupOrCreate(ctx: RequestContext, name: string, allowCreate: boolean): Promise<TopicOut> {
  let resolved;
  try {
    resolved = resolveRequestTopic(ctx, name);
  } catch (err) {
    if (err instanceof KafkaError) return topicError(name, err.code);
    throw err;
  }
  // Authorization before existence: a denied client learns nothing about the topic.
  if (!(await ctx.access.topic(resolved, 'lookup'))) return topicError(name, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  const storage = ctx.gateway.storage;
  let info = await storage.describeTopic(resolved.full);
  if (!info && allowCreate && !isInternalTopic(resolved)) {
    try {
      info = await storage.createTopic(resolved.full, ctx.gateway.config.defaultNumPartitions, {});
      ctx.log.info({ topic: resolved.full, partitions: info.partitions, clientId: ctx.clientId }, 'auto-created topic');
    } catch (err) {
      if (err instanceof StorageError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS) {
        info = await storage.describeTopic(resolved.full); // created concurrently
      } else if (err instanceof StorageError) {
        return topicError(name, err.code);
      } else {
        throw err;
      }
    }
  }
  if (!info && isOffsetsTopic(resolved)) info = (await offsetsLogFor(ctx, resolved)) ?? offsetsTopicInfo(ctx, resolved);
  if (!info) return topicError(name, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  return describeTopic(ctx, info, name);
}

/**
 * Whether a requested topic is named by its id: a null name (v10+), or from v12 any non-zero id
 * (Kafka looks topics up by id whenever ids are set; the Java client's by-id requests, e.g. for the
 * topics of a KIP-848 assignment, carry name "").
 */
function byTopicId(t: { name: string | null; topicId: Buffer }, apiVersion: number): boolean {
  return t.name === null || (apiVersion >= 12 && !t.topicId.equals(ZERO_UUID));
}

export const metadata: ApiEntry<MetadataRequest, MetadataResponse> = {
  apiKey: API_KEYS.Metadata,
  minVersion: 0,
  maxVersion: 12,
  rule: 'topic-lookup',
  authz: {
    checks: [
      { action: 'lookup', on: 'topic', denial: 'TOPIC_AUTHORIZATION_FAILED on the topic (checked before existence and auto-creation)' },
      { action: 'lookup', on: 'topic-id', when: 'v10+', denial: 'TOPIC_AUTHORIZATION_FAILED on the topic (an unknown id: UNKNOWN_TOPIC_ID)' },
      { action: 'lookup', on: 'topic-listing', when: 'all topics requested', denial: 'the topic is left out (one access_filtered record)' },
    ],
    needs(request, { apiVersion }) {
      if (request.topics === null || (apiVersion === 0 && request.topics.length === 0)) return [{ on: 'topic-listing', action: 'lookup' }];
      return request.topics.map((t): Need => (byTopicId(t, apiVersion) ? { on: 'topic-id', action: 'lookup', id: t.topicId } : { on: 'topic', action: 'lookup', name: t.name! }));
    },
  },
  async handle(ctx, request) {
    const { config, nodeId, clusterId } = ctx.gateway;
    const endpoint = ctx.gateway.advertisedEndpoint(ctx.conn.listenerName);
    // v0 has no null: an empty list means all topics. v1+: null means all, empty means none.
    const all = request.topics === null || (ctx.apiVersion === 0 && request.topics.length === 0);
    const clientAllowsCreate = ctx.apiVersion < 4 ? true : request.allowAutoTopicCreation;
    const allowCreate = config.allowAutoTopicCreation && clientAllowsCreate;

    const topics: TopicOut[] = [];
    if (all) {
      // Listing all topics shows only those the principal may look up. A filtered listing:
      // hidden topics are counted into one audit record, not recorded one by one (Kafka's
      // logIfDenied=false), and never reported.
      const offsets = resolveTopic(OFFSETS_TOPIC, ctx.session.defaultNamespace);
      let offsetsListed = false;
      for (const info of await ctx.gateway.storage.listTopics()) {
        if (info.name === offsets.full) offsetsListed = true;
        if (await ctx.access.topic(parseFullName(info.name), 'lookup', { listing: true })) topics.push(describeTopic(ctx, info, null));
      }
      // the session namespace's presented __consumer_offsets (topic-lookup.ts), listed as Kafka lists it
      if (!offsetsListed && (await ctx.access.topic(offsets, 'lookup', { listing: true }))) topics.push(describeTopic(ctx, offsetsTopicInfo(ctx, offsets), null));
    } else {
      for (const t of request.topics!) {
        if (byTopicId(t, ctx.apiVersion)) {
          // v10+: by topic id (v12+: whenever the id is set, as Kafka; the Java client then sends name "")
          const info = await ctx.gateway.storage.describeTopicById(t.topicId);
          const allowed = info ? await ctx.access.topic(parseFullName(info.name), 'lookup') : false;
          topics.push(info && allowed ? describeTopic(ctx, info, null) : topicError(null, info ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : ErrorCode.UNKNOWN_TOPIC_ID, t.topicId));
        } else {
          topics.push(await lookupOrCreate(ctx, t.name!, allowCreate));
        }
      }
    }
    return {
      ...MetadataResponse.defaults(),
      throttleTimeMs: 0,
      // this node leads every partition; other gateway nodes are listed so clients can reach a group coordinator there
      brokers: [
        { nodeId, host: endpoint.host, port: endpoint.port, rack: null },
        ...(ctx.gateway.peers?.(ctx.conn.listenerName) ?? []).map((p) => ({ nodeId: p.nodeId, host: p.endpoint.host, port: p.endpoint.port, rack: null })),
      ],
      clusterId,
      controllerId: nodeId,
      topics,
      clusterAuthorizedOperations: OPS_NOT_REQUESTED,
    };
  },
};
