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

/** Topics: `topic` with one partition, `shareTopic` with any; both empty, and the gateway with share.auto.offset.reset=earliest and a short lock. */
export async function runShareScenario(bootstrap: string, topic: string, group: string, shareTopic: string, shareGroup: string): Promise<void> {
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
      ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', `-Dlog4j2.configurationFile=${javaLog4jConfig()}`, '-cp', `${classes}${delimiter}${env.javaClasspath}`, 'ShareScenario', bootstrap, topic, group, shareTopic, shareGroup, '90'],
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
}
