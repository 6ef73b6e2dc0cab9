/**
 * Consumer groups end to end, with real clients against a real gateway:
 *  - three members of one group per client (kafkajs; Java KafkaConsumer with RangeAssignor and
 *    with CooperativeStickyAssignor; librdkafka via confluent_kafka): partitions spread across
 *    the members; a member closing (LeaveGroup) and a member killed with SIGKILL (session
 *    timeout) rebalance the group; no record is consumed twice after a clean rebalance with
 *    committed offsets, none is skipped;
 *  - Kafka's kafka-consumer-groups tool (ConsumerGroupCommand): list, describe with members and
 *    lag, reset offsets to earliest, delete;
 *  - a SIGKILLed gateway restarted on the same data directory: committed offsets and the group
 *    survive, a running member carries on and a new one resumes from the commit.
 * Session timeouts and the initial rebalance delay are low to keep the file fast.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe } from 'node:test';
import kafkajs from 'kafkajs';
import { spawnGateway, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient, runJavaMain } from '../helpers/clients/java.js';
import { GroupMember, Producer, consumedValues, spreadOver, waitConsumed, waitFor, type MemberKind, type MemberOptions } from './drivers/group-members.js';
import { freePort } from '../helpers/ports.js';

const { Kafka, logLevel } = kafkajs;

const SESSION_MS = 4000;
const PARTITIONS = 6;
const GATEWAY_GROUP_CONFIG = { groupInitialRebalanceDelayMs: 300, groupMinSessionTimeoutMs: 1000 };
const CONSUMER_GROUP_COMMAND = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand';

function suffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

describe('consumer groups with real clients', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway(GATEWAY_GROUP_CONFIG);
  });

  after(async () => {
    await gw?.stop();
  });

  /**
   * Three members; all partitions spread; member 0 closes (clean rebalance); member 1 is
   * killed (session timeout rebalance); member 2 ends with everything. Records: none skipped;
   * duplicates only among what the killed member printed but had not committed.
   */
  async function threeMembers(t: { diagnostic(msg: string): void }, kind: MemberKind, label: string, assignor?: string): Promise<void> {
    const topic = `grp-${label}-${suffix()}`;
    await gw.gateway.storage.createTopic(`persistent://public/default/${topic}`, PARTITIONS, {});
    const producer = new Producer(gw.bootstrap, topic, PARTITIONS);
    const opts: MemberOptions = { bootstrap: gw.bootstrap, group: `g-${topic}`, topic, sessionTimeoutMs: SESSION_MS, heartbeatIntervalMs: 500 };
    if (assignor) opts.assignor = assignor;
    const started = Date.now();
    await producer.send(60);
    const members = await Promise.all([0, 1, 2].map((i) => GroupMember.start(kind, `${label}-${i}`, { ...opts, clientId: `${label}-${i}` })));
    const [a, b, c] = members as [GroupMember, GroupMember, GroupMember];
    try {
      const state = () => members.map((m) => m.describe()).join('\n');
      await waitFor(() => spreadOver(members, PARTITIONS), 60_000, () => `three members sharing ${PARTITIONS} partitions\n${state()}`);
      t.diagnostic(`${label}: 3 members joined and got ${members.map((m) => JSON.stringify(m.assignment)).join(' ')} after ${Date.now() - started} ms`);
      await waitConsumed(members, producer, 'first batch');
      await producer.send(60);
      await waitConsumed(members, producer, 'second batch');

      // A clean leave: the other two take over every partition, from the committed offsets.
      let mark = Date.now();
      await a.close();
      await waitFor(() => spreadOver([b, c], PARTITIONS), 30_000, () => `two members sharing ${PARTITIONS} partitions after a clean leave\n${state()}`);
      t.diagnostic(`${label}: rebalanced after LeaveGroup in ${Date.now() - mark} ms: ${JSON.stringify(b.assignment)} ${JSON.stringify(c.assignment)}`);
      await producer.send(60);
      await waitConsumed(members, producer, 'after the clean leave');
      const beforeCrash = new Map(members.flatMap((m) => m.records.map((r) => [r.value, r] as const)));
      const dupBeforeCrash = members.flatMap((m) => m.records).length - beforeCrash.size;
      assert.equal(dupBeforeCrash, 0, `no record consumed twice through the initial join and a clean rebalance\n${state()}`);

      // A crash while consuming: no LeaveGroup; the coordinator notices after the session timeout.
      const seenByB = b.records.length;
      await producer.send(60);
      await waitFor(() => b.records.length > seenByB, 20_000, () => `${b.name} consuming the batch it will be killed in\n${state()}`);
      mark = Date.now();
      await b.kill();
      await waitFor(() => spreadOver([c], PARTITIONS), SESSION_MS + 20_000, () => `the last member owning all partitions after a crash\n${state()}`);
      const crashRebalanceMs = Date.now() - mark;
      t.diagnostic(`${label}: rebalanced after SIGKILL in ${crashRebalanceMs} ms (session timeout ${SESSION_MS} ms)`);
      assert.ok(crashRebalanceMs < SESSION_MS + 6000, `rebalance after a crash within the session timeout (+ a heartbeat and a rejoin): ${crashRebalanceMs} ms`);
      await producer.send(60);
      await waitConsumed(members, producer, 'after the crash');

      // None skipped (checked by waitConsumed); duplicates only from the killed member's uncommitted tail.
      const all = members.flatMap((m) => m.records);
      const byValue = new Map<string | null, typeof all>();
      for (const r of all) byValue.set(r.value, [...(byValue.get(r.value) ?? []), r]);
      const badDuplicates: string[] = [];
      let allowed = 0;
      for (const [value, recs] of byValue) {
        if (recs.length === 1) continue;
        const fromKilled = recs.find((r) => r.member === b.name);
        const uncommitted = fromKilled && fromKilled.offset >= (b.committed.get(fromKilled.partition) ?? 0);
        if (uncommitted && recs.length === 2) allowed++;
        else badDuplicates.push(`${value} x${recs.length} (${recs.map((r) => `${r.member}@${r.partition}:${r.offset}`).join(', ')})`);
      }
      t.diagnostic(`${label}: ${producer.values.length} records, ${all.length} deliveries, ${allowed} redelivered from the killed member's uncommitted tail, ${Date.now() - started} ms`);
      assert.deepEqual(badDuplicates, [], `records consumed twice outside the killed member's uncommitted tail\n${state()}`);
      const failures = members.flatMap((m) => m.commitFailures.map((f) => `${m.name}: ${f}`));
      assert.deepEqual(failures, [], 'no failed commits');
    } finally {
      await Promise.all(members.map((m) => m.kill()));
      await producer.close();
    }
  }

  toolTest('kafkajs: three members share the partitions; leave and crash rebalance; nothing skipped or repeated', unavailable('kafkajs'), (t) => threeMembers(t, 'kafkajs', 'kafkajs'));

  toolTest('Java RangeAssignor: three members share the partitions; leave and crash rebalance; nothing skipped or repeated', unavailable('java'), (t) => threeMembers(t, 'java', 'java-range', 'range'));

  toolTest(
    'Java CooperativeStickyAssignor: three members share the partitions; leave and crash rebalance; nothing skipped or repeated',
    unavailable('java'),
    (t) => threeMembers(t, 'java', 'java-coop', 'cooperative-sticky'),
  );

  toolTest('librdkafka: three members share the partitions; leave and crash rebalance; nothing skipped or repeated', unavailable('python'), (t) => threeMembers(t, 'python', 'rdkafka', 'range'));

  toolTest('Java static members (group.instance.id): a restarted member gets its partitions back without a rebalance; a duplicate is fenced', unavailable('java'), async (t) => {
    const topic = `grp-static-${suffix()}`;
    await gw.gateway.storage.createTopic(`persistent://public/default/${topic}`, 4, {});
    const producer = new Producer(gw.bootstrap, topic, 4);
    await producer.send(40);
    const opts = (id: string): MemberOptions => ({ bootstrap: gw.bootstrap, group: `g-${topic}`, topic, assignor: 'range', sessionTimeoutMs: 20_000, heartbeatIntervalMs: 500, instanceId: id, clientId: id });
    const a = await GroupMember.start('java', 'static-a', opts('i-a'));
    const b = await GroupMember.start('java', 'static-b', opts('i-b'));
    let a2: GroupMember | null = null;
    let b2: GroupMember | null = null;
    try {
      await waitFor(() => spreadOver([a, b], 4), 60_000, () => `two static members sharing the partitions\n${a.describe()}\n${b.describe()}`);
      await waitConsumed([a, b], producer, 'static members');
      const aPartitions = a.assignment;
      const bEvents = b.lines.filter((l) => l.includes('"assignment"')).length;
      // Crash and restart a within its session timeout: same partitions, b does not rebalance.
      await a.kill();
      a2 = await GroupMember.start('java', 'static-a2', opts('i-a'));
      await waitFor(() => a2!.assignment !== null && a2!.assignment.length > 0, 30_000, () => `the restarted static member's assignment\n${a2!.describe()}`);
      assert.deepEqual(a2.assignment, aPartitions, 'the restarted static member owns what it owned');
      await producer.send(40);
      await waitConsumed([a, a2, b], producer, 'after the static restart');
      assert.equal(b.lines.filter((l) => l.includes('"assignment"')).length, bEvents, `the other member saw no rebalance\n${b.describe()}`);
      const values = [...a.records, ...a2.records, ...b.records].map((r) => r.value);
      assert.equal(values.length, new Set(values).size, 'nothing consumed twice (everything was committed before the kill)');
      // A second process with b's instance id takes over; the first is fenced and stops.
      b2 = await GroupMember.start('java', 'static-b2', opts('i-b'));
      const code = await Promise.race([b.exited, new Promise((r) => setTimeout(() => r('still running'), 20_000))]);
      t.diagnostic(`fenced member exit: ${code}; stderr: ${b.stderr.split('\n').find((l) => /Fenced/i.test(l)) ?? ''}`);
      assert.notEqual(code, 'still running', 'the duplicate static member was fenced');
      assert.match(b.stderr, /FencedInstanceIdException|FENCED_INSTANCE_ID|fenced/i);
    } finally {
      await Promise.all([a, b, a2, b2].map((m) => m?.kill()));
      await producer.close();
    }
  });

  toolTest('kafka-consumer-groups: list, describe members and lag, reset offsets to earliest, delete offsets, delete', unavailable('java'), async (t) => {
    const topic = `grp-cli-${suffix()}`;
    const group = `cli-${topic}`;
    await gw.gateway.storage.createTopic(`persistent://public/default/${topic}`, 3, {});
    const producer = new Producer(gw.bootstrap, topic, 3);
    await producer.send(30);
    const cli = async (...args: string[]) => {
      const r = await runJavaMain(CONSUMER_GROUP_COMMAND, ['--bootstrap-server', gw.bootstrap, ...args], { withDriver: false, timeoutMs: 60_000 });
      assert.equal(r.code, 0, `kafka-consumer-groups ${args.join(' ')} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    /** Rows of the describe table: TOPIC PARTITION CURRENT-OFFSET LOG-END-OFFSET LAG CONSUMER-ID HOST CLIENT-ID */
    const describeRows = async () => {
      const out = await cli('--describe', '--group', group);
      return out
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((cols) => cols[0] === group && cols[1] === topic)
        .map((cols) => ({ partition: Number(cols[2]), current: cols[3]!, end: Number(cols[4]), lag: cols[5]!, consumerId: cols[6]!, host: cols[7]!, clientId: cols[8]! }))
        .sort((x, y) => x.partition - y.partition);
    };

    // An active member that consumed everything.
    const member = await GroupMember.start('java', 'cli-member', { bootstrap: gw.bootstrap, group, topic, sessionTimeoutMs: SESSION_MS, heartbeatIntervalMs: 500, clientId: 'cli-member' });
    try {
      await waitConsumed([member], producer, 'cli member');
      await waitFor(() => [0, 1, 2].every((p) => member.committed.get(p) === 10), 20_000, 'commits of all 30 records');
      assert.match(await cli('--list'), new RegExp(`^${group}$`, 'm'), 'the group is listed');
      const active = await describeRows();
      t.diagnostic(`describe (active): ${JSON.stringify(active)}`);
      assert.deepEqual(active.map((r) => [r.partition, r.current, r.end, r.lag]), [0, 1, 2].map((p) => [p, '10', 10, '0']));
      for (const r of active) {
        assert.ok(r.consumerId.startsWith('cli-member-'), `partition ${r.partition} shows its consumer: ${r.consumerId}`);
        assert.equal(r.host, '/127.0.0.1');
        assert.equal(r.clientId, 'cli-member');
      }
      const state = await cli('--describe', '--group', group, '--state');
      assert.match(state, /Stable/, `state shows Stable:\n${state}`);
      assert.match(state, /range/, `state shows the assignor:\n${state}`);
    } finally {
      await member.close();
    }

    // Empty group with lag: more records than were committed.
    await producer.send(15);
    const lagging = await describeRows();
    t.diagnostic(`describe (empty, lagging): ${JSON.stringify(lagging)}`);
    assert.deepEqual(lagging.map((r) => [r.partition, r.current, r.end, r.lag]), [0, 1, 2].map((p) => [p, '10', 15, '5']));
    assert.match(await cli('--describe', '--group', group, '--state'), /Empty/);

    // The tool resets only inactive groups (and the coordinator refuses anonymous commits to active ones); this one is empty.
    const reset = await cli('--reset-offsets', '--to-earliest', '--execute', '--group', group, '--topic', topic);
    t.diagnostic(`reset: ${reset.trim().replace(/\n\s*/g, ' | ')}`);
    const afterReset = await describeRows();
    assert.deepEqual(afterReset.map((r) => [r.partition, r.current, r.lag]), [0, 1, 2].map((p) => [p, '0', '15']));
    const java = new JavaKafkaClient({ bootstrap: gw.bootstrap });
    const offsets = await java.listGroupOffsets(group, { topic });
    assert.deepEqual(offsets.map((o) => o.offset).sort(), [0, 0, 0]);
    // The group re-reads everything from the reset position.
    const again = await java.consume({ topic, group, maxRecords: 45, timeoutMs: 30_000 });
    assert.equal(new Set(again.map((r) => r.valueText)).size, 45);

    // OffsetDelete through the tool, then delete the group.
    const deletedOffsets = await cli('--delete-offsets', '--group', group, '--topic', topic);
    t.diagnostic(`delete-offsets: ${deletedOffsets.trim().replace(/\n\s*/g, ' | ')}`);
    assert.match(deletedOffsets, /Request succeeded for deleting offsets/);
    assert.equal((deletedOffsets.match(/Successful/g) ?? []).length, 3, deletedOffsets);
    assert.deepEqual(await java.listGroupOffsets(group, { topic }), []);
    const deleted = await cli('--delete', '--group', group);
    assert.match(deleted, /Deletion of requested consumer groups \('.*'\) was successful/, deleted);
    assert.doesNotMatch(await cli('--list'), new RegExp(`^${group}$`, 'm'), 'the deleted group is gone');
    await producer.close();
  });

  toolTest('kafkajs admin: set and fetch offsets, list, describe and delete groups', unavailable('kafkajs'), async () => {
    const topic = `grp-val-${suffix()}`;
    await gw.gateway.storage.createTopic(`persistent://public/default/${topic}`, 2, {});
    const kafka = new Kafka({ clientId: 'kop-groups-admin', brokers: [gw.bootstrap], logLevel: logLevel.NOTHING, retry: { retries: 0 } });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const group = `val-${topic}`;
      // kafkajs' setOffsets joins the group with a consumer, seeks and commits, then leaves.
      await admin.setOffsets({ groupId: group, topic, partitions: [{ partition: 0, offset: '7' }, { partition: 1, offset: '3' }] });
      const fetched = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      assert.deepEqual(fetched[0]!.partitions.map((p) => [p.partition, p.offset]).sort(), [[0, '7'], [1, '3']]);
      const groups = await admin.listGroups();
      assert.ok(groups.groups.some((g) => g.groupId === group && g.protocolType === 'consumer'), `group listed: ${JSON.stringify(groups.groups)}`);
      const described = await admin.describeGroups([group]);
      assert.equal(described.groups[0]!.state, 'Empty');
      await admin.deleteGroups([group]);
      const gone = await admin.fetchOffsets({ groupId: group, topics: [topic] });
      assert.deepEqual(gone[0]!.partitions.map((p) => p.offset), ['-1', '-1']);
    } finally {
      await admin.disconnect();
    }
  });

  toolTest('SIGKILLed gateway restarted on its data directory: the group and its commits survive', unavailable('java'), async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'kop-groups-restart-'));
    const port = await freePort();
    const bootstrap = `127.0.0.1:${port}`;
    const env = {
      KOP_KAFKA_LISTENERS: `PLAINTEXT://127.0.0.1:${port}`,
      KOP_DATA_DIRECTORY: dir,
      KOP_GROUP_INITIAL_REBALANCE_DELAY_MS: '300',
      KOP_GROUP_MIN_SESSION_TIMEOUT_MS: '1000',
      KOP_DEFAULT_NUM_PARTITIONS: '3',
      KOP_LOG_LEVEL: 'info',
    };
    const topic = `grp-restart-${suffix()}`;
    const group = `restart-${topic}`;
    let gateway = await spawnGateway(env);
    const producer = new Producer(bootstrap, topic, 3);
    let member: GroupMember | null = null;
    let fresh: GroupMember | null = null;
    try {
      const admin = new Kafka({ clientId: 'kop-groups-restart', brokers: [bootstrap], logLevel: logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }] });
      await admin.disconnect();
      await producer.send(30);
      member = await GroupMember.start('java', 'restart-member', { bootstrap, group, topic, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, clientId: 'restart-member' });
      await waitConsumed([member], producer, 'before the kill');
      await waitFor(() => [0, 1, 2].every((p) => member!.committed.get(p) === 10), 20_000, 'all commits acknowledged');
      const assignmentBefore = member.assignment;

      gateway.child.kill('SIGKILL');
      assert.equal(await gateway.exited, 'SIGKILL');
      gateway = await spawnGateway(env);

      // The running member carries on: it rejoins (or keeps its generation) and reads only new records.
      await producer.send(15);
      await waitConsumed([member], producer, 'after the restart');
      const values = member.records.map((r) => r.value);
      assert.equal(values.length, new Set(values).size, `no record read twice across the restart\n${member.describe()}`);
      t.diagnostic(`member assignment before ${JSON.stringify(assignmentBefore)}, after ${JSON.stringify(member.assignment)}; ${member.lines.filter((l) => l.includes('"assignment"')).length} assignment events`);
      await waitFor(() => [0, 1, 2].every((p) => member!.committed.get(p) === 15), 20_000, 'commits after the restart');
      await member.close();

      // A commit survives a second hard kill; a new member resumes from it.
      gateway.child.kill('SIGKILL');
      await gateway.exited;
      gateway = await spawnGateway(env);
      const committed = await new JavaKafkaClient({ bootstrap }).listGroupOffsets(group, { topic });
      assert.deepEqual(committed.map((o) => [o.partition, o.offset]).sort(), [[0, 15], [1, 15], [2, 15]]);
      await producer.send(6);
      fresh = await GroupMember.start('java', 'restart-fresh', { bootstrap, group, topic, sessionTimeoutMs: SESSION_MS, heartbeatIntervalMs: 500 });
      await waitFor(() => fresh!.records.length >= 6, 30_000, () => `the new member reading the 6 new records\n${fresh!.describe()}`);
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(fresh.records.map((r) => r.value).sort(), producer.values.slice(-6).sort(), 'the new member starts at the committed offsets');
    } finally {
      await member?.kill();
      await fresh?.kill();
      await producer.close().catch(() => undefined);
      gateway.child.kill('SIGKILL');
      await gateway.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
