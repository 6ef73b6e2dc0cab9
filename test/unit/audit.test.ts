/**
 * The audit access log: records as docs/audit-log.md documents them, allows
 * summarised per connection, denials written at once, summaries flushed at
 * close, no credentials, the file sink (creation, failures logged loudly and
 * retried, records kept or counted when dropped, rotation) and the config rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import {
  AUDIT_SCHEMA_VERSION,
  AuditConfigError,
  auditText,
  createAuditLog,
  droppedRecordLine,
  FileAuditSink,
  JsonAuditLog,
  MemoryAuditSink,
  StdoutAuditSink,
  visibleIdentity,
} from '../../src/security/audit/index.js';
import { silentLogger } from '../../src/logger.js';
import { tempDir as removedAtExit } from '../helpers/temp.js';

type Rec = Record<string, any>;
const records = (sink: MemoryAuditSink): Rec[] => sink.records() as Rec[];

function capturingLogger(): { logger: Logger; lines: Rec[] } {
  const lines: Rec[] = [];
  return { logger: pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Rec) }), lines };
}

function tempDir(): string {
  return removedAtExit('kop-audit-');
}

function readRecords(path: string): Rec[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Rec);
}

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const FAKE_JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

function clock(start = Date.parse('2026-01-02T03:04:05.000Z')) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

test('records: schema, ts, event and the documented fields of each event', async () => {
  const sink = new MemoryAuditSink();
  const c = clock();
  const audit = new JsonAuditLog(sink, { nodeId: 3, summaryIntervalMs: 0, now: c.now });
  audit.connectionOpened({ connId: 7, remote: '10.1.2.3:50000', listener: 'SASL_SSL', tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' } });
  audit.authentication(7, { mechanism: 'PLAIN', success: false, reason: `bad token ${FAKE_JWT}` });
  audit.authentication(7, { mechanism: 'OAUTHBEARER', success: true, principal: 'alice' });
  audit.authentication(7, { mechanism: 'OAUTHBEARER', success: true, principal: 'alice', reauthentication: true });
  c.advance(1500);
  audit.connectionClosed(7, { principal: 'alice', clientSoftware: 'apache-kafka-java/3.7.0', requests: 12, bytesIn: 3400, bytesOut: 5600 });
  await audit.close();
  const recs = records(sink);
  for (const r of recs) {
    assert.equal(r.schema, AUDIT_SCHEMA_VERSION);
    assert.match(r.ts, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(r.node, 3);
    assert.equal(Object.keys(r).slice(0, 4).join(','), 'schema,ts,event,node');
  }
  assert.deepEqual(
    recs.map((r) => r.event),
    ['audit_started', 'connection_opened', 'authentication', 'authentication', 'authentication', 'connection_closed', 'audit_stopped'],
  );
  assert.equal(typeof recs[0]!.pid, 'number');
  assert.deepEqual(recs[1], {
    schema: 1,
    ts: '2026-01-02T03:04:05.000Z',
    event: 'connection_opened',
    node: 3,
    connId: 7,
    remote: '10.1.2.3:50000',
    listener: 'SASL_SSL',
    tls: { version: 'TLSv1.3', cipher: 'TLS_AES_128_GCM_SHA256' },
  });
  assert.deepEqual(recs[2], {
    schema: 1,
    ts: '2026-01-02T03:04:05.000Z',
    event: 'authentication',
    node: 3,
    connId: 7,
    remote: '10.1.2.3:50000',
    listener: 'SASL_SSL',
    mechanism: 'PLAIN',
    outcome: 'failure',
    principal: null,
    reason: 'bad token [redacted-jwt]',
    reauthentication: false,
  });
  assert.equal(recs[3]!.outcome, 'success');
  assert.equal(recs[3]!.principal, 'alice');
  assert.equal(recs[3]!.reason, null);
  assert.equal(recs[4]!.reauthentication, true);
  assert.deepEqual(recs[5], {
    schema: 1,
    ts: '2026-01-02T03:04:06.500Z',
    event: 'connection_closed',
    node: 3,
    connId: 7,
    remote: '10.1.2.3:50000',
    listener: 'SASL_SSL',
    principal: 'alice',
    clientSoftware: 'apache-kafka-java/3.7.0',
    requests: 12,
    bytesIn: 3400,
    bytesOut: 5600,
    durationMs: 1500,
    denied: 0,
    summaries: 0,
  });
  // no credential anywhere
  assert.ok(!sink.lines.join('').includes(FAKE_JWT));
});

test('plain-text listener: tls is null; records of an unknown connection still carry what is known', async () => {
  const sink = new MemoryAuditSink();
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0 });
  audit.connectionOpened({ connId: 1, remote: '127.0.0.1:4000', listener: 'PLAINTEXT' });
  audit.decision(99, { principal: null, operation: 'Metadata', action: 'lookup', resource: 'persistent://public/default/t', allowed: false, reason: 'not authenticated and no anonymousUserRole' });
  await audit.close();
  const recs = records(sink);
  assert.equal(recs[1]!.tls, null);
  assert.equal(recs[1]!.node, undefined);
  const denied = recs.find((r) => r.event === 'access_denied')!;
  assert.equal(denied.connId, 99);
  assert.equal(denied.remote, null);
  assert.equal(denied.principal, null);
});

test('denials are written at once; allows are summarised per (principal, operation, action, resource) and written at close', async () => {
  const sink = new MemoryAuditSink();
  const c = clock();
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0, now: c.now });
  audit.connectionOpened({ connId: 1, remote: '127.0.0.1:5000', listener: 'PLAINTEXT' });
  const t = 'persistent://acme/orders/payments';
  for (let i = 0; i < 3; i++) {
    audit.decision(1, { principal: 'alice', operation: 'Produce', action: 'produce', resource: t, allowed: true, reason: 'namespace grant: produce', records: 10, bytes: 1000 });
    c.advance(100);
  }
  audit.decision(1, { principal: 'alice', operation: 'Fetch', action: 'consume', resource: t, allowed: true, reason: 'namespace grant: consume', records: 5, bytes: 700 });
  audit.decision(1, { principal: 'alice', operation: 'Metadata', action: 'lookup', resource: t, allowed: true, reason: 'namespace grant: produce' });
  const before = sink.lines.length;
  audit.decision(1, { principal: 'alice', operation: 'Produce', action: 'produce', resource: 'persistent://acme/orders/secret', allowed: false, reason: 'no produce grant', records: 2, bytes: 50 });
  // the denial is out immediately, the allows are not
  assert.equal(sink.lines.length, before + 1);
  const denial = JSON.parse(sink.lines.at(-1)!) as Rec;
  assert.deepEqual(
    { ...denial, ts: undefined },
    {
      schema: 1,
      ts: undefined,
      event: 'access_denied',
      connId: 1,
      remote: '127.0.0.1:5000',
      listener: 'PLAINTEXT',
      principal: 'alice',
      operation: 'Produce',
      action: 'produce',
      resource: 'persistent://acme/orders/secret',
      reason: 'no produce grant',
      records: 2,
      bytes: 50,
    },
  );
  assert.ok(!records(sink).some((r) => r.event === 'access_summary'));
  audit.decision(1, { principal: 'alice', operation: 'Produce', action: 'produce', resource: 'persistent://acme/orders/secret', allowed: false, reason: 'no produce grant' });
  assert.equal(records(sink).filter((r) => r.event === 'access_denied').length, 2);

  audit.connectionClosed(1, { principal: 'alice', clientSoftware: null, requests: 7, bytesIn: 1, bytesOut: 2 });
  const recs = records(sink);
  const summaries = recs.filter((r) => r.event === 'access_summary');
  assert.equal(summaries.length, 3);
  assert.deepEqual(summaries[0], {
    schema: 1,
    ts: '2026-01-02T03:04:05.300Z',
    event: 'access_summary',
    connId: 1,
    remote: '127.0.0.1:5000',
    listener: 'PLAINTEXT',
    principal: 'alice',
    operation: 'Produce',
    action: 'produce',
    resource: t,
    reason: 'namespace grant: produce',
    requests: 3,
    records: 30,
    bytes: 3000,
    first: '2026-01-02T03:04:05.000Z',
    last: '2026-01-02T03:04:05.200Z',
    final: true,
  });
  assert.deepEqual([summaries[1]!.operation, summaries[1]!.requests, summaries[1]!.records, summaries[1]!.bytes], ['Fetch', 1, 5, 700]);
  assert.deepEqual([summaries[2]!.operation, summaries[2]!.records, summaries[2]!.bytes], ['Metadata', 0, 0]);
  // summaries come before the close record, which counts them
  const closed = recs.at(-1)!;
  assert.equal(closed.event, 'connection_closed');
  assert.equal(closed.denied, 2);
  assert.equal(closed.summaries, 3);
  assert.equal(closed.clientSoftware, null);
  // the connection's state is gone: a new decision on the id starts afresh
  await audit.close();
  assert.equal(records(sink).filter((r) => r.event === 'access_summary').length, 3);
});

test('summaries of long-lived connections: written every summaryIntervalMs, at the per-connection cap, and at shutdown', async () => {
  const sink = new MemoryAuditSink();
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 50, maxSummariesPerConnection: 2 });
  audit.connectionOpened({ connId: 5, remote: 'r', listener: 'L' });
  audit.decision(5, { principal: 'p', operation: 'Fetch', action: 'consume', resource: 'a', allowed: true, reason: 'x', records: 1, bytes: 1 });
  await until('the periodic summary', () => records(sink).some((r) => r.event === 'access_summary'));
  const periodic = records(sink).find((r) => r.event === 'access_summary')!;
  assert.equal(periodic.final, false);
  assert.equal(periodic.requests, 1);
  // counters restart after a periodic write
  audit.decision(5, { principal: 'p', operation: 'Fetch', action: 'consume', resource: 'a', allowed: true, reason: 'x', records: 1, bytes: 1 });
  audit.decision(5, { principal: 'p', operation: 'Fetch', action: 'consume', resource: 'b', allowed: true, reason: 'x' });
  audit.decision(5, { principal: 'p', operation: 'Fetch', action: 'consume', resource: 'c', allowed: true, reason: 'x' }); // third key: cap of 2 reached
  const early = records(sink).filter((r) => r.event === 'access_summary');
  assert.ok(early.some((r) => r.resource === 'b'), 'the cap writes the summaries early');
  await audit.close();
  const all = records(sink);
  const last = all.filter((r) => r.event === 'access_summary').at(-1)!;
  assert.equal(last.resource, 'c');
  assert.equal(last.final, false);
  assert.equal(all.at(-1)!.event, 'audit_stopped');
  assert.equal(all.at(-1)!.openConnections, 1);
  const total = all.filter((r) => r.event === 'access_summary').reduce((n, r) => n + (r.requests as number), 0);
  assert.equal(total, 4);
});

test('look-alike identities: lines are printable ASCII; a principal or resource that is not plain ASCII gets a visible <field>Escaped twin', async () => {
  assert.equal(visibleIdentity('admin'), null);
  assert.equal(visibleIdentity('pulsar user'), null, 'an inner single space is plain');
  assert.equal(visibleIdentity('admin '), 'admin<U+0020>');
  assert.equal(visibleIdentity(' admin'), '<U+0020>admin');
  assert.equal(visibleIdentity('ad  min'), 'ad<U+0020><U+0020>min');
  assert.equal(visibleIdentity('\u0430dmin'), '<U+0430>dmin');
  assert.equal(visibleIdentity('admin\u202e'), 'admin<U+202E>');
  assert.equal(visibleIdentity('ad\u200bmin'), 'ad<U+200B>min');
  assert.equal(visibleIdentity('ad\u0000min\u007f'), 'ad<U+0000>min<U+007F>');
  assert.equal(visibleIdentity('\u{1F600}<x>'), '<U+1F600><U+003C>x>', "an astral character is one code point; '<' is escaped inside an escaped form");
  assert.equal(visibleIdentity(null), null);

  const sink = new MemoryAuditSink();
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0 });
  const roles = ['admin', 'admin ', '\u0430dmin', 'admin\u202e'];
  roles.forEach((role, i) => {
    audit.authentication(i, { mechanism: 'PLAIN', success: true, principal: role });
    audit.decision(i, { principal: role, operation: 'CreateTopics', action: 'admin', resource: 'tenant acme', allowed: false, reason: `no grant for ${role}` });
    audit.decision(i, { principal: role, operation: 'Metadata', action: 'lookup', resource: 'group acme/ns/g\u00e9', allowed: true, reason: 'ok' });
    audit.connectionClosed(i, { principal: role, clientSoftware: null, requests: 1, bytesIn: 1, bytesOut: 1 });
  });
  await audit.close();
  for (const line of sink.lines) assert.doesNotMatch(line, /[^\x20-\x7e\n]/, `printable ASCII: ${line}`);
  const recs = records(sink);
  const byRole = (role: string, event: string) => recs.filter((r) => r.event === event && r.principal === role);
  for (const event of ['authentication', 'access_denied', 'access_summary', 'connection_closed']) {
    assert.equal(byRole('admin', event).length, 1, event);
    assert.equal('principalEscaped' in byRole('admin', event)[0]!, false, `${event}: a plain principal has no twin`);
    assert.equal(byRole('admin ', event)[0]!.principalEscaped, 'admin<U+0020>', event);
    assert.equal(byRole('\u0430dmin', event)[0]!.principalEscaped, '<U+0430>dmin', event);
    assert.equal(byRole('admin\u202e', event)[0]!.principalEscaped, 'admin<U+202E>', event);
  }
  const summary = byRole('admin', 'access_summary')[0]!;
  assert.equal(summary.resource, 'group acme/ns/g\u00e9', 'the parsed value is exact');
  assert.equal(summary.resourceEscaped, 'group acme/ns/g<U+00E9>');
  assert.equal('resourceEscaped' in byRole('admin', 'access_denied')[0]!, false);
  assert.ok(sink.lines.some((l) => l.includes('"principal":"\\u0430dmin"')), 'the raw line shows the escape');
});

test('auditText: bounded, tokens redacted', () => {
  assert.equal(auditText(`Bearer ${FAKE_JWT} rest`), 'Bearer [redacted-jwt] rest');
  assert.equal(auditText('password token:abc.def.ghi'), 'password token:[redacted]');
  assert.equal(auditText('x'.repeat(5000)).length, 1027);
  assert.equal(auditText('tenant/namespace'), 'tenant/namespace');
});

test('file: directories created, JSON lines appended, close flushes the summaries', async () => {
  const dir = tempDir();
  const file = join(dir, 'nested', 'logs', 'audit.log');
  writeFileSync(join(dir, 'ignored'), '');
  const audit = (await createAuditLog(
    { auditLogFile: file, auditSummaryIntervalMs: 0, authorizationEnabled: true, authenticationEnabled: true, kafkaNodeId: 0 },
    silentLogger(),
  ))!;
  assert.ok(audit instanceof JsonAuditLog);
  audit.connectionOpened({ connId: 1, remote: '127.0.0.1:1', listener: 'PLAINTEXT' });
  audit.decision(1, { principal: 'bob', operation: 'Produce', action: 'produce', resource: 't', allowed: false, reason: 'no produce grant' });
  assert.equal(await audit.flush(), true);
  // the denial reached the file without waiting for anything else
  assert.deepEqual(
    readRecords(file).map((r) => r.event),
    ['audit_started', 'connection_opened', 'access_denied'],
  );
  audit.decision(1, { principal: 'bob', operation: 'Fetch', action: 'consume', resource: 't', allowed: true, reason: 'namespace grant: consume', records: 3, bytes: 30 });
  await audit.close();
  const recs = readRecords(file);
  assert.deepEqual(
    recs.map((r) => r.event),
    ['audit_started', 'connection_opened', 'access_denied', 'access_summary', 'audit_stopped'],
  );
  assert.equal(recs[3]!.records, 3);
  // a second run appends
  const again = (await createAuditLog({ auditLogFile: file, auditSummaryIntervalMs: 0, authorizationEnabled: false, authenticationEnabled: false, kafkaNodeId: 0 }, silentLogger()))!;
  await again.close();
  assert.equal(readRecords(file).length, 7);
});

test('config: empty disables (with a warning) only when nothing is secured; - is stdout; an unopenable file fails the start', async () => {
  const { logger, lines } = capturingLogger();
  const base = { auditSummaryIntervalMs: 0, kafkaNodeId: 0, authorizationEnabled: false, authenticationEnabled: false };
  assert.equal(await createAuditLog({ ...base, auditLogFile: '' }, logger), null);
  assert.ok(lines.some((l) => l.level === 40 && /audit log DISABLED/.test(l.msg)));
  await assert.rejects(createAuditLog({ ...base, auditLogFile: '  ', authorizationEnabled: true }, logger), AuditConfigError);
  await assert.rejects(createAuditLog({ ...base, auditLogFile: '', authenticationEnabled: true }, logger), /a secured gateway must keep an audit log/);
  const stdout = (await createAuditLog({ ...base, auditLogFile: '-' }, logger))!;
  assert.ok(stdout.sink instanceof StdoutAuditSink);
  await stdout.close();
  const dir = tempDir();
  await assert.rejects(createAuditLog({ ...base, auditLogFile: dir }, logger), /auditLogFile '.*' cannot be opened for appending: EISDIR/);
  writeFileSync(join(dir, 'file'), '');
  await assert.rejects(createAuditLog({ ...base, auditLogFile: join(dir, 'file', 'audit.log') }, logger), /cannot be opened for appending/);
});

test('stdout sink writes lines to its stream', async () => {
  const chunks: string[] = [];
  const { Writable } = await import('node:stream');
  const out = new Writable({
    write(chunk, _enc, cb) {
      chunks.push(String(chunk));
      cb();
    },
  });
  const audit = new JsonAuditLog(new StdoutAuditSink(out), { summaryIntervalMs: 0 });
  audit.connectionOpened({ connId: 1, remote: 'r', listener: 'L' });
  await audit.close();
  assert.deepEqual(
    chunks.join('').split('\n').filter(Boolean).map((l) => (JSON.parse(l) as Rec).event),
    ['audit_started', 'connection_opened', 'audit_stopped'],
  );
});

test('unwritable file (/dev/full): a LOUD error on the main log, repeated while it lasts, and the writer keeps retrying', { skip: process.platform !== 'linux' }, async () => {
  const { logger, lines } = capturingLogger();
  const sink = await FileAuditSink.open('/dev/full', { logger, retryMinMs: 20, retryMaxMs: 40, repeatErrorMs: 100, rotationCheckMs: 0, closeTimeoutMs: 200 });
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0 });
  audit.decision(1, { principal: 'x', operation: 'Produce', action: 'produce', resource: 't', allowed: false, reason: 'r' });
  await until('the loud error', () => lines.some((l) => l.level === 50 && /^AUDIT LOG WRITE FAILED/.test(l.msg)));
  const first = lines.find((l) => /^AUDIT LOG WRITE FAILED/.test(l.msg))!;
  assert.equal(first.auditLogFile, '/dev/full');
  assert.equal(first.code, 'ENOSPC');
  assert.ok(first.queuedBytes > 0);
  assert.equal(sink.stats.failing, true);
  await until('a repeated error while still failing', () => lines.some((l) => l.level === 50 && /^AUDIT LOG STILL CANNOT BE WRITTEN/.test(l.msg)));
  assert.equal(await audit.flush(100), false);
  await audit.close();
  assert.ok(lines.some((l) => l.level === 50 && /closing with audit records that could not be written/.test(l.msg)));
});

/** A file handle whose writes fail while `broken` is true. */
function flakyOpener(state: { broken: boolean; opens: number }) {
  return async (path: string): Promise<FileHandle> => {
    state.opens++;
    const fh = await openFile(path, 'a');
    return new Proxy(fh, {
      get(target, prop, receiver) {
        if (prop === 'write') {
          return async (...args: unknown[]) => {
            if (state.broken) throw Object.assign(new Error('EIO: i/o error, write'), { code: 'EIO' });
            return (target.write as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
      },
    });
  };
}

test('write failure: records are kept in order and written after the file is reopened; overflow is counted and reported', async () => {
  const dir = tempDir();
  const file = join(dir, 'audit.log');
  const state = { broken: false, opens: 0 };
  const { logger, lines } = capturingLogger();
  const sink = await FileAuditSink.open(file, {
    logger,
    openFile: flakyOpener(state),
    retryMinMs: 20,
    retryMaxMs: 50,
    rotationCheckMs: 0,
    maxBufferBytes: 2000,
    droppedLine: (n, since) => droppedRecordLine(n, since),
  });
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0 });
  await audit.flush();
  state.broken = true;
  for (let i = 0; i < 5; i++) audit.decision(1, { principal: 'p', operation: 'Produce', action: 'produce', resource: `t${i}`, allowed: false, reason: 'r' });
  await until('the failure', () => sink.stats.failing);
  assert.ok(lines.some((l) => l.level === 50 && /^AUDIT LOG WRITE FAILED/.test(l.msg) && l.code === 'EIO'));
  // fill the buffer: the rest is dropped and counted
  for (let i = 5; i < 40; i++) audit.decision(1, { principal: 'p', operation: 'Produce', action: 'produce', resource: `t${i}`, allowed: false, reason: 'r' });
  assert.ok(sink.stats.dropped > 0);
  assert.ok(lines.some((l) => l.level === 50 && /audit records are being DROPPED/.test(l.msg)));
  const dropped = sink.stats.dropped;
  const opensBefore = state.opens;
  state.broken = false;
  assert.equal(await audit.flush(5_000), true);
  assert.ok(state.opens > opensBefore, 'the file was reopened');
  assert.ok(lines.some((l) => l.level === 40 && /the file is writable again/.test(l.msg)));
  await audit.close();
  const recs = readRecords(file);
  const denied = recs.filter((r) => r.event === 'access_denied').map((r) => r.resource as string);
  assert.deepEqual(denied, Array.from({ length: 40 - dropped }, (_, i) => `t${i}`), 'kept records in order, none twice');
  const report = recs.find((r) => r.event === 'audit_records_dropped')!;
  assert.equal(report.dropped, dropped);
  assert.equal(report.schema, 1);
  assert.match(report.since, /Z$/);
});

test('rotation: a moved or deleted file is noticed and reopened under its name', async () => {
  const dir = tempDir();
  const file = join(dir, 'audit.log');
  const { logger, lines } = capturingLogger();
  const sink = await FileAuditSink.open(file, { logger, rotationCheckMs: 30 });
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0 });
  audit.connectionOpened({ connId: 1, remote: 'r', listener: 'L' });
  await audit.flush();
  renameSync(file, `${file}.1`);
  await until('the reopen', () => lines.some((l) => /reopened under its name/.test(l.msg)));
  audit.connectionOpened({ connId: 2, remote: 'r', listener: 'L' });
  await audit.close();
  assert.deepEqual(
    readRecords(`${file}.1`).map((r) => r.event),
    ['audit_started', 'connection_opened'],
  );
  assert.deepEqual(
    readRecords(file).map((r) => [r.event, r.connId]),
    [
      ['connection_opened', 2],
      ['audit_stopped', undefined],
    ],
  );
  // deleted directory: recreated on reopen
  const dir2 = join(tempDir(), 'gone');
  mkdirSync(dir2);
  const sink2 = await FileAuditSink.open(join(dir2, 'a.log'), { rotationCheckMs: 30 });
  rmSync(dir2, { recursive: true });
  await until('the recreated file', () => {
    try {
      readFileSync(join(dir2, 'a.log'));
      return true;
    } catch {
      return false;
    }
  });
  sink2.write('{"x":1}\n');
  await sink2.close();
  assert.equal(readFileSync(join(dir2, 'a.log'), 'utf8'), '{"x":1}\n');
});

test('aggregation: identical denials, failures and filtered listings within an interval are written once and counted; an allow in between makes a denial news again', async () => {
  const sink = new MemoryAuditSink();
  const c = clock();
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0, aggregationIntervalMs: 3_600_000, now: c.now });
  audit.connectionOpened({ connId: 1, remote: '127.0.0.1:5000', listener: 'PLAINTEXT' });
  const denied = { principal: 'mallory', operation: 'Produce', action: 'produce' as const, resource: 'persistent://acme/orders/secret', allowed: false, reason: 'no produce grant' };
  for (let i = 0; i < 500; i++) {
    audit.decision(1, denied);
    c.advance(1);
  }
  // a different reason, or another resource, is a different denial: written
  audit.decision(1, { ...denied, reason: 'policy unavailable' });
  audit.decision(1, { ...denied, resource: 'persistent://acme/orders/other' });
  for (let i = 0; i < 300; i++) audit.filtered(1, { principal: 'mallory', operation: 'Metadata', action: 'lookup', resourceType: 'topic', allowed: 2, hidden: 10_000 });
  for (let i = 0; i < 50; i++) audit.authentication(1, { mechanism: 'PLAIN', success: false, reason: 'signature verification failed' });
  audit.authentication(1, { mechanism: 'PLAIN', success: false, principal: 'bob', reason: 'token expired' });
  audit.authentication(1, { mechanism: 'PLAIN', success: true, principal: 'mallory' });
  audit.authentication(1, { mechanism: 'PLAIN', success: true, principal: 'mallory', reauthentication: true });
  let recs = records(sink);
  assert.equal(recs.filter((r) => r.event === 'access_denied').length, 3, 'one per distinct denial');
  assert.equal(recs.filter((r) => r.event === 'access_filtered').length, 1);
  const filtered = recs.find((r) => r.event === 'access_filtered')!;
  assert.deepEqual([filtered.operation, filtered.resourceType, filtered.allowed, filtered.hidden, filtered.connId], ['Metadata', 'topic', 2, 10_000, 1]);
  assert.equal(recs.filter((r) => r.event === 'authentication' && r.outcome === 'failure').length, 2, 'first of each distinct failure (and principal)');
  assert.equal(recs.filter((r) => r.event === 'authentication' && r.outcome === 'success').length, 2, 'every success');
  // allowed once: the next denial of the same access is written again, after the repeats so far
  audit.decision(1, { ...denied, allowed: true, reason: 'namespace grant: produce' });
  audit.decision(1, denied);
  recs = records(sink);
  const repeatedDenial = recs.find((r) => r.event === 'repeated' && r.of === 'access_denied')!;
  assert.equal(repeatedDenial.count, 499);
  assert.equal(repeatedDenial.resource, denied.resource);
  assert.equal(repeatedDenial.connections, 1);
  assert.equal(recs.filter((r) => r.event === 'access_denied').length, 4);
  assert.deepEqual(audit.counters.aggregated, { access_denied: 499, access_filtered: 299, authentication: 49 });
  await audit.close();
  recs = records(sink);
  const rep = (of: string) => recs.filter((r) => r.event === 'repeated' && r.of === of);
  assert.deepEqual(rep('access_filtered').map((r) => [r.count, r.hidden, r.allowed]), [[299, 299 * 10_000, 299 * 2]]);
  assert.deepEqual(rep('authentication').map((r) => [r.count, r.reason, r.principal]), [[49, 'signature verification failed', null]]);
  assert.equal(audit.counters.written.access_denied, 4);
  assert.equal(audit.counters.written.repeated, 3);
  // nothing is lost: written + aggregated covers every call
  assert.equal((audit.counters.written.access_denied ?? 0) + audit.counters.aggregated.access_denied!, 503);
});

test('aggregation: connections that never authenticate are counted per interval; one that authenticates gets its connection_opened (with the time it opened)', async () => {
  const sink = new MemoryAuditSink();
  const c = clock();
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0, aggregationIntervalMs: 3_600_000, now: c.now });
  for (let i = 0; i < 30; i++) {
    audit.connectionOpened({ connId: 100 + i, remote: `10.0.0.${i % 25}:4${i}`, listener: 'SASL_SSL', pendingAuthentication: true });
    c.advance(10);
    audit.connectionClosed(100 + i, { principal: null, clientSoftware: null, requests: 1, bytesIn: 100, bytesOut: 0 });
  }
  audit.connectionOpened({ connId: 7, remote: '10.1.2.3:50000', listener: 'SASL_SSL', pendingAuthentication: true });
  const openedAt = new Date(c.now()).toISOString();
  c.advance(500);
  assert.ok(!records(sink).some((r) => r.event === 'connection_opened'), 'nothing per connection yet');
  audit.authentication(7, { mechanism: 'PLAIN', success: true, principal: 'alice' });
  audit.connectionClosed(7, { principal: 'alice', clientSoftware: null, requests: 3, bytesIn: 10, bytesOut: 10 });
  await audit.close();
  const recs = records(sink);
  assert.deepEqual(
    recs.map((r) => r.event),
    ['audit_started', 'connection_opened', 'authentication', 'connection_closed', 'connections_unauthenticated', 'audit_stopped'],
  );
  assert.equal(recs[1]!.ts, openedAt);
  assert.equal(recs[1]!.connId, 7);
  const u = recs[4]!;
  assert.equal(u.connections, 30);
  assert.equal(u.requests, 30);
  assert.equal(u.bytesIn, 3000);
  assert.deepEqual(u.listeners, { SASL_SSL: 30 });
  assert.equal(u.remotes.length, 20, 'top remote addresses, bounded');
  assert.equal(u.remotes.reduce((n: number, r: { connections: number }) => n + r.connections, 0) + u.otherRemotes, 30);
  assert.equal(audit.counters.aggregated.connection_unauthenticated, 30);
});
