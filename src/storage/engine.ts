/**
 * The storage engine interface the request handlers see. Two engines implement
 * it: `embedded` (segment files on the local disk) and `pulsar`. Handlers never
 * know which one is behind it.
 *
 * Topic names here are always resolved Pulsar-style names without partition
 * suffix (`persistent://tenant/ns/topic`); see src/topics/names.ts.
 * Offsets are bigint (Kafka int64). Record data is raw Kafka record batches
 * (magic v2) as Buffers; engines keep them as slices where they can. What is
 * appended is a ValidatedBatch, which only the validator in
 * validated-batch.ts makes: engines never see unvalidated bytes.
 */
import { KafkaError, type ErrorCode } from '../protocol/errors.js';
import type { TopicConfigKey } from './topic-config.js';
import type { ValidatedBatch } from './validated-batch.js';

export interface PartitionRef {
  topic: string;
  partition: number;
}

export interface TopicInfo {
  name: string;
  /** 16-byte topic id, stable for the topic's life (a re-created topic gets a new one). */
  topicId: Buffer;
  partitions: number;
  /** Explicitly set configs only; defaults come from describeConfigs' defaults. */
  configs: Record<string, string>;
  internal: boolean;
}

export interface PartitionOffsets {
  logStartOffset: bigint;
  highWatermark: bigint;
  lastStableOffset: bigint;
}

export interface AppendOptions {
  /** 0, 1 or -1: how durable the append must be before the promise resolves. */
  acks: number;
  /** Wall clock used for LogAppendTime topics and the returned logAppendTime. */
  nowMs?: bigint;
  /** The authenticated Kafka principal the append is made for (engines that forward identities use it). */
  principal?: string | null;
}

export interface AppendResult {
  baseOffset: bigint;
  /** -1n unless the topic uses LogAppendTime. */
  logAppendTime: bigint;
  logStartOffset: bigint;
  /** True when the batch was a duplicate of an already-written idempotent batch (not written again). */
  duplicate: boolean;
}

export type IsolationLevel = 'read_uncommitted' | 'read_committed';

export interface ReadOptions {
  /** read_committed: read no further than the last stable offset, and report aborted transactions. Default read_uncommitted. */
  isolation?: IsolationLevel;
  /** Upper bound on returned bytes (the first batch is returned whole even if larger, as Kafka does). */
  maxBytes: number;
  /** Read no further than this offset (exclusive); defaults to the high watermark. */
  maxOffset?: bigint;
  /** Kafka's "minOneMessage": return at least the first batch even if larger than maxBytes. */
  minOneMessage: boolean;
  /** The authenticated Kafka principal the read is made for (engines that forward identities use it). */
  principal?: string | null;
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface ReadResult extends PartitionOffsets {
  /** Whole record batches, in offset order; may start before fetchOffset (the batch holding it). */
  records: Buffer[];
  bytes: number;
  /** read_committed only: the aborted transactions whose data overlaps the returned batches (Kafka's FetchResponse aborted_transactions). */
  abortedTransactions?: AbortedTransaction[];
  /**
   * The engine may reuse the memory behind `records` once this is called: call it
   * (at most once counts) when nothing reads them any more, e.g. when the response
   * holding them was written to the socket. Never calling it is safe.
   */
  release?: () => void;
}

/** A transaction marker (Kafka's WriteTxnMarkers entry for one partition). */
export interface TxnMarker {
  producerId: bigint;
  producerEpoch: number;
  /** true: COMMIT, false: ABORT. */
  commit: boolean;
  coordinatorEpoch: number;
}

/** One active producer of a partition, as DescribeProducers shows it. */
export interface ProducerStateView {
  producerId: bigint;
  producerEpoch: number;
  /** -1 when none */
  lastSequence: number;
  /** -1n when none */
  lastTimestamp: bigint;
  /** -1 when no marker seen */
  coordinatorEpoch: number;
  /** -1n when no open transaction */
  currentTxnStartOffset: bigint;
}

export interface TimestampLookup {
  offset: bigint;
  timestamp: bigint;
}

/**
 * Failure with the Kafka error code the client should see. A KafkaError (one error hierarchy):
 * a storage failure that escapes a handler still reaches the client with its own code through the
 * dispatcher (e.g. a retriable NOT_LEADER_OR_FOLLOWER or REQUEST_TIMED_OUT), never as UNKNOWN_SERVER_ERROR.
 */
export class StorageError extends KafkaError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
    this.name = 'StorageError';
  }
}

export type ConfigAlteration = { name: string; value: string | null; op: 'set' | 'delete' | 'append' | 'subtract' };

/** One topic config as DescribeConfigs shows it. */
export interface TopicConfigEntry {
  name: string;
  value: string;
  /** 'topic': set explicitly on the topic; 'default': the engine's default. */
  source: 'default' | 'topic';
  readOnly: boolean;
  sensitive: boolean;
}

export interface StorageEngine {
  readonly kind: 'embedded' | 'pulsar';
  /**
   * Namespaces (`tenant/namespace`) holding the engine's own state: never
   * addressable by Kafka clients (their topic names are refused with
   * INVALID_TOPIC_EXCEPTION, see handlers/topic-lookup.ts), and refused by the
   * engine itself too.
   */
  readonly reservedNamespaces: readonly string[];
  /** Topic config defaults (Kafka's, with the engine's overrides): explicit topic configs apply over these. */
  readonly configDefaults: Record<TopicConfigKey, string>;
  /**
   * Largest record batch the engine can store, whatever max.message.bytes says
   * (Pulsar: the broker's maxMessageSize less the entry's own overhead); the
   * Produce handler refuses larger batches with MESSAGE_TOO_LARGE. Undefined: no
   * bound beyond the topic's config.
   */
  readonly maxBatchBytes?: number;
  start(): Promise<void>;
  /** Flush and release everything; in-flight appends complete first. */
  close(): Promise<void>;

  // --- topics ---
  createTopic(name: string, partitions: number, configs: Record<string, string>, validateOnly?: boolean): Promise<TopicInfo>;
  deleteTopic(name: string): Promise<void>;
  /** Grow the topic to totalPartitions (never shrink: INVALID_PARTITIONS). */
  createPartitions(name: string, totalPartitions: number, validateOnly?: boolean): Promise<void>;
  describeTopic(name: string): Promise<TopicInfo | null>;
  /** By topic id (Fetch v13+, Metadata v10+, DeleteTopics v6+); null when no topic has it. */
  describeTopicById(topicId: Buffer): Promise<TopicInfo | null>;
  listTopics(): Promise<TopicInfo[]>;
  alterTopicConfigs(name: string, changes: ConfigAlteration[], validateOnly?: boolean): Promise<void>;
  /** Replace all explicitly set configs (legacy AlterConfigs semantics). */
  replaceTopicConfigs(name: string, configs: Record<string, string>, validateOnly?: boolean): Promise<void>;
  /** Every supported topic config with its effective value and source, sorted by name (DescribeConfigs). */
  describeTopicConfigs(name: string): Promise<TopicConfigEntry[]>;

  // --- data ---
  /**
   * Append one record batch that passed validateProduced (framing, CRC,
   * records, sizes, timestamps: nothing to check again). The engine takes
   * ownership of its bytes, assigns offsets, enforces idempotent-producer
   * sequences, stamps LogAppendTime topics, and resolves once durable per
   * `acks` and the flush policy.
   */
  append(tp: PartitionRef, batch: ValidatedBatch, options: AppendOptions): Promise<AppendResult>;
  /** Read from fetchOffset; OFFSET_OUT_OF_RANGE StorageError when outside [logStart, HW]. */
  read(tp: PartitionRef, fetchOffset: bigint, options: ReadOptions): Promise<ReadResult>;
  offsets(tp: PartitionRef): Promise<PartitionOffsets>;
  /** First offset whose timestamp >= ts; null when none. */
  offsetForTimestamp(tp: PartitionRef, timestampMs: bigint): Promise<TimestampLookup | null>;
  /** Offset and timestamp of the record with the largest timestamp (ListOffsets MAX_TIMESTAMP). */
  maxTimestamp(tp: PartitionRef): Promise<TimestampLookup | null>;
  /** Move the log start offset forward; returns the new low watermark. -1n means the high watermark. */
  deleteRecords(tp: PartitionRef, beforeOffset: bigint): Promise<bigint>;
  /**
   * Resolve when any of the partitions gets data beyond the given offsets (for a
   * read_committed fetch: when its last stable offset moves beyond them), or after
   * timeoutMs, or when the signal aborts. Used by Fetch long-polling.
   */
  waitForAppend(tps: Array<{ tp: PartitionRef; offset: bigint }>, timeoutMs: number, signal?: AbortSignal, isolation?: IsolationLevel): Promise<void>;

  // --- transactions ---
  /**
   * Append a COMMIT/ABORT control batch for the producer to the partition and close its open
   * transaction there (if any); moves the last stable offset. Fenced like Kafka's
   * ProducerAppendInfo: a marker with an older producer epoch -> INVALID_PRODUCER_EPOCH (StorageError),
   * an older coordinator epoch -> TRANSACTION_COORDINATOR_FENCED. Writing a marker for a producer
   * with no open transaction on the partition is allowed (Kafka writes it anyway). Resolves when durable.
   * Returns the marker's offset.
   */
  writeTxnMarker(tp: PartitionRef, marker: TxnMarker, options?: { principal?: string | null }): Promise<{ offset: bigint }>;
  /** Active producers of a partition (DescribeProducers). */
  describeProducers(tp: PartitionRef): Promise<ProducerStateView[]>;

  // --- producer ids ---
  /** Allocate a fresh producer id (durably, never reused) for InitProducerId. */
  allocateProducerId(): Promise<bigint>;

  // --- durable key-value state (group coordinator) ---
  readonly state: KeyValueStore;
}

export interface KeyValueStore {
  get(namespace: string, key: string): Promise<Buffer | null>;
  /** value null deletes. Resolves when durable. */
  put(namespace: string, key: string, value: Buffer | null): Promise<void>;
  /** All live entries of a namespace, in no particular order. */
  scan(namespace: string): Promise<Array<{ key: string; value: Buffer }>>;
}
