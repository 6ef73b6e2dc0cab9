/**
 * Child process of compaction-crash.test.ts (does nothing unless
 * KOP_COMPACTION_CRASH_CHILD=1, so the test runner can load it harmlessly):
 * appends keyed records with acks=-1 to a compacted topic with tiny segments
 * while the log cleaner runs without pause (throttled, so a pass takes a while
 * and a SIGKILL lands in the middle of one), and prints one line per
 * acknowledged append: `ACK <partition> <offset> <key> <value>`, and
 * `CLEANED <passes>` after each cleaner run that cleaned something.
 */
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import { buildBatch } from './storage-fixtures.test.js';
import { validated } from '../helpers/validated.js';

export const COMPACT_CRASH_TOPIC = 'persistent://public/default/compact-crash';
export const COMPACT_CRASH_PARTITIONS = 2;
export const COMPACT_CRASH_KEYS = 16;

async function runChild(): Promise<void> {
  const dir = process.env.KOP_STORAGE_DIR!;
  const run = process.env.KOP_STORAGE_RUN ?? '0';
  const engine = new EmbeddedEngine({
    dataDirectory: dir,
    flushPolicy: 'every-batch',
    retentionCheckIntervalMs: 0,
    cleaner: { enabled: false, ioMaxBytesPerSecond: 400_000, ioBufferBytes: 4096 },
  });
  await engine.start();
  if (!(await engine.describeTopic(COMPACT_CRASH_TOPIC))) {
    await engine.createTopic(COMPACT_CRASH_TOPIC, COMPACT_CRASH_PARTITIONS, {
      'cleanup.policy': 'compact',
      'segment.bytes': '2000',
      'index.interval.bytes': '200',
      'min.cleanable.dirty.ratio': '0.01',
      'delete.retention.ms': '0',
    });
  }
  process.stdout.write('READY\n');
  let stop = false;
  void (async () => {
    while (!stop) {
      const n = await engine.runCleaner(Date.now(), true);
      if (n > 0) process.stdout.write(`CLEANED ${n}\n`);
      await new Promise((r) => setTimeout(r, 1));
    }
  })();
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const partition = i % COMPACT_CRASH_PARTITIONS;
      const key = `k${(i * 7) % COMPACT_CRASH_KEYS}`;
      // every 11th record is a tombstone
      const value = i % 11 === 10 ? null : `r${run}-${i}-`.padEnd(30 + (i % 40), '.');
      const r = await engine.append({ topic: COMPACT_CRASH_TOPIC, partition }, validated(buildBatch([{ key, value }]), { cleanupPolicy: 'compact' }), { acks: -1 });
      process.stdout.write(`ACK ${partition} ${r.baseOffset} ${key} ${value ?? '<null>'}\n`);
      if (i % 50 === 49) await new Promise((res) => setTimeout(res, 5));
    }
  };
  await Promise.all(Array.from({ length: 4 }, worker));
  stop = true;
}

if (process.env.KOP_COMPACTION_CRASH_CHILD === '1') {
  runChild().catch((err: unknown) => {
    process.stderr.write(`child failed: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(2);
  });
}
