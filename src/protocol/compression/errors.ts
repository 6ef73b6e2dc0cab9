/**
 * Errors of the compression codecs. Every failure of a decompressor on
 * untrusted bytes surfaces as a CompressionError (never a crash, a native
 * abort or an unbounded allocation), carrying the Kafka error code a Produce
 * handler answers with.
 */
import { ErrorCode, KafkaError } from '../errors.js';

export type CompressionProblem =
  | 'corrupt' // malformed, truncated or failing a checksum
  | 'too-large' // would decompress to more than the caller's maximum
  | 'unsupported'; // unknown codec id, or a codec feature Kafka never uses (LZ4 dictionaries, ...)

const CODE: Record<CompressionProblem, ErrorCode> = {
  corrupt: ErrorCode.CORRUPT_MESSAGE,
  'too-large': ErrorCode.MESSAGE_TOO_LARGE,
  unsupported: ErrorCode.UNSUPPORTED_COMPRESSION_TYPE,
};

export class CompressionError extends KafkaError {
  constructor(
    /** Kafka codec id (attributes & 7) */
    readonly codec: number,
    readonly problem: CompressionProblem,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(CODE[problem], `${codecName(codec)}: ${message}`);
    this.name = 'CompressionError';
    if (options?.cause !== undefined) (this as { cause?: unknown }).cause = options.cause;
  }
}

const NAMES = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const;
export type CodecName = (typeof NAMES)[number];

/** Kafka's name of a codec id ("gzip"), or "codec-N" for an unknown id. */
export function codecName(codec: number): string {
  return NAMES[codec] ?? `codec-${codec}`;
}

/** The codec id of a Kafka `compression.type` name (case-insensitive); throws on an unknown name. */
export function codecId(name: string): number {
  const i = (NAMES as readonly string[]).indexOf(name.toLowerCase());
  if (i < 0) throw new CompressionError(-1, 'unsupported', `unknown compression type "${name}"`);
  return i;
}
