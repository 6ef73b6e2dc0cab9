/**
 * lz4 (Kafka codec 3): the LZ4 frame format
 * (https://github.com/lz4/lz4/blob/dev/doc/lz4_Frame_format.md) around the
 * pure-TypeScript block codec in lz4-block.ts.
 *
 * Kafka >= 0.10 (KIP-57) writes standard frames with a correct header
 * checksum; Java writes FLG 0x60 (version 1, independent blocks, no
 * checksums, no content size) and BD 0x40 (64 KiB blocks), librdkafka uses
 * liblz4's LZ4F defaults. The decoder accepts every standard option except
 * dictionaries: linked blocks, block and content checksums (verified),
 * content size (checked against the limit up front and against the output at
 * the end), skippable frames and concatenated frames. Pre-KIP-57 clients wrote
 * a broken header checksum, but only in magic v0/v1 message sets, which this
 * codec is never asked to read (record batches are magic v2): it is rejected.
 *
 * Output is bounded: the decoder writes into a buffer that grows by doubling
 * up to the caller's maximum and never past it.
 */
import { CompressionError } from './errors.js';
import { compressBound, decodeBlock, encodeBlock, MALFORMED, OUTPUT_FULL } from './lz4-block.js';
import { bufferLimit, checkMaxOutput, Output, runAsync, runSync, tooLarge, type Stepper } from './util.js';
import { xxhash32 } from './xxhash32.js';

const LZ4 = 3;
export const LZ4_FRAME_MAGIC = 0x184d2204;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

const FLG_VERSION_MASK = 0xc0;
const FLG_VERSION_01 = 0x40;
const FLG_BLOCK_INDEPENDENT = 0x20;
const FLG_BLOCK_CHECKSUM = 0x10;
const FLG_CONTENT_SIZE = 0x08;
const FLG_CONTENT_CHECKSUM = 0x04;
const FLG_RESERVED = 0x02;
const FLG_DICT_ID = 0x01;
const BLOCK_UNCOMPRESSED = 0x80000000;

/** Block maximum sizes by BD id (4..7). */
const BLOCK_SIZES = [0, 0, 0, 0, 64 * 1024, 256 * 1024, 1024 * 1024, 4 * 1024 * 1024];

export type Lz4BlockSize = 65536 | 262144 | 1048576 | 4194304;

export interface Lz4FrameOptions {
  /** default 64 KiB, like Kafka's Java producer */
  blockSize?: Lz4BlockSize;
  /** XXH32 of each compressed block (default false, like Kafka) */
  blockChecksum?: boolean;
  /** XXH32 of the whole content (default false, like Kafka) */
  contentChecksum?: boolean;
  /** store the content size in the header (default false, like Kafka) */
  contentSize?: boolean;
}

function corrupt(message: string): CompressionError {
  return new CompressionError(LZ4, 'corrupt', message);
}

class Decoder implements Stepper<Buffer> {
  private pos = 0;
  private frames = 0;
  private inFrame = false;
  // current frame
  private blockMax = 0;
  private independent = true;
  private blockChecksum = false;
  private contentChecksum = false;
  private contentSize = -1;
  private frameStart = 0;
  private readonly out: Output;

  constructor(
    private readonly src: Buffer,
    private readonly maxOutputBytes: number,
  ) {
    const limit = bufferLimit(maxOutputBytes);
    this.out = new Output(Math.min(limit, Math.max(4096, src.length * 4)), limit);
  }

  private need(n: number, what: string): void {
    if (this.src.length - this.pos < n) throw corrupt(`truncated ${what}`);
  }

  /** Reads a frame header (skipping skippable frames); false at the end of input. */
  private readHeader(): void {
    const src = this.src;
    this.need(4, 'frame magic');
    const magic = src.readUInt32LE(this.pos);
    if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) {
      this.need(8, 'skippable frame');
      const size = src.readUInt32LE(this.pos + 4);
      this.pos += 8;
      this.need(size, 'skippable frame');
      this.pos += size;
      return;
    }
    if (magic !== LZ4_FRAME_MAGIC) throw corrupt(`bad frame magic 0x${magic.toString(16)}`);
    this.need(7, 'frame header');
    const descStart = this.pos + 4;
    const flg = src[descStart]!;
    const bd = src[descStart + 1]!;
    if ((flg & FLG_VERSION_MASK) !== FLG_VERSION_01) throw corrupt(`unsupported frame version ${(flg >>> 6) & 3}`);
    if (flg & FLG_RESERVED || bd & 0x8f) throw corrupt('reserved frame descriptor bits are set');
    if (flg & FLG_DICT_ID) throw new CompressionError(LZ4, 'unsupported', 'frames with a dictionary id are not supported');
    const blockMax = BLOCK_SIZES[(bd >>> 4) & 7]!;
    if (blockMax === 0) throw corrupt(`bad block maximum size id ${(bd >>> 4) & 7}`);
    const descLen = 2 + (flg & FLG_CONTENT_SIZE ? 8 : 0);
    this.need(4 + descLen + 1, 'frame header');
    let contentSize = -1;
    if (flg & FLG_CONTENT_SIZE) {
      const lo = src.readUInt32LE(descStart + 2);
      const hi = src.readUInt32LE(descStart + 6);
      const room = this.maxOutputBytes - this.out.len;
      if (hi > 0x1fffff || hi * 2 ** 32 + lo > room) throw tooLarge(LZ4, this.maxOutputBytes);
      contentSize = hi * 2 ** 32 + lo;
    }
    const hc = src[descStart + descLen]!;
    if (hc !== ((xxhash32(src, descStart, descStart + descLen) >>> 8) & 0xff)) throw corrupt('bad frame header checksum');
    this.pos = descStart + descLen + 1;
    this.blockMax = blockMax;
    this.independent = (flg & FLG_BLOCK_INDEPENDENT) !== 0;
    this.blockChecksum = (flg & FLG_BLOCK_CHECKSUM) !== 0;
    this.contentChecksum = (flg & FLG_CONTENT_CHECKSUM) !== 0;
    this.contentSize = contentSize;
    this.frameStart = this.out.len;
    this.inFrame = true;
    this.frames++;
    if (contentSize >= 0) this.out.ensure(this.out.len + contentSize);
  }

  private endFrame(): void {
    const out = this.out;
    if (this.contentChecksum) {
      this.need(4, 'content checksum');
      const stored = this.src.readUInt32LE(this.pos);
      this.pos += 4;
      if (stored !== xxhash32(out.buf, this.frameStart, out.len)) throw corrupt('bad content checksum');
    }
    if (this.contentSize >= 0 && out.len - this.frameStart !== this.contentSize) throw corrupt('content size does not match the header');
    this.inFrame = false;
  }

  private block(size: number, uncompressed: boolean): void {
    const src = this.src;
    const out = this.out;
    if (size > this.blockMax) throw corrupt(`block of ${size} bytes exceeds the frame's maximum ${this.blockMax}`);
    this.need(size + (this.blockChecksum ? 4 : 0), 'block');
    const start = this.pos;
    const end = start + size;
    if (this.blockChecksum && src.readUInt32LE(end) !== xxhash32(src, start, end)) throw corrupt('bad block checksum');
    if (uncompressed) {
      if (!out.ensure(out.len + size)) throw tooLarge(LZ4, this.maxOutputBytes);
      src.copy(out.buf, out.len, start, end);
      out.len += size;
    } else {
      const windowStart = this.independent ? out.len : this.frameStart;
      for (;;) {
        const blockLimit = out.len + this.blockMax;
        const cap = Math.min(out.buf.length, blockLimit);
        const r = decodeBlock(src, start, end, out.buf, out.len, cap, windowStart);
        if (r >= 0) {
          out.len = r;
          break;
        }
        if (r === MALFORMED) throw corrupt('malformed block');
        if (r === OUTPUT_FULL && cap === blockLimit) throw corrupt(`block decodes to more than the frame's maximum ${this.blockMax}`);
        if (!out.grow()) throw tooLarge(LZ4, this.maxOutputBytes);
      }
    }
    this.pos = end + (this.blockChecksum ? 4 : 0);
  }

  step(budget: number): boolean {
    const src = this.src;
    const before = this.out.len;
    let blocks = 0;
    while (this.out.len - before < budget && blocks < 4096) {
      if (!this.inFrame) {
        if (this.pos === src.length) {
          if (this.frames === 0) throw corrupt(src.length === 0 ? 'empty input' : 'no frame');
          return true;
        }
        this.readHeader();
        continue;
      }
      this.need(4, 'block size');
      const word = src.readUInt32LE(this.pos);
      this.pos += 4;
      blocks++;
      if (word === 0) this.endFrame();
      else this.block(word & ~BLOCK_UNCOMPRESSED, (word & BLOCK_UNCOMPRESSED) !== 0);
    }
    return false;
  }

  result(): Buffer {
    return this.out.result();
  }
}

export function lz4DecompressSync(data: Buffer, maxOutputBytes: number): Buffer {
  checkMaxOutput(LZ4, maxOutputBytes);
  return runSync(new Decoder(data, maxOutputBytes));
}

export function lz4DecompressAsync(data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  checkMaxOutput(LZ4, maxOutputBytes);
  return runAsync(new Decoder(data, maxOutputBytes));
}

class Encoder implements Stepper<Buffer> {
  private pos = 0;
  private dp: number;
  private readonly out: Buffer;
  private readonly blockSize: number;
  private readonly blockChecksum: boolean;
  private readonly contentChecksum: boolean;

  constructor(
    private readonly src: Buffer,
    options: Lz4FrameOptions | undefined,
  ) {
    this.blockSize = options?.blockSize ?? 65536;
    const bdId = BLOCK_SIZES.indexOf(this.blockSize);
    if (bdId < 4) throw new CompressionError(LZ4, 'unsupported', `bad LZ4 block size ${this.blockSize}`);
    this.blockChecksum = options?.blockChecksum ?? false;
    this.contentChecksum = options?.contentChecksum ?? false;
    const withSize = options?.contentSize ?? false;
    const blocks = Math.ceil(src.length / this.blockSize);
    const perBlock = 4 + compressBound(this.blockSize) + (this.blockChecksum ? 4 : 0);
    this.out = Buffer.allocUnsafe(4 + 2 + 8 + 1 + blocks * perBlock + 4 + 4);
    const out = this.out;
    out.writeUInt32LE(LZ4_FRAME_MAGIC, 0);
    out[4] =
      FLG_VERSION_01 |
      FLG_BLOCK_INDEPENDENT |
      (this.blockChecksum ? FLG_BLOCK_CHECKSUM : 0) |
      (withSize ? FLG_CONTENT_SIZE : 0) |
      (this.contentChecksum ? FLG_CONTENT_CHECKSUM : 0);
    out[5] = bdId << 4;
    let p = 6;
    if (withSize) {
      out.writeUInt32LE(src.length % 2 ** 32, 6);
      out.writeUInt32LE(Math.floor(src.length / 2 ** 32), 10);
      p = 14;
    }
    out[p] = (xxhash32(out, 4, p) >>> 8) & 0xff;
    this.dp = p + 1;
  }

  step(budget: number): boolean {
    const { src, out } = this;
    let done = 0;
    while (this.pos < src.length && done < budget) {
      const end = Math.min(src.length, this.pos + this.blockSize);
      const sizePos = this.dp;
      const dataPos = sizePos + 4;
      let dataEnd = encodeBlock(src, this.pos, end, out, dataPos);
      if (dataEnd - dataPos >= end - this.pos) {
        // incompressible: store the block as is
        src.copy(out, dataPos, this.pos, end);
        dataEnd = dataPos + (end - this.pos);
        out.writeUInt32LE((BLOCK_UNCOMPRESSED | (end - this.pos)) >>> 0, sizePos);
      } else {
        out.writeUInt32LE(dataEnd - dataPos, sizePos);
      }
      if (this.blockChecksum) {
        out.writeUInt32LE(xxhash32(out, dataPos, dataEnd), dataEnd);
        dataEnd += 4;
      }
      this.dp = dataEnd;
      done += end - this.pos;
      this.pos = end;
    }
    return this.pos >= src.length;
  }

  result(): Buffer {
    const out = this.out;
    out.writeUInt32LE(0, this.dp);
    this.dp += 4;
    if (this.contentChecksum) {
      out.writeUInt32LE(xxhash32(this.src), this.dp);
      this.dp += 4;
    }
    return out.subarray(0, this.dp);
  }
}

/** One LZ4 frame as Kafka's Java producer writes it (options change the frame flags, for tests). */
export function lz4CompressSync(data: Buffer, options?: Lz4FrameOptions): Buffer {
  return runSync(new Encoder(data, options));
}

export function lz4Compress(data: Buffer, options?: Lz4FrameOptions): Promise<Buffer> {
  return runAsync(new Encoder(data, options));
}
