/**
 * Test fixtures for the storage tests (no tests of its own): a tiny Kafka v2
 * record batch builder/decoder (uncompressed records, correct header + CRC32C via
 * batch-header.ts), temp directories and engine helpers.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  OFF_BATCH_LENGTH,
  baseOffset,
  baseTimestamp,
  splitBatches,
  updateCrc,
} from '../../src/protocol/records/batch-header.js';
import { EmbeddedEngine, type EmbeddedEngineOptions } from '../../src/storage/embedded/engine.js';

export interface RecordSpec {
  key?: string | Buffer | null;
  value: string | Buffer | null;
  /** Absolute timestamp (ms); default the batch's base timestamp. */
  timestamp?: bigint;
}

export interface BatchOptions {
  baseTimestamp?: bigint;
  producerId?: bigint;
  producerEpoch?: number;
  baseSequence?: number;
  /** Attribute bits (e.g. 0x08 LogAppendTime); compression bits only mark the batch. */
  attributes?: number;
}

function zigzag(n: bigint): bigint {
  return n >= 0n ? n << 1n : (-n << 1n) - 1n;
}

function varint(out: number[], n: number | bigint): void {
  let v = zigzag(BigInt(n));
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
}

function bytesOf(v: string | Buffer): Buffer {
  return typeof v === 'string' ? Buffer.from(v) : v;
}

/** One v2 record batch with base offset 0 and a valid CRC. */
export function buildBatch(records: RecordSpec[], options: BatchOptions = {}): Buffer {
  if (records.length === 0) throw new Error('a batch needs records');
  const baseTs = options.baseTimestamp ?? records[0]!.timestamp ?? 1_700_000_000_000n;
  let maxTs = -1n;
  const body: Buffer[] = [];
  records.forEach((r, i) => {
    const ts = r.timestamp ?? baseTs;
    if (ts > maxTs) maxTs = ts;
    const inner: number[] = [];
    inner.push(0); // attributes
    varint(inner, ts - baseTs);
    varint(inner, i);
    const parts: Buffer[] = [];
    const key = r.key === undefined || r.key === null ? null : bytesOf(r.key);
    const value = r.value === null ? null : bytesOf(r.value);
    const pre: number[] = [...inner];
    varint(pre, key ? key.length : -1);
    parts.push(Buffer.from(pre));
    if (key) parts.push(key);
    const mid: number[] = [];
    varint(mid, value ? value.length : -1);
    parts.push(Buffer.from(mid));
    if (value) parts.push(value);
    parts.push(Buffer.from([0])); // headers count 0
    const rec = Buffer.concat(parts);
    const len: number[] = [];
    varint(len, rec.length);
    body.push(Buffer.from(len), rec);
  });
  const records_ = Buffer.concat(body);
  const buf = Buffer.alloc(BATCH_HEADER_SIZE + records_.length);
  buf.writeBigInt64BE(0n, 0);
  buf.writeInt32BE(buf.length - LOG_OVERHEAD, OFF_BATCH_LENGTH);
  buf.writeInt32BE(-1, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(options.attributes ?? 0, 21);
  buf.writeInt32BE(records.length - 1, 23);
  buf.writeBigInt64BE(baseTs, 27);
  buf.writeBigInt64BE(maxTs, 35);
  buf.writeBigInt64BE(options.producerId ?? -1n, 43);
  buf.writeInt16BE(options.producerEpoch ?? -1, 51);
  buf.writeInt32BE(options.baseSequence ?? -1, 53);
  buf.writeInt32BE(records.length, 57);
  records_.copy(buf, BATCH_HEADER_SIZE);
  updateCrc(buf, 0);
  return buf;
}

/** Batch of string values. */
export function valuesBatch(values: string[], options: BatchOptions = {}): Buffer {
  return buildBatch(
    values.map((value) => ({ value })),
    options,
  );
}

let cursor = 0;
function readVar(buf: Buffer): number {
  let value = 0;
  let mul = 1;
  for (;;) {
    const b = buf[cursor++]!;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) break;
    mul *= 128;
  }
  return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
}

export interface DecodedRecord {
  offset: bigint;
  timestamp: bigint;
  key: string | null;
  value: string | null;
}

/** Decode every record of consecutive uncompressed batches. */
export function decodeRecords(bufs: Buffer | Buffer[]): DecodedRecord[] {
  const out: DecodedRecord[] = [];
  for (const buf of Array.isArray(bufs) ? bufs : [bufs]) {
    const { spans, problem } = splitBatches(buf);
    if (problem !== null) throw new Error(`bad batch in read result: ${problem}`);
    for (const { pos, size } of spans) {
      const base = baseOffset(buf, pos);
      const baseTs = baseTimestamp(buf, pos);
      const count = buf.readInt32BE(pos + 57);
      cursor = pos + BATCH_HEADER_SIZE;
      for (let i = 0; i < count; i++) {
        const len = readVar(buf);
        const next = cursor + len;
        cursor++;
        const tsDelta = readVar(buf);
        const offDelta = readVar(buf);
        const kl = readVar(buf);
        const key = kl < 0 ? null : buf.toString('utf8', cursor, cursor + kl);
        if (kl > 0) cursor += kl;
        const vl = readVar(buf);
        const value = vl < 0 ? null : buf.toString('utf8', cursor, cursor + vl);
        cursor = next;
        out.push({ offset: base + BigInt(offDelta), timestamp: baseTs + BigInt(tsDelta), key, value });
      }
      if (cursor !== pos + size) throw new Error('record framing mismatch');
    }
  }
  return out;
}

/** Base offsets of the batches in a read result. */
export function batchBases(bufs: Buffer[]): bigint[] {
  const out: bigint[] = [];
  for (const buf of bufs) for (const { pos } of splitBatches(buf).spans) out.push(baseOffset(buf, pos));
  return out;
}

export interface TempDir {
  path: string;
  cleanup(): void;
}

export function tempDir(prefix = 'kop-storage-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export const TOPIC = 'persistent://public/default/t1';

export async function openEngine(dir: string, options: Partial<EmbeddedEngineOptions> = {}): Promise<EmbeddedEngine> {
  const engine = new EmbeddedEngine({ dataDirectory: dir, retentionCheckIntervalMs: 0, ...options });
  await engine.start();
  return engine;
}
