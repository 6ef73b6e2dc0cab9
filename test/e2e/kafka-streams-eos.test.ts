/**
 * Kafka Streams (org.apache.kafka:kafka-streams 4.3.1) with
 * processing.guarantee=exactly_once_v2 on the embedded engine: the count-by-key
 * topology of test/helpers/java-streams/KopCountApp.java is SIGKILLed while
 * it processes (its transaction open) and restarted with an empty state
 * directory; a read_committed consumer of the output then sees, per key, every
 * count from 1 to the number of input records exactly once, in order: the
 * killed instance's open transaction (output, changelog and input offsets) was
 * aborted, its committed work kept, and the restarted instance went on from
 * the committed input offsets and the changelog. The same when the gateway
 * (a child process) is SIGKILLed while the app works and restarted: the app
 * carries on, and the committed output is exact.
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnGateway, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { latestOffsets, ongoingTransactions, waitStable } from './drivers/stable-offsets.js';
import { freePort } from '../helpers/ports.js';
import { spawnStreamsApp, streamsUnavailable } from '../helpers/clients/streams.js';

let gw: TestGateway;
const children: ChildProcess[] = [];
const dirs: string[] = [];
before(async () => {
  gw = await startTestGateway({ transactionAbortTimedOutTransactionCleanupIntervalMs: 500 });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await gw?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function startStreams(args: string[]): Promise<{ child: ChildProcess; states: string[]; stderr: () => string; exited: Promise<unknown> }> {
  const child = await spawnStreamsApp('KopCountApp', 'java-streams-count', args, ['ignore', 'pipe', 'pipe']);
  children.push(child);
  const states: string[] = [];
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    for (const l of c.split('\n')) if (l.startsWith('STATE ')) states.push(l.slice(6).trim());
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (err = (err + c).slice(-20_000)));
  const exited = new Promise((r) => child.on('exit', r));
  return { child, states, stderr: () => err, exited };
}

toolTest('kafka streams (exactly_once_v2): SIGKILLed mid-stream and restarted, every count is committed exactly once', streamsUnavailable(), async (t) => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, processTimeoutMs: 120_000 });
  const appId = 'eos-counts';
  const input = 'eos-input';
  const output = 'eos-output';
  const keys = Array.from({ length: 10 }, (_, i) => `user-${i}`);
  for (const c of await java.createTopics([{ name: input, partitions: 2 }, { name: output, partitions: 2 }])) assert.equal(c.error, undefined, JSON.stringify(c));
  const produceRound = async (perKey: number, tag: string): Promise<void> => {
    const records = [];
    for (let r = 0; r < perKey; r++) for (const k of keys) records.push({ key: k, value: `${tag}-${r}` });
    for (const r of await java.produce({ topic: input, records, acks: 'all', idempotence: true })) assert.equal(r.error, undefined, JSON.stringify(r));
  };
  const args = (stateDir: string): string[] => ['--bootstrap', gw.bootstrap, '--app-id', appId, '--input', input, '--output', output, '--state-dir', stateDir, '--guarantee', 'exactly_once_v2', '--commit-ms', '100'];
  const committedCounts = async (): Promise<Map<string, number[]>> => {
    const seen = new Map<string, number[]>();
    const recs = await java.consume({ topic: output, isolationLevel: 'read_committed', untilEnd: true, timeoutMs: 30_000 });
    recs.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    for (const r of recs) seen.set(r.keyText!, [...(seen.get(r.keyText!) ?? []), Number(r.valueText)]);
    return seen;
  };

  await produceRound(60, 'a');
  const stateA = mkdtempSync(join(tmpdir(), 'kop-eos-a-'));
  dirs.push(stateA);
  const first = await startStreams(args(stateA));
  // kill it while it works: once its first output is there, with more input arriving
  for (let i = 0; ; i++) {
    assert.ok(first.child.exitCode === null, `the Streams app exited: ${first.stderr()}`);
    assert.ok(i < 600, `the Streams app produced output (states ${first.states.join(' -> ')}): ${first.stderr()}`);
    if ((await latestOffsets(gw.port, output, 2, 0)).some((o) => o > 0n)) break;
    await sleep(100);
  }
  const more = produceRound(60, 'b');
  // the kill lands while the app's transaction is open (the coordinator shows it Ongoing)
  const transactions = gw.gateway.context.transactions!;
  const ongoing = () => transactions.list('public', ['Ongoing'], [], -1).transactions.length > 0;
  for (let i = 0; i < 2000 && !ongoing(); i++) await sleep(5);
  first.child.kill('SIGKILL');
  await first.exited;
  const open = transactions.list('public', ['Ongoing'], [], -1).transactions.length;
  t.diagnostic(`killed with ${open} transaction(s) open`);
  assert.ok(open > 0, 'the Streams app was killed with its transaction open');
  await more;

  // restart with an empty state directory: the counts come back from the changelog (read_committed)
  const stateB = mkdtempSync(join(tmpdir(), 'kop-eos-b-'));
  dirs.push(stateB);
  const second = await startStreams(args(stateB));
  const deadline = Date.now() + 180_000;
  let seen = new Map<string, number[]>();
  for (;;) {
    assert.ok(second.child.exitCode === null, `the restarted Streams app exited: ${second.stderr()}`);
    await waitStable(gw.port, output, 2);
    seen = await committedCounts();
    if (keys.every((k) => seen.get(k)?.at(-1) === 120)) break;
    assert.ok(Date.now() < deadline, `every key counted to 120 (now ${JSON.stringify(keys.map((k) => seen.get(k)?.at(-1)))}): ${second.stderr()}`);
    await sleep(1000);
  }
  for (const k of keys) assert.deepEqual(seen.get(k), Array.from({ length: 120 }, (_, i) => i + 1), `${k}: each count committed exactly once, in order`);
  second.child.kill('SIGKILL');
  await second.exited;
}, { timeout: 300_000 });

toolTest('kafka streams (exactly_once_v2): the gateway SIGKILLed mid-stream and restarted, every count is committed exactly once', streamsUnavailable(), async () => {
  const dir = mkdtempSync(join(tmpdir(), 'kop-eos-gw-'));
  dirs.push(dir);
  const port = await freePort();
  const bootstrap = `127.0.0.1:${port}`;
  const gwEnv = { KOP_KAFKA_LISTENERS: `PLAINTEXT://${bootstrap}`, KOP_DATA_DIRECTORY: dir, KOP_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS: '500' };
  let node = await spawnGateway(gwEnv);
  try {
    const java = new JavaKafkaClient({ bootstrap, processTimeoutMs: 120_000 });
    const appId = 'eos-gw-counts';
    const input = 'eos-gw-input';
    const output = 'eos-gw-output';
    const keys = Array.from({ length: 10 }, (_, i) => `user-${i}`);
    for (const c of await java.createTopics([{ name: input, partitions: 2 }, { name: output, partitions: 2 }])) assert.equal(c.error, undefined, JSON.stringify(c));
    const records = [];
    for (let r = 0; r < 150; r++) for (const k of keys) records.push({ key: k, value: `v-${r}` });
    for (const r of await java.produce({ topic: input, records, acks: 'all', idempotence: true })) assert.equal(r.error, undefined, JSON.stringify(r));
    const state = mkdtempSync(join(tmpdir(), 'kop-eos-gw-state-'));
    dirs.push(state);
    const app = await startStreams(['--bootstrap', bootstrap, '--app-id', appId, '--input', input, '--output', output, '--state-dir', state, '--guarantee', 'exactly_once_v2', '--commit-ms', '100']);
    for (let i = 0; ; i++) {
      assert.ok(app.child.exitCode === null, `the Streams app exited: ${app.stderr()}`);
      assert.ok(i < 600, `the Streams app produced output: ${app.stderr()}`);
      if ((await latestOffsets(port, output, 2, 0)).some((o) => o > 0n)) break;
      await sleep(100);
    }
    // the gateway dies while the app is working through the input, its transaction open; it comes back on the same port and data
    let open: string[] = [];
    for (let i = 0; i < 2000 && open.length === 0; i++) open = await ongoingTransactions(port);
    assert.ok(open.length > 0, 'the app had a transaction open');
    node.child.kill('SIGKILL');
    assert.equal(await node.exited, 'SIGKILL');
    node = await spawnGateway(gwEnv);
    const deadline = Date.now() + 180_000;
    let seen = new Map<string, number[]>();
    for (;;) {
      assert.ok(app.child.exitCode === null, `the Streams app exited after the gateway restart: ${app.stderr()}`);
      await waitStable(port, output, 2);
      seen = new Map();
      const recs = await java.consume({ topic: output, isolationLevel: 'read_committed', untilEnd: true, timeoutMs: 30_000 });
      recs.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
      for (const r of recs) seen.set(r.keyText!, [...(seen.get(r.keyText!) ?? []), Number(r.valueText)]);
      if (keys.every((k) => seen.get(k)?.at(-1) === 150)) break;
      assert.ok(Date.now() < deadline, `every key counted to 150 (now ${JSON.stringify(keys.map((k) => seen.get(k)?.at(-1)))}): ${app.stderr()}`);
      await sleep(1000);
    }
    for (const k of keys) assert.deepEqual(seen.get(k), Array.from({ length: 150 }, (_, i) => i + 1), `${k}: each count committed exactly once, in order`);
    app.child.kill('SIGKILL');
    await app.exited;
  } finally {
    node.child.kill('SIGKILL');
    await node.exited;
  }
}, { timeout: 300_000 });

