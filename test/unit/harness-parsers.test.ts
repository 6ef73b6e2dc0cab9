/** Unit tests of the harness's pure parts: output parsers, env resolution, driver flags. No tools needed. */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import net from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { randomClusterId, unsecuredJwt } from '../../bench/kafka-reference/broker.js';
import { parseConsumerPerfOutput, parseProducerPerfOutput, securityToJavaProps } from '../../bench/kafka-reference/perf.js';
import { connectedPorts, relayPortLike, startRelay } from '../../bench/lib/relay.js';
import { kcatSecurityArgs } from '../helpers/clients/kcat.js';
import { DEFAULT_KAFKA_VERSION, harnessEnv, javaClasspathOrThrow, ToolMissingError } from '../helpers/clients/paths.js';
import { parseJsonLines } from '../helpers/clients/proc.js';
import { commonFlags, consumeFlags, decodeConsumed, produceInputLine } from '../helpers/clients/types.js';

test('parseProducerPerfOutput: total, steady state and progress lines', () => {
  const out = [
    'Warmup first 2000 records. Steady state results will print after the complete test summary.',
    '98305 records sent, 19661.0 records/sec (1.88 MB/sec), 1234.5 ms avg latency, 1600.0 ms max latency.',
    '200000 records sent, 49975.012494 records/sec (4.77 MB/sec), 12.34 ms avg latency, 456.00 ms max latency, 10 ms 50th, 30 ms 95th, 40 ms 99th, 50 ms 99.9th.',
    '198000 steady state records sent, 51000.0 records/sec (4.86 MB/sec), 11.00 ms avg latency, 400.00 ms max latency, 9 ms 50th, 29 ms 95th, 39 ms 99th, 49 ms 99.9th.',
  ].join('\n');
  const r = parseProducerPerfOutput(out);
  assert.equal(r.records, 200_000);
  assert.equal(r.recordsPerSec, 49975.012494);
  assert.equal(r.mbPerSec, 4.77);
  assert.equal(r.avgLatencyMs, 12.34);
  assert.equal(r.maxLatencyMs, 456);
  assert.deepEqual([r.p50Ms, r.p95Ms, r.p99Ms, r.p999Ms], [10, 30, 40, 50]);
  assert.equal(r.intervals.length, 1);
  assert.equal(r.intervals[0]?.records, 98305);
  assert.equal(r.steadyState?.records, 198_000);
  assert.equal(r.steadyState?.p99Ms, 39);
  assert.throws(() => parseProducerPerfOutput('nothing here'), /no summary line/);
});

test('parseConsumerPerfOutput: header + values', () => {
  const out = [
    'start.time, end.time, data.consumed.in.MB, MB.sec, data.consumed.in.nMsg, nMsg.sec, rebalance.time.ms, fetch.time.ms, fetch.MB.sec, fetch.nMsg.sec',
    '2026-11-24 13:49:20:071, 2026-11-24 13:49:20:994, 4.7684, 5.1662, 50000, 54171.1809, 646, 277, 17.2143, 180505.4152',
  ].join('\n');
  const r = parseConsumerPerfOutput(out);
  assert.equal(r.startTime, '2026-11-24 13:49:20:071');
  assert.equal(r.dataMb, 4.7684);
  assert.equal(r.mbPerSec, 5.1662);
  assert.equal(r.records, 50_000);
  assert.equal(r.recordsPerSec, 54171.1809);
  assert.equal(r.rebalanceMs, 646);
  assert.equal(r.fetchMs, 277);
  assert.equal(r.fetchMbPerSec, 17.2143);
  assert.equal(r.fetchRecordsPerSec, 180505.4152);
  assert.throws(() => parseConsumerPerfOutput('WARN something'), /no header line/);
});

test('harnessEnv: defaults and overrides', () => {
  const d = harnessEnv({ HOME: '/home/x' } as NodeJS.ProcessEnv);
  assert.equal(d.kafkaVersion, DEFAULT_KAFKA_VERSION);
  assert.ok(d.cacheDir.endsWith(join('.cache', 'kop-gateway')));
  assert.equal(d.kafkaHome, join(d.cacheDir, `kafka-${DEFAULT_KAFKA_VERSION}`));
  assert.equal(d.javaClasspath, join(d.kafkaHome, 'libs', '*'));
  assert.equal(d.python, '/usr/bin/python3');
  assert.equal(d.strict, false);
  const o = harnessEnv({
    KOP_CACHE_DIR: '/c',
    KOP_KAFKA_VERSION: '9.9.9',
    KOP_JAVA_HOME: '/jdk',
    KOP_KCAT: '/opt/kcat',
    CI: 'true',
  } as NodeJS.ProcessEnv);
  assert.equal(o.kafkaHome, '/c/kafka-9.9.9');
  assert.equal(o.java, '/jdk/bin/java');
  assert.equal(o.kcat, '/opt/kcat');
  assert.equal(o.strict, true);
  assert.equal(harnessEnv({ CI: 'true', KOP_HARNESS_STRICT: '0' } as NodeJS.ProcessEnv).strict, false);
});

test('missing Kafka jars: the error names the fetch script', () => {
  const env = harnessEnv({ KOP_CACHE_DIR: '/nonexistent/kop-cache' } as NodeJS.ProcessEnv);
  assert.throws(
    () => javaClasspathOrThrow(env),
    (e: unknown) => e instanceof ToolMissingError && /jars not found .*: run `bash scripts\/ci\/fetch-java-deps\.sh`/.test(e.message),
  );
});

test('driver flags and record encoding', () => {
  assert.deepEqual(
    commonFlags({
      bootstrap: 'h:1',
      security: { protocol: 'SASL_SSL', mechanism: 'PLAIN', username: 'u', password: 'p', caPemFile: '/ca.pem' },
      config: { 'max.poll.records': 5 },
    }),
    ['--bootstrap', 'h:1', '--security-protocol', 'SASL_SSL', '--sasl-mechanism', 'PLAIN', '--username', 'u', '--password', 'p', '--ca-pem', '/ca.pem', '--config', 'max.poll.records=5'],
  );
  assert.deepEqual(consumeFlags({ topic: 't', group: 'g', commit: true, maxRecords: 3 }), [
    '--topic', 't', '--encoding', 'base64', '--group', 'g', '--commit', '--max-records', '3',
  ]);
  const line = JSON.parse(
    produceInputLine({ key: null, value: Buffer.from([0, 255]), headers: { a: 'x', b: null }, timestamp: 5, partition: 1 }),
  ) as Record<string, unknown>;
  assert.deepEqual(line, {
    keyB64: null,
    valueB64: 'AP8=',
    headers: [
      { key: 'a', valueB64: 'eA==' },
      { key: 'b', valueB64: null },
    ],
    timestamp: 5,
    partition: 1,
  });
  const rec = decodeConsumed({
    topic: 't', partition: 0, offset: 7, timestamp: 9, timestampType: 'CreateTime', key: null, value: 'AP8=',
    headers: [{ key: 'a', value: 'eA==' }],
  });
  assert.equal(rec.key, null);
  assert.deepEqual(rec.value, Buffer.from([0, 255]));
  assert.equal(rec.headers[0]?.valueText, 'x');
  assert.deepEqual(parseJsonLines('{"a":1}\n\n{"a":2}\n'), [{ a: 1 }, { a: 2 }]);
  assert.throws(() => parseJsonLines('oops'), /not a JSON line/);
});

test('security settings for kcat and the Java perf tools', () => {
  assert.deepEqual(kcatSecurityArgs({ protocol: 'SASL_PLAINTEXT', username: 'u', password: 'p' }), [
    '-X', 'security.protocol=sasl_plaintext', '-X', 'sasl.mechanisms=PLAIN', '-X', 'sasl.username=u', '-X', 'sasl.password=p',
  ]);
  assert.throws(() => kcatSecurityArgs({ protocol: 'SASL_PLAINTEXT', token: 'x.y.z' }), /cannot send a given OAUTHBEARER token/);
  const p = securityToJavaProps({ protocol: 'SASL_SSL', token: 'a.b.c', caPemFile: '/ca.pem' });
  assert.equal(p['sasl.mechanism'], 'OAUTHBEARER');
  assert.equal(p['sasl.login.callback.handler.class'], 'KopStaticTokenLoginCallbackHandler');
  assert.match(p['sasl.jaas.config'] ?? '', /OAuthBearerLoginModule required token="a\.b\.c";/);
  assert.equal(p['ssl.truststore.type'], 'PEM');
  assert.equal(p['ssl.endpoint.identification.algorithm'], '');
});

test('reference broker helpers: cluster id and unsecured JWT', () => {
  const id = randomClusterId();
  assert.equal(Buffer.from(id, 'base64url').length, 16);
  assert.equal(id.length, 22);
  const [h, c, sig] = unsecuredJwt('bob', 60).split('.');
  assert.deepEqual(JSON.parse(Buffer.from(h!, 'base64url').toString()), { alg: 'none' });
  const claims = JSON.parse(Buffer.from(c!, 'base64url').toString()) as { sub: string; iat: number; exp: number };
  assert.equal(claims.sub, 'bob');
  assert.equal(claims.exp - claims.iat, 60);
  assert.equal(sig, '');
});

test('bench:hop relay: forwards both ways, keeps the client on the relay, and the check reads the client log', async () => {
  // a stand-in broker: a "lookup answer" naming its own address, then an echo of what it gets
  const broker = net.createServer((s) => {
    s.write(`lookup pulsar://127.0.0.1:${port} ok|`);
    s.pipe(s);
  });
  broker.listen(0, '127.0.0.1');
  await once(broker, 'listening');
  const port = (broker.address() as net.AddressInfo).port;
  const relayPort = await relayPortLike(port);
  assert.equal(String(relayPort).length, String(port).length);
  const relay = startRelay(port, relayPort);
  relay.listen(relayPort, '127.0.0.1');
  await once(relay, 'listening');
  try {
    const c = net.connect(relayPort, '127.0.0.1');
    await once(c, 'connect');
    const payload = Buffer.alloc(200_000, 7); // several reads each way
    c.write(payload);
    const want = Buffer.byteLength(`lookup pulsar://127.0.0.1:${port} ok|`);
    const got: Buffer[] = [];
    let n = 0;
    for await (const b of c) {
      got.push(b as Buffer);
      n += (b as Buffer).length;
      if (n >= payload.length + want) break;
    }
    const all = Buffer.concat(got);
    const text = all.toString('latin1');
    assert.ok(text.includes(`pulsar://127.0.0.1:${relayPort} ok|`), 'the address is the relay\'s');
    assert.ok(!text.includes(`127.0.0.1:${port}`), 'the broker\'s address never reaches the client');
    // everything else is forwarded unchanged, across many reads each way
    assert.equal(all.length, want + payload.length);
    assert.ok(all.subarray(want).equals(payload));
    c.destroy();
  } finally {
    relay.close();
    broker.close();
  }
  const log = [
    '2026-12-07T22:38:55,893 - INFO  - [pulsar-client-io-1-1:ConnectionPool@265] - [[id: 0xf7961d5f, L:/127.0.0.1:58192 - R:127.0.0.1/127.0.0.1:36589]] Connected to server',
    '2026-12-07T22:38:56,426 - INFO  - [pulsar-client-io-1-1:ProducerImpl@1687] - [t] [null] Creating producer on cnx [id: 0xf7961d5f, L:/127.0.0.1:58192 - R:127.0.0.1/127.0.0.1:40000]',
    '[[id: 0x1, L:/127.0.0.1:1 - R:localhost/127.0.0.1:41417]] Connected to server',
  ].join('\n');
  assert.deepEqual([...connectedPorts(log)].sort(), [36589, 41417]);
});
