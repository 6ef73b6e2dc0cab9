/**
 * can(role, action, resource) with the semantics of Pulsar's default
 * authorization (PulsarAuthorizationProvider behind AuthorizationService, as the
 * broker applies it to producers, consumers and lookups through
 * allowTopicOperationAsync). Knows nothing about Kafka. See docs/authorization.md
 * for the rules, one by one, and where they come from.
 *
 * No decision cache: every call evaluates the policy snapshot the source holds
 * right now (a few map lookups), so a reloaded policy applies to the next call.
 */
import type { AuthAction, AuthDecision, AuthResource, Authorizer } from '../types.js';
import type { GrantAction, Grants, NamespacePolicy, TenantPolicy } from './policy.js';
import type { PolicySource } from './source.js';

/** Kafka's offsets topic, as each namespace has it (coordinator/offsets-log.ts). */
const OFFSETS_TOPIC = '__consumer_offsets';

export interface PulsarAuthorizerOptions {
  /** Pulsar superUserRoles: allowed everything. Exact role names (no wildcards, as in Pulsar). */
  superUserRoles: Iterable<string>;
  /** Pulsar anonymousUserRole: the role of clients that did not authenticate (role null). Null/empty: none. */
  anonymousUserRole?: string | null;
  /** Pulsar authorizationAllowWildcardsMatching: '*' at the start or end of a granted role matches. */
  allowWildcards?: boolean;
}

const allow = (reason: string, rule: string): AuthDecision => ({ allowed: true, reason, rule });
const deny = (reason: string, rule: string): AuthDecision => ({ allowed: false, reason, rule });

/** A role as rules show it: quoted exactly (JSON), so `admin ` and `admin` read differently. */
const q = (role: string): string => JSON.stringify(role);
const list = (actions: ReadonlySet<string> | undefined): string => `[${[...(actions ?? [])].sort().join(', ')}]`;

/** Where the decision is made: for the rule texts. */
interface Where {
  tenant: string;
  namespace: string;
  /** " (policies/acme.yaml)" or " (Pulsar admin API ...)", or "". */
  origin: string;
}

/** Pulsar's checkWildcardPermission: the first grant whose pattern matches and carries the action. */
export function wildcardGrant(role: string, action: GrantAction, grants: Grants): string | null {
  for (const [pattern, actions] of grants) {
    if (pattern.length === 0 || !actions.has(action)) continue;
    if (pattern.endsWith('*') && role.startsWith(pattern.slice(0, -1))) return pattern;
    if (pattern.startsWith('*') && role.endsWith(pattern.slice(1))) return pattern;
  }
  return null;
}

/** Local topic name without a partition suffix: grants are per topic (Pulsar also checks the partitioned name). */
export function baseTopicName(topic: string): string {
  let local = topic;
  if (local.includes('://')) local = local.slice(local.lastIndexOf('/') + 1);
  const m = /^(.*)-partition-\d+$/.exec(local);
  return m ? m[1]! : local;
}

export function describeResource(r: AuthResource): string {
  switch (r.kind) {
    case 'topic':
      return `persistent://${r.tenant}/${r.namespace}/${baseTopicName(r.topic)}`;
    case 'group':
      return `group ${r.tenant}/${r.namespace}/${r.group}`;
    case 'transactional-id':
      return `transactional-id ${r.tenant}/${r.namespace}/${r.transactionalId}`;
    case 'namespace':
      return `namespace ${r.tenant}/${r.namespace}`;
    case 'tenant':
      return `tenant ${r.tenant}`;
    case 'cluster':
      return 'cluster';
  }
}

export class PulsarAuthorizer implements Authorizer {
  private readonly superUsers: ReadonlySet<string>;
  private readonly anonymousRole: string | null;
  private readonly wildcards: boolean;

  constructor(
    private readonly source: PolicySource,
    options: PulsarAuthorizerOptions,
  ) {
    this.superUsers = new Set([...options.superUserRoles].map((r) => r.trim()).filter(Boolean));
    this.anonymousRole = options.anonymousUserRole ? options.anonymousUserRole : null;
    this.wildcards = options.allowWildcards ?? false;
  }

  async can(principal: string | null, action: AuthAction, resource: AuthResource): Promise<AuthDecision> {
    const role = principal ?? this.anonymousRole;
    const d = await this.decide(role, action, resource);
    return principal === null && role !== null
      ? { ...d, reason: `${d.reason} (anonymous as role '${role}')`, rule: `not authenticated: anonymousUserRole ${q(role)}; ${d.rule ?? ''}` }
      : d;
  }

  private async decide(role: string | null, action: AuthAction, resource: AuthResource): Promise<AuthDecision> {
    if (role === null) return deny('not authenticated and no anonymousUserRole', 'not authenticated, and anonymousUserRole is empty: no role to check');
    // AuthorizationService / validateTenantAdminAccess: superusers first.
    if (this.superUsers.has(role)) return allow('superuser', `superUserRoles contains ${q(role)}`);
    if (resource.kind === 'cluster') return deny('cluster operations need a superuser', `cluster operations: superUserRoles only, and it does not contain ${q(role)}`);

    const first = await this.decideOnPolicy(role, action, resource);
    if (first.allowed || !this.source.refresh) return first;
    // Refresh on denial (sources caching a remote policy): a grant made since the
    // policy was read applies now instead of after the cache's age bound.
    let changed: boolean;
    try {
      changed = await this.source.refresh(resource.tenant);
    } catch {
      return first;
    }
    return changed ? this.decideOnPolicy(role, action, resource) : first;
  }

  private async decideOnPolicy(role: string, action: AuthAction, resource: Exclude<AuthResource, { kind: 'cluster' }>): Promise<AuthDecision> {
    let tenant: TenantPolicy | null;
    try {
      tenant = await this.source.getTenant(resource.tenant);
    } catch (err) {
      // a source that cannot tell (remote policy unreachable for too long): fail closed
      const why = `policy of tenant '${resource.tenant}' is unavailable: ${(err as Error).message}`;
      return deny(why, `${why}: fail closed${this.origin(resource.tenant)}`);
    }
    const origin = this.origin(resource.tenant);
    // Pulsar: tenant admin check of a tenant without metadata fails NOT_FOUND.
    if (!tenant) return deny(`tenant '${resource.tenant}' has no policy`, `no policy for tenant '${resource.tenant}'${origin}`);
    if (tenant.adminRoles.has(role)) return allow('tenant admin', `tenant ${resource.tenant} adminRoles contains ${q(role)}${origin}`);
    if (resource.kind === 'tenant' || action === 'admin') {
      return deny(
        `${action === 'admin' ? 'admin' : action} on ${describeResource(resource)} needs a superuser or tenant admin`,
        `${action} on ${describeResource(resource)}: neither superUserRoles nor tenant ${resource.tenant} adminRoles ${list(tenant.adminRoles)} contains ${q(role)}${origin}`,
      );
    }

    const ns = tenant.namespaces.get(resource.namespace);
    if (!ns) return deny(`namespace '${resource.tenant}/${resource.namespace}' has no policy`, `the policy of tenant ${resource.tenant} has no namespace '${resource.namespace}'${origin}`);
    const where: Where = { tenant: resource.tenant, namespace: resource.namespace, origin };

    if (resource.kind === 'group') return this.group(role, action, resource.group, ns, where);
    // a transactional id is used to write to the namespace's topics: checked as the namespace as a whole
    if (resource.kind === 'namespace' || resource.kind === 'transactional-id') return this.anyTopic(role, action, ns, where);

    const topic = baseTopicName(resource.topic);
    const name = describeResource(resource);
    switch (action) {
      case 'produce':
        return this.checkPermission(role, 'produce', ns, topic, name, where);
      case 'consume': {
        // canConsumeAsync: subscription checks first (when a subscription is named), then the grant.
        const sub = resource.subscription;
        if (sub !== undefined && sub.trim() !== '') {
          const refused = this.subscriptionRefusal(role, sub, ns, where);
          if (refused) return refused;
        }
        // The namespace's __consumer_offsets holds every group homed there (docs/consumer-groups.md):
        // reading it reveals all their offsets, which the subscription rules may keep from this role.
        if (topic === OFFSETS_TOPIC && (ns.subscriptionPermissions.size > 0 || ns.subscriptionAuthMode !== 'None')) {
          return deny(
            `${OFFSETS_TOPIC} of a namespace with subscription rules is read by tenant admins only`,
            `consume on ${name}: namespace ${where.tenant}/${where.namespace} has subscription rules (subscriptionAuthMode ${ns.subscriptionAuthMode}, ${ns.subscriptionPermissions.size} subscriptionPermissions), which reading every group's offsets would bypass${where.origin}`,
          );
        }
        return this.checkPermission(role, 'consume', ns, topic, name, where);
      }
      case 'lookup': {
        // canLookupAsync: produce, else consume without a subscription.
        const p = this.checkPermission(role, 'produce', ns, topic, name, where);
        if (p.allowed) return p;
        const c = this.checkPermission(role, 'consume', ns, topic, name, where);
        if (c.allowed) return c;
        return deny(`no produce or consume grant for the role on ${name}`, `lookup needs produce or consume: ${this.nothingGranted(role, ns, topic, where)}`);
      }
    }
  }

  private origin(tenant: string): string {
    const o = this.source.origin?.(tenant);
    return o ? ` (${o})` : '';
  }

  /** What was looked at when no grant matched: the role's grants on the namespace and the topic, as they are. */
  private nothingGranted(role: string, ns: NamespacePolicy, topic: string | null, where: Where): string {
    const nsGrant = ns.permissions.get(role);
    const topicGrant = topic === null ? undefined : ns.topics.get(topic)?.permissions.get(role);
    const parts = [`namespace ${where.tenant}/${where.namespace} permissions: ${nsGrant ? `${q(role)} -> ${list(nsGrant)}` : `nothing for ${q(role)}`}`];
    if (topic !== null) parts.push(`topic ${where.tenant}/${where.namespace}/${topic} permissions: ${topicGrant ? `${q(role)} -> ${list(topicGrant)}` : `nothing for ${q(role)}`}`);
    if (this.wildcards) parts.push('no wildcard grant matches');
    return `${parts.join('; ')}${where.origin}`;
  }

  /**
   * A Kafka consumer group is a Pulsar subscription. consume/lookup on it: the
   * subscription checks of canConsumeAsync, and a consume grant on the namespace
   * or on at least one of its topics (the per-topic rule checks each topic).
   */
  private group(role: string, action: AuthAction, group: string, ns: NamespacePolicy, where: Where): AuthDecision {
    const nsName = `${where.tenant}/${where.namespace}`;
    if (action === 'produce') return deny('produce does not apply to a consumer group', 'produce does not apply to a consumer group');
    const refused = this.subscriptionRefusal(role, group, ns, where);
    if (refused) return refused;
    if (ns.permissions.get(role)?.has('consume')) return allow('namespace grant: consume', `namespace ${nsName} permissions: ${q(role)} -> ${list(ns.permissions.get(role))}${where.origin}`);
    for (const [topic, t] of ns.topics) {
      if (t.permissions.get(role)?.has('consume')) return allow(`topic grant: consume on ${topic}`, `topic ${nsName}/${topic} permissions: ${q(role)} -> ${list(t.permissions.get(role))}${where.origin}`);
    }
    if (this.wildcards) {
      const w = wildcardGrant(role, 'consume', ns.permissions);
      if (w) return allow(`namespace grant (wildcard '${w}'): consume`, `namespace ${nsName} permissions: wildcard ${q(w)} -> ${list(ns.permissions.get(w))}${where.origin}`);
      for (const [topic, t] of ns.topics) {
        const tw = wildcardGrant(role, 'consume', t.permissions);
        if (tw) return allow(`topic grant (wildcard '${tw}'): consume on ${topic}`, `topic ${nsName}/${topic} permissions: wildcard ${q(tw)} -> ${list(t.permissions.get(tw))}${where.origin}`);
      }
    }
    return deny(`no consume grant for the role in namespace ${nsName}`, `a group needs consume on its namespace or one of its topics: ${this.nothingGranted(role, ns, null, { ...where, origin: '' })}, and no topic of it grants consume to ${q(role)}${where.origin}`);
  }

  /**
   * produce/consume somewhere in a namespace: a grant on the namespace or on at
   * least one of its topics (Kafka's authorizeByResourceType: "WRITE on any
   * topic"); lookup: either grant.
   */
  private anyTopic(role: string, action: AuthAction, ns: NamespacePolicy, where: Where): AuthDecision {
    const nsName = `${where.tenant}/${where.namespace}`;
    const wanted: GrantAction[] = action === 'lookup' ? ['produce', 'consume'] : action === 'produce' || action === 'consume' ? [action] : [];
    for (const a of wanted) {
      if (ns.permissions.get(role)?.has(a)) return allow(`namespace grant: ${a}`, `namespace ${nsName} permissions: ${q(role)} -> ${list(ns.permissions.get(role))}${where.origin}`);
      for (const [topic, t] of ns.topics) {
        if (t.permissions.get(role)?.has(a)) return allow(`topic grant: ${a} on ${topic}`, `topic ${nsName}/${topic} permissions: ${q(role)} -> ${list(t.permissions.get(role))}${where.origin}`);
      }
      if (this.wildcards) {
        const w = wildcardGrant(role, a, ns.permissions);
        if (w) return allow(`namespace grant (wildcard '${w}'): ${a}`, `namespace ${nsName} permissions: wildcard ${q(w)} -> ${list(ns.permissions.get(w))}${where.origin}`);
        for (const [topic, t] of ns.topics) {
          const tw = wildcardGrant(role, a, t.permissions);
          if (tw) return allow(`topic grant (wildcard '${tw}'): ${a} on ${topic}`, `topic ${nsName}/${topic} permissions: wildcard ${q(tw)} -> ${list(t.permissions.get(tw))}${where.origin}`);
        }
      }
    }
    const what = action === 'lookup' ? 'produce or consume' : action;
    return deny(
      `no ${what} grant for the role in namespace ${nsName} or any of its topics`,
      `${what} anywhere in the namespace: ${this.nothingGranted(role, ns, null, { ...where, origin: '' })}, and no topic of it grants ${what} to ${q(role)}${where.origin}`,
    );
  }

  /** canConsumeAsync's subscription rules; null when they let the role through. */
  private subscriptionRefusal(role: string, subscription: string, ns: NamespacePolicy, where: Where): AuthDecision | null {
    const roles = ns.subscriptionPermissions.get(subscription);
    if (roles && roles.size > 0 && !roles.has(role)) {
      return deny(
        `role is not in subscriptionPermissions of subscription '${subscription}'`,
        `namespace ${where.tenant}/${where.namespace} subscriptionPermissions[${q(subscription)}] = ${list(roles)}, without ${q(role)}${where.origin}`,
      );
    }
    if (ns.subscriptionAuthMode === 'Prefix' && !subscription.startsWith(role)) {
      return deny(
        `subscriptionAuthMode Prefix: subscription '${subscription}' must start with the role name`,
        `namespace ${where.tenant}/${where.namespace} subscriptionAuthMode Prefix: ${q(subscription)} does not start with ${q(role)}${where.origin}`,
      );
    }
    return null;
  }

  /** PulsarAuthorizationProvider.checkPermission, in its order. */
  private checkPermission(role: string, action: GrantAction, ns: NamespacePolicy, topic: string, name: string, where: Where): AuthDecision {
    const nsName = `${where.tenant}/${where.namespace}`;
    if (ns.permissions.get(role)?.has(action)) return allow(`namespace grant: ${action}`, `namespace ${nsName} permissions: ${q(role)} -> ${list(ns.permissions.get(role))}${where.origin}`);
    const topicGrants = ns.topics.get(topic)?.permissions;
    if (topicGrants?.get(role)?.has(action)) return allow(`topic grant: ${action}`, `topic ${nsName}/${topic} permissions: ${q(role)} -> ${list(topicGrants.get(role))}${where.origin}`);
    if (this.wildcards) {
      const w = wildcardGrant(role, action, ns.permissions);
      if (w) return allow(`namespace grant (wildcard '${w}'): ${action}`, `namespace ${nsName} permissions: wildcard ${q(w)} -> ${list(ns.permissions.get(w))}${where.origin}`);
      const tw = topicGrants ? wildcardGrant(role, action, topicGrants) : null;
      if (tw) return allow(`topic grant (wildcard '${tw}'): ${action}`, `topic ${nsName}/${topic} permissions: wildcard ${q(tw)} -> ${list(topicGrants!.get(tw))}${where.origin}`);
    }
    return deny(`no ${action} grant for the role on ${name}`, `${action} needs a grant: ${this.nothingGranted(role, ns, topic, where)}`);
  }
}

/** authorizationEnabled=false (Pulsar's default): everything is allowed; callers still audit. */
export const ALLOW_ALL_AUTHORIZER: Authorizer = {
  async can() {
    return { allowed: true, reason: 'authorization disabled', rule: 'authorizationEnabled=false: everything is allowed' };
  },
};
