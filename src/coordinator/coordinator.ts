/**
 * The group coordinator: Kafka's classic consumer group protocol (JoinGroup,
 * SyncGroup, Heartbeat, LeaveGroup) and committed offsets, following Kafka's
 * GroupCoordinator (core/src/main/scala/kafka/coordinator/group) closely:
 * same states, transitions, timeouts and error codes, so eager and
 * cooperative clients behave as they do against a Kafka broker.
 *
 * The consumer group protocol (KIP-848, ConsumerGroupHeartbeat) is served by
 * consumer-group-protocol.ts over the same groups: a group holds either
 * classic members or a `ConsumerGroup` (which may host classic members, as
 * Kafka 4.x mixed groups do); the classic APIs below route to it then.
 *
 * Handlers talk to the `GroupCoordinator` interface. `LocalGroupCoordinator`
 * serves the offsets partitions this node owns (per its CoordinatorLocator)
 * and answers NOT_COORDINATOR for the others; its durable state is in the
 * storage engine's key-value store (store.ts). Several gateway nodes share
 * the partitions through the locator's ownership (docs/consumer-groups.md).
 *
 * Everything here runs on the event loop without locks: a group's state only
 * changes synchronously; after each awaited write the code re-checks that the
 * group is still in the state the write was for (as Kafka's callbacks do).
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import { decodeVersioned } from '../protocol/codec/frame.js';
import { ConsumerProtocolSubscription } from '../protocol/generated/index.js';
import type { KeyValueStore } from '../storage/engine.js';
import { resolveTopic, type NamespaceRef } from '../topics/names.js';
import { systemClock, type Clock } from './clock.js';
import { ClassicGroup, Member, joinError, syncError, type CommittedOffset, type GroupState, type JoinResult, type Protocol, type SyncResult } from './group.js';
import type { CoordinatorLocator, GroupKey } from './locator.js';
import { GroupStore, groupMapKey, type StoredGroup } from './store.js';
import { verifyHome, type HomeAssignment } from './home.js';
import { parseFullName } from '../topics/names.js';
import { ConsumerGroupProtocol, consumerGroupState, decodeConsumerGroup, type ConsumerHeartbeatParams, type ConsumerHeartbeatResult, type DescribedConsumerGroup } from './consumer-group-protocol.js';
import type { TopicMetadata } from './consumer-group.js';
import type { OffsetsLog } from './offsets-log.js';

export type { GroupKey } from './locator.js';
export type { JoinResult, SyncResult, Protocol, GroupState } from './group.js';

/** Kafka's ConsumerProtocol.PROTOCOL_TYPE */
export const CONSUMER_PROTOCOL_TYPE = 'consumer';
/** JoinGroup requests of new members time out after this long (Kafka's NewMemberJoinTimeoutMs). */
export const NEW_MEMBER_JOIN_TIMEOUT_MS = 5 * 60 * 1000;

export interface CoordinatorConfig {
  groupInitialRebalanceDelayMs: number;
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  groupMaxSize: number;
  offsetsRetentionMs: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  newMemberJoinTimeoutMs?: number;
  /** Consumer group protocol (KIP-848): group.consumer.session.timeout.ms, heartbeat.interval.ms, max.size. */
  consumerSessionTimeoutMs?: number;
  consumerHeartbeatIntervalMs?: number;
  consumerMaxSize?: number;
}

/**
 * A group as an operation names it: its key, and the namespace (of key.tenant)
 * where the caller checked the principal's permission (home.ts). The
 * coordinator acts only when that namespace is the group's home; an operation
 * that creates the group, or adopts one stored without a home, records it as
 * the home and tells the caller through `onHome`.
 */
export interface GroupRef extends GroupKey {
  namespace: string;
  onHome?: (how: Exclude<HomeAssignment, 'inferred'>) => void;
}

/** Where a group's permissions are checked, as the coordinator of its partition knows it. */
export interface GroupHomeLookup {
  /** NONE, or why this node cannot tell (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE). */
  errorCode: number;
  /** The home namespace; null when the group does not exist or has no home yet. */
  home: string | null;
  exists: boolean;
}

export interface JoinGroupParams {
  key: GroupRef;
  memberId: string;
  groupInstanceId: string | null;
  /** JoinGroup v4+: a new member first gets MEMBER_ID_REQUIRED with its id. */
  requireKnownMemberId: boolean;
  /** JoinGroup v9+: a rejoining static leader may skip the assignment. */
  supportSkippingAssignment: boolean;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  protocolType: string;
  protocols: Protocol[];
  reason: string | null;
  /** The member's default namespace (resolves its subscription's topic names). */
  namespace: NamespaceRef;
}

export interface SyncGroupParams {
  key: GroupRef;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  protocolType: string | null;
  protocolName: string | null;
  assignments: Array<{ memberId: string; assignment: Buffer }>;
}

export interface HeartbeatParams {
  key: GroupRef;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

export interface MemberIdentity {
  memberId: string;
  groupInstanceId: string | null;
  reason: string | null;
}

export interface LeaveGroupResult {
  errorCode: number;
  members: Array<{ memberId: string; groupInstanceId: string | null; errorCode: number }>;
}

export interface OffsetToCommit {
  /** Resolved topic name. */
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
  /** OffsetCommit v1 per-partition timestamp; -1: now. */
  commitTimestamp: bigint;
}

export interface CommitOffsetsParams {
  key: GroupRef;
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  /** OffsetCommit v2-v4 retention; -1: the configured retention. */
  retentionTimeMs: bigint;
  offsets: OffsetToCommit[];
  apiVersion: number;
}

export interface TxnCommitOffsetsParams {
  key: GroupRef;
  producerId: bigint;
  producerEpoch: number;
  /** v3+: -1 / "" / null when the producer does not name its consumer's generation. */
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
  offsets: OffsetToCommit[];
}

export interface FetchedOffset {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
  metadata: string | null;
  errorCode: number;
}

export interface GroupMemberSummary {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  metadata: Buffer;
  assignment: Buffer;
}

export interface GroupSummary {
  errorCode: number;
  state: string;
  protocolType: string;
  protocolData: string;
  members: GroupMemberSummary[];
}

export interface GroupOverview {
  groupId: string;
  /** Home namespace (null: stored before homes existed and not inferable; checked in the session's namespace). */
  home: string | null;
  protocolType: string;
  state: string;
  groupType: 'classic' | 'consumer';
}

export interface GroupCoordinator {
  readonly locator: CoordinatorLocator;
  start(): Promise<void>;
  /** Where the group's permissions are checked (home.ts); answered by the group's coordinator only. */
  groupHome(key: GroupKey): GroupHomeLookup;
  /** Stop serving: parked JoinGroup/SyncGroup requests get NOT_COORDINATOR; waits for pending writes. */
  shutdown(): Promise<void>;
  joinGroup(params: JoinGroupParams): Promise<JoinResult>;
  syncGroup(params: SyncGroupParams): Promise<SyncResult>;
  heartbeat(params: HeartbeatParams): Promise<number>;
  leaveGroup(key: GroupRef, members: MemberIdentity[]): Promise<LeaveGroupResult>;
  /** One error code per entry of params.offsets, in order. */
  commitOffsets(params: CommitOffsetsParams): Promise<number[]>;
  /**
   * TxnOffsetCommit: offsets of an open transaction of `producerId`, durable but
   * invisible until the transaction commits (completeTxnOffsets). One code per offset.
   */
  commitTxnOffsets(params: TxnCommitOffsetsParams): Promise<number[]>;
  /**
   * The transaction of `producerId` ended (called by the transaction coordinator, not by
   * handlers): its pending offsets in these groups of `tenant` become committed offsets, or
   * are dropped. Throws when this node does not coordinate one of the groups (retried).
   */
  completeTxnOffsets(tenant: string, groupIds: string[], producerId: bigint, commit: boolean): Promise<void>;
  /** partitions null: every committed offset of the group. */
  fetchOffsets(key: GroupRef, partitions: Array<{ topic: string; partition: number }> | null, requireStable: boolean, member?: { memberId: string | null; memberEpoch: number }): Promise<{ errorCode: number; offsets: FetchedOffset[] }>;
  /** ConsumerGroupHeartbeat (KIP-848). */
  consumerGroupHeartbeat(key: GroupRef, params: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult>;
  /** The subscription stored for a member of a consumer group (null: none), for a heartbeat that does not resend it. */
  consumerSubscription(key: GroupRef, memberId: string): { names: string[]; regex: string | null } | null;
  /** ConsumerGroupDescribe (KIP-848). */
  consumerGroupDescribe(key: GroupRef): Promise<DescribedConsumerGroup>;
  deleteOffsets(key: GroupRef, partitions: Array<{ topic: string; partition: number }>): Promise<{ errorCode: number; partitions: number[] }>;
  describeGroup(key: GroupRef): Promise<GroupSummary>;
  listGroups(tenant: string, states: string[], types: string[]): Promise<{ errorCode: number; groups: GroupOverview[] }>;
  /** Error code per group id. */
  deleteGroups(groups: GroupRef[]): Promise<Map<string, number>>;
}

type GroupIdRule = 'non-empty' | 'any';

/** How often transaction ends recorded by other nodes are looked for (only for groups with open transactional offsets). */
const TXN_END_SWEEP_MS = 500;

const EMPTY = Buffer.alloc(0);

export class LocalGroupCoordinator implements GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>();
  private readonly store: GroupStore;
  private readonly loaded = new Set<number>();
  private readonly loading = new Set<number>();
  private active = false;
  private expirationTimer: { cancel(): void } | null = null;
  private expirationRun: Promise<void> | null = null;
  private txnEndTimer: { cancel(): void } | null = null;
  private txnEndRun: Promise<void> | null = null;
  private readonly newMemberJoinTimeoutMs: number;
  /** Told of every durable offset commit (the Pulsar engine mirrors them into subscriptions). */
  onOffsetCommitted: ((groupId: string, topic: string, partition: number, offset: bigint) => void) | null = null;
  /**
   * The readable __consumer_offsets (offsets-log.ts): told of every durable offset commit or
   * deletion and classic group metadata write or deletion, after the write (it only queues).
   */
  offsetsLog: OffsetsLog | null = null;
  /** The group epoch last written to the offsets log, per consumer group (records only when it moves). */
  private readonly loggedEpochs = new WeakMap<object, number>();
  /** Told of every home inferred for a group stored before homes existed (the server audits it). */
  onHomeInferred: ((key: GroupKey, home: string) => void) | null = null;
  /** Generations started by this node since it started (classic rebalances completed their join phase, consumer-protocol target assignments); metrics. */
  rebalancesCompleted = 0;
  /**
   * Topic metadata for the consumer protocol's classic members and online upgrades (the gateway sets it
   * to its storage engine's describeTopic); without it their topics count as not existing.
   */
  topicMetadataSource: ((topic: string) => Promise<TopicMetadata | null>) | null = null;
  /** The consumer group protocol (KIP-848) over the same groups, homes and offsets. */
  readonly consumerProtocol: ConsumerGroupProtocol;

  constructor(
    readonly locator: CoordinatorLocator,
    kv: KeyValueStore,
    private readonly config: CoordinatorConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.store = new GroupStore(kv, locator.numPartitions);
    this.newMemberJoinTimeoutMs = config.newMemberJoinTimeoutMs ?? NEW_MEMBER_JOIN_TIMEOUT_MS;
    this.consumerProtocol = new ConsumerGroupProtocol(
      {
        log,
        clock,
        storeConsumerGroup: (g, value) => this.storeConsumerGroup(g, value),
        topicMetadata: (topic) => this.topicMetadataSource?.(topic) ?? Promise.resolve(null),
        isCurrent: (g) => this.groups.get(groupMapKey(g.key)) === g && !g.is('Dead'),
        downgrade: (g) => this.downgradeConsumerGroup(g),
        countRebalance: () => void this.rebalancesCompleted++,
      },
      {
        sessionTimeoutMs: config.consumerSessionTimeoutMs ?? 45_000,
        heartbeatIntervalMs: config.consumerHeartbeatIntervalMs ?? 5_000,
        maxSize: config.consumerMaxSize ?? config.groupMaxSize,
      },
    );
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    const moved = await this.store.migratePartitionCount((k) => this.locator.partitionFor(k));
    if (moved > 0) this.log.warn({ moved, partitions: this.locator.numPartitions }, 'offsetsTopicNumPartitions changed: moved group entries to their new partitions');
    this.active = true;
    await Promise.all(this.locator.ownedPartitions().map((p) => this.loadPartition(p)));
    this.scheduleExpiration();
    this.scheduleTxnEndSweep();
    this.log.info({ partitions: this.loaded.size, groups: this.groups.size }, 'group coordinator started');
  }

  async shutdown(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.expirationTimer?.cancel();
    this.expirationTimer = null;
    this.txnEndTimer?.cancel();
    this.txnEndTimer = null;
    await this.expirationRun;
    await this.txnEndRun;
    const writes: Promise<unknown>[] = [];
    for (const g of this.groups.values()) writes.push(...g.inFlight);
    for (const p of [...this.loaded]) this.unloadPartition(p);
    await Promise.allSettled(writes);
    this.log.info('group coordinator stopped');
  }

  /** Become the coordinator of an offsets partition: read its groups and offsets (Kafka onElection). */
  async loadPartition(partition: number): Promise<void> {
    if (this.loaded.has(partition) || this.loading.has(partition)) return;
    this.loading.add(partition);
    try {
      const data = await this.store.loadPartition(partition, (key, err) => this.log.error({ partition, key, err }, 'unreadable group coordinator entry skipped'));
      const now = this.clock.now();
      const ended: Array<{ g: ClassicGroup | null; key: GroupKey; producerId: bigint; commit: boolean }> = [];
      for (const { key, home, group: stored, consumer, offsets, txnOffsets, txnEnds } of data.groups.values()) {
        for (const [producerId, commit] of txnEnds) ended.push({ g: null, key, producerId, commit });
        const g = new ClassicGroup(key, stored?.stateTimestamp ?? now);
        if (stored) this.restoreGroup(g, stored);
        if (consumer && !stored) {
          try {
            g.consumer = decodeConsumerGroup(consumer);
            g.protocolType = CONSUMER_PROTOCOL_TYPE;
          } catch (err) {
            this.log.error({ partition, group: key.groupId, err }, 'unreadable consumer group entry skipped');
          }
        }
        for (const o of offsets) g.setOffset(o.topic, o.partition, o.value);
        for (const o of txnOffsets) pendingTxnOffset(g, o.producerId, o.topic, o.partition).set(o.value);
        if (!stored && !g.consumer && offsets.length === 0 && txnOffsets.length === 0) {
          // A home left behind by a group whose other entries are gone: drop it.
          if (home !== null) void this.store.putHome(partition, key, null).catch((err: unknown) => this.log.warn({ err, group: key.groupId }, 'failed to delete an orphaned group home'));
          continue;
        }
        g.home = home;
        g.homeStored = home !== null;
        this.groups.set(groupMapKey(key), g);
        for (const e of ended) if (e.key === key) e.g = g;
        if (home === null) this.inferHome(g);
        this.onGroupLoaded(g);
      }
      this.loaded.add(partition);
      // transactions that ended on another node's transaction coordinator meanwhile
      for (const e of ended) {
        if (e.g) await this.applyTxnEnd(e.g, e.producerId, e.commit).catch((err: unknown) => this.log.warn({ err, group: e.key.groupId }, 'applying a transaction end failed (retried by the sweep)'));
        else await this.store.putTxnEnd(partition, e.key, e.producerId, null).catch(() => undefined);
      }
    } finally {
      this.loading.delete(partition);
    }
  }

  /**
   * A group stored before homes existed: its home is the one namespace its
   * stored members joined from, else the one namespace of the topics it has
   * offsets for. Several (or none): no home; the first JoinGroup or
   * OffsetCommit allowed in its session's namespace adopts that one.
   */
  private inferHome(g: ClassicGroup): void {
    const namespaces = new Set<string>();
    for (const m of g.members.values()) if (m.namespace.tenant === g.key.tenant) namespaces.add(m.namespace.namespace);
    if (g.members.size === 0) {
      for (const topic of g.offsets.keys()) {
        try {
          const n = parseFullName(topic);
          if (n.tenant === g.key.tenant) namespaces.add(n.namespace);
          else namespaces.add('\u0000other tenant');
        } catch {
          namespaces.add('\u0000unparsable');
        }
      }
    }
    if (namespaces.size !== 1) {
      this.log.warn({ group: g.groupId, tenant: g.key.tenant, candidates: [...namespaces].filter((n) => !n.startsWith('\u0000')) }, 'group stored without a home namespace, and none can be inferred: the first JoinGroup or OffsetCommit allowed in its session namespace adopts that namespace');
      return;
    }
    const home = [...namespaces][0]!;
    if (home.startsWith('\u0000')) return;
    g.home = home;
    this.log.info({ group: g.groupId, tenant: g.key.tenant, home }, 'group stored without a home namespace: home inferred from its stored members/offsets');
    this.onHomeInferred?.(g.key, home);
    this.persistHomeNow(g);
  }

  /** Stop coordinating a partition (Kafka onResignation): its groups become Dead here. */
  unloadPartition(partition: number): void {
    this.loaded.delete(partition);
    for (const [k, g] of this.groups) {
      if (this.locator.partitionFor(g.key) !== partition) continue;
      this.groups.delete(k);
      this.onGroupUnloaded(g);
    }
  }

  private restoreGroup(g: ClassicGroup, s: StoredGroup): void {
    g.state = s.members.length > 0 ? 'Stable' : 'Empty';
    g.stateTimestamp = s.stateTimestamp;
    g.protocolType = s.protocolType;
    g.protocolName = s.protocolName;
    g.generationId = s.generationId;
    for (const m of s.members) {
      const member = new Member(
        m.memberId,
        m.groupInstanceId,
        m.clientId,
        m.clientHost,
        m.rebalanceTimeoutMs,
        m.sessionTimeoutMs,
        s.protocolType ?? '',
        s.protocolName !== null ? [{ name: s.protocolName, metadata: m.metadata }] : [],
        m.namespace,
      );
      member.assignment = m.assignment;
      g.members.set(member.memberId, member);
      if (member.groupInstanceId !== null) g.staticMembers.set(member.groupInstanceId, member.memberId);
    }
    g.leaderId = s.leaderId !== null && g.members.has(s.leaderId) ? s.leaderId : (g.members.keys().next().value ?? null);
    g.subscribedTopics = this.computeSubscribedTopics(g);
  }

  private onGroupLoaded(g: ClassicGroup): void {
    this.consumerProtocol.onLoaded(g);
    if (g.size > this.config.groupMaxSize) this.prepareRebalance(g, `freshly loaded group is over capacity (${this.config.groupMaxSize})`);
    for (const m of g.members.values()) this.scheduleHeartbeatExpiration(g, m, m.sessionTimeoutMs);
  }

  private onGroupUnloaded(g: ClassicGroup): void {
    g.state = 'Dead';
    // Parked JoinGroup/SyncGroup requests: the members go and find the new coordinator.
    for (const m of [...g.members.values()]) {
      g.maybeInvokeJoinCallback(m, joinError(m.memberId, ErrorCode.NOT_COORDINATOR));
      g.maybeInvokeSyncCallback(m, syncError(ErrorCode.NOT_COORDINATOR));
    }
    this.cancelTimers(g);
  }

  private cancelTimers(g: ClassicGroup): void {
    if (g.consumer) this.consumerProtocol.cancelTimers(g.consumer);
    g.joinTimer?.cancel();
    g.joinTimer = null;
    g.syncTimer?.cancel();
    g.syncTimer = null;
    for (const m of g.members.values()) {
      m.heartbeatTimer?.cancel();
      m.heartbeatTimer = null;
    }
    for (const t of g.pendingMembers.values()) t.cancel();
    g.pendingMembers.clear();
  }

  // ------------------------------------------------------------------ validation

  private validateGroupStatus(key: GroupKey, rule: GroupIdRule): number | null {
    if (rule === 'non-empty' && key.groupId.length === 0) return ErrorCode.INVALID_GROUP_ID;
    if (!this.active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const partition = this.locator.partitionFor(key);
    if (this.loading.has(partition)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    const owner = this.locator.ownerOf(partition);
    if (!owner?.local || !this.loaded.has(partition)) return ErrorCode.NOT_COORDINATOR;
    return null;
  }

  private getGroup(key: GroupKey): ClassicGroup | undefined {
    return this.groups.get(groupMapKey(key));
  }

  /** A new group: its home is where the caller checked the permission to create it. */
  private addGroup(ref: GroupRef): ClassicGroup {
    const key = { tenant: ref.tenant, groupId: ref.groupId };
    const g = new ClassicGroup(key, this.clock.now());
    g.home = ref.namespace;
    this.groups.set(groupMapKey(key), g);
    this.log.debug({ group: g.groupId, tenant: g.key.tenant, home: g.home }, 'group created; home namespace recorded');
    ref.onHome?.('created');
    return g;
  }

  groupHome(key: GroupKey): GroupHomeLookup {
    const status = this.validateGroupStatus(key, 'any');
    if (status !== null) return { errorCode: status, home: null, exists: false };
    const g = this.getGroup(key);
    return { errorCode: ErrorCode.NONE, home: g?.home ?? null, exists: g !== undefined && !g.is('Dead') };
  }

  /**
   * The home rule (home.ts) for an operation on `g` whose permission was
   * checked in ref.namespace. `adopt`: a group without a home takes that
   * namespace (the operations that may create a group). Returns an error code,
   * or null to go on.
   */
  private checkHome(g: ClassicGroup | undefined, ref: GroupRef, adopt: boolean): number | null {
    if (!g) return null;
    switch (verifyHome(g.home, ref.namespace)) {
      case 'home':
        return null;
      case 'unset':
        if (adopt) {
          g.home = ref.namespace;
          g.homeStored = false;
          this.log.info({ group: g.groupId, tenant: g.key.tenant, home: g.home }, 'group stored without a home namespace adopted by the namespace that used it first');
          ref.onHome?.('adopted');
          this.persistHomeNow(g);
        }
        return null;
      case 'moved':
        // The caller checked another namespace: the home was set after its lookup. Retriable.
        this.log.info({ group: g.groupId, tenant: g.key.tenant, home: g.home, checkedIn: ref.namespace }, 'group operation checked outside the group home; refused (the client retries)');
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  /** The group's home entry, written once and before any other entry of the group. */
  private persistHome(g: ClassicGroup): Promise<void> {
    if (g.home === null || g.homeStored) return Promise.resolve();
    if (g.homeWrite) return g.homeWrite;
    const home = g.home;
    const write = this.store.putHome(this.locator.partitionFor(g.key), g.key, home).then(
      () => {
        g.homeWrite = null;
        if (g.home === home) g.homeStored = true;
      },
      (err: unknown) => {
        g.homeWrite = null;
        throw err;
      },
    );
    g.homeWrite = write;
    return write;
  }

  private persistHomeNow(g: ClassicGroup): void {
    g.track(this.persistHome(g)).catch((err: unknown) => this.log.warn({ err, group: g.groupId, home: g.home }, 'failed to write the group home (written again with the group next time)'));
  }

  /** groupInstanceId (when given) maps to memberId, and memberId is a member. */
  private validateCurrentMember(g: ClassicGroup, memberId: string, groupInstanceId: string | null, operation: string): number | null {
    if (groupInstanceId !== null) {
      const current = g.currentStaticMemberId(groupInstanceId);
      if (current === undefined) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (current !== memberId) {
        this.log.info({ group: g.groupId, memberId, groupInstanceId, current, operation }, 'static member fenced by a newer member id');
        return ErrorCode.FENCED_INSTANCE_ID;
      }
    }
    return g.has(memberId) ? null : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private acceptJoiningMember(g: ClassicGroup, memberId: string): boolean {
    switch (g.state) {
      case 'Empty':
      case 'Dead':
        return true;
      case 'PreparingRebalance':
        return (g.has(memberId) && g.get(memberId).isAwaitingJoin) || g.numMembersAwaitingJoin < this.config.groupMaxSize;
      case 'CompletingRebalance':
      case 'Stable':
        return g.has(memberId) || g.size < this.config.groupMaxSize;
    }
  }

  // ------------------------------------------------------------------ JoinGroup

  joinGroup(params: JoinGroupParams): Promise<JoinResult> {
    return new Promise((resolve) => this.handleJoinGroup(params, resolve));
  }

  private handleJoinGroup(p: JoinGroupParams, respond: (r: JoinResult) => void): void {
    const status = this.validateGroupStatus(p.key, 'non-empty');
    if (status !== null) return respond(joinError(p.memberId, status));
    if (p.sessionTimeoutMs < this.config.groupMinSessionTimeoutMs || p.sessionTimeoutMs > this.config.groupMaxSessionTimeoutMs) {
      return respond(joinError(p.memberId, ErrorCode.INVALID_SESSION_TIMEOUT));
    }
    const isUnknownMember = p.memberId === '';
    let g = this.getGroup(p.key);
    const homeError = this.checkHome(g, p.key, true);
    if (homeError !== null) return respond(joinError(p.memberId, homeError));
    if (!g) {
      // A group is created by a new member only; a known member id for an unknown group is rejected.
      if (!isUnknownMember) return respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
      g = this.addGroup(p.key);
    }
    if (g.consumer) {
      // A consumer group (KIP-848): classic members are not served inside one (Kafka answers this when
      // the group does not support the member's protocols); an empty one becomes a classic group again.
      // A consumer group (KIP-848) with members serves classic members itself (Kafka 4.x mixed groups);
      // an empty one becomes a classic group again.
      if (g.consumer.members.size > 0) {
        void this.consumerProtocol.classicJoin(g, p).then(respond, (err: unknown) => {
          this.log.error({ err, group: g!.groupId }, 'classic JoinGroup to a consumer group failed');
          respond(joinError(p.memberId, ErrorCode.UNKNOWN_SERVER_ERROR));
        });
        return;
      }
      this.downgradeEmptyConsumerGroup(g);
    }
    if (!this.acceptJoiningMember(g, p.memberId)) {
      // Only a member that has not rejoined a rebalance of a full group gets here: shed it.
      g.remove(p.memberId);
      respond(joinError('', ErrorCode.GROUP_MAX_SIZE_REACHED));
    } else if (isUnknownMember) {
      this.doNewMemberJoinGroup(g, p, respond);
    } else {
      this.doCurrentMemberJoinGroup(g, p, respond);
    }
    if (g.is('PreparingRebalance')) this.checkJoinCompletion(g);
  }

  private doNewMemberJoinGroup(g: ClassicGroup, p: JoinGroupParams, respond: (r: JoinResult) => void): void {
    if (g.is('Dead')) return respond(joinError('', ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!g.supportsProtocols(p.protocolType, p.protocols)) return respond(joinError('', ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    const newMemberId = `${p.groupInstanceId ?? p.clientId}-${randomUUID()}`;
    if (p.groupInstanceId !== null) {
      const oldMemberId = g.currentStaticMemberId(p.groupInstanceId);
      if (oldMemberId !== undefined) {
        this.log.info({ group: g.groupId, groupInstanceId: p.groupInstanceId, oldMemberId, newMemberId, state: g.state }, 'static member rejoins with a new member id');
        this.updateStaticMemberAndRebalance(g, oldMemberId, newMemberId, p, respond);
      } else {
        this.addMemberAndRebalance(g, p, newMemberId, respond);
      }
    } else if (p.requireKnownMemberId) {
      // Dynamic member: hand out its id and let it rejoin with it (KIP-394).
      g.pendingMembers.set(
        newMemberId,
        this.clock.schedule(p.sessionTimeoutMs, () => {
          if (g.is('Dead') || !g.pendingMembers.has(newMemberId)) return;
          this.log.info({ group: g.groupId, memberId: newMemberId }, 'pending member removed after session timeout');
          this.removePendingMemberAndUpdateGroup(g, newMemberId);
        }),
      );
      respond(joinError(newMemberId, ErrorCode.MEMBER_ID_REQUIRED));
    } else {
      this.addMemberAndRebalance(g, p, newMemberId, respond);
    }
  }

  private doCurrentMemberJoinGroup(g: ClassicGroup, p: JoinGroupParams, respond: (r: JoinResult) => void): void {
    if (g.is('Dead')) return respond(joinError(p.memberId, ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (!g.supportsProtocols(p.protocolType, p.protocols)) return respond(joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    if (g.pendingMembers.has(p.memberId)) {
      if (p.groupInstanceId !== null) return respond(joinError(p.memberId, ErrorCode.INVALID_REQUEST));
      return this.addMemberAndRebalance(g, p, p.memberId, respond);
    }
    const error = this.validateCurrentMember(g, p.memberId, p.groupInstanceId, 'join-group');
    if (error !== null) return respond(joinError(p.memberId, error));
    const member = g.get(p.memberId);
    switch (g.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(g, member, p, respond, `member ${member.memberId} joining group during PreparingRebalance`);
      case 'CompletingRebalance':
        if (member.matches(p.protocols)) {
          // The member lost its JoinGroup response: give it the current generation again.
          member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
          member.sessionTimeoutMs = p.sessionTimeoutMs;
          return respond(this.currentGenerationResult(g, member.memberId, g.isLeader(member.memberId)));
        }
        return this.updateMemberAndRebalance(g, member, p, respond, `member ${member.memberId} updated its metadata during CompletingRebalance`);
      case 'Stable':
        if (g.isLeader(member.memberId)) {
          // A leader's JoinGroup always rebalances (topic metadata changes the members cannot see).
          return this.updateMemberAndRebalance(g, member, p, respond, `leader ${member.memberId} rejoining group during Stable`);
        }
        if (!member.matches(p.protocols)) {
          return this.updateMemberAndRebalance(g, member, p, respond, `member ${member.memberId} updated its metadata during Stable`);
        }
        return respond(this.currentGenerationResult(g, member.memberId, false));
      case 'Empty':
      case 'Dead':
        this.log.warn({ group: g.groupId, memberId: p.memberId, state: g.state }, 'rejoining member in unexpected group state');
        return respond(joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID));
    }
  }

  private currentGenerationResult(g: ClassicGroup, memberId: string, withMembers: boolean): JoinResult {
    return {
      errorCode: ErrorCode.NONE,
      memberId,
      generationId: g.generationId,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      leaderId: g.leaderId ?? '',
      skipAssignment: false,
      members: withMembers ? g.currentMemberMetadata() : [],
    };
  }

  private addMemberAndRebalance(g: ClassicGroup, p: JoinGroupParams, memberId: string, respond: (r: JoinResult) => void): void {
    const member = new Member(memberId, p.groupInstanceId, p.clientId, p.clientHost, p.rebalanceTimeoutMs, p.sessionTimeoutMs, p.protocolType, p.protocols, p.namespace);
    member.isNew = true;
    // A member joining during the initial delay extends it.
    if (g.is('PreparingRebalance') && g.generationId === 0) g.newMemberAdded = true;
    g.add(member, respond);
    // New members cannot heartbeat yet; a JoinGroup of a member that went away expires after this.
    this.scheduleHeartbeatExpiration(g, member, this.newMemberJoinTimeoutMs);
    this.maybePrepareRebalance(g, `adding new member ${memberId} with group instance id ${p.groupInstanceId}; client reason: ${p.reason ?? 'not provided'}`);
  }

  private updateMemberAndRebalance(g: ClassicGroup, member: Member, p: JoinGroupParams, respond: (r: JoinResult) => void, reason: string): void {
    // A JoinGroup superseding one still parked (the client retried): answer the old one.
    g.maybeInvokeJoinCallback(member, joinError(member.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
    g.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, respond);
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    member.namespace = p.namespace;
    this.maybePrepareRebalance(g, `${reason}; client reason: ${p.reason ?? 'not provided'}`);
  }

  private updateStaticMemberAndRebalance(g: ClassicGroup, oldMemberId: string, newMemberId: string, p: JoinGroupParams, respond: (r: JoinResult) => void): void {
    const instanceId = p.groupInstanceId!;
    const currentLeader = g.leaderId;
    const member = g.replaceStaticMember(instanceId, oldMemberId, newMemberId, ErrorCode.FENCED_INSTANCE_ID);
    this.scheduleHeartbeatExpiration(g, member, member.sessionTimeoutMs);
    const old = { protocols: member.protocols, rebalanceTimeoutMs: member.rebalanceTimeoutMs, sessionTimeoutMs: member.sessionTimeoutMs };
    g.updateMember(member, p.protocols, p.rebalanceTimeoutMs, p.sessionTimeoutMs, respond);
    switch (g.state) {
      case 'Stable': {
        if (g.protocolName !== g.selectProtocol()) {
          this.maybePrepareRebalance(g, `static member ${newMemberId} (${instanceId}) rejoined with a protocol change; client reason: ${p.reason ?? 'not provided'}`);
          return;
        }
        // No rebalance: persist the new member id and hand back the current generation.
        const assignment = new Map([...g.members.values()].map((m) => [m.memberId, m.assignment]));
        const generation = g.generationId;
        void this.storeGroup(g, assignment).then((error) => {
          if (g.is('Dead')) return;
          if (error !== ErrorCode.NONE) {
            this.log.warn({ group: g.groupId, error: errorName(error) }, 'failed to persist the new member id of a static member; reverting');
            if (g.currentStaticMemberId(instanceId) === newMemberId) {
              g.updateMember(member, old.protocols, old.rebalanceTimeoutMs, old.sessionTimeoutMs, null);
              const reverted = g.replaceStaticMember(instanceId, newMemberId, oldMemberId, ErrorCode.FENCED_INSTANCE_ID);
              this.scheduleHeartbeatExpiration(g, reverted, reverted.sessionTimeoutMs);
            }
            respond({ ...this.currentGenerationResult(g, '', false), errorCode: error, leaderId: currentLeader ?? '' });
            return;
          }
          if (!g.is('Stable') || g.generationId !== generation) return; // a rebalance took over this JoinGroup
          if (p.supportSkippingAssignment) {
            const isLeader = g.isLeader(member.memberId);
            g.maybeInvokeJoinCallback(member, { ...this.currentGenerationResult(g, member.memberId, isLeader), skipAssignment: isLeader });
          } else {
            // Old clients: answer with the previous leader id so this member does not run a
            // (useless) assignment a Stable group would ignore.
            g.maybeInvokeJoinCallback(member, { ...this.currentGenerationResult(g, member.memberId, false), leaderId: currentLeader ?? '' });
          }
        });
        return;
      }
      case 'CompletingRebalance':
        // The leader may already have the old member id in its assignment: rebalance.
        this.prepareRebalance(g, `updating metadata for static member ${newMemberId} (${instanceId}); client reason: ${p.reason ?? 'not provided'}`);
        return;
      case 'PreparingRebalance':
        return;
      case 'Empty':
      case 'Dead':
        throw new Error(`group ${g.groupId} in state ${g.state} has static member ${instanceId}`);
    }
  }

  // ------------------------------------------------------------------ rebalance

  private maybePrepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.canRebalance()) this.prepareRebalance(g, reason);
  }

  private prepareRebalance(g: ClassicGroup, reason: string): void {
    if (g.is('CompletingRebalance')) this.resetAndPropagateAssignmentError(g, ErrorCode.REBALANCE_IN_PROGRESS);
    this.removeSyncExpiration(g);
    g.joinTimer?.cancel();
    const fromEmpty = g.is('Empty');
    g.transitionTo('PreparingRebalance', this.clock.now());
    this.log.info({ group: g.groupId, tenant: g.key.tenant, generation: g.generationId, reason }, 'preparing to rebalance group');
    if (fromEmpty) {
      const delay = this.config.groupInitialRebalanceDelayMs;
      const remaining = Math.max(g.rebalanceTimeoutMs() - delay, 0);
      this.scheduleInitialDelayedJoin(g, delay, remaining);
    } else {
      g.joinTimerInitial = false;
      g.joinTimer = this.clock.schedule(g.rebalanceTimeoutMs(), () => this.onJoinTimer(g));
      this.checkJoinCompletion(g);
    }
  }

  /** Kafka's InitialDelayedJoin: wait, and wait again while new members keep arriving, within the rebalance timeout. */
  private scheduleInitialDelayedJoin(g: ClassicGroup, delayMs: number, remainingMs: number): void {
    g.joinTimerInitial = true;
    g.joinTimer = this.clock.schedule(delayMs, () => {
      g.joinTimer = null;
      if (!g.is('PreparingRebalance')) return;
      if (g.newMemberAdded && remainingMs !== 0) {
        g.newMemberAdded = false;
        const delay = Math.min(this.config.groupInitialRebalanceDelayMs, remainingMs);
        this.scheduleInitialDelayedJoin(g, delay, Math.max(remainingMs - delayMs, 0));
      } else {
        this.onCompleteJoin(g);
      }
    });
  }

  private onJoinTimer(g: ClassicGroup): void {
    g.joinTimer = null;
    if (g.is('PreparingRebalance')) this.onCompleteJoin(g);
  }

  /** Complete PreparingRebalance early once every member has rejoined (not during the initial delay). */
  private checkJoinCompletion(g: ClassicGroup): void {
    if (!g.is('PreparingRebalance') || g.joinTimerInitial || g.joinTimer === null) return;
    if (g.hasAllMembersJoined()) {
      g.joinTimer.cancel();
      g.joinTimer = null;
      this.onCompleteJoin(g);
    }
  }

  private onCompleteJoin(g: ClassicGroup): void {
    g.joinTimer?.cancel();
    g.joinTimer = null;
    g.joinTimerInitial = false;
    const gone = g.notYetRejoinedMembers().filter((m) => !m.isStatic);
    if (gone.length > 0) {
      this.log.info({ group: g.groupId, members: gone.map((m) => m.memberId) }, 'removing dynamic members that did not rejoin');
      for (const m of gone) g.remove(m.memberId);
    }
    if (g.is('Dead')) return;
    if (!g.maybeElectNewJoinedLeader() && g.size > 0) {
      // Only static members that have not rejoined are left: wait for them (or their session timeouts).
      this.log.warn({ group: g.groupId }, 'group could not complete rebalance because no members rejoined');
      g.joinTimer = this.clock.schedule(g.rebalanceTimeoutMs(), () => this.onJoinTimer(g));
      this.checkJoinCompletion(g);
      return;
    }
    this.initNextGeneration(g);
    if (g.is('Empty')) {
      this.log.info({ group: g.groupId, tenant: g.key.tenant, generation: g.generationId }, 'group is now empty');
      void this.storeGroup(g, new Map()).then((error) => {
        if (error !== ErrorCode.NONE) this.log.warn({ group: g.groupId, error: errorName(error) }, 'failed to write empty group metadata');
      });
      return;
    }
    this.log.info({ group: g.groupId, tenant: g.key.tenant, generation: g.generationId, protocol: g.protocolName, members: g.size }, 'group rebalanced');
    for (const m of [...g.members.values()]) {
      g.maybeInvokeJoinCallback(m, this.currentGenerationResult(g, m.memberId, g.isLeader(m.memberId)));
      this.scheduleHeartbeatExpiration(g, m, m.sessionTimeoutMs);
      m.isNew = false;
      g.pendingSyncMembers.add(m.memberId);
    }
    this.schedulePendingSync(g);
  }

  private initNextGeneration(g: ClassicGroup): void {
    g.generationId++;
    this.rebalancesCompleted++;
    const now = this.clock.now();
    if (g.size > 0) {
      g.protocolName = g.selectProtocol();
      g.subscribedTopics = this.computeSubscribedTopics(g);
      g.transitionTo('CompletingRebalance', now);
    } else {
      g.protocolName = null;
      g.subscribedTopics = this.computeSubscribedTopics(g);
      g.transitionTo('Empty', now);
    }
    g.pendingSyncMembers.clear();
  }

  /** Topics (resolved names) the members of a consumer-protocol group subscribe to; null when unknown. */
  private computeSubscribedTopics(g: ClassicGroup): Set<string> | null {
    if (g.protocolType !== CONSUMER_PROTOCOL_TYPE) return null;
    if (g.size === 0) return new Set();
    if (g.protocolName === null) return null;
    const topics = new Set<string>();
    try {
      for (const m of g.members.values()) {
        const sub = decodeVersioned(ConsumerProtocolSubscription, m.metadataFor(g.protocolName)).value;
        for (const t of sub.topics) {
          try {
            topics.add(resolveTopic(t, m.namespace).full);
          } catch {
            // an invalid name cannot have offsets
          }
        }
      }
    } catch {
      return null;
    }
    return topics;
  }

  private schedulePendingSync(g: ClassicGroup): void {
    g.syncTimer?.cancel();
    const generation = g.generationId;
    g.syncTimer = this.clock.schedule(g.rebalanceTimeoutMs(), () => {
      g.syncTimer = null;
      if (generation !== g.generationId || !(g.is('CompletingRebalance') || g.is('Stable'))) return;
      if (g.hasReceivedSyncFromAllMembers()) return;
      const missing = [...g.pendingSyncMembers];
      this.log.info({ group: g.groupId, members: missing }, 'removing members that did not send SyncGroup in time');
      for (const id of missing) g.remove(id);
      this.prepareRebalance(g, `removing ${missing.join(', ')} on pending sync request expiration`);
    });
  }

  private removePendingSyncMember(g: ClassicGroup, memberId: string): void {
    g.pendingSyncMembers.delete(memberId);
    if (g.hasReceivedSyncFromAllMembers()) {
      g.syncTimer?.cancel();
      g.syncTimer = null;
    }
  }

  private removeSyncExpiration(g: ClassicGroup): void {
    g.pendingSyncMembers.clear();
    g.syncTimer?.cancel();
    g.syncTimer = null;
  }

  private resetAndPropagateAssignmentError(g: ClassicGroup, errorCode: number): void {
    for (const m of g.members.values()) m.assignment = EMPTY;
    this.propagateAssignment(g, errorCode);
  }

  private propagateAssignment(g: ClassicGroup, errorCode: number): void {
    const ok = errorCode === ErrorCode.NONE;
    for (const m of [...g.members.values()]) {
      const result: SyncResult = { errorCode, protocolType: ok ? g.protocolType : null, protocolName: ok ? g.protocolName : null, assignment: m.assignment };
      // Restart the session timer of members that were waiting: their wait did not count.
      if (g.maybeInvokeSyncCallback(m, result)) this.scheduleHeartbeatExpiration(g, m, m.sessionTimeoutMs);
    }
  }

  // ------------------------------------------------------------------ liveness

  private scheduleHeartbeatExpiration(g: ClassicGroup, member: Member, timeoutMs: number): void {
    member.heartbeatTimer?.cancel();
    member.heartbeatTimer = this.clock.schedule(timeoutMs, () => {
      member.heartbeatTimer = null;
      if (g.is('Dead') || g.members.get(member.memberId) !== member) return;
      // Members waiting in a rebalance satisfy their heartbeats, except new ones (join timeout).
      if (!member.isNew && (member.isAwaitingJoin || member.isAwaitingSync)) return;
      this.log.info({ group: g.groupId, tenant: g.key.tenant, memberId: member.memberId, isNew: member.isNew }, 'member failed (session timeout); removing it from the group');
      this.removeMemberAndUpdateGroup(g, member, `removing member ${member.memberId} on heartbeat expiration`);
    });
  }

  private removeMemberAndUpdateGroup(g: ClassicGroup, member: Member, reason: string): void {
    // A new member can time out while its JoinGroup is parked: tell it to rejoin.
    g.maybeInvokeJoinCallback(member, joinError('', ErrorCode.UNKNOWN_MEMBER_ID));
    g.maybeInvokeSyncCallback(member, syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    g.remove(member.memberId);
    switch (g.state) {
      case 'Dead':
      case 'Empty':
        return;
      case 'Stable':
      case 'CompletingRebalance':
        return this.maybePrepareRebalance(g, reason);
      case 'PreparingRebalance':
        return this.checkJoinCompletion(g);
    }
  }

  private removePendingMemberAndUpdateGroup(g: ClassicGroup, memberId: string): void {
    g.remove(memberId);
    if (g.is('PreparingRebalance')) this.checkJoinCompletion(g);
  }

  // ------------------------------------------------------------------ SyncGroup

  syncGroup(params: SyncGroupParams): Promise<SyncResult> {
    return new Promise((resolve) => this.handleSyncGroup(params, resolve));
  }

  private handleSyncGroup(p: SyncGroupParams, respond: (r: SyncResult) => void): void {
    const status = this.validateGroupStatus(p.key, 'non-empty');
    // While loading, the rebalance in progress is lost: make the member rejoin.
    if (status === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    if (status !== null) return respond(syncError(status));
    const g = this.getGroup(p.key);
    const homeError = this.checkHome(g, p.key, false);
    if (homeError !== null) return respond(syncError(homeError));
    if (!g) return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
    if (g.is('Dead')) return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    if (g.consumer) return respond(this.consumerProtocol.classicSync(g, p));
    const memberError = this.validateCurrentMember(g, p.memberId, p.groupInstanceId, 'sync-group');
    if (memberError !== null) return respond(syncError(memberError));
    if (p.generationId !== g.generationId) return respond(syncError(ErrorCode.ILLEGAL_GENERATION));
    if (p.protocolType !== null && p.protocolType !== g.protocolType) return respond(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    if (p.protocolName !== null && p.protocolName !== g.protocolName) return respond(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));

    switch (g.state) {
      case 'Empty':
        return respond(syncError(ErrorCode.UNKNOWN_MEMBER_ID));
      case 'PreparingRebalance':
        return respond(syncError(ErrorCode.REBALANCE_IN_PROGRESS));
      case 'CompletingRebalance': {
        const member = g.get(p.memberId);
        g.maybeInvokeSyncCallback(member, syncError(ErrorCode.REBALANCE_IN_PROGRESS)); // a superseded SyncGroup
        member.awaitingSync = respond;
        this.removePendingSyncMember(g, p.memberId);
        if (!g.isLeader(p.memberId)) return;
        const given = new Map(p.assignments.map((a) => [a.memberId, a.assignment]));
        const assignment = new Map<string, Buffer>();
        const missing: string[] = [];
        for (const id of g.members.keys()) {
          const a = given.get(id);
          if (a === undefined) missing.push(id);
          assignment.set(id, a ?? EMPTY);
        }
        if (missing.length > 0) this.log.warn({ group: g.groupId, generation: g.generationId, missing }, 'leader gave no assignment for some members; they get an empty one');
        const generation = g.generationId;
        void this.storeGroup(g, assignment).then((error) => {
          // Another member may have joined meanwhile: only finish the generation this was for.
          if (!g.is('CompletingRebalance') || g.generationId !== generation) return;
          if (error !== ErrorCode.NONE) {
            this.resetAndPropagateAssignmentError(g, error);
            this.maybePrepareRebalance(g, `error ${errorName(error)} storing the group assignment`);
            return;
          }
          for (const m of g.members.values()) m.assignment = assignment.get(m.memberId) ?? EMPTY;
          this.propagateAssignment(g, ErrorCode.NONE);
          g.transitionTo('Stable', this.clock.now());
          this.log.info({ group: g.groupId, tenant: g.key.tenant, generation, members: g.size }, 'group is stable');
        });
        return;
      }
      case 'Stable': {
        this.removePendingSyncMember(g, p.memberId);
        const member = g.get(p.memberId);
        respond({ errorCode: ErrorCode.NONE, protocolType: g.protocolType, protocolName: g.protocolName, assignment: member.assignment });
        this.scheduleHeartbeatExpiration(g, member, member.sessionTimeoutMs);
        return;
      }
      case 'Dead':
        return respond(syncError(ErrorCode.COORDINATOR_NOT_AVAILABLE));
    }
  }

  // ------------------------------------------------------------------ Heartbeat / LeaveGroup

  async heartbeat(p: HeartbeatParams): Promise<number> {
    const status = this.validateGroupStatus(p.key, 'non-empty');
    if (status === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS) return ErrorCode.NONE;
    if (status !== null) return status;
    const g = this.getGroup(p.key);
    const homeError = this.checkHome(g, p.key, false);
    if (homeError !== null) return homeError;
    if (!g) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (g.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    if (g.consumer) return this.consumerProtocol.classicHeartbeat(g, p);
    const memberError = this.validateCurrentMember(g, p.memberId, p.groupInstanceId, 'heartbeat');
    if (memberError !== null) return memberError;
    if (p.generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
    switch (g.state) {
      case 'Empty':
        return ErrorCode.UNKNOWN_MEMBER_ID;
      case 'CompletingRebalance':
      case 'Stable': {
        const m = g.get(p.memberId);
        this.scheduleHeartbeatExpiration(g, m, m.sessionTimeoutMs);
        return ErrorCode.NONE;
      }
      case 'PreparingRebalance': {
        const m = g.get(p.memberId);
        this.scheduleHeartbeatExpiration(g, m, m.sessionTimeoutMs);
        return ErrorCode.REBALANCE_IN_PROGRESS;
      }
      case 'Dead':
        return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    }
  }

  async leaveGroup(key: GroupRef, leaving: MemberIdentity[]): Promise<LeaveGroupResult> {
    const status = this.validateGroupStatus(key, 'non-empty');
    if (status !== null) return { errorCode: status, members: [] };
    const g = this.getGroup(key);
    const homeError = this.checkHome(g, key, false);
    if (homeError !== null) return { errorCode: homeError, members: [] };
    const result = (m: MemberIdentity, errorCode: number) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, errorCode });
    if (!g) return { errorCode: ErrorCode.NONE, members: leaving.map((m) => result(m, ErrorCode.UNKNOWN_MEMBER_ID)) };
    if (g.is('Dead')) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, members: [] };
    if (g.consumer) return { errorCode: ErrorCode.NONE, members: leaving.map((m) => result(m, this.consumerProtocol.classicLeave(g, m.memberId, m.groupInstanceId))) };
    const members = leaving.map((m) => {
      const reason = `member left the group (LeaveGroup); client reason: ${m.reason ?? 'not provided'}`;
      if (m.memberId === '') {
        // Administrative removal of a static member by its instance id.
        const current = m.groupInstanceId !== null ? g.currentStaticMemberId(m.groupInstanceId) : undefined;
        if (current === undefined) return result(m, ErrorCode.UNKNOWN_MEMBER_ID);
        this.log.info({ group: g.groupId, memberId: current, groupInstanceId: m.groupInstanceId, reason: m.reason }, 'static member removed by LeaveGroup');
        this.removeMemberAndUpdateGroup(g, g.get(current), reason);
        return result(m, ErrorCode.NONE);
      }
      if (g.pendingMembers.has(m.memberId)) {
        this.removePendingMemberAndUpdateGroup(g, m.memberId);
        return result(m, ErrorCode.NONE);
      }
      const error = this.validateCurrentMember(g, m.memberId, m.groupInstanceId, 'leave-group');
      if (error !== null) return result(m, error);
      this.log.info({ group: g.groupId, tenant: key.tenant, memberId: m.memberId, reason: m.reason }, 'member left the group');
      this.removeMemberAndUpdateGroup(g, g.get(m.memberId), reason);
      return result(m, ErrorCode.NONE);
    });
    return { errorCode: ErrorCode.NONE, members };
  }

  // ------------------------------------------------------------------ offsets

  async commitOffsets(p: CommitOffsetsParams): Promise<number[]> {
    const all = (code: number) => p.offsets.map(() => code);
    const status = this.validateGroupStatus(p.key, 'any');
    if (status !== null) return all(status);
    let g = this.getGroup(p.key);
    const homeError = this.checkHome(g, p.key, true);
    if (homeError !== null) return all(homeError);
    if (!g) {
      if (p.generationId >= 0) {
        // A member of a generation this coordinator does not know (or an old one).
        return all(p.apiVersion >= 9 ? ErrorCode.GROUP_ID_NOT_FOUND : ErrorCode.ILLEGAL_GENERATION);
      }
      // A group not using group management (simple consumer, admin tools): offsets only.
      this.log.info({ group: p.key.groupId, tenant: p.key.tenant }, 'creating simple consumer group via offset commit');
      g = this.addGroup(p.key);
    }
    if (g.consumer) {
      const consumerError = g.is('Dead') ? ErrorCode.COORDINATOR_NOT_AVAILABLE : this.consumerProtocol.validateOffsetCommit(g.consumer, p.memberId, p.generationId, p.apiVersion, p.offsets);
      if (consumerError !== null) return all(consumerError);
      return this.storeOffsets(g, p);
    }
    const error = this.validateOffsetCommit(g, p);
    if (error !== null) return all(error);
    switch (g.state) {
      case 'CompletingRebalance':
        // The member has the new generation from JoinGroup but not its assignment yet.
        return all(ErrorCode.REBALANCE_IN_PROGRESS);
      case 'Stable':
      case 'PreparingRebalance': {
        const m = g.members.get(p.memberId);
        if (m) this.scheduleHeartbeatExpiration(g, m, m.sessionTimeoutMs);
        break;
      }
      default:
        break;
    }
    return this.storeOffsets(g, p);
  }

  private validateOffsetCommit(g: ClassicGroup, p: CommitOffsetsParams): number | null {
    if (g.is('Dead')) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    // Generation -1 on an empty group: admin client or a consumer without group management.
    if (p.generationId < 0 && g.is('Empty')) return null;
    if (p.generationId >= 0 || p.memberId !== '' || p.groupInstanceId !== null) {
      const memberError = this.validateCurrentMember(g, p.memberId, p.groupInstanceId, 'offset-commit');
      if (memberError !== null) return memberError;
      if (p.generationId !== g.generationId) return ErrorCode.ILLEGAL_GENERATION;
      return null;
    }
    // A non-empty group takes commits from its members only.
    return g.is('Empty') ? null : ErrorCode.UNKNOWN_MEMBER_ID;
  }

  private async storeOffsets(g: ClassicGroup, p: CommitOffsetsParams): Promise<number[]> {
    const now = this.clock.now();
    const partition = this.locator.partitionFor(g.key);
    const explicitRetention = p.retentionTimeMs >= 0n ? Number(p.retentionTimeMs) : null;
    const writes = p.offsets.map(async (o): Promise<number> => {
      const metadata = o.metadata ?? '';
      if (Buffer.byteLength(metadata, 'utf8') > this.config.offsetMetadataMaxBytes) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
      const value: CommittedOffset = {
        offset: o.offset,
        leaderEpoch: o.leaderEpoch,
        metadata,
        commitTimestamp: o.commitTimestamp >= 0n ? Number(o.commitTimestamp) : now,
        expireTimestamp: explicitRetention !== null ? now + explicitRetention : null,
      };
      const pk = `${o.topic}\0${o.partition}`;
      g.pendingOffsetCommits.set(pk, (g.pendingOffsetCommits.get(pk) ?? 0) + 1);
      try {
        await g.track(this.persistHome(g).then(() => this.store.putOffset(partition, g.key, o.topic, o.partition, value)));
        g.setOffset(o.topic, o.partition, value);
        this.onOffsetCommitted?.(g.groupId, o.topic, o.partition, o.offset);
        this.offsetsLog?.offsetCommitted(g.key, g.home, o.topic, o.partition, value);
        return ErrorCode.NONE;
      } catch (err) {
        this.log.error({ err, group: g.groupId, topic: o.topic, partition: o.partition }, 'offset commit write failed');
        return ErrorCode.NOT_COORDINATOR;
      } finally {
        const n = (g.pendingOffsetCommits.get(pk) ?? 1) - 1;
        if (n <= 0) g.pendingOffsetCommits.delete(pk);
        else g.pendingOffsetCommits.set(pk, n);
      }
    });
    return Promise.all(writes);
  }

  // ------------------------------------------------------------------ transactional offsets

  async commitTxnOffsets(p: TxnCommitOffsetsParams): Promise<number[]> {
    const all = (code: number) => p.offsets.map(() => code);
    const status = this.validateGroupStatus(p.key, 'non-empty');
    if (status !== null) return all(status);
    let g = this.getGroup(p.key);
    const homeError = this.checkHome(g, p.key, true);
    if (homeError !== null) return all(homeError);
    if (!g) {
      this.log.info({ group: p.key.groupId, tenant: p.key.tenant }, 'creating simple consumer group via transactional offset commit');
      g = this.addGroup(p.key);
    }
    // Kafka's doTxnCommitOffsets
    if (g.is('Dead')) return all(ErrorCode.COORDINATOR_NOT_AVAILABLE);
    if (g.consumer) {
      // A KIP-848 group: the member epoch as for OffsetCommit, without its v9 rule (Kafka skips it for
      // transactional commits); a producer naming no member (memberId '', generation -1) is not fenced,
      // as for classic groups.
      if (p.memberId !== '' || p.generationId >= 0) {
        const consumerError = this.consumerProtocol.validateOffsetCommit(g.consumer, p.memberId, p.generationId, 9, p.offsets);
        if (consumerError !== null) return all(consumerError);
      }
    } else if (!(p.generationId < 0 && g.is('Empty'))) {
      if (p.groupInstanceId !== null) {
        const current = g.currentStaticMemberId(p.groupInstanceId);
        if (current !== undefined && current !== p.memberId) return all(ErrorCode.FENCED_INSTANCE_ID);
      }
      if (p.memberId !== '' && !g.has(p.memberId)) return all(ErrorCode.UNKNOWN_MEMBER_ID);
      if (p.generationId >= 0 && p.generationId !== g.generationId) return all(ErrorCode.ILLEGAL_GENERATION);
    }
    const now = this.clock.now();
    const partition = this.locator.partitionFor(g.key);
    const group = g;
    return Promise.all(
      p.offsets.map(async (o): Promise<number> => {
        const metadata = o.metadata ?? '';
        if (Buffer.byteLength(metadata, 'utf8') > this.config.offsetMetadataMaxBytes) return ErrorCode.OFFSET_METADATA_TOO_LARGE;
        const value: CommittedOffset = { offset: o.offset, leaderEpoch: o.leaderEpoch, metadata, commitTimestamp: now, expireTimestamp: null };
        try {
          await group.track(this.persistHome(group).then(() => this.store.putTxnOffset(partition, group.key, p.producerId, o.topic, o.partition, value)));
          pendingTxnOffset(group, p.producerId, o.topic, o.partition).set(value);
          return ErrorCode.NONE;
        } catch (err) {
          this.log.error({ err, group: group.groupId, topic: o.topic, partition: o.partition }, 'transactional offset commit write failed');
          return ErrorCode.NOT_COORDINATOR;
        }
      }),
    );
  }

  async completeTxnOffsets(tenant: string, groupIds: string[], producerId: bigint, commit: boolean): Promise<void> {
    for (const groupId of groupIds) {
      const key = { tenant, groupId };
      const status = this.validateGroupStatus(key, 'any');
      if (status === null) {
        const g = this.getGroup(key);
        if (g) await this.applyTxnEnd(g, producerId, commit);
        continue;
      }
      if (!this.active) throw new Error(`cannot complete the transaction offsets of group ${groupId}: ${errorName(status)}`);
      // Another node coordinates the group (or this one is loading it): leave the end where that
      // coordinator finds it, next to the group's entries (it applies it at load and in its sweep).
      await this.store.putTxnEnd(this.locator.partitionFor(key), key, producerId, commit);
      this.log.info({ group: groupId, tenant, producerId: producerId.toString(), commit }, 'transaction end recorded for the coordinator of the group');
    }
  }

  /** The transaction of `producerId` ended: its pending offsets in `g` become offsets (commit) or go. */
  private async applyTxnEnd(g: ClassicGroup, producerId: bigint, commit: boolean): Promise<void> {
    const partition = this.locator.partitionFor(g.key);
    const pending = g.pendingTxnOffsets.get(producerId);
    if (pending) {
      for (const { topic, partition: p, value } of pending.values()) {
        if (commit) {
          await g.track(this.store.putOffset(partition, g.key, topic, p, value));
          g.setOffset(topic, p, value);
          this.onOffsetCommitted?.(g.groupId, topic, p, value.offset);
          this.offsetsLog?.offsetCommitted(g.key, g.home, topic, p, value);
        }
        await g.track(this.store.putTxnOffset(partition, g.key, producerId, topic, p, null));
      }
      g.pendingTxnOffsets.delete(producerId);
      this.log.info({ group: g.groupId, tenant: g.key.tenant, producerId: producerId.toString(), offsets: pending.size, commit }, commit ? 'transactional offsets committed' : 'transactional offsets aborted');
    }
    await g.track(this.store.putTxnEnd(partition, g.key, producerId, null));
  }

  private scheduleTxnEndSweep(): void {
    if (!this.active) return;
    this.txnEndTimer = this.clock.schedule(TXN_END_SWEEP_MS, () => {
      this.txnEndRun = this.sweepTxnEnds()
        .catch((err: unknown) => this.log.warn({ err }, 'transaction end sweep failed'))
        .finally(() => {
          this.txnEndRun = null;
          this.scheduleTxnEndSweep();
        });
    });
  }

  /**
   * Apply transaction ends other nodes recorded for this node's groups (only groups with
   * pending transactional offsets are looked at: a lookup in the loaded state per open transaction).
   */
  async sweepTxnEnds(): Promise<void> {
    const open: ClassicGroup[] = [];
    for (const g of this.groups.values()) if (g.pendingTxnOffsets.size > 0 && !g.is('Dead')) open.push(g);
    for (const g of open) {
      const partition = this.locator.partitionFor(g.key);
      for (const producerId of [...g.pendingTxnOffsets.keys()]) {
        const commit = await this.store.getTxnEnd(partition, g.key, producerId);
        if (commit !== null && this.groups.get(groupMapKey(g.key)) === g) await this.applyTxnEnd(g, producerId, commit);
      }
    }
  }

  async fetchOffsets(key: GroupRef, partitions: Array<{ topic: string; partition: number }> | null, requireStable: boolean, member?: { memberId: string | null; memberEpoch: number }): Promise<{ errorCode: number; offsets: FetchedOffset[] }> {
    const status = this.validateGroupStatus(key, 'any');
    if (status !== null) return { errorCode: status, offsets: [] };
    const g = this.getGroup(key);
    const homeError = this.checkHome(g, key, false);
    if (homeError !== null) return { errorCode: homeError, offsets: [] };
    if (g?.consumer && member && !g.is('Dead')) {
      const memberError = this.consumerProtocol.validateOffsetFetch(g.consumer, member.memberId, member.memberEpoch);
      if (memberError !== null) return { errorCode: memberError, offsets: [] };
    }
    // Unstable offsets: commits being written (waited for), and offsets of open transactions (UNSTABLE_OFFSET_COMMIT).
    if (g && requireStable && g.inFlight.size > 0) await Promise.allSettled([...g.inFlight]);
    const unstable = (topic: string, partition: number): boolean => requireStable && g !== undefined && g.hasPendingTxnOffset(topic, partition);
    const found = (topic: string, partition: number, o: CommittedOffset): FetchedOffset => ({
      topic,
      partition,
      offset: o.offset,
      leaderEpoch: o.leaderEpoch,
      metadata: o.metadata,
      errorCode: ErrorCode.NONE,
    });
    if (partitions === null) {
      const out: FetchedOffset[] = [];
      if (g && !g.is('Dead')) for (const [topic, m] of g.offsets) for (const [partition, o] of m) out.push(found(topic, partition, o));
      return { errorCode: ErrorCode.NONE, offsets: out };
    }
    return {
      errorCode: ErrorCode.NONE,
      offsets: partitions.map(({ topic, partition }) => {
        if (unstable(topic, partition)) return { topic, partition, offset: -1n, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.UNSTABLE_OFFSET_COMMIT };
        const o = g && !g.is('Dead') ? g.offset(topic, partition) : undefined;
        return o ? found(topic, partition, o) : { topic, partition, offset: -1n, leaderEpoch: -1, metadata: '', errorCode: ErrorCode.NONE };
      }),
    };
  }

  async deleteOffsets(key: GroupRef, partitions: Array<{ topic: string; partition: number }>): Promise<{ errorCode: number; partitions: number[] }> {
    const status = this.validateGroupStatus(key, 'non-empty');
    if (status !== null) return { errorCode: status, partitions: [] };
    const g = this.getGroup(key);
    const homeError = this.checkHome(g, key, false);
    if (homeError !== null) return { errorCode: homeError, partitions: [] };
    if (!g || g.is('Dead')) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, partitions: [] };
    let codes: Array<number | null>;
    if (g.consumer && g.consumer.members.size > 0) {
      const subscribed = g.consumer.subscribedTopics();
      codes = partitions.map((tp) => (subscribed.has(tp.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : null));
    } else if (g.is('Empty')) {
      codes = partitions.map(() => null);
    } else if (g.protocolType === CONSUMER_PROTOCOL_TYPE) {
      codes = partitions.map((tp) => (g.subscribedTopics?.has(tp.topic) ? ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC : null));
    } else {
      return { errorCode: ErrorCode.NON_EMPTY_GROUP, partitions: [] };
    }
    const partition = this.locator.partitionFor(key);
    const result = await Promise.all(
      partitions.map(async (tp, i) => {
        if (codes[i] !== null) return codes[i]!;
        if (!g.offset(tp.topic, tp.partition)) return ErrorCode.NONE;
        try {
          await g.track(this.store.putOffset(partition, key, tp.topic, tp.partition, null));
          g.removeOffset(tp.topic, tp.partition);
          this.offsetsLog?.offsetCommitted(g.key, g.home, tp.topic, tp.partition, null);
          return ErrorCode.NONE;
        } catch (err) {
          this.log.error({ err, group: key.groupId, topic: tp.topic, partition: tp.partition }, 'offset delete failed');
          return ErrorCode.COORDINATOR_NOT_AVAILABLE;
        }
      }),
    );
    this.log.info({ group: key.groupId, tenant: key.tenant, partitions: partitions.length }, 'offsets deleted (OffsetDelete)');
    return { errorCode: ErrorCode.NONE, partitions: result };
  }

  // ------------------------------------------------------------------ admin

  async describeGroup(key: GroupRef): Promise<GroupSummary> {
    const status = this.validateGroupStatus(key, 'any');
    if (status !== null) return { errorCode: status, state: '', protocolType: '', protocolData: '', members: [] };
    const g = this.getGroup(key);
    const homeError = this.checkHome(g, key, false);
    if (homeError !== null) return { errorCode: homeError, state: '', protocolType: '', protocolData: '', members: [] };
    // A consumer group (KIP-848) is described by ConsumerGroupDescribe; DescribeGroups v0-v5 sees it as Kafka shows it: Dead.
    if (!g || g.consumer) return { errorCode: ErrorCode.NONE, state: 'Dead', protocolType: '', protocolData: '', members: [] };
    const stable = g.is('Stable');
    return {
      errorCode: ErrorCode.NONE,
      state: g.state,
      protocolType: g.protocolType ?? '',
      protocolData: stable ? (g.protocolName ?? '') : '',
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        metadata: stable && g.protocolName !== null ? m.metadataFor(g.protocolName) : EMPTY,
        assignment: stable ? m.assignment : EMPTY,
      })),
    };
  }

  async listGroups(tenant: string, states: string[], types: string[]): Promise<{ errorCode: number; groups: GroupOverview[] }> {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const errorCode = this.loading.size > 0 ? ErrorCode.COORDINATOR_LOAD_IN_PROGRESS : ErrorCode.NONE;
    const stateFilter = new Set(states.map((s) => s.toLowerCase()));
    const typeFilter = new Set(types.map((t) => t.toLowerCase()));
    const groups: GroupOverview[] = [];
    for (const g of this.groups.values()) {
      if (g.key.tenant !== tenant || g.is('Dead')) continue;
      const groupType = g.consumer ? 'consumer' : 'classic';
      const state = g.consumer ? consumerGroupState(g) : g.state;
      if (stateFilter.size > 0 && !stateFilter.has(state.toLowerCase())) continue;
      if (typeFilter.size > 0 && !typeFilter.has(groupType)) continue;
      groups.push({ groupId: g.groupId, home: g.home, protocolType: g.consumer ? CONSUMER_PROTOCOL_TYPE : (g.protocolType ?? ''), state, groupType });
    }
    groups.sort((a, b) => (a.groupId < b.groupId ? -1 : a.groupId > b.groupId ? 1 : 0));
    return { errorCode, groups };
  }

  async deleteGroups(refs: GroupRef[]): Promise<Map<string, number>> {
    const result = new Map<string, number>();
    const eligible: ClassicGroup[] = [];
    for (const key of refs) {
      const groupId = key.groupId;
      const status = this.validateGroupStatus(key, 'any');
      if (status !== null) {
        result.set(groupId, status);
        continue;
      }
      const g = this.getGroup(key);
      const homeError = this.checkHome(g, key, false);
      if (homeError !== null) result.set(groupId, homeError);
      else if (!g || g.is('Dead')) result.set(groupId, ErrorCode.GROUP_ID_NOT_FOUND);
      else if (!g.is('Empty') || (g.consumer !== null && g.consumer.members.size > 0)) result.set(groupId, ErrorCode.NON_EMPTY_GROUP);
      else {
        g.transitionTo('Dead', this.clock.now());
        this.cancelTimers(g);
        eligible.push(g);
      }
    }
    await Promise.all(
      eligible.map(async (g) => {
        const removed = await this.removeGroupData(g);
        result.set(g.groupId, removed === null ? ErrorCode.NONE : ErrorCode.COORDINATOR_NOT_AVAILABLE);
        if (removed === null) this.log.info({ group: g.groupId, tenant: g.key.tenant, home: g.home }, 'group deleted');
      }),
    );
    return result;
  }

  /** Tombstone a Dead group's offsets and metadata and forget it. Returns the error, or null. */
  private async removeGroupData(g: ClassicGroup): Promise<unknown> {
    if (g.inFlight.size > 0) await Promise.allSettled([...g.inFlight]);
    const partition = this.locator.partitionFor(g.key);
    if (this.groups.get(groupMapKey(g.key)) === g) this.groups.delete(groupMapKey(g.key));
    try {
      const deletes: Promise<void>[] = [];
      for (const [topic, m] of g.offsets) for (const p of m.keys()) deletes.push(this.store.putOffset(partition, g.key, topic, p, null));
      // offsets of transactions still open go with the group (their commit finds no group and adds nothing)
      for (const [producerId, m] of g.pendingTxnOffsets) for (const o of m.values()) deletes.push(this.store.putTxnOffset(partition, g.key, producerId, o.topic, o.partition, null));
      deletes.push(this.store.putGroup(partition, g.key, null));
      const hadConsumer = g.consumer !== null;
      if (hadConsumer) deletes.push(this.store.putConsumerGroup(partition, g.key, null));
      // The home goes last (puts land in issue order): a crash before it leaves a home without a
      // group, dropped at the next load. Issued in this same turn, so a group created again under
      // the name writes its new home after this tombstone.
      deletes.push(this.store.putHome(partition, g.key, null));
      await Promise.all(deletes);
      if (this.offsetsLog) {
        for (const [topic, m] of g.offsets) for (const p of m.keys()) this.offsetsLog.offsetCommitted(g.key, g.home, topic, p, null);
        this.offsetsLog.groupChanged(g.key, g.home, null);
        if (hadConsumer) this.offsetsLog.consumerGroupChanged(g.key, g.home, null);
      }
      g.homeStored = false;
      g.offsets.clear();
      g.pendingTxnOffsets.clear();
      return null;
    } catch (err) {
      this.log.error({ err, group: g.groupId }, 'failed to delete group data');
      return err;
    }
  }

  // ------------------------------------------------------------------ consumer groups (KIP-848)

  async consumerGroupHeartbeat(key: GroupRef, p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    const fail = (errorCode: number, errorMessage: string | null): ConsumerHeartbeatResult => ({ errorCode, errorMessage, memberId: p.memberId, memberEpoch: p.memberEpoch, heartbeatIntervalMs: 0, assignment: null });
    const status = this.validateGroupStatus(key, 'non-empty');
    if (status !== null) return fail(status, null);
    const join = p.memberEpoch === 0;
    let g = this.getGroup(key);
    const homeError = this.checkHome(g, key, join);
    if (homeError !== null) return fail(homeError, null);
    if (!g || g.is('Dead')) {
      if (!join) return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Consumer group ${key.groupId} not found.`);
      if (g) this.groups.delete(groupMapKey(g.key));
      g = this.addGroup(key);
    }
    if (join && !g.consumer && g.size > 0 && g.protocolType === CONSUMER_PROTOCOL_TYPE && g.size <= this.consumerProtocol.config.maxSize) {
      const upgraded = await this.upgradeClassicGroup(g);
      if (upgraded !== null) return fail(upgraded, null);
    }
    const refused = this.consumerProtocol.adopt(g, join);
    if (refused) {
      this.log.info({ group: key.groupId, tenant: key.tenant, state: g.state, members: g.size }, 'ConsumerGroupHeartbeat refused: the group is a classic group');
      return fail(refused.errorCode, refused.message);
    }
    return this.consumerProtocol.heartbeat(g, p);
  }

  consumerSubscription(key: GroupRef, memberId: string): { names: string[]; regex: string | null } | null {
    if (this.validateGroupStatus(key, 'any') !== null) return null;
    return this.consumerProtocol.storedSubscription(this.getGroup(key), memberId);
  }

  async consumerGroupDescribe(key: GroupRef): Promise<DescribedConsumerGroup> {
    const fail = (errorCode: number, errorMessage: string | null): DescribedConsumerGroup => ({ errorCode, errorMessage, state: 'Dead', groupEpoch: -1, assignmentEpoch: -1, assignorName: '', members: [] });
    const status = this.validateGroupStatus(key, 'any');
    if (status !== null) return fail(status, null);
    const g = this.getGroup(key);
    const homeError = this.checkHome(g, key, false);
    if (homeError !== null) return fail(homeError, null);
    if (!g || g.is('Dead')) return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${key.groupId} not found.`);
    if (!g.consumer) return fail(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${key.groupId} is not a consumer group.`);
    return this.consumerProtocol.describe(g);
  }

  /**
   * Kafka's online upgrade: a classic group with members of protocol type `consumer` becomes a consumer
   * group (each member keeps its generation as epoch and its assignment; parked JoinGroup/SyncGroup
   * requests get REBALANCE_IN_PROGRESS, so the members rejoin through the consumer group). The classic
   * entry is deleted before the consumer entry is written (puts land in order). Null when done.
   */
  private async upgradeClassicGroup(g: ClassicGroup): Promise<number | null> {
    const metadata = new Map<string, TopicMetadata>();
    await Promise.all(
      this.consumerProtocol.classicTopics(g).map(async (t) => {
        const m = await this.topicMetadataSource?.(t).catch(() => null);
        if (m && m.partitions > 0) metadata.set(t, m);
      }),
    );
    if (this.groups.get(groupMapKey(g.key)) !== g || g.is('Dead')) return ErrorCode.NOT_COORDINATOR;
    if (g.consumer) return null; // upgraded meanwhile
    if (g.size === 0) return null; // emptied meanwhile: adopted as an empty group
    const cg = this.consumerProtocol.convertFromClassic(g, metadata);
    for (const m of [...g.members.values()]) {
      g.maybeInvokeJoinCallback(m, joinError(m.memberId, ErrorCode.REBALANCE_IN_PROGRESS));
      g.maybeInvokeSyncCallback(m, syncError(ErrorCode.REBALANCE_IN_PROGRESS));
    }
    this.cancelTimers(g);
    for (const id of [...g.members.keys()]) g.remove(id);
    g.pendingSyncMembers.clear();
    g.state = 'Empty';
    g.protocolName = null;
    g.leaderId = null;
    g.consumer = cg;
    g.protocolType = CONSUMER_PROTOCOL_TYPE;
    const partition = this.locator.partitionFor(g.key);
    g.track(this.store.putGroup(partition, g.key, null)).then(
      () => this.offsetsLog?.groupChanged(g.key, g.home, null),
      (err: unknown) => this.log.warn({ err, group: g.groupId }, 'failed to delete the classic entry of an upgraded group'),
    );
    const stored = await this.consumerProtocol.afterConversion(g);
    return stored === ErrorCode.NONE ? null : stored;
  }

  /**
   * Kafka's online downgrade (convertToClassicGroup): a consumer group whose members all use the classic
   * protocol becomes a classic group of those members, with the group epoch as generation and their
   * current assignments, and rebalances at once (their heartbeats answer REBALANCE_IN_PROGRESS, they
   * rejoin here). Its consumer entry is deleted; the classic one is written when the rebalance completes.
   */
  private downgradeConsumerGroup(g: ClassicGroup): void {
    const cg = g.consumer;
    if (!cg || g.is('Dead') || g.size > 0) return;
    const members = this.consumerProtocol.classicMembersOf(cg);
    this.consumerProtocol.cancelTimers(cg);
    g.consumer = null;
    g.protocolType = null;
    g.generationId = cg.groupEpoch;
    for (const { member: m, assignment } of members) {
      const c = m.classic!;
      const member = new Member(m.memberId, m.instanceId, m.clientId, m.clientHost, m.rebalanceTimeoutMs, c.sessionTimeoutMs, CONSUMER_PROTOCOL_TYPE, c.protocols, m.namespace);
      member.assignment = assignment;
      g.add(member, null);
    }
    g.protocolName = g.selectProtocol();
    g.state = 'Stable';
    g.stateTimestamp = this.clock.now();
    g.subscribedTopics = this.computeSubscribedTopics(g);
    for (const m of g.members.values()) this.scheduleHeartbeatExpiration(g, m, m.sessionTimeoutMs);
    g.track(this.store.putConsumerGroup(this.locator.partitionFor(g.key), g.key, null)).then(
      () => this.offsetsLog?.consumerGroupChanged(g.key, g.home, null),
      (err: unknown) => this.log.warn({ err, group: g.groupId }, 'failed to delete the consumer entry of a downgraded group'),
    );
    this.log.info({ group: g.groupId, tenant: g.key.tenant, members: g.size, generation: g.generationId }, 'consumer group converted to a classic group (online downgrade): its classic members rejoin');
    this.prepareRebalance(g, `Downgrade group ${g.groupId} from consumer to classic.`);
  }

  /** An empty consumer group joined by a classic member becomes a classic group (its offsets stay). */
  private downgradeEmptyConsumerGroup(g: ClassicGroup): void {
    if (!g.consumer) return;
    this.consumerProtocol.cancelTimers(g.consumer);
    g.consumer = null;
    g.protocolType = null;
    g.track(this.store.putConsumerGroup(this.locator.partitionFor(g.key), g.key, null)).then(
      () => this.offsetsLog?.consumerGroupChanged(g.key, g.home, null),
      (err: unknown) => this.log.warn({ err, group: g.groupId }, 'failed to delete the consumer group entry of a group that became classic'),
    );
    this.log.info({ group: g.groupId, tenant: g.key.tenant }, 'empty consumer group becomes a classic group; its offsets are kept');
  }

  /** Write a consumer group's entry (after its home); NONE when durable, NOT_COORDINATOR when not. */
  private storeConsumerGroup(g: ClassicGroup, value: Buffer | null): Promise<number> {
    const cg = g.consumer;
    const write = this.persistHome(g)
      .then(() => this.store.putConsumerGroup(this.locator.partitionFor(g.key), g.key, value))
      .then(
        () => {
          // the readable __consumer_offsets gets a ConsumerGroupMetadata record when the group epoch moved
          if (this.offsetsLog && cg && value !== null && this.loggedEpochs.get(cg) !== cg.groupEpoch) {
            this.loggedEpochs.set(cg, cg.groupEpoch);
            this.offsetsLog.consumerGroupChanged(g.key, g.home, cg.groupEpoch);
          }
          return ErrorCode.NONE;
        },
        (err: unknown) => {
          this.log.error({ err, group: g.groupId }, 'consumer group write failed');
          return ErrorCode.NOT_COORDINATOR;
        },
      );
    return g.track(write);
  }

  // ------------------------------------------------------------------ persistence

  private toStored(g: ClassicGroup, assignment: Map<string, Buffer>): StoredGroup {
    return {
      state: g.size > 0 ? 'Stable' : 'Empty',
      stateTimestamp: g.size > 0 ? this.clock.now() : g.stateTimestamp,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      generationId: g.generationId,
      leaderId: g.leaderId,
      members: [...g.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        metadata: g.protocolName !== null ? m.metadataFor(g.protocolName) : EMPTY,
        assignment: assignment.get(m.memberId) ?? EMPTY,
        namespace: m.namespace,
      })),
    };
  }

  /** Write the group's metadata; resolves with the error code (NONE when durable). */
  private storeGroup(g: ClassicGroup, assignment: Map<string, Buffer>): Promise<number> {
    const stored = this.toStored(g, assignment);
    const write = this.persistHome(g)
      .then(() => this.store.putGroup(this.locator.partitionFor(g.key), g.key, stored))
      .then(
      () => {
        this.offsetsLog?.groupChanged(g.key, g.home, stored);
        return ErrorCode.NONE;
      },
      (err: unknown) => {
        this.log.error({ err, group: g.groupId }, 'group metadata write failed');
        return ErrorCode.NOT_COORDINATOR;
      },
    );
    return g.track(write);
  }

  // ------------------------------------------------------------------ offset expiration

  private scheduleExpiration(): void {
    if (!this.active) return;
    this.expirationTimer = this.clock.schedule(this.config.offsetsRetentionCheckIntervalMs, () => {
      this.expirationRun = this.expireOffsets()
        .then(
          () => undefined,
          (err: unknown) => this.log.error({ err }, 'offset expiration failed'),
        )
        .finally(() => {
          this.expirationRun = null;
          this.scheduleExpiration();
        });
    });
  }

  /**
   * Kafka's cleanupGroupMetadata: delete expired offsets, then forget empty
   * groups without offsets. Returns the number of offsets removed.
   */
  async expireOffsets(): Promise<number> {
    const now = this.clock.now();
    let removed = 0;
    for (const g of [...this.groups.values()]) {
      if (g.is('Dead')) continue;
      const expired = this.expiredOffsets(g, now);
      const partition = this.locator.partitionFor(g.key);
      for (const { topic, partition: p, value } of expired) {
        try {
          // Puts apply in order: a commit arriving meanwhile lands after this tombstone.
          await g.track(this.store.putOffset(partition, g.key, topic, p, null));
          if (g.offset(topic, p) === value) {
            g.removeOffset(topic, p);
            this.offsetsLog?.offsetCommitted(g.key, g.home, topic, p, null);
            removed++;
          }
        } catch (err) {
          this.log.error({ err, group: g.groupId }, 'failed to delete an expired offset');
        }
      }
      if (g.is('Empty') && !(g.consumer && g.consumer.members.size > 0) && !g.hasOffsets() && g.inFlight.size === 0 && g.pendingMembers.size === 0 && this.groups.get(groupMapKey(g.key)) === g) {
        g.transitionTo('Dead', now);
        this.cancelTimers(g);
        const error = await this.removeGroupData(g);
        if (error === null) this.log.info({ group: g.groupId, tenant: g.key.tenant }, 'empty group without offsets removed');
      }
    }
    if (removed > 0) this.log.info({ removed }, 'expired committed offsets removed');
    return removed;
  }

  private expiredOffsets(g: ClassicGroup, now: number): Array<{ topic: string; partition: number; value: CommittedOffset }> {
    const out: Array<{ topic: string; partition: number; value: CommittedOffset }> = [];
    for (const [topic, m] of g.offsets) {
      for (const [partition, value] of m) {
        if (!g.hasPendingCommit(topic, partition) && this.isExpired(g, topic, value, now)) out.push({ topic, partition, value });
      }
    }
    return out;
  }

  /** Kafka's offset expiration rules (KIP-211). */
  private isExpired(g: ClassicGroup, topic: string, o: CommittedOffset, now: number): boolean {
    const retention = this.config.offsetsRetentionMs;
    const check = (base: number) => (o.expireTimestamp !== null ? now >= o.expireTimestamp : now - base >= retention);
    if (g.consumer) {
      // A consumer group: as a classic one, empty since stateTimestamp, or with members subscribed to topics.
      if (g.consumer.members.size === 0) return check(g.stateTimestamp);
      return !g.consumer.subscribedTopics().has(topic) && check(o.commitTimestamp);
    }
    if (g.protocolType !== null && g.is('Empty')) {
      // No consumers left: everything expires once the group has been empty for the retention time.
      return check(g.stateTimestamp);
    }
    if (g.protocolType === CONSUMER_PROTOCOL_TYPE && g.subscribedTopics !== null && g.is('Stable')) {
      // Active consumers: offsets of topics nobody subscribes to any more expire after their last commit.
      return !g.subscribedTopics.has(topic) && check(o.commitTimestamp);
    }
    if (g.protocolType === null) {
      // Simple group (offsets only): each offset expires on its own.
      return check(o.commitTimestamp);
    }
    return false;
  }

  /** The groups this node coordinates now, read at scrape time by the metrics (never modified). */
  groupsForMetrics(): Iterable<Readonly<ClassicGroup>> {
    return this.groups.values();
  }

  /** Groups held now (tests and diagnostics). */
  groupState(key: GroupKey): { state: GroupState; generationId: number; members: string[]; leaderId: string | null; protocolName: string | null } | null {
    const g = this.getGroup(key);
    if (!g) return null;
    return { state: g.state, generationId: g.generationId, members: [...g.members.keys()], leaderId: g.leaderId, protocolName: g.protocolName };
  }
}

/** The coordinator settings from the gateway configuration. */
export function coordinatorConfigFrom(c: {
  groupInitialRebalanceDelayMs: number;
  groupMinSessionTimeoutMs: number;
  groupMaxSessionTimeoutMs: number;
  groupMaxSize: number;
  offsetsRetentionMinutes: number;
  offsetsRetentionCheckIntervalMs: number;
  offsetMetadataMaxBytes: number;
  groupConsumerSessionTimeoutMs?: number;
  groupConsumerHeartbeatIntervalMs?: number;
}): CoordinatorConfig {
  return {
    groupInitialRebalanceDelayMs: c.groupInitialRebalanceDelayMs,
    groupMinSessionTimeoutMs: c.groupMinSessionTimeoutMs,
    groupMaxSessionTimeoutMs: c.groupMaxSessionTimeoutMs,
    groupMaxSize: c.groupMaxSize,
    offsetsRetentionMs: c.offsetsRetentionMinutes * 60_000,
    offsetsRetentionCheckIntervalMs: c.offsetsRetentionCheckIntervalMs,
    offsetMetadataMaxBytes: c.offsetMetadataMaxBytes,
    consumerSessionTimeoutMs: c.groupConsumerSessionTimeoutMs,
    consumerHeartbeatIntervalMs: c.groupConsumerHeartbeatIntervalMs,
  };
}

/** The slot of a pending transactional offset of a group. */
function pendingTxnOffset(g: ClassicGroup, producerId: bigint, topic: string, partition: number): { set(value: CommittedOffset): void } {
  return {
    set(value: CommittedOffset): void {
      let m = g.pendingTxnOffsets.get(producerId);
      if (!m) g.pendingTxnOffsets.set(producerId, (m = new Map()));
      m.set(`${topic}\0${partition}`, { topic, partition, value });
    },
  };
}
