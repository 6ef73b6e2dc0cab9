/**
 * Durable group state in the storage engine's key-value store, laid out like
 * Kafka's compacted __consumer_offsets topic: one KV namespace per offsets
 * partition (`__consumer_offsets-<p>`), holding
 *
 *   ["g", tenant, groupId]                      -> group metadata (generation, protocol, members, assignments)
 *   ["o", tenant, groupId, topic, partition]    -> one committed offset (topic is the resolved name)
 *   ["h", tenant, groupId]                      -> the group's home namespace (home.ts), written
 *                                                  before any other entry of the group
 *   ["c", tenant, groupId]                      -> a consumer group of the KIP-848 protocol
 *                                                  (encoded by consumer-group-protocol.ts)
 *   ["t", tenant, groupId, producerId, topic, partition] -> an offset of an open transaction
 *                                                  (TxnOffsetCommit), until the transaction ends
 *   ["te", tenant, groupId, producerId]         -> that transaction ended (commit or abort), written by
 *                                                  a transaction coordinator on another node (Kafka's
 *                                                  marker in __consumer_offsets), until applied
 *
 * The same namespaces hold the transaction coordinator's entries ("x", "xe",
 * see txn/store.ts), skipped here; the partition-count migration moves "x"
 * entries too (a transactional id is placed like a group of that name).
 *
 * Writing null deletes an entry (a tombstone in the compacted topic). Values
 * are versioned JSON. A partition's entries are read only when this node
 * becomes the partition's coordinator; afterwards the coordinator is its only
 * writer. The Pulsar engine keeps the same keys as message keys of a compacted
 * offsets topic (docs/consumer-groups.md).
 */
import type { KeyValueStore } from '../storage/engine.js';
import type { NamespaceRef } from '../topics/names.js';
import type { CommittedOffset, GroupState } from './group.js';
import type { GroupKey } from './locator.js';

export const OFFSETS_NAMESPACE_PREFIX = '__consumer_offsets-';
/** Records the partition count the data was written with. */
const META_NAMESPACE = '__consumer_offsets-meta';
const META_PARTITIONS = 'partitions';

export interface StoredMember {
  memberId: string;
  groupInstanceId: string | null;
  clientId: string;
  clientHost: string;
  rebalanceTimeoutMs: number;
  sessionTimeoutMs: number;
  /** Subscription metadata for the group's protocol. */
  metadata: Buffer;
  assignment: Buffer;
  namespace: NamespaceRef;
}

export interface StoredGroup {
  /** Only Empty and Stable groups are written. */
  state: Extract<GroupState, 'Empty' | 'Stable'>;
  stateTimestamp: number;
  protocolType: string | null;
  protocolName: string | null;
  generationId: number;
  leaderId: string | null;
  members: StoredMember[];
}

export interface LoadedPartition {
  groups: Map<
    string,
    {
      key: GroupKey;
      home: string | null;
      group: StoredGroup | null;
      consumer: Buffer | null;
      offsets: Array<{ topic: string; partition: number; value: CommittedOffset }>;
      txnOffsets: Array<{ producerId: bigint; topic: string; partition: number; value: CommittedOffset }>;
      /** Transactions that ended on another node, not yet applied: producer id -> committed. */
      txnEnds: Map<bigint, boolean>;
    }
  >;
}

export function groupMapKey(key: GroupKey): string {
  return `${key.tenant}\0${key.groupId}`;
}

function namespaceOf(partition: number): string {
  return `${OFFSETS_NAMESPACE_PREFIX}${partition}`;
}

function groupEntryKey(key: GroupKey): string {
  return JSON.stringify(['g', key.tenant, key.groupId]);
}

function homeEntryKey(key: GroupKey): string {
  return JSON.stringify(['h', key.tenant, key.groupId]);
}

function encodeHome(namespace: string): Buffer {
  return Buffer.from(JSON.stringify({ v: 1, namespace }));
}

function decodeHome(buf: Buffer): string {
  const j = JSON.parse(buf.toString('utf8'));
  if (j.v !== 1) throw new Error(`unknown group home version ${j.v}`);
  if (typeof j.namespace !== 'string' || j.namespace === '') throw new Error('group home without a namespace');
  return j.namespace;
}

function txnEndKey(key: GroupKey, producerId: bigint): string {
  return JSON.stringify(['te', key.tenant, key.groupId, producerId.toString()]);
}

function decodeTxnEnd(buf: Buffer): boolean {
  const j = JSON.parse(buf.toString('utf8'));
  if (j.v !== 1 || typeof j.commit !== 'boolean') throw new Error('unreadable transaction end entry');
  return j.commit;
}

function offsetEntryKey(key: GroupKey, topic: string, partition: number): string {
  return JSON.stringify(['o', key.tenant, key.groupId, topic, partition]);
}

function encodeGroup(g: StoredGroup): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      state: g.state,
      stateTimestamp: g.stateTimestamp,
      protocolType: g.protocolType,
      protocolName: g.protocolName,
      generationId: g.generationId,
      leaderId: g.leaderId,
      members: g.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        rebalanceTimeoutMs: m.rebalanceTimeoutMs,
        sessionTimeoutMs: m.sessionTimeoutMs,
        metadata: m.metadata.toString('base64'),
        assignment: m.assignment.toString('base64'),
        tenant: m.namespace.tenant,
        namespace: m.namespace.namespace,
      })),
    }),
  );
}

function decodeGroup(buf: Buffer): StoredGroup {
  const j = JSON.parse(buf.toString('utf8'));
  if (j.v !== 1) throw new Error(`unknown group metadata version ${j.v}`);
  return {
    state: j.state === 'Stable' ? 'Stable' : 'Empty',
    stateTimestamp: j.stateTimestamp,
    protocolType: j.protocolType,
    protocolName: j.protocolName,
    generationId: j.generationId,
    leaderId: j.leaderId,
    members: (j.members as any[]).map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      clientId: m.clientId,
      clientHost: m.clientHost,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      sessionTimeoutMs: m.sessionTimeoutMs,
      metadata: Buffer.from(m.metadata, 'base64'),
      assignment: Buffer.from(m.assignment, 'base64'),
      namespace: { tenant: m.tenant, namespace: m.namespace },
    })),
  };
}

function encodeOffset(o: CommittedOffset): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      offset: o.offset.toString(),
      leaderEpoch: o.leaderEpoch,
      metadata: o.metadata,
      commitTimestamp: o.commitTimestamp,
      expireTimestamp: o.expireTimestamp,
    }),
  );
}

function decodeOffset(buf: Buffer): CommittedOffset {
  const j = JSON.parse(buf.toString('utf8'));
  if (j.v !== 1) throw new Error(`unknown offset record version ${j.v}`);
  return { offset: BigInt(j.offset), leaderEpoch: j.leaderEpoch, metadata: j.metadata, commitTimestamp: j.commitTimestamp, expireTimestamp: j.expireTimestamp };
}

export class GroupStore {
  constructor(
    private readonly kv: KeyValueStore,
    readonly numPartitions: number,
  ) {}

  /**
   * Check the partition count the data was written with. When it changed,
   * move every entry to its partition under the new count (embedded engine:
   * this node owns all partitions). Returns the number of entries moved.
   */
  async migratePartitionCount(partitionOf: (key: GroupKey) => number): Promise<number> {
    const stored = await this.kv.get(META_NAMESPACE, META_PARTITIONS);
    const old = stored ? Number(stored.toString('utf8')) : null;
    if (old === this.numPartitions) return 0;
    let moved = 0;
    if (old !== null) {
      for (let p = 0; p < old; p++) {
        for (const { key, value } of await this.kv.scan(namespaceOf(p))) {
          const parts = JSON.parse(key) as unknown[];
          if (parts[0] === 'xe') continue; // the transaction store's epoch of this partition (txn/store.ts)
          const target = partitionOf({ tenant: String(parts[1]), groupId: String(parts[2]) });
          if (target === p) continue;
          await this.kv.put(namespaceOf(target), key, value);
          await this.kv.put(namespaceOf(p), key, null);
          moved++;
        }
      }
    }
    await this.kv.put(META_NAMESPACE, META_PARTITIONS, Buffer.from(String(this.numPartitions)));
    return moved;
  }

  /** Every group and offset of one offsets partition. Unreadable entries are reported and skipped. */
  async loadPartition(partition: number, onBadEntry: (key: string, err: unknown) => void): Promise<LoadedPartition> {
    const groups: LoadedPartition['groups'] = new Map();
    const slot = (key: GroupKey) => {
      const k = groupMapKey(key);
      let s = groups.get(k);
      if (!s) groups.set(k, (s = { key, home: null, group: null, consumer: null, offsets: [], txnOffsets: [], txnEnds: new Map() }));
      return s;
    };
    for (const { key, value } of await this.kv.scan(namespaceOf(partition))) {
      try {
        const parts = JSON.parse(key) as unknown[];
        const gk: GroupKey = { tenant: String(parts[1]), groupId: String(parts[2]) };
        if (parts[0] === 'g') slot(gk).group = decodeGroup(value);
        else if (parts[0] === 'h') slot(gk).home = decodeHome(value);
        else if (parts[0] === 'c') slot(gk).consumer = value;
        else if (parts[0] === 'o') slot(gk).offsets.push({ topic: String(parts[3]), partition: Number(parts[4]), value: decodeOffset(value) });
        else if (parts[0] === 'x' || parts[0] === 'xe') continue; // the transaction store's entries (txn/store.ts)
        else if (parts[0] === 't') slot(gk).txnOffsets.push({ producerId: BigInt(String(parts[3])), topic: String(parts[4]), partition: Number(parts[5]), value: decodeOffset(value) });
        else if (parts[0] === 'te') slot(gk).txnEnds.set(BigInt(String(parts[3])), decodeTxnEnd(value));
        else throw new Error('unknown entry type');
      } catch (err) {
        onBadEntry(key, err);
      }
    }
    return { groups };
  }

  putGroup(partition: number, key: GroupKey, group: StoredGroup | null): Promise<void> {
    return this.kv.put(namespaceOf(partition), groupEntryKey(key), group === null ? null : encodeGroup(group));
  }

  /** A consumer group's entry (KIP-848; null deletes it). */
  putConsumerGroup(partition: number, key: GroupKey, value: Buffer | null): Promise<void> {
    return this.kv.put(namespaceOf(partition), JSON.stringify(['c', key.tenant, key.groupId]), value);
  }

  /** The group's home namespace (null deletes it, with the group). */
  putHome(partition: number, key: GroupKey, namespace: string | null): Promise<void> {
    return this.kv.put(namespaceOf(partition), homeEntryKey(key), namespace === null ? null : encodeHome(namespace));
  }

  /** A transaction of `producerId` ended (committed or not; null: applied, remove). */
  putTxnEnd(partition: number, key: GroupKey, producerId: bigint, commit: boolean | null): Promise<void> {
    return this.kv.put(namespaceOf(partition), txnEndKey(key, producerId), commit === null ? null : Buffer.from(JSON.stringify({ v: 1, commit })));
  }

  async getTxnEnd(partition: number, key: GroupKey, producerId: bigint): Promise<boolean | null> {
    const v = await this.kv.get(namespaceOf(partition), txnEndKey(key, producerId));
    return v === null ? null : decodeTxnEnd(v);
  }

  /** An offset of an open transaction (null: the transaction ended). */
  putTxnOffset(partition: number, key: GroupKey, producerId: bigint, topic: string, topicPartition: number, value: CommittedOffset | null): Promise<void> {
    return this.kv.put(namespaceOf(partition), JSON.stringify(['t', key.tenant, key.groupId, producerId.toString(), topic, topicPartition]), value === null ? null : encodeOffset(value));
  }

  putOffset(partition: number, key: GroupKey, topic: string, topicPartition: number, value: CommittedOffset | null): Promise<void> {
    return this.kv.put(namespaceOf(partition), offsetEntryKey(key, topic, topicPartition), value === null ? null : encodeOffset(value));
  }
}
