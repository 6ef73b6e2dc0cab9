/**
 * The share-group coordinator (src/share/groups.ts) over a real embedded
 * engine's key-value store, with a manual clock: membership and epochs
 * (join, heartbeat, fencing, leave, session timeout releasing records),
 * homes, share sessions with Kafka's epochs, and share-partition state that
 * survives a restart.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ManualClock } from '../../src/coordinator/clock.js';
import type { GroupRef } from '../../src/coordinator/coordinator.js';
import { silentLogger } from '../../src/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { ShareGroups, type ShareGroupsConfig, type ShareTopic } from '../../src/share/groups.js';
import { AckType, RecordState } from '../../src/share/partition.js';
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';

const CONFIG: ShareGroupsConfig = {
  lockDurationMs: 1000,
  deliveryCountLimit: 5,
  maxInFlight: 100,
  heartbeatIntervalMs: 500,
  sessionTimeoutMs: 3000,
  maxSize: 2,
  maxSessions: 3,
  autoOffsetReset: 'earliest',
};

const TOPIC: ShareTopic = { kafkaName: 't', name: 'persistent://a/ns/t', topicId: Buffer.alloc(16, 7), partitions: 2 };

let dir: string;
let engine: EmbeddedEngine;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kop-share-groups-'));
  engine = new EmbeddedEngine({ dataDirectory: dir, retentionCheckIntervalMs: 0 });
  await engine.start();
});

after(async () => {
  await engine.close();
  rmSync(dir, { recursive: true, force: true });
});

function ref(groupId: string, namespace = 'ns'): GroupRef {
  return { tenant: 'a', groupId, namespace };
}

function beat(memberId: string, memberEpoch: number, topics: ShareTopic[] = [TOPIC]) {
  return { memberId, memberEpoch, rackId: null, subscribedNames: memberEpoch === 0 ? topics.map((t) => t.kafkaName) : null, topics, clientId: 'c', clientHost: '/127.0.0.1' };
}

async function started(clock: ManualClock): Promise<ShareGroups> {
  const g = new ShareGroups(engine.state, CONFIG, silentLogger(), clock);
  await g.start();
  return g;
}

test('join, heartbeat, fencing, group size, leave', async () => {
  const clock = new ManualClock();
  const g = await started(clock);
  const homes: string[] = [];
  const r = { ...ref('g1'), onHome: (how: string) => homes.push(how) };
  const j = await g.heartbeat(r, beat('m1', 0));
  assert.equal(j.errorCode, ErrorCode.NONE);
  assert.equal(j.memberEpoch, 1);
  assert.deepEqual(j.assignment, [TOPIC]);
  assert.equal(j.heartbeatIntervalMs, 500);
  assert.deepEqual(homes, ['created']);
  assert.equal(g.groupHome({ tenant: 'a', groupId: 'g1' }), 'ns');
  // unchanged: no assignment sent
  const h = await g.heartbeat(r, beat('m1', 1));
  assert.equal(h.memberEpoch, 1);
  assert.equal(h.assignment, null);
  assert.equal((await g.heartbeat(r, beat('m1', 7))).errorCode, ErrorCode.FENCED_MEMBER_EPOCH);
  assert.equal((await g.heartbeat(r, beat('nobody', 1))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  // another namespace than the home: refused, retriably
  assert.equal((await g.heartbeat(ref('g1', 'other'), beat('m2', 0))).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
  assert.equal((await g.heartbeat(r, beat('m2', 0))).memberEpoch, 2);
  assert.equal((await g.heartbeat(r, beat('m3', 0))).errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
  // a subscription change moves the member's epoch and sends the new assignment
  const more = { ...TOPIC, partitions: 3 };
  const c = await g.heartbeat(r, { ...beat('m2', 2), topics: [more] });
  assert.equal(c.memberEpoch, 3);
  assert.deepEqual(c.assignment, [more]);
  const left = await g.heartbeat(r, beat('m2', -1));
  assert.equal(left.memberEpoch, -1);
  assert.equal((await g.heartbeat(r, beat('m2', -1))).errorCode, ErrorCode.UNKNOWN_MEMBER_ID);
  const d = g.describe(r);
  assert.deepEqual([...d.group!.members.keys()], ['m1']);
  assert.equal(g.describe(ref('never')).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  await g.shutdown();
});

test('share sessions follow Kafka\'s epochs and are bounded', async () => {
  const g = await started(new ManualClock());
  const r = ref('g2');
  await g.heartbeat(r, beat('m1', 0));
  const tp = { topicId: TOPIC.topicId, partition: 0 };
  assert.equal(g.openOrUpdateSession(r, 'm1', 1, 'fetch', false, [tp], []), ErrorCode.SHARE_SESSION_NOT_FOUND);
  assert.equal(g.openOrUpdateSession(r, 'm1', 0, 'acknowledge', true, [], []), ErrorCode.INVALID_SHARE_SESSION_EPOCH);
  assert.equal(g.openOrUpdateSession(r, 'm1', 0, 'fetch', true, [tp], []), ErrorCode.INVALID_REQUEST, 'no acknowledgements when opening');
  const s = g.openOrUpdateSession(r, 'm1', 0, 'fetch', false, [tp], []);
  assert.ok(typeof s !== 'number');
  assert.equal(s.epoch, 1);
  assert.deepEqual(g.sessionTopicIds({ tenant: 'a', groupId: 'g2' }, 'm1'), [TOPIC.topicId]);
  assert.equal(g.openOrUpdateSession(r, 'm1', 2, 'fetch', false, [], []), ErrorCode.INVALID_SHARE_SESSION_EPOCH);
  const s2 = g.openOrUpdateSession(r, 'm1', 1, 'fetch', false, [{ topicId: TOPIC.topicId, partition: 1 }], [tp]);
  assert.ok(typeof s2 !== 'number');
  assert.deepEqual([...s2.partitions.values()].map((p) => p.partition), [1]);
  assert.equal(s2.epoch, 2);
  assert.ok(typeof g.openOrUpdateSession(r, 'm1', 2, 'acknowledge', true, [], []) !== 'number');
  assert.ok(typeof g.openOrUpdateSession(r, 'm1', -1, 'acknowledge', true, [], []) !== 'number', 'final epoch names the open session');
  for (const m of ['x', 'y']) assert.ok(typeof g.openOrUpdateSession(r, m, 0, 'fetch', false, [tp], []) !== 'number');
  assert.equal(g.openOrUpdateSession(r, 'z', 0, 'fetch', false, [tp], []), ErrorCode.SHARE_SESSION_LIMIT_REACHED);
  await g.closeSession(r, 'x');
  assert.ok(typeof g.openOrUpdateSession(r, 'z', 0, 'fetch', false, [tp], []) !== 'number');
  await g.shutdown();
});

test('a member whose session times out is removed and its records are released', async () => {
  const clock = new ManualClock();
  const g = await started(clock);
  const r = ref('g3');
  await g.heartbeat(r, beat('m1', 0));
  await g.heartbeat(r, beat('m2', 0));
  const slot = await g.partition(r, TOPIC.name, 0, TOPIC.topicId, async (reset) => (reset === 'earliest' ? 10n : 99n));
  assert.equal(slot.sp.startOffset, 10n, 'share.auto.offset.reset=earliest');
  slot.sp.acquire('m1', 10n, [{ first: 10n, last: 12n }], 100, clock.now());
  // m2 keeps heartbeating, m1 does not
  for (let t = 0; t < 4; t++) {
    clock.advance(900);
    await g.heartbeat(r, beat('m2', 2));
  }
  await g.sweep();
  assert.equal(g.member(r, 'm1'), false);
  assert.equal(g.member(r, 'm2'), true);
  assert.equal(slot.sp.stateOf(10n), RecordState.Available);
  await g.shutdown();
});

test('share-partition state and homes survive a restart', async () => {
  const clock = new ManualClock();
  const g = await started(clock);
  const r = ref('g4');
  await g.heartbeat(r, beat('m1', 0));
  const slot = await g.partition(r, TOPIC.name, 1, TOPIC.topicId, async () => 0n);
  slot.sp.acquire('m1', 0n, [{ first: 0n, last: 4n }], 100, clock.now());
  assert.equal(slot.sp.acknowledge('m1', 0n, 4n, [AckType.Accept, AckType.Release, AckType.Reject, AckType.Accept, AckType.Accept], clock.now()), ErrorCode.NONE);
  await slot.persist();
  await g.shutdown();

  const again = await started(clock);
  assert.equal(again.groupHome({ tenant: 'a', groupId: 'g4' }), 'ns');
  const back = again.existingPartition(r, TOPIC.name, 1, TOPIC.topicId);
  assert.ok(back);
  assert.equal(back.sp.startOffset, 1n);
  assert.equal(back.sp.stateOf(1n), RecordState.Available);
  assert.equal(back.sp.deliveryCountOf(1n), 1);
  assert.equal(back.sp.stateOf(2n), RecordState.Archived);
  assert.equal(back.sp.stateOf(3n), RecordState.Acknowledged);
  assert.equal(back.sp.endOffset, 5n);
  // a topic of the same name re-created (another id) starts afresh
  assert.equal(again.existingPartition(r, TOPIC.name, 1, Buffer.alloc(16, 9)), null);
  // another namespace cannot reach the group's state
  assert.equal(again.member(ref('g4', 'other'), 'm1'), false);
  await again.shutdown();
});

test('group configs: validated, applied to new and existing share-partitions, durable', async () => {
  const clock = new ManualClock();
  const g = await started(clock);
  const r = ref('g5');
  await assert.rejects(g.alterGroupConfigs(r, [{ name: 'share.auto.offset.reset', value: 'by_duration:PT1H' }], false), (e: { code: number }) => e.code === ErrorCode.INVALID_CONFIG);
  await assert.rejects(g.alterGroupConfigs(r, [{ name: 'share.record.lock.duration.ms', value: '999' }], false), (e: { code: number }) => e.code === ErrorCode.INVALID_CONFIG);
  await assert.rejects(g.alterGroupConfigs(r, [{ name: 'no.such.config', value: '1' }], false), (e: { code: number }) => e.code === ErrorCode.INVALID_CONFIG);
  await assert.rejects(g.alterGroupConfigs(r, [{ name: 'share.isolation.level', value: 'read_committed' }], false), (e: { code: number; message: string }) => e.code === ErrorCode.INVALID_CONFIG && /not taken/.test(e.message));
  // validateOnly changes nothing, not even the home
  await g.alterGroupConfigs(r, [{ name: 'share.auto.offset.reset', value: 'latest' }], true);
  assert.equal(g.groupHome({ tenant: 'a', groupId: 'g5' }), null);
  // the gateway default here is earliest; the group says latest
  await g.alterGroupConfigs(r, [{ name: 'share.auto.offset.reset', value: 'latest' }, { name: 'share.record.lock.duration.ms', value: '5000' }], false);
  assert.equal(g.groupHome({ tenant: 'a', groupId: 'g5' }), 'ns', 'the home is recorded');
  const slot = await g.partition(r, TOPIC.name, 0, TOPIC.topicId, async (reset) => (reset === 'earliest' ? 0n : 42n));
  assert.equal(slot.sp.startOffset, 42n);
  assert.equal(g.lockDuration(r), 5000);
  slot.sp.acquire('m', 42n, [{ first: 42n, last: 42n }], 10, clock.now());
  assert.equal(slot.sp.nextLockDeadline(), clock.now() + 5000);
  // a change applies to the existing share-partition at once; DELETE goes back to the gateway's
  await g.alterGroupConfigs(r, [{ name: 'share.record.lock.duration.ms', value: '2000' }], false);
  slot.sp.acquire('m', 43n, [{ first: 43n, last: 43n }], 10, clock.now());
  assert.equal(g.lockDuration(r), 2000);
  await g.alterGroupConfigs(r, [{ name: 'share.record.lock.duration.ms', value: null }], false);
  assert.equal(g.lockDuration(r), CONFIG.lockDurationMs);
  await g.alterGroupConfigs(r, [{ name: 'share.record.lock.duration.ms', value: '7000' }], false);
  await g.shutdown();
  const again = await started(clock);
  assert.deepEqual(again.groupConfigsOf(r), { autoOffsetReset: 'latest', lockDurationMs: 7000 });
  assert.equal(again.lockDuration(r), 7000);
  await again.shutdown();
});

test('administration: offsets altered and deleted, the group deleted, durably; a group with members refused', async () => {
  const clock = new ManualClock();
  const g = await started(clock);
  const r = ref('g6');
  const tp = { topic: TOPIC.name, partition: 1, topicId: TOPIC.topicId };
  await engine.createTopic(TOPIC.name, 2, {}).catch(() => undefined);
  const rc = { storage: engine };
  await g.heartbeat(r, beat('m1', 0));
  const slot = await g.partition(r, TOPIC.name, 1, TOPIC.topicId, async () => 0n);
  slot.sp.acquire('m1', 0n, [{ first: 0n, last: 2n }], 100, clock.now());
  // members: NON_EMPTY_GROUP for each, nothing changed
  assert.equal((await g.alterOffsets(r, [{ target: tp, startOffset: 0n }], rc)).errorCode, ErrorCode.NON_EMPTY_GROUP);
  assert.equal((await g.deleteOffsets(r, [{ topic: TOPIC.name, partitions: 2 }])).errorCode, ErrorCode.NON_EMPTY_GROUP);
  assert.equal(await g.deleteGroup(r), ErrorCode.NON_EMPTY_GROUP);
  assert.equal(g.existingPartition(r, TOPIC.name, 1, TOPIC.topicId)?.sp.endOffset, 3n);
  await g.heartbeat(r, beat('m1', -1));
  // reset: the in-flight state is dropped; an offset past the (empty) log's end is its end
  const altered = await g.alterOffsets(r, [{ target: tp, startOffset: 5n }], rc);
  assert.deepEqual([altered.errorCode, altered.codes], [ErrorCode.NONE, [ErrorCode.NONE]]);
  const reset = g.existingPartition(r, TOPIC.name, 1, TOPIC.topicId);
  assert.deepEqual([reset?.sp.startOffset, reset?.sp.endOffset], [0n, 0n]);
  // altering a group that does not exist creates it (Kafka), with the namespace as its home
  assert.equal((await g.alterOffsets(ref('g7'), [{ target: tp, startOffset: 0n }], rc)).errorCode, ErrorCode.NONE);
  assert.equal(g.groupHome({ tenant: 'a', groupId: 'g7' }), 'ns');
  await g.shutdown();

  const again = await started(clock);
  assert.equal(again.existingPartition(r, TOPIC.name, 1, TOPIC.topicId)?.sp.endOffset, 0n, 'the reset is durable');
  const deleted = await again.deleteOffsets(r, [{ topic: TOPIC.name, partitions: 2 }, { topic: 'persistent://a/ns/other', partitions: 1 }]);
  assert.deepEqual(deleted.codes, [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION], 'a topic without state: no offset information to delete');
  assert.equal(again.existingPartition(r, TOPIC.name, 1, TOPIC.topicId), null);
  assert.equal((await again.deleteOffsets(ref('nope'), [])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  assert.equal(await again.deleteGroup(r), ErrorCode.NONE);
  assert.equal(again.groupHome({ tenant: 'a', groupId: 'g6' }), null);
  assert.equal(await again.deleteGroup(r), ErrorCode.GROUP_ID_NOT_FOUND);
  await again.shutdown();

  const third = await started(clock);
  assert.equal(third.groupHome({ tenant: 'a', groupId: 'g6' }), null, 'the deletion is durable');
  assert.equal(third.groupHome({ tenant: 'a', groupId: 'g7' }), 'ns');
  assert.equal(third.existingPartition(ref('g7'), TOPIC.name, 1, TOPIC.topicId)?.sp.startOffset, 0n);
  await third.shutdown();
});
