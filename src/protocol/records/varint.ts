/**
 * Zig-zag varints of the record format (Kafka's ByteUtils.readVarint /
 * readVarlong), allocation-free. Readers take (buf, pos, end), never read at
 * or past `end`, return the value and leave the next position in `cursor.pos`
 * (copy it right away). Malformed input returns VARINT_ERROR-flagged results
 * through `cursor.ok = false` instead of throwing, so callers can raise their
 * own error with context.
 */

export const cursor = { pos: 0, ok: true };

/** Signed 32-bit zig-zag varint (at most 5 bytes, like Java). */
export function readVarint(buf: Uint8Array, pos: number, end: number): number {
  let raw = 0;
  let shift = 0;
  for (;;) {
    if (pos >= end || shift > 28) {
      cursor.ok = false;
      cursor.pos = pos;
      return 0;
    }
    const b = buf[pos++]!;
    raw |= (b & 0x7f) << shift;
    if (b < 0x80) break;
    shift += 7;
  }
  cursor.pos = pos;
  return (raw >>> 1) ^ -(raw & 1);
}

/**
 * Signed 64-bit zig-zag varint (at most 10 bytes) as a number; values beyond
 * ±2^53 (no real timestamp delta is near that) set cursor.ok = false.
 */
export function readVarlong(buf: Uint8Array, pos: number, end: number): number {
  // fast path: fits in 28 bits (4 bytes)
  let raw = 0;
  let shift = 0;
  let mul = 1;
  for (;;) {
    if (pos >= end || shift > 63) {
      cursor.ok = false;
      cursor.pos = pos;
      return 0;
    }
    const b = buf[pos++]!;
    if (shift < 28) raw |= (b & 0x7f) << shift;
    else raw += (b & 0x7f) * mul;
    if (b < 0x80) break;
    shift += 7;
    if (shift === 28) {
      raw >>>= 0;
      mul = 2 ** 28;
    } else if (shift > 28) {
      mul *= 128;
    }
  }
  cursor.pos = pos;
  if (shift < 28) return (raw >>> 1) ^ -(raw & 1);
  if (raw > Number.MAX_SAFE_INTEGER) {
    cursor.ok = false;
    return 0;
  }
  // raw is an exact integer < 2^53 here
  return raw % 2 === 0 ? raw / 2 : -(raw + 1) / 2;
}

/** Bytes of the zig-zag varint of a 32-bit value. */
export function sizeOfVarint(v: number): number {
  let zz = ((v << 1) ^ (v >> 31)) >>> 0;
  let n = 1;
  while (zz >= 0x80) {
    zz >>>= 7;
    n++;
  }
  return n;
}

/** Bytes of the zig-zag varint of a safe integer (64-bit in the format). */
export function sizeOfVarlong(v: number): number {
  let zz = v >= 0 ? v * 2 : -v * 2 - 1;
  let n = 1;
  while (zz >= 128) {
    zz = Math.floor(zz / 128);
    n++;
  }
  return n;
}

export function writeVarint(buf: Uint8Array, pos: number, v: number): number {
  let zz = ((v << 1) ^ (v >> 31)) >>> 0;
  while (zz >= 0x80) {
    buf[pos++] = (zz & 0x7f) | 0x80;
    zz >>>= 7;
  }
  buf[pos++] = zz;
  return pos;
}

export function writeVarlong(buf: Uint8Array, pos: number, v: number): number {
  if (v >= -0x40000000 && v < 0x40000000) return writeVarint(buf, pos, v);
  let zz = v >= 0 ? v * 2 : -v * 2 - 1;
  while (zz >= 128) {
    buf[pos++] = (zz % 128) | 0x80;
    zz = Math.floor(zz / 128);
  }
  buf[pos++] = zz;
  return pos;
}
