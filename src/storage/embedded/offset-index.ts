/**
 * Sparse offset index of one segment: entries (relativeOffset int32, position int32),
 * 8 bytes each, big endian, in increasing order. An entry is added about every
 * `index.interval.bytes` of log data and maps the base offset of a batch to its file
 * position. Kept as one compact Buffer (no per-entry objects); the file holds the
 * same bytes (written when the segment is sealed and on clean shutdown).
 */
export const OFFSET_ENTRY = 8;

export class OffsetIndex {
  private buf: Buffer;
  private n = 0;

  constructor(initial?: Buffer) {
    if (initial !== undefined && initial.length > 0) {
      this.buf = Buffer.allocUnsafe(Math.max(initial.length, 64 * OFFSET_ENTRY));
      initial.copy(this.buf);
      this.n = initial.length / OFFSET_ENTRY;
    } else {
      this.buf = Buffer.allocUnsafe(16 * OFFSET_ENTRY);
    }
  }

  /** Check file content: whole entries, strictly increasing offsets and positions. */
  static isValid(data: Buffer): boolean {
    if (data.length % OFFSET_ENTRY !== 0) return false;
    let lastOff = -1;
    let lastPos = -1;
    for (let p = 0; p < data.length; p += OFFSET_ENTRY) {
      const off = data.readInt32BE(p);
      const pos = data.readInt32BE(p + 4);
      if (off <= lastOff || pos <= lastPos) return false;
      lastOff = off;
      lastPos = pos;
    }
    return true;
  }

  get entries(): number {
    return this.n;
  }

  /** Bytes used in memory/on disk. */
  get sizeInBytes(): number {
    return this.n * OFFSET_ENTRY;
  }

  append(relOffset: number, position: number): void {
    if (this.n > 0 && relOffset <= this.buf.readInt32BE((this.n - 1) * OFFSET_ENTRY)) return;
    if ((this.n + 1) * OFFSET_ENTRY > this.buf.length) {
      const bigger = Buffer.allocUnsafe(this.buf.length * 2);
      this.buf.copy(bigger, 0, 0, this.n * OFFSET_ENTRY);
      this.buf = bigger;
    }
    const p = this.n * OFFSET_ENTRY;
    this.buf.writeInt32BE(relOffset, p);
    this.buf.writeInt32BE(position, p + 4);
    this.n++;
  }

  /** Position of the batch with the largest indexed relative offset <= relOffset (0 if none). */
  lookup(relOffset: number): { relOffset: number; position: number } {
    let lo = 0;
    let hi = this.n - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.buf.readInt32BE(mid * OFFSET_ENTRY) <= relOffset) {
        found = mid;
        lo = mid + 1;
      } else {
        hi = mid - 1;
      }
    }
    if (found < 0) return { relOffset: 0, position: 0 };
    return { relOffset: this.buf.readInt32BE(found * OFFSET_ENTRY), position: this.buf.readInt32BE(found * OFFSET_ENTRY + 4) };
  }

  last(): { relOffset: number; position: number } | null {
    if (this.n === 0) return null;
    const p = (this.n - 1) * OFFSET_ENTRY;
    return { relOffset: this.buf.readInt32BE(p), position: this.buf.readInt32BE(p + 4) };
  }

  /** The entries as stored on disk (a view, not a copy). */
  bytes(): Buffer {
    return this.buf.subarray(0, this.n * OFFSET_ENTRY);
  }
}
