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

export class RequestAccess {
  private readonly memo = new Map<string, Promise<boolean>>();

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

  private check(action: AuthAction, resource: AuthResource, label: string): Promise<boolean> {
    const key = `${action}\u0000${label}`;
    let found = this.memo.get(key);
    if (!found) {
      found = this.decide(action, resource);
      this.memo.set(key, found);
    }
    return found;
  }

  private async decide(action: AuthAction, resource: AuthResource): Promise<boolean> {
    const principal = this.session.principal;
    const decision = await this.authorizer.can(principal, action, resource);
    this.audit?.decision(this.connId, { principal, operation: this.operation, action, resource: describeResource(resource), allowed: decision.allowed, reason: decision.reason });
    return decision.allowed;
  }
}
