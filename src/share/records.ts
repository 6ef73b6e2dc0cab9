/**
 * The records side of share groups (KIP-932) as the ShareFetch / ShareAcknowledge /
 * DescribeShareGroupOffsets handlers reach it through the share-group coordinator
 * (groups.ts): acquire records for a member, apply its acknowledgements, give a
 * member's records back, describe the share-partitions' offsets, and (administration,
 * on an empty group) reset their start offsets or forget them.
 *
 * Two implementations, chosen in one place (the engine's wiring, src/storage/wiring.ts
 * `shareRecords`; none given: the gateway's own):
 *  - local-records.ts: the gateway's own share-partitions (partition.ts) over the engine's
 *    `read`, durable in the engine's key-value store; served by the node coordinating the group;
 *  - src/storage/pulsar/share-records.ts: Pulsar Shared subscriptions (the broker divides
 *    entries between gateway nodes and tracks acks and redeliveries); served by any node.
 */
import type { GroupKey } from '../coordinator/locator.js';
import type { StorageEngine } from '../storage/engine.js';
import type { AcquiredRange, ShareRecordCounts } from './partition.js';

/** A topic partition, resolved and authorized by the handler. */
export interface ShareTarget {
  /** Full topic name. */
  topic: string;
  partition: number;
  topicId: Buffer;
}

export interface AckBatch {
  firstOffset: bigint;
  lastOffset: bigint;
  acknowledgeTypes: number[];
}

/** What a fetch may read with: the request's (guarded) storage view and identity. */
export interface ShareReadContext {
  storage: StorageEngine;
  principal: string | null;
  /** The client went away: stop waiting. */
  isClosed(): boolean;
}

export interface ShareFetchLimits {
  maxRecords: number;
  maxBytes: number;
  maxWaitMs: number;
}

/** One partition's fetch result: the whole batches holding the acquired records. */
export interface FetchedPartition {
  errorCode: number;
  errorMessage: string | null;
  records: Buffer[];
  acquired: AcquiredRange[];
}

export type OffsetsWanted = Array<{ topic: string; partition: number; topicId: Buffer }>;

export interface ShareOffsets {
  topic: string;
  partition: number;
  topicId: Buffer;
  startOffset: bigint;
  /** -1: unknown. */
  lag: bigint;
}

/** A group's settings, as its configs (or the gateway's) say now. */
export interface ShareSettings {
  lockDurationMs: number;
  deliveryCountLimit: number;
  maxInFlight: number;
  autoOffsetReset: 'latest' | 'earliest';
}

export interface ShareRecords {
  /** ShareFetch and ShareAcknowledge are served by any gateway node (true), or only by the node coordinating the group. */
  readonly anyNode: boolean;
  /** Apply each partition's acknowledgement batches; durable before it resolves. One error code per item (the first failing batch's). */
  acknowledge(key: GroupKey, memberId: string, items: Array<{ target: ShareTarget; batches: AckBatch[] }>, allowRenew: boolean): Promise<number[]>;
  /** Acquire records for the member on the targets (waiting up to maxWaitMs for some). One result per target. */
  fetch(key: GroupKey, memberId: string, targets: ShareTarget[], limits: ShareFetchLimits, rc: ShareReadContext): Promise<FetchedPartition[]>;
  /** A member left, timed out or closed its share session: its acquired records go back. */
  releaseMember(key: GroupKey, memberId: string): Promise<void>;
  /**
   * The group's share-partitions (DescribeShareGroupOffsets): those `wanted`, or (null) all this
   * implementation knows of, and those `assigned` to the group's members now, whose topic `listed`
   * allows (asked before anything of the topic is read).
   */
  offsets(key: GroupKey, wanted: OffsetsWanted | null, rc: Pick<ShareReadContext, 'storage'>, listed: (topic: string) => Promise<boolean>, assigned: OffsetsWanted): Promise<ShareOffsets[]>;
  /**
   * AlterShareGroupOffsets (the group has no members, checked by the coordinator): each
   * share-partition starts again at `startOffset` (clamped to the log), its in-flight state
   * dropped; durable before it resolves. One error code per item.
   */
  resetStart(key: GroupKey, items: Array<{ target: ShareTarget; startOffset: bigint }>, rc: Pick<ShareReadContext, 'storage'>): Promise<number[]>;
  /**
   * DeleteShareGroupOffsets, and DeleteGroups for every topic the group was assigned (the group
   * has no members): forget the group's share-partitions of each topic (`partitions` of them); durable. Per topic NONE, UNKNOWN_TOPIC_OR_PARTITION when
   * the group had nothing of it, or the storage error.
   */
  deleteOffsets(key: GroupKey, topics: Array<{ topic: string; partitions: number }>): Promise<number[]>;
  /** Periodic work (lock expiry). */
  sweep(now: number): Promise<void>;
  /** Load durable state (start of the coordinator). */
  start(): Promise<void>;
  /** Stop: pending writes complete. */
  close(): Promise<void>;
}

/**
 * Builds an implementation for a share-group coordinator: `settings` gives a group's current
 * settings, `counts` is where it counts what happens to records (the coordinator's metrics).
 */
export type ShareRecordsFactory = (settings: (key: GroupKey) => ShareSettings, counts: ShareRecordCounts, storedStart: StoredStart) => ShareRecords;

/**
 * The start offset the gateway's own share-partition of (group, partition) had stored, if any
 * (state written before the engine's implementation took over: an upgrade starts there).
 */
export type StoredStart = (key: GroupKey, target: ShareTarget) => bigint | null;
