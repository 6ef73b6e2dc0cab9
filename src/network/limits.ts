/**
 * Connection admission, decided at accept before any expensive work (before a
 * TLS handshake starts, before a byte is read):
 *  - as Kafka's broker does it: a total cap (max.connections), a per-address
 *    cap (max.connections.per.ip) and a rate cap on new connections per second
 *    (max.connection.creation.rate);
 *  - a tighter bound on connections that have not authenticated yet (in their
 *    TLS handshake, or before SASL completes), in total and per address, so
 *    idle or slow unauthenticated sockets cannot use up the slots (or the file
 *    descriptors) that authenticated clients need. An authenticated connection
 *    gives its unauthenticated slot back and counts only against the first caps.
 * A refused connection is closed at once and logged; established ones are unaffected.
 */
import { boundCounters, type AcceptRefusal } from './counters.js';

export interface ConnectionLimitSettings {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** New connections per second over a sliding second; 0 = unlimited. */
  maxConnectionCreationRate: number;
  /** Connections not yet authenticated, in total (default: no bound beyond maxConnections). */
  maxUnauthenticatedConnections?: number;
  /** Connections not yet authenticated from one address. */
  maxUnauthenticatedConnectionsPerIp?: number;
}

export type Admission = { ok: true } | { ok: false; reason: string; cause: AcceptRefusal };
export type TicketAdmission = { ok: true; ticket: AdmissionTicket } | { ok: false; reason: string; cause: AcceptRefusal };

/**
 * One admitted connection's slots. `authenticated()` gives the unauthenticated
 * slot back; `release()` gives everything back. Both are idempotent, so every
 * path (authentication, TLS failure, close) may call them.
 */
export class AdmissionTicket {
  private unauthenticated: boolean;
  private released = false;

  constructor(
    private readonly limits: ConnectionLimits,
    readonly address: string,
    authenticated: boolean,
  ) {
    this.unauthenticated = !authenticated;
  }

  get isAuthenticated(): boolean {
    return !this.unauthenticated;
  }

  authenticated(): void {
    if (!this.unauthenticated || this.released) return;
    this.unauthenticated = false;
    this.limits.releaseUnauthenticated(this.address);
  }

  release(): void {
    if (this.released) return;
    this.authenticated();
    this.released = true;
    this.limits.release(this.address);
  }
}

function decrement(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 1) - 1;
  if (n <= 0) map.delete(key);
  else map.set(key, n);
}

export class ConnectionLimits {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly recent: number[] = [];
  private unauthTotal = 0;
  private readonly unauthPerIp = new Map<string, number>();

  constructor(private readonly settings: ConnectionLimitSettings) {}

  /** Admit a new connection from address; on success the caller must call release(address) when it closes. */
  admit(address: string, now = Date.now()): Admission {
    const s = this.settings;
    if (s.maxConnectionCreationRate > 0) {
      while (this.recent.length > 0 && this.recent[0]! <= now - 1000) this.recent.shift();
      if (this.recent.length >= s.maxConnectionCreationRate) {
        return { ok: false, cause: 'connectionCreationRate', reason: `connection creation rate above ${s.maxConnectionCreationRate}/s (maxConnectionCreationRate)` };
      }
    }
    if (this.total >= s.maxConnections) return { ok: false, cause: 'maxConnections', reason: `${this.total} connections open (maxConnections)` };
    const fromIp = this.perIp.get(address) ?? 0;
    if (fromIp >= s.maxConnectionsPerIp) return { ok: false, cause: 'maxConnectionsPerIp', reason: `${fromIp} connections open from ${address} (maxConnectionsPerIp)` };
    if (s.maxConnectionCreationRate > 0) this.recent.push(now);
    this.total++;
    this.perIp.set(address, fromIp + 1);
    return { ok: true };
  }

  /**
   * Admit a connection and hand back its ticket. `authenticated`: the listener
   * needs no authentication (PLAINTEXT), so no unauthenticated slot is taken.
   * Unauthenticated caps are checked first: they are the ones an attacker without
   * credentials can reach.
   */
  admitConnection(address: string, authenticated: boolean, now = Date.now()): TicketAdmission {
    const s = this.settings;
    if (!authenticated) {
      const maxTotal = s.maxUnauthenticatedConnections ?? Infinity;
      const maxPerIp = s.maxUnauthenticatedConnectionsPerIp ?? Infinity;
      if (this.unauthTotal >= maxTotal) {
        return { ok: false, cause: 'unauthenticated', reason: `${this.unauthTotal} connections not yet authenticated (maxUnauthenticatedConnections)` };
      }
      const fromIp = this.unauthPerIp.get(address) ?? 0;
      if (fromIp >= maxPerIp) {
        return { ok: false, cause: 'unauthenticatedPerIp', reason: `${fromIp} connections from ${address} not yet authenticated (maxUnauthenticatedConnectionsPerIp)` };
      }
    }
    const base = this.admit(address, now);
    if (!base.ok) return base;
    if (!authenticated) {
      this.unauthTotal++;
      boundCounters.unauthenticatedOpen++;
      this.unauthPerIp.set(address, (this.unauthPerIp.get(address) ?? 0) + 1);
    }
    return { ok: true, ticket: new AdmissionTicket(this, address, authenticated) };
  }

  /** Called by AdmissionTicket.authenticated(). */
  releaseUnauthenticated(address: string): void {
    if (this.unauthTotal > 0) {
      this.unauthTotal--;
      boundCounters.unauthenticatedOpen = Math.max(0, boundCounters.unauthenticatedOpen - 1);
    }
    decrement(this.unauthPerIp, address);
  }

  release(address: string): void {
    this.total = Math.max(0, this.total - 1);
    decrement(this.perIp, address);
  }

  get open(): number {
    return this.total;
  }

  /** Connections admitted and not yet authenticated. */
  get unauthenticated(): number {
    return this.unauthTotal;
  }
}
