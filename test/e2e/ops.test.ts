/**
 * Operations, for real: a real Prometheus server (Debian's `prometheus`)
 * scrapes the gateway's opsListener (with its bearer token) while real clients
 * (kafkajs and Java kafka-clients) produce, consume, fail authentication and
 * fail authorization; its query API must return what happened, cross-checked
 * against independent sources: the segment files on disk (bytes in), the
 * records the clients were acknowledged, and the audit log (denials,
 * failed authentications). Both storage engines.
 *
 * Health: /health/live and /health/ready, not ready while the Pulsar broker is
 * down (a private broker, stopped), not ready while draining.
 *
 * Process behaviour: SIGTERM to `npm start` (the npm process of a process group,
 * as a process manager sends it) stops the gateway cleanly (exit 0, clean
 * shutdown marker); KOP_LOG_LEVEL keeps the secure development profile.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import { Kafka, logLevel } from 'kafkajs';
import { repoRoot, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { toolTest, unavailable } from '../helpers/clients/gate.js';
import { JavaKafkaClient } from '../helpers/clients/java.js';
import { commandExists } from '../helpers/clients/proc.js';
import { kafkajsProduce } from '../helpers/clients/kafkajs.js';
import { prometheusUnavailable, startPrometheus, type PrometheusServer } from '../helpers/prometheus.js';
import { createNamespace, privatePulsar, pulsarGatewayConfig, pulsarSkipReason, sharedPulsar, uniqueName } from '../helpers/pulsar.js';

const secret = randomBytes(32);
const OPS_TOKEN = randomBytes(16).toString('hex');
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
}

function token(sub: string): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: 'HS256' }).sign(secret);
}

function joinReasons(...r: Array<string | undefined>): string | undefined {
  const s = r.filter(Boolean);
  return s.length ? s.join('; ') : undefined;
}

/** Gateway settings: SASL/PLAIN with Pulsar tokens, authorization (superuser `admin`, nobody else granted), audit, ops listener with a token. */
function securedSettings(dir: string): Record<string, string | number | boolean> {
  const policies = join(dir, 'policies');
  mkdirSync(policies, { recursive: true });
  return {
    kafkaListeners: 'SASL_PLAINTEXT://127.0.0.1:0',
    authenticationEnabled: true,
    authorizationEnabled: true,
    tokenSecretKey: `data:;base64,${secret.toString('base64')}`,
    superUserRoles: 'admin',
    policiesDirectory: policies,
    auditLogFile: join(dir, 'audit.log'),
    auditSummaryIntervalMs: 0,
    // metric counts are compared with the audit log's records one by one: identical repeated
    // denials would otherwise be aggregated into a `repeated` record only after the interval
    auditAggregationIntervalMs: 0,
    failedAuthenticationDelayMs: 10,
    opsListener: 'http://127.0.0.1:0',
    opsListenerToken: OPS_TOKEN,
  };
}

function sasl(jwt: string, ns = 'public/default') {
  return { mechanism: 'plain' as const, username: ns, password: `token:${jwt}` };
}

interface AuditRecord {
  event: string;
  action?: string;
  operation?: string;
  outcome?: string;
  bytes?: number;
  records?: number;
  count?: number;
}

function auditRecords(file: string): AuditRecord[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as AuditRecord);
}

/** Produce with a role that has no grant: kafkajs fails with TOPIC_AUTHORIZATION_FAILED. */
async function deniedProduce(bootstrap: string, topic: string): Promise<void> {
  const kafka = new Kafka({ brokers: [bootstrap], sasl: sasl(await token('intruder')), logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  try {
    await assert.rejects(producer.send({ topic, messages: [{ value: 'nope' }] }), /authoriz/i);
  } finally {
    await producer.disconnect();
  }
}

/** A wrong token: the authentication fails (and the client says so). */
async function failedAuthentication(bootstrap: string): Promise<void> {
  const kafka = new Kafka({ brokers: [bootstrap], sasl: { mechanism: 'plain', username: 'public/default', password: 'token:not-a-jwt' }, logLevel: logLevel.NOTHING, retry: { retries: 0 } });
  const admin = kafka.admin({ retry: { retries: 0 } });
  await assert.rejects(admin.connect(), /SASL|authentica/i);
}

/** Sum of the segment log files' sizes of a topic of public/default in the embedded engine's data: the record batches as stored. */
function segmentBytesOnDisk(dataDirectory: string, topic: string): number {
  let total = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.log')) total += statSync(p).size;
    }
  };
  walk(join(dataDirectory, 'embedded', 'topics', 'public', 'default', topic));
  return total;
}

async function withPrometheus(gw: TestGateway, fn: (prom: PrometheusServer) => Promise<void>): Promise<void> {
  const ops = gw.gateway.ops!;
  const prom = await startPrometheus([{ job: 'kop-gateway', target: `127.0.0.1:${ops.port}`, bearer: OPS_TOKEN }]);
  try {
    await prom.waitFor('up{job="kop-gateway"}', (v) => v === 1);
    await fn(prom);
  } catch (err) {
    (err as Error).message += `\nprometheus output:\n${prom.output().slice(-2000)}`;
    throw err;
  } finally {
    await prom.stop();
  }
}

const SCRAPE_NEEDS = joinReasons(prometheusUnavailable(), unavailable('java', 'kafkajs'));

toolTest('a real Prometheus scrapes the embedded gateway while kafkajs and Java produce, consume and fail authorization: bytes/records in, denials, failed authentications and lag match', SCRAPE_NEEDS, async () => {
  const dir = tempDir('kop-ops-embedded-');
  const gw = await startTestGateway(securedSettings(dir), join(dir, 'data'));
  try {
    // the token is required on /metrics, not on the health endpoints
    const ops = gw.gateway.ops!;
    assert.equal((await fetch(`${ops.url}/metrics`)).status, 401);
    assert.equal((await fetch(`${ops.url}/health/live`)).status, 200);
    const ready = await fetch(`${ops.url}/health/ready`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { notReady: string[] }).notReady, []);
    const om = await fetch(`${ops.url}/metrics`, { headers: { Authorization: `Bearer ${OPS_TOKEN}`, Accept: 'application/openmetrics-text; version=1.0.0' } });
    assert.match(om.headers.get('content-type') ?? '', /openmetrics/);
    assert.match(await om.text(), /# EOF\n$/);

    await withPrometheus(gw, async (prom) => {
      const adminJwt = await token('admin');
      const topic = 'ops-metrics';
      const security = { protocol: 'SASL_PLAINTEXT' as const, mechanism: 'PLAIN' as const, username: 'public/default', password: `token:${adminJwt}` };
      const viaKafkajs = await kafkajsProduce({ bootstrap: gw.bootstrap, security }, { topic, count: 25 });
      const java = new JavaKafkaClient({ bootstrap: gw.bootstrap, security });
      const viaJava = await java.produce({ topic, count: 40, valueSize: 100 });
      const produced = viaKafkajs.length + viaJava.length;
      assert.equal(produced, 65);

      // a consumer group reads everything and commits
      const got = await java.consume({ topic, group: 'ops-group', commit: true, maxRecords: produced });
      assert.equal(got.length, produced);
      // 7 more records the group has not read: its lag
      await kafkajsProduce({ bootstrap: gw.bootstrap, security }, { topic, count: 7 });

      await deniedProduce(gw.bootstrap, topic);
      await deniedProduce(gw.bootstrap, topic);
      await failedAuthentication(gw.bootstrap);

      const recordsIn = await prom.waitFor(`sum(kop_gateway_records_in_total{topic="${topic}"})`, (v) => v === produced + 7);
      assert.equal(recordsIn, 72);
      // bytes in = the record batches the engine stored: the segment files on disk
      const onDisk = segmentBytesOnDisk(gw.dataDirectory, topic);
      assert.ok(onDisk > 40 * 100, `segments hold ${onDisk} bytes`);
      await prom.waitFor(`sum(kop_gateway_bytes_in_total{topic="${topic}"})`, (v) => v === onDisk);
      const recordsOut = await prom.waitFor(`sum(kop_gateway_records_out_total{topic="${topic}"})`, (v) => v !== null && v >= produced);
      assert.ok(recordsOut! >= produced);

      // denials and failed authentications: as many as the audit log recorded
      const audit = () => auditRecords(join(dir, 'audit.log'));
      const deniedProduceAudit = () => audit().filter((r) => r.event === 'access_denied' && r.action === 'produce').reduce((n, r) => n + (r.count ?? 1), 0);
      const deniedAll = () => audit().filter((r) => r.event === 'access_denied').reduce((n, r) => n + (r.count ?? 1), 0);
      const failedAuth = () => audit().filter((r) => r.event === 'authentication' && r.outcome === 'failure').reduce((n, r) => n + (r.count ?? 1), 0);
      assert.ok(deniedAll() >= 2, 'the two refused producers were audited');
      await prom.waitFor('sum(kop_gateway_authorization_decisions_total{result="denied",action="produce"}) or vector(0)', (v) => v === deniedProduceAudit());
      await prom.waitFor('sum(kop_gateway_authorization_decisions_total{result="denied"})', (v) => v === deniedAll());
      assert.ok(failedAuth() >= 1);
      await prom.waitFor('sum(kop_gateway_authentications_total{result="failure"})', (v) => v === failedAuth());
      await prom.waitFor('sum(kop_gateway_authentications_total{result="success",mechanism="PLAIN"})', (v) => v !== null && v >= 3);

      // requests by API with latency histograms, error codes by name
      await prom.waitFor('sum(kop_gateway_requests_total{api="Produce"})', (v) => v !== null && v > 0);
      await prom.waitFor('sum(kop_gateway_request_total_seconds_count{api="Fetch"})', (v) => v !== null && v > 0);
      await prom.waitFor('sum(kop_gateway_request_errors_total{error="TOPIC_AUTHORIZATION_FAILED"})', (v) => v !== null && v >= 2);
      // consumer lag, computed at scrape time from the committed offset and the high watermark
      await prom.waitFor(`sum(kop_gateway_consumer_lag{group="ops-group",topic="${topic}"})`, (v) => v === 7);
      await prom.waitFor(`sum(kop_gateway_consumer_committed_offset{group="ops-group",topic="${topic}"})`, (v) => v === produced);
      // the readable __consumer_offsets log got the group's metadata and its commits, dropped none, holds none queued
      await prom.waitFor('kop_gateway_offsets_log_records_appended_total', (v) => v !== null && v >= 2);
      await prom.waitFor('kop_gateway_offsets_log_records_dropped_total', (v) => v === 0);
      await prom.waitFor('kop_gateway_offsets_log_queued_records', (v) => v === 0);
      // storage and connections
      await prom.waitFor('kop_gateway_storage_fsync_seconds_count', (v) => v !== null && v > 0);
      await prom.waitFor(`sum(kop_gateway_storage_segment_bytes{topic="${topic}"})`, (v) => v === onDisk);
      await prom.waitFor('sum(kop_gateway_connections_opened_total{listener="SASL_PLAINTEXT"})', (v) => v !== null && v >= 5);
      await prom.waitFor('kop_gateway_audit_records_dropped_total', (v) => v === 0);
      // the library's process metrics
      await prom.waitFor('nodejs_eventloop_lag_seconds', (v) => v !== null);

      // every query of the Grafana dashboard is valid PromQL for this Prometheus, and the traffic panel has data
      const dashboard = JSON.parse(readFileSync(join(repoRoot, 'docs', 'grafana', 'kop-gateway.json'), 'utf8')) as { panels: Array<{ title: string; targets?: Array<{ expr: string }> }> };
      const grafanaVars = (expr: string) => expr.replace(/\$__rate_interval/g, '1m').replace(/\$(job|instance|topic|group)\b/g, '.*');
      let queries = 0;
      for (const panel of dashboard.panels) {
        for (const t of panel.targets ?? []) {
          await prom.query(grafanaVars(t.expr)).catch((err: Error) => assert.fail(`dashboard panel "${panel.title}": ${t.expr}: ${err.message}`));
          queries++;
        }
      }
      assert.ok(queries > 20);
      const traffic = dashboard.panels.find((p) => p.title === 'Bytes in / out per topic')!;
      assert.ok((await prom.query(grafanaVars(traffic.targets![0]!.expr))).some((s) => s.labels.topic === topic));
    });
  } finally {
    await gw.stop();
  }
}, { timeout: 240_000 });

toolTest('a real Prometheus scrapes a gateway on the Pulsar engine: records and bytes in match the acknowledged records and the audit log; Pulsar client metrics', joinReasons(prometheusUnavailable(), unavailable('kafkajs'), pulsarSkipReason()), async () => {
  const p = await sharedPulsar();
  const ns = await createNamespace(p, uniqueName('ops'));
  await createNamespace(p, `${ns.split('/')[1]}-meta`);
  const dir = tempDir('kop-ops-pulsar-');
  const gw = await startTestGateway({ ...securedSettings(dir), ...pulsarGatewayConfig(p, ns) }, join(dir, 'data'));
  try {
    await withPrometheus(gw, async (prom) => {
      const security = { protocol: 'SASL_PLAINTEXT' as const, mechanism: 'PLAIN' as const, username: ns, password: `token:${await token('admin')}` };
      const topic = 'ops-pulsar';
      const acked = await kafkajsProduce({ bootstrap: gw.bootstrap, security }, { topic, count: 30 });
      assert.equal(acked.length, 30);
      await deniedProduce(gw.bootstrap, `persistent://${ns}/${topic}`);
      await prom.waitFor(`sum(kop_gateway_records_in_total{topic="${topic}"})`, (v) => v === 30);
      // the allowed produce summaries (written when the connections closed) count the same bytes
      const audit = auditRecords(join(dir, 'audit.log'));
      const auditedBytes = audit.filter((r) => r.event === 'access_summary' && r.operation === 'Produce').reduce((n, r) => n + (r.bytes ?? 0), 0);
      assert.ok(auditedBytes > 0);
      await prom.waitFor(`sum(kop_gateway_bytes_in_total{topic="${topic}"})`, (v) => v === auditedBytes);
      const denied = audit.filter((r) => r.event === 'access_denied').reduce((n, r) => n + (r.count ?? 1), 0);
      await prom.waitFor('sum(kop_gateway_authorization_decisions_total{result="denied"})', (v) => v === denied);
      await prom.waitFor('kop_gateway_pulsar_producers', (v) => v !== null && v >= 1);
      await prom.waitFor('kop_gateway_pulsar_connections', (v) => v !== null && v >= 1);
      await prom.waitFor('kop_gateway_pulsar_send_seconds_count', (v) => v !== null && v >= 1);
      await prom.waitFor('sum(kop_gateway_pulsar_admin_requests_total{result="ok"})', (v) => v !== null && v >= 1);
    });
  } finally {
    await gw.stop();
  }
}, { timeout: 240_000 });

test('health: /health/ready fails with the reason while the Pulsar broker is down (a private broker, stopped); live stays 200', { skip: pulsarSkipReason(), timeout: 300_000 }, async () => {
  const pdir = tempDir('kop-ops-private-pulsar-');
  const p = await privatePulsar(pdir);
  const dir = tempDir('kop-ops-health-');
  let gw: TestGateway | undefined;
  try {
    const ns = await createNamespace(p, 'health');
    await createNamespace(p, 'health-meta');
    gw = await startTestGateway({ ...pulsarGatewayConfig(p, ns), opsListener: 'http://127.0.0.1:0', pulsarOperationTimeoutMs: 5_000 }, join(dir, 'data'));
    const url = gw.gateway.ops!.url;
    const readyNow = async () => {
      const res = await fetch(`${url}/health/ready`);
      return { status: res.status, body: (await res.json()) as { ready: boolean; notReady: string[]; checks: Record<string, { ok: boolean; detail?: string }> } };
    };
    const up = await readyNow();
    assert.equal(up.status, 200, JSON.stringify(up.body));
    assert.deepEqual(Object.keys(up.body.checks).sort(), ['listeners', 'pulsarAdmin', 'pulsarBroker']);

    await p.stop();
    let down = await readyNow();
    for (let i = 0; i < 60 && down.status === 200; i++) {
      await new Promise((r) => setTimeout(r, 500));
      down = await readyNow();
    }
    assert.equal(down.status, 503, JSON.stringify(down.body));
    assert.equal(down.body.ready, false);
    assert.ok(down.body.notReady.includes('pulsarBroker') && down.body.notReady.includes('pulsarAdmin'), JSON.stringify(down.body));
    assert.ok(down.body.checks.pulsarBroker!.detail!.includes(p.serviceUrl), JSON.stringify(down.body));
    assert.equal(down.body.checks.listeners!.ok, true);
    // live while not ready: the process serves
    assert.equal((await fetch(`${url}/health/live`)).status, 200);
  } finally {
    await gw?.gateway.stop(1000);
    await p.wipe().catch(() => undefined);
  }
});

test('health: an embedded gateway is ready once started and not ready while it drains', async () => {
  const dir = tempDir('kop-ops-drain-');
  const gw = await startTestGateway({ opsListener: 'http://127.0.0.1:0', metricsEnabled: false }, join(dir, 'data'));
  const url = gw.gateway.ops!.url;
  const r = await fetch(`${url}/health/ready`);
  assert.equal(r.status, 200);
  assert.deepEqual(((await r.json()) as { checks: object }).checks, { listeners: { ok: true, detail: `PLAINTEXT://127.0.0.1:${gw.port}` }, storage: { ok: true, detail: 'embedded' } });
  assert.equal((await fetch(`${url}/metrics`)).status, 404, 'metricsEnabled=false: health only');
  // a client that holds a request open keeps the gateway draining for a moment
  const stopping = gw.gateway.stop(3000);
  const during = await fetch(`${url}/health/ready`).catch(() => null);
  if (during) {
    assert.equal(during.status, 503);
    const body = (await during.json()) as { notReady: string[]; checks: { listeners: { detail: string } } };
    assert.ok(body.notReady.includes('listeners'), JSON.stringify(body));
    assert.match(body.checks.listeners.detail, /draining/);
  }
  await stopping;
});

function npmUnavailable(): string | undefined {
  return commandExists('npm') ? undefined : 'npm not found';
}

interface Started {
  out: () => string;
  exited: Promise<number | string>;
  pid: number;
}

function spawnGroup(cmd: string, args: string[], env: Record<string, string>, cwd: string): Started {
  const child = spawn(cmd, args, { cwd, env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((r) => child.on('exit', (code, signal) => r(code ?? signal ?? -1)));
  return { out: () => out, exited, pid: child.pid! };
}

async function waitFor(what: string, ok: () => boolean, timeoutMs: number, out: () => string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`${what} not seen in ${timeoutMs} ms:\n${out()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

for (const target of ['the npm process', 'the process group'] as const) {
  test(`SIGTERM to ${target} of \`npm start\` stops the gateway cleanly: exit 0, clean-shutdown marker`, { skip: npmUnavailable(), timeout: 120_000 }, async () => {
    const dir = tempDir('kop-ops-npm-');
    const grace = 20_000;
    const g = spawnGroup('npm', ['start'], {
      KOP_KAFKA_LISTENERS: 'PLAINTEXT://127.0.0.1:0',
      KOP_DATA_DIRECTORY: join(dir, 'data'),
      KOP_AUDIT_LOG_FILE: join(dir, 'audit.log'),
      KOP_LOG_PRETTY: 'false',
      KOP_GRACEFUL_SHUTDOWN_TIMEOUT_MS: String(grace),
    }, repoRoot);
    try {
      await waitFor('kop-gateway started', () => g.out().includes('"msg":"kop-gateway started"'), 30_000, g.out);
      const gatewayPid = Number(/"pid":(\d+),[^\n]*"msg":"kop-gateway started"/.exec(g.out())![1]);
      assert.notEqual(gatewayPid, g.pid, 'npm runs the gateway as its child');
      const t0 = Date.now();
      process.kill(target === 'the npm process' ? g.pid : -g.pid, 'SIGTERM');
      await g.exited;
      await waitFor('the gateway process to exit', () => !alive(gatewayPid), grace + 5_000, g.out);
      assert.ok(Date.now() - t0 < grace, `stopped within the graceful timeout (${Date.now() - t0} ms)`);
      await waitFor('the exit log line', () => g.out().includes('"msg":"kop-gateway exiting"'), 5_000, g.out);
      assert.match(g.out(), /"exitCode":0,"msg":"kop-gateway exiting"/);
      assert.match(g.out(), /"msg":"kop-gateway stopped"/);
      assert.ok(existsSync(join(dir, 'data', 'embedded', 'clean-shutdown')), 'clean-shutdown marker written');
    } finally {
      try {
        process.kill(-g.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
}

async function portFree(port: number): Promise<boolean> {
  const s = createServer();
  return new Promise((resolve) => {
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

test('KOP_LOG_LEVEL=debug keeps the secure development profile; a security setting turns it off, loudly', { timeout: 120_000 }, async (t) => {
  const compiled = import.meta.url.endsWith('.js');
  const cli = compiled ? [join(repoRoot, 'dist/src/cli.js'), 'start'] : ['--import', 'tsx', join(repoRoot, 'src/cli.ts'), 'start'];
  if (!(await portFree(9092)) || !(await portFree(8085))) {
    t.skip('ports 9092 and 8085 must be free for the development profile');
    return;
  }
  const cwd = tempDir('kop-ops-devprofile-');
  cpSync(join(repoRoot, 'policies'), join(cwd, 'policies'), { recursive: true });
  const g = spawnGroup(process.execPath, cli, { KOP_LOG_LEVEL: 'debug', KOP_LOG_PRETTY: 'false' }, cwd);
  try {
    await waitFor('the development profile banner', () => g.out().includes('Superuser token:'), 60_000, g.out);
    assert.match(g.out(), /Bootstrap:\s+127\.0\.0\.1:9092 \(SASL_SSL\)/);
    assert.match(g.out(), /"applied":\["KOP_LOG_LEVEL","KOP_LOG_PRETTY"\]/);
    // the log level did change: a TLS connection's opening is logged at debug level
    await new Promise<void>((resolve, reject) => {
      const s = tlsConnect({ host: '127.0.0.1', port: 9092, ca: readFileSync(join(cwd, 'certs', 'ca.pem')), servername: 'localhost' }, () => {
        s.end();
        resolve();
      });
      s.once('error', reject);
    });
    await waitFor('a debug line', () => /"level":20,[^\n]*"msg":"connection opened"/.test(g.out()), 10_000, g.out);
    assert.match(readFileSync(join(cwd, 'data', 'dev', 'connect.txt'), 'utf8'), /Bootstrap:\s+127\.0\.0\.1:9092/);
    const live = await fetch('http://127.0.0.1:8085/health/live');
    assert.equal(live.status, 200);
    process.kill(g.pid, 'SIGTERM');
    assert.equal(await g.exited, 0);
  } finally {
    if (alive(g.pid)) process.kill(g.pid, 'SIGKILL');
  }

  const off = spawnGroup(process.execPath, cli, { KOP_LOG_PRETTY: 'false', KOP_AUTHENTICATION_ENABLED: 'false', KOP_KAFKA_LISTENERS: 'PLAINTEXT://127.0.0.1:0', KOP_DATA_DIRECTORY: join(cwd, 'data2') }, cwd);
  try {
    await waitFor('kop-gateway started', () => off.out().includes('"msg":"kop-gateway started"'), 30_000, off.out);
    assert.match(off.out(), /"level":40,.*SECURE DEVELOPMENT PROFILE OFF because of KOP_AUTHENTICATION_ENABLED, KOP_DATA_DIRECTORY, KOP_KAFKA_LISTENERS/);
    assert.doesNotMatch(off.out(), /Superuser token:/);
    process.kill(off.pid, 'SIGTERM');
    assert.equal(await off.exited, 0);
  } finally {
    if (alive(off.pid)) process.kill(off.pid, 'SIGKILL');
  }
});

test('two gateways in one folder cannot share an audit log file: the second refuses to start and says why', async () => {
  const dir = tempDir('kop-ops-audit-lock-');
  const shared = join(dir, 'logs', 'audit.log');
  const first = await startTestGateway({ auditLogFile: shared }, join(dir, 'data1'));
  try {
    const compiled = import.meta.url.endsWith('.js');
    const cli = compiled ? [join(repoRoot, 'dist/src/cli.js')] : ['--import', 'tsx', join(repoRoot, 'src/cli.ts')];
    const second = spawnGroup(process.execPath, [...cli, 'start'], { KOP_LOG_PRETTY: 'false', KOP_KAFKA_LISTENERS: 'PLAINTEXT://127.0.0.1:0', KOP_DATA_DIRECTORY: join(dir, 'data2'), KOP_AUDIT_LOG_FILE: shared }, dir);
    assert.equal(await second.exited, 1, second.out());
    assert.match(second.out(), new RegExp(`in use by process ${process.pid}.*give each gateway its own auditLogFile`));
  } finally {
    await first.stop();
  }
  assert.ok(!existsSync(`${shared}.lock`), 'the lock is released on stop');
});

test('config check refuses what start refuses: a missing certificate file and a missing token key file', async () => {
  const dir = tempDir('kop-ops-check-');
  const file = join(dir, 'gateway.properties');
  writeFileSync(
    file,
    [
      'kafkaListeners=SASL_SSL://127.0.0.1:0',
      'authenticationEnabled=true',
      `tokenSecretKey=file://${join(dir, 'missing-secret.key')}`,
      `tlsCertificateFilePath=${join(dir, 'missing-cert.pem')}`,
      `tlsKeyFilePath=${join(dir, 'missing-key.pem')}`,
      `auditLogFile=${join(dir, 'audit.log')}`,
      `dataDirectory=${join(dir, 'data')}`,
    ].join('\n') + '\n',
  );
  const compiled = import.meta.url.endsWith('.js');
  const cli = compiled ? [join(repoRoot, 'dist/src/cli.js')] : ['--import', 'tsx', join(repoRoot, 'src/cli.ts')];
  const check = spawnGroup(process.execPath, [...cli, 'config', 'check', file], {}, dir);
  const code = await check.exited;
  assert.equal(code, 1, check.out());
  assert.match(check.out(), /TLS: .*missing-cert\.pem/);
  assert.match(check.out(), /authentication: .*missing-secret\.key/);
  assert.doesNotMatch(check.out(), /configuration is valid/);
  // and start refuses it too, before binding anything
  const start = spawnGroup(process.execPath, [...cli, 'start', '--config', file], { KOP_LOG_PRETTY: 'false' }, dir);
  assert.equal(await start.exited, 1);
  assert.match(start.out(), /kop-gateway failed to start/);
});
