/**
 * Reusable buffers for Fetch reads of segment data.
 *
 * Why: every read of a segment range needs a buffer of up to the fetch's byte
 * budget (1 MiB per partition by default). A fresh Buffer per read is a new
 * ArrayBuffer whose memory V8 counts as external allocation; at consume rates
 * of 100+ MB/s that allocation alone made V8 run a full mark-compact every
 * few dozen fetches ("GC in old space requested"), about a third of the
 * gateway's CPU in a consume run and pauses that stalled the consumer's
 * fetch loop. Kafka's broker sends file data with sendfile, or through a
 * reused buffer over TLS; this pool is that buffer for the gateway.
 *
 * Rules:
 *  - take(n) hands out a buffer of at least n bytes (its length may be larger:
 *    callers use explicit lengths); small sizes are plain allocations;
 *  - give(buf) returns a buffer once nothing reads it any more (the response
 *    holding it was written to the socket); a buffer never given back is
 *    simply garbage-collected, so forgetting give() costs memory churn, never
 *    correctness; giving a buffer back while it is still referenced would
 *    corrupt a response, so callers give back only from one place each
 *    (a read that returns nothing, or ReadResult.release);
 *  - at most `maxPooledBytes` wait in the pool; larger returns are dropped.
 */

/** Reads below this size use ordinary allocations (Node's slab covers the small ones; these are cheap). */
export const MIN_POOLED_BYTES = 64 * 1024;
/** Pooled sizes are multiples of this, so buffers of one fetch size fit each other's reads. */
const SIZE_STEP = 64 * 1024;

export class ReadBufferPool {
  private readonly free: Buffer[] = [];
  private freeBytes = 0;
  /** Buffers handed out that came from the pool (tests, metrics). */
  reused = 0;
  /** Pooled-size buffers allocated because none fitted. */
  allocated = 0;

  constructor(readonly maxPooledBytes: number) {}

  /** A buffer of at least n bytes (length >= n). */
  take(n: number): Buffer {
    if (n < MIN_POOLED_BYTES || this.maxPooledBytes <= 0) return Buffer.allocUnsafe(n);
    // the smallest free buffer that fits and is not more than twice the need
    let best = -1;
    for (let i = 0; i < this.free.length; i++) {
      const len = this.free[i]!.length;
      if (len >= n && len <= 2 * n && (best < 0 || len < this.free[best]!.length)) best = i;
    }
    if (best >= 0) {
      const buf = this.free[best]!;
      this.free[best] = this.free[this.free.length - 1]!;
      this.free.pop();
      this.freeBytes -= buf.length;
      this.reused++;
      return buf;
    }
    this.allocated++;
    return Buffer.allocUnsafeSlow(Math.ceil(n / SIZE_STEP) * SIZE_STEP);
  }

  /** Return a buffer from take(); call once nothing references it (or its slices) any more. */
  give(buf: Buffer): void {
    if (buf.length < MIN_POOLED_BYTES || buf.byteOffset !== 0 || buf.length !== buf.buffer.byteLength) return;
    if (this.freeBytes + buf.length > this.maxPooledBytes) return;
    if (this.free.includes(buf)) return; // given twice: keep one entry, never hand it out to two readers
    this.free.push(buf);
    this.freeBytes += buf.length;
  }

  /** Bytes waiting in the pool. */
  get pooledBytes(): number {
    return this.freeBytes;
  }
}
