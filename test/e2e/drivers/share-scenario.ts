/**
 * The share-group scenarios of drivers/ShareScenario.java (one JVM) against a gateway, and
 * what they must show: see that file. Shared by the embedded and Pulsar engine e2e files.
 */
import assert from 'node:assert/strict';
import { delimiter, join } from 'node:path';
import { javaLog4jConfig } from '../../helpers/clients/java.js';
import { compileJavaSource } from '../../helpers/clients/java-compile.js';
import { harnessEnv, repoRoot } from '../../helpers/clients/paths.js';
import { runCommand } from '../../helpers/clients/proc.js';

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
