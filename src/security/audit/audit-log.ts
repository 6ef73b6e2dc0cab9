/**
 * The audit access log: one JSON object per line, on its own stream (see
 * docs/audit-log.md for every field). Every record has `schema`, `ts`, `event`.
 *
 *   connection_opened / connection_closed   who connected, from where, how, and the totals
 *   authentication                          every attempt: mechanism, principal or why it failed
 *   access_denied                           every denial, written at once
 *   access_summary                          allowed accesses summarised per connection and
 *                                           (principal, operation, action, resource), written
 *                                           at close (and every summaryIntervalMs meanwhile)
 *   access_filtered                         a listing filtered by authorization: counts, not resources
 *   resource_home                           a group (later a transactional id) got its home namespace
 *   session_revoked                         an open session closed: its token or subject was revoked
 *
 * Aggregation (aggregationIntervalMs > 0), so that noise cannot flood the log
 * while nothing that matters is lost:
 *   - identical repeats of an access_denied, a failed authentication or an
 *     access_filtered record within an interval: the first is written in full,
 *     the others are counted into one `repeated` record at the interval's end
 *     (a denial for a key that was allowed meanwhile is written in full again);
 *   - connections of SASL listeners that never authenticate: their
 *     connection_opened/connection_closed are folded into one
 *     `connections_unauthenticated` record per interval (counts, listeners, top
 *     remote addresses); connection_opened of one that authenticates is written
 *     when it does (with the time it opened).
 * Successful authentications, the first of each distinct failure (so each
 * distinct principal's first failure) and each distinct denial of a named
 * resource are always written in full. `counters` says what was written and
 * what was aggregated, by kind.
 *
 * Nothing here blocks or throws into the caller: records are serialised and
 * handed to the sink, which writes asynchronously. Credentials are never
 * recorded; JWT-looking text in free-form fields is redacted as a safety net.
 * Lines are printable ASCII (JSON \u escapes for anything else), and an
 * identity that only looks like another (`admin ` or a homoglyph of `admin`)
 * also gets a visible `<field>Escaped` form (visibleIdentity), on every record
 * that carries a principal or a resource (added in emit, so none can miss it).
 */
import { hostname } from 'node:os';
import type { AuditConnectionInfo, AuditCounters, AuditLog, AuthAction } from '../types.js';
import type { AuditSink } from './sink.js';

export const AUDIT_SCHEMA_VERSION = 1;

export interface JsonAuditLogOptions {
  /** Written into every record as `node` (kafkaNodeId). */
  nodeId?: number;
  /** Periodic write of the allowed-access summaries of open connections; 0 = only at close. Default 300 000. */
  summaryIntervalMs?: number;
  /** Distinct summaries kept per connection before they are written early. Default 1000. */
  maxSummariesPerConnection?: number;
  /**
   * Aggregation of repeated records and of connections that never authenticate (see the
   * header); 0 = off, every record written one by one. Default 0 here; the gateway's
   * auditAggregationIntervalMs (60000) when built from the configuration.
   */
  aggregationIntervalMs?: number;
  /** Distinct repeat keys kept before the aggregates are written early. Default 10000. */
  maxAggregateKeys?: number;
  /** Clock (tests). */
  now?: () => number;
}

interface Summary {
  principal: string | null;
  operation: string;
  action: AuthAction;
  resource: string;
  reason: string;
  requests: number;
  records: number;
  bytes: number;
  first: number;
  last: number;
}

interface ConnState {
  remote: string | null;
  listener: string | null;
  openedAt: number;
  principal: string | null;
  summaries: Map<string, Summary>;
  denied: number;
  summaryRecords: number;
  /** connection_opened not written yet: waiting for a successful authentication. */
  deferredOpen: Record<string, unknown> | null;
  /** Not authenticated yet (SASL listeners, with aggregation on). */
  unauthenticated: boolean;
}

/** Identical records of one key within an interval: the first was written, these are counted. */
interface Repeat {
  of: 'access_denied' | 'authentication' | 'access_filtered';
  fields: Record<string, unknown>;
  count: number;
  connIds: Set<number>;
  first: number;
  last: number;
  allowed: number;
  hidden: number;
  /** access_denied: the allow key that clears it. */
  allowKey: string | null;
}

/** Connections closed without ever authenticating, within an interval. */
interface Unauthenticated {
  connections: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  listeners: Map<string, number>;
  remotes: Map<string, number>;
  otherRemotes: number;
  first: number;
  last: number;
}

const MAX_CONN_IDS = 100;
const MAX_REMOTES = 20;

const MAX_TEXT = 1024;
const JWT = /eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*/g;

/** Free-form text for the audit log: bounded, and anything that looks like a token is redacted. */
export function auditText(value: string): string {
  let s = value.replace(JWT, '[redacted-jwt]').replace(/\btoken:\S+/gi, 'token:[redacted]');
  if (s.length > MAX_TEXT) s = `${s.slice(0, MAX_TEXT)}...`;
  return s;
}

function text(value: string | null | undefined): string | null {
  return value === null || value === undefined ? null : auditText(value);
}

/** An identity a reader can tell apart from a look-alike: printable ASCII, inner single spaces. */
const PLAIN_IDENTITY = /^[\x21-\x7e](?:[\x21-\x7e]| (?=[\x21-\x7e]))*$/;

/**
 * The visible form of an identity (principal, resource) that is not plain
 * printable ASCII: every character outside U+0021..U+007E, every space that
 * is leading, trailing or doubled, and '<' itself are written as `<U+XXXX>`
 * (the Unicode code point, 4-6 hex digits). So `аdmin` (Cyrillic а) reads
 * `<U+0430>dmin`, `admin ` reads `admin<U+0020>`, a bidi override reads
 * `<U+202E>`. Null when the value is plain (then the field is left out).
 */
export function visibleIdentity(value: string | null): string | null {
  if (value === null || PLAIN_IDENTITY.test(value)) return null;
  const chars = [...value];
  let out = '';
  chars.forEach((c, i) => {
    const cp = c.codePointAt(0)!;
    const spaceOk = c === ' ' && i > 0 && i < chars.length - 1 && chars[i - 1] !== ' ' && chars[i + 1] !== ' ';
    if ((cp > 0x20 && cp < 0x7f && c !== '<') || spaceOk) out += c;
    else out += `<U+${cp.toString(16).toUpperCase().padStart(4, '0')}>`;
  });
  return auditText(out);
}

/** The identity fields of a record that get a `<field>Escaped` twin when not plain (docs/audit-log.md). */
const IDENTITY_FIELDS = ['principal', 'resource'] as const;

/** Adds `<field>Escaped` next to each identity field whose value is not plain. */
function withVisible(fields: Record<string, unknown>): Record<string, unknown> {
  for (const n of IDENTITY_FIELDS) {
    const v = fields[n];
    const escaped = typeof v === 'string' ? visibleIdentity(v) : null;
    if (escaped !== null) fields[`${n}Escaped`] = escaped;
  }
  return fields;
}

/** A JSON line of printable ASCII only: other characters as JSON \uXXXX escapes (the parsed value is unchanged). */
function asciiJson(line: string): string {
  return /[^\x20-\x7e]/.test(line) ? line.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`) : line;
}

export class JsonAuditLog implements AuditLog {
  private readonly conns = new Map<number, ConnState>();
  private readonly now: () => number;
  private readonly node: number | undefined;
  private readonly maxSummaries: number;
  private readonly timer: NodeJS.Timeout | null = null;
  private readonly aggregateTimer: NodeJS.Timeout | null = null;
  private readonly aggregating: boolean;
  private readonly maxAggregateKeys: number;
  private readonly repeats = new Map<string, Repeat>();
  /** allow key (principal, operation, action, resource) -> repeat keys of its denials */
  private readonly deniedByAllowKey = new Map<string, Set<string>>();
  private unauthenticated: Unauthenticated | null = null;
  private closed = false;
  readonly counters: AuditCounters = { written: {}, aggregated: {} };

  constructor(
    readonly sink: AuditSink,
    options: JsonAuditLogOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.node = options.nodeId;
    this.maxSummaries = options.maxSummariesPerConnection ?? 1000;
    this.maxAggregateKeys = options.maxAggregateKeys ?? 10_000;
    const every = options.summaryIntervalMs ?? 300_000;
    if (every > 0) {
      this.timer = setInterval(() => this.writeAllSummaries('interval'), every);
      this.timer.unref();
    }
    const aggregateEvery = options.aggregationIntervalMs ?? 0;
    this.aggregating = aggregateEvery > 0;
    if (this.aggregating) {
      this.aggregateTimer = setInterval(() => this.writeAggregates(), aggregateEvery);
      this.aggregateTimer.unref();
    }
    this.emit('audit_started', { pid: process.pid, host: hostname() });
  }

  connectionOpened(conn: AuditConnectionInfo): void {
    const state = this.state(conn.connId);
    state.remote = conn.remote;
    state.listener = conn.listener;
    const fields = {
      connId: conn.connId,
      remote: conn.remote,
      listener: conn.listener,
      tls: conn.tls ? { version: conn.tls.version, cipher: conn.tls.cipher } : null,
    };
    if (this.aggregating && conn.pendingAuthentication) {
      state.unauthenticated = true;
      state.deferredOpen = fields;
      return;
    }
    this.emit('connection_opened', fields);
  }

  connectionClosed(connId: number, info: { principal: string | null; clientSoftware: string | null; requests: number; bytesIn: number; bytesOut: number }): void {
    const state = this.conns.get(connId);
    if (state) this.writeSummaries(connId, state, true);
    this.conns.delete(connId);
    const now = this.now();
    if (state?.unauthenticated) {
      this.countUnauthenticated(state, info, now);
      return;
    }
    this.emit('connection_closed', {
      connId,
      remote: state?.remote ?? null,
      listener: state?.listener ?? null,
      principal: text(info.principal ?? state?.principal ?? null),
      clientSoftware: text(info.clientSoftware),
      requests: info.requests,
      bytesIn: info.bytesIn,
      bytesOut: info.bytesOut,
      durationMs: state ? now - state.openedAt : null,
      denied: state?.denied ?? 0,
      summaries: state?.summaryRecords ?? 0,
    });
  }

  authentication(connId: number, event: { mechanism: string; success: boolean; principal?: string; reason?: string; reauthentication?: boolean }): void {
    const state = this.state(connId);
    if (event.success) {
      if (event.principal !== undefined) state.principal = event.principal;
      state.unauthenticated = false;
      if (state.deferredOpen) {
        this.emit('connection_opened', state.deferredOpen, state.openedAt);
        state.deferredOpen = null;
      }
    }
    const fields = {
      connId,
      remote: state.remote,
      listener: state.listener,
      mechanism: auditText(event.mechanism),
      outcome: event.success ? 'success' : 'failure',
      principal: text(event.principal ?? null),
      reason: text(event.reason ?? null),
      reauthentication: event.reauthentication ?? false,
    };
    if (!event.success) {
      const key = `a\u0000${fields.mechanism}\u0000${fields.reason ?? ''}\u0000${fields.principal ?? ''}\u0000${fields.listener ?? ''}\u0000${fields.reauthentication}`;
      const repeatFields = { mechanism: fields.mechanism, outcome: 'failure', principal: fields.principal, reason: fields.reason, listener: fields.listener, reauthentication: fields.reauthentication };
      if (!this.firstOfRepeat('authentication', key, connId, repeatFields, null, 0, 0)) return;
    }
    this.emit('authentication', fields);
  }

  filtered(connId: number, event: { principal: string | null; operation: string; action: AuthAction; resourceType: string; allowed: number; hidden: number }): void {
    const state = this.state(connId);
    const fields = { principal: text(event.principal), operation: event.operation, action: event.action, resourceType: event.resourceType };
    const key = `f\u0000${event.principal ?? ''}\u0000${event.operation}\u0000${event.action}\u0000${event.resourceType}`;
    if (!this.firstOfRepeat('access_filtered', key, connId, fields, null, event.allowed, event.hidden)) return;
    this.emit('access_filtered', { connId, remote: state.remote, listener: state.listener, ...fields, allowed: event.allowed, hidden: event.hidden });
  }

  sessionRevoked(connId: number, event: { principal: string | null; tokenId: string | null; reason: string }): void {
    const state = this.state(connId);
    this.emit('session_revoked', {
      connId,
      remote: state.remote,
      listener: state.listener,
      principal: text(event.principal),
      tokenId: text(event.tokenId),
      reason: auditText(event.reason),
    });
  }

  homeAssigned(connId: number | null, event: { principal: string | null; operation: string | null; resource: string; namespace: string; how: 'created' | 'adopted' | 'inferred' }): void {
    const state = connId === null ? null : this.state(connId);
    this.emit('resource_home', {
      connId,
      remote: state?.remote ?? null,
      listener: state?.listener ?? null,
      principal: text(event.principal),
      operation: event.operation,
      resource: auditText(event.resource),
      namespace: auditText(event.namespace),
      how: event.how,
    });
  }

  decision(connId: number, event: { principal: string | null; operation: string; action: AuthAction; resource: string; allowed: boolean; reason: string; rule?: string; records?: number; bytes?: number }): void {
    const state = this.state(connId);
    if (!event.allowed) {
      state.denied++;
      const allowKey = `${event.principal ?? ''}\u0000${event.operation}\u0000${event.action}\u0000${event.resource}`;
      const repeatFields = { principal: text(event.principal), operation: event.operation, action: event.action, resource: auditText(event.resource), reason: auditText(event.reason) };
      if (!this.firstOfRepeat('access_denied', `d\u0000${allowKey}\u0000${event.reason}`, connId, repeatFields, allowKey, 0, 0)) return;
      this.emit('access_denied', {
        connId,
        remote: state.remote,
        listener: state.listener,
        principal: text(event.principal),
        operation: event.operation,
        action: event.action,
        resource: auditText(event.resource),
        reason: auditText(event.reason),
        records: event.records ?? 0,
        bytes: event.bytes ?? 0,
        ...(event.rule !== undefined ? { rule: auditText(event.rule) } : {}),
      });
      return;
    }
    const key = `${event.principal ?? ''}\u0000${event.operation}\u0000${event.action}\u0000${event.resource}`;
    // Allowed now: a later denial of the same access is news again, not a repeat.
    if (this.deniedByAllowKey.size > 0) this.clearDenials(key);
    const now = this.now();
    let s = state.summaries.get(key);
    if (!s) {
      if (state.summaries.size >= this.maxSummaries) this.writeSummaries(connId, state, false);
      s = {
        principal: event.principal,
        operation: event.operation,
        action: event.action,
        resource: event.resource,
        reason: event.reason,
        requests: 0,
        records: 0,
        bytes: 0,
        first: now,
        last: now,
      };
      state.summaries.set(key, s);
    }
    s.requests++;
    s.records += event.records ?? 0;
    s.bytes += event.bytes ?? 0;
    s.last = now;
  }

  /** Resolves when everything recorded so far is written (false after timeoutMs). */
  flush(timeoutMs?: number): Promise<boolean> {
    return this.sink.flush(timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    if (this.timer) clearInterval(this.timer);
    if (this.aggregateTimer) clearInterval(this.aggregateTimer);
    this.writeAllSummaries('shutdown');
    this.writeAggregates();
    this.emit('audit_stopped', { openConnections: this.conns.size });
    this.closed = true;
    this.conns.clear();
    await this.sink.close();
  }

  private state(connId: number): ConnState {
    let s = this.conns.get(connId);
    if (!s) {
      s = { remote: null, listener: null, openedAt: this.now(), principal: null, summaries: new Map(), denied: 0, summaryRecords: 0, deferredOpen: null, unauthenticated: false };
      this.conns.set(connId, s);
    }
    return s;
  }

  private writeAllSummaries(_why: 'interval' | 'shutdown'): void {
    for (const [connId, state] of this.conns) this.writeSummaries(connId, state, false);
  }

  /** Write and reset a connection's summaries; `final` when the connection is closing. */
  private writeSummaries(connId: number, state: ConnState, final: boolean): void {
    for (const s of state.summaries.values()) {
      state.summaryRecords++;
      this.emit('access_summary', {
        connId,
        remote: state.remote,
        listener: state.listener,
        principal: text(s.principal),
        operation: s.operation,
        action: s.action,
        resource: auditText(s.resource),
        reason: auditText(s.reason),
        requests: s.requests,
        records: s.records,
        bytes: s.bytes,
        first: new Date(s.first).toISOString(),
        last: new Date(s.last).toISOString(),
        final,
      });
    }
    state.summaries.clear();
  }

  /**
   * Whether a record of this repeat key is the first of the interval (write it);
   * otherwise it is counted into the key's `repeated` record. Always true with
   * aggregation off.
   */
  private firstOfRepeat(of: Repeat['of'], key: string, connId: number, fields: Record<string, unknown>, allowKey: string | null, allowed: number, hidden: number): boolean {
    if (!this.aggregating) return true;
    const now = this.now();
    const r = this.repeats.get(key);
    if (!r) {
      if (this.repeats.size >= this.maxAggregateKeys) this.writeRepeats();
      this.repeats.set(key, { of, fields, count: 0, connIds: new Set(), first: now, last: now, allowed: 0, hidden: 0, allowKey });
      if (allowKey !== null) {
        let keys = this.deniedByAllowKey.get(allowKey);
        if (!keys) this.deniedByAllowKey.set(allowKey, (keys = new Set()));
        keys.add(key);
      }
      return true;
    }
    if (r.count === 0) r.first = now;
    r.count++;
    r.last = now;
    r.allowed += allowed;
    r.hidden += hidden;
    if (r.connIds.size < MAX_CONN_IDS) r.connIds.add(connId);
    this.counters.aggregated[of] = (this.counters.aggregated[of] ?? 0) + 1;
    return false;
  }

  private clearDenials(allowKey: string): void {
    const keys = this.deniedByAllowKey.get(allowKey);
    if (!keys) return;
    this.deniedByAllowKey.delete(allowKey);
    for (const k of keys) {
      const r = this.repeats.get(k);
      if (!r) continue;
      this.repeats.delete(k);
      this.writeRepeat(r);
    }
  }

  private writeRepeat(r: Repeat): void {
    if (r.count === 0) return;
    const extra: Record<string, unknown> = r.of === 'access_filtered' ? { allowed: r.allowed, hidden: r.hidden } : {};
    this.emit('repeated', {
      of: r.of,
      ...r.fields,
      ...extra,
      count: r.count,
      connections: r.connIds.size,
      first: new Date(r.first).toISOString(),
      last: new Date(r.last).toISOString(),
    });
  }

  private writeRepeats(): void {
    for (const r of this.repeats.values()) this.writeRepeat(r);
    this.repeats.clear();
    this.deniedByAllowKey.clear();
  }

  private countUnauthenticated(state: ConnState, info: { requests: number; bytesIn: number; bytesOut: number }, now: number): void {
    let u = this.unauthenticated;
    if (!u) {
      u = { connections: 0, requests: 0, bytesIn: 0, bytesOut: 0, listeners: new Map(), remotes: new Map(), otherRemotes: 0, first: state.openedAt, last: now };
      this.unauthenticated = u;
    }
    u.connections++;
    u.requests += info.requests;
    u.bytesIn += info.bytesIn;
    u.bytesOut += info.bytesOut;
    u.first = Math.min(u.first, state.openedAt);
    u.last = now;
    const listener = state.listener ?? '?';
    u.listeners.set(listener, (u.listeners.get(listener) ?? 0) + 1);
    const address = remoteAddress(state.remote);
    if (u.remotes.has(address) || u.remotes.size < MAX_REMOTES) u.remotes.set(address, (u.remotes.get(address) ?? 0) + 1);
    else u.otherRemotes++;
    this.counters.aggregated.connection_unauthenticated = (this.counters.aggregated.connection_unauthenticated ?? 0) + 1;
  }

  /** Write what was aggregated in this interval, and start the next one. */
  private writeAggregates(): void {
    this.writeRepeats();
    const u = this.unauthenticated;
    if (!u) return;
    this.unauthenticated = null;
    this.emit('connections_unauthenticated', {
      connections: u.connections,
      requests: u.requests,
      bytesIn: u.bytesIn,
      bytesOut: u.bytesOut,
      listeners: Object.fromEntries(u.listeners),
      remotes: [...u.remotes].sort((a, b) => b[1] - a[1]).map(([address, connections]) => ({ address, connections })),
      otherRemotes: u.otherRemotes,
      first: new Date(u.first).toISOString(),
      last: new Date(u.last).toISOString(),
    });
  }

  private emit(event: string, fields: Record<string, unknown>, at?: number): void {
    if (this.closed) return;
    this.counters.written[event] = (this.counters.written[event] ?? 0) + 1;
    const record: Record<string, unknown> = { schema: AUDIT_SCHEMA_VERSION, ts: new Date(at ?? this.now()).toISOString(), event };
    if (this.node !== undefined) record.node = this.node;
    Object.assign(record, withVisible(fields));
    let line: string;
    try {
      line = `${asciiJson(JSON.stringify(record))}\n`;
    } catch {
      line = `${JSON.stringify({ schema: AUDIT_SCHEMA_VERSION, ts: record.ts, event, error: 'record could not be serialised' })}\n`;
    }
    this.sink.write(line);
  }
}

/** The address part of "ip:port" / "[v6]:port". */
function remoteAddress(remote: string | null): string {
  if (!remote) return '?';
  const i = remote.lastIndexOf(':');
  return i > 0 ? remote.slice(0, i) : remote;
}

/** The line FileAuditSink writes after records had to be dropped. */
export function droppedRecordLine(count: number, since: Date, nodeId?: number): string {
  const record: Record<string, unknown> = { schema: AUDIT_SCHEMA_VERSION, ts: new Date().toISOString(), event: 'audit_records_dropped' };
  if (nodeId !== undefined) record.node = nodeId;
  record.dropped = count;
  record.since = since.toISOString();
  return `${JSON.stringify(record)}\n`;
}
