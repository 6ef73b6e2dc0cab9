/**
 * Which gateway node coordinates a group.
 *
 * A group (tenant + group id) hashes to one partition of the internal offsets
 * topic, the way Kafka maps a group id to a __consumer_offsets partition. The
 * node that owns that partition is the group's coordinator: it keeps the
 * group's membership state in memory and is the only writer of its committed
 * offsets and metadata. With several gateway nodes in front of one Pulsar
 * cluster, ownership of a partition is the exclusive producer on it (see
 * docs/consumer-groups.md); a single node owns every partition.
 */
import type { Endpoint } from '../gateway-context.js';

/** A consumer group, namespaced by tenant: two tenants' groups "billing" are different groups. */
export interface GroupKey {
  tenant: string;
  groupId: string;
}

export interface CoordinatorNode {
  nodeId: number;
  /** This node (requests for the partition are served here). */
  local: boolean;
  /** The node's address as clients of the given listener should use it. */
  endpoint(listenerName: string): Endpoint;
}

export interface CoordinatorLocator {
  readonly numPartitions: number;
  /** The offsets-topic partition of a group (stable: never depends on membership). */
  partitionFor(key: GroupKey): number;
  /** The node coordinating that partition now, or null while no node owns it (failover in progress). */
  ownerOf(partition: number): CoordinatorNode | null;
  /** The partitions this node owns now. */
  ownedPartitions(): number[];
}

/** Java's String.hashCode (UTF-16 code units), as Kafka's partitionFor uses it. */
export function javaStringHash(s: string): number {
  let h = 0;
  for (let i = 0; i < s.length; i++) h = (Math.imul(h, 31) + s.charCodeAt(i)) | 0;
  return h;
}

/** Kafka's Utils.abs(groupId.hashCode) % partitions, over "tenant/groupId". */
export function offsetsPartitionFor(key: GroupKey, numPartitions: number): number {
  const h = javaStringHash(`${key.tenant}/${key.groupId}`);
  const abs = h === -2147483648 ? 0 : Math.abs(h);
  return abs % numPartitions;
}

/** One gateway node: it owns every partition of the offsets topic. */
export class SingleNodeLocator implements CoordinatorLocator {
  private readonly self: CoordinatorNode;

  constructor(
    readonly numPartitions: number,
    nodeId: number,
    endpoint: (listenerName: string) => Endpoint,
  ) {
    this.self = { nodeId, local: true, endpoint };
  }

  partitionFor(key: GroupKey): number {
    return offsetsPartitionFor(key, this.numPartitions);
  }

  ownerOf(_partition: number): CoordinatorNode {
    return this.self;
  }

  ownedPartitions(): number[] {
    return Array.from({ length: this.numPartitions }, (_, i) => i);
  }
}
