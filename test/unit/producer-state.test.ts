import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorCode } from '../../src/protocol/errors.js';
import { StorageError } from '../../src/storage/engine.js';
import fs from 'node:fs';
import { join } from 'node:path';
import { crc32c } from '@node-rs/crc32';
import { ProducerStateTable, NUM_BATCHES_TO_RETAIN, type MarkerBatch, type ProducerBatch } from '../../src/storage/producer-state.js';
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

test('producer state: a batch reported again by a lagging second source (Pulsar: receipt, then the tail) changes nothing', () => {
  // the receipts of 8 pipelined batches arrive first; the tail reader then reports the same 8
  // batches, more than NUM_BATCHES_TO_RETAIN behind: the last sequence must not move back
  const t = new ProducerStateTable();
  const batches = Array.from({ length: 8 }, (_, i) => ({ batch: { ...b(0, i * 15, i * 15 + 14), transactional: true }, first: BigInt(i * 15), last: BigInt(i * 15 + 14) }));
  for (const x of batches) assert.equal(t.recordIfNewer(x.batch, x.first, x.last, 0n), true);
  const after = t.get(PID)!;
  for (const x of batches) assert.equal(t.recordIfNewer(x.batch, x.first, x.last, 0n), false, `batch at ${x.first} recorded twice`);
  assert.deepEqual(t.get(PID), after);
  const txn = (firstSeq: number, lastSeq: number): ProducerBatch => ({ ...b(0, firstSeq, lastSeq), transactional: true });
  assert.deepEqual(t.check(txn(120, 134)), { result: 'ok' }, 'the next batch is still in sequence');
  assert.equal(t.check(txn(90, 104)).result, 'duplicate', 'a retained batch is a duplicate');
  assert.equal(t.check(txn(15, 29)).result, 'error', 'an old batch is not accepted as the next one');
  // the transaction opened once, at the first batch
  assert.equal(t.get(PID)!.currentTxnFirstOffset, 0n);
  // an older epoch reported late does not move the epoch back
  t.record(b(1, 0, 0), 200n, 200n, 0n);
  assert.equal(t.recordIfNewer(b(0, 135, 149), 120n, 134n, 0n), false);
  assert.equal(t.get(PID)!.epoch, 1);
  // without the check (plain record), the same lagging report would move the sequence back
  const plain = new ProducerStateTable();
  for (const x of batches) plain.record(x.batch, x.first, x.last, 0n);
  plain.record(batches[2]!.batch, batches[2]!.first, batches[2]!.last, 0n);
  assert.equal(plain.check(txn(120, 134)).result, 'error');
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

// --- transactions ---------------------------------------------------------------------------

const tx = (epoch: number, firstSeq: number, lastSeq: number, producerId = PID): ProducerBatch => ({ producerId, epoch, firstSeq, lastSeq, transactional: true });
const marker = (commit: boolean, epoch = 0, coordinatorEpoch = 0, producerId = PID): MarkerBatch => ({ producerId, epoch, commit, coordinatorEpoch });

test('producer state: a transactional batch opens a transaction; the LSO is its first offset until its marker passes the high watermark', () => {
  const t = new ProducerStateTable();
  t.record(b(0, 0, 1, 7n), 0n, 1n, 0n); // an idempotent producer: no transaction
  assert.equal(t.lastStableOffset(2n), 2n);
  t.record(tx(0, 0, 2), 2n, 4n, 0n);
  t.record(tx(0, 3, 3), 5n, 5n, 0n); // same transaction: stays open at 2
  assert.equal(t.get(PID)!.currentTxnFirstOffset, 2n);
  assert.equal(t.lastStableOffset(6n), 2n);
  // duplicates are still recognised inside a transaction, a plain batch is INVALID_TXN_STATE
  assert.deepEqual(t.check(tx(0, 3, 3)), { result: 'duplicate', firstOffset: 5n, lastOffset: 5n });
  const plain = t.check(b(0, 4, 4));
  assert.equal(plain.result === 'error' && plain.code, ErrorCode.INVALID_TXN_STATE);
  assert.deepEqual(t.check(tx(0, 4, 4)), { result: 'ok' });
  // the marker at 6: until the high watermark passes it the transaction still holds the LSO (Kafka's unreplicated transactions)
  t.recordMarker(marker(false), 6n, 0n);
  assert.equal(t.get(PID)!.currentTxnFirstOffset, -1n);
  assert.equal(t.lastStableOffset(6n), 2n);
  assert.equal(t.lastStableOffset(7n), 7n);
  assert.deepEqual(t.abortedIndex(), [{ producerId: PID, firstOffset: 2n, lastOffset: 6n }]);
  // aborted transactions overlapping a read: marker at/after the fetch offset, data before the upper bound
  assert.deepEqual(t.abortedTransactions(0n, 2n), []);
  assert.equal(t.abortedTransactions(0n, 3n).length, 1);
  assert.equal(t.abortedTransactions(6n, 100n).length, 1);
  assert.deepEqual(t.abortedTransactions(7n, 100n), []);
  // after the marker a plain batch is fine again
  assert.deepEqual(t.check(b(0, 4, 4)), { result: 'ok' });
});

test('producer state: marker fencing by producer epoch and coordinator epoch; a bumped epoch fences the old one', () => {
  const t = new ProducerStateTable();
  assert.deepEqual(t.checkMarker(marker(true, 3, 5)), { result: 'ok' }, 'unknown producer: a marker is written anyway');
  t.record(tx(2, 0, 0), 0n, 0n, 0n);
  const old = t.checkMarker(marker(true, 1, 0));
  assert.equal(old.result === 'error' && old.code, ErrorCode.INVALID_PRODUCER_EPOCH);
  t.recordMarker(marker(true, 2, 4), 1n, 0n);
  assert.equal(t.get(PID)!.coordinatorEpoch, 4);
  const fenced = t.checkMarker(marker(false, 2, 3));
  assert.equal(fenced.result === 'error' && fenced.code, ErrorCode.TRANSACTION_COORDINATOR_FENCED);
  assert.deepEqual(t.checkMarker(marker(false, 2, 4)), { result: 'ok' });
  assert.deepEqual(t.abortedIndex(), [], 'a COMMIT adds nothing to the aborted index');
  // the coordinator aborts with a bumped epoch (timeout): the producer's old epoch is fenced from then on
  t.record(tx(2, 1, 1), 2n, 2n, 0n);
  t.recordMarker(marker(false, 3, 4), 3n, 0n);
  assert.equal(t.get(PID)!.epoch, 3);
  assert.equal(t.get(PID)!.batches.length, 0, 'a new epoch starts a new batch cache');
  const zombie = t.check(tx(2, 2, 2));
  assert.equal(zombie.result === 'error' && zombie.code, ErrorCode.INVALID_PRODUCER_EPOCH);
  // a marker without an open transaction changes no offsets
  t.recordMarker(marker(false, 3, 4), 4n, 0n);
  assert.equal(t.abortedIndex().length, 1);
});

test('producer state: undo of a marker reopens the transaction; open transactions never expire; KPS2 snapshots keep them and the aborted index; KPS1 still reads', () => {
  const t = new ProducerStateTable();
  t.record(tx(0, 0, 0), 10n, 10n, 1000n);
  const u = t.recordMarker(marker(false), 11n, 1000n);
  t.undo(u);
  assert.equal(t.get(PID)!.currentTxnFirstOffset, 10n);
  assert.deepEqual(t.abortedIndex(), []);
  assert.equal(t.lastStableOffset(12n), 10n);
  const opened = t.record(tx(0, 0, 0, 8n), 12n, 12n, 1000n);
  t.undo(opened);
  assert.equal(t.get(8n), undefined);
  assert.equal(t.lastStableOffset(13n), 10n, 'the undone transaction does not hold the LSO');
  assert.equal(t.expire(10_000_000n, 1000n), 0, 'a producer with an open transaction stays');
  t.recordMarker(marker(false, 0, 2), 11n, 1000n);
  t.record(tx(0, 1, 1), 12n, 12n, 1000n);
  t.record(tx(0, 0, 0, 9n), 13n, 13n, 1000n);
  t.recordMarker(marker(true, 0, 2, 9n), 14n, 1000n);

  const back = ProducerStateTable.deserialize(t.serialize(15n));
  assert.ok(back);
  assert.deepEqual(back.table.get(PID), t.get(PID));
  assert.deepEqual(back.table.get(9n), t.get(9n));
  assert.deepEqual(back.table.abortedIndex(), [{ producerId: PID, firstOffset: 10n, lastOffset: 11n }]);
  assert.equal(back.table.lastStableOffset(15n), 12n, 'the open transaction is back');
  assert.equal(back.table.openTransactions, 1);

  // a KPS1 snapshot (before transactions): one producer, one batch
  const v1 = Buffer.alloc(8 + 8 + 4 + 19 + 32);
  v1.write('KPS1', 0, 'latin1');
  v1.writeBigInt64BE(5n, 8);
  v1.writeUInt32BE(1, 16);
  v1.writeBigInt64BE(3n, 20);
  v1.writeInt16BE(1, 28);
  v1.writeBigInt64BE(77n, 30);
  v1.writeUInt8(1, 38);
  v1.writeInt32BE(0, 39);
  v1.writeInt32BE(4, 43);
  v1.writeBigInt64BE(0n, 47);
  v1.writeBigInt64BE(4n, 55);
  v1.writeBigInt64BE(77n, 63);
  v1.writeUInt32BE(crc32c(v1.subarray(8)), 4);
  const old = ProducerStateTable.deserialize(v1);
  assert.ok(old);
  assert.deepEqual(old.table.get(3n), {
    producerId: 3n,
    epoch: 1,
    lastTimestamp: 77n,
    coordinatorEpoch: -1,
    currentTxnFirstOffset: -1n,
    batches: [{ firstSeq: 0, lastSeq: 4, firstOffset: 0n, lastOffset: 4n, timestamp: 77n }],
  });
});

test('engine transactions survive a crash across rolls (snapshot at the roll + replay) and a lost snapshot (whole-log replay)', async () => {
  const d = tempDir();
  let engine = await openEngine(d.path);
  const txnVals = (values: string[], seq: number, pid: bigint) => valuesBatch(values, { producerId: pid, producerEpoch: 0, baseSequence: seq, attributes: 0x10 });
  const state = async (e: typeof engine) => ({
    offsets: await e.offsets(tp),
    aborted: (await e.read(tp, 0n, { maxBytes: 1 << 20, minOneMessage: true, isolation: 'read_committed' })).abortedTransactions,
    open: (await e.describeProducers(tp)).filter((p) => p.currentTxnStartOffset >= 0n).map((p) => [p.producerId, p.currentTxnStartOffset]),
  });
  try {
    await engine.createTopic(TOPIC, 1, { 'segment.bytes': '400' });
    const [a, b] = [await engine.allocateProducerId(), await engine.allocateProducerId()];
    await engine.append(tp, validated(txnVals(['a0'], 0, a)), { acks: -1 }); // A opens at 0
    await engine.append(tp, validated(txnVals(['b0'], 0, b)), { acks: -1 }); // B opens at 1
    for (let i = 0; i < 12; i++) await engine.append(tp, validated(valuesBatch([`filler-${i}`.padEnd(40, '.')])), { acks: -1 });
    await engine.writeTxnMarker(tp, { producerId: a, producerEpoch: 0, commit: false, coordinatorEpoch: 0 });
    for (let i = 0; i < 12; i++) await engine.append(tp, validated(valuesBatch([`more-${i}`.padEnd(40, '.')])), { acks: -1 });
    assert.ok(engine.partitionLog(tp).segmentCount > 3, 'several rolls');
    const before = await state(engine);
    assert.deepEqual(before.aborted, [{ producerId: a, firstOffset: 0n }]);
    assert.deepEqual(before.open, [[b, 1n]]);
    assert.equal(before.offsets.lastStableOffset, 1n);
    // crash: no close
    engine = await openEngine(d.path);
    assert.deepEqual(await state(engine), before);
    const dir = engine.partitionLog(tp).dir;
    await engine.close();
    // the snapshot lost: the whole log is replayed
    fs.rmSync(join(dir, 'producer-state.snapshot'));
    engine = await openEngine(d.path);
    assert.deepEqual(await state(engine), before);
  } finally {
    await engine.close();
    d.cleanup();
  }
});
