/**
 * Fetch (1). Reads whole record batches from the storage engine, honouring
 * max_bytes (response), partition_max_bytes, min_bytes and max_wait_ms
 * (long-poll: the handler waits for an append to any fetched partition).
 *
 * Bounds, as a Kafka broker applies them (KafkaApis.handleFetchRequest,
 * ReplicaManager.readFromLog):
 *  - the response's budget is min(request max_bytes, the gateway's
 *    fetchMaxBytes, Kafka's fetch.max.bytes, 55 MiB by default), and
 *    min_bytes is capped by it;
 *  - each partition reads at most min(partition_max_bytes, what is left of
 *    the budget); the first partition with data returns at least one whole
 *    batch even when it is larger (KIP-74), so a consumer never gets stuck
 *    behind a large batch; later partitions stop when the budget is used up;
 *  - a partition named several times in one request is read once: like
 *    Kafka's FetchRequest.fetchData (a map keyed by topic id + name +
 *    partition), the last occurrence's fields count, at the first
 *    occurrence's place, and the response lists it once (topics grouped as
 *    Kafka's FetchResponse does: consecutive partitions of a topic share an
 *    entry). The same for topic ids (v13+).
 *
 * isolation_level=1 (read_committed): records up to the partition's last
 * stable offset only, with the aborted transactions overlapping them (the
 * client drops their records), as Kafka's read with TXN_COMMITTED; a long-poll
 * then waits for the last stable offset to move (a COMMIT/ABORT marker wakes it).
 * last_stable_offset is reported for both isolation levels.
 *
 * Fetch sessions (KIP-227, fetch-session.ts): v7+ requests open, use and
 * close incremental sessions with Kafka's rules and error codes; an
 * incremental fetch reads every partition of the session, resolving and
 * authorizing each one again (a revoked permission applies at the next
 * fetch), and answers only the partitions that changed.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { FetchRequest, FetchResponse } from '../protocol/generated/index.js';
import { StorageError, type AbortedTransaction, type PartitionRef } from '../storage/engine.js';
import { EMPTY_BUFFER, ZERO_UUID, type RecordsOut } from '../protocol/codec/types.js';
import { TopicResolver, checkLeaderEpoch, partitionExists } from './topic-lookup.js';
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, recordCount } from '../protocol/records/batch-header.js';
import type { TopicName } from '../topics/names.js';
import { FINAL_EPOCH, INITIAL_EPOCH, INVALID_SESSION_ID, partitionKey, type FetchContext, type PartitionRequest, type PartitionResult } from './fetch-session.js';

type TopicOut = FetchResponse['responses'][number];
type PartitionOut = TopicOut['partitions'][number];

const READ_COMMITTED = 1;
const NO_EPOCH_END = { epoch: -1, endOffset: -1n };
const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };
const NO_SNAPSHOT = { endOffset: -1n, epoch: -1 };

/** Records are never null on the wire: Kafka sends an empty record set, and librdkafka rejects a null one. */
function partitionOut(
  partitionIndex: number,
  errorCode: number,
  hw = -1n,
  lso = -1n,
  logStart = -1n,
  records: RecordsOut = EMPTY_BUFFER,
  readCommitted = false,
  aborted: AbortedTransaction[] = [],
): PartitionOut {
  return {
    partitionIndex,
    errorCode,
    highWatermark: hw,
    lastStableOffset: lso,
    logStartOffset: logStart,
    divergingEpoch: NO_EPOCH_END,
    currentLeader: NO_LEADER,
    snapshotId: NO_SNAPSHOT,
    abortedTransactions: readCommitted ? aborted : null,
    preferredReadReplica: -1,
    records,
  };
}

/** One partition the request (or its session) asks for, resolved once, read possibly several times (long-poll). */
interface Wanted {
  /** The topic entry it is answered in (name, and id for v13+). */
  topic: string;
  topicId: Buffer;
  /** Its key in the request and the session (fetch-session.ts partitionKey). */
  key: string;
  req: PartitionRequest;
  out: PartitionOut;
  name: TopicName | null;
  tp: PartitionRef | null;
  fetchOffset: bigint;
  partitionMaxBytes: number;
}

/** Bytes of a partition's records in the response. */
function recordBytes(data: RecordsOut | null): number {
  if (!data) return 0;
  if (Buffer.isBuffer(data)) return data.length;
  let n = 0;
  for (const part of data) n += part.length;
  return n;
}

function resultOf(w: Wanted): PartitionResult {
  return { errorCode: w.out.errorCode, highWatermark: w.out.highWatermark, logStartOffset: w.out.logStartOffset, recordBytes: recordBytes(w.out.records) };
}

/**
 * The partitions a request names, in order, one entry per topic(-id) partition: like Kafka's
 * fetchData map, the last occurrence's fields at the first one's place.
 */
function requestedPartitions(request: FetchRequest, usesTopicIds: boolean): PartitionRequest[] {
  const out: PartitionRequest[] = [];
  const slot = new Map<string, number>();
  for (const t of request.topics) {
    const topicId = t.topicId ?? ZERO_UUID;
    for (const p of t.partitions) {
      const r: PartitionRequest = { topic: t.topic, topicId, partition: p.partition, fetchOffset: p.fetchOffset, partitionMaxBytes: p.partitionMaxBytes, currentLeaderEpoch: p.currentLeaderEpoch };
      const key = partitionKey(usesTopicIds, t.topic, topicId, p.partition);
      const at = slot.get(key);
      if (at === undefined) {
        slot.set(key, out.length);
        out.push(r);
      } else {
        out[at] = r;
      }
    }
  }
  return out;
}

/** Without a session cache (fetchSessions unset): full fetches are sessionless, an incremental one names an unknown session. */
function withoutSessions(sessionId: number, epoch: number): FetchContext {
  if (epoch === INITIAL_EPOCH || epoch === FINAL_EPOCH) return { kind: 'sessionless' };
  return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, reason: `no fetch session ${sessionId}` };
}

/** Resolve and authorize each partition (every fetch: a session never caches either). */
async function resolveWanted(ctx: RequestContext, parts: Iterable<PartitionRequest & { readonly key?: string }>, usesTopicIds: boolean): Promise<Wanted[]> {
  const v = ctx.apiVersion;
  const resolver = new TopicResolver(ctx);
  const wanted: Wanted[] = [];
  // one lookup and one authorization per topic, not per partition: a consumer of 1,000 partitions of
  // one topic (and its fetch session, resolved on every fetch) names the topic 1,000 times
  const topics = new Map<string, { found: Awaited<ReturnType<TopicResolver['lookup']>>; allowed: boolean }>();
  for (const p of parts) {
    const topicKey = usesTopicIds ? p.topicId.toString('latin1') : p.topic;
    let t = topics.get(topicKey);
    if (!t) {
      const found = usesTopicIds ? await resolver.lookupId(p.topicId) : await resolver.lookup(p.topic);
      t = { found, allowed: found.name ? await ctx.access.topic(found.name, 'consume') : true };
      topics.set(topicKey, t);
    }
    const found = t.found;
    let code: number = found.ok ? ErrorCode.NONE : found.code;
    if (!t.allowed) code = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
    if (found.ok && !partitionExists(found.info, p.partition)) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
    if (code === ErrorCode.NONE && v >= 9) code = checkLeaderEpoch(p.currentLeaderEpoch);
    wanted.push({
      topic: p.topic,
      topicId: p.topicId,
      key: p.key ?? partitionKey(usesTopicIds, p.topic, p.topicId, p.partition), // a session's partitions carry theirs
      req: p,
      out: partitionOut(p.partition, code),
      name: found.ok ? found.name : null,
      tp: code === ErrorCode.NONE && found.ok ? { topic: found.info.name, partition: p.partition } : null,
      fetchOffset: p.fetchOffset,
      partitionMaxBytes: p.partitionMaxBytes,
    });
  }
  return wanted;
}

/** Records in whole batches, from their headers (for the audit's counts). */
function countRecords(data: Buffer): number {
  let n = 0;
  for (let pos = 0; pos + BATCH_HEADER_SIZE <= data.length; ) {
    const length = data.readInt32BE(pos + 8);
    if (length <= 0) break;
    n += recordCount(data, pos);
    pos += length + LOG_OVERHEAD;
  }
  return n;
}

/** An engine's batches as the response's records, without concatenating them (the codec writes them in order). */
function recordsOut(buffers: Buffer[]): RecordsOut {
  if (buffers.length === 0) return EMPTY_BUFFER;
  return buffers.length === 1 ? buffers[0]! : buffers;
}

async function readAll(ctx: RequestContext, wanted: Wanted[], maxBytes: number, readCommitted: boolean): Promise<number> {
  let remaining = Math.max(0, maxBytes);
  let total = 0;
  let first = true;
  for (const w of wanted) {
    if (!w.tp) continue;
    const limit = Math.max(0, Math.min(w.partitionMaxBytes, remaining));
    try {
      const r = await ctx.gateway.storage.read(w.tp, w.fetchOffset, {
        maxBytes: limit,
        minOneMessage: first,
        principal: ctx.session.principal,
        isolation: readCommitted ? 'read_committed' : 'read_uncommitted',
      });
      if (r.release) ctx.afterResponse(r.release); // the response refers to the engine's buffers until written
      const bytes = r.bytes;
      w.out = partitionOut(
        w.out.partitionIndex,
        ErrorCode.NONE,
        r.highWatermark,
        r.lastStableOffset,
        r.logStartOffset,
        recordsOut(r.records),
        readCommitted,
        r.abortedTransactions ?? [],
      );
      if (bytes > 0) first = false;
      remaining -= bytes;
      total += bytes;
    } catch (err) {
      if (!(err instanceof StorageError)) throw err;
      let hw = -1n;
      let logStart = -1n;
      if (err.code === ErrorCode.OFFSET_OUT_OF_RANGE) {
        const o = await ctx.gateway.storage.offsets(w.tp).catch(() => null);
        if (o) ({ highWatermark: hw, logStartOffset: logStart } = o);
      }
      w.out = partitionOut(w.out.partitionIndex, err.code, hw, hw, logStart, EMPTY_BUFFER, readCommitted);
    }
  }
  return total;
}

/** Connections whose close already frees their fetch sessions. */
const hooked = new WeakSet<object>();

export const fetch: ApiEntry<FetchRequest, FetchResponse> = {
  apiKey: API_KEYS.Fetch,
  minVersion: 4,
  maxVersion: 17,
  rule: 'topic-consume',
  authz: {
    checks: [
      { action: 'consume', on: 'topic', when: 'v4-12', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic (named in the request or held by its incremental fetch session: checked on every fetch)' },
      { action: 'consume', on: 'topic-id', when: 'v13+', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition, of the request or its fetch session (an unknown id: UNKNOWN_TOPIC_ID)' },
    ],
    // the request's topics and, for an incremental fetch, its session's: checked on every fetch
    needs(request, { apiVersion, fetchSessionTopics }) {
      const inSession = apiVersion >= 7 && request.sessionEpoch !== INITIAL_EPOCH && request.sessionEpoch !== FINAL_EPOCH ? fetchSessionTopics(request.sessionId) : undefined;
      const all: Array<{ topic: string; topicId: Buffer }> = inSession ? [...request.topics, ...inSession] : request.topics;
      if (apiVersion >= 13) {
        const ids = new Map<string, Buffer>();
        for (const t of all) ids.set(t.topicId.toString('hex'), t.topicId);
        return [...ids.values()].map((id): Need => ({ on: 'topic-id', action: 'consume', id }));
      }
      return topicsNamed('consume', new Set(all.map((t) => t.topic)));
    },
  },
  zeroCopyResponse: true,
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    const readCommitted = request.isolationLevel === READ_COMMITTED;
    const usesTopicIds = v >= 13;
    const requested = requestedPartitions(request, usesTopicIds);
    // v4-6 carry no session fields: always a sessionless full fetch
    const sessionId = v >= 7 ? request.sessionId : INVALID_SESSION_ID;
    const epoch = v >= 7 ? request.sessionEpoch : FINAL_EPOCH;
    const sessions = ctx.gateway.fetchSessions;
    const forgotten = v >= 7 ? request.forgottenTopicsData.flatMap((f) => f.partitions.map((partition) => ({ topic: f.topic, topicId: f.topicId ?? ZERO_UUID, partition }))) : [];
    const context = sessions ? sessions.newContext(ctx.conn.id, v, sessionId, epoch, requested, forgotten) : withoutSessions(sessionId, epoch);
    if (context.kind === 'error') {
      ctx.log.debug({ conn: ctx.conn.id, sessionId, epoch, errorCode: context.errorCode, reason: context.reason }, 'fetch session error');
      return { throttleTimeMs: 0, errorCode: context.errorCode, sessionId: INVALID_SESSION_ID, responses: [], nodeEndpoints: [] };
    }
    const session = context.kind === 'incremental' ? context.session : null;
    // A client over its fetch quota gets no data, only how long to back off (Kafka's throttled fetch;
    // an incremental session keeps its id and has moved to its next epoch).
    const quota = ctx.gateway.quotas?.fetch;
    const principal = ctx.session.principal ?? '';
    if (quota?.enabled) {
      const owed = quota.record(principal, 0);
      if (owed > 0) {
        ctx.throttleMs = owed;
        return { throttleTimeMs: owed, errorCode: ErrorCode.NONE, sessionId: session?.id ?? INVALID_SESSION_ID, responses: [], nodeEndpoints: [] };
      }
    }
    const wanted = await resolveWanted(ctx, session ? session.partitions.values() : requested, usesTopicIds);

    // the response budget: the request's max_bytes within the gateway's bound (Kafka's fetch.max.bytes)
    const maxBytes = Math.max(0, Math.min(request.maxBytes, ctx.gateway.config.fetchMaxBytes));
    const minBytes = Math.min(request.minBytes, maxBytes);
    const deadline = Date.now() + Math.max(0, request.maxWaitMs);
    let bytes = await readAll(ctx, wanted, maxBytes, readCommitted);
    const anyError = wanted.some((w) => w.out.errorCode !== ErrorCode.NONE);
    while (bytes < minBytes && !anyError && !ctx.conn.isClosed) {
      const left = deadline - Date.now();
      // wait for data beyond what this read could see (read_committed: beyond the last stable offset)
      const watch = wanted.filter((w) => w.tp).map((w) => {
        const seen = readCommitted ? w.out.lastStableOffset : w.out.highWatermark;
        return { tp: w.tp!, offset: seen > w.fetchOffset ? seen : w.fetchOffset };
      });
      if (left <= 0 || watch.length === 0) break;
      await ctx.gateway.storage.waitForAppend(watch, left, undefined, readCommitted ? 'read_committed' : 'read_uncommitted');
      bytes = await readAll(ctx, wanted, maxBytes, readCommitted);
    }

    for (const w of wanted) {
      const data = w.out.records;
      if (w.name && data) {
        let records = 0;
        let bytes = 0;
        for (const part of Buffer.isBuffer(data) ? [data] : data) {
          records += countRecords(part);
          bytes += part.length;
        }
        if (bytes > 0) {
          ctx.access.addUsage(w.name, 'consume', records, bytes);
          ctx.gateway.metrics?.fetched(w.name, records, bytes);
        }
      }
    }
    // The session's answer: a full fetch may open one; an incremental one carries only what changed.
    let answered = wanted;
    let responseSessionId = INVALID_SESSION_ID;
    if (context.kind === 'full' && sessions) {
      const created = sessions.createSession(ctx.conn.id, usesTopicIds, wanted.map((w) => ({ request: w.req, result: resultOf(w) })));
      if (created) {
        responseSessionId = created.id;
        if (!hooked.has(ctx.conn)) {
          hooked.add(ctx.conn);
          const conn = ctx.conn;
          conn.socket.once('close', () => sessions.dropConnection(conn.id));
        }
        if (ctx.conn.isClosed) sessions.dropConnection(ctx.conn.id);
      }
    } else if (session) {
      responseSessionId = session.id;
      answered = wanted.filter((w) => session.mustRespond(w.key, resultOf(w)));
    }
    // The (possibly re-read) partition results, grouped as Kafka's FetchResponse: consecutive partitions of a topic share an entry.
    const topics: TopicOut[] = [];
    let last: { entry: TopicOut; w: Wanted } | null = null;
    for (const w of answered) {
      if (last === null || last.w.topic !== w.topic || !last.w.topicId.equals(w.topicId)) {
        last = { entry: { topic: w.topic, topicId: w.topicId, partitions: [] }, w };
        topics.push(last.entry);
      }
      last.entry.partitions.push(w.out);
    }
    const throttleTimeMs = quota?.enabled ? quota.record(principal, bytes) : 0;
    ctx.throttleMs = throttleTimeMs;
    return { throttleTimeMs, errorCode: ErrorCode.NONE, sessionId: responseSessionId, responses: topics, nodeEndpoints: [] };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, sessionId: 0, responses: [], nodeEndpoints: [] };
  },
};
