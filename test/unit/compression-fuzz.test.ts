/**
 * Fuzzing the decompressors with a seeded PRNG: bit flips, overwritten bytes,
 * truncations, splices and random bytes behind each codec's magic, seeded
 * from our own output and from the real clients' payloads in
 * test/fixtures/records. Every input must either decompress within the
 * output limit or fail with a CompressionError; nothing else, no crash.
 * Set KOP_FUZZ_ITERATIONS for longer runs, KOP_FUZZ_SEED to replay one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CompressionError, compressSync, decompress, decompressSync, lz4CompressSync, snappyCompressRawSync } from '../../src/protocol/compression/index.js';
import { repoRoot } from '../helpers/clients/paths.js';
import { prng } from '../helpers/prng.js';

const ITERATIONS = Number(process.env.KOP_FUZZ_ITERATIONS ?? 400);
const SEED = Number(process.env.KOP_FUZZ_SEED ?? 0x5eed);
const LIMIT = 256 * 1024;


function text(n: number, rnd: () => number): Buffer {
  const words = ['kafka', 'record', 'batch', 'zz', '0000', 'éé', 'pulsar'];
  const parts: string[] = [];
  let len = 0;
  while (len < n) {
    const w = words[Math.floor(rnd() * words.length)]!;
    parts.push(w);
    len += w.length + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, n);
}

function mutate(src: Buffer, rnd: () => number): Buffer {
  const int = (n: number) => Math.floor(rnd() * n);
  const b = Buffer.from(src);
  switch (int(7)) {
    case 0: {
      // flip 1..8 bits
      const flips = 1 + int(8);
      for (let i = 0; i < flips && b.length > 0; i++) b[int(b.length)]! ^= 1 << int(8);
      return b;
    }
    case 1: {
      // overwrite a few bytes with random / extreme values
      const n = 1 + int(4);
      for (let i = 0; i < n && b.length > 0; i++) b[int(b.length)] = [0, 0xff, 0x7f, 0x80, int(256)][int(5)]!;
      return b;
    }
    case 2:
      return b.subarray(0, int(b.length + 1)); // truncate
    case 3: {
      // delete a range
      const at = int(b.length + 1);
      return Buffer.concat([b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + int(16)))]);
    }
    case 4: {
      // insert random bytes
      const at = int(b.length + 1);
      const ins = Buffer.from(Array.from({ length: 1 + int(16) }, () => int(256)));
      return Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
    }
    case 5: {
      // keep a prefix (the header), randomize the rest
      const keep = Math.min(b.length, int(24));
      for (let i = keep; i < b.length; i++) b[i] = int(256);
      return b;
    }
    default: {
      // duplicate a slice (repeated blocks / frames)
      const at = int(b.length + 1);
      const len = int(Math.min(64, b.length - at) + 1);
      return Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)]);
    }
  }
}

/** Compressed payloads of the real-client fixtures, by codec id. */
function fixturePayloads(): Map<number, Buffer[]> {
  const dir = join(repoRoot(), 'test', 'fixtures', 'records');
  const out = new Map<number, Buffer[]>();
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.bin'))) {
    const b = readFileSync(join(dir, f));
    const codec = b.readInt16BE(21) & 7;
    if (codec === 0) continue;
    const list = out.get(codec) ?? [];
    list.push(b.subarray(61, 12 + b.readInt32BE(8)));
    out.set(codec, list);
  }
  return out;
}

function check(codec: number, input: Buffer, out: Buffer | undefined, err: unknown): void {
  if (err === undefined) {
    assert.ok(out && out.length <= LIMIT, `codec ${codec}: output over the limit`);
    return;
  }
  if (!(err instanceof CompressionError)) {
    assert.fail(`codec ${codec}: ${String(err)} is not a CompressionError (input ${input.subarray(0, 64).toString('hex')}...)`);
  }
}

const seeds = fixturePayloads();

for (const codec of [1, 2, 3, 4]) {
  test(`fuzz ${['', 'gzip', 'snappy', 'lz4', 'zstd'][codec]}: only clean CompressionErrors, output within the limit`, async () => {
    const rnd = prng(SEED + codec);
    const corpus: Buffer[] = [
      compressSync(codec, Buffer.alloc(0)),
      compressSync(codec, text(100, rnd)),
      compressSync(codec, text(70_000, rnd)),
      compressSync(codec, Buffer.alloc(200_000, 0x61)),
      compressSync(codec, Buffer.from(Array.from({ length: 3000 }, () => Math.floor(rnd() * 256)))),
      ...(seeds.get(codec) ?? []),
    ];
    if (codec === 2) corpus.push(snappyCompressRawSync(text(50_000, rnd)));
    if (codec === 3) corpus.push(lz4CompressSync(text(80_000, rnd), { blockChecksum: true, contentChecksum: true, contentSize: true }));
    let ok = 0;
    let failed = 0;
    for (let i = 0; i < ITERATIONS; i++) {
      const base = corpus[Math.floor(rnd() * corpus.length)]!;
      let input = mutate(base, rnd);
      if (rnd() < 0.2) input = mutate(input, rnd);
      let out: Buffer | undefined;
      let err: unknown;
      try {
        out = decompressSync(codec, input, LIMIT);
      } catch (e) {
        err = e;
      }
      check(codec, input, out, err);
      if (err === undefined) ok++;
      else failed++;
      if (i % 8 === 0) {
        let aout: Buffer | undefined;
        let aerr: unknown;
        try {
          aout = await decompress(codec, input, LIMIT);
        } catch (e) {
          aerr = e;
        }
        check(codec, input, aout, aerr);
        // sync and async agree
        assert.equal(aerr === undefined, err === undefined, 'sync and async disagree');
        if (aout && out) assert.ok(aout.equals(out));
      }
    }
    assert.ok(failed > 0, 'mutations should break some inputs');
    assert.equal(ok + failed, ITERATIONS);
  });
}

test('fuzz: pure random bytes, with and without each codec magic', () => {
  const rnd = prng(SEED);
  const magics: Record<number, Buffer> = {
    1: Buffer.from([0x1f, 0x8b, 0x08, 0x00]),
    2: Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1]),
    3: Buffer.from([0x04, 0x22, 0x4d, 0x18]),
    4: Buffer.from([0x28, 0xb5, 0x2f, 0xfd]),
  };
  for (let i = 0; i < ITERATIONS; i++) {
    const codec = 1 + Math.floor(rnd() * 4);
    const body = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => Math.floor(rnd() * 256)));
    const input = rnd() < 0.7 ? Buffer.concat([magics[codec]!, body]) : body;
    let out: Buffer | undefined;
    let err: unknown;
    try {
      out = decompressSync(codec, input, LIMIT);
    } catch (e) {
      err = e;
    }
    check(codec, input, out, err);
  }
});
