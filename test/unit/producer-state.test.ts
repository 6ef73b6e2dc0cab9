import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import { StorageError } from '../../src/storage/engine.js';
import { ProducerStateTable, NUM_BATCHES_TO_RETAIN, type ProducerBatch } from '../../src/storage/producer-state.js';
import { decodeRecords, openEngine, tempDir, TOPIC, valuesBatch } from './storage-fixtures.test.js';
import { validated } from '../helpers/validated.js';

const PID = 42n;
const b = (epoch: number, firstSeq: number, lastSeq: number, producerId = PID): ProducerBatch => ({ producerId, epoch, firstSeq, lastSeq });

test('producer state: in-sequence batches are accepted and recorded', () => {
  const t = new ProducerStateTable();
  assert.deepEqual(t.check(b(0, 0, 4)), { result: 'ok' });
  t.record(b(0, 0, 4), 0n, 4n, 100n);
  assert.deepEqual(t.check(b(0, 5, 5)), { result: 'ok' });
  t.record(b(0, 5, 5), 5n, 5n, 101n);
  const e = t.get(PID)!;
  assert.equal(e.epoch, 0);
  assert.equal(e.batches.length, 2);
  assert.equal(e.lastTimestamp, 101n);
});

test('producer state: a duplicate of one of the last 5 batches returns the original offsets', () => {
  const t = new ProducerStateTable();
  for (let i = 0; i < 7; i++) t.record(b(1, i * 2, i * 2 + 1), BigInt(100 + i * 2), BigInt(101 + i * 2), 0n);
  assert.equal(t.get(PID)!.batches.length, NUM_BATCHES_TO_RETAIN);
  assert.deepEqual(t.check(b(1, 12, 13)), { result: 'duplicate', firstOffset: 112n, lastOffset: 113n });
  assert.deepEqual(t.check(b(1, 4, 5)), { result: 'duplicate', firstOffset: 104n, lastOffset: 105n });
  // Older than the cache: not recognisable as a duplicate -> out of order.
  const old = t.check(b(1, 2, 3));
  assert.equal(old.result, 'error');
  assert.equal(old.result === 'error' && old.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  // Same first sequence, different range: not a duplicate.
  assert.equal(t.check(b(1, 12, 12)).result, 'error');
});

test('producer state: gaps are OUT_OF_ORDER_SEQUENCE_NUMBER, stale epochs INVALID_PRODUCER_EPOCH', () => {
  const t = new ProducerStateTable();
  t.record(b(3, 0, 9), 0n, 9n, 0n);
  const gap = t.check(b(3, 11, 11));
  assert.equal(gap.result, 'error');
  if (gap.result === 'error') {
    assert.equal(gap.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.match(gap.message, /expected 10/);
  }
  const stale = t.check(b(2, 10, 10));
  assert.equal(stale.result === 'error' && stale.code, ErrorCode.INVALID_PRODUCER_EPOCH);
  // New epoch must start at 0.
  const bump = t.check(b(4, 10, 10));
  assert.equal(bump.result === 'error' && bump.code, ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
  assert.deepEqual(t.check(b(4, 0, 0)), { result: 'ok' });
  t.record(b(4, 0, 0), 10n, 10n, 0n);
  assert.equal(t.get(PID)!.batches.length, 1, 'epoch bump clears the batch cache');
  // After the bump the old epoch is fenced.
  assert.equal(t.check(b(3, 10, 10)).result === 'error' && (t.check(b(3, 10, 10)) as { code: number }).code, ErrorCode.INVALID_PRODUCER_EPOCH);
});

test('producer state: unknown producers are accepted at any sequence (Kafka 2.5+)', () => {
  const t = new ProducerStateTable();
  assert.deepEqual(t.check(b(0, 77, 80)), { result: 'ok' });
  t.record(b(0, 77, 80), 0n, 3n, 0n);
  assert.equal(t.check(b(0, 82, 82)).result, 'error');
  assert.deepEqual(t.check(b(0, 81, 81)), { result: 'ok' });
});

test('producer state: sequence numbers wrap at Int32 max', () => {
  const t = new ProducerStateTable();
  const max = 0x7fffffff;
  t.record(b(0, max - 1, max), 0n, 1n, 0n);
  assert.deepEqual(t.check(b(0, 0, 2)), { result: 'ok' });
  t.record(b(0, 0, 2), 2n, 4n, 0n);
  assert.deepEqual(t.check(b(0, max - 1, max)), { result: 'duplicate', firstOffset: 0n, lastOffset: 1n });
  assert.deepEqual(t.check(b(0, 3, 3)), { result: 'ok' });
});

test('producer state: undo restores the previous entry; expiry; snapshot round trip', () => {
  const t = new ProducerStateTable();
  t.record(b(0, 0, 0), 0n, 0n, 1000n);
  const u1 = t.record(b(0, 1, 1), 1n, 1n, 1001n);
  const u2 = t.record(b(0, 0, 0, 7n), 2n, 2n, 5000n);
  t.undo(u2);
  t.undo(u1);
  assert.equal(t.get(7n), undefined);
  assert.equal(t.get(PID)!.batches.length, 1);
  t.record(b(0, 0, 0, 7n), 2n, 2n, 5000n);
  t.record(b(2, 0, 3, 9n), 3n, 6n, 5001n);

  const snap = t.serialize(7n);
  const back = ProducerStateTable.deserialize(snap);
  assert.ok(back);
  assert.equal(back.offset, 7n);
  assert.equal(back.table.size, 3);
  assert.deepEqual(back.table.get(9n), t.get(9n));
  assert.deepEqual(back.table.get(PID), t.get(PID));
  const damaged = Buffer.from(snap);
  damaged[damaged.length - 3] ^= 1;
  assert.equal(ProducerStateTable.deserialize(damaged), null);
  assert.equal(ProducerStateTable.deserialize(snap.subarray(0, 10)), null);

  assert.equal(t.expire(6000n, 2000n), 1, 'pid 42 (last seen at 1000) expires');
  assert.equal(t.get(PID), undefined);
  assert.equal(t.size, 2);
});

// --- the engine applies the rules ---------------------------------------------------------

const tp = { topic: TOPIC, partition: 0 };
const idem = (values: string[], seq: number, epoch = 0, pid = 1000n) => valuesBatch(values, { producerId: pid, producerEpoch: epoch, baseSequence: seq });

async function code(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    assert.ok(e instanceof StorageError);
    return e.code;
  }
}

test('engine idempotence: duplicates return the original offset and are not written twice; gaps and stale epochs fail', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, {});
    const r0 = await engine.append(tp, validated(idem(['a', 'b'], 0)), { acks: -1 });
    const r1 = await engine.append(tp, validated(idem(['c'], 2)), { acks: -1 });
    await engine.append(tp, validated(valuesBatch(['plain'])), { acks: -1 }); // non-idempotent in between
    assert.deepEqual([r0.baseOffset, r1.baseOffset], [0n, 2n]);
    const dup = await engine.append(tp, validated(idem(['a', 'b'], 0)), { acks: -1 });
    assert.deepEqual([dup.baseOffset, dup.duplicate], [0n, true]);
    const dup1 = await engine.append(tp, validated(idem(['c'], 2)), { acks: 1 });
    assert.deepEqual([dup1.baseOffset, dup1.duplicate], [2n, true]);
    assert.equal((await engine.offsets(tp)).highWatermark, 4n, 'nothing written for duplicates');

    assert.equal(await code(engine.append(tp, validated(idem(['gap'], 5)), { acks: -1 })), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal(await code(engine.append(tp, validated(idem(['old'], 3)), { acks: -1 })), ErrorCode.NONE);
    // epoch bump to 1 must restart at 0
    assert.equal(await code(engine.append(tp, validated(idem(['e1'], 4, 1)), { acks: -1 })), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    const e1 = await engine.append(tp, validated(idem(['e1'], 0, 1)), { acks: -1 });
    assert.equal(e1.baseOffset, 5n);
    assert.equal(await code(engine.append(tp, validated(idem(['stale'], 5, 0)), { acks: -1 })), ErrorCode.INVALID_PRODUCER_EPOCH);
    const vals = decodeRecords((await engine.read(tp, 0n, { maxBytes: 1 << 20, minOneMessage: true })).records).map((r) => r.value);
    assert.deepEqual(vals, ['a', 'b', 'c', 'plain', 'old', 'e1']);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('engine idempotence: a retry racing its original in the same write group is still a duplicate', async () => {
  const d = tempDir();
  const engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, {});
    const results = await Promise.all([
      engine.append(tp, validated(idem(['x'], 0)), { acks: -1 }),
      engine.append(tp, validated(idem(['x'], 0)), { acks: -1 }),
      engine.append(tp, validated(idem(['y'], 1)), { acks: -1 }),
      engine.append(tp, validated(idem(['y'], 1)), { acks: -1 }),
    ]);
    assert.deepEqual(
      results.map((r) => [r.baseOffset, r.duplicate]),
      [
        [0n, false],
        [0n, true],
        [1n, false],
        [1n, true],
      ],
    );
    assert.equal((await engine.offsets(tp)).highWatermark, 2n);
  } finally {
    await engine.close();
    d.cleanup();
  }
});

test('engine idempotence survives restarts: snapshot after clean close, log replay after a crash, across rolls', async () => {
  const d = tempDir();
  let engine = await openEngine(d.path);
  try {
    await engine.createTopic(TOPIC, 1, { 'segment.bytes': '600' });
    let seq = 0;
    for (let i = 0; i < 20; i++) {
      await engine.append(tp, validated(idem([`v${i}`], seq)), { acks: -1 });
      seq++;
    }
    assert.ok(engine.partitionLog(tp).segmentCount > 2);
    await engine.close();

    engine = await openEngine(d.path); // clean: snapshot at the log end
    let dup = await engine.append(tp, validated(idem(['v19'], 19)), { acks: -1 });
    assert.deepEqual([dup.baseOffset, dup.duplicate], [19n, true]);
    assert.equal(await code(engine.append(tp, validated(idem(['gap'], 22)), { acks: -1 })), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    for (let i = 20; i < 25; i++) await engine.append(tp, validated(idem([`v${i}`], seq++)), { acks: -1 });
    // Simulated crash: no close (the clean marker is absent), a new engine on the same directory.
    const crashed = engine;
    engine = await openEngine(d.path);
    dup = await engine.append(tp, validated(idem(['v24'], 24)), { acks: -1 });
    assert.deepEqual([dup.baseOffset, dup.duplicate], [24n, true]);
    dup = await engine.append(tp, validated(idem(['v21'], 21)), { acks: -1 });
    assert.deepEqual([dup.baseOffset, dup.duplicate], [21n, true]);
    assert.equal(await code(engine.append(tp, validated(idem(['gap'], 26)), { acks: -1 })), ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER);
    assert.equal((await engine.append(tp, validated(idem(['v25'], 25)), { acks: -1 })).baseOffset, 25n);
    assert.equal(engine.partitionLog(tp).producerCount, 1);
    void crashed;
  } finally {
    await engine.close();
    d.cleanup();
  }
});
