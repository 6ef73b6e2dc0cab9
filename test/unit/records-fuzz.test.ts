/**
 * Fuzzing the record batch reader with a seeded PRNG. Mutations hit the raw
 * batch (caught by length/CRC checks), the batch with its CRC recomputed (so
 * they reach the record parser), and the DECOMPRESSED records of compressed
 * batches, recompressed (so the parser is fuzzed behind every codec). Every
 * call must return a consistent result or throw RecordsError /
 * CompressionError — never a RangeError, TypeError or an out-of-bounds slice.
 * KOP_FUZZ_ITERATIONS for longer runs, KOP_FUZZ_SEED to replay.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompressionError, compressSync, decompressSync } from '../../src/protocol/compression/index.js';
import {
  assertBatch,
  checkBatch,
  decodeBatch,
  decodeBatchSync,
  encodeBatchSync,
  forEachRecord,
  openRecordsSync,
  RecordsError,
  splitBatches,
  updateCrc,
  validateBatch,
  validateBatchSync,
  type DecodedBatch,
  type RecordInput,
} from '../../src/protocol/records/index.js';
import { repoRoot } from '../helpers/clients/paths.js';
import { prng } from '../helpers/prng.js';

const ITERATIONS = Number(process.env.KOP_FUZZ_ITERATIONS ?? 400);
const SEED = Number(process.env.KOP_FUZZ_SEED ?? 0xb47c4);
const MAX = 1 << 20;


function mutate(src: Buffer, rnd: () => number, from = 0): Buffer {
  const int = (n: number) => Math.floor(rnd() * n);
  const span = Math.max(1, src.length - from);
  const at = () => from + int(span);
  const b = Buffer.from(src);
  switch (int(6)) {
    case 0: {
      const flips = 1 + int(6);
      for (let i = 0; i < flips && b.length > from; i++) b[at()]! ^= 1 << int(8);
      return b;
    }
    case 1: {
      // extreme varint-ish bytes
      const n = 1 + int(4);
      for (let i = 0; i < n && b.length > from; i++) b[at()] = [0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff][int(6)]!;
      return b;
    }
    case 2:
      return b.subarray(0, from + int(span + 1));
    case 3: {
      const p = at();
      return Buffer.concat([b.subarray(0, p), b.subarray(Math.min(b.length, p + 1 + int(8)))]);
    }
    case 4: {
      const p = at();
      return Buffer.concat([b.subarray(0, p), Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))), b.subarray(p)]);
    }
    default: {
      // a header int32 set to an edge value
      const p = int(Math.max(1, Math.min(b.length, 61) - 4));
      if (b.length >= p + 4) b.writeInt32BE([0, -1, 1, 0x7fffffff, -0x80000000, b.length][int(6)]!, p);
      return b;
    }
  }
}

/** Recompute the batch length field and CRC so a mutated batch gets past the header checks. */
function reseal(b: Buffer): Buffer {
  if (b.length < 61) return b;
  const out = Buffer.from(b);
  out.writeInt32BE(out.length - 12, 8);
  out[16] = 2;
  updateCrc(out, 0);
  return out;
}

function clean(err: unknown, what: string, input: Buffer): void {
  if (err instanceof RecordsError || err instanceof CompressionError) return;
  assert.fail(`${what}: unexpected ${String(err)}\n${(err as Error)?.stack}\ninput ${input.subarray(0, 96).toString('hex')}`);
}

function consistent(d: DecodedBatch, b: Buffer): void {
  assert.equal(d.records.length, d.recordCount);
  let prev = -1;
  for (const r of d.records) {
    assert.ok(r.offsetDelta > prev && r.offsetDelta <= d.lastOffsetDelta);
    prev = r.offsetDelta;
    for (const s of [r.key, r.value, ...r.headers.map((h) => h.value)]) {
      if (s === null) continue;
      assert.ok(s.length <= Math.max(b.length, MAX));
    }
  }
}

/** Every reader on one input: all agree on accept/reject and only throw clean errors. */
async function exercise(input: Buffer): Promise<boolean> {
  let accepted: boolean | undefined;
  const attempt = (what: string, fn: () => void): void => {
    try {
      fn();
      if (what === 'decodeBatchSync') accepted = true;
    } catch (e) {
      clean(e, what, input);
      if (what === 'decodeBatchSync') accepted = false;
    }
  };
  checkBatch(input, 0);
  splitBatches(input);
  attempt('decodeBatchSync', () => consistent(decodeBatchSync(input, 0, { maxUncompressedBytes: MAX }), input));
  attempt('validateBatchSync', () => validateBatchSync(input, 0, { maxUncompressedBytes: MAX, fromClient: false }));
  attempt('validateBatchSync client', () => validateBatchSync(input, 0, { maxUncompressedBytes: MAX }));
  attempt('forEachRecord', () => {
    assertBatch(input, 0);
    const s = openRecordsSync(input, 0, { maxUncompressedBytes: MAX });
    forEachRecord(s, (r) => {
      r.key();
      r.value();
      r.headers();
    });
  });
  try {
    const d = await decodeBatch(input, 0, { maxUncompressedBytes: MAX });
    consistent(d, input);
    assert.equal(accepted, true, 'async decode accepted what sync rejected');
  } catch (e) {
    clean(e, 'decodeBatch', input);
    assert.equal(accepted, false, 'async decode rejected what sync accepted');
  }
  try {
    await validateBatch(input, 0, { maxUncompressedBytes: MAX, fromClient: false });
  } catch (e) {
    clean(e, 'validateBatch', input);
  }
  return accepted === true;
}

function corpus(rnd: () => number): Buffer[] {
  const recs = (n: number): RecordInput[] =>
    Array.from({ length: n }, (_, i) => ({
      key: rnd() < 0.2 ? null : `k${i}`,
      value: rnd() < 0.1 ? null : 'v'.repeat(Math.floor(rnd() * 40)),
      timestamp: 1_700_000_000_000 + Math.floor(rnd() * 10_000) - 5000,
      headers: rnd() < 0.4 ? [{ key: 'h', value: rnd() < 0.3 ? null : 'x' }, { key: 'é', value: '' }] : [],
    }));
  const out: Buffer[] = [];
  for (const c of [0, 1, 2, 3, 4]) {
    out.push(encodeBatchSync({ records: recs(1), compression: c }));
    out.push(encodeBatchSync({ records: recs(12), compression: c, producerId: 7n, producerEpoch: 1, baseSequence: 0 }));
  }
  const dir = join(repoRoot(), 'test', 'fixtures', 'records');
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.bin') && (x.includes('marker') || x.includes('txn') || x.startsWith('kcat-')))) {
    out.push(readFileSync(join(dir, f)));
  }
  return out;
}

test('fuzz: raw mutations of whole batches', async () => {
  const rnd = prng(SEED);
  const seeds = corpus(rnd);
  for (let i = 0; i < ITERATIONS; i++) {
    await exercise(mutate(seeds[Math.floor(rnd() * seeds.length)]!, rnd));
  }
});

test('fuzz: mutations with the CRC and length resealed reach the record parser', async () => {
  const rnd = prng(SEED + 1);
  const seeds = corpus(rnd).filter((b) => (b.readInt16BE(21) & 7) === 0);
  let accepted = 0;
  for (let i = 0; i < ITERATIONS; i++) {
    const b = reseal(mutate(seeds[Math.floor(rnd() * seeds.length)]!, rnd, 57));
    if (await exercise(b)) accepted++;
  }
  assert.ok(accepted < ITERATIONS, 'some mutations must be rejected');
});

test('fuzz: mutated records inside compressed batches (decompress, mutate, recompress, reseal)', async () => {
  const rnd = prng(SEED + 2);
  const seeds = corpus(rnd).filter((b) => (b.readInt16BE(21) & 7) !== 0);
  for (let i = 0; i < ITERATIONS; i++) {
    const b = seeds[Math.floor(rnd() * seeds.length)]!;
    const codec = b.readInt16BE(21) & 7;
    const records = decompressSync(codec, b.subarray(61, 12 + b.readInt32BE(8)), MAX);
    const bad = mutate(records, rnd);
    const rebuilt = Buffer.concat([b.subarray(0, 61), compressSync(codec, bad)]);
    await exercise(reseal(rebuilt));
  }
});

test('fuzz: random bytes and a valid header over random records', async () => {
  const rnd = prng(SEED + 3);
  const header = encodeBatchSync({ records: [{ key: 'k', value: 'v' }] }).subarray(0, 61);
  for (let i = 0; i < ITERATIONS; i++) {
    const body = Buffer.from(Array.from({ length: Math.floor(rnd() * 120) }, () => Math.floor(rnd() * 256)));
    await exercise(rnd() < 0.5 ? body : reseal(Buffer.concat([header, body])));
  }
});
