/**
 * One share-partition (KIP-932): the delivery state of one topic partition
 * for one share group, as Kafka's SharePartition keeps it. Pure logic with an
 * injected clock value; the share-group coordinator (groups.ts) owns the
 * instances, persists their snapshots and reads the log for them.
 *
 *  - `startOffset` (Kafka's SPSO): every offset below it is done (acknowledged
 *    or archived); `endOffset` (SPEO + 1): the next offset never acquired.
 *    The in-flight window [startOffset, endOffset) holds at most
 *    `maxInFlight` records (group.share.partition.max.record.locks); a full
 *    window acquires nothing new until its head is done.
 *  - Each in-flight record is Available, Acquired (by one member, until its
 *    acquisition lock expires: group.share.record.lock.duration.ms),
 *    Acknowledged or Archived, with its delivery count.
 *  - Acquisition increments the delivery count. A released or lock-expired
 *    record becomes Available again unless it has been delivered
 *    `deliveryCountLimit` times (group.share.delivery.count.limit): then it
 *    is Archived and never delivered again. Accept acknowledges, reject and
 *    gap archive, release makes it Available, renew (v2) extends the lock.
 *  - Acknowledgement is all-or-nothing per batch: every offset named must be
 *    Acquired by the acknowledging member, else INVALID_RECORD_STATE and
 *    nothing changes.
 *
 * The window is a ring of typed arrays indexed by offset - startOffset: no
 * object per record; the owner column holds references to member-id strings.
 */
import { ErrorCode } from '../protocol/errors.js';

export const RecordState = { Available: 0, Acquired: 1, Acknowledged: 2, Archived: 4 } as const;
export type RecordState = (typeof RecordState)[keyof typeof RecordState];

/** Kafka's acknowledge types (ShareFetch/ShareAcknowledge AcknowledgeTypes). */
export const AckType = { Gap: 0, Accept: 1, Release: 2, Reject: 3, Renew: 4 } as const;

export interface SharePartitionConfig {
  /** group.share.record.lock.duration.ms */
  lockDurationMs: number;
  /** group.share.delivery.count.limit */
  deliveryCountLimit: number;
  /** group.share.partition.max.record.locks: the in-flight window's size. */
  maxInFlight: number;
}

/** A run of acquired offsets with one delivery count (ShareFetch's AcquiredRecords). */
export interface AcquiredRange {
  firstOffset: bigint;
  lastOffset: bigint;
  deliveryCount: number;
}

/** What is stored durably: the start offset and every in-flight record that is not plain (Available, never delivered). */
export interface SharePartitionSnapshot {
  startOffset: bigint;
  endOffset: bigint;
  /** Runs [firstOffset, lastOffset, state, deliveryCount]; Acquired is stored as Available (locks do not survive). */
  runs: Array<[bigint, bigint, RecordState, number]>;
}

/** Running totals of what happened to records (metrics), shared by the share-partitions of one coordinator. */
export interface ShareRecordCounts {
  acquired: number;
  /** acquisitions of a record delivered before (released or expired) */
  redelivered: number;
  accepted: number;
  released: number;
  rejected: number;
  /** acquisition locks that expired */
  expired: number;
  /** records archived because they reached the delivery-count limit */
  archivedAtLimit: number;
}

export function newRecordCounts(): ShareRecordCounts {
  return { acquired: 0, redelivered: 0, accepted: 0, released: 0, rejected: 0, expired: 0, archivedAtLimit: 0 };
}

export class SharePartition {
  /** Where this share-partition counts (replaced by its coordinator). */
  counts: ShareRecordCounts = newRecordCounts();
  private start: bigint;
  /** Records in the window: endOffset = start + size. */
  private size = 0;
  /** Ring position of startOffset. */
  private head = 0;
  private readonly states: Uint8Array;
  private readonly deliveries: Uint16Array;
  private readonly deadlines: Float64Array;
  private readonly owners: Array<string | null>;
  /** Acquired records in the window (for lock expiry and describe). */
  private acquiredCount = 0;

  constructor(
    readonly config: SharePartitionConfig,
    startOffset: bigint,
  ) {
    if (config.maxInFlight < 1) throw new Error('maxInFlight must be at least 1');
    this.start = startOffset;
    this.states = new Uint8Array(config.maxInFlight);
    this.deliveries = new Uint16Array(config.maxInFlight);
    this.deadlines = new Float64Array(config.maxInFlight);
    this.owners = new Array<string | null>(config.maxInFlight).fill(null);
  }

  static restore(config: SharePartitionConfig, s: SharePartitionSnapshot): SharePartition {
    const sp = new SharePartition(config, s.startOffset);
    const end = s.endOffset < s.startOffset ? s.startOffset : s.endOffset;
    const n = Number(end - s.startOffset);
    if (n > config.maxInFlight) {
      // a smaller window than the one stored: keep what fits (the rest is fetched again, as new)
      sp.size = config.maxInFlight;
    } else {
      sp.size = n;
    }
    for (const [first, last, state, count] of s.runs) {
      for (let o = first; o <= last; o++) {
        if (o < sp.start || o >= sp.endOffset) continue;
        const i = sp.index(o);
        sp.states[i] = state === RecordState.Acquired ? RecordState.Available : state;
        sp.deliveries[i] = Math.min(count, 0xffff);
      }
    }
    sp.advance();
    return sp;
  }

  get startOffset(): bigint {
    return this.start;
  }

  get endOffset(): bigint {
    return this.start + BigInt(this.size);
  }

  /** Records of the window already done (acknowledged or archived), for the lag. */
  doneInWindow(): number {
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      const st = this.states[this.at(i)];
      if (st === RecordState.Acknowledged || st === RecordState.Archived) n++;
    }
    return n;
  }

  /** Records acquired by some member right now. */
  get acquired(): number {
    return this.acquiredCount;
  }

  private index(offset: bigint): number {
    return (this.head + Number(offset - this.start)) % this.states.length;
  }

  private at(i: number): number {
    return (this.head + i) % this.states.length;
  }

  /** State of one offset (below the window: Archived or Acknowledged, reported as Acknowledged; beyond: Available). */
  stateOf(offset: bigint): RecordState {
    if (offset < this.start) return RecordState.Acknowledged;
    if (offset >= this.endOffset) return RecordState.Available;
    return this.states[this.index(offset)] as RecordState;
  }

  deliveryCountOf(offset: bigint): number {
    if (offset < this.start || offset >= this.endOffset) return 0;
    return this.deliveries[this.index(offset)]!;
  }

  ownerOf(offset: bigint): string | null {
    if (offset < this.start || offset >= this.endOffset) return null;
    const i = this.index(offset);
    return this.states[i] === RecordState.Acquired ? this.owners[i]! : null;
  }

  /** Drop done records from the head of the window. */
  private advance(): void {
    const cap = this.states.length;
    while (this.size > 0) {
      const s = this.states[this.head]!;
      if (s !== RecordState.Acknowledged && s !== RecordState.Archived) break;
      this.states[this.head] = RecordState.Available;
      this.deliveries[this.head] = 0;
      this.owners[this.head] = null;
      this.head = (this.head + 1) % cap;
      this.size--;
      this.start++;
    }
    if (this.size === 0) this.head = 0;
  }

  /** A record leaving Acquired without acknowledgement: Available again, or Archived at the delivery limit. */
  private releaseAt(i: number): void {
    const atLimit = this.deliveries[i]! >= this.config.deliveryCountLimit;
    if (atLimit) this.counts.archivedAtLimit++;
    this.states[i] = atLimit ? RecordState.Archived : RecordState.Available;
    this.owners[i] = null;
    this.deadlines[i] = 0;
    this.acquiredCount--;
  }

  /**
   * The log's start moved past records of the window (retention, DeleteRecords):
   * they are gone, so they are archived. Also moves an empty window forward.
   */
  moveLogStart(logStartOffset: bigint): boolean {
    if (logStartOffset <= this.start) return false;
    let changed = false;
    for (let i = 0; i < this.size && this.start + BigInt(i) < logStartOffset; i++) {
      const j = this.at(i);
      if (this.states[j] === RecordState.Acquired) this.acquiredCount--;
      if (this.states[j] !== RecordState.Archived) changed = true;
      this.states[j] = RecordState.Archived;
      this.owners[j] = null;
    }
    this.advance();
    if (this.size === 0 && this.start < logStartOffset) {
      this.start = logStartOffset;
      changed = true;
    }
    return changed;
  }

  /** Expire acquisition locks due at `now`. True when a record changed state. */
  expireLocks(now: number): boolean {
    if (this.acquiredCount === 0) return false;
    let changed = false;
    for (let i = 0; i < this.size; i++) {
      const j = this.at(i);
      if (this.states[j] === RecordState.Acquired && this.deadlines[j]! <= now) {
        this.counts.expired++;
        this.releaseAt(j);
        changed = true;
      }
    }
    if (changed) this.advance();
    return changed;
  }

  /** The earliest lock deadline in the window (Infinity: nothing acquired). */
  nextLockDeadline(): number {
    if (this.acquiredCount === 0) return Infinity;
    let min = Infinity;
    for (let i = 0; i < this.size; i++) {
      const j = this.at(i);
      if (this.states[j] === RecordState.Acquired && this.deadlines[j]! < min) min = this.deadlines[j]!;
    }
    return min;
  }

  /**
   * Where the next read for acquisition starts: the first Available record of
   * the window, else the end of the window when it has room; null when there
   * is nothing to acquire (every in-flight record is taken and the window is full).
   */
  fetchOffset(): bigint | null {
    for (let i = 0; i < this.size; i++) {
      if (this.states[this.at(i)] === RecordState.Available) return this.start + BigInt(i);
    }
    return this.size < this.states.length ? this.endOffset : null;
  }

  /**
   * Acquire for `memberId` the Available records the log returned: `batches`
   * are the [first, last] offset ranges of the whole batches read (in order)
   * from `readFrom`. Offsets between them that no batch covers are gone from
   * the log (compaction, aborted data removed): they are archived (and, beyond
   * the window, enter it archived). New offsets extend the window from
   * endOffset, contiguously, up to its capacity. At most `maxRecords` are acquired.
   * `readTo`: the end (exclusive) of what the read covered, when batches that are
   * never delivered (transaction markers) follow the last one given: their offsets are gaps too.
   */
  acquire(memberId: string, readFrom: bigint, batches: ReadonlyArray<{ first: bigint; last: bigint }>, maxRecords: number, now: number, readTo?: bigint): AcquiredRange[] {
    const out: AcquiredRange[] = [];
    if (maxRecords <= 0 || (batches.length === 0 && readTo === undefined)) return out;
    const cap = this.states.length;
    const deadline = now + this.config.lockDurationMs;
    let taken = 0;
    let last: AcquiredRange | null = null;
    let covered = readFrom;
    for (const b of batches) {
      if (taken >= maxRecords) break;
      if (b.first > covered && !this.skipGone(covered, b.first)) break;
      if (b.last + 1n > covered) covered = b.last + 1n;
      let o = b.first < this.start ? this.start : b.first;
      for (; o <= b.last && taken < maxRecords; o++) {
        let j: number;
        if (o < this.endOffset) {
          j = this.index(o);
          if (this.states[j] !== RecordState.Available) continue;
        } else if (o === this.endOffset && this.size < cap) {
          j = this.at(this.size);
          this.size++;
          this.states[j] = RecordState.Available;
          this.deliveries[j] = 0;
        } else {
          break;
        }
        const count = Math.min(this.deliveries[j]! + 1, 0xffff);
        this.deliveries[j] = count;
        this.counts.acquired++;
        if (count > 1) this.counts.redelivered++;
        this.states[j] = RecordState.Acquired;
        this.owners[j] = memberId;
        this.deadlines[j] = deadline;
        this.acquiredCount++;
        taken++;
        if (last !== null && last.lastOffset + 1n === o && last.deliveryCount === count) {
          last.lastOffset = o;
        } else {
          last = { firstOffset: o, lastOffset: o, deliveryCount: count };
          out.push(last);
        }
      }
    }
    if (readTo !== undefined && readTo > covered && taken < maxRecords) this.skipGone(covered, readTo);
    this.advance();
    return out;
  }

  /**
   * Offsets [from, to) hold no record in the log: archive the Available ones in
   * the window and let the window grow over the rest as archived. False when
   * the window is full before `to` (stop there).
   */
  private skipGone(from: bigint, to: bigint): boolean {
    const cap = this.states.length;
    for (let o = from < this.start ? this.start : from; o < to; o++) {
      if (this.size === 0) {
        // nothing in flight: the window starts after the gap
        if (to > this.start) this.start = to;
        return true;
      }
      if (o < this.endOffset) {
        const j = this.index(o);
        if (this.states[j] === RecordState.Available) this.states[j] = RecordState.Archived;
      } else if (this.size < cap) {
        const j = this.at(this.size);
        this.size++;
        this.states[j] = RecordState.Archived;
        this.deliveries[j] = 0;
        this.owners[j] = null;
      } else {
        return false;
      }
      // a long gap at the head leaves the window at once
      if (this.size === cap) this.advance();
    }
    return true;
  }

  /**
   * Apply one acknowledgement batch of `memberId`. `types` has one entry for
   * the whole range or one per offset. Returns an error code; on error nothing
   * changed. `allowRenew`: the request version carries renew acknowledgements.
   */
  acknowledge(memberId: string, firstOffset: bigint, lastOffset: bigint, types: readonly number[], now: number, allowRenew = false): number {
    if (lastOffset < firstOffset || types.length === 0) return ErrorCode.INVALID_REQUEST;
    const n = lastOffset - firstOffset + 1n;
    if (types.length !== 1 && BigInt(types.length) !== n) return ErrorCode.INVALID_REQUEST;
    for (const t of types) {
      if (t < AckType.Gap || t > AckType.Renew || (t === AckType.Renew && !allowRenew)) return ErrorCode.INVALID_REQUEST;
    }
    if (firstOffset < this.start || lastOffset >= this.endOffset) return ErrorCode.INVALID_RECORD_STATE;
    for (let o = firstOffset; o <= lastOffset; o++) {
      const j = this.index(o);
      if (this.states[j] !== RecordState.Acquired || this.owners[j] !== memberId) return ErrorCode.INVALID_RECORD_STATE;
    }
    let k = 0;
    for (let o = firstOffset; o <= lastOffset; o++, k++) {
      const j = this.index(o);
      const t = types.length === 1 ? types[0]! : types[k]!;
      switch (t) {
        case AckType.Accept:
          this.counts.accepted++;
          this.states[j] = RecordState.Acknowledged;
          this.owners[j] = null;
          this.acquiredCount--;
          break;
        case AckType.Gap:
        case AckType.Reject:
          if (t === AckType.Reject) this.counts.rejected++;
          this.states[j] = RecordState.Archived;
          this.owners[j] = null;
          this.acquiredCount--;
          break;
        case AckType.Release:
          this.counts.released++;
          this.releaseAt(j);
          break;
        case AckType.Renew:
          this.deadlines[j] = now + this.config.lockDurationMs;
          break;
      }
    }
    this.advance();
    return ErrorCode.NONE;
  }

  /** Release every record `memberId` holds (it left, was fenced or closed its share session). */
  releaseMember(memberId: string): number {
    if (this.acquiredCount === 0) return 0;
    let n = 0;
    for (let i = 0; i < this.size; i++) {
      const j = this.at(i);
      if (this.states[j] === RecordState.Acquired && this.owners[j] === memberId) {
        this.releaseAt(j);
        n++;
      }
    }
    if (n > 0) this.advance();
    return n;
  }

  snapshot(): SharePartitionSnapshot {
    const runs: SharePartitionSnapshot['runs'] = [];
    let cur: [bigint, bigint, RecordState, number] | null = null;
    for (let i = 0; i < this.size; i++) {
      const j = this.at(i);
      const o = this.start + BigInt(i);
      let state = this.states[j] as RecordState;
      if (state === RecordState.Acquired) state = RecordState.Available;
      const count = this.deliveries[j]!;
      if (state === RecordState.Available && count === 0) {
        cur = null;
        continue;
      }
      if (cur && cur[1] + 1n === o && cur[2] === state && cur[3] === count) {
        cur[1] = o;
      } else {
        cur = [o, o, state, count];
        runs.push(cur);
      }
    }
    return { startOffset: this.start, endOffset: this.endOffset, runs };
  }
}
