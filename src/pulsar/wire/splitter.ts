/**
 * Splits a Pulsar byte stream into frames: chunks from the socket in, whole
 * frames out (WITHOUT the 4-byte totalSize prefix, ready for decodeFrame).
 * A frame lying in one chunk is returned as a slice of it (no copy); one
 * spread over chunks is copied once. A size prefix above the limit throws
 * PulsarFrameSizeError (the connection must then be closed: the stream can no
 * longer be followed), as Pulsar's LengthFieldBasedFrameDecoder does.
 */
import { PulsarProtoError } from '../proto/index.js';
import { DEFAULT_MAX_MESSAGE_SIZE, maxFrameSizeFor } from './frame.js';

export class PulsarFrameSizeError extends PulsarProtoError {
  constructor(
    readonly frameSize: number,
    readonly maxFrameSize: number,
  ) {
    super(`frame of ${frameSize} bytes exceeds the limit of ${maxFrameSize}`);
    this.name = 'PulsarFrameSizeError';
  }
}

export class PulsarFrameSplitter {
  /**
   * Largest whole frame accepted, size prefix included. Pulsar's clients use
   * maxFrameSizeFor(max_message_size of CONNECTED); may be changed between pushes.
   */
  maxFrameSize: number;
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private failed = false;

  constructor(maxFrameSize = maxFrameSizeFor(DEFAULT_MAX_MESSAGE_SIZE)) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes received but not yet returned as a frame (a partial frame at the end of a stream). */
  get buffered(): number {
    return this.bufferedBytes;
  }

  /** Adds a chunk; returns the frames it completes (possibly none), in order. */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw new PulsarProtoError('frame splitter used after a framing error');
    const frames: Buffer[] = [];
    if (chunk.length === 0) return frames;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
    while (this.bufferedBytes >= 4) {
      const size = this.peekSize();
      if (size + 4 > this.maxFrameSize) {
        this.failed = true;
        this.chunks = [];
        this.bufferedBytes = 0;
        throw new PulsarFrameSizeError(size + 4, this.maxFrameSize);
      }
      if (this.bufferedBytes < 4 + size) break;
      frames.push(this.take(4 + size).subarray(4));
    }
    return frames;
  }

  private peekSize(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    return Buffer.concat(this.chunks, 4).readUInt32BE(0); // rare: the prefix is split across chunks
  }

  /** Removes n bytes from the front: a slice when they lie in one chunk, one copy otherwise. */
  private take(n: number): Buffer {
    this.bufferedBytes -= n;
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
