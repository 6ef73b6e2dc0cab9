/**
 * The names of the durable Pulsar subscriptions the gateway keeps for Kafka groups,
 * decided here and nowhere else:
 *
 *  - a consumer group G's committed offsets are mirrored into the subscription `G`
 *    (subscription-mirror.ts);
 *  - a share group G reads through the Shared subscription `share:G` (share-records.ts),
 *    which a Pulsar consumer may join to share the work.
 *
 * The two sets of names are disjoint by construction: a consumer group whose id
 * begins with `share:` is not mirrored (its offsets are still committed and served;
 * Pulsar just does not see them as a subscription).
 */
export const SHARE_SUBSCRIPTION_PREFIX = 'share:';

/** The subscription mirroring a consumer group's committed offsets; null: not mirrored (the name belongs to share groups). */
export function consumerGroupSubscription(groupId: string): string | null {
  if (groupId.length === 0 || groupId.startsWith(SHARE_SUBSCRIPTION_PREFIX)) return null;
  return groupId;
}

/** The Shared subscription of a share group. */
export function shareGroupSubscription(groupId: string): string {
  return `${SHARE_SUBSCRIPTION_PREFIX}${groupId}`;
}
