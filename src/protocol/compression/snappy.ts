/**
 * snappy (Kafka codec 2) with the `snappy` napi-rs binding.
 *
 * Two layouts exist in Kafka batches:
 *  - xerial framing, as Java's snappy-java SnappyOutputStream writes it:
 *      magic 82 'SNAPPY' 00 | int32 version (1) | int32 min compatible version (1)
 *      then chunks: int32 compressed length | raw snappy block (<= 32 KiB of input each)
 *  - one raw snappy block, as librdkafka writes it.
 * decompress tells them apart by the magic (like snappy-java and librdkafka do);
 * compress always writes the xerial framing (like Java, readable by every client).
 *
 * Bounds: every raw block starts with its uncompressed length (a varint); the
 * lengths are read and summed BEFORE anything is decompressed, so the output
 * size is known, checked against the limit, and allocated once.
 */
import { createRequire } from 'node:module';
import { CompressionError } from './errors.js';
import { checkMaxOutput, runAsync, runSync, tooLarge, type Stepper } from './util.js';

const SNAPPY = 2;

type SnappyBinding = typeof import('snappy');
let binding: SnappyBinding | undefined;
function lib(): SnappyBinding {
  if (binding) return binding;
  try {
    binding = createRequire(import.meta.url)('snappy') as SnappyBinding;
  } catch (err) {
    throw new CompressionError(SNAPPY, 'unsupported', `the snappy native module did not load: ${(err as Error).message}`, { cause: err });
  }
  return binding;
}

export const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00]);
export const XERIAL_HEADER_SIZE = 16;
/** snappy-java's default block size, which Kafka's producer uses. */
export const XERIAL_BLOCK_SIZE = 32 * 1024;
/** Raw chunks at least this large are decompressed on the thread pool by the async API. */
const ASYNC_CHUNK_BYTES = 256 * 1024;

export function isXerialFramed(data: Buffer): boolean {
  return data.length >= XERIAL_HEADER_SIZE && data.compare(XERIAL_MAGIC, 0, 8, 0, 8) === 0;
}

function corrupt(message: string, cause?: unknown): CompressionError {
  return new CompressionError(SNAPPY, 'corrupt', message, cause === undefined ? undefined : { cause });
}

/** The uncompressed length preamble of a raw snappy block at [start, end). */
function rawLength(data: Buffer, start: number, end: number): number {
  let result = 0;
  let shift = 0;
  for (let p = start; p < end && shift <= 28; p++, shift += 7) {
    const b = data[p]!;
    result += (b & 0x7f) * 2 ** shift;
    if (b < 0x80) {
      if (result > 0xffffffff) break;
      return result;
    }
  }
  throw corrupt('bad uncompressed length preamble');
}

interface Chunk {
  start: number;
  end: number;
  rawLength: number;
}

/** Locates all raw blocks and their output sizes; throws on bad framing or too much output. */
function scan(data: Buffer, maxOutputBytes: number): { chunks: Chunk[]; total: number } {
  const chunks: Chunk[] = [];
  let total = 0;
  const add = (start: number, end: number): void => {
    const n = rawLength(data, start, end);
    total += n;
    if (total > maxOutputBytes) throw tooLarge(SNAPPY, maxOutputBytes);
    chunks.push({ start, end, rawLength: n });
  };
  if (!isXerialFramed(data)) {
    if (data.length === 0) throw corrupt('empty input');
    add(0, data.length);
    return { chunks, total };
  }
  const compatible = data.readInt32BE(12);
  if (compatible < 1 || compatible > 1) throw corrupt(`unsupported xerial compatible version ${compatible}`);
  let pos = XERIAL_HEADER_SIZE;
  while (pos < data.length) {
    if (data.length - pos < 4) throw corrupt('truncated xerial chunk length');
    const len = data.readInt32BE(pos);
    pos += 4;
    if (len <= 0 || len > data.length - pos) throw corrupt(`bad xerial chunk length ${len}`);
    add(pos, pos + len);
    pos += len;
  }
  return { chunks, total };
}

function uncompressChunkSync(data: Buffer, c: Chunk): Buffer {
  let out: Buffer;
  try {
    out = lib().uncompressSync(data.subarray(c.start, c.end), { asBuffer: true }) as Buffer;
  } catch (err) {
    throw corrupt((err as Error).message ?? 'invalid snappy block', err);
  }
  if (out.length !== c.rawLength) throw corrupt('block length does not match its preamble');
  return out;
}

async function uncompressChunk(data: Buffer, c: Chunk): Promise<Buffer> {
  let out: Buffer;
  try {
    out = (await lib().uncompress(data.subarray(c.start, c.end), { asBuffer: true })) as Buffer;
  } catch (err) {
    throw corrupt((err as Error).message ?? 'invalid snappy block', err);
  }
  if (out.length !== c.rawLength) throw corrupt('block length does not match its preamble');
  return out;
}

class Decoder implements Stepper<Buffer> {
  private i = 0;
  private pos = 0;
  readonly out: Buffer;
  constructor(
    private readonly data: Buffer,
    private readonly chunks: Chunk[],
    total: number,
  ) {
    // A single raw block is returned as the library's buffer (no copy).
    this.out = chunks.length === 1 ? Buffer.alloc(0) : Buffer.allocUnsafe(total);
  }
  single(): boolean {
    return this.chunks.length === 1;
  }
  step(budget: number): boolean {
    let done = 0;
    while (this.i < this.chunks.length && done < budget) {
      const c = this.chunks[this.i++]!;
      const raw = uncompressChunkSync(this.data, c);
      raw.copy(this.out, this.pos);
      this.pos += raw.length;
      done += raw.length + 1;
    }
    return this.i >= this.chunks.length;
  }
  result(): Buffer {
    return this.out;
  }
}

export function snappyDecompressSync(data: Buffer, maxOutputBytes: number): Buffer {
  checkMaxOutput(SNAPPY, maxOutputBytes);
  const { chunks, total } = scan(data, maxOutputBytes);
  if (chunks.length === 0) return Buffer.alloc(0);
  if (chunks.length === 1) return uncompressChunkSync(data, chunks[0]!);
  return runSync(new Decoder(data, chunks, total));
}

export async function snappyDecompress(data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  checkMaxOutput(SNAPPY, maxOutputBytes);
  const { chunks, total } = scan(data, maxOutputBytes);
  if (chunks.length === 0) return Buffer.alloc(0);
  if (chunks.length === 1) {
    const c = chunks[0]!;
    return c.rawLength >= ASYNC_CHUNK_BYTES ? uncompressChunk(data, c) : uncompressChunkSync(data, c);
  }
  return runAsync(new Decoder(data, chunks, total));
}

function header(): Buffer {
  const h = Buffer.allocUnsafe(XERIAL_HEADER_SIZE);
  XERIAL_MAGIC.copy(h, 0);
  h.writeInt32BE(1, 8);
  h.writeInt32BE(1, 12);
  return h;
}

class Encoder implements Stepper<Buffer> {
  private pos = 0;
  private readonly parts: Buffer[] = [header()];
  constructor(private readonly data: Buffer) {}
  step(budget: number): boolean {
    let done = 0;
    const snappy = lib();
    while (this.pos < this.data.length && done < budget) {
      const end = Math.min(this.data.length, this.pos + XERIAL_BLOCK_SIZE);
      const block = snappy.compressSync(this.data.subarray(this.pos, end));
      const len = Buffer.allocUnsafe(4);
      len.writeInt32BE(block.length, 0);
      this.parts.push(len, block);
      done += end - this.pos;
      this.pos = end;
    }
    return this.pos >= this.data.length;
  }
  result(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** xerial-framed snappy, as Kafka's Java producer writes it. */
export function snappyCompressSync(data: Buffer): Buffer {
  return runSync(new Encoder(data));
}

export function snappyCompress(data: Buffer): Promise<Buffer> {
  return runAsync(new Encoder(data));
}

/** One raw snappy block, as librdkafka writes it (for tests and interop checks). */
export function snappyCompressRawSync(data: Buffer): Buffer {
  return lib().compressSync(data);
}
