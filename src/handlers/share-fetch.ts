/**
 * Share groups (KIP-932), records side: ShareFetch (78, v1-2) and
 * ShareAcknowledge (79, v1-2), over the share-group coordinator's share
 * sessions (src/share/groups.ts) and its records side (src/share/records.ts:
 * the gateway's share-partitions, or the engine's, e.g. Pulsar Shared
 * subscriptions, which any node serves: the dispatcher then checks the group in
 * its stored home on a node that does not coordinate it).
 *
 *  - The share session (group, member) follows Kafka's epochs: 0 opens it
 *    with the request's partitions (no acknowledgements allowed), then each
 *    request carries the next epoch and adds partitions or forgets them; -1
 *    closes it (acknowledgements only; the member's other acquired records
 *    are released). Wrong epoch: INVALID_SHARE_SESSION_EPOCH; unknown session
 *    (or a member the group does not know): SHARE_SESSION_NOT_FOUND.
 *  - Acknowledgements (piggybacked on ShareFetch, or ShareAcknowledge) are
 *    applied before the fetch and are durable before the response; a batch
 *    naming records the member does not hold answers INVALID_RECORD_STATE for
 *    its partition and changes nothing.
 *  - A fetch acquires for the member the Available records of each session
 *    partition (redeliveries first, then new records up to the high
 *    watermark), at most MaxRecords in all, and returns the whole batches
 *    holding them with the acquired ranges and their delivery counts; the
 *    client sees only acquired records. Without any, it waits up to MaxWaitMs
 *    for an append or an acquisition lock to expire.
 *
 * Authorization: the group in its home namespace with `consume`
 * (GROUP_AUTHORIZATION_FAILED for the whole request), `consume` on every topic
 * the request or its share session names (TOPIC_AUTHORIZATION_FAILED per partition).
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import type { Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { ShareAcknowledgeRequest, ShareAcknowledgeResponse, ShareFetchRequest, ShareFetchResponse } from '../protocol/generated/index.js';
import { EMPTY_BUFFER, type RecordsOut } from '../protocol/codec/types.js';
import { UndeclaredAccessError } from '../security/access.js';
import type { GroupRef } from '../coordinator/coordinator.js';
import type { ShareGroups } from '../share/groups.js';
import { acquiredCount } from '../share/local-records.js';
import type { AckBatch, ShareTarget } from '../share/records.js';
import type { TopicName } from '../topics/names.js';
import { TopicResolver, partitionExists } from './topic-lookup.js';
import { shareGroupAccess } from './share-group.js';

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };
const FINAL_EPOCH = -1;

type FetchPartitionOut = ShareFetchResponse['responses'][number]['partitions'][number];

/** Topics a request names by id, plus those of the member's share session (an incremental fetch reads them too). */
function topicIdsNamed(request: { groupId: string | null; memberId: string | null; topics: Array<{ topicId: Buffer }> }, scope: { session: RequestContext['session']; gateway?: RequestContext['gateway'] }): Need[] {
  const ids = new Map<string, Buffer>();
  for (const t of request.topics) ids.set(t.topicId.toString('hex'), t.topicId);
  if (request.groupId && request.memberId) {
    const key = { tenant: scope.session.defaultNamespace.tenant, groupId: request.groupId };
    for (const id of scope.gateway?.shareGroups?.sessionTopicIds(key, request.memberId) ?? []) ids.set(id.toString('hex'), id);
  }
  return [...ids.values()].map((id): Need => ({ on: 'topic-id', action: 'consume', id }));
}

/** The records side: served by any node when the engine's share records say so (src/dispatch/access-plan.ts). */
function groupNeed(groupId: string | null): Need[] {
  return groupId ? [{ on: 'group', action: 'consume', group: groupId, share: true, anyNode: true }] : [];
}

/** A topic partition of the request or the session, resolved and checked once. */
interface Target {
  topicId: Buffer;
  partition: number;
  /** NONE, or why it cannot be served (unknown id, no such partition, not authorized). */
  errorCode: number;
  errorMessage: string | null;
  /** Resolved full name (when errorCode is NONE). */
  topic: string;
  name: TopicName | null;
}

class Targets {
  private readonly resolver: TopicResolver;
  private readonly cache = new Map<string, Promise<Target | null>>();

  constructor(private readonly ctx: RequestContext) {
    this.resolver = new TopicResolver(ctx);
  }

  /** null: the topic was not declared for this request (a session partition added since): served next time. */
  get(topicId: Buffer, partition: number): Promise<Target | null> {
    const k = `${topicId.toString('hex')}:${partition}`;
    let t = this.cache.get(k);
    if (!t) {
      t = this.resolve(topicId, partition);
      this.cache.set(k, t);
    }
    return t;
  }

  private async resolve(topicId: Buffer, partition: number): Promise<Target | null> {
    const base = { topicId, partition, topic: '', name: null };
    let found;
    try {
      found = await this.resolver.lookupId(topicId);
      if (found.name && !(await this.ctx.access.topic(found.name, 'consume'))) {
        return { ...base, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, errorMessage: null };
      }
    } catch (err) {
      if (err instanceof UndeclaredAccessError) return null;
      throw err;
    }
    if (!found.ok) return { ...base, errorCode: found.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? ErrorCode.UNKNOWN_TOPIC_ID : found.code, errorMessage: found.message };
    if (!partitionExists(found.info, partition)) return { ...base, errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: null };
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, topic: found.info.name, name: found.name };
  }
}

type AckItem = { out: { code: number }; target: Target | null; batches: AckBatch[] };

/**
 * Apply the acknowledgement batches of the partitions named (durable before it resolves):
 * each item's error code (the first failing batch's; unknown or unauthorized partitions: theirs).
 */
async function acknowledgeAll(ctx: RequestContext, shares: ShareGroups, ref: GroupRef, memberId: string, items: AckItem[], allowRenew: boolean): Promise<void> {
  const served: AckItem[] = [];
  for (const it of items) {
    if (!it.target) it.out.code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    else if (it.target.errorCode !== ErrorCode.NONE) it.out.code = it.target.errorCode;
    else served.push(it);
  }
  if (served.length === 0) return;
  const codes = await shares.acknowledgeRecords(ref, memberId, served.map((it) => ({ target: shareTarget(it.target!), batches: it.batches })), allowRenew);
  served.forEach((it, i) => {
    it.out.code = codes[i]!;
    if (codes[i] !== ErrorCode.NONE) ctx.log.debug({ conn: ctx.conn.id, group: ref.groupId, member: memberId, topic: it.target!.topic, partition: it.target!.partition, error: errorName(codes[i]!) }, 'share acknowledgement refused');
  });
}

function shareTarget(t: Target): ShareTarget {
  return { topic: t.topic, partition: t.partition, topicId: t.topicId };
}

function partitionOut(partitionIndex: number, errorCode: number = ErrorCode.NONE, errorMessage: string | null = null): FetchPartitionOut {
  return { partitionIndex, errorCode, errorMessage, acknowledgeErrorCode: ErrorCode.NONE, acknowledgeErrorMessage: null, currentLeader: NO_LEADER, records: EMPTY_BUFFER, acquiredRecords: [] };
}

function fetchError(errorCode: number, errorMessage: string | null = null, lockMs = 0): ShareFetchResponse {
  return { throttleTimeMs: 0, errorCode, errorMessage, acquisitionLockTimeoutMs: lockMs, responses: [], nodeEndpoints: [] };
}

export const shareFetch: ApiEntry<ShareFetchRequest, ShareFetchResponse> = {
  apiKey: API_KEYS.ShareFetch,
  minVersion: 1,
  maxVersion: 2,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED (the whole request)' },
      { action: 'consume', on: 'topic-id', when: "topics of the request and of the member's share session", denial: 'TOPIC_AUTHORIZATION_FAILED on each partition (an unknown id: UNKNOWN_TOPIC_ID)' },
    ],
    needs: (request, scope) => [...groupNeed(request.groupId), ...topicIdsNamed(request, scope)],
  },
  zeroCopyResponse: true,
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    // no principal can hold a grant on a group without a name (Kafka's authorizer refuses it)
    if (!request.groupId) return fetchError(ErrorCode.GROUP_AUTHORIZATION_FAILED, 'GroupId is required.');
    const access = await shareGroupAccess(ctx, request.groupId);
    if (!access.ok) return fetchError(access.errorCode);
    if (!request.memberId) return fetchError(ErrorCode.INVALID_REQUEST, 'MemberId is required.');
    const { ref, shares } = access;
    const lockMs = shares.lockDuration(ref);
    const memberId = request.memberId;
    const epoch = request.shareSessionEpoch;
    if (epoch === 0 && !shares.mayOpenSession(ref, memberId)) return fetchError(ErrorCode.SHARE_SESSION_NOT_FOUND, `member ${memberId} is not in share group ${request.groupId}`, lockMs);
    const hasAcks = request.topics.some((t) => t.partitions.some((p) => p.acknowledgementBatches.length > 0));
    const add: Array<{ topicId: Buffer; partition: number }> = [];
    for (const t of request.topics) for (const p of t.partitions) add.push({ topicId: t.topicId, partition: p.partitionIndex });
    const forget: Array<{ topicId: Buffer; partition: number }> = [];
    for (const t of request.forgottenTopicsData) for (const p of t.partitions) forget.push({ topicId: t.topicId, partition: p });
    const session = shares.openOrUpdateSession(ref, memberId, epoch, 'fetch', hasAcks, epoch === FINAL_EPOCH ? [] : add, forget);
    if (typeof session === 'number') return fetchError(session, null, lockMs);
    // a client over its fetch quota gets its acknowledgements applied but no records (Kafka's throttled fetch)
    const quota = ctx.gateway.quotas?.fetch;
    const principal = ctx.session.principal ?? '';
    const owed = quota?.enabled ? quota.record(principal, 0) : 0;

    const targets = new Targets(ctx);
    const outs = new Map<string, { topicId: Buffer; out: FetchPartitionOut }>();
    const outFor = (topicId: Buffer, partition: number): FetchPartitionOut => {
      const k = `${topicId.toString('hex')}:${partition}`;
      let o = outs.get(k);
      if (!o) {
        o = { topicId, out: partitionOut(partition) };
        outs.set(k, o);
      }
      return o.out;
    };

    // 1. acknowledgements, durable before anything else
    const acks: Array<AckItem & { part: FetchPartitionOut }> = [];
    for (const t of request.topics) {
      for (const p of t.partitions) {
        if (p.acknowledgementBatches.length === 0) continue;
        acks.push({ out: { code: ErrorCode.NONE }, part: outFor(t.topicId, p.partitionIndex), target: await targets.get(t.topicId, p.partitionIndex), batches: p.acknowledgementBatches });
      }
    }
    await acknowledgeAll(ctx, shares, ref, memberId, acks, v >= 2 && request.isRenewAck);
    for (const a of acks) a.part.acknowledgeErrorCode = a.out.code;

    if (epoch === FINAL_EPOCH) {
      await shares.closeSession(ref, memberId);
    } else if (!(v >= 2 && request.isRenewAck) && owed === 0) {
      await fetchRecords(ctx, request, shares, ref, memberId, [...session.partitions.values()], targets, outFor);
    }

    const byTopic = new Map<string, { topicId: Buffer; partitions: FetchPartitionOut[] }>();
    for (const { topicId, out } of outs.values()) {
      const k = topicId.toString('hex');
      let t = byTopic.get(k);
      if (!t) {
        t = { topicId, partitions: [] };
        byTopic.set(k, t);
      }
      t.partitions.push(out);
    }
    let bytes = 0;
    for (const { out } of outs.values()) {
      const data = out.records;
      if (data) for (const part of Buffer.isBuffer(data) ? [data] : data) bytes += part.length;
    }
    const throttleTimeMs = owed > 0 ? owed : quota?.enabled ? quota.record(principal, bytes) : 0;
    ctx.throttleMs = throttleTimeMs;
    return { throttleTimeMs, errorCode: ErrorCode.NONE, errorMessage: null, acquisitionLockTimeoutMs: lockMs, responses: [...byTopic.values()], nodeEndpoints: [] };
  },
  errorResponse(_request, errorCode) {
    return fetchError(errorCode);
  },
};

async function fetchRecords(
  ctx: RequestContext,
  request: ShareFetchRequest,
  shares: ShareGroups,
  ref: GroupRef,
  memberId: string,
  partitions: Iterable<{ topicId: Buffer; partition: number }>,
  targets: Targets,
  outFor: (topicId: Buffer, partition: number) => FetchPartitionOut,
): Promise<void> {
  const served: Array<{ target: Target; out: FetchPartitionOut }> = [];
  for (const p of partitions) {
    const target = await targets.get(p.topicId, p.partition);
    if (!target) continue; // added to the session by a concurrent request: served next time
    const out = outFor(p.topicId, p.partition);
    if (target.errorCode !== ErrorCode.NONE) {
      out.errorCode = target.errorCode;
      out.errorMessage = target.errorMessage;
      continue;
    }
    served.push({ target, out });
  }
  if (served.length === 0) return;
  const limits = {
    maxBytes: Math.max(0, Math.min(request.maxBytes, ctx.gateway.config.fetchMaxBytes)),
    maxRecords: request.maxRecords > 0 ? request.maxRecords : 500,
    maxWaitMs: Math.max(0, request.maxWaitMs),
  };
  const results = await shares.fetchRecords(
    ref,
    memberId,
    served.map((s) => shareTarget(s.target)),
    limits,
    { storage: ctx.gateway.storage, principal: ctx.session.principal, isClosed: () => ctx.conn.isClosed },
  );
  served.forEach(({ target, out }, i) => {
    const r = results[i]!;
    if (r.errorCode !== ErrorCode.NONE) {
      out.errorCode = r.errorCode;
      out.errorMessage = r.errorMessage;
    }
    if (r.acquired.length === 0) return;
    out.records = r.records.length === 1 ? r.records[0]! : (r.records as RecordsOut);
    out.acquiredRecords = r.acquired.map((a) => ({ firstOffset: a.firstOffset, lastOffset: a.lastOffset, deliveryCount: a.deliveryCount }));
    const n = acquiredCount(r.acquired);
    const size = r.records.reduce((sum, b) => sum + b.length, 0);
    if (target.name) {
      ctx.access.addUsage(target.name, 'consume', n, size);
      ctx.gateway.metrics?.fetched(target.name, n, size);
    }
  });
}

type AckOut = ShareAcknowledgeResponse['responses'][number]['partitions'][number];

function ackError(errorCode: number, errorMessage: string | null = null, lockMs = 0): ShareAcknowledgeResponse {
  return { throttleTimeMs: 0, errorCode, errorMessage, acquisitionLockTimeoutMs: lockMs, responses: [], nodeEndpoints: [] };
}

export const shareAcknowledge: ApiEntry<ShareAcknowledgeRequest, ShareAcknowledgeResponse> = {
  apiKey: API_KEYS.ShareAcknowledge,
  minVersion: 1,
  maxVersion: 2,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED (the whole request)' },
      { action: 'consume', on: 'topic-id', when: 'topics acknowledged', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition (an unknown id: UNKNOWN_TOPIC_ID)' },
    ],
    needs: (request) => [...groupNeed(request.groupId), ...request.topics.map((t): Need => ({ on: 'topic-id', action: 'consume', id: t.topicId }))],
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    // no principal can hold a grant on a group without a name (Kafka's authorizer refuses it)
    if (!request.groupId) return ackError(ErrorCode.GROUP_AUTHORIZATION_FAILED, 'GroupId is required.');
    const access = await shareGroupAccess(ctx, request.groupId);
    if (!access.ok) return ackError(access.errorCode);
    if (!request.memberId) return ackError(ErrorCode.INVALID_REQUEST, 'MemberId is required.');
    const { ref, shares } = access;
    const lockMs = shares.lockDuration(ref);
    const epoch = request.shareSessionEpoch;
    const session = shares.openOrUpdateSession(ref, request.memberId, epoch, 'acknowledge', true, [], []);
    if (typeof session === 'number') return ackError(session, null, lockMs);
    const targets = new Targets(ctx);
    const responses: Array<{ topicId: Buffer; partitions: AckOut[] }> = [];
    const acks: Array<AckItem & { part: AckOut }> = [];
    for (const t of request.topics) {
      const partitions: AckOut[] = [];
      for (const p of t.partitions) {
        const part: AckOut = { partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE, errorMessage: null, currentLeader: NO_LEADER };
        partitions.push(part);
        acks.push({ out: { code: ErrorCode.NONE }, part, target: await targets.get(t.topicId, p.partitionIndex), batches: p.acknowledgementBatches });
      }
      responses.push({ topicId: t.topicId, partitions });
    }
    await acknowledgeAll(ctx, shares, ref, request.memberId, acks, v >= 2 && request.isRenewAck);
    for (const a of acks) a.part.errorCode = a.out.code;
    if (epoch === FINAL_EPOCH) await shares.closeSession(ref, request.memberId);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, acquisitionLockTimeoutMs: lockMs, responses, nodeEndpoints: [] };
  },
  errorResponse(_request, errorCode) {
    return ackError(errorCode);
  },
};
