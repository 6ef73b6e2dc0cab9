/**
 * Share groups (KIP-932) end to end: Apache Kafka's KafkaShareConsumer (kafka-clients 4.3.1)
 * against a real gateway on the embedded engine, one JVM running every scenario
 * (drivers/ShareScenario.java):
 *  - explicit acknowledgement: accepted records are not delivered again, a released record is
 *    redelivered with delivery count 2, a rejected one never comes back;
 *  - a member that holds records without acknowledging loses them when its acquisition lock
 *    expires: another member gets them (delivery count 2), and the late acknowledgement is refused;
 *  - two members of one group polling one topic share its records: each record goes to exactly one;
 *  - ShareGroupDescribe (through the Admin client) shows the group, its members and assignment.
 * The gateway runs with share.auto.offset.reset=earliest and a 2 s lock, to keep the file short.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { delimiter } from 'node:path';
import { after, before, describe } from 'node:test';
import kafkajs from 'kafkajs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { javaLog4jConfig } from '../helpers/clients/java.js';
import { compileJavaSource } from '../helpers/clients/java-compile.js';
import { harnessEnv, repoRoot } from '../helpers/clients/paths.js';
import { runCommand } from '../helpers/clients/proc.js';
import { RawClient } from '../helpers/raw-client.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import { decodeResponse, encodeRequest, type ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import { ErrorCode } from '../../src/protocol/errors.js';

const { Kafka, logLevel } = kafkajs;

interface Event {
  ev: string;
  phase?: string;
  consumer?: string;
  partition?: number;
  offset?: number;
  value?: string;
  deliveryCount?: number;
  ack?: string;
  errors?: string[];
  message?: string;
}

describe('share groups with the Java KafkaShareConsumer', () => {
  let gw: TestGateway;
  const suffix = Math.random().toString(36).slice(2, 8);
  const topic = `share-ack-${suffix}`;
  const shareTopic = `share-spread-${suffix}`;
  const group = `share-g-${suffix}`;
  const shareGroup = `share-h-${suffix}`;

  before(async () => {
    gw = await startTestGateway({ shareAutoOffsetReset: 'earliest', shareGroupRecordLockDurationMs: 2000, shareGroupHeartbeatIntervalMs: 500 });
    const kafka = new Kafka({ clientId: 'share-admin', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: shareTopic, numPartitions: 3 }] });
    await admin.disconnect();
  });

  after(async () => {
    await gw?.stop();
  });

  toolTest('accept, release, reject, lock expiry and two members sharing a topic', unavailable('java'), async () => {
    const env = harnessEnv();
    const classes = await compileJavaSource({
      source: join(repoRoot(), 'test', 'e2e', 'drivers', 'ShareScenario.java'),
      mainClass: 'ShareScenario',
      cacheName: 'share-driver',
      classpath: env.javaClasspath,
      salt: `kafka ${env.kafkaVersion}`,
    });
    const r = await runCommand(
      env.java,
      ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}${delimiter}${env.javaClasspath}`, 'ShareScenario', gw.bootstrap, topic, group, shareTopic, shareGroup, '90'],
      { timeoutMs: 150_000 },
    );
    const events: Event[] = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Event);
    const context = `exit ${r.code}\n${r.stdout}\n${r.stderr.slice(-4000)}`;
    assert.deepEqual(
      events.filter((e) => e.ev === 'error'),
      [],
      context,
    );
    assert.equal(r.code, 0, context);

    // --- accept / release / reject
    const ack = events.filter((e) => e.ev === 'record' && e.phase === 'ack');
    const deliveries = (v: string) => ack.filter((e) => e.value === v).map((e) => e.deliveryCount);
    assert.deepEqual(deliveries('v0'), [1], context);
    assert.deepEqual(deliveries('v1'), [1], context);
    assert.deepEqual(deliveries('v2'), [1, 2], `released v2 is redelivered once, with delivery count 2\n${context}`);
    assert.deepEqual(deliveries('v3'), [1], `rejected v3 is not redelivered\n${context}`);
    assert.deepEqual(deliveries('v4'), [1], context);
    for (const c of events.filter((e) => e.ev === 'commit' && e.phase === 'ack')) assert.deepEqual(c.errors, [], context);

    // --- lock expiry
    const lock = events.filter((e) => e.ev === 'record' && e.phase === 'lock' && e.value === 'v5');
    assert.deepEqual(
      lock.map((e) => [e.consumer, e.deliveryCount]),
      [
        ['b', 1],
        ['a', 2],
      ],
      `v5 goes to b, then to a once b's lock expired\n${context}`,
    );
    const commits = events.filter((e) => e.ev === 'commit' && e.phase === 'lock');
    assert.deepEqual(commits.filter((c) => c.consumer === 'a').flatMap((c) => c.errors), [], context);
    assert.deepEqual(commits.filter((c) => c.consumer === 'b').flatMap((c) => c.errors), ['InvalidRecordStateException'], `b's late accept is refused\n${context}`);

    // --- two members share the records
    const share = events.filter((e) => e.ev === 'record' && e.phase === 'share');
    const values = share.map((e) => e.value!).sort();
    const expected = Array.from({ length: 40 }, (_, i) => `s${i}`).sort();
    assert.deepEqual(values, expected, `every record delivered exactly once across the group\n${context}`);
    assert.ok(share.some((e) => e.consumer === 'c1') && share.some((e) => e.consumer === 'c2'), `both members got records\n${context}`);
  });

  toolTest('ShareGroupDescribe and bad requests get Kafka\'s codes', unavailable('java'), async () => {
    const raw = await RawClient.open(gw.port);
    let correlationId = 1;
    const call = async (apiKey: ApiKeyNumber, version: number, body: object): Promise<any> => {
      raw.send(encodeRequest(apiKey, version, correlationId++, 'raw', body as never));
      const frame = await raw.next(10_000);
      assert.ok(frame, 'answered');
      return decodeResponse(frame, apiKey, version).body;
    };
    try {
      const d = await call(API_KEYS.ShareGroupDescribe, 1, { groupIds: [group, `nope-${suffix}`], includeAuthorizedOperations: false });
      const [known, unknown] = d.groups as Array<{ errorCode: number; groupState: string; assignorName: string; groupEpoch: number }>;
      assert.equal(known!.errorCode, ErrorCode.NONE);
      assert.equal(known!.assignorName, 'simple');
      assert.ok(known!.groupEpoch > 0);
      assert.equal(unknown!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
      // a first heartbeat without a subscription
      const hb = await call(API_KEYS.ShareGroupHeartbeat, 1, { groupId: group, memberId: 'm-1', memberEpoch: 0, rackId: null, subscribedTopicNames: null });
      assert.equal(hb.errorCode, ErrorCode.INVALID_REQUEST);
      // an acknowledgement outside a share session
      const sa = await call(API_KEYS.ShareAcknowledge, 1, { groupId: group, memberId: 'm-1', shareSessionEpoch: 5, topics: [] });
      assert.equal(sa.errorCode, ErrorCode.SHARE_SESSION_NOT_FOUND);
      // epoch 0 is no acknowledgement epoch
      const sa0 = await call(API_KEYS.ShareAcknowledge, 1, { groupId: group, memberId: 'm-1', shareSessionEpoch: 0, topics: [] });
      assert.equal(sa0.errorCode, ErrorCode.INVALID_SHARE_SESSION_EPOCH);
    } finally {
      raw.close();
    }
  });
});
