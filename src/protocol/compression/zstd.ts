/**
 * zstd (Kafka codec 4) with zstd-napi's low-level binding (libzstd 1.5.x,
 * compiled at install time).
 *
 * Decompression always uses the streaming API: Java (zstd-jni's
 * ZstdOutputStream) and librdkafka write frames without a content size, and
 * a declared size would not be trusted anyway. Output goes into a buffer that
 * grows up to the caller's maximum; the decoder's window is capped too
 * (windowLogMax), so a hostile frame can make neither the output nor the
 * decoder's own memory large.
 */
import { createRequire } from 'node:module';
import { CompressionError } from './errors.js';
import { bufferLimit, checkMaxOutput, Output, runAsync, runSync, tooLarge, type Stepper } from './util.js';

const ZSTD = 4;

type Binding = typeof import('zstd-napi/binding.js');
type DCtx = InstanceType<Binding['DCtx']>;
type CCtx = InstanceType<Binding['CCtx']>;

let binding: Binding | undefined;
function lib(): Binding {
  if (binding) return binding;
  try {
    binding = createRequire(import.meta.url)('zstd-napi/binding') as Binding;
  } catch (err) {
    throw new CompressionError(ZSTD, 'unsupported', `the zstd-napi native module did not load: ${(err as Error).message}`, {
      cause: err,
    });
  }
  return binding;
}

/** Kafka's default zstd level (compression.zstd.level). */
export const ZSTD_DEFAULT_LEVEL = 3;
/** Smallest window the decoder always allows: 8 MiB covers levels 1..19 of every producer. */
const MIN_WINDOW_LOG = 23;
/** libzstd's default limit (128 MiB). */
const MAX_WINDOW_LOG = 27;

const dctxPool: DCtx[] = [];
const cctxPool: CCtx[] = [];
const POOL_MAX = 4;

function windowLogFor(maxOutputBytes: number): number {
  const log = Math.ceil(Math.log2(Math.max(1, maxOutputBytes)));
  return Math.min(MAX_WINDOW_LOG, Math.max(MIN_WINDOW_LOG, log));
}

function corrupt(message: string, cause?: unknown): CompressionError {
  return new CompressionError(ZSTD, 'corrupt', message, cause === undefined ? undefined : { cause });
}

class Decoder implements Stepper<Buffer> {
  private sp = 0;
  private dctx: DCtx | undefined;
  private readonly out: Output;
  private finished = false;

  constructor(
    private readonly src: Buffer,
    private readonly maxOutputBytes: number,
  ) {
    if (src.length === 0) throw corrupt('empty input');
    const b = lib();
    // One byte more than allowed: producing it proves the output is too large.
    const limit = Math.min(bufferLimit(maxOutputBytes) + 1, bufferLimit(Number.MAX_SAFE_INTEGER));
    this.out = new Output(Math.min(limit, Math.max(4096, src.length * 4)), limit);
    const d = dctxPool.pop() ?? new b.DCtx();
    try {
      d.reset(b.ResetDirective.sessionAndParameters);
      d.setParameter(b.DParameter.windowLogMax, windowLogFor(maxOutputBytes));
    } catch (err) {
      throw corrupt((err as Error).message, err);
    }
    this.dctx = d;
  }

  private release(reuse: boolean): void {
    const d = this.dctx;
    this.dctx = undefined;
    if (d && reuse && dctxPool.length < POOL_MAX) dctxPool.push(d);
  }

  step(budget: number): boolean {
    try {
      return this.run(budget);
    } catch (err) {
      this.release(false);
      if (err instanceof CompressionError) throw err;
      throw corrupt((err as Error).message ?? String(err), err);
    }
  }

  private run(budget: number): boolean {
    const { src, out } = this;
    const dctx = this.dctx!;
    const before = out.len;
    while (out.len - before < budget) {
      if (out.len === out.buf.length && !out.grow()) throw tooLarge(ZSTD, this.maxOutputBytes);
      const room = Math.min(out.buf.length, out.len + Math.max(budget - (out.len - before), 1 << 16));
      const [ret, produced, consumed] = dctx.decompressStream(out.buf.subarray(out.len, room), src.subarray(this.sp));
      out.len += produced;
      this.sp += consumed;
      if (out.len > this.maxOutputBytes) throw tooLarge(ZSTD, this.maxOutputBytes);
      if (ret === 0 && this.sp === src.length) {
        this.finished = true;
        this.release(true);
        return true;
      }
      // Input exhausted in the middle of a frame while output space was left: truncated.
      if (ret !== 0 && this.sp === src.length && out.len < room) throw corrupt('truncated frame');
      if (produced === 0 && consumed === 0 && out.len < room) throw corrupt('no progress');
    }
    return false;
  }

  result(): Buffer {
    if (!this.finished) throw corrupt('incomplete');
    return this.out.result();
  }
}

export function zstdDecompressSync(data: Buffer, maxOutputBytes: number): Buffer {
  checkMaxOutput(ZSTD, maxOutputBytes);
  return runSync(new Decoder(data, maxOutputBytes));
}

export function zstdDecompress(data: Buffer, maxOutputBytes: number): Promise<Buffer> {
  checkMaxOutput(ZSTD, maxOutputBytes);
  return runAsync(new Decoder(data, maxOutputBytes));
}

export interface ZstdOptions {
  /** compression level (default 3, like Kafka) */
  level?: number;
}

class Encoder implements Stepper<Buffer> {
  private sp = 0;
  private dp = 0;
  private out: Buffer;
  private cctx: CCtx | undefined;
  private done = false;

  constructor(
    private readonly src: Buffer,
    level: number,
  ) {
    const b = lib();
    this.out = Buffer.allocUnsafe(b.compressBound(src.length));
    const c = cctxPool.pop() ?? new b.CCtx();
    c.reset(b.ResetDirective.sessionAndParameters);
    c.setParameter(b.CParameter.compressionLevel, level);
    // The frame records the content size (readers never rely on it).
    c.setPledgedSrcSize(src.length);
    this.cctx = c;
  }

  step(budget: number): boolean {
    const c = this.cctx!;
    const { EndDirective } = lib();
    try {
      let fed = 0;
      while (!this.done && fed < budget) {
        const end = Math.min(this.src.length, this.sp + Math.max(1, budget - fed));
        const last = end === this.src.length;
        const [remaining, produced, consumed] = c.compressStream2(
          this.out.subarray(this.dp),
          this.src.subarray(this.sp, end),
          last ? EndDirective.end : EndDirective.continue,
        );
        this.dp += produced;
        this.sp += consumed;
        fed += consumed;
        if (last && remaining === 0 && this.sp === this.src.length) this.done = true;
        if (!this.done && produced === 0 && consumed === 0) throw new Error('zstd compressor made no progress');
      }
    } catch (err) {
      this.cctx = undefined;
      throw new CompressionError(ZSTD, 'corrupt', (err as Error).message, { cause: err });
    }
    if (this.done) {
      if (cctxPool.length < POOL_MAX) cctxPool.push(c);
      this.cctx = undefined;
    }
    return this.done;
  }

  result(): Buffer {
    return this.out.subarray(0, this.dp);
  }
}

export function zstdCompressSync(data: Buffer, options?: ZstdOptions): Buffer {
  return runSync(new Encoder(data, options?.level ?? ZSTD_DEFAULT_LEVEL));
}

export function zstdCompress(data: Buffer, options?: ZstdOptions): Promise<Buffer> {
  return runAsync(new Encoder(data, options?.level ?? ZSTD_DEFAULT_LEVEL));
}
