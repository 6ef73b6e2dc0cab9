/**
 * A gateway SIGKILLed during transactions (embedded engine, the gateway as a
 * child process, kafkajs transactional producers): after the restart a
 * committed transaction is still visible in full, a transaction that was open
 * at the kill is aborted in full once its timeout passes (read_committed
 * consumers are not stuck behind it), and a transaction whose commit raced the
 * kill is either visible in full or not at all.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import kafkajs from 'kafkajs';
import { spawnGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { waitStable } from './drivers/stable-offsets.js';
import { freePort } from '../helpers/ports.js';

const { Kafka, logLevel } = kafkajs;
const TOPIC = 'txn-crash';

toolTest('SIGKILL during transactions: committed stays in full, open ones are aborted in full after the restart, a racing commit is all or nothing', unavailable('java', 'kafkajs'), async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-txn-crash-'));
  const port = await freePort();
  const bootstrap = `127.0.0.1:${port}`;
  const env = { KOP_KAFKA_LISTENERS: `PLAINTEXT://${bootstrap}`, KOP_DATA_DIRECTORY: dir, KOP_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS: '200' };
  let gw = await spawnGateway(env);
  try {
    const java = new JavaKafkaClient({ bootstrap });
    await java.createTopics([{ name: TOPIC, partitions: 2 }]);
    const kafka = new Kafka({ clientId: 'txn-crash', brokers: [bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 2, initialRetryTime: 50, maxRetryTime: 500 } });
    const producer = (id: string) => kafka.producer({ transactionalId: id, transactionTimeout: 3000, maxInFlightRequests: 1, idempotent: true });
    const messages = (tag: string) => [
      { value: `${tag}-0`, partition: 0 },
      { value: `${tag}-1`, partition: 1 },
    ];

    const a = producer('crash-a');
    await a.connect();
    const ta = await a.transaction();
    await ta.send({ topic: TOPIC, messages: messages('committed') });
    await ta.commit();

    const b = producer('crash-b');
    await b.connect();
    const tb = await b.transaction();
    await tb.send({ topic: TOPIC, messages: messages('open') });

    const c = producer('crash-c');
    await c.connect();
    const tc = await c.transaction();
    await tc.send({ topic: TOPIC, messages: messages('racing') });
    const racing = tc.commit().catch(() => undefined);
    await sleep(Math.floor(Math.random() * 20));
    gw.child.kill('SIGKILL');
    assert.equal(await gw.exited, 'SIGKILL');
    await racing;
    for (const p of [a, b, c]) await p.disconnect().catch(() => undefined);

    gw = await spawnGateway(env);
    // every transaction open at the kill ends (completed at load, or aborted after its timeout)
    await waitStable(port, TOPIC, 2);
    const seen = (await java.consume({ topic: TOPIC, isolationLevel: 'read_committed', untilEnd: true, timeoutMs: 30_000 })).map((r) => r.valueText!).sort();
    const racingSeen = seen.filter((v) => v.startsWith('racing-'));
    assert.ok(racingSeen.length === 0 || racingSeen.length === 2, `the racing transaction is all or nothing: ${JSON.stringify(seen)}`);
    assert.deepEqual(
      seen.filter((v) => !v.startsWith('racing-')),
      ['committed-0', 'committed-1'],
      'the committed transaction in full, the open one not at all',
    );
    const everything = (await java.consume({ topic: TOPIC, isolationLevel: 'read_uncommitted', untilEnd: true, timeoutMs: 30_000 })).map((r) => r.valueText!);
    assert.ok(everything.includes('open-0') && everything.includes('open-1'), 'the open transaction had been written');
  } finally {
    gw.child.kill('SIGKILL');
    await gw.exited;
    rmSync(dir, { recursive: true, force: true });
  }
}, { timeout: 180_000 });
