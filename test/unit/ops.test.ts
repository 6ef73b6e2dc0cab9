/**
 * Pure parts of operations: the opsListener setting, the development-profile
 * decision (which KOP_* variables keep it), readiness probes, the metrics
 * module's label handling and exposition in both formats.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseOpsListener } from '../../src/ops/listener.js';
import { Readiness, probe } from '../../src/ops/health.js';
import { decideProfile } from '../../src/profiles/dev-secure.js';
import { SCHEMA, envName } from '../../src/config/schema.js';
import { loadConfig } from '../../src/config/load.js';
import { GatewayMetrics } from '../../src/metrics/metrics.js';
import { Registry } from 'prom-client';
import { resolveTopic } from '../../src/topics/names.js';
import { expose } from '../../src/ops/server.js';
import { ErrorCode } from '../../src/protocol/errors.js';

test('opsListener: http(s)://host:port, empty = off, anything else refused by the configuration', () => {
  assert.equal(parseOpsListener(''), null);
  assert.deepEqual(parseOpsListener('http://127.0.0.1:8085'), { tls: false, host: '127.0.0.1', port: 8085 });
  assert.deepEqual(parseOpsListener('https://[::1]:9443/'), { tls: true, host: '::1', port: 9443 });
  assert.throws(() => parseOpsListener('127.0.0.1:8085'), /expected http:\/\/host:port/);
  assert.throws(() => parseOpsListener('ftp://h:1'), /expected/);
  assert.throws(() => parseOpsListener('http://h:70000'), /out of range/);
  assert.throws(() => loadConfig({ env: {}, overrides: { opsListener: 'localhost:8085' } }), /opsListener/);
});

const SAFETY = new Map(Object.entries(SCHEMA).map(([k, s]) => [envName(k), 'profileSafe' in s && s.profileSafe === true]));

test('development profile: log level, pretty logs and metrics settings keep it; security settings and a config file turn it off', () => {
  assert.deepEqual(decideProfile(undefined, {}, SAFETY), { on: true, applied: [], offBecause: [] });
  assert.deepEqual(decideProfile(undefined, { KOP_LOG_LEVEL: 'debug', KOP_LOG_PRETTY: 'false', PATH: '/bin' }, SAFETY), { on: true, applied: ['KOP_LOG_LEVEL', 'KOP_LOG_PRETTY'], offBecause: [] });
  assert.equal(decideProfile(undefined, { KOP_OPS_LISTENER: '' }, SAFETY).on, true);
  // tooling variables that are no configuration key do not count
  assert.equal(decideProfile(undefined, { KOP_KCAT: 'kcat', KOP_TEST_LOG: 'debug' }, SAFETY).on, true);
  for (const posture of ['KOP_AUTHENTICATION_ENABLED', 'KOP_AUTHORIZATION_ENABLED', 'KOP_KAFKA_LISTENERS', 'KOP_ANONYMOUS_USER_ROLE', 'KOP_SUPER_USER_ROLES', 'KOP_TOKEN_SECRET_KEY', 'KOP_AUDIT_LOG_FILE', 'KOP_DATA_DIRECTORY', 'KOP_STORAGE_ENGINE', 'KOP_OPS_LISTENER_TOKEN']) {
    const d = decideProfile(undefined, { KOP_LOG_LEVEL: 'debug', [posture]: 'x' }, SAFETY);
    assert.equal(d.on, false, posture);
    assert.deepEqual(d.offBecause, [posture]);
    assert.deepEqual(d.applied, []);
  }
  assert.deepEqual(decideProfile('gw.properties', { KOP_LOG_LEVEL: 'debug' }, SAFETY).offBecause, ['--config gw.properties']);
});

test('only keys that cannot weaken the posture are marked profileSafe', () => {
  const safe = Object.entries(SCHEMA)
    .filter(([, s]) => 'profileSafe' in s && s.profileSafe === true)
    .map(([k]) => k)
    .sort();
  assert.deepEqual(safe, ['gracefulShutdownTimeoutMs', 'heapGrowingPercent', 'logLevel', 'logPretty', 'metricsEnabled', 'metricsLagMaxPartitions', 'metricsTopicLabel', 'opsListener']);
});

test('readiness: every check must pass; a probe answers from its cache, one at a time, and times out', async () => {
  let now = 0;
  let calls = 0;
  let fail = false;
  const check = probe(
    async () => {
      calls++;
      if (fail) throw new Error('connection refused');
    },
    1000,
    500,
    () => now,
  );
  const r = new Readiness();
  r.add('a', () => ({ ok: true }));
  r.add('remote', check);
  assert.deepEqual(await r.check(), { ready: true, notReady: [], checks: { a: { ok: true }, remote: { ok: true } } });
  fail = true;
  assert.equal((await r.check()).ready, true, 'cached within cacheMs');
  assert.equal(calls, 1);
  now = 600;
  const down = await r.check();
  assert.deepEqual(down, { ready: false, notReady: ['remote'], checks: { a: { ok: true }, remote: { ok: false, detail: 'connection refused' } } });
  assert.equal(calls, 2);
  const hanging = probe(() => new Promise(() => undefined), 50, 0);
  assert.deepEqual(await hanging(), { ok: false, detail: 'no answer within 50 ms' });
  const thrower = new Readiness();
  thrower.add('x', () => {
    throw new Error('boom');
  });
  assert.deepEqual((await thrower.check()).checks.x, { ok: false, detail: 'boom' });
});

test('metrics: topic label on and off, error codes by name, requests by version; Prometheus text and OpenMetrics from one registry', async () => {
  const name = resolveTopic('orders', { tenant: 'acme', namespace: 'shop' });
  const m = new GatewayMetrics({ topicLabel: true, lagMaxPartitions: 10, engine: 'embedded', processMetrics: false });
  m.produced(name, 3, 300);
  m.produced(name, 2, 200);
  m.fetched(name, 5, 500);
  const r = m.request(0, 9);
  assert.equal(m.request(0, 9), r, 'children are resolved once');
  r.requests.inc();
  m.responseErrors(0, { responses: [{ name: 'orders', partitionResponses: [{ index: 0, errorCode: ErrorCode.TOPIC_AUTHORIZATION_FAILED, records: Buffer.alloc(4) }, { index: 1, errorCode: 0 }] }], errorCode: 0 });
  m.connectionOpened('PLAINTEXT');
  m.connectionRefused('PLAINTEXT', 'maxConnectionsPerIp');
  const text = await m.registry.metrics();
  assert.match(text, /kop_gateway_bytes_in_total\{tenant="acme",namespace="shop",topic="orders"\} 500/);
  assert.match(text, /kop_gateway_records_in_total\{tenant="acme",namespace="shop",topic="orders"\} 5/);
  assert.match(text, /kop_gateway_records_out_total\{tenant="acme",namespace="shop",topic="orders"\} 5/);
  assert.match(text, /kop_gateway_requests_total\{api="Produce",version="9"\} 1/);
  assert.match(text, /kop_gateway_request_errors_total\{api="Produce",error="TOPIC_AUTHORIZATION_FAILED"\} 1/);
  assert.match(text, /kop_gateway_connections_refused_total\{listener="PLAINTEXT",reason="maxConnectionsPerIp"\} 1/);
  assert.doesNotMatch(text, /pulsar_/, 'the Pulsar client metrics belong to the Pulsar engine');

  const om = await expose(m.registry, true);
  assert.match(om, /# EOF\n$/);
  assert.match(om, /# TYPE kop_gateway_bytes_in counter\nkop_gateway_bytes_in_total\{tenant="acme",namespace="shop",topic="orders"\} 500/);
  // prom-client renames counters while it renders OpenMetrics: the Prometheus text afterwards is unchanged
  assert.equal(await expose(m.registry, false), text);
  assert.equal(m.registry.contentType, Registry.PROMETHEUS_CONTENT_TYPE);

  const byNamespace = new GatewayMetrics({ topicLabel: false, lagMaxPartitions: 10, engine: 'pulsar', processMetrics: false });
  byNamespace.produced(name, 1, 10);
  byNamespace.produced(resolveTopic('other', { tenant: 'acme', namespace: 'shop' }), 1, 20);
  const t2 = await byNamespace.registry.metrics();
  assert.match(t2, /kop_gateway_bytes_in_total\{tenant="acme",namespace="shop"\} 30/);
  assert.match(t2, /kop_gateway_pulsar_lookups_total/);
});

test('heapGrowingPercent: V8 sets the next full collection limit with the factor tuneHeap applied; 0 and a command-line flag leave V8 alone', async () => {
  const { execFileSync } = await import('node:child_process');
  const { fileURLToPath } = await import('node:url');
  const { tuneHeap } = await import('../../src/ops/heap.js');
  const heapModule = fileURLToPath(new URL('../../src/ops/heap.js', import.meta.url));
  // A child with a heap worth collecting, one forced full collection, V8's own trace of the limit it set.
  const factor = (percent: number, nodeFlags: string[] = []): string => {
    const script = `import(${JSON.stringify(heapModule)}).then((m) => { m.tuneHeap(${percent}); const keep = []; for (let i = 0; i < 200000; i++) keep.push({ i, s: 'x' + i }); globalThis.gc(); process.stdout.write(String(keep.length)); });`;
    const out = execFileSync(process.execPath, ['--expose-gc', '--trace-gc-verbose', ...nodeFlags, '--input-type=module', '-e', script], { encoding: 'utf8' });
    const m = /\[HeapController\] Limit: old size: \d+ KB, new limit: \d+ KB \(([\d.]+)\)/.exec(out);
    assert.ok(m, `no HeapController limit line in the child's GC trace:\n${out.slice(0, 2000)}`);
    return m[1]!;
  };
  assert.equal(factor(50), '1.5');
  assert.equal(factor(300), '4.0');
  // V8's heuristic for this child (nothing applied) is not 1.5, so the first check could fail
  assert.notEqual(factor(0), '1.5');
  // the node command line wins over the configuration
  assert.equal(factor(50, ['--heap-growing-percent=100']), '2.0');
  assert.equal(tuneHeap(0, []), false);
  assert.equal(tuneHeap(300, ['--heap_growing_percent=20']), false);
});
