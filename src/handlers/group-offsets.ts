/**
 * Committed offsets: OffsetCommit (8, v0-v9), OffsetFetch (9, v0-v9; several
 * groups per request from v8) and OffsetDelete (47). Topic names are resolved
 * against the session's default namespace, so offsets are kept per resolved
 * topic; a client gets back the names it uses. Commits to unknown topics or
 * partitions get UNKNOWN_TOPIC_OR_PARTITION (Kafka checks its metadata cache
 * the same way); everything else is the coordinator's decision.
 *
 * Authorization: the group first, in its home namespace (group-common.ts;
 * GROUP_AUTHORIZATION_FAILED for the whole request or group): `consume` for
 * OffsetCommit and OffsetFetch (an OffsetCommit that creates a simple group makes
 * the session's namespace its home), `admin` (Kafka DELETE: tenant admin) for
 * OffsetDelete. Then `consume` on each topic named (TOPIC_AUTHORIZATION_FAILED
 * per partition, checked before existence); an OffsetFetch of all topics leaves
 * out the topics the session may not consume (a filtered listing: counted, not
 * audited one by one).
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { groupsNamed, topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type {
  OffsetCommitRequest,
  OffsetCommitResponse,
  OffsetDeleteRequest,
  OffsetDeleteResponse,
  OffsetFetchRequest,
  OffsetFetchResponse,
} from '../protocol/generated/index.js';
import type { FetchedOffset, OffsetToCommit } from '../coordinator/coordinator.js';
import { kafkaNameFor, parseFullName, type TopicName } from '../topics/names.js';
import { TopicResolver, partitionExists, resolveRequestTopic } from './topic-lookup.js';
import { authorizeGroup, commitSlots } from './group-common.js';

// ---------------------------------------------------------------- OffsetCommit

export const offsetCommit: ApiEntry<OffsetCommitRequest, OffsetCommitResponse> = {
  apiKey: API_KEYS.OffsetCommit,
  minVersion: 0,
  maxVersion: 9,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED on every partition' },
      { action: 'consume', on: 'topic', when: 'the group allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' },
    ],
    needs: (request) => [...groupsNamed('consume', [request.groupId]), ...topicsNamed('consume', request.topics.map((t) => t.name), 'topic', { group: request.groupId, action: 'consume' })],
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    const access = await authorizeGroup(ctx, request.groupId);
    if (!access.ok) return offsetCommit.errorResponse!(request, access.errorCode);
    const { out, toCommit, settle } = await commitSlots(ctx, request.topics, (p) => ({
      leaderEpoch: v >= 6 ? p.committedLeaderEpoch : -1,
      commitTimestamp: v === 1 ? p.commitTimestamp : -1n,
    }));
    if (toCommit.length > 0) {
      const codes = await access.coordinator.commitOffsets({
        key: access.ref,
        generationId: v >= 1 ? request.generationIdOrMemberEpoch : -1,
        memberId: v >= 1 ? request.memberId : '',
        groupInstanceId: v >= 7 ? request.groupInstanceId : null,
        retentionTimeMs: v >= 2 && v <= 4 ? request.retentionTimeMs : -1n,
        offsets: toCommit,
        apiVersion: v,
      });
      settle(codes);
    }
    return { throttleTimeMs: 0, topics: out };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })) };
  },
};

// ---------------------------------------------------------------- OffsetFetch

type FetchTopicOut = OffsetFetchResponse['topics'][number];

interface GroupFetch {
  groupId: string;
  /** null: every committed offset of the group */
  topics: Array<{ name: string; partitionIndexes: number[] }> | null;
  /** v9+: the member asking (consumer groups check its member epoch, KIP-848). */
  member?: { memberId: string | null; memberEpoch: number };
}

/** One group's offsets as response topics (names as the client uses them). */
async function fetchGroup(ctx: RequestContext, g: GroupFetch, requireStable: boolean): Promise<{ errorCode: number; topics: FetchTopicOut[] }> {
  const ns = ctx.session.defaultNamespace;
  const noOffset = (partitionIndex: number) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE });
  const access = await authorizeGroup(ctx, g.groupId);
  if (!access.ok) {
    // A hidden group: its error, and no offsets (only the partitions the client named, echoed).
    return { errorCode: access.errorCode, topics: (g.topics ?? []).map((t) => ({ name: t.name, partitions: t.partitionIndexes.map(noOffset) })) };
  }
  const { coordinator, ref: key } = access;
  const asPartition = (o: FetchedOffset) => ({
    partitionIndex: o.partition,
    committedOffset: o.offset,
    committedLeaderEpoch: o.leaderEpoch,
    metadata: o.metadata,
    errorCode: o.errorCode,
  });
  if (g.topics === null) {
    const r = await coordinator.fetchOffsets(key, null, requireStable, g.member);
    const byTopic = new Map<string, FetchTopicOut>();
    const allowed = new Map<string, boolean>();
    for (const o of r.offsets) {
      let ok = allowed.get(o.topic);
      if (ok === undefined) allowed.set(o.topic, (ok = await ctx.access.topic(parseFullName(o.topic), 'consume', { listing: true })));
      if (!ok) continue;
      const name = kafkaNameFor(o.topic, ns);
      let t = byTopic.get(name);
      if (!t) byTopic.set(name, (t = { name, partitions: [] }));
      t.partitions.push(asPartition(o));
    }
    const topics = [...byTopic.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const t of topics) t.partitions.sort((a, b) => a.partitionIndex - b.partitionIndex);
    return { errorCode: r.errorCode, topics };
  }
  // Names that cannot be resolved have no offsets (Kafka does not validate names here either).
  const wanted: Array<{ topic: string; partition: number }> = [];
  const names = g.topics.map((t): TopicName | null => {
    try {
      return resolveRequestTopic(ctx, t.name, ns);
    } catch (err) {
      if (err instanceof KafkaError) return null;
      throw err;
    }
  });
  const denied = await Promise.all(names.map(async (n) => n !== null && !(await ctx.access.topic(n, 'consume'))));
  const resolved = names.map((n, i) => (n === null || denied[i] ? null : n.full));
  g.topics.forEach((t, i) => {
    const full = resolved[i];
    if (full) for (const p of t.partitionIndexes) wanted.push({ topic: full, partition: p });
  });
  const r = await coordinator.fetchOffsets(key, wanted, requireStable, g.member);
  const found = new Map(r.offsets.map((o) => [`${o.topic}\0${o.partition}`, o]));
  const topics = g.topics.map((t, i) => ({
    name: t.name,
    partitions: t.partitionIndexes.map((p) => {
      if (denied[i]) return { ...noOffset(p), errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED };
      const o = resolved[i] ? found.get(`${resolved[i]}\0${p}`) : undefined;
      return o ? asPartition(o) : noOffset(p);
    }),
  }));
  return { errorCode: r.errorCode, topics };
}

export const offsetFetch: ApiEntry<OffsetFetchRequest, OffsetFetchResponse> = {
  apiKey: API_KEYS.OffsetFetch,
  minVersion: 0,
  maxVersion: 9,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED (v0-1 on every partition, v2-7 top level, v8+ per group), no offsets' },
      { action: 'consume', on: 'topic', when: 'the group allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' },
      { action: 'consume', on: 'topic-listing', when: 'the group allowed, all of its topics requested, v2+', denial: 'the topic is left out (one access_filtered record)' },
    ],
    needs(request, { apiVersion }) {
      const groups = apiVersion >= 8 ? request.groups.map((g) => ({ groupId: g.groupId, topics: g.topics?.map((t) => t.name) ?? null })) : [{ groupId: request.groupId, topics: apiVersion < 2 && request.topics === null ? [] : (request.topics?.map((t) => t.name) ?? null) }];
      const out: Need[] = [];
      for (const g of groups) {
        const ifGroup = { group: g.groupId, action: 'consume' as const };
        out.push({ on: 'group', action: 'consume', group: g.groupId });
        if (g.topics === null) out.push({ on: 'topic-listing', action: 'consume', ifGroup });
        else out.push(...topicsNamed('consume', g.topics, 'topic', ifGroup));
      }
      return out;
    },
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    const requireStable = v >= 7 && request.requireStable;
    if (v >= 8) {
      const groups = await Promise.all(
        request.groups.map(async (g) => {
          const r = await fetchGroup(ctx, { groupId: g.groupId, topics: g.topics, ...(v >= 9 ? { member: { memberId: g.memberId, memberEpoch: g.memberEpoch } } : {}) }, requireStable);
          return { groupId: g.groupId, errorCode: r.errorCode, topics: r.topics };
        }),
      );
      return { throttleTimeMs: 0, topics: [], errorCode: ErrorCode.NONE, groups };
    }
    // v0-1 always list topics; v2+ may ask for all with null.
    const topics = v < 2 && request.topics === null ? [] : request.topics;
    const r = await fetchGroup(ctx, { groupId: request.groupId, topics }, requireStable);
    if (v < 2 && r.errorCode !== ErrorCode.NONE) {
      // No top-level error field before v2: the group's error goes on every partition.
      for (const t of r.topics) for (const p of t.partitions) p.errorCode = r.errorCode;
    }
    return { throttleTimeMs: 0, topics: r.topics, errorCode: r.errorCode, groups: [] };
  },
  errorResponse(request, errorCode) {
    const partitions = (ids: number[]) => ids.map((partitionIndex) => ({ partitionIndex, committedOffset: -1n, committedLeaderEpoch: -1, metadata: '', errorCode }));
    return {
      throttleTimeMs: 0,
      topics: (request.topics ?? []).map((t) => ({ name: t.name, partitions: partitions(t.partitionIndexes) })),
      errorCode,
      groups: request.groups.map((g) => ({ groupId: g.groupId, errorCode, topics: [] })),
    };
  },
};

// ---------------------------------------------------------------- OffsetDelete

export const offsetDelete: ApiEntry<OffsetDeleteRequest, OffsetDeleteResponse> = {
  apiKey: API_KEYS.OffsetDelete,
  minVersion: 0,
  maxVersion: 0,
  rule: 'group',
  authz: {
    checks: [
      { action: 'admin', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED top level' },
      { action: 'consume', on: 'topic', when: 'the group allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' },
    ],
    needs: (request) => [...groupsNamed('admin', [request.groupId]), ...topicsNamed('consume', request.topics.map((t) => t.name), 'topic', { group: request.groupId, action: 'admin' })],
  },
  async handle(ctx, request) {
    // Kafka: DELETE on the group (docs/authorization.md: tenant admin), then READ on each topic.
    const access = await authorizeGroup(ctx, request.groupId, 'admin');
    if (!access.ok) return { errorCode: access.errorCode, throttleTimeMs: 0, topics: [] };
    const resolver = new TopicResolver(ctx);
    const out = request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE as number })) }));
    const toDelete: Array<{ topic: string; partition: number }> = [];
    const slots: Array<{ t: number; p: number }> = [];
    for (let ti = 0; ti < request.topics.length; ti++) {
      const t = request.topics[ti]!;
      const found = await resolver.lookup(t.name);
      const allowed = found.name ? await ctx.access.topic(found.name, 'consume') : true;
      t.partitions.forEach((p, pi) => {
        if (!allowed) out[ti]!.partitions[pi]!.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        else if (!found.ok) out[ti]!.partitions[pi]!.errorCode = found.code;
        else if (!partitionExists(found.info, p.partitionIndex)) out[ti]!.partitions[pi]!.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else {
          toDelete.push({ topic: found.name.full, partition: p.partitionIndex });
          slots.push({ t: ti, p: pi });
        }
      });
    }
    const r = await access.coordinator.deleteOffsets(access.ref, toDelete);
    if (r.errorCode !== ErrorCode.NONE) {
      // A group error: only the partitions rejected before reaching the group are listed.
      const rejected = out.map((t) => ({ name: t.name, partitions: t.partitions.filter((p) => p.errorCode !== ErrorCode.NONE) })).filter((t) => t.partitions.length > 0);
      return { errorCode: r.errorCode, throttleTimeMs: 0, topics: rejected };
    }
    r.partitions.forEach((code, i) => (out[slots[i]!.t]!.partitions[slots[i]!.p]!.errorCode = code));
    return { errorCode: ErrorCode.NONE, throttleTimeMs: 0, topics: out };
  },
  errorResponse(_request, errorCode) {
    return { errorCode, throttleTimeMs: 0, topics: [] };
  },
};
