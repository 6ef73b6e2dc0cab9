/**
 * The transaction coordinator (src/coordinator/txn/): its state machine as pure
 * functions against Kafka's answers, then the coordinator over a real embedded
 * engine and group coordinator: producer id epochs and KIP-360 retries, adding
 * partitions, ending with markers written (the partition's last stable offset
 * moves), transactional offsets pending until the end, the home rule, timeouts
 * (aborted, producer fenced by an epoch bump), and a restart that completes a
 * transaction left in PrepareCommit and aborts an Ongoing one past its timeout.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ManualClock } from '../../src/coordinator/clock.js';
import { LocalGroupCoordinator, coordinatorConfigFrom } from '../../src/coordinator/coordinator.js';
import { SingleNodeLocator, offsetsPartitionFor, type CoordinatorLocator, type CoordinatorNode, type GroupKey } from '../../src/coordinator/locator.js';
import { TransactionCoordinator, type TxnRef } from '../../src/coordinator/txn/coordinator.js';
import { newMetadata, prepareAdd, prepareComplete, prepareEnd, prepareInit, isTimedOut, MAX_EPOCH, type TxnMetadata } from '../../src/coordinator/txn/metadata.js';
import { TxnStore } from '../../src/coordinator/txn/store.js';
import { loadConfig } from '../../src/config/load.js';
import { silentLogger } from '../../src/logger.js';
import { ErrorCode } from '../../src/protocol/errors.js';
import { encodeBatchSync } from '../../src/protocol/records/encode.js';
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import { validated } from '../helpers/validated.js';

const NOW = 1_700_000_000_000;

function meta(over: Partial<TxnMetadata> = {}): TxnMetadata {
  return { ...newMetadata('t', 'tx', 'ns', 7n, 60_000, NOW), ...over };
}

const code = (r: object): number | undefined => ('error' in r ? (r as { error: number }).error : undefined);

describe('transaction state machine (Kafka TransactionCoordinator, TV1)', () => {
  const init = (m: TxnMetadata, expected: { producerId: bigint; epoch: number } | null = null) => prepareInit(m, { txnTimeoutMs: 30_000, expected, now: NOW + 1, freshProducerId: () => 99n });

  test('InitProducerId: epoch bumps, KIP-360 retries and fencing, exhausted epochs rotate the producer id, an ongoing transaction is fenced', () => {
    const first = init(meta());
    assert.ok('next' in first);
    assert.deepEqual([first.next.producerId, first.next.producerEpoch, first.next.state, first.next.txnTimeoutMs], [7n, 0, 'Empty', 30_000]);
    const second = init(first.next);
    assert.ok('next' in second);
    assert.equal(second.next.producerEpoch, 1);
    // KIP-360: the client names what it has
    const bumped = init(first.next, { producerId: 7n, epoch: 0 });
    assert.ok('next' in bumped);
    assert.deepEqual([bumped.next.producerEpoch, bumped.next.lastProducerEpoch], [1, 0]);
    const retried = init(bumped.next, { producerId: 7n, epoch: 0 });
    assert.ok('next' in retried, 'a retry of the bump gets the same epoch');
    assert.equal(retried.next.producerEpoch, 1);
    assert.equal(code(init(bumped.next, { producerId: 7n, epoch: 5 })), ErrorCode.PRODUCER_FENCED, 'an epoch that is neither current nor the last one');
    assert.equal(code(init(bumped.next, { producerId: 8n, epoch: 1 })), ErrorCode.PRODUCER_FENCED, 'another producer id');
    const exhausted = init(meta({ producerEpoch: MAX_EPOCH - 1, state: 'CompleteCommit' }));
    assert.ok('next' in exhausted);
    assert.deepEqual([exhausted.next.producerId, exhausted.next.producerEpoch], [99n, 0], 'a new producer id at epoch 0');
    const ongoing = init(meta({ producerEpoch: 3, state: 'Ongoing' }));
    assert.ok('fence' in ongoing);
    assert.deepEqual([ongoing.fence.state, ongoing.fence.producerEpoch], ['PrepareAbort', 4], 'aborted under a bumped epoch');
    for (const state of ['PrepareCommit', 'PrepareAbort'] as const) assert.equal(code(init(meta({ producerEpoch: 1, state }))), ErrorCode.CONCURRENT_TRANSACTIONS, state);
  });

  test('AddPartitions / EndTxn: Kafka codes per state', () => {
    const empty = meta({ producerEpoch: 2 });
    const add = (m: TxnMetadata, pid = 7n, epoch = 2) => prepareAdd(m, { producerId: pid, producerEpoch: epoch, partitions: [{ topic: 'a', partition: 0 }], groups: [], now: NOW + 5 });
    assert.equal(code(add(empty, 8n)), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    assert.equal(code(add(empty, 7n, 1)), ErrorCode.PRODUCER_FENCED);
    const added = add(empty);
    assert.ok('next' in added);
    assert.deepEqual([added.next.state, added.next.txnStartTimestamp, added.next.partitions.size], ['Ongoing', NOW + 5, 1]);
    assert.equal(code(add(added.next)), ErrorCode.NONE, 'already in the transaction: nothing to write');
    assert.equal(code(add(meta({ producerEpoch: 2, state: 'PrepareCommit' }))), ErrorCode.CONCURRENT_TRANSACTIONS);

    const end = (m: TxnMetadata, commit: boolean, epoch = 2) => prepareEnd(m, { producerId: 7n, producerEpoch: epoch, commit, now: NOW + 9 });
    const committing = end(added.next, true);
    assert.ok('next' in committing);
    assert.equal(committing.next.state, 'PrepareCommit');
    assert.equal(code(end(added.next, true, 1)), ErrorCode.PRODUCER_FENCED);
    const table: Array<[TxnMetadata['state'], boolean, number]> = [
      ['CompleteCommit', true, ErrorCode.NONE],
      ['CompleteCommit', false, ErrorCode.INVALID_TXN_STATE],
      ['CompleteAbort', false, ErrorCode.NONE],
      ['CompleteAbort', true, ErrorCode.INVALID_TXN_STATE],
      ['PrepareCommit', true, ErrorCode.CONCURRENT_TRANSACTIONS],
      ['PrepareCommit', false, ErrorCode.INVALID_TXN_STATE],
      ['PrepareAbort', false, ErrorCode.CONCURRENT_TRANSACTIONS],
      ['PrepareAbort', true, ErrorCode.INVALID_TXN_STATE],
      ['Empty', true, ErrorCode.INVALID_TXN_STATE],
    ];
    for (const [state, commit, expected] of table) assert.equal(code(end(meta({ producerEpoch: 2, state }), commit)), expected, `${state} ${commit ? 'commit' : 'abort'}`);
    const done = prepareComplete(committing.next, NOW + 10);
    assert.deepEqual([done.state, done.partitions.size], ['CompleteCommit', 0]);
    assert.equal(isTimedOut(added.next, NOW + 5 + 60_000), false);
    assert.equal(isTimedOut(added.next, NOW + 5 + 60_001), true);
  });
});

describe('transaction coordinator over the embedded engine', () => {
  let dir: string;
  let engine: EmbeddedEngine;
  let groups: LocalGroupCoordinator;
  let txns: TransactionCoordinator;
  const clock = new ManualClock(NOW);
  const log = silentLogger();
  const locator = new SingleNodeLocator(5, 1, () => ({ host: 'h', port: 1 }));
  const TOPIC = 'persistent://t/ns/data';
  const tp = { topic: TOPIC, partition: 0 };
  const config = { transactionMaxTimeoutMs: 120_000, abortTimedOutIntervalMs: 1_000, transactionalIdExpirationMs: 86_400_000 };
  const ref = (transactionalId: string, namespace = 'ns'): TxnRef => ({ tenant: 't', transactionalId, namespace });
  /** Next sequence per producer id and epoch (a new epoch starts at 0). */
  const sequences = new Map<string, number>();
  const appendTxn = (pid: bigint, epoch: number, tag: string) => {
    const k = `${pid}:${epoch}`;
    const seq = sequences.get(k) ?? 0;
    sequences.set(k, seq + 1);
    return engine.append(tp, validated(encodeBatchSync({ records: [{ key: tag, value: tag, timestamp: BigInt(NOW) }], producerId: pid, producerEpoch: epoch, baseSequence: seq, transactional: true })), { acks: -1 });
  };

  async function startCoordinators(): Promise<void> {
    groups = new LocalGroupCoordinator(locator, engine.state, coordinatorConfigFrom(loadConfig({ env: {}, overrides: {} })), log, clock);
    await groups.start();
    txns = new TransactionCoordinator(locator, engine.state, engine, config, log, clock);
    txns.offsets = groups;
    await txns.start();
  }

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'kop-txn-unit-'));
    engine = new EmbeddedEngine({ dataDirectory: dir, retentionCheckIntervalMs: 0 });
    await engine.start();
    await engine.createTopic(TOPIC, 1, {});
    await startCoordinators();
  });

  after(async () => {
    await txns.shutdown();
    await groups.shutdown();
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('InitProducerId: timeouts bounded, epochs bumped, KIP-360 retry, the home fixed at first use', async () => {
    assert.equal((await txns.initProducerId(ref('a'), 0, null)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    assert.equal((await txns.initProducerId(ref('a'), 120_001, null)).errorCode, ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    assert.equal((await txns.initProducerId(ref(''), 1000, null)).errorCode, ErrorCode.INVALID_REQUEST);
    const homes: string[] = [];
    const first = await txns.initProducerId({ ...ref('a'), onHome: (how) => homes.push(how) }, 60_000, null);
    assert.equal(first.errorCode, ErrorCode.NONE);
    assert.equal(first.producerEpoch, 0);
    assert.deepEqual(homes, ['created']);
    const again = await txns.initProducerId(ref('a'), 60_000, { producerId: first.producerId, epoch: 0 });
    assert.deepEqual([again.errorCode, again.producerId, again.producerEpoch], [ErrorCode.NONE, first.producerId, 1]);
    assert.equal((await txns.initProducerId(ref('a'), 60_000, { producerId: first.producerId + 100n, epoch: 0 })).errorCode, ErrorCode.PRODUCER_FENCED);
    // checked in another namespace than the home: refused (retriable), nothing changed
    assert.equal((await txns.initProducerId(ref('a', 'elsewhere'), 60_000, null)).errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal(txns.txnHome({ tenant: 't', transactionalId: 'a' }).home, 'ns');
    assert.equal(txns.state({ tenant: 't', transactionalId: 'a' })!.producerEpoch, 1);
    // another tenant's id of the same name is another id
    assert.equal(txns.txnHome({ tenant: 'other', transactionalId: 'a' }).home, null);
  });

  test('a committed transaction: markers written, the last stable offset moves; offsets of the transaction visible only then', async () => {
    const { producerId: pid, producerEpoch: epoch } = await txns.initProducerId(ref('c'), 60_000, null);
    assert.equal(await txns.addToTransaction(ref('c'), pid, epoch + 1, [tp], []), ErrorCode.PRODUCER_FENCED);
    assert.equal(await txns.addToTransaction(ref('c'), pid + 1n, epoch, [tp], []), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    assert.equal(await txns.addToTransaction(ref('nope'), pid, epoch, [tp], []), ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    assert.equal(await txns.addToTransaction(ref('c'), pid, epoch, [tp], ['g']), ErrorCode.NONE);
    const hw0 = (await engine.offsets(tp)).highWatermark;
    await appendTxn(pid, epoch, 'c1');
    const open = await engine.offsets(tp);
    assert.equal(open.lastStableOffset, hw0, 'the open transaction holds the LSO back');
    const gref = { tenant: 't', groupId: 'g', namespace: 'ns' };
    assert.deepEqual(await groups.commitTxnOffsets({ key: gref, producerId: pid, producerEpoch: epoch, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: TOPIC, partition: 0, offset: 42n, leaderEpoch: -1, metadata: 'm', commitTimestamp: -1n }] }), [ErrorCode.NONE]);
    const unstable = await groups.fetchOffsets(gref, [{ topic: TOPIC, partition: 0 }], true);
    assert.equal(unstable.offsets[0]!.errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT, 'require_stable: a pending transactional offset');
    assert.equal((await groups.fetchOffsets(gref, [{ topic: TOPIC, partition: 0 }], false)).offsets[0]!.offset, -1n, 'not visible before the commit');
    const ended = await txns.endTransaction(ref('c'), pid, epoch, true);
    assert.equal(ended.errorCode, ErrorCode.NONE);
    await txns.settled();
    assert.equal(txns.state({ tenant: 't', transactionalId: 'c' })!.state, 'CompleteCommit');
    const closed = await engine.offsets(tp);
    assert.equal(closed.highWatermark, open.highWatermark + 1n, 'one COMMIT marker');
    assert.equal(closed.lastStableOffset, closed.highWatermark);
    assert.equal((await groups.fetchOffsets(gref, [{ topic: TOPIC, partition: 0 }], true)).offsets[0]!.offset, 42n, 'committed with the transaction');
    assert.equal((await txns.endTransaction(ref('c'), pid, epoch, true)).errorCode, ErrorCode.NONE, 'a retried commit');
    assert.equal((await txns.endTransaction(ref('c'), pid, epoch, false)).errorCode, ErrorCode.INVALID_TXN_STATE);
    const described = txns.describe(ref('c'));
    assert.deepEqual([described.errorCode, described.state, described.partitions], [ErrorCode.NONE, 'CompleteCommit', []]);
    assert.equal(txns.describe(ref('nope')).errorCode, ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
    assert.deepEqual(
      txns.list('t', ['CompleteCommit'], [], -1).transactions.map((t) => t.transactionalId),
      ['c'],
    );
  });

  test('an aborted transaction drops its transactional offsets; a timed-out one is aborted and its producer fenced', async () => {
    const { producerId: pid, producerEpoch: epoch } = await txns.initProducerId(ref('d'), 10_000, null);
    const gref = { tenant: 't', groupId: 'g2', namespace: 'ns' };
    assert.equal(await txns.addToTransaction(ref('d'), pid, epoch, [tp], ['g2']), ErrorCode.NONE);
    await groups.commitTxnOffsets({ key: gref, producerId: pid, producerEpoch: epoch, generationId: -1, memberId: '', groupInstanceId: null, offsets: [{ topic: TOPIC, partition: 0, offset: 9n, leaderEpoch: -1, metadata: '', commitTimestamp: -1n }] });
    assert.equal((await txns.endTransaction(ref('d'), pid, epoch, false)).errorCode, ErrorCode.NONE);
    await txns.settled();
    assert.equal((await groups.fetchOffsets(gref, [{ topic: TOPIC, partition: 0 }], true)).offsets[0]!.offset, -1n, 'dropped with the abort');

    // a transaction past its timeout
    assert.equal(await txns.addToTransaction(ref('d'), pid, epoch, [tp], []), ErrorCode.NONE);
    await appendTxn(pid, epoch, 'd1');
    clock.advance(5_000);
    assert.equal(await txns.sweep(), 0, 'not yet');
    // ListTransactions' duration filter (kafka-transactions.sh find-hanging): running longer than the filter
    assert.deepEqual(txns.list('t', ['Ongoing'], [], 4_000).transactions.map((t) => t.transactionalId), ['d']);
    assert.deepEqual(txns.list('t', ['Ongoing'], [], 5_000).transactions, []);
    assert.deepEqual(txns.list('t', [], [pid], -1).transactions.map((t) => t.transactionalId), ['d'], 'by producer id');
    clock.advance(6_000);
    assert.equal(await txns.sweep(), 1);
    await txns.settled();
    const m = txns.state({ tenant: 't', transactionalId: 'd' })!;
    assert.deepEqual([m.state, m.producerEpoch], ['CompleteAbort', epoch + 1], 'aborted under a bumped epoch');
    const o = await engine.offsets(tp);
    assert.equal(o.lastStableOffset, o.highWatermark);
    assert.equal((await txns.endTransaction(ref('d'), pid, epoch, true)).errorCode, ErrorCode.PRODUCER_FENCED, 'the old producer is fenced');
  });

  test('a restart completes a transaction left in PrepareCommit and aborts an Ongoing one past its timeout', async () => {
    const a = await txns.initProducerId(ref('r1'), 60_000, null);
    const b = await txns.initProducerId(ref('r2'), 5_000, null);
    assert.equal(await txns.addToTransaction(ref('r1'), a.producerId, a.producerEpoch, [tp], []), ErrorCode.NONE);
    assert.equal(await txns.addToTransaction(ref('r2'), b.producerId, b.producerEpoch, [tp], []), ErrorCode.NONE);
    await appendTxn(a.producerId, a.producerEpoch, 'r1');
    await appendTxn(b.producerId, b.producerEpoch, 'r2');
    const before = await engine.offsets(tp);
    assert.ok(before.lastStableOffset < before.highWatermark);
    await txns.shutdown();
    await groups.shutdown();
    // the crash happened right after r1's PrepareCommit was written, before its markers
    const r1 = txns.state({ tenant: 't', transactionalId: 'r1' }) ?? null;
    assert.equal(r1, null, 'a stopped coordinator holds nothing');
    const store = new TxnStore(engine.state);
    const partition = locator.partitionFor({ tenant: 't', groupId: 'r1' });
    const stored = (await store.loadPartition(partition, () => {})).find((m) => m.transactionalId === 'r1')!;
    await store.put(partition, { ...stored, state: 'PrepareCommit' });

    await startCoordinators();
    await txns.settled();
    assert.equal(txns.state({ tenant: 't', transactionalId: 'r1' })!.state, 'CompleteCommit', 'completed at load');
    assert.equal(txns.state({ tenant: 't', transactionalId: 'r2' })!.state, 'Ongoing');
    clock.advance(6_000);
    await txns.sweep();
    await txns.settled();
    assert.equal(txns.state({ tenant: 't', transactionalId: 'r2' })!.state, 'CompleteAbort', 'aborted after its timeout');
    const o = await engine.offsets(tp);
    assert.equal(o.highWatermark, before.highWatermark + 2n, 'one marker each');
    assert.equal(o.lastStableOffset, o.highWatermark, 'nothing left open');
  });
});

describe('transactional offsets of a group another node coordinates', () => {
  /** A static split of the partitions between two nodes (what the Pulsar election settles on). */
  class SplitLocator implements CoordinatorLocator {
    constructor(
      readonly numPartitions: number,
      private readonly mine: (p: number) => boolean,
    ) {}
    partitionFor(key: GroupKey): number {
      return offsetsPartitionFor(key, this.numPartitions);
    }
    ownerOf(p: number): CoordinatorNode {
      return { nodeId: this.mine(p) ? 1 : 2, local: this.mine(p), endpoint: () => ({ host: 'h', port: 1 }) };
    }
    ownedPartitions(): number[] {
      return Array.from({ length: this.numPartitions }, (_, i) => i).filter((p) => this.mine(p));
    }
  }

  test('the transaction coordinator records the end next to the group; the group\'s coordinator applies it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kop-txn-split-'));
    const engine = new EmbeddedEngine({ dataDirectory: dir, retentionCheckIntervalMs: 0 });
    await engine.start();
    const clock = new ManualClock(NOW);
    const log = silentLogger();
    const config = coordinatorConfigFrom(loadConfig({ env: {}, overrides: {} }));
    const nodeA = new SplitLocator(4, (p) => p % 2 === 0);
    const nodeB = new SplitLocator(4, (p) => p % 2 === 1);
    const groupsA = new LocalGroupCoordinator(nodeA, engine.state, config, log, clock);
    const groupsB = new LocalGroupCoordinator(nodeB, engine.state, config, log, clock);
    const txnsA = new TransactionCoordinator(nodeA, engine.state, engine, { transactionMaxTimeoutMs: 60_000, abortTimedOutIntervalMs: 1000, transactionalIdExpirationMs: 86_400_000 }, log, clock);
    txnsA.offsets = groupsA;
    try {
      await groupsA.start();
      await groupsB.start();
      await txnsA.start();
      const TOPIC = 'persistent://t/ns/split';
      await engine.createTopic(TOPIC, 1, {});
      const pick = (odd: boolean, prefix: string) => {
        for (let i = 0; ; i++) if ((offsetsPartitionFor({ tenant: 't', groupId: `${prefix}${i}` }, 4) % 2 === 1) === odd) return `${prefix}${i}`;
      };
      const txnId = pick(false, 'tx'); // on node A
      const groupId = pick(true, 'g'); // on node B
      const ref = { tenant: 't', transactionalId: txnId, namespace: 'ns' };
      const { producerId, producerEpoch } = await txnsA.initProducerId(ref, 30_000, null);
      assert.equal(await txnsA.addToTransaction(ref, producerId, producerEpoch, [], [groupId]), ErrorCode.NONE);
      const gref = { tenant: 't', groupId, namespace: 'ns' };
      const offsets = [{ topic: TOPIC, partition: 0, offset: 11n, leaderEpoch: -1, metadata: '', commitTimestamp: -1n }];
      assert.deepEqual(await groupsA.commitTxnOffsets({ key: gref, producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null, offsets }), [ErrorCode.NOT_COORDINATOR], 'node A does not coordinate the group');
      assert.deepEqual(await groupsB.commitTxnOffsets({ key: gref, producerId, producerEpoch, generationId: -1, memberId: '', groupInstanceId: null, offsets }), [ErrorCode.NONE]);
      assert.equal((await txnsA.endTransaction(ref, producerId, producerEpoch, true)).errorCode, ErrorCode.NONE);
      await txnsA.settled();
      assert.equal(txnsA.state(ref)!.state, 'CompleteCommit', 'the transaction completes although another node coordinates the group');
      const fetch = () => groupsB.fetchOffsets(gref, [{ topic: TOPIC, partition: 0 }], true);
      assert.equal((await fetch()).offsets[0]!.errorCode, ErrorCode.UNSTABLE_OFFSET_COMMIT, 'until node B applies the end');
      await groupsB.sweepTxnEnds();
      assert.deepEqual([(await fetch()).offsets[0]!.errorCode, (await fetch()).offsets[0]!.offset], [ErrorCode.NONE, 11n]);
    } finally {
      await txnsA.shutdown();
      await groupsA.shutdown();
      await groupsB.shutdown();
      await engine.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
