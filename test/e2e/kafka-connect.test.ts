/**
 * Kafka Connect distributed (connect-runtime and connect-file 4.3.1 from Maven Central) as an
 * acceptance application, run as a user runs it: two `connect-distributed` workers whose worker
 * properties point at the gateway (config, offset and status topics compacted, their cleanup policy
 * checked by the workers at start), and the FileStream source and sink connectors created through
 * the workers' REST API.
 *  - every line of the source file arrives in the sink file exactly once, in order;
 *  - a worker SIGKILLed (after the job settled: source and sink offsets committed) has its
 *    connectors and tasks rebalanced to the survivor, which moves the lines written meanwhile,
 *    once each;
 *  - after both workers and the gateway are stopped and started again (the gateway on the same data
 *    directory), the config, offset and status topics hold what they held, the connectors come
 *    back with their configs, and only the lines written meanwhile are moved (the source resumes
 *    at its committed file position, the sink at its group's committed offset).
 * Every step runs on two set-ups:
 *  - the embedded engine, secured: SASL PLAIN with Pulsar tokens and authorization on; the workers
 *    authenticate as a role with only `produce` and `consume` on the namespace (no tenant admin), so
 *    the storage topics are created compacted beforehand by a tenant admin (docs/kafka-connect.md);
 *    the workers' group (protocol type "connect"), their producers and consumers, and their check
 *    of the topics' cleanup policy (DescribeConfigs) all pass the gateway's authorization;
 *  - the Pulsar engine (the run's shared real broker), without authentication: the workers create
 *    their storage topics themselves (CreateTopics from Connect's TopicAdmin), and the source task
 *    creates its topic.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { skipsFor } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { freePort } from '../../bench/kafka-reference/broker.js';
import { connectUnavailable, startConnectWorker, waitUntil, type ConnectWorker } from '../helpers/connect.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';

interface EngineUnderTest {
  name: string;
  skip: string | undefined;
  /** SASL PLAIN with tokens and authorization on (tenant acme, namespace etl) */
  secure: boolean;
  settings(): Promise<Record<string, string | number | boolean>>;
}

const secret = randomBytes(32);
const token = (sub: string): Promise<string> => new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
/** Java client settings authenticating as `role` (SASL PLAIN, username tenant/namespace, password token:<jwt>) */
async function saslSettings(role: string): Promise<Record<string, string>> {
  return {
    'security.protocol': 'SASL_PLAINTEXT',
    'sasl.mechanism': 'PLAIN',
    'sasl.jaas.config': `org.apache.kafka.common.security.plain.PlainLoginModule required username="acme/etl" password="token:${await token(role)}";`,
  };
}

const ENGINES: EngineUnderTest[] = [
  {
    name: 'embedded engine, SASL and authorization',
    skip: undefined,
    secure: true,
    settings: async () => ({
      authenticationEnabled: true,
      authorizationEnabled: true,
      tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
      kafkaTenant: 'acme',
      kafkaNamespace: 'etl',
    }),
  },
  {
    name: 'pulsar engine',
    secure: false,
    skip: pulsarSkipReason(),
    settings: async () => {
      const p = await sharedPulsar();
      return pulsarGatewayConfig(p, await createNamespace(p, uniqueName('e2e-connect')));
    },
  },
];

const why = connectUnavailable();

interface TaskStatus {
  id: number;
  state: string;
  worker_id: string;
  trace?: string;
}
interface ConnectorStatus {
  name: string;
  connector: { state: string; worker_id: string; trace?: string };
  tasks: TaskStatus[];
}

const lines = (from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `line-${String(from + i).padStart(5, '0')} ${'x'.repeat((from + i) % 40)}`);

for (const engine of ENGINES) {
  describe(`Kafka Connect distributed on the ${engine.name}`, () => {
    const skip = engine.skip ?? (skipsFor(why) ? why : undefined);
    if (skip) {
      test(`Kafka Connect distributed [skipped: ${skip}]`, { skip }, () => undefined);
      return;
    }
    let gw: TestGateway | undefined;
    let dir: string;
    let settings: Record<string, string | number | boolean>;
    let port: number;
    const workers: ConnectWorker[] = [];
    before(async () => {
      dir = mkdtempSync(join(tmpdir(), 'kop-connect-'));
      settings = await engine.settings();
      if (engine.secure) {
        // the Connect role may produce and consume in acme/etl; acme-admin is the tenant admin
        mkdirSync(join(dir, 'policies'));
        writeFileSync(
          join(dir, 'policies', 'acme.json'),
          JSON.stringify({ tenant: 'acme', adminRoles: ['acme-admin'], namespaces: { etl: { permissions: { connect: ['produce', 'consume'] } } } }),
        );
        settings.policiesDirectory = join(dir, 'policies');
      }
      port = await freePort();
    });
    after(async () => {
      for (const w of workers) await w.kill();
      await gw?.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    const startGateway = async (): Promise<TestGateway> =>
      startTestGateway({ ...settings, kafkaListeners: `${engine.secure ? 'SASL_PLAINTEXT' : 'PLAINTEXT'}://127.0.0.1:${port}` }, join(dir, 'gateway'));

    test('two workers move every line once; a SIGKILLed worker\'s tasks move to the survivor; configs, offsets and status survive a restart of both workers and of the gateway', { timeout: 600_000 }, async () => {
      if (why) throw new Error(`test tool missing (required under CI): ${why}`);
      gw = await startGateway();
      const bootstrap = `127.0.0.1:${port}`;
      // the test's own reads (and the admin's topic creation) as the tenant admin
      const java = new JavaKafkaClient({ bootstrap, processTimeoutMs: 90_000, config: engine.secure ? await saslSettings('acme-admin') : {} });
      const input = join(dir, 'input.txt');
      const output = join(dir, 'output.txt');
      const topic = 'connect-lines';
      const internal = { configs: 'connect-configs', offsets: 'connect-offsets', status: 'connect-status' };
      const restPorts = [await freePort(), await freePort()];
      const sasl = engine.secure ? await saslSettings('connect') : {};
      const workerProps = {
        'bootstrap.servers': bootstrap,
        // the worker's own clients, and those it makes for the connectors' tasks
        ...sasl,
        ...Object.fromEntries(['producer.', 'consumer.', 'admin.'].flatMap((prefix) => Object.entries(sasl).map(([k, v]) => [prefix + k, v]))),
        'group.id': 'connect-cluster',
        'key.converter': 'org.apache.kafka.connect.storage.StringConverter',
        'value.converter': 'org.apache.kafka.connect.storage.StringConverter',
        'config.storage.topic': internal.configs,
        'offset.storage.topic': internal.offsets,
        'status.storage.topic': internal.status,
        // as Kafka's own config/connect-distributed.properties for a single broker
        'config.storage.replication.factor': 1,
        'offset.storage.replication.factor': 1,
        'status.storage.replication.factor': 1,
        'offset.flush.interval.ms': 1000,
        // a dead worker is noticed after 6 s, and its tasks are reassigned 3 s later (default 5 min)
        'session.timeout.ms': 6000,
        'heartbeat.interval.ms': 1000,
        'scheduled.rebalance.max.delay.ms': 3000,
        'consumer.session.timeout.ms': 6000,
        'consumer.heartbeat.interval.ms': 1000,
      };
      const startWorker = (i: number): Promise<ConnectWorker> => startConnectWorker({ dir: join(dir, `worker-${i}`), restPort: restPorts[i]!, props: workerProps });
      const context = (): string => workers.map((w) => `--- ${w.workerId}${w.exited() ? ' (exited)' : ''}:\n${w.tail(25)}`).join('\n');

      const status = async (w: ConnectWorker, name: string): Promise<ConnectorStatus | undefined> => {
        const r = await w.rest<ConnectorStatus>('GET', `/connectors/${name}/status`);
        return r.status === 200 ? r.body : undefined;
      };
      /** Both connectors and their task RUNNING (on `onlyOn` when given), as `w` reports them. */
      const running = (w: ConnectWorker, onlyOn?: string) =>
        waitUntil(
          `connectors and tasks RUNNING${onlyOn ? ` on ${onlyOn}` : ''}`,
          120_000,
          async () => {
            const all: ConnectorStatus[] = [];
            for (const name of ['file-source', 'file-sink']) {
              const s = await status(w, name);
              if (!s || s.connector.state !== 'RUNNING' || s.tasks.length !== 1 || s.tasks[0]!.state !== 'RUNNING') return undefined;
              for (const t of s.tasks) assert.ok(t.state !== 'FAILED', `task ${name}-${t.id} failed: ${t.trace}`);
              if (onlyOn && (s.connector.worker_id !== onlyOn || s.tasks[0]!.worker_id !== onlyOn)) return undefined;
              all.push(s);
            }
            return all;
          },
          context,
        );
      const outputLines = (): string[] => (existsSync(output) ? readFileSync(output, 'utf8').split('\n').filter((l) => l !== '') : []);
      /** The sink file holds exactly `want`, in order (waits for it; fails at once on a duplicate or a stray line). */
      const delivered = async (want: string[], what: string): Promise<void> => {
        await waitUntil(
          `${what}: every line in the sink file`,
          120_000,
          async () => {
            const got = outputLines();
            assert.deepEqual(got, want.slice(0, got.length), `${what}: the sink file holds the input lines in order, each once`);
            return got.length === want.length ? true : undefined;
          },
          context,
        );
      };
      /** Source position at the end of the input file, sink offset at the end of the topic: nothing left to redo. */
      const settled = async (w: ConnectWorker, records: number): Promise<void> => {
        const size = statSync(input).size;
        await waitUntil(
          'source and sink offsets committed',
          60_000,
          async () => {
            const src = await w.rest<{ offsets: Array<{ partition: Record<string, unknown>; offset: { position?: number } }> }>('GET', '/connectors/file-source/offsets');
            const sink = await w.rest<{ offsets: Array<{ partition: Record<string, unknown>; offset: { kafka_offset?: number } }> }>('GET', '/connectors/file-sink/offsets');
            const pos = src.body?.offsets?.find((o) => o.partition.filename === input)?.offset.position;
            const off = sink.body?.offsets?.find((o) => o.partition.kafka_topic === topic && o.partition.kafka_partition === 0)?.offset.kafka_offset;
            return pos === size && off === records ? true : undefined;
          },
          context,
        );
      };

      if (engine.secure) {
        // the Connect role is no tenant admin: an admin creates the storage topics, compacted (as with a Kafka
        // principal without CREATE), and the source's topic
        const created = await java.createTopics([
          { name: internal.configs, partitions: 1, configs: { 'cleanup.policy': 'compact' } },
          { name: internal.offsets, partitions: 25, configs: { 'cleanup.policy': 'compact' } },
          { name: internal.status, partitions: 5, configs: { 'cleanup.policy': 'compact' } },
          { name: topic, partitions: 1 },
        ]);
        for (const c of created) assert.equal(c.error, undefined, JSON.stringify(c));
      }

      // --- two workers; the connectors through the REST API
      writeFileSync(input, lines(1, 300).join('\n') + '\n');
      workers.push(...(await Promise.all([startWorker(0), startWorker(1)])));
      const sourceConfig = {
        'connector.class': 'org.apache.kafka.connect.file.FileStreamSourceConnector',
        'tasks.max': '1',
        file: input,
        topic,
        // without authorization the worker creates the topic (CreateTopics from Connect's TopicAdmin)
        ...(engine.secure ? {} : { 'topic.creation.default.partitions': '1', 'topic.creation.default.replication.factor': '1' }),
      };
      const sinkConfig = { 'connector.class': 'org.apache.kafka.connect.file.FileStreamSinkConnector', 'tasks.max': '1', file: output, topics: topic };
      for (const [name, config] of [['file-source', sourceConfig], ['file-sink', sinkConfig]] as const) {
        const r = await workers[0]!.rest('POST', '/connectors', { name, config });
        assert.equal(r.status, 201, `create ${name}: ${JSON.stringify(r.body)}`);
      }
      await running(workers[1]!);
      await delivered(lines(1, 300), 'first run');
      // the workers created their storage topics compacted, as Connect requires
      for (const t of Object.values(internal)) {
        const d = await java.describeConfigs({ topic: t });
        assert.equal(d.configs['cleanup.policy']?.value, 'compact', `${t} is compacted`);
      }
      // the workers could check that (DescribeConfigs on the topics they use)
      for (const w of workers) assert.doesNotMatch(readFileSync(w.logFile, 'utf8'), /Unable to use admin client to verify the cleanup policy/, `${w.workerId} verified the cleanup policy`);
      await settled(workers[0]!, 300);

      // --- SIGKILL the worker running the source task; the survivor takes everything over
      const before = (await status(workers[0]!, 'file-source'))!;
      const victim = workers.find((w) => w.workerId === before.tasks[0]!.worker_id)!;
      const survivor = workers.find((w) => w !== victim)!;
      await victim.kill();
      appendFileSync(input, lines(301, 450).join('\n') + '\n');
      await running(survivor, survivor.workerId);
      await delivered(lines(1, 450), 'after the SIGKILL');
      await settled(survivor, 450);

      // --- stop the survivor and the gateway; the file grows while everything is down
      await survivor.stop();
      const internalState = async (): Promise<Record<string, Map<string, string | null>>> => {
        const out: Record<string, Map<string, string | null>> = {};
        for (const t of Object.values(internal)) {
          const m = new Map<string, string | null>();
          for (const r of await java.consume({ topic: t, untilEnd: true, timeoutMs: 30_000 })) m.set(`${r.partition}/${r.keyText}`, r.valueText);
          out[t] = m;
        }
        return out;
      };
      const beforeRestart = await internalState();
      assert.ok(beforeRestart[internal.configs]!.size > 0 && beforeRestart[internal.offsets]!.size > 0 && beforeRestart[internal.status]!.size > 0, 'the storage topics hold records');
      await gw.stop();
      gw = undefined;
      appendFileSync(input, lines(451, 520).join('\n') + '\n');
      gw = await startGateway();
      assert.deepEqual(await internalState(), beforeRestart, 'the config, offset and status topics hold the same latest records after the gateway restart');

      // --- both workers again: the connectors come back from the config topic and resume at their offsets
      workers.length = 0;
      workers.push(...(await Promise.all([startWorker(0), startWorker(1)])));
      const listed = await workers[1]!.rest<string[]>('GET', '/connectors');
      assert.deepEqual([...listed.body].sort(), ['file-sink', 'file-source'], 'both connectors are known after the restart');
      const cfg = await workers[1]!.rest<Record<string, string>>('GET', '/connectors/file-source/config');
      assert.deepEqual(cfg.body, { ...sourceConfig, name: 'file-source' }, 'the source config survived');
      await running(workers[0]!);
      await delivered(lines(1, 520), 'after restarting the workers and the gateway');
      await settled(workers[0]!, 520);
      for (const w of workers) await w.stop();
    });
  });
}
