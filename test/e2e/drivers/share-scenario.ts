/**
 * The share-group scenarios of drivers/ShareScenario.java (one JVM) against a gateway, and
 * what they must show: see that file. Shared by the embedded and Pulsar engine e2e files.
 */
import assert from 'node:assert/strict';
import { delimiter, join } from 'node:path';
import { compileJavaSource } from '../../helpers/clients/java-compile.js';
import { harnessEnv, repoRoot } from '../../helpers/clients/paths.js';
import { runCommand } from '../../helpers/clients/proc.js';
import { javaLog4jConfig, runJavaMain } from '../../helpers/clients/java.js';
import { RawClient } from '../../helpers/raw-client.js';
import { API_KEYS } from '../../../src/protocol/generated/apis.js';
import type { ApiKeyNumber } from '../../../src/protocol/codec/frame.js';
import { ErrorCode } from '../../../src/protocol/errors.js';

export interface Event {
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

async function runDriver(args: string[]): Promise<{ events: Event[]; context: string }> {
  const env = harnessEnv();
  const classes = await compileJavaSource({
    source: join(repoRoot(), 'test', 'e2e', 'drivers', 'ShareScenario.java'),
    mainClass: 'ShareScenario',
    cacheName: 'share-driver',
    classpath: env.javaClasspath,
    salt: `kafka ${env.kafkaVersion}`,
  });
  const r = await runCommand(env.java, ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}${delimiter}${env.javaClasspath}`, 'ShareScenario', ...args], { timeoutMs: 150_000 });
  const events = r.stdout
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
  return { events, context };
}

/**
 * Two share consumers of one group, each bootstrapped to another gateway node (`bootstrap1`,
 * `bootstrap2`), accept every record of `topic` (empty, any partitions; the gateways with
 * share.auto.offset.reset=earliest): each of the `count` records is delivered once (delivery
 * count 1) and accepted once, no acknowledgement fails, and both consumers get records.
 */
export async function runShareNodesScenario(bootstrap1: string, bootstrap2: string, topic: string, group: string, count: number): Promise<Event[]> {
  const { events, context } = await runDriver(['nodes', bootstrap1, bootstrap2, topic, group, '90', String(count)]);
  const got = events.filter((e) => e.ev === 'record' && e.phase === 'nodes');
  assert.deepEqual(
    got.map((e) => e.value!).sort(),
    Array.from({ length: count }, (_, i) => `n${i}`).sort(),
    `every record delivered exactly once across the two nodes\n${context}`,
  );
  assert.ok(
    got.every((e) => e.deliveryCount === 1),
    `no record was delivered twice\n${context}`,
  );
  for (const c of events.filter((e) => e.ev === 'commit' && e.phase === 'nodes')) assert.deepEqual(c.errors, [], `acknowledgements accepted\n${context}`);
  assert.ok(got.some((e) => e.consumer === 'n1') && got.some((e) => e.consumer === 'n2'), `both members (one per node) got records\n${context}`);
  return got;
}

/**
 * One Kafka share consumer accepting what it gets from `topic` for `seconds` (count records
 * produced after 5 s), as another consumer (a Pulsar one) may share the work: the records it got.
 */
export async function runShareQueueScenario(bootstrap: string, topic: string, group: string, seconds: number, count: number): Promise<Event[]> {
  const { events, context } = await runDriver(['queue', bootstrap, topic, group, String(seconds), String(count)]);
  for (const c of events.filter((e) => e.ev === 'commit' && e.phase === 'queue')) assert.deepEqual(c.errors, [], `acknowledgements accepted\n${context}`);
  return events.filter((e) => e.ev === 'record' && e.phase === 'queue');
}

/** Topics: `topic` with one partition, `shareTopic` with any; both empty, and the gateway with share.auto.offset.reset=earliest and a short lock. */
export async function runShareScenario(bootstrap: string, topic: string, group: string, shareTopic: string, shareGroup: string): Promise<void> {
    const { events, context } = await runDriver([bootstrap, topic, group, shareTopic, shareGroup, '90']);

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
}

/**
 * kafka-share-groups.sh's administration against a gateway, after runShareScenario (`group` read
 * all six records of `topic`, one partition; `shareGroup` read `shareTopic`; both empty now):
 *  - ApiVersions advertises AlterShareGroupOffsets and DeleteShareGroupOffsets v0;
 *  - refusals over raw frames while a member is in `group`: AlterShareGroupOffsets,
 *    DeleteShareGroupOffsets and DeleteGroups answer NON_EMPTY_GROUP; an empty group id
 *    INVALID_GROUP_ID, an unknown topic UNKNOWN_TOPIC_OR_PARTITION, an unknown group on delete
 *    GROUP_ID_NOT_FOUND;
 *  - `--reset-offsets --to-earliest --execute`: a Java KafkaShareConsumer of the group then gets
 *    the six records again;
 *  - `--delete-offsets --topic`: the group has no start offset for the topic any more;
 *  - `--delete --group shareGroup`: the group is no longer listed nor described.
 * Returns the records the consumer got again, for engine-specific checks by the caller.
 */
export async function runShareAdminScenario(bootstrap: string, port: number, topic: string, group: string, shareGroup: string): Promise<Event[]> {
  const tool = (args: string[]) => runJavaMain('org.apache.kafka.tools.consumer.group.ShareGroupCommand', ['--bootstrap-server', bootstrap, ...args], { timeoutMs: 60_000 });
  const raw = await RawClient.open(port);
  // request bodies as plain objects, answers read as any
  const call = (apiKey: ApiKeyNumber, version: number, body: object): Promise<any> => raw.call(apiKey, version, body as never, 20_000);
  const alter = (groupId: string, topicName: string) => call(API_KEYS.AlterShareGroupOffsets, 0, { groupId, topics: [{ topicName, partitions: [{ partitionIndex: 0, startOffset: 0n }] }] });
  const deleteOffsets = (groupId: string, topicName: string) => call(API_KEYS.DeleteShareGroupOffsets, 0, { groupId, topics: [{ topicName }] });
  const startOffset = async (groupId: string): Promise<bigint> => {
    const d = await call(API_KEYS.DescribeShareGroupOffsets, 1, { groups: [{ groupId, topics: [{ topicName: topic, partitions: [0] }] }] });
    assert.equal(d.groups[0].errorCode, ErrorCode.NONE);
    return d.groups[0].topics[0].partitions[0].startOffset as bigint;
  };
  let again: Event[];
  try {
    // ApiVersions advertises the two APIs (v0) with the other share APIs
    const versions = await call(API_KEYS.ApiVersions, 3, { clientSoftwareName: 'raw', clientSoftwareVersion: '1' });
    const advertised = (key: number) => (versions.apiKeys as Array<{ apiKey: number; minVersion: number; maxVersion: number }>).find((k) => k.apiKey === key);
    assert.deepEqual([advertised(API_KEYS.AlterShareGroupOffsets)?.maxVersion, advertised(API_KEYS.DeleteShareGroupOffsets)?.maxVersion], [0, 0]);
    // --- refusals: a member in the group
    const joined = await call(API_KEYS.ShareGroupHeartbeat, 1, { groupId: group, memberId: 'admin-m', memberEpoch: 0, rackId: null, subscribedTopicNames: [topic] });
    assert.equal(joined.errorCode, ErrorCode.NONE);
    assert.equal((await alter(group, topic)).errorCode, ErrorCode.NON_EMPTY_GROUP);
    assert.equal((await deleteOffsets(group, topic)).errorCode, ErrorCode.NON_EMPTY_GROUP);
    const del = await call(API_KEYS.DeleteGroups, 2, { groupsNames: [group] });
    assert.deepEqual(del.results.map((r: any) => [r.groupId, r.errorCode]), [[group, ErrorCode.NON_EMPTY_GROUP]]);
    const left = await call(API_KEYS.ShareGroupHeartbeat, 1, { groupId: group, memberId: 'admin-m', memberEpoch: -1, rackId: null, subscribedTopicNames: null });
    assert.equal(left.errorCode, ErrorCode.NONE);
    assert.equal((await alter('', topic)).errorCode, ErrorCode.INVALID_GROUP_ID);
    const unknownTopic = await alter(group, `no-such-topic-${topic}`);
    assert.equal(unknownTopic.errorCode, ErrorCode.NONE);
    assert.equal(unknownTopic.responses[0].partitions[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
    assert.equal((await deleteOffsets(`no-such-group-${group}`, topic)).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    assert.equal(await startOffset(group), 6n, 'the six records are done');

    // --- kafka-share-groups.sh --reset-offsets --to-earliest --execute; the Java share consumer gets the six again
    const reset = await tool(['--reset-offsets', '--group', group, '--topic', topic, '--to-earliest', '--execute']);
    assert.equal(reset.code, 0, `${reset.stdout}\n${reset.stderr}`);
    const row = reset.stdout.split('\n').find((l) => l.trim().startsWith(group));
    assert.deepEqual(row?.trim().split(/\s+/), [group, topic, '0', '0'], reset.stdout);
    again = await runShareQueueScenario(bootstrap, topic, group, 12, 0);
    assert.deepEqual(again.map((e) => e.value).sort(), ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'], JSON.stringify(again));
    let start = await startOffset(group);
    for (const deadline = Date.now() + 10_000; start !== 6n && Date.now() < deadline; start = await startOffset(group)) await new Promise((r) => setTimeout(r, 250));
    assert.equal(start, 6n, 'accepted again');

    // --- kafka-share-groups.sh --delete-offsets: the group has no state of the topic any more
    const delOffsets = await tool(['--delete-offsets', '--group', group, '--topic', topic]);
    assert.equal(delOffsets.code, 0, delOffsets.stderr);
    assert.match(delOffsets.stdout, new RegExp(`${topic}\\s+Successful`), delOffsets.stdout);
    assert.equal(await startOffset(group), -1n, 'no start offset after --delete-offsets');
    const twice = await deleteOffsets(group, topic);
    assert.equal(twice.responses[0].errorCode, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, 'nothing left to delete');

    // --- kafka-share-groups.sh --delete --group
    const deleted = await tool(['--delete', '--group', shareGroup]);
    assert.equal(deleted.code, 0, deleted.stderr);
    assert.match(deleted.stdout, new RegExp(`Deletion of requested share groups \\('${shareGroup}'\\) was successful`), deleted.stdout);
    const listed = await call(API_KEYS.ListGroups, 5, { statesFilter: [], typesFilter: ['share'] });
    const ids = (listed.groups as Array<{ groupId: string }>).map((g) => g.groupId);
    assert.ok(ids.includes(group) && !ids.includes(shareGroup), JSON.stringify(ids));
    const described = await call(API_KEYS.ShareGroupDescribe, 1, { groupIds: [shareGroup], includeAuthorizedOperations: false });
    assert.equal(described.groups[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
    assert.equal((await call(API_KEYS.DeleteGroups, 2, { groupsNames: [shareGroup] })).results[0].errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  } finally {
    raw.close();
  }
  return again;
}
