/**
 * LZ4 block format (https://github.com/lz4/lz4/blob/dev/doc/lz4_Block_format.md),
 * pure TypeScript. The decoder checks every read and write against explicit
 * limits, so corrupt or hostile input can only produce a clean failure.
 */

/** decodeBlock result when the output would pass `dstLimit`. */
export const OUTPUT_FULL = -1;
/** decodeBlock result on malformed input. */
export const MALFORMED = -2;

/**
 * Decode the block src[sp, se) into dst at dp, writing nothing at or past
 * dstLimit. Matches may reach back to windowStart (the block start for
 * independent blocks, the frame's first output byte for linked ones).
 * Returns the new output position, OUTPUT_FULL or MALFORMED.
 */
export function decodeBlock(src: Uint8Array, sp: number, se: number, dst: Uint8Array, dp: number, dstLimit: number, windowStart: number): number {
  if (sp >= se) return MALFORMED;
  for (;;) {
    const token = src[sp++]!;
    let litLen = token >>> 4;
    if (litLen === 15) {
      let b: number;
      do {
        if (sp >= se) return MALFORMED;
        b = src[sp++]!;
        litLen += b;
      } while (b === 255);
    }
    if (litLen > se - sp) return MALFORMED;
    if (litLen > dstLimit - dp) return OUTPUT_FULL;
    if (litLen < 32) {
      for (let i = 0; i < litLen; i++) dst[dp + i] = src[sp + i]!;
    } else {
      dst.set(src.subarray(sp, sp + litLen), dp);
    }
    sp += litLen;
    dp += litLen;
    if (sp === se) return dp; // the last sequence has literals only
    if (se - sp < 2) return MALFORMED;
    const offset = src[sp]! | (src[sp + 1]! << 8);
    sp += 2;
    if (offset === 0 || offset > dp - windowStart) return MALFORMED;
    let matchLen = token & 15;
    if (matchLen === 15) {
      let b: number;
      do {
        if (sp >= se) return MALFORMED;
        b = src[sp++]!;
        matchLen += b;
      } while (b === 255);
    }
    matchLen += 4;
    if (matchLen > dstLimit - dp) return OUTPUT_FULL;
    let m = dp - offset;
    if (offset >= matchLen && matchLen >= 32) {
      dst.copyWithin(dp, m, m + matchLen);
      dp += matchLen;
    } else {
      // overlapping copy (offset < length repeats the last `offset` bytes)
      const stop = dp + matchLen;
      while (dp < stop) dst[dp++] = dst[m++]!;
    }
    if (sp >= se) return MALFORMED; // a block must end with literals
  }
}

const MIN_MATCH = 4;
const LAST_LITERALS = 5;
const MF_LIMIT = 12;
const HASH_LOG = 12;
const SKIP_TRIGGER = 6;
const MAX_DISTANCE = 65535;

/** Worst-case size of a compressed block for n input bytes (LZ4_compressBound). */
export function compressBound(n: number): number {
  return n + Math.floor(n / 255) + 16;
}

const read32 = (b: Uint8Array, p: number): number => b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
const hash = (v: number): number => Math.imul(v, 2654435761) >>> (32 - HASH_LOG);

let sharedTable: Int32Array | undefined;

function writeLength(dst: Uint8Array, dp: number, n: number): number {
  while (n >= 255) {
    dst[dp++] = 255;
    n -= 255;
  }
  dst[dp++] = n;
  return dp;
}

function emitLiterals(src: Uint8Array, from: number, to: number, dst: Uint8Array, dp: number, tokenPos: number, matchNibble: number): number {
  const litLen = to - from;
  if (litLen >= 15) {
    dst[tokenPos] = (15 << 4) | matchNibble;
    dp = writeLength(dst, dp, litLen - 15);
  } else {
    dst[tokenPos] = (litLen << 4) | matchNibble;
  }
  if (litLen < 32) {
    for (let i = 0; i < litLen; i++) dst[dp + i] = src[from + i]!;
  } else {
    dst.set(src.subarray(from, to), dp);
  }
  return dp + litLen;
}

/**
 * Compress src[start, end) as one independent LZ4 block into dst at dp
 * (dst must have compressBound(end - start) bytes free). Greedy single-probe
 * matching like LZ4's fast mode. Returns the new output position.
 */
export function encodeBlock(src: Uint8Array, start: number, end: number, dst: Uint8Array, dp: number): number {
  const table = (sharedTable ??= new Int32Array(1 << HASH_LOG));
  let anchor = start;
  const len = end - start;
  if (len >= MF_LIMIT + 1) {
    const mfLimit = end - MF_LIMIT;
    const matchLimit = end - LAST_LITERALS;
    let ip = start;
    table[hash(read32(src, ip))] = ip;
    ip++;
    let searches = 1 << SKIP_TRIGGER;
    while (ip < mfLimit) {
      const seq = read32(src, ip);
      const h = hash(seq);
      let ref = table[h]!;
      table[h] = ip;
      // Entries may be stale (an earlier block or another input): they are verified here.
      if (ref < start || ref >= ip || ip - ref > MAX_DISTANCE || read32(src, ref) !== seq) {
        ip += searches++ >>> SKIP_TRIGGER;
        continue;
      }
      searches = 1 << SKIP_TRIGGER;
      while (ip > anchor && ref > start && src[ip - 1] === src[ref - 1]) {
        ip--;
        ref--;
      }
      let matchLen = MIN_MATCH;
      while (ip + matchLen < matchLimit && src[ip + matchLen] === src[ref + matchLen]) matchLen++;
      const extra = matchLen - MIN_MATCH;
      const tokenPos = dp++;
      dp = emitLiterals(src, anchor, ip, dst, dp, tokenPos, extra >= 15 ? 15 : extra);
      const offset = ip - ref;
      dst[dp++] = offset & 0xff;
      dst[dp++] = offset >>> 8;
      if (extra >= 15) dp = writeLength(dst, dp, extra - 15);
      ip += matchLen;
      anchor = ip;
      if (ip < mfLimit) table[hash(read32(src, ip - 2))] = ip - 2;
    }
  }
  const tokenPos = dp++;
  return emitLiterals(src, anchor, end, dst, dp, tokenPos, 0);
}
