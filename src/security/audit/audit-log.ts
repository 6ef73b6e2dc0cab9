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
 *
 * Nothing here blocks or throws into the caller: records are serialised and
 * handed to the sink, which writes asynchronously. Credentials are never
 * recorded; JWT-looking text in free-form fields is redacted as a safety net.
 * Lines are printable ASCII (JSON \u escapes for anything else), and an
 * identity that only looks like another (`admin ` or a homoglyph of `admin`)
 * also gets a visible `<field>Escaped` form (visibleIdentity).
 */
import { hostname } from 'node:os';
import type { AuditConnectionInfo, AuditLog, AuthAction } from '../types.js';
import type { AuditSink } from './sink.js';

export const AUDIT_SCHEMA_VERSION = 1;

export interface JsonAuditLogOptions {
  /** Written into every record as `node` (kafkaNodeId). */
  nodeId?: number;
  /** Periodic write of the allowed-access summaries of open connections; 0 = only at close. Default 300 000. */
  summaryIntervalMs?: number;
  /** Distinct summaries kept per connection before they are written early. Default 1000. */
  maxSummariesPerConnection?: number;
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
}

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

/** Adds `<field>Escaped` next to an identity field whose value is not plain (docs/audit-log.md). */
function withVisible(fields: Record<string, unknown>, ...names: string[]): Record<string, unknown> {
  for (const n of names) {
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
  private closed = false;

  constructor(
    readonly sink: AuditSink,
    options: JsonAuditLogOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.node = options.nodeId;
    this.maxSummaries = options.maxSummariesPerConnection ?? 1000;
    const every = options.summaryIntervalMs ?? 300_000;
    if (every > 0) {
      this.timer = setInterval(() => this.writeAllSummaries('interval'), every);
      this.timer.unref();
    }
    this.emit('audit_started', { pid: process.pid, host: hostname() });
  }

  connectionOpened(conn: AuditConnectionInfo): void {
    const state = this.state(conn.connId);
    state.remote = conn.remote;
    state.listener = conn.listener;
    this.emit('connection_opened', {
      connId: conn.connId,
      remote: conn.remote,
      listener: conn.listener,
      tls: conn.tls ? { version: conn.tls.version, cipher: conn.tls.cipher } : null,
    });
  }

  connectionClosed(connId: number, info: { principal: string | null; clientSoftware: string | null; requests: number; bytesIn: number; bytesOut: number }): void {
    const state = this.conns.get(connId);
    if (state) this.writeSummaries(connId, state, true);
    this.conns.delete(connId);
    const now = this.now();
    this.emit('connection_closed', withVisible({
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
    }, 'principal'));
  }

  authentication(connId: number, event: { mechanism: string; success: boolean; principal?: string; reason?: string; reauthentication?: boolean }): void {
    const state = this.state(connId);
    if (event.success && event.principal !== undefined) state.principal = event.principal;
    this.emit('authentication', withVisible({
      connId,
      remote: state.remote,
      listener: state.listener,
      mechanism: auditText(event.mechanism),
      outcome: event.success ? 'success' : 'failure',
      principal: text(event.principal ?? null),
      reason: text(event.reason ?? null),
      reauthentication: event.reauthentication ?? false,
    }, 'principal'));
  }

  decision(connId: number, event: { principal: string | null; operation: string; action: AuthAction; resource: string; allowed: boolean; reason: string; records?: number; bytes?: number }): void {
    const state = this.state(connId);
    if (!event.allowed) {
      state.denied++;
      this.emit('access_denied', withVisible({
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
      }, 'principal', 'resource'));
      return;
    }
    const key = `${event.principal ?? ''}\u0000${event.operation}\u0000${event.action}\u0000${event.resource}`;
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
    this.writeAllSummaries('shutdown');
    this.emit('audit_stopped', { openConnections: this.conns.size });
    this.closed = true;
    this.conns.clear();
    await this.sink.close();
  }

  private state(connId: number): ConnState {
    let s = this.conns.get(connId);
    if (!s) {
      s = { remote: null, listener: null, openedAt: this.now(), principal: null, summaries: new Map(), denied: 0, summaryRecords: 0 };
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
      this.emit('access_summary', withVisible({
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
      }, 'principal', 'resource'));
    }
    state.summaries.clear();
  }

  private emit(event: string, fields: Record<string, unknown>): void {
    if (this.closed) return;
    const record: Record<string, unknown> = { schema: AUDIT_SCHEMA_VERSION, ts: new Date(this.now()).toISOString(), event };
    if (this.node !== undefined) record.node = this.node;
    Object.assign(record, fields);
    let line: string;
    try {
      line = `${asciiJson(JSON.stringify(record))}\n`;
    } catch {
      line = `${JSON.stringify({ schema: AUDIT_SCHEMA_VERSION, ts: record.ts, event, error: 'record could not be serialised' })}\n`;
    }
    this.sink.write(line);
  }
}

/** The line FileAuditSink writes after records had to be dropped. */
export function droppedRecordLine(count: number, since: Date, nodeId?: number): string {
  const record: Record<string, unknown> = { schema: AUDIT_SCHEMA_VERSION, ts: new Date().toISOString(), event: 'audit_records_dropped' };
  if (nodeId !== undefined) record.node = nodeId;
  record.dropped = count;
  record.since = since.toISOString();
  return `${JSON.stringify(record)}\n`;
}
