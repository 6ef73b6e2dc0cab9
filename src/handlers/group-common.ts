/**
 * What the group API handlers share: the group coordinator of the gateway, the
 * tenant-scoped key of a group named in a request, and its authorization.
 * Groups are namespaced by the tenant of the session's default namespace, so
 * two tenants' groups "billing" are different groups. A group is a Pulsar
 * subscription: using it needs `consume` in the session's namespace
 * (RequestAccess.group); a denial is GROUP_AUTHORIZATION_FAILED.
 */
import type { RequestContext } from '../dispatch/registry.js';
import type { GroupCoordinator, GroupKey } from '../coordinator/coordinator.js';

export function groupKey(ctx: RequestContext, groupId: string): GroupKey {
  return { tenant: ctx.session.defaultNamespace.tenant, groupId };
}

/** The coordinator, or null when this gateway runs without one (answer COORDINATOR_NOT_AVAILABLE). */
export function coordinatorOf(ctx: RequestContext): GroupCoordinator | null {
  return ctx.gateway.coordinator ?? null;
}

/** Kafka's client address as the coordinator reports it ("/127.0.0.1"). */
export function clientHost(ctx: RequestContext): string {
  return `/${ctx.conn.remoteAddress}`;
}

/** May this session use the group (join, commit, fetch, describe, delete)? */
export function groupAllowed(ctx: RequestContext, groupId: string): Promise<boolean> {
  return ctx.access.group(groupId);
}
