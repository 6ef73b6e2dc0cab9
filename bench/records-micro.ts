/**
 * Micro benchmark of the record batch codec and compression: MB/s of
 * decode / visit / validate / encode, and compress / decompress per codec.
 *
 *   npx tsx bench/records-micro.ts [seconds-per-case, default 0.5]
 *
 * MB/s are of UNCOMPRESSED record bytes (what a producer hands over), so the
 * codecs compare on equal terms. One core, synchronous APIs (no yields).
 */
import { performance } from 'node:perf_hooks';
import { compressSync, CODECS, decompressSync } from '../src/protocol/compression/index.js';
import { decodeBatchSync, encodeBatchSync, forEachRecord, openRecordsSync, validateBatchSync, type RecordInput } from '../src/protocol/records/index.js';

const SECONDS = Number(process.argv[2] ?? 0.5);

function sample(records: number, valueBytes: number): RecordInput[] {
  const words = ['kafka', 'pulsar', 'gateway', 'order', 'id', 'amount', 'currency', 'EUR', 'timestamp', 'user'];
  let x = 42;
  return Array.from({ length: records }, (_, i) => {
    let v = '{';
    while (v.length < valueBytes) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      v += `"${words[x % words.length]}":${x % 100000},`;
    }
    return { key: `key-${i}`, value: v.slice(0, valueBytes - 1) + '}', timestamp: 1_700_000_000_000 + i, headers: i % 4 === 0 ? [{ key: 'trace', value: 'abc' }] : [] };
  });
}

function bench(name: string, bytes: number, fn: () => unknown): void {
  for (let i = 0; i < 5; i++) fn();
  let n = 0;
  const start = performance.now();
  let now = start;
  while (now - start < SECONDS * 1000) {
    fn();
    n++;
    now = performance.now();
  }
  const secs = (now - start) / 1000;
  const mbs = (bytes * n) / secs / 1e6;
  console.log(`${name.padEnd(44)} ${mbs.toFixed(0).padStart(7)} MB/s  ${((secs / n) * 1e6).toFixed(1).padStart(9)} µs/op`);
}

for (const [records, valueBytes] of [
  [1000, 100],
  [100, 10_000],
] as const) {
  const input = sample(records, valueBytes);
  const plain = encodeBatchSync({ records: input });
  const raw = plain.length - 61;
  console.log(`\n${records} records x ${valueBytes} B values: batch ${plain.length} bytes`);
  bench('encodeBatch (none)', raw, () => encodeBatchSync({ records: input }));
  bench('decodeBatch (none, objects + slices)', raw, () => decodeBatchSync(plain));
  bench('forEachRecord (none, no allocation)', raw, () => forEachRecord(plain, () => {}));
  bench('validateBatch (none, CRC + records)', raw, () => validateBatchSync(plain));
  const section = plain.subarray(61);
  for (const c of CODECS.filter((x) => x.id !== 0)) {
    const z = compressSync(c.id, section);
    const batch = encodeBatchSync({ records: input, compression: c.id });
    console.log(`  ${c.name}: ratio ${(section.length / z.length).toFixed(2)}`);
    bench(`  compress ${c.name}`, raw, () => compressSync(c.id, section));
    bench(`  decompress ${c.name}`, raw, () => decompressSync(c.id, z, raw));
    bench(`  validateBatch ${c.name} (decompress + records)`, raw, () => validateBatchSync(batch));
    bench(`  open + forEachRecord ${c.name}`, raw, () => forEachRecord(openRecordsSync(batch), () => {}));
  }
}
