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
 *    turns it into a consumer group (Kafka's online upgrade of an empty group);
 *    to a classic group with members: GROUP_ID_NOT_FOUND ("Group g is not a
 *    consumer group"), what Kafka answers when the online upgrade of a group
 *    with members is not possible (documented: docs/consumer-groups.md);
 *  - a JoinGroup to an empty consumer group turns it back into a classic
 *    group; to one with members: INCONSISTENT_GROUP_PROTOCOL (classic members
 *    inside consumer groups are not served).
 *
 * Durable state: one entry per group (store.ts kind "c") with the epochs, the
 * members (epochs, subscriptions, current assignments) and the target
 * assignment, written (when it changed) before the heartbeat that changed it is answered; a
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
import type { ClassicGroup } from './group.js';
import type { GroupKey } from './locator.js';

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
    // Subscribed topics' metadata: a new topic, a changed partition count or a re-created topic moves the epoch.
    const subscribed = cg.subscribedTopics();
    const metadata = new Map<string, TopicMetadata>();
    for (const t of subscribed) {
      const fresh = p.subscription.metadata.get(t);
      const known = cg.topics.get(t);
      const m = fresh ?? (member.topics.includes(t) ? undefined : known);
      if (m) metadata.set(t, m);
    }
    if (!sameMetadata(metadata, cg.topics)) {
      cg.topics = metadata;
      bump = true;
    }
    if (bump) cg.groupEpoch++;
    if (cg.groupEpoch > cg.assignmentEpoch) this.computeTargetAssignment(g, cg);

    // Reconcile the member toward its target.
    const owned = p.owned === null ? null : this.byName(cg, p.owned);
    cg.releaseOwnership(member);
    const r = reconcile(member, cg.assignmentEpoch, cg.targetOf(member.memberId), owned, (t, x) => cg.partitionEpoch(t, x));
    if (r.memberEpoch !== member.memberEpoch) member.previousMemberEpoch = member.memberEpoch;
    member.memberEpoch = r.memberEpoch;
    member.state = r.state;
    member.assigned = r.assigned;
    member.pendingRevocation = r.pendingRevocation;
    cg.takeOwnership(member);
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
  }

  private fenceAndStore(g: ClassicGroup, member: ConsumerMember, why: string): void {
    const cg = g.consumer;
    if (!cg || cg.members.get(member.memberId) !== member || g.is('Dead')) return;
    this.fence(g, cg, member, why);
    void this.persist(g, cg);
  }

  scheduleSessionTimeout(g: ClassicGroup, cg: ConsumerGroup, member: ConsumerMember): void {
    member.sessionTimer?.cancel();
    member.sessionTimer = this.host.clock.schedule(this.config.sessionTimeoutMs, () => {
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

  /** Start the session timers of a loaded group's members (they must heartbeat to the new coordinator). */
  onLoaded(g: ClassicGroup): void {
    const cg = g.consumer;
    if (!cg) return;
    for (const m of cg.members.values()) this.scheduleSessionTimeout(g, cg, m);
  }

  cancelTimers(cg: ConsumerGroup): void {
    for (const m of cg.members.values()) {
      m.sessionTimer?.cancel();
      m.sessionTimer = null;
      m.rebalanceTimer?.cancel();
      m.rebalanceTimer = null;
    }
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
   * Kafka's ConsumerGroup.validateOffsetCommit: the error code, or null. `memberEpoch` is the request's
   * generationIdOrMemberEpoch.
   */
  validateOffsetCommit(cg: ConsumerGroup, memberId: string, memberEpoch: number, apiVersion: number): number | null {
    // Admin tools and consumers without group management may commit while the group is empty.
    if (memberEpoch < 0 && cg.members.size === 0) return null;
    const m = cg.members.get(memberId);
    if (!m) return ErrorCode.UNKNOWN_MEMBER_ID;
    if (apiVersion < 9) return ErrorCode.UNSUPPORTED_VERSION;
    if (memberEpoch !== m.memberEpoch) return ErrorCode.STALE_MEMBER_EPOCH;
    return null;
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
    cg.addMember(m);
  }
  return cg;
}

export type { GroupKey };
