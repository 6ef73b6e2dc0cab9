/**
 * Child process of storage-crash.test.ts (does nothing unless KOP_STORAGE_CRASH_CHILD=1,
 * so the test runner can load it harmlessly): appends with acks=-1 under the
 * every-batch flush policy, from several concurrent workers over 3 partitions, and
 * prints one line per acknowledged append: `ACK <partition> <baseOffset> <count> <payload>`.
 * The parent SIGKILLs it at a random moment.
 */
import { EmbeddedEngine } from '../../src/storage/embedded/engine.js';
import { valuesBatch } from './storage-fixtures.test.js';
import { validated } from '../helpers/validated.js';

export const CRASH_TOPIC = 'persistent://public/default/crash';
export const CRASH_PARTITIONS = 3;

async function runChild(): Promise<void> {
  const dir = process.env.KOP_STORAGE_DIR!;
  const run = process.env.KOP_STORAGE_RUN ?? '0';
  const engine = new EmbeddedEngine({ dataDirectory: dir, flushPolicy: 'every-batch', retentionCheckIntervalMs: 0 });
  await engine.start();
  if (!(await engine.describeTopic(CRASH_TOPIC))) {
    await engine.createTopic(CRASH_TOPIC, CRASH_PARTITIONS, { 'segment.bytes': '6000', 'index.interval.bytes': '500' });
  }
  process.stdout.write('READY\n');
  let next = 0;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      const partition = i % CRASH_PARTITIONS;
      const count = 1 + (i % 3);
      const payload = `r${run}-${i}`;
      const values = Array.from({ length: count }, (_, k) => `${payload}#${k}`.padEnd(20 + (i % 50), '.'));
      const r = await engine.append({ topic: CRASH_TOPIC, partition }, validated(valuesBatch(values)), { acks: -1 });
      process.stdout.write(`ACK ${partition} ${r.baseOffset} ${count} ${payload}\n`);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

if (process.env.KOP_STORAGE_CRASH_CHILD === '1') {
  runChild().catch((err: unknown) => {
    process.stderr.write(`child failed: ${String((err as Error)?.stack ?? err)}\n`);
    process.exit(2);
  });
}
