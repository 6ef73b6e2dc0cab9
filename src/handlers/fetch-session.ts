/**
 * Incremental fetch sessions (KIP-227): the session cache and the choice of
 * fetch context, with Kafka's rules (FetchManager.newContext, FetchSession,
 * FetchSessionCacheShard) and the gateway's bounds. Pure logic, no I/O: the
 * Fetch handler (fetch.ts) reads the partitions and asks this module which
 * ones the response must carry.
 *
 * A request's (session_id, session_epoch):
 *  - epoch 0 or -1 is a full fetch: a named session is closed first; epoch -1
 *    creates no session (sessionless), epoch 0 tries to create one (a free
 *    slot, or an eviction Kafka's way) and answers its id (0 when none);
 *  - otherwise the request is incremental: an unknown id gets
 *    FETCH_SESSION_ID_NOT_FOUND, a wrong epoch INVALID_FETCH_SESSION_EPOCH, a
 *    session created with topic ids (v13+) used by v7-12 or the reverse
 *    FETCH_SESSION_TOPIC_ID_ERROR; else the named partitions are added or
 *    updated, forgotten_topics_data removed, an emptied session is closed and
 *    answered sessionless, and the epoch moves on.
 *
 * An incremental response carries only the partitions with records, a changed
 * high watermark or log start offset, or an error (the cached high watermark
 * is then reset so the partition is sent again once the error is gone);
 * partitions that returned records move to the end of the session (fairness).
 *
 * What a session never holds: authorization. It caches what the client asked
 * for (topic, partition, fetch offset, max bytes) and what it was last told
 * (high watermark, log start offset); the handler resolves and authorizes
 * every partition of the session on every fetch.
 *
 * Bounds (src/config/schema.ts): sessions per gateway node
 * (maxIncrementalFetchSessionCacheSlots, Kafka's
 * max.incremental.fetch.session.cache.slots, with Kafka's eviction: a session
 * unused for 2 minutes, else the smallest session older than 2 minutes if the
 * new one has more partitions); sessions per connection
 * (fetchSessionsPerConnection: a connection over it loses its least recently
 * used session, which its client has moved on from); partitions per session
 * (fetchSessionMaxPartitions: a larger full fetch is answered sessionless, an
 * incremental fetch growing a session past it closes the session and gets
 * FETCH_SESSION_ID_NOT_FOUND, so the client starts over with a full fetch).
 *
 * Sessions belong to the connection that created them and to this gateway
 * node: an id named on another connection or node is not found (the client
 * starts a full fetch, as with a Kafka broker that lost it), so no client can
 * touch or learn another's session. A closed connection frees its sessions.
 */
import { ErrorCode } from '../protocol/errors.js';

export const INVALID_SESSION_ID = 0;
export const INITIAL_EPOCH = 0;
export const FINAL_EPOCH = -1;
/** Kafka's MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS. */
export const EVICTION_MS = 120_000;
const INT32_MAX = 0x7fffffff;

/** Kafka's FetchMetadata.nextEpoch. */
export function nextEpoch(epoch: number): number {
  if (epoch < 0) return FINAL_EPOCH;
  return epoch === INT32_MAX ? 1 : epoch + 1;
}

/** What the client asks of one partition (request fields a session remembers). */
export interface PartitionRequest {
  /** Topic name (v7-12); '' with topic ids. */
  topic: string;
  /** Topic id (v13+); all zeros without. */
  topicId: Buffer;
  partition: number;
  fetchOffset: bigint;
  partitionMaxBytes: number;
  currentLeaderEpoch: number;
}

/** One partition of a session: the request fields, and what the client was last told. */
export interface CachedPartition extends PartitionRequest {
  highWatermark: bigint;
  logStartOffset: bigint;
  /** Its key in the session (partitionKey), made once when it joins (Kafka's CachedPartition keeps its TopicIdPartition). */
  readonly key: string;
}

/** A topic of a session's partitions, and how many of them it holds. */
interface SessionTopic {
  readonly topic: string;
  readonly topicId: Buffer;
  count: number;
}

/** A partition's outcome in one fetch, as the session compares it. */
export interface PartitionResult {
  errorCode: number;
  highWatermark: bigint;
  logStartOffset: bigint;
  recordBytes: number;
}

/** The key of a partition in a request or session: topic id (v13+) or name, and index. */
export function partitionKey(usesTopicIds: boolean, topic: string, topicId: Buffer, partition: number): string {
  return `${usesTopicIds ? topicId.toString('hex') : topic}\u0000${partition}`;
}

export class FetchSession {
  epoch = nextEpoch(INITIAL_EPOCH);
  lastUsedMs: number;
  /** Set when touched more than EVICTION_MS after creation: other sessions may then evict it (Kafka's evictableByAll). */
  evictable = false;
  /** In session order (Map iteration order); a partition moved to the end is deleted and set again. */
  readonly partitions = new Map<string, CachedPartition>();
  /** The distinct topics of `partitions` (what a fetch authorizes: per topic, not per partition). */
  private readonly topicsHeld = new Map<string, SessionTopic>();

  constructor(
    readonly id: number,
    readonly connId: number,
    readonly usesTopicIds: boolean,
    readonly creationMs: number,
  ) {
    this.lastUsedMs = creationMs;
  }

  get size(): number {
    return this.partitions.size;
  }

  /** The distinct topics of the session's partitions. */
  topics(): Iterable<{ topic: string; topicId: Buffer }> {
    return this.topicsHeld.values();
  }

  private topicKey(topic: string, topicId: Buffer): string {
    return this.usesTopicIds ? topicId.toString('hex') : topic;
  }

  /** A partition joins the session (it is not in it). */
  add(r: PartitionRequest, highWatermark: bigint, logStartOffset: bigint, key = partitionKey(this.usesTopicIds, r.topic, r.topicId, r.partition)): void {
    this.partitions.set(key, { topic: r.topic, topicId: r.topicId, partition: r.partition, fetchOffset: r.fetchOffset, partitionMaxBytes: r.partitionMaxBytes, currentLeaderEpoch: r.currentLeaderEpoch, highWatermark, logStartOffset, key });
    const tk = this.topicKey(r.topic, r.topicId);
    const t = this.topicsHeld.get(tk);
    if (t) t.count++;
    else this.topicsHeld.set(tk, { topic: r.topic, topicId: r.topicId, count: 1 });
  }

  private delete(key: string): void {
    const cached = this.partitions.get(key);
    if (!cached) return;
    this.partitions.delete(key);
    const tk = this.topicKey(cached.topic, cached.topicId);
    const t = this.topicsHeld.get(tk);
    if (t && --t.count <= 0) this.topicsHeld.delete(tk);
  }

  /** Add or update the named partitions, remove the forgotten ones (FetchSession.update). */
  update(requested: PartitionRequest[], forgotten: Array<{ topic: string; topicId: Buffer; partition: number }>): void {
    for (const r of requested) {
      const key = partitionKey(this.usesTopicIds, r.topic, r.topicId, r.partition);
      const cached = this.partitions.get(key);
      if (cached) {
        cached.fetchOffset = r.fetchOffset;
        cached.partitionMaxBytes = r.partitionMaxBytes;
        cached.currentLeaderEpoch = r.currentLeaderEpoch;
      } else {
        this.add(r, -1n, -1n, key);
      }
    }
    for (const f of forgotten) this.delete(partitionKey(this.usesTopicIds, f.topic, f.topicId, f.partition));
  }

  /**
   * Whether an incremental response must carry this partition (CachedPartition.maybeUpdateResponseData),
   * remembering what the client is told; a partition that returned records moves to the end.
   */
  mustRespond(key: string, result: PartitionResult): boolean {
    const cached = this.partitions.get(key);
    if (!cached) return true;
    let must = result.recordBytes > 0;
    if (cached.highWatermark !== result.highWatermark) {
      must = true;
      cached.highWatermark = result.highWatermark;
    }
    if (cached.logStartOffset !== result.logStartOffset) {
      must = true;
      cached.logStartOffset = result.logStartOffset;
    }
    if (result.errorCode !== ErrorCode.NONE) {
      cached.highWatermark = -1n;
      must = true;
    }
    if (result.recordBytes > 0) {
      this.partitions.delete(key);
      this.partitions.set(key, cached);
    }
    return must;
  }
}

export interface FetchSessionLimits {
  /** Sessions on this gateway node (Kafka's max.incremental.fetch.session.cache.slots). */
  maxSessions: number;
  /** Sessions one connection may hold. */
  maxPerConnection: number;
  /** Partitions one session may hold. */
  maxPartitions: number;
  /** Kafka's eviction time; tests shorten it. */
  evictionMs?: number;
}

/** What the handler does with one request (Kafka's FetchContext kinds). */
export type FetchContext =
  /** Answer with this top-level error and no partitions, session id 0. */
  | { kind: 'error'; errorCode: number; reason: string }
  /** Answer every requested partition, session id 0. */
  | { kind: 'sessionless' }
  /** Answer every requested partition, then try to create a session of them (createSession). */
  | { kind: 'full'; usesTopicIds: boolean }
  /** Read the session's partitions; answer those that changed (session.mustRespond), with the session's id. */
  | { kind: 'incremental'; session: FetchSession };

export class FetchSessionCache {
  private readonly sessions = new Map<number, FetchSession>();
  private readonly byConnection = new Map<number, Set<FetchSession>>();
  private readonly evictionMs: number;
  private cachedPartitions = 0;
  /** Sessions evicted to make room (Kafka's IncrementalFetchSessionEvictionsPerSec, as a total). */
  evictions = 0;
  /** Sessions created, and incremental fetches served (totals, for metrics and tests). */
  created = 0;
  incrementalFetches = 0;

  constructor(
    private readonly limits: FetchSessionLimits,
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {
    this.evictionMs = limits.evictionMs ?? EVICTION_MS;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Partitions held by all sessions (Kafka's NumIncrementalFetchPartitionsCached). */
  get totalPartitions(): number {
    let n = 0;
    for (const s of this.sessions.values()) n += s.size;
    return n;
  }

  /** A session of this connection, or undefined (another connection's session is not found). */
  get(connId: number, sessionId: number): FetchSession | undefined {
    const s = this.sessions.get(sessionId);
    return s && s.connId === connId ? s : undefined;
  }

  /** Sessions a connection holds (how many). */
  countFor(connId: number): number {
    return this.byConnection.get(connId)?.size ?? 0;
  }

  remove(session: FetchSession): void {
    if (this.sessions.get(session.id) !== session) return;
    this.sessions.delete(session.id);
    const own = this.byConnection.get(session.connId);
    own?.delete(session);
    if (own && own.size === 0) this.byConnection.delete(session.connId);
  }

  /** The connection closed: its sessions go. */
  dropConnection(connId: number): void {
    for (const s of this.byConnection.get(connId) ?? []) this.sessions.delete(s.id);
    this.byConnection.delete(connId);
  }

  /**
   * Kafka's FetchManager.newContext for one request. `requested` is the
   * request's partitions (deduplicated, last occurrence's fields), `forgotten`
   * its forgotten_topics_data.
   */
  newContext(
    connId: number,
    apiVersion: number,
    sessionId: number,
    epoch: number,
    requested: PartitionRequest[],
    forgotten: Array<{ topic: string; topicId: Buffer; partition: number }>,
  ): FetchContext {
    const usesTopicIds = apiVersion >= 13;
    if (epoch === INITIAL_EPOCH || epoch === FINAL_EPOCH) {
      // any session named by a full fetch is closed
      if (sessionId !== INVALID_SESSION_ID) {
        const named = this.get(connId, sessionId);
        if (named) this.remove(named);
      }
      if (epoch === FINAL_EPOCH) return { kind: 'sessionless' };
      return { kind: 'full', usesTopicIds };
    }
    const session = this.get(connId, sessionId);
    if (!session) return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, reason: `no fetch session ${sessionId} on this connection` };
    if (session.epoch !== epoch) return { kind: 'error', errorCode: ErrorCode.INVALID_FETCH_SESSION_EPOCH, reason: `fetch session ${sessionId} expects epoch ${session.epoch}, got ${epoch}` };
    if (session.usesTopicIds !== usesTopicIds) {
      return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR, reason: `fetch session ${sessionId} was created ${session.usesTopicIds ? 'with' : 'without'} topic ids; Fetch v${apiVersion} ${usesTopicIds ? 'uses' : 'does not use'} them` };
    }
    session.update(requested, forgotten);
    if (session.size === 0) {
      this.remove(session);
      return { kind: 'sessionless' };
    }
    if (session.size > this.limits.maxPartitions) {
      this.remove(session);
      return { kind: 'error', errorCode: ErrorCode.FETCH_SESSION_ID_NOT_FOUND, reason: `fetch session ${sessionId} grew past ${this.limits.maxPartitions} partitions (fetchSessionMaxPartitions); closed` };
    }
    this.touch(session);
    session.epoch = nextEpoch(session.epoch);
    this.incrementalFetches++;
    return { kind: 'incremental', session };
  }

  /**
   * After a full fetch was answered: a new session of its partitions (with what the response told),
   * or INVALID_SESSION_ID when there is no room (the client keeps sending full fetches).
   */
  createSession(connId: number, usesTopicIds: boolean, partitions: Array<{ request: PartitionRequest; result: PartitionResult }>): FetchSession | null {
    if (partitions.length === 0 || partitions.length > this.limits.maxPartitions || this.limits.maxSessions <= 0 || this.limits.maxPerConnection <= 0) return null;
    const now = this.now();
    // the connection's own least recently used session makes room first (its client moved on from it)
    const own = this.byConnection.get(connId);
    if (own && own.size >= this.limits.maxPerConnection) {
      let oldest: FetchSession | null = null;
      for (const s of own) if (!oldest || s.lastUsedMs < oldest.lastUsedMs) oldest = s;
      if (oldest) this.remove(oldest);
    }
    if (this.sessions.size >= this.limits.maxSessions && !this.tryEvict(partitions.length, now)) return null;
    const session = new FetchSession(this.newId(), connId, usesTopicIds, now);
    for (const { request, result } of partitions) {
      session.add(request, result.errorCode === ErrorCode.NONE ? result.highWatermark : -1n, result.logStartOffset);
    }
    this.sessions.set(session.id, session);
    this.created++;
    let set = this.byConnection.get(connId);
    if (!set) {
      set = new Set();
      this.byConnection.set(connId, set);
    }
    set.add(session);
    return session;
  }

  private touch(session: FetchSession): void {
    const now = this.now();
    session.lastUsedMs = now;
    if (now - session.creationMs > this.evictionMs) session.evictable = true;
  }

  /**
   * Kafka's tryEvict for a consumer (unprivileged) session of `size` partitions: the least recently
   * used session when unused for longer than the eviction time; else the smallest evictable session
   * (smallest size, then lowest id) when the new one has more partitions.
   */
  private tryEvict(size: number, now: number): boolean {
    let lru: FetchSession | null = null;
    let smallest: FetchSession | null = null;
    for (const s of this.sessions.values()) {
      if (!lru || s.lastUsedMs < lru.lastUsedMs || (s.lastUsedMs === lru.lastUsedMs && s.id < lru.id)) lru = s;
      if (s.evictable && (!smallest || s.size < smallest.size || (s.size === smallest.size && s.id < smallest.id))) smallest = s;
    }
    if (!lru) return false;
    if (now - lru.lastUsedMs > this.evictionMs) {
      this.remove(lru);
      this.evictions++;
      return true;
    }
    // the new key (size, id 0) must not sort below the evictable one's (size, id > 0): strictly more partitions
    if (!smallest || size <= smallest.size) return false;
    this.remove(smallest);
    this.evictions++;
    return true;
  }

  private newId(): number {
    for (;;) {
      const id = 1 + Math.floor(this.random() * (INT32_MAX - 1));
      if (!this.sessions.has(id)) return id;
    }
  }
}
