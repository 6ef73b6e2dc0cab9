/**
 * src/protocol/compression: round trips for every codec, sync and async; the
 * output bound (decompression bombs stop at the limit); the wire layouts
 * Kafka clients use (xerial snappy vs raw, LZ4 frame flags and checksums,
 * zstd streaming frames); clean errors on corrupt input; the event loop keeps
 * turning during large async work.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import zlib from 'node:zlib';
import { ErrorCode } from '../../src/protocol/errors.js';
import {
  CODECS,
  CompressionError,
  codec,
  codecId,
  codecName,
  compress,
  compressSync,
  decompress,
  decompressSync,
  isXerialFramed,
  lz4CompressSync,
  snappyCompressRawSync,
  XERIAL_MAGIC,
  xxhash32,
} from '../../src/protocol/compression/index.js';
import { compressBound, decodeBlock, encodeBlock, MALFORMED, OUTPUT_FULL } from '../../src/protocol/compression/lz4-block.js';

const MiB = 1 << 20;

/** Deterministic, compressible text. */
function text(bytes: number, seed = 1): Buffer {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'kafka', 'pulsar', 'record', 'batch', '0123', 'zz'];
  let x = seed;
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    const w = words[x % words.length]! + (x % 13 === 0 ? '\n' : ' ');
    parts.push(w);
    n += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, bytes);
}

const SAMPLES: [string, Buffer][] = [
  ['empty', Buffer.alloc(0)],
  ['one byte', Buffer.from([42])],
  ['short text', Buffer.from('hello, hello, hello kafka')],
  ['text 300 KiB', text(300 * 1024)],
  ['random 70 KiB', randomBytes(70 * 1024)],
  ['zeros 1 MiB', Buffer.alloc(MiB)],
];

function isCompressionError(problem: string) {
  return (e: unknown): boolean => {
    assert.ok(e instanceof CompressionError, `expected a CompressionError, got ${String(e)}`);
    assert.equal(e.problem, problem, e.message);
    return true;
  };
}

test('codec ids and names follow Kafka attributes', () => {
  assert.deepEqual(
    CODECS.map((c) => [c.id, c.name]),
    [
      [0, 'none'],
      [1, 'gzip'],
      [2, 'snappy'],
      [3, 'lz4'],
      [4, 'zstd'],
    ],
  );
  assert.equal(codecName(3), 'lz4');
  assert.equal(codecName(6), 'codec-6');
  assert.equal(codecId('ZSTD'), 4);
  assert.throws(() => codecId('brotli'), isCompressionError('unsupported'));
  for (const id of [5, 6, 7, -1, 1.5]) {
    assert.throws(() => codec(id), isCompressionError('unsupported'));
    assert.throws(() => decompressSync(id, Buffer.from('x'), 10), isCompressionError('unsupported'));
  }
});

for (const c of CODECS) {
  test(`${c.name}: round trip (sync and async, all sample shapes)`, async () => {
    for (const [what, data] of SAMPLES) {
      const a = await compress(c.id, data);
      const s = compressSync(c.id, data);
      assert.deepEqual(await decompress(c.id, a, data.length), data, `${what} async`);
      assert.deepEqual(decompressSync(c.id, s, data.length), data, `${what} sync`);
      assert.deepEqual(decompressSync(c.id, a, data.length), data, `${what} async->sync`);
      assert.deepEqual(await decompress(c.id, s, data.length), data, `${what} sync->async`);
      // by name too
      assert.deepEqual(decompressSync(c.id, compressSync(c.name, data), data.length), data);
    }
  });

  test(`${c.name}: output is bounded by maxOutputBytes`, async () => {
    const data = text(200 * 1024);
    const z = compressSync(c.id, data);
    assert.equal(decompressSync(c.id, z, data.length).length, data.length, 'exactly at the limit is fine');
    assert.throws(() => decompressSync(c.id, z, data.length - 1), isCompressionError('too-large'));
    await assert.rejects(decompress(c.id, z, data.length - 1), isCompressionError('too-large'));
    await assert.rejects(decompress(c.id, z, 0), isCompressionError('too-large'));
    const err = (() => {
      try {
        decompressSync(c.id, z, 1000);
      } catch (e) {
        return e as CompressionError;
      }
      return undefined;
    })();
    assert.equal(err?.code, ErrorCode.MESSAGE_TOO_LARGE);
    for (const bad of [-1, 1.5, Number.NaN]) assert.throws(() => decompressSync(c.id, z, bad), CompressionError);
  });
}

for (const c of CODECS.filter((x) => x.id !== 0)) {
  test(`${c.name}: a decompression bomb (64 MiB of zeros) stops at the limit without inflating`, async () => {
    const bomb = await compress(c.id, Buffer.alloc(64 * MiB));
    assert.ok(bomb.length < 4 * MiB, `${bomb.length}`);
    const before = process.memoryUsage().arrayBuffers;
    await assert.rejects(decompress(c.id, bomb, MiB), isCompressionError('too-large'));
    assert.throws(() => decompressSync(c.id, bomb, MiB), isCompressionError('too-large'));
    const grown = process.memoryUsage().arrayBuffers - before;
    assert.ok(grown < 32 * MiB, `external memory grew by ${grown} bytes`);
  });

  test(`${c.name}: corrupt and truncated input give CompressionError 'corrupt'`, async () => {
    const data = text(100 * 1024);
    const z = compressSync(c.id, data);
    const cases: Buffer[] = [Buffer.alloc(0), z.subarray(0, z.length >> 1), z.subarray(0, 3), Buffer.from('definitely not compressed data')];
    for (const bad of cases) {
      assert.throws(() => decompressSync(c.id, bad, 10 * MiB), (e: unknown) => e instanceof CompressionError && e.code !== 0);
      await assert.rejects(decompress(c.id, bad, 10 * MiB), CompressionError);
    }
    const err = (() => {
      try {
        decompressSync(c.id, z.subarray(0, z.length - 9), 10 * MiB);
      } catch (e) {
        return e as CompressionError;
      }
      return undefined;
    })();
    assert.ok(err instanceof CompressionError);
    assert.equal(err.problem, 'corrupt');
    assert.equal(err.code, ErrorCode.CORRUPT_MESSAGE);
  });
}

test('none: decompress returns the input itself (no copy) within the limit', () => {
  const b = Buffer.from('abc');
  assert.equal(decompressSync(0, b, 3), b);
  assert.throws(() => decompressSync(0, b, 2), isCompressionError('too-large'));
});

// ------------------------------------------------------------------ gzip

test('gzip: concatenated members decode as one stream (as Java GZIPInputStream)', () => {
  const z = Buffer.concat([zlib.gzipSync('hello '), zlib.gzipSync('world')]);
  assert.equal(decompressSync(1, z, 100).toString(), 'hello world');
});

test('gzip: a damaged trailer CRC is corrupt', () => {
  const z = Buffer.from(zlib.gzipSync(text(10_000)));
  z[z.length - 6]! ^= 0xff;
  assert.throws(() => decompressSync(1, z, MiB), isCompressionError('corrupt'));
});

test('gzip: level option is honoured', () => {
  const data = text(100_000);
  assert.ok(compressSync(1, data, { level: 9 }).length <= compressSync(1, data, { level: 1 }).length);
});

// ------------------------------------------------------------------ snappy

test('snappy: compress writes xerial framing like Java (magic, version 1, compatible 1, 32 KiB chunks)', () => {
  const data = text(100 * 1024);
  const z = compressSync(2, data);
  assert.ok(isXerialFramed(z));
  assert.deepEqual(z.subarray(0, 8), XERIAL_MAGIC);
  assert.equal(z.readInt32BE(8), 1);
  assert.equal(z.readInt32BE(12), 1);
  let pos = 16;
  let chunks = 0;
  while (pos < z.length) {
    pos += 4 + z.readInt32BE(pos);
    chunks++;
  }
  assert.equal(pos, z.length);
  assert.equal(chunks, Math.ceil(data.length / 32768));
});

test('snappy: raw blocks (librdkafka) are detected by the missing magic', async () => {
  const data = text(300 * 1024);
  const raw = snappyCompressRawSync(data);
  assert.ok(!isXerialFramed(raw));
  assert.deepEqual(decompressSync(2, raw, data.length), data);
  assert.deepEqual(await decompress(2, raw, data.length), data); // >= 256 KiB: thread pool path
  assert.throws(() => decompressSync(2, raw, data.length - 1), isCompressionError('too-large'));
});

test('snappy: sizes are checked from the preambles before anything is decompressed', () => {
  // A raw block claiming 4 GiB - 1: rejected by the preamble alone.
  const lying = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x00]);
  assert.throws(() => decompressSync(2, lying, MiB), isCompressionError('too-large'));
  // A preamble longer than 5 bytes is malformed.
  assert.throws(() => decompressSync(2, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), MiB), isCompressionError('corrupt'));
  // xerial: chunk lengths must fit.
  const framed = compressSync(2, text(70_000));
  const badLen = Buffer.from(framed);
  badLen.writeInt32BE(0x7fffffff, 16);
  assert.throws(() => decompressSync(2, badLen, MiB), isCompressionError('corrupt'));
  const negLen = Buffer.from(framed);
  negLen.writeInt32BE(-5, 16);
  assert.throws(() => decompressSync(2, negLen, MiB), isCompressionError('corrupt'));
  // Preamble says more than the block holds.
  const raw = Buffer.from(snappyCompressRawSync(Buffer.from('abcdefgh')));
  raw[0] = 100;
  assert.throws(() => decompressSync(2, raw, MiB), isCompressionError('corrupt'));
  // The header alone: no chunks, empty output.
  assert.equal(decompressSync(2, framed.subarray(0, 16), 10).length, 0);
  // A bad compatible version.
  const newer = Buffer.from(framed);
  newer.writeInt32BE(2, 12);
  assert.throws(() => decompressSync(2, newer, MiB), isCompressionError('corrupt'));
});

// ------------------------------------------------------------------ lz4

test('xxhash32 known answers', () => {
  assert.equal(xxhash32(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(xxhash32(Buffer.from('abc')), 0x32d153ff);
  assert.equal(xxhash32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f);
  const b = Buffer.from('xxabcxx');
  assert.equal(xxhash32(b, 2, 5), 0x32d153ff);
});

test('lz4: compress writes a frame like Kafka Java (FLG 0x60, BD 0x40, correct header checksum, end mark)', () => {
  const z = compressSync(3, Buffer.from('hello hello hello hello hello'));
  assert.equal(z.readUInt32LE(0), 0x184d2204);
  assert.equal(z[4], 0x60);
  assert.equal(z[5], 0x40);
  assert.equal(z[6], (xxhash32(z, 4, 6) >>> 8) & 0xff);
  assert.equal(z.readUInt32LE(z.length - 4), 0);
});

test('lz4: header checksum is verified (pre-KIP-57 broken checksums are rejected)', () => {
  const z = Buffer.from(compressSync(3, text(1000)));
  z[6]! ^= 1;
  assert.throws(() => decompressSync(3, z, MiB), isCompressionError('corrupt'));
  // The pre-KIP-57 checksum covered the magic too.
  const legacy = Buffer.from(compressSync(3, text(1000)));
  legacy[6] = (xxhash32(legacy, 0, 6) >>> 8) & 0xff;
  if (legacy[6] !== ((xxhash32(legacy, 4, 6) >>> 8) & 0xff)) assert.throws(() => decompressSync(3, legacy, MiB), isCompressionError('corrupt'));
});

test('lz4: frame options (block/content checksums, content size, block sizes) round trip and are verified', () => {
  const data = text(600 * 1024);
  for (const o of [
    { blockChecksum: true },
    { contentChecksum: true },
    { contentSize: true },
    { blockSize: 262144 as const },
    { blockSize: 1048576 as const, contentChecksum: true, blockChecksum: true, contentSize: true },
    { blockSize: 4194304 as const },
  ]) {
    const z = lz4CompressSync(data, o);
    assert.deepEqual(decompressSync(3, z, data.length), data, JSON.stringify(o));
  }
  // Damage inside a block: block checksum catches it.
  const bc = Buffer.from(lz4CompressSync(data, { blockChecksum: true }));
  bc[20]! ^= 0x10;
  assert.throws(() => decompressSync(3, bc, 10 * MiB), isCompressionError('corrupt'));
  // Damaged content checksum.
  const cc = Buffer.from(lz4CompressSync(data, { contentChecksum: true }));
  cc[cc.length - 1]! ^= 1;
  assert.throws(() => decompressSync(3, cc, 10 * MiB), isCompressionError('corrupt'));
  // A content size above the limit fails before any block is decoded.
  const cs = lz4CompressSync(data, { contentSize: true });
  assert.throws(() => decompressSync(3, cs, 1000), isCompressionError('too-large'));
  // A content size that does not match the content.
  const wrong = Buffer.from(lz4CompressSync(Buffer.from('abcdef'), { contentSize: true }));
  wrong.writeUInt32LE(5, 6);
  wrong[14] = (xxhash32(wrong, 4, 14) >>> 8) & 0xff;
  assert.throws(() => decompressSync(3, wrong, MiB), isCompressionError('corrupt'));
});

/** A frame with a hand-written descriptor and blocks. */
function frame(flg: number, bd: number, blocks: Buffer[], extra: Buffer[] = []): Buffer {
  const head = Buffer.from([0x04, 0x22, 0x4d, 0x18, flg, bd, 0]);
  head[6] = (xxhash32(head, 4, 6) >>> 8) & 0xff;
  return Buffer.concat([head, ...blocks, Buffer.alloc(4), ...extra]);
}

function block(data: Buffer, uncompressed = false): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt32LE((data.length | (uncompressed ? 0x80000000 : 0)) >>> 0);
  return Buffer.concat([h, data]);
}

test('lz4: linked blocks may reference earlier blocks; independent ones may not', () => {
  const first = Buffer.from('0123456789abcdef');
  // token: 0 literals, match length 16 (15 + 1 extra) ... then a final literal-only sequence
  const second = Buffer.from([0x0f, 16, 0, 0x01, 0x10, 0x21]);
  // = match offset 16, len 4+15+1 = 20 (overlapping copy of the 16 bytes) then literal '!'
  second[1] = 16;
  second[2] = 0;
  second[3] = 1;
  second[4] = 0x10;
  second[5] = 0x21;
  const linked = frame(0x40, 0x40, [block(first, true), block(second)]);
  assert.equal(decompressSync(3, linked, 100).toString(), '0123456789abcdef' + '0123456789abcdef0123' + '!');
  const independent = frame(0x60, 0x40, [block(first, true), block(second)]);
  assert.throws(() => decompressSync(3, independent, 100), isCompressionError('corrupt'));
});

test('lz4: skippable frames and concatenated frames are read; dictionaries are unsupported', () => {
  const a = compressSync(3, Buffer.from('first '));
  const b = compressSync(3, Buffer.from('second'));
  const skip = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 1, 2, 3]);
  assert.equal(decompressSync(3, Buffer.concat([skip, a, b]), 100).toString(), 'first second');
  const dict = Buffer.from(a);
  dict[4] = 0x61;
  assert.throws(() => decompressSync(3, dict, 100), isCompressionError('unsupported'));
  const reserved = Buffer.from(a);
  reserved[4] = 0x62;
  assert.throws(() => decompressSync(3, reserved, 100), isCompressionError('corrupt'));
  assert.throws(() => decompressSync(3, Buffer.concat([a, Buffer.from([1, 2])]), 100), isCompressionError('corrupt'));
});

test('lz4: a block bigger than the frame maximum, or decoding past it, is corrupt', () => {
  const big = Buffer.alloc(70_000, 1);
  assert.throws(() => decompressSync(3, frame(0x60, 0x40, [block(big, true)]), MiB), isCompressionError('corrupt'));
  // 1 literal then a match of 70 000 bytes: more than 64 KiB from one block
  const ext = Math.floor((70_000 - 4 - 15) / 255);
  const rest = 70_000 - 4 - 15 - ext * 255;
  const seq = Buffer.from([0x1f, 0x41, 1, 0, ...Array(ext).fill(255), rest, 0x10, 0x42]);
  assert.throws(() => decompressSync(3, frame(0x60, 0x40, [block(seq)]), MiB), isCompressionError('corrupt'));
});

test('lz4 block codec: encoder output decodes; decoder bounds every read and write', () => {
  for (const data of [text(100_000), randomBytes(5000), Buffer.alloc(100_000, 7), Buffer.from('abc'), Buffer.alloc(0)]) {
    const dst = Buffer.alloc(compressBound(data.length));
    const n = encodeBlock(data, 0, data.length, dst, 0);
    const out = Buffer.alloc(data.length);
    assert.equal(decodeBlock(dst, 0, n, out, 0, out.length, 0), data.length);
    assert.deepEqual(out, data);
    if (data.length > 0) assert.equal(decodeBlock(dst, 0, n, Buffer.alloc(data.length), 0, data.length - 1, 0), OUTPUT_FULL);
  }
  const o = Buffer.alloc(100);
  assert.equal(decodeBlock(Buffer.alloc(0), 0, 0, o, 0, 100, 0), MALFORMED);
  assert.equal(decodeBlock(Buffer.from([0xf0]), 0, 1, o, 0, 100, 0), MALFORMED); // literal length runs off the end
  assert.equal(decodeBlock(Buffer.from([0x10, 0x41, 0x05]), 0, 3, o, 0, 100, 0), MALFORMED); // half an offset
  assert.equal(decodeBlock(Buffer.from([0x10, 0x41, 0x00, 0x00, 0x00]), 0, 5, o, 0, 100, 0), MALFORMED); // offset 0
  assert.equal(decodeBlock(Buffer.from([0x10, 0x41, 0x02, 0x00, 0x00]), 0, 5, o, 0, 100, 0), MALFORMED); // before the window
  assert.equal(decodeBlock(Buffer.from([0x10, 0x41, 0x01, 0x00]), 0, 4, o, 0, 100, 0), MALFORMED); // ends after a match
});

// ------------------------------------------------------------------ zstd

test('zstd: concatenated frames, skippable frames and trailing garbage', () => {
  const a = compressSync(4, Buffer.from('first '));
  const b = compressSync(4, Buffer.from('second'));
  const skippable = Buffer.from([0x50, 0x2a, 0x4d, 0x18, 2, 0, 0, 0, 9, 9]);
  assert.equal(decompressSync(4, Buffer.concat([a, skippable, b]), 100).toString(), 'first second');
  assert.throws(() => decompressSync(4, Buffer.concat([a, Buffer.from('junk')]), 100), isCompressionError('corrupt'));
});

test('zstd: a content size lying in the header is not trusted', () => {
  const data = Buffer.from('x'.repeat(1000));
  const z = Buffer.from(compressSync(4, data));
  // level 3 single-shot frame: FHD has the content size; claim more than the limit
  assert.throws(() => decompressSync(4, z, 999), isCompressionError('too-large'));
});

const tools = (name: string): boolean => {
  try {
    execFileSync(name, ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
};

test('interop: lz4 / zstd command line tools read our frames and we read theirs (incl. streamed zstd, linked lz4)', { skip: !tools('lz4') || !tools('zstd') ? 'lz4/zstd CLI not installed' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-compression-'));
  try {
    const data = text(700 * 1024);
    const input = join(dir, 'in');
    writeFileSync(input, data);
    writeFileSync(join(dir, 'ours.lz4'), compressSync(3, data));
    assert.deepEqual(execFileSync('lz4', ['-dc', join(dir, 'ours.lz4')], { maxBuffer: 8 * MiB }), data);
    writeFileSync(join(dir, 'ours.zst'), compressSync(4, data));
    assert.deepEqual(execFileSync('zstd', ['-dc', join(dir, 'ours.zst')], { maxBuffer: 8 * MiB }), data);
    for (const args of [['-B4', '-BD'], ['-B5', '-BX', '--content-size'], ['-9']]) {
      execFileSync('lz4', ['-q', '-f', ...args, input, join(dir, 'cli.lz4')]);
      assert.deepEqual(decompressSync(3, readFileSync(join(dir, 'cli.lz4')), data.length), data, args.join(' '));
    }
    const streamed = execFileSync('sh', ['-c', `cat '${input}' | zstd -q -c --check`], { maxBuffer: 8 * MiB });
    assert.equal(streamed[4]! & 0xc0, 0, 'no content size in a streamed frame');
    assert.deepEqual(decompressSync(4, streamed, data.length), data);
    assert.throws(() => decompressSync(4, streamed, data.length - 1), isCompressionError('too-large'));
    const damaged = Buffer.from(streamed);
    damaged[damaged.length - 2]! ^= 1; // content checksum
    assert.throws(() => decompressSync(4, damaged, data.length), isCompressionError('corrupt'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ------------------------------------------------------------------ event loop

test('async (de)compression of large inputs yields to the event loop', async () => {
  const data = text(24 * MiB);
  for (const c of CODECS.filter((x) => x.id !== 0)) {
    const z = compressSync(c.id, data);
    let ticks = 0;
    const timer = setInterval(() => ticks++, 0);
    try {
      await new Promise((r) => setImmediate(r));
      ticks = 0;
      const out = await decompress(c.id, z, data.length);
      assert.equal(out.length, data.length);
      assert.ok(ticks > 0, `${c.name}: no timer ran during decompression`);
      ticks = 0;
      await compress(c.id, data);
      assert.ok(ticks > 0, `${c.name}: no timer ran during compression`);
    } finally {
      clearInterval(timer);
    }
  }
});
