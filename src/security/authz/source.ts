/**
 * Where the authorizer gets tenant policies from. The embedded engine reads
 * them from files (FilePolicySource); the Pulsar engine can implement the same
 * interface over Pulsar's admin API (tenant info + namespace policies).
 */
import type { TenantPolicy } from './policy.js';

export interface PolicyChange {
  tenant: string;
  /** 'updated': added or changed; 'removed': the tenant has no policy any more. */
  kind: 'updated' | 'removed';
}

export interface PolicySource {
  /**
   * The tenant's current policy, or null when the tenant is unknown (every
   * request on it is denied except for superusers). May answer synchronously.
   */
  getTenant(tenant: string): TenantPolicy | null | Promise<TenantPolicy | null>;
  /**
   * Optional, for sources that cache a remote policy (PulsarPolicySource): re-read
   * the tenant now. The authorizer calls it once before denying a request on the
   * tenant and decides again when it answers true (the policy in force changed).
   * The source bounds how often it really re-reads (a denial storm must not
   * hammer the remote API). May throw; the denial then stands.
   */
  refresh?(tenant: string): Promise<boolean>;
  /**
   * Optional: where the tenant's policy is written, for explanations (`policies explain`, the
   * `rule` of a denial): a file, or Pulsar's admin API.
   */
  origin?(tenant: string): string;
  /** Subscribe to changes; returns the unsubscribe function. */
  onChange(listener: (change: PolicyChange) => void): () => void;
  close(): Promise<void>;
}

/** A policy source held in memory: tests, and the base of sources that push whole tenants. */
export class StaticPolicySource implements PolicySource {
  private readonly tenants = new Map<string, TenantPolicy>();
  private readonly listeners = new Set<(change: PolicyChange) => void>();

  constructor(policies: Iterable<TenantPolicy> = []) {
    for (const p of policies) this.tenants.set(p.tenant, p);
  }

  getTenant(tenant: string): TenantPolicy | null {
    return this.tenants.get(tenant) ?? null;
  }

  tenantNames(): string[] {
    return [...this.tenants.keys()].sort();
  }

  set(policy: TenantPolicy): void {
    this.tenants.set(policy.tenant, policy);
    this.emit({ tenant: policy.tenant, kind: 'updated' });
  }

  remove(tenant: string): void {
    if (this.tenants.delete(tenant)) this.emit({ tenant, kind: 'removed' });
  }

  onChange(listener: (change: PolicyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  protected emit(change: PolicyChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // a listener's failure must not stop a reload
      }
    }
  }

  async close(): Promise<void> {
    this.listeners.clear();
  }
}
