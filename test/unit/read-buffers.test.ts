import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MIN_POOLED_BYTES, ReadBufferPool } from '../../src/storage/embedded/read-buffers.js';

test('read buffer pool: reuses a given-back buffer that fits, never one twice, never beyond its byte bound', () => {
  const pool = new ReadBufferPool(4 * MIN_POOLED_BYTES * 2);
  const small = pool.take(100);
  assert.ok(small.length >= 100);
  pool.give(small);
  assert.equal(pool.pooledBytes, 0, 'small buffers are not pooled');

  const a = pool.take(MIN_POOLED_BYTES + 1);
  assert.ok(a.length >= MIN_POOLED_BYTES + 1);
  const b = pool.take(MIN_POOLED_BYTES + 1);
  assert.notEqual(a.buffer, b.buffer);
  pool.give(a);
  pool.give(a); // twice
  assert.equal(pool.pooledBytes, a.length, 'a buffer given twice is pooled once');
  const c = pool.take(MIN_POOLED_BYTES);
  assert.equal(c, a, 'a fitting buffer is reused');
  const d = pool.take(MIN_POOLED_BYTES);
  assert.notEqual(d, a, 'and handed out once');

  // too large for the need (more than twice): not used for a small take
  const big = pool.take(MIN_POOLED_BYTES * 4);
  pool.give(big);
  const e = pool.take(MIN_POOLED_BYTES);
  assert.notEqual(e, big);
  assert.equal(pool.take(MIN_POOLED_BYTES * 3), big);

  // the byte bound: what does not fit is dropped
  const bounded = new ReadBufferPool(MIN_POOLED_BYTES * 2);
  const x = bounded.take(MIN_POOLED_BYTES * 2);
  const y = bounded.take(MIN_POOLED_BYTES);
  bounded.give(x);
  bounded.give(y);
  assert.equal(bounded.pooledBytes, x.length);

  // slices are never pooled (their memory belongs to a larger buffer)
  const whole = pool.take(MIN_POOLED_BYTES * 2);
  const before = pool.pooledBytes;
  pool.give(whole.subarray(1));
  assert.equal(pool.pooledBytes, before);

  // a zero bound: plain allocations, nothing kept
  const none = new ReadBufferPool(0);
  const z = none.take(MIN_POOLED_BYTES * 2);
  none.give(z);
  assert.equal(none.pooledBytes, 0);
});
