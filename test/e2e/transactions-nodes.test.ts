/**
 * Transactions with two gateway nodes (child processes, kafkaNodeId 1 and 2) in
 * front of the run's shared Pulsar broker: node 1 coordinates (it starts first
 * and wins every coordinator partition). A kafkajs transactional producer
 * bootstrapped with both nodes commits a transaction, then node 1 is SIGKILLed
 * with a second transaction open: node 2 takes the coordinator partitions over,
 * loads the transaction state from Pulsar, and the producer's commit completes
 * there or fails as a whole; a new producer instance of the id (fencing the old
 * one) then commits a third transaction through node 2. A read_committed
 * consumer sees the first and third transactions in full and the second all or
 * nothing.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import kafkajs from 'kafkajs';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { waitStable } from './drivers/stable-offsets.js';
import { createNamespace, pulsarGatewayEnv, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';
import { freePort } from '../helpers/ports.js';

const { Kafka, logLevel } = kafkajs;
const skip = pulsarSkipReason();

describe('transactions across two gateway nodes on Pulsar', { skip }, () => {
  const nodes: Partial<Record<1 | 2, GatewayProcess>> = {};
  const dirs: string[] = [];
  const ports: Record<number, number> = {};
  let env: (id: 1 | 2) => Record<string, string>;

  before(async () => {
    const p = await sharedPulsar();
    const ns = await createNamespace(p, uniqueName('e2e-txn-nodes'));
    ports[1] = await freePort();
    ports[2] = await freePort();
    env = (id) => {
      const dir = mkdtempSync(join(tmpdir(), `kop-txn-nodes-${id}-`));
      dirs.push(dir);
      return {
        KOP_KAFKA_LISTENERS: `PLAINTEXT://127.0.0.1:${ports[id]}`,
        KOP_DATA_DIRECTORY: dir,
        KOP_KAFKA_NODE_ID: String(id),
        ...pulsarGatewayEnv(p, ns),
        KOP_OFFSETS_TOPIC_NUM_PARTITIONS: '4',
        KOP_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS: '500',
        KOP_LOG_LEVEL: 'info',
      };
    };
    nodes[1] = await spawnGateway(env(1));
    nodes[2] = await spawnGateway(env(2));
  });

  after(async () => {
    for (const id of [1, 2] as const) {
      const g = nodes[id];
      if (g && g.child.exitCode === null && g.child.signalCode === null) {
        g.child.kill('SIGKILL');
        await g.exited;
      }
    }
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  toolTest('SIGKILL of the coordinating node with a transaction open: the other node takes over; committed stays, the open one is all or nothing, the id goes on', unavailable('java', 'kafkajs'), async (t) => {
    const both = `127.0.0.1:${ports[1]},127.0.0.1:${ports[2]}`;
    const topic = 'txn-nodes';
    const java = new JavaKafkaClient({ bootstrap: `127.0.0.1:${ports[2]}` });
    await java.createTopics([{ name: topic, partitions: 2 }]);
    const kafka = new Kafka({ clientId: 'txn-nodes', brokers: both.split(','), logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200, maxRetryTime: 3000 } });
    const producer = () => kafka.producer({ transactionalId: 'nodes-app', transactionTimeout: 10_000, maxInFlightRequests: 1, idempotent: true });
    const messages = (tag: string) => [
      { value: `${tag}-0`, partition: 0 },
      { value: `${tag}-1`, partition: 1 },
    ];

    const first = producer();
    await first.connect();
    const t1 = await first.transaction();
    await t1.send({ topic, messages: messages('first') });
    await t1.commit();
    const t2 = await first.transaction();
    await t2.send({ topic, messages: messages('second') });

    nodes[1]!.child.kill('SIGKILL');
    assert.equal(await nodes[1]!.exited, 'SIGKILL');
    delete nodes[1];
    const committed = await t2.commit().then(
      () => true,
      () => false,
    );
    await first.disconnect().catch(() => undefined);
    t.diagnostic(`the commit of the second transaction ${committed ? 'succeeded' : 'failed'} for the client`);

    // a new instance of the id (InitProducerId through node 2: fences the old one, ends what it left)
    const third = kafka.producer({ transactionalId: 'nodes-app', transactionTimeout: 10_000, maxInFlightRequests: 1, idempotent: true, retry: { retries: 20, initialRetryTime: 200, maxRetryTime: 3000 } });
    await third.connect();
    const t3 = await third.transaction();
    await t3.send({ topic, messages: messages('third') });
    await t3.commit();
    await third.disconnect();

    await waitStable(ports[2]!, topic, 2);
    const seen = (await java.consume({ topic, isolationLevel: 'read_committed', untilEnd: true, timeoutMs: 60_000 })).map((r) => r.valueText!).sort();
    const second = seen.filter((v) => v.startsWith('second-'));
    assert.ok(second.length === 0 || second.length === 2, `the second transaction is all or nothing: ${JSON.stringify(seen)}`);
    if (committed) assert.equal(second.length, 2, 'a commit the client saw succeed is visible');
    assert.deepEqual(
      seen.filter((v) => !v.startsWith('second-')),
      ['first-0', 'first-1', 'third-0', 'third-1'],
    );
  }, { timeout: 240_000 });
});
