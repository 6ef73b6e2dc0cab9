/**
 * Share groups (KIP-932), records side: ShareFetch (78, v1-2) and
 * ShareAcknowledge (79, v1-2), over the share-group coordinator's share
 * sessions and share-partitions (src/share/groups.ts, partition.ts).
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
import { StorageError, type PartitionRef } from '../storage/engine.js';
import { EMPTY_BUFFER, type RecordsOut } from '../protocol/codec/types.js';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, baseOffset, isControl, lastOffsetDelta } from '../protocol/records/batch-header.js';
import { UndeclaredAccessError } from '../security/access.js';
import type { GroupRef } from '../coordinator/coordinator.js';
import type { PartitionSlot, ShareGroups } from '../share/groups.js';
import type { AcquiredRange } from '../share/partition.js';
import type { TopicName } from '../topics/names.js';
import { TopicResolver, partitionExists } from './topic-lookup.js';
import { shareGroupAccess } from './share-group.js';

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };
const FINAL_EPOCH = -1;

type FetchPartitionOut = ShareFetchResponse['responses'][number]['partitions'][number];
type AckBatch = { firstOffset: bigint; lastOffset: bigint; acknowledgeTypes: number[] };

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

function groupNeed(groupId: string | null): Need[] {
  return groupId ? [{ on: 'group', action: 'consume', group: groupId, share: true }] : [];
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

/** Apply one partition's acknowledgement batches; the partition's error code (the first failing batch's). */
async function acknowledge(ctx: RequestContext, shares: ShareGroups, ref: GroupRef, memberId: string, target: Target | null, batches: AckBatch[], allowRenew: boolean, dirty: Set<PartitionSlot>): Promise<number> {
  if (!target) return ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
  if (target.errorCode !== ErrorCode.NONE) return target.errorCode;
  const slot = shares.existingPartition(ref, target.topic, target.partition, target.topicId);
  if (!slot) return ErrorCode.INVALID_RECORD_STATE;
  const now = Date.now();
  let code: number = ErrorCode.NONE;
  for (const b of batches) {
    const r = slot.sp.acknowledge(memberId, b.firstOffset, b.lastOffset, b.acknowledgeTypes, now, allowRenew);
    if (r === ErrorCode.NONE) dirty.add(slot);
    else if (code === ErrorCode.NONE) {
      code = r;
      ctx.log.debug({ conn: ctx.conn.id, group: ref.groupId, member: memberId, topic: target.topic, partition: target.partition, first: b.firstOffset, last: b.lastOffset, error: errorName(r) }, 'share acknowledgement refused');
    }
  }
  return code;
}

async function persistAll(dirty: Set<PartitionSlot>): Promise<number> {
  try {
    await Promise.all([...dirty].map((s) => s.persist()));
    return ErrorCode.NONE;
  } catch (err) {
    return err instanceof StorageError ? err.code : ErrorCode.KAFKA_STORAGE_ERROR;
  }
}

/** One session partition being fetched. */
interface Fetching {
  target: Target;
  slot: PartitionSlot | null;
  out: FetchPartitionOut;
  acquired: AcquiredRange[];
  records: Buffer[];
}

function partitionOut(partitionIndex: number, errorCode: number = ErrorCode.NONE, errorMessage: string | null = null): FetchPartitionOut {
  return { partitionIndex, errorCode, errorMessage, acknowledgeErrorCode: ErrorCode.NONE, acknowledgeErrorMessage: null, currentLeader: NO_LEADER, records: EMPTY_BUFFER, acquiredRecords: [] };
}

/**
 * Whole batches of `buffers` (an engine's read: each buffer one or more batches) as
 * [first, last] ranges and their slices; control batches are left out (their offsets are
 * gaps), `end` is where the read ends (after the last batch, control or not).
 */
function batchesOf(buffers: Buffer[]): { batches: Array<{ first: bigint; last: bigint; data: Buffer }>; end: bigint | undefined } {
  const batches: Array<{ first: bigint; last: bigint; data: Buffer }> = [];
  let end: bigint | undefined;
  for (const buf of buffers) {
    for (let pos = 0; pos + BATCH_HEADER_SIZE <= buf.length; ) {
      const size = buf.readInt32BE(pos + 8) + LOG_OVERHEAD;
      if (size <= LOG_OVERHEAD || pos + size > buf.length) break;
      const first = baseOffset(buf, pos);
      const last = first + BigInt(lastOffsetDelta(buf, pos));
      if (!isControl(buf, pos)) batches.push({ first, last, data: buf.subarray(pos, pos + size) });
      end = last + 1n;
      pos += size;
    }
  }
  return { batches, end };
}

/** Read and acquire for one partition; returns the bytes taken. */
async function fetchOne(ctx: RequestContext, f: Fetching, memberId: string, maxRecords: number, maxBytes: number, first: boolean): Promise<number> {
  const slot = f.slot!;
  const sp = slot.sp;
  const tp: PartitionRef = { topic: f.target.topic, partition: f.target.partition };
  const now = Date.now();
  if (sp.expireLocks(now)) void slot.persist().catch(() => undefined);
  let from = sp.fetchOffset();
  if (from === null) return 0;
  let read;
  try {
    read = await ctx.gateway.storage.read(tp, from, { maxBytes, minOneMessage: first, principal: ctx.session.principal });
  } catch (err) {
    if (!(err instanceof StorageError) || err.code !== ErrorCode.OFFSET_OUT_OF_RANGE) throw err;
    // the log start moved past the share-partition's start (retention, DeleteRecords)
    const o = await ctx.gateway.storage.offsets(tp);
    sp.moveLogStart(o.logStartOffset);
    from = sp.fetchOffset();
    if (from === null || from >= o.highWatermark) return 0;
    read = await ctx.gateway.storage.read(tp, from, { maxBytes, minOneMessage: first, principal: ctx.session.principal });
  }
  if (read.logStartOffset > sp.startOffset) sp.moveLogStart(read.logStartOffset);
  const { batches, end } = batchesOf(read.records);
  if (end === undefined) return 0;
  const acquired = sp.acquire(memberId, from, batches, maxRecords, Date.now(), end);
  if (acquired.length === 0) return 0;
  // only the batches holding acquired records go back
  let bytes = 0;
  let k = 0;
  for (const b of batches) {
    while (k < acquired.length && acquired[k]!.lastOffset < b.first) k++;
    if (k < acquired.length && acquired[k]!.firstOffset <= b.last) {
      f.records.push(b.data);
      bytes += b.data.length;
    }
  }
  f.acquired.push(...acquired);
  return bytes;
}

function acquiredCount(ranges: AcquiredRange[]): number {
  let n = 0;
  for (const r of ranges) n += Number(r.lastOffset - r.firstOffset) + 1;
  return n;
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
    if (epoch === 0 && !shares.member(ref, memberId)) return fetchError(ErrorCode.SHARE_SESSION_NOT_FOUND, `member ${memberId} is not in share group ${request.groupId}`, lockMs);
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
    const dirty = new Set<PartitionSlot>();
    const ackOuts: FetchPartitionOut[] = [];
    for (const t of request.topics) {
      for (const p of t.partitions) {
        if (p.acknowledgementBatches.length === 0) continue;
        const out = outFor(t.topicId, p.partitionIndex);
        out.acknowledgeErrorCode = await acknowledge(ctx, shares, ref, memberId, await targets.get(t.topicId, p.partitionIndex), p.acknowledgementBatches, v >= 2 && request.isRenewAck, dirty);
        ackOuts.push(out);
      }
    }
    const persisted = await persistAll(dirty);
    if (persisted !== ErrorCode.NONE) for (const o of ackOuts) if (o.acknowledgeErrorCode === ErrorCode.NONE) o.acknowledgeErrorCode = persisted;

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
  const fetching: Fetching[] = [];
  for (const p of partitions) {
    const target = await targets.get(p.topicId, p.partition);
    if (!target) continue; // added to the session by a concurrent request: served next time
    const out = outFor(p.topicId, p.partition);
    if (target.errorCode !== ErrorCode.NONE) {
      out.errorCode = target.errorCode;
      out.errorMessage = target.errorMessage;
      continue;
    }
    const tp: PartitionRef = { topic: target.topic, partition: target.partition };
    try {
      const slot = await shares.partition(ref, target.topic, target.partition, target.topicId, async (reset) => {
        const o = await ctx.gateway.storage.offsets(tp);
        return reset === 'earliest' ? o.logStartOffset : o.highWatermark;
      });
      fetching.push({ target, slot, out, acquired: [], records: [] });
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      out.errorCode = err.code;
      out.errorMessage = err.message;
    }
  }
  if (fetching.length === 0) return;
  const maxBytes = Math.max(0, Math.min(request.maxBytes, ctx.gateway.config.fetchMaxBytes));
  const maxRecords = request.maxRecords > 0 ? request.maxRecords : 500;
  const deadline = Date.now() + Math.max(0, request.maxWaitMs);
  let records = 0;
  let bytes = 0;
  for (;;) {
    for (const f of fetching) {
      if (f.out.errorCode !== ErrorCode.NONE || records >= maxRecords || bytes >= maxBytes) continue;
      try {
        const before = f.acquired.length;
        bytes += await fetchOne(ctx, f, memberId, maxRecords - records, maxBytes - bytes, bytes === 0);
        records += acquiredCount(f.acquired.slice(before));
      } catch (err) {
        if (!(err instanceof StorageError)) throw err;
        f.out.errorCode = err.code;
        f.out.errorMessage = err.message;
      }
    }
    if (records > 0 || ctx.conn.isClosed) break;
    const left = deadline - Date.now();
    if (left <= 0) break;
    // wait for an append beyond what the share-partitions have seen (only where the in-flight
    // window has room: a full one acquires nothing new), or for a lock to expire
    let wake = left;
    let live = 0;
    const watch: Array<{ tp: PartitionRef; offset: bigint }> = [];
    for (const f of fetching) {
      if (f.out.errorCode !== ErrorCode.NONE) continue;
      live++;
      const sp = f.slot!.sp;
      if (sp.fetchOffset() !== null) watch.push({ tp: { topic: f.target.topic, partition: f.target.partition }, offset: sp.endOffset });
      const d = sp.nextLockDeadline() - Date.now();
      if (d < wake) wake = Math.max(1, d);
    }
    if (live === 0) break;
    if (watch.length > 0) await ctx.gateway.storage.waitForAppend(watch, wake);
    else await new Promise((resolve) => setTimeout(resolve, wake));
  }
  for (const f of fetching) {
    if (f.acquired.length === 0) continue;
    f.out.records = f.records.length === 1 ? f.records[0]! : (f.records as RecordsOut);
    f.out.acquiredRecords = f.acquired.map((a) => ({ firstOffset: a.firstOffset, lastOffset: a.lastOffset, deliveryCount: a.deliveryCount }));
    const n = acquiredCount(f.acquired);
    const size = f.records.reduce((s, b) => s + b.length, 0);
    if (f.target.name) {
      ctx.access.addUsage(f.target.name, 'consume', n, size);
      ctx.gateway.metrics?.fetched(f.target.name, n, size);
    }
  }
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
    const dirty = new Set<PartitionSlot>();
    const responses: Array<{ topicId: Buffer; partitions: AckOut[] }> = [];
    for (const t of request.topics) {
      const partitions: AckOut[] = [];
      for (const p of t.partitions) {
        const code = await acknowledge(ctx, shares, ref, request.memberId, await targets.get(t.topicId, p.partitionIndex), p.acknowledgementBatches, v >= 2 && request.isRenewAck, dirty);
        partitions.push({ partitionIndex: p.partitionIndex, errorCode: code, errorMessage: null, currentLeader: NO_LEADER });
      }
      responses.push({ topicId: t.topicId, partitions });
    }
    const persisted = await persistAll(dirty);
    if (persisted !== ErrorCode.NONE) for (const t of responses) for (const p of t.partitions) if (p.errorCode === ErrorCode.NONE) p.errorCode = persisted;
    if (epoch === FINAL_EPOCH) await shares.closeSession(ref, request.memberId);
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, acquisitionLockTimeoutMs: lockMs, responses, nodeEndpoints: [] };
  },
  errorResponse(_request, errorCode) {
    return ackError(errorCode);
  },
};
