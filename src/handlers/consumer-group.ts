/**
 * The consumer group protocol (KIP-848, `group.protocol=consumer`):
 * ConsumerGroupHeartbeat (68, v0-v1) and ConsumerGroupDescribe (69, v0),
 * translated to the group coordinator (coordinator/consumer-group-protocol.ts).
 *
 * This handler resolves the member's subscription before the coordinator
 * runs, since the coordinator holds no topic metadata: the topic names (sent,
 * or stored from an earlier heartbeat) against the session's namespace, and
 * the regex (v1, broker-side as in Kafka 4.x) against the topics of the
 * session's namespace, then each topic's id and partition count from storage.
 *
 * Regular expressions: Kafka compiles SubscribedTopicRegex with RE2/J and
 * matches whole topic names; so does this gateway, with re2js (the
 * JavaScript port of RE2/J): the same syntax, the same refusals
 * (backreferences, lookarounds: INVALID_REGULAR_EXPRESSION), and matching in
 * time linear in the name, so a hostile pattern (e.g. `(a+)+b`) cannot stall
 * the event loop, as a backtracking JavaScript RegExp would.
 *
 * Authorization (the group first, in its home namespace, group-common.ts):
 *  - `consume` on the group: GROUP_AUTHORIZATION_FAILED;
 *  - `consume` on every topic named in SubscribedTopicNames: TOPIC_AUTHORIZATION_FAILED
 *    for the heartbeat (Kafka 4.x checks the named topics the same way);
 *  - topics matched by the regex, or named in a subscription stored earlier and
 *    not resent, are kept only when the session may consume them (a filtered listing).
 */
import { RE2JS } from 're2js';
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { groupsNamed, topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type {
  ConsumerGroupDescribeRequest,
  ConsumerGroupDescribeResponse,
  ConsumerGroupHeartbeatRequest,
  ConsumerGroupHeartbeatResponse,
} from '../protocol/generated/index.js';
import { ASSIGNORS } from '../coordinator/assignors.js';
import { LEAVE_GROUP_STATIC_MEMBER_EPOCH, type TopicMetadata } from '../coordinator/consumer-group.js';
import type { ResolvedSubscription } from '../coordinator/consumer-group-protocol.js';
import { kafkaNameFor, parseFullName, type TopicName } from '../topics/names.js';
import { authorizeGroup, clientHost } from './group-common.js';
import { resolveRequestTopic } from './topic-lookup.js';
import { StorageError } from '../storage/engine.js';

/** Kafka's "authorized operations not requested" marker. */
const OPS_NOT_REQUESTED = -2147483648;

type HeartbeatResponse = ConsumerGroupHeartbeatResponse;

function heartbeatError(errorCode: number, errorMessage: string | null = null): HeartbeatResponse {
  return { throttleTimeMs: 0, errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null };
}

/**
 * Kafka's throwIfConsumerGroupHeartbeatRequestIsInvalid (4.x): the error and its message, or null.
 * v1+: the client generates its member id (KIP-1082), so it is required on every heartbeat.
 */
export function validateHeartbeat(r: ConsumerGroupHeartbeatRequest, version: number): { errorCode: number; message: string } | null {
  const invalid = (message: string) => ({ errorCode: ErrorCode.INVALID_REQUEST, message });
  if ((version >= 1 || r.memberEpoch > 0 || r.memberEpoch === -1) && r.memberId === '') return invalid("MemberId can't be empty.");
  if (r.groupId === '') return invalid("GroupId can't be empty.");
  if (r.instanceId === '') return invalid("InstanceId can't be empty.");
  if (r.rackId === '') return invalid("RackId can't be empty.");
  if (r.memberEpoch === 0) {
    if (r.rebalanceTimeoutMs === -1) return invalid('RebalanceTimeoutMs must be provided in first request.');
    if (r.topicPartitions === null || r.topicPartitions.length > 0) return invalid('TopicPartitions must be empty when (re-)joining.');
    if (r.subscribedTopicNames === null && r.subscribedTopicRegex === null) return invalid('Either SubscribedTopicNames or SubscribedTopicRegex must be non-null when (re-)joining.');
  } else if (r.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
    if (r.instanceId === null) return invalid("InstanceId can't be null.");
  } else if (r.memberEpoch < LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
    return invalid('MemberEpoch is invalid.');
  }
  if (r.subscribedTopicRegex !== null && r.subscribedTopicRegex !== '' && compileRegex(r.subscribedTopicRegex) === null) {
    return { errorCode: ErrorCode.INVALID_REGULAR_EXPRESSION, message: `SubscribedTopicRegex \`${r.subscribedTopicRegex}\` is not a valid regular expression.` };
  }
  if (r.serverAssignor !== null && !ASSIGNORS.has(r.serverAssignor)) {
    return { errorCode: ErrorCode.UNSUPPORTED_ASSIGNOR, message: `ServerAssignor ${r.serverAssignor} is not supported. Supported assignors: ${[...ASSIGNORS.keys()].join(', ')}.` };
  }
  return null;
}

/** A topic-name matcher (whole names, RE2/J semantics, linear time). */
export interface TopicRegex {
  test(name: string): boolean;
}

/** SubscribedTopicRegex compiled with RE2/J's semantics (re2js), or null when RE2/J refuses it. */
export function compileRegex(source: string): TopicRegex | null {
  try {
    const pattern = RE2JS.compile(source);
    return { test: (name) => pattern.matches(name) };
  } catch {
    return null;
  }
}

async function resolveSubscription(ctx: RequestContext, requestNames: string[] | null, names: string[], regex: string | null): Promise<ResolvedSubscription> {
  const ns = ctx.session.defaultNamespace;
  const topics = new Map<string, TopicName>();
  const sent = new Set(requestNames ?? []);
  for (const n of names) {
    let name: TopicName;
    try {
      name = resolveRequestTopic(ctx, n, ns);
    } catch (err) {
      if (err instanceof KafkaError) continue; // an illegal name matches no topic
      throw err;
    }
    // Named in this request: checked before (a denial answered TOPIC_AUTHORIZATION_FAILED). Stored: filtered now.
    if (!sent.has(n) && !(await ctx.access.topic(name, 'consume', { listing: true }))) continue;
    topics.set(name.full, name);
  }
  if (regex !== null && regex !== '') {
    const re = compileRegex(regex);
    if (re) {
      const prefix = `persistent://${ns.tenant}/${ns.namespace}/`;
      for (const info of await ctx.gateway.storage.listTopics()) {
        if (info.internal || !info.name.startsWith(prefix) || topics.has(info.name)) continue;
        if (!re.test(kafkaNameFor(info.name, ns))) continue;
        const name = parseFullName(info.name);
        if (await ctx.access.topic(name, 'consume', { listing: true })) topics.set(info.name, name);
      }
    }
  }
  const metadata = new Map<string, TopicMetadata>();
  await Promise.all(
    [...topics.keys()].map(async (full) => {
      try {
        const info = await ctx.gateway.storage.describeTopic(full);
        if (info && info.partitions > 0) metadata.set(full, { topicId: info.topicId, partitions: info.partitions });
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
        // Metadata unavailable now: the topic counts as subscribed without partitions until a later heartbeat.
        ctx.log.debug({ conn: ctx.conn.id, topic: full, err }, 'subscribed topic metadata unavailable');
      }
    }),
  );
  return { topics: [...topics.keys()], metadata };
}

export const consumerGroupHeartbeat: ApiEntry<ConsumerGroupHeartbeatRequest, ConsumerGroupHeartbeatResponse> = {
  apiKey: API_KEYS.ConsumerGroupHeartbeat,
  minVersion: 0,
  maxVersion: 1,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED' },
      { action: 'consume', on: 'topic', when: 'the group allowed; each topic of SubscribedTopicNames', denial: 'TOPIC_AUTHORIZATION_FAILED for the heartbeat' },
      { action: 'consume', on: 'topic-listing', when: 'the group allowed; topics matched by SubscribedTopicRegex or stored from an earlier heartbeat', denial: 'the topic is left out of the subscription (one access_filtered record)' },
    ],
    needs(request): Need[] {
      const ifGroup = { group: request.groupId, action: 'consume' as const };
      return [...groupsNamed('consume', [request.groupId]), ...topicsNamed('consume', request.subscribedTopicNames ?? [], 'topic', ifGroup), { on: 'topic-listing', action: 'consume', ifGroup }];
    },
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    const access = await authorizeGroup(ctx, request.groupId);
    if (!access.ok) return heartbeatError(access.errorCode);
    if (request.subscribedTopicNames !== null) {
      const denied: string[] = [];
      for (const n of request.subscribedTopicNames) {
        let name: TopicName;
        try {
          name = resolveRequestTopic(ctx, n);
        } catch (err) {
          if (err instanceof KafkaError) continue;
          throw err;
        }
        if (!(await ctx.access.topic(name, 'consume'))) denied.push(n);
      }
      if (denied.length > 0) return heartbeatError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, `Unauthorized topics: ${denied.join(', ')}`);
    }
    const invalid = validateHeartbeat(request, v);
    if (invalid) {
      ctx.log.info({ conn: ctx.conn.id, group: request.groupId, memberId: request.memberId, errorCode: invalid.errorCode, reason: invalid.message }, 'ConsumerGroupHeartbeat refused');
      return heartbeatError(invalid.errorCode, invalid.message);
    }
    const stored = request.memberEpoch === 0 ? null : access.coordinator.consumerSubscription(access.ref, request.memberId);
    const names = request.subscribedTopicNames ?? stored?.names ?? [];
    const regex = v >= 1 && request.subscribedTopicRegex !== null ? request.subscribedTopicRegex : (stored?.regex ?? null);
    const leaving = request.memberEpoch < 0;
    const subscription = leaving ? { topics: [], metadata: new Map() } : await resolveSubscription(ctx, request.subscribedTopicNames, names, regex);
    const r = await access.coordinator.consumerGroupHeartbeat(access.ref, {
      memberId: request.memberId,
      memberEpoch: request.memberEpoch,
      instanceId: request.instanceId,
      rackId: request.rackId,
      rebalanceTimeoutMs: request.rebalanceTimeoutMs,
      subscribedTopicNames: request.subscribedTopicNames,
      subscribedTopicRegex: v >= 1 ? request.subscribedTopicRegex : null,
      serverAssignor: request.serverAssignor,
      owned: request.topicPartitions?.map((t) => ({ topicId: t.topicId, partitions: t.partitions })) ?? null,
      clientId: ctx.clientId ?? '',
      clientHost: clientHost(ctx),
      namespace: ctx.session.defaultNamespace,
      subscription,
    });
    if (r.errorCode !== ErrorCode.NONE) {
      ctx.log.debug({ conn: ctx.conn.id, group: request.groupId, memberId: request.memberId, memberEpoch: request.memberEpoch, errorCode: r.errorCode, reason: r.errorMessage }, 'ConsumerGroupHeartbeat failed');
      return heartbeatError(r.errorCode, r.errorMessage);
    }
    return {
      throttleTimeMs: 0,
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      memberId: r.memberId,
      memberEpoch: r.memberEpoch,
      heartbeatIntervalMs: r.heartbeatIntervalMs,
      assignment: r.assignment === null ? null : { topicPartitions: r.assignment.map((a) => ({ topicId: a.topicId, partitions: a.partitions })) },
    };
  },
  errorResponse(_request, errorCode) {
    return heartbeatError(errorCode);
  },
};

type DescribedGroup = ConsumerGroupDescribeResponse['groups'][number];

function describeError(groupId: string, errorCode: number, errorMessage: string | null): DescribedGroup {
  return { errorCode, errorMessage, groupId, groupState: '', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [], authorizedOperations: OPS_NOT_REQUESTED };
}

export const consumerGroupDescribe: ApiEntry<ConsumerGroupDescribeRequest, ConsumerGroupDescribeResponse> = {
  apiKey: API_KEYS.ConsumerGroupDescribe,
  minVersion: 0,
  maxVersion: 0,
  rule: 'group',
  authz: {
    checks: [{ action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED on the group' }],
    needs: (request) => groupsNamed('consume', request.groupIds),
  },
  async handle(ctx, request) {
    const ns = ctx.session.defaultNamespace;
    const groups = await Promise.all(
      request.groupIds.map(async (groupId): Promise<DescribedGroup> => {
        const access = await authorizeGroup(ctx, groupId);
        if (!access.ok) return describeError(groupId, access.errorCode, null);
        const d = await access.coordinator.consumerGroupDescribe(access.ref);
        if (d.errorCode !== ErrorCode.NONE) return describeError(groupId, d.errorCode, d.errorMessage);
        const asTopics = (a: Array<{ topic: string; topicId: Buffer; partitions: number[] }>) => ({
          topicPartitions: a.map((t) => ({ topicId: t.topicId, topicName: kafkaNameFor(t.topic, ns), partitions: t.partitions })),
        });
        return {
          errorCode: ErrorCode.NONE,
          errorMessage: null,
          groupId,
          groupState: d.state,
          groupEpoch: d.groupEpoch,
          assignmentEpoch: d.assignmentEpoch,
          assignorName: d.assignorName,
          members: d.members.map((m) => ({
            memberId: m.memberId,
            instanceId: m.instanceId,
            rackId: m.rackId,
            memberEpoch: m.memberEpoch,
            clientId: m.clientId,
            clientHost: m.clientHost,
            subscribedTopicNames: m.subscribedTopicNames,
            subscribedTopicRegex: m.subscribedTopicRegex,
            assignment: asTopics(m.assignment),
            targetAssignment: asTopics(m.targetAssignment),
          })),
          authorizedOperations: OPS_NOT_REQUESTED,
        };
      }),
    );
    return { throttleTimeMs: 0, groups };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, groups: request.groupIds.map((g) => describeError(g, errorCode, null)) };
  },
};
