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
import { ChunkQueue } from '../../network/chunk-queue.js';

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
  private readonly queue = new ChunkQueue();
  private failed = false;

  constructor(maxFrameSize = maxFrameSizeFor(DEFAULT_MAX_MESSAGE_SIZE)) {
    this.maxFrameSize = maxFrameSize;
  }

  /** Bytes received but not yet returned as a frame (a partial frame at the end of a stream). */
  get buffered(): number {
    return this.queue.length;
  }

  /** Adds a chunk; returns the frames it completes (possibly none), in order. */
  push(chunk: Buffer): Buffer[] {
    if (this.failed) throw new PulsarProtoError('frame splitter used after a framing error');
    const frames: Buffer[] = [];
    this.queue.push(chunk);
    while (this.queue.length >= 4) {
      const size = this.queue.peekUInt32();
      if (size + 4 > this.maxFrameSize) {
        this.failed = true;
        this.queue.clear();
        throw new PulsarFrameSizeError(size + 4, this.maxFrameSize);
      }
      if (this.queue.length < 4 + size) break;
      frames.push(this.queue.take(4 + size).subarray(4));
    }
    return frames;
  }
}
