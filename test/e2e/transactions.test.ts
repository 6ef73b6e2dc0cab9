/**
 * Kafka transactions end to end on the embedded engine, with the Java client
 * (kafka-clients 4.3.1) and Kafka's own `kafka-transactions.sh`
 * (org.apache.kafka.tools.TransactionsCommand):
 *
 *  - one transactional producer runs committed and aborted transactions over
 *    three partitions while a non-transactional producer writes to the same
 *    partitions in between: a read_committed consumer sees every committed and
 *    every non-transactional record exactly once and no aborted one (a
 *    read_uncommitted consumer sees the aborted ones: they were written);
 *  - zombie fencing: a second producer with the same transactional id aborts
 *    the first one's open transaction; the first one's commit fails with
 *    ProducerFencedException, the second commits;
 *  - sendOffsetsToTransaction: offsets become visible when the transaction
 *    commits, an aborted transaction's offsets never;
 *  - `kafka-transactions.sh list|describe|describe-producers|abort` show an open
 *    transaction as Ongoing with its partition and its producer's open
 *    transaction, `abort` ends it on one partition (read_committed consumers
 *    move past it at once); past its timeout the coordinator aborts it (read_committed
 *    consumers move on) and the producer is fenced;
 *  - kafkajs (old protocol versions) and librdkafka (confluent-kafka)
 *    transactional producers;
 *  - the first scenarios again on the Pulsar engine, both entry formats.
 *
 * One gateway and few JVMs: the first three scenarios run in one JVM
 * (test/e2e/drivers/TxnScenario.java).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient, javaLog4jConfig, runJavaMain } from '../helpers/clients/java.js';
import { compileJavaSource } from '../helpers/clients/java-compile.js';
import { kafkajsClient } from '../helpers/clients/kafkajs.js';
import { runPythonScript } from '../helpers/clients/python.js';
import { harnessEnv, repoRoot } from '../helpers/clients/paths.js';
import { waitFor } from './drivers/group-members.js';
import { waitStable } from './drivers/stable-offsets.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';

const TRANSACTIONS_COMMAND = 'org.apache.kafka.tools.TransactionsCommand';

let gw: TestGateway;
const children: ChildProcess[] = [];
before(async () => {
  gw = await startTestGateway({ transactionAbortTimedOutTransactionCleanupIntervalMs: 200 });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await gw?.stop();
});

function scenarioClasses(): Promise<string> {
  const env = harnessEnv();
  return compileJavaSource({
    source: join(repoRoot(), 'test', 'e2e', 'drivers', 'TxnScenario.java'),
    mainClass: 'TxnScenario',
    cacheName: 'txn-driver',
    classpath: env.javaClasspath,
    salt: `kafka ${env.kafkaVersion}`,
  });
}

interface Event {
  event: string;
  [k: string]: unknown;
}

/** TxnScenario as a child process: its events as they come, its stderr. */
async function startScenario(args: string[]): Promise<{ child: ChildProcess; events: Event[]; stderr: () => string; exited: Promise<number | string> }> {
  const env = harnessEnv();
  const classes = await scenarioClasses();
  const child = spawn(env.java, ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}${delimiter}${env.javaClasspath}`, 'TxnScenario', ...args], {
    cwd: repoRoot(),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.push(child);
  const events: Event[] = [];
  let buf = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (d: string) => {
    buf += d;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const line = buf.slice(0, nl).trim();
      buf = buf.slice(nl + 1);
      if (line.startsWith('{')) events.push(JSON.parse(line) as Event);
    }
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal ?? -1)));
  return { child, events, stderr: () => err.slice(-4000), exited };
}

/** The events of one scenario of an `all` run. */
function scenario(events: Event[], name: string): Event[] {
  const start = events.findIndex((e) => e.event === 'scenario' && e.name === name);
  assert.ok(start >= 0, `scenario ${name} ran`);
  const next = events.findIndex((e, i) => i > start && e.event === 'scenario');
  return events.slice(start + 1, next < 0 ? undefined : next);
}

function sorted(values: unknown[]): string[] {
  return (values as string[]).slice().sort();
}

/** The scenarios of TxnScenario `all` against a gateway, and what Kafka guarantees of them. */
async function runScenarios(bootstrap: string): Promise<void> {
  const run = await startScenario(['all', '--bootstrap', bootstrap, '--topic', 'txn', '--txn-id', 'app', '--group', 'txn-group', '--partitions', '3', '--txns', '6']);
  const code = await run.exited;
  assert.equal(code, 0, `TxnScenario exited ${code}: ${run.stderr()}`);

  const interleave = scenario(run.events, 'interleave');
  const sent = (kind: string) => interleave.filter((e) => e.event === 'sent' && e.kind === kind).map((e) => e.value as string);
  const committed = sent('c');
  const aborted = sent('a');
  const plain = sent('n');
  assert.equal(committed.length, 18, 'three committed transactions of six records');
  assert.equal(aborted.length, 18, 'three aborted transactions of six records');
  const readCommitted = interleave.find((e) => e.event === 'read' && e.isolation === 'read_committed')!;
  const readUncommitted = interleave.find((e) => e.event === 'read' && e.isolation === 'read_uncommitted')!;
  assert.deepEqual(sorted(readCommitted.values as string[]), sorted([...committed, ...plain]), 'read_committed: every committed and non-transactional record exactly once, no aborted one');
  assert.deepEqual(sorted(readUncommitted.values as string[]), sorted([...committed, ...aborted, ...plain]), 'read_uncommitted: the aborted records were written');
  // the last stable offset reached the end of each partition (no transaction left open): the markers count as offsets
  assert.deepEqual(readCommitted.end, readUncommitted.end);

  const fence = scenario(run.events, 'fence');
  const fenced = fence.find((e) => e.event === 'fenced');
  assert.ok(fenced, `the first producer was fenced: ${JSON.stringify(fence)}`);
  assert.equal(fenced.error, 'ProducerFencedException', JSON.stringify(fenced));
  assert.ok(fence.some((e) => e.event === 'committed' && e.producer === 2), 'the second producer committed');
  assert.deepEqual(fence.find((e) => e.event === 'read')!.values, ['current-1'], "the zombie's record was aborted, the current producer's committed");

  const offsets = scenario(run.events, 'offsets').filter((e) => e.event === 'offsets');
  assert.deepEqual(
    offsets.map((e) => [e.after, e.offset]),
    [
      ['commit', 5],
      ['abort', 5],
    ],
    'transactional offsets visible on commit, never on abort',
  );
}

toolTest('Java transactional producer + read_committed consumer: committed once, aborted never, interleaved with a non-transactional producer; zombie fencing; transactional offsets', unavailable('java'), async () => {
  await runScenarios(gw.bootstrap);

  // every transactional decision went through the audit log, naming the id in its home
  const audit = readFileSync(join(gw.dataDirectory, 'audit.log'), 'utf8');
  assert.match(audit, /"event":"resource_home"[^\n]*"resource":"transactional-id public\/default\/app-i"[^\n]*"how":"created"/);
  for (const op of ['InitProducerId', 'AddPartitionsToTxn', 'AddOffsetsToTxn', 'EndTxn', 'FindCoordinator']) {
    assert.match(audit, new RegExp(`"operation":"${op}","action":"(produce|lookup)","resource":"transactional-id public/default/app-`), `${op} audited`);
  }
}, { timeout: 240_000 });

async function transactionsCli(args: string[]): Promise<string> {
  const r = await runJavaMain(TRANSACTIONS_COMMAND, ['--bootstrap-server', gw.bootstrap, ...args], { withDriver: false, timeoutMs: 60_000 });
  assert.equal(r.code, 0, `kafka-transactions ${args.join(' ')}: ${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** The rows of a TransactionsCommand table (tab-separated, padded), by header. */
function table(out: string): Array<Record<string, string>> {
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]!.split('\t').map((h) => h.trim());
  return lines.slice(1).map((l) => Object.fromEntries(l.split('\t').map((v, i) => [header[i], v.trim()])));
}

toolTest('kafka-transactions.sh list/describe/describe-producers show an open transaction, abort ends it on a partition; past its timeout the coordinator aborts it and fences its producer', unavailable('java'), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap });
  await java.createTopics([{ name: 'txn-open', partitions: 2 }]);
  const open = await startScenario(['open', '--bootstrap', gw.bootstrap, '--topic', 'txn-open', '--txn-id', 'open-app', '--timeout-ms', '25000']);
  await waitFor(() => open.events.some((e) => e.event === 'open') || open.child.exitCode !== null, 60_000, () => `transaction open: ${open.stderr()}`);
  assert.ok(open.events.some((e) => e.event === 'open'), open.stderr());

  const transactions = gw.gateway.context.transactions!;
  const listed = table(await transactionsCli(['list'])).find((r) => r.TransactionalId === 'open-app');
  assert.ok(listed, 'list shows the transactional id');
  assert.equal(listed.TransactionState, 'Ongoing');
  const described = table(await transactionsCli(['describe', '--transactional-id', 'open-app']))[0]!;
  assert.equal(described.TransactionState, 'Ongoing');
  assert.equal(described.ProducerId, listed.ProducerId);
  assert.equal(described.TransactionTimeoutMs, '25000');
  assert.equal(described.TopicPartitions, 'txn-open-0');
  const producers = table(await transactionsCli(['describe-producers', '--topic', 'txn-open', '--partition', '0']));
  const mine = producers.find((r) => r.ProducerId === listed.ProducerId);
  assert.ok(mine, `describe-producers shows the producer: ${JSON.stringify(producers)}`);
  assert.equal(mine.CurrentTransactionStartOffset, '0', 'its open transaction starts at offset 0');

  // an operator ends the hanging transaction on partition 0 (WriteTxnMarkers from the admin client):
  // read_committed consumers move past it at once, long before the coordinator's timeout
  await transactionsCli(['abort', '--topic', 'txn-open', '--partition', '0', '--start-offset', '0']);
  const afterAbort = table(await transactionsCli(['describe-producers', '--topic', 'txn-open', '--partition', '0'])).find((r) => r.ProducerId === listed.ProducerId);
  assert.ok(afterAbort, 'the producer is still listed');
  assert.notEqual(afterAbort.CurrentTransactionStartOffset, '0', `no open transaction on the partition after the abort: ${JSON.stringify(afterAbort)}`);
  const beforeTimeout = await java.consume({ topic: 'txn-open', partitions: [0], isolationLevel: 'read_committed', untilEnd: true, timeoutMs: 20_000 });
  assert.deepEqual(beforeTimeout.map((r) => r.valueText), [], 'the aborted record is invisible and the consumer reached the end');
  assert.equal(transactions.state({ tenant: 'public', transactionalId: 'open-app' })?.state, 'Ongoing', "the coordinator's own state is untouched (as Kafka's)");

  // past the timeout the coordinator aborts it with a bumped epoch (its marker on partition 0 follows the operator's)
  await waitFor(() => transactions.state({ tenant: 'public', transactionalId: 'open-app' })?.state === 'CompleteAbort', 60_000, 'the timed-out transaction aborted');
  const state = transactions.state({ tenant: 'public', transactionalId: 'open-app' })!;
  assert.equal(state.producerEpoch, Number(described.ProducerEpoch) + 1, 'the producer was fenced by an epoch bump');
  open.child.stdin!.write('go\n');
  assert.equal(await open.exited, 0, open.stderr());
  const failed = open.events.find((e) => e.event === 'commit-failed');
  assert.ok(failed, `the timed-out producer cannot commit: ${JSON.stringify(open.events)}`);
  assert.equal(failed.error, 'ProducerFencedException', JSON.stringify(failed));
  const after = table(await transactionsCli(['describe', '--transactional-id', 'open-app']))[0]!;
  assert.equal(after.TransactionState, 'CompleteAbort');
  // the aborted record is invisible to read_committed consumers, and they are not stuck behind it
  await waitStable(gw.port, 'txn-open', 2);
  const records = await java.consume({ topic: 'txn-open', partitions: [0], isolationLevel: 'read_committed', untilEnd: true, timeoutMs: 30_000 });
  assert.deepEqual(records.map((r) => r.valueText), []);
}, { timeout: 240_000 });

toolTest('the same on the Pulsar engine (shared broker), both entry formats', unavailable('java') ?? pulsarSkipReason(), async () => {
  const p = await sharedPulsar();
  for (const format of ['pulsar', 'kafka'] as const) {
    const ns = await createNamespace(p, uniqueName(`txn-${format}`));
    const g = await startTestGateway({ ...pulsarGatewayConfig(p, ns, format), transactionAbortTimedOutTransactionCleanupIntervalMs: 200 });
    try {
      await runScenarios(g.bootstrap);
    } finally {
      await g.stop();
    }
  }
}, { timeout: 300_000 });

toolTest('kafkajs transactions (old protocol versions): committed seen, aborted not, sendOffsets on commit only', unavailable('java', 'kafkajs'), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap });
  await java.createTopics([{ name: 'txn-kjs', partitions: 2 }]);
  const kafka = kafkajsClient({ bootstrap: gw.bootstrap });
  const producer = kafka.producer({ transactionalId: 'kjs-app', maxInFlightRequests: 1, idempotent: true });
  await producer.connect();
  try {
    const t1 = await producer.transaction();
    await t1.send({ topic: 'txn-kjs', messages: [{ value: 'kjs-c-0', partition: 0 }, { value: 'kjs-c-1', partition: 1 }] });
    await t1.sendOffsets({ consumerGroupId: 'kjs-group', topics: [{ topic: 'txn-kjs', partitions: [{ partition: 0, offset: '3' }] }] });
    await t1.commit();
    const t2 = await producer.transaction();
    await t2.send({ topic: 'txn-kjs', messages: [{ value: 'kjs-a-0', partition: 0 }, { value: 'kjs-a-1', partition: 1 }] });
    await t2.sendOffsets({ consumerGroupId: 'kjs-group', topics: [{ topic: 'txn-kjs', partitions: [{ partition: 0, offset: '9' }] }] });
    await t2.abort();
  } finally {
    await producer.disconnect();
  }
  await waitStable(gw.port, 'txn-kjs', 2);
  const records = await java.consume({ topic: 'txn-kjs', isolationLevel: 'read_committed', untilEnd: true, timeoutMs: 30_000 });
  assert.deepEqual(records.map((r) => r.valueText).sort(), ['kjs-c-0', 'kjs-c-1']);
  // the transactions' completions (markers, then the group offsets) are done
  await gw.gateway.context.transactions!.settled();
  const offsets = await java.listGroupOffsets('kjs-group', { topic: 'txn-kjs' });
  assert.deepEqual(offsets.map((o) => [o.partition, o.offset]), [[0, 3]]);
}, { timeout: 120_000 });

toolTest('librdkafka (confluent-kafka) transactional producer: committed seen, aborted not, the older producer fenced', unavailable('java', 'python'), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap });
  await java.createTopics([{ name: 'txn-py', partitions: 1 }]);
  const r = await runPythonScript(join(repoRoot(), 'test', 'e2e', 'drivers', 'txn_producer.py'), [gw.bootstrap, 'txn-py', 'py-app'], { timeoutMs: 120_000 });
  assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
  const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Event);
  const fenced = events.find((e) => e.event === 'fenced');
  assert.ok(fenced, r.stdout);
  assert.equal(fenced.code, '_FENCED', JSON.stringify(fenced));
  assert.ok(events.some((e) => e.event === 'committed' && e.producer === 2), r.stdout);
  await waitStable(gw.port, 'txn-py', 1);
  const records = await java.consume({ topic: 'txn-py', isolationLevel: 'read_committed', untilEnd: true, timeoutMs: 30_000 });
  assert.deepEqual(records.map((x) => x.valueText), ['py-c-0', 'py-c-1', 'py-c-2', 'py-current']);
}, { timeout: 180_000 });
