/**
 * The records one gateway node holds of a share-partition served by a broker's
 * shared subscription (the Pulsar engine's mapping, src/storage/pulsar/share-records.ts):
 * pure logic, no I/O, an injected clock value.
 *
 * The broker hands this node whole entries (a Kafka batch, or a Pulsar batch:
 * records `first`..`last`), each with the broker's redelivery count; the node
 * acquires their records for share-group members (acquisition locks, delivery
 * counts) and tells its caller what to do with each entry once its records are
 * settled:
 *
 *  - `ack`: every record of the entry is accepted, rejected or archived (an
 *    individual ack: the broker never delivers it again);
 *  - `redeliver`: no record of the entry is done and none is acquired any more
 *    (all released, or their locks expired): the broker dispatches the entry again,
 *    to any consumer of the subscription, with redelivery count + 1.
 *
 * Delivery count of a record = broker redelivery count + 1 when the entry
 * arrives (+1 for each local re-acquisition). An entry arriving with a delivery
 * count above `deliveryCountLimit` is archived at once (acked, never delivered),
 * and a released or expired record that has been delivered `deliveryCountLimit`
 * times is archived, as Kafka's SharePartition does.
 *
 * Part of an entry settled: when some records of an entry are done (accepted or
 * rejected) and others are released or their locks expire, the entry cannot go
 * back to the broker without its done records coming back too (Pulsar acks whole
 * entries here): the released records stay on this node, Available to this node's
 * members (delivery count + 1 on each acquisition), until the entry is done.
 *
 * Acknowledgement is all-or-nothing per batch: every offset named must be held
 * here and Acquired by the acknowledging member, else INVALID_RECORD_STATE and
 * nothing changes.
 */
import { ErrorCode } from '../protocol/errors.js';
import { AckType, type AcquiredRange, type ShareRecordCounts } from './partition.js';

const AVAILABLE = 0;
const ACQUIRED = 1;
const DONE = 2;

/** One entry held by this node. `T` is the engine's entry position. */
export interface HeldEntry<T> {
  readonly id: T;
  readonly first: bigint;
  readonly last: bigint;
  /** Kafka record batch bytes of the entry (what ShareFetch returns when any of its records is acquired). */
  readonly data: Buffer;
  readonly states: Uint8Array;
  readonly deliveries: Uint16Array;
  readonly owners: Array<string | null>;
  readonly deadlines: Float64Array;
  /** Records done (acknowledged or archived). */
  done: number;
  acquired: number;
}

export interface WindowConfig {
  lockDurationMs: number;
  deliveryCountLimit: number;
}

/** What to tell the broker. */
export interface Settled<T> {
  ack: T[];
  redeliver: T[];
}

/** The same running totals as the gateway's own share-partitions keep (the share-group metrics read them). */
export type WindowCounts = ShareRecordCounts;

export class EntryWindow<T> {
  /** Held entries sorted by first offset. */
  private readonly entries: Array<HeldEntry<T>> = [];
  private records = 0;

  constructor(
    readonly config: WindowConfig,
    readonly counts: WindowCounts = { acquired: 0, redelivered: 0, accepted: 0, released: 0, rejected: 0, expired: 0, archivedAtLimit: 0 },
  ) {}

  /** Records held (acquired or available here). */
  get held(): number {
    return this.records;
  }

  get heldEntries(): number {
    return this.entries.length;
  }

  /** Records held here and not done (for the lag). */
  get pending(): number {
    let n = 0;
    for (const e of this.entries) n += e.states.length - e.done;
    return n;
  }

  /**
   * An entry the broker delivered: held (its records Available) and true, or false
   * when it must be archived at once (its delivery count is past the limit; the
   * caller acks it). Offsets already held (a repeat) are ignored (true, nothing added).
   */
  add(id: T, first: bigint, last: bigint, data: Buffer, redeliveryCount: number): boolean {
    if (redeliveryCount >= this.config.deliveryCountLimit) {
      this.counts.archivedAtLimit += Number(last - first) + 1;
      return false;
    }
    const i = this.search(first);
    if (i < this.entries.length && this.entries[i]!.first === first) return true;
    const n = Number(last - first) + 1;
    const e: HeldEntry<T> = {
      id,
      first,
      last,
      data,
      states: new Uint8Array(n),
      deliveries: new Uint16Array(n).fill(Math.min(redeliveryCount, 0xffff)),
      owners: new Array<string | null>(n).fill(null),
      deadlines: new Float64Array(n),
      done: 0,
      acquired: 0,
    };
    this.entries.splice(i, 0, e);
    this.records += n;
    return true;
  }

  /** Index of the first entry with first >= offset. */
  private search(offset: bigint): number {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.first < offset) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private entryOf(offset: bigint): HeldEntry<T> | null {
    const i = this.search(offset + 1n) - 1;
    const e = i >= 0 ? this.entries[i]! : null;
    return e && offset >= e.first && offset <= e.last ? e : null;
  }

  /**
   * Acquire for `memberId` up to `maxRecords` Available records (lowest offsets
   * first), from entries whose data fits in `maxBytes` (the first one always does).
   * Returns the acquired ranges and the entries' data to send (whole entries).
   */
  acquire(memberId: string, maxRecords: number, now: number, maxBytes = Infinity): { ranges: AcquiredRange[]; data: Buffer[]; bytes: number } {
    const ranges: AcquiredRange[] = [];
    const data: Buffer[] = [];
    let taken = 0;
    let bytes = 0;
    const deadline = now + this.config.lockDurationMs;
    for (const e of this.entries) {
      if (taken >= maxRecords) break;
      if (bytes > 0 && bytes + e.data.length > maxBytes) break;
      if (e.done + e.acquired === e.states.length) continue;
      let last: AcquiredRange | null = null;
      for (let k = 0; k < e.states.length && taken < maxRecords; k++) {
        if (e.states[k] !== AVAILABLE) continue;
        const count = Math.min(e.deliveries[k]! + 1, 0xffff);
        e.deliveries[k] = count;
        e.states[k] = ACQUIRED;
        e.owners[k] = memberId;
        e.deadlines[k] = deadline;
        e.acquired++;
        taken++;
        this.counts.acquired++;
        if (count > 1) this.counts.redelivered++;
        const o = e.first + BigInt(k);
        if (last !== null && last.lastOffset + 1n === o && last.deliveryCount === count) last.lastOffset = o;
        else ranges.push((last = { firstOffset: o, lastOffset: o, deliveryCount: count }));
      }
      if (last !== null) {
        data.push(e.data);
        bytes += e.data.length;
      }
    }
    return { ranges, data, bytes };
  }

  /** A record leaving Acquired without acknowledgement: Available again, or archived at the delivery limit. */
  private releaseAt(e: HeldEntry<T>, k: number): void {
    e.acquired--;
    e.owners[k] = null;
    e.deadlines[k] = 0;
    if (e.deliveries[k]! >= this.config.deliveryCountLimit) {
      this.counts.archivedAtLimit++;
      e.states[k] = DONE;
      e.done++;
    } else {
      e.states[k] = AVAILABLE;
    }
  }

  /**
   * Entries whose records are all done go to `ack`; entries with nothing done and
   * nothing acquired go back to the broker (`redeliver`). Both leave the window.
   */
  private settle(touched: Iterable<HeldEntry<T>>, out: Settled<T>): void {
    for (const e of touched) {
      const n = e.states.length;
      if (e.done === n) out.ack.push(e.id);
      else if (e.done === 0 && e.acquired === 0) out.redeliver.push(e.id);
      else continue;
      const i = this.entries.indexOf(e);
      if (i >= 0) {
        this.entries.splice(i, 1);
        this.records -= n;
      }
    }
  }

  /**
   * One acknowledgement batch of `memberId` (Kafka's types: one for the range or
   * one per offset). Error code (nothing changed on error); what to tell the broker in `out`.
   */
  acknowledge(memberId: string, firstOffset: bigint, lastOffset: bigint, types: readonly number[], now: number, allowRenew: boolean, out: Settled<T>): number {
    if (lastOffset < firstOffset || types.length === 0) return ErrorCode.INVALID_REQUEST;
    const n = lastOffset - firstOffset + 1n;
    if (types.length !== 1 && BigInt(types.length) !== n) return ErrorCode.INVALID_REQUEST;
    for (const t of types) {
      if (t < AckType.Gap || t > AckType.Renew || (t === AckType.Renew && !allowRenew)) return ErrorCode.INVALID_REQUEST;
    }
    const touched = new Set<HeldEntry<T>>();
    for (let o = firstOffset; o <= lastOffset; ) {
      const e = this.entryOf(o);
      if (!e) return ErrorCode.INVALID_RECORD_STATE;
      const end = lastOffset < e.last ? lastOffset : e.last;
      for (; o <= end; o++) {
        const k = Number(o - e.first);
        if (e.states[k] !== ACQUIRED || e.owners[k] !== memberId) return ErrorCode.INVALID_RECORD_STATE;
      }
      touched.add(e);
    }
    let idx = 0;
    for (let o = firstOffset; o <= lastOffset; o++, idx++) {
      const e = this.entryOf(o)!;
      const k = Number(o - e.first);
      const t = types.length === 1 ? types[0]! : types[idx]!;
      switch (t) {
        case AckType.Accept:
        case AckType.Reject:
        case AckType.Gap:
          if (t === AckType.Accept) this.counts.accepted++;
          else this.counts.rejected++;
          e.states[k] = DONE;
          e.owners[k] = null;
          e.acquired--;
          e.done++;
          break;
        case AckType.Release:
          this.counts.released++;
          this.releaseAt(e, k);
          break;
        case AckType.Renew:
          e.deadlines[k] = now + this.config.lockDurationMs;
          break;
      }
    }
    this.settle(touched, out);
    return ErrorCode.NONE;
  }

  /** Expire the acquisition locks due at `now`. */
  expireLocks(now: number, out: Settled<T>): void {
    const touched: Array<HeldEntry<T>> = [];
    for (const e of this.entries) {
      if (e.acquired === 0) continue;
      let hit = false;
      for (let k = 0; k < e.states.length; k++) {
        if (e.states[k] === ACQUIRED && e.deadlines[k]! <= now) {
          this.counts.expired++;
          this.releaseAt(e, k);
          hit = true;
        }
      }
      if (hit) touched.push(e);
    }
    this.settle(touched, out);
  }

  /** A member left or closed its share session: its acquired records are released. Records released. */
  releaseMember(memberId: string, out: Settled<T>): number {
    const touched: Array<HeldEntry<T>> = [];
    let n = 0;
    for (const e of this.entries) {
      if (e.acquired === 0) continue;
      let hit = false;
      for (let k = 0; k < e.states.length; k++) {
        if (e.states[k] === ACQUIRED && e.owners[k] === memberId) {
          this.releaseAt(e, k);
          hit = true;
          n++;
        }
      }
      if (hit) touched.push(e);
    }
    this.settle(touched, out);
    return n;
  }

  /** Records Available here (released records of partly settled entries). */
  get available(): number {
    let n = 0;
    for (const e of this.entries) n += e.states.length - e.done - e.acquired;
    return n;
  }

  /** The earliest acquisition-lock deadline (Infinity: nothing acquired). */
  nextLockDeadline(): number {
    let min = Infinity;
    for (const e of this.entries) {
      if (e.acquired === 0) continue;
      for (let k = 0; k < e.states.length; k++) if (e.states[k] === ACQUIRED && e.deadlines[k]! < min) min = e.deadlines[k]!;
    }
    return min;
  }

  /** Everything held, for a consumer that closes: entries to redeliver (the broker would anyway) and none kept. */
  drain(): T[] {
    const ids = this.entries.map((e) => e.id);
    this.entries.length = 0;
    this.records = 0;
    return ids;
  }
}
