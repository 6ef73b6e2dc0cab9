/**
 * Kafka offset (or timestamp) -> Pulsar position, by a bounded search.
 *
 * A topic partition's entries are the entries of its ledgers (internalStats,
 * oldest first); numbering them 0..N-1 gives an ordinal space in which the
 * broker entry index (= Kafka offsets) and the publish time grow. A lookup is a
 * binary search over that space: each probe reads one entry (a one-entry
 * non-durable read) for its index and publish time, so finding any offset
 * costs at most ~log2(N) probes (20 for a million entries), narrowed further by
 * a sparse index of positions already seen (the tail and earlier searches).
 */
import type { PulsarAdmin, LedgerInfo } from '../../pulsar/admin/types.js';
import type { MessageId, PulsarClient } from '../../pulsar/client/types.js';
import { ErrorCode } from '../../protocol/errors.js';
import { StorageError } from '../engine.js';
import { entryRecordCount } from './entry-format.js';

export interface LocatedEntry {
  id: MessageId;
  /** first offset of the entry */
  base: bigint;
  /** last offset + 1 */
  end: bigint;
  publishTime?: bigint;
}

const SPARSE_LIMIT = 4096;
const STATS_TTL_MS = 1000;

export class Locator {
  /** topic -> known entries sorted by base */
  private readonly known = new Map<string, LocatedEntry[]>();
  private readonly stats = new Map<string, { ledgers: LedgerInfo[]; at: number }>();
  /** Probes made (tests and metrics). */
  probes = 0;

  constructor(
    private readonly client: PulsarClient,
    private readonly admin: PulsarAdmin,
    private readonly operationTimeoutMs: number,
  ) {}

  forget(topic: string): void {
    this.known.delete(topic);
    this.stats.delete(topic);
  }

  remember(topic: string, e: LocatedEntry): void {
    let list = this.known.get(topic);
    if (!list) this.known.set(topic, (list = []));
    const last = list[list.length - 1];
    if (last === undefined || last.base < e.base) list.push(e);
    else {
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]!.base < e.base) lo = mid + 1;
        else hi = mid;
      }
      if (list[lo]?.base === e.base) return;
      list.splice(lo, 0, e);
    }
    if (list.length > SPARSE_LIMIT) {
      // thin out evenly, keeping the newest half dense
      const keep: LocatedEntry[] = [];
      const half = list.length >> 1;
      for (let i = 0; i < half; i += 2) keep.push(list[i]!);
      for (let i = half; i < list.length; i++) keep.push(list[i]!);
      this.known.set(topic, keep);
    }
  }

  private async ledgers(topic: string, fresh = false): Promise<LedgerInfo[]> {
    const c = this.stats.get(topic);
    if (!fresh && c && Date.now() - c.at < STATS_TTL_MS) return c.ledgers;
    const s = await this.admin.internalStats(topic);
    const ledgers = s.ledgers.filter((l) => l.entries > 0n);
    this.stats.set(topic, { ledgers, at: Date.now() });
    return ledgers;
  }

  /** Read the entry at a position for its offsets (null: it does not exist any more). */
  async probe(topic: string, id: MessageId): Promise<LocatedEntry | null> {
    this.probes++;
    const reader = await this.client.subscribe({
      topic,
      subscription: `kop-probe-${Math.random().toString(36).slice(2, 10)}`,
      subscriptionType: 'Exclusive',
      durable: false,
      startMessageId: id,
      startInclusive: true,
      receiverQueueSize: 1,
    });
    try {
      const e = await reader.receive(this.operationTimeoutMs);
      if (e === null || e.brokerEntryMetadata?.index === undefined) return null;
      const index = e.brokerEntryMetadata.index;
      const located: LocatedEntry = {
        id: e.messageId,
        base: index - BigInt(entryRecordCount(e.metadata)) + 1n,
        end: index + 1n,
        publishTime: e.metadata.publishTime,
      };
      this.remember(topic, located);
      return located;
    } finally {
      await reader.close().catch(() => undefined);
    }
  }

  private static at(ledgers: LedgerInfo[], ordinal: bigint): MessageId {
    let o = ordinal;
    for (const l of ledgers) {
      if (o < l.entries) return { ledgerId: l.ledgerId, entryId: o };
      o -= l.entries;
    }
    const last = ledgers[ledgers.length - 1]!;
    return { ledgerId: last.ledgerId, entryId: last.entries - 1n };
  }

  private static total(ledgers: LedgerInfo[]): bigint {
    let n = 0n;
    for (const l of ledgers) n += l.entries;
    return n;
  }

  private static ordinalOf(ledgers: LedgerInfo[], id: MessageId): bigint | null {
    let o = 0n;
    for (const l of ledgers) {
      if (l.ledgerId === id.ledgerId) return id.entryId < l.entries ? o + id.entryId : null;
      o += l.entries;
    }
    return null;
  }

  /**
   * The first stored entry, or null when the partition has none. Rejects when that entry cannot be
   * read (no answer, or trimmed between the stats and the read): "none" would say the log is empty.
   */
  async first(topic: string): Promise<LocatedEntry | null> {
    const ledgers = await this.ledgers(topic, true);
    if (ledgers.length === 0) return null;
    const at = { ledgerId: ledgers[0]!.ledgerId, entryId: 0n };
    const e = await this.probe(topic, at);
    if (e === null) throw new StorageError(ErrorCode.REQUEST_TIMED_OUT, `the first entry of ${topic} (${at.ledgerId}:0) could not be read`);
    return e;
  }

  /**
   * Binary search for the first entry satisfying `pred` (monotone over the
   * ordinal space); null when none does.
   */
  private async search(topic: string, pred: (e: LocatedEntry) => boolean | undefined): Promise<LocatedEntry | null> {
    const ledgers = await this.ledgers(topic);
    const total = Locator.total(ledgers);
    if (total === 0n) return null;
    let lo = 0n;
    let hi = total; // answer in [lo, hi]; hi = none
    // narrow with the sparse index
    for (const k of this.known.get(topic) ?? []) {
      const o = Locator.ordinalOf(ledgers, k.id);
      if (o === null) continue;
      const verdict = pred(k);
      if (verdict === undefined) continue;
      if (verdict) {
        if (o < hi) hi = o;
      } else if (o + 1n > lo) lo = o + 1n;
    }
    let found: LocatedEntry | null = null;
    while (lo < hi) {
      const mid = (lo + hi) / 2n;
      const e = await this.probe(topic, Locator.at(ledgers, mid));
      if (e === null) {
        lo = mid + 1n; // trimmed away under us
        continue;
      }
      if (pred(e)) {
        hi = mid;
        found = e;
      } else lo = mid + 1n;
    }
    if (lo >= total) return null;
    if (found !== null && Locator.ordinalOf(ledgers, found.id) === lo) return found;
    return this.probe(topic, Locator.at(ledgers, lo));
  }

  /** The entry holding `offset` (or the first one after it). */
  locate(topic: string, offset: bigint): Promise<LocatedEntry | null> {
    return this.search(topic, (e) => e.end > offset);
  }

  /** The first entry published at or after `timestampMs`. */
  locateTime(topic: string, timestampMs: bigint): Promise<LocatedEntry | null> {
    return this.search(topic, (e) => (e.publishTime === undefined ? undefined : e.publishTime >= timestampMs));
  }
}
