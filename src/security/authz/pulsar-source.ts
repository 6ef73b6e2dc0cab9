/**
 * Tenant policies read from Pulsar's admin API (storageEngine=pulsar): the
 * tenant's adminRoles (GET /admin/v2/tenants/{t}) and, per namespace
 * (GET /admin/v2/namespaces/{t}), its auth_policies and subscription_auth_mode
 * (GET /admin/v2/namespaces/{t}/{ns}), as the TenantPolicy the authorizer reads.
 *
 * Mapping (Pulsar's Policies -> policy.ts):
 *   namespace_auth                  -> permissions (produce/consume kept; Pulsar's other actions mean nothing to Kafka)
 *   destination_auth                -> topics, keyed by local topic name; only this namespace's persistent:// names.
 *                                      A grant on one partition (`t-partition-N`) is NOT applied: Pulsar
 *                                      scopes it to that partition, the gateway authorizes the topic as a
 *                                      whole, so it is ignored (fail closed) rather than widened to every partition.
 *   subscription_auth_roles         -> subscriptionPermissions
 *   subscription_auth_mode          -> subscriptionAuthMode ('Prefix', anything else 'None')
 *
 * Staleness (cacheMs, config pulsarPolicyCacheMs):
 *   age < cacheMs              served from the cache
 *   cacheMs <= age < 2*cacheMs served from the cache, one refresh starts in the background
 *   age >= 2*cacheMs           the request waits for a refresh; when it fails, the last good policy
 *                              is served while it is younger than failClosedAfterMs, then the tenant
 *                              fails closed (getTenant throws PolicyUnavailableError; the authorizer denies)
 * One refresh per tenant at a time (callers share it). After a failed refresh the
 * next attempt waits retryMs. refresh(tenant) (refresh on denial) re-reads now unless
 * the policy is younger than refreshFloorMs.
 */
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import type { NamespacePolicies, PulsarAdmin } from '../../pulsar/admin/types.js';
import { GRANT_ACTIONS, type GrantAction, type NamespacePolicy, type SubscriptionAuthMode, type TenantPolicy, type TopicPolicy } from './policy.js';
import type { PolicyChange, PolicySource } from './source.js';

export type PolicyAdmin = Pick<PulsarAdmin, 'getTenant' | 'listNamespaces' | 'getNamespacePolicies'>;

export interface PulsarPolicySourceOptions {
  admin: PolicyAdmin;
  /** config pulsarPolicyCacheMs. Default 5000. */
  cacheMs?: number;
  /** How long the last good policy is served while refreshes fail. Default max(30 s, 2 * cacheMs); never below 2 * cacheMs. */
  failClosedAfterMs?: number;
  /** Wait between failed refresh attempts. Default min(1 s, cacheMs), at least 100 ms. */
  retryMs?: number;
  /** refresh() on denial does nothing while the policy is younger than this. Default 1000 ms. */
  refreshFloorMs?: number;
  /** Tenants kept in the cache (least recently used dropped first). Default 10000. */
  maxTenants?: number;
  /** Namespaces of one tenant read in parallel. Default 8. */
  concurrency?: number;
  logger?: Logger;
  /** Clock (tests). */
  now?: () => number;
}

export const DEFAULT_POLICY_CACHE_MS = 5000;
export const DEFAULT_FAIL_CLOSED_AFTER_MS = 30_000;
export const DEFAULT_REFRESH_FLOOR_MS = 1000;

/** The tenant's policy cannot be read from Pulsar and the last good one is too old (or there is none). */
export class PolicyUnavailableError extends Error {
  override name = 'PolicyUnavailableError';
  constructor(
    readonly tenant: string,
    readonly cause_: string,
  ) {
    super(`cannot be read from Pulsar (${cause_}) and no recent policy is cached (fail closed)`);
  }
}

interface Entry {
  tenant: string;
  /** Last good policy (null: the tenant does not exist in Pulsar). */
  policy: TenantPolicy | null;
  /** Canonical form of `policy`, to detect changes. */
  key: string;
  hasGood: boolean;
  /** Start time of the fetch that produced `policy`. */
  fetchedAt: number;
  /** Start time of the last attempt, and its error (null: it succeeded). */
  attemptAt: number;
  lastError: string | null;
  inflight: Promise<void> | null;
  failClosedLogged: boolean;
  staleLogged: boolean;
}

function grantsOf(raw: Record<string, string[]>): Map<string, Set<GrantAction>> {
  const out = new Map<string, Set<GrantAction>>();
  for (const [role, actions] of Object.entries(raw)) {
    const set = new Set<GrantAction>();
    for (const a of actions) if ((GRANT_ACTIONS as readonly string[]).includes(a)) set.add(a as GrantAction);
    out.set(role, set);
  }
  return out;
}

/** Pulsar namespace policies -> the authorizer's NamespacePolicy. */
export function namespacePolicyFromPulsar(tenant: string, namespace: string, p: NamespacePolicies): NamespacePolicy {
  const prefix = `persistent://${tenant}/${namespace}/`;
  const topics = new Map<string, TopicPolicy>();
  for (const [name, grants] of Object.entries(p.authPolicies.destinationAuth)) {
    if (!name.startsWith(prefix)) continue;
    const local = name.slice(prefix.length);
    if (local === '' || local.includes('/') || /-partition-\d+$/.test(local)) continue;
    topics.set(local, { permissions: grantsOf(grants) });
  }
  const subscriptionPermissions = new Map<string, Set<string>>();
  for (const [sub, roles] of Object.entries(p.authPolicies.subscriptionAuthRoles)) subscriptionPermissions.set(sub, new Set(roles));
  const mode: SubscriptionAuthMode = p.subscriptionAuthMode === 'Prefix' ? 'Prefix' : 'None';
  return { permissions: grantsOf(p.authPolicies.namespaceAuth), subscriptionPermissions, subscriptionAuthMode: mode, topics };
}

/** A canonical text of a policy (sorted), to tell whether it changed. */
export function policyKey(p: TenantPolicy | null): string {
  if (p === null) return 'null';
  const grants = (g: ReadonlyMap<string, ReadonlySet<string>>) => [...g.entries()].map(([r, a]) => [r, [...a].sort()]).sort((x, y) => (x[0]! < y[0]! ? -1 : 1));
  const nss = [...p.namespaces.entries()]
    .sort((a, b) => (a[0] < b[0] ? -1 : 1))
    .map(([name, ns]) => [
      name,
      grants(ns.permissions),
      grants(ns.subscriptionPermissions),
      ns.subscriptionAuthMode,
      [...ns.topics.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([t, tp]) => [t, grants(tp.permissions)]),
    ]);
  return JSON.stringify([p.tenant, [...p.adminRoles].sort(), nss]);
}

export class PulsarPolicySource implements PolicySource {
  readonly cacheMs: number;
  readonly failClosedAfterMs: number;
  readonly retryMs: number;
  readonly refreshFloorMs: number;
  private readonly admin: PolicyAdmin;
  private readonly maxTenants: number;
  private readonly concurrency: number;
  private readonly log: Logger;
  private readonly now: () => number;
  private readonly entries = new Map<string, Entry>();
  private readonly listeners = new Set<(change: PolicyChange) => void>();
  private closed = false;
  /** Fetches made (tests, metrics). */
  fetches = 0;

  constructor(options: PulsarPolicySourceOptions) {
    this.admin = options.admin;
    this.cacheMs = Math.max(0, options.cacheMs ?? DEFAULT_POLICY_CACHE_MS);
    this.failClosedAfterMs = Math.max(options.failClosedAfterMs ?? Math.max(DEFAULT_FAIL_CLOSED_AFTER_MS, 2 * this.cacheMs), 2 * this.cacheMs);
    this.retryMs = options.retryMs ?? Math.max(100, Math.min(1000, this.cacheMs));
    this.refreshFloorMs = options.refreshFloorMs ?? DEFAULT_REFRESH_FLOOR_MS;
    this.maxTenants = options.maxTenants ?? 10_000;
    this.concurrency = Math.max(1, options.concurrency ?? 8);
    this.log = options.logger ?? silentLogger();
    this.now = options.now ?? Date.now;
  }

  origin(tenant: string): string {
    const e = this.entries.get(tenant);
    const age = e && e.fetchedAt > 0 ? `, read ${Math.max(0, this.now() - e.fetchedAt)} ms ago` : '';
    return `Pulsar admin API: tenant ${tenant} and its namespace policies${age}`;
  }

  async getTenant(tenant: string): Promise<TenantPolicy | null> {
    const e = this.entry(tenant);
    if (!e.hasGood) {
      if (!this.recentlyFailed(e)) await this.load(e);
      if (!e.hasGood) throw this.unavailable(e);
      return e.policy;
    }
    const age = this.now() - e.fetchedAt;
    if (age < this.cacheMs) return e.policy;
    if (age < 2 * this.cacheMs) {
      if (!this.recentlyFailed(e)) void this.load(e);
      return e.policy;
    }
    if (!this.recentlyFailed(e)) await this.load(e);
    const after = this.now() - e.fetchedAt;
    if (after < 2 * this.cacheMs || e.lastError === null) return e.policy;
    if (after < this.failClosedAfterMs) {
      if (!e.staleLogged) {
        e.staleLogged = true;
        this.log.warn(
          { tenant, ageMs: after, failClosedAfterMs: this.failClosedAfterMs, err: e.lastError },
          'tenant policy cannot be refreshed from Pulsar: serving the last good policy until it is failClosedAfterMs old',
        );
      }
      return e.policy;
    }
    throw this.unavailable(e);
  }

  /**
   * Re-read the tenant now (the authorizer calls it before denying). Does nothing
   * (false) while the cached policy is younger than refreshFloorMs, or right after
   * a failed attempt; true when the policy in force changed (worth deciding again).
   */
  async refresh(tenant: string): Promise<boolean> {
    if (this.closed) return false;
    const e = this.entry(tenant);
    const asked = this.now();
    if (e.hasGood && asked - e.fetchedAt < this.refreshFloorMs) return false;
    if (this.recentlyFailed(e)) return false;
    const before = e.key;
    const wasGood = e.hasGood;
    if (e.inflight) await e.inflight;
    // a fetch that started before this call may predate the grant being looked for
    if (e.attemptAt < asked) await this.load(e);
    return e.hasGood && (!wasGood || e.key !== before);
  }

  onChange(listener: (change: PolicyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Tenants in the cache (tests, diagnostics). */
  cachedTenants(): string[] {
    return [...this.entries.keys()].sort();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await Promise.all([...this.entries.values()].map((e) => e.inflight?.catch(() => undefined)));
  }

  private entry(tenant: string): Entry {
    let e = this.entries.get(tenant);
    if (e) {
      // LRU: move to the end
      this.entries.delete(tenant);
      this.entries.set(tenant, e);
      return e;
    }
    e = { tenant, policy: null, key: '', hasGood: false, fetchedAt: -Infinity, attemptAt: -Infinity, lastError: null, inflight: null, failClosedLogged: false, staleLogged: false };
    this.entries.set(tenant, e);
    while (this.entries.size > this.maxTenants) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
    return e;
  }

  private recentlyFailed(e: Entry): boolean {
    return e.lastError !== null && this.now() - e.attemptAt < this.retryMs;
  }

  private unavailable(e: Entry): PolicyUnavailableError {
    const err = new PolicyUnavailableError(e.tenant, e.lastError ?? 'not read yet');
    if (!e.failClosedLogged) {
      e.failClosedLogged = true;
      this.log.error(
        { tenant: e.tenant, err: e.lastError, lastGoodAgeMs: e.hasGood ? this.now() - e.fetchedAt : null, failClosedAfterMs: this.failClosedAfterMs },
        'tenant policy unavailable from Pulsar: requests on the tenant are denied (fail closed) until a refresh succeeds',
      );
      if (e.hasGood && e.policy !== null) this.emit({ tenant: e.tenant, kind: 'removed' });
    }
    return err;
  }

  /** One fetch per tenant at a time; callers share it. Never rejects. */
  private load(e: Entry): Promise<void> {
    if (e.inflight) return e.inflight;
    const started = this.now();
    e.attemptAt = started;
    const run = (async () => {
      try {
        this.fetches++;
        const policy = await this.fetch(e.tenant);
        const key = policyKey(policy);
        const changed = !e.hasGood || key !== e.key;
        const recovered = e.lastError !== null;
        const previous = e.policy;
        e.policy = policy;
        e.key = key;
        e.fetchedAt = started;
        e.lastError = null;
        e.staleLogged = false;
        if (recovered) this.log.info({ tenant: e.tenant }, 'tenant policy read from Pulsar again');
        const wasClosed = e.failClosedLogged;
        e.failClosedLogged = false;
        e.hasGood = true;
        if (changed || wasClosed) {
          if (policy === null) {
            if (previous !== null || wasClosed) this.emit({ tenant: e.tenant, kind: 'removed' });
          } else this.emit({ tenant: e.tenant, kind: 'updated' });
        }
      } catch (err) {
        const msg = (err as Error).message ?? String(err);
        if (e.lastError === null) this.log.warn({ tenant: e.tenant, err: msg }, 'reading the tenant policy from Pulsar failed');
        e.lastError = msg;
      } finally {
        e.inflight = null;
      }
    })();
    e.inflight = run;
    return run;
  }

  private async fetch(tenant: string): Promise<TenantPolicy | null> {
    const info = await this.admin.getTenant(tenant);
    if (info === null) return null;
    const names = await this.admin.listNamespaces(tenant);
    const namespaces = new Map<string, NamespacePolicy>();
    const queue = names.map((full) => (full.startsWith(`${tenant}/`) ? full.slice(tenant.length + 1) : full)).filter((n) => n !== '' && !n.includes('/'));
    let next = 0;
    const results = new Map<string, NamespacePolicy>();
    const worker = async () => {
      while (next < queue.length) {
        const ns = queue[next++]!;
        const p = await this.admin.getNamespacePolicies(`${tenant}/${ns}`);
        if (p !== null) results.set(ns, namespacePolicyFromPulsar(tenant, ns, p)); // null: deleted meanwhile
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, queue.length) }, worker));
    for (const ns of queue) {
      const p = results.get(ns);
      if (p) namespaces.set(ns, p);
    }
    return { tenant, adminRoles: new Set(info.adminRoles), namespaces };
  }

  private emit(change: PolicyChange): void {
    for (const l of this.listeners) {
      try {
        l(change);
      } catch {
        // a listener's failure must not stop a refresh
      }
    }
  }
}
