/**
 * The share-partition state machine (src/share/partition.ts): acquisition,
 * acknowledgement types, lock expiry, the delivery-count limit, the in-flight
 * window, gaps in the log, member release and snapshots.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AckType, RecordState, SharePartition, type SharePartitionConfig } from '../../src/share/partition.js';
import { ErrorCode } from '../../src/protocol/errors.js';

const CFG: SharePartitionConfig = { lockDurationMs: 1000, deliveryCountLimit: 3, maxInFlight: 10 };

/** One batch per record range. */
const batch = (first: number, last: number) => ({ first: BigInt(first), last: BigInt(last) });

test('new records are acquired from the end of the window, with delivery count 1', () => {
  const sp = new SharePartition(CFG, 5n);
  assert.equal(sp.fetchOffset(), 5n);
  const got = sp.acquire('a', 5n, [batch(5, 9)], 100, 0);
  assert.deepEqual(got, [{ firstOffset: 5n, lastOffset: 9n, deliveryCount: 1 }]);
  assert.equal(sp.endOffset, 10n);
  assert.equal(sp.stateOf(7n), RecordState.Acquired);
  assert.equal(sp.ownerOf(7n), 'a');
  // nothing Available in the window: the next read starts at its end
  assert.equal(sp.fetchOffset(), 10n);
  // a second member gets nothing of what the first holds
  assert.deepEqual(sp.acquire('b', 5n, [batch(5, 9)], 100, 0), []);
});

test('a batch starting before the window start acquires only from the start', () => {
  const sp = new SharePartition(CFG, 3n);
  assert.deepEqual(sp.acquire('a', 3n, [batch(0, 4)], 100, 0), [{ firstOffset: 3n, lastOffset: 4n, deliveryCount: 1 }]);
});

test('maxRecords bounds one acquisition', () => {
  const sp = new SharePartition(CFG, 0n);
  assert.deepEqual(sp.acquire('a', 0n, [batch(0, 9)], 4, 0), [{ firstOffset: 0n, lastOffset: 3n, deliveryCount: 1 }]);
  assert.equal(sp.fetchOffset(), 4n);
});

test('accept acknowledges; the start offset moves past done records', () => {
  const sp = new SharePartition(CFG, 0n);
  sp.acquire('a', 0n, [batch(0, 4)], 100, 0);
  assert.equal(sp.acknowledge('a', 0n, 1n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.equal(sp.startOffset, 2n);
  // out of order: 3 accepted while 2 is still acquired, start stays at 2
  assert.equal(sp.acknowledge('a', 3n, 3n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.equal(sp.startOffset, 2n);
  assert.equal(sp.stateOf(3n), RecordState.Acknowledged);
  assert.equal(sp.acknowledge('a', 2n, 2n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.equal(sp.startOffset, 4n);
});

test('release makes records available again with their delivery count; the next acquisition counts 2', () => {
  const sp = new SharePartition(CFG, 0n);
  sp.acquire('a', 0n, [batch(0, 2)], 100, 0);
  assert.equal(sp.acknowledge('a', 0n, 2n, [AckType.Accept, AckType.Release, AckType.Accept], 0), ErrorCode.NONE);
  assert.equal(sp.stateOf(1n), RecordState.Available);
  assert.equal(sp.startOffset, 1n);
  assert.equal(sp.fetchOffset(), 1n);
  assert.deepEqual(sp.acquire('b', 1n, [batch(0, 2)], 100, 0), [{ firstOffset: 1n, lastOffset: 1n, deliveryCount: 2 }]);
});

test('reject archives: never delivered again', () => {
  const sp = new SharePartition(CFG, 0n);
  sp.acquire('a', 0n, [batch(0, 1)], 100, 0);
  assert.equal(sp.acknowledge('a', 0n, 0n, [AckType.Reject], 0), ErrorCode.NONE);
  assert.equal(sp.startOffset, 1n);
  assert.equal(sp.acknowledge('a', 1n, 1n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.deepEqual(sp.acquire('a', 0n, [batch(0, 1)], 100, 0), []);
  assert.equal(sp.startOffset, 2n);
});

test('an acquisition lock expires: the records become available, and are archived at the delivery-count limit', () => {
  const sp = new SharePartition(CFG, 0n);
  for (let delivery = 1; delivery <= 3; delivery++) {
    const got = sp.acquire('a', 0n, [batch(0, 0)], 100, delivery * 10_000);
    assert.deepEqual(got, [{ firstOffset: 0n, lastOffset: 0n, deliveryCount: delivery }]);
    assert.equal(sp.nextLockDeadline(), delivery * 10_000 + 1000);
    assert.equal(sp.expireLocks(delivery * 10_000 + 999), false, 'not before the lock duration');
    assert.equal(sp.expireLocks(delivery * 10_000 + 1000), true);
  }
  // delivered 3 times (the limit): archived, the window moves on
  assert.equal(sp.stateOf(0n), RecordState.Acknowledged);
  assert.equal(sp.startOffset, 1n);
  assert.deepEqual(sp.acquire('a', 0n, [batch(0, 0)], 100, 50_000), []);
});

test('a release at the delivery-count limit archives', () => {
  const sp = new SharePartition({ ...CFG, deliveryCountLimit: 1 }, 0n);
  sp.acquire('a', 0n, [batch(0, 0)], 100, 0);
  assert.equal(sp.acknowledge('a', 0n, 0n, [AckType.Release], 0), ErrorCode.NONE);
  assert.equal(sp.startOffset, 1n);
});

test('acknowledging records not acquired by the member is INVALID_RECORD_STATE and changes nothing', () => {
  const sp = new SharePartition(CFG, 0n);
  sp.acquire('a', 0n, [batch(0, 3)], 100, 0);
  assert.equal(sp.acknowledge('b', 0n, 0n, [AckType.Accept], 0), ErrorCode.INVALID_RECORD_STATE, 'another member');
  assert.equal(sp.acknowledge('a', 2n, 5n, [AckType.Accept], 0), ErrorCode.INVALID_RECORD_STATE, 'beyond what was acquired');
  assert.equal(sp.stateOf(2n), RecordState.Acquired, 'all or nothing');
  assert.equal(sp.acknowledge('a', 0n, 0n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.equal(sp.acknowledge('a', 0n, 0n, [AckType.Accept], 0), ErrorCode.INVALID_RECORD_STATE, 'twice');
  assert.equal(sp.acknowledge('a', 1n, 2n, [AckType.Accept, AckType.Accept, AckType.Accept], 0), ErrorCode.INVALID_REQUEST, 'types do not match the range');
  assert.equal(sp.acknowledge('a', 1n, 1n, [9], 0), ErrorCode.INVALID_REQUEST, 'unknown type');
  assert.equal(sp.acknowledge('a', 1n, 1n, [AckType.Renew], 0), ErrorCode.INVALID_REQUEST, 'renew needs v2');
  assert.equal(sp.acknowledge('a', 1n, 1n, [AckType.Renew], 500, true), ErrorCode.NONE);
  assert.equal(sp.expireLocks(1000), true, 'offset 2 and 3 expire at 1000');
  assert.equal(sp.stateOf(1n), RecordState.Acquired, 'renewed until 1500');
  assert.equal(sp.stateOf(2n), RecordState.Available);
});

test('the in-flight window bounds what is acquired until its head is done', () => {
  const sp = new SharePartition({ ...CFG, maxInFlight: 4 }, 0n);
  assert.equal(sp.acquire('a', 0n, [batch(0, 9)], 100, 0).at(-1)!.lastOffset, 3n);
  assert.equal(sp.fetchOffset(), null, 'full and all taken');
  assert.equal(sp.acknowledge('a', 0n, 1n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.equal(sp.fetchOffset(), 4n);
  assert.deepEqual(sp.acquire('b', 4n, [batch(4, 9)], 100, 0), [{ firstOffset: 4n, lastOffset: 5n, deliveryCount: 1 }]);
  assert.equal(sp.ownerOf(5n), 'b');
});

test('offsets the log no longer has (compaction gaps) are archived, not waited for', () => {
  const sp = new SharePartition(CFG, 0n);
  // the read from 0 returns batches 0-1 and 5-6: 2-4 are gone
  assert.deepEqual(sp.acquire('a', 0n, [batch(0, 1), batch(5, 6)], 100, 0), [
    { firstOffset: 0n, lastOffset: 1n, deliveryCount: 1 },
    { firstOffset: 5n, lastOffset: 6n, deliveryCount: 1 },
  ]);
  assert.equal(sp.stateOf(3n), RecordState.Archived);
  assert.equal(sp.acknowledge('a', 0n, 1n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.equal(sp.startOffset, 5n);
  // a long gap with nothing in flight moves the window at once
  assert.equal(sp.acknowledge('a', 5n, 6n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.deepEqual(sp.acquire('a', 7n, [batch(1_000_000, 1_000_000)], 100, 0), [{ firstOffset: 1_000_000n, lastOffset: 1_000_000n, deliveryCount: 1 }]);
  assert.equal(sp.startOffset, 1_000_000n);
});

test('a read ending in batches never delivered (transaction markers) moves past them', () => {
  const sp = new SharePartition(CFG, 0n);
  // data 0-1, then a marker at 2 (not given as a batch; the read ended at 3)
  assert.deepEqual(sp.acquire('a', 0n, [batch(0, 1)], 100, 0, 3n), [{ firstOffset: 0n, lastOffset: 1n, deliveryCount: 1 }]);
  assert.equal(sp.endOffset, 3n);
  assert.equal(sp.stateOf(2n), RecordState.Archived);
  assert.equal(sp.acknowledge('a', 0n, 1n, [AckType.Accept], 0), ErrorCode.NONE);
  assert.equal(sp.startOffset, 3n);
  // a read of markers only
  assert.deepEqual(sp.acquire('a', 3n, [], 100, 0, 5n), []);
  assert.equal(sp.fetchOffset(), 5n);
});

test('the log start moving past the window archives what it passes', () => {
  const sp = new SharePartition(CFG, 0n);
  sp.acquire('a', 0n, [batch(0, 5)], 100, 0);
  assert.equal(sp.moveLogStart(3n), true);
  assert.equal(sp.startOffset, 3n);
  assert.equal(sp.acquired, 3);
  assert.equal(sp.acknowledge('a', 1n, 1n, [AckType.Accept], 0), ErrorCode.INVALID_RECORD_STATE);
  const empty = new SharePartition(CFG, 0n);
  assert.equal(empty.moveLogStart(100n), true);
  assert.equal(empty.fetchOffset(), 100n);
});

test('a leaving member gives its records back; another member acquires them', () => {
  const sp = new SharePartition(CFG, 0n);
  sp.acquire('a', 0n, [batch(0, 1)], 1, 0);
  sp.acquire('b', 0n, [batch(0, 1)], 1, 0);
  assert.equal(sp.ownerOf(0n), 'a');
  assert.equal(sp.ownerOf(1n), 'b');
  assert.equal(sp.releaseMember('a'), 1);
  assert.deepEqual(sp.acquire('b', 0n, [batch(0, 1)], 100, 0), [{ firstOffset: 0n, lastOffset: 0n, deliveryCount: 2 }]);
});

test('a snapshot restores the window; acquired records come back available', () => {
  const sp = new SharePartition(CFG, 10n);
  sp.acquire('a', 10n, [batch(10, 15)], 100, 0);
  sp.acknowledge('a', 10n, 15n, [AckType.Release, AckType.Accept, AckType.Reject, AckType.Accept, AckType.Release, AckType.Gap], 0);
  sp.acquire('a', 10n, [batch(10, 10)], 100, 0); // 10 acquired again (count 2)
  const snap = sp.snapshot();
  assert.equal(snap.startOffset, 10n);
  assert.equal(snap.endOffset, 16n);
  const back = SharePartition.restore(CFG, snap);
  assert.equal(back.startOffset, 10n);
  assert.equal(back.endOffset, 16n);
  assert.equal(back.stateOf(10n), RecordState.Available);
  assert.equal(back.deliveryCountOf(10n), 2);
  assert.equal(back.stateOf(11n), RecordState.Acknowledged);
  assert.equal(back.stateOf(12n), RecordState.Archived);
  assert.equal(back.stateOf(14n), RecordState.Available);
  assert.equal(back.fetchOffset(), 10n);
  assert.deepEqual(back.acquire('z', 10n, [batch(10, 20)], 100, 0), [
    { firstOffset: 10n, lastOffset: 10n, deliveryCount: 3 },
    { firstOffset: 14n, lastOffset: 14n, deliveryCount: 2 },
    { firstOffset: 16n, lastOffset: 19n, deliveryCount: 1 },
  ]);
});
