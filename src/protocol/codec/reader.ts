/**
 * Bounds-checked big-endian reader over a Buffer region [offset, end).
 *
 * Untrusted input: every read checks the remaining bytes first and throws a
 * KafkaCodecError, never a RangeError. Lengths are never trusted: a string or
 * bytes length larger than what is left, an array count that cannot fit in
 * what is left (each element takes at least `minSize` >= 1 bytes, the same
 * rule as Kafka's generated Java code) or a negative length other than -1
 * (null) throws before anything is allocated.
 *
 * bytes / records / uuid values are SLICES of the input buffer (no copy): they
 * stay valid only as long as the caller does not reuse the input buffer.
 */
import { KafkaCodecError } from './errors.js';

/** Reads one array element; `version` is the message version. */
export type ElementReader<T> = (r: Reader, version: number) => T;

/** Longest string Kafka accepts (its Java code rejects longer ones). */
export const MAX_STRING_LENGTH = 0x7fff;

export class Reader {
  readonly buf: Buffer;
  offset: number;
  /** Exclusive end of the readable region (moved while reading a tagged field). */
  end: number;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    if (!(offset >= 0 && offset <= end && end <= buf.length)) {
      throw new KafkaCodecError(`bad reader region [${offset}, ${end}) of a ${buf.length}-byte buffer`);
    }
    this.buf = buf;
    this.offset = offset;
    this.end = end;
  }

  remaining(): number {
    return this.end - this.offset;
  }

  /** Throws unless `n` more bytes can be read; returns the current offset. */
  private take(n: number): number {
    const at = this.offset;
    if (this.end - at < n) {
      throw new KafkaCodecError(`truncated: need ${n} bytes at offset ${at}, have ${this.end - at}`);
    }
    this.offset = at + n;
    return at;
  }

  skip(n: number): void {
    this.take(n);
  }

  // ---------------------------------------------------------------- fixed size

  int8(): number {
    return this.buf.readInt8(this.take(1));
  }

  bool(): boolean {
    return this.buf[this.take(1)] !== 0;
  }

  int16(): number {
    return this.buf.readInt16BE(this.take(2));
  }

  uint16(): number {
    return this.buf.readUInt16BE(this.take(2));
  }

  int32(): number {
    return this.buf.readInt32BE(this.take(4));
  }

  uint32(): number {
    return this.buf.readUInt32BE(this.take(4));
  }

  int64(): bigint {
    return this.buf.readBigInt64BE(this.take(8));
  }

  float64(): number {
    return this.buf.readDoubleBE(this.take(8));
  }

  /** 16 bytes, returned as a slice of the input. */
  uuid(): Buffer {
    const at = this.take(16);
    return this.buf.subarray(at, at + 16);
  }

  // ---------------------------------------------------------------- varints

  /** Unsigned LEB128 varint of at most 5 bytes (uint32). */
  unsignedVarint(): number {
    const buf = this.buf;
    let value = 0;
    for (let i = 0; i < 5; i++) {
      if (this.offset >= this.end) {
        throw new KafkaCodecError(`truncated: varint byte ${i + 1} at offset ${this.offset}`);
      }
      const b = buf[this.offset++]!;
      if (i < 4) {
        value |= (b & 0x7f) << (7 * i);
        if (b < 0x80) return value >>> 0;
      } else {
        if (b & 0x80) throw new KafkaCodecError(`unsigned varint longer than 5 bytes at offset ${this.offset - 5}`);
        if (b > 0x0f) throw new KafkaCodecError(`unsigned varint exceeds 32 bits at offset ${this.offset - 5}`);
        return (value >>> 0) + b * 0x10000000;
      }
    }
    /* c8 ignore next */
    throw new KafkaCodecError('unreachable');
  }

  /** Zig-zag signed varint (int32). */
  varint(): number {
    const u = this.unsignedVarint();
    return (u >>> 1) ^ -(u & 1);
  }

  /** Zig-zag signed varlong (int64), at most 10 bytes. */
  varlong(): bigint {
    let value = 0n;
    for (let i = 0; i < 10; i++) {
      if (this.offset >= this.end) {
        throw new KafkaCodecError(`truncated: varlong byte ${i + 1} at offset ${this.offset}`);
      }
      const b = this.buf[this.offset++]!;
      value |= BigInt(b & 0x7f) << BigInt(7 * i);
      if (b < 0x80) return (value >> 1n) ^ -(value & 1n);
    }
    throw new KafkaCodecError(`varlong longer than 10 bytes at offset ${this.offset - 10}`);
  }

  // ---------------------------------------------------------------- lengths

  /** Validates a decoded length: -1 is null (only if allowed), other negatives throw. */
  private length(n: number, what: string, at: number, nullable: boolean, max = Infinity): number {
    if (n < 0) {
      if (n === -1 && nullable) return -1;
      throw new KafkaCodecError(
        n === -1 ? `null ${what} at offset ${at} where it is not nullable` : `negative ${what} length ${n} at offset ${at}`,
      );
    }
    if (n > max) throw new KafkaCodecError(`${what} length ${n} at offset ${at} exceeds ${max}`);
    if (n > this.end - this.offset) {
      throw new KafkaCodecError(`${what} length ${n} at offset ${at} exceeds remaining ${this.end - this.offset} bytes`);
    }
    return n;
  }

  private classicLength(what: string, nullable: boolean, max?: number): number {
    const at = this.offset;
    return this.length(what === 'string' ? this.int16() : this.int32(), what, at, nullable, max);
  }

  private compactLength(what: string, nullable: boolean, max?: number): number {
    const at = this.offset;
    return this.length(this.unsignedVarint() - 1, what, at, nullable, max);
  }

  private utf8(n: number): string {
    const at = this.offset;
    this.offset = at + n;
    return this.buf.toString('utf8', at, at + n);
  }

  private slice(n: number): Buffer {
    const at = this.offset;
    this.offset = at + n;
    return this.buf.subarray(at, at + n);
  }

  // ---------------------------------------------------------------- strings (UTF-8)

  /** int16 length + UTF-8; null (-1) throws. */
  string(): string {
    return this.utf8(this.classicLength('string', false, MAX_STRING_LENGTH));
  }

  nullableString(): string | null {
    const n = this.classicLength('string', true, MAX_STRING_LENGTH);
    return n < 0 ? null : this.utf8(n);
  }

  /** unsigned varint (length + 1) + UTF-8; null (0) throws. */
  compactString(): string {
    return this.utf8(this.compactLength('string', false, MAX_STRING_LENGTH));
  }

  compactNullableString(): string | null {
    const n = this.compactLength('string', true, MAX_STRING_LENGTH);
    return n < 0 ? null : this.utf8(n);
  }

  // ---------------------------------------------------------------- bytes (slices, never copies)

  bytes(): Buffer {
    return this.slice(this.classicLength('bytes', false));
  }

  nullableBytes(): Buffer | null {
    const n = this.classicLength('bytes', true);
    return n < 0 ? null : this.slice(n);
  }

  compactBytes(): Buffer {
    return this.slice(this.compactLength('bytes', false));
  }

  compactNullableBytes(): Buffer | null {
    const n = this.compactLength('bytes', true);
    return n < 0 ? null : this.slice(n);
  }

  // ---------------------------------------------------------------- arrays

  array<T>(read: ElementReader<T>, version: number, minSize = 1): T[] {
    const at = this.offset;
    return this.elements(this.int32(), at, read, version, minSize, false) as T[];
  }

  nullableArray<T>(read: ElementReader<T>, version: number, minSize = 1): T[] | null {
    const at = this.offset;
    return this.elements(this.int32(), at, read, version, minSize, true);
  }

  compactArray<T>(read: ElementReader<T>, version: number, minSize = 1): T[] {
    const at = this.offset;
    return this.elements(this.unsignedVarint() - 1, at, read, version, minSize, false) as T[];
  }

  compactNullableArray<T>(read: ElementReader<T>, version: number, minSize = 1): T[] | null {
    const at = this.offset;
    return this.elements(this.unsignedVarint() - 1, at, read, version, minSize, true);
  }

  private elements<T>(
    n: number,
    at: number,
    read: ElementReader<T>,
    version: number,
    minSize: number,
    nullable: boolean,
  ): T[] | null {
    if (n < 0) {
      if (n === -1 && nullable) return null;
      throw new KafkaCodecError(
        n === -1 ? `null array at offset ${at} where it is not nullable` : `negative array length ${n} at offset ${at}`,
      );
    }
    // Checked before allocating: a hostile count cannot make us build a huge array.
    if (n * (minSize > 1 ? minSize : 1) > this.end - this.offset) {
      throw new KafkaCodecError(`array length ${n} at offset ${at} exceeds remaining ${this.end - this.offset} bytes`);
    }
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read(this, version));
    return out;
  }

  // ---------------------------------------------------------------- tagged fields

  /**
   * Restricts reading to the next `size` bytes (a tagged field's payload).
   * Returns the previous end, to be handed back to popLimit().
   */
  pushLimit(size: number): number {
    if (size > this.end - this.offset) {
      throw new KafkaCodecError(
        `tagged field size ${size} at offset ${this.offset} exceeds remaining ${this.end - this.offset} bytes`,
      );
    }
    const prev = this.end;
    this.end = this.offset + size;
    return prev;
  }

  /** Skips a whole tagged-field section (for structs that know no tags). */
  skipTaggedFields(): void {
    for (let n = this.unsignedVarint(); n > 0; n--) {
      this.unsignedVarint();
      this.popLimit(this.pushLimit(this.unsignedVarint()));
    }
  }

  /** Skips whatever is left of the limited region and restores the previous end. */
  popLimit(prevEnd: number): void {
    this.offset = this.end;
    this.end = prevEnd;
  }
}
