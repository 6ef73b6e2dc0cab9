/**
 * Kafka Streams (org.apache.kafka:kafka-streams 4.3.1 from Maven Central) as
 * an acceptance application on the embedded engine: a stateful topology
 * (count by key: a RocksDB store with a compacted changelog topic) with
 * processing.guarantee=at_least_once gives exact counts; after the Streams
 * process is SIGKILLed (once everything it read was committed) and restarted
 * with an empty state directory, its state is restored from the changelog
 * (compacted by the gateway's cleaner meanwhile) and the counts stay exact.
 *
 * The application: test/helpers/java-streams/KopStreamsApp.java, compiled at
 * first use against the jars scripts/ci/fetch-java-deps.sh fetches
 * (KOP_STREAMS_CLASSPATH).
 */
import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestGateway, repoRoot, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient, javaLog4jConfig } from '../helpers/clients/java.js';
import { compileJavaSource } from '../helpers/clients/java-compile.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import type { EmbeddedEngine } from '../../src/storage/embedded/engine.js';

const env = harnessEnv();
const streamsClasspath = process.env.KOP_STREAMS_CLASSPATH || join(env.cacheDir, `kafka-streams-${env.kafkaVersion}`, 'libs', '*');

function streamsUnavailable(): string | undefined {
  const java = unavailable('java');
  if (java) return java;
  const dir = streamsClasspath.endsWith('*') ? streamsClasspath.slice(0, -1) : streamsClasspath;
  try {
    if (readdirSync(dir).some((f) => f.startsWith('kafka-streams-'))) return undefined;
  } catch {
    // missing folder
  }
  return `Kafka Streams jars not found in ${dir}: run \`bash scripts/ci/fetch-java-deps.sh\``;
}

let gw: TestGateway;
const children: ChildProcess[] = [];
const dirs: string[] = [];
before(async () => {
  gw = await startTestGateway({ logCleanerBackoffMs: 200, logCleanerIoMaxBytesPerSecond: 0 });
});
after(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await gw?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

interface StreamsProcess {
  child: ChildProcess;
  states: string[];
  stderr: () => string;
  waitFor(state: string, timeoutMs: number): Promise<void>;
}

async function startStreams(args: string[]): Promise<StreamsProcess> {
  const classes = await compileJavaSource({
    source: join(repoRoot, 'test/helpers/java-streams/KopStreamsApp.java'),
    mainClass: 'KopStreamsApp',
    cacheName: 'java-streams',
    classpath: `${streamsClasspath}${delimiter}${env.javaClasspath}`,
    salt: `kafka-streams ${env.kafkaVersion}`,
  });
  const child = spawn(
    env.java,
    ['-Xmx384m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}${delimiter}${streamsClasspath}${delimiter}${env.javaClasspath}`, 'KopStreamsApp', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  children.push(child);
  const states: string[] = [];
  let err = '';
  let partial = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (c: string) => {
    partial += c;
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const l of lines) if (l.startsWith('STATE ')) states.push(l.slice(6).trim());
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (c: string) => (err = (err + c).slice(-20_000)));
  return {
    child,
    states,
    stderr: () => err,
    async waitFor(state, timeoutMs) {
      const end = Date.now() + timeoutMs;
      while (!states.includes(state)) {
        assert.ok(child.exitCode === null, `the Streams app exited (${child.exitCode}) before ${state}: ${err}`);
        assert.ok(Date.now() < end, `the Streams app reached ${state} within ${timeoutMs} ms (states ${states.join(' -> ')}): ${err}`);
        await sleep(100);
      }
    },
  };
}

function kill(p: StreamsProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
    p.child.once('exit', () => resolve());
    p.child.kill('SIGKILL');
  });
}

toolTest('kafka streams (at_least_once): count by key is exact, and stays exact after a SIGKILL and a restart that restores the state from the compacted changelog', streamsUnavailable(), async () => {
  const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, processTimeoutMs: 120_000 });
  const appId = 'counts-app';
  const input = 'streams-input';
  const output = 'streams-output';
  const changelog = `${appId}-counts-store-changelog`;
  const keys = Array.from({ length: 15 }, (_, i) => `user-${i}`);
  // Input, output, and the changelog pre-created with small segments, so the cleaner compacts it while the app runs
  // (Streams uses an existing internal topic with the right partition count).
  const created = await java.createTopics([
    { name: input, partitions: 2, replicationFactor: 1 },
    { name: output, partitions: 2, replicationFactor: 1 },
    { name: changelog, partitions: 2, replicationFactor: 1, configs: { 'cleanup.policy': 'compact', 'segment.bytes': '8192', 'min.cleanable.dirty.ratio': '0.01' } },
  ]);
  for (const c of created) assert.equal(c.error, undefined, JSON.stringify(c));

  const produceRound = async (perKey: number, tag: string): Promise<void> => {
    const records = [];
    for (let r = 0; r < perKey; r++) for (const k of keys) records.push({ key: k, value: `${tag}-${r}` });
    const res = await java.produce({ topic: input, records, acks: 'all', idempotence: true });
    for (const r of res) assert.equal(r.error, undefined, JSON.stringify(r));
  };
  /** The newest count per key in the output topic (and every count seen per key). */
  const counts = async (): Promise<{ latest: Map<string, number>; seen: Map<string, number[]> }> => {
    const recs = await java.consume({ topic: output, untilEnd: true, timeoutMs: 30_000 });
    recs.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
    const latest = new Map<string, number>();
    const seen = new Map<string, number[]>();
    for (const r of recs) {
      latest.set(r.keyText!, Number(r.valueText));
      seen.set(r.keyText!, [...(seen.get(r.keyText!) ?? []), Number(r.valueText)]);
    }
    return { latest, seen };
  };
  const waitForCounts = async (want: number, what: string): Promise<Map<string, number[]>> => {
    const end = Date.now() + 120_000;
    for (;;) {
      const { latest, seen } = await counts();
      if (keys.every((k) => latest.get(k) === want)) return seen;
      for (const k of keys) assert.ok((latest.get(k) ?? 0) <= want, `${what}: ${k} never counts past ${want} (got ${latest.get(k)})`);
      assert.ok(Date.now() < end, `${what}: every key reaches ${want} (now ${JSON.stringify([...latest])})`);
      await sleep(1000);
    }
  };
  const committedInput = async (): Promise<number> => {
    const offs = await java.listGroupOffsets(appId);
    return offs.filter((o) => o.topic === input).reduce((n, o) => n + (o.offset ?? 0), 0);
  };

  await produceRound(60, 'a');
  const stateA = mkdtempSync(join(tmpdir(), 'kop-streams-a-'));
  dirs.push(stateA);
  const args = (stateDir: string): string[] => ['--bootstrap', gw.bootstrap, '--app-id', appId, '--input', input, '--output', output, '--state-dir', stateDir, '--guarantee', 'at_least_once'];
  const first = await startStreams(args(stateA));
  await first.waitFor('RUNNING', 90_000);
  let seen = await waitForCounts(60, 'first run');
  for (const k of keys) assert.deepEqual(seen.get(k), Array.from({ length: 60 }, (_, i) => i + 1), `first run: ${k} counted 1..60 once each`);

  // everything read is committed: then the kill loses nothing and repeats nothing
  for (let i = 0; (await committedInput()) < 900; i++) {
    assert.ok(i < 100, 'the Streams app commits its input offsets');
    await sleep(300);
  }
  await kill(first);

  // the changelog is a compacted topic, and the gateway's cleaner compacted it
  const desc = await java.describeConfigs({ topic: changelog }, { all: true });
  assert.equal(desc.configs['cleanup.policy']!.value, 'compact');
  const engine = gw.gateway.context.storage as EmbeddedEngine;
  let cleaned = false;
  for (let i = 0; i < 100 && !cleaned; i++) {
    cleaned = [0, 1].some((p) => (engine.partitionLog({ topic: `persistent://public/default/${changelog}`, partition: p }).cleanerCheckpointOffset ?? 0n) > 0n);
    if (!cleaned) await sleep(200);
  }
  assert.ok(cleaned, 'the changelog was compacted by the cleaner');

  // more input while the app is down; restart with an EMPTY state directory: the counts come from the changelog
  await produceRound(20, 'b');
  const stateB = mkdtempSync(join(tmpdir(), 'kop-streams-b-'));
  dirs.push(stateB);
  assert.ok(!existsSync(join(stateB, appId)), 'no local state');
  const second = await startStreams(args(stateB));
  await second.waitFor('RUNNING', 90_000);
  seen = await waitForCounts(80, 'after the restart');
  for (const k of keys) assert.deepEqual(seen.get(k)!.slice(60), Array.from({ length: 20 }, (_, i) => 61 + i), `after the restart: ${k} continued at 61, exactly once each`);
  await kill(second);
});
