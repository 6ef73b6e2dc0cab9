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
 * Signed 64-bit zig-zag varint (at most 10 bytes) as a number; values outside
 * the safe integer range (no real timestamp delta is near ±2^53) set
 * cursor.ok = false.
 */
export function readVarlong(buf: Uint8Array, pos: number, end: number): number {
  // low 28 bits as an int, the rest as a multiple of 2^28: both exact
  let lo = 0;
  let hi = 0;
  let shift = 0;
  for (;;) {
    if (pos >= end || shift > 63) {
      cursor.ok = false;
      cursor.pos = pos;
      return 0;
    }
    const b = buf[pos++]!;
    if (shift < 28) lo |= (b & 0x7f) << shift;
    else hi += (b & 0x7f) * 2 ** (shift - 28);
    if (b < 0x80) break;
    shift += 7;
  }
  cursor.pos = pos;
  if (hi === 0) return (lo >>> 1) ^ -(lo & 1);
  // magnitude = raw >>> 1 = hi * 2^27 + (lo >>> 1)
  if (hi >= 2 ** 26) {
    cursor.ok = false;
    return 0;
  }
  const magnitude = hi * 2 ** 27 + (lo >>> 1);
  return lo & 1 ? -magnitude - 1 : magnitude;
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
  // zig-zag = 2m + sign with m = v or -v-1; computed from m to stay exact beyond 2^53
  let q = Math.floor((v < 0 ? -v - 1 : v) / 64);
  let n = 1;
  while (q > 0) {
    q = Math.floor(q / 128);
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
  const m = v < 0 ? -v - 1 : v;
  const first = (m % 64) * 2 + (v < 0 ? 1 : 0);
  let q = Math.floor(m / 64);
  buf[pos++] = first | 0x80; // |v| >= 2^30: always more bytes
  while (q >= 128) {
    buf[pos++] = (q % 128) | 0x80;
    q = Math.floor(q / 128);
  }
  buf[pos++] = q;
  return pos;
}
