/**
 * Kafka Streams (org.apache.kafka:kafka-streams 4.3.1 from Maven Central) as
 * an acceptance application, on each storage engine (embedded, and Pulsar on
 * the run's shared real broker), with processing.guarantee=at_least_once.
 *
 * The topology (test/helpers/java-streams/KopStreamsApp.java): orders
 * (user -> "n:amount") counted, summed, counted in 10-minute windows and
 * collected (the set of order numbers n) by user, joined with a users KTable
 * (user -> region), re-keyed by region (a repartition topic, which Streams
 * purges with DeleteRecords) and summed by region; RocksDB stores whose
 * changelog topics Streams creates itself (compact; compact,delete for the
 * window store). The expected results are computed here from the input.
 *
 * What at_least_once promises, and so what is checked: an output topic may
 * hold repeated updates for records processed after the last commit, so
 * what must be exact is the latest value
 * of every key in each output topic read to its end, and the contents of the
 * state stores (interactive queries) after a restart that restored them from
 * the changelogs. A process is only killed once the group has committed
 * everything it read (LAG 0): then at_least_once promises exact state.
 *
 *   1. a clean run: every key's latest output is exact, and each user's count
 *      updates are 1..n, once each;
 *   2. the Streams process SIGKILLed and restarted with an empty state
 *      directory: the key-value stores restored from the changelogs equal
 *      the expected state (on the embedded engine the changelog was compacted by
 *      the gateway's cleaner meanwhile), and more input gives exact results;
 *   3. the gateway SIGKILLed and restarted (same data directory and port)
 *      under the running Streams process: it carries on, more input gives
 *      exact results; then the Streams process SIGKILLed and restarted empty
 *      again restores the state from what the restarted gateway kept;
 *   4. the gateway and then the Streams process SIGKILLed while it is busy:
 *      at_least_once may count a record twice, never loses one: the set of
 *      order numbers per user (output and store) is exact, every count and
 *      sum is at least what the input gives, and the latest outputs equal
 *      the stores.
 *
 * One Streams JVM at a time; it also does the test's client work (produce,
 * read to the end, group lag, store queries) through commands on stdin.
 * KOP_TEST_STREAMS_ENTRY_FORMAT=kafka runs the Pulsar engine with
 * entryFormat=kafka (default pulsar). KOP_TEST_STREAMS_LOG=<file> appends
 * the Streams processes' stderr and the last gateway's log to that file.
 */
import { after } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway.js';
import { toolTest } from '../helpers/clients/gate.js';
import { createNamespace, pulsarGatewayEnv, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';
import { freePort } from '../helpers/ports.js';
import { spawnStreamsApp, streamsUnavailable } from '../helpers/clients/streams.js';

const children: ChildProcess[] = [];
const dirs: string[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

/** A running KopStreamsApp: its state changes, and commands answered on stdout. */
class StreamsApp {
  readonly states: string[] = [];
  private lines: string[] = [];
  private err = '';
  private constructor(readonly child: ChildProcess) {
    let partial = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (c: string) => {
      partial += c;
      const lines = partial.split('\n');
      partial = lines.pop()!;
      for (const l of lines) {
        if (l.startsWith('STATE ')) this.states.push(l.slice(6).trim());
        else this.lines.push(l);
      }
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (c: string) => {
      this.err = (this.err + c).slice(-20_000);
      if (process.env.KOP_TEST_STREAMS_LOG) appendFileSync(process.env.KOP_TEST_STREAMS_LOG, c);
    });
  }

  static async start(args: string[]): Promise<StreamsApp> {
    const child = await spawnStreamsApp('KopStreamsApp', 'java-streams', args, ['pipe', 'pipe', 'pipe']);
    children.push(child);
    const app = new StreamsApp(child);
    const end = Date.now() + 90_000;
    while (!app.lines.includes('READY')) {
      app.alive('READY');
      assert.ok(Date.now() < end, `the Streams app created its topics within 90 s: ${app.err}`);
      await sleep(100);
    }
    app.lines = [];
    return app;
  }

  private alive(what: string): void {
    assert.ok(this.child.exitCode === null && this.child.signalCode === null, `the Streams app exited (${this.child.exitCode ?? this.child.signalCode}) before ${what}: ${this.err}`);
  }

  /** Send a command; resolves with the lines it printed, throws on ERR. */
  async cmd(line: string, timeoutMs = 90_000): Promise<string[]> {
    this.lines = [];
    this.child.stdin!.write(`${line}\n`);
    const end = Date.now() + timeoutMs;
    for (;;) {
      const i = this.lines.findIndex((l) => l === `OK ${line}` || l.startsWith(`ERR ${line} `));
      if (i >= 0) {
        const got = this.lines.slice(0, i);
        const last = this.lines[i]!;
        this.lines = this.lines.slice(i + 1);
        if (last.startsWith('ERR ')) throw new Error(last);
        return got;
      }
      this.alive(`answering ${line}`);
      assert.ok(Date.now() < end, `the Streams app answered "${line}" within ${timeoutMs} ms: ${this.err.slice(-3000)}`);
      await sleep(50);
    }
  }

  async waitFor(state: string, timeoutMs: number): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.states.at(-1) !== state) {
      this.alive(state);
      assert.ok(Date.now() < end, `the Streams app reached ${state} within ${timeoutMs} ms (states ${this.states.join(' -> ')}): ${this.err.slice(-3000)}`);
      await sleep(100);
    }
  }

  stderr(): string {
    return this.err;
  }

  kill(): Promise<void> {
    return killed(this.child);
  }
}

interface Engine {
  name: string;
  skip: string | undefined;
  /** KOP_* settings of the engine (the same on every start of the gateway). */
  settings(): Promise<Record<string, string>>;
  /** Does the gateway's cleaner compact the changelogs (the embedded engine; the Pulsar engine keeps them whole). */
  compacts: boolean;
}

const ENGINES: Engine[] = [
  { name: 'embedded', skip: undefined, settings: async () => ({}), compacts: true },
  {
    name: 'pulsar',
    skip: pulsarSkipReason(),
    settings: async () => {
      const p = await sharedPulsar();
      return pulsarGatewayEnv(p, await createNamespace(p, uniqueName('e2e-streams')), process.env.KOP_TEST_STREAMS_ENTRY_FORMAT === 'kafka' ? 'kafka' : 'pulsar');
    },
    compacts: false,
  },
];

const USERS = Array.from({ length: 16 }, (_, i) => `user-${String(i).padStart(2, '0')}`);
const regionOf = (user: string): string => `region-${Number(user.slice(5)) % 3}`;

/** The number of order numbers in a seen-set (a Java BitSet as base64) when they are exactly 0..n-1, else -1. */
function seenCount(b64: string): number {
  const bytes = Buffer.from(b64, 'base64');
  let n = 0;
  let highest = -1;
  bytes.forEach((byte, i) => {
    for (let bit = 0; bit < 8; bit++) {
      if (byte & (1 << bit)) {
        n++;
        highest = i * 8 + bit;
      }
    }
  });
  return n === highest + 1 ? n : -1;
}

/** What the topology must compute from the orders so far. */
class Expected {
  readonly counts = new Map<string, number>();
  readonly sums = new Map<string, number>();
  readonly regionSums = new Map<string, number>();
  /** user@start of its 10-minute window -> count */
  readonly windowCounts = new Map<string, number>();
  add(user: string, amount: number, timestamp: number): void {
    const w = `${user}@${timestamp - (timestamp % 600_000)}`;
    this.windowCounts.set(w, (this.windowCounts.get(w) ?? 0) + 1);
    this.counts.set(user, (this.counts.get(user) ?? 0) + 1);
    this.sums.set(user, (this.sums.get(user) ?? 0) + amount);
    const r = regionOf(user);
    this.regionSums.set(r, (this.regionSums.get(r) ?? 0) + amount);
  }
}

for (const engine of ENGINES) {
  toolTest(
    `kafka streams on the ${engine.name} engine (at_least_once): counts, aggregates, a windowed count, a KStream-KTable join and a repartition exact; state restored from the changelogs after a Streams SIGKILL and after a gateway SIGKILL; nothing lost to crashes under load`,
    engine.skip ?? streamsUnavailable(),
    (t) => run(t, engine),
    { timeout: 480_000 },
  );
}

async function run(t: TestContext, engine: Engine): Promise<void> {
  const dataDir = tempDir('kop-streams-gw-');
  const port = await freePort();
  const bootstrap = `127.0.0.1:${port}`;
  const gwEnv = {
    KOP_KAFKA_LISTENERS: `PLAINTEXT://${bootstrap}`,
    KOP_DATA_DIRECTORY: dataDir,
    KOP_LOG_CLEANER_BACKOFF_MS: '200',
    KOP_LOG_CLEANER_IO_MAX_BYTES_PER_SECOND: '0',
    KOP_GROUP_INITIAL_REBALANCE_DELAY_MS: '300',
    KOP_LOG_LEVEL: 'info',
    ...(await engine.settings()),
  };
  let gw: GatewayProcess | undefined = await spawnGateway(gwEnv);
  let app: StreamsApp | undefined;
  const appId = `streams-${engine.name}`;
  const prefix = 's';
  const args = (stateDir: string): string[] => ['--bootstrap', bootstrap, '--app-id', appId, '--prefix', prefix, '--state-dir', stateDir, '--guarantee', 'at_least_once'];
  const expected = new Expected();
  // input timestamps from an hour ago, one second apart; the same layout of 10-minute windows on every run
  let ts = Date.now() - 3_600_000;
  ts = ts - (ts % 600_000) + 120_000;
  let round = 0;

  /** Write records (key, value, timestamp) through the app's producer (acks=all, idempotent). */
  const produce = async (a: StreamsApp, topic: string, records: Array<[string, string, number]>): Promise<void> => {
    const file = join(tempDir('kop-streams-in-'), 'records.tsv');
    writeFileSync(file, records.map(([k, v, time]) => `${k}\t${v}\t${time}\n`).join(''));
    const out = await a.cmd(`produce ${prefix}-${topic} ${file}`);
    assert.deepEqual(out, [`PRODUCED ${records.length}`]);
  };
  /** perUser orders for every user, timestamps one second apart (over the test: about half an hour, several 10-minute windows). */
  const produceOrders = async (a: StreamsApp, perUser: number): Promise<void> => {
    const records: Array<[string, string, number]> = [];
    round++;
    for (let r = 0; r < perUser; r++) {
      for (const [i, u] of USERS.entries()) {
        const amount = ((i * 37 + r * 11 + round * 5) % 97) + 1;
        records.push([u, `${expected.counts.get(u) ?? 0}:${amount}`, ts]);
        expected.add(u, amount, ts);
        ts += 1000;
      }
    }
    await produce(a, 'orders', records);
  };
  /** Every record of a topic, from its start to its end, and the log start offset of each partition. */
  const readAll = async (a: StreamsApp, topic: string): Promise<{ starts: Map<number, number>; records: Array<{ partition: number; offset: number; key: string; value: string }> }> => {
    const starts = new Map<number, number>();
    const records: Array<{ partition: number; offset: number; key: string; value: string }> = [];
    for (const l of await a.cmd(`read ${topic}`)) {
      const f = l.split(' ');
      if (f[0] === 'START') starts.set(Number(f[1]), Number(f[2]));
      else if (f[0] === 'REC') records.push({ partition: Number(f[1]), offset: Number(f[2]), key: f[3]!, value: f[4]! });
      else t.diagnostic(`read ${topic}: ${l}`);
    }
    return { starts, records };
  };
  const read = async (a: StreamsApp, topic: string): Promise<Array<{ partition: number; offset: number; key: string; value: string }>> => (await readAll(a, topic)).records;
  /** The latest value of every key in an output topic (a seen-set as the number of orders in it). */
  const latest = async (a: StreamsApp, topic: string): Promise<Map<string, number>> => {
    const m = new Map<string, number>();
    for (const r of await read(a, topic)) m.set(r.key, topic.endsWith('-seen') ? seenCount(r.value) : Number(r.value)); // a key lives in one partition, read in offset order
    return m;
  };
  const same = (got: Map<string, number>, want: Map<string, number>): boolean => got.size === want.size && [...want].every(([k, v]) => got.get(k) === v);
  /** Wait until the latest value of every key in each output topic is what the input gives. */
  const waitForOutputs = async (a: StreamsApp, what: string): Promise<void> => {
    const end = Date.now() + 120_000;
    const outputs: Array<[string, Map<string, number>]> = [
      [`${prefix}-seen`, expected.counts],
      [`${prefix}-counts`, expected.counts],
      [`${prefix}-sums`, expected.sums],
      [`${prefix}-region-sums`, expected.regionSums],
      [`${prefix}-window-counts`, expected.windowCounts],
    ];
    for (const [topic, want] of outputs) {
      for (;;) {
        const got = await latest(a, topic);
        if (same(got, want)) break;
        if (topic.endsWith('counts')) for (const [k, v] of got) assert.ok(v <= want.get(k)!, `${what}: ${k} never counts past ${want.get(k)} (got ${v})`);
        assert.ok(Date.now() < end, `${what}: ${topic} reaches the expected values\n got ${JSON.stringify([...got])}\nwant ${JSON.stringify([...want])}\n${a.stderr().slice(-3000)}`);
        await sleep(500);
      }
    }
  };
  /** Wait until the group committed everything it read (then a kill loses nothing and repeats nothing). */
  const waitCommitted = async (a: StreamsApp, what: string): Promise<void> => {
    const end = Date.now() + 60_000;
    for (;;) {
      const out = await a.cmd('lag');
      const lag = Number(out.find((l) => l.startsWith('LAG '))!.slice(4));
      if (lag === 0) return;
      assert.ok(Date.now() < end, `${what}: the Streams app commits everything it read (lag ${lag})`);
      await sleep(300);
    }
  };
  const store = async (a: StreamsApp, name: string): Promise<Map<string, string>> => {
    const end = Date.now() + 30_000;
    for (;;) {
      try {
        return new Map((await a.cmd(`store ${name}`)).filter((l) => l.startsWith('KV ')).map((l) => l.split(' ').slice(1) as [string, string]));
      } catch (e) {
        // a store may not be queryable for a moment after a rebalance (InvalidStateStoreException)
        assert.ok(Date.now() < end, `store ${name} is queryable: ${String(e)}`);
        await sleep(300);
      }
    }
  };
  const seenCounts = (m: Map<string, string>): Map<string, number> => new Map([...m].map(([k, v]) => [k, seenCount(v)]));
  const asText = (m: Map<string, number>): Map<string, string> => new Map([...m].map(([k, v]) => [k, String(v)]));
  /** The four stores, restored from the changelogs, hold exactly the expected state. */
  const checkStores = async (a: StreamsApp, what: string): Promise<void> => {
    assert.deepEqual(await store(a, 'count-store'), asText(expected.counts), `${what}: count-store`);
    assert.deepEqual(seenCounts(await store(a, 'seen-store')), expected.counts, `${what}: seen-store`);
    assert.deepEqual(await store(a, 'sum-store'), asText(expected.sums), `${what}: sum-store`);
    assert.deepEqual(await store(a, 'region-store'), asText(expected.regionSums), `${what}: region-store`);
    assert.deepEqual(await store(a, 'users-store'), new Map(USERS.map((u) => [u, regionOf(u)])), `${what}: users-store`);
  };

  try {
    // 1. a clean run: users first (older timestamps, so the join sees every user), then orders
    const t0 = Date.now();
    app = await StreamsApp.start(args(tempDir('kop-streams-state-')));
    await produce(app, 'users', USERS.map((u) => [u, regionOf(u), ts++]));
    await app.cmd('start');
    await app.waitFor('RUNNING', 120_000);
    await produceOrders(app, 30);
    await waitForOutputs(app, 'first run');
    const counts = await read(app, `${prefix}-counts`);
    for (const u of USERS) {
      assert.deepEqual(
        counts.filter((r) => r.key === u).map((r) => Number(r.value)),
        Array.from({ length: expected.counts.get(u)! }, (_, i) => i + 1),
        `first run: ${u} counted 1..n once each`,
      );
    }
    await waitCommitted(app, 'first run');
    // the internal topics Streams created, with the configs it asked for
    const configs = async (topic: string): Promise<Record<string, string>> =>
      Object.fromEntries((await app!.cmd(`configs ${topic}`)).filter((l) => l.startsWith('CONFIG ')).map((l) => l.split(' ').slice(1, 3) as [string, string]));
    const countLog = await configs(`${appId}-count-store-changelog`);
    assert.equal(countLog['cleanup.policy'], 'compact', JSON.stringify(countLog));
    assert.equal(countLog['segment.bytes'], '4096', JSON.stringify(countLog));
    const windowLog = await configs(`${appId}-window-store-changelog`);
    assert.equal(windowLog['cleanup.policy'], 'compact,delete', JSON.stringify(windowLog));
    assert.equal(windowLog['retention.ms'], String(2 * 86_400_000), `the window store's retention (a day) and windowstore.changelog.additional.retention.ms (a day): ${JSON.stringify(windowLog)}`);
    const repartitionLog = await configs(`${appId}-by-region-repartition`);
    assert.equal(repartitionLog['cleanup.policy'], 'delete', JSON.stringify(repartitionLog));
    t.diagnostic(`${engine.name}: first run exact after ${Date.now() - t0} ms`);

    // 2. SIGKILL the Streams process; restart it with an empty state directory
    await app.kill();
    const t1 = Date.now();
    app = await StreamsApp.start(args(tempDir('kop-streams-state-')));
    await app.cmd('start');
    await app.waitFor('RUNNING', 120_000);
    await checkStores(app, 'after the Streams SIGKILL');
    if (engine.compacts) {
      // the changelog Streams created is compacted (cleanup.policy=compact) and the cleaner compacted it: offsets with gaps
      const changelog = await read(app, `${appId}-count-store-changelog`);
      const span = [0, 1].reduce((n, p) => {
        const offs = changelog.filter((r) => r.partition === p).map((r) => r.offset);
        return n + (offs.length ? offs.at(-1)! + 1 : 0);
      }, 0);
      t.diagnostic(`${engine.name}: count-store changelog holds ${changelog.length} records over ${span} offsets`);
      assert.ok(changelog.length < span, `the gateway's cleaner compacted the count-store changelog (${changelog.length} records over ${span} offsets)`);
    }
    await produceOrders(app, 10);
    await waitForOutputs(app, 'after the Streams SIGKILL');
    await waitCommitted(app, 'after the Streams SIGKILL');
    // Streams deletes the committed part of its repartition topic (DeleteRecords): the log start moves up, nothing unconsumed goes
    const repartition = `${appId}-by-region-repartition`;
    for (let i = 0; ; i++) {
      const { starts, records } = await readAll(app, repartition);
      if ([...starts.values()].reduce((n, o) => n + o, 0) > 0) {
        for (const r of records) assert.ok(r.offset >= starts.get(r.partition)!, 'records from the log start on');
        t.diagnostic(`${engine.name}: ${repartition} purged up to ${JSON.stringify([...starts])}, ${records.length} records left`);
        break;
      }
      assert.ok(i < 40, `Streams purged its repartition topic (log starts ${JSON.stringify([...starts])})`);
      await sleep(500);
    }
    t.diagnostic(`${engine.name}: restored and exact again after ${Date.now() - t1} ms`);

    // 3. SIGKILL the gateway under the running Streams process; restart it on the same data directory and port
    gw.child.kill('SIGKILL');
    assert.equal(await gw.exited, 'SIGKILL');
    gw = undefined;
    const t2 = Date.now();
    gw = await spawnGateway(gwEnv);
    await produceOrders(app, 10);
    await waitForOutputs(app, 'after the gateway SIGKILL');
    await waitCommitted(app, 'after the gateway SIGKILL');
    t.diagnostic(`${engine.name}: exact again ${Date.now() - t2} ms after the gateway restart (states ${app.states.join(' -> ')})`);
    await app.kill();
    const stateDir = tempDir('kop-streams-state-');
    app = await StreamsApp.start(args(stateDir));
    await app.cmd('start');
    await app.waitFor('RUNNING', 120_000);
    await checkStores(app, 'after the gateway SIGKILL and a Streams SIGKILL');

    // 4. crashes while Streams is busy: at_least_once may process a record twice (counts and sums may grow
    // more than the input says), never loses one (the set of order numbers per user stays exact)
    const t3 = Date.now();
    await produceOrders(app, 40);
    await sleep(150);
    gw.child.kill('SIGKILL');
    await gw.exited;
    gw = undefined;
    gw = await spawnGateway(gwEnv);
    await produceOrders(app, 40);
    await sleep(150);
    await app.kill();
    app = await StreamsApp.start(args(stateDir)); // its local stores and checkpoints: restores only what they miss
    await app.cmd('start');
    await app.waitFor('RUNNING', 120_000);
    for (const end = Date.now() + 120_000; ; ) {
      if (same(await latest(app, `${prefix}-seen`), expected.counts)) break;
      assert.ok(Date.now() < end, `after crashes under load: every order is in the seen-sets\n${app.stderr().slice(-3000)}`);
      await sleep(500);
    }
    await waitCommitted(app, 'after crashes under load');
    assert.deepEqual(seenCounts(await store(app, 'seen-store')), expected.counts, 'after crashes under load: seen-store');
    const outputs: Array<[string, string | null, Map<string, number>]> = [
      [`${prefix}-counts`, 'count-store', expected.counts],
      [`${prefix}-sums`, 'sum-store', expected.sums],
      [`${prefix}-region-sums`, 'region-store', expected.regionSums],
      [`${prefix}-window-counts`, null, expected.windowCounts],
    ];
    let repeated = 0;
    for (const [topic, storeName, want] of outputs) {
      const got = await latest(app, topic);
      if (storeName) assert.deepEqual(asText(got), await store(app, storeName), `after crashes under load: the latest ${topic} are the ${storeName} contents`);
      assert.deepEqual([...got.keys()].sort(), [...want.keys()].sort(), `after crashes under load: ${topic} keys`);
      for (const [k, v] of want) {
        if (got.get(k)! < v) {
          const recs = (await read(app, topic)).filter((r) => r.key === k);
          t.diagnostic(`${topic} ${k} (partition, offset, value): ${JSON.stringify(recs.map((r) => [r.partition, r.offset, r.value]))}`);
        }
        assert.ok(got.get(k)! >= v, `after crashes under load: ${topic} ${k} counts every input at least once (${got.get(k)} >= ${v})`);
      }
      if (topic.endsWith('-counts')) for (const [k, v] of want) repeated += got.get(k)! - v;
    }
    t.diagnostic(`${engine.name}: after crashes under load, nothing lost (${Date.now() - t3} ms); ${repeated} extra counts (records processed again after the last commit)`);
    await app.kill();
  } catch (e) {
    if (gw) t.diagnostic(`gateway log (tail):\n${gw.output().slice(-6000)}`);
    throw e;
  } finally {
    if (process.env.KOP_TEST_STREAMS_LOG && gw) appendFileSync(process.env.KOP_TEST_STREAMS_LOG, `\n=== GATEWAY ===\n${gw.output()}`);
    await app?.kill();
    if (gw) {
      gw.child.kill('SIGKILL');
      await gw.exited;
    }
  }
}
