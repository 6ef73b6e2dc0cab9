/**
 * The audit log's hash chain and checkpoints (src/security/audit/chain.ts,
 * verify.ts) with the real file sink: sealing in acceptance order (also when
 * records are dropped while the file fails), a checkpoint ending the old file
 * at rotation, resuming the chain at restart (from the file, or from the saved
 * state when the file was moved away), a line cut short by a crash, HMAC keys,
 * and the keys that are refused.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { join } from 'node:path';
import {
  AuditChain,
  AuditConfigError,
  createAuditLog,
  droppedRecordLine,
  FileAuditSink,
  JsonAuditLog,
  parseCheckpointKey,
  resumeChain,
  verifyAuditLog,
} from '../../src/security/audit/index.js';
import { silentLogger } from '../../src/logger.js';
import { tempDir as removedAtExit } from '../helpers/temp.js';

const tempDir = () => removedAtExit('kop-chain-');
const recs = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as Record<string, any>);

async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const deny = (audit: JsonAuditLog, i: number) => audit.decision(1, { principal: 'p', operation: 'Produce', action: 'produce', resource: `t${i}`, allowed: false, reason: 'r' });

test('seal: prev/hash appended as the last fields; the hash covers the exact text before it', async () => {
  const chain = new AuditChain({ prev: null });
  const a = chain.seal('{"schema":1,"event":"x"}\n');
  const b = chain.seal('{"schema":1,"event":"y"}');
  const ra = JSON.parse(a) as Record<string, unknown>;
  const rb = JSON.parse(b) as Record<string, unknown>;
  assert.equal(ra.prev, null);
  assert.equal(rb.prev, ra.hash);
  assert.deepEqual(Object.keys(rb).slice(-2), ['prev', 'hash']);
  assert.match(a, /\n$/);
  assert.equal(chain.last, rb.hash);
  assert.equal(chain.checkpoint('stop'), null, 'no key, no checkpoint');
});

test('HMAC key: checkpoints at rotation (ending the old file) and at close; the series verifies; a wrong secret does not', async () => {
  const dir = tempDir();
  const file = join(dir, 'audit.log');
  const secret = randomBytes(40);
  const key = parseCheckpointKey(Buffer.concat([secret, Buffer.from('\n')]));
  assert.equal(key.alg, 'hmac-sha256');
  const sink = await FileAuditSink.open(file, { rotationCheckMs: 30, chain: new AuditChain({ prev: null, key, nodeId: 3 }) });
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0, nodeId: 3 });
  deny(audit, 1);
  await audit.flush();
  renameSync(file, `${file}.1`);
  await until('the reopened file', () => {
    try {
      return readFileSync(`${file}.1`, 'utf8').includes('audit_checkpoint');
    } catch {
      return false;
    }
  });
  deny(audit, 2);
  await audit.close();
  const old = recs(`${file}.1`);
  const cur = recs(file);
  assert.deepEqual(old.map((r) => r.event), ['audit_started', 'access_denied', 'audit_checkpoint']);
  assert.equal(old[2]!.reason, 'rotation');
  assert.equal(old[2]!.records, 2);
  assert.equal(old[2]!.node, 3);
  assert.deepEqual(cur.map((r) => r.event), ['access_denied', 'audit_stopped', 'audit_checkpoint']);
  assert.equal(cur[0]!.prev, old[2]!.hash);
  assert.equal(cur[2]!.reason, 'stop');
  const ok = await verifyAuditLog([`${file}.1`, file], key);
  assert.equal(ok.outcome, 'ok');
  assert.equal(ok.signaturesChecked, 2);
  assert.equal(ok.records, 6);
  const wrong = await verifyAuditLog([`${file}.1`, file], parseCheckpointKey(randomBytes(32)));
  assert.equal(wrong.outcome, 'broken');
  assert.equal(wrong.line, 3);
  // the old file alone ends at a rotation checkpoint: open (the next file is missing)
  const alone = await verifyAuditLog([`${file}.1`], key);
  assert.equal(alone.outcome, 'open');
  assert.match(alone.reason!, /ends at a signed rotation checkpoint/);
});

test('write failure with records dropped: the file holds exactly the sealed order and verifies', async () => {
  const dir = tempDir();
  const file = join(dir, 'audit.log');
  const state = { broken: false };
  const openAppend = async (path: string): Promise<FileHandle> => {
    const fh = await openFile(path, 'a');
    const write = fh.write.bind(fh) as (...a: unknown[]) => Promise<{ bytesWritten: number }>;
    (fh as unknown as { write: unknown }).write = (...a: unknown[]) => (state.broken ? Promise.reject(Object.assign(new Error('EIO'), { code: 'EIO' })) : write(...a));
    return fh;
  };
  const sink = await FileAuditSink.open(file, {
    openFile: openAppend,
    retryMinMs: 20,
    retryMaxMs: 50,
    rotationCheckMs: 0,
    maxBufferBytes: 2000,
    droppedLine: (n, since) => droppedRecordLine(n, since),
    chain: new AuditChain({ prev: null }),
  });
  const audit = new JsonAuditLog(sink, { summaryIntervalMs: 0 });
  await audit.flush();
  state.broken = true;
  for (let i = 0; i < 40; i++) deny(audit, i);
  await until('drops', () => sink.stats.dropped > 0);
  state.broken = false;
  assert.equal(await audit.flush(5_000), true);
  await audit.close();
  const all = recs(file);
  assert.ok(all.some((r) => r.event === 'audit_records_dropped'));
  const r = await verifyAuditLog([file]);
  assert.equal(r.outcome, 'ok', r.reason ?? '');
  assert.equal(r.records, all.length);
});

test('restart: the chain resumes from the file, from the saved state when the file was moved away, and a line cut by a crash is reported', async () => {
  const dir = tempDir();
  const file = join(dir, 'audit.log');
  const cfg = { auditLogFile: file, auditSummaryIntervalMs: 0, authorizationEnabled: true, authenticationEnabled: true, kafkaNodeId: 0 };
  const run = async () => {
    const a = (await createAuditLog(cfg, silentLogger()))!;
    deny(a, 1);
    await a.close();
  };
  await run();
  const first = recs(file);
  assert.equal(first[0]!.prev, null);
  assert.equal(await resumeChain(file), first.at(-1)!.hash);
  await run();
  assert.equal((await verifyAuditLog([file])).outcome, 'ok');
  // moved away while stopped: the new file continues from <file>.chain
  renameSync(file, `${file}.1`);
  await run();
  assert.equal(recs(file)[0]!.prev, recs(`${file}.1`).at(-1)!.hash);
  assert.equal((await verifyAuditLog([`${file}.1`, file])).outcome, 'ok');
  // a crash cut the last line: the next run starts on a new line; verify names the cut line
  const before = readFileSync(file, 'utf8').split('\n').filter(Boolean).length;
  appendFileSync(file, '{"schema":1,"ts":"2026-01-0');
  await run();
  const r = await verifyAuditLog([`${file}.1`, file]);
  assert.equal(r.outcome, 'broken');
  assert.equal(r.file, file);
  assert.equal(r.line, before + 1);
  assert.match(r.reason!, /not a JSON record/);
  // a log from before the chain: its lines are an unchained prefix, the chain starts after them
  const legacy = join(dir, 'legacy.log');
  writeFileSync(legacy, '{"schema":1,"event":"audit_started"}\n');
  await createAuditLog({ ...cfg, auditLogFile: legacy }, silentLogger()).then((a) => a!.close());
  const l = await verifyAuditLog([legacy]);
  assert.equal(l.outcome, 'ok');
  assert.equal(l.unchainedPrefix, 1);
});

test('signing keys: Ed25519 private signs, public only verifies; short secrets, other key types and a public key for signing are refused', async () => {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const priv = parseCheckpointKey(Buffer.from(privateKey.export({ type: 'pkcs8', format: 'pem' }) as string));
  const pub = parseCheckpointKey(Buffer.from(publicKey.export({ type: 'spki', format: 'pem' }) as string));
  assert.equal(priv.alg, 'ed25519');
  assert.equal(priv.keyId, pub.keyId);
  assert.equal(pub.sign, null);
  assert.ok(pub.verify('x', priv.sign!('x')));
  assert.ok(!pub.verify('y', priv.sign!('x')));
  assert.throws(() => parseCheckpointKey(Buffer.from('short secret')), /at least 32 are needed/);
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
  assert.throws(() => parseCheckpointKey(Buffer.from(rsa)), /a rsa key; checkpoints are signed with Ed25519/);
  const dir = tempDir();
  const pubFile = join(dir, 'pub.pem');
  writeFileSync(pubFile, publicKey.export({ type: 'spki', format: 'pem' }));
  const base = { auditLogFile: join(dir, 'a.log'), auditSummaryIntervalMs: 0, authorizationEnabled: false, authenticationEnabled: false, kafkaNodeId: 0 };
  await assert.rejects(createAuditLog({ ...base, auditLogSigningKeyFile: pubFile }, silentLogger()), (e: Error) => e instanceof AuditConfigError && /holds a public key/.test(e.message));
  await assert.rejects(createAuditLog({ ...base, auditLogSigningKeyFile: join(dir, 'missing') }, silentLogger()), /auditLogSigningKeyFile: cannot read the key file/);
});
