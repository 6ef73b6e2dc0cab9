/**
 * The entry window of the Pulsar share-group mapping (src/share/entry-window.ts): acquisition
 * of broker-delivered entries, what goes back to the broker (ack / redeliver), delivery counts
 * from the broker's redelivery count, the delivery-count limit, partly settled entries.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EntryWindow, type Settled } from '../../src/share/entry-window.js';
import { AckType } from '../../src/share/partition.js';
import { ErrorCode } from '../../src/protocol/errors.js';

const CONFIG = { lockDurationMs: 1000, deliveryCountLimit: 3 };
const data = (n: number): Buffer => Buffer.alloc(n, 1);
const settled = (): Settled<string> => ({ ack: [], redeliver: [] });

test('accepted entries are acked, released ones go back to the broker, with delivery counts from the broker', () => {
  const w = new EntryWindow<string>(CONFIG);
  assert.equal(w.add('e0', 0n, 0n, data(10), 0), true);
  assert.equal(w.add('e1', 1n, 2n, data(20), 1), true);
  const got = w.acquire('m1', 10, 0);
  assert.deepEqual(got.ranges, [
    { firstOffset: 0n, lastOffset: 0n, deliveryCount: 1 },
    { firstOffset: 1n, lastOffset: 2n, deliveryCount: 2 },
  ]);
  assert.equal(got.data.length, 2);
  assert.equal(got.bytes, 30);
  // nothing left to acquire
  assert.deepEqual(w.acquire('m2', 10, 0).ranges, []);
  const out = settled();
  assert.equal(w.acknowledge('m1', 0n, 0n, [AckType.Accept], 0, false, out), ErrorCode.NONE);
  assert.equal(w.acknowledge('m1', 1n, 2n, [AckType.Release], 0, false, out), ErrorCode.NONE);
  assert.deepEqual(out, { ack: ['e0'], redeliver: ['e1'] });
  assert.equal(w.held, 0);
});

test('an acknowledgement naming records the member does not hold changes nothing', () => {
  const w = new EntryWindow<string>(CONFIG);
  w.add('e0', 5n, 7n, data(1), 0);
  w.acquire('m1', 10, 0);
  const out = settled();
  assert.equal(w.acknowledge('m2', 5n, 5n, [AckType.Accept], 0, false, out), ErrorCode.INVALID_RECORD_STATE);
  assert.equal(w.acknowledge('m1', 5n, 8n, [AckType.Accept], 0, false, out), ErrorCode.INVALID_RECORD_STATE, 'offset 8 is not held');
  assert.equal(w.acknowledge('m1', 4n, 5n, [AckType.Accept], 0, false, out), ErrorCode.INVALID_RECORD_STATE);
  assert.equal(w.acknowledge('m1', 5n, 7n, [AckType.Accept, AckType.Accept], 0, false, out), ErrorCode.INVALID_REQUEST);
  assert.equal(w.acknowledge('m1', 5n, 5n, [AckType.Renew], 0, false, out), ErrorCode.INVALID_REQUEST, 'renew needs v2');
  assert.deepEqual(out, { ack: [], redeliver: [] });
  assert.equal(w.acknowledge('m1', 5n, 7n, [AckType.Accept, AckType.Reject, AckType.Gap], 0, false, out), ErrorCode.NONE);
  assert.deepEqual(out.ack, ['e0']);
  // twice: the records are gone
  assert.equal(w.acknowledge('m1', 5n, 5n, [AckType.Accept], 0, false, settled()), ErrorCode.INVALID_RECORD_STATE);
});

test('lock expiry and a leaving member send untouched entries back; the delivery-count limit archives', () => {
  const w = new EntryWindow<string>(CONFIG);
  w.add('e0', 0n, 0n, data(1), 0);
  w.add('e1', 1n, 1n, data(1), 0);
  w.acquire('m1', 1, 0);
  w.acquire('m2', 1, 0);
  assert.equal(w.nextLockDeadline(), 1000);
  const out = settled();
  w.expireLocks(999, out);
  assert.deepEqual(out, { ack: [], redeliver: [] });
  w.expireLocks(1000, out);
  assert.deepEqual(out.redeliver.sort(), ['e0', 'e1']);
  // an entry the broker redelivered twice already was delivered 3 times: released at the limit, it is archived
  w.add('e2', 2n, 2n, data(1), 2);
  assert.deepEqual(w.acquire('m1', 10, 0).ranges, [{ firstOffset: 2n, lastOffset: 2n, deliveryCount: 3 }]);
  const out2 = settled();
  assert.equal(w.releaseMember('m1', out2), 1);
  assert.deepEqual(out2, { ack: ['e2'], redeliver: [] });
  // past the limit on arrival: not held (the caller acks it)
  assert.equal(w.add('e3', 3n, 3n, data(1), 3), false);
  assert.equal(w.counts.archivedAtLimit, 2);
});

test('a partly settled entry keeps its released records here until every record is done', () => {
  const w = new EntryWindow<string>(CONFIG);
  w.add('e0', 10n, 13n, data(4), 0);
  w.acquire('m1', 10, 0);
  const out = settled();
  assert.equal(w.acknowledge('m1', 10n, 13n, [AckType.Accept, AckType.Release, AckType.Accept, AckType.Release], 0, false, out), ErrorCode.NONE);
  assert.deepEqual(out, { ack: [], redeliver: [] }, 'not back to the broker: its accepted records would come back too');
  assert.equal(w.available, 2);
  const again = w.acquire('m2', 10, 5);
  assert.deepEqual(again.ranges, [
    { firstOffset: 11n, lastOffset: 11n, deliveryCount: 2 },
    { firstOffset: 13n, lastOffset: 13n, deliveryCount: 2 },
  ]);
  assert.equal(w.acknowledge('m2', 11n, 11n, [AckType.Accept], 5, false, out), ErrorCode.NONE);
  assert.deepEqual(out.ack, []);
  assert.equal(w.acknowledge('m2', 13n, 13n, [AckType.Reject], 5, false, out), ErrorCode.NONE);
  assert.deepEqual(out.ack, ['e0']);
});

test('acquisition stops at maxRecords and maxBytes (the first entry always fits)', () => {
  const w = new EntryWindow<string>(CONFIG);
  w.add('e0', 0n, 1n, data(100), 0);
  w.add('e1', 2n, 3n, data(100), 0);
  const a = w.acquire('m1', 3, 0, 50);
  assert.deepEqual(a.ranges, [{ firstOffset: 0n, lastOffset: 1n, deliveryCount: 1 }], 'the second entry does not fit in maxBytes');
  const b = w.acquire('m1', 1, 0);
  assert.deepEqual(b.ranges, [{ firstOffset: 2n, lastOffset: 2n, deliveryCount: 1 }]);
  // a repeated delivery of a held entry adds nothing
  assert.equal(w.add('e1', 2n, 3n, data(100), 1), true);
  assert.equal(w.held, 4);
});
