/**
 * The log cleaner's key map: MD5(key) -> latest offset, in one fixed Buffer
 * (the rules of Kafka's SkimpyOffsetMap): 24 bytes a slot (16-byte hash,
 * 8-byte offset + 1, 0 = empty), open addressing with linear probing, filled
 * to at most `loadFactor` of its slots. Memory is bounded by construction:
 * when the map is full the cleaner stops mapping and cleans only up to the
 * last offset mapped (`latestOffset`); the rest waits for the next pass.
 *
 * Two keys are the same key when their 128-bit MD5 hashes are equal (as in
 * Kafka): distinct keys with equal hashes are not expected in practice.
 */
import crypto from 'node:crypto';

const HASH = 16;

/** One-shot crypto.hash where Node has it (20.12+), createHash before. */
const oneShot = (crypto as { hash?: (alg: string, data: Buffer, enc: 'buffer') => Buffer }).hash;
const md5 = oneShot ? (key: Buffer): Buffer => oneShot('md5', key, 'buffer') : (key: Buffer): Buffer => crypto.createHash('md5').update(key).digest();
const SLOT = HASH + 8;

export class OffsetMap {
  private readonly buf: Buffer;
  readonly slots: number;
  private readonly maxEntries: number;
  private entries = 0;
  /** The last offset the map covers (records after it were not looked at): -1 when empty. */
  latestOffset = -1n;

  constructor(memoryBytes: number, loadFactor = 0.9) {
    this.slots = Math.max(2, Math.floor(memoryBytes / SLOT));
    this.buf = Buffer.alloc(this.slots * SLOT);
    this.maxEntries = Math.max(1, Math.floor(this.slots * loadFactor));
  }

  get size(): number {
    return this.entries;
  }

  get full(): boolean {
    return this.entries >= this.maxEntries;
  }

  clear(): void {
    this.buf.fill(0);
    this.entries = 0;
    this.latestOffset = -1n;
  }

  static digest(key: Buffer): Buffer {
    return md5(key);
  }

  private find(h: Buffer): number {
    let slot = h.readUInt32BE(0) % this.slots;
    for (;;) {
      const at = slot * SLOT;
      if (this.buf.readBigUInt64BE(at + HASH) === 0n) return -1 - slot; // empty: where it would go
      if (this.buf.compare(h, 0, HASH, at, at + HASH) === 0) return slot;
      slot = slot + 1 === this.slots ? 0 : slot + 1;
    }
  }

  /** Record `offset` as the latest of `key`; false (nothing stored) when the map is full and the key is new. */
  put(key: Buffer, offset: bigint): boolean {
    const h = OffsetMap.digest(key);
    const found = this.find(h);
    let at: number;
    if (found >= 0) {
      at = found * SLOT;
    } else {
      if (this.full) return false;
      at = (-1 - found) * SLOT;
      h.copy(this.buf, at, 0, HASH);
      this.entries++;
    }
    this.buf.writeBigUInt64BE(offset + 1n, at + HASH);
    if (offset > this.latestOffset) this.latestOffset = offset;
    return true;
  }

  /** The latest offset recorded for `key`, or -1n. */
  get(key: Buffer): bigint {
    const found = this.find(OffsetMap.digest(key));
    return found < 0 ? -1n : this.buf.readBigUInt64BE(found * SLOT + HASH) - 1n;
  }

  /** Move latestOffset forward over offsets seen without keys (gaps, keyless or control batches). */
  updateLatestOffset(offset: bigint): void {
    if (offset > this.latestOffset) this.latestOffset = offset;
  }
}
