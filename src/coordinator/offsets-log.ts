/**
 * The readable `__consumer_offsets` (docs/consumer-groups.md, "`__consumer_offsets` as clients see
 * it"): one real internal log per namespace, `persistent://<tenant>/<namespace>/__consumer_offsets`,
 * in the storage engine like any topic (cleanup.policy=compact, offsetsLogNumPartitions
 * partitions, one by default: a log per namespace, not one for the cluster), to which the group coordinator's changes are appended in Kafka's record formats
 * (offsets-records.ts) once they are durable in the group store. Fetch, ListOffsets,
 * OffsetForLeaderEpoch and DescribeConfigs then serve it as a topic, unchanged.
 *
 * What goes where (the one rule, `offsetCommitted` / `groupChanged` / `consumerGroupChanged` below):
 *  - a group's records go to the log of its **home** namespace (home.ts), the namespace where its
 *    permissions are checked; reading a namespace's log needs `consume` on it there (and, where
 *    the namespace has subscription rules, a tenant admin: security/authz/authorizer.ts, rule 7).
 *    Other tenants' and other namespaces' groups are never in it.
 *  - an offset commit is written only for a topic of the home namespace: an offset of a topic of
 *    another namespace would show it to readers who may not consume it (OffsetFetch hides such
 *    topics from them), so it is left out.
 *  - partition: Kafka's abs(groupId.hashCode) % partitions of the log (over the group id alone).
 *
 * Cost: writes never delay the coordinator. The coordinator's calls only queue (bounded by
 * `maxQueued`; beyond it records are dropped with a warning and counted, never reordered), and one
 * drain loop, started `lingerMs` after the first queued record, appends what is queued, one batch
 * per log partition, in queue order (a failed append is retried in place, then left out), so the
 * records of a group land in the order its changes became durable. The log is a view for lag
 * monitors, not a source of truth: the group store stays authoritative (OffsetFetch).
 */
import type { Logger } from '../logger.js';
import type { StorageEngine, TopicInfo } from '../storage/engine.js';
import { StorageError } from '../storage/engine.js';
import { validateProducedSync } from '../storage/validated-batch.js';
import { resolveTopicConfig } from '../storage/topic-config.js';
import { encodeBatchSync } from '../protocol/records/encode.js';
import { ErrorCode } from '../protocol/errors.js';
import { parseFullName } from '../topics/names.js';
import type { CommittedOffset } from './group.js';
import type { GroupKey } from './locator.js';
import type { StoredGroup } from './store.js';
import { consumerGroupMetadataKey, consumerGroupMetadataValue, groupMetadataKey, groupMetadataValue, kafkaOffsetsPartition, offsetCommitKey, offsetCommitValue } from './offsets-records.js';

export const OFFSETS_LOG_TOPIC = '__consumer_offsets';
/** The configs the log is created with (Kafka's offsets topic: compacted, offsets.topic.segment.bytes). */
export const OFFSETS_LOG_CONFIGS: Readonly<Record<string, string>> = { 'cleanup.policy': 'compact', 'segment.bytes': '104857600' };

/** A log that could not be made is tried again after this long (records for it are left out meanwhile). */
const ENSURE_RETRY_MS = 30_000;
/** Attempts of one append before its records are left out. */
const APPEND_ATTEMPTS = 3;

interface Queued {
  /** persistent://tenant/home/__consumer_offsets */
  log: string;
  groupId: string;
  key: Buffer;
  value: Buffer | null;
  timestamp: number;
}

export interface OffsetsLogOptions {
  numPartitions: number;
  /** Records waiting to be appended at most; more are dropped (warned, counted). Default 100000. */
  maxQueued?: number;
  /** Bytes of records per appended batch at most (a larger single record goes alone). Default 512 KiB. */
  maxBatchBytes?: number;
  /**
   * How long the first queued record waits for others before the drain appends (default 50 ms):
   * the commits of that window become one batch (one write and flush per log partition) instead
   * of one each, so the log's flushes do not compete with the group store's on every commit.
   */
  lingerMs?: number;
}

export class OffsetsLog {
  private queue: Queued[] = [];
  private draining: Promise<void> | null = null;
  private readonly topics = new Map<string, Promise<TopicInfo | null>>();
  private readonly maxQueued: number;
  private readonly maxBatchBytes: number;
  private readonly lingerMs: number;
  /** Records dropped because the queue was full, or unwritable (metrics, tests). */
  dropped = 0;
  /** Records appended. */
  appended = 0;

  /** Records waiting to be appended (metrics). */
  get queued(): number {
    return this.queue.length;
  }
  private closed = false;

  constructor(
    private readonly storage: StorageEngine,
    private readonly log: Logger,
    private readonly options: OffsetsLogOptions,
  ) {
    this.maxQueued = options.maxQueued ?? 100_000;
    this.maxBatchBytes = options.maxBatchBytes ?? 512 * 1024;
    this.lingerMs = options.lingerMs ?? 50;
  }

  /** The log of a namespace's groups. */
  static logName(tenant: string, namespace: string): string {
    return `persistent://${tenant}/${namespace}/${OFFSETS_LOG_TOPIC}`;
  }

  /** A committed offset became durable (value), or was deleted (null: a tombstone). `topic` is the resolved name. */
  offsetCommitted(key: GroupKey, home: string | null, topic: string, partition: number, value: CommittedOffset | null, nowMs = Date.now()): void {
    if (home === null) return;
    let local: string;
    try {
      const t = parseFullName(topic);
      if (t.tenant !== key.tenant || t.namespace !== home) return; // another namespace's topic: left out (see above)
      local = t.local;
    } catch {
      return;
    }
    this.enqueue(key, home, () => [offsetCommitKey(key.groupId, local, partition), value === null ? null : offsetCommitValue(value)], nowMs);
  }

  /** A consumer group's (KIP-848) epoch became durable, or its consumer-group state was deleted (null). */
  consumerGroupChanged(key: GroupKey, home: string | null, epoch: number | null, nowMs = Date.now()): void {
    if (home === null) return;
    this.enqueue(key, home, () => [consumerGroupMetadataKey(key.groupId), epoch === null ? null : consumerGroupMetadataValue(epoch)], nowMs);
  }

  /** A classic group's metadata became durable (stored), or the group was deleted (null). */
  groupChanged(key: GroupKey, home: string | null, stored: StoredGroup | null, nowMs = Date.now()): void {
    if (home === null) return;
    this.enqueue(key, home, () => [groupMetadataKey(key.groupId), stored === null ? null : groupMetadataValue(stored)], nowMs);
  }

  private enqueue(key: GroupKey, home: string, encode: () => [Buffer, Buffer | null], timestamp: number): void {
    if (this.closed) return;
    if (this.queue.length >= this.maxQueued) {
      if (this.dropped++ % 10_000 === 0) this.log.warn({ queued: this.queue.length, dropped: this.dropped }, '__consumer_offsets log queue full: record dropped (the group store is unaffected)');
      return;
    }
    let kv: [Buffer, Buffer | null];
    try {
      kv = encode();
    } catch (err) {
      this.dropped++;
      this.log.warn({ err, group: key.groupId, tenant: key.tenant }, 'group change not representable in __consumer_offsets: record left out');
      return;
    }
    this.queue.push({ log: OffsetsLog.logName(key.tenant, home), groupId: key.groupId, key: kv[0], value: kv[1], timestamp });
    if (!this.draining) {
      this.draining = this.drain()
        .catch((err: unknown) => this.log.error({ err }, '__consumer_offsets log drain failed (records queued later are appended by the next drain)'))
        .finally(() => (this.draining = null));
    }
  }

  /** Resolves when everything queued so far is appended (or dropped). */
  async flushed(): Promise<void> {
    while (this.draining) await this.draining;
  }

  async close(): Promise<void> {
    this.closed = true; // no new records; what is queued is appended now
    await this.flushed();
  }

  /**
   * The namespace's log, created when missing (by the first group change written to it, or by a
   * reader the handler has authorized); null when the engine cannot create it there.
   */
  ensure(name: string): Promise<TopicInfo | null> {
    let found = this.topics.get(name);
    if (!found) {
      found = this.create(name);
      this.topics.set(name, found);
      // a failure is remembered for a while (no attempt and warning per drain), then tried again
      const forget = () => setTimeout(() => this.topics.get(name) === found && this.topics.delete(name), ENSURE_RETRY_MS).unref();
      found.then((info) => info ?? forget(), forget);
    }
    return found;
  }

  private async create(name: string): Promise<TopicInfo | null> {
    const existing = await this.storage.describeTopic(name);
    if (existing) return existing;
    try {
      const info = await this.storage.createTopic(name, this.options.numPartitions, { ...OFFSETS_LOG_CONFIGS });
      this.log.info({ topic: name, partitions: info.partitions }, 'created the namespace\'s __consumer_offsets log');
      return info;
    } catch (err) {
      if (err instanceof StorageError && err.code === ErrorCode.TOPIC_ALREADY_EXISTS) return this.storage.describeTopic(name);
      this.log.warn({ err, topic: name }, 'cannot create the __consumer_offsets log');
      return null;
    }
  }

  private async drain(): Promise<void> {
    if (this.lingerMs > 0 && !this.closed) await new Promise((r) => setTimeout(r, this.lingerMs));
    while (this.queue.length > 0) {
      const batch = this.queue;
      this.queue = [];
      // per log, then per partition, keeping queue order within each
      const byLog = new Map<string, Queued[]>();
      for (const q of batch) {
        let l = byLog.get(q.log);
        if (!l) byLog.set(q.log, (l = []));
        l.push(q);
      }
      for (const [name, records] of byLog) {
        let info: TopicInfo | null = null;
        try {
          info = await this.ensure(name);
          // its current partition count (CreatePartitions by a tenant admin), or made again when deleted meanwhile
          const fresh = info && (await this.storage.describeTopic(name));
          if (info && fresh) info = fresh;
          else if (info) {
            this.topics.delete(name);
            info = await this.ensure(name);
          }
        } catch (err) {
          this.log.warn({ err, topic: name }, 'cannot describe the __consumer_offsets log');
        }
        if (!info) {
          this.dropped += records.length;
          continue;
        }
        const byPartition = new Map<number, Queued[]>();
        for (const q of records) {
          const p = kafkaOffsetsPartition(q.groupId, info.partitions);
          let l = byPartition.get(p);
          if (!l) byPartition.set(p, (l = []));
          l.push(q);
        }
        for (const [partition, rs] of byPartition) await this.appendAll(info, partition, rs);
      }
    }
  }

  private async appendAll(info: TopicInfo, partition: number, records: Queued[]): Promise<void> {
    const config = resolveTopicConfig(info.configs, this.storage.configDefaults);
    if (this.storage.maxBatchBytes !== undefined && this.storage.maxBatchBytes < config.maxMessageBytes) config.maxMessageBytes = this.storage.maxBatchBytes;
    let i = 0;
    while (i < records.length) {
      let bytes = 0;
      let j = i;
      while (j < records.length && (j === i || bytes + records[j]!.key.length + (records[j]!.value?.length ?? 0) + 32 <= this.maxBatchBytes)) {
        bytes += records[j]!.key.length + (records[j]!.value?.length ?? 0) + 32;
        j++;
      }
      const chunk = records.slice(i, j);
      i = j;
      const buf = encodeBatchSync({ records: chunk.map((r) => ({ key: r.key, value: r.value, timestamp: BigInt(r.timestamp) })) });
      const verdict = validateProducedSync(buf, { config, apiVersion: 9, nowMs: Date.now(), leaderEpoch: 0 });
      if (!verdict.ok) {
        this.dropped += chunk.length;
        this.log.warn({ topic: info.name, partition, code: verdict.code, reason: verdict.message }, '__consumer_offsets log refused a batch: records left out');
        continue;
      }
      // a transient storage failure (Pulsar away for a moment) is retried a few times, in place, so
      // later records of the partition never overtake these; then the batch is left out
      for (let attempt = 1; ; attempt++) {
        try {
          await this.storage.append({ topic: info.name, partition }, verdict.batch, { acks: -1 });
          this.appended += chunk.length;
          break;
        } catch (err) {
          if (attempt < APPEND_ATTEMPTS && !this.closed) {
            await new Promise((r) => setTimeout(r, 200 * attempt));
            continue;
          }
          this.dropped += chunk.length;
          this.log.warn({ err, topic: info.name, partition, records: chunk.length }, '__consumer_offsets log append failed: records left out (the group store is unaffected)');
          // deleted behind the gateway's back (Pulsar admin): look it up, or make it, again next time
          if (err instanceof StorageError && err.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) this.topics.delete(info.name);
          break;
        }
      }
    }
  }
}
