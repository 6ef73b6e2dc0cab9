/**
 * Kafka record batch compression: one interface over the five codec ids of a
 * batch's attributes (0 none, 1 gzip, 2 snappy, 3 lz4, 4 zstd).
 *
 *   const packed = await compress(Compression.Lz4, records);
 *   const records = await decompress(Compression.Lz4, packed, 8 << 20); // at most 8 MiB out
 *
 * Decompression never trusts sizes found in the input: the caller's
 * `maxOutputBytes` bounds the output (a larger result is a CompressionError
 * 'too-large', MESSAGE_TOO_LARGE), and corrupt input is a CompressionError
 * 'corrupt' (CORRUPT_MESSAGE). The async functions keep the event loop free:
 * gzip runs on libuv's thread pool, snappy's big blocks too, and the main
 * thread codecs (lz4, zstd, snappy's framed chunks) work in slices of about
 * 1 MiB between which they yield. The *Sync variants run to completion.
 */
import { CompressionError, codecId, codecName, type CodecName } from './errors.js';
import { gzipCompress, gzipCompressSync, gzipDecompress, gzipDecompressSync } from './gzip.js';
import { lz4Compress, lz4CompressSync, lz4DecompressAsync, lz4DecompressSync } from './lz4.js';
import { snappyCompress, snappyCompressSync, snappyDecompress, snappyDecompressSync } from './snappy.js';
import { checkMaxOutput, tooLarge } from './util.js';
import { zstdCompress, zstdCompressSync, zstdDecompress, zstdDecompressSync } from './zstd.js';

export { CompressionError, codecId, codecName, type CodecName, type CompressionProblem } from './errors.js';
export { isXerialFramed, snappyCompressRawSync, XERIAL_MAGIC } from './snappy.js';
export { type Lz4FrameOptions, lz4CompressSync, lz4Compress } from './lz4.js';
export { xxhash32 } from './xxhash32.js';

/** Codec ids as in batch attributes (same values as records/batch-header's Compression). */
export const CODEC_NONE = 0;
export const CODEC_GZIP = 1;
export const CODEC_SNAPPY = 2;
export const CODEC_LZ4 = 3;
export const CODEC_ZSTD = 4;

export interface CompressOptions {
  /** codec level: gzip 1..9, zstd 1..22 (ignored by snappy and lz4) */
  level?: number;
}

export interface Codec {
  readonly id: number;
  readonly name: CodecName;
  compress(data: Buffer, options?: CompressOptions): Promise<Buffer>;
  compressSync(data: Buffer, options?: CompressOptions): Buffer;
  decompress(data: Buffer, maxOutputBytes: number): Promise<Buffer>;
  decompressSync(data: Buffer, maxOutputBytes: number): Buffer;
}

function none(data: Buffer, maxOutputBytes: number): Buffer {
  checkMaxOutput(CODEC_NONE, maxOutputBytes);
  if (data.length > maxOutputBytes) throw tooLarge(CODEC_NONE, maxOutputBytes);
  return data;
}

export const CODECS: readonly Codec[] = [
  {
    id: CODEC_NONE,
    name: 'none',
    compress: async (d) => d,
    compressSync: (d) => d,
    decompress: async (d, m) => none(d, m),
    decompressSync: none,
  },
  {
    id: CODEC_GZIP,
    name: 'gzip',
    compress: (d, o) => gzipCompress(d, o?.level === undefined ? undefined : { level: o.level }),
    compressSync: (d, o) => gzipCompressSync(d, o?.level === undefined ? undefined : { level: o.level }),
    decompress: gzipDecompress,
    decompressSync: gzipDecompressSync,
  },
  {
    id: CODEC_SNAPPY,
    name: 'snappy',
    compress: (d) => snappyCompress(d),
    compressSync: (d) => snappyCompressSync(d),
    decompress: snappyDecompress,
    decompressSync: snappyDecompressSync,
  },
  {
    id: CODEC_LZ4,
    name: 'lz4',
    compress: (d) => lz4Compress(d),
    compressSync: (d) => lz4CompressSync(d),
    decompress: lz4DecompressAsync,
    decompressSync: lz4DecompressSync,
  },
  {
    id: CODEC_ZSTD,
    name: 'zstd',
    compress: (d, o) => zstdCompress(d, o?.level === undefined ? undefined : { level: o.level }),
    compressSync: (d, o) => zstdCompressSync(d, o?.level === undefined ? undefined : { level: o.level }),
    decompress: zstdDecompress,
    decompressSync: zstdDecompressSync,
  },
];

/** The codec of an id; throws CompressionError 'unsupported' for ids other than 0..4. */
export function codec(id: number): Codec {
  const c = Number.isInteger(id) ? CODECS[id] : undefined;
  if (!c) throw new CompressionError(id, 'unsupported', `unknown compression codec id ${id}`);
  return c;
}

export function compress(codecIdOrName: number | string, data: Buffer, options?: CompressOptions): Promise<Buffer> {
  try {
    return codec(typeof codecIdOrName === 'string' ? codecId(codecIdOrName) : codecIdOrName).compress(data, options);
  } catch (err) {
    return Promise.reject(err);
  }
}

export function compressSync(codecIdOrName: number | string, data: Buffer, options?: CompressOptions): Buffer {
  return codec(typeof codecIdOrName === 'string' ? codecId(codecIdOrName) : codecIdOrName).compressSync(data, options);
}

/**
 * Decompress `data` written with codec `id`, producing at most maxOutputBytes
 * (codec 0 returns `data` itself). Rejects with CompressionError only.
 */
export async function decompress(id: number, data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  try {
    return await codec(id).decompress(data, maxOutputBytes);
  } catch (err) {
    throw asCompressionError(id, err);
  }
}

export function decompressSync(id: number, data: Buffer, maxOutputBytes: number): Buffer {
  try {
    return codec(id).decompressSync(data, maxOutputBytes);
  } catch (err) {
    throw asCompressionError(id, err);
  }
}

function asCompressionError(id: number, err: unknown): CompressionError {
  if (err instanceof CompressionError) return err;
  // Defensive: a library threw something unexpected (RangeError from an allocation, ...).
  return new CompressionError(id, 'corrupt', (err as Error)?.message ?? String(err), { cause: err });
}

