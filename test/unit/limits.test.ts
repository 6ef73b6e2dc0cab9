import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConnectionLimits } from '../../src/network/limits.js';

test('limits: total, per-address and creation-rate caps, and release', () => {
  const l = new ConnectionLimits({ maxConnections: 3, maxConnectionsPerIp: 2, maxConnectionCreationRate: 0 });
  assert.equal(l.admit('a').ok, true);
  assert.equal(l.admit('a').ok, true);
  assert.match((l.admit('a') as { reason: string }).reason, /from a \(maxConnectionsPerIp\)/);
  assert.equal(l.admit('b').ok, true);
  assert.match((l.admit('c') as { reason: string }).reason, /maxConnections/);
  l.release('a');
  assert.equal(l.admit('c').ok, true);
  assert.equal(l.open, 3);

  const r = new ConnectionLimits({ maxConnections: 100, maxConnectionsPerIp: 100, maxConnectionCreationRate: 2 });
  assert.equal(r.admit('x', 1000).ok, true);
  assert.equal(r.admit('x', 1500).ok, true);
  assert.equal(r.admit('x', 1999).ok, false, 'third in the same second');
  assert.equal(r.admit('x', 2001).ok, true, 'the first left the window');
});
