/**
 * The log cleaner's key map: MD5(key) -> latest offset, in one fixed table
 * (the rules of Kafka's SkimpyOffsetMap): 24 bytes a slot (16-byte hash,
 * 8-byte offset + 1, 0 = empty) in one Uint32Array, open addressing with linear probing, filled
 * to at most `loadFactor` of its slots. Memory is bounded by construction:
 * when the map is full the cleaner stops mapping and cleans only up to the
 * last offset mapped (`latestOffset`); the rest waits for the next pass.
 *
 * Two keys are the same key when their 128-bit MD5 hashes are equal (as in
 * Kafka): distinct keys with equal hashes are not expected in practice.
 */
import crypto from 'node:crypto';

const SLOT = 24;
const WORDS = SLOT / 4;

/** One-shot crypto.hash where Node has it (20.12+), createHash before. */
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: 'buffer') => Buffer }).hash;
const md5 = oneShot ? (key: Buffer): Buffer => oneShot('md5', key, 'buffer') : (key: Buffer): Buffer => crypto.createHash('md5').update(key).digest();

export class OffsetMap {
  /** 6 words a slot: the hash's four 32-bit words, then offset + 1 as high and low words (0 = empty slot). */
  private readonly table: Uint32Array;
  readonly slots: number;
  private readonly maxEntries: number;
  private entries = 0;
  /** The last offset the map covers (records after it were not looked at): -1 when empty. */
  latestOffset = -1n;

  constructor(memoryBytes: number, loadFactor = 0.9) {
    this.slots = Math.max(2, Math.floor(memoryBytes / SLOT));
    this.table = new Uint32Array(this.slots * WORDS);
    this.maxEntries = Math.max(1, Math.floor(this.slots * loadFactor));
  }

  get size(): number {
    return this.entries;
  }

  get full(): boolean {
    return this.entries >= this.maxEntries;
  }

  clear(): void {
    this.table.fill(0);
    this.entries = 0;
    this.latestOffset = -1n;
  }

  static digest(key: Buffer): Buffer {
    return md5(key);
  }

  /** Slot index of the hash, or -1 - (the empty slot where it would go). */
  private find(h: Buffer): number {
    const t = this.table;
    const h0 = h.readUInt32BE(0);
    const h1 = h.readUInt32BE(4);
    const h2 = h.readUInt32BE(8);
    const h3 = h.readUInt32BE(12);
    let slot = h0 % this.slots;
    for (;;) {
      const at = slot * WORDS;
      if (t[at + 4] === 0 && t[at + 5] === 0) return -1 - slot;
      if (t[at] === h0 && t[at + 1] === h1 && t[at + 2] === h2 && t[at + 3] === h3) return slot;
      slot = slot + 1 === this.slots ? 0 : slot + 1;
    }
  }

  /** Record `offset` as the latest of `key`; false (nothing stored) when the map is full and the key is new. */
  put(key: Buffer, offset: bigint): boolean {
    const h = OffsetMap.digest(key);
    const found = this.find(h);
    const t = this.table;
    let at: number;
    if (found >= 0) {
      at = found * WORDS;
    } else {
      if (this.full) return false;
      at = (-1 - found) * WORDS;
      t[at] = h.readUInt32BE(0);
      t[at + 1] = h.readUInt32BE(4);
      t[at + 2] = h.readUInt32BE(8);
      t[at + 3] = h.readUInt32BE(12);
      this.entries++;
    }
    const stored = offset + 1n;
    t[at + 4] = Number(stored >> 32n);
    t[at + 5] = Number(stored & 0xffffffffn);
    if (offset > this.latestOffset) this.latestOffset = offset;
    return true;
  }

  /** The latest offset recorded for `key`, or -1n. */
  get(key: Buffer): bigint {
    const found = this.find(OffsetMap.digest(key));
    if (found < 0) return -1n;
    const at = found * WORDS;
    return ((BigInt(this.table[at + 4]!) << 32n) | BigInt(this.table[at + 5]!)) - 1n;
  }

  /** Move latestOffset forward over offsets seen without keys (gaps, keyless or control batches). */
  updateLatestOffset(offset: bigint): void {
    if (offset > this.latestOffset) this.latestOffset = offset;
  }
}
