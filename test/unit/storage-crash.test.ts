/**
 * Crash test: a child process appends with acks=-1 (every-batch flush) and is
 * SIGKILLed at random moments, several times; then every acknowledged append must
 * be readable at its offset with its content, exactly once, with dense offsets.
 *
 * Works from the TypeScript sources (`npx tsx --test`) and from the compiled
 * JavaScript in dist/ (`npm test`): the child is this directory's
 * storage-crash-child file, started with `--import tsx` only for .ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CRASH_PARTITIONS, CRASH_TOPIC } from './storage-crash-child.test.js';
import { decodeRecords, openEngine, tempDir, valuesBatch } from './storage-fixtures.test.js';
import { validated } from '../helpers/validated.js';

const self = fileURLToPath(import.meta.url);
const isTs = self.endsWith('.ts');
const childFile = join(dirname(self), `storage-crash-child.test.${isTs ? 'ts' : 'js'}`);

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
  count: number;
  payload: string;
}

/** Run the child until it has printed `minAcks` acknowledgements (or 8 s), then SIGKILL it. */
function runAndKill(dir: string, run: number, minAcks: number, extraDelayMs: number): Promise<{ acks: Ack[]; stderr: string }> {
  return new Promise((resolve, reject) => {
    const args = isTs ? ['--import', 'tsx', childFile] : [childFile];
    const child = spawn(process.execPath, args, {
      cwd: projectRoot(),
      env: { ...process.env, KOP_STORAGE_CRASH_CHILD: '1', KOP_STORAGE_DIR: dir, KOP_STORAGE_RUN: String(run) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const acks: Ack[] = [];
    let stderr = '';
    let partial = '';
    let killScheduled = false;
    const kill = (): void => {
      if (killScheduled) return;
      killScheduled = true;
      setTimeout(() => child.kill('SIGKILL'), extraDelayMs);
    };
    const fallback = setTimeout(kill, 8000);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const line of lines) {
        const m = /^ACK (\d+) (\d+) (\d+) (\S+)$/.exec(line);
        if (m) acks.push({ partition: Number(m[1]), offset: BigInt(m[2]!), count: Number(m[3]), payload: m[4]! });
      }
      if (acks.length >= minAcks) kill();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (c: string) => (stderr += c));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(fallback);
      if (signal !== 'SIGKILL') reject(new Error(`child exited on its own (code ${code}): ${stderr}`));
      else resolve({ acks, stderr });
    });
  });
}

test('crash test: SIGKILL during acks=-1 appends loses no acknowledged record, duplicates none, keeps offsets dense', { timeout: 120_000 }, async (t) => {
  const seed = Number(process.env.STORAGE_CRASH_SEED ?? Date.now() % 1_000_000);
  t.diagnostic(`STORAGE_CRASH_SEED=${seed}`);
  let state = seed >>> 0;
  const random = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = Math.imul(state ^ (state >>> 15), state | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  const d = tempDir('kop-crash-');
  try {
    const all: Ack[] = [];
    // The first kill comes right after the first acknowledgement (topic just created); the others at random points.
    const plan: Array<[number, number]> = [[1, 0]];
    for (let i = 0; i < 5; i++) plan.push([1 + Math.floor(random() * 500), Math.floor(random() * 15)]);
    for (const [run, [minAcks, delay]] of plan.entries()) {
      const { acks, stderr } = await runAndKill(d.path, run, minAcks, delay);
      assert.ok(acks.length >= 1, `run ${run} made progress (${acks.length} acks) ${stderr}`);
      all.push(...acks);
    }
    t.diagnostic(`${all.length} acknowledged appends over ${plan.length} kills`);
    assert.ok(all.length > 50, `${all.length} acknowledged appends`);

    const engine = await openEngine(d.path);
    try {
      const seenPayloads = new Set<string>();
      for (let p = 0; p < CRASH_PARTITIONS; p++) {
        const tp = { topic: CRASH_TOPIC, partition: p };
        const { highWatermark, logStartOffset } = await engine.offsets(tp);
        assert.equal(logStartOffset, 0n);
        const byOffset = new Map<bigint, string>();
        let pos = 0n;
        while (pos < highWatermark) {
          const r = await engine.read(tp, pos, { maxBytes: 64 * 1024, minOneMessage: true });
          const recs = decodeRecords(r.records);
          assert.ok(recs.length > 0);
          for (const rec of recs) {
            if (rec.offset < pos) continue;
            assert.equal(rec.offset, pos, `partition ${p}: offsets are dense`);
            byOffset.set(rec.offset, rec.value!);
            pos++;
          }
        }
        // Every record content appears once: nothing was written twice.
        for (const v of byOffset.values()) {
          assert.ok(!seenPayloads.has(v), `duplicate record ${v}`);
          seenPayloads.add(v);
        }
        // Every acknowledged append is there, at its offset, with its content.
        for (const a of all.filter((x) => x.partition === p)) {
          for (let k = 0; k < a.count; k++) {
            const v = byOffset.get(a.offset + BigInt(k));
            assert.ok(v !== undefined, `acknowledged offset ${a.offset + BigInt(k)} of partition ${p} is missing`);
            assert.ok(v.startsWith(`${a.payload}#${k}`), `offset ${a.offset + BigInt(k)}: ${v} is not ${a.payload}#${k}`);
          }
        }
      }
      // And the log takes new appends after all those crashes, right at the end.
      const tp0 = { topic: CRASH_TOPIC, partition: 0 };
      const end = (await engine.offsets(tp0)).highWatermark;
      assert.equal((await engine.append(tp0, validated(valuesBatch(['after'])), { acks: -1 })).baseOffset, end);
    } finally {
      await engine.close();
    }
  } finally {
    d.cleanup();
  }
});
