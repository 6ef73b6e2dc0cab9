/**
 * The tiny protobuf (proto2) runtime under the code generated from Pulsar's
 * PulsarApi.proto (./pulsar-api.ts, by scripts/gen-pulsar-protocol.ts).
 *
 * Untrusted input: every read is checked against the current limit (the end
 * of the buffer region, or of the length-delimited field being read) and
 * throws a PulsarProtoError, never a RangeError. Lengths are never trusted,
 * varints longer than 10 bytes (or with bits above 64) are rejected, wire
 * types other than varint / 64-bit / length-delimited / 32-bit are rejected
 * (groups included), and nesting is bounded by MAX_DEPTH.
 *
 * Value mapping: 32-bit integers, enums, float and double -> number; every
 * 64-bit type -> bigint (uint64 / fixed64 0..2^64-1, int64 / sint64 /
 * sfixed64 signed); bytes -> Buffer SLICES of the input (no copy).
 */

/** Every failure to decode (or to encode an invalid value) is one of these. */
export class PulsarProtoError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PulsarProtoError';
  }
}

/** Deepest nesting of length-delimited messages accepted (protobuf's own default limit). */
export const MAX_DEPTH = 100;

const TWO_32 = 4294967296;
const MAX_U64 = (1n << 64n) - 1n;
const MIN_I64 = -(1n << 63n);
const MAX_I64 = (1n << 63n) - 1n;
const EMPTY = Buffer.alloc(0);

/** Shape of the codec object generated for each message (same name as its interface). */
export interface ProtoCodec<T> {
  readonly name: string;
  /** Serializes `m` (no length prefix) into a new Buffer. */
  encode(m: T): Buffer;
  /** Appends `m` (no length prefix) to `w`. */
  write(w: ProtoWriter, m: T): void;
  /** Decodes the whole region [offset, end) of `buf` as one message. */
  decode(buf: Buffer, offset?: number, end?: number): T;
  /** Reads one message from `r` up to its current limit. */
  read(r: ProtoReader): T;
}

// ---------------------------------------------------------------- reader

export class ProtoReader {
  readonly buf: Buffer;
  pos: number;
  /** Exclusive end of what may be read now (the enclosing length-delimited field). */
  limit: number;
  depth = 0;

  constructor(buf: Buffer, offset = 0, end = buf.length) {
    if (!Buffer.isBuffer(buf)) throw new PulsarProtoError('input is not a Buffer');
    if (!(Number.isInteger(offset) && Number.isInteger(end) && offset >= 0 && offset <= end && end <= buf.length)) {
      throw new PulsarProtoError(`bad region [${offset}, ${end}) of a ${buf.length}-byte buffer`);
    }
    this.buf = buf;
    this.pos = offset;
    this.limit = end;
  }

  private truncated(need: number): never {
    throw new PulsarProtoError(`truncated: need ${need} bytes at offset ${this.pos}, have ${this.limit - this.pos}`);
  }

  /** Low 32 bits of a varint (at most 10 bytes); the high ones are checked and dropped. */
  private varint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    const limit = this.limit;
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      if (pos >= limit) this.truncated(1);
      const b = buf[pos++]!;
      result |= (b & 0x7f) << shift; // bits above 31 of the 5th byte fall off
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
    }
    // bytes 6..10: only bits of the upper half, which 32-bit fields ignore (negative int32 uses them)
    for (let i = 5; i < 10; i++) {
      if (pos >= limit) this.truncated(1);
      const b = buf[pos++]!;
      if (b < 0x80) {
        if (i === 9 && b > 1) throw new PulsarProtoError(`varint above 64 bits at offset ${this.pos}`);
        this.pos = pos;
        return result;
      }
    }
    throw new PulsarProtoError(`varint longer than 10 bytes at offset ${this.pos}`);
  }

  /** High 32 bits of the last varint64() (unsigned). */
  private hi = 0;

  /** A full 64-bit varint: returns the low 32 bits (unsigned), leaves the high 32 bits in this.hi. */
  private varint64(): number {
    const buf = this.buf;
    let pos = this.pos;
    const limit = this.limit;
    let lo = 0;
    let hi = 0;
    let b = 0;
    for (let i = 0; i < 4; i++) {
      if (pos >= limit) this.truncated(1);
      b = buf[pos++]!;
      lo = (lo | ((b & 0x7f) << (i * 7))) >>> 0;
      if (b < 0x80) {
        this.pos = pos;
        this.hi = 0;
        return lo;
      }
    }
    if (pos >= limit) this.truncated(1);
    b = buf[pos++]!;
    lo = (lo | ((b & 0x0f) << 28)) >>> 0;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      for (let i = 0; ; i++) {
        if (i === 5) throw new PulsarProtoError(`varint longer than 10 bytes at offset ${this.pos}`);
        if (pos >= limit) this.truncated(1);
        b = buf[pos++]!;
        if (i === 4 && (b & 0x7f) > 1) throw new PulsarProtoError(`varint above 64 bits at offset ${this.pos}`);
        hi = (hi | ((b & 0x7f) << (i * 7 + 3))) >>> 0;
        if (b < 0x80) break;
      }
    }
    this.pos = pos;
    this.hi = hi >>> 0;
    return lo;
  }

  private take(n: number): number {
    const at = this.pos;
    if (this.limit - at < n) this.truncated(n);
    this.pos = at + n;
    return at;
  }

  /** A field key: checks the field number and the wire type. */
  key(): number {
    const at = this.pos;
    const key = this.varint32() >>> 0;
    const wt = key & 7;
    if (key >>> 3 === 0) throw new PulsarProtoError(`field number 0 at offset ${at}`);
    if (wt === 3 || wt === 4) throw new PulsarProtoError(`group (wire type ${wt}) at offset ${at}: not supported`);
    if (wt > 5) throw new PulsarProtoError(`bad wire type ${wt} at offset ${at}`);
    return key;
  }

  /** Skips the value of a field the message does not know (or knows with another wire type). */
  skip(key: number): void {
    switch (key & 7) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.take(8);
        return;
      case 2:
        this.take(this.length());
        return;
      case 5:
        this.take(4);
        return;
      default:
        throw new PulsarProtoError(`bad wire type ${key & 7}`);
    }
  }

  /** A length prefix, checked against what is left. */
  length(): number {
    const at = this.pos;
    const n = this.varint32();
    if (n < 0 || n > this.limit - this.pos) {
      throw new PulsarProtoError(`length ${n >>> 0} at offset ${at} exceeds the ${this.limit - this.pos} bytes left`);
    }
    return n;
  }

  /** Starts a length-delimited message or packed run: returns the outer limit for leave(). */
  enter(): number {
    const n = this.length();
    if (++this.depth > MAX_DEPTH) throw new PulsarProtoError(`messages nested deeper than ${MAX_DEPTH}`);
    const outer = this.limit;
    this.limit = this.pos + n;
    return outer;
  }

  leave(outer: number): void {
    if (this.pos !== this.limit) throw new PulsarProtoError(`embedded message ends at ${this.pos}, expected ${this.limit}`);
    this.limit = outer;
    this.depth--;
  }

  // ---------------------------------------------------------------- scalar values

  int32(): number {
    return this.varint32() | 0;
  }
  uint32(): number {
    return this.varint32() >>> 0;
  }
  sint32(): number {
    const u = this.varint32() >>> 0;
    return (u >>> 1) ^ -(u & 1);
  }
  bool(): boolean {
    const lo = this.varint64();
    return lo !== 0 || this.hi !== 0;
  }
  uint64(): bigint {
    const lo = this.varint64();
    const hi = this.hi;
    if (hi === 0) return BigInt(lo);
    if (hi < 0x200000) return BigInt(hi * TWO_32 + lo);
    return (BigInt(hi) << 32n) | BigInt(lo);
  }
  int64(): bigint {
    const lo = this.varint64();
    const hi = this.hi;
    if (hi === 0) return BigInt(lo);
    if (hi < 0x200000) return BigInt(hi * TWO_32 + lo);
    return BigInt.asIntN(64, (BigInt(hi) << 32n) | BigInt(lo));
  }
  sint64(): bigint {
    const u = this.uint64();
    return (u >> 1n) ^ -(u & 1n);
  }
  fixed32(): number {
    return this.buf.readUInt32LE(this.take(4));
  }
  sfixed32(): number {
    return this.buf.readInt32LE(this.take(4));
  }
  fixed64(): bigint {
    return this.buf.readBigUInt64LE(this.take(8));
  }
  sfixed64(): bigint {
    return this.buf.readBigInt64LE(this.take(8));
  }
  float(): number {
    return this.buf.readFloatLE(this.take(4));
  }
  double(): number {
    return this.buf.readDoubleLE(this.take(8));
  }
  string(): string {
    const n = this.length();
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }
  /** A SLICE of the input (no copy). */
  bytes(): Buffer {
    const n = this.length();
    const at = this.take(n);
    return this.buf.subarray(at, at + n);
  }
}

// ---------------------------------------------------------------- writer

export class ProtoWriter {
  buf: Buffer;
  pos: number;

  constructor(initialSize = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, initialSize));
    this.pos = 0;
  }

  /** Makes room for n more bytes. */
  ensure(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  /** Advances over n bytes the caller fills later (sizes of a frame); returns their offset. */
  reserve(n: number): number {
    this.ensure(n);
    const at = this.pos;
    this.pos += n;
    return at;
  }

  /** The bytes written so far (a view of the internal buffer). */
  finish(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  private varint32u(v: number): void {
    this.ensure(5);
    const buf = this.buf;
    let pos = this.pos;
    while (v > 0x7f) {
      buf[pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[pos++] = v;
    this.pos = pos;
  }

  private varint64(lo: number, hi: number): void {
    this.ensure(10);
    const buf = this.buf;
    let pos = this.pos;
    while (hi !== 0) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo = ((lo >>> 7) | (hi << 25)) >>> 0;
      hi >>>= 7;
    }
    while (lo > 0x7f) {
      buf[pos++] = (lo & 0x7f) | 0x80;
      lo >>>= 7;
    }
    buf[pos++] = lo;
    this.pos = pos;
  }

  private bigVarint(v: bigint): void {
    if (v <= 0xffffffffn) this.varint32u(Number(v));
    else this.varint64(Number(v & 0xffffffffn), Number(v >> 32n));
  }

  /** A field key (field number << 3 | wire type). */
  key(k: number): void {
    this.varint32u(k);
  }

  int32(v: number): void {
    if ((v | 0) !== v) throw new PulsarProtoError(`not an int32: ${v}`);
    if (v >= 0) this.varint32u(v);
    else this.varint64(v >>> 0, 0xffffffff); // sign-extended to 10 bytes, as protobuf does
  }
  uint32(v: number): void {
    if (v >>> 0 !== v) throw new PulsarProtoError(`not a uint32: ${v}`);
    this.varint32u(v);
  }
  sint32(v: number): void {
    if ((v | 0) !== v) throw new PulsarProtoError(`not an int32: ${v}`);
    this.varint32u(((v << 1) ^ (v >> 31)) >>> 0);
  }
  bool(v: boolean): void {
    if (typeof v !== 'boolean') throw new PulsarProtoError(`not a boolean: ${String(v)}`);
    this.ensure(1);
    this.buf[this.pos++] = v ? 1 : 0;
  }
  uint64(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > MAX_U64) throw new PulsarProtoError(`not a uint64: ${String(v)}`);
    this.bigVarint(v);
  }
  int64(v: bigint): void {
    if (typeof v !== 'bigint' || v < MIN_I64 || v > MAX_I64) throw new PulsarProtoError(`not an int64: ${String(v)}`);
    this.bigVarint(v < 0n ? v + (1n << 64n) : v);
  }
  sint64(v: bigint): void {
    if (typeof v !== 'bigint' || v < MIN_I64 || v > MAX_I64) throw new PulsarProtoError(`not an int64: ${String(v)}`);
    this.bigVarint(v < 0n ? -2n * v - 1n : 2n * v);
  }
  fixed32(v: number): void {
    if (v >>> 0 !== v) throw new PulsarProtoError(`not a uint32: ${v}`);
    this.ensure(4);
    this.pos = this.buf.writeUInt32LE(v, this.pos);
  }
  sfixed32(v: number): void {
    if ((v | 0) !== v) throw new PulsarProtoError(`not an int32: ${v}`);
    this.ensure(4);
    this.pos = this.buf.writeInt32LE(v, this.pos);
  }
  fixed64(v: bigint): void {
    if (typeof v !== 'bigint' || v < 0n || v > MAX_U64) throw new PulsarProtoError(`not a uint64: ${String(v)}`);
    this.ensure(8);
    this.pos = this.buf.writeBigUInt64LE(v, this.pos);
  }
  sfixed64(v: bigint): void {
    if (typeof v !== 'bigint' || v < MIN_I64 || v > MAX_I64) throw new PulsarProtoError(`not an int64: ${String(v)}`);
    this.ensure(8);
    this.pos = this.buf.writeBigInt64LE(v, this.pos);
  }
  float(v: number): void {
    if (typeof v !== 'number') throw new PulsarProtoError(`not a number: ${String(v)}`);
    this.ensure(4);
    this.pos = this.buf.writeFloatLE(v, this.pos);
  }
  double(v: number): void {
    if (typeof v !== 'number') throw new PulsarProtoError(`not a number: ${String(v)}`);
    this.ensure(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }
  string(v: string): void {
    if (typeof v !== 'string') throw new PulsarProtoError(`not a string: ${String(v)}`);
    const n = Buffer.byteLength(v, 'utf8');
    this.varint32u(n);
    this.ensure(n);
    this.pos += this.buf.write(v, this.pos, n, 'utf8');
  }
  bytes(v: Uint8Array): void {
    if (!(v instanceof Uint8Array)) throw new PulsarProtoError('not a Buffer / Uint8Array');
    this.varint32u(v.length);
    this.ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /** Starts a length-delimited value: one byte is reserved for its length (fixed up by join). */
  fork(): number {
    this.ensure(1);
    return this.pos++;
  }

  /** Ends what fork() started: writes the length, moving the content when it needs more than one byte. */
  join(at: number): void {
    const len = this.pos - at - 1;
    if (len < 0x80) {
      this.buf[at] = len;
      return;
    }
    let size = 1;
    for (let v = len >>> 7; v > 0; v >>>= 7) size++;
    this.ensure(size - 1);
    this.buf.copyWithin(at + size, at + 1, this.pos);
    this.pos += size - 1;
    let v = len;
    let p = at;
    while (v > 0x7f) {
      this.buf[p++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.buf[p] = v;
  }
}

// ---------------------------------------------------------------- helpers used by the generated code

/** Decoding: names the required fields whose bits are missing from `seen`. */
export function missingRequired(message: string, names: readonly string[], seen: number): never {
  const missing = names.filter((_, i) => (seen & (1 << i)) === 0);
  throw new PulsarProtoError(`${message}: missing required field${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`);
}

/** Encoding: a required field is undefined. */
export function requiredOnEncode(field: string): never {
  throw new PulsarProtoError(`${field} is required`);
}

/** Runs `write` into a fresh writer and returns the bytes (a copy sized to fit). */
export function encodeWith<T>(write: (w: ProtoWriter, m: T) => void, m: T): Buffer {
  const w = new ProtoWriter();
  write(w, m);
  return w.pos === 0 ? EMPTY : Buffer.from(w.finish());
}

/** Decodes a whole region with `read`. */
export function decodeWith<T>(read: (r: ProtoReader) => T, buf: Buffer, offset?: number, end?: number): T {
  return read(new ProtoReader(buf, offset, end));
}

/** Name of an enum value (`enumName(ServerError, 11)` -> "TopicNotFound"), or its number as text when unknown. */
export function enumName(e: Readonly<Record<string, number>>, v: number): string {
  for (const k in e) if (e[k] === v) return k;
  return String(v);
}

// ---------------------------------------------------------------- schema tables (generated in ./schema.ts)

export type ProtoScalar =
  | 'int32'
  | 'int64'
  | 'uint32'
  | 'uint64'
  | 'sint32'
  | 'sint64'
  | 'fixed32'
  | 'fixed64'
  | 'sfixed32'
  | 'sfixed64'
  | 'bool'
  | 'float'
  | 'double'
  | 'string'
  | 'bytes';

export interface ProtoFieldSchema {
  /** TypeScript property name (camelCase). */
  readonly name: string;
  /** Name in the .proto file. */
  readonly protoName: string;
  readonly number: number;
  readonly label: 'required' | 'optional' | 'repeated';
  readonly type: ProtoScalar | 'enum' | 'message';
  /** The TypeScript name of the enum or message type. */
  readonly ref?: string;
  /** `[default = ...]` of the .proto, in the field's TypeScript type. */
  readonly default?: number | bigint | boolean | string;
  readonly packed?: boolean;
}

export interface ProtoMessageSchema {
  readonly name: string;
  /** Full name in the .proto (package included). */
  readonly protoName: string;
  readonly fields: readonly ProtoFieldSchema[];
}
