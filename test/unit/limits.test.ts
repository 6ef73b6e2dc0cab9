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

test('limits: unauthenticated connections have their own caps, per address and in total; authenticating gives the slot back', () => {
  const l = new ConnectionLimits({ maxConnections: 100, maxConnectionsPerIp: 100, maxConnectionCreationRate: 0, maxUnauthenticatedConnections: 3, maxUnauthenticatedConnectionsPerIp: 2 });
  const a1 = l.admitConnection('a', false);
  const a2 = l.admitConnection('a', false);
  assert.ok(a1.ok && a2.ok);
  const a3 = l.admitConnection('a', false);
  assert.equal(a3.ok, false);
  assert.equal(!a3.ok && a3.cause, 'unauthenticatedPerIp');
  assert.match(!a3.ok ? a3.reason : '', /2 connections from a not yet authenticated \(maxUnauthenticatedConnectionsPerIp\)/);
  assert.equal(l.open, 2, 'a refused connection takes no slot');
  const b1 = l.admitConnection('b', false);
  assert.ok(b1.ok);
  const c1 = l.admitConnection('c', false);
  assert.equal(!c1.ok && c1.cause, 'unauthenticated', 'total unauthenticated cap');
  // PLAINTEXT connections are never unauthenticated: the unauthenticated caps do not apply
  assert.ok(l.admitConnection('a', true).ok);
  // a1 authenticates: its unauthenticated slot is free again, its connection slot is not
  if (!a1.ok) throw new Error('unreachable');
  a1.ticket.authenticated();
  a1.ticket.authenticated(); // idempotent
  assert.equal(l.unauthenticated, 2);
  assert.equal(l.open, 4);
  const a4 = l.admitConnection('a', false);
  assert.ok(a4.ok, 'an address with authenticated connections still gets a new unauthenticated slot');
  // release is idempotent and also frees the unauthenticated slot of a connection that never authenticated
  if (!a2.ok || !a4.ok || !b1.ok) throw new Error('unreachable');
  a2.ticket.release();
  a2.ticket.release();
  a1.ticket.release();
  assert.equal(l.unauthenticated, 2);
  assert.equal(l.open, 3);
  a4.ticket.release();
  b1.ticket.release();
  assert.equal(l.unauthenticated, 0);
  assert.equal(l.open, 1);
});

test('limits: the connection caps still bound authenticated and unauthenticated connections together', () => {
  const l = new ConnectionLimits({ maxConnections: 2, maxConnectionsPerIp: 2, maxConnectionCreationRate: 0, maxUnauthenticatedConnections: 10, maxUnauthenticatedConnectionsPerIp: 10 });
  assert.ok(l.admitConnection('a', true).ok);
  assert.ok(l.admitConnection('b', false).ok);
  const r = l.admitConnection('c', false);
  assert.equal(!r.ok && r.cause, 'maxConnections');
  assert.equal(l.unauthenticated, 1, 'a connection refused by the total cap takes no unauthenticated slot');
});

test('refusals are counted per reason and logged at most once a second per reason, with the number not logged', async () => {
  const { boundCounters, noteRefusal } = await import('../../src/network/counters.js');
  const lines: Array<Record<string, unknown>> = [];
  const log = { warn: (fields: Record<string, unknown>, msg: string) => void lines.push({ ...fields, msg }) } as unknown as import('../../src/logger.js').Logger;
  const before = boundCounters.refused.unauthenticatedPerIp;
  for (let i = 0; i < 5; i++) noteRefusal(log, 'unauthenticatedPerIp', { remote: 'x' }, 'connection refused', 10_000 + i);
  noteRefusal(log, 'tlsHandshakeTimeout', {}, 'TLS handshake not complete in time', 10_005);
  noteRefusal(log, 'unauthenticatedPerIp', { remote: 'x' }, 'connection refused', 11_001);
  assert.equal(boundCounters.refused.unauthenticatedPerIp, before + 6);
  assert.deepEqual(
    lines.map((l) => [l.reason, l.suppressedSinceLastLine ?? 0]),
    [
      ['unauthenticatedPerIp', 0],
      ['tlsHandshakeTimeout', 0],
      ['unauthenticatedPerIp', 4],
    ],
  );
});
