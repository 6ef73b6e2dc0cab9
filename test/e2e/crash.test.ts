/**
 * Durability under SIGKILL: an idempotent kafkajs producer with acks=all writes
 * while the gateway process is killed at random points, several times, on the
 * same data directory. After the last restart every acknowledged record must
 * be at the offset it was acknowledged with, exactly once, and the log's
 * offsets must be dense and monotonic (no hole, no duplicate).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { spawnGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { kcatConsume } from '../helpers/clients/kcat.js';
import { freePort } from '../helpers/ports.js';

/** Seeded PRNG (mulberry32) so a failing run can be repeated with CRASH_SEED. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

toolTest('SIGKILL during acks=all produce loses no acknowledged record and leaves offsets dense', unavailable('kcat'), async (t) => {
  const seed = Number(process.env.CRASH_SEED ?? Date.now() % 100000);
  t.diagnostic(`CRASH_SEED=${seed}`);
  const random = prng(seed);
  const dir = mkdtempSync(join(tmpdir(), 'kop-crash-'));
  const port = await freePort();
  const env = { KOP_KAFKA_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`, KOP_DATA_DIRECTORY: dir };
  const topic = 'crash-t';
  const acked = new Map<string, number>(); // value -> offset it was acknowledged at
  let sent = 0;
  const rounds = 4;
  let running: Awaited<ReturnType<typeof spawnGateway>> | null = null;
  try {
    for (let round = 0; round < rounds; round++) {
      const gw = await spawnGateway(env);
      running = gw;
      const kafka = new Kafka({ clientId: `crash-${round}`, brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING, retry: { retries: 1, initialRetryTime: 50, maxRetryTime: 200 } });
      const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: true });
      await producer.connect();
      const killAfter = 300 + random() * 1200;
      const killer = setTimeout(() => gw.child.kill('SIGKILL'), killAfter);
      let stop = false;
      void gw.exited.then(() => (stop = true));
      while (!stop) {
        const batch = Array.from({ length: 1 + Math.floor(random() * 5) }, () => ({ value: `r${round}-m${sent++}` }));
        try {
          const [md] = await producer.send({ topic, acks: -1, messages: batch });
          const base = Number(md!.baseOffset);
          batch.forEach((m, i) => acked.set(m.value, base + i));
        } catch {
          break; // the gateway died mid-request: this batch is unacknowledged
        }
      }
      clearTimeout(killer);
      gw.child.kill('SIGKILL');
      assert.equal(await gw.exited, 'SIGKILL');
      await producer.disconnect().catch(() => undefined);
    }
    t.diagnostic(`sent ${sent} records, ${acked.size} acknowledged over ${rounds} kills`);
    assert.ok(acked.size > 50, `enough acknowledged records to mean something (${acked.size})`);

    // Restart once more and read everything back with a different client.
    const gw = await spawnGateway(env);
    running = gw;
    try {
      const records = await kcatConsume(`127.0.0.1:${port}`, topic, { offset: 'beginning', timeoutMs: 60_000 });
      assert.deepEqual(records.map((r) => r.offset), records.map((_, i) => i), 'offsets dense from 0');
      const seen = new Map<string, number>();
      for (const r of records) {
        assert.ok(!seen.has(r.value!), `value ${r.value} stored twice (offsets ${seen.get(r.value!)} and ${r.offset})`);
        seen.set(r.value!, r.offset);
      }
      for (const [value, offset] of acked) {
        assert.equal(seen.get(value), offset, `acknowledged ${value} at offset ${offset}`);
      }
      // Appends continue right after the recovered end.
      const kafka = new Kafka({ clientId: 'crash-after', brokers: [`127.0.0.1:${port}`], logLevel: logLevel.NOTHING });
      const producer = kafka.producer();
      await producer.connect();
      const [md] = await producer.send({ topic, acks: -1, messages: [{ value: 'after' }] });
      await producer.disconnect();
      assert.equal(Number(md!.baseOffset), records.length);
    } finally {
      gw.child.kill('SIGTERM');
      await gw.exited;
    }
  } finally {
    // Never leave a gateway behind, whatever failed: a live child would hang the test run.
    if (running && running.child.exitCode === null && running.child.signalCode === null) {
      running.child.kill('SIGKILL');
      await running.exited;
    }
    rmSync(dir, { recursive: true, force: true });
  }
}, { timeout: 180_000 });
