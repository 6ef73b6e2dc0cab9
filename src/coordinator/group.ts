/**
 * One classic consumer group's state (Kafka's GroupMetadata / MemberMetadata):
 * members, static instance ids, the generation, the chosen protocol, the
 * leader, and the group's committed offsets. Pure data and bookkeeping: the
 * state machine that drives it (timeouts, responses, persistence) lives in
 * coordinator.ts.
 *
 * States (Kafka's classic group protocol):
 *   Empty               no members; offsets may remain. A join -> PreparingRebalance.
 *   PreparingRebalance  collecting JoinGroups until all known members rejoined (or the
 *                       rebalance timeout) -> CompletingRebalance, or Empty when none are left.
 *   CompletingRebalance waiting for the leader's SyncGroup with the assignment -> Stable.
 *   Stable              members heartbeat; a join with new metadata, a leave or a
 *                       session timeout -> PreparingRebalance.
 *   Dead                deleted or unloaded; answers COORDINATOR_NOT_AVAILABLE.
 */
import type { TimerHandle } from './clock.js';
import type { GroupKey } from './locator.js';
import type { NamespaceRef } from '../topics/names.js';
import type { ConsumerGroup } from './consumer-group.js';

export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead';

export const GROUP_STATES: readonly GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead'];

const VALID_PREVIOUS: Record<GroupState, readonly GroupState[]> = {
  Dead: ['Stable', 'PreparingRebalance', 'CompletingRebalance', 'Empty', 'Dead'],
  CompletingRebalance: ['PreparingRebalance'],
  Stable: ['CompletingRebalance'],
  PreparingRebalance: ['Stable', 'CompletingRebalance', 'Empty'],
  Empty: ['PreparingRebalance'],
};

export interface Protocol {
  name: string;
  metadata: Buffer;
}

export interface JoinResult {
  errorCode: number;
  memberId: string;
  generationId: number;
  protocolType: string | null;
  protocolName: string | null;
  leaderId: string;
  skipAssignment: boolean;
  members: Array<{ memberId: string; groupInstanceId: string | null; metadata: Buffer }>;
}

export interface SyncResult {
  errorCode: number;
  protocolType: string | null;
  protocolName: string | null;
  assignment: Buffer;
}

export function joinError(memberId: string, errorCode: number): JoinResult {
  return { errorCode, memberId, generationId: -1, protocolType: null, protocolName: null, leaderId: '', skipAssignment: false, members: [] };
}

export function syncError(errorCode: number): SyncResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY };
}

const EMPTY = Buffer.alloc(0);

export class Member {
  assignment: Buffer = EMPTY;
  awaitingJoin: ((r: JoinResult) => void) | null = null;
  awaitingSync: ((r: SyncResult) => void) | null = null;
  /** Joined but not yet through a completed rebalance (expires after the new-member join timeout). */
  isNew = false;
  heartbeatTimer: TimerHandle | null = null;

  constructor(
    public memberId: string,
    readonly groupInstanceId: string | null,
    public clientId: string,
    public clientHost: string,
    public rebalanceTimeoutMs: number,
    public sessionTimeoutMs: number,
    readonly protocolType: string,
    public protocols: Protocol[],
    /** The member's default namespace, to resolve the topic names of its subscription. */
    public namespace: NamespaceRef,
  ) {}

  get isStatic(): boolean {
    return this.groupInstanceId !== null;
  }

  get isAwaitingJoin(): boolean {
    return this.awaitingJoin !== null;
  }

  get isAwaitingSync(): boolean {
    return this.awaitingSync !== null;
  }

  metadataFor(protocol: string): Buffer {
    const p = this.protocols.find((x) => x.name === protocol);
    if (!p) throw new Error(`member ${this.memberId} does not support protocol ${protocol}`);
    return p.metadata;
  }

  /** Same protocols, in the same order, with the same metadata. */
  matches(protocols: Protocol[]): boolean {
    if (protocols.length !== this.protocols.length) return false;
    return protocols.every((p, i) => p.name === this.protocols[i]!.name && p.metadata.equals(this.protocols[i]!.metadata));
  }

  /** This member's preferred protocol among the candidates. */
  vote(candidates: Set<string>): string {
    const p = this.protocols.find((x) => candidates.has(x.name));
    if (!p) throw new Error(`member ${this.memberId} supports none of the candidate protocols`);
    return p.name;
  }
}

export interface CommittedOffset {
  offset: bigint;
  leaderEpoch: number;
  metadata: string;
  commitTimestamp: number;
  /** Explicit expiry from an OffsetCommit v2-v4 retention time; null: the group's retention rules. */
  expireTimestamp: number | null;
}

export class ClassicGroup {
  state: GroupState = 'Empty';
  /** When the group entered its current state (offset expiry of empty groups counts from here). */
  stateTimestamp: number;
  protocolType: string | null = null;
  protocolName: string | null = null;
  generationId = 0;
  leaderId: string | null = null;
  readonly members = new Map<string, Member>();
  /** group.instance.id -> member id */
  readonly staticMembers = new Map<string, string>();
  /** Member ids handed out with MEMBER_ID_REQUIRED, awaiting the member's second JoinGroup. */
  readonly pendingMembers = new Map<string, TimerHandle>();
  /** Members of the new generation that have not sent SyncGroup yet. */
  readonly pendingSyncMembers = new Set<string>();
  numMembersAwaitingJoin = 0;
  /** A member joined during the initial rebalance delay (extends the delay). */
  newMemberAdded = false;
  /** Timer completing PreparingRebalance (initial delay or rebalance timeout). */
  joinTimer: TimerHandle | null = null;
  /** Whether joinTimer is the initial delay (which never completes early). */
  joinTimerInitial = false;
  /** Timer removing members that did not send SyncGroup in time. */
  syncTimer: TimerHandle | null = null;
  /** Resolved topic names the members subscribe to (consumer protocol); null when unknown. */
  subscribedTopics: Set<string> | null = null;
  /** topic (resolved name) -> partition -> committed offset */
  readonly offsets = new Map<string, Map<number, CommittedOffset>>();
  /**
   * Transactional offsets (TxnOffsetCommit) not yet committed or aborted: producer id ->
   * "topic\0partition" -> the offset. They become offsets when the transaction commits.
   */
  readonly pendingTxnOffsets = new Map<bigint, Map<string, { topic: string; partition: number; value: CommittedOffset }>>();
  /** Offset commits being written: "topic\0partition" -> count. */
  readonly pendingOffsetCommits = new Map<string, number>();
  /** In-flight writes of this group (offset commits, metadata), for requireStable and shutdown. */
  readonly inFlight = new Set<Promise<unknown>>();
  /**
   * The namespace (of key.tenant) where this group's permissions are checked (home.ts);
   * null for a group stored before homes existed whose home could not be inferred.
   */
  home: string | null = null;
  /** Whether `home` is durable (its entry is written before any other entry of the group). */
  homeStored = false;
  /** The home write in progress, shared by the writes waiting for it. */
  homeWrite: Promise<void> | null = null;
  /**
   * Set when the group is a consumer group of the KIP-848 protocol (consumer-group-protocol.ts):
   * it then has no classic members, and shares the home and offsets above.
   */
  consumer: ConsumerGroup | null = null;

  constructor(
    readonly key: GroupKey,
    now: number,
  ) {
    this.stateTimestamp = now;
  }

  get groupId(): string {
    return this.key.groupId;
  }

  is(state: GroupState): boolean {
    return this.state === state;
  }

  get size(): number {
    return this.members.size;
  }

  has(memberId: string): boolean {
    return this.members.has(memberId);
  }

  get(memberId: string): Member {
    const m = this.members.get(memberId);
    if (!m) throw new Error(`group ${this.groupId} has no member ${memberId}`);
    return m;
  }

  isLeader(memberId: string): boolean {
    return this.leaderId === memberId;
  }

  canRebalance(): boolean {
    return VALID_PREVIOUS.PreparingRebalance.includes(this.state);
  }

  transitionTo(target: GroupState, now: number): void {
    if (!VALID_PREVIOUS[target].includes(this.state)) {
      throw new Error(`group ${this.groupId}: invalid transition ${this.state} -> ${target}`);
    }
    this.state = target;
    this.stateTimestamp = now;
  }

  add(member: Member, callback: ((r: JoinResult) => void) | null): void {
    if (member.groupInstanceId !== null) this.staticMembers.set(member.groupInstanceId, member.memberId);
    if (this.members.size === 0) this.protocolType = member.protocolType;
    if (this.leaderId === null) this.leaderId = member.memberId;
    this.members.set(member.memberId, member);
    member.awaitingJoin = callback;
    if (callback) this.numMembersAwaitingJoin++;
    this.pendingMembers.get(member.memberId)?.cancel();
    this.pendingMembers.delete(member.memberId);
  }

  remove(memberId: string): void {
    const member = this.members.get(memberId);
    if (member) {
      this.members.delete(memberId);
      if (member.isAwaitingJoin) this.numMembersAwaitingJoin--;
      if (member.groupInstanceId !== null && this.staticMembers.get(member.groupInstanceId) === memberId) {
        this.staticMembers.delete(member.groupInstanceId);
      }
      member.heartbeatTimer?.cancel();
      member.heartbeatTimer = null;
    }
    if (this.isLeader(memberId)) this.leaderId = this.members.size > 0 ? this.members.keys().next().value! : null;
    this.pendingMembers.get(memberId)?.cancel();
    this.pendingMembers.delete(memberId);
    this.pendingSyncMembers.delete(memberId);
  }

  /** Replace the protocols and timeouts of a member and (re)set its pending JoinGroup. */
  updateMember(member: Member, protocols: Protocol[], rebalanceTimeoutMs: number, sessionTimeoutMs: number, callback: ((r: JoinResult) => void) | null): void {
    member.protocols = protocols;
    member.rebalanceTimeoutMs = rebalanceTimeoutMs;
    member.sessionTimeoutMs = sessionTimeoutMs;
    if (callback && !member.isAwaitingJoin) this.numMembersAwaitingJoin++;
    else if (!callback && member.isAwaitingJoin) this.numMembersAwaitingJoin--;
    member.awaitingJoin = callback;
  }

  maybeInvokeJoinCallback(member: Member, result: JoinResult): boolean {
    const cb = member.awaitingJoin;
    if (!cb) return false;
    member.awaitingJoin = null;
    this.numMembersAwaitingJoin--;
    cb(result);
    return true;
  }

  maybeInvokeSyncCallback(member: Member, result: SyncResult): boolean {
    const cb = member.awaitingSync;
    if (!cb) return false;
    member.awaitingSync = null;
    cb(result);
    return true;
  }

  /** Give a static member a new member id (a restarted static member), fencing the old one. */
  replaceStaticMember(groupInstanceId: string, oldMemberId: string, newMemberId: string, fencedCode: number): Member {
    const member = this.get(oldMemberId);
    this.members.delete(oldMemberId);
    this.maybeInvokeJoinCallback(member, joinError(oldMemberId, fencedCode));
    this.maybeInvokeSyncCallback(member, syncError(fencedCode));
    member.memberId = newMemberId;
    this.members.set(newMemberId, member);
    if (this.isLeader(oldMemberId)) this.leaderId = newMemberId;
    this.staticMembers.set(groupInstanceId, newMemberId);
    if (this.pendingSyncMembers.delete(oldMemberId)) this.pendingSyncMembers.add(newMemberId);
    return member;
  }

  currentStaticMemberId(groupInstanceId: string): string | undefined {
    return this.staticMembers.get(groupInstanceId);
  }

  /** Protocols every member supports. */
  candidateProtocols(): Set<string> {
    let common = null as Set<string> | null;
    for (const m of this.members.values()) {
      const names = new Set(m.protocols.map((p) => p.name));
      common = common === null ? names : new Set([...common].filter((n) => names.has(n)));
    }
    return common ?? new Set();
  }

  /**
   * Whether a member with these protocols can join: an empty group takes any
   * non-empty protocol type and list; otherwise the type must match and at
   * least one protocol must be supported by every current member.
   */
  supportsProtocols(protocolType: string, protocols: Protocol[]): boolean {
    if (this.members.size === 0) return protocolType.length > 0 && protocols.length > 0;
    if (this.protocolType !== protocolType) return false;
    const candidates = this.candidateProtocols();
    return protocols.some((p) => candidates.has(p.name));
  }

  /** The protocol of the next generation: each member votes for its preferred candidate; most votes wins. */
  selectProtocol(): string {
    if (this.members.size === 0) throw new Error(`cannot select a protocol for empty group ${this.groupId}`);
    const candidates = this.candidateProtocols();
    const votes = new Map<string, number>();
    for (const m of this.members.values()) {
      const v = m.vote(candidates);
      votes.set(v, (votes.get(v) ?? 0) + 1);
    }
    let best = '';
    let bestVotes = -1;
    for (const [name, n] of votes) {
      if (n > bestVotes) {
        best = name;
        bestVotes = n;
      }
    }
    return best;
  }

  hasAllMembersJoined(): boolean {
    return this.members.size === this.numMembersAwaitingJoin && this.pendingMembers.size === 0;
  }

  notYetRejoinedMembers(): Member[] {
    return [...this.members.values()].filter((m) => !m.isAwaitingJoin);
  }

  /** Largest rebalance timeout of the members. */
  rebalanceTimeoutMs(): number {
    let t = 0;
    for (const m of this.members.values()) t = Math.max(t, m.rebalanceTimeoutMs);
    return t;
  }

  /** Keep the leader if it rejoined, else pick a member that did; false when none rejoined. */
  maybeElectNewJoinedLeader(): boolean {
    if (this.leaderId === null) return false;
    const leader = this.members.get(this.leaderId);
    if (leader?.isAwaitingJoin) return true;
    for (const m of this.members.values()) {
      if (m.isAwaitingJoin) {
        this.leaderId = m.memberId;
        return true;
      }
    }
    return false;
  }

  /** Member metadata for the chosen protocol, as the leader receives it in its JoinGroup response. */
  currentMemberMetadata(): JoinResult['members'] {
    if (this.protocolName === null) return [];
    const protocol = this.protocolName;
    return [...this.members.values()].map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadataFor(protocol) }));
  }

  hasReceivedSyncFromAllMembers(): boolean {
    return this.pendingSyncMembers.size === 0;
  }

  // --- offsets ---

  offset(topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(topic)?.get(partition);
  }

  setOffset(topic: string, partition: number, value: CommittedOffset): void {
    let m = this.offsets.get(topic);
    if (!m) this.offsets.set(topic, (m = new Map()));
    m.set(partition, value);
  }

  removeOffset(topic: string, partition: number): boolean {
    const m = this.offsets.get(topic);
    if (!m) return false;
    const had = m.delete(partition);
    if (m.size === 0) this.offsets.delete(topic);
    return had;
  }

  numOffsets(): number {
    let n = 0;
    for (const m of this.offsets.values()) n += m.size;
    return n;
  }

  hasOffsets(): boolean {
    return this.offsets.size > 0 || this.pendingOffsetCommits.size > 0 || this.pendingTxnOffsets.size > 0;
  }

  /** A transaction has an offset for this partition that is neither committed nor aborted yet. */
  hasPendingTxnOffset(topic: string, partition: number): boolean {
    const k = `${topic}\0${partition}`;
    for (const m of this.pendingTxnOffsets.values()) if (m.has(k)) return true;
    return false;
  }

  hasPendingCommit(topic: string, partition: number): boolean {
    return this.pendingOffsetCommits.has(`${topic}\0${partition}`);
  }

  track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    const done = () => void this.inFlight.delete(p);
    p.then(done, done);
    return p;
  }
}
