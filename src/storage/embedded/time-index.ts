/**
 * Sparse time index of one segment: entries (timestamp int64, relativeOffset int32),
 * 12 bytes each, with strictly increasing timestamps. At every offset-index point the
 * segment's max timestamp so far is added (when it grew) together with the base offset
 * of the first batch that reached it; sealing a segment adds the final maximum, so the
 * last entry of a sealed segment is its max timestamp.
 *
 * Invariant used by lookups: every batch before an entry's offset has a max timestamp
 * smaller than the entry's timestamp.
 */
export const TIME_ENTRY = 12;

export class TimeIndex {
  private buf: Buffer;
  private n = 0;

  constructor(initial?: Buffer) {
    if (initial !== undefined && initial.length > 0) {
      this.buf = Buffer.allocUnsafe(Math.max(initial.length, 64 * TIME_ENTRY));
      initial.copy(this.buf);
      this.n = initial.length / TIME_ENTRY;
    } else {
      this.buf = Buffer.allocUnsafe(16 * TIME_ENTRY);
    }
  }

  static isValid(data: Buffer): boolean {
    if (data.length % TIME_ENTRY !== 0) return false;
    let lastTs = -(2n ** 63n);
    let lastOff = -1;
    for (let p = 0; p < data.length; p += TIME_ENTRY) {
      const ts = data.readBigInt64BE(p);
      const off = data.readInt32BE(p + 8);
      if (ts <= lastTs || off < lastOff) return false;
      lastTs = ts;
      lastOff = off;
    }
    return true;
  }

  get entries(): number {
    return this.n;
  }

  get sizeInBytes(): number {
    return this.n * TIME_ENTRY;
  }

  /** Add (timestamp, relOffset) if timestamp is larger than the last entry's. */
  maybeAppend(timestamp: bigint, relOffset: number): void {
    if (timestamp < 0n) return;
    if (this.n > 0 && timestamp <= this.buf.readBigInt64BE((this.n - 1) * TIME_ENTRY)) return;
    if ((this.n + 1) * TIME_ENTRY > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.n * TIME_ENTRY);
      this.buf = bigger;
    }
    const p = this.n * TIME_ENTRY;
    this.buf.writeBigInt64BE(timestamp, p);
    this.buf.writeInt32BE(relOffset, p + 8);
    this.n++;
  }

  /** Relative offset of the entry with the largest timestamp <= ts; 0 when none (scan from the segment start). */
  lookup(timestamp: bigint): number {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buf.readBigInt64BE(mid * TIME_ENTRY) <= timestamp) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    return found < 0 ? 0 : this.buf.readInt32BE(found * TIME_ENTRY + 8);
  }

  last(): { timestamp: bigint; relOffset: number } | null {
    if (this.n === 0) return null;
    const p = (this.n - 1) * TIME_ENTRY;
    return { timestamp: this.buf.readBigInt64BE(p), relOffset: this.buf.readInt32BE(p + 8) };
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.n * TIME_ENTRY);
  }
}
