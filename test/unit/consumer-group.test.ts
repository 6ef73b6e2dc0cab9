/**
 * The consumer group protocol (KIP-848): the server-side assignors, the
 * reconciliation rule (revocation before assignment, no partition with two
 * owners), and the coordinator's heartbeat flow with a manual clock (epochs,
 * fencing, session and rebalance timeouts, static members, offsets checked by
 * member epoch, classic/consumer groups, durability across a coordinator
 * restart). Kafka's GroupMetadataManager / CurrentAssignmentBuilder and its
 * assignors are the reference for every expectation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { rangeAssignor, uniformAssignor, type TargetAssignment } from '../../src/coordinator/assignors.js';
import { reconcile, type Partitions } from '../../src/coordinator/consumer-group.js';
import type { ConsumerHeartbeatParams, ConsumerHeartbeatResult } from '../../src/coordinator/consumer-group-protocol.js';
import { ManualClock } from '../../src/coordinator/clock.js';
import { LocalGroupCoordinator, type CoordinatorConfig, type GroupRef, type JoinGroupParams } from '../../src/coordinator/coordinator.js';
import { decodeVersioned, encodeVersioned } from '../../src/protocol/codec/frame.js';
import { ConsumerProtocolAssignment, ConsumerProtocolSubscription } from '../../src/protocol/generated/index.js';
import { SingleNodeLocator } from '../../src/coordinator/locator.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { compileRegex, validateHeartbeat } from '../../src/handlers/consumer-group.js';
import type { KeyValueStore } from '../../src/storage/engine.js';
import { silentLogger } from '../../src/logger.js';

// ------------------------------------------------------------------ assignors

function owners(a: TargetAssignment): Map<string, string> {
  const out = new Map<string, string>();
  for (const [m, topics] of a) {
    for (const [t, ps] of topics) {
      for (const p of ps) {
        const k = `${t}-${p}`;
        assert.equal(out.has(k), false, `${k} assigned twice`);
        out.set(k, m);
      }
    }
  }
  return out;
}

function count(a: TargetAssignment, m: string): number {
  let n = 0;
  for (const ps of a.get(m)?.values() ?? []) n += ps.length;
  return n;
}

describe('uniform assignor', () => {
  test('homogeneous subscriptions: every partition once, counts differ by at most one', () => {
    const members = ['m1', 'm2', 'm3'].map((memberId) => ({ memberId, topics: ['A', 'B'] }));
    const a = uniformAssignor.assign(members, new Map([['A', 4], ['B', 3]]), new Map());
    assert.equal(owners(a).size, 7);
    const counts = members.map((m) => count(a, m.memberId)).sort();
    assert.deepEqual(counts, [2, 2, 3]);
  });

  test('sticky: a leave moves only the leaver\'s partitions; a join takes partitions only from members above the new quota', () => {
    const three = ['m1', 'm2', 'm3'].map((memberId) => ({ memberId, topics: ['A'] }));
    const counts = new Map([['A', 9]]);
    const first = uniformAssignor.assign(three, counts, new Map());
    const before = owners(first);
    const two = uniformAssignor.assign(three.slice(0, 2), counts, first);
    const after = owners(two);
    assert.equal(after.size, 9);
    for (const [k, m] of before) if (m !== 'm3') assert.equal(after.get(k), m, `${k} moved from ${m}`);
    assert.deepEqual([count(two, 'm1'), count(two, 'm2')].sort(), [4, 5]);
    const four = uniformAssignor.assign([...three, { memberId: 'm4', topics: ['A'] }], counts, first);
    const moved = [...owners(four)].filter(([k, m]) => before.get(k) !== m);
    // quota 9/4 -> 2 or 3: m4 gets 2 (its minimum), taken from the others; nothing else moves.
    assert.equal(count(four, 'm4'), 2);
    assert.equal(moved.length, 2);
  });

  test('heterogeneous subscriptions: each member only gets topics it subscribes to, balanced where possible', () => {
    const members = [
      { memberId: 'm1', topics: ['A'] },
      { memberId: 'm2', topics: ['A', 'B'] },
    ];
    const a = uniformAssignor.assign(members, new Map([['A', 4], ['B', 4]]), new Map());
    assert.equal(owners(a).size, 8);
    assert.equal(a.get('m1')!.has('B'), false);
    assert.equal(count(a, 'm1'), 4);
    assert.equal(count(a, 'm2'), 4);
  });

  test('topics without partitions (not created yet) assign nothing; members without topics get nothing', () => {
    const a = uniformAssignor.assign([{ memberId: 'm1', topics: ['missing'] }, { memberId: 'm2', topics: [] }], new Map(), new Map());
    assert.equal(owners(a).size, 0);
    assert.deepEqual([...a.keys()].sort(), ['m1', 'm2']);
  });
});

describe('range assignor', () => {
  test('per topic, consecutive ranges by member id; co-partitioned topics get the same partition numbers', () => {
    const members = [
      { memberId: 'b', topics: ['A', 'B'] },
      { memberId: 'a', topics: ['A', 'B'] },
    ];
    const r = rangeAssignor.assign(members, new Map([['A', 5], ['B', 5]]), new Map());
    assert.deepEqual(r.get('a')!.get('A'), [0, 1, 2]);
    assert.deepEqual(r.get('a')!.get('B'), [0, 1, 2]);
    assert.deepEqual(r.get('b')!.get('A'), [3, 4]);
    assert.deepEqual(r.get('b')!.get('B'), [3, 4]);
  });
});

// ------------------------------------------------------------------ reconciliation

const parts = (o: Record<string, number[]>): Partitions => new Map(Object.entries(o).map(([t, ps]) => [t, new Set(ps)]));
const plain = (p: Partitions) => Object.fromEntries([...p].map(([t, s]) => [t, [...s].sort()]));

describe('reconciliation (revocation before assignment)', () => {
  test('a member gives up partitions first, keeps its epoch, and gets a partition only once nobody owns it', () => {
    let owner2 = 5; // partition A-2 is owned by another member (epoch 5) until it releases it
    const epochOf = (t: string, p: number) => (t === 'A' && p === 2 ? owner2 : -1);
    const m0 = { state: 'stable' as const, memberEpoch: 4, assigned: parts({ A: [0, 1] }), pendingRevocation: new Map() };
    const target = parts({ A: [1, 2] });
    const r1 = reconcile(m0, 6, target, null, epochOf);
    assert.equal(r1.state, 'unrevoked_partitions');
    assert.equal(r1.memberEpoch, 4);
    assert.deepEqual(plain(r1.assigned), { A: [1] });
    assert.deepEqual(plain(r1.pendingRevocation), { A: [0] });
    // Still owning A-0 (or not saying): it waits.
    assert.equal(reconcile(r1, 6, target, null, epochOf).state, 'unrevoked_partitions');
    assert.equal(reconcile(r1, 6, target, parts({ A: [0, 1] }), epochOf).state, 'unrevoked_partitions');
    // Revoked: the new epoch, but A-2 is still someone else's.
    const r2 = reconcile(r1, 6, target, parts({ A: [1] }), epochOf);
    assert.equal(r2.state, 'unreleased_partitions');
    assert.equal(r2.memberEpoch, 6);
    assert.deepEqual(plain(r2.assigned), { A: [1] });
    owner2 = -1;
    const r3 = reconcile(r2, 6, target, parts({ A: [1] }), epochOf);
    assert.equal(r3.state, 'stable');
    assert.deepEqual(plain(r3.assigned), { A: [1, 2] });
  });
});

// ------------------------------------------------------------------ the coordinator's heartbeat flow

class MemKv implements KeyValueStore {
  readonly data = new Map<string, Map<string, Buffer>>();
  puts = 0;
  async get(ns: string, key: string): Promise<Buffer | null> {
    return this.data.get(ns)?.get(key) ?? null;
  }
  async put(ns: string, key: string, value: Buffer | null): Promise<void> {
    this.puts++;
    await Promise.resolve();
    let m = this.data.get(ns);
    if (!m) this.data.set(ns, (m = new Map()));
    if (value === null) m.delete(key);
    else m.set(key, Buffer.from(value));
  }
  async scan(ns: string): Promise<Array<{ key: string; value: Buffer }>> {
    return [...(this.data.get(ns) ?? new Map<string, Buffer>())].map(([key, value]) => ({ key, value }));
  }
}

const CONFIG: CoordinatorConfig = {
  groupInitialRebalanceDelayMs: 0,
  groupMinSessionTimeoutMs: 1000,
  groupMaxSessionTimeoutMs: 60_000,
  groupMaxSize: 100,
  offsetsRetentionMs: 24 * 3600_000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetMetadataMaxBytes: 100,
  consumerSessionTimeoutMs: 10_000,
  consumerHeartbeatIntervalMs: 1000,
};

const TOPIC = 'persistent://public/default/t';
const TOPIC_ID = Buffer.alloc(16, 7);
const REF: GroupRef = { tenant: 'public', groupId: 'g', namespace: 'default' };

class Harness {
  readonly clock = new ManualClock();
  c!: LocalGroupCoordinator;
  constructor(readonly kv = new MemKv()) {}
  async start(): Promise<this> {
    this.c = new LocalGroupCoordinator(new SingleNodeLocator(4, 1, () => ({ host: 'gw', port: 9092 })), this.kv, CONFIG, silentLogger(), this.clock);
    this.c.topicMetadataSource = async (topic) => (topic === TOPIC ? { topicId: TOPIC_ID, partitions: 4 } : null);
    await this.c.start();
    return this;
  }
  hb(memberId: string, memberEpoch: number, opts: Omit<Partial<ConsumerHeartbeatParams>, "owned"> & { owned?: number[] | null; partitions?: number } = {}): Promise<ConsumerHeartbeatResult> {
    const { owned, partitions, ...rest } = opts;
    return this.c.consumerGroupHeartbeat(REF, {
      memberId,
      memberEpoch,
      instanceId: null,
      rackId: null,
      rebalanceTimeoutMs: memberEpoch === 0 ? 30_000 : -1,
      subscribedTopicNames: memberEpoch === 0 ? ['t'] : null,
      subscribedTopicRegex: null,
      serverAssignor: null,
      owned: owned === undefined ? (memberEpoch === 0 ? [] : null) : owned === null ? null : [{ topicId: TOPIC_ID, partitions: owned }],
      clientId: 'c',
      clientHost: '/127.0.0.1',
      namespace: { tenant: 'public', namespace: 'default' },
      subscription: { topics: [TOPIC], metadata: new Map([[TOPIC, { topicId: TOPIC_ID, partitions: partitions ?? 4 }]]) },
      ...rest,
    });
  }
}

const assigned = (r: ConsumerHeartbeatResult) => (r.assignment === null ? null : (r.assignment.find((a) => a.topicId.equals(TOPIC_ID))?.partitions ?? []));

describe('ConsumerGroupHeartbeat in the coordinator', () => {
  test('two members: the second gets partitions only after the first revoked them; epochs as Kafka moves them', async () => {
    const h = await new Harness().start();
    const a1 = await h.hb('A', 0);
    assert.equal(a1.errorCode, ErrorCode.NONE);
    assert.equal(a1.memberEpoch, 1);
    assert.deepEqual(assigned(a1), [0, 1, 2, 3]);
    assert.equal(a1.heartbeatIntervalMs, 1000);
    const b1 = await h.hb('B', 0);
    assert.equal(b1.memberEpoch, 2);
    assert.deepEqual(assigned(b1), [], 'B gets nothing while A still owns the partitions');
    const a2 = await h.hb('A', 1);
    assert.equal(a2.memberEpoch, 1, 'A keeps its epoch until it revoked');
    assert.equal(assigned(a2)!.length, 2);
    assert.equal((await h.c.consumerGroupDescribe(REF)).state, 'Reconciling');
    // A still reports all four: nothing changes for B.
    const b2 = await h.hb('B', 2, { owned: [] });
    assert.equal(b2.assignment, null, 'unchanged: no assignment in the response');
    const a3 = await h.hb('A', 1, { owned: assigned(a2)! });
    assert.equal(a3.memberEpoch, 2);
    const b3 = await h.hb('B', 2, { owned: [] });
    const union = [...assigned(a2)!, ...assigned(b3)!].sort();
    assert.deepEqual(union, [0, 1, 2, 3]);
    const d = await h.c.consumerGroupDescribe(REF);
    assert.equal(d.state, 'Stable');
    assert.equal(d.groupEpoch, 2);
    assert.equal(d.assignmentEpoch, 2);
    assert.equal(d.assignorName, 'uniform');
    const listed = await h.c.listGroups('public', [], ['consumer']);
    assert.deepEqual(listed.groups.map((g) => [g.groupId, g.groupType, g.state, g.protocolType]), [['g', 'consumer', 'Stable', 'consumer']]);
    assert.equal((await h.c.listGroups('public', [], ['classic'])).groups.length, 0);
    await h.c.shutdown();
  });

  test('fencing: unknown member, greater or stale epoch; leave; session timeout gives the partitions to the others', async () => {
    const h = await new Harness().start();
    await h.hb('A', 0);
    assert.equal((await h.hb('X', 1)).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal((await h.hb('A', 7)).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
    await h.hb('B', 0);
    const a = await h.hb('A', 1, { owned: [0, 1, 2, 3] });
    await h.hb('A', 1, { owned: assigned(a)! });
    // A is now at epoch 2; epoch 1 with partitions it does not own any more is stale.
    assert.equal((await h.hb('A', 1, { owned: [0, 1, 2, 3] })).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
    // B stops heartbeating: after the session timeout A gets everything back.
    h.clock.advance(5000);
    await h.hb('A', 2, { owned: assigned(a)! });
    h.clock.advance(6000);
    const d = await h.c.consumerGroupDescribe(REF);
    assert.deepEqual(d.members.map((m) => m.memberId), ['A']);
    const back = await h.hb('A', 2, { owned: assigned(a)! });
    assert.equal(back.memberEpoch, d.groupEpoch);
    assert.deepEqual(assigned(back), [0, 1, 2, 3]);
    // Leaving for good.
    const left = await h.hb('A', -1);
    assert.equal(left.memberEpoch, -1);
    assert.equal((await h.c.consumerGroupDescribe(REF)).state, 'Empty');
    await h.c.shutdown();
  });

  test('rebalance timeout: a member that does not revoke in time is removed', async () => {
    const h = await new Harness().start();
    await h.hb('A', 0, { rebalanceTimeoutMs: 3000 });
    await h.hb('B', 0);
    const a = await h.hb('A', 1, { owned: [0, 1, 2, 3] });
    assert.equal(a.memberEpoch, 1);
    await h.hb('B', 2, { owned: [] });
    h.clock.advance(3001);
    assert.deepEqual((await h.c.consumerGroupDescribe(REF)).members.map((m) => m.memberId), ['B']);
    assert.equal((await h.hb('A', 1, { owned: [0, 1] })).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    await h.c.shutdown();
  });

  test('static members: a temporary leave keeps the assignment for the new member id; a second live instance is refused', async () => {
    const h = await new Harness().start();
    const a = await h.hb('A1', 0, { instanceId: 'i1' });
    assert.deepEqual(assigned(a), [0, 1, 2, 3]);
    assert.equal((await h.hb('A2', 0, { instanceId: 'i1' })).errorCode, ErrorCode.UNRELEASED_INSTANCE_ID);
    assert.equal((await h.hb('A2', 1, { instanceId: 'i1' })).errorCode, ErrorCode.FENCED_INSTANCE_ID);
    const left = await h.hb('A1', -2, { instanceId: 'i1' });
    assert.equal(left.memberEpoch, -2);
    const back = await h.hb('A2', 0, { instanceId: 'i1' });
    assert.equal(back.errorCode, ErrorCode.NONE);
    assert.equal(back.memberEpoch, a.memberEpoch, 'same epoch, no rebalance');
    assert.deepEqual(assigned(back), [0, 1, 2, 3]);
    assert.equal((await h.c.consumerGroupDescribe(REF)).groupEpoch, 1);
    await h.c.shutdown();
  });

  test('a heartbeat that changes nothing writes nothing', async () => {
    const h = await new Harness().start();
    await h.hb('A', 0);
    const before = h.kv.puts;
    for (let i = 0; i < 3; i++) assert.equal((await h.hb('A', 1, { owned: [0, 1, 2, 3] })).errorCode, ErrorCode.NONE);
    assert.equal(h.kv.puts, before);
    await h.hb('B', 0);
    assert.ok(h.kv.puts > before, 'a join is written');
    await h.c.shutdown();
  });

  test('a new partition moves the group epoch and is assigned', async () => {
    const h = await new Harness().start();
    await h.hb('A', 0);
    const r = await h.hb('A', 1, { partitions: 6, owned: [0, 1, 2, 3] });
    assert.equal(r.memberEpoch, 2);
    assert.deepEqual(assigned(r), [0, 1, 2, 3, 4, 5]);
    await h.c.shutdown();
  });

  test('offsets: commits and fetches are checked against the member epoch (Kafka 4.3, with KIP-1251 assignment epochs)', async () => {
    const h = await new Harness().start();
    const a = await h.hb('A', 0);
    const commit = (memberId: string, generationId: number, apiVersion = 9) =>
      h.c.commitOffsets({ key: REF, generationId, memberId, groupInstanceId: null, retentionTimeMs: -1n, apiVersion, offsets: [{ topic: TOPIC, partition: 0, offset: 5n, leaderEpoch: -1, metadata: null, commitTimestamp: -1n }] });
    assert.deepEqual(await commit('A', a.memberEpoch + 1), [ErrorCode.STALE_MEMBER_EPOCH]);
    assert.deepEqual(await commit('Z', a.memberEpoch), [ErrorCode.UNKNOWN_MEMBER_ID]);
    assert.deepEqual(await commit('', -1), [ErrorCode.UNKNOWN_MEMBER_ID], 'an admin commit needs an empty group');
    assert.deepEqual(await commit('A', a.memberEpoch, 8), [ErrorCode.UNSUPPORTED_VERSION]);
    assert.deepEqual(await commit('A', a.memberEpoch), [ErrorCode.NONE]);
    const stale = await h.c.fetchOffsets(REF, [{ topic: TOPIC, partition: 0 }], false, { memberId: 'A', memberEpoch: 0 });
    assert.equal(stale.errorCode, ErrorCode.STALE_MEMBER_EPOCH);
    const ok = await h.c.fetchOffsets(REF, [{ topic: TOPIC, partition: 0 }], false, { memberId: 'A', memberEpoch: a.memberEpoch });
    assert.equal(ok.offsets[0]!.offset, 5n);
    const admin = await h.c.fetchOffsets(REF, null, false, { memberId: null, memberEpoch: -1 });
    assert.equal(admin.offsets.length, 1);
    // KIP-1251 (Kafka 4.3): an older epoch commits partitions held since that epoch; others are refused.
    await h.hb('B', 0);
    const shrink = await h.hb('A', a.memberEpoch, { owned: [0, 1, 2, 3] });
    const kept = assigned(shrink)!;
    const moved = await h.hb('A', a.memberEpoch, { owned: kept });
    assert.equal(moved.memberEpoch, a.memberEpoch + 1);
    const commitAt = (epoch: number, partition: number) =>
      h.c.commitOffsets({ key: REF, generationId: epoch, memberId: 'A', groupInstanceId: null, retentionTimeMs: -1n, apiVersion: 9, offsets: [{ topic: TOPIC, partition, offset: 6n, leaderEpoch: -1, metadata: null, commitTimestamp: -1n }] });
    const gone = [0, 1, 2, 3].find((x) => !kept.includes(x))!;
    assert.deepEqual(await commitAt(a.memberEpoch, kept[0]!), [ErrorCode.NONE], 'held since the older epoch');
    assert.deepEqual(await commitAt(a.memberEpoch, gone), [ErrorCode.STALE_MEMBER_EPOCH], 'no longer held');
    assert.deepEqual(await commitAt(a.memberEpoch + 2, kept[0]!), [ErrorCode.STALE_MEMBER_EPOCH], 'a newer epoch');
    await h.hb('A', -1);
    await h.hb('B', -1);
    assert.deepEqual(await commit('', -1), [ErrorCode.NONE], 'the empty group takes admin commits');
    await h.c.shutdown();
  });

  test('classic and consumer groups: an empty classic group is taken over (offsets kept) and back; deletion; describe', async () => {
    const h = await new Harness().start();
    // A simple (classic, empty) group with an offset.
    assert.deepEqual(await h.c.commitOffsets({ key: REF, generationId: -1, memberId: '', groupInstanceId: null, retentionTimeMs: -1n, apiVersion: 9, offsets: [{ topic: TOPIC, partition: 1, offset: 9n, leaderEpoch: -1, metadata: null, commitTimestamp: -1n }] }), [ErrorCode.NONE]);
    const a = await h.hb('A', 0);
    assert.equal(a.errorCode, ErrorCode.NONE);
    assert.equal((await h.c.fetchOffsets(REF, [{ topic: TOPIC, partition: 1 }], false)).offsets[0]!.offset, 9n);
    // Undecodable classic metadata: refused as Kafka refuses protocols it cannot serve.
    const join = await h.c.joinGroup({ ...classicJoin(''), protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
    assert.equal(join.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    // DescribeGroups (classic) sees a consumer group as Kafka shows it: Dead.
    assert.equal((await h.c.describeGroup(REF)).state, 'Dead');
    const other: GroupRef = { ...REF, groupId: 'classic' };
    const described = await h.c.consumerGroupDescribe(other);
    assert.equal(described.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    // A heartbeat with an epoch for a group that does not exist.
    assert.equal((await h.c.consumerGroupHeartbeat({ ...REF, groupId: 'none' }, { ...(await paramsOf(h)), memberEpoch: 3 })).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    // Deleting: refused while it has members, done once empty.
    assert.equal((await h.c.deleteGroups([REF])).get('g'), ErrorCode.NON_EMPTY_GROUP);
    await h.hb('A', -1);
    // An empty consumer group joined by a classic member becomes classic again.
    const joining = h.c.joinGroup(classicJoin(''));
    await flushAll();
    h.clock.advance(10);
    const back = await joining;
    assert.equal(back.errorCode, ErrorCode.NONE);
    assert.equal((await h.c.consumerGroupDescribe(REF)).errorMessage, 'Group g is not a consumer group.');
    assert.deepEqual((await h.c.listGroups('public', [], [])).groups.map((g) => g.groupType), ['classic']);
    await h.c.leaveGroup(REF, [{ memberId: back.memberId, groupInstanceId: null, reason: null }]);
    assert.equal((await h.c.deleteGroups([REF])).get('g'), ErrorCode.NONE);
    assert.equal((await h.c.consumerGroupDescribe(REF)).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    await h.c.shutdown();
  });

  test('online upgrade and downgrade: a ConsumerGroupHeartbeat converts a classic group with members; classic members rejoin through the consumer group (mixed group); when the last consumer-protocol member leaves, the group is classic again', async () => {
    const h = await new Harness().start();
    // Two classic members, eager, through a complete rebalance: m1 [0,1], m2 [2,3].
    const j1 = h.c.joinGroup(classicJoin(''));
    const j2 = h.c.joinGroup(classicJoin(''));
    await flushAll();
    h.clock.advance(10);
    const [r1, r2] = await Promise.all([j1, j2]);
    assert.equal(r1.errorCode, ErrorCode.NONE);
    const leader = r1.leaderId === r1.memberId ? r1 : r2;
    const follower = leader === r1 ? r2 : r1;
    const gen = r1.generationId;
    const plan = [
      { memberId: leader.memberId, assignment: assignmentOf([0, 1]) },
      { memberId: follower.memberId, assignment: assignmentOf([2, 3]) },
    ];
    const s1 = h.c.syncGroup({ key: REF, generationId: gen, memberId: leader.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: plan });
    const s2 = h.c.syncGroup({ key: REF, generationId: gen, memberId: follower.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
    await Promise.all([s1, s2]);
    assert.equal((await h.c.listGroups('public', [], [])).groups[0]!.state, 'Stable');

    // A KIP-848 member joins: the group is converted; the new member waits for partitions to be released.
    const k = await h.hb('K', 0);
    assert.equal(k.errorCode, ErrorCode.NONE, k.errorMessage ?? '');
    assert.equal(k.memberEpoch, gen + 1);
    assert.deepEqual(assigned(k), []);
    const d = await h.c.consumerGroupDescribe(REF);
    assert.equal(d.members.length, 3);
    assert.deepEqual(d.members.find((m) => m.memberId === leader.memberId)!.assignment[0]!.partitions, [0, 1]);
    assert.deepEqual((await h.c.listGroups('public', [], ['consumer'])).groups.map((g) => g.groupId), ['g']);

    // Classic members: told to rejoin; commits with their generation still work meanwhile.
    const commit = (memberId: string, generationId: number) =>
      h.c.commitOffsets({ key: REF, generationId, memberId, groupInstanceId: null, retentionTimeMs: -1n, apiVersion: 8, offsets: [{ topic: TOPIC, partition: 0, offset: 3n, leaderEpoch: -1, metadata: null, commitTimestamp: -1n }] });
    assert.deepEqual(await commit(leader.memberId, gen), [ErrorCode.NONE]);
    assert.deepEqual(await commit(leader.memberId, gen + 5), [ErrorCode.ILLEGAL_GENERATION]);
    for (const m of [leader, follower]) {
      assert.equal(await h.c.heartbeat({ key: REF, generationId: gen, memberId: m.memberId, groupInstanceId: null }), ErrorCode.REBALANCE_IN_PROGRESS);
      // Eager: everything revoked before the rejoin (no owned partitions).
      const rejoin = await h.c.joinGroup(classicJoin(m.memberId));
      assert.equal(rejoin.errorCode, ErrorCode.NONE);
      assert.equal(rejoin.generationId, gen + 1);
      assert.deepEqual(rejoin.members, []);
      const sync = await h.c.syncGroup({ key: REF, generationId: rejoin.generationId, memberId: m.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
      assert.equal(sync.errorCode, ErrorCode.NONE);
      (m as { assignment?: number[] }).assignment = partitionsOf(sync.assignment);
      assert.equal(await h.c.heartbeat({ key: REF, generationId: gen + 1, memberId: m.memberId, groupInstanceId: null }), ErrorCode.NONE);
    }
    // A new classic member (JoinGroup v4+) first gets its member id, then joins with it.
    const idFirst = await h.c.joinGroup({ ...classicJoin(''), requireKnownMemberId: true });
    assert.equal(idFirst.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    const newcomer = await h.c.joinGroup({ ...classicJoin(idFirst.memberId), requireKnownMemberId: true });
    assert.equal(newcomer.errorCode, ErrorCode.NONE);
    assert.equal((await h.c.leaveGroup(REF, [{ memberId: newcomer.memberId, groupInstanceId: null, reason: null }])).members[0]!.errorCode, ErrorCode.NONE);
    // The newcomer's join and leave moved the group epoch: everyone catches up, in a few bounded rounds
    // (classic members rejoin with what they own, as cooperative clients do; K heartbeats with what it owns).
    let kOwned: number[] = assigned(k) ?? [];
    for (let round = 0; round < 6; round++) {
      for (const m of [leader, follower] as Array<{ memberId: string; assignment?: number[] }>) {
        const epoch = (await h.c.consumerGroupDescribe(REF)).members.find((x) => x.memberId === m.memberId)!.memberEpoch;
        const hbCode = await h.c.heartbeat({ key: REF, generationId: epoch, memberId: m.memberId, groupInstanceId: null });
        if (hbCode === ErrorCode.NONE) continue;
        assert.equal(hbCode, ErrorCode.REBALANCE_IN_PROGRESS);
        const owned = [{ topic: 't', partitions: m.assignment! }];
        const again = await h.c.joinGroup({ ...classicJoin(m.memberId), protocols: [{ name: 'range', metadata: encodeVersioned(ConsumerProtocolSubscription, 1, { topics: ['t'], userData: null, ownedPartitions: owned, generationId: -1, rackId: null }) }] });
        assert.equal(again.errorCode, ErrorCode.NONE);
        const resync = await h.c.syncGroup({ key: REF, generationId: again.generationId, memberId: m.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
        assert.equal(resync.errorCode, ErrorCode.NONE);
        m.assignment = partitionsOf(resync.assignment);
      }
      const kEpoch = (await h.c.consumerGroupDescribe(REF)).members.find((x) => x.memberId === 'K')!.memberEpoch;
      const kr = await h.hb('K', kEpoch, { owned: kOwned });
      kOwned = assigned(kr) ?? kOwned;
      if ((await h.c.consumerGroupDescribe(REF)).state === 'Stable') break;
    }
    const all = [...(leader as { assignment?: number[] }).assignment!, ...(follower as { assignment?: number[] }).assignment!, ...kOwned].sort();
    assert.deepEqual(all, [0, 1, 2, 3], 'every partition once across classic and consumer members');
    assert.equal((await h.c.consumerGroupDescribe(REF)).state, 'Stable');
    // A classic member leaves with LeaveGroup; the consumer member takes over.
    const left = await h.c.leaveGroup(REF, [{ memberId: leader.memberId, groupInstanceId: null, reason: null }]);
    assert.deepEqual(left.members.map((m) => m.errorCode), [ErrorCode.NONE]);
    assert.equal((await h.c.consumerGroupDescribe(REF)).members.length, 2);
    // The last consumer-protocol member leaves: the group is classic again (online downgrade) and rebalances.
    assert.equal((await h.hb('K', -1)).errorCode, ErrorCode.NONE);
    assert.deepEqual((await h.c.listGroups('public', [], [])).groups.map((g) => [g.groupType, g.state]), [['classic', 'PreparingRebalance']]);
    // The classic generation is the group epoch (Kafka's fromConsumerGroup): an older one is ILLEGAL_GENERATION,
    // the current one REBALANCE_IN_PROGRESS; either way the member rejoins.
    const classicGen = h.c.groupState(REF)!.generationId;
    assert.equal(await h.c.heartbeat({ key: REF, generationId: gen + 1, memberId: follower.memberId, groupInstanceId: null }), classicGen === gen + 1 ? ErrorCode.REBALANCE_IN_PROGRESS : ErrorCode.ILLEGAL_GENERATION);
    assert.equal(await h.c.heartbeat({ key: REF, generationId: classicGen, memberId: follower.memberId, groupInstanceId: null }), ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoin = await h.c.joinGroup(classicJoin(follower.memberId));
    assert.equal(rejoin.errorCode, ErrorCode.NONE);
    assert.equal(rejoin.leaderId, follower.memberId);
    const sync = await h.c.syncGroup({ key: REF, generationId: rejoin.generationId, memberId: follower.memberId, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [{ memberId: follower.memberId, assignment: assignmentOf([0, 1, 2, 3]) }] });
    assert.deepEqual(partitionsOf(sync.assignment), [0, 1, 2, 3]);
    assert.deepEqual((await h.c.listGroups('public', [], [])).groups.map((g) => [g.groupType, g.state]), [['classic', 'Stable']]);
    assert.equal((await h.c.consumerGroupDescribe(REF)).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    await h.c.shutdown();
  });

  test('classic members in a consumer group that do not rejoin, or do not sync, within their rebalance timeout are removed', async () => {
    const h = await new Harness().start();
    await h.hb('K', 0);
    // Two classic members (rebalance timeout 5000 ms, session timeout 10000 ms) join the consumer group.
    const idA = (await h.c.joinGroup({ ...classicJoin(''), requireKnownMemberId: true })).memberId;
    const a = await h.c.joinGroup(classicJoin(idA));
    assert.equal(a.errorCode, ErrorCode.NONE);
    await h.c.syncGroup({ key: REF, generationId: a.generationId, memberId: idA, groupInstanceId: null, protocolType: 'consumer', protocolName: 'range', assignments: [] });
    const idB = (await h.c.joinGroup({ ...classicJoin(''), requireKnownMemberId: true })).memberId;
    const b = await h.c.joinGroup(classicJoin(idB));
    assert.equal(b.errorCode, ErrorCode.NONE);
    // B joined but never syncs; A is told to rejoin (B's join moved the epoch) and never does.
    assert.equal(await h.c.heartbeat({ key: REF, generationId: a.generationId, memberId: idA, groupInstanceId: null }), ErrorCode.REBALANCE_IN_PROGRESS);
    const members = async () => (await h.c.consumerGroupDescribe(REF)).members.map((m) => m.memberId).sort();
    assert.deepEqual(await members(), ['K', idA, idB].sort());
    h.clock.advance(5001);
    await flushAll();
    assert.deepEqual(await members(), ['K']);
    await h.c.shutdown();
  });

  test('durable: a coordinator started on the same store continues the group (epochs, members, assignment)', async () => {
    const kv = new MemKv();
    const h1 = await new Harness(kv).start();
    await h1.hb('A', 0);
    await h1.hb('B', 0);
    const a = await h1.hb('A', 1, { owned: [0, 1, 2, 3] });
    await h1.c.shutdown();
    const h2 = await new Harness(kv).start();
    const d = await h2.c.consumerGroupDescribe(REF);
    assert.equal(d.groupEpoch, 2);
    assert.deepEqual(d.members.map((m) => m.memberId).sort(), ['A', 'B']);
    const a2 = await h2.hb('A', 1, { owned: assigned(a)! });
    assert.equal(a2.errorCode, ErrorCode.NONE);
    assert.equal(a2.memberEpoch, 2);
    // Members that do not come back are removed after the session timeout.
    h2.clock.advance(10_001);
    assert.equal((await h2.c.consumerGroupDescribe(REF)).state, 'Empty');
    await h2.c.shutdown();
  });
});

/** A classic JoinGroup of an eager consumer subscribed to t (protocol type consumer, assignor range). */
function classicJoin(memberId: string): JoinGroupParams {
  return {
    key: REF,
    memberId,
    groupInstanceId: null,
    requireKnownMemberId: false,
    supportSkippingAssignment: false,
    clientId: 'classic',
    clientHost: '/h',
    rebalanceTimeoutMs: 5000,
    sessionTimeoutMs: 10_000,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: encodeVersioned(ConsumerProtocolSubscription, 1, { topics: ['t'], userData: null, ownedPartitions: [], generationId: -1, rackId: null }) }],
    reason: null,
    namespace: { tenant: 'public', namespace: 'default' },
  };
}

function assignmentOf(partitions: number[]): Buffer {
  return encodeVersioned(ConsumerProtocolAssignment, 1, { assignedPartitions: [{ topic: 't', partitions }], userData: null });
}

function partitionsOf(assignment: Buffer): number[] {
  return decodeVersioned(ConsumerProtocolAssignment, assignment).value.assignedPartitions.flatMap((t) => t.partitions);
}

const flushAll = async () => {
  for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r));
};

async function paramsOf(h: Harness): Promise<ConsumerHeartbeatParams> {
  void h;
  return {
    memberId: 'M',
    memberEpoch: 0,
    instanceId: null,
    rackId: null,
    rebalanceTimeoutMs: 1000,
    subscribedTopicNames: ['t'],
    subscribedTopicRegex: null,
    serverAssignor: null,
    owned: [],
    clientId: 'c',
    clientHost: '/h',
    namespace: { tenant: 'public', namespace: 'default' },
    subscription: { topics: [TOPIC], metadata: new Map([[TOPIC, { topicId: TOPIC_ID, partitions: 4 }]]) },
  };
}

describe('ConsumerGroupHeartbeat request validation (Kafka 4.x rules)', () => {
  const base = { groupId: 'g', memberId: 'm', memberEpoch: 0, instanceId: null, rackId: null, rebalanceTimeoutMs: 1000, subscribedTopicNames: ['t'], subscribedTopicRegex: null, serverAssignor: null, topicPartitions: [] };
  test('each invalid field gets INVALID_REQUEST with Kafka\'s message; unknown assignor and bad regex their own codes', () => {
    assert.equal(validateHeartbeat(base, 1), null);
    assert.deepEqual(validateHeartbeat({ ...base, memberId: '' }, 1), { errorCode: ErrorCode.INVALID_REQUEST, message: "MemberId can't be empty." });
    assert.equal(validateHeartbeat({ ...base, memberId: '' }, 0), null, 'v0: the coordinator assigns the member id');
    assert.equal(validateHeartbeat({ ...base, rebalanceTimeoutMs: -1 }, 1)!.message, 'RebalanceTimeoutMs must be provided in first request.');
    assert.equal(validateHeartbeat({ ...base, topicPartitions: null }, 1)!.message, 'TopicPartitions must be empty when (re-)joining.');
    assert.equal(validateHeartbeat({ ...base, subscribedTopicNames: null }, 1)!.errorCode, ErrorCode.INVALID_REQUEST);
    assert.equal(validateHeartbeat({ ...base, memberEpoch: -2 }, 1)!.message, "InstanceId can't be null.");
    assert.equal(validateHeartbeat({ ...base, memberEpoch: -3 }, 1)!.message, 'MemberEpoch is invalid.');
    assert.equal(validateHeartbeat({ ...base, serverAssignor: 'sticky' }, 1)!.errorCode, ErrorCode.UNSUPPORTED_ASSIGNOR);
    assert.equal(validateHeartbeat({ ...base, subscribedTopicRegex: '(' }, 1)!.errorCode, ErrorCode.INVALID_REGULAR_EXPRESSION);
  });
  test('regex: whole-name match; constructs RE2/J refuses are refused', () => {
    assert.equal(compileRegex('orders-.*')!.test('orders-eu'), true);
    assert.equal(compileRegex('orders-.*')!.test('x-orders-eu'), false);
    assert.equal(compileRegex('a|b')!.test('b'), true);
    assert.equal(compileRegex('(a)\\1'), null);
    assert.equal(compileRegex('a(?=b)'), null);
    assert.equal(compileRegex('(?i)ORDERS')!.test('orders'), true, 'RE2/J inline flags');
  });
  test('regex: a pattern that makes a backtracking engine exponential matches a 249-character name at once', () => {
    // a hostile member's SubscribedTopicRegex; a JavaScript RegExp takes ~2^n steps on it
    const re = compileRegex('(a+)+b')!;
    const started = process.hrtime.bigint();
    assert.equal(re.test('a'.repeat(248) + 'c'), false);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    // not a timing target: a bound 4 orders of magnitude above what it takes, far below what backtracking would
    assert.ok(ms < 5_000, `matched in ${ms} ms`);
  });
});
