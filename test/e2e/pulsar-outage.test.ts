/**
 * Pulsar cut mid-request (storageEngine=pulsar, the gateway a child process, a broker of this
 * test's own, never the run's shared one): while an idempotent Java producer writes and a Java
 * group consumer reads, the broker is stopped and stays away for several seconds, then starts
 * again. What a Kafka client is answered meanwhile must be retriable (one error hierarchy:
 * storage failures reach clients as retriable codes, never UNKNOWN_SERVER_ERROR): checked on
 * raw Produce and Fetch frames sent while Pulsar is down (a partition already open, and one the
 * gateway has to open), and on the errors kafka-clients retried. Afterwards the Java clients have
 * recovered by themselves: no failed send, every acknowledged record in the log once at its
 * offset, in order, and the consumer read every one of them.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { spawnGateway, type GatewayProcess } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { RawClient } from '../helpers/raw-client.js';
import { createNamespace, privatePulsar, pulsarSkipReason, type PrivatePulsar, pulsarGatewayEnv } from '../helpers/pulsar.js';
import { GroupMember, waitFor } from './drivers/group-members.js';
import { ContinuousProducer } from './drivers/continuous-producer.js';
import { decodeResponse, encodeRequest } from '../../src/protocol/codec/frame.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { FetchRequest } from '../../src/protocol/generated/index.js';
import { ErrorCode, errorName } from '../../src/protocol/errors.js';
import { encodeBatchSync } from '../../src/protocol/records/encode.js';
import { freePort } from '../helpers/ports.js';

const skip = pulsarSkipReason();
const PARTITIONS = 3;
/** How long Pulsar stays away: longer than the gateway's Pulsar operation timeout, so requests fail rather than wait. */
const OUTAGE_MS = 15_000;
const OPERATION_TIMEOUT_MS = 6_000;
/** Codes Kafka's clients retry (their exceptions are RetriableException) that a storage outage may produce. */
const RETRIABLE = new Set<number>([
  ErrorCode.NOT_LEADER_OR_FOLLOWER,
  ErrorCode.REQUEST_TIMED_OUT,
  ErrorCode.KAFKA_STORAGE_ERROR,
  ErrorCode.LEADER_NOT_AVAILABLE,
  ErrorCode.NOT_ENOUGH_REPLICAS,
  ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
  ErrorCode.NETWORK_EXCEPTION,
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
]);
const RETRIABLE_NAMES = new Set([...RETRIABLE].map((c) => errorName(c)));

/** One Produce (v9, acks=all) and one Fetch (v12) per call on a raw connection; the partition error codes. */
class Probe {
  private corr = 1;
  /** Fetch responses that carried the error at the top level (no partitions). */
  wholeRequestFailures = 0;
  private constructor(private readonly c: RawClient) {}

  static async open(port: number): Promise<Probe> {
    return new Probe(await RawClient.open(port));
  }

  async produce(topic: string): Promise<number> {
    const batch = encodeBatchSync({ records: [{ key: 'probe', value: `probe-${Date.now()}` }] });
    this.c.send(encodeRequest(API_KEYS.Produce, 9, this.corr++, 'outage-probe', { transactionalId: null, acks: -1, timeoutMs: 30_000, topicData: [{ name: topic, partitionData: [{ index: 0, records: batch }] }] }));
    const frame = await this.c.next(60_000);
    assert.ok(frame, 'the gateway answers the produce (the connection stays open)');
    const body = decodeResponse(frame, API_KEYS.Produce, 9).body;
    const code = body.responses[0]?.partitionResponses[0]?.errorCode;
    assert.notEqual(code, undefined, 'a produce response names the partition');
    return code!;
  }

  async fetch(topic: string): Promise<number> {
    const partitions = [{ partition: 0, currentLeaderEpoch: -1, fetchOffset: 0n, lastFetchedEpoch: -1, logStartOffset: -1n, partitionMaxBytes: 1 << 20, replicaDirectoryId: Buffer.alloc(16) }];
    this.c.send(encodeRequest(API_KEYS.Fetch, 12, this.corr++, 'outage-probe', { ...FetchRequest.defaults(), maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, topics: [{ topic, topicId: Buffer.alloc(16), partitions }] }));
    const frame = await this.c.next(60_000);
    assert.ok(frame, 'the gateway answers the fetch (the connection stays open)');
    const body = decodeResponse(frame, API_KEYS.Fetch, 12).body;
    // the partition's code, or the response's when the request failed as a whole
    const partition = body.responses[0]?.partitions[0]?.errorCode;
    if (partition === undefined) this.wholeRequestFailures++;
    return partition ?? body.errorCode;
  }

  close(): void {
    this.c.close();
  }
}

if (skip) {
  test(`Pulsar cut mid-request [skipped: ${skip}]`, { skip }, () => undefined);
} else {
  toolTest('Pulsar cut for 15 s under a Java producer and group consumer: raw Produce and Fetch get retriable codes, the clients retry and recover, nothing lost or duplicated', unavailable('java'), async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kop-pulsar-outage-'));
    const dataDir = mkdtempSync(join(tmpdir(), 'kop-outage-gw-'));
    let pb: PrivatePulsar | undefined;
    let gw: GatewayProcess | undefined;
    let producer: ContinuousProducer | undefined;
    let member: GroupMember | undefined;
    let probe: Probe | undefined;
    try {
      pb = await privatePulsar(join(dir, 'broker'));
      const ns = await createNamespace(pb, 'outage');
      const port = await freePort();
      const bootstrap = `127.0.0.1:${port}`;
      gw = await spawnGateway({
        KOP_KAFKA_LISTENERS: `PLAINTEXT://${bootstrap}`,
        KOP_DATA_DIRECTORY: dataDir,
        ...pulsarGatewayEnv(pb, ns), // storage engine, broker and admin URLs, the gateway's token, tenant/namespace
        KOP_OFFSETS_TOPIC_NUM_PARTITIONS: '4',
        KOP_GROUP_INITIAL_REBALANCE_DELAY_MS: '300',
        KOP_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
        KOP_PULSAR_OPERATION_TIMEOUT_MS: String(OPERATION_TIMEOUT_MS),
        KOP_LOG_LEVEL: 'info',
      });
      const topic = 'during-outage';
      const cold = 'opened-during-outage';
      const java = new JavaKafkaClient({ bootstrap });
      const created = await java.createTopics([
        { name: topic, partitions: PARTITIONS },
        { name: cold, partitions: 1 },
      ]);
      assert.deepEqual(created.map((c) => c.error), [undefined, undefined], JSON.stringify(created));

      producer = await ContinuousProducer.start(bootstrap, topic, PARTITIONS, ['--config', 'delivery.timeout.ms=300000']);
      member = await GroupMember.start('java', 'reader', { bootstrap, group: 'outage-readers', topic, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1000 });
      const p = producer;
      const m = member;
      await waitFor(() => p.acks.length >= 300 && m.records.length >= 100, 60_000, () => `producing and consuming before the outage (${p.acks.length} acks, ${m.records.length} read)\n${p.stderr.slice(-2000)}\n${m.describe()}`);
      probe = await Probe.open(port);
      assert.equal(await probe.produce(topic), ErrorCode.NONE, 'a probe produce before the outage');

      // cut Pulsar
      const ackedBefore = p.acks.length;
      await pb.stop();
      const downAt = Date.now();
      const codes: Array<{ what: string; code: number }> = [];
      while (Date.now() - downAt < OUTAGE_MS) {
        codes.push({ what: 'produce (open partition)', code: await probe.produce(topic) });
        codes.push({ what: 'fetch (partition to open)', code: await probe.fetch(cold) });
      }
      const ackedDuring = p.acks.length - ackedBefore;
      await pb.start();
      const upAt = Date.now();
      const seen = [...new Set(codes.map((c) => `${c.what}: ${errorName(c.code)}`))];
      t.diagnostic(`Pulsar away ${upAt - downAt} ms; probe answers meanwhile: ${seen.join(', ')}; fetches failed as a whole: ${probe.wholeRequestFailures}; acks meanwhile: ${ackedDuring}`);
      const produceFailures = codes.filter((c) => c.what.startsWith('produce') && c.code !== ErrorCode.NONE);
      assert.ok(produceFailures.length > 0, 'a produce while Pulsar is away fails (it cannot be durable)');
      for (const c of codes) assert.ok(c.code === ErrorCode.NONE || RETRIABLE.has(c.code), `${c.what}: ${errorName(c.code)} is not retriable`);
      assert.ok(
        codes.some((c) => c.what.startsWith('fetch') && RETRIABLE.has(c.code)),
        'a fetch that needs Pulsar gets a retriable code',
      );
      assert.equal(probe.wholeRequestFailures, 0, 'a storage failure is the partition\'s error (as Kafka answers), not the whole fetch\'s');

      // the clients recover by themselves
      await waitFor(() => p.acks.some((a) => a.at > upAt), 120_000, () => `an acknowledgement after Pulsar came back (${p.acks.length} acks; gateway log:\n${gw!.output().slice(-3000)})`);
      const ackedAtUp = p.acks.length;
      await waitFor(() => p.acks.length >= ackedAtUp + 300, 90_000, () => `300 more acknowledgements after the outage (${p.acks.length - ackedAtUp})`);
      assert.equal(await probe.produce(topic), ErrorCode.NONE, 'a probe produce after the outage');
      await p.close();
      const retried = p.retriedCodes();
      t.diagnostic(`producer: ${p.sent} sent, ${p.acks.length} acknowledged, ${p.failures.length} failed; retried produce errors: ${JSON.stringify(Object.fromEntries(retried))}`);
      assert.deepEqual(p.failures.slice(0, 5), [], `no failed send (${p.failures.length} failed)`);
      assert.equal(p.acks.length, p.sent, 'every send acknowledged');
      for (const code of retried.keys()) assert.ok(RETRIABLE_NAMES.has(code), `the producer only saw retriable errors (got ${code})`);

      // every acknowledged record once, at its offset, in the order sent (the probes' records aside)
      const acked = new Map(p.acks.map((a) => [a.value, a]));
      assert.equal(acked.size, p.acks.length, 'each value acknowledged once');
      const all = (await java.consume({ topic, offset: 'beginning', untilEnd: true, timeoutMs: 90_000 })).filter((r) => !r.valueText?.startsWith('probe-'));
      for (let part = 0; part < PARTITIONS; part++) {
        const recs = all.filter((r) => r.partition === part);
        const offs = recs.map((r) => r.offset);
        assert.ok(offs.every((o, i) => i === 0 || o > offs[i - 1]!), `partition ${part}: offsets increase`);
        assert.deepEqual(recs.map((r) => r.valueText), recs.map((_, i) => `${part}-${i}`), `partition ${part}: every value once, in the order sent`);
        for (const r of recs) assert.equal(acked.get(r.valueText!)?.offset, r.offset, `${r.valueText} stored at ${r.offset}`);
      }
      assert.equal(all.length, acked.size, 'the log holds exactly the acknowledged records');

      // the group consumer read every acknowledged record through the outage
      await waitFor(() => {
        const got = new Set(m.records.map((r) => r.value));
        return p.acks.every((a) => got.has(a.value));
      }, 90_000, () => `the group consumer reads every acknowledged record (${new Set(m.records.map((r) => r.value)).size} of ${acked.size})\n${m.describe()}`);
      for (const r of m.records) {
        if (r.value?.startsWith('probe-')) continue;
        assert.equal(acked.get(r.value!)?.offset, r.offset, `consumer read ${r.value} at ${r.offset}`);
      }
      t.diagnostic(`consumer: ${m.records.length} deliveries, ${m.records.length - new Set(m.records.map((r) => r.value)).size} repeated, commit failures ${m.commitFailures.length}`);
      await m.close();
      assert.ok(!/request handler failed/.test(gw.output()), 'no request failed with an unexpected error (UNKNOWN_SERVER_ERROR)');
      assert.equal(gw.child.exitCode, null, 'the gateway is still running');
    } finally {
      probe?.close();
      producer?.kill();
      await member?.kill();
      if (gw && gw.child.exitCode === null && gw.child.signalCode === null) {
        gw.child.kill('SIGTERM');
        const timer = setTimeout(() => gw!.child.kill('SIGKILL'), 10_000);
        await gw.exited;
        clearTimeout(timer);
      }
      await pb?.wipe().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      rmSync(dataDir, { recursive: true, force: true });
    }
  }, { timeout: 420_000 });
}
