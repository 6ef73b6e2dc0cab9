/**
 * The share-group coordinator (KIP-932) of one gateway node: share groups
 * (members, epochs, assignment), their share-partitions (partition.ts), the
 * share sessions of ShareFetch/ShareAcknowledge, and their durable state in
 * the storage engine's key-value store (store.ts).
 *
 *  - Membership: ShareGroupHeartbeat joins (epoch 0, a client-chosen member
 *    id), heartbeats and leaves (epoch -1); a member not heard from for
 *    `sessionTimeoutMs` (group.share.session.timeout.ms) is removed. The
 *    group epoch moves when a member's assignment changes; the member's epoch
 *    is the group epoch of its current assignment, and a heartbeat with
 *    another epoch is fenced (FENCED_MEMBER_EPOCH), as Kafka does.
 *  - Assignment: every member gets every partition of the topics it subscribes
 *    to (share groups share partitions; acquisition locks divide the records).
 *  - A member that leaves, times out, or closes its share session gives its
 *    acquired records back (Available again, delivery count kept).
 *  - Homes: a share group has one home namespace like a consumer group
 *    (coordinator/home.ts); it is stored before anything else of the group.
 *  - Share sessions are keyed by (tenant, group, member), as Kafka keys them
 *    by (group, member), with Kafka's epochs (0 opens, -1 closes, otherwise the
 *    next epoch), at most `maxSessions` per node (SHARE_SESSION_LIMIT_REACHED).
 *
 *  - Administration (AlterShareGroupOffsets, DeleteShareGroupOffsets, DeleteGroups):
 *    only on a group without members (NON_EMPTY_GROUP), as Kafka; the records side
 *    resets or forgets the share-partitions, DeleteGroups then removes the group's
 *    configs and home. The topics a group's members were assigned are stored (what
 *    DeleteGroups cleans up on an engine whose records side is not the gateway's own).
 *
 * Groups and members live in memory (members re-join after a restart, as they
 * do after a coordinator move in Kafka); homes and share-partition states are
 * durable. One node serves a share group's membership: the one coordinating its
 * id. Its records side (acquisition, acknowledgement: records.ts) is the
 * gateway's own share-partitions (local-records.ts), served by that node too,
 * unless the engine's wiring provides another (the Pulsar engine: Shared
 * subscriptions, served by every node: `records.anyNode`).
 */
import type { Logger } from '../logger.js';
import type { KeyValueStore } from '../storage/engine.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { systemClock, type Clock, type TimerHandle } from '../coordinator/clock.js';
import { groupMapKey } from '../coordinator/store.js';
import { verifyHome } from '../coordinator/home.js';
import type { GroupKey, GroupRef } from '../coordinator/coordinator.js';
import { SharePartition, newRecordCounts, type SharePartitionConfig, type ShareRecordCounts } from './partition.js';
import { ShareStore } from './store.js';
import { LocalShareRecords } from './local-records.js';
import type { AckBatch, FetchedPartition, OffsetsWanted, ShareFetchLimits, ShareOffsets, ShareReadContext, ShareRecords, ShareRecordsFactory, ShareSettings, ShareTarget } from './records.js';

export interface ShareGroupsConfig extends SharePartitionConfig {
  /** group.share.heartbeat.interval.ms */
  heartbeatIntervalMs: number;
  /** group.share.session.timeout.ms */
  sessionTimeoutMs: number;
  /** group.share.max.size */
  maxSize: number;
  /** Share sessions one node keeps (Kafka: max.incremental.fetch.session.cache.slots). */
  maxSessions: number;
  /** Where a new share-partition starts (share.auto.offset.reset): the log end or its start. */
  autoOffsetReset: 'latest' | 'earliest';
}

/** Per-group configs (Kafka's group configs, set with IncrementalAlterConfigs on a GROUP resource); unset: the gateway's. */
export interface ShareGroupConfigs {
  /** share.auto.offset.reset */
  autoOffsetReset?: 'latest' | 'earliest';
  /** share.record.lock.duration.ms */
  lockDurationMs?: number;
}

/** The group configs this gateway takes, with Kafka's names. */
export const SHARE_GROUP_CONFIG_KEYS = ['share.auto.offset.reset', 'share.record.lock.duration.ms'] as const;
/** Kafka's other group configs: known, not taken here (INVALID_CONFIG saying so). */
const OTHER_GROUP_CONFIG_KEYS = ['consumer.session.timeout.ms', 'consumer.heartbeat.interval.ms', 'share.session.timeout.ms', 'share.heartbeat.interval.ms', 'share.isolation.level', 'share.delivery.count.limit', 'streams.session.timeout.ms', 'streams.heartbeat.interval.ms', 'streams.num.standby.replicas'];

/** Validate one group config change (Kafka's GroupConfig rules, within this gateway's bounds): the new value, or throws INVALID_CONFIG. */
export function parseShareGroupConfig(name: string, value: string | null): Partial<ShareGroupConfigs> {
  switch (name) {
    case 'share.auto.offset.reset':
      if (value === null) return { autoOffsetReset: undefined };
      if (value !== 'latest' && value !== 'earliest') throw new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration share.auto.offset.reset: this gateway takes latest or earliest`);
      return { autoOffsetReset: value };
    case 'share.record.lock.duration.ms': {
      if (value === null) return { lockDurationMs: undefined };
      const n = Number(value);
      if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration share.record.lock.duration.ms: Not a number of type INT`);
      if (n < 1000 || n > 3_600_000) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Invalid value ${value} for configuration share.record.lock.duration.ms: Value must be between 1000 and 3600000`);
      return { lockDurationMs: n };
    }
    default:
      if (OTHER_GROUP_CONFIG_KEYS.includes(name)) throw new KafkaError(ErrorCode.INVALID_CONFIG, `Group config ${name} is not taken by this gateway (yet): it takes ${SHARE_GROUP_CONFIG_KEYS.join(', ')}`);
      throw new KafkaError(ErrorCode.INVALID_CONFIG, `Unknown group config name: ${name}`);
  }
}

/** The share-group settings of the gateway's configuration (src/config/schema.ts). */
export function shareGroupsConfigFrom(c: {
  shareGroupRecordLockDurationMs: number;
  shareGroupDeliveryCountLimit: number;
  shareGroupPartitionMaxRecordLocks: number;
  shareGroupHeartbeatIntervalMs: number;
  shareGroupSessionTimeoutMs: number;
  shareGroupMaxSize: number;
  shareGroupMaxSessions: number;
  shareAutoOffsetReset: string;
}): ShareGroupsConfig {
  return {
    lockDurationMs: c.shareGroupRecordLockDurationMs,
    deliveryCountLimit: c.shareGroupDeliveryCountLimit,
    maxInFlight: c.shareGroupPartitionMaxRecordLocks,
    heartbeatIntervalMs: c.shareGroupHeartbeatIntervalMs,
    sessionTimeoutMs: c.shareGroupSessionTimeoutMs,
    maxSize: c.shareGroupMaxSize,
    maxSessions: c.shareGroupMaxSessions,
    autoOffsetReset: c.shareAutoOffsetReset === 'earliest' ? 'earliest' : 'latest',
  };
}

/** A subscribed topic as the handler resolved it. */
export interface ShareTopic {
  /** The name the client used. */
  kafkaName: string;
  /** Resolved full name. */
  name: string;
  topicId: Buffer;
  partitions: number;
}

export interface ShareMember {
  memberId: string;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  rackId: string | null;
  subscribed: string[];
  topics: ShareTopic[];
  /** The assignment last computed (signature) and whether the member has been sent it. */
  assignmentKey: string;
  lastSeen: number;
}

export interface ShareGroup {
  key: GroupKey;
  home: string | null;
  groupEpoch: number;
  members: Map<string, ShareMember>;
}

export interface HeartbeatParams {
  memberId: string;
  memberEpoch: number;
  rackId: string | null;
  /** null: unchanged since the last heartbeat. */
  subscribedNames: string[] | null;
  /** The subscribed topics that exist and are readable (resolved by the handler). */
  topics: ShareTopic[];
  clientId: string;
  clientHost: string;
}

export interface HeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string | null;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  /** null: unchanged since last sent. */
  assignment: ShareTopic[] | null;
}

export interface ShareSession {
  key: string;
  epoch: number;
  /** Partitions of the session: `${topicIdHex}:${partition}` -> the topic id and partition. */
  partitions: Map<string, { topicId: Buffer; partition: number }>;
}

/** A share-partition as the fetch/acknowledge handlers reach it. */
export interface PartitionSlot {
  sp: SharePartition;
  /** Persist the current state (coalesced; resolves when durable). */
  persist(): Promise<void>;
}

const FINAL_EPOCH = -1;

function nextEpoch(e: number): number {
  return e >= 0x7fffffff ? 1 : e + 1;
}

function assignmentKey(topics: ShareTopic[]): string {
  return topics
    .map((t) => `${t.topicId.toString('hex')}:${t.partitions}`)
    .sort()
    .join(',');
}

export class ShareGroups {
  private readonly groups = new Map<string, ShareGroup>();
  private readonly homes = new Map<string, string>();
  private readonly partitions = new Map<string, { slot: PartitionSlot; topicId: Buffer; tenant: string; groupId: string }>();
  private readonly sessions = new Map<string, ShareSession>();
  /** Per-group configs, and the share-partition config object each group's partitions share (mutated when the configs change). */
  private readonly groupConfigs = new Map<string, ShareGroupConfigs>();
  private readonly partitionConfigs = new Map<string, SharePartitionConfig>();
  /** What happened to records since this node started (metrics). */
  readonly counts: ShareRecordCounts = newRecordCounts();
  private readonly store: ShareStore;
  private timer: TimerHandle | null = null;
  private active = false;
  /**
   * Told when a share-partition's start offset moved and was stored (the Pulsar engine mirrors
   * it into a durable subscription named after the group, as it does with committed offsets).
   */
  onStartMoved: ((groupId: string, topic: string, partition: number, startOffset: bigint) => void) | null = null;

  /** The records side: the gateway's own share-partitions, or the engine's (the wiring's factory). */
  readonly records: ShareRecords;

  constructor(
    kv: KeyValueStore,
    readonly config: ShareGroupsConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
    records: ShareRecordsFactory | null = null,
  ) {
    this.store = new ShareStore(kv);
    this.records = records
      ? records(
          (key) => this.settings(key),
          this.counts,
          (key, t) => this.existingPartitionOf(key, t.topic, t.partition, t.topicId)?.sp.startOffset ?? null,
        )
      : new LocalShareRecords(this.localHost());
  }

  /** A group's settings now (its configs, else the gateway's). */
  settings(key: GroupKey): ShareSettings {
    const g = this.groupConfigs.get(groupMapKey(key));
    return {
      lockDurationMs: g?.lockDurationMs ?? this.config.lockDurationMs,
      deliveryCountLimit: this.config.deliveryCountLimit,
      maxInFlight: this.config.maxInFlight,
      autoOffsetReset: g?.autoOffsetReset ?? this.config.autoOffsetReset,
    };
  }

  /** Served on any node (the records side says so): ShareFetch / ShareAcknowledge need no coordinator here. */
  get recordsOnAnyNode(): boolean {
    return this.records.anyNode;
  }

  /**
   * A group's home as the durable store has it now, remembered here with its configs
   * (a node that does not coordinate the group serves its records side: it learns the home
   * and configs the coordinator stored). Null: no such share group (yet).
   */
  async loadHome(key: GroupKey): Promise<string | null> {
    const mk = groupMapKey(key);
    if (!this.homes.has(mk)) {
      const stored = await this.store.getHome(key);
      if (stored === null) return null;
      // a home never changes once set
      if (!this.homes.has(mk)) {
        this.homes.set(mk, stored);
        this.homesWritten.add(mk);
      }
    }
    // the configs as the coordinating node last stored them (read from the store's current view)
    const configs = await this.store.getConfigs(key);
    if (Object.keys(configs).length > 0) this.groupConfigs.set(mk, configs);
    else this.groupConfigs.delete(mk);
    return this.homes.get(mk) ?? null;
  }

  private localHost(): ConstructorParameters<typeof LocalShareRecords>[0] {
    return {
      localPartition: (key, t, initialOffset) => this.partitionOf(key, t.topic, t.partition, t.topicId, initialOffset),
      existingLocalPartition: (key, t) => this.existingPartitionOf(key, t.topic, t.partition, t.topicId),
      localPartitions: (key) => this.partitionsOf(key),
      releaseLocal: (key, memberId) => this.releaseLocal(key, memberId),
      expireLocal: async (now) => {
        const work: Promise<void>[] = [];
        for (const p of this.partitions.values()) if (p.slot.sp.expireLocks(now)) work.push(p.slot.persist());
        await Promise.all(work);
      },
      loadLocal: async () => undefined,
      drainLocal: async () => undefined,
      resetLocal: async (key, t, startOffset) => {
        const slot = this.slot(key, t.topic, t.partition, t.topicId, new SharePartition(this.partitionConfig(key), startOffset));
        this.partitions.set(this.partitionKey(key, t.topic, t.partition), { slot, topicId: t.topicId, tenant: key.tenant, groupId: key.groupId });
        await slot.persist();
      },
      dropLocal: (key, topic) => this.dropLocal(key, topic),
    };
  }

  /** Forget the group's own share-partitions of a topic (null: of every topic), durably; whether there were any. */
  private async dropLocal(key: GroupKey, topic: string | null): Promise<boolean> {
    const gone: Array<Promise<void>> = [];
    for (const [k, p] of [...this.partitions]) {
      if (p.tenant !== key.tenant || p.groupId !== key.groupId) continue;
      const parts = k.split('\u0000');
      if (topic !== null && parts[2] !== topic) continue;
      this.partitions.delete(k);
      gone.push(this.store.deletePartition(key, parts[2]!, Number(parts[3])));
    }
    await Promise.all(gone);
    return gone.length > 0;
  }

  async start(): Promise<void> {
    const loaded = await this.store.load((key, err) => this.log.error({ key, err }, 'unreadable share-group state entry skipped'));
    for (const h of loaded.homes) {
      this.homes.set(groupMapKey(h.key), h.home);
      this.homesWritten.add(groupMapKey(h.key));
    }
    for (const c of loaded.configs) this.groupConfigs.set(groupMapKey(c.key), c.configs);
    for (const p of loaded.partitions) {
      const sp = SharePartition.restore(this.partitionConfig(p.key), p.snapshot);
      this.partitions.set(this.partitionKey(p.key, p.topic, p.partition), { slot: this.slot(p.key, p.topic, p.partition, p.topicId, sp), topicId: p.topicId, tenant: p.key.tenant, groupId: p.key.groupId });
    }
    await this.records.start();
    this.active = true;
    this.scheduleSweep();
    this.log.info({ homes: this.homes.size, partitions: this.partitions.size }, 'share-group coordinator started');
  }

  async shutdown(): Promise<void> {
    this.active = false;
    this.timer?.cancel();
    this.timer = null;
    await this.records.close();
    await this.store.drain();
  }

  // ------------------------------------------------------------------ homes and groups

  /** The group's home namespace, or null (no such share group yet). */
  groupHome(key: GroupKey): string | null {
    return this.homes.get(groupMapKey(key)) ?? null;
  }

  /** The home rule (coordinator/home.ts); records the home of a new group. Error code or null. */
  private checkHome(ref: GroupRef, create: boolean): number | null {
    const mk = groupMapKey(ref);
    switch (verifyHome(this.homes.get(mk) ?? null, ref.namespace)) {
      case 'home':
        return null;
      case 'unset':
        if (!create) return ErrorCode.GROUP_ID_NOT_FOUND;
        this.homes.set(mk, ref.namespace);
        ref.onHome?.('created');
        return null;
      case 'moved':
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** True when `memberId` is a member of the share group (checked in its home). */
  member(ref: GroupRef, memberId: string): boolean {
    if (this.checkHome(ref, false) !== null) return false;
    return this.groups.get(groupMapKey(ref))?.members.has(memberId) === true;
  }

  /**
   * Whether `memberId` may open a share session here: a member of the group this node
   * coordinates; with a records side served by any node, also any member id of a share group
   * (with a home) whose membership another node keeps (it is not known here: the records a
   * member id acquires there are bounded by the acquisition locks).
   */
  mayOpenSession(ref: GroupRef, memberId: string): boolean {
    if (this.member(ref, memberId)) return true;
    if (!this.records.anyNode || this.checkHome(ref, false) !== null) return false;
    // members are kept by the coordinating node: none here (a former coordinator's members time out)
    return (this.groups.get(groupMapKey(ref))?.members.size ?? 0) === 0;
  }

  async heartbeat(ref: GroupRef, p: HeartbeatParams): Promise<HeartbeatResult> {
    const now = this.clock.now();
    const fail = (errorCode: number, errorMessage: string | null = null): HeartbeatResult => ({ errorCode, errorMessage, memberId: null, memberEpoch: 0, heartbeatIntervalMs: 0, assignment: null });
    if (!this.active) return fail(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    const mk = groupMapKey(ref);
    const existing = this.groups.get(mk);
    if (p.memberEpoch === FINAL_EPOCH) {
      const home = this.checkHome(ref, false);
      if (home !== null) return fail(home === ErrorCode.GROUP_ID_NOT_FOUND ? ErrorCode.UNKNOWN_MEMBER_ID : home);
      const m = existing?.members.get(p.memberId);
      if (!existing || !m) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `member ${p.memberId} is not in share group ${ref.groupId}`);
      await this.removeMember(existing, m, 'left');
      return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: p.memberId, memberEpoch: FINAL_EPOCH, heartbeatIntervalMs: 0, assignment: null };
    }
    const homeError = this.checkHome(ref, p.memberEpoch === 0);
    if (homeError !== null) return fail(homeError === ErrorCode.GROUP_ID_NOT_FOUND ? ErrorCode.UNKNOWN_MEMBER_ID : homeError);
    if (!this.homesWritten.has(mk)) {
      // the home is durable before anything else of the group (a failed write: the heartbeat fails, the next one writes it)
      await this.store.putHome(ref, ref.namespace);
      this.homesWritten.add(mk);
    }
    let g = existing;
    if (!g) {
      g = { key: { tenant: ref.tenant, groupId: ref.groupId }, home: ref.namespace, groupEpoch: 0, members: new Map() };
      this.groups.set(mk, g);
    }
    let m = g.members.get(p.memberId);
    if (p.memberEpoch === 0) {
      if (!m && g.members.size >= this.config.maxSize) return fail(ErrorCode.GROUP_MAX_SIZE_REACHED, `share group ${ref.groupId} has reached its maximum size ${this.config.maxSize}`);
      if (!m) {
        m = { memberId: p.memberId, memberEpoch: 0, clientId: p.clientId, clientHost: p.clientHost, rackId: p.rackId, subscribed: [], topics: [], assignmentKey: '', lastSeen: now };
        g.members.set(p.memberId, m);
        this.log.info({ group: ref.groupId, tenant: ref.tenant, member: p.memberId, clientId: p.clientId }, 'share group member joined');
      }
      m.assignmentKey = '\u0000'; // a (re)joining member is always sent its assignment
    } else {
      if (!m) return fail(ErrorCode.UNKNOWN_MEMBER_ID, `member ${p.memberId} is not in share group ${ref.groupId}`);
      if (p.memberEpoch !== m.memberEpoch) return fail(ErrorCode.FENCED_MEMBER_EPOCH, `member epoch ${p.memberEpoch} is not the current ${m.memberEpoch}`);
    }
    m.lastSeen = now;
    if (p.rackId !== null) m.rackId = p.rackId;
    if (p.subscribedNames !== null) m.subscribed = [...p.subscribedNames];
    m.topics = p.topics;
    const key = assignmentKey(m.topics);
    let assignment: ShareTopic[] | null = null;
    if (key !== m.assignmentKey) {
      // stored before the member is sent it (a failed write: the heartbeat fails, the next one assigns)
      await this.noteTopics(ref, m.topics);
      g.groupEpoch++;
      m.memberEpoch = g.groupEpoch;
      m.assignmentKey = key;
      assignment = m.topics;
    }
    return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: m.memberId, memberEpoch: m.memberEpoch, heartbeatIntervalMs: this.config.heartbeatIntervalMs, assignment };
  }

  /** The topics each group's members were assigned (as stored: what DeleteGroups removes). */
  private readonly topicsAssigned = new Map<string, Map<string, number>>();

  /** Remember (durably, once per new topic or partition count) the topics a member is assigned. */
  private async noteTopics(key: GroupKey, topics: ShareTopic[]): Promise<void> {
    if (topics.length === 0) return;
    const mk = groupMapKey(key);
    let known = this.topicsAssigned.get(mk);
    if (!known) {
      known = await this.store.getTopics(key);
      this.topicsAssigned.set(mk, known);
    }
    let changed = false;
    for (const t of topics) {
      if ((known.get(t.name) ?? -1) >= t.partitions) continue;
      known.set(t.name, t.partitions);
      changed = true;
    }
    if (changed) await this.store.putTopics(key, known);
  }

  /** Groups whose home is known to be stored. */
  private readonly homesWritten = new Set<string>();

  /** The subscription a member last sent (what its heartbeats name when they send none). */
  subscriptionOf(key: GroupKey, memberId: string): string[] {
    return this.groups.get(groupMapKey(key))?.members.get(memberId)?.subscribed ?? [];
  }

  private async removeMember(g: ShareGroup, m: ShareMember, why: string): Promise<void> {
    g.members.delete(m.memberId);
    g.groupEpoch++;
    this.sessions.delete(this.sessionKey(g.key, m.memberId));
    this.log.info({ group: g.key.groupId, tenant: g.key.tenant, member: m.memberId, why }, 'share group member removed; its acquired records are released');
    await this.releaseMember(g.key, m.memberId);
  }

  private releaseMember(key: GroupKey, memberId: string): Promise<void> {
    return this.records.releaseMember(key, memberId);
  }

  private async releaseLocal(key: GroupKey, memberId: string): Promise<void> {
    const writes: Promise<void>[] = [];
    for (const p of this.partitions.values()) {
      if (p.tenant !== key.tenant || p.groupId !== key.groupId) continue;
      if (p.slot.sp.releaseMember(memberId) > 0) writes.push(p.slot.persist());
    }
    await Promise.all(writes);
  }

  private scheduleSweep(): void {
    if (!this.active) return;
    this.timer = this.clock.schedule(Math.min(1000, Math.max(10, this.config.sessionTimeoutMs >> 2)), () => {
      this.sweep().catch((err: unknown) => this.log.warn({ err }, 'share group sweep failed'));
      this.scheduleSweep();
    });
  }

  /** Remove members whose session timed out; expire acquisition locks (persisting what changed). */
  async sweep(): Promise<void> {
    const now = this.clock.now();
    const work: Promise<void>[] = [];
    for (const g of this.groups.values()) {
      for (const m of [...g.members.values()]) {
        if (now - m.lastSeen > this.config.sessionTimeoutMs) work.push(this.removeMember(g, m, 'session timed out'));
      }
    }
    work.push(this.records.sweep(now));
    await Promise.all(work);
  }

  describe(ref: GroupRef): { errorCode: number; group: ShareGroup | null } {
    const homeError = this.checkHome(ref, false);
    if (homeError !== null) return { errorCode: homeError, group: null };
    const g = this.groups.get(groupMapKey(ref));
    // a group with a home and no members since the restart is Empty
    return { errorCode: ErrorCode.NONE, group: g ?? { key: { tenant: ref.tenant, groupId: ref.groupId }, home: ref.namespace, groupEpoch: 0, members: new Map() } };
  }

  /**
   * The share groups of a tenant for ListGroups (states and types filters as Kafka
   * applies them, case-insensitive): groups with a home, Empty or Stable.
   */
  listGroups(tenant: string, states: string[], types: string[]): Array<{ groupId: string; home: string; state: string }> {
    const stateFilter = new Set(states.map((x) => x.toLowerCase()));
    if (types.length > 0 && !types.some((t) => t.toLowerCase() === 'share')) return [];
    const out: Array<{ groupId: string; home: string; state: string }> = [];
    for (const [mk, home] of this.homes) {
      const sep = mk.indexOf('\u0000');
      if (mk.slice(0, sep) !== tenant) continue;
      const groupId = mk.slice(sep + 1);
      const g = this.groups.get(mk);
      const state = g && g.members.size > 0 ? 'Stable' : 'Empty';
      if (stateFilter.size > 0 && !stateFilter.has(state.toLowerCase())) continue;
      out.push({ groupId, home, state });
    }
    return out;
  }

  /** Groups and their members, for metrics (scrape time). */
  groupsForMetrics(): Array<{ tenant: string; groupId: string; members: number }> {
    const out: Array<{ tenant: string; groupId: string; members: number }> = [];
    for (const mk of this.homes.keys()) {
      const sep = mk.indexOf('\u0000');
      out.push({ tenant: mk.slice(0, sep), groupId: mk.slice(sep + 1), members: this.groups.get(mk)?.members.size ?? 0 });
    }
    return out;
  }

  /** Share sessions open on this node (metrics). */
  get sessionCount(): number {
    return this.sessions.size;
  }

  // ------------------------------------------------------------------ group configs

  /** The config object a group's share-partitions share. */
  private partitionConfig(key: GroupKey): SharePartitionConfig {
    const mk = groupMapKey(key);
    let c = this.partitionConfigs.get(mk);
    if (!c) {
      const g = this.groupConfigs.get(mk);
      c = { lockDurationMs: g?.lockDurationMs ?? this.config.lockDurationMs, deliveryCountLimit: this.config.deliveryCountLimit, maxInFlight: this.config.maxInFlight };
      this.partitionConfigs.set(mk, c);
    }
    return c;
  }

  /** The acquisition lock duration of the group (its config, or the gateway's). */
  lockDuration(ref: GroupRef): number {
    return this.groupConfigs.get(groupMapKey(ref))?.lockDurationMs ?? this.config.lockDurationMs;
  }

  /** The group's own configs (DescribeConfigs). Null: no such share group. */
  groupConfigsOf(ref: GroupRef): ShareGroupConfigs | null {
    if (this.checkHome(ref, false) !== null) return null;
    return { ...this.groupConfigs.get(groupMapKey(ref)) };
  }

  /**
   * IncrementalAlterConfigs on the group (SET, value null for DELETE): validated first, all or
   * nothing; a group without a home gets the namespace checked as its home (as its first heartbeat
   * would). Durable before it resolves; applies to the group's share-partitions at once.
   */
  async alterGroupConfigs(ref: GroupRef, changes: Array<{ name: string; value: string | null }>, validateOnly: boolean): Promise<void> {
    const mk = groupMapKey(ref);
    const next: ShareGroupConfigs = { ...this.groupConfigs.get(mk) };
    for (const c of changes) Object.assign(next, parseShareGroupConfig(c.name, c.value));
    if (validateOnly) return;
    const home = this.checkHome(ref, true);
    if (home !== null) throw new KafkaError(ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the group home moved; retry');
    if (!this.homesWritten.has(mk)) {
      await this.store.putHome(ref, ref.namespace);
      this.homesWritten.add(mk);
    }
    for (const k of Object.keys(next) as Array<keyof ShareGroupConfigs>) if (next[k] === undefined) delete next[k];
    await this.store.putConfigs(ref, next);
    this.groupConfigs.set(mk, next);
    const pc = this.partitionConfigs.get(mk);
    if (pc) pc.lockDurationMs = next.lockDurationMs ?? this.config.lockDurationMs;
    this.log.info({ group: ref.groupId, tenant: ref.tenant, configs: next }, 'share group configs changed');
  }

  // ------------------------------------------------------------------ share sessions

  private sessionKey(key: GroupKey, memberId: string): string {
    return `${key.tenant}\u0000${key.groupId}\u0000${memberId}`;
  }

  /** The topic ids of a member's share session (what an incremental ShareFetch reads besides its own). */
  sessionTopicIds(key: GroupKey, memberId: string): Buffer[] {
    const s = this.sessions.get(this.sessionKey(key, memberId));
    if (!s) return [];
    const seen = new Map<string, Buffer>();
    for (const p of s.partitions.values()) seen.set(p.topicId.toString('hex'), p.topicId);
    return [...seen.values()];
  }

  /**
   * Kafka's ShareSessionCache rules for a ShareFetch (`fetch`) or
   * ShareAcknowledge: epoch 0 opens a new session (acknowledgements not
   * allowed), -1 names the existing session to close, otherwise the session's
   * current epoch, which then moves on. Returns the session, or an error code.
   */
  openOrUpdateSession(ref: GroupRef, memberId: string, epoch: number, kind: 'fetch' | 'acknowledge', hasAcks: boolean, add: Array<{ topicId: Buffer; partition: number }>, forget: Array<{ topicId: Buffer; partition: number }>): ShareSession | number {
    const key = this.sessionKey(ref, memberId);
    const existing = this.sessions.get(key);
    if (epoch === 0) {
      if (kind === 'acknowledge') return ErrorCode.INVALID_SHARE_SESSION_EPOCH;
      if (hasAcks) return ErrorCode.INVALID_REQUEST;
      if (!existing && this.sessions.size >= this.config.maxSessions) return ErrorCode.SHARE_SESSION_LIMIT_REACHED;
      const s: ShareSession = { key, epoch: 1, partitions: new Map() };
      for (const p of add) s.partitions.set(`${p.topicId.toString('hex')}:${p.partition}`, p);
      this.sessions.set(key, s);
      return s;
    }
    if (!existing) return ErrorCode.SHARE_SESSION_NOT_FOUND;
    // the final epoch names the open session; the caller closes it after the acknowledgements
    if (epoch === FINAL_EPOCH) return existing;
    if (existing.epoch !== epoch) return ErrorCode.INVALID_SHARE_SESSION_EPOCH;
    for (const p of add) existing.partitions.set(`${p.topicId.toString('hex')}:${p.partition}`, p);
    for (const p of forget) existing.partitions.delete(`${p.topicId.toString('hex')}:${p.partition}`);
    existing.epoch = nextEpoch(existing.epoch);
    return existing;
  }

  /** Close a member's share session (final epoch): its acquired records are released. */
  async closeSession(ref: GroupRef, memberId: string): Promise<void> {
    this.sessions.delete(this.sessionKey(ref, memberId));
    await this.releaseMember(ref, memberId);
  }

  // ------------------------------------------------------------------ share-partitions

  private partitionKey(key: GroupKey, topic: string, partition: number): string {
    return `${key.tenant}\u0000${key.groupId}\u0000${topic}\u0000${partition}`;
  }

  private slot(key: GroupKey, topic: string, partition: number, topicId: Buffer, sp: SharePartition): PartitionSlot {
    sp.counts = this.counts;
    let mirrored = -1n;
    return {
      sp,
      persist: async () => {
        await this.store.putPartition(key, topic, partition, topicId, () => sp.snapshot());
        const start = sp.startOffset;
        if (start !== mirrored && this.onStartMoved) {
          mirrored = start;
          this.onStartMoved(key.groupId, topic, partition, start);
        }
      },
    };
  }

  /**
   * The share-partition of the group for a topic partition; created at
   * `initialOffset()` (share.auto.offset.reset) when the group has none, or
   * has one of an earlier topic of the same name (another topic id).
   */
  partition(ref: GroupRef, topic: string, partition: number, topicId: Buffer, initialOffset: (reset: 'latest' | 'earliest') => Promise<bigint>): Promise<PartitionSlot> {
    return this.partitionOf(ref, topic, partition, topicId, initialOffset);
  }

  private async partitionOf(ref: GroupKey, topic: string, partition: number, topicId: Buffer, initialOffset: (reset: 'latest' | 'earliest') => Promise<bigint>): Promise<PartitionSlot> {
    const pk = this.partitionKey(ref, topic, partition);
    const found = this.partitions.get(pk);
    if (found && found.topicId.equals(topicId)) return found.slot;
    const start = await initialOffset(this.groupConfigs.get(groupMapKey(ref))?.autoOffsetReset ?? this.config.autoOffsetReset);
    const again = this.partitions.get(pk);
    if (again && again.topicId.equals(topicId)) return again.slot;
    const key = { tenant: ref.tenant, groupId: ref.groupId };
    const slot = this.slot(key, topic, partition, topicId, new SharePartition(this.partitionConfig(ref), start));
    this.partitions.set(pk, { slot, topicId, tenant: ref.tenant, groupId: ref.groupId });
    await slot.persist();
    return slot;
  }

  /** The group's share-partition of a topic partition, when it has one (acknowledgements never create one). */
  existingPartition(ref: GroupRef, topic: string, partition: number, topicId: Buffer): PartitionSlot | null {
    return this.existingPartitionOf(ref, topic, partition, topicId);
  }

  private existingPartitionOf(ref: GroupKey, topic: string, partition: number, topicId: Buffer): PartitionSlot | null {
    const found = this.partitions.get(this.partitionKey(ref, topic, partition));
    return found && found.topicId.equals(topicId) ? found.slot : null;
  }

  /** The gateway's own share-partitions of the group. */
  private partitionsOf(ref: GroupKey): Array<{ topic: string; partition: number; topicId: Buffer; sp: SharePartition }> {
    const out: Array<{ topic: string; partition: number; topicId: Buffer; sp: SharePartition }> = [];
    for (const [k, p] of this.partitions) {
      if (p.tenant !== ref.tenant || p.groupId !== ref.groupId) continue;
      const parts = k.split('\u0000');
      out.push({ topic: parts[2]!, partition: Number(parts[3]), topicId: p.topicId, sp: p.slot.sp });
    }
    return out;
  }

  // ------------------------------------------------------------------ records side (records.ts)

  /** Acquire records for a member (ShareFetch). */
  fetchRecords(ref: GroupRef, memberId: string, targets: ShareTarget[], limits: ShareFetchLimits, rc: ShareReadContext): Promise<FetchedPartition[]> {
    return this.records.fetch({ tenant: ref.tenant, groupId: ref.groupId }, memberId, targets, limits, rc);
  }

  /** Apply a member's acknowledgements, durable before it resolves (ShareFetch, ShareAcknowledge). */
  acknowledgeRecords(ref: GroupRef, memberId: string, items: Array<{ target: ShareTarget; batches: AckBatch[] }>, allowRenew: boolean): Promise<number[]> {
    return this.records.acknowledge({ tenant: ref.tenant, groupId: ref.groupId }, memberId, items, allowRenew);
  }

  /** The group's share-partitions' offsets (checked in its home; null: no such group): DescribeShareGroupOffsets. */
  async describeOffsets(ref: GroupRef, wanted: OffsetsWanted | null, rc: Pick<ShareReadContext, 'storage'>, listed: (topic: string) => Promise<boolean>): Promise<ShareOffsets[] | null> {
    if (this.checkHome(ref, false) !== null) return null;
    const assigned: OffsetsWanted = [];
    const seen = new Set<string>();
    for (const m of this.groups.get(groupMapKey(ref))?.members.values() ?? []) {
      for (const t of m.topics) {
        if (seen.has(t.name)) continue;
        seen.add(t.name);
        for (let partition = 0; partition < t.partitions; partition++) assigned.push({ topic: t.name, partition, topicId: t.topicId });
      }
    }
    return this.records.offsets({ tenant: ref.tenant, groupId: ref.groupId }, wanted, rc, listed, assigned);
  }

  // ------------------------------------------------------------------ administration (share-group-admin.ts, group-admin.ts)

  /** Kafka's rule for changing a share group's offsets or deleting it: no members (NON_EMPTY_GROUP). */
  private nonEmpty(ref: GroupKey): { errorCode: number; errorMessage: string } | null {
    const n = this.groups.get(groupMapKey(ref))?.members.size ?? 0;
    return n > 0 ? { errorCode: ErrorCode.NON_EMPTY_GROUP, errorMessage: `The group ${ref.groupId} has ${n} active member(s): share group offsets and the group can only be changed while it is empty.` } : null;
  }

  /**
   * AlterShareGroupOffsets: a group without a home gets the namespace checked as its home (Kafka
   * creates the share group); a group with members: NON_EMPTY_GROUP. Each share-partition starts
   * again at its offset, in-flight state dropped; durable before it resolves.
   */
  async alterOffsets(ref: GroupRef, items: Array<{ target: ShareTarget; startOffset: bigint }>, rc: Pick<ShareReadContext, 'storage'>): Promise<{ errorCode: number; errorMessage: string | null; codes: number[] }> {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null, codes: [] };
    const home = this.checkHome(ref, true);
    if (home !== null) return { errorCode: home, errorMessage: null, codes: [] };
    const busy = this.nonEmpty(ref);
    if (busy) return { ...busy, codes: [] };
    const mk = groupMapKey(ref);
    if (!this.homesWritten.has(mk)) {
      await this.store.putHome(ref, ref.namespace);
      this.homesWritten.add(mk);
    }
    const codes = await this.records.resetStart({ tenant: ref.tenant, groupId: ref.groupId }, items, rc);
    this.log.info({ group: ref.groupId, tenant: ref.tenant, partitions: items.map((i) => `${i.target.topic}-${i.target.partition}@${i.startOffset}`) }, 'share group offsets altered');
    return { errorCode: ErrorCode.NONE, errorMessage: null, codes };
  }

  /**
   * DeleteShareGroupOffsets: an unknown group GROUP_ID_NOT_FOUND, one with members NON_EMPTY_GROUP;
   * per topic NONE, or UNKNOWN_TOPIC_OR_PARTITION when the group has no state of it (Kafka: "There
   * is no offset information to delete.").
   */
  async deleteOffsets(ref: GroupRef, topics: Array<{ topic: string; partitions: number }>): Promise<{ errorCode: number; errorMessage: string | null; codes: number[] }> {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, errorMessage: null, codes: [] };
    const home = this.checkHome(ref, false);
    if (home !== null) return { errorCode: home, errorMessage: home === ErrorCode.GROUP_ID_NOT_FOUND ? `Share group ${ref.groupId} not found.` : null, codes: [] };
    const busy = this.nonEmpty(ref);
    if (busy) return { ...busy, codes: [] };
    const key = { tenant: ref.tenant, groupId: ref.groupId };
    const codes = await this.records.deleteOffsets(key, topics);
    // state the gateway's own share-partitions kept before an engine's records side took over
    for (let i = 0; i < topics.length; i++) if ((await this.dropLocal(key, topics[i]!.topic)) && codes[i] === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) codes[i] = ErrorCode.NONE;
    this.log.info({ group: ref.groupId, tenant: ref.tenant, topics: topics.map((t) => t.topic), codes }, 'share group offsets deleted');
    return { errorCode: ErrorCode.NONE, errorMessage: null, codes };
  }

  /**
   * DeleteGroups of a share group: unknown GROUP_ID_NOT_FOUND, with members NON_EMPTY_GROUP; else
   * its records side, share-partitions, configs and home are removed (durably: the home last).
   */
  async deleteGroup(ref: GroupRef): Promise<number> {
    if (!this.active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const home = this.checkHome(ref, false);
    if (home !== null) return home;
    if (this.nonEmpty(ref)) return ErrorCode.NON_EMPTY_GROUP;
    const key = { tenant: ref.tenant, groupId: ref.groupId };
    const mk = groupMapKey(ref);
    // the records side of every topic the group was assigned (as stored), and the gateway's own share-partitions
    const topics = await this.store.getTopics(key);
    for (const p of this.partitionsOf(key)) if ((topics.get(p.topic) ?? 0) <= p.partition) topics.set(p.topic, p.partition + 1);
    const codes = await this.records.deleteOffsets(key, [...topics].map(([topic, partitions]) => ({ topic, partitions })));
    const failed = codes.find((c) => c !== ErrorCode.NONE && c !== ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    if (failed !== undefined) return failed;
    await this.dropLocal(key, null);
    await this.store.deleteGroup(key);
    this.groups.delete(mk);
    this.homes.delete(mk);
    this.homesWritten.delete(mk);
    this.groupConfigs.delete(mk);
    this.partitionConfigs.delete(mk);
    this.topicsAssigned.delete(mk);
    this.log.info({ group: ref.groupId, tenant: ref.tenant, topics: [...topics.keys()] }, 'share group deleted');
    return ErrorCode.NONE;
  }
}
