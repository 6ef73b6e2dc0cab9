/**
 * Growing big-endian writer (starts small, doubles).
 *
 * - `Writer.frame()` reserves the 4-byte Kafka size prefix; `finishFrame()`
 *   patches it and returns the whole frame as one Buffer (a slice, no copy).
 * - Zero-copy records: with `zeroCopyThreshold`, a `records` value of at least
 *   that many bytes is not copied but kept by reference; take the output with
 *   `finishChunks()` / `finishFrameChunks()` (a list for socket.writev / cork).
 *   `finish()` / `finishFrame()` still work and concatenate in that case.
 * - Values are trusted (they come from the gateway itself): a null where the
 *   version does not allow one throws a KafkaCodecError; an out-of-range number
 *   throws Node's RangeError from Buffer.write*.
 */
import { KafkaCodecError } from './errors.js';
import { MAX_STRING_LENGTH } from './reader.js';

/** Writes one array element; `version` is the message version. */
export type ElementWriter<T> = (w: Writer, version: number, value: T) => void;

export interface WriterOptions {
  /** First buffer size in bytes (default 256). */
  initialSize?: number;
  /** Records of at least this many bytes are referenced, not copied (default: always copy). */
  zeroCopyThreshold?: number;
}

const FRAME_PREFIX = 4;

function totalLength(parts: readonly Buffer[]): number {
  let n = 0;
  for (const p of parts) n += p.length;
  return n;
}

export function unsignedVarintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

export class Writer {
  private buf: Buffer;
  pos = 0;
  private readonly zeroCopyThreshold: number;
  /** Finished segments when records were referenced instead of copied. */
  private chunks: Buffer[] | null = null;
  private chunkStart = 0;
  private externalBytes = 0;
  /** > 0 while inside a size-prefixed (tagged) section: no zero-copy there. */
  private sizedDepth = 0;
  private framed = false;

  constructor(options: WriterOptions = {}) {
    this.buf = Buffer.allocUnsafe(Math.max(16, options.initialSize ?? 256));
    this.zeroCopyThreshold = options.zeroCopyThreshold ?? Infinity;
  }

  /** A writer whose first 4 bytes are the frame size, patched by finishFrame(). */
  static frame(options?: WriterOptions): Writer {
    const w = new Writer(options);
    w.pos = FRAME_PREFIX;
    w.framed = true;
    return w;
  }

  /** Total bytes written so far (including referenced records). */
  get length(): number {
    // Internal positions are absolute: segments already handed to chunks cover [0, chunkStart).
    return this.pos + this.externalBytes;
  }

  private ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    // Bytes before chunkStart already live in finished chunks: no need to copy them.
    this.buf.copy(next, this.chunkStart, this.chunkStart, this.pos);
    this.buf = next;
  }

  // ---------------------------------------------------------------- fixed size

  int8(v: number): void {
    this.ensure(1);
    this.buf.writeInt8(v, this.pos);
    this.pos += 1;
  }

  bool(v: boolean): void {
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }

  int16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeInt16BE(v, this.pos);
  }

  uint16(v: number): void {
    this.ensure(2);
    this.pos = this.buf.writeUInt16BE(v, this.pos);
  }

  int32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeInt32BE(v, this.pos);
  }

  uint32(v: number): void {
    this.ensure(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }

  int64(v: bigint): void {
    this.ensure(8);
    this.pos = this.buf.writeBigInt64BE(v, this.pos);
  }

  float64(v: number): void {
    this.ensure(8);
    this.pos = this.buf.writeDoubleBE(v, this.pos);
  }

  uuid(v: Buffer): void {
    if (v === null || v.length !== 16) throw new KafkaCodecError(`uuid must be 16 bytes, got ${v === null ? 'null' : v.length}`);
    this.raw(v);
  }

  /** Copies `b` as is (no length prefix). */
  raw(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  // ---------------------------------------------------------------- varints

  unsignedVarint(v: number): void {
    if (!(v >= 0 && v <= 0xffffffff)) throw new KafkaCodecError(`unsigned varint out of range: ${v}`);
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (v >= 0x80) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v = v >>> 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  varint(v: number): void {
    this.unsignedVarint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  varlong(v: bigint): void {
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));
    this.ensure(10);
    while (u >= 0x80n) {
      this.buf[this.pos++] = Number(u & 0x7fn) | 0x80;
      u >>= 7n;
    }
    this.buf[this.pos++] = Number(u);
  }

  // ---------------------------------------------------------------- strings (UTF-8)

  private static nullError(what: string): KafkaCodecError {
    return new KafkaCodecError(`null ${what} where the version does not allow null`);
  }

  private checkStringLength(n: number): void {
    if (n > MAX_STRING_LENGTH) throw new KafkaCodecError(`string of ${n} bytes exceeds ${MAX_STRING_LENGTH}`);
  }

  string(s: string | null): void {
    if (s === null) throw Writer.nullError('string');
    this.ensure(2 + s.length * 3);
    const n = this.buf.write(s, this.pos + 2);
    this.checkStringLength(n);
    this.buf.writeInt16BE(n, this.pos);
    this.pos += 2 + n;
  }

  nullableString(s: string | null): void {
    if (s === null) this.int16(-1);
    else this.string(s);
  }

  compactString(s: string | null): void {
    if (s === null) throw Writer.nullError('string');
    const max = s.length * 3;
    if (max < 0x7f) {
      // length + 1 surely fits one varint byte: write the text, then its length.
      this.ensure(1 + max);
      const n = this.buf.write(s, this.pos + 1);
      this.buf[this.pos] = n + 1;
      this.pos += 1 + n;
      return;
    }
    const n = Buffer.byteLength(s);
    this.checkStringLength(n);
    this.unsignedVarint(n + 1);
    this.ensure(n);
    this.pos += this.buf.write(s, this.pos);
  }

  compactNullableString(s: string | null): void {
    if (s === null) this.unsignedVarint(0);
    else this.compactString(s);
  }

  // ---------------------------------------------------------------- bytes

  bytes(b: Buffer | null): void {
    if (b === null) throw Writer.nullError('bytes');
    this.int32(b.length);
    this.raw(b);
  }

  nullableBytes(b: Buffer | null): void {
    if (b === null) this.int32(-1);
    else this.bytes(b);
  }

  compactBytes(b: Buffer | null): void {
    if (b === null) throw Writer.nullError('bytes');
    this.unsignedVarint(b.length + 1);
    this.raw(b);
  }

  compactNullableBytes(b: Buffer | null): void {
    if (b === null) this.unsignedVarint(0);
    else this.compactBytes(b);
  }

  /**
   * Records (a nullable byte blob, int32 length): one buffer or several written
   * back to back as one blob; large ones may be referenced, see WriterOptions.
   */
  records(b: Buffer | readonly Buffer[] | null): void {
    if (b === null) return this.int32(-1);
    if (Buffer.isBuffer(b)) {
      this.int32(b.length);
      return this.blob(b);
    }
    this.int32(totalLength(b));
    for (const part of b) this.blob(part);
  }

  compactRecords(b: Buffer | readonly Buffer[] | null): void {
    if (b === null) return this.unsignedVarint(0);
    if (Buffer.isBuffer(b)) {
      this.unsignedVarint(b.length + 1);
      return this.blob(b);
    }
    this.unsignedVarint(totalLength(b) + 1);
    for (const part of b) this.blob(part);
  }

  private blob(b: Buffer): void {
    if (b.length < this.zeroCopyThreshold || this.sizedDepth > 0) return this.raw(b);
    (this.chunks ??= []).push(this.buf.subarray(this.chunkStart, this.pos), b);
    this.chunkStart = this.pos;
    this.externalBytes += b.length;
  }

  // ---------------------------------------------------------------- arrays

  array<T>(items: readonly T[] | null, write: ElementWriter<T>, version: number): void {
    if (items === null) throw Writer.nullError('array');
    this.int32(items.length);
    for (let i = 0; i < items.length; i++) write(this, version, items[i]!);
  }

  nullableArray<T>(items: readonly T[] | null, write: ElementWriter<T>, version: number): void {
    if (items === null) this.int32(-1);
    else this.array(items, write, version);
  }

  compactArray<T>(items: readonly T[] | null, write: ElementWriter<T>, version: number): void {
    if (items === null) throw Writer.nullError('array');
    this.unsignedVarint(items.length + 1);
    for (let i = 0; i < items.length; i++) write(this, version, items[i]!);
  }

  compactNullableArray<T>(items: readonly T[] | null, write: ElementWriter<T>, version: number): void {
    if (items === null) this.unsignedVarint(0);
    else this.compactArray(items, write, version);
  }

  // ---------------------------------------------------------------- size-prefixed sections (tagged fields)

  /** Starts a section preceded by its unsigned-varint byte size; returns a mark for endSized(). */
  beginSized(): number {
    this.ensure(1);
    this.sizedDepth++;
    return this.pos++;
  }

  /** Writes the size of the section started at `mark`, moving its bytes if the size needs > 1 byte. */
  endSized(mark: number): void {
    this.sizedDepth--;
    const size = this.pos - mark - 1;
    const extra = unsignedVarintSize(size) - 1;
    if (extra > 0) {
      this.ensure(extra);
      this.buf.copyWithin(mark + 1 + extra, mark + 1, this.pos);
    }
    const end = this.pos + extra;
    this.pos = mark;
    this.unsignedVarint(size);
    this.pos = end;
  }

  // ---------------------------------------------------------------- output

  /** The bytes written, as one Buffer (a slice of the internal buffer unless records were referenced). */
  finish(): Buffer {
    if (this.chunks === null) return this.buf.subarray(0, this.pos);
    return Buffer.concat(this.finishChunks());
  }

  /** The bytes written, as segments to send in order (referenced records are their own segments). */
  finishChunks(): Buffer[] {
    const tail = this.buf.subarray(this.chunkStart, this.pos);
    if (this.chunks === null) return [tail];
    return tail.length > 0 ? [...this.chunks, tail] : this.chunks.slice();
  }

  /** Patches the 4-byte size prefix reserved by Writer.frame() and returns the frame. */
  finishFrame(): Buffer {
    this.patchFrameSize();
    return this.finish();
  }

  finishFrameChunks(): Buffer[] {
    this.patchFrameSize();
    return this.finishChunks();
  }

  private patchFrameSize(): void {
    if (!this.framed) throw new KafkaCodecError('finishFrame() on a writer not created by Writer.frame()');
    const head = this.chunks === null ? this.buf : this.chunks[0]!;
    head.writeInt32BE(this.length - FRAME_PREFIX, 0);
  }
}
