/**
 * gzip (Kafka codec 1) with Node's zlib. The async functions run on libuv's
 * thread pool; decompression is bounded with zlib's `maxOutputLength`, so a
 * gzip bomb stops at the limit instead of filling memory.
 */
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { CompressionError } from './errors.js';
import { bufferLimit, checkMaxOutput, tooLarge } from './util.js';

const GZIP = 1;
const gzipAsync = promisify(zlib.gzip);
const gunzipAsync = promisify(zlib.gunzip);

export interface GzipOptions {
  /** 1..9, or -1 for zlib's default (6) — as Kafka's `compression.gzip.level` */
  level?: number;
}

function zlibOptions(o: GzipOptions | undefined): zlib.ZlibOptions {
  return { level: o?.level ?? zlib.constants.Z_DEFAULT_COMPRESSION };
}

export function gzipCompressSync(data: Buffer, options?: GzipOptions): Buffer {
  return zlib.gzipSync(data, zlibOptions(options));
}

export function gzipCompress(data: Buffer, options?: GzipOptions): Promise<Buffer> {
  return gzipAsync(data, zlibOptions(options));
}

function mapError(err: unknown, maxOutputBytes: number): CompressionError {
  const code = (err as { code?: string }).code;
  if (code === 'ERR_BUFFER_TOO_LARGE') return tooLarge(GZIP, maxOutputBytes);
  return new CompressionError(GZIP, 'corrupt', (err as Error).message ?? String(err), { cause: err });
}

function gunzipOptions(maxOutputBytes: number): zlib.ZlibOptions {
  // zlib needs maxOutputLength >= 1; a 0 limit is checked on the result.
  return { maxOutputLength: Math.max(1, bufferLimit(maxOutputBytes)) };
}

function checkInput(data: Buffer): void {
  // zlib answers an empty input with an empty output; for Kafka it is a corrupt payload.
  if (data.length === 0) throw new CompressionError(GZIP, 'corrupt', 'empty input');
}

export function gzipDecompressSync(data: Buffer, maxOutputBytes: number): Buffer {
  checkMaxOutput(GZIP, maxOutputBytes);
  checkInput(data);
  let out: Buffer;
  try {
    out = zlib.gunzipSync(data, gunzipOptions(maxOutputBytes));
  } catch (err) {
    throw mapError(err, maxOutputBytes);
  }
  if (out.length > maxOutputBytes) throw tooLarge(GZIP, maxOutputBytes);
  return out;
}

export async function gzipDecompress(data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  checkMaxOutput(GZIP, maxOutputBytes);
  checkInput(data);
  let out: Buffer;
  try {
    out = await gunzipAsync(data, gunzipOptions(maxOutputBytes));
  } catch (err) {
    throw mapError(err, maxOutputBytes);
  }
  if (out.length > maxOutputBytes) throw tooLarge(GZIP, maxOutputBytes);
  return out;
}
