/**
 * The group coordinator's state machine with a manual clock: joins and the initial rebalance
 * delay, rebalances, session and rebalance timeouts, static membership, protocol selection,
 * generation fencing, group size, offsets (validation, durability, expiration), tenants,
 * deletion, ownership. Kafka's GroupCoordinator behaviour is the reference for every expectation.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ManualClock } from '../../src/coordinator/clock.js';
import { LocalGroupCoordinator, type CoordinatorConfig, type GroupRef, type JoinGroupParams, type JoinResult, type SyncResult } from '../../src/coordinator/coordinator.js';
import { SingleNodeLocator, javaStringHash, offsetsPartitionFor, type CoordinatorLocator } from '../../src/coordinator/locator.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { encodeVersioned } from '../../src/protocol/codec/frame.js';
import { ConsumerProtocolSubscription } from '../../src/protocol/generated/index.js';
import { StorageError, type KeyValueStore } from '../../src/storage/engine.js';
import { silentLogger } from '../../src/logger.js';

class MemKv implements KeyValueStore {
  readonly data = new Map<string, Map<string, Buffer>>();
  failPuts = false;
  puts = 0;
  async get(ns: string, key: string): Promise<Buffer | null> {
    return this.data.get(ns)?.get(key) ?? null;
  }
  async put(ns: string, key: string, value: Buffer | null): Promise<void> {
    this.puts++;
    await Promise.resolve();
    if (this.failPuts) throw new StorageError(ErrorCode.KAFKA_STORAGE_ERROR, 'injected failure');
    let m = this.data.get(ns);
    if (!m) this.data.set(ns, (m = new Map()));
    if (value === null) m.delete(key);
    else m.set(key, Buffer.from(value));
  }
  async scan(ns: string): Promise<Array<{ key: string; value: Buffer }>> {
    return [...(this.data.get(ns) ?? new Map<string, Buffer>())].map(([key, value]) => ({ key, value }));
  }
}

const BASE: CoordinatorConfig = {
  groupInitialRebalanceDelayMs: 3000,
  groupMinSessionTimeoutMs: 1000,
  groupMaxSessionTimeoutMs: 60_000,
  groupMaxSize: 100,
  offsetsRetentionMs: 24 * 3600_000,
  offsetsRetentionCheckIntervalMs: 600_000,
  offsetMetadataMaxBytes: 100,
};

const TOPIC = 'persistent://public/default/t';

function subscription(...topics: string[]): Buffer {
  return encodeVersioned(ConsumerProtocolSubscription, 0, { topics, userData: null, ownedPartitions: [], generationId: -1, rackId: null });
}

/** Let promise chains (storage writes, callbacks) run. */
const flush = () => new Promise<void>((r) => setImmediate(r));

interface Pending<T> {
  done: boolean;
  value?: T;
  promise: Promise<T>;
}

function track<T>(p: Promise<T>): Pending<T> {
  const t: Pending<T> = { done: false, promise: p };
  void p.then((v) => {
    t.done = true;
    t.value = v;
  });
  return t;
}

class Harness {
  readonly clock = new ManualClock();
  readonly kv: MemKv;
  c!: LocalGroupCoordinator;

  constructor(
    readonly config: CoordinatorConfig = BASE,
    kv?: MemKv,
    readonly locator: CoordinatorLocator = new SingleNodeLocator(4, 1, () => ({ host: 'gw', port: 9092 })),
  ) {
    this.kv = kv ?? new MemKv();
  }

  async start(): Promise<this> {
    this.c = new LocalGroupCoordinator(this.locator, this.kv, this.config, silentLogger(), this.clock);
    await this.c.start();
    return this;
  }

  /** A group as the handlers name it: checked in namespace `default` (its home once created). */
  key(groupId = 'g', tenant = 'public', namespace = 'default'): GroupRef {
    return { tenant, groupId, namespace };
  }

  joinParams(over: Partial<JoinGroupParams> = {}): JoinGroupParams {
    return {
      key: this.key(),
      memberId: '',
      groupInstanceId: null,
      requireKnownMemberId: false,
      supportSkippingAssignment: false,
      clientId: 'client',
      clientHost: '/127.0.0.1',
      rebalanceTimeoutMs: 10_000,
      sessionTimeoutMs: 5000,
      protocolType: 'consumer',
      protocols: [{ name: 'range', metadata: subscription('t') }],
      reason: null,
      namespace: { tenant: 'public', namespace: 'default' },
      ...over,
    };
  }

  join(over: Partial<JoinGroupParams> = {}): Pending<JoinResult> {
    return track(this.c.joinGroup(this.joinParams(over)));
  }

  sync(memberId: string, generationId: number, assignments: Array<{ memberId: string; assignment: Buffer }> = [], key = this.key()): Pending<SyncResult> {
    return track(this.c.syncGroup({ key, generationId, memberId, groupInstanceId: null, protocolType: null, protocolName: null, assignments }));
  }

  heartbeat(memberId: string, generationId: number, groupInstanceId: string | null = null, key = this.key()): Promise<number> {
    return this.c.heartbeat({ key, generationId, memberId, groupInstanceId });
  }

  /** Move the clock in steps of at most a second, letting async work (writes, rescheduling) run between steps. */
  async advance(ms: number): Promise<void> {
    while (ms > 0) {
      const step = Math.min(ms, 1000);
      this.clock.advance(step);
      ms -= step;
      for (let i = 0; i < 5; i++) await flush();
    }
  }

  /** Advance in 500 ms steps until every given JoinGroup is answered (the initial delay may extend). */
  async settle(...joins: Pending<unknown>[]): Promise<void> {
    for (let t = 0; t < 120 && !joins.every((j) => j.done); t++) await this.advance(500);
    assert.ok(joins.every((j) => j.done), 'joins completed');
  }

  state(key = this.key()) {
    return this.c.groupState(key);
  }

  commit(memberId: string, generationId: number, offsets: Array<{ partition: number; offset: bigint; metadata?: string | null; topic?: string }>, over: { key?: GroupRef; apiVersion?: number; retentionTimeMs?: bigint } = {}) {
    return this.c.commitOffsets({
      key: over.key ?? this.key(),
      generationId,
      memberId,
      groupInstanceId: null,
      retentionTimeMs: over.retentionTimeMs ?? -1n,
      offsets: offsets.map((o) => ({ topic: o.topic ?? TOPIC, partition: o.partition, offset: o.offset, leaderEpoch: -1, metadata: o.metadata ?? '', commitTimestamp: -1n })),
      apiVersion: over.apiVersion ?? 8,
    });
  }

  async fetch(key = this.key(), partitions: Array<{ topic: string; partition: number }> | null = null) {
    const r = await this.c.fetchOffsets(key, partitions, false);
    return { errorCode: r.errorCode, offsets: r.offsets.map((o) => [o.topic, o.partition, o.offset]) };
  }

  /** One member joins (v0-v3 style, no MEMBER_ID_REQUIRED), waits out the initial delay, syncs: Stable. */
  async stableSingle(over: Partial<JoinGroupParams> = {}): Promise<{ memberId: string; generationId: number }> {
    const j = this.join(over);
    await this.advance(this.config.groupInitialRebalanceDelayMs);
    assert.ok(j.done, 'join completed after the initial delay');
    const r = j.value!;
    assert.equal(r.errorCode, ErrorCode.NONE);
    const s = this.sync(r.memberId, r.generationId, [{ memberId: r.memberId, assignment: Buffer.from('A') }], over.key ?? this.key());
    await flush();
    await flush();
    assert.equal(s.value?.errorCode, ErrorCode.NONE);
    return { memberId: r.memberId, generationId: r.generationId };
  }
}

describe('coordinator: locator', () => {
  test('Java String.hashCode and Kafka partitionFor', () => {
    assert.equal(javaStringHash('hello'), 99162322);
    assert.equal(javaStringHash(''), 0);
    assert.equal(javaStringHash('polygenelubricants'), -2147483648); // Integer.MIN_VALUE: Utils.abs gives 0
    assert.equal(offsetsPartitionFor({ tenant: 'polygenelu', groupId: 'bricants'.slice(1) }, 50) >= 0, true);
    for (let i = 0; i < 200; i++) {
      const p = offsetsPartitionFor({ tenant: 't', groupId: `g${i}` }, 7);
      assert.ok(p >= 0 && p < 7);
    }
    // The tenant is part of the key.
    const a = offsetsPartitionFor({ tenant: 'a', groupId: 'billing' }, 1000);
    const b = offsetsPartitionFor({ tenant: 'b', groupId: 'billing' }, 1000);
    assert.notEqual(a, b);
  });
});

describe('coordinator: joining', () => {
  test('JoinGroup v4+: MEMBER_ID_REQUIRED hands out the id; the initial delay holds the first rebalance', async () => {
    const h = await new Harness().start();
    const first = h.join({ requireKnownMemberId: true, clientId: 'c1' });
    await flush();
    assert.equal(first.value?.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    const memberId = first.value!.memberId;
    assert.match(memberId, /^c1-[0-9a-f-]{36}$/);
    const second = h.join({ requireKnownMemberId: true, memberId });
    await h.advance(2999);
    assert.equal(second.done, false, 'still in the initial delay');
    assert.equal(h.state()?.state, 'PreparingRebalance');
    await h.advance(1);
    assert.equal(second.value?.errorCode, ErrorCode.NONE);
    assert.equal(second.value?.generationId, 1);
    assert.equal(second.value?.leaderId, memberId);
    assert.equal(second.value?.protocolName, 'range');
    assert.equal(second.value?.members.length, 1, 'the leader gets the members');
    assert.equal(h.state()?.state, 'CompletingRebalance');
  });

  test('a member joining during the initial delay extends it (within the rebalance timeout)', async () => {
    const h = await new Harness().start();
    const a = h.join({ clientId: 'a' });
    await h.advance(1000);
    const b = h.join({ clientId: 'b' });
    await h.advance(2000); // t=3000: the first delay ends with a new member: wait another 3000
    assert.equal(a.done || b.done, false);
    await h.advance(2999);
    assert.equal(a.done || b.done, false);
    await h.advance(1);
    assert.ok(a.done && b.done);
    assert.equal(a.value!.generationId, 1);
    const leader = [a.value!, b.value!].filter((r) => r.members.length === 2);
    assert.equal(leader.length, 1, 'exactly one leader with both members');
  });

  test('a new member rebalances a Stable group; heartbeats say REBALANCE_IN_PROGRESS; all rejoin, no delay', async () => {
    const h = await new Harness().start();
    const a = await h.stableSingle({ clientId: 'a' });
    assert.equal(h.state()?.state, 'Stable');
    const b = h.join({ clientId: 'b' });
    await flush();
    assert.equal(h.state()?.state, 'PreparingRebalance');
    assert.equal(await h.heartbeat(a.memberId, a.generationId), ErrorCode.REBALANCE_IN_PROGRESS);
    // Commits of the current generation are still allowed while preparing.
    assert.deepEqual(await h.commit(a.memberId, a.generationId, [{ partition: 0, offset: 5n }]), [ErrorCode.NONE]);
    const aAgain = h.join({ memberId: a.memberId, clientId: 'a' });
    await flush();
    assert.ok(aAgain.done && b.done, 'completes as soon as every member rejoined');
    assert.equal(aAgain.value!.generationId, 2);
    assert.equal(aAgain.value!.leaderId, a.memberId, 'the leader that rejoined stays leader');
    assert.equal(aAgain.value!.members.length, 2);
    assert.deepEqual(b.value!.members, []);
    // Follower syncs first and waits for the leader's assignment.
    const bs = h.sync(b.value!.memberId, 2);
    await flush();
    assert.equal(bs.done, false);
    assert.deepEqual(await h.commit(b.value!.memberId, 2, [{ partition: 0, offset: 6n }]), [ErrorCode.REBALANCE_IN_PROGRESS], 'no commits while completing');
    const as = h.sync(a.memberId, 2, [
      { memberId: a.memberId, assignment: Buffer.from('x') },
      { memberId: b.value!.memberId, assignment: Buffer.from('y') },
    ]);
    await flush();
    await flush();
    assert.equal(as.value?.assignment.toString(), 'x');
    assert.equal(bs.value?.assignment.toString(), 'y');
    assert.equal(bs.value?.protocolName, 'range');
    assert.equal(h.state()?.state, 'Stable');
    // A follower's SyncGroup in Stable gets its assignment again.
    const again = h.sync(b.value!.memberId, 2);
    await flush();
    assert.equal(again.value?.assignment.toString(), 'y');
    // Old generation: fenced.
    assert.equal(await h.heartbeat(a.memberId, 1), ErrorCode.ILLEGAL_GENERATION);
    assert.deepEqual(await h.commit(a.memberId, 1, [{ partition: 0, offset: 7n }]), [ErrorCode.ILLEGAL_GENERATION]);
  });

  test('a follower rejoining with the same metadata in Stable gets the current generation without a rebalance; the leader forces one', async () => {
    const h = await new Harness().start();
    const a = h.join({ clientId: 'a' });
    const b = h.join({ clientId: 'b' });
    await h.settle(a, b);
    const leader = a.value!.members.length ? a.value! : b.value!;
    const follower = leader === a.value ? b.value! : a.value!;
    h.sync(follower.memberId, 1);
    h.sync(leader.memberId, 1, []);
    await flush();
    await flush();
    assert.equal(h.state()?.state, 'Stable');
    const fj = h.join({ memberId: follower.memberId });
    await flush();
    assert.equal(fj.value?.generationId, 1);
    assert.equal(h.state()?.state, 'Stable');
    h.join({ memberId: leader.memberId });
    await flush();
    assert.equal(h.state()?.state, 'PreparingRebalance');
  });

  test('INVALID_SESSION_TIMEOUT outside the configured bounds; INVALID_GROUP_ID for an empty group id', async () => {
    const h = await new Harness().start();
    for (const sessionTimeoutMs of [999, 60_001]) {
      const j = h.join({ sessionTimeoutMs });
      await flush();
      assert.equal(j.value?.errorCode, ErrorCode.INVALID_SESSION_TIMEOUT);
    }
    const j = h.join({ key: h.key('') });
    await flush();
    assert.equal(j.value?.errorCode, ErrorCode.INVALID_GROUP_ID);
  });

  test('UNKNOWN_MEMBER_ID: a member id for a group that does not exist, or that the group does not know', async () => {
    const h = await new Harness().start();
    const j = h.join({ memberId: 'ghost' });
    await flush();
    assert.equal(j.value?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    await h.stableSingle();
    const k = h.join({ memberId: 'ghost' });
    await flush();
    assert.equal(k.value?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(await h.heartbeat('ghost', 1), ErrorCode.UNKNOWN_MEMBER_ID);
    assert.equal(await h.heartbeat('ghost', 1, null, h.key('nope')), ErrorCode.UNKNOWN_MEMBER_ID);
    const s = h.sync('ghost', 1);
    await flush();
    assert.equal(s.value?.errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('INCONSISTENT_GROUP_PROTOCOL: another protocol type, or no protocol in common', async () => {
    const h = await new Harness().start();
    await h.stableSingle();
    const other = h.join({ protocolType: 'connect', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }] });
    const none = h.join({ protocols: [{ name: 'roundrobin', metadata: Buffer.alloc(0) }] });
    const empty = h.join({ key: h.key('fresh'), protocols: [] });
    await flush();
    assert.equal(other.value?.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal(none.value?.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
    assert.equal(empty.value?.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
  });

  test('the protocol every member supports, by vote of preference', async () => {
    const h = await new Harness().start();
    const p = (...names: string[]) => names.map((name) => ({ name, metadata: subscription('t') }));
    const a = h.join({ protocols: p('range', 'cooperative-sticky') });
    const b = h.join({ protocols: p('cooperative-sticky', 'range') });
    const c = h.join({ protocols: p('cooperative-sticky', 'range') });
    await h.settle(a, b, c);
    assert.equal(a.value?.protocolName, 'cooperative-sticky', 'two votes against one');
    const h2 = await new Harness().start();
    const x = h2.join({ protocols: p('range', 'roundrobin') });
    const y = h2.join({ protocols: p('roundrobin') });
    await h2.settle(x, y);
    assert.equal(x.value?.protocolName, 'roundrobin', 'the only common one');
    assert.equal(y.value?.protocolName, 'roundrobin');
    void b;
    void c;
  });

  test('group.max.size: GROUP_MAX_SIZE_REACHED for one member too many', async () => {
    const h = await new Harness({ ...BASE, groupMaxSize: 2 }).start();
    const a = h.join();
    const b = h.join();
    await h.settle(a, b);
    assert.equal(a.value?.errorCode, ErrorCode.NONE);
    const c = h.join();
    await flush();
    assert.equal(c.value?.errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
    assert.equal(h.state()?.members.length, 2);
    void b;
  });
});

describe('coordinator: liveness', () => {
  test('heartbeats keep a member; without them it is removed after the session timeout and the group rebalances', async () => {
    const h = await new Harness().start();
    const a = h.join({ clientId: 'a', sessionTimeoutMs: 3000 });
    const b = h.join({ clientId: 'b', sessionTimeoutMs: 3000 });
    await h.settle(a, b);
    const am = a.value!;
    const bm = b.value!;
    const leader = am.members.length ? am : bm;
    h.sync(am.memberId, 1, leader === am ? [] : []);
    h.sync(bm.memberId, 1, []);
    await flush();
    await flush();
    assert.equal(h.state()?.state, 'Stable');
    // a heartbeats every second for 10 s; b goes silent.
    for (let i = 0; i < 10; i++) {
      await h.advance(1000);
      const code = await h.heartbeat(am.memberId, h.state()!.generationId);
      if (i < 2) assert.equal(code, ErrorCode.NONE, `heartbeat ${i}`);
    }
    const st = h.state()!;
    assert.deepEqual(st.members, [am.memberId], 'b was removed');
    assert.equal(st.state, 'PreparingRebalance', 'waiting for a to rejoin');
    assert.equal(await h.heartbeat(am.memberId, 1), ErrorCode.REBALANCE_IN_PROGRESS);
    const rejoin = h.join({ memberId: am.memberId });
    await flush();
    assert.equal(rejoin.value?.generationId, 2);
    assert.equal(rejoin.value?.leaderId, am.memberId);
  });

  test('a member that does not rejoin within the rebalance timeout is removed', async () => {
    const h = await new Harness().start();
    const a = h.join({ rebalanceTimeoutMs: 8000 });
    const b = h.join({ rebalanceTimeoutMs: 8000 });
    await h.settle(a, b);
    h.sync(a.value!.memberId, 1, []);
    h.sync(b.value!.memberId, 1, []);
    await flush();
    await flush();
    const c = h.join({ rebalanceTimeoutMs: 8000 });
    await flush();
    assert.equal(h.state()?.state, 'PreparingRebalance');
    // a rejoins; b keeps heartbeating but never rejoins.
    const aj = h.join({ memberId: a.value!.memberId });
    for (let t = 0; t < 7; t++) {
      await h.advance(1000);
      await h.heartbeat(b.value!.memberId, 1);
    }
    assert.equal(aj.done, false);
    await h.advance(1000);
    assert.ok(aj.done && c.done);
    assert.equal(aj.value!.generationId, 2);
    assert.equal(h.state()!.members.includes(b.value!.memberId), false);
    assert.equal(await h.heartbeat(b.value!.memberId, 1), ErrorCode.UNKNOWN_MEMBER_ID);
  });

  test('members that never send SyncGroup are removed after the rebalance timeout', async () => {
    const h = await new Harness().start();
    const a = h.join({ rebalanceTimeoutMs: 5000, sessionTimeoutMs: 60_000 });
    const b = h.join({ rebalanceTimeoutMs: 5000, sessionTimeoutMs: 60_000 });
    await h.settle(a, b);
    const leader = a.value!.members.length ? a.value! : b.value!;
    const follower = leader === a.value ? b.value! : a.value!;
    const fs = h.sync(follower.memberId, 1);
    await h.advance(5000);
    assert.equal(fs.value?.errorCode, ErrorCode.REBALANCE_IN_PROGRESS, 'the waiting follower is told to rejoin');
    assert.deepEqual(h.state()?.members, [follower.memberId], 'the silent leader was removed');
    assert.equal(h.state()?.state, 'PreparingRebalance');
  });

  test('a pending member (MEMBER_ID_REQUIRED) that never comes back expires after its session timeout', async () => {
    const h = await new Harness().start();
    const a = await h.stableSingle();
    const pending = h.join({ requireKnownMemberId: true, sessionTimeoutMs: 2000 });
    await flush();
    assert.equal(pending.value?.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    // The leader rejoins (forcing a rebalance); the pending member blocks completion until it expires.
    const aj = h.join({ memberId: a.memberId });
    await h.advance(1999);
    assert.equal(aj.done, false);
    await h.advance(1);
    assert.equal(aj.value?.errorCode, ErrorCode.NONE);
    assert.equal(aj.value?.generationId, 2);
  });

  test('LeaveGroup: the group rebalances at once; unknown members get UNKNOWN_MEMBER_ID', async () => {
    const h = await new Harness().start();
    const a = await h.stableSingle();
    const r = await h.c.leaveGroup(h.key(), [
      { memberId: a.memberId, groupInstanceId: null, reason: 'bye' },
      { memberId: 'ghost', groupInstanceId: null, reason: null },
    ]);
    assert.equal(r.errorCode, ErrorCode.NONE);
    assert.deepEqual(r.members.map((m) => m.errorCode), [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID]);
    await flush();
    assert.equal(h.state()?.state, 'Empty');
    assert.equal(h.state()?.generationId, 2);
    const none = await h.c.leaveGroup(h.key('nope'), [{ memberId: 'x', groupInstanceId: null, reason: null }]);
    assert.deepEqual(none.members.map((m) => m.errorCode), [ErrorCode.UNKNOWN_MEMBER_ID]);
  });
});

describe('coordinator: static membership', () => {
  test('a restarted static member gets a new member id without a rebalance; the old id is fenced', async () => {
    const h = await new Harness().start();
    const first = h.join({ groupInstanceId: 'i-1', clientId: 'c' });
    const other = h.join({ clientId: 'd' });
    await h.settle(first, other);
    const old = first.value!;
    h.sync(old.memberId, 1, []);
    h.sync(other.value!.memberId, 1, []);
    await flush();
    await flush();
    assert.match(old.memberId, /^i-1-/);
    const again = h.join({ groupInstanceId: 'i-1', clientId: 'c' });
    await flush();
    await flush();
    assert.equal(again.value?.errorCode, ErrorCode.NONE);
    assert.notEqual(again.value?.memberId, old.memberId);
    assert.equal(again.value?.generationId, 1, 'same generation: no rebalance');
    assert.equal(h.state()?.state, 'Stable');
    assert.equal(await h.heartbeat(old.memberId, 1, 'i-1'), ErrorCode.FENCED_INSTANCE_ID);
    assert.equal(await h.heartbeat(again.value!.memberId, 1, 'i-1'), ErrorCode.NONE);
    assert.deepEqual(await h.c.commitOffsets({ key: h.key(), generationId: 1, memberId: old.memberId, groupInstanceId: 'i-1', retentionTimeMs: -1n, offsets: [{ topic: TOPIC, partition: 0, offset: 1n, leaderEpoch: -1, metadata: '', commitTimestamp: -1n }], apiVersion: 8 }), [ErrorCode.FENCED_INSTANCE_ID]);
  });

  test('v9: a restarted static leader is told to skip the assignment', async () => {
    const h = await new Harness().start();
    const a = h.join({ groupInstanceId: 'lead' });
    await h.advance(3000);
    h.sync(a.value!.memberId, 1, []);
    await flush();
    await flush();
    const again = h.join({ groupInstanceId: 'lead', supportSkippingAssignment: true });
    await flush();
    await flush();
    assert.equal(again.value?.skipAssignment, true);
    assert.equal(again.value?.leaderId, again.value?.memberId);
    assert.equal(again.value?.members.length, 1);
  });

  test('static members are not dropped for missing a rebalance, only by their session timeout; LeaveGroup by instance id', async () => {
    const h = await new Harness().start();
    const s = h.join({ groupInstanceId: 'static', sessionTimeoutMs: 20_000, rebalanceTimeoutMs: 5000 });
    const d = h.join({ sessionTimeoutMs: 20_000, rebalanceTimeoutMs: 5000 });
    await h.settle(s, d);
    h.sync(s.value!.memberId, 1, []);
    h.sync(d.value!.memberId, 1, []);
    await flush();
    await flush();
    // The dynamic member rejoins with new metadata; the static one stays away.
    const dj = h.join({ memberId: d.value!.memberId, protocols: [{ name: 'range', metadata: subscription('t', 'u') }], sessionTimeoutMs: 20_000, rebalanceTimeoutMs: 5000 });
    await h.advance(5000);
    assert.ok(dj.done);
    assert.equal(dj.value!.generationId, 2);
    assert.ok(h.state()!.members.includes(s.value!.memberId), 'the static member is still a member');
    const r = await h.c.leaveGroup(h.key(), [{ memberId: '', groupInstanceId: 'static', reason: 'admin' }]);
    assert.deepEqual(r.members.map((m) => m.errorCode), [ErrorCode.NONE]);
    assert.equal(h.state()!.members.includes(s.value!.memberId), false);
    const again = await h.c.leaveGroup(h.key(), [{ memberId: '', groupInstanceId: 'static', reason: null }]);
    assert.deepEqual(again.members.map((m) => m.errorCode), [ErrorCode.UNKNOWN_MEMBER_ID]);
  });
});

describe('coordinator: offsets', () => {
  test('commit rules: admin commits to empty groups, members only on non-empty ones, generation fencing, metadata size', async () => {
    const h = await new Harness().start();
    // No group, generation -1: a simple group is created.
    assert.deepEqual(await h.commit('', -1, [{ partition: 0, offset: 10n, metadata: 'm' }]), [ErrorCode.NONE]);
    assert.deepEqual((await h.fetch()).offsets, [[TOPIC, 0, 10n]]);
    // No group, a generation: ILLEGAL_GENERATION (v8) / GROUP_ID_NOT_FOUND (v9).
    assert.deepEqual(await h.commit('m', 3, [{ partition: 0, offset: 1n }], { key: h.key('other') }), [ErrorCode.ILLEGAL_GENERATION]);
    assert.deepEqual(await h.commit('m', 3, [{ partition: 0, offset: 1n }], { key: h.key('other'), apiVersion: 9 }), [ErrorCode.GROUP_ID_NOT_FOUND]);
    // Metadata over the limit: that partition only.
    assert.deepEqual(await h.commit('', -1, [{ partition: 1, offset: 1n, metadata: 'x'.repeat(101) }, { partition: 2, offset: 2n }]), [ErrorCode.OFFSET_METADATA_TOO_LARGE, ErrorCode.NONE]);
    // Once the group has members, anonymous commits are refused.
    const a = await h.stableSingle();
    assert.deepEqual(await h.commit('', -1, [{ partition: 0, offset: 11n }]), [ErrorCode.UNKNOWN_MEMBER_ID]);
    assert.deepEqual(await h.commit('ghost', a.generationId, [{ partition: 0, offset: 11n }]), [ErrorCode.UNKNOWN_MEMBER_ID]);
    assert.deepEqual(await h.commit(a.memberId, a.generationId + 1, [{ partition: 0, offset: 11n }]), [ErrorCode.ILLEGAL_GENERATION]);
    assert.deepEqual(await h.commit(a.memberId, a.generationId, [{ partition: 0, offset: 12n }]), [ErrorCode.NONE]);
    const f = await h.c.fetchOffsets(h.key(), [{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 9 }], true);
    assert.deepEqual(f.offsets.map((o) => [o.partition, o.offset, o.metadata]), [[0, 12n, ''], [9, -1n, '']]);
  });

  test('a storage failure fails the commit (NOT_COORDINATOR) and keeps the previous offset', async () => {
    const h = await new Harness().start();
    await h.commit('', -1, [{ partition: 0, offset: 1n }]);
    h.kv.failPuts = true;
    assert.deepEqual(await h.commit('', -1, [{ partition: 0, offset: 2n }]), [ErrorCode.NOT_COORDINATOR]);
    h.kv.failPuts = false;
    assert.deepEqual((await h.fetch()).offsets, [[TOPIC, 0, 1n]]);
  });

  test('offsets and groups survive a restart; a Stable group keeps its members and generation', async () => {
    const kv = new MemKv();
    const h = await new Harness(BASE, kv).start();
    const a = await h.stableSingle({ sessionTimeoutMs: 10_000 });
    await h.commit(a.memberId, a.generationId, [{ partition: 0, offset: 42n }, { partition: 1, offset: 7n }]);
    await h.commit('', -1, [{ partition: 0, offset: 5n }], { key: h.key('simple') });
    await h.c.shutdown();
    const h2 = await new Harness(BASE, kv).start();
    assert.deepEqual((await h2.fetch()).offsets.sort(), [[TOPIC, 0, 42n], [TOPIC, 1, 7n]]);
    assert.deepEqual((await h2.fetch(h2.key('simple'))).offsets, [[TOPIC, 0, 5n]]);
    const st = h2.state()!;
    assert.equal(st.state, 'Stable');
    assert.equal(st.generationId, a.generationId);
    assert.deepEqual(st.members, [a.memberId]);
    // The member carries on with its generation; its assignment is served again.
    assert.equal(await h2.heartbeat(a.memberId, a.generationId), ErrorCode.NONE);
    const s = h2.sync(a.memberId, a.generationId);
    await flush();
    assert.equal(s.value?.assignment.toString(), 'A');
    // A member that does not come back is expired after its session timeout: the group empties.
    await h2.advance(10_000);
    assert.equal(h2.state()?.state, 'Empty');
    assert.equal(h2.state()?.generationId, a.generationId + 1);
  });

  test('retention: offsets of an empty group expire after the retention time since it became empty; then the group goes', async () => {
    const cfg = { ...BASE, offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 10_000 };
    const h = await new Harness(cfg).start();
    const a = await h.stableSingle();
    await h.commit(a.memberId, a.generationId, [{ partition: 0, offset: 1n }]);
    // Long after the commit, but the group has a live member: kept.
    for (let i = 0; i < 40; i++) {
      await h.advance(4000);
      await h.heartbeat(a.memberId, a.generationId);
    }
    assert.equal((await h.fetch()).offsets.length, 1, 'offsets of an active group never expire');
    await h.c.leaveGroup(h.key(), [{ memberId: a.memberId, groupInstanceId: null, reason: null }]);
    await flush();
    assert.equal(h.state()?.state, 'Empty');
    await h.advance(50_000);
    assert.equal((await h.fetch()).offsets.length, 1, 'empty for less than the retention time');
    await h.advance(20_000);
    await flush();
    assert.equal((await h.fetch()).offsets.length, 0);
    assert.equal(h.state(), null, 'the empty group without offsets is gone');
    // Simple group: each offset on its own commit time; explicit retention (v2-v4) wins.
    await h.commit('', -1, [{ partition: 0, offset: 1n }], { key: h.key('s') });
    await h.advance(30_000);
    await h.commit('', -1, [{ partition: 1, offset: 1n }], { key: h.key('s') });
    await h.commit('', -1, [{ partition: 2, offset: 1n }], { key: h.key('s'), retentionTimeMs: 5000n });
    await h.advance(10_000);
    assert.deepEqual((await h.fetch(h.key('s'))).offsets.map((o) => o[1]).sort(), [0, 1]);
    await h.advance(30_000);
    assert.deepEqual((await h.fetch(h.key('s'))).offsets.map((o) => o[1]), [1]);
  });

  test('retention: a Stable consumer group loses offsets of topics nobody subscribes to', async () => {
    const cfg = { ...BASE, offsetsRetentionMs: 60_000, offsetsRetentionCheckIntervalMs: 10_000 };
    const h = await new Harness(cfg).start();
    const a = await h.stableSingle({ sessionTimeoutMs: 60_000 });
    await h.commit(a.memberId, a.generationId, [{ partition: 0, offset: 1n }, { partition: 0, offset: 2n, topic: 'persistent://public/default/old' }]);
    for (let i = 0; i < 15; i++) {
      await h.advance(5000); // the retention check runs every 10 s
      await h.heartbeat(a.memberId, a.generationId);
    }
    assert.deepEqual((await h.fetch()).offsets, [[TOPIC, 0, 1n]]);
  });

  test('OffsetDelete: GROUP_SUBSCRIBED_TO_TOPIC for subscribed topics of an active group; GROUP_ID_NOT_FOUND', async () => {
    const h = await new Harness().start();
    const other = 'persistent://public/default/other';
    const a = await h.stableSingle();
    await h.commit(a.memberId, a.generationId, [{ partition: 0, offset: 1n }, { partition: 0, offset: 1n, topic: other }]);
    const r = await h.c.deleteOffsets(h.key(), [{ topic: TOPIC, partition: 0 }, { topic: other, partition: 0 }]);
    assert.deepEqual(r, { errorCode: ErrorCode.NONE, partitions: [ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC, ErrorCode.NONE] });
    assert.deepEqual((await h.fetch()).offsets, [[TOPIC, 0, 1n]]);
    assert.equal((await h.c.deleteOffsets(h.key('none'), [])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  });
});

describe('coordinator: administration and tenants', () => {
  test('same group id in two tenants: separate groups, offsets and listings', async () => {
    const h = await new Harness().start();
    const ka = h.key('billing', 'acme');
    const kb = h.key('billing', 'globex');
    await h.stableSingle({ key: ka });
    await h.commit('', -1, [{ partition: 0, offset: 3n }], { key: kb });
    assert.equal(h.state(ka)?.state, 'Stable');
    assert.equal(h.state(kb)?.state, 'Empty');
    assert.deepEqual((await h.fetch(ka)).offsets, []);
    assert.deepEqual((await h.fetch(kb)).offsets, [[TOPIC, 0, 3n]]);
    assert.deepEqual((await h.c.listGroups('acme', [], [])).groups.map((g) => [g.groupId, g.state, g.protocolType]), [['billing', 'Stable', 'consumer']]);
    assert.deepEqual((await h.c.listGroups('globex', [], [])).groups.map((g) => [g.groupId, g.state, g.protocolType]), [['billing', 'Empty', '']]);
    assert.deepEqual((await h.c.listGroups('acme', ['empty'], [])).groups, []);
    assert.equal((await h.c.listGroups('acme', ['STABLE'], ['classic'])).groups.length, 1);
    assert.equal((await h.c.listGroups('acme', [], ['consumer'])).groups.length, 0);
    // Deleting one tenant's group leaves the other's alone.
    assert.deepEqual([...(await h.c.deleteGroups([kb]))], [['billing', ErrorCode.NONE]]);
    assert.equal(h.state(ka)?.state, 'Stable');
  });

  test('DescribeGroups: members with metadata and assignment when Stable; Dead for unknown groups', async () => {
    const h = await new Harness().start();
    const a = await h.stableSingle({ clientId: 'cid' });
    const d = await h.c.describeGroup(h.key());
    assert.equal(d.state, 'Stable');
    assert.equal(d.protocolType, 'consumer');
    assert.equal(d.protocolData, 'range');
    assert.equal(d.members[0]!.memberId, a.memberId);
    assert.equal(d.members[0]!.clientId, 'cid');
    assert.equal(d.members[0]!.clientHost, '/127.0.0.1');
    assert.equal(d.members[0]!.assignment.toString(), 'A');
    assert.ok(d.members[0]!.metadata.length > 0);
    assert.deepEqual(await h.c.describeGroup(h.key('none')), { errorCode: ErrorCode.NONE, state: 'Dead', protocolType: '', protocolData: '', members: [] });
  });

  test('DeleteGroups: NON_EMPTY_GROUP, GROUP_ID_NOT_FOUND, and deletion that survives a restart', async () => {
    const kv = new MemKv();
    const h = await new Harness(BASE, kv).start();
    await h.stableSingle();
    await h.commit('', -1, [{ partition: 0, offset: 1n }], { key: h.key('empty') });
    const r = await h.c.deleteGroups(['g', 'empty', 'none'].map((g) => h.key(g)));
    assert.deepEqual([...r], [['g', ErrorCode.NON_EMPTY_GROUP], ['none', ErrorCode.GROUP_ID_NOT_FOUND], ['empty', ErrorCode.NONE]]);
    await h.c.shutdown();
    const h2 = await new Harness(BASE, kv).start();
    assert.equal(h2.state(h2.key('empty')), null);
    assert.deepEqual((await h2.fetch(h2.key('empty'))).offsets, []);
  });

  test('NOT_COORDINATOR for groups of partitions another node owns; COORDINATOR_NOT_AVAILABLE after shutdown', async () => {
    const remote = { nodeId: 2, local: false, endpoint: () => ({ host: 'other', port: 1 }) };
    const self = { nodeId: 1, local: true, endpoint: () => ({ host: 'me', port: 1 }) };
    const locator: CoordinatorLocator = {
      numPartitions: 2,
      partitionFor: (k) => (k.groupId.startsWith('mine') ? 0 : 1),
      ownerOf: (p) => (p === 0 ? self : remote),
      ownedPartitions: () => [0],
    };
    const h = await new Harness(BASE, undefined, locator).start();
    const j = h.join({ key: h.key('theirs') });
    await flush();
    assert.equal(j.value?.errorCode, ErrorCode.NOT_COORDINATOR);
    assert.deepEqual(await h.commit('', -1, [{ partition: 0, offset: 1n }], { key: h.key('theirs') }), [ErrorCode.NOT_COORDINATOR]);
    assert.equal((await h.fetch(h.key('theirs'))).errorCode, ErrorCode.NOT_COORDINATOR);
    // Parked JoinGroups are answered when the coordinator stops.
    const parked = h.join({ key: h.key('mine') });
    await flush();
    assert.equal(parked.done, false);
    await h.c.shutdown();
    await flush();
    assert.equal(parked.value?.errorCode, ErrorCode.NOT_COORDINATOR);
    assert.equal(await h.heartbeat('x', 1, null, h.key('mine')), ErrorCode.COORDINATOR_NOT_AVAILABLE);
  });

  test('a changed offsets partition count moves the stored entries', async () => {
    const kv = new MemKv();
    const mk = (n: number) => new SingleNodeLocator(n, 1, () => ({ host: 'gw', port: 1 }));
    const h = await new Harness(BASE, kv, mk(3)).start();
    for (let i = 0; i < 10; i++) await h.commit('', -1, [{ partition: 0, offset: BigInt(i) }], { key: h.key(`g${i}`) });
    await h.c.shutdown();
    const h2 = await new Harness(BASE, kv, mk(7)).start();
    for (let i = 0; i < 10; i++) assert.deepEqual((await h2.fetch(h2.key(`g${i}`))).offsets, [[TOPIC, 0, BigInt(i)]]);
    const namespaces = [...kv.data.keys()].filter((n) => n.startsWith('__consumer_offsets-') && n !== '__consumer_offsets-meta');
    for (const ns of namespaces) {
      const p = Number(ns.slice('__consumer_offsets-'.length));
      for (const key of kv.data.get(ns)!.keys()) {
        const [, tenant, groupId] = JSON.parse(key) as [string, string, string];
        assert.equal(offsetsPartitionFor({ tenant, groupId }, 7), p, `${key} lives in its partition`);
      }
    }
  });
});

describe('coordinator: group homes (the namespace where a group is authorized)', () => {
  /** The KV entry of a group's home, as stored. */
  const homeEntry = (h: Harness, groupId: string, tenant = 'public') => {
    const p = h.locator.partitionFor({ tenant, groupId });
    const v = h.kv.data.get(`__consumer_offsets-${p}`)?.get(JSON.stringify(['h', tenant, groupId]));
    return v ? (JSON.parse(v.toString()) as { namespace: string }).namespace : null;
  };

  test('created with the namespace checked; every operation checked elsewhere is refused (retriably) and changes nothing', async () => {
    const kv = new MemKv();
    const h = await new Harness(BASE, kv).start();
    const assigned: string[] = [];
    const home = { ...h.key('billing'), namespace: 'orders', onHome: (how: string) => void assigned.push(how) };
    const a = await h.stableSingle({ key: home });
    assert.deepEqual(assigned, ['created']);
    assert.deepEqual(h.c.groupHome(home), { errorCode: ErrorCode.NONE, home: 'orders', exists: true });
    await h.commit(a.memberId, a.generationId, [{ partition: 0, offset: 42n }], { key: home });
    assert.equal(homeEntry(h, 'billing'), 'orders', 'the home is durable');

    const elsewhere = h.key('billing', 'public', 'scratch');
    const j = h.join({ key: elsewhere });
    await flush();
    assert.equal(j.value?.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'join from another namespace');
    assert.deepEqual(await h.commit('', -1, [{ partition: 0, offset: 0n }], { key: elsewhere }), [ErrorCode.COORDINATOR_NOT_AVAILABLE]);
    assert.equal((await h.fetch(elsewhere)).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal((await h.c.describeGroup(elsewhere)).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.deepEqual((await h.c.describeGroup(elsewhere)).members, []);
    assert.equal(await h.heartbeat(a.memberId, a.generationId, null, elsewhere), ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal((await h.c.leaveGroup(elsewhere, [{ memberId: a.memberId, groupInstanceId: null, reason: null }])).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal((await h.c.deleteOffsets(elsewhere, [{ topic: TOPIC, partition: 0 }])).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.deepEqual([...(await h.c.deleteGroups([elsewhere]))], [['billing', ErrorCode.COORDINATOR_NOT_AVAILABLE]]);
    // the rightful member and its offset are untouched
    assert.deepEqual(h.state(home)?.members, [a.memberId]);
    assert.equal(h.state(home)?.state, 'Stable');
    assert.deepEqual((await h.fetch(home)).offsets, [[TOPIC, 0, 42n]]);
    assert.equal(await h.heartbeat(a.memberId, a.generationId, null, home), ErrorCode.NONE);
    assert.deepEqual((await h.c.listGroups('public', [], [])).groups.map((g) => [g.groupId, g.home]), [['billing', 'orders']]);

    // survives a restart
    await h.c.shutdown();
    const h2 = await new Harness(BASE, kv).start();
    assert.equal(h2.c.groupHome(home).home, 'orders');
    assert.deepEqual(await h2.commit('', -1, [{ partition: 0, offset: 0n }], { key: elsewhere }), [ErrorCode.COORDINATOR_NOT_AVAILABLE]);
    assert.deepEqual((await h2.fetch(home)).offsets, [[TOPIC, 0, 42n]]);
  });

  test('a simple group (offset commit) gets its home; deleting the group deletes the home, and a new group may take the name', async () => {
    const h = await new Harness().start();
    const ref = h.key('simple', 'public', 'orders');
    assert.deepEqual(await h.commit('', -1, [{ partition: 0, offset: 5n }], { key: ref }), [ErrorCode.NONE]);
    assert.equal(homeEntry(h, 'simple'), 'orders');
    assert.deepEqual([...(await h.c.deleteGroups([ref]))], [['simple', ErrorCode.NONE]]);
    assert.equal(homeEntry(h, 'simple'), null);
    assert.deepEqual(h.c.groupHome(ref), { errorCode: ErrorCode.NONE, home: null, exists: false });
    const again = h.key('simple', 'public', 'scratch');
    assert.deepEqual(await h.commit('', -1, [{ partition: 0, offset: 1n }], { key: again }), [ErrorCode.NONE]);
    assert.equal(homeEntry(h, 'simple'), 'scratch');
  });

  test('groups stored before homes existed: inferred from their members or offsets when unambiguous, else adopted by the first use (and written)', async () => {
    const kv = new MemKv();
    const h = await new Harness(BASE, kv).start();
    // three groups written the old way: a consumer group joined from orders, a simple group with
    // offsets in orders, and a simple group with offsets in two namespaces
    await h.stableSingle({ key: h.key('members', 'public', 'x'), namespace: { tenant: 'public', namespace: 'orders' } });
    await h.commit('', -1, [{ partition: 0, offset: 1n, topic: 'persistent://public/orders/t' }], { key: h.key('offsets', 'public', 'x') });
    await h.commit('', -1, [{ partition: 0, offset: 1n, topic: 'persistent://public/orders/t' }, { partition: 0, offset: 2n, topic: 'persistent://public/scratch/u' }], { key: h.key('mixed', 'public', 'x') });
    await h.c.shutdown();
    for (const m of kv.data.values()) for (const k of [...m.keys()]) if (k.startsWith('["h"')) m.delete(k); // as before the upgrade
    const inferred: string[] = [];
    const h2 = new Harness(BASE, kv);
    h2.c = new LocalGroupCoordinator(h2.locator, kv, BASE, silentLogger(), h2.clock);
    h2.c.onHomeInferred = (key, home) => inferred.push(`${key.groupId}:${home}`);
    await h2.c.start();
    await flush();
    assert.deepEqual(inferred.sort(), ['members:orders', 'offsets:orders']);
    assert.equal(h2.c.groupHome(h2.key('members')).home, 'orders');
    assert.equal(homeEntry(h2, 'members'), 'orders', 'the inferred home is written');
    assert.equal(h2.c.groupHome(h2.key('offsets')).home, 'orders');
    assert.deepEqual(h2.c.groupHome(h2.key('mixed')), { errorCode: ErrorCode.NONE, home: null, exists: true });
    // reading does not adopt; the first commit (checked in its session's namespace) does
    assert.equal((await h2.fetch(h2.key('mixed', 'public', 'scratch'))).errorCode, ErrorCode.NONE);
    assert.equal(h2.c.groupHome(h2.key('mixed')).home, null);
    const adopted: string[] = [];
    const ref = { ...h2.key('mixed', 'public', 'scratch'), onHome: (how: string) => void adopted.push(how) };
    assert.deepEqual(await h2.commit('', -1, [{ partition: 0, offset: 3n, topic: 'persistent://public/scratch/u' }], { key: ref }), [ErrorCode.NONE]);
    assert.deepEqual(adopted, ['adopted']);
    assert.equal(homeEntry(h2, 'mixed'), 'scratch');
    assert.deepEqual(await h2.commit('', -1, [{ partition: 0, offset: 3n }], { key: h2.key('mixed', 'public', 'orders') }), [ErrorCode.COORDINATOR_NOT_AVAILABLE]);
  });
});
