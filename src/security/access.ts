/**
 * Per-request authorization for handlers: turns "may this session produce to
 * this topic?" into the authorizer's (role, action, resource) question, audits
 * every decision, and asks each distinct question once per request.
 *
 * Handlers translate a denial into the Kafka error a broker sends
 * (TOPIC_AUTHORIZATION_FAILED per partition, GROUP_AUTHORIZATION_FAILED, ...).
 *
 * Audit volume: a resource the client named is audited one by one (a denial at
 * once, allows summarised per connection). A check made to filter a listing
 * (`{ listing: true }`: Metadata of all topics, ListGroups, OffsetFetch of all
 * topics) is not: the request leaves one `access_filtered` record with how many
 * resources it showed and hid (Kafka's AuthHelper filters listings with
 * logIfDenied=false). A listing must never be how a client learns of a
 * resource it may not see, so filtered-out resources are simply absent.
 */
import type { Session } from '../session/session.js';
import type { NamespaceRef, TopicName } from '../topics/names.js';
import type { AuditLog, AuthAction, AuthDecision, AuthResource, Authorizer } from './types.js';
import { describeResource } from './authz/authorizer.js';

interface Allowed {
  action: AuthAction;
  resource: string;
  reason: string;
  records: number;
  bytes: number;
}

interface Memo {
  decision: Promise<AuthDecision>;
  /** A named (non-listing) check was made: its allow is summarised, or its denial written. */
  named: boolean;
}

interface Filtered {
  action: AuthAction;
  resourceType: string;
  allowed: number;
  hidden: number;
}

export interface CheckOptions {
  /** The check filters a listing: not audited per resource, counted into the request's access_filtered record. */
  listing?: boolean;
}

/** A resource with a home namespace (src/coordinator/home.ts) as it is checked: in that namespace. */
export interface HomedGroup {
  tenant: string;
  namespace: string;
  group: string;
}

export class RequestAccess {
  private readonly memo = new Map<string, Memo>();
  /** Allowed decisions of this request, audited at finish() with the records/bytes they covered. */
  private readonly allowed = new Map<string, Allowed>();
  /** Listing checks of this request, per (action, resource type). */
  private readonly filtered = new Map<string, Filtered>();

  constructor(
    private readonly authorizer: Authorizer,
    private readonly audit: AuditLog | null,
    private readonly session: Session,
    private readonly connId: number,
    /** The Kafka API, e.g. "Produce", for the audit log. */
    private readonly operation: string,
  ) {}

  /** produce / consume / lookup (produce or consume) on a topic. */
  topic(name: TopicName, action: 'produce' | 'consume' | 'lookup', opts?: CheckOptions): Promise<boolean> {
    return this.check(action, { kind: 'topic', tenant: name.tenant, namespace: name.namespace, topic: name.full }, name.full, opts);
  }

  /**
   * A consumer group, checked in its home namespace (never simply the session's:
   * the caller resolves the home first, see handlers/group-common.ts). `consume`
   * to use or describe it, `admin` to delete it or its offsets.
   */
  group(g: HomedGroup, action: 'consume' | 'admin', opts?: CheckOptions): Promise<boolean> {
    return this.check(action, { kind: 'group', tenant: g.tenant, namespace: g.namespace, group: g.group }, `group:${g.tenant}/${g.namespace}/${g.group}`, opts);
  }

  /** produce (or consume) anywhere in a namespace: its grant, or one of its topics' (InitProducerId). */
  namespace(ns: NamespaceRef, action: 'produce' | 'consume'): Promise<boolean> {
    return this.check(action, { kind: 'namespace', tenant: ns.tenant, namespace: ns.namespace }, `namespace:${ns.tenant}/${ns.namespace}`);
  }

  /** Topic administration within a tenant: tenant admin or superuser. */
  tenantAdmin(tenant: string): Promise<boolean> {
    return this.check('admin', { kind: 'tenant', tenant }, `tenant:${tenant}`);
  }

  /** Cluster administration: superusers only. */
  cluster(): Promise<boolean> {
    return this.check('admin', { kind: 'cluster' }, 'cluster');
  }

  /** A resource of this request got its home namespace (created, or adopted after an upgrade). */
  homeAssigned(resource: AuthResource, how: 'created' | 'adopted'): void {
    if (resource.kind !== 'group' && resource.kind !== 'namespace') return;
    this.audit?.homeAssigned(this.connId, {
      principal: this.session.principal,
      operation: this.operation,
      resource: describeResource(resource),
      namespace: `${resource.tenant}/${resource.namespace}`,
      how,
    });
  }

  /** Records and bytes produced or fetched under an allowed topic decision (for the audit summary). */
  addUsage(name: TopicName, action: 'produce' | 'consume', records: number, bytes: number): void {
    const a = this.allowed.get(`${action}\u0000${name.full}`);
    if (a) {
      a.records += records;
      a.bytes += bytes;
    }
  }

  /** Audit the allowed decisions and the filtered listings of the request (denials were written at once). */
  finish(): void {
    if (!this.audit) return;
    const principal = this.session.principal;
    for (const a of this.allowed.values()) {
      this.audit.decision(this.connId, { principal, operation: this.operation, action: a.action, resource: a.resource, allowed: true, reason: a.reason, records: a.records, bytes: a.bytes });
    }
    this.allowed.clear();
    for (const f of this.filtered.values()) {
      this.audit.filtered(this.connId, { principal, operation: this.operation, action: f.action, resourceType: f.resourceType, allowed: f.allowed, hidden: f.hidden });
    }
    this.filtered.clear();
  }

  private check(action: AuthAction, resource: AuthResource, label: string, opts?: CheckOptions): Promise<boolean> {
    const key = `${action}\u0000${label}`;
    let m = this.memo.get(key);
    if (!m) {
      m = { decision: this.authorizer.can(this.session.principal, action, resource), named: false };
      this.memo.set(key, m);
    }
    const memo = m;
    const listing = opts?.listing === true;
    return memo.decision.then((d) => {
      if (listing) this.countListed(action, resource.kind, d.allowed);
      else if (!memo.named) {
        memo.named = true;
        this.record(key, action, resource, d);
      }
      return d.allowed;
    });
  }

  private countListed(action: AuthAction, resourceType: string, allowed: boolean): void {
    const k = `${action}\u0000${resourceType}`;
    let f = this.filtered.get(k);
    if (!f) this.filtered.set(k, (f = { action, resourceType, allowed: 0, hidden: 0 }));
    if (allowed) f.allowed++;
    else f.hidden++;
  }

  private record(key: string, action: AuthAction, resource: AuthResource, decision: AuthDecision): void {
    const described = describeResource(resource);
    if (decision.allowed) {
      this.allowed.set(key, { action, resource: described, reason: decision.reason, records: 0, bytes: 0 });
    } else {
      this.audit?.decision(this.connId, { principal: this.session.principal, operation: this.operation, action, resource: described, allowed: false, reason: decision.reason, rule: decision.rule });
    }
  }
}
