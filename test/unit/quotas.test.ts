import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteRateQuota } from '../../src/network/quotas.js';

test('quota: no throttle under the rate; throttle proportional to the excess above it', () => {
  const q = new ByteRateQuota({ bytesPerSecond: 1000, samples: 11 });
  const t0 = 1_000_000;
  // 900 B/s for 11 s: under the quota, never throttled
  for (let s = 0; s < 11; s++) assert.equal(q.record('alice', 900, t0 + s * 1000 + 500), 0, `second ${s}`);
  // 11000 more bytes: 20900 B over 10.5 s = 1990 B/s, throttle = (1990-1000)/1000 * 10.5 s = ~10.4 s
  const throttle = q.record('alice', 11_000, t0 + 10_500);
  assert.ok(throttle > 10_000 && throttle <= 11_000, `throttle ${throttle}`);
  // quotas are per principal
  assert.equal(q.record('bob', 5000, t0 + 10_500), 0);
});

test('quota: disabled at 0, capped at the window, and idle principals are swept', () => {
  assert.equal(new ByteRateQuota({ bytesPerSecond: 0 }).record('x', 1e12), 0);
  const q = new ByteRateQuota({ bytesPerSecond: 10, samples: 3 });
  assert.equal(q.record('x', 1e9, 5000), 3000, 'never more than the window');
  q.sweep(5000 + 3001);
  assert.equal(q.record('x', 1, 9000), 0, 'forgotten after a whole idle window');
});
