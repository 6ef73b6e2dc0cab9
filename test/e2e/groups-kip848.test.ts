/**
 * The consumer group protocol (KIP-848, group.protocol=consumer) end to end, with real clients
 * against one embedded-engine gateway:
 *  - Java kafka-clients 4.x consumers with group.protocol=consumer (server-side uniform assignor):
 *    three members share the partitions; a clean leave and a SIGKILL (session timeout) move the
 *    partitions to the others; every record is consumed, and twice only when the killed member
 *    had not committed it; the commits (member epochs) all succeed;
 *  - the server-side range assignor chosen by the client (group.remote.assignor=range);
 *  - a broker-side regex (SubscriptionPattern): matching topics, including one created later;
 *  - a rolling upgrade and back: classic Java members and consumer-protocol members in one group
 *    (Kafka's online upgrade, mixed groups, online downgrade), replaced one by one each way;
 *  - static members: a closed member coming back with its instance id gets its partitions back
 *    without a reassignment; a second live instance gets UNRELEASED_INSTANCE_ID;
 *  - Kafka's kafka-consumer-groups tool lists and describes the group (members, assignment,
 *    lag, state), and a new member resumes from the committed offsets;
 *  - franz-go with kgo.ServerSideBalancer (it falls back to the classic protocol silently when a
 *    broker does not advertise ConsumerGroupHeartbeat v1, so the test checks the group's type);
 *  - librdkafka (confluent_kafka 2.10+, KOP_PYTHON or PyPI's in KOP_PYTHON_SR) with group.protocol=consumer;
 *  - on the Pulsar engine (the shared test broker): the Java three-member scenario, and a gateway
 *    restart in the middle of a group's life: the group (epochs, members, assignment) and its
 *    offsets come back from the offsets topic, the running members carry on without rejoining
 *    and nothing is consumed twice.
 * The gateway's consumer-protocol session timeout and heartbeat interval are low to keep it fast.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { after, before, describe } from 'node:test';
import kafkajs from 'kafkajs';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { runJavaMain } from '../helpers/clients/java.js';
import { harnessEnv } from '../helpers/clients/paths.js';
import { commandExists } from '../helpers/clients/proc.js';
import { GroupMember, Producer, spreadOver, waitConsumed, waitFor, type MemberKind, type MemberOptions } from './drivers/group-members.js';
import { createNamespace, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';

const { Kafka, logLevel } = kafkajs;

const SESSION_MS = 4000;
const PARTITIONS = 6;
const GATEWAY_CONFIG = { groupConsumerSessionTimeoutMs: SESSION_MS, groupConsumerHeartbeatIntervalMs: 500 };
const CONSUMER_GROUP_COMMAND = 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand';

function suffix(): string {
  return Math.random().toString(36).slice(2, 8);
}

/**
 * A python whose confluent_kafka has librdkafka 2.10+ (group.protocol=consumer): KOP_PYTHON, else the
 * PyPI confluent-kafka venv of scripts/ci/fetch-python-sr.sh (KOP_PYTHON_SR); or why there is none.
 */
function rdkafkaConsumerProtocolPython(): { python?: string; why?: string } {
  const env = harnessEnv();
  const candidates = [env.python, process.env.KOP_PYTHON_SR || join(env.cacheDir, 'python-sr', 'venv', 'bin', 'python')];
  const seen: string[] = [];
  for (const python of candidates) {
    const r = spawnSync(python, ['-c', 'import confluent_kafka; print(confluent_kafka.libversion()[0])'], { encoding: 'utf8', timeout: 20_000 });
    if (r.status !== 0) {
      seen.push(`${python}: no confluent_kafka`);
      continue;
    }
    const [major, minor] = r.stdout.trim().split('.').map(Number) as [number, number];
    if (major > 2 || (major === 2 && minor >= 10)) return { python };
    seen.push(`${python}: librdkafka ${r.stdout.trim()}`);
  }
  return { why: `no librdkafka 2.10+ for group.protocol=consumer (${seen.join('; ')}); run scripts/ci/fetch-python-sr.sh or set KOP_PYTHON` };
}
const rdkafka = rdkafkaConsumerProtocolPython();

/** A topic of `partitions` in the gateway's default namespace, and a producer for it. */
async function newTopic(gw: TestGateway, namespace: string, label: string, partitions = PARTITIONS): Promise<{ topic: string; producer: Producer }> {
  const topic = `kip848-${label}-${suffix()}`;
  await gw.gateway.storage.createTopic(`persistent://${namespace}/${topic}`, partitions, {});
  return { topic, producer: new Producer(gw.bootstrap, topic, partitions, 'kop-kip848-producer') };
}

/**
 * Three members; all partitions spread; member 0 closes (leave heartbeat); member 1 is killed
 * (session timeout); member 2 ends with everything. No record skipped; duplicates only among
 * what the killed member printed but had not committed.
 */
async function threeMembers(gw: TestGateway, namespace: string, t: { diagnostic(msg: string): void }, kind: MemberKind, label: string, extra: Partial<MemberOptions> = {}): Promise<void> {
  const { topic, producer } = await newTopic(gw, namespace, label);
  const opts: MemberOptions = { bootstrap: gw.bootstrap, group: `g-${topic}`, topic, groupProtocol: 'consumer', ...extra };
  const started = Date.now();
  await producer.send(60);
  const members = await Promise.all([0, 1, 2].map((i) => GroupMember.start(kind, `${label}-${i}`, { ...opts, clientId: `${label}-${i}` })));
  const [a, b, c] = members as [GroupMember, GroupMember, GroupMember];
  try {
    const state = () => members.map((m) => m.describe()).join('\n');
    await waitFor(() => spreadOver(members, PARTITIONS), 60_000, () => `three members sharing ${PARTITIONS} partitions\n${state()}`);
    t.diagnostic(`${label}: 3 members got ${members.map((m) => JSON.stringify(m.assignment)).join(' ')} after ${Date.now() - started} ms`);
    await waitConsumed(members, producer, 'first batch');
    await producer.send(60);
    await waitConsumed(members, producer, 'second batch');

    let mark = Date.now();
    await a.close();
    await waitFor(() => spreadOver([b, c], PARTITIONS), 30_000, () => `two members sharing ${PARTITIONS} partitions after a clean leave\n${state()}`);
    t.diagnostic(`${label}: reassigned after a leave in ${Date.now() - mark} ms: ${JSON.stringify(b.assignment)} ${JSON.stringify(c.assignment)}`);
    await producer.send(60);
    await waitConsumed(members, producer, 'after the clean leave');
    const values = members.flatMap((m) => m.records.map((r) => r.value));
    assert.equal(values.length, new Set(values).size, `no record consumed twice through joins and a clean leave\n${state()}`);

    const seenByB = b.records.length;
    await producer.send(60);
    await waitFor(() => b.records.length > seenByB, 20_000, () => `${b.name} consuming the batch it will be killed in\n${state()}`);
    mark = Date.now();
    await b.kill();
    await waitFor(() => spreadOver([c], PARTITIONS), SESSION_MS + 20_000, () => `the last member owning all partitions after a crash\n${state()}`);
    t.diagnostic(`${label}: reassigned after SIGKILL in ${Date.now() - mark} ms (session timeout ${SESSION_MS} ms)`);
    await producer.send(60);
    await waitConsumed(members, producer, 'after the crash');

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

describe('consumer group protocol (KIP-848) with real clients', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway(GATEWAY_CONFIG);
  });

  after(async () => {
    await gw?.stop();
  });

  toolTest('Java group.protocol=consumer (uniform): three members share the partitions; leave and crash reassign; nothing skipped or repeated', unavailable('java'), (t) =>
    threeMembers(gw, 'public/default', t, 'java', 'java-uniform'),
  );

  toolTest('Java group.protocol=consumer with group.remote.assignor=range', unavailable('java'), async (t) => {
    const { topic, producer } = await newTopic(gw, 'public/default', 'java-range', 4);
    await producer.send(40);
    const opts = (i: number): MemberOptions => ({ bootstrap: gw.bootstrap, group: `g-${topic}`, topic, groupProtocol: 'consumer', remoteAssignor: 'range', clientId: `range-${i}` });
    const members = await Promise.all([0, 1].map((i) => GroupMember.start('java', `range-${i}`, opts(i))));
    try {
      await waitFor(() => spreadOver(members, 4), 60_000, () => `two members sharing 4 partitions\n${members.map((m) => m.describe()).join('\n')}`);
      await waitConsumed(members, producer, 'range members');
      // Range: consecutive partitions per member.
      const sorted = members.map((m) => [...m.assignment!].sort((x, y) => x - y)).sort((x, y) => x[0]! - y[0]!);
      t.diagnostic(`range assignment: ${JSON.stringify(sorted)}`);
      assert.deepEqual(sorted, [
        [0, 1],
        [2, 3],
      ]);
      const state = await runJavaMain(CONSUMER_GROUP_COMMAND, ['--bootstrap-server', gw.bootstrap, '--describe', '--group', `g-${topic}`, '--state'], { withDriver: false, timeoutMs: 60_000 });
      assert.match(state.stdout, /\brange\b/, `the group's assignor is range:\n${state.stdout}\n${state.stderr}`);
    } finally {
      await Promise.all(members.map((m) => m.kill()));
      await producer.close();
    }
  });

  toolTest('Java static members (group.instance.id) with group.protocol=consumer: a member that closes and comes back gets its partitions without a reassignment; a second live instance is refused', unavailable('java'), async (t) => {
    const { topic, producer } = await newTopic(gw, 'public/default', 'static', 4);
    await producer.send(40);
    const opts = (id: string): MemberOptions => ({ bootstrap: gw.bootstrap, group: `g-${topic}`, topic, groupProtocol: 'consumer', instanceId: id, clientId: id });
    const a = await GroupMember.start('java', 'static-a', opts('i-a'));
    const b = await GroupMember.start('java', 'static-b', opts('i-b'));
    let a2: GroupMember | null = null;
    let b2: GroupMember | null = null;
    try {
      await waitFor(() => spreadOver([a, b], 4), 60_000, () => `two static members sharing the partitions\n${a.describe()}\n${b.describe()}`);
      await waitConsumed([a, b], producer, 'static members');
      await waitFor(() => [0, 1, 2, 3].every((p) => [a, b].some((m) => m.committed.get(p) === 10)), 20_000, () => `every record committed\n${a.describe()}\n${b.describe()}`);
      const aPartitions = a.assignment;
      const bEvents = b.lines.filter((l) => l.includes('"assignment"')).length;
      // A clean close of a static member leaves for a while (epoch -2): it comes back with a new member id.
      await a.close();
      a2 = await GroupMember.start('java', 'static-a2', opts('i-a'));
      await waitFor(() => a2!.assignment !== null && a2!.assignment.length > 0, 30_000, () => `the restarted static member's assignment\n${a2!.describe()}`);
      assert.deepEqual(a2.assignment, aPartitions, 'the restarted static member owns what it owned');
      await producer.send(40);
      await waitConsumed([a, a2, b], producer, 'after the static restart');
      assert.equal(b.lines.filter((l) => l.includes('"assignment"')).length, bEvents, `the other member saw no reassignment\n${b.describe()}`);
      const values = [...a.records, ...a2.records, ...b.records].map((r) => r.value);
      assert.equal(values.length, new Set(values).size, 'nothing consumed twice (everything was committed before the close)');
      // A second process with b's instance id while b is alive: UNRELEASED_INSTANCE_ID, fatal for it; b carries on.
      b2 = await GroupMember.start('java', 'static-b2', opts('i-b'));
      const code = await Promise.race([b2.exited, new Promise((r) => setTimeout(() => r('still running'), 30_000))]);
      t.diagnostic(`duplicate instance exit: ${code}; stderr: ${b2.stderr.split('\n').find((l) => /Unreleased/i.test(l)) ?? ''}`);
      assert.notEqual(code, 'still running', 'the duplicate static member was refused');
      assert.match(b2.stderr, /UnreleasedInstanceIdException|UNRELEASED_INSTANCE_ID/);
      assert.ok(b.alive, 'the live instance keeps its membership');
      await producer.send(8);
      await waitConsumed([a, a2, b], producer, 'after the refused duplicate');
    } finally {
      await Promise.all([a, b, a2, b2].map((m) => m?.kill()));
      await producer.close();
    }
  });

  toolTest('Java SubscriptionPattern (broker-side regex): matching topics are assigned, a topic created later joins the subscription, others stay out', unavailable('java'), async (t) => {
    const tag = suffix();
    const ns = 'public/default';
    const mk = async (name: string, partitions: number) => {
      await gw.gateway.storage.createTopic(`persistent://${ns}/${name}`, partitions, {});
      return new Producer(gw.bootstrap, name, partitions);
    };
    const p1 = await mk(`rx-${tag}-orders`, 2);
    const p2 = await mk(`rx-${tag}-payments`, 2);
    const other = await mk(`other-${tag}-orders`, 1);
    await Promise.all([p1.send(10), p2.send(10), other.send(5)]);
    const opts = (i: number): MemberOptions => ({ bootstrap: gw.bootstrap, group: `g-rx-${tag}`, topic: 'unused', groupProtocol: 'consumer', topicRegex: `rx-${tag}-.*`, clientId: `rx-${i}` });
    const members = await Promise.all([0, 1].map((i) => GroupMember.start('java', `rx-${i}`, opts(i))));
    const state = () => members.map((m) => `${m.describe()} topics ${JSON.stringify(m.topicAssignment)}`).join('\n');
    const owned = () => members.flatMap((m) => m.topicAssignment ?? []).sort();
    let p3: Producer | null = null;
    try {
      const want = [`rx-${tag}-orders:0`, `rx-${tag}-orders:1`, `rx-${tag}-payments:0`, `rx-${tag}-payments:1`];
      await waitFor(() => JSON.stringify(owned()) === JSON.stringify(want) && members.every((m) => (m.topicAssignment ?? []).length === 2), 60_000, () => `the regex topics' partitions over two members\n${state()}`);
      await waitConsumed(members, { values: [...p1.values, ...p2.values] }, 'regex topics');
      // A topic created later that matches: resolved again by the gateway, assigned without any client action.
      p3 = await mk(`rx-${tag}-refunds`, 2);
      await p3.send(6);
      await waitFor(() => owned().includes(`rx-${tag}-refunds:0`) && owned().includes(`rx-${tag}-refunds:1`), 60_000, () => `the new matching topic assigned\n${state()}`);
      await waitConsumed(members, { values: [...p1.values, ...p2.values, ...p3.values] }, 'the new matching topic');
      t.diagnostic(`regex assignment: ${members.map((m) => JSON.stringify(m.topicAssignment)).join(' ')}`);
      const topics = new Set(members.flatMap((m) => m.records.map((r) => r.topic)));
      assert.equal(topics.has(`other-${tag}-orders`), false, 'a topic the regex does not match is not consumed');
      // where each value was consumed (member, partition, offset), and the members' commit failures, for a failure's message
      const consumedAt = new Map<string, string[]>();
      for (const m of members) {
        for (const r of m.records) {
          const at = consumedAt.get(String(r.value)) ?? [];
          at.push(`${m.name} ${r.topic}:${r.partition}@${r.offset}`);
          consumedAt.set(String(r.value), at);
        }
      }
      const twice = [...consumedAt].filter(([, at]) => at.length > 1);
      assert.equal(twice.length, 0, `nothing consumed twice; consumed twice: ${JSON.stringify(twice.slice(0, 10))}\n${state()}`);
    } finally {
      await Promise.all(members.map((m) => m.kill()));
      await Promise.all([p1, p2, other, p3].map((p) => p?.close()));
    }
  });

  toolTest('rolling upgrade and back: Java classic members (group.protocol=classic) and consumer-protocol members in one group; replaced one by one each way; nothing skipped or repeated', unavailable('java'), async (t) => {
    const { topic, producer } = await newTopic(gw, 'public/default', 'upgrade');
    const group = `g-${topic}`;
    await producer.send(60);
    const classic = (i: number): MemberOptions => ({ bootstrap: gw.bootstrap, group, topic, assignor: 'cooperative-sticky', sessionTimeoutMs: 10_000, heartbeatIntervalMs: 500, clientId: `classic-${i}` });
    const modern = (i: number): MemberOptions => ({ bootstrap: gw.bootstrap, group, topic, groupProtocol: 'consumer', clientId: `consumer-${i}` });
    const [a, b] = await Promise.all([GroupMember.start('java', 'classic-a', classic(0)), GroupMember.start('java', 'classic-b', classic(1))]);
    const members: GroupMember[] = [a, b];
    const state = () => members.map((m) => m.describe()).join('\n');
    try {
      await waitFor(() => spreadOver([a, b], PARTITIONS), 60_000, () => `two classic members sharing the partitions\n${state()}`);
      await waitConsumed(members, producer, 'classic group');
      // The first consumer-protocol member converts the group; the classic members rejoin through it.
      const c1 = await GroupMember.start('java', 'consumer-1', modern(1));
      members.push(c1);
      await waitFor(() => spreadOver([a, b, c1], PARTITIONS), 60_000, () => `two classic and one consumer-protocol member sharing the partitions\n${state()}`);
      t.diagnostic(`mixed group: ${members.map((m) => `${m.name} ${JSON.stringify(m.assignment)}`).join(', ')}`);
      await producer.send(60);
      await waitConsumed(members, producer, 'mixed group');
      // Replace the classic members one by one.
      await a.close();
      const c2 = await GroupMember.start('java', 'consumer-2', modern(2));
      members.push(c2);
      await waitFor(() => spreadOver([b, c1, c2], PARTITIONS), 60_000, () => `after replacing classic-a\n${state()}`);
      await b.close();
      await waitFor(() => spreadOver([c1, c2], PARTITIONS), 60_000, () => `after closing classic-b\n${state()}`);
      await producer.send(60);
      await waitConsumed(members, producer, 'upgraded group');
      const values = members.flatMap((m) => m.records.map((r) => r.value));
      t.diagnostic(`${producer.values.length} records, ${values.length} deliveries`);
      assert.equal(values.length, new Set(values).size, `nothing consumed twice through the upgrade\n${state()}`);
      assert.deepEqual(members.flatMap((m) => m.commitFailures.map((f) => `${m.name}: ${f}`)), [], 'no failed commits');
      const d = await runJavaMain(CONSUMER_GROUP_COMMAND, ['--bootstrap-server', gw.bootstrap, '--describe', '--group', group, '--state'], { withDriver: false, timeoutMs: 60_000 });
      t.diagnostic(`state: ${d.stdout.trim().replace(/\n\s*/g, ' | ')}`);
      assert.match(d.stdout, /Stable\s+2\b/, `a consumer group of two members:\n${d.stdout}\n${d.stderr}`);
      // And back: a classic member joins the consumer group; when the consumer-protocol members leave, the
      // group is classic again (online downgrade) and the classic member ends with every partition.
      const d1 = await GroupMember.start('java', 'classic-d', classic(3));
      members.push(d1);
      await waitFor(() => spreadOver([c1, c2, d1], PARTITIONS), 60_000, () => `a classic member in the consumer group\n${state()}`);
      await c1.close();
      await c2.close();
      await waitFor(() => spreadOver([d1], PARTITIONS), 60_000, () => `the classic member alone after the downgrade\n${state()}`);
      await producer.send(60);
      await waitConsumed(members, producer, 'downgraded group');
      const list = await runJavaMain(CONSUMER_GROUP_COMMAND, ['--bootstrap-server', gw.bootstrap, '--list', '--type'], { withDriver: false, timeoutMs: 60_000 });
      assert.match(list.stdout, new RegExp(`^${group}\\s+Classic\\b`, 'mi'), `the group is classic again:\n${list.stdout}`);
      const after = members.flatMap((m) => m.records.map((r) => r.value));
      assert.equal(after.length, new Set(after).size, `nothing consumed twice through the downgrade\n${state()}`);
      assert.deepEqual(members.flatMap((m) => m.commitFailures.map((f) => `${m.name}: ${f}`)), [], 'no failed commits');
    } finally {
      await Promise.all(members.map((m) => m.kill()));
      await producer.close();
    }
  });

  toolTest('kafka-consumer-groups: lists and describes a consumer-protocol group (members, lag, state); a new member resumes from the commits', unavailable('java'), async (t) => {
    const { topic, producer } = await newTopic(gw, 'public/default', 'cli', 3);
    const group = `cli-${topic}`;
    await producer.send(30);
    const cli = async (...args: string[]) => {
      const r = await runJavaMain(CONSUMER_GROUP_COMMAND, ['--bootstrap-server', gw.bootstrap, ...args], { withDriver: false, timeoutMs: 60_000 });
      assert.equal(r.code, 0, `kafka-consumer-groups ${args.join(' ')} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
      return r.stdout;
    };
    const member = await GroupMember.start('java', 'cli-member', { bootstrap: gw.bootstrap, group, topic, groupProtocol: 'consumer', clientId: 'cli-member' });
    let next: GroupMember | null = null;
    try {
      await waitConsumed([member], producer, 'cli member');
      await waitFor(() => [0, 1, 2].every((p) => member.committed.get(p) === 10), 20_000, 'commits of all 30 records');
      const list = await cli('--list', '--type');
      t.diagnostic(`list: ${list.trim().replace(/\n\s*/g, ' | ')}`);
      assert.match(list, new RegExp(`^${group}\\s+Consumer\\b`, 'mi'), 'the group is listed with type consumer');
      const out = await cli('--describe', '--group', group);
      t.diagnostic(`describe: ${out.trim().replace(/\n\s*/g, ' | ')}`);
      const rows = out
        .split('\n')
        .map((l) => l.trim().split(/\s+/))
        .filter((cols) => cols[0] === group && cols[1] === topic)
        .map((cols) => ({ partition: Number(cols[2]), current: cols[3]!, end: Number(cols[4]), lag: cols[5]!, consumerId: cols[6]!, host: cols[7]!, clientId: cols[8]! }))
        .sort((x, y) => x.partition - y.partition);
      assert.deepEqual(
        rows.map((r) => [r.partition, r.current, r.end, r.lag, r.clientId, r.host]),
        [0, 1, 2].map((p) => [p, '10', 10, '0', 'cli-member', '/127.0.0.1']),
      );
      const state = await cli('--describe', '--group', group, '--state');
      t.diagnostic(`state: ${state.trim().replace(/\n\s*/g, ' | ')}`);
      assert.match(state, /Stable/);
      assert.match(state, /uniform/);
      const membersOut = await cli('--describe', '--group', group, '--members', '--verbose');
      t.diagnostic(`members: ${membersOut.trim().replace(/\n\s*/g, ' | ')}`);
      assert.match(membersOut, /cli-member/);
      await member.close();
      await waitFor(() => !member.alive, 10_000, 'member closed');
      assert.match(await cli('--describe', '--group', group, '--state'), /Empty/);
      // More records; a new member resumes from the committed offsets, reading only the new ones.
      await producer.send(6);
      next = await GroupMember.start('java', 'cli-next', { bootstrap: gw.bootstrap, group, topic, groupProtocol: 'consumer', clientId: 'cli-next' });
      await waitFor(() => next!.records.length >= 6, 30_000, () => `the new member reading the 6 new records\n${next!.describe()}`);
      const read = next.records.map((r) => r.value).sort();
      assert.deepEqual(read, producer.values.slice(30).sort(), 'only the records after the commits');
      await waitFor(() => [0, 1, 2].every((p) => next!.committed.get(p) === 12), 20_000, () => `the new member's commits\n${next!.describe()}`);
      await next.close();
      // The tool resets and deletes empty consumer-protocol groups as it does classic ones.
      const reset = await cli('--reset-offsets', '--to-earliest', '--execute', '--group', group, '--topic', topic);
      t.diagnostic(`reset: ${reset.trim().replace(/\n\s*/g, ' | ')}`);
      assert.match(reset, new RegExp(`${group}\\s+${topic}\\s+0\\s+0`), 'partition 0 reset to 0');
      const deleted = await cli('--delete', '--group', group);
      assert.match(deleted, /successful/i, deleted);
      assert.doesNotMatch(await cli('--list'), new RegExp(`^${group}$`, 'm'), 'the group is gone');
    } finally {
      await member.kill();
      await next?.kill();
      await producer.close();
    }
  });

  toolTest('franz-go with ServerSideBalancer (KIP-848): three members share the partitions; leave and crash reassign; nothing skipped or repeated', unavailable('java') ?? (commandExists('go') ? undefined : 'go not installed (franz-go)'), async (t) => {
    await threeMembers(gw, 'public/default', t, 'franz', 'franz');
    // franz-go uses the consumer protocol (it falls back to classic silently if the broker lacks it).
    const list = await runJavaMain(CONSUMER_GROUP_COMMAND, ['--bootstrap-server', gw.bootstrap, '--list', '--type'], { withDriver: false, timeoutMs: 60_000 });
    assert.match(list.stdout, /^g-kip848-franz-\S+\s+Consumer\b/m, `franz-go's group uses the consumer protocol:\n${list.stdout}`);
  });

  toolTest('librdkafka group.protocol=consumer: three members share the partitions; leave and crash reassign; nothing skipped or repeated', rdkafka.why, (t) =>
    threeMembers(gw, 'public/default', t, 'python', 'rdkafka', { python: rdkafka.python! }),
  );
});

const pulsarSkip = pulsarSkipReason();

describe('consumer group protocol (KIP-848) on the Pulsar engine', { skip: pulsarSkip }, () => {
  let gw: TestGateway;
  let ns = '';
  let config: Record<string, string | number | boolean> = {};
  const dir = mkdtempSync(join(tmpdir(), 'kop-kip848-pulsar-'));

  before(async () => {
    const p = await sharedPulsar();
    ns = await createNamespace(p, uniqueName('kip848'));
    config = { ...pulsarGatewayConfig(p, ns), ...GATEWAY_CONFIG };
    gw = await startTestGateway(config, dir);
  });

  after(async () => {
    await gw?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  toolTest('pulsar: Java group.protocol=consumer, three members; leave and crash reassign; nothing skipped or repeated', unavailable('java'), (t) =>
    threeMembers(gw, ns, t, 'java', 'pulsar-java'),
  );

  toolTest('pulsar: a gateway restart keeps the group (epochs, assignment, offsets); the members carry on without rejoining', unavailable('java'), async (t) => {
    const { topic, producer } = await newTopic(gw, ns, 'restart', 4);
    await producer.send(40);
    const opts = (i: number): MemberOptions => ({ bootstrap: gw.bootstrap, group: `g-${topic}`, topic, groupProtocol: 'consumer', clientId: `restart-${i}` });
    const members = await Promise.all([0, 1].map((i) => GroupMember.start('java', `restart-${i}`, opts(i))));
    const state = () => members.map((m) => m.describe()).join('\n');
    try {
      await waitFor(() => spreadOver(members, 4), 60_000, () => `two members sharing 4 partitions\n${state()}`);
      await waitConsumed(members, producer, 'before the restart');
      // Every partition's 10 records committed (by whichever member consumed them).
      await waitFor(() => [0, 1, 2, 3].every((p) => members.some((m) => m.committed.get(p) === 10)), 20_000, () => `commits before the restart\n${state()}`);
      const assignments = members.map((m) => JSON.stringify(m.assignment));
      const events = members.map((m) => m.lines.filter((l) => l.includes('"assignment"')).length);
      await producer.close();
      const port = gw.port;
      await gw.stop();
      gw = await startTestGateway({ ...config, kafkaListeners: `PLAINTEXT://127.0.0.1:${port}` }, dir);
      t.diagnostic(`gateway restarted on port ${gw.port}`);
      const again = new Producer(gw.bootstrap, topic, 4);
      try {
        await again.send(40);
        const all = { values: [...producer.values, ...again.values] };
        await waitConsumed(members, all, 'after the restart');
      } finally {
        await again.close();
      }
      assert.deepEqual(members.map((m) => JSON.stringify(m.assignment)), assignments, `same assignment after the restart\n${state()}`);
      assert.deepEqual(members.map((m) => m.lines.filter((l) => l.includes('"assignment"')).length), events, `no member was reassigned\n${state()}`);
      const values = members.flatMap((m) => m.records.map((r) => r.value));
      assert.equal(values.length, new Set(values).size, `nothing consumed twice across the restart\n${state()}`);
      assert.deepEqual(members.flatMap((m) => m.commitFailures), [], 'no failed commits');
    } finally {
      await Promise.all(members.map((m) => m.kill()));
    }
  });
});
