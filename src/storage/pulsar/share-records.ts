/**
 * Share groups' records side (src/share/records.ts) on the Pulsar engine: Pulsar
 * Shared subscriptions. A share group G reading a partition is the durable
 * Shared subscription `share:G` (subscription-names.ts) on the partition's
 * Pulsar topic; each gateway node serving ShareFetch for (G, partition) holds
 * one consumer on it. The broker divides entries between the nodes (and any
 * Pulsar consumer of that subscription), keeps acknowledgements and counts
 * redeliveries; the node acquires the records of the entries it received for
 * the group's members (src/share/entry-window.ts):
 *
 *  - accept / reject: the entry is acked (individual ACK, durable before the
 *    answer) once all its records are accepted or rejected;
 *  - release, lock expiry, a member leaving: the entry goes back to the broker
 *    (REDELIVER_UNACKNOWLEDGED_MESSAGES with its id), which dispatches it again
 *    to any consumer with redelivery count + 1; an entry part of whose records
 *    are done stays on this node (its released records Available here);
 *  - delivery count = the broker's redelivery count + 1; an entry arriving past
 *    the delivery-count limit is acked (archived) without being delivered;
 *  - Kafka offsets come from the broker entry metadata index, as for Fetch;
 *    transaction control entries are acked at once, never delivered.
 *
 * Flow control: the consumer has no receiver queue of its own; a fetch that finds
 * nothing to acquire grants permits (up to MaxRecords, at most
 * shareGroupPartitionMaxRecordLocks held records per node), so entries flow to the
 * nodes whose members fetch. A consumer no fetch used for IDLE_MS is closed: the
 * broker dispatches what it held to the others.
 *
 * Upgrade: a group whose share-partition the gateway's own implementation stored (before this
 * mapping) gets its subscription created at that start offset's entry, not at share.auto.offset.reset.
 *
 * AlterShareGroupOffsets resets the subscription's cursor (to the entry holding the offset);
 * DeleteShareGroupOffsets and DeleteGroups delete the subscriptions.
 *
 * DescribeShareGroupOffsets: the start offset is the offset after the
 * subscription's mark-delete position; the lag counts the records from there to
 * the high watermark (those acked individually past the mark-delete position
 * included: Pulsar's backlog counts entries, not records).
 */
import { ErrorCode } from '../../protocol/errors.js';
import { isControl } from '../../protocol/records/batch-header.js';
import type { GroupKey } from '../../coordinator/locator.js';
import type { Consumer, MessageId, PulsarClient, ReceivedEntry } from '../../pulsar/client/types.js';
import type { PulsarAdmin } from '../../pulsar/admin/types.js';
import { EntryWindow, type Settled } from '../../share/entry-window.js';
import { acquiredCount } from '../../share/local-records.js';
import type { ShareRecordCounts } from '../../share/partition.js';
import type { AckBatch, FetchedPartition, OffsetsWanted, ShareFetchLimits, ShareOffsets, ShareReadContext, ShareRecords, ShareSettings, ShareTarget, StoredStart } from '../../share/records.js';
import { partitionName } from '../../topics/names.js';
import { StorageError } from '../engine.js';
import type { EngineLogger } from '../logger.js';
import { decodeEntry, entryRecordCount } from './entry-format.js';
import { toStorageError } from './errors.js';
import { shareGroupSubscription } from './subscription-names.js';

/** A consumer no fetch used for this long is closed (its entries go to the other consumers). */
const IDLE_MS = 30_000;
/** Pulsar's MessageId.earliest / MessageId.latest as admin positions (reset-cursor / create-subscription). */
const EARLIEST = { ledgerId: -1n, entryId: -1n };
const LATEST = { ledgerId: 0x7fffffffffffffffn, entryId: 0x7fffffffffffffffn };

function statusOf(e: unknown): number | undefined {
  return (e as { status?: number }).status;
}

interface Part {
  key: string;
  group: GroupKey;
  /** The partition's Pulsar topic. */
  topic: string;
  target: ShareTarget;
  consumer: Consumer | null;
  opening: Promise<Consumer> | null;
  window: EntryWindow<MessageId>;
  lastUsed: number;
  /** Acks and redeliveries in flight, in order (an ack is durable before the answer). */
  chain: Promise<void>;
}

export interface PulsarShareRecordsOptions {
  client: PulsarClient;
  admin: PulsarAdmin;
  nodeId: number;
  logger: EngineLogger;
  settings: (key: GroupKey) => ShareSettings;
  /** Where what happens to records is counted (metrics). */
  counts: ShareRecordCounts;
  /** A start offset the gateway's own share-partition stored (before an upgrade to this mapping). */
  storedStart: StoredStart;
  /** The position of the entry holding an offset of a partition topic. */
  positionOf: (partitionTopic: string, offset: bigint) => Promise<MessageId | null>;
}

function partKey(key: GroupKey, t: ShareTarget): string {
  return `${key.tenant}\u0000${key.groupId}\u0000${t.topic}\u0000${t.partition}`;
}

export class PulsarShareRecords implements ShareRecords {
  readonly anyNode = true;
  private readonly parts = new Map<string, Part>();
  /** Parts whose subscription is known to exist (an upgrade's stored start offset applied or not needed). */
  private readonly adopted = new Set<string>();
  private closed = false;

  constructor(private readonly o: PulsarShareRecordsOptions) {}

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.parts.values()].map((p) => this.closePart(p)));
  }

  private async closePart(p: Part): Promise<void> {
    this.parts.delete(p.key);
    await p.chain.catch(() => undefined);
    p.window.drain();
    // closing the consumer gives the broker back everything it held (buffered, acquired, released here)
    const c = p.consumer ?? (await p.opening?.catch(() => null)) ?? null;
    await c?.close().catch(() => undefined);
  }

  /** The part of (group, partition) on this node; subscribes when `open`. */
  private async part(key: GroupKey, t: ShareTarget, open: boolean): Promise<Part | null> {
    const k = partKey(key, t);
    let p = this.parts.get(k);
    if (!p) {
      if (!open || this.closed) return null;
      const s = this.o.settings(key);
      p = {
        key: k,
        group: { tenant: key.tenant, groupId: key.groupId },
        topic: partitionName(t.topic, t.partition),
        target: t,
        consumer: null,
        opening: null,
        window: new EntryWindow<MessageId>({ lockDurationMs: s.lockDurationMs, deliveryCountLimit: s.deliveryCountLimit }, this.o.counts),
        lastUsed: Date.now(),
        chain: Promise.resolve(),
      };
      this.parts.set(k, p);
    }
    if (!open || p.consumer) return p;
    const part = p;
    if (!part.opening) {
      const s = this.o.settings(key);
      part.opening = this.adopt(key, part)
        .then(() =>
          this.o.client.subscribe({
            topic: part.topic,
            subscription: shareGroupSubscription(key.groupId),
            subscriptionType: 'Shared',
            initialPosition: s.autoOffsetReset === 'earliest' ? 'Earliest' : 'Latest',
            consumerName: `kop-gateway-${this.o.nodeId}`,
            receiverQueueSize: 0,
          }),
        )
        .then((c) => {
          part.consumer = c;
          // closed for good (not by us): forget the part, the next fetch subscribes again
          void c.closed.then((err) => {
            if (this.parts.get(part.key) !== part || part.consumer !== c) return;
            this.parts.delete(part.key);
            part.window.drain();
            if (err) this.o.logger.warn({ err: err.message, topic: part.topic, group: key.groupId }, 'share group: Pulsar consumer closed; subscribing again on the next fetch');
          });
          return c;
        })
        .catch((e: unknown) => {
          part.opening = null;
          throw toStorageError(e, `share group ${key.groupId} on ${part.topic}`);
        });
    }
    await part.opening;
    return part;
  }

  /**
   * An upgrade: the group's share-partition of the gateway's own implementation stored a start
   * offset and the subscription does not exist yet: create it at the entry holding that offset
   * (instead of where share.auto.offset.reset would start it).
   */
  private async adopt(key: GroupKey, part: Part): Promise<void> {
    const start = this.o.storedStart(key, part.target);
    if (start === null || this.adopted.has(part.key)) return;
    const sub = shareGroupSubscription(key.groupId);
    if ((await this.o.admin.listSubscriptions(part.topic)).includes(sub)) {
      this.adopted.add(part.key);
      return;
    }
    const at = await this.o.positionOf(part.topic, start);
    if (at === null) return;
    await this.o.admin.createSubscription(part.topic, sub, at.ledgerId, at.entryId).catch((e: unknown) => {
      if ((e as { status?: number }).status !== 409) throw e;
    });
    this.adopted.add(part.key);
    this.o.logger.info({ topic: part.topic, subscription: sub, startOffset: start.toString() }, "share group: subscription created at the gateway's stored share-partition start offset");
  }

  /**
   * AlterShareGroupOffsets: the subscription `share:G` of each partition is moved to the entry
   * holding the offset (the log start or before: earliest; the high watermark or past: latest),
   * created there when it does not exist. This node's consumer is closed first (what it held goes
   * back); the broker disconnects the other nodes' consumers on a reset, their windows are dropped.
   */
  async resetStart(key: GroupKey, items: Array<{ target: ShareTarget; startOffset: bigint }>, rc: Pick<ShareReadContext, 'storage'>): Promise<number[]> {
    const sub = shareGroupSubscription(key.groupId);
    const codes: number[] = [];
    for (const { target, startOffset } of items) {
      const topic = partitionName(target.topic, target.partition);
      try {
        const p = this.parts.get(partKey(key, target));
        if (p) await this.closePart(p);
        const o = await rc.storage.offsets({ topic: target.topic, partition: target.partition });
        let at: { ledgerId: bigint; entryId: bigint } | null;
        if (startOffset <= o.logStartOffset) at = EARLIEST;
        else if (startOffset >= o.highWatermark) at = LATEST;
        else at = await this.o.positionOf(topic, startOffset);
        if (at === null) throw new StorageError(ErrorCode.KAFKA_STORAGE_ERROR, `${topic}: no entry holds offset ${startOffset}`);
        try {
          await this.o.admin.resetCursor(topic, sub, at.ledgerId, at.entryId);
        } catch (e) {
          if (statusOf(e) !== 404) throw e;
          await this.o.admin.createSubscription(topic, sub, at.ledgerId, at.entryId);
        }
        this.adopted.add(partKey(key, target));
        this.o.logger.info({ topic, subscription: sub, startOffset: startOffset.toString() }, 'share group: subscription reset (AlterShareGroupOffsets)');
        codes.push(ErrorCode.NONE);
      } catch (e) {
        codes.push(toStorageError(e, `share group ${key.groupId} reset on ${topic}`).code);
      }
    }
    return codes;
  }

  /** DeleteShareGroupOffsets (and DeleteGroups, for the topics the group was assigned): the subscription `share:G` of each partition of the topics is deleted (its consumers disconnected). */
  async deleteOffsets(key: GroupKey, topics: Array<{ topic: string; partitions: number }>): Promise<number[]> {
    const sub = shareGroupSubscription(key.groupId);
    const codes: number[] = [];
    for (const t of topics) {
      let code: number = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      for (let partition = 0; partition < t.partitions; partition++) {
        const target = { topic: t.topic, partition, topicId: Buffer.alloc(16) };
        const p = this.parts.get(partKey(key, target));
        if (p) await this.closePart(p);
        this.adopted.delete(partKey(key, target));
        try {
          await this.o.admin.deleteSubscription(partitionName(t.topic, partition), sub, true);
          if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) code = ErrorCode.NONE;
        } catch (e) {
          if (statusOf(e) === 404) continue;
          code = toStorageError(e, `share group ${key.groupId} on ${t.topic}`).code;
          break;
        }
      }
      codes.push(code);
    }
    return codes;
  }

  /** Tell the broker what the window settled: acks awaited (durable), redeliveries sent. */
  private apply(p: Part, out: Settled<MessageId>): Promise<void> {
    if (out.ack.length === 0 && out.redeliver.length === 0) return p.chain;
    const ack = out.ack.splice(0);
    const redeliver = out.redeliver.splice(0);
    const run = p.chain.then(async () => {
      const c = p.consumer;
      if (!c) return;
      if (redeliver.length > 0) c.redeliver(redeliver);
      if (ack.length > 0) await c.acknowledgeMany(ack);
    });
    p.chain = run.catch((err: unknown) => this.o.logger.warn({ err: (err as Error).message, topic: p.topic, group: p.group.groupId }, 'share group: ack failed (the broker redelivers the entries)'));
    return run;
  }

  async acknowledge(key: GroupKey, memberId: string, items: Array<{ target: ShareTarget; batches: AckBatch[] }>, allowRenew: boolean): Promise<number[]> {
    const now = Date.now();
    const codes: number[] = [];
    const work: Array<Promise<void>> = [];
    const workOf: Array<Array<number>> = [];
    for (const { target, batches } of items) {
      const p = await this.part(key, target, false);
      if (!p || !p.consumer) {
        codes.push(ErrorCode.INVALID_RECORD_STATE);
        continue;
      }
      p.lastUsed = now;
      p.window.config.lockDurationMs = this.o.settings(key).lockDurationMs;
      const out: Settled<MessageId> = { ack: [], redeliver: [] };
      let code: number = ErrorCode.NONE;
      for (const b of batches) {
        const r = p.window.acknowledge(memberId, b.firstOffset, b.lastOffset, b.acknowledgeTypes, now, allowRenew, out);
        if (r !== ErrorCode.NONE && code === ErrorCode.NONE) code = r;
      }
      codes.push(code);
      work.push(this.apply(p, out));
      workOf.push([codes.length - 1]);
    }
    const settled = await Promise.allSettled(work);
    settled.forEach((r, i) => {
      if (r.status === 'rejected') for (const j of workOf[i]!) if (codes[j] === ErrorCode.NONE) codes[j] = toStorageError(r.reason, 'share acknowledgement').code;
    });
    return codes;
  }

  async releaseMember(key: GroupKey, memberId: string): Promise<void> {
    const work: Array<Promise<void>> = [];
    for (const p of this.parts.values()) {
      if (p.group.tenant !== key.tenant || p.group.groupId !== key.groupId) continue;
      const out: Settled<MessageId> = { ack: [], redeliver: [] };
      if (p.window.releaseMember(memberId, out) > 0) work.push(this.apply(p, out).catch(() => undefined));
    }
    await Promise.all(work);
  }

  async sweep(now: number): Promise<void> {
    const work: Array<Promise<void>> = [];
    for (const p of [...this.parts.values()]) {
      const out: Settled<MessageId> = { ack: [], redeliver: [] };
      p.window.expireLocks(now, out);
      work.push(this.apply(p, out).catch(() => undefined));
      if (now - p.lastUsed > IDLE_MS && p.window.held === 0) work.push(this.closePart(p));
    }
    await Promise.all(work);
  }

  /** Entries the broker delivered into the window (archiving those past the limit, and control entries). */
  private async take(p: Part, maxInFlight: number, out: Settled<MessageId>): Promise<void> {
    const c = p.consumer;
    if (!c) return;
    while (c.buffered > 0 && p.window.held < maxInFlight) {
      const e = await c.receive(0);
      if (!e) break;
      const n = entryRecordCount(e.metadata);
      const index = e.brokerEntryMetadata?.index;
      if (index === undefined) throw new StorageError(ErrorCode.KAFKA_STORAGE_ERROR, `${p.topic}: entry without broker entry index (the broker needs the AppendIndexMetadataInterceptor)`);
      const first = index - BigInt(n) + 1n;
      const data = await decodeEntry(e.metadata, e.payload, first);
      if (data.length === 0 || isControl(data, 0) || !p.window.add(e.messageId, first, index, data, e.redeliveryCount)) out.ack.push(e.messageId);
    }
  }

  async fetch(key: GroupKey, memberId: string, targets: ShareTarget[], limits: ShareFetchLimits, rc: ShareReadContext): Promise<FetchedPartition[]> {
    const outs: FetchedPartition[] = targets.map(() => ({ errorCode: ErrorCode.NONE, errorMessage: null, records: [], acquired: [] }));
    const parts: Array<Part | null> = [];
    for (let i = 0; i < targets.length; i++) {
      try {
        parts.push(await this.part(key, targets[i]!, true));
      } catch (err) {
        const e = toStorageError(err, `share group ${key.groupId}`);
        outs[i]!.errorCode = e.code;
        outs[i]!.errorMessage = e.message;
        parts.push(null);
      }
    }
    const s = this.o.settings(key);
    const deadline = Date.now() + limits.maxWaitMs;
    let records = 0;
    let bytes = 0;
    for (;;) {
      const now = Date.now();
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i];
        if (!p || outs[i]!.errorCode !== ErrorCode.NONE || records >= limits.maxRecords) continue;
        p.lastUsed = now;
        p.window.config.lockDurationMs = s.lockDurationMs;
        const out: Settled<MessageId> = { ack: [], redeliver: [] };
        try {
          p.window.expireLocks(now, out);
          await this.take(p, s.maxInFlight, out);
        } catch (err) {
          const e = toStorageError(err, `share group ${key.groupId} on ${p.topic}`);
          outs[i]!.errorCode = e.code;
          outs[i]!.errorMessage = e.message;
        }
        void this.apply(p, out).catch(() => undefined);
        const got = p.window.acquire(memberId, limits.maxRecords - records, now, bytes === 0 ? Infinity : limits.maxBytes - bytes);
        if (got.ranges.length > 0) {
          outs[i]!.acquired.push(...got.ranges);
          outs[i]!.records.push(...got.data);
          records += acquiredCount(got.ranges);
          bytes += got.bytes;
        }
      }
      if (records > 0 || rc.isClosed() || this.closed) break;
      const left = deadline - Date.now();
      if (left <= 0) break;
      // nothing to acquire: ask the broker for entries (permits) and wait for one, or for a lock to expire
      let wake = left;
      const live: Part[] = [];
      for (let i = 0; i < parts.length; i++) {
        const p = parts[i];
        if (!p || outs[i]!.errorCode !== ErrorCode.NONE || !p.consumer) continue;
        live.push(p);
        const room = s.maxInFlight - p.window.held;
        if (p.consumer.availablePermits <= 0 && p.consumer.buffered === 0 && room > 0) p.consumer.flow(Math.max(1, Math.min(limits.maxRecords, room)));
        const d = p.window.nextLockDeadline() - Date.now();
        if (d < wake) wake = Math.max(1, d);
      }
      if (live.length === 0) break;
      await new Promise<void>((resolve) => {
        const offs: Array<() => void> = [];
        const done = (): void => {
          clearTimeout(timer);
          for (const off of offs) off();
          resolve();
        };
        const timer = setTimeout(done, Math.min(wake, 1000));
        for (const p of live) {
          if (p.consumer!.buffered > 0) return done();
          offs.push(p.consumer!.onReadable(done));
        }
      });
    }
    return outs;
  }

  /** Partitions whose topic has the group's subscription (the others have not been read: not listed). */
  async offsets(key: GroupKey, wanted: OffsetsWanted | null, rc: Pick<ShareReadContext, 'storage'>, listed: (topic: string) => Promise<boolean>, assigned: OffsetsWanted): Promise<ShareOffsets[]> {
    let list = wanted;
    if (list === null) {
      const byKey = new Map<string, ShareTarget>();
      for (const t of assigned) byKey.set(`${t.topic}\u0000${t.partition}`, t);
      for (const p of this.parts.values()) if (p.group.tenant === key.tenant && p.group.groupId === key.groupId) byKey.set(`${p.target.topic}\u0000${p.target.partition}`, p.target);
      list = [...byKey.values()];
    }
    const out: ShareOffsets[] = [];
    const sub = shareGroupSubscription(key.groupId);
    for (const w of list) {
      if (!wanted && !(await listed(w.topic))) continue;
      const topic = partitionName(w.topic, w.partition);
      let stats;
      try {
        stats = await this.o.admin.internalStats(topic);
      } catch (err) {
        this.o.logger.warn({ err: (err as Error).message, topic }, 'share group offsets: no internal stats');
        continue;
      }
      // the managed ledger names the cursor with the subscription URL-encoded
      const md = (stats.cursors[sub] ?? stats.cursors[encodeURIComponent(sub)])?.markDeletePosition;
      if (!md) continue; // the group has not read this partition
      let start: bigint | null = null;
      const o = await rc.storage.offsets({ topic: w.topic, partition: w.partition }).catch(() => null);
      if (md.entryId >= 0n) {
        const e = await this.o.admin.getEntry(topic, md.ledgerId, md.entryId).catch(() => null);
        if (e?.index !== undefined) start = e.index + 1n;
      }
      if (start === null) start = o ? o.logStartOffset : 0n;
      const lag = o ? (o.highWatermark > start ? o.highWatermark - start : 0n) : -1n;
      out.push({ topic: w.topic, partition: w.partition, topicId: w.topicId, startOffset: start, lag });
    }
    return out;
  }
}
