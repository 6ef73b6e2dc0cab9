/**
 * Per-request authorization for handlers: turns "may this session produce to
 * this topic?" into the authorizer's (role, action, resource) question, audits
 * every decision, and asks each distinct question once per request.
 *
 * Handlers translate a denial into the Kafka error a broker sends
 * (TOPIC_AUTHORIZATION_FAILED per partition, GROUP_AUTHORIZATION_FAILED, ...).
 */
import type { Session } from '../session/session.js';
import type { TopicName } from '../topics/names.js';
import type { AuditLog, AuthAction, AuthResource, Authorizer } from './types.js';
import { describeResource } from './authz/authorizer.js';

interface Allowed {
  action: AuthAction;
  resource: string;
  reason: string;
  records: number;
  bytes: number;
}

export class RequestAccess {
  private readonly memo = new Map<string, Promise<boolean>>();
  /** Allowed decisions of this request, audited at finish() with the records/bytes they covered. */
  private readonly allowed = new Map<string, Allowed>();

  constructor(
    private readonly authorizer: Authorizer,
    private readonly audit: AuditLog | null,
    private readonly session: Session,
    private readonly connId: number,
    /** The Kafka API, e.g. "Produce", for the audit log. */
    private readonly operation: string,
  ) {}

  /** produce / consume / lookup (produce or consume) on a topic. */
  topic(name: TopicName, action: 'produce' | 'consume' | 'lookup'): Promise<boolean> {
    return this.check(action, { kind: 'topic', tenant: name.tenant, namespace: name.namespace, topic: name.full }, name.full);
  }

  /** A consumer group is a Pulsar subscription in the session's namespace. */
  group(group: string, tenant = this.session.defaultNamespace.tenant, namespace = this.session.defaultNamespace.namespace): Promise<boolean> {
    return this.check('consume', { kind: 'group', tenant, namespace, group }, `group:${tenant}/${namespace}/${group}`);
  }

  /** Topic administration within a tenant: tenant admin or superuser. */
  tenantAdmin(tenant: string): Promise<boolean> {
    return this.check('admin', { kind: 'tenant', tenant }, `tenant:${tenant}`);
  }

  /** Cluster administration: superusers only. */
  cluster(): Promise<boolean> {
    return this.check('admin', { kind: 'cluster' }, 'cluster');
  }

  /** Records and bytes produced or fetched under an allowed topic decision (for the audit summary). */
  addUsage(name: TopicName, action: 'produce' | 'consume', records: number, bytes: number): void {
    const a = this.allowed.get(`${action}\u0000${name.full}`);
    if (a) {
      a.records += records;
      a.bytes += bytes;
    }
  }

  /** Audit the allowed decisions of the request (denials were written at once). */
  finish(): void {
    if (!this.audit) return;
    const principal = this.session.principal;
    for (const a of this.allowed.values()) {
      this.audit.decision(this.connId, { principal, operation: this.operation, action: a.action, resource: a.resource, allowed: true, reason: a.reason, records: a.records, bytes: a.bytes });
    }
    this.allowed.clear();
  }

  private check(action: AuthAction, resource: AuthResource, label: string): Promise<boolean> {
    const key = `${action}\u0000${label}`;
    let found = this.memo.get(key);
    if (!found) {
      found = this.decide(key, action, resource);
      this.memo.set(key, found);
    }
    return found;
  }

  private async decide(key: string, action: AuthAction, resource: AuthResource): Promise<boolean> {
    const principal = this.session.principal;
    const decision = await this.authorizer.can(principal, action, resource);
    const described = describeResource(resource);
    if (decision.allowed) {
      this.allowed.set(key, { action, resource: described, reason: decision.reason, records: 0, bytes: 0 });
    } else {
      this.audit?.decision(this.connId, { principal, operation: this.operation, action, resource: described, allowed: false, reason: decision.reason });
    }
    return decision.allowed;
  }
}
