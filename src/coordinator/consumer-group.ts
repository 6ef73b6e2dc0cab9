/**
 * One group of the consumer group protocol (KIP-848, Kafka's ConsumerGroup /
 * ConsumerGroupMember / CurrentAssignmentBuilder): members with their member
 * epochs, the group epoch, the target assignment and its epoch, who owns each
 * partition now, and the reconciliation that moves a member from its current
 * assignment to its target one. Pure data and rules; the heartbeat flow,
 * timers and persistence are in consumer-group-protocol.ts.
 *
 * Epochs: the group epoch moves when the membership or a subscription (or the
 * partition count of a subscribed topic) changes; a new target assignment is
 * then computed and takes the group epoch as its epoch. A member reaches the
 * target epoch by reconciliation: partitions it must give up are revoked first
 * (it stays at its epoch, state `unrevoked_partitions`, until its heartbeat no
 * longer lists them), and a partition is handed to it only once no other member
 * owns it (`unreleased_partitions` until then). So a partition never has two
 * owners.
 *
 * States as Kafka names them (ListGroups, ConsumerGroupDescribe):
 *   Empty        no members
 *   Assigning    the group epoch is ahead of the assignment epoch (transient here)
 *   Reconciling  some member has not reached the target epoch
 *   Stable       every member is at the target epoch, stable
 *   Dead         deleted or unloaded
 */
import type { TimerHandle } from './clock.js';
import type { NamespaceRef } from '../topics/names.js';
import type { TargetAssignment } from './assignors.js';

/** LEAVE_GROUP_MEMBER_EPOCH: a member leaves for good. */
export const LEAVE_GROUP_MEMBER_EPOCH = -1;
/** LEAVE_GROUP_STATIC_MEMBER_EPOCH: a static member leaves for a while (keeps its assignment). */
export const LEAVE_GROUP_STATIC_MEMBER_EPOCH = -2;

export type ConsumerGroupState = 'Empty' | 'Assigning' | 'Reconciling' | 'Stable' | 'Dead';
export type MemberState = 'stable' | 'unrevoked_partitions' | 'unreleased_partitions';

/** topic (resolved name) -> partitions */
export type Partitions = Map<string, Set<number>>;

export function clonePartitions(p: Partitions): Partitions {
  const out: Partitions = new Map();
  for (const [t, s] of p) out.set(t, new Set(s));
  return out;
}

export function partitionsEqual(a: Partitions, b: Partitions): boolean {
  const size = (x: Partitions) => {
    let n = 0;
    for (const s of x.values()) n += s.size;
    return n;
  };
  if (size(a) !== size(b)) return false;
  for (const [t, s] of a) {
    const o = b.get(t);
    for (const p of s) if (!o?.has(p)) return false;
  }
  return true;
}

export function countPartitions(p: Partitions): number {
  let n = 0;
  for (const s of p.values()) n += s.size;
  return n;
}

export class ConsumerMember {
  memberEpoch = 0;
  previousMemberEpoch = 0;
  state: MemberState = 'stable';
  rackId: string | null = null;
  rebalanceTimeoutMs = 0;
  /** The subscription as the member sent it (Kafka names, relative to `namespace`). */
  subscribedTopicNames: string[] = [];
  subscribedTopicRegex: string | null = null;
  serverAssignor: string | null = null;
  /** Resolved names of the topics the subscription matches now (names and regex, existing or not). */
  topics: string[] = [];
  assigned: Partitions = new Map();
  pendingRevocation: Partitions = new Map();
  /**
   * KIP-1251 (Kafka 4.3): "topic\0partition" -> the member epoch at which the member got the partition
   * (assigned or pending revocation); an offset commit with an older member epoch is accepted for a
   * partition held since that epoch or earlier.
   */
  assignmentEpochs = new Map<string, number>();
  sessionTimer: TimerHandle | null = null;
  rebalanceTimer: TimerHandle | null = null;
  /** Classic members: told to rejoin, or joined, and must JoinGroup / SyncGroup within the rebalance timeout. */
  joinTimer: TimerHandle | null = null;
  syncTimer: TimerHandle | null = null;

  /** Cancel every timer of the member (it left, or the group is unloaded). */
  cancelTimers(): void {
    this.sessionTimer?.cancel();
    this.sessionTimer = null;
    this.rebalanceTimer?.cancel();
    this.rebalanceTimer = null;
    this.joinTimer?.cancel();
    this.joinTimer = null;
    this.syncTimer?.cancel();
    this.syncTimer = null;
  }

  /**
   * A member of the classic protocol inside this group (JoinGroup/SyncGroup/Heartbeat, Kafka's
   * ClassicMemberMetadata): its session timeout and JoinGroup protocols; null for KIP-848 members.
   */
  classic: { sessionTimeoutMs: number; protocols: Array<{ name: string; metadata: Buffer }> } | null = null;

  constructor(
    public memberId: string,
    readonly instanceId: string | null,
    public clientId: string,
    public clientHost: string,
    /** The member's default namespace (its topic names resolve there). */
    public namespace: NamespaceRef,
  ) {}
}

export interface TopicMetadata {
  topicId: Buffer;
  partitions: number;
}

export class ConsumerGroup {
  groupEpoch = 0;
  assignmentEpoch = 0;
  readonly members = new Map<string, ConsumerMember>();
  /** instance id -> member id */
  readonly staticMembers = new Map<string, string>();
  /** The target assignment of assignmentEpoch. */
  target: TargetAssignment = new Map();
  /** Metadata of every subscribed topic that exists, as the last assignment saw it. */
  topics = new Map<string, TopicMetadata>();
  /** "topic\0partition" -> epoch of the member owning it (assigned or pending revocation). */
  readonly partitionEpochs = new Map<string, number>();
  /** The assignor of the last target assignment. */
  assignorName = '';
  /** The last entry written (or being written) and its write: unchanged heartbeats write nothing. */
  lastStored: Buffer | null = null;
  lastWrite: Promise<number> | null = null;

  state(): ConsumerGroupState {
    if (this.members.size === 0) return 'Empty';
    if (this.groupEpoch !== this.assignmentEpoch) return 'Assigning';
    for (const m of this.members.values()) {
      if (m.memberEpoch === LEAVE_GROUP_STATIC_MEMBER_EPOCH) continue;
      if (m.memberEpoch !== this.assignmentEpoch || m.state !== 'stable') return 'Reconciling';
    }
    return 'Stable';
  }

  targetOf(memberId: string): Partitions {
    const out: Partitions = new Map();
    const t = this.target.get(memberId);
    if (t) for (const [topic, ps] of t) if (ps.length > 0) out.set(topic, new Set(ps));
    return out;
  }

  /** Epoch of the member owning the partition, or -1 when nobody owns it. */
  partitionEpoch(topic: string, partition: number): number {
    return this.partitionEpochs.get(`${topic}\0${partition}`) ?? -1;
  }

  /** Drop the ownership a member holds (before it changes or leaves). */
  releaseOwnership(m: ConsumerMember): void {
    for (const p of [m.assigned, m.pendingRevocation]) for (const [t, s] of p) for (const x of s) this.partitionEpochs.delete(`${t}\0${x}`);
  }

  /** Record the ownership a member holds now. */
  takeOwnership(m: ConsumerMember): void {
    for (const p of [m.assigned, m.pendingRevocation]) for (const [t, s] of p) for (const x of s) this.partitionEpochs.set(`${t}\0${x}`, m.memberEpoch);
  }

  addMember(m: ConsumerMember): void {
    this.members.set(m.memberId, m);
    if (m.instanceId !== null) this.staticMembers.set(m.instanceId, m.memberId);
    this.takeOwnership(m);
  }

  removeMember(memberId: string): ConsumerMember | undefined {
    const m = this.members.get(memberId);
    if (!m) return undefined;
    this.releaseOwnership(m);
    this.members.delete(memberId);
    if (m.instanceId !== null && this.staticMembers.get(m.instanceId) === memberId) this.staticMembers.delete(m.instanceId);
    this.target.delete(memberId);
    m.cancelTimers();
    return m;
  }

  staticMember(instanceId: string): ConsumerMember | undefined {
    const id = this.staticMembers.get(instanceId);
    return id === undefined ? undefined : this.members.get(id);
  }

  /** Every resolved topic some member subscribes to. */
  subscribedTopics(): Set<string> {
    const out = new Set<string>();
    for (const m of this.members.values()) for (const t of m.topics) out.add(t);
    return out;
  }

  /** The assignor the members prefer (most named; ties by name), else the default. */
  preferredAssignor(fallback: string): string {
    const votes = new Map<string, number>();
    for (const m of this.members.values()) if (m.serverAssignor !== null) votes.set(m.serverAssignor, (votes.get(m.serverAssignor) ?? 0) + 1);
    let best = fallback;
    let n = 0;
    for (const [name, v] of [...votes].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      if (v > n) {
        best = name;
        n = v;
      }
    }
    return best;
  }
}

export interface Reconciled {
  state: MemberState;
  memberEpoch: number;
  assigned: Partitions;
  pendingRevocation: Partitions;
}

/**
 * One reconciliation step (Kafka's CurrentAssignmentBuilder): where the member
 * goes from its current state toward `target` of `targetEpoch`.
 * `owned`: the partitions the member's heartbeat says it owns (null: not sent).
 * `partitionEpoch`: the epoch of another member owning a partition, -1 if free.
 */
export function reconcile(
  member: Readonly<Pick<ConsumerMember, 'state' | 'memberEpoch' | 'assigned' | 'pendingRevocation'>>,
  targetEpoch: number,
  target: Partitions,
  owned: Partitions | null,
  partitionEpoch: (topic: string, partition: number) => number,
): Reconciled {
  const unchanged = (): Reconciled => ({ state: member.state, memberEpoch: member.memberEpoch, assigned: member.assigned, pendingRevocation: member.pendingRevocation });
  switch (member.state) {
    case 'stable':
      if (member.memberEpoch === targetEpoch) return unchanged();
      return next(member.memberEpoch, member.assigned, targetEpoch, target, owned, partitionEpoch);
    case 'unrevoked_partitions': {
      // Still waiting until the member's heartbeat shows it gave up every revoked partition.
      if (owned === null) return unchanged();
      for (const [t, s] of member.pendingRevocation) for (const p of s) if (owned.get(t)?.has(p)) return unchanged();
      return next(member.memberEpoch, member.assigned, targetEpoch, target, owned, partitionEpoch);
    }
    case 'unreleased_partitions':
      return next(member.memberEpoch, member.assigned, targetEpoch, target, owned, partitionEpoch);
  }
}

function ownsAny(owned: Partitions | null, revoke: Partitions): boolean {
  if (owned === null) return true;
  for (const [t, s] of owned) for (const p of s) if (revoke.get(t)?.has(p)) return true;
  return false;
}

function next(memberEpoch: number, assigned: Partitions, targetEpoch: number, target: Partitions, owned: Partitions | null, partitionEpoch: (topic: string, partition: number) => number): Reconciled {
  const keep: Partitions = new Map();
  const revoke: Partitions = new Map();
  const toAssign: Array<[string, number]> = [];
  const put = (m: Partitions, t: string, p: number) => {
    let s = m.get(t);
    if (!s) m.set(t, (s = new Set()));
    s.add(p);
  };
  for (const [t, s] of assigned) {
    const want = target.get(t);
    for (const p of s) put(want?.has(p) ? keep : revoke, t, p);
  }
  for (const [t, s] of target) {
    const cur = assigned.get(t);
    for (const p of s) if (!cur?.has(p)) toAssign.push([t, p]);
  }
  // Revocation first: the member stays in its epoch and keeps only what it keeps in the target, unless
  // its request shows it no longer owns any of them (Kafka's ownsRevokedPartitions: an eager classic
  // member gave everything up before rejoining).
  if (revoke.size > 0 && ownsAny(owned, revoke)) {
    return { state: 'unrevoked_partitions', memberEpoch, assigned: keep, pendingRevocation: revoke };
  }
  let unreleased = false;
  for (const [t, p] of toAssign) {
    if (partitionEpoch(t, p) === -1) put(keep, t, p);
    else unreleased = true;
  }
  return { state: unreleased ? 'unreleased_partitions' : 'stable', memberEpoch: targetEpoch, assigned: keep, pendingRevocation: new Map() };
}
