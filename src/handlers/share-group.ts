/**
 * Share groups (KIP-932), membership side: ShareGroupHeartbeat (76, v1),
 * ShareGroupDescribe (77, v1) and DescribeShareGroupOffsets (90, v0-1: the
 * share-partition start offsets and lag), over the share-group coordinator
 * (src/share/groups.ts). The records side is share-fetch.ts.
 *
 * Authorization, as for consumer groups (group-common.ts): the group is
 * checked in its home namespace with `consume` (Kafka READ on the group for
 * the heartbeat, DESCRIBE for describe: GROUP_AUTHORIZATION_FAILED); the
 * heartbeat's subscribed topics need `consume` (Kafka READ on the topics: the
 * whole heartbeat answers TOPIC_AUTHORIZATION_FAILED, as Kafka 4.1+ does).
 * A heartbeat that sends no subscription (unchanged) is checked against the
 * one the member sent last, so a revoked grant stops the assignment.
 *
 * A group id is one namespace for every kind of group: an id a consumer group
 * uses is not a share group (GROUP_ID_NOT_FOUND, as Kafka answers).
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type {
  DescribeShareGroupOffsetsRequest,
  DescribeShareGroupOffsetsResponse,
  ShareGroupDescribeRequest,
  ShareGroupDescribeResponse,
  ShareGroupHeartbeatRequest,
  ShareGroupHeartbeatResponse,
} from '../protocol/generated/index.js';
import { kafkaNameFor, parseFullName } from '../topics/names.js';
import { LEADER_EPOCH } from './topic-lookup.js';
import type { GroupRef } from '../coordinator/coordinator.js';
import type { ShareGroups, ShareTopic } from '../share/groups.js';
import { TopicResolver } from './topic-lookup.js';
import { clientHost } from './group-common.js';

/** Kafka's "authorized operations not requested" marker. */
const OPS_NOT_REQUESTED = -2147483648;
export const SHARE_ASSIGNOR = 'simple';

/** The share group of a request, as the dispatcher decided it: a ref the share-group coordinator accepts, or the error. */
export async function shareGroupAccess(ctx: RequestContext, groupId: string, action: 'consume' | 'admin' = 'consume'): Promise<{ ok: true; ref: GroupRef; shares: ShareGroups } | { ok: false; errorCode: number }> {
  const decided = await ctx.access.groupAccess(groupId, action);
  const shares = ctx.gateway.shareGroups;
  if (decided.ref === null || !shares) return { ok: false, errorCode: decided.errorCode === ErrorCode.NONE ? ErrorCode.COORDINATOR_NOT_AVAILABLE : decided.errorCode };
  return { ok: true, ref: decided.ref, shares };
}

/** A consumer (classic) group of that id exists: it is not a share group. */
export function isOtherKindOfGroup(ctx: RequestContext, groupId: string): boolean {
  return ctx.gateway.coordinator?.groupHome({ tenant: ctx.session.defaultNamespace.tenant, groupId }).exists === true;
}

type HeartbeatOut = ShareGroupHeartbeatResponse;

function heartbeatError(errorCode: number, errorMessage: string | null = null): HeartbeatOut {
  return { throttleTimeMs: 0, errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

function subscriptionNamed(request: ShareGroupHeartbeatRequest, gateway: RequestContext['gateway'] | undefined, tenant: string): string[] {
  if (request.subscribedTopicNames !== null) return request.subscribedTopicNames;
  return gateway?.shareGroups?.subscriptionOf({ tenant, groupId: request.groupId }, request.memberId) ?? [];
}

export const shareGroupHeartbeat: ApiEntry<ShareGroupHeartbeatRequest, ShareGroupHeartbeatResponse> = {
  apiKey: API_KEYS.ShareGroupHeartbeat,
  minVersion: 1,
  maxVersion: 1,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED' },
      { action: 'consume', on: 'topic', when: 'subscribed topics (the last subscription sent when the request sends none)', denial: 'TOPIC_AUTHORIZATION_FAILED (the whole heartbeat)' },
    ],
    needs: (request, { session, gateway }) => {
      const group = { group: request.groupId, action: 'consume' as const };
      const needs: Need[] = [{ on: 'group', action: 'consume', group: request.groupId, share: true }];
      needs.push(...topicsNamed('consume', new Set(subscriptionNamed(request, gateway, session.defaultNamespace.tenant)), 'topic', group));
      return needs;
    },
  },
  async handle(ctx, request) {
    // the group first (KafkaApis authorizes before the coordinator validates)
    const access = await shareGroupAccess(ctx, request.groupId);
    if (!access.ok) return heartbeatError(access.errorCode);
    // Kafka's request validation (GroupMetadataManager.throwIfShareGroupHeartbeatRequestIsInvalid)
    if (request.groupId === '') return heartbeatError(ErrorCode.INVALID_REQUEST, "GroupId can't be empty.");
    if (request.rackId === '') return heartbeatError(ErrorCode.INVALID_REQUEST, "RackId can't be empty.");
    if (request.memberId === '') return heartbeatError(ErrorCode.INVALID_REQUEST, "MemberId can't be empty.");
    if (request.memberId.length > 36) return heartbeatError(ErrorCode.INVALID_REQUEST, 'MemberId must be at most 36 characters.');
    if (request.memberEpoch === 0) {
      if (!request.subscribedTopicNames || request.subscribedTopicNames.length === 0) return heartbeatError(ErrorCode.INVALID_REQUEST, 'SubscribedTopicNames must be set in first request.');
    } else if (request.memberEpoch < -1) {
      return heartbeatError(ErrorCode.INVALID_REQUEST, 'MemberEpoch is invalid.');
    }
    if (isOtherKindOfGroup(ctx, request.groupId)) return heartbeatError(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${request.groupId} is not a share group.`);
    const topics: ShareTopic[] = [];
    if (request.memberEpoch !== -1) {
      const resolver = new TopicResolver(ctx);
      for (const kafkaName of new Set(subscriptionNamed(request, ctx.gateway, ctx.session.defaultNamespace.tenant))) {
        const found = await resolver.lookup(kafkaName);
        if (found.name && !(await ctx.access.topic(found.name, 'consume'))) {
          return heartbeatError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, `Not authorized to read topic ${kafkaName}.`);
        }
        // topics that do not exist (yet) are not assigned; a later heartbeat assigns them
        if (found.ok) topics.push({ kafkaName, name: found.info.name, topicId: found.info.topicId, partitions: found.info.partitions });
      }
    }
    const r = await access.shares.heartbeat(access.ref, {
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      rackId: request.rackId,
      subscribedNames: request.subscribedTopicNames,
      topics,
      clientId: ctx.clientId ?? '',
      clientHost: clientHost(ctx),
    });
    if (r.errorCode !== ErrorCode.NONE) return heartbeatError(r.errorCode, r.errorMessage);
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: r.memberId,
      memberEpoch: r.memberEpoch,
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      assignment: r.assignment && {
        topicPartitions: r.assignment.map((t) => ({ topicId: t.topicId, partitions: Array.from({ length: t.partitions }, (_, i) => i) })),
      },
    };
  },
  errorResponse(_request, errorCode) {
    return heartbeatError(errorCode);
  },
};

type DescribedShareGroup = ShareGroupDescribeResponse['groups'][number];

function describeError(groupId: string, errorCode: number, errorMessage: string | null = null): DescribedShareGroup {
  return { errorCode, errorMessage, groupId, groupState: errorCode === ErrorCode.GROUP_ID_NOT_FOUND ? 'Dead' : '', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations: OPS_NOT_REQUESTED };
}

export const shareGroupDescribe: ApiEntry<ShareGroupDescribeRequest, ShareGroupDescribeResponse> = {
  apiKey: API_KEYS.ShareGroupDescribe,
  minVersion: 1,
  maxVersion: 1,
  rule: 'group',
  authz: {
    checks: [{ action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED on the group, nothing of it shown' }],
    needs: (request) => request.groupIds.map((group): Need => ({ on: 'group', action: 'consume', group, share: true })),
  },
  async handle(ctx, request) {
    const groups: DescribedShareGroup[] = [];
    for (const groupId of request.groupIds) {
      if (groupId === '') {
        groups.push(describeError(groupId, ErrorCode.INVALID_GROUP_ID));
        continue;
      }
      const access = await shareGroupAccess(ctx, groupId);
      if (!access.ok) {
        groups.push(describeError(groupId, access.errorCode));
        continue;
      }
      if (isOtherKindOfGroup(ctx, groupId)) {
        groups.push(describeError(groupId, ErrorCode.GROUP_ID_NOT_FOUND, `Group ${groupId} is not a share group.`));
        continue;
      }
      const d = access.shares.describe(access.ref);
      if (d.errorCode !== ErrorCode.NONE || !d.group) {
        groups.push(describeError(groupId, d.errorCode, d.errorCode === ErrorCode.GROUP_ID_NOT_FOUND ? `Group ${groupId} not found.` : null));
        continue;
      }
      const g = d.group;
      const members = [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribed,
        assignment: {
          topicPartitions: m.topics.map((t) => ({ topicId: t.topicId, topicName: t.kafkaName, partitions: Array.from({ length: t.partitions }, (_, i) => i) })),
        },
      }));
      groups.push({
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        groupId,
        groupState: members.length === 0 ? 'Empty' : 'Stable',
        groupEpoch: g.groupEpoch,
        assignmentEpoch: g.groupEpoch,
        assignorName: SHARE_ASSIGNOR,
        members,
        authorizedOperations: OPS_NOT_REQUESTED,
      });
    }
    return { throttleTimeMs: 0, groups };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, groups: request.groupIds.map((g) => describeError(g, errorCode)) };
  },
};

type OffsetsGroupOut = DescribeShareGroupOffsetsResponse['groups'][number];
type OffsetsTopicOut = OffsetsGroupOut['topics'][number];

function offsetsError(groupId: string, errorCode: number, errorMessage: string | null = null): OffsetsGroupOut {
  return { groupId, topics: [], errorCode, errorMessage };
}

export const describeShareGroupOffsets: ApiEntry<DescribeShareGroupOffsetsRequest, DescribeShareGroupOffsetsResponse> = {
  apiKey: API_KEYS.DescribeShareGroupOffsets,
  minVersion: 0,
  maxVersion: 1,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED for the group, no offsets' },
      { action: 'consume', on: 'topic', when: 'the group allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' },
      { action: 'consume', on: 'topic-listing', when: 'the group allowed, all of its topics requested', denial: 'the topic is left out (one access_filtered record)' },
    ],
    needs(request) {
      const out: Need[] = [];
      for (const g of request.groups) {
        const ifGroup = { group: g.groupId, action: 'consume' as const };
        out.push({ on: 'group', action: 'consume', group: g.groupId, share: true });
        if (g.topics === null) out.push({ on: 'topic-listing', action: 'consume', ifGroup });
        else out.push(...topicsNamed('consume', g.topics.map((t) => t.topicName), 'topic', ifGroup));
      }
      return out;
    },
  },
  async handle(ctx, request) {
    const groups: OffsetsGroupOut[] = [];
    const ns = ctx.session.defaultNamespace;
    for (const g of request.groups) {
      const access = await shareGroupAccess(ctx, g.groupId);
      if (!access.ok) {
        groups.push(offsetsError(g.groupId, access.errorCode));
        continue;
      }
      if (isOtherKindOfGroup(ctx, g.groupId)) {
        groups.push(offsetsError(g.groupId, ErrorCode.GROUP_ID_NOT_FOUND, `Group ${g.groupId} is not a share group.`));
        continue;
      }
      const rc = { storage: ctx.gateway.storage };
      const byTopic = new Map<string, OffsetsTopicOut>();
      if (g.topics === null) {
        const allowed = new Map<string, boolean>();
        const listed = async (topic: string): Promise<boolean> => {
          let ok = allowed.get(topic);
          if (ok === undefined) allowed.set(topic, (ok = await ctx.access.topic(parseFullName(topic), 'consume', { listing: true })));
          return ok;
        };
        const held = await access.shares.describeOffsets(access.ref, null, rc, listed);
        if (held === null) {
          groups.push(offsetsError(g.groupId, ErrorCode.GROUP_ID_NOT_FOUND, `Group ${g.groupId} not found.`));
          continue;
        }
        for (const p of held) {
          let t = byTopic.get(p.topic);
          if (!t) byTopic.set(p.topic, (t = { topicName: kafkaNameFor(p.topic, ns), topicId: p.topicId, partitions: [] }));
          t.partitions.push({ partitionIndex: p.partition, startOffset: p.startOffset, leaderEpoch: LEADER_EPOCH, lag: p.lag, errorCode: ErrorCode.NONE, errorMessage: null });
        }
      } else {
        const resolver = new TopicResolver(ctx);
        const resolved: Array<{ rt: (typeof g.topics)[number]; found: Awaited<ReturnType<TopicResolver['lookup']>>; denied: boolean }> = [];
        const wanted: Array<{ topic: string; partition: number; topicId: Buffer }> = [];
        for (const rt of g.topics) {
          const found = await resolver.lookup(rt.topicName);
          const denied = found.name !== undefined && !(await ctx.access.topic(found.name, 'consume'));
          resolved.push({ rt, found, denied });
          if (!denied && found.ok) for (const partition of rt.partitions) wanted.push({ topic: found.info.name, partition, topicId: found.info.topicId });
        }
        const held = await access.shares.describeOffsets(access.ref, wanted, rc, async () => false);
        if (held === null) {
          groups.push(offsetsError(g.groupId, ErrorCode.GROUP_ID_NOT_FOUND, `Group ${g.groupId} not found.`));
          continue;
        }
        for (const { rt, found, denied } of resolved) {
          const out: OffsetsTopicOut = { topicName: rt.topicName, topicId: found.ok ? found.info.topicId : Buffer.alloc(16), partitions: [] };
          for (const partition of rt.partitions) {
            if (denied || !found.ok) {
              out.partitions.push({ partitionIndex: partition, startOffset: -1n, leaderEpoch: -1, lag: -1n, errorCode: denied ? ErrorCode.TOPIC_AUTHORIZATION_FAILED : found.ok ? ErrorCode.NONE : found.code, errorMessage: null });
              continue;
            }
            const p = held.find((h) => h.topic === found.info.name && h.partition === partition && h.topicId.equals(found.info.topicId));
            // a partition the group has not read yet has no start offset (Kafka: -1)
            out.partitions.push({ partitionIndex: partition, startOffset: p ? p.startOffset : -1n, leaderEpoch: LEADER_EPOCH, lag: p ? p.lag : -1n, errorCode: ErrorCode.NONE, errorMessage: null });
          }
          byTopic.set(rt.topicName, out);
        }
      }
      groups.push({ groupId: g.groupId, topics: [...byTopic.values()], errorCode: ErrorCode.NONE, errorMessage: null });
    }
    return { throttleTimeMs: 0, groups };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, groups: request.groups.map((g) => offsetsError(g.groupId, errorCode)) };
  },
};
