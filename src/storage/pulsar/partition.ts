/**
 * One Kafka partition stored in one Pulsar topic partition (`...-partition-N`).
 *
 * Offsets are Pulsar's: the broker's AppendIndexMetadataInterceptor gives every
 * entry an index = the index of its last message (num_messages_in_batch of
 * them), so an entry of n Kafka records holds offsets index-n+1 .. index. The
 * broker is the single writer of offsets; several gateway nodes can append to
 * the same partition.
 *
 * A partition in use keeps a tail reader (a non-durable subscription) that
 * sees every entry appended by anyone, in order. It
 *   - gives the high watermark (last index + 1),
 *   - resolves appends: a SEND_RECEIPT has the entry's position but not its
 *     index, so an append completes when the tail has seen its position,
 *   - feeds the idempotent-producer state (pid/epoch/sequence travel as entry
 *     properties, in both entry formats),
 *   - keeps a bounded cache of the newest entries, from which most fetches
 *     (consumers near the end) are served without a Pulsar round trip.
 * Older offsets are read through catch-up readers positioned by the locator
 * (./locate.ts), kept open between fetches of the same consumer.
 */
import { ErrorCode } from '../../protocol/errors.js';
import {
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  baseSequence,
  isTransactional,
  lastOffsetDelta,
  lastSequence,
  maxTimestamp as readMaxTimestamp,
  producerEpoch,
  producerId as readProducerId,
  stampLogAppendTime,
} from '../../protocol/records/batch-header.js';
import type { Consumer, MessageId, Producer, PulsarClient, ReceivedEntry, SendReceipt } from '../../pulsar/client/types.js';
import type { KeyValue, MessageMetadata } from '../../pulsar/proto/index.js';
import { ProducerStateTable, type MarkerBatch, type ProducerBatch } from '../producer-state.js';
import {
  StorageError,
  type AbortedTransaction,
  type AppendResult,
  type PartitionOffsets,
  type ProducerStateView,
  type ReadOptions,
  type ReadResult,
  type TimestampLookup,
} from '../engine.js';
import type { TopicConfig } from '../topic-config.js';
import { assertValidated, type ValidatedBatch } from '../validated-batch.js';
import { decodeEntry, encodeEntry, entryRecordCount, type EntryFormat } from './entry-format.js';
import { toStorageError } from './errors.js';
import { Locator, type LocatedEntry } from './locate.js';
import type { EngineLogger } from '../logger.js';
import { forEachRecord, openRecords, readBatchHeader, recordTimestamp } from '../../protocol/records/records.js';

export const PROP_PRODUCER_ID = 'kafka.pid';
export const PROP_PRODUCER_EPOCH = 'kafka.epoch';
export const PROP_BASE_SEQUENCE = 'kafka.seq';
/** "1" on an entry holding a transactional data batch. */
export const PROP_TRANSACTIONAL = 'kafka.txn';
/** "COMMIT" or "ABORT" on an entry holding a transaction marker (Pulsar consumers skip entries that have it). */
export const PROP_TXN_MARKER = 'kafka.txn.marker';
/** The transaction coordinator's epoch, on marker entries. */
export const PROP_COORDINATOR_EPOCH = 'kafka.txn.coordinator-epoch';

export interface PartitionContext {
  client: PulsarClient;
  locator: Locator;
  format: EntryFormat;
  logger: EngineLogger;
  nodeId: number;
  /** Bytes of newest entries kept per partition. */
  cacheBytes: number;
  config(): TopicConfig;
  /** Log start set by DeleteRecords (kept in the engine's state), -1n when none. */
  deletedBefore(): bigint;
  operationTimeoutMs: number;
  /** Forward the Kafka principal to Pulsar (original_principal) on produce and catch-up reads. */
  forwardIdentity: boolean;
  /** Newest entries re-read when the partition opens (idempotent-producer state, cache). */
  rebuildEntries: bigint;
  /** The partition's saved producer-state snapshot (transactions), null when none. */
  loadProducerState(): Promise<Buffer | null>;
  saveProducerState(snapshot: Buffer): Promise<void>;
}

/** A partition with transaction state re-saves its producer-state snapshot when the log grew this much past it. */
const SNAPSHOT_EVERY_OFFSETS = 10_000n;
const SNAPSHOT_DELAY_MS = 1000;

function before(x: MessageId, y: MessageId): boolean {
  return x.ledgerId < y.ledgerId || (x.ledgerId === y.ledgerId && x.entryId < y.entryId);
}

interface CachedEntry {
  base: bigint;
  /** last offset + 1 */
  end: bigint;
  id: MessageId;
  metadata: MessageMetadata;
  payload: Buffer;
  /**
   * The entry as Kafka batch bytes at its offsets, made by the first read of a cached entry and
   * reused by later ones (other groups, re-reads); kafka format: the payload itself, patched in place.
   */
  batch?: Buffer;
}

/** Bytes a cached entry holds: its payload, and its converted batch when that is a buffer of its own. */
function cachedBytes(e: CachedEntry): number {
  return e.payload.length + (e.batch !== undefined && e.batch !== e.payload ? e.batch.length : 0);
}

/** Where an entry's offsets lie (no payload: kept for entries nobody waits for yet). */
interface EntrySpan {
  base: bigint;
  end: bigint;
}

interface Waiter {
  resolve(entry: EntrySpan): void;
  reject(e: Error): void;
}

function idKey(id: MessageId): string {
  return `${id.ledgerId}:${id.entryId}`;
}

/**
 * An entry is matched to the append that wrote it by (producer name, sequence
 * id), not by the receipt's position: a resend the broker's deduplication drops
 * gets a receipt without the original position, while the tail has seen the
 * original entry, which carries both.
 */
function sendKey(producerName: string, sequenceId: bigint): string {
  return `${producerName}\0${sequenceId}`;
}

function prop(meta: MessageMetadata, key: string): string | undefined {
  const ps = meta.properties;
  if (!ps) return undefined;
  for (const p of ps) if (p.key === key) return p.value;
  return undefined;
}

/** The idempotent-producer header of a data entry written by the gateway, if any (null for markers). */
function producerOf(e: CachedEntry): ProducerBatch | null {
  const pid = prop(e.metadata, PROP_PRODUCER_ID);
  if (pid === undefined || prop(e.metadata, PROP_TXN_MARKER) !== undefined) return null;
  const seq = Number(prop(e.metadata, PROP_BASE_SEQUENCE) ?? -1);
  const count = Number(e.end - e.base);
  let last = seq < 0 ? -1 : seq + count - 1;
  if (last > 0x7fffffff) last -= 0x80000000;
  return {
    producerId: BigInt(pid),
    epoch: Number(prop(e.metadata, PROP_PRODUCER_EPOCH) ?? 0),
    firstSeq: seq,
    lastSeq: last,
    transactional: prop(e.metadata, PROP_TRANSACTIONAL) === '1',
  };
}

/** The transaction marker an entry written by the gateway holds, if any. */
function markerOf(e: Pick<CachedEntry, 'metadata'>): MarkerBatch | null {
  const type = prop(e.metadata, PROP_TXN_MARKER);
  const pid = prop(e.metadata, PROP_PRODUCER_ID);
  if (type === undefined || pid === undefined) return null;
  return {
    producerId: BigInt(pid),
    epoch: Number(prop(e.metadata, PROP_PRODUCER_EPOCH) ?? 0),
    commit: type === 'COMMIT',
    coordinatorEpoch: Number(prop(e.metadata, PROP_COORDINATOR_EPOCH) ?? -1),
  };
}

interface CatchUpReader {
  consumer: Consumer;
  /** Kafka offset of the next entry it delivers */
  next: bigint;
  timer: NodeJS.Timeout | null;
  /** forwarded principal ('' = the gateway's own) */
  who: string;
  /** An entry received but not returned (it did not fit): the next read starts with it. */
  held: CachedEntry | null;
}

function readerKey(who: string, offset: bigint): string {
  return `${who}\0${offset}`;
}

const READER_IDLE_MS = 30_000;
/** How stale the log start offset may be (see logStart()). */
const LOG_START_TTL_MS = 10_000;
/** After a failed look at the log start, the next one after this long. */
const LOG_START_RETRY_MS = 1000;

/**
 * The tail reads on demand (its permits are granted by the partition, not by
 * the consumer). Eager (permits kept topped up, every entry delivered as it is
 * written, as a plain consumer) while something needs it: an append waiting
 * for its offsets, a fetch waiting for data (onAppend listeners), and for
 * EAGER_HOLD_MS after a read or offsets query or an entry written by someone
 * else (another node, a Pulsar producer). Otherwise lazy: the only writer
 * is this node, whose appends learn their offsets from their receipts, so the
 * tail collects this node's own entries once per LAZY_BATCH_MS in one read
 * (one permit more probes for the next entry, so an entry of another writer
 * still turns the tail eager at once). Reading back every own entry as it was
 * written cost the broker a cursor read and a dispatch per entry. Every
 * 200 ms, not every 20: at a steady 6,900 records/s (kafka format, 1 KiB) the
 * broker's CPU per record fell from 1.31-1.37x the native Pulsar producer's to
 * 0.94-1.30x, the gateway's by ~10%. Well inside the broker's cache eviction
 * threshold (1 s by default), so the read-back is served from its cache.
 */
const TAIL_PERMITS = 1000;
const EAGER_HOLD_MS = 1000;
const LAZY_BATCH_MS = 200;
/**
 * A catch-up reader's receive queue: up to 4 MiB of entries buffered or on their way (four of Kafka's
 * default max.partition.fetch.bytes), so a consumer reading a backlog gets full fetches without a
 * broker round trip in between; at most this many messages (small records). All catch-up readers of
 * the process share READERS_QUEUE_BYTES: with more than 32 open, each gets its share, not less than
 * READER_QUEUE_MIN_BYTES.
 */
const READER_QUEUE_BYTES = 4 << 20;
const READER_QUEUE_MIN_BYTES = 256 << 10;
const READERS_QUEUE_BYTES = 128 << 20;
const READER_QUEUE_MESSAGES = 20_000;

/** The catch-up readers' shared receive-queue budget (process-wide); each reader's bound follows their number. */
export class ReaderBudget {
  private readonly readers = new Set<Consumer>();
  private current = READER_QUEUE_BYTES;

  /** The bound of one reader when `count` are open. */
  static share(count: number): number {
    const even = Math.floor(READERS_QUEUE_BYTES / Math.max(1, count));
    return Math.max(READER_QUEUE_MIN_BYTES, Math.min(READER_QUEUE_BYTES, even));
  }

  /** The bound for a reader about to open. */
  next(): number {
    return ReaderBudget.share(this.readers.size + 1);
  }

  add(c: Consumer): void {
    this.readers.add(c);
    this.rebalance();
  }

  remove(c: Consumer): void {
    if (this.readers.delete(c)) this.rebalance();
  }

  private rebalance(): void {
    const s = ReaderBudget.share(this.readers.size);
    if (s === this.current) return;
    this.current = s;
    for (const r of this.readers) r.setReceiverQueueBytes(s);
  }
}

const readerBudget = new ReaderBudget();

export class PulsarPartition {
  private tail: Consumer | null = null;
  private hw = 0n;
  private cache: CachedEntry[] = [];
  private cacheSize = 0;
  /** by forwarded principal ('' = the gateway's own identity) */
  private readonly producerByPrincipal = new Map<string, Promise<Producer>>();
  private producers = new ProducerStateTable();
  /** Entries below this offset are in the loaded snapshot (not recorded again). */
  private snapshotOffset = -1n;
  private snapshotDirty = false;
  private snapshotTimer: NodeJS.Timeout | null = null;
  private snapshotSaving: Promise<void> = Promise.resolve();
  private readonly pendingIds = new Map<string, Waiter>();
  /** Entries the tail delivered before their SEND_RECEIPT arrived. */
  private readonly seenIds = new Map<string, EntrySpan>();
  private readonly inFlight = new Map<string, Promise<AppendResult>>();
  /** Idempotent producers' batches sent by this node and not yet confirmed by the tail. */
  private readonly pendingSeq = new Map<bigint, { epoch: number; lastSeq: number; count: number }>();
  /** ledgerId:entryId -> end offset (last + 1) of recent entries (tail and own appends). */
  private readonly endAt = new Map<string, bigint>();
  /** The highest end offset known (may briefly run ahead of the tail's hw). */
  private knownEnd = 0n;
  /** Resolves when the previous append call has issued its sends. */
  private issueChain: Promise<void> = Promise.resolve();
  private readonly hwListeners = new Set<() => void>();
  private readonly readers = new Map<string, CatchUpReader>();
  /** The tail stays eager until this time (Date.now() ms). */
  private eagerUntil = 0;
  private lazyTimer: NodeJS.Timeout | null = null;
  /** Names of this partition's producers (entries of other producers turn the tail eager). */
  private readonly ownProducerNames = new Set<string>();
  private closed = false;
  private failure: StorageError | null = null;
  readonly ready: Promise<void>;
  lastUsed = Date.now();

  constructor(
    readonly name: string,
    readonly label: string,
    private readonly ctx: PartitionContext,
  ) {
    this.ready = this.open();
    this.ready.catch(() => undefined);
  }

  // ---------------------------------------------------------------- tail

  private async open(): Promise<void> {
    const { client } = this.ctx;
    const last = await client.getLastMessageId(this.name).catch((e: unknown) => {
      throw toStorageError(e, `${this.label}: last message id`);
    });
    let start: MessageId | undefined;
    const rebuild = this.ctx.rebuildEntries > 0n ? this.ctx.rebuildEntries : 1n;
    if (last.entryId >= 0n) start = { ledgerId: last.ledgerId, entryId: last.entryId >= rebuild ? last.entryId - rebuild + 1n : 0n };
    // Transactions: the saved producer-state snapshot (open transactions, aborted index) plus a replay from its offset
    const saved = await this.ctx.loadProducerState().catch((err: unknown) => {
      this.ctx.logger.warn({ err, partition: this.label }, 'could not load the producer-state snapshot');
      return null;
    });
    const snap = saved ? ProducerStateTable.deserialize(saved) : null;
    if (saved && !snap) this.ctx.logger.warn({ partition: this.label }, 'producer-state snapshot unusable: rebuilt from the newest entries only');
    if (snap) {
      this.producers = snap.table;
      this.snapshotOffset = snap.offset;
      if (last.entryId >= 0n) {
        const at = await this.ctx.locator.locate(this.name, snap.offset).catch(() => null);
        if (at && (start === undefined || before(at.id, start))) start = at.id;
      }
    }
    this.tail = await client
      .subscribe({
        topic: this.name,
        subscription: `kop-tail-${this.ctx.nodeId}-${Math.random().toString(36).slice(2, 10)}`,
        subscriptionType: 'Exclusive',
        durable: false,
        initialPosition: 'Earliest',
        ...(start ? { startMessageId: start, startInclusive: true } : {}),
        receiverQueueSize: 0, // permits granted by topUpTail()
      })
      .catch((e: unknown) => {
        throw toStorageError(e, `${this.label}: tail reader`);
      });
    this.demandTail();
    if (last.entryId >= 0n) {
      // caught up once the last entry known at open has arrived
      while (!this.closed) {
        const e = await this.tail.receive(this.ctx.operationTimeoutMs);
        if (e === null) throw new StorageError(ErrorCode.REQUEST_TIMED_OUT, `${this.label}: tail reader did not reach ${idKey(last)}`);
        this.onEntry(e);
        if (e.messageId.ledgerId === last.ledgerId && e.messageId.entryId === last.entryId) break;
        if (e.messageId.ledgerId > last.ledgerId || (e.messageId.ledgerId === last.ledgerId && e.messageId.entryId > last.entryId)) break;
      }
    }
    this.refreshLogStart().catch(() => undefined); // the first append's answer needs it (logged if it fails)
    void this.pump();
  }

  private async pump(): Promise<void> {
    const tail = this.tail!;
    while (!this.closed) {
      let e: ReceivedEntry | null;
      try {
        e = await tail.receive(60_000);
      } catch (err) {
        if (this.closed) return;
        this.ctx.logger.warn({ err, partition: this.label }, 'tail reader failed; partition will reopen');
        this.fail(toStorageError(err, `${this.label}: tail reader`));
        return;
      }
      if (e !== null) this.onEntry(e);
    }
  }

  private onEntry(e: ReceivedEntry): void {
    const index = e.brokerEntryMetadata?.index;
    if (index === undefined) {
      this.fail(
        new StorageError(
          ErrorCode.KAFKA_STORAGE_ERROR,
          `${this.label}: entry ${idKey(e.messageId)} has no broker entry index: the broker needs brokerEntryMetadataInterceptors=org.apache.pulsar.common.intercept.AppendIndexMetadataInterceptor`,
        ),
      );
      return;
    }
    const count = BigInt(entryRecordCount(e.metadata));
    if (!this.ownProducerNames.has(e.metadata.producerName)) this.eagerUntil = Date.now() + EAGER_HOLD_MS; // another writer: stay current
    const entry: CachedEntry = { base: index - count + 1n, end: index + 1n, id: e.messageId, metadata: e.metadata, payload: e.payload };
    if (entry.end <= this.hw) {
      this.topUpTail();
      return; // already seen (a resubscribed reader repeating itself)
    }
    this.hw = entry.end;
    // an entry whose offsets an append of this node learned from its receipt (nobody waits for it)
    const resolvedByReceipt = this.endAt.has(idKey(e.messageId));
    this.notePosition(e.messageId, entry.end);
    if (entry.end > this.snapshotOffset) this.recordEntry(entry, BigInt(e.metadata.publishTime));
    this.cache.push(entry);
    this.cacheSize += entry.payload.length;
    if (this.cacheSize > this.ctx.cacheBytes) this.evict();
    this.ctx.locator.remember(this.name, { id: entry.id, base: entry.base, end: entry.end, publishTime: e.metadata.publishTime });
    const key = sendKey(e.metadata.producerName, e.metadata.sequenceId);
    const w = this.pendingIds.get(key);
    if (w) {
      this.pendingIds.delete(key);
      w.resolve(entry);
    } else if (this.producerByPrincipal.size > 0 && !resolvedByReceipt) {
      this.seenIds.set(key, { base: entry.base, end: entry.end });
      if (this.seenIds.size > 10_000) this.seenIds.delete(this.seenIds.keys().next().value!);
    }
    for (const l of this.hwListeners) l();
    this.topUpTail();
  }

  /** Something needs the tail current: make it eager for a while. */
  private demandTail(): void {
    this.eagerUntil = Date.now() + EAGER_HOLD_MS;
    this.topUpTail();
  }

  private tailEager(): boolean {
    return this.hwListeners.size > 0 || this.pendingIds.size > 0 || Date.now() < this.eagerUntil;
  }

  /** Grant the tail permits so that the broker holds `target` of them (the consumer counts them as the broker does, across reconnections). */
  private grantTail(target: number): void {
    if (!this.tail || this.closed) return;
    const n = target - this.tail.permits;
    if (n > 0) this.tail.flow(n);
  }

  /** Eager: keep permits topped up. Lazy: when the permits are spent, collect what this node wrote since in one read, a moment later. */
  private topUpTail(): void {
    if (!this.tail || this.closed || this.failure) return;
    if (this.tailEager()) {
      if (this.tail.permits < TAIL_PERMITS / 2) this.grantTail(TAIL_PERMITS);
      return;
    }
    if (this.tail.permits > 0 || this.lazyTimer !== null) return;
    this.lazyTimer = setTimeout(() => {
      this.lazyTimer = null;
      if (this.tailEager()) return this.topUpTail();
      if (!this.tail || this.tail.permits > 0) return;
      const backlog = this.knownEnd - this.hw;
      // this node's entries not yet read back, plus one: the next entry anyone writes arrives at once
      this.grantTail(1 + (backlog > 0n ? Number(backlog < 100_000n ? backlog : 100_000n) : 0));
    }, LAZY_BATCH_MS);
    this.lazyTimer.unref();
  }

  /** The producer state of one entry the tail delivered (data batches, and markers: those only here, in log order, once). */
  private recordEntry(entry: CachedEntry, publishTime: bigint): void {
    const pb = producerOf(entry);
    if (pb !== null) {
      this.recordProducer(pb, entry.base, entry.end - 1n, BigInt(prop(entry.metadata, 'kafka.maxts') ?? '-1'));
      if (pb.transactional) this.snapshotSoon();
    } else {
      const m = markerOf(entry);
      if (m === null) return;
      this.producers.recordMarker(m, entry.base, publishTime);
      this.snapshotSoon();
    }
    if (this.hw - this.snapshotOffset > SNAPSHOT_EVERY_OFFSETS && (this.producers.openTransactions > 0 || this.producers.abortedIndex().length > 0)) this.snapshotSoon();
  }

  /** Save the producer-state snapshot shortly (coalesced): a later open replays only from its offset. */
  private snapshotSoon(): void {
    this.snapshotDirty = true;
    if (this.snapshotTimer || this.closed) return;
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      void this.saveSnapshot();
    }, SNAPSHOT_DELAY_MS);
    this.snapshotTimer.unref();
  }

  private saveSnapshot(): Promise<void> {
    const next = this.snapshotSaving.then(async () => {
      if (!this.snapshotDirty || this.failure) return;
      this.snapshotDirty = false;
      const offset = this.hw;
      try {
        await this.ctx.saveProducerState(this.producers.serialize(offset));
        this.snapshotOffset = offset > this.snapshotOffset ? offset : this.snapshotOffset;
      } catch (err) {
        this.snapshotDirty = true;
        this.ctx.logger.warn({ err, partition: this.label }, 'could not save the producer-state snapshot');
      }
    });
    this.snapshotSaving = next;
    return next;
  }

  /** Drop the oldest cached entries down to 3/4 of the budget: one splice per quarter turnover, not a shift per entry. */
  private evict(): void {
    const target = (this.ctx.cacheBytes * 3) / 4;
    let n = 0;
    let size = this.cacheSize;
    while (n < this.cache.length - 1 && size > target) size -= cachedBytes(this.cache[n++]!);
    this.cache.splice(0, n);
    this.cacheSize = size;
  }

  private fail(e: StorageError): void {
    if (this.failure) return;
    this.failure = e;
    // a close (shutdown, topic deleted, partition unloaded) is not a failure to report; anything else is
    if (!this.closed) this.ctx.logger.error({ partition: this.label, err: e.message }, 'partition failed');
    for (const w of this.pendingIds.values()) w.reject(e);
    this.pendingIds.clear();
    for (const l of this.hwListeners) l();
  }

  get failed(): StorageError | null {
    return this.failure;
  }

  /** Wait for the tail to deliver the entry a producer sent with `sequenceId`; resolves with it (and so its offsets). */
  private awaitTail(producerName: string, sequenceId: bigint): Promise<EntrySpan> {
    const key = sendKey(producerName, sequenceId);
    const seen = this.seenIds.get(key);
    if (seen) {
      this.seenIds.delete(key);
      return Promise.resolve(seen);
    }
    if (this.failure) return Promise.reject(this.failure);
    const p = new Promise<EntrySpan>((resolve, reject) => {
      // bounded: a tail that stops delivering (whatever the cause) must not hold appends, and the Kafka
      // retries that join them, for good; the partition fails and reopens, rebuilding its producer
      // state from the log, so a retried idempotent batch is recognised as written
      const ms = this.ctx.operationTimeoutMs;
      const timer = setTimeout(() => {
        if (this.pendingIds.get(key) !== w) return;
        const t = this.tail;
        this.ctx.logger.warn(
          { partition: this.label, producer: producerName, sequenceId: String(sequenceId), tailConnected: t?.connected, tailPermits: t?.permits, highWatermark: String(this.hw), knownEnd: String(this.knownEnd), waiting: this.pendingIds.size },
          'the tail reader did not deliver an appended entry: the partition reopens',
        );
        this.fail(new StorageError(ErrorCode.REQUEST_TIMED_OUT, `${this.label}: the tail reader did not deliver the appended entry within ${ms} ms`));
      }, ms);
      timer.unref();
      const w: Waiter = {
        resolve: (e) => {
          clearTimeout(timer);
          resolve(e);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      this.pendingIds.set(key, w);
    });
    this.demandTail();
    return p;
  }

  // ---------------------------------------------------------------- append

  private identity(principal: string | null | undefined): string {
    return this.ctx.forwardIdentity && principal ? principal : '';
  }

  private getProducer(principal: string): Promise<Producer> {
    let p = this.producerByPrincipal.get(principal);
    if (!p) {
      p = this.ctx.client
        .createProducer({
          topic: this.name,
          producerName: `kop-gateway-${this.ctx.nodeId}-${Math.random().toString(36).slice(2, 10)}`,
          accessMode: 'Shared',
          ...(principal ? { originalIdentity: { principal } } : {}),
        })
        .catch((e: unknown) => {
          this.producerByPrincipal.delete(principal);
          throw toStorageError(e, `${this.label}: producer${principal ? ` for ${principal}` : ''}`);
        });
      this.producerByPrincipal.set(principal, p);
      void p.then((pr) => this.ownProducerNames.add(pr.producerName), () => undefined);
    }
    return p;
  }

  /**
   * Append a validated batch (one Pulsar entry). Takes ownership of its bytes.
   * Appends are sent to Pulsar in the order of the calls (a pipelining
   * connection can have several in flight), each resolving when the tail has
   * seen its entry.
   */
  append(batch: ValidatedBatch, acks: number, nowMs: bigint, principal?: string | null): Promise<AppendResult> {
    try {
      assertValidated(batch);
    } catch (e) {
      return Promise.reject(e);
    }
    const prev = this.issueChain;
    let issued!: () => void;
    this.issueChain = new Promise<void>((r) => (issued = r));
    return this.appendInOrder(prev, issued, batch, acks, nowMs, this.identity(principal));
  }

  private async appendInOrder(prev: Promise<void>, issued: () => void, batch: ValidatedBatch, acks: number, nowMs: bigint, who: string): Promise<AppendResult> {
    let result: Promise<AppendResult>;
    try {
      await prev;
      await this.ready;
      if (this.failure) throw this.failure;
      this.lastUsed = Date.now();
      const producer = await this.getProducer(who);
      // framing, CRC, records, max.message.bytes: checked once by the validator
      const logAppendTime = this.ctx.config().timestampType === 'LogAppendTime';
      if (logAppendTime) stampLogAppendTime(batch.buf, nowMs, 0);
      result = this.appendBatch(batch, acks, logAppendTime ? nowMs : -1n, producer);
    } finally {
      issued();
    }
    const first = await result;
    // the records are written: an unknown log start (-1, as Kafka has it) must not fail the append
    return { ...first, logStartOffset: await this.logStart().catch(() => -1n) };
  }

  /** Idempotence checks, then the send (issued synchronously, so calls keep their order). */
  private appendBatch(validated: ValidatedBatch, acks: number, logAppendTime: bigint, producer: Producer): Promise<AppendResult> {
    const batch = validated.buf;
    const pid = readProducerId(batch, 0);
    if (pid < 0n) return this.send(validated, acks, logAppendTime, null, producer);
    const pb: ProducerBatch = {
      producerId: pid,
      epoch: producerEpoch(batch, 0),
      firstSeq: baseSequence(batch, 0),
      lastSeq: lastSequence(batch, 0),
      transactional: isTransactional(batch, 0),
    };
    const key = `${pb.producerId}:${pb.epoch}:${pb.firstSeq}:${pb.lastSeq}`;
    const running = this.inFlight.get(key);
    if (running) return running.then((r) => ({ ...r, duplicate: true })); // a retry of a batch still being written
    const verdict = this.checkSequence(pb);
    if (verdict.result === 'duplicate') {
      return Promise.resolve({ baseOffset: verdict.firstOffset, logAppendTime, logStartOffset: -1n, duplicate: true });
    }
    if (verdict.result === 'error') return Promise.reject(new StorageError(verdict.code, verdict.message));
    const pending = this.pendingSeq.get(pid);
    this.pendingSeq.set(pid, { epoch: pb.epoch, lastSeq: pb.lastSeq, count: (pending && pending.epoch === pb.epoch ? pending.count : 0) + 1 });
    const p = this.send(validated, acks, logAppendTime, pb, producer).then(
      (r) => {
        const now = this.pendingSeq.get(pid);
        if (now && --now.count <= 0) this.pendingSeq.delete(pid);
        return r;
      },
      (e: unknown) => {
        this.pendingSeq.delete(pid); // later in-flight batches of this producer fail their sequence check, as in Kafka
        throw e;
      },
    );
    const tracked = p.finally(() => this.inFlight.delete(key));
    this.inFlight.set(key, tracked);
    return tracked;
  }

  /**
   * Kafka's sequence rules against the state the tail confirmed, extended by
   * the batches this node has sent and not yet seen come back (pipelined).
   */
  private checkSequence(pb: ProducerBatch): ReturnType<ProducerStateTable['check']> {
    const confirmed = this.producers.check(pb, this.label);
    if (confirmed.result === 'duplicate') return confirmed;
    const pending = this.pendingSeq.get(pb.producerId);
    if (pending === undefined || pb.firstSeq < 0) return confirmed;
    if (pb.epoch < pending.epoch) {
      return { result: 'error', code: ErrorCode.INVALID_PRODUCER_EPOCH, message: `producer ${pb.producerId} epoch ${pb.epoch} is older than the current epoch ${pending.epoch} in ${this.label}` };
    }
    if (pb.epoch > pending.epoch) {
      return pb.firstSeq === 0
        ? { result: 'ok' }
        : { result: 'error', code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `producer ${pb.producerId} new epoch ${pb.epoch} must start at sequence 0 in ${this.label}` };
    }
    const expected = pending.lastSeq === 0x7fffffff ? 0 : pending.lastSeq + 1;
    return pb.firstSeq === expected
      ? { result: 'ok' }
      : { result: 'error', code: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER, message: `producer ${pb.producerId} epoch ${pb.epoch}: out of order sequence ${pb.firstSeq}, expected ${expected} in ${this.label}` };
  }

  private send(validated: ValidatedBatch, acks: number, logAppendTime: bigint, pb: ProducerBatch | null, producer: Producer, marker: MarkerBatch | null = null): Promise<AppendResult> {
    const batch = validated.buf;
    let sent: Promise<SendReceipt>;
    try {
      const encoded = encodeEntry(this.ctx.format, batch, { records: validated.decompressed });
      const properties: KeyValue[] = [...(encoded.metadata.properties ?? [])];
      if (pb !== null) {
        properties.push(
          { key: PROP_PRODUCER_ID, value: String(pb.producerId) },
          { key: PROP_PRODUCER_EPOCH, value: String(pb.epoch) },
          { key: PROP_BASE_SEQUENCE, value: String(pb.firstSeq) },
          { key: 'kafka.maxts', value: String(readMaxTimestamp(batch, 0)) },
        );
        if (pb.transactional) properties.push({ key: PROP_TRANSACTIONAL, value: '1' });
      } else if (marker !== null) {
        properties.push(
          { key: PROP_PRODUCER_ID, value: String(marker.producerId) },
          { key: PROP_PRODUCER_EPOCH, value: String(marker.epoch) },
          { key: PROP_TXN_MARKER, value: marker.commit ? 'COMMIT' : 'ABORT' },
          { key: PROP_COORDINATOR_EPOCH, value: String(marker.coordinatorEpoch) },
        );
      }
      const metadata: Partial<MessageMetadata> = { ...encoded.metadata, properties, numMessagesInBatch: lastOffsetDelta(batch, 0) + 1 };
      sent = producer.send({ metadata, payload: encoded.payload });
    } catch (e) {
      return Promise.reject(toStorageError(e, `${this.label}: append`));
    }
    if (acks === 0) {
      sent.catch((e: unknown) => this.ctx.logger.warn({ err: e, partition: this.label }, 'acks=0 append failed'));
      return Promise.resolve({ baseOffset: -1n, logAppendTime, logStartOffset: -1n, duplicate: false });
    }
    const count = BigInt(lastOffsetDelta(batch, 0) + 1);
    return sent.then(
      async (receipt) => {
        // Entries of a ledger are consecutive in the index: when the entry before ours is known
        // (seen by the tail, or an earlier append of ours), our offsets follow from it at once.
        const { ledgerId, entryId } = receipt.messageId;
        const before = entryId > 0n ? this.endAt.get(`${ledgerId}:${entryId - 1n}`) : undefined;
        let base: bigint;
        if (before !== undefined) {
          base = before;
          this.notePosition(receipt.messageId, before + count);
          this.topUpTail(); // lazy: the tail collects this entry with the next batch
        } else {
          base = (await this.awaitTail(producer.producerName, receipt.sequenceId)).base;
        }
        if (pb !== null) this.recordProducer(pb, base, base + count - 1n, readMaxTimestamp(batch, 0));
        return { baseOffset: base, logAppendTime, logStartOffset: -1n, duplicate: false };
      },
      (e: unknown) => {
        const err = toStorageError(e, `${this.label}: append`);
        // A send that timed out may still be in the log (written, its receipt lost: a broker that went
        // away mid-send). The partition's view (high watermark, producer state) cannot tell, and an
        // idempotent producer's retry checked against it would be written a second time if the tail
        // has not read the first one back yet (after an outage it reconnects first). So the partition
        // fails: its next use reopens it from the log, which holds the entry or not.
        if (err.code === ErrorCode.REQUEST_TIMED_OUT) this.fail(err);
        throw err;
      },
    );
  }

  /** Record an idempotent batch once (its append and the tail both report it, in either order). */
  private recordProducer(pb: ProducerBatch, first: bigint, last: bigint, maxTs: bigint): void {
    this.producers.recordIfNewer(pb, first, last, maxTs);
  }

  /** Remember where an entry's offsets end (bounded: the newest positions only). */
  private notePosition(id: MessageId, end: bigint): void {
    this.endAt.set(idKey(id), end);
    if (end > this.knownEnd) this.knownEnd = end;
    if (this.endAt.size > 20_000) {
      const oldest = this.endAt.keys().next().value!;
      this.endAt.delete(oldest);
    }
  }

  /**
   * Appends acknowledged from positions can run ahead of the tail for a moment:
   * wait (briefly) until the tail has delivered them, so offsets and reads see
   * every acknowledged record.
   */
  private async caughtUp(): Promise<void> {
    this.demandTail(); // readers and offset queries keep the tail eager (entries of other writers seen as written)
    if (this.hw >= this.knownEnd || this.failure) return;
    const target = this.knownEnd;
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        resolve();
      };
      const timer = setTimeout(done, this.ctx.operationTimeoutMs);
      const off = this.onAppend(() => {
        if (this.hw >= target || this.failure) done();
      });
    });
  }

  /**
   * From the newest-entry cache: the position of the entry holding `offset`, or
   * the position after the last entry when offset is the high watermark; null
   * when the cache cannot tell.
   */
  positionOf(offset: bigint): MessageId | null {
    const c = this.cache;
    const last = c[c.length - 1];
    if (!last || c[0]!.base > offset) return null;
    if (offset >= this.hw) return offset === this.hw ? { ledgerId: last.id.ledgerId, entryId: last.id.entryId + 1n } : null;
    return c[this.cacheIndex(offset)]!.id;
  }

  // ---------------------------------------------------------------- offsets

  private logStartCache: { value: bigint; at: number } | null = null;
  private logStartRefresh: Promise<void> | null = null;
  /** The last look at the log start failed (only the first failure of a run of them is logged). */
  private logStartFailing = false;

  /**
   * The first stored offset (Pulsar's retention frees whole ledgers), known
   * within LOG_START_TTL_MS: the first call waits for it (the partition's open
   * starts that look, so the first append rarely does); afterwards a stale
   * value is answered while one refresh runs in the background (internal stats
   * and a one-entry read: not a cost every append should wait for, nor repeat
   * once per concurrent call). A failed look never invents a value: the known
   * one stays (looked at again after LOG_START_RETRY_MS), and with none known
   * the call fails with the look's (retriable) error.
   */
  async logStart(): Promise<bigint> {
    const deleted = this.ctx.deletedBefore();
    if (this.logStartCache === null) await this.refreshLogStart();
    else if (Date.now() - this.logStartCache.at > LOG_START_TTL_MS) this.refreshLogStart().catch(() => undefined);
    let ls = this.logStartCache!.value;
    if (deleted > ls) ls = deleted;
    return ls > this.hw ? this.hw : ls;
  }

  private refreshLogStart(): Promise<void> {
    this.logStartRefresh ??= (async () => {
      try {
        const at = Date.now();
        // no entry stored: nothing below the high watermark as of now is left; as of when the look
        // answers could be too late (an append and the tail may have moved it past new entries meanwhile)
        const hwBefore = this.hw;
        const first = await this.ctx.locator.first(this.name);
        this.logStartCache = { value: first ? first.base : hwBefore, at };
        if (this.logStartFailing) this.ctx.logger.info({ partition: this.label }, 'the log start offset is readable again');
        this.logStartFailing = false;
      } catch (e) {
        const known = this.logStartCache;
        // once per outage (a look is retried every second per partition in use), then when it reads again
        if (!this.logStartFailing) this.ctx.logger.warn({ err: e, partition: this.label, kept: known ? String(known.value) : null }, 'could not read the log start offset; retrying every second');
        this.logStartFailing = true;
        if (known) known.at = Date.now() - LOG_START_TTL_MS + LOG_START_RETRY_MS;
        throw toStorageError(e, `${this.label}: log start offset`);
      } finally {
        this.logStartRefresh = null;
      }
    })();
    return this.logStartRefresh;
  }

  async offsets(): Promise<PartitionOffsets> {
    await this.ready;
    await this.caughtUp();
    if (this.failure) throw this.failure;
    this.lastUsed = Date.now();
    return { logStartOffset: await this.logStart(), highWatermark: this.hw, lastStableOffset: this.producers.lastStableOffset(this.hw) };
  }

  get highWatermark(): bigint {
    return this.hw;
  }

  /** Kafka's last stable offset, from the producer state the tail keeps. */
  get lastStableOffset(): bigint {
    return this.producers.lastStableOffset(this.hw);
  }

  /** Active producers (DescribeProducers), as the tail has seen them. */
  async describeProducers(): Promise<ProducerStateView[]> {
    await this.ready;
    await this.caughtUp();
    if (this.failure) throw this.failure;
    return this.producers.describe();
  }

  /**
   * Append a COMMIT/ABORT marker entry (fenced against the producer state the
   * tail confirmed), in order with the partition's appends; resolves once the
   * tail has seen it, so the last stable offset has moved when it returns.
   */
  appendMarker(batch: ValidatedBatch, marker: MarkerBatch, principal?: string | null): Promise<{ offset: bigint }> {
    const prev = this.issueChain;
    let issued!: () => void;
    this.issueChain = new Promise<void>((r) => (issued = r));
    return (async () => {
      let sent: Promise<AppendResult>;
      try {
        await prev;
        await this.ready;
        if (this.failure) throw this.failure;
        await this.caughtUp(); // fence against everything acknowledged so far
        const verdict = this.producers.checkMarker(marker, this.label);
        if (verdict.result === 'error') throw new StorageError(verdict.code, verdict.message);
        this.lastUsed = Date.now();
        const producer = await this.getProducer(this.identity(principal));
        sent = this.send(batch, -1, -1n, null, producer, marker);
      } finally {
        issued();
      }
      const r = await sent;
      await this.tailPast(r.baseOffset);
      return { offset: r.baseOffset };
    })();
  }

  /** Wait until the tail has delivered the entry at `offset` (it records markers). */
  private async tailPast(offset: bigint): Promise<void> {
    if (this.hw > offset) return;
    await new Promise<void>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        off();
        if (this.hw > offset) resolve();
        else reject(this.failure ?? new StorageError(ErrorCode.REQUEST_TIMED_OUT, `${this.label}: the tail did not reach the marker at ${offset}`));
      };
      const timer = setTimeout(done, this.ctx.operationTimeoutMs);
      const off = this.onAppend(() => {
        if (this.hw > offset || this.failure) done();
      });
    });
  }

  onAppend(fn: () => void): () => void {
    this.hwListeners.add(fn);
    this.demandTail(); // someone waits for the high watermark: deliver entries as they are written
    return () => this.hwListeners.delete(fn);
  }

  // ---------------------------------------------------------------- read

  async read(fetchOffset: bigint, options: ReadOptions): Promise<ReadResult> {
    await this.ready;
    await this.caughtUp(); // the high watermark of a read covers every acknowledged append (read your writes)
    if (this.failure) throw this.failure;
    this.lastUsed = Date.now();
    const logStartOffset = await this.logStart();
    const hw = this.hw;
    const lso = this.producers.lastStableOffset(hw);
    const committed = options.isolation === 'read_committed';
    const base = { logStartOffset, highWatermark: hw, lastStableOffset: lso };
    if (fetchOffset < logStartOffset || fetchOffset > hw) {
      throw new StorageError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${fetchOffset} is outside [${logStartOffset}, ${hw}] of ${this.label}`);
    }
    const upper = committed ? lso : hw;
    const max = options.maxOffset !== undefined && options.maxOffset < upper ? options.maxOffset : upper;
    const result = (records: Buffer[], bytes: number): ReadResult => {
      const r: ReadResult = { ...base, records, bytes };
      if (committed) r.abortedTransactions = this.abortedIn(fetchOffset, records);
      return r;
    };
    if (fetchOffset >= max) return result([], 0);
    const records: Buffer[] = [];
    let bytes = 0;
    /** 'no': not taken (beyond max or too big); 'more': taken, room left; 'full': taken, no room left. */
    const take = async (e: CachedEntry, cached: boolean): Promise<'no' | 'more' | 'full'> => {
      if (e.base >= max) return 'no';
      if (records.length > 0 || !options.minOneMessage) {
        if (bytes + (e.batch ?? e.payload).length > options.maxBytes) return 'no';
      }
      const b = e.batch ?? (cached ? await this.batchOf(e) : await decodeEntry(e.metadata, e.payload, e.base));
      records.push(b);
      bytes += b.length;
      return bytes < options.maxBytes ? 'more' : 'full';
    };
    const c = this.cache;
    if (c.length > 0 && c[0]!.base <= fetchOffset) {
      // each next entry found by offset: the cache may evict from its front while a read awaits
      let next = fetchOffset;
      for (;;) {
        const now = this.cache;
        if (now.length === 0 || now[0]!.base > next) break;
        const e = now[this.cacheIndex(next)]!;
        if (e.end <= next || (await take(e, true)) !== 'more') break;
        next = e.end;
      }
      return result(records, bytes);
    }
    // older than the cache: a catch-up reader
    const who = this.identity(options.principal);
    const r = await this.readerAt(fetchOffset, who);
    try {
      let wait = this.ctx.operationTimeoutMs;
      for (;;) {
        // an entry received by the previous read but not returned then comes first
        let entry = r.held;
        r.held = null;
        if (entry === null) {
          const e = await r.consumer.receive(wait);
          if (e === null) break;
          const idx = e.brokerEntryMetadata?.index;
          if (idx === undefined) throw new StorageError(ErrorCode.KAFKA_STORAGE_ERROR, `${this.label}: entry without broker entry index`);
          const n = BigInt(entryRecordCount(e.metadata));
          entry = { base: idx - n + 1n, end: idx + 1n, id: e.messageId, metadata: e.metadata, payload: e.payload };
        }
        if (entry.end <= fetchOffset) {
          r.next = entry.end;
          continue; // before the wanted offset (the located entry precedes it)
        }
        const took = await take(entry, false);
        if (took === 'no') {
          r.held = entry; // keep it for the next fetch, which starts at it
          r.next = entry.base;
          break;
        }
        r.next = entry.end;
        if (took === 'full' || r.next >= max) break;
        wait = 0; // only what is buffered already
        if (r.consumer.buffered === 0) break;
      }
    } catch (e) {
      await this.dropReader(r);
      throw toStorageError(e, `${this.label}: read`);
    }
    this.parkReader(r);
    return result(records, bytes);
  }

  /** A cached entry's Kafka batch, converted once (counted in the cache's size while the entry is cached). */
  private async batchOf(e: CachedEntry): Promise<Buffer> {
    if (e.batch !== undefined) return e.batch;
    const b = await decodeEntry(e.metadata, e.payload, e.base);
    if (e.batch === undefined) {
      e.batch = b;
      const first = this.cache[0];
      // still cached (entries leave from the front): its size now includes the batch
      if (b !== e.payload && first !== undefined && first.base <= e.base) {
        this.cacheSize += b.length;
        if (this.cacheSize > this.ctx.cacheBytes) this.evict();
      }
    }
    return e.batch;
  }

  /** The aborted transactions overlapping the returned batches. */
  private abortedIn(fetchOffset: bigint, records: Buffer[]): AbortedTransaction[] {
    const last = records[records.length - 1];
    if (last === undefined) return [];
    const end = last.readBigInt64BE(0) + BigInt(lastOffsetDelta(last, 0)) + 1n;
    return this.producers.abortedTransactions(fetchOffset, end).map((a) => ({ producerId: a.producerId, firstOffset: a.firstOffset }));
  }

  private cacheIndex(offset: bigint): number {
    const c = this.cache;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (c[mid]!.end <= offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private async readerAt(offset: bigint, who: string): Promise<CatchUpReader> {
    const parked = this.readers.get(readerKey(who, offset));
    if (parked) {
      this.readers.delete(readerKey(who, offset));
      if (parked.timer) clearTimeout(parked.timer);
      parked.timer = null;
      return parked;
    }
    const at: LocatedEntry | null = await this.ctx.locator.locate(this.name, offset);
    if (at === null) throw new StorageError(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${offset} of ${this.label} is no longer stored in Pulsar`);
    const consumer = await this.ctx.client
      .subscribe({
        topic: this.name,
        subscription: `kop-read-${this.ctx.nodeId}-${Math.random().toString(36).slice(2, 10)}`,
        subscriptionType: 'Exclusive',
        durable: false,
        startMessageId: at.id,
        startInclusive: true,
        // by bytes: a Fetch drains what is buffered while the broker streams the next entries
        receiverQueueSize: READER_QUEUE_MESSAGES,
        receiverQueueBytes: readerBudget.next(),
        ...(who ? { originalIdentity: { principal: who } } : {}),
      })
      .catch((e: unknown) => {
        throw toStorageError(e, `${this.label}: reader`);
      });
    readerBudget.add(consumer);
    return { consumer, next: at.base, timer: null, who, held: null };
  }

  private parkReader(r: CatchUpReader): void {
    const key = readerKey(r.who, r.next);
    if (this.closed || this.readers.has(key)) {
      void this.dropReader(r);
      return;
    }
    this.readers.set(key, r);
    r.timer = setTimeout(() => {
      if (this.readers.get(key) === r) this.readers.delete(key);
      void this.dropReader(r);
    }, READER_IDLE_MS);
    r.timer.unref();
  }

  private async dropReader(r: CatchUpReader): Promise<void> {
    if (r.timer) clearTimeout(r.timer);
    readerBudget.remove(r.consumer);
    await r.consumer.close().catch(() => undefined);
  }

  // ---------------------------------------------------------------- timestamps

  /** First offset whose record timestamp >= ts (Kafka ListOffsets by time). */
  async offsetForTimestamp(ts: bigint): Promise<TimestampLookup | null> {
    await this.ready;
    await this.caughtUp();
    if (this.failure) throw this.failure;
    const ls = await this.logStart();
    const at = await this.ctx.locator.locateTime(this.name, ts);
    // scan forward from the first entry published at/after ts - skew: record times may precede publish times
    let offset = at === null ? ls : at.base < ls ? ls : at.base;
    let scanned = 0;
    while (offset < this.hw && scanned < 64) {
      const r = await this.read(offset, { maxBytes: 1 << 20, minOneMessage: true });
      if (r.records.length === 0) break;
      for (const b of r.records) {
        for (const rec of await recordTimes(b)) if (rec.offset >= offset && rec.timestamp >= ts) return rec;
        const end = b.readBigInt64BE(0) + BigInt(b.readInt32BE(23)) + 1n;
        if (end > offset) offset = end;
        scanned++;
      }
    }
    return null;
  }

  async maxTimestamp(): Promise<TimestampLookup | null> {
    await this.ready;
    await this.caughtUp(); // the newest acknowledged entry may not have reached the tail yet
    const last = this.cache[this.cache.length - 1];
    if (!last) return null;
    const b = await this.batchOf(last);
    let best: TimestampLookup | null = null;
    for (const r of await recordTimes(b)) if (best === null || r.timestamp > best.timestamp) best = r;
    return best;
  }

  // ---------------------------------------------------------------- close

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.snapshotTimer) clearTimeout(this.snapshotTimer);
    this.snapshotTimer = null;
    if (this.lazyTimer) clearTimeout(this.lazyTimer);
    this.lazyTimer = null;
    await this.saveSnapshot();
    this.closed = true;
    this.fail(new StorageError(ErrorCode.NOT_LEADER_OR_FOLLOWER, `${this.label}: partition closed`));
    for (const r of this.readers.values()) await this.dropReader(r);
    this.readers.clear();
    await this.tail?.close().catch(() => undefined);
    for (const pp of this.producerByPrincipal.values()) {
      const p = await pp.catch(() => null);
      await p?.close().catch(() => undefined);
    }
    this.producerByPrincipal.clear();
  }
}

/** Offset and timestamp of every record of one batch (decompressing if needed). */
async function recordTimes(batch: Buffer): Promise<Array<{ offset: bigint; timestamp: bigint }>> {
  const h = readBatchHeader(batch, 0);
  const section = await openRecords(batch, 0);
  const out: Array<{ offset: bigint; timestamp: bigint }> = [];
  forEachRecord(section, (r) => {
    out.push({ offset: h.baseOffset + BigInt(r.offsetDelta), timestamp: recordTimestamp(h, r.timestampDelta) });
  });
  return out;
}
