/**
 * The consumer group protocol (KIP-848) in the group coordinator: the
 * ConsumerGroupHeartbeat flow (join, epochs, fencing, target assignment,
 * reconciliation, leave), ConsumerGroupDescribe, session and rebalance
 * timeouts, the member-epoch checks of OffsetCommit/OffsetFetch, and the
 * durable form of a consumer group, following Kafka's GroupMetadataManager.
 *
 * A consumer group lives in the same group slot as a classic group
 * (`ClassicGroup.consumer`), so it shares the home namespace, the committed
 * offsets, their store entries, deletion and expiry with the classic
 * protocol. A group is of one type at a time:
 *  - a heartbeat to an empty classic group (no members; offsets may remain)
 *    turns it into a consumer group;
 *  - a heartbeat to a classic group with members of protocol type `consumer`
 *    converts it (Kafka's online upgrade): each classic member
 *    becomes a member of the consumer group with its generation as its epoch
 *    and its assignment, and is told to rejoin (REBALANCE_IN_PROGRESS);
 *  - classic members in a consumer group are served as Kafka serves them
 *    (JoinGroup/SyncGroup/Heartbeat/LeaveGroup translated to the member's
 *    epoch and reconciliation: a Heartbeat answers REBALANCE_IN_PROGRESS while
 *    the member must revoke or catch up, the JoinGroup that follows carries
 *    its owned partitions, SyncGroup returns its assignment);
 *  - a JoinGroup to an empty consumer group turns it back into a classic group;
 *  - a heartbeat to a classic group of another protocol type (Connect, ...):
 *    GROUP_ID_NOT_FOUND ("Group g is not a consumer group."), as Kafka;
 *  - when the last KIP-848 member leaves a group whose other members are
 *    classic, it becomes a classic group again (Kafka's online downgrade) and
 *    rebalances: the classic members rejoin the classic coordinator.
 * A classic member told to rejoin must JoinGroup, and then SyncGroup, within
 * its rebalance timeout, or it is removed (Kafka's join and sync timeouts).
 *
 * Durable state: one entry per group (store.ts kind "c") with the epochs, the
 * members (epochs, subscriptions, current assignments with their KIP-1251
 * assignment epochs) and the target assignment, written (when it changed)
 * before the request that changed it is answered; a
 * coordinator taking over the partition (another gateway node on the Pulsar
 * engine, or a restart) continues from it, and members that do not heartbeat
 * within the session timeout are fenced as Kafka does after a failover.
 *
 * Everything runs on the event loop: a heartbeat changes the group
 * synchronously, then awaits the write of the group.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.js';
import { ErrorCode } from '../protocol/errors.js';
import type { NamespaceRef } from '../topics/names.js';
import type { Clock } from './clock.js';
import { ASSIGNORS, DEFAULT_ASSIGNOR, type TargetAssignment } from './assignors.js';
import {
  ConsumerGroup,
  ConsumerMember,
  LEAVE_GROUP_MEMBER_EPOCH,
  LEAVE_GROUP_STATIC_MEMBER_EPOCH,
  partitionsEqual,
  reconcile,
  type Partitions,
  type TopicMetadata,
  type ConsumerGroupState,
} from './consumer-group.js';
import { joinError, syncError, type ClassicGroup, type JoinResult, type SyncResult } from './group.js';
import type { GroupKey } from './locator.js';
import type { HeartbeatParams, JoinGroupParams, SyncGroupParams } from './coordinator.js';
import { decodeVersioned, encodeVersioned } from '../protocol/codec/frame.js';
import { ConsumerProtocolAssignment, ConsumerProtocolSubscription } from '../protocol/generated/index.js';
import { kafkaNameFor, resolveTopic } from '../topics/names.js';

export interface ConsumerProtocolConfig {
  /** group.consumer.session.timeout.ms */
  sessionTimeoutMs: number;
  /** group.consumer.heartbeat.interval.ms */
  heartbeatIntervalMs: number;
  /** group.consumer.max.size */
  maxSize: number;
}

/** The subscription a member's heartbeat resolved (by the handler, which checked the member may consume each topic). */
export interface ResolvedSubscription {
  /** Resolved names of the topics the member subscribes to (existing ones have metadata). */
  topics: string[];
  metadata: Map<string, TopicMetadata>;
}

export interface ConsumerHeartbeatParams {
  memberId: string;
  memberEpoch: number;
  instanceId: string | null;
  rackId: string | null;
  rebalanceTimeoutMs: number;
  subscribedTopicNames: string[] | null;
  subscribedTopicRegex: string | null;
  serverAssignor: string | null;
  /** Owned partitions by topic id (hex), null when not sent. */
  owned: Array<{ topicId: Buffer; partitions: number[] }> | null;
  clientId: string;
  clientHost: string;
  namespace: NamespaceRef;
  /** The member's subscription resolved now (names from the request or, when absent, stored). */
  subscription: ResolvedSubscription;
}

export interface ConsumerHeartbeatResult {
  errorCode: number;
  errorMessage: string | null;
  memberId: string;
  memberEpoch: number;
  heartbeatIntervalMs: number;
  /** null: no assignment in the response (unchanged). */
  assignment: Array<{ topicId: Buffer; partitions: number[] }> | null;
}

export interface DescribedConsumerMember {
  memberId: string;
  instanceId: string | null;
  rackId: string | null;
  memberEpoch: number;
  clientId: string;
  clientHost: string;
  subscribedTopicNames: string[];
  subscribedTopicRegex: string | null;
  /** resolved topic -> partitions */
  assignment: Array<{ topic: string; topicId: Buffer; partitions: number[] }>;
  targetAssignment: Array<{ topic: string; topicId: Buffer; partitions: number[] }>;
  namespace: NamespaceRef;
}

export interface DescribedConsumerGroup {
  errorCode: number;
  errorMessage: string | null;
  state: string;
  groupEpoch: number;
  assignmentEpoch: number;
  assignorName: string;
  members: DescribedConsumerMember[];
}

/** What the protocol needs from the coordinator that holds the groups. */
export interface ConsumerGroupHost {
  readonly log: Logger;
  readonly clock: Clock;
  /** Persist the group's consumer entry (after its home); resolves with NONE or the error to answer. */
  storeConsumerGroup(g: ClassicGroup, value: Buffer | null): Promise<number>;
  /** A topic's id and partition count (null: it does not exist), for the subscriptions of classic members. */
  topicMetadata(topic: string): Promise<TopicMetadata | null>;
  /** Whether the group is still the one held for its key (not unloaded, deleted or replaced). */
  isCurrent(g: ClassicGroup): boolean;
  /** Turn a consumer group whose members all use the classic protocol back into a classic group. */
  downgrade(g: ClassicGroup): void;
  /** A new target assignment was computed (the rebalance metric). */
  countRebalance(): void;
}

function hex(b: Buffer): string {
  return b.toString('hex');
}

function sortedPartitions(s: Set<number>): number[] {
  return [...s].sort((a, b) => a - b);
}

export class ConsumerGroupProtocol {
  constructor(
    private readonly host: ConsumerGroupHost,
    readonly config: ConsumerProtocolConfig,
  ) {}

  private get log(): Logger {
    return this.host.log;
  }

  private error(memberId: string, memberEpoch: number, errorCode: number, errorMessage: string | null): ConsumerHeartbeatResult {
    return { errorCode, errorMessage, memberId, memberEpoch, heartbeatIntervalMs: 0, assignment: null };
  }

  /**
   * Whether a heartbeat may use this group slot, converting an empty classic group (Kafka's
   * getOrMaybeCreateConsumerGroup). Returns the error to answer, or null.
   */
  adopt(g: ClassicGroup, join: boolean): { errorCode: number; message: string } | null {
    if (g.consumer) return null;
    const classicEmpty = g.size === 0 && g.pendingMembers.size === 0 && (g.is('Empty') || g.is('Dead'));
    if (join && classicEmpty && !g.is('Dead')) {
      g.consumer = new ConsumerGroup();
      g.protocolType = 'consumer';
      this.log.info({ group: g.groupId, tenant: g.key.tenant }, 'empty classic group becomes a consumer group (KIP-848); its offsets are kept');
      return null;
    }
    if (!join && classicEmpty) return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, message: `Consumer group ${g.groupId} not found.` };
    return { errorCode: ErrorCode.GROUP_ID_NOT_FOUND, message: `Group ${g.groupId} is not a consumer group.` };
  }

  /** The stored subscription of a member (the handler resolves it when a heartbeat does not resend it). */
  storedSubscription(g: ClassicGroup | undefined, memberId: string): { names: string[]; regex: string | null } | null {
    const m = g?.consumer?.members.get(memberId);
    return m ? { names: m.subscribedTopicNames, regex: m.subscribedTopicRegex } : null;
  }

  async heartbeat(g: ClassicGroup, p: ConsumerHeartbeatParams): Promise<ConsumerHeartbeatResult> {
    const cg = g.consumer!;
    const result = this.applyHeartbeat(g, cg, p);
    if (result.errorCode !== ErrorCode.NONE) return result;
    const stored = await this.persist(g, cg);
    if (stored !== ErrorCode.NONE) return this.error(p.memberId, p.memberEpoch, stored, null);
    return result;
  }

  /** Write the group's entry when it changed (else wait for the write of the same state); NONE when durable. */
  private persist(g: ClassicGroup, cg: ConsumerGroup): Promise<number> {
    // Converted back to a classic group meanwhile (online downgrade): its entry is gone for good.
    if (g.consumer !== cg) return Promise.resolve(ErrorCode.NONE);
    const value = encodeConsumerGroup(cg);
    if (cg.lastWrite && cg.lastStored?.equals(value)) return cg.lastWrite;
    const write = this.host.storeConsumerGroup(g, value).then((code) => {
      if (code !== ErrorCode.NONE && cg.lastWrite === write) {
        cg.lastStored = null;
        cg.lastWrite = null;
      }
      return code;
    });
    cg.lastStored = value;
    cg.lastWrite = write;
    return write;
  }

  private applyHeartbeat(g: ClassicGroup, cg: ConsumerGroup, p: ConsumerHeartbeatParams): ConsumerHeartbeatResult {
    const now = this.host.clock.now();
    // Leaving (Kafka's consumerGroupLeave).
    if (p.memberEpoch === LEAVE_GROUP_MEMBER_EPOCH || p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
      let member: ConsumerMember | undefined;
      if (p.instanceId !== null) {
        member = cg.staticMember(p.instanceId);
        if (!member) return this.error(p.memberId, p.memberEpoch, ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
        if (member.memberId !== p.memberId) return this.error(p.memberId, p.memberEpoch, ErrorCode.FENCED_INSTANCE_ID, `Static member ${p.memberId} with instance id ${p.instanceId} was fenced by member ${member.memberId}.`);
      } else {
        member = cg.members.get(p.memberId);
        if (!member) return this.error(p.memberId, p.memberEpoch, ErrorCode.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${g.groupId}.`);
      }
      if (p.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH && p.instanceId !== null) {
        // A static member goes away for a while: it keeps its assignment until its session times out.
        member.previousMemberEpoch = member.memberEpoch;
        member.memberEpoch = LEAVE_GROUP_STATIC_MEMBER_EPOCH;
        // Kafka resets the assignment epochs: the member that comes back holds them from epoch 0.
        for (const k of member.assignmentEpochs.keys()) member.assignmentEpochs.set(k, 0);
        this.scheduleSessionTimeout(g, cg, member);
        this.log.info({ group: g.groupId, memberId: member.memberId, instanceId: member.instanceId }, 'static member left temporarily (its assignment is kept for the session timeout)');
      } else {
        this.fence(g, cg, member, 'left the group');
      }
      return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: p.memberId, memberEpoch: p.memberEpoch, heartbeatIntervalMs: 0, assignment: null };
    }

    let member: ConsumerMember | undefined;
    let bump = false;
    let isNew = false;
    let replaced = false;
    if (p.memberEpoch === 0) {
      if (!cg.members.has(p.memberId) && (p.instanceId === null || !cg.staticMembers.has(p.instanceId)) && cg.members.size >= this.config.maxSize) {
        return this.error(p.memberId, p.memberEpoch, ErrorCode.GROUP_MAX_SIZE_REACHED, `The consumer group has reached its maximum capacity of ${this.config.maxSize} members.`);
      }
      const memberId = p.memberId !== '' ? p.memberId : randomUUID();
      if (p.instanceId !== null) {
        const existing = cg.staticMember(p.instanceId);
        if (existing && existing.memberId !== memberId) {
          if (existing.memberEpoch !== LEAVE_GROUP_STATIC_MEMBER_EPOCH) {
            return this.error(p.memberId, p.memberEpoch, ErrorCode.UNRELEASED_INSTANCE_ID, `Static member ${memberId} with instance id ${p.instanceId} cannot join the group because the instance id is owned by ${existing.memberId} member.`);
          }
          // The static member is back under a new member id: it takes over the old one's assignment and epoch.
          const replacement = new ConsumerMember(memberId, p.instanceId, p.clientId, p.clientHost, p.namespace);
          replacement.memberEpoch = existing.previousMemberEpoch;
          replacement.previousMemberEpoch = existing.previousMemberEpoch;
          replacement.state = existing.state;
          replacement.assigned = existing.assigned;
          replacement.pendingRevocation = existing.pendingRevocation;
          replacement.assignmentEpochs = existing.assignmentEpochs;
          replacement.subscribedTopicNames = existing.subscribedTopicNames;
          replacement.subscribedTopicRegex = existing.subscribedTopicRegex;
          replacement.serverAssignor = existing.serverAssignor;
          replacement.topics = existing.topics;
          replacement.rebalanceTimeoutMs = existing.rebalanceTimeoutMs;
          const target = cg.target.get(existing.memberId);
          cg.removeMember(existing.memberId);
          cg.addMember(replacement);
          if (target) cg.target.set(memberId, target);
          member = replacement;
          replaced = true;
          this.log.info({ group: g.groupId, instanceId: p.instanceId, oldMemberId: existing.memberId, memberId }, 'static member rejoined with a new member id and kept its assignment');
        } else if (existing) {
          member = existing;
        }
      } else {
        member = cg.members.get(memberId);
      }
      if (member && !replaced) {
        // A known member rejoining with epoch 0 lost its state: it starts over (its partitions are released).
        if (member.memberEpoch !== 0 || member.assigned.size > 0 || member.pendingRevocation.size > 0) {
          cg.releaseOwnership(member);
          member.memberEpoch = 0;
          member.previousMemberEpoch = 0;
          member.state = 'stable';
          member.assigned = new Map();
          member.pendingRevocation = new Map();
          bump = true;
        }
      }
      if (!member) {
        member = new ConsumerMember(memberId, p.instanceId, p.clientId, p.clientHost, p.namespace);
        cg.addMember(member);
        isNew = true;
        bump = true;
      }
    } else {
      if (p.instanceId !== null) {
        const s = cg.staticMember(p.instanceId);
        if (!s) return this.error(p.memberId, p.memberEpoch, ErrorCode.UNKNOWN_MEMBER_ID, `Instance id ${p.instanceId} is unknown.`);
        if (s.memberId !== p.memberId) return this.error(p.memberId, p.memberEpoch, ErrorCode.FENCED_INSTANCE_ID, `Static member ${p.memberId} with instance id ${p.instanceId} was fenced by member ${s.memberId}.`);
      }
      member = cg.members.get(p.memberId);
      if (!member) return this.error(p.memberId, p.memberEpoch, ErrorCode.UNKNOWN_MEMBER_ID, `Member ${p.memberId} is not a member of group ${g.groupId}.`);
      const fenced = this.checkMemberEpoch(member, p.memberEpoch, p.owned, cg);
      if (fenced) return this.error(p.memberId, p.memberEpoch, ErrorCode.FENCED_MEMBER_EPOCH, fenced);
    }

    // Update the member from the request.
    const before = { assigned: member.assigned, epoch: member.memberEpoch };
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    member.namespace = p.namespace;
    if (p.rackId !== null) member.rackId = p.rackId;
    if (p.rebalanceTimeoutMs !== -1) member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    if (p.subscribedTopicNames !== null) member.subscribedTopicNames = [...p.subscribedTopicNames];
    if (p.subscribedTopicRegex !== null) member.subscribedTopicRegex = p.subscribedTopicRegex === '' ? null : p.subscribedTopicRegex;
    if (p.serverAssignor !== null && p.serverAssignor !== member.serverAssignor) {
      member.serverAssignor = p.serverAssignor;
      bump = true;
    }
    const topics = [...new Set(p.subscription.topics)].sort();
    if (topics.length !== member.topics.length || topics.some((t, i) => t !== member.topics[i])) {
      member.topics = topics;
      bump = true;
    }
    if (this.refreshMetadata(cg, member, p.subscription)) bump = true;
    if (bump) cg.groupEpoch++;
    if (cg.groupEpoch > cg.assignmentEpoch) this.computeTargetAssignment(g, cg);

    // Reconcile the member toward its target.
    this.reconcileMember(cg, member, p.owned === null ? null : this.byName(cg, p.owned));
    if (isNew || before.epoch !== member.memberEpoch || !partitionsEqual(before.assigned, member.assigned)) {
      this.log.debug({ group: g.groupId, memberId: member.memberId, memberEpoch: member.memberEpoch, state: member.state, groupEpoch: cg.groupEpoch }, 'consumer group member reconciled');
    }
    this.scheduleSessionTimeout(g, cg, member);
    this.scheduleRebalanceTimeout(g, cg, member);
    g.stateTimestamp = now;

    const full = p.memberEpoch === 0 || (p.rebalanceTimeoutMs !== -1 && p.subscribedTopicNames !== null && p.owned !== null);
    const assignment = full || !partitionsEqual(before.assigned, member.assigned) ? this.byId(cg, member.assigned) : null;
    return { errorCode: ErrorCode.NONE, errorMessage: null, memberId: member.memberId, memberEpoch: member.memberEpoch, heartbeatIntervalMs: this.config.heartbeatIntervalMs, assignment };
  }

  /**
   * Subscribed topics' metadata: a new topic, a changed partition count or a re-created topic is a
   * change (the group epoch moves). `fresh` is the metadata of `member`'s topics as resolved now.
   */
  private refreshMetadata(cg: ConsumerGroup, member: ConsumerMember, fresh: ResolvedSubscription): boolean {
    const metadata = new Map<string, TopicMetadata>();
    for (const t of cg.subscribedTopics()) {
      const m = fresh.metadata.get(t) ?? (member.topics.includes(t) ? undefined : cg.topics.get(t));
      if (m) metadata.set(t, m);
    }
    if (sameMetadata(metadata, cg.topics)) return false;
    cg.topics = metadata;
    return true;
  }

  /** Move the member toward its target; true when its assigned partitions changed. */
  private reconcileMember(cg: ConsumerGroup, member: ConsumerMember, owned: Partitions | null): void {
    cg.releaseOwnership(member);
    const r = reconcile(member, cg.assignmentEpoch, cg.targetOf(member.memberId), owned, (t, x) => cg.partitionEpoch(t, x));
    if (r.memberEpoch !== member.memberEpoch) member.previousMemberEpoch = member.memberEpoch;
    // Partitions kept keep their assignment epoch; new ones get the member's new epoch (KIP-1251).
    const epochs = new Map<string, number>();
    for (const p of [r.assigned, r.pendingRevocation]) {
      for (const [t, s] of p) for (const x of s) epochs.set(`${t}\0${x}`, member.assignmentEpochs.get(`${t}\0${x}`) ?? r.memberEpoch);
    }
    member.assignmentEpochs = epochs;
    member.memberEpoch = r.memberEpoch;
    member.state = r.state;
    member.assigned = r.assigned;
    member.pendingRevocation = r.pendingRevocation;
    cg.takeOwnership(member);
  }

  /** Kafka's throwIfConsumerGroupMemberEpochIsInvalid: the message, or null when the epoch is acceptable. */
  private checkMemberEpoch(member: ConsumerMember, received: number, owned: ConsumerHeartbeatParams['owned'], cg: ConsumerGroup): string | null {
    if (received > member.memberEpoch) {
      return `The consumer group member has a greater member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`;
    }
    if (received < member.memberEpoch) {
      // The previous epoch with a subset of the assignment: the response with the new epoch was lost.
      const ok = received === member.previousMemberEpoch && owned !== null && this.isSubset(this.byName(cg, owned), member.assigned);
      if (!ok) return `The consumer group member has a smaller member epoch (${received}) than the one known by the group coordinator (${member.memberEpoch}). The member must abandon all its partitions and rejoin.`;
    }
    return null;
  }

  private isSubset(owned: Partitions, assigned: Partitions): boolean {
    for (const [t, s] of owned) {
      const a = assigned.get(t);
      for (const p of s) if (!a?.has(p)) return false;
    }
    return true;
  }

  private computeTargetAssignment(g: ClassicGroup, cg: ConsumerGroup): void {
    const name = cg.preferredAssignor(DEFAULT_ASSIGNOR);
    const assignor = ASSIGNORS.get(name) ?? ASSIGNORS.get(DEFAULT_ASSIGNOR)!;
    const counts = new Map<string, number>();
    for (const [t, m] of cg.topics) counts.set(t, m.partitions);
    const members = [...cg.members.values()].map((m) => ({ memberId: m.memberId, topics: m.topics }));
    cg.target = assignor.assign(members, counts, cg.target);
    cg.assignmentEpoch = cg.groupEpoch;
    cg.assignorName = assignor.name;
    this.host.countRebalance();
    this.log.info({ group: g.groupId, tenant: g.key.tenant, groupEpoch: cg.groupEpoch, assignor: assignor.name, members: members.length, topics: counts.size }, 'consumer group: new target assignment');
  }

  /** Remove a member (left, session or rebalance timeout): the group epoch moves, its partitions go to others. */
  fence(g: ClassicGroup, cg: ConsumerGroup, member: ConsumerMember, why: string): void {
    cg.removeMember(member.memberId);
    cg.groupEpoch++;
    // Topics only this member subscribed to leave the group's metadata.
    const subscribed = cg.subscribedTopics();
    for (const t of [...cg.topics.keys()]) if (!subscribed.has(t)) cg.topics.delete(t);
    if (cg.members.size > 0) this.computeTargetAssignment(g, cg);
    else cg.assignmentEpoch = cg.groupEpoch;
    g.stateTimestamp = this.host.clock.now();
    this.log.info({ group: g.groupId, tenant: g.key.tenant, memberId: member.memberId, instanceId: member.instanceId, groupEpoch: cg.groupEpoch, reason: why }, 'consumer group member removed');
    // Kafka's online downgrade: the last consumer-protocol member left a group of classic members.
    if (!member.classic && cg.members.size > 0 && [...cg.members.values()].every((m) => m.classic !== null)) this.host.downgrade(g);
  }

  /** Classic members of a consumer group, as the classic coordinator takes them over (online downgrade). */
  classicMembersOf(cg: ConsumerGroup): Array<{ member: ConsumerMember; assignment: Buffer }> {
    return [...cg.members.values()].map((m) => {
      let version = 0;
      try {
        version = Math.min(decodeVersioned(ConsumerProtocolSubscription, m.classic!.protocols[0]!.metadata).version, 3);
      } catch {
        // version 0
      }
      const assignment = encodeVersioned(ConsumerProtocolAssignment, version, {
        assignedPartitions: [...m.assigned].map(([t, s]) => ({ topic: kafkaNameFor(t, m.namespace), partitions: sortedPartitions(s) })),
        userData: null,
      });
      return { member: m, assignment };
    });
  }

  private fenceAndStore(g: ClassicGroup, member: ConsumerMember, why: string): void {
    const cg = g.consumer;
    if (!cg || cg.members.get(member.memberId) !== member || g.is('Dead')) return;
    this.fence(g, cg, member, why);
    void this.persist(g, cg);
  }

  scheduleSessionTimeout(g: ClassicGroup, cg: ConsumerGroup, member: ConsumerMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = this.host.clock.schedule(member.classic?.sessionTimeoutMs ?? this.config.sessionTimeoutMs, () => {
      member.sessionTimer = null;
      if (g.consumer === cg) this.fenceAndStore(g, member, 'session timeout');
    });
  }

  /** A member asked to revoke partitions must do so within its rebalance timeout, or it is fenced. */
  private scheduleRebalanceTimeout(g: ClassicGroup, cg: ConsumerGroup, member: ConsumerMember): void {
    if (member.state !== 'unrevoked_partitions') {
      member.rebalanceTimer?.cancel();
      member.rebalanceTimer = null;
      return;
    }
    if (member.rebalanceTimer) return;
    const epoch = member.memberEpoch;
    member.rebalanceTimer = this.host.clock.schedule(Math.max(member.rebalanceTimeoutMs, 1), () => {
      member.rebalanceTimer = null;
      if (g.consumer === cg && member.state === 'unrevoked_partitions' && member.memberEpoch === epoch) this.fenceAndStore(g, member, 'rebalance timeout (partitions not revoked in time)');
    });
  }

  /** Kafka's scheduleConsumerGroupJoinTimeoutIfAbsent: a classic member told to rejoin must, within its rebalance timeout. */
  private scheduleJoinTimeout(g: ClassicGroup, cg: ConsumerGroup, member: ConsumerMember): void {
    if (member.joinTimer) return;
    member.joinTimer = this.host.clock.schedule(Math.max(member.rebalanceTimeoutMs, 1), () => {
      member.joinTimer = null;
      if (g.consumer === cg) this.fenceAndStore(g, member, 'the classic member failed to join within the rebalance timeout');
    });
  }

  /** Kafka's scheduleConsumerGroupSyncTimeout: a classic member that joined must send SyncGroup within its rebalance timeout. */
  private scheduleSyncTimeout(g: ClassicGroup, cg: ConsumerGroup, member: ConsumerMember): void {
    member.syncTimer?.cancel();
    member.syncTimer = this.host.clock.schedule(Math.max(member.rebalanceTimeoutMs, 1), () => {
      member.syncTimer = null;
      if (g.consumer === cg) this.fenceAndStore(g, member, 'the classic member failed to sync within the rebalance timeout');
    });
  }

  /** Start the session timers of a loaded group's members (they must heartbeat to the new coordinator). */
  onLoaded(g: ClassicGroup): void {
    const cg = g.consumer;
    if (!cg) return;
    for (const m of cg.members.values()) this.scheduleSessionTimeout(g, cg, m);
  }

  cancelTimers(cg: ConsumerGroup): void {
    for (const m of cg.members.values()) m.cancelTimers();
  }

  private byName(cg: ConsumerGroup, owned: Array<{ topicId: Buffer; partitions: number[] }>): Partitions {
    const names = new Map<string, string>();
    for (const [t, m] of cg.topics) names.set(hex(m.topicId), t);
    const out: Partitions = new Map();
    for (const o of owned) {
      const t = names.get(hex(o.topicId));
      if (t === undefined) continue;
      let s = out.get(t);
      if (!s) out.set(t, (s = new Set()));
      for (const p of o.partitions) s.add(p);
    }
    return out;
  }

  private byId(cg: ConsumerGroup, p: Partitions): Array<{ topicId: Buffer; partitions: number[] }> {
    const out: Array<{ topicId: Buffer; partitions: number[] }> = [];
    for (const [t, s] of p) {
      const m = cg.topics.get(t);
      if (m && s.size > 0) out.push({ topicId: m.topicId, partitions: sortedPartitions(s) });
    }
    return out;
  }

  describe(g: ClassicGroup): DescribedConsumerGroup {
    const cg = g.consumer!;
    const withIds = (p: Partitions) => {
      const out: DescribedConsumerMember['assignment'] = [];
      for (const [t, s] of p) {
        const m = cg.topics.get(t);
        if (m && s.size > 0) out.push({ topic: t, topicId: m.topicId, partitions: sortedPartitions(s) });
      }
      return out;
    };
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      state: g.is('Dead') ? 'Dead' : cg.state(),
      groupEpoch: cg.groupEpoch,
      assignmentEpoch: cg.assignmentEpoch,
      assignorName: cg.assignorName || DEFAULT_ASSIGNOR,
      members: [...cg.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        memberEpoch: m.memberEpoch,
        clientId: m.clientId,
        clientHost: m.clientHost,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        assignment: withIds(m.assigned),
        targetAssignment: withIds(cg.targetOf(m.memberId)),
        namespace: m.namespace,
      })),
    };
  }

  /**
   * Kafka 4.3's ConsumerGroup.validateOffsetCommit (KIP-1251): the error code for the whole commit, or
   * null. `memberEpoch` is the request's generationIdOrMemberEpoch. The member's epoch commits every
   * partition; a newer one is refused; an older one commits only partitions the member has held since
   * that epoch or earlier (its commit may cross a heartbeat that moved its epoch).
   */
  validateOffsetCommit(cg: ConsumerGroup, memberId: string, memberEpoch: number, apiVersion: number, partitions: ReadonlyArray<{ topic: string; partition: number }>): number | null {
    // Admin tools and consumers without group management may commit while the group is empty.
    if (memberEpoch < 0 && cg.members.size === 0) return null;
    const m = cg.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    // A classic member commits with its generation (its epoch) at any version, fenced as classic ones are.
    if (!m.classic && apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    const refused = m.classic ? ErrorCode.ILLEGAL_GENERATION : ErrorCode.STALE_MEMBER_EPOCH;
    if (memberEpoch === m.memberEpoch) return null;
    if (memberEpoch > m.memberEpoch) return refused;
    for (const { topic, partition } of partitions) {
      const since = m.assignmentEpochs.get(`${topic}\0${partition}`);
      if (since === undefined || since > memberEpoch) return refused;
    }
    return null;
  }

  // ------------------------------------------------------------------ classic members (Kafka 4.x mixed groups)

  /** Resolved subscription of a classic member's JoinGroup metadata (topic names in its namespace). */
  private async classicSubscription(protocols: Array<{ name: string; metadata: Buffer }>, namespace: NamespaceRef, known: Map<string, TopicMetadata>): Promise<{ names: string[]; topics: string[]; owned: Partitions; version: number; metadata: Map<string, TopicMetadata> } | null> {
    let sub: ConsumerProtocolSubscription;
    let version: number;
    try {
      ({ value: sub, version } = decodeVersioned(ConsumerProtocolSubscription, protocols[0]!.metadata));
    } catch {
      return null;
    }
    const full = (name: string) => {
      try {
        return resolveTopic(name, namespace).full;
      } catch {
        return null;
      }
    };
    const topics = [...new Set(sub.topics.map(full).filter((t): t is string => t !== null))].sort();
    const metadata = new Map<string, TopicMetadata>();
    await Promise.all(
      topics.map(async (t) => {
        const m = known.get(t) ?? (await this.host.topicMetadata(t).catch(() => null));
        if (m && m.partitions > 0) metadata.set(t, m);
      }),
    );
    const owned: Partitions = new Map();
    for (const tp of sub.ownedPartitions) {
      const t = full(tp.topic);
      if (t !== null) owned.set(t, new Set(tp.partitions));
    }
    return { names: sub.topics, topics, owned, version, metadata };
  }

  /** The member a classic request names (Kafka's validateConsumerGroupMember), or the error. */
  private classicMember(cg: ConsumerGroup, memberId: string, instanceId: string | null): ConsumerMember | number {
    if (instanceId !== null) {
      const s = cg.staticMember(instanceId);
      if (!s) return ErrorCode.UNKNOWN_MEMBER_ID;
      if (s.memberId !== memberId) return ErrorCode.FENCED_INSTANCE_ID;
    }
    const m = cg.members.get(memberId);
    // A member of the consumer protocol cannot use the classic APIs (Kafka: UNKNOWN_MEMBER_ID).
    if (!m || !m.classic) return ErrorCode.UNKNOWN_MEMBER_ID;
    return m;
  }

  /** JoinGroup of a classic member to a consumer group with members (Kafka's classicGroupJoinToConsumerGroup). */
  async classicJoin(g: ClassicGroup, p: JoinGroupParams): Promise<JoinResult> {
    const cg = g.consumer!;
    const unknown = p.memberId === '';
    const memberId = unknown ? `${p.groupInstanceId ?? p.clientId}-${randomUUID()}` : p.memberId;
    if (cg.members.size >= this.config.maxSize && !cg.members.has(memberId) && (p.groupInstanceId === null || !cg.staticMembers.has(p.groupInstanceId))) {
      return joinError(unknown ? '' : memberId, ErrorCode.GROUP_MAX_SIZE_REACHED);
    }
    if (p.protocolType !== 'consumer' || p.protocols.length === 0) return joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (unknown && p.requireKnownMemberId && p.groupInstanceId === null) return joinError(memberId, ErrorCode.MEMBER_ID_REQUIRED);
    const sub = await this.classicSubscription(p.protocols, p.namespace, cg.topics);
    if (sub === null) return joinError(p.memberId, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (g.consumer !== cg || !this.host.isCurrent(g)) return joinError(p.memberId, ErrorCode.NOT_COORDINATOR);
    let member = cg.members.get(memberId);
    let bump = false;
    if (p.groupInstanceId !== null) {
      const existing = cg.staticMember(p.groupInstanceId);
      if (existing && existing.memberId !== memberId) {
        if (!unknown) return joinError(p.memberId, ErrorCode.FENCED_INSTANCE_ID);
        // A restarted static member: it takes over the old one's epoch and assignment.
        const target = cg.target.get(existing.memberId);
        cg.removeMember(existing.memberId);
        const replacement = Object.assign(new ConsumerMember(memberId, p.groupInstanceId, p.clientId, p.clientHost, p.namespace), {
          memberEpoch: existing.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH ? existing.previousMemberEpoch : existing.memberEpoch,
          previousMemberEpoch: existing.previousMemberEpoch,
          state: existing.state,
          assigned: existing.assigned,
          pendingRevocation: existing.pendingRevocation,
          assignmentEpochs: existing.assignmentEpochs,
          topics: existing.topics,
          subscribedTopicNames: existing.subscribedTopicNames,
        });
        cg.addMember(replacement);
        if (target) cg.target.set(memberId, target);
        member = replacement;
      }
    }
    if (!member) {
      // A new member, or one that got its id with MEMBER_ID_REQUIRED (Kafka creates it on this join).
      member = new ConsumerMember(memberId, p.groupInstanceId, p.clientId, p.clientHost, p.namespace);
      cg.addMember(member);
      bump = true;
    } else if (!member.classic && !unknown) {
      return joinError(p.memberId, ErrorCode.UNKNOWN_MEMBER_ID);
    }
    member.classic = { sessionTimeoutMs: p.sessionTimeoutMs, protocols: p.protocols.map((x) => ({ name: x.name, metadata: x.metadata })) };
    member.clientId = p.clientId;
    member.clientHost = p.clientHost;
    member.namespace = p.namespace;
    member.rebalanceTimeoutMs = p.rebalanceTimeoutMs;
    member.subscribedTopicNames = [...sub.names];
    if (sub.topics.length !== member.topics.length || sub.topics.some((t, i) => t !== member!.topics[i])) {
      member.topics = sub.topics;
      bump = true;
    }
    if (this.refreshMetadata(cg, member, { topics: sub.topics, metadata: sub.metadata })) bump = true;
    if (bump) cg.groupEpoch++;
    if (cg.groupEpoch > cg.assignmentEpoch) this.computeTargetAssignment(g, cg);
    this.reconcileMember(cg, member, sub.owned);
    this.scheduleSessionTimeout(g, cg, member);
    this.scheduleRebalanceTimeout(g, cg, member);
    g.stateTimestamp = this.host.clock.now();
    const stored = await this.persist(g, cg);
    if (stored !== ErrorCode.NONE) return joinError(memberId, stored);
    if (cg.members.get(memberId) === member) {
      member.joinTimer?.cancel();
      member.joinTimer = null;
      this.scheduleSyncTimeout(g, cg, member);
    }
    this.log.debug({ group: g.groupId, memberId, memberEpoch: member.memberEpoch, state: member.state }, 'classic member joined the consumer group');
    return {
      errorCode: ErrorCode.NONE,
      memberId,
      generationId: member.memberEpoch,
      protocolType: 'consumer',
      protocolName: p.protocols[0]!.name,
      leaderId: '',
      skipAssignment: false,
      members: [],
    };
  }

  /** SyncGroup of a classic member (Kafka's classicGroupSyncToConsumerGroup): its assigned partitions. */
  classicSync(g: ClassicGroup, p: SyncGroupParams): SyncResult {
    const cg = g.consumer!;
    const m = this.classicMember(cg, p.memberId, p.groupInstanceId);
    if (typeof m === 'number') return syncError(m);
    if (p.generationId !== m.memberEpoch) return syncError(ErrorCode.ILLEGAL_GENERATION);
    const protocol = m.classic!.protocols[0]!.name;
    if ((p.protocolType !== null && p.protocolType !== 'consumer') || (p.protocolName !== null && p.protocolName !== protocol)) return syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    if (cg.groupEpoch > m.memberEpoch && m.state !== 'unrevoked_partitions') {
      this.scheduleJoinTimeout(g, cg, m);
      return syncError(ErrorCode.REBALANCE_IN_PROGRESS);
    }
    m.syncTimer?.cancel();
    m.syncTimer = null;
    this.scheduleSessionTimeout(g, cg, m);
    let version = 0;
    try {
      version = Math.min(decodeVersioned(ConsumerProtocolSubscription, m.classic!.protocols[0]!.metadata).version, 3);
    } catch {
      // the join decoded it; keep version 0
    }
    const assignment = encodeVersioned(ConsumerProtocolAssignment, version, {
      assignedPartitions: [...m.assigned].map(([t, s]) => ({ topic: kafkaNameFor(t, m.namespace), partitions: sortedPartitions(s) })),
      userData: null,
    });
    return { errorCode: ErrorCode.NONE, protocolType: 'consumer', protocolName: protocol, assignment };
  }

  /** Heartbeat of a classic member (Kafka's classicGroupHeartbeatToConsumerGroup). */
  classicHeartbeat(g: ClassicGroup, p: HeartbeatParams): number {
    const cg = g.consumer!;
    const m = this.classicMember(cg, p.memberId, p.groupInstanceId);
    if (typeof m === 'number') return m;
    if (p.generationId !== m.memberEpoch) return ErrorCode.ILLEGAL_GENERATION;
    this.scheduleSessionTimeout(g, cg, m);
    // Rejoin to catch up with the group epoch, to revoke, or to take partitions released meanwhile.
    if (m.memberEpoch < cg.groupEpoch || m.state === 'unrevoked_partitions' || (m.state === 'unreleased_partitions' && !this.waitingOnUnreleased(cg, m))) {
      this.scheduleJoinTimeout(g, cg, m);
      return ErrorCode.REBALANCE_IN_PROGRESS;
    }
    return ErrorCode.NONE;
  }

  private waitingOnUnreleased(cg: ConsumerGroup, m: ConsumerMember): boolean {
    for (const [t, s] of cg.targetOf(m.memberId)) for (const p of s) if (!m.assigned.get(t)?.has(p) && cg.partitionEpoch(t, p) !== -1) return true;
    return false;
  }

  /** LeaveGroup of a classic member, or of a static member by instance id (admin): its error code. */
  classicLeave(g: ClassicGroup, memberId: string, instanceId: string | null): number {
    const cg = g.consumer!;
    let m: ConsumerMember | undefined;
    if (memberId === '' && instanceId !== null) m = cg.staticMember(instanceId);
    else {
      const found = this.classicMember(cg, memberId, instanceId);
      if (typeof found === 'number') return found;
      m = found;
    }
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    this.fence(g, cg, m, 'left the group (LeaveGroup)');
    void this.persist(g, cg);
    return ErrorCode.NONE;
  }

  /** The resolved topics a classic group's members subscribe to, for an online upgrade. */
  classicTopics(g: ClassicGroup): string[] {
    const out = new Set<string>();
    for (const m of g.members.values()) {
      try {
        const meta = g.protocolName !== null ? m.metadataFor(g.protocolName) : m.protocols[0]?.metadata;
        if (!meta) continue;
        for (const t of decodeVersioned(ConsumerProtocolSubscription, meta).value.topics) {
          try {
            out.add(resolveTopic(t, m.namespace).full);
          } catch {
            // not a topic name
          }
        }
      } catch {
        // undecodable metadata: no topics
      }
    }
    return [...out];
  }

  /**
   * Kafka's online upgrade (convertToConsumerGroup): the classic members become members of a new consumer
   * group with their generation as epoch and their current assignment; `metadata` covers their topics.
   * The caller has checked the group uses the consumer protocol type; it clears the classic state.
   */
  convertFromClassic(g: ClassicGroup, metadata: Map<string, TopicMetadata>): ConsumerGroup {
    const cg = new ConsumerGroup();
    cg.groupEpoch = g.generationId;
    cg.assignmentEpoch = g.generationId;
    for (const [t, m] of metadata) cg.topics.set(t, m);
    for (const cm of g.members.values()) {
      const m = new ConsumerMember(cm.memberId, cm.groupInstanceId, cm.clientId, cm.clientHost, cm.namespace);
      m.memberEpoch = g.generationId;
      m.previousMemberEpoch = g.generationId;
      m.rebalanceTimeoutMs = cm.rebalanceTimeoutMs;
      m.classic = { sessionTimeoutMs: cm.sessionTimeoutMs, protocols: cm.protocols.map((x) => ({ name: x.name, metadata: x.metadata })) };
      const meta = g.protocolName !== null && cm.protocols.some((x) => x.name === g.protocolName) ? cm.metadataFor(g.protocolName) : cm.protocols[0]?.metadata;
      try {
        const names = meta ? decodeVersioned(ConsumerProtocolSubscription, meta).value.topics : [];
        m.subscribedTopicNames = names;
        m.topics = [...new Set(names.map((n) => resolveTopic(n, cm.namespace).full))].sort();
      } catch {
        // no usable subscription: the member gets nothing until it rejoins
      }
      try {
        if (cm.assignment.length > 0) {
          for (const tp of decodeVersioned(ConsumerProtocolAssignment, cm.assignment).value.assignedPartitions) {
            const t = resolveTopic(tp.topic, cm.namespace).full;
            const n = metadata.get(t)?.partitions ?? 0;
            const s = new Set(tp.partitions.filter((p) => p >= 0 && p < n && cg.partitionEpoch(t, p) === -1));
            if (s.size > 0) m.assigned.set(t, s);
            for (const p of s) m.assignmentEpochs.set(`${t}\0${p}`, g.generationId);
          }
        }
      } catch {
        // an assignment the coordinator cannot read: the member starts with none
      }
      cg.addMember(m);
      cg.target.set(m.memberId, new Map([...m.assigned].map(([t, s]) => [t, sortedPartitions(s)])));
    }
    cg.assignorName = DEFAULT_ASSIGNOR;
    this.log.info({ group: g.groupId, tenant: g.key.tenant, members: cg.members.size, generation: g.generationId }, 'classic group converted to a consumer group (online upgrade)');
    return cg;
  }

  /** Timers and persistence of a converted group's members, once it is installed. */
  afterConversion(g: ClassicGroup): Promise<number> {
    const cg = g.consumer!;
    for (const m of cg.members.values()) this.scheduleSessionTimeout(g, cg, m);
    return this.persist(g, cg);
  }

  /** Kafka's ConsumerGroup.validateOffsetFetch (OffsetFetch v9+ names the member). */
  validateOffsetFetch(cg: ConsumerGroup, memberId: string | null, memberEpoch: number): number | null {
    if (memberId === null && memberEpoch < 0) return null;
    const m = memberId === null ? undefined : cg.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (memberEpoch !== m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return null;
  }
}

function sameMetadata(a: Map<string, TopicMetadata>, b: Map<string, TopicMetadata>): boolean {
  if (a.size !== b.size) return false;
  for (const [t, m] of a) {
    const o = b.get(t);
    if (!o || o.partitions !== m.partitions || !o.topicId.equals(m.topicId)) return false;
  }
  return true;
}

export function consumerGroupState(g: ClassicGroup): ConsumerGroupState {
  return g.is('Dead') ? 'Dead' : g.consumer!.state();
}

// ------------------------------------------------------------------ durable form

const partitionsToJson = (p: Partitions) => [...p].map(([t, s]) => [t, sortedPartitions(s)]);
const partitionsFromJson = (j: Array<[string, number[]]>): Partitions => new Map(j.map(([t, ps]) => [t, new Set(ps)]));

export function encodeConsumerGroup(cg: ConsumerGroup): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      groupEpoch: cg.groupEpoch,
      assignmentEpoch: cg.assignmentEpoch,
      assignorName: cg.assignorName,
      topics: [...cg.topics].map(([t, m]) => [t, m.topicId.toString('base64'), m.partitions]),
      target: [...cg.target].map(([id, a]) => [id, [...a]]),
      members: [...cg.members.values()].map((m) => ({
        memberId: m.memberId,
        instanceId: m.instanceId,
        rackId: m.rackId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        tenant: m.namespace.tenant,
        namespace: m.namespace.namespace,
        memberEpoch: m.memberEpoch,
        previousMemberEpoch: m.previousMemberEpoch,
        state: m.state,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        subscribedTopicNames: m.subscribedTopicNames,
        subscribedTopicRegex: m.subscribedTopicRegex,
        serverAssignor: m.serverAssignor,
        topics: m.topics,
        assigned: partitionsToJson(m.assigned),
        pendingRevocation: partitionsToJson(m.pendingRevocation),
        assignmentEpochs: [...m.assignmentEpochs],
        classic: m.classic && { sessionTimeoutMs: m.classic.sessionTimeoutMs, protocols: m.classic.protocols.map((x) => [x.name, x.metadata.toString('base64')]) },
      })),
    }),
  );
}

export function decodeConsumerGroup(buf: Buffer): ConsumerGroup {
  const j = JSON.parse(buf.toString('utf8'));
  if (j.v !== 1) throw new Error(`unknown consumer group version ${j.v}`);
  const cg = new ConsumerGroup();
  cg.groupEpoch = j.groupEpoch;
  cg.assignmentEpoch = j.assignmentEpoch;
  cg.assignorName = j.assignorName ?? '';
  cg.topics = new Map((j.topics as Array<[string, string, number]>).map(([t, id, n]) => [t, { topicId: Buffer.from(id, 'base64'), partitions: n }]));
  const target: TargetAssignment = new Map();
  for (const [id, a] of j.target as Array<[string, Array<[string, number[]]>]>) target.set(id, new Map(a));
  cg.target = target;
  for (const s of j.members as any[]) {
    const m = new ConsumerMember(s.memberId, s.instanceId, s.clientId, s.clientHost, { tenant: s.tenant, namespace: s.namespace });
    m.rackId = s.rackId;
    m.memberEpoch = s.memberEpoch;
    m.previousMemberEpoch = s.previousMemberEpoch;
    m.state = s.state;
    m.rebalanceTimeoutMs = s.rebalanceTimeoutMs;
    m.subscribedTopicNames = s.subscribedTopicNames;
    m.subscribedTopicRegex = s.subscribedTopicRegex;
    m.serverAssignor = s.serverAssignor;
    m.topics = s.topics;
    m.assigned = partitionsFromJson(s.assigned);
    m.pendingRevocation = partitionsFromJson(s.pendingRevocation);
    if (Array.isArray(s.assignmentEpochs)) m.assignmentEpochs = new Map(s.assignmentEpochs);
    else for (const p of [m.assigned, m.pendingRevocation]) for (const [t, ps] of p) for (const x of ps) m.assignmentEpochs.set(`${t}\0${x}`, m.memberEpoch);
    if (s.classic) m.classic = { sessionTimeoutMs: s.classic.sessionTimeoutMs, protocols: (s.classic.protocols as Array<[string, string]>).map(([name, b64]) => ({ name, metadata: Buffer.from(b64, 'base64') })) };
    cg.addMember(m);
  }
  return cg;
}

export type { GroupKey };
