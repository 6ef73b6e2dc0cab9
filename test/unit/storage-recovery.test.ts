import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { join } from 'node:path';
import { splitBatches, baseOffset, lastOffsetDelta } from '../../src/protocol/records/batch-header.js';
import { decodeRecords, openEngine, tempDir, TOPIC, valuesBatch } from './storage-fixtures.test.js';
import type { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import { validated } from '../helpers/validated.js';
import { prng as rng } from '../helpers/prng.js';

const tp = { topic: TOPIC, partition: 0 };
const PART_DIR = 'topics/public/default/t1/0';


async function readAllValues(engine: EmbeddedEngine): Promise<Array<[bigint, string]>> {
  const out: Array<[bigint, string]> = [];
  const { logStartOffset, highWatermark } = await engine.offsets(tp);
  let pos = logStartOffset;
  while (pos < highWatermark) {
    const r = await engine.read(tp, pos, { maxBytes: 4096, minOneMessage: true });
    const recs = decodeRecords(r.records).filter((x) => x.offset >= pos);
    assert.ok(recs.length > 0, `progress at ${pos}`);
    for (const x of recs) out.push([x.offset, x.value!]);
    pos = recs[recs.length - 1]!.offset + 1n;
  }
  return out;
}

/** Build a log with several segments; returns the values by offset. */
async function buildLog(dir: string, seed: number): Promise<string[]> {
  const rand = rng(seed);
  const engine = await openEngine(dir);
  const values: string[] = [];
  try {
    await engine.createTopic(TOPIC, 1, { 'segment.bytes': '3000', 'index.interval.bytes': '256' });
    for (let i = 0; i < 70; i++) {
      const n = 1 + Math.floor(rand() * 4);
      const vals = Array.from({ length: n }, (_, k) => `b${i}r${k}:`.padEnd(10 + Math.floor(rand() * 190), String.fromCharCode(97 + (i % 26))));
      const r = await engine.append(tp, validated(valuesBatch(vals)), { acks: -1 });
      assert.equal(r.baseOffset, BigInt(values.length));
      values.push(...vals);
    }
  } finally {
    await engine.close();
  }
  return values;
}

function lastSegment(dir: string): { path: string; base: bigint } {
  const logs = fs
    .readdirSync(join(dir, PART_DIR))
    .filter((f) => f.endsWith('.log'))
    .sort();
  const name = logs[logs.length - 1]!;
  return { path: join(dir, PART_DIR, name), base: BigInt(name.slice(0, 20)) };
}

/** Batch boundaries of a segment file: [startPos, endPos, firstOffset, nextOffset]. */
function boundaries(path: string): Array<[number, number, bigint, bigint]> {
  const data = fs.readFileSync(path);
  const { spans, problem } = splitBatches(data);
  assert.equal(problem, null);
  return spans.map((s) => [s.pos, s.pos + s.size, baseOffset(data, s.pos), baseOffset(data, s.pos) + BigInt(lastOffsetDelta(data, s.pos)) + 1n]);
}

/** What survives a cut at `cut` bytes of the last segment: the offset where the log must end. */
function expectedEnd(bounds: Array<[number, number, bigint, bigint]>, segBase: bigint, cut: number): bigint {
  let end = segBase;
  for (const [, e, , next] of bounds) if (e <= cut) end = next;
  return end;
}

async function checkRecovered(dir: string, values: string[], end: bigint): Promise<void> {
  const engine = await openEngine(dir);
  try {
    const o = await engine.offsets(tp);
    assert.equal(o.highWatermark, end, 'log ends after the last complete batch');
    const got = await readAllValues(engine);
    assert.equal(got.length, Number(end - o.logStartOffset));
    for (const [off, v] of got) assert.equal(v, values[Number(off)], `offset ${off}`);
    // Appends continue densely at the recovered end.
    const r = await engine.append(tp, validated(valuesBatch(['after-crash', 'x'])), { acks: -1 });
    assert.equal(r.baseOffset, end);
    const tail = decodeRecords((await engine.read(tp, end, { maxBytes: 1 << 20, minOneMessage: true })).records);
    assert.deepEqual(
      tail.map((x) => [x.offset, x.value]),
      [
        [end, 'after-crash'],
        [end + 1n, 'x'],
      ],
    );
  } finally {
    await engine.close();
  }
}

test('torn write: truncating the last segment at many cut points keeps exactly the complete batches', async () => {
  const d = tempDir();
  try {
    const src = join(d.path, 'src');
    const values = await buildLog(src, 7);
    const seg = lastSegment(src);
    const bounds = boundaries(seg.path);
    assert.ok(bounds.length >= 5, 'several batches in the last segment');
    const size = fs.statSync(seg.path).size;
    const rand = rng(99);
    const cuts = new Set<number>([0, 1, size - 1, size]);
    for (const [s, e] of bounds) {
      cuts.add(s + 1);
      cuts.add(e - 1);
      cuts.add(s + 12);
      cuts.add(s + 61);
    }
    while (cuts.size < 48) cuts.add(Math.floor(rand() * size));
    let n = 0;
    for (const cut of [...cuts].filter((c) => c >= 0 && c <= size).sort((a, b) => a - b)) {
      const work = join(d.path, `cut-${n++}`);
      fs.cpSync(src, work, { recursive: true });
      fs.truncateSync(lastSegment(work).path, cut);
      fs.rmSync(join(work, 'clean-shutdown')); // as after a crash
      await checkRecovered(work, values, expectedEnd(bounds, seg.base, cut));
      fs.rmSync(work, { recursive: true, force: true });
    }
  } finally {
    d.cleanup();
  }
});

test('corruption: a flipped byte or trailing garbage in the last segment truncates from the damaged batch on', async () => {
  const d = tempDir();
  try {
    const src = join(d.path, 'src');
    const values = await buildLog(src, 11);
    const seg = lastSegment(src);
    const bounds = boundaries(seg.path);
    const rand = rng(5);
    for (let i = 0; i < 25; i++) {
      const work = join(d.path, `flip-${i}`);
      fs.cpSync(src, work, { recursive: true });
      const path = lastSegment(work).path;
      const data = fs.readFileSync(path);
      // Flip a byte covered by the CRC or the length (not the base offset/epoch, which are outside the CRC).
      const [s, e] = bounds[Math.floor(rand() * bounds.length)]!;
      let at = s + 8 + Math.floor(rand() * (e - s - 8));
      if (at >= s + 12 && at < s + 16) at = s + 17; // leader epoch: not covered by the CRC
      data[at] ^= 0x5a;
      fs.writeFileSync(path, data);
      fs.rmSync(join(work, 'clean-shutdown'));
      await checkRecovered(work, values, expectedEnd(bounds, seg.base, s));
      fs.rmSync(work, { recursive: true, force: true });
    }
    // Zeros after the last batch (preallocated/torn page).
    const work = join(d.path, 'zeros');
    fs.cpSync(src, work, { recursive: true });
    fs.appendFileSync(lastSegment(work).path, Buffer.alloc(5000));
    fs.rmSync(join(work, 'clean-shutdown'));
    await checkRecovered(work, values, BigInt(values.length));
  } finally {
    d.cleanup();
  }
});

test('a crash without close: the tail is recovered from the log, indexes rebuilt', async () => {
  const d = tempDir();
  try {
    const e1 = await openEngine(d.path);
    await e1.createTopic(TOPIC, 1, { 'segment.bytes': '2000', 'index.interval.bytes': '100' });
    const values: string[] = [];
    for (let i = 0; i < 60; i++) {
      const v = `v${i}`.padEnd(40, '-');
      await e1.append(tp, validated(valuesBatch([v])), { acks: -1 });
      values.push(v);
    }
    // e1 is abandoned (as if killed): no clean-shutdown marker, active index files never written.
    assert.ok(!fs.existsSync(join(d.path, 'clean-shutdown')));
    const e2 = await openEngine(d.path);
    try {
      const got = await readAllValues(e2);
      assert.deepEqual(
        got.map(([, v]) => v),
        values,
      );
      for (let o = 0; o < 60; o++) {
        const r = await e2.read(tp, BigInt(o), { maxBytes: 1, minOneMessage: true });
        assert.equal(decodeRecords(r.records)[0]!.offset, BigInt(o));
      }
    } finally {
      await e2.close();
    }
  } finally {
    d.cleanup();
  }
});

test('damaged or missing index files of sealed segments are rebuilt; leftovers are cleaned', async () => {
  const d = tempDir();
  try {
    const values = await buildLog(d.path, 3);
    const dir = join(d.path, PART_DIR);
    const indexes = fs.readdirSync(dir).filter((f) => f.endsWith('.index')).sort();
    assert.ok(indexes.length >= 3);
    fs.rmSync(join(dir, indexes[0]!));
    fs.writeFileSync(join(dir, indexes[1]!), Buffer.from([1, 2, 3])); // not a whole entry
    fs.writeFileSync(join(dir, indexes[1]!.replace('.index', '.timeindex')), Buffer.alloc(12, 0xff)); // nonsense
    fs.writeFileSync(join(dir, '99999999999999999999.index'), Buffer.alloc(8)); // orphan
    fs.writeFileSync(join(dir, 'log-start-offset.tmp'), 'junk'); // interrupted atomic write
    const engine = await openEngine(d.path);
    try {
      assert.ok(!fs.existsSync(join(dir, '99999999999999999999.index')));
      assert.ok(!fs.existsSync(join(dir, 'log-start-offset.tmp')));
      const got = await readAllValues(engine);
      assert.deepEqual(
        got.map(([, v]) => v),
        values,
      );
      for (let o = 0; o < values.length; o += 3) {
        const r = await engine.read(tp, BigInt(o), { maxBytes: 1, minOneMessage: true });
        assert.ok(decodeRecords(r.records).some((x) => x.offset === BigInt(o) && x.value === values[o]));
      }
      assert.equal((await engine.offsetForTimestamp(tp, 0n))!.offset, 0n);
    } finally {
      await engine.close();
    }
  } finally {
    d.cleanup();
  }
});

test('crash right after a roll (empty new segment) and interrupted topic operations recover', async () => {
  const d = tempDir();
  try {
    const values = await buildLog(d.path, 21);
    const end = BigInt(values.length);
    // A roll that crashed after creating the next (empty) segment file.
    fs.writeFileSync(join(d.path, PART_DIR, end.toString().padStart(20, '0') + '.log'), '');
    // An interrupted CreateTopics (no topic.json) and CreatePartitions (extra partition dir).
    fs.mkdirSync(join(d.path, 'topics/public/default/half/0'), { recursive: true });
    fs.mkdirSync(join(d.path, 'topics/public/default/t1/5'), { recursive: true });
    fs.rmSync(join(d.path, 'clean-shutdown'));
    const engine = await openEngine(d.path);
    try {
      assert.equal((await engine.offsets(tp)).highWatermark, end);
      assert.equal((await engine.append(tp, validated(valuesBatch(['next'])), { acks: -1 })).baseOffset, end);
      assert.equal(await engine.describeTopic('persistent://public/default/half'), null);
      assert.ok(!fs.existsSync(join(d.path, 'topics/public/default/half')));
      assert.ok(!fs.existsSync(join(d.path, 'topics/public/default/t1/5')));
      assert.equal((await readAllValues(engine)).length, values.length + 1);
    } finally {
      await engine.close();
    }
  } finally {
    d.cleanup();
  }
});
