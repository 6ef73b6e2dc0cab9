/**
 * Bytes received from a socket, kept as the chunks they came in, for
 * length-prefixed framing (Kafka's and Pulsar's 4-byte size prefixes).
 * Taking n bytes returns a slice when they lie in one chunk (no copy) and
 * copies once when they span chunks.
 */
export class ChunkQueue {
  private chunks: Buffer[] = [];
  private bytes = 0;

  get length(): number {
    return this.bytes;
  }

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.bytes += chunk.length;
  }

  clear(): void {
    this.chunks = [];
    this.bytes = 0;
  }

  /** The first 4 bytes as a signed big-endian int; call only when length >= 4. */
  peekInt32(): number {
    const first = this.chunks[0]!;
    return first.length >= 4 ? first.readInt32BE(0) : Buffer.concat(this.chunks, 4).readInt32BE(0);
  }

  /** The first 4 bytes as an unsigned big-endian int; call only when length >= 4. */
  peekUInt32(): number {
    const first = this.chunks[0]!;
    return first.length >= 4 ? first.readUInt32BE(0) : Buffer.concat(this.chunks, 4).readUInt32BE(0);
  }

  /** Removes n bytes (n <= length) from the front. */
  take(n: number): Buffer {
    this.bytes -= n;
    const first = this.chunks[0]!;
    if (first.length >= n) {
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      return first.subarray(0, n);
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const c = this.chunks[0]!;
      const want = n - filled;
      if (c.length <= want) {
        c.copy(out, filled);
        filled += c.length;
        this.chunks.shift();
      } else {
        c.copy(out, filled, 0, want);
        this.chunks[0] = c.subarray(want);
        filled += want;
      }
    }
    return out;
  }
}
