/**
 * The Pulsar storage engine (`storageEngine=pulsar`): Kafka topics are Pulsar
 * partitioned topics (`persistent://tenant/ns/topic`, partitions
 * `...-partition-N`), records are Pulsar entries (entryFormat pulsar or kafka,
 * ./entry-format.ts), offsets are the broker's entry index (./partition.ts),
 * and the gateway's own state (group offsets, topic ids and configs, producer
 * id blocks, DeleteRecords marks) lives in compacted topics of
 * kafkaMetadataTenant/kafkaMetadataNamespace (./kv-store.ts). The gateway keeps
 * no data of its own; several gateway nodes can serve one Pulsar cluster.
 *
 * Topic administration goes through Pulsar's admin REST API; data through the
 * binary protocol. See docs/pulsar-engine.md.
 */
import { DEFAULT_MAX_MESSAGE_SIZE } from '../../pulsar/wire/frame.js';
import { createHash, randomBytes } from 'node:crypto';
import { ErrorCode } from '../../protocol/errors.js';
import { INTERNAL_TOPICS, isInternalTopic, parseFullName, partitionName, tryParseFullName, type TopicName } from '../../topics/names.js';
import type { PulsarAdmin } from '../../pulsar/admin/types.js';
import type { PulsarClient } from '../../pulsar/client/types.js';
import {
  StorageError,
  type AppendOptions,
  type AppendResult,
  type ConfigAlteration,
  type IsolationLevel,
  type PartitionOffsets,
  type PartitionRef,
  type ProducerStateView,
  type ReadOptions,
  type ReadResult,
  type StorageEngine,
  type TimestampLookup,
  type TopicConfigEntry,
  type TopicInfo,
  type TxnMarker,
} from '../engine.js';
import {
  applyAlterations,
  describeTopicConfigs,
  makeDefaults,
  normalizeConfigs,
  resolveTopicConfig,
  validateEffectiveConfigs,
  type TopicConfig,
  type TopicConfigKey,
} from '../topic-config.js';
import { endTxnMarkerBatch, type ValidatedBatch } from '../validated-batch.js';
import { silentEngineLogger, type EngineLogger } from '../logger.js';
import type { EntryFormat } from './entry-format.js';
import { toStorageError } from './errors.js';
import { PulsarKeyValueStore } from './kv-store.js';
import { Locator } from './locate.js';
import { PulsarPartition } from './partition.js';
import { SubscriptionMirror } from './subscription-mirror.js';
import { consumerGroupSubscription } from './subscription-names.js';
import type { MessageId } from '../../pulsar/client/types.js';

export interface PulsarEngineOptions {
  client: PulsarClient;
  admin: PulsarAdmin;
  entryFormat: EntryFormat;
  /** tenant/namespace of the gateway's own topics */
  metadataNamespace: string;
  nodeId: number;
  logger?: EngineLogger;
  operationTimeoutMs?: number;
  /** Newest entry bytes cached per partition. Default 8 MiB. */
  partitionCacheBytes?: number;
  /** Close partitions unused this long. Default 300000. */
  partitionIdleMs?: number;
  /** Check the broker's entry-metadata settings at start (needs a superuser role). Default true. */
  checkBrokerConfig?: boolean;
  maxPartitionsPerTopic?: number;
  /** Forward each Kafka principal as original_principal (the client must authenticate as a proxy role). */
  forwardIdentity?: boolean;
  /** Per (group, partition): at most one subscription update this often. Default 5000. */
  subscriptionMirrorIntervalMs?: number;
  /** Topic config defaults overriding Kafka's (broker-level log.* settings); validated. */
  defaults?: Record<string, string>;
  /** Newest entries re-read when a partition opens (idempotent-producer state and cache). Default 1000. */
  tailRebuildEntries?: number;
}

/** What this node knows of a topic, and when it read it (Date.now() ms). */
interface TopicCacheEntry {
  info: TopicInfo | null;
  config: TopicConfig;
  at: number;
}

interface TopicMetaRecord {
  v: 1;
  topicId: string;
  configs: Record<string, string>;
  createdMs: number;
}

const NS_TOPICS = 'topics';
const NS_LOG_START = 'log-start';
const NS_PRODUCER_IDS = 'producer-ids';
/** Per partition (and topic id): the producer-state snapshot with open transactions and the aborted-transaction index. */
const NS_PRODUCER_STATE = 'producer-state';
const PRODUCER_ID_BLOCK = 1000n;
/**
 * How old the topic metadata a request may use can be (a topic deleted or re-created through another
 * node is noticed within it). From half that age, the first request to ask starts one refresh in the
 * background and keeps the cached view, so a busy topic's requests never wait for the admin API; one
 * refresh per topic runs at a time and the callers that must wait share it.
 */
const TOPIC_CACHE_MS = 1000;
const TOPIC_REFRESH_AHEAD_MS = TOPIC_CACHE_MS / 2;
const INDEX_INTERCEPTOR = 'org.apache.pulsar.common.intercept.AppendIndexMetadataInterceptor';

function err(code: ErrorCode, message: string): StorageError {
  return new StorageError(code, message);
}

function isStatus(e: unknown, ...statuses: number[]): boolean {
  return typeof e === 'object' && e !== null && statuses.includes((e as { status?: number }).status ?? -1);
}

/**
 * Room kept for an entry's metadata (producer name, sequence id, properties)
 * and command around a Kafka batch under the broker's maxMessageSize.
 */
export const ENTRY_OVERHEAD_BYTES = 4096;

export class PulsarEngine implements StorageEngine {
  readonly kind = 'pulsar' as const;
  /** kafkaMetadataTenant/kafkaMetadataNamespace: the gateway's state, coordinator topics. */
  readonly reservedNamespaces: readonly string[];
  readonly state: PulsarKeyValueStore;
  readonly configDefaults: Record<TopicConfigKey, string>;
  readonly locator: Locator;
  /** Committed group offsets reflected as durable Pulsar subscriptions. */
  readonly mirror: SubscriptionMirror;

  readonly client: PulsarClient;
  readonly admin: PulsarAdmin;
  private readonly logger: EngineLogger;
  private readonly timeoutMs: number;
  private readonly partitions = new Map<string, PulsarPartition>();
  private readonly topicCache = new Map<string, TopicCacheEntry>();
  /**
   * The newest load of a topic's metadata under way, which callers share (see load()). Only that
   * load stores what it read: one it replaced (a fresh load started after it) or one an
   * invalidation dropped answers its callers without storing its older view.
   */
  private readonly topicLoads = new Map<string, { seq: number; done: Promise<TopicCacheEntry> }>();
  private topicLoadSeq = 0;
  private readonly logStarts = new Map<string, bigint>();
  /** partition -> resolves when the appends queued while it opened have been handed to it */
  private readonly appendGates = new Map<string, Promise<void>>();
  private listCache: { topics: TopicInfo[]; at: number } | null = null;
  /** topic id (hex) -> name, for describeTopicById */
  private readonly topicIds = new Map<string, string>();
  private topicIdsScannedAt = 0;
  private idleTimer: NodeJS.Timeout | null = null;
  private pidNext = 0n;
  private pidEnd = 0n;
  private pidChain: Promise<unknown> = Promise.resolve();
  private started = false;
  /** The broker's maxMessageSize (read at start; Pulsar's default until then). */
  private brokerMaxMessageSize = DEFAULT_MAX_MESSAGE_SIZE;

  /** What a Kafka batch may be so that its entry (batch + metadata) fits the broker's maxMessageSize. */
  get maxBatchBytes(): number {
    return this.brokerMaxMessageSize - ENTRY_OVERHEAD_BYTES;
  }

  /** The engine's logger (its share-group records side logs through it). */
  get engineLogger(): EngineLogger {
    return this.logger;
  }

  get metadataNamespace(): string {
    return this.options.metadataNamespace;
  }

  constructor(private readonly options: PulsarEngineOptions) {
    this.client = options.client;
    this.admin = options.admin;
    this.configDefaults = makeDefaults(options.defaults ?? {});
    this.reservedNamespaces = [options.metadataNamespace];
    this.logger = options.logger ?? silentEngineLogger;
    this.timeoutMs = options.operationTimeoutMs ?? 30_000;
    this.locator = new Locator(this.client, this.admin, this.timeoutMs);
    this.mirror = new SubscriptionMirror(this.admin, (topic, offset) => this.positionOf(topic, offset), this.logger, options.subscriptionMirrorIntervalMs ?? 5000);
    this.state = new PulsarKeyValueStore(this.client, this.admin, options.metadataNamespace, this.logger, this.timeoutMs, options.nodeId);
  }

  async start(): Promise<void> {
    if (this.options.checkBrokerConfig !== false) await this.checkBroker();
    const ns = this.options.metadataNamespace;
    try {
      await this.admin.createNamespace(ns, true);
      // the state topics have no durable subscriptions: keep their data, let compaction bound it
      await this.admin.setRetention(ns, -1, -1);
      await this.admin.setCompactionThreshold(ns, 4 * 1024 * 1024);
    } catch (e) {
      throw new Error(`storageEngine=pulsar: cannot prepare the metadata namespace ${ns} (kafkaMetadataTenant/kafkaMetadataNamespace): ${(e as Error).message}`);
    }
    try {
      this.brokerMaxMessageSize = await this.client.brokerMaxMessageSize();
    } catch (e) {
      this.logger.warn({ err: (e as Error).message }, `cannot read the broker's maxMessageSize now; assuming Pulsar's default of ${DEFAULT_MAX_MESSAGE_SIZE} bytes`);
    }
    // load the log-start marks now (small), so reads need no round trip for them
    for (const { key, value } of await this.state.scan(NS_LOG_START)) this.logStarts.set(key, BigInt(value.toString('utf8')));
    this.started = true;
    this.idleTimer = setInterval(() => void this.closeIdle(), 30_000);
    this.idleTimer.unref();
    this.logger.info({ entryFormat: this.options.entryFormat, metadataNamespace: ns }, 'pulsar storage engine started');
  }

  private async checkBroker(): Promise<void> {
    let conf: Record<string, string>;
    try {
      conf = await this.admin.brokerRuntimeConfig();
    } catch (e) {
      if (isStatus(e, 401, 403)) {
        this.logger.warn({ err: (e as Error).message }, 'cannot read the broker configuration (the gateway role is not a superuser); broker entry metadata is checked on first use instead');
        return;
      }
      throw new Error(`storageEngine=pulsar: cannot reach Pulsar's admin API at webServiceUrl: ${(e as Error).message}`);
    }
    const interceptors = (conf.brokerEntryMetadataInterceptors ?? '').replace(/[[\]\s]/g, '').split(',');
    const exposed = String(conf.exposingBrokerEntryMetadataToClientEnabled).toLowerCase() === 'true';
    const missing: string[] = [];
    if (!interceptors.includes(INDEX_INTERCEPTOR)) missing.push(`brokerEntryMetadataInterceptors=${INDEX_INTERCEPTOR}`);
    if (!exposed) missing.push('exposingBrokerEntryMetadataToClientEnabled=true');
    const delay = Number(conf.managedLedgerNewEntriesCheckDelayInMillis ?? '10');
    if (delay > 1) {
      this.logger.warn(
        { managedLedgerNewEntriesCheckDelayInMillis: delay },
        'the Pulsar broker delays new entries to caught-up readers; every produce waits that long for its offset (set managedLedgerNewEntriesCheckDelayInMillis=0)',
      );
    }
    if (String(conf.brokerDeduplicationEnabled).toLowerCase() !== 'true') {
      this.logger.warn(
        {},
        'the Pulsar broker runs without brokerDeduplicationEnabled=true: an entry resent after a lost receipt (connection loss, broker restart) can be stored twice, so idempotent Kafka producers may see duplicates then',
      );
    }
    if (missing.length > 0) {
      throw new Error(
        `storageEngine=pulsar: the Pulsar broker must run with ${missing.join(' and ')} (broker.conf): Kafka offsets are the broker's entry index. See docs/pulsar-engine.md.`,
      );
    }
  }

  async close(): Promise<void> {
    this.started = false;
    this.mirror.close();
    if (this.idleTimer) clearInterval(this.idleTimer);
    const ps = [...this.partitions.values()];
    this.partitions.clear();
    await Promise.all(ps.map((p) => p.close()));
    await this.state.close();
    await this.client.close();
    this.admin.close();
  }

  private checkStarted(): void {
    if (!this.started) throw err(ErrorCode.KAFKA_STORAGE_ERROR, 'the pulsar storage engine is not running');
  }

  private async closeIdle(): Promise<void> {
    const idleMs = this.options.partitionIdleMs ?? 300_000;
    const now = Date.now();
    this.sweepTopicCache(now);
    for (const [k, p] of this.partitions) {
      if (now - p.lastUsed > idleMs || p.failed) {
        this.partitions.delete(k);
        await p.close();
      }
    }
  }

  /**
   * Forget expired lookups of names that named no topic: any client may ask for any name (Metadata,
   * Produce, Fetch), and each miss was kept for good. An expired entry of an existing topic stays: it
   * is how the next read of that name notices a deletion or re-creation (dropPartitions).
   */
  private sweepTopicCache(now: number): void {
    for (const [name, c] of this.topicCache) {
      if (c.info === null && now - c.at >= TOPIC_CACHE_MS && !this.topicLoads.has(name)) this.topicCache.delete(name);
    }
  }

  // ------------------------------------------------------------ topics

  private async topicMeta(name: string): Promise<TopicMetaRecord | null> {
    const raw = await this.state.get(NS_TOPICS, name);
    if (raw === null) return null;
    try {
      return JSON.parse(raw.toString('utf8')) as TopicMetaRecord;
    } catch {
      return null;
    }
  }

  private isInternal(name: string): boolean {
    const parsed = parseFullName(name);
    return isInternalTopic(parsed) || INTERNAL_TOPICS.has(parsed.local);
  }

  /**
   * Every name that reaches Pulsar from a Kafka request passes here first: a
   * legal name (names.ts) outside the gateway's own metadata namespace, whose
   * topics (state, coordinators) no Kafka client may create, delete or touch.
   */
  private checkName(name: string): TopicName {
    let t: TopicName;
    try {
      t = parseFullName(name);
    } catch (e) {
      throw err(ErrorCode.INVALID_TOPIC_EXCEPTION, (e as Error).message);
    }
    if (this.reservedNamespaces.includes(`${t.tenant}/${t.namespace}`)) {
      throw err(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic ${name} is in the gateway's own metadata namespace ${this.options.metadataNamespace} (kafkaMetadataTenant/kafkaMetadataNamespace), reserved for its state`);
    }
    return t;
  }

  /**
   * A topic's metadata (partitions, id, configs), at most TOPIC_CACHE_MS old; `fresh` reads it now
   * (after this node changed it). See TOPIC_CACHE_MS for the refresh ahead of expiry.
   */
  private load(name: string, fresh = false): Promise<TopicCacheEntry> {
    try {
      this.checkName(name);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!fresh) {
      const c = this.topicCache.get(name);
      const age = c ? Date.now() - c.at : Infinity;
      if (c && age < TOPIC_CACHE_MS) {
        if (age >= TOPIC_REFRESH_AHEAD_MS && !this.topicLoads.has(name)) this.startLoad(name).catch(() => undefined);
        return Promise.resolve(c);
      }
      const running = this.topicLoads.get(name);
      if (running) return running.done;
    }
    return this.startLoad(name);
  }

  private startLoad(name: string): Promise<TopicCacheEntry> {
    const seq = ++this.topicLoadSeq;
    const done = this.readTopic(name, seq).finally(() => {
      if (this.topicLoads.get(name)?.seq === seq) this.topicLoads.delete(name);
    });
    this.topicLoads.set(name, { seq, done });
    return done;
  }

  private async readTopic(name: string, seq: number): Promise<TopicCacheEntry> {
    let partitions: number;
    try {
      partitions = await this.admin.getPartitionedMetadata(name);
    } catch (e) {
      if (isStatus(e, 404)) partitions = 0;
      else throw toStorageError(e, `describe ${name}`);
    }
    const meta = partitions > 0 ? await this.topicMeta(name) : null;
    const configs = meta?.configs ?? {};
    const info: TopicInfo | null =
      partitions > 0
        ? {
            name,
            // topics created outside the gateway get a stable id derived from their name
            topicId: meta ? Buffer.from(meta.topicId, 'hex') : createHash('sha256').update(`kop-topic-id:${name}`).digest().subarray(0, 16),
            partitions,
            configs,
            internal: this.isInternal(name),
          }
        : null;
    const entry: TopicCacheEntry = { info, config: resolveTopicConfig(configs, this.configDefaults), at: Date.now() };
    // replaced by a newer load, or dropped by an invalidation: this view is older than theirs
    if (this.topicLoads.get(name)?.seq !== seq) return this.topicCache.get(name) ?? entry;
    const before = this.topicCache.get(name)?.info;
    this.topicCache.set(name, entry);
    if (info) this.topicIds.set(info.topicId.toString('hex'), name);
    // deleted (and maybe re-created) through another node: what this node holds of the old topic goes
    if (before && (!info || !info.topicId.equals(before.topicId))) await this.dropPartitions(name, before.partitions);
    return entry;
  }

  /** Close this node's partitions of a topic that no longer exists as it knew it (never serve a deleted topic's data). */
  private async dropPartitions(name: string, partitions: number): Promise<void> {
    for (let p = 0; p < partitions; p++) {
      const key = partitionName(name, p);
      const part = this.partitions.get(key);
      this.partitions.delete(key);
      this.locator.forget(key);
      this.logStarts.delete(key);
      await part?.close();
    }
  }

  private invalidate(name: string): void {
    this.topicCache.delete(name);
    this.topicLoads.delete(name);
    this.listCache = null;
  }

  private checkPartitionCount(n: number, name: string): void {
    const max = this.options.maxPartitionsPerTopic ?? 10_000;
    if (!Number.isInteger(n) || n < 1) throw err(ErrorCode.INVALID_PARTITIONS, `number of partitions must be at least 1 (got ${n}) for ${name}`);
    if (n > max) throw err(ErrorCode.INVALID_PARTITIONS, `number of partitions ${n} for ${name} exceeds the limit of ${max}`);
  }

  async createTopic(name: string, partitions: number, configs: Record<string, string>, validateOnly = false): Promise<TopicInfo> {
    this.checkStarted();
    this.checkPartitionCount(partitions, name);
    validateEffectiveConfigs(configs, this.configDefaults);
    const existing = await this.load(name, true);
    if (existing.info) throw err(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`);
    const record: TopicMetaRecord = { v: 1, topicId: randomBytes(16).toString('hex'), configs: normalizeConfigs(configs), createdMs: Date.now() };
    const info: TopicInfo = { name, topicId: Buffer.from(record.topicId, 'hex'), partitions, configs: record.configs, internal: this.isInternal(name) };
    if (validateOnly) return info;
    // the metadata first: a topic never exists without its id (a crash in between leaves an unused record)
    await this.state.put(NS_TOPICS, name, Buffer.from(JSON.stringify(record)));
    try {
      await this.admin.createPartitionedTopic(name, partitions);
    } catch (e) {
      if (isStatus(e, 409)) throw err(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`);
      if (isStatus(e, 404)) {
        const t = parseFullName(name);
        throw err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `namespace ${t.tenant}/${t.namespace} does not exist in Pulsar`);
      }
      throw toStorageError(e, `create ${name}`);
    } finally {
      this.invalidate(name);
    }
    try {
      await this.applyCleanupPolicy(name, null, record.configs);
    } catch (e) {
      // fail closed: a compacted topic whose latest values Pulsar's retention could delete must not exist
      await this.admin.deletePartitionedTopic(name, true).catch(() => undefined);
      await this.state.put(NS_TOPICS, name, null).catch(() => undefined);
      this.invalidate(name);
      throw e;
    }
    this.logger.info({ topic: name, partitions, configs: record.configs }, 'topic created');
    return info;
  }

  /**
   * cleanup.policy on Pulsar (docs/pulsar-engine.md, "Compacted topics"): a pure
   * `compact` topic gets a topic-level retention of -1/-1 (infinite), so Pulsar's
   * retention never deletes the ledgers holding a key's latest value, whatever
   * the namespace's retention; leaving pure compact drops that topic policy again.
   * `compact,delete` and `delete` topics follow the namespace's retention.
   */
  private async applyCleanupPolicy(name: string, before: Record<string, string> | null, after: Record<string, string>): Promise<void> {
    const pureCompact = (c: Record<string, string> | null): boolean => {
      if (c === null) return false;
      const cfg = resolveTopicConfig(c, this.configDefaults);
      return cfg.compact && !cfg.delete;
    };
    const was = pureCompact(before);
    const now = pureCompact(after);
    try {
      if (now && !was) await this.admin.setTopicRetention(name, -1, -1);
      else if (was && !now) await this.admin.removeTopicRetention(name);
    } catch (e) {
      throw err(
        ErrorCode.POLICY_VIOLATION,
        `cannot ${now ? 'set infinite retention on the compacted topic' : 'remove the compacted topic retention of'} ${name} in Pulsar (topic-level policies must be enabled: topicLevelPoliciesEnabled=true): ${(e as Error).message}`,
      );
    }
  }

  async deleteTopic(name: string): Promise<void> {
    this.checkStarted();
    const t = await this.load(name, true);
    if (!t.info) throw err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`);
    for (let p = 0; p < t.info.partitions; p++) {
      const key = partitionName(name, p);
      const part = this.partitions.get(key);
      this.partitions.delete(key);
      await part?.close();
      this.locator.forget(key);
    }
    try {
      await this.admin.deletePartitionedTopic(name, true);
    } catch (e) {
      if (!isStatus(e, 404)) throw toStorageError(e, `delete ${name}`);
    } finally {
      this.invalidate(name);
    }
    await this.state.put(NS_TOPICS, name, null);
    for (let p = 0; p < t.info.partitions; p++) {
      const key = partitionName(name, p);
      if (this.logStarts.delete(key)) await this.state.put(NS_LOG_START, key, null);
      await this.state.put(NS_PRODUCER_STATE, `${key}@${t.info.topicId.toString('hex')}`, null);
    }
    this.logger.info({ topic: name }, 'topic deleted');
  }

  async createPartitions(name: string, totalPartitions: number, validateOnly = false): Promise<void> {
    this.checkStarted();
    const t = await this.load(name, true);
    if (!t.info) throw err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`);
    const current = t.info.partitions;
    if (totalPartitions === current) throw err(ErrorCode.INVALID_PARTITIONS, `topic ${name} already has ${current} partitions`);
    if (totalPartitions < current) {
      throw err(ErrorCode.INVALID_PARTITIONS, `topic ${name} has ${current} partitions, which is more than the requested ${totalPartitions}: partitions can only be added`);
    }
    this.checkPartitionCount(totalPartitions, name);
    if (validateOnly) return;
    try {
      await this.admin.updatePartitionedTopic(name, totalPartitions);
    } catch (e) {
      throw toStorageError(e, `add partitions to ${name}`);
    } finally {
      this.invalidate(name);
    }
    this.logger.info({ topic: name, from: current, to: totalPartitions }, 'partitions added');
  }

  async describeTopic(name: string): Promise<TopicInfo | null> {
    this.checkStarted();
    return (await this.load(name)).info;
  }

  /**
   * Fetch v13+ names topics by id on behalf of every modern Java consumer: one
   * map lookup. Ids of topics this node has seen are indexed as they are loaded;
   * the ids of every topic the gateway created are in the `topics` state (an
   * in-memory view kept current, re-indexed on a miss at most once per
   * TOPIC_CACHE_MS). Only an id found in neither (a topic created outside the
   * gateway, whose id derives from its name, not yet seen by this node; or no
   * topic at all) falls back to listing the topics.
   */
  async describeTopicById(topicId: Buffer): Promise<TopicInfo | null> {
    this.checkStarted();
    const hex = topicId.toString('hex');
    let name = this.topicIds.get(hex);
    if (name === undefined && Date.now() - this.topicIdsScannedAt >= TOPIC_CACHE_MS) {
      this.topicIdsScannedAt = Date.now();
      for (const { key, value } of await this.state.scan(NS_TOPICS)) {
        try {
          this.topicIds.set((JSON.parse(value.toString('utf8')) as TopicMetaRecord).topicId, key);
        } catch {
          // unreadable record: load() treats the topic as one without metadata
        }
      }
      name = this.topicIds.get(hex);
    }
    if (name !== undefined) {
      const info = (await this.load(name)).info;
      if (info?.topicId.equals(topicId)) return info;
    }
    for (const t of await this.listTopics()) if (t.topicId.equals(topicId)) return t;
    return null;
  }

  async listTopics(): Promise<TopicInfo[]> {
    this.checkStarted();
    if (this.listCache && Date.now() - this.listCache.at < TOPIC_CACHE_MS) return this.listCache.topics;
    const names: string[] = [];
    try {
      for (const tenant of await this.admin.listTenants()) {
        for (const ns of await this.admin.listNamespaces(tenant)) {
          if (ns === this.options.metadataNamespace) continue;
          // only names a Kafka client can address (Pulsar's own system topics and names outside the rules stay hidden)
          names.push(...(await this.admin.listPartitionedTopics(ns)).filter((n) => tryParseFullName(n) !== null));
        }
      }
    } catch (e) {
      throw toStorageError(e, 'list topics');
    }
    const out: TopicInfo[] = [];
    for (const name of names.sort()) {
      const t = await this.load(name);
      if (t.info) out.push(t.info);
    }
    this.listCache = { topics: out, at: Date.now() };
    return out;
  }

  private async updateConfigs(name: string, configs: Record<string, string>): Promise<void> {
    const meta = (await this.topicMeta(name)) ?? {
      v: 1 as const,
      topicId: (await this.load(name)).info!.topicId.toString('hex'),
      configs: {},
      createdMs: Date.now(),
    };
    const next: TopicMetaRecord = { ...meta, configs: normalizeConfigs(configs) };
    // retention first: a topic never counts as pure compact while Pulsar could still delete its data
    await this.applyCleanupPolicy(name, meta.configs, next.configs);
    await this.state.put(NS_TOPICS, name, Buffer.from(JSON.stringify(next)));
    this.invalidate(name);
    this.logger.info({ topic: name, configs: next.configs }, 'topic configs changed');
  }

  private async existing(name: string): Promise<TopicInfo> {
    this.checkStarted();
    const t = await this.load(name);
    if (!t.info) throw err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`);
    return t.info;
  }

  async alterTopicConfigs(name: string, changes: ConfigAlteration[], validateOnly = false): Promise<void> {
    const info = await this.existing(name);
    const next = applyAlterations(info.configs, changes, this.configDefaults);
    if (!validateOnly) await this.updateConfigs(name, next);
  }

  async replaceTopicConfigs(name: string, configs: Record<string, string>, validateOnly = false): Promise<void> {
    await this.existing(name);
    validateEffectiveConfigs(configs, this.configDefaults);
    if (!validateOnly) await this.updateConfigs(name, configs);
  }

  async describeTopicConfigs(name: string): Promise<TopicConfigEntry[]> {
    const info = await this.existing(name);
    return describeTopicConfigs(info.configs, this.configDefaults);
  }

  // ------------------------------------------------------------ data

  private async partition(tp: PartitionRef): Promise<PulsarPartition> {
    this.checkStarted();
    const key = partitionName(tp.topic, tp.partition);
    // at most TOPIC_CACHE_MS old: a topic deleted or re-created through another node is noticed (load drops its partitions)
    const cached = this.topicCache.get(tp.topic);
    if (!cached || Date.now() - cached.at >= TOPIC_REFRESH_AHEAD_MS) await this.load(tp.topic);
    let p = this.partitions.get(key);
    if (p && p.failed) {
      this.partitions.delete(key);
      void p.close();
      p = undefined;
      // its reader may have failed because the topic was deleted (TopicNotFound): read the topic again
      // rather than reopen it under a cached, possibly stale id
      this.invalidate(tp.topic);
    }
    if (!p) {
      const t = await this.load(tp.topic);
      if (!t.info || tp.partition < 0 || tp.partition >= t.info.partitions) {
        throw err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic or partition ${tp.topic} partition ${tp.partition}`);
      }
      p = this.partitions.get(key);
      if (!p) {
        const topic = tp.topic;
        const stateKey = `${key}@${t.info.topicId.toString('hex')}`; // a re-created topic never sees the old one's state
        p = new PulsarPartition(key, `${topic}-${tp.partition}`, {
          client: this.client,
          locator: this.locator,
          format: this.options.entryFormat,
          logger: this.logger,
          nodeId: this.options.nodeId,
          cacheBytes: this.options.partitionCacheBytes ?? 8 * 1024 * 1024,
          config: () => this.topicCache.get(topic)?.config ?? resolveTopicConfig({}, this.configDefaults),
          deletedBefore: () => this.logStarts.get(key) ?? -1n,
          operationTimeoutMs: this.timeoutMs,
          forwardIdentity: this.options.forwardIdentity ?? false,
          rebuildEntries: BigInt(this.options.tailRebuildEntries ?? 1000),
          loadProducerState: () => this.state.get(NS_PRODUCER_STATE, stateKey),
          saveProducerState: (snapshot) => this.state.put(NS_PRODUCER_STATE, stateKey, snapshot),
        });
        this.partitions.set(key, p);
      }
    }
    await p.ready.catch((e: unknown) => {
      if (this.partitions.get(key) === p) this.partitions.delete(key);
      throw toStorageError(e, `open ${key}`);
    });
    return p;
  }

  /**
   * Appends to one partition reach it in the order of these calls (a connection
   * pipelining produce requests relies on that): an open partition is called
   * at once; the first appends of a partition being opened queue behind a gate.
   */
  append(tp: PartitionRef, batch: ValidatedBatch, options: AppendOptions): Promise<AppendResult> {
    const key = partitionName(tp.topic, tp.partition);
    const nowMs = options.nowMs ?? BigInt(Date.now());
    const open = this.partitions.get(key);
    if (open && !open.failed && !this.appendGates.has(key) && this.started) {
      const cached = this.topicCache.get(tp.topic);
      if (!cached || Date.now() - cached.at >= TOPIC_REFRESH_AHEAD_MS) this.load(tp.topic).catch(() => undefined); // keep configs fresh (one refresh at a time)
      return open.append(batch, options.acks, nowMs, options.principal);
    }
    const prev = this.appendGates.get(key) ?? Promise.resolve();
    let pass!: () => void;
    const gate = new Promise<void>((r) => (pass = r));
    this.appendGates.set(key, gate);
    return (async () => {
      try {
        await prev;
        const p = await this.partition(tp);
        await this.load(tp.topic);
        const r = p.append(batch, options.acks, nowMs, options.principal);
        pass();
        return await r;
      } finally {
        pass();
        if (this.appendGates.get(key) === gate) this.appendGates.delete(key);
      }
    })();
  }

  async read(tp: PartitionRef, fetchOffset: bigint, options: ReadOptions): Promise<ReadResult> {
    return (await this.partition(tp)).read(fetchOffset, options);
  }

  async offsets(tp: PartitionRef): Promise<PartitionOffsets> {
    return (await this.partition(tp)).offsets();
  }

  async offsetForTimestamp(tp: PartitionRef, timestampMs: bigint): Promise<TimestampLookup | null> {
    return (await this.partition(tp)).offsetForTimestamp(timestampMs);
  }

  async maxTimestamp(tp: PartitionRef): Promise<TimestampLookup | null> {
    return (await this.partition(tp)).maxTimestamp();
  }

  async deleteRecords(tp: PartitionRef, beforeOffset: bigint): Promise<bigint> {
    const p = await this.partition(tp);
    const { logStartOffset, highWatermark } = await p.offsets();
    const target = beforeOffset === -1n ? highWatermark : beforeOffset;
    if (target < 0n || target > highWatermark) {
      throw err(ErrorCode.OFFSET_OUT_OF_RANGE, `offset ${beforeOffset} is outside [${logStartOffset}, ${highWatermark}] of ${tp.topic}-${tp.partition}`);
    }
    if (target <= logStartOffset) return logStartOffset;
    const key = partitionName(tp.topic, tp.partition);
    await this.state.put(NS_LOG_START, key, Buffer.from(String(target)));
    this.logStarts.set(key, target);
    return target;
  }

  async writeTxnMarker(tp: PartitionRef, marker: TxnMarker, options?: { principal?: string | null }): Promise<{ offset: bigint }> {
    const p = await this.partition(tp);
    const m = { producerId: marker.producerId, epoch: marker.producerEpoch, commit: marker.commit, coordinatorEpoch: marker.coordinatorEpoch };
    return p.appendMarker(endTxnMarkerBatch(marker, BigInt(Date.now())), m, options?.principal);
  }

  async describeProducers(tp: PartitionRef): Promise<ProducerStateView[]> {
    return (await this.partition(tp)).describeProducers();
  }

  async waitForAppend(tps: Array<{ tp: PartitionRef; offset: bigint }>, timeoutMs: number, signal?: AbortSignal, isolation?: IsolationLevel): Promise<void> {
    if (!this.started) return;
    const parts: Array<{ p: PulsarPartition; offset: bigint }> = [];
    try {
      for (const { tp, offset } of tps) parts.push({ p: await this.partition(tp), offset });
    } catch {
      return; // unknown partition: let the caller re-check now
    }
    const end = isolation === 'read_committed' ? (p: PulsarPartition): bigint => p.lastStableOffset : (p: PulsarPartition): bigint => p.highWatermark;
    if (parts.some(({ p, offset }) => end(p) > offset || p.failed)) return;
    await new Promise<void>((resolve) => {
      const offs: Array<() => void> = [];
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        for (const off of offs) off();
        resolve();
      };
      const timer = setTimeout(done, timeoutMs);
      signal?.addEventListener('abort', done);
      if (signal?.aborted) return done();
      for (const { p, offset } of parts) offs.push(p.onAppend(() => (end(p) > offset || p.failed ? done() : undefined)));
    });
  }

  // ------------------------------------------------------------ group positions in Pulsar

  /**
   * A consumer group committed `offset` (the next offset it will read) on a
   * partition: reflect it as the durable subscription `groupId` (./subscription-names.ts) on the
   * partition's Pulsar topic (best effort, coalesced; see ./subscription-mirror.ts).
   */
  mirrorCommittedOffset(groupId: string, topic: string, partition: number, offset: bigint): void {
    const subscription = consumerGroupSubscription(groupId);
    if (!this.started || offset < 0n || subscription === null) return;
    this.mirror.committed({ topic: partitionName(topic, partition), subscription, offset });
  }

  /** The position of the entry holding `offset` of a partition topic (the position after the last entry at the end; null: empty). */
  async positionOf(partitionTopic: string, offset: bigint): Promise<MessageId | null> {
    const cached = this.partitions.get(partitionTopic)?.positionOf(offset);
    if (cached) return cached;
    const e = await this.locator.locate(partitionTopic, offset);
    if (e) return e.id;
    // at or past the end: the position after the last entry
    const s = await this.admin.internalStats(partitionTopic);
    return s.lastConfirmedEntry.entryId >= 0n ? { ledgerId: s.lastConfirmedEntry.ledgerId, entryId: s.lastConfirmedEntry.entryId + 1n } : null;
  }

  // ------------------------------------------------------------ producer ids

  /** Ids come in blocks reserved per gateway node in the state store (node id in the high bits: no two nodes collide). */
  allocateProducerId(): Promise<bigint> {
    const next = this.pidChain.then(async () => {
      this.checkStarted();
      if (this.pidNext >= this.pidEnd) {
        const key = `node-${this.options.nodeId}`;
        const raw = await this.state.get(NS_PRODUCER_IDS, key);
        const start = raw === null ? 0n : BigInt(raw.toString('utf8'));
        const end = start + PRODUCER_ID_BLOCK;
        await this.state.put(NS_PRODUCER_IDS, key, Buffer.from(String(end)));
        this.pidNext = start;
        this.pidEnd = end;
      }
      const local = this.pidNext++;
      return (BigInt(this.options.nodeId) << 40n) + local;
    });
    this.pidChain = next.catch(() => undefined);
    return next;
  }
}
