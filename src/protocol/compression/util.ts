/**
 * Shared plumbing of the codecs: output-limit checks, a growable output
 * buffer that never exceeds the caller's limit, and the "work in slices, then
 * yield" driver that keeps the event loop responsive while a large input is
 * (de)compressed on the main thread.
 */
import { constants } from 'node:buffer';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { CompressionError } from './errors.js';

/** Output bytes (or input bytes when compressing) a step may produce before the async driver yields. */
export const SLICE_BYTES = 1 << 20;

export function checkMaxOutput(codec: number, maxOutputBytes: number): void {
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw new CompressionError(codec, 'unsupported', `maxOutputBytes must be a non-negative integer, got ${maxOutputBytes}`);
  }
}

/** Clamp a limit to what one Buffer can hold. */
export function bufferLimit(maxOutputBytes: number): number {
  return Math.min(maxOutputBytes, constants.MAX_LENGTH);
}

export function tooLarge(codec: number, maxOutputBytes: number): CompressionError {
  return new CompressionError(codec, 'too-large', `decompressed size exceeds the limit of ${maxOutputBytes} bytes`);
}

/**
 * A (de)compression in steps: each call does roughly `budget` bytes of work
 * and returns true when finished.
 */
export interface Stepper<T> {
  step(budget: number): boolean;
  result(): T;
}

export function runSync<T>(s: Stepper<T>): T {
  while (!s.step(Number.MAX_SAFE_INTEGER)) {
    /* step until done */
  }
  return s.result();
}

/** Runs a stepper in slices of SLICE_BYTES, yielding to the event loop between slices. */
export async function runAsync<T>(s: Stepper<T>, slice = SLICE_BYTES): Promise<T> {
  while (!s.step(slice)) await yieldToLoop();
  return s.result();
}

/**
 * A growable output buffer with a hard limit: capacity grows by doubling but
 * never past `limit`. Used by the LZ4 and zstd decoders.
 */
export class Output {
  buf: Buffer;
  len = 0;
  constructor(
    initial: number,
    readonly limit: number,
  ) {
    this.buf = Buffer.allocUnsafe(Math.max(0, Math.min(initial, limit)));
  }

  /** Grow so that at least `need` bytes fit (need <= limit); returns false when need > limit. */
  ensure(need: number): boolean {
    if (need <= this.buf.length) return true;
    if (need > this.limit) return false;
    let cap = Math.max(this.buf.length * 2, 4096, need);
    if (cap > this.limit) cap = this.limit;
    const next = Buffer.allocUnsafe(cap);
    this.buf.copy(next, 0, 0, this.len);
    this.buf = next;
    return true;
  }

  /** Grow by doubling (up to the limit); false when already at the limit. */
  grow(): boolean {
    if (this.buf.length >= this.limit) return false;
    return this.ensure(Math.min(this.limit, Math.max(this.buf.length * 2, 4096)));
  }

  result(): Buffer {
    return this.buf.subarray(0, this.len);
  }
}
