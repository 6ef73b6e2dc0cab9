/**
 * The transaction coordinator: Kafka's TransactionCoordinator for
 * transactional producers (InitProducerId with a transactional id,
 * AddPartitionsToTxn, AddOffsetsToTxn, EndTxn), transaction timeouts,
 * DescribeTransactions and ListTransactions, following Kafka's state machine
 * (metadata.ts) and error codes.
 *
 * Placement: a transactional id (scoped by tenant) maps to a partition of the
 * group coordinator's locator (coordinator/locator.ts), so the node that
 * coordinates that partition's groups coordinates its transactions too (on
 * Pulsar: elected through the same exclusive-producer locks; takeover on node
 * loss). Requests for a partition this node does not own get NOT_COORDINATOR.
 *
 * Durability (store.ts): every transition is written to the engine's
 * key-value store before it becomes current and before the client hears of it.
 * When a node loads a partition it bumps the partition's coordinator epoch,
 * completes every transaction found in PrepareCommit/PrepareAbort (markers
 * written again: idempotent for the reader), and lets the timeout sweep abort
 * Ongoing ones whose timeout passed.
 *
 * Ending a transaction (Kafka's order): PrepareX written -> the client is
 * answered -> markers written to every partition (markers.ts) and the
 * transaction's group offsets committed or dropped -> CompleteX written.
 * Meanwhile the id answers CONCURRENT_TRANSACTIONS, which clients retry.
 *
 * Authorization happens before: every method takes a TxnRef naming the
 * namespace where the caller's permission was checked; an operation on an id
 * whose home is another namespace is refused (home.ts), a new id gets the
 * ref's namespace as its home.
 *
 * Everything runs on the event loop; an id with a write in flight answers
 * CONCURRENT_TRANSACTIONS (Kafka's pendingTransitionInProgress).
 */
import type { Logger } from '../../logger.js';
import { ErrorCode } from '../../protocol/errors.js';
import type { KeyValueStore } from '../../storage/engine.js';
import { systemClock, type Clock, type TimerHandle } from '../clock.js';
import { verifyHome, type HomeAssignment } from '../home.js';
import type { CoordinatorLocator } from '../locator.js';
import { writeMarkers, type MarkerSink, type TxnOffsetSink } from './markers.js';
import {
  NO_EPOCH,
  isEpochExhausted,
  isExpired,
  isTimedOut,
  newMetadata,
  fenceAndAbort,
  prepareAdd,
  prepareComplete,
  prepareEnd,
  prepareInit,
  verifyPartitions,
  type TxnMetadata,
  type TxnPartition,
  type TxnState,
} from './metadata.js';
import { TxnStore } from './store.js';

export interface TxnKey {
  tenant: string;
  transactionalId: string;
}

/** A transactional id as an operation names it: checked in `namespace` (home.ts). */
export interface TxnRef extends TxnKey {
  namespace: string;
  onHome?: (how: Exclude<HomeAssignment, 'inferred'>) => void;
}

export interface TxnHomeLookup {
  /** NONE, or why this node cannot tell (NOT_COORDINATOR, COORDINATOR_LOAD_IN_PROGRESS, COORDINATOR_NOT_AVAILABLE). */
  errorCode: number;
  /** The home namespace; null when the id is unknown. */
  home: string | null;
}

export interface TxnCoordinatorConfig {
  /** Kafka's transaction.max.timeout.ms. */
  transactionMaxTimeoutMs: number;
  /** Kafka's transaction.abort.timed.out.transaction.cleanup.interval.ms. */
  abortTimedOutIntervalMs: number;
  /** Kafka's transactional.id.expiration.ms. */
  transactionalIdExpirationMs: number;
}

export interface ProducerIdResult {
  errorCode: number;
  producerId: bigint;
  producerEpoch: number;
}

export interface TxnDescription {
  errorCode: number;
  state: TxnState | '';
  producerId: bigint;
  producerEpoch: number;
  txnTimeoutMs: number;
  txnStartTimestamp: number;
  /** Resolved topic names. */
  partitions: TxnPartition[];
}

export interface TxnOverview {
  transactionalId: string;
  home: string;
  producerId: bigint;
  state: TxnState;
  txnStartTimestamp: number;
}

/** What the coordinator needs of the storage engine. */
export interface TxnStorage extends MarkerSink {
  allocateProducerId(): Promise<bigint>;
}

interface Entry {
  m: TxnMetadata;
  /** A write of this id is in flight. */
  pending: boolean;
  /** The completion (markers, CompleteX) running now. */
  completing: Promise<void> | null;
}

const RESULT_FAILED: ProducerIdResult = { errorCode: ErrorCode.NONE, producerId: -1n, producerEpoch: NO_EPOCH };

function failed(errorCode: number): ProducerIdResult {
  return { ...RESULT_FAILED, errorCode };
}

function mapKey(k: TxnKey): string {
  return `${k.tenant}\u0000${k.transactionalId}`;
}

export class TransactionCoordinator {
  private readonly ids = new Map<string, Entry>();
  private readonly store: TxnStore;
  private readonly loaded = new Map<number, number>(); // partition -> coordinator epoch
  private readonly loading = new Set<number>();
  private active = false;
  private sweepTimer: TimerHandle | null = null;
  private sweepRun: Promise<void> | null = null;
  /** The group coordinator's side of TxnOffsetCommit (set by the server). */
  offsets: TxnOffsetSink | null = null;

  constructor(
    readonly locator: CoordinatorLocator,
    kv: KeyValueStore,
    private readonly storage: TxnStorage,
    private readonly config: TxnCoordinatorConfig,
    private readonly log: Logger,
    private readonly clock: Clock = systemClock,
  ) {
    this.store = new TxnStore(kv);
  }

  // ------------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    this.active = true;
    await Promise.all(this.locator.ownedPartitions().map((p) => this.loadPartition(p)));
    this.scheduleSweep();
    this.log.info({ partitions: this.loaded.size, transactionalIds: this.ids.size }, 'transaction coordinator started');
  }

  async shutdown(): Promise<void> {
    if (!this.active) return;
    this.active = false;
    this.sweepTimer?.cancel();
    this.sweepTimer = null;
    await this.sweepRun;
    const running = [...this.ids.values()].map((e) => e.completing).filter((c): c is Promise<void> => c !== null);
    for (const p of [...this.loaded.keys()]) this.unloadPartition(p);
    await Promise.allSettled(running);
    this.log.info('transaction coordinator stopped');
  }

  /** Become the coordinator of a partition: read its ids, complete what was being completed (Kafka onElection). */
  async loadPartition(partition: number): Promise<void> {
    if (this.loaded.has(partition) || this.loading.has(partition)) return;
    this.loading.add(partition);
    try {
      const epoch = await this.store.nextEpoch(partition);
      const all = await this.store.loadPartition(partition, (key, err) => this.log.error({ partition, key, err }, 'unreadable transaction state entry skipped'));
      for (const m of all) this.ids.set(mapKey(m), { m, pending: false, completing: null });
      this.loaded.set(partition, epoch);
      let resumed = 0;
      for (const m of all) {
        if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort') {
          resumed++;
          this.complete(this.ids.get(mapKey(m))!);
        }
      }
      if (all.length > 0) this.log.info({ partition, coordinatorEpoch: epoch, transactionalIds: all.length, completing: resumed }, 'transaction state partition loaded');
    } finally {
      this.loading.delete(partition);
    }
  }

  /** Stop coordinating a partition (Kafka onResignation): its ids are forgotten here; completions stop at their next step. */
  unloadPartition(partition: number): void {
    this.loaded.delete(partition);
    for (const [k, e] of this.ids) if (this.locator.partitionFor(groupKeyOf(e.m)) === partition) this.ids.delete(k);
  }

  // ------------------------------------------------------------------ status and homes

  private status(key: TxnKey): number | null {
    if (key.transactionalId === '') return ErrorCode.INVALID_REQUEST;
    if (!this.active) return ErrorCode.COORDINATOR_NOT_AVAILABLE;
    const partition = this.locator.partitionFor(groupKeyOf(key));
    if (this.loading.has(partition)) return ErrorCode.COORDINATOR_LOAD_IN_PROGRESS;
    const owner = this.locator.ownerOf(partition);
    if (!owner?.local || !this.loaded.has(partition)) return ErrorCode.NOT_COORDINATOR;
    return null;
  }

  /** Where the id's permissions are checked (home.ts); answered by its coordinator only. */
  txnHome(key: TxnKey): TxnHomeLookup {
    const status = this.status(key);
    if (status !== null && status !== ErrorCode.INVALID_REQUEST) return { errorCode: status, home: null };
    return { errorCode: ErrorCode.NONE, home: this.ids.get(mapKey(key))?.m.home ?? null };
  }

  /** The entry of an existing id checked in its home, or the error code. */
  private entryFor(ref: TxnRef): Entry | number {
    const status = this.status(ref);
    if (status !== null) return status;
    const e = this.ids.get(mapKey(ref));
    if (!e) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (verifyHome(e.m.home, ref.namespace) === 'moved') return this.movedHome(e.m, ref);
    return e;
  }

  private movedHome(m: TxnMetadata, ref: TxnRef): number {
    this.log.info({ transactionalId: m.transactionalId, tenant: m.tenant, home: m.home, checkedIn: ref.namespace }, 'transactional id operation checked outside its home; refused (the client retries)');
    return ErrorCode.COORDINATOR_NOT_AVAILABLE;
  }

  private partitionOf(key: TxnKey): number {
    return this.locator.partitionFor(groupKeyOf(key));
  }

  private stillOwner(e: Entry): boolean {
    return this.active && this.ids.get(mapKey(e.m)) === e && this.loaded.has(this.partitionOf(e.m));
  }

  /** Write `next` durably, then make it current. Throws when the write fails. */
  private async persist(e: Entry, next: TxnMetadata): Promise<void> {
    e.pending = true;
    try {
      await this.store.put(this.partitionOf(next), next);
      e.m = next;
    } finally {
      e.pending = false;
    }
  }

  // ------------------------------------------------------------------ InitProducerId

  async initProducerId(ref: TxnRef, txnTimeoutMs: number, expected: { producerId: bigint; epoch: number } | null): Promise<ProducerIdResult> {
    if (ref.transactionalId === '') return failed(ErrorCode.INVALID_REQUEST);
    if (txnTimeoutMs <= 0 || txnTimeoutMs > this.config.transactionMaxTimeoutMs) return failed(ErrorCode.INVALID_TRANSACTION_TIMEOUT);
    const status = this.status(ref);
    if (status !== null) return failed(status);
    let e = this.ids.get(mapKey(ref));
    if (!e) {
      let producerId: bigint;
      try {
        producerId = await this.storage.allocateProducerId();
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'producer id allocation failed');
        return failed(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
      const again = this.status(ref);
      if (again !== null) return failed(again);
      e = this.ids.get(mapKey(ref));
      if (!e) {
        e = { m: newMetadata(ref.tenant, ref.transactionalId, ref.namespace, producerId, txnTimeoutMs, this.clock.now()), pending: false, completing: null };
        this.ids.set(mapKey(ref), e);
        ref.onHome?.('created');
        this.log.info({ transactionalId: ref.transactionalId, tenant: ref.tenant, home: ref.namespace, producerId: producerId.toString() }, 'transactional id created; home namespace recorded');
      }
    }
    if (verifyHome(e.m.home, ref.namespace) === 'moved') return failed(this.movedHome(e.m, ref));
    if (e.pending) return failed(ErrorCode.CONCURRENT_TRANSACTIONS);
    let fresh: bigint | null = null;
    if (isEpochExhausted(e.m.producerEpoch)) {
      try {
        fresh = await this.storage.allocateProducerId();
      } catch {
        return failed(ErrorCode.COORDINATOR_NOT_AVAILABLE);
      }
      const again = this.status(ref);
      if (again !== null) return failed(again);
      if (this.ids.get(mapKey(ref)) !== e) return failed(ErrorCode.CONCURRENT_TRANSACTIONS);
      if (e.pending) return failed(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
    const t = prepareInit(e.m, {
      txnTimeoutMs,
      expected,
      now: this.clock.now(),
      freshProducerId: () => {
        if (fresh === null) throw new Error('no producer id allocated for a rotation');
        return fresh;
      },
    });
    if ('error' in t) return failed(t.error);
    if ('fence' in t) {
      this.log.info({ transactionalId: ref.transactionalId, producerId: e.m.producerId.toString(), epoch: e.m.producerEpoch }, 'InitProducerId found the transaction ongoing: fencing the previous producer and aborting it');
      try {
        await this.persist(e, t.fence);
      } catch (err) {
        this.log.error({ err, transactionalId: ref.transactionalId }, 'transaction state write failed');
        return failed(ErrorCode.NOT_COORDINATOR);
      }
      this.complete(e);
      return failed(ErrorCode.CONCURRENT_TRANSACTIONS);
    }
    try {
      await this.persist(e, t.next);
    } catch (err) {
      this.log.error({ err, transactionalId: ref.transactionalId }, 'transaction state write failed');
      return failed(ErrorCode.NOT_COORDINATOR);
    }
    this.log.info({ transactionalId: ref.transactionalId, tenant: ref.tenant, producerId: t.next.producerId.toString(), epoch: t.next.producerEpoch }, 'transactional producer initialized');
    return { errorCode: ErrorCode.NONE, producerId: t.next.producerId, producerEpoch: t.next.producerEpoch };
  }

  // ------------------------------------------------------------------ AddPartitionsToTxn / AddOffsetsToTxn

  /** AddPartitionsToTxn (partitions: resolved names) and AddOffsetsToTxn (groups). */
  async addToTransaction(ref: TxnRef, producerId: bigint, producerEpoch: number, partitions: TxnPartition[], groups: string[]): Promise<number> {
    const e = this.entryFor(ref);
    if (typeof e === 'number') return e;
    if (e.m.producerId !== producerId) return ErrorCode.INVALID_PRODUCER_ID_MAPPING;
    if (e.m.producerEpoch !== producerEpoch) return ErrorCode.PRODUCER_FENCED;
    if (e.pending) return ErrorCode.CONCURRENT_TRANSACTIONS;
    const t = prepareAdd(e.m, { producerId, producerEpoch, partitions, groups, now: this.clock.now() });
    if ('error' in t) return t.error;
    try {
      await this.persist(e, t.next);
    } catch (err) {
      this.log.error({ err, transactionalId: ref.transactionalId }, 'transaction state write failed');
      return ErrorCode.NOT_COORDINATOR;
    }
    return ErrorCode.NONE;
  }

  /** AddPartitionsToTxn v4+ verify-only: NONE per partition already in the transaction. */
  verifyPartitions(ref: TxnRef, producerId: bigint, producerEpoch: number, partitions: TxnPartition[]): { error: number } | { perPartition: number[] } {
    const e = this.entryFor(ref);
    if (typeof e === 'number') return { error: e };
    return verifyPartitions(e.m, producerId, producerEpoch, partitions);
  }

  // ------------------------------------------------------------------ EndTxn

  async endTransaction(ref: TxnRef, producerId: bigint, producerEpoch: number, commit: boolean): Promise<ProducerIdResult> {
    const e = this.entryFor(ref);
    if (typeof e === 'number') return failed(e);
    if (e.m.producerId !== producerId) return failed(ErrorCode.INVALID_PRODUCER_ID_MAPPING);
    if (e.m.producerEpoch !== producerEpoch) return failed(ErrorCode.PRODUCER_FENCED);
    if (e.pending) return failed(ErrorCode.CONCURRENT_TRANSACTIONS);
    const t = prepareEnd(e.m, { producerId, producerEpoch, commit, now: this.clock.now() });
    if ('error' in t) {
      if (t.error === ErrorCode.NONE) return { errorCode: ErrorCode.NONE, producerId: e.m.producerId, producerEpoch: e.m.producerEpoch };
      if (t.error === ErrorCode.INVALID_TXN_STATE) this.log.info({ transactionalId: ref.transactionalId, state: e.m.state, commit }, 'EndTxn in a state that cannot take it');
      return failed(t.error);
    }
    try {
      await this.persist(e, t.next);
    } catch (err) {
      this.log.error({ err, transactionalId: ref.transactionalId }, 'transaction state write failed');
      return failed(ErrorCode.NOT_COORDINATOR);
    }
    this.complete(e);
    return { errorCode: ErrorCode.NONE, producerId: e.m.producerId, producerEpoch: e.m.producerEpoch };
  }

  /** Write the markers of a PrepareX transaction, then CompleteX (in the background). */
  private complete(e: Entry): void {
    if (e.completing) return;
    const m = e.m;
    const epoch = this.loaded.get(this.partitionOf(m)) ?? 0;
    const run = async (): Promise<void> => {
      const outcome = await writeMarkers(this.storage, this.offsets, m, epoch, () => this.stillOwner(e), this.log);
      if (outcome !== 'written') return;
      // e.m is still m: nothing else transitions an id in PrepareX
      for (let backoff = 50; this.stillOwner(e); backoff = Math.min(backoff * 2, 2000)) {
        try {
          await this.persist(e, prepareComplete(e.m, this.clock.now()));
          this.log.info({ transactionalId: m.transactionalId, tenant: m.tenant, producerId: m.producerId.toString(), epoch: m.producerEpoch, partitions: m.partitions.size, groups: m.groups.size, state: e.m.state }, 'transaction completed');
          return;
        } catch (err) {
          this.log.error({ err, transactionalId: m.transactionalId }, 'writing the completed transaction state failed; retrying');
          await new Promise((r) => setTimeout(r, backoff).unref());
        }
      }
    };
    e.completing = run()
      .catch((err: unknown) => this.log.error({ err, transactionalId: m.transactionalId }, 'transaction completion failed'))
      .finally(() => {
        e.completing = null;
      });
  }

  // ------------------------------------------------------------------ timeouts and expiry

  private scheduleSweep(): void {
    if (!this.active) return;
    this.sweepTimer = this.clock.schedule(this.config.abortTimedOutIntervalMs, () => {
      this.sweepRun = this.sweep()
        .then(() => undefined)
        .catch((err: unknown) => this.log.error({ err }, 'transaction timeout sweep failed'))
        .finally(() => {
          this.sweepRun = null;
          this.scheduleSweep();
        });
    });
  }

  /**
   * Abort Ongoing transactions past their timeout, fencing their producer with an
   * epoch bump (Kafka's abortTimedOutTransactions), and remove ids unused for
   * transactionalIdExpirationMs. Returns how many were aborted.
   */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    let aborted = 0;
    for (const e of [...this.ids.values()]) {
      if (e.pending || !this.stillOwner(e)) continue;
      if (isTimedOut(e.m, now)) {
        const next = fenceAndAbort(e.m, now);
        try {
          await this.persist(e, next);
        } catch (err) {
          this.log.error({ err, transactionalId: e.m.transactionalId }, 'could not abort a timed-out transaction');
          continue;
        }
        aborted++;
        this.log.info({ transactionalId: e.m.transactionalId, tenant: e.m.tenant, producerId: e.m.producerId.toString(), epoch: e.m.producerEpoch, timeoutMs: e.m.txnTimeoutMs }, 'transaction timed out: aborted, its producer fenced');
        this.complete(e);
      } else if (isExpired(e.m, now, this.config.transactionalIdExpirationMs) && e.completing === null) {
        try {
          e.pending = true;
          await this.store.remove(this.partitionOf(e.m), e.m.tenant, e.m.transactionalId);
          if (this.ids.get(mapKey(e.m)) === e) this.ids.delete(mapKey(e.m));
          e.m.state = 'Dead';
          this.log.info({ transactionalId: e.m.transactionalId, tenant: e.m.tenant }, 'transactional id expired and removed');
        } catch (err) {
          this.log.warn({ err, transactionalId: e.m.transactionalId }, 'could not remove an expired transactional id');
        } finally {
          e.pending = false;
        }
      }
    }
    return aborted;
  }

  // ------------------------------------------------------------------ admin

  describe(ref: TxnRef): TxnDescription {
    const none = (errorCode: number): TxnDescription => ({ errorCode, state: '', producerId: -1n, producerEpoch: -1, txnTimeoutMs: -1, txnStartTimestamp: -1, partitions: [] });
    const status = this.status(ref);
    if (status !== null) return none(status);
    const e = this.ids.get(mapKey(ref));
    if (!e || e.m.state === 'Dead') return none(ErrorCode.TRANSACTIONAL_ID_NOT_FOUND);
    if (verifyHome(e.m.home, ref.namespace) === 'moved') return none(this.movedHome(e.m, ref));
    const m = e.m;
    return { errorCode: ErrorCode.NONE, state: m.state, producerId: m.producerId, producerEpoch: m.producerEpoch, txnTimeoutMs: m.txnTimeoutMs, txnStartTimestamp: m.txnStartTimestamp, partitions: [...m.partitions.values()] };
  }

  /** The tenant's ids this node coordinates (filtered by the caller for permissions), Kafka's listTransactionStates filters. */
  list(tenant: string, states: TxnState[], producerIds: bigint[], minDurationMs: number): { errorCode: number; transactions: TxnOverview[] } {
    if (!this.active) return { errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, transactions: [] };
    if (this.loading.size > 0) return { errorCode: ErrorCode.COORDINATOR_LOAD_IN_PROGRESS, transactions: [] };
    const now = this.clock.now();
    const out: TxnOverview[] = [];
    for (const e of this.ids.values()) {
      const m = e.m;
      if (m.tenant !== tenant || m.state === 'Dead') continue;
      if (states.length > 0 && !states.includes(m.state)) continue;
      if (producerIds.length > 0 && !producerIds.includes(m.producerId)) continue;
      // Kafka's filter, whatever the state (an id without a transaction has start time -1: always long enough)
      if (minDurationMs >= 0 && now - m.txnStartTimestamp <= minDurationMs) continue;
      out.push({ transactionalId: m.transactionalId, home: m.home, producerId: m.producerId, state: m.state, txnStartTimestamp: m.txnStartTimestamp });
    }
    out.sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0));
    return { errorCode: ErrorCode.NONE, transactions: out };
  }

  /** The metadata held now (tests and diagnostics). */
  state(key: TxnKey): Readonly<TxnMetadata> | null {
    return this.ids.get(mapKey(key))?.m ?? null;
  }

  /** Wait for running completions (tests, shutdown). */
  async settled(): Promise<void> {
    for (;;) {
      const running = [...this.ids.values()].map((e) => e.completing).filter((c): c is Promise<void> => c !== null);
      if (running.length === 0) return;
      await Promise.allSettled(running);
    }
  }
}

/** The locator hashes group keys: a transactional id is placed as a group of that name would be. */
function groupKeyOf(k: TxnKey): { tenant: string; groupId: string } {
  return { tenant: k.tenant, groupId: k.transactionalId };
}

