/**
 * Connection admission, as Kafka's broker does it: a total cap
 * (max.connections), a per-address cap (max.connections.per.ip) and a rate cap
 * on new connections per second (max.connection.creation.rate). A refused
 * connection is closed at once and logged; established ones are unaffected.
 */
export interface ConnectionLimitSettings {
  maxConnections: number;
  maxConnectionsPerIp: number;
  /** New connections per second over a sliding second; 0 = unlimited. */
  maxConnectionCreationRate: number;
}

/** A refusal names the setting that refused (metrics label) and why (log). */
export type Admission = { ok: true } | { ok: false; limit: 'maxConnections' | 'maxConnectionsPerIp' | 'maxConnectionCreationRate'; reason: string };

export class ConnectionLimits {
  private total = 0;
  private readonly perIp = new Map<string, number>();
  private readonly recent: number[] = [];

  constructor(private readonly settings: ConnectionLimitSettings) {}

  /** Admit a new connection from address; on success the caller must call release(address) when it closes. */
  admit(address: string, now = Date.now()): Admission {
    const s = this.settings;
    if (s.maxConnectionCreationRate > 0) {
      while (this.recent.length > 0 && this.recent[0]! <= now - 1000) this.recent.shift();
      if (this.recent.length >= s.maxConnectionCreationRate) {
        return { ok: false, limit: 'maxConnectionCreationRate', reason: `connection creation rate above ${s.maxConnectionCreationRate}/s` };
      }
    }
    if (this.total >= s.maxConnections) return { ok: false, limit: 'maxConnections', reason: `${this.total} connections open (maxConnections)` };
    const fromIp = this.perIp.get(address) ?? 0;
    if (fromIp >= s.maxConnectionsPerIp) return { ok: false, limit: 'maxConnectionsPerIp', reason: `${fromIp} connections open from ${address} (maxConnectionsPerIp)` };
    if (s.maxConnectionCreationRate > 0) this.recent.push(now);
    this.total++;
    this.perIp.set(address, fromIp + 1);
    return { ok: true };
  }

  release(address: string): void {
    this.total = Math.max(0, this.total - 1);
    const n = (this.perIp.get(address) ?? 1) - 1;
    if (n <= 0) this.perIp.delete(address);
    else this.perIp.set(address, n);
  }

  get open(): number {
    return this.total;
  }
}
