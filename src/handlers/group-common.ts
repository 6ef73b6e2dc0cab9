/**
 * What the group API handlers share: the group coordinator of the gateway, the
 * tenant-scoped key of a group named in a request, and its authorization.
 *
 * Groups are namespaced by the tenant of the session's default namespace, so
 * two tenants' groups "billing" are different groups. A group is a Pulsar
 * subscription, and Pulsar grants are per namespace, so a group has ONE home
 * namespace (src/coordinator/home.ts), recorded by the coordinator when the
 * group is created: every operation is checked there, whatever namespace the
 * session uses. `authorizeGroup` is the only way the handlers reach a group:
 * it reads back the decision the dispatcher made in the group's home (the
 * entry declares the group; dispatch/access-plan.ts asks the coordinator for
 * the home and checks there: `consume` to use or describe, `admin` to delete)
 * and hands back the
 * `GroupRef` the coordinator requires, which names the namespace checked (the
 * coordinator refuses a ref whose namespace is not the group's home).
 *
 * A denial is GROUP_AUTHORIZATION_FAILED. When this node is not the group's
 * coordinator it cannot know the home: the coordinator's status
 * (NOT_COORDINATOR, ...) is the answer, nothing is served or revealed, and the
 * client asks the coordinator, which checks.
 */
import type { RequestContext } from '../dispatch/registry.js';
import type { GroupCoordinator, GroupKey, GroupRef, OffsetToCommit } from '../coordinator/coordinator.js';
import { ErrorCode } from '../protocol/errors.js';
import { TopicResolver, partitionExists } from './topic-lookup.js';

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

export type GroupAccess =
  | { ok: true; ref: GroupRef; coordinator: GroupCoordinator }
  /** errorCode: GROUP_AUTHORIZATION_FAILED, or why the home cannot be known here. */
  | { ok: false; errorCode: number };

/**
 * The session's permission on a group in the group's home namespace, as the
 * dispatcher checked it before the handler ran (the entry declares the group,
 * dispatch/access-plan.ts resolves the home). `consume`: use or describe it
 * (Kafka READ/DESCRIBE); `admin`: delete it or its offsets (Kafka DELETE:
 * tenant admin). A group without a home yet is checked in the session's
 * namespace; an operation that creates (or, after an upgrade, adopts) it
 * records that namespace as its home, audited.
 */
export async function authorizeGroup(ctx: RequestContext, groupId: string, action: 'consume' | 'admin' = 'consume'): Promise<GroupAccess> {
  const decided = await ctx.access.groupAccess(groupId, action);
  const coordinator = coordinatorOf(ctx);
  if (decided.ref === null || !coordinator) {
    return { ok: false, errorCode: decided.errorCode === ErrorCode.NONE ? ErrorCode.COORDINATOR_NOT_AVAILABLE : decided.errorCode };
  }
  return { ok: true, ref: decided.ref, coordinator };
}

/** One partition of an OffsetCommit or TxnOffsetCommit request, as both carry it. */
interface CommitPartitionIn {
  partitionIndex: number;
  committedOffset: bigint;
  committedLeaderEpoch: number;
  committedMetadata: string | null;
}

/**
 * The per-partition pass OffsetCommit and TxnOffsetCommit share: answer slots in
 * request order, `consume` on each topic (TOPIC_AUTHORIZATION_FAILED, checked
 * before existence), unknown topics (`unknownTopic` maps the resolver's code)
 * and partitions UNKNOWN_TOPIC_OR_PARTITION; the rest goes to the coordinator
 * as `toCommit`, whose codes `settle` writes back into their slots.
 */
export async function commitSlots<P extends CommitPartitionIn>(
  ctx: RequestContext,
  topics: ReadonlyArray<{ name: string; partitions: readonly P[] }>,
  offsetOf: (p: P) => Pick<OffsetToCommit, 'leaderEpoch' | 'commitTimestamp'>,
  unknownTopic: (code: number) => number = (code) => code,
): Promise<{ out: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }>; toCommit: OffsetToCommit[]; settle(codes: readonly number[], map?: (code: number) => number): void }> {
  const resolver = new TopicResolver(ctx);
  const out = topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode: ErrorCode.NONE as number })) }));
  const toCommit: OffsetToCommit[] = [];
  const slots: Array<{ partitionIndex: number; errorCode: number }> = [];
  for (let ti = 0; ti < topics.length; ti++) {
    const t = topics[ti]!;
    const found = await resolver.lookup(t.name);
    const allowed = found.name ? await ctx.access.topic(found.name, 'consume') : true;
    for (let pi = 0; pi < t.partitions.length; pi++) {
      const p = t.partitions[pi]!;
      const slot = out[ti]!.partitions[pi]!;
      if (!allowed) slot.errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      else if (!found.ok) slot.errorCode = unknownTopic(found.code);
      else if (!partitionExists(found.info, p.partitionIndex)) slot.errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else {
        toCommit.push({ topic: found.name.full, partition: p.partitionIndex, offset: p.committedOffset, metadata: p.committedMetadata, ...offsetOf(p) });
        slots.push(slot);
      }
    }
  }
  return {
    out,
    toCommit,
    settle(codes, map = (code) => code) {
      codes.forEach((code, i) => (slots[i]!.errorCode = map(code)));
    },
  };
}
