/**
 * The state of one transactional id and its transitions: pure logic, no I/O,
 * following Kafka's TransactionMetadata / TransactionCoordinator (transaction
 * protocol version 1, the one every client speaks without KIP-890):
 *
 *   Empty ──AddPartitions──► Ongoing ──EndTxn(commit)──► PrepareCommit ──markers──► CompleteCommit
 *                              │   └──EndTxn(abort) / timeout / fence──► PrepareAbort ──markers──► CompleteAbort
 *   Complete* ──AddPartitions──► Ongoing;  Empty/Complete* ──InitProducerId──► Empty (epoch + 1)
 *   Dead: the id expired (transactionalIdExpirationMs) and is being removed.
 *
 * PrepareEpochFence is Kafka's transient state for "an InitProducerId (or a
 * timeout) found the transaction Ongoing": the epoch is bumped and the
 * transaction aborted with the new epoch in one step here (never stored).
 *
 * Each function checks a request against the metadata and returns either the
 * Kafka error the client gets or the next metadata to persist; the caller
 * (coordinator.ts) persists it and only then makes it current. `pending`
 * (a write in flight) answers CONCURRENT_TRANSACTIONS, as Kafka's
 * pendingTransitionInProgress does.
 */
import { ErrorCode } from '../../protocol/errors.js';

export type TxnState = 'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort' | 'PrepareEpochFence' | 'Dead';

export const TXN_STATES: readonly TxnState[] = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort', 'PrepareEpochFence', 'Dead'];

/** RecordBatch.NO_PRODUCER_EPOCH / NO_PRODUCER_ID */
export const NO_EPOCH = -1;
export const NO_PRODUCER_ID = -1n;
/** Short.MaxValue: an epoch that cannot be bumped further. */
export const MAX_EPOCH = 32767;

/** A partition of a transaction: resolved topic name + partition. */
export interface TxnPartition {
  topic: string;
  partition: number;
}

/** A consumer group whose offsets the transaction commits (AddOffsetsToTxn): its tenant-scoped id. */
export type TxnGroup = string;

export interface TxnMetadata {
  /** The tenant (ids of different tenants never collide). */
  readonly tenant: string;
  readonly transactionalId: string;
  /** The id's home namespace (src/coordinator/home.ts): fixed at first use. */
  readonly home: string;
  producerId: bigint;
  /** The producer id before the last rotation (epoch exhausted); -1 when none. */
  previousProducerId: bigint;
  producerEpoch: number;
  /** The epoch before the last bump by InitProducerId (a retry of that request gets the same answer). */
  lastProducerEpoch: number;
  txnTimeoutMs: number;
  state: TxnState;
  /** Partitions of the ongoing (or completing) transaction, by "topic\0partition". */
  partitions: Map<string, TxnPartition>;
  /** Groups whose offsets the transaction commits (AddOffsetsToTxn). */
  groups: Set<TxnGroup>;
  /** When the ongoing transaction started (its first AddPartitions/AddOffsets); -1 when none. */
  txnStartTimestamp: number;
  txnLastUpdateTimestamp: number;
}

export type Transition = { error: number } | { next: TxnMetadata };

export function partitionKey(p: TxnPartition): string {
  return `${p.topic}\u0000${p.partition}`;
}

export function copyMetadata(m: TxnMetadata): TxnMetadata {
  return { ...m, partitions: new Map(m.partitions), groups: new Set(m.groups) };
}

export function isEpochExhausted(epoch: number): boolean {
  // Kafka keeps one epoch in reserve so the coordinator can always fence (bump) once more.
  return epoch >= MAX_EPOCH - 1;
}

/** A new transactional id: a fresh producer id, no epoch yet, Empty. */
export function newMetadata(tenant: string, transactionalId: string, home: string, producerId: bigint, txnTimeoutMs: number, now: number): TxnMetadata {
  return {
    tenant,
    transactionalId,
    home,
    producerId,
    previousProducerId: NO_PRODUCER_ID,
    producerEpoch: NO_EPOCH,
    lastProducerEpoch: NO_EPOCH,
    txnTimeoutMs,
    state: 'Empty',
    partitions: new Map(),
    groups: new Set(),
    txnStartTimestamp: -1,
    txnLastUpdateTimestamp: now,
  };
}

export interface InitRequest {
  txnTimeoutMs: number;
  /** KIP-360/588: the producer id and epoch the client has (null when it has none). */
  expected: { producerId: bigint; epoch: number } | null;
  now: number;
  /** A fresh producer id, for when the epoch is exhausted (allocated by the caller beforehand). */
  freshProducerId: () => bigint;
}

export type InitTransition =
  | { error: number }
  /** Persist `next` and answer its producer id and epoch. */
  | { next: TxnMetadata }
  /** The transaction is Ongoing: abort it with a bumped epoch (`next`, PrepareAbort), answer CONCURRENT_TRANSACTIONS. */
  | { fence: TxnMetadata };

/** InitProducerId with a transactional id (Kafka's prepareInitProducerIdTransit). */
export function prepareInit(m: TxnMetadata, r: InitRequest): InitTransition {
  const expected = r.expected;
  if (expected !== null) {
    const valid =
      m.producerEpoch === NO_EPOCH || expected.producerId === m.producerId || (expected.producerId === m.previousProducerId && isEpochExhausted(expected.epoch));
    if (!valid) return { error: ErrorCode.PRODUCER_FENCED };
  }
  switch (m.state) {
    case 'PrepareAbort':
    case 'PrepareCommit':
    case 'PrepareEpochFence':
    case 'Dead':
      return { error: ErrorCode.CONCURRENT_TRANSACTIONS };
    case 'Ongoing':
      return { fence: fenceAndAbort(m, r.now) };
    case 'Empty':
    case 'CompleteAbort':
    case 'CompleteCommit': {
      if (isEpochExhausted(m.producerEpoch) && (expected === null || expected.epoch === m.producerEpoch)) {
        // Rotate: a new producer id at epoch 0.
        const next = copyMetadata(m);
        next.previousProducerId = expected !== null ? m.producerId : NO_PRODUCER_ID;
        next.producerId = r.freshProducerId();
        next.producerEpoch = 0;
        next.lastProducerEpoch = NO_EPOCH;
        return { next: toEmpty(next, r) };
      }
      const next = copyMetadata(m);
      if (expected === null) {
        next.producerEpoch = m.producerEpoch + 1;
        next.lastProducerEpoch = NO_EPOCH;
      } else if (m.producerEpoch === NO_EPOCH || expected.epoch === m.producerEpoch) {
        next.producerEpoch = m.producerEpoch + 1;
        next.lastProducerEpoch = m.producerEpoch;
      } else if (expected.epoch === m.lastProducerEpoch) {
        // A retry of the InitProducerId that made the current epoch: the same answer.
      } else {
        return { error: ErrorCode.PRODUCER_FENCED };
      }
      return { next: toEmpty(next, r) };
    }
  }
}

function toEmpty(next: TxnMetadata, r: InitRequest): TxnMetadata {
  next.txnTimeoutMs = r.txnTimeoutMs;
  next.state = 'Empty';
  next.partitions = new Map();
  next.groups = new Set();
  next.txnStartTimestamp = -1;
  next.txnLastUpdateTimestamp = r.now;
  return next;
}

/**
 * Kafka's prepareFenceProducerEpoch + abort: the Ongoing transaction is aborted
 * under a bumped epoch, so the producer that ran it is fenced (its next request
 * carries the old epoch). An exhausted epoch is not bumped (the abort still fences
 * nothing new; the next InitProducerId rotates the producer id).
 */
export function fenceAndAbort(m: TxnMetadata, now: number): TxnMetadata {
  const next = copyMetadata(m);
  if (m.producerEpoch < MAX_EPOCH) next.producerEpoch = m.producerEpoch + 1;
  next.lastProducerEpoch = NO_EPOCH;
  next.state = 'PrepareAbort';
  next.txnLastUpdateTimestamp = now;
  return next;
}

/** What AddPartitionsToTxn / AddOffsetsToTxn add. */
export interface AddRequest {
  producerId: bigint;
  producerEpoch: number;
  partitions: TxnPartition[];
  groups: TxnGroup[];
  now: number;
}

/**
 * Kafka's handleAddPartitionsToTransaction checks and prepareAddPartitions.
 * `{ error: NONE }`: already in the transaction, nothing to write.
 */
export function prepareAdd(m: TxnMetadata, r: AddRequest): Transition {
  if (m.producerId !== r.producerId) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
  if (m.producerEpoch !== r.producerEpoch) return { error: ErrorCode.PRODUCER_FENCED };
  if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort' || m.state === 'PrepareEpochFence' || m.state === 'Dead') return { error: ErrorCode.CONCURRENT_TRANSACTIONS };
  if (m.state === 'Ongoing' && r.partitions.every((p) => m.partitions.has(partitionKey(p))) && r.groups.every((g) => m.groups.has(g))) {
    return { error: ErrorCode.NONE };
  }
  const next = copyMetadata(m);
  if (m.state !== 'Ongoing') {
    next.partitions = new Map();
    next.groups = new Set();
    next.txnStartTimestamp = r.now;
  }
  for (const p of r.partitions) next.partitions.set(partitionKey(p), p);
  for (const g of r.groups) next.groups.add(g);
  next.state = 'Ongoing';
  next.txnLastUpdateTimestamp = r.now;
  return { next };
}

/** Partitions already in the ongoing transaction (AddPartitionsToTxn v4+ verify-only). */
export function verifyPartitions(m: TxnMetadata, producerId: bigint, producerEpoch: number, partitions: TxnPartition[]): { error: number } | { perPartition: number[] } {
  if (m.producerId !== producerId) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
  if (m.producerEpoch !== producerEpoch) return { error: ErrorCode.PRODUCER_FENCED };
  if (m.state === 'PrepareCommit' || m.state === 'PrepareAbort') return { error: ErrorCode.CONCURRENT_TRANSACTIONS };
  return { perPartition: partitions.map((p) => (m.state === 'Ongoing' && m.partitions.has(partitionKey(p)) ? ErrorCode.NONE : ErrorCode.TRANSACTION_ABORTABLE)) };
}

export interface EndRequest {
  producerId: bigint;
  producerEpoch: number;
  commit: boolean;
  now: number;
}

/**
 * EndTxn from a client (Kafka's endTransaction, isFromClient, TV1): strict epoch
 * equality; a retry of a completed end answers NONE, of one completing
 * CONCURRENT_TRANSACTIONS; the other result, or Empty, INVALID_TXN_STATE.
 * `{ error: NONE }`: nothing to write.
 */
export function prepareEnd(m: TxnMetadata, r: EndRequest): Transition {
  if (m.producerId !== r.producerId) return { error: ErrorCode.INVALID_PRODUCER_ID_MAPPING };
  if (r.producerEpoch !== m.producerEpoch) return { error: ErrorCode.PRODUCER_FENCED };
  switch (m.state) {
    case 'Ongoing': {
      const next = copyMetadata(m);
      next.state = r.commit ? 'PrepareCommit' : 'PrepareAbort';
      next.txnLastUpdateTimestamp = r.now;
      return { next };
    }
    case 'CompleteCommit':
      return { error: r.commit ? ErrorCode.NONE : ErrorCode.INVALID_TXN_STATE };
    case 'CompleteAbort':
      return { error: r.commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.NONE };
    case 'PrepareCommit':
      return { error: r.commit ? ErrorCode.CONCURRENT_TRANSACTIONS : ErrorCode.INVALID_TXN_STATE };
    case 'PrepareAbort':
      return { error: r.commit ? ErrorCode.INVALID_TXN_STATE : ErrorCode.CONCURRENT_TRANSACTIONS };
    case 'Empty':
      return { error: ErrorCode.INVALID_TXN_STATE };
    case 'PrepareEpochFence':
    case 'Dead':
      return { error: ErrorCode.CONCURRENT_TRANSACTIONS };
  }
}

/** The markers are written: PrepareX -> CompleteX, the partitions and groups cleared. */
export function prepareComplete(m: TxnMetadata, now: number): TxnMetadata {
  if (m.state !== 'PrepareCommit' && m.state !== 'PrepareAbort') throw new Error(`cannot complete a transaction in state ${m.state}`);
  const next = copyMetadata(m);
  next.state = m.state === 'PrepareCommit' ? 'CompleteCommit' : 'CompleteAbort';
  next.partitions = new Map();
  next.groups = new Set();
  next.txnLastUpdateTimestamp = now;
  return next;
}

/** An Ongoing transaction older than its timeout (Kafka's timedOutTransactions). */
export function isTimedOut(m: TxnMetadata, now: number): boolean {
  return m.state === 'Ongoing' && m.txnStartTimestamp >= 0 && m.txnStartTimestamp + m.txnTimeoutMs < now;
}

/** An id that may expire: no transaction open and unused for `expirationMs` (Kafka's transactional.id.expiration.ms). */
export function isExpired(m: TxnMetadata, now: number, expirationMs: number): boolean {
  return (m.state === 'Empty' || m.state === 'CompleteCommit' || m.state === 'CompleteAbort') && m.txnLastUpdateTimestamp + expirationMs <= now;
}
