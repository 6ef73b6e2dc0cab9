/**
 * The fetch session cache (src/handlers/fetch-session.ts): Kafka's contexts
 * (FetchManager.newContext), error codes, what an incremental response
 * carries, eviction (FetchSessionCacheShard.tryEvict) and the gateway's
 * per-connection and per-session bounds. The wire behaviour is in
 * test/e2e/fetch-sessions.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FetchSessionCache, FINAL_EPOCH, INITIAL_EPOCH, nextEpoch, partitionKey, type PartitionRequest, type PartitionResult } from '../../src/handlers/fetch-session.js';
import { ErrorCode } from '../../src/protocol/errors.js';

const ZERO = Buffer.alloc(16);
const ID_A = Buffer.alloc(16, 0xa);

function req(topic: string, partition: number, fetchOffset = 0n, topicId = ZERO): PartitionRequest {
  return { topic, topicId, partition, fetchOffset, partitionMaxBytes: 1 << 20, currentLeaderEpoch: -1 };
}

function ok(hw: bigint, recordBytes = 0, logStart = 0n): PartitionResult {
  return { errorCode: ErrorCode.NONE, highWatermark: hw, logStartOffset: logStart, recordBytes };
}

function clock(start = 1_000_000) {
  const c = { t: start, now: () => c.t };
  return c;
}

function cache(limits: Partial<{ maxSessions: number; maxPerConnection: number; maxPartitions: number; evictionMs: number }> = {}, c = clock()) {
  let seq = 0;
  // deterministic ids: 1, 2, 3... (random() picks the id)
  const random = () => ++seq / 0x7fffffff;
  return new FetchSessionCache({ maxSessions: 10, maxPerConnection: 4, maxPartitions: 100, ...limits }, c.now, random);
}

function open(fs: FetchSessionCache, conn: number, parts: PartitionRequest[], v = 12, hw = 10n) {
  const ctx = fs.newContext(conn, v, 0, INITIAL_EPOCH, parts, []);
  assert.equal(ctx.kind, 'full');
  const s = fs.createSession(conn, v >= 13, parts.map((p) => ({ request: p, result: ok(hw) })));
  assert.ok(s, 'a session was created');
  return s;
}

test('nextEpoch: 1, 2, ... wraps from 2^31-1 to 1; the final epoch stays final', () => {
  assert.equal(nextEpoch(0), 1);
  assert.equal(nextEpoch(41), 42);
  assert.equal(nextEpoch(0x7fffffff), 1);
  assert.equal(nextEpoch(FINAL_EPOCH), FINAL_EPOCH);
});

test('a full fetch (epoch 0) opens a session at epoch 1; epoch -1 stays sessionless and closes a named session', () => {
  const fs = cache();
  const s = open(fs, 1, [req('a', 0), req('a', 1)]);
  assert.equal(s.epoch, 1);
  assert.equal(fs.size, 1);
  assert.deepEqual(fs.newContext(1, 12, 0, FINAL_EPOCH, [req('a', 0)], []), { kind: 'sessionless' });
  assert.equal(fs.size, 1, 'session id 0 names no session');
  assert.deepEqual(fs.newContext(1, 12, s.id, FINAL_EPOCH, [], []), { kind: 'sessionless' });
  assert.equal(fs.size, 0, 'the named session is closed');
});

test('a full fetch naming an existing session closes it and may open a new one', () => {
  const fs = cache();
  const s = open(fs, 1, [req('a', 0)]);
  const ctx = fs.newContext(1, 12, s.id, INITIAL_EPOCH, [req('a', 0)], []);
  assert.equal(ctx.kind, 'full');
  assert.equal(fs.get(1, s.id), undefined);
});

test("incremental errors: unknown id, another connection's id, wrong epoch, topic-id mismatch (Kafka's codes)", () => {
  const fs = cache();
  const s = open(fs, 1, [req('a', 0)]);
  const err = (ctx: ReturnType<FetchSessionCache['newContext']>) => (ctx.kind === 'error' ? ctx.errorCode : ctx.kind);
  assert.equal(err(fs.newContext(1, 12, 999, 1, [], [])), ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  assert.equal(err(fs.newContext(2, 12, s.id, 1, [], [])), ErrorCode.FETCH_SESSION_ID_NOT_FOUND, 'sessions belong to their connection');
  assert.equal(err(fs.newContext(1, 12, s.id, 2, [], [])), ErrorCode.INVALID_FETCH_SESSION_EPOCH);
  assert.equal(err(fs.newContext(1, 13, s.id, 1, [], [])), ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR, 'a name session used with topic ids');
  const t = open(fs, 1, [req('', 0, 0n, ID_A)], 13);
  assert.equal(err(fs.newContext(1, 12, t.id, 1, [], [])), ErrorCode.FETCH_SESSION_TOPIC_ID_ERROR, 'a topic-id session used by names');
  // errors leave the session as it was: the right epoch still works
  assert.equal(fs.newContext(1, 12, s.id, 1, [], []).kind, 'incremental');
  assert.equal(s.epoch, 2);
});

test('incremental: named partitions are added or updated, forgotten ones removed, an emptied session closes', () => {
  const fs = cache();
  const s = open(fs, 1, [req('a', 0), req('a', 1)]);
  const ctx = fs.newContext(1, 12, s.id, 1, [req('a', 1, 7n), req('b', 0, 3n)], [{ topic: 'a', topicId: ZERO, partition: 0 }]);
  assert.equal(ctx.kind, 'incremental');
  assert.deepEqual(
    [...s.partitions.values()].map((p) => [p.topic, p.partition, p.fetchOffset]),
    [
      ['a', 1, 7n],
      ['b', 0, 3n],
    ],
  );
  const last = fs.newContext(1, 12, s.id, 2, [], [
    { topic: 'a', topicId: ZERO, partition: 1 },
    { topic: 'b', topicId: ZERO, partition: 0 },
  ]);
  assert.deepEqual(last, { kind: 'sessionless' });
  assert.equal(fs.size, 0);
});

test('what an incremental response carries: records, a moved high watermark or log start, errors (and the partition again once the error is gone)', () => {
  const fs = cache();
  const s = open(fs, 1, [req('a', 0), req('a', 1), req('a', 2)], 12, 10n);
  const k = (p: number) => partitionKey(false, 'a', ZERO, p);
  assert.equal(s.mustRespond(k(0), ok(10n)), false, 'nothing changed');
  assert.equal(s.mustRespond(k(1), ok(11n)), true, 'the high watermark moved');
  assert.equal(s.mustRespond(k(1), ok(11n)), false, 'and is remembered');
  assert.equal(s.mustRespond(k(2), ok(10n, 0, 5n)), true, 'the log start moved');
  assert.equal(s.mustRespond(k(0), { errorCode: ErrorCode.NOT_LEADER_OR_FOLLOWER, highWatermark: -1n, logStartOffset: 0n, recordBytes: 0 }), true, 'errors always');
  assert.equal(s.mustRespond(k(0), ok(10n)), true, 'the partition is sent again after an error');
  assert.equal(s.mustRespond(k(0), ok(10n)), false);
  assert.equal(s.mustRespond(k(0), ok(10n, 100)), true, 'records always');
  assert.deepEqual(
    [...s.partitions.values()].map((p) => p.partition),
    [1, 2, 0],
    'a partition that returned records moves to the end',
  );
});

test('topic-id sessions key partitions by id: a forgotten id removes its partition whatever the name', () => {
  const fs = cache();
  const s = open(fs, 1, [req('', 0, 0n, ID_A), req('', 1, 0n, ID_A)], 13);
  fs.newContext(1, 13, s.id, 1, [], [{ topic: '', topicId: ID_A, partition: 1 }]);
  assert.deepEqual([...s.partitions.values()].map((p) => p.partition), [0]);
});

test('per-connection bound: a connection opening one session too many loses its least recently used one', () => {
  const c = clock();
  const fs = cache({ maxPerConnection: 2 }, c);
  const s1 = open(fs, 1, [req('a', 0)]);
  c.t += 10;
  const s2 = open(fs, 1, [req('a', 0)]);
  c.t += 10;
  assert.equal(fs.newContext(1, 12, s1.id, 1, [], []).kind, 'incremental', 's1 used after s2');
  const s3 = open(fs, 1, [req('a', 0)]);
  assert.equal(fs.countFor(1), 2);
  assert.ok(fs.get(1, s1.id) && fs.get(1, s3.id));
  assert.equal(fs.get(1, s2.id), undefined, 's2 was the least recently used');
  const other = open(fs, 2, [req('a', 0)]);
  assert.ok(fs.get(2, other.id), "another connection's sessions are not affected");
});

test('per-session bound: a larger full fetch gets no session; an incremental one growing past it closes the session', () => {
  const fs = cache({ maxPartitions: 3 });
  const big = [0, 1, 2, 3].map((p) => req('a', p));
  assert.equal(fs.createSession(1, false, big.map((p) => ({ request: p, result: ok(0n) }))), null);
  const s = open(fs, 1, big.slice(0, 3));
  const ctx = fs.newContext(1, 12, s.id, 1, [req('a', 3)], []);
  assert.equal(ctx.kind === 'error' && ctx.errorCode, ErrorCode.FETCH_SESSION_ID_NOT_FOUND);
  assert.equal(fs.size, 0);
});

test("gateway bound and Kafka's eviction: a stale session goes first; else a larger new session evicts the smallest one older than the eviction time", () => {
  const c = clock();
  const fs = cache({ maxSessions: 2, evictionMs: 1000 }, c);
  const small = open(fs, 1, [req('a', 0)]);
  const big = open(fs, 2, [req('a', 0), req('a', 1), req('a', 2)]);
  // full, nothing evictable yet (both recent): no session, the client stays sessionless
  assert.equal(fs.createSession(3, false, [0, 1, 2, 3].map((p) => ({ request: req('a', p), result: ok(0n) }))), null);
  // both used after the eviction time since creation: both evictable, neither stale
  c.t += 1500;
  assert.equal(fs.newContext(1, 12, small.id, 1, [], []).kind, 'incremental');
  assert.equal(fs.newContext(2, 12, big.id, 1, [], []).kind, 'incremental');
  // a new session of the same size as the smallest does not evict it
  assert.equal(fs.createSession(3, false, [{ request: req('a', 0), result: ok(0n) }]), null);
  // a larger one evicts the smallest
  const two = fs.createSession(3, false, [0, 1].map((p) => ({ request: req('a', p), result: ok(0n) })));
  assert.ok(two);
  assert.equal(fs.get(1, small.id), undefined);
  assert.ok(fs.get(2, big.id));
  assert.equal(fs.evictions, 1);
  // unused for longer than the eviction time: the least recently used goes, whatever its size
  c.t += 1001;
  assert.equal(fs.newContext(3, 12, two.id, 1, [], []).kind, 'incremental');
  const one = fs.createSession(4, false, [{ request: req('a', 0), result: ok(0n) }]);
  assert.ok(one);
  assert.equal(fs.get(2, big.id), undefined, 'the stale (least recently used) session was evicted');
  assert.equal(fs.evictions, 2);
});

test('a closed connection frees its sessions; 0 slots means no sessions at all', () => {
  const fs = cache();
  open(fs, 1, [req('a', 0)]);
  open(fs, 1, [req('a', 1)]);
  const kept = open(fs, 2, [req('a', 0)]);
  fs.dropConnection(1);
  assert.equal(fs.size, 1);
  assert.equal(fs.countFor(1), 0);
  assert.ok(fs.get(2, kept.id));
  const none = cache({ maxSessions: 0 });
  assert.equal(none.createSession(1, false, [{ request: req('a', 0), result: ok(0n) }]), null);
});

test('a session knows the distinct topics of its partitions (what each fetch authorizes), as partitions join and are forgotten', () => {
  const fs = cache();
  const ID_B = Buffer.alloc(16, 0xb);
  const s = open(fs, 1, [req('a', 0, 0n, ID_A), req('a', 1, 0n, ID_A), req('b', 0, 0n, ID_B)], 13);
  const topics = () => [...s.topics()].map((t) => t.topicId.toString('hex')).sort();
  assert.deepEqual(topics(), [ID_A.toString('hex'), ID_B.toString('hex')]);
  // one partition of a forgotten: the topic stays; the last one: it goes; a new topic joins
  const ID_C = Buffer.alloc(16, 0xc);
  let ctx = fs.newContext(1, 13, s.id, s.epoch, [req('c', 3, 0n, ID_C)], [{ topic: '', topicId: ID_A, partition: 0 }]);
  assert.equal(ctx.kind, 'incremental');
  assert.deepEqual(topics(), [ID_A.toString('hex'), ID_B.toString('hex'), ID_C.toString('hex')]);
  ctx = fs.newContext(1, 13, s.id, s.epoch, [], [{ topic: '', topicId: ID_A, partition: 1 }, { topic: '', topicId: ID_B, partition: 0 }]);
  assert.equal(ctx.kind, 'incremental');
  assert.deepEqual(topics(), [ID_C.toString('hex')]);
  // each cached partition carries its session key
  for (const [key, p] of s.partitions) assert.equal(p.key, key);
  assert.equal(s.partitions.get(partitionKey(true, '', ID_C, 3))?.partition, 3);
});
