/**
 * Share groups (KIP-932) end to end: Apache Kafka's KafkaShareConsumer (kafka-clients 4.3.1)
 * against a real gateway on the embedded engine, one JVM running every scenario
 * (drivers/ShareScenario.java):
 *  - explicit acknowledgement: accepted records are not delivered again, a released record is
 *    redelivered with delivery count 2, a rejected one never comes back;
 *  - a member that holds records without acknowledging loses them when its acquisition lock
 *    expires: another member gets them (delivery count 2), and the late acknowledgement is refused;
 *  - two members of one group polling one topic share its records: each record goes to exactly one;
 *  - the share-group metrics count releases, rejections, lock expiries and redeliveries;
 *  - kafka-share-groups.sh --describe shows the share-partition start offset and lag
 *    (DescribeShareGroupOffsets);
 *  - ShareGroupDescribe shows the group, ListGroups lists it with type "share", group configs are
 *    set with IncrementalAlterConfigs (and refused with Kafka's codes); malformed heartbeats and acknowledgements outside a share
 *    session get Kafka's codes (raw frames).
 *  - over raw frames, a member long-polling for records another member holds gets them once the
 *    holder's lock expires, with delivery count 2;
 *  - kafka-share-groups.sh --reset-offsets / --delete-offsets / --delete (AlterShareGroupOffsets,
 *    DeleteShareGroupOffsets, DeleteGroups of a share group), and their refusals
 *    (drivers/share-scenario.ts runShareAdminScenario).
 * The same Java scenarios run on the Pulsar engine in share-groups-pulsar.test.ts.
 * The gateway runs with share.auto.offset.reset=earliest and a 2 s lock, to keep the file short.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import kafkajs from 'kafkajs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { runShareAdminScenario, runShareScenario } from './drivers/share-scenario.js';
import { runJavaMain } from '../helpers/clients/java.js';
import { RawClient } from '../helpers/raw-client.js';
import { API_KEYS } from '../../src/protocol/generated/apis.js';
import type { ApiKeyNumber } from '../../src/protocol/codec/frame.js';
import { ErrorCode } from '../../src/protocol/errors.js';

const { Kafka, logLevel } = kafkajs;

describe('share groups with the Java KafkaShareConsumer', () => {
  let gw: TestGateway;
  const suffix = Math.random().toString(36).slice(2, 8);
  const topic = `share-ack-${suffix}`;
  const shareTopic = `share-spread-${suffix}`;
  const group = `share-g-${suffix}`;
  const shareGroup = `share-h-${suffix}`;
  const wakeTopic = `share-wake-${suffix}`;

  before(async () => {
    gw = await startTestGateway({ shareAutoOffsetReset: 'earliest', shareGroupRecordLockDurationMs: 2000, shareGroupHeartbeatIntervalMs: 500, opsListener: 'http://127.0.0.1:0' });
    const kafka = new Kafka({ clientId: 'share-admin', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }, { topic: shareTopic, numPartitions: 3 }, { topic: wakeTopic, numPartitions: 1 }] });
    await admin.disconnect();
  });

  after(async () => {
    await gw?.stop();
  });

  toolTest('accept, release, reject, lock expiry and two members sharing a topic', unavailable('java'), async () => {
    await runShareScenario(gw.bootstrap, topic, group, shareTopic, shareGroup);
    // Kafka's kafka-share-groups.sh: the share-partition start offset moved past all six records
    const r = await runJavaMain('org.apache.kafka.tools.consumer.group.ShareGroupCommand', ['--bootstrap-server', gw.bootstrap, '--describe', '--group', group], { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr);
    const row = r.stdout.split('\n').find((l) => l.startsWith(group));
    assert.ok(row, r.stdout);
    assert.deepEqual(row.trim().split(/\s+/), [group, topic, '0', '6', '0'], r.stdout);
    // the share-group metrics count what happened: v2 released, v3 rejected, v5's lock expired
    const text = await (await fetch(`${gw.gateway.ops!.url}/metrics`)).text();
    const count = (event: string) => Number(new RegExp(`^kop_gateway_share_records_total\\{event="${event}"\\} (\\d+)`, 'm').exec(text)?.[1] ?? NaN);
    assert.equal(count('released'), 1, text);
    assert.equal(count('rejected'), 1);
    assert.ok(count('expired') >= 1);
    assert.ok(count('redelivered') >= 2);
    assert.equal(count('accepted'), 5 + 40, 'v0-v5 but the rejected v3, and the 40 shared records');
  });

  toolTest('ShareGroupDescribe and bad requests get Kafka\'s codes', unavailable('java'), async () => {
    const raw = await RawClient.open(gw.port);
    // request bodies as plain objects, answers read as any
    const call = (apiKey: ApiKeyNumber, version: number, body: object): Promise<any> => raw.call(apiKey, version, body as never, 10_000);
    try {
      const d = await call(API_KEYS.ShareGroupDescribe, 1, { groupIds: [group, `nope-${suffix}`], includeAuthorizedOperations: false });
      const [known, unknown] = d.groups as Array<{ errorCode: number; groupState: string; assignorName: string; groupEpoch: number }>;
      assert.equal(known!.errorCode, ErrorCode.NONE);
      assert.equal(known!.assignorName, 'simple');
      assert.ok(known!.groupEpoch > 0);
      assert.equal(unknown!.errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
      // ListGroups lists share groups with their type (kafka-share-groups.sh --list filters on it)
      const listed = await call(API_KEYS.ListGroups, 5, { statesFilter: [], typesFilter: ['share'] });
      const ids = (listed.groups as Array<{ groupId: string; groupType: string }>).map((g) => `${g.groupId}:${g.groupType}`).sort();
      assert.deepEqual(ids, [`${group}:share`, `${shareGroup}:share`]);
      const classic = await call(API_KEYS.ListGroups, 5, { statesFilter: [], typesFilter: ['classic'] });
      assert.deepEqual(classic.groups, []);
      // a first heartbeat without a subscription
      const hb = await call(API_KEYS.ShareGroupHeartbeat, 1, { groupId: group, memberId: 'm-1', memberEpoch: 0, rackId: null, subscribedTopicNames: null });
      assert.equal(hb.errorCode, ErrorCode.INVALID_REQUEST);
      // an acknowledgement outside a share session
      const sa = await call(API_KEYS.ShareAcknowledge, 1, { groupId: group, memberId: 'm-1', shareSessionEpoch: 5, topics: [] });
      assert.equal(sa.errorCode, ErrorCode.SHARE_SESSION_NOT_FOUND);
      // epoch 0 is no acknowledgement epoch
      const sa0 = await call(API_KEYS.ShareAcknowledge, 1, { groupId: group, memberId: 'm-1', shareSessionEpoch: 0, topics: [] });
      assert.equal(sa0.errorCode, ErrorCode.INVALID_SHARE_SESSION_EPOCH);
      // a member that never joined cannot open a share session
      const fetch = (memberId: string, shareSessionEpoch: number, topics: unknown[]) =>
        call(API_KEYS.ShareFetch, 1, { groupId: group, memberId, shareSessionEpoch, maxWaitMs: 0, minBytes: 1, maxBytes: 1 << 20, maxRecords: 10, batchSize: 10, topics, forgottenTopicsData: [] });
      assert.equal((await fetch('stranger', 0, [])).errorCode, ErrorCode.SHARE_SESSION_NOT_FOUND);
      // a member joins, opens a session on its topic and an unknown topic id
      const joined = await call(API_KEYS.ShareGroupHeartbeat, 1, { groupId: group, memberId: 'raw-member', memberEpoch: 0, rackId: null, subscribedTopicNames: [topic] });
      assert.equal(joined.errorCode, ErrorCode.NONE);
      const topicId = joined.assignment.topicPartitions[0].topicId as Buffer;
      const unknownId = Buffer.alloc(16, 0x5a);
      const opened = await fetch('raw-member', 0, [
        { topicId, partitions: [{ partitionIndex: 0, acknowledgementBatches: [] }] },
        { topicId: unknownId, partitions: [{ partitionIndex: 0, acknowledgementBatches: [] }] },
      ]);
      assert.equal(opened.errorCode, ErrorCode.NONE);
      const codeOf = (r: any, id: Buffer, field: string) => r.responses.find((t: any) => (t.topicId as Buffer).equals(id)).partitions[0][field];
      assert.equal(codeOf(opened, unknownId, 'errorCode'), ErrorCode.UNKNOWN_TOPIC_ID);
      assert.equal(codeOf(opened, topicId, 'errorCode'), ErrorCode.NONE);
      assert.deepEqual(codeOf(opened, topicId, 'acquiredRecords'), [], 'everything was consumed');
      // acknowledging records this member does not hold; a stale epoch
      const acked = await fetch('raw-member', 1, [{ topicId, partitions: [{ partitionIndex: 0, acknowledgementBatches: [{ firstOffset: 0n, lastOffset: 0n, acknowledgeTypes: [1] }] }] }]);
      assert.equal(codeOf(acked, topicId, 'acknowledgeErrorCode'), ErrorCode.INVALID_RECORD_STATE);
      assert.equal((await fetch('raw-member', 1, [])).errorCode, ErrorCode.INVALID_SHARE_SESSION_EPOCH);
      // group configs (kafka-configs.sh --alter --entity-type groups): IncrementalAlterConfigs on a GROUP resource
      const alter = (configs: unknown[]) => call(API_KEYS.IncrementalAlterConfigs, 1, { resources: [{ resourceType: 32, resourceName: `cfg-${suffix}`, configs }], validateOnly: false });
      assert.equal((await alter([{ name: 'share.auto.offset.reset', configOperation: 0, value: 'earliest' }])).responses[0].errorCode, ErrorCode.NONE);
      assert.equal((await alter([{ name: 'share.auto.offset.reset', configOperation: 0, value: 'sometimes' }])).responses[0].errorCode, ErrorCode.INVALID_CONFIG);
      assert.equal((await alter([{ name: 'share.record.lock.duration.ms', configOperation: 2, value: '5000' }])).responses[0].errorCode, ErrorCode.INVALID_CONFIG);
      // a classic member cannot join a share group's id (Kafka: INCONSISTENT_GROUP_PROTOCOL)
      const join = await call(API_KEYS.JoinGroup, 9, { groupId: group, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000, memberId: '', groupInstanceId: null, protocolType: 'consumer', protocols: [{ name: 'range', metadata: Buffer.alloc(0) }], reason: null });
      assert.equal(join.errorCode, ErrorCode.INCONSISTENT_GROUP_PROTOCOL);
      const left = await call(API_KEYS.ShareGroupHeartbeat, 1, { groupId: group, memberId: 'raw-member', memberEpoch: -1, rackId: null, subscribedTopicNames: null });
      assert.equal(left.memberEpoch, -1);
    } finally {
      raw.close();
    }
  });

  test('a long-polling ShareFetch gets the records another member holds once its lock expires (delivery count 2)', async () => {
    const kafka = new Kafka({ clientId: 'share-wake', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING });
    const producer = kafka.producer();
    await producer.connect();
    await producer.send({ topic: wakeTopic, messages: [{ value: 'w0' }, { value: 'w1' }, { value: 'w2' }] });
    await producer.disconnect();
    const wakeGroup = `share-w-${suffix}`;
    const clients = [await RawClient.open(gw.port), await RawClient.open(gw.port)];
    const call = (raw: RawClient, apiKey: ApiKeyNumber, version: number, body: object): Promise<any> => raw.call(apiKey, version, body as never);
    try {
      const acquired = async (raw: RawClient, memberId: string, maxWaitMs: number) => {
        const joined = await call(raw, API_KEYS.ShareGroupHeartbeat, 1, { groupId: wakeGroup, memberId, memberEpoch: 0, rackId: null, subscribedTopicNames: [wakeTopic] });
        assert.equal(joined.errorCode, ErrorCode.NONE);
        const topicId = joined.assignment.topicPartitions[0].topicId as Buffer;
        const r = await call(raw, API_KEYS.ShareFetch, 1, { groupId: wakeGroup, memberId, shareSessionEpoch: 0, maxWaitMs, minBytes: 1, maxBytes: 1 << 20, maxRecords: 10, batchSize: 10, topics: [{ topicId, partitions: [{ partitionIndex: 0, acknowledgementBatches: [] }] }], forgottenTopicsData: [] });
        assert.equal(r.errorCode, ErrorCode.NONE);
        return r.responses.flatMap((t: any) => t.partitions.flatMap((p: any) => p.acquiredRecords.map((a: any) => [Number(a.firstOffset), Number(a.lastOffset), a.deliveryCount])));
      };
      assert.deepEqual(await acquired(clients[0]!, 'holder', 0), [[0, 2, 1]]);
      // the holder never acknowledges; the other member's long poll gets them once the 2 s lock expired
      assert.deepEqual(await acquired(clients[1]!, 'waiter', 15_000), [[0, 2, 2]]);
    } finally {
      for (const c of clients) c.close();
    }
  });

  toolTest('kafka-share-groups.sh --reset-offsets, --delete-offsets and --delete; a non-empty group refused', unavailable('java'), async () => {
    const again = await runShareAdminScenario(gw.bootstrap, gw.port, topic, group, shareGroup);
    // the reset dropped the share-partition's state: every record is a first delivery again
    assert.deepEqual(
      again.map((e) => e.deliveryCount),
      again.map(() => 1),
    );
  });
});
