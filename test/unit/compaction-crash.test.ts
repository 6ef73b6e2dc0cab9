/**
 * Crash test of the log cleaner: a child process appends keyed records
 * (acks=-1) to a compacted topic while the cleaner runs continuously, and is
 * SIGKILLed at random moments (so in the middle of building key maps, writing
 * cleaned segments and swapping them in), several times. After each kill the
 * partition must open to a consistent log: no leftover cleaned files or swap
 * marker, offsets increasing, every record at its original offset with its
 * original content, and for every key its latest acknowledged record (or a
 * later record of the key) present, a tombstone being allowed to vanish only
 * after it was superseded or cleaned (delete.retention.ms=0).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { COMPACT_CRASH_PARTITIONS, COMPACT_CRASH_TOPIC } from './compaction-crash-child.test.js';
import { decodeRecords, openEngine, tempDir } from './storage-fixtures.test.js';

const self = fileURLToPath(import.meta.url);
const isTs = self.endsWith('.ts');
const childFile = join(dirname(self), `compaction-crash-child.test.${isTs ? 'ts' : 'js'}`);

function projectRoot(): string {
  let dir = dirname(self);
  while (!fs.existsSync(join(dir, 'package.json')) || dir.endsWith('dist')) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

interface Ack {
  partition: number;
  offset: bigint;
  key: string;
  value: string | null;
}

function runAndKill(dir: string, run: number, killAfterMs: number): Promise<{ acks: Ack[]; cleaned: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = isTs ? ['--import', 'tsx', childFile] : [childFile];
    const child = spawn(process.execPath, args, {
      cwd: projectRoot(),
      env: { ...process.env, KOP_COMPACTION_CRASH_CHILD: '1', KOP_STORAGE_DIR: dir, KOP_STORAGE_RUN: String(run) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let cleaned = 0;
    let stderr = '';
    let partial = '';
    let timer: NodeJS.Timeout | null = null;
    const fallback = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        if (line === 'READY' && timer === null) timer = setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        const m = /^ACK (\d+) (\d+) (\S+) (\S+)$/.exec(line);
        if (m) acks.push({ partition: Number(m[1]), offset: BigInt(m[2]!), key: m[3]!, value: m[4] === '<null>' ? null : m[4]! });
        const c = /^CLEANED (\d+)$/.exec(line);
        if (c) cleaned += Number(c[1]);
      }
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(fallback);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own (code ${code}): ${stderr}`));
      else resolve({ acks, cleaned, stderr });
    });
  });
}

test('crash test: SIGKILL while the log cleaner runs leaves a consistent compacted log every time', { timeout: 240_000 }, async (t) => {
  const seed = Number(process.env.STORAGE_CRASH_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`STORAGE_CRASH_SEED=${seed}`);
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), state | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const d = tempDir('kop-compact-crash-');
  try {
    const acked: Ack[] = [];
    let cleanedPasses = 0;
    let killedMidClean = 0;
    let killedMidSwap = 0;
    const runs = 8;
    for (let run = 0; run < runs; run++) {
      const { acks, cleaned, stderr } = await runAndKill(d.path, run, 400 + Math.floor(random() * 1600));
      assert.ok(acks.length >= 1, `run ${run} made progress ${stderr}`);
      acked.push(...acks);
      cleanedPasses += cleaned;
      for (let p = 0; p < COMPACT_CRASH_PARTITIONS; p++) {
        const pdir = join(d.path, 'topics', 'public', 'default', 'compact-crash', String(p));
        if (!fs.existsSync(pdir)) continue;
        const names = fs.readdirSync(pdir);
        if (names.some((n) => n.endsWith('.cleaned'))) killedMidClean++;
        if (names.includes('clean-swap')) killedMidSwap++;
      }

      // after every kill: open (recovery), check, close
      const engine = await openEngine(d.path);
      try {
        for (let p = 0; p < COMPACT_CRASH_PARTITIONS; p++) {
          const tp = { topic: COMPACT_CRASH_TOPIC, partition: p };
          const dir = engine.partitionLog(tp).dir;
          const leftovers = fs.readdirSync(dir).filter((n) => n.endsWith('.cleaned') || n === 'clean-swap');
          assert.deepEqual(leftovers, [], 'recovery leaves no cleaned file or swap marker');
          const { highWatermark } = await engine.offsets(tp);
          const byOffset = new Map<bigint, { key: string | null; value: string | null }>();
          let pos = 0n;
          let prev = -1n;
          while (pos < highWatermark) {
            const r = await engine.read(tp, pos, { maxBytes: 64 * 1024, minOneMessage: true });
            assert.ok(r.records.length > 0, `partition ${p}: read at ${pos} (HW ${highWatermark}) returns data`);
            for (const buf of r.records) {
              for (const rec of decodeRecords(buf)) {
                if (rec.offset < pos) continue;
                assert.ok(rec.offset > prev, `partition ${p}: offsets increase (${rec.offset} after ${prev})`);
                prev = rec.offset;
                byOffset.set(rec.offset, { key: rec.key, value: rec.value });
              }
              // continue after the last batch, records or not (empty batches keep producer state)
              let q = 0;
              while (q < buf.length) {
                const size = buf.readInt32BE(q + 8) + 12;
                pos = buf.readBigInt64BE(q) + BigInt(buf.readInt32BE(q + 23)) + 1n;
                q += size;
              }
            }
          }
          const mine = acked.filter((a) => a.partition === p);
          const latest = new Map<string, Ack>();
          for (const a of mine) {
            const seen = byOffset.get(a.offset);
            if (seen) assert.deepEqual(seen, { key: a.key, value: a.value }, `partition ${p} offset ${a.offset} keeps its content`);
            const cur = latest.get(a.key);
            if (!cur || a.offset > cur.offset) latest.set(a.key, a);
          }
          for (const [key, a] of latest) {
            const later = [...byOffset.entries()].some(([o, r]) => r.key === key && o > a.offset);
            if (later) continue;
            if (a.value !== null) assert.ok(byOffset.has(a.offset), `partition ${p}: latest value of ${key} at ${a.offset} survives`);
          }
        }
      } finally {
        await engine.close();
      }
    }
    t.diagnostic(`${acked.length} acknowledged appends, ${cleanedPasses} cleaning passes reported, ${runs} kills, ${killedMidClean} partitions killed while writing a cleaned segment, ${killedMidSwap} during a swap`);
    assert.ok(cleanedPasses > 0, 'the cleaner completed passes between the kills');
    assert.ok(killedMidClean + killedMidSwap > 0, 'some kill landed in the middle of a cleaning pass');
  } finally {
    d.cleanup();
  }
});
