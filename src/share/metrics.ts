/**
 * Share-group metrics (docs/metrics.md): share groups and their members, open
 * share sessions, and what happened to records (acquired, redelivered,
 * acknowledged by type, lock expiries, archived at the delivery-count limit)
 * since this node started. Read at scrape time from the share-group coordinator.
 */
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { ShareGroups } from './groups.js';

export function registerShareGroupMetrics(m: GatewayMetrics, shares: ShareGroups): void {
  const groups = m.gauge('share_groups', 'Share groups this node serves.');
  const members = m.gauge('share_group_members', 'Members of each share group.', ['group_tenant', 'group']);
  const sessions = m.gauge('share_sessions', 'Share sessions (ShareFetch) open on this node.');
  m.externalLabeledCounter('share_records_total', 'What happened to share-group records since this node started, by event: acquired, redelivered (acquired again), accepted, released, rejected, expired (acquisition lock), archived_at_limit (delivery-count limit).', 'event', () => {
    const c = shares.counts;
    return { acquired: c.acquired, redelivered: c.redelivered, accepted: c.accepted, released: c.released, rejected: c.rejected, expired: c.expired, archived_at_limit: c.archivedAtLimit };
  });
  m.addSource(() => {
    members.reset();
    const all = shares.groupsForMetrics();
    groups.set(all.length);
    for (const g of all) members.labels(g.tenant, g.groupId).set(g.members);
    sessions.set(shares.sessionCount);
    return Promise.resolve();
  });
}
