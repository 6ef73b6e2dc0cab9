/**
 * Pulsar's payload compression (MessageMetadata.compression), as the Java
 * client's CompressionCodecProvider writes and reads it:
 *
 *   NONE   the payload as is
 *   LZ4    ONE raw LZ4 block (no frame, no size prefix: uncompressed_size says how much comes out)
 *   ZLIB   zlib stream (Deflater/Inflater with the 2-byte zlib header, not gzip, not raw deflate;
 *          Java's ends with a sync flush instead of a finished stream: both are read)
 *   ZSTD   a zstd frame
 *   SNAPPY ONE raw snappy block (varint length preamble, no xerial framing)
 *
 * Built on the Kafka codecs of src/protocol/compression (LZ4 block, raw snappy,
 * zstd); only ZLIB uses Node's zlib directly (Kafka has no zlib codec).
 *
 * Decoding trusts nothing in the input: the output is bounded by min(the
 * caller's maximum, uncompressed_size) and must be exactly uncompressed_size
 * long (Pulsar's decoders read exactly that many bytes too). Failures are
 * EntryFormatError (CORRUPT_MESSAGE), or CompressionError from the shared codecs.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { KafkaError, ErrorCode } from '../../protocol/errors.js';
import {
  CODEC_GZIP,
  CODEC_LZ4,
  CODEC_NONE,
  CODEC_SNAPPY,
  CODEC_ZSTD,
  compress as kafkaCompress,
  compressSync as kafkaCompressSync,
  decompress as kafkaDecompress,
  decompressSync as kafkaDecompressSync,
  snappyCompressRawSync,
} from '../../protocol/compression/index.js';
import { compressBound, decodeBlock, encodeBlock } from '../../protocol/compression/lz4-block.js';
import { CompressionType } from '../../pulsar/proto/index.js';

/** A Pulsar entry that cannot be turned into Kafka records (or a Kafka batch that cannot become an entry). */
export class EntryFormatError extends KafkaError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.CORRUPT_MESSAGE, message);
    this.name = 'EntryFormatError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

const deflateAsync = promisify(zlib.deflate);
const inflateAsync = promisify(zlib.inflate);

/** Pulsar's codec for a Kafka batch's codec id (gzip -> ZLIB: same DEFLATE, other wrapper). */
export function pulsarCodecFor(kafkaCodec: number): CompressionType {
  switch (kafkaCodec) {
    case CODEC_NONE:
      return CompressionType.NONE;
    case CODEC_GZIP:
      return CompressionType.ZLIB;
    case CODEC_SNAPPY:
      return CompressionType.SNAPPY;
    case CODEC_LZ4:
      return CompressionType.LZ4;
    case CODEC_ZSTD:
      return CompressionType.ZSTD;
    default:
      throw new EntryFormatError(`unknown Kafka compression codec id ${kafkaCodec}`);
  }
}

export function compressionName(c: number): string {
  return (Object.keys(CompressionType) as (keyof typeof CompressionType)[]).find((k) => CompressionType[k] === c) ?? `compression-${c}`;
}

function lz4BlockCompress(data: Buffer): Buffer {
  const out = Buffer.allocUnsafe(compressBound(data.length));
  return out.subarray(0, encodeBlock(data, 0, data.length, out, 0));
}

/** Compress a (batch) payload with Pulsar codec `c`. Synchronous: blocks for the whole payload. */
export function pulsarCompressSync(c: CompressionType, data: Buffer): Buffer {
  switch (c) {
    case CompressionType.NONE:
      return data;
    case CompressionType.LZ4:
      return lz4BlockCompress(data);
    case CompressionType.ZLIB:
      return zlib.deflateSync(data);
    case CompressionType.ZSTD:
      return kafkaCompressSync(CODEC_ZSTD, data);
    case CompressionType.SNAPPY:
      return snappyCompressRawSync(data);
    default:
      throw new EntryFormatError(`unknown Pulsar compression type ${c as number}`);
  }
}

/** As pulsarCompressSync, but ZLIB runs on the thread pool and ZSTD yields between 1 MiB slices. */
export async function pulsarCompress(c: CompressionType, data: Buffer): Promise<Buffer> {
  switch (c) {
    case CompressionType.ZLIB:
      return deflateAsync(data);
    case CompressionType.ZSTD:
      return kafkaCompress(CODEC_ZSTD, data);
    default:
      return pulsarCompressSync(c, data);
  }
}

function checkSize(c: CompressionType, uncompressedSize: number, maxBytes: number): void {
  if (!Number.isSafeInteger(uncompressedSize) || uncompressedSize < 0) {
    throw new EntryFormatError(`${compressionName(c)} payload: bad uncompressed_size ${uncompressedSize}`);
  }
  if (uncompressedSize > maxBytes) {
    throw new EntryFormatError(`${compressionName(c)} payload: uncompressed_size ${uncompressedSize} exceeds the limit of ${maxBytes} bytes`);
  }
}

function checkResult(c: CompressionType, out: Buffer, uncompressedSize: number): Buffer {
  if (out.length !== uncompressedSize) {
    throw new EntryFormatError(`${compressionName(c)} payload decompressed to ${out.length} bytes, uncompressed_size says ${uncompressedSize}`);
  }
  return out;
}

function lz4BlockDecompress(data: Buffer, uncompressedSize: number): Buffer {
  const out = Buffer.allocUnsafe(uncompressedSize);
  const end = decodeBlock(data, 0, data.length, out, 0, uncompressedSize, 0);
  if (end < 0) throw new EntryFormatError(`LZ4 payload: ${end === -1 ? 'more output than uncompressed_size' : 'malformed block'}`);
  return out.subarray(0, end);
}

/**
 * Pulsar's ZLIB encoder (CompressionCodecZLib) ends its stream with a SYNC_FLUSH,
 * not a FINISH: no final block, no Adler-32 trailer. Java's Inflater stops once
 * uncompressed_size bytes are out; zlib here must accept the open end the same
 * way (the length check after it catches a truncated payload).
 */
function inflateOptions(uncompressedSize: number): zlib.ZlibOptions {
  return { maxOutputLength: Math.max(1, uncompressedSize), finishFlush: zlib.constants.Z_SYNC_FLUSH };
}

function inflateError(err: unknown): EntryFormatError {
  return new EntryFormatError(`ZLIB payload: ${(err as Error).message ?? String(err)}`, { cause: err });
}

/**
 * Decompress a payload of Pulsar codec `c` that holds `uncompressedSize`
 * bytes (MessageMetadata.uncompressed_size), at most `maxBytes`.
 */
export function pulsarDecompressSync(c: CompressionType, data: Buffer, uncompressedSize: number, maxBytes: number): Buffer {
  if (c === CompressionType.NONE) return data;
  checkSize(c, uncompressedSize, maxBytes);
  switch (c) {
    case CompressionType.LZ4:
      return checkResult(c, lz4BlockDecompress(data, uncompressedSize), uncompressedSize);
    case CompressionType.ZLIB: {
      let out: Buffer;
      try {
        out = zlib.inflateSync(data, inflateOptions(uncompressedSize));
      } catch (err) {
        throw inflateError(err);
      }
      return checkResult(c, out, uncompressedSize);
    }
    case CompressionType.ZSTD:
      return checkResult(c, kafkaDecompressSync(CODEC_ZSTD, data, uncompressedSize), uncompressedSize);
    case CompressionType.SNAPPY:
      // a raw block can never start with the xerial magic (its first element must be a literal)
      return checkResult(c, kafkaDecompressSync(CODEC_SNAPPY, data, uncompressedSize), uncompressedSize);
    default:
      throw new EntryFormatError(`unknown Pulsar compression type ${c as number}`);
  }
}

/** As pulsarDecompressSync; ZLIB on the thread pool, ZSTD (and big snappy blocks) without blocking the loop. */
export async function pulsarDecompress(c: CompressionType, data: Buffer, uncompressedSize: number, maxBytes: number): Promise<Buffer> {
  switch (c) {
    case CompressionType.ZLIB: {
      checkSize(c, uncompressedSize, maxBytes);
      let out: Buffer;
      try {
        out = await inflateAsync(data, inflateOptions(uncompressedSize));
      } catch (err) {
        throw inflateError(err);
      }
      return checkResult(c, out, uncompressedSize);
    }
    case CompressionType.ZSTD:
    case CompressionType.SNAPPY:
      checkSize(c, uncompressedSize, maxBytes);
      return checkResult(c, await kafkaDecompress(c === CompressionType.ZSTD ? CODEC_ZSTD : CODEC_SNAPPY, data, uncompressedSize), uncompressedSize);
    default:
      return pulsarDecompressSync(c, data, uncompressedSize, maxBytes);
  }
}
