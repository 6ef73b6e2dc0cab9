/**
 * The embedded storage engine (`storageEngine=embedded`): Kafka-style segmented
 * logs on the local disk, one directory per partition, plus topic metadata, a
 * durable key-value store and a producer id counter.
 *
 * On-disk layout under `dataDirectory`:
 *
 *   engine.json                      format version
 *   .lock                            pid of the running gateway (stale after a crash: taken over)
 *   clean-shutdown                   present only between a clean close and the next start
 *   producer-ids.json                reserved producer id block
 *   state/kv.log                     key-value store (group coordinator)
 *   trash/                           deleted topics being removed
 *   topics/<tenant>/<namespace>/<topic>/topic.json
 *   topics/<tenant>/<namespace>/<topic>/<partition>/
 *       00000000000000000000.log         record batches as produced (offsets patched)
 *       00000000000000000000.index       sparse offset index (8-byte entries)
 *       00000000000000000000.timeindex   sparse time index (12-byte entries)
 *       log-start-offset                 DeleteRecords checkpoint
 *       producer-state.snapshot          idempotent-producer state as of an offset
 *
 * Durability: `flushPolicy` 'every-batch' (default) fsyncs every write before it
 * is acknowledged or visible (group commit shares fsyncs across concurrent
 * appends of all partitions); 'interval' acknowledges after the page-cache write
 * and fsyncs every `flushIntervalMs` or after `flushBytes`. Topic configs
 * flush.messages / flush.ms override per topic (flush.messages=1 = every batch).
 * See partition-log.ts for what readers see and when.
 */
import fs from 'node:fs';
import { join } from 'node:path';
import { ErrorCode, KafkaError } from '../../protocol/errors.js';
import { INTERNAL_TOPICS, isInternalTopic, parseFullName, partitionName } from '../../topics/names.js';
import {
  StorageError,
  type AppendOptions,
  type AppendResult,
  type ConfigAlteration,
  type IsolationLevel,
  type KeyValueStore,
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
import { FileCache, SegmentGoneError } from './file-cache.js';
import { LogCleaner, type CleanerOptions } from './cleaner.js';
import { GroupCommitter } from './group-commit.js';
import { fdatasync, isErrno, newIoStats, readFileOrNull, unlinkIfExists, fsyncDir, writeFileAtomic, type IoStats } from './io.js';
import { FileKeyValueStore } from './kv-store.js';
import { AppendNotifier } from './notifier.js';
import { PartitionLog, type PartitionLogContext } from './partition-log.js';
import { ProducerIdAllocator } from './producer-ids.js';
import type { Segment } from './segment.js';
import { TopicStore, newTopicId, type TopicMeta } from './topic-store.js';
import { ReadBufferPool } from './read-buffers.js';
import { silentEngineLogger, type EngineLogger } from './types.js';

export type { EngineLogger } from './types.js';

export interface EmbeddedEngineOptions {
  dataDirectory: string;
  logger?: EngineLogger;
  /** Topic config defaults overriding Kafka's (e.g. { 'retention.ms': '86400000' }); validated. */
  defaults?: Record<string, string>;
  /** 'every-batch' (default): fsync before acknowledging; 'interval': fsync periodically. */
  flushPolicy?: 'every-batch' | 'interval';
  /** Interval policy: default flush.ms of topics. Default 1000. */
  flushIntervalMs?: number;
  /** Interval policy: flush everything early once this many bytes are unflushed engine-wide. Default 64 MiB. */
  flushBytes?: number;
  /** How often time/size retention runs; 0 disables the timer (runRetention() still works). Default 300000 (Kafka's). */
  retentionCheckIntervalMs?: number;
  /** Open segment file descriptors kept (LRU). Default 1024. */
  maxOpenFiles?: number;
  /** Forget idempotent producers idle this long (Kafka producer.id.expiration.ms). Default 86400000. */
  producerIdExpirationMs?: number;
  /** Largest buffer one read allocates. Default 32 MiB. */
  maxReadBytes?: number;
  /** Bytes of read buffers kept for reuse between fetches (read-buffers.ts); 0: none. Default 32 MiB. */
  readBufferPoolBytes?: number;
  /** Upper bound for a topic's partition count (INVALID_PARTITIONS above). Default 10000. */
  maxPartitionsPerTopic?: number;
  /** The log cleaner of cleanup.policy=compact topics (./cleaner.ts). */
  cleaner?: CleanerOptions;
}

interface TopicEntry {
  meta: TopicMeta;
  config: TopicConfig;
  logs: PartitionLog[];
}

const FORMAT_FILE = 'engine.json';
const CLEAN_MARKER = 'clean-shutdown';
const LOCK_FILE = '.lock';
const FORMAT = 1;

function err(code: ErrorCode, message: string): StorageError {
  return new StorageError(code, message);
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}

export class EmbeddedEngine implements StorageEngine {
  readonly kind = 'embedded' as const;
  /** The engine's state lives outside topics/ (state/, trash/): no topic namespace is reserved. */
  readonly reservedNamespaces: readonly string[] = [];
  /** I/O counters (fsyncs, flush rounds, writes). */
  readonly stats: IoStats = newIoStats();
  readonly state: KeyValueStore;
  /** Effective topic config defaults (Kafka's, the engine's flush policy, then `defaults`). */
  readonly configDefaults: Record<TopicConfigKey, string>;

  private readonly dir: string;
  private readonly logger: EngineLogger;
  private readonly options: Required<Omit<EmbeddedEngineOptions, 'logger' | 'defaults' | 'dataDirectory' | 'cleaner'>>;
  /** Compacts cleanup.policy=compact partitions in the background. */
  readonly cleaner: LogCleaner;
  private readonly topics = new Map<string, TopicEntry>();
  private readonly files: FileCache;
  private readonly committer: GroupCommitter<Segment>;
  private readonly notifier = new AppendNotifier<PartitionLog>();
  /** read_committed long-polls: woken when a partition's last stable offset moves past theirs. */
  private readonly committedNotifier = new AppendNotifier<PartitionLog>();
  private readonly topicStore: TopicStore;
  private readonly producerIds: ProducerIdAllocator;
  private readonly kv: FileKeyValueStore;
  private readonly logContext: PartitionLogContext;
  private adminChain: Promise<unknown> = Promise.resolve();
  private started = false;
  private closing: Promise<void> | null = null;
  private retentionTimer: NodeJS.Timeout | null = null;
  private retentionRunning = false;

  constructor(options: EmbeddedEngineOptions) {
    this.dir = options.dataDirectory;
    this.logger = options.logger ?? silentEngineLogger;
    this.options = {
      flushPolicy: options.flushPolicy ?? 'every-batch',
      flushIntervalMs: options.flushIntervalMs ?? 1000,
      flushBytes: options.flushBytes ?? 64 << 20,
      retentionCheckIntervalMs: options.retentionCheckIntervalMs ?? 300_000,
      maxOpenFiles: options.maxOpenFiles ?? 1024,
      producerIdExpirationMs: options.producerIdExpirationMs ?? 86_400_000,
      maxReadBytes: options.maxReadBytes ?? 32 << 20,
      readBufferPoolBytes: options.readBufferPoolBytes ?? 32 << 20,
      maxPartitionsPerTopic: options.maxPartitionsPerTopic ?? 10_000,
    };
    if (this.options.flushPolicy !== 'every-batch' && this.options.flushPolicy !== 'interval') {
      throw new Error(`flushPolicy must be 'every-batch' or 'interval', not '${String(this.options.flushPolicy)}'`);
    }
    const policyDefaults: Record<string, string> =
      this.options.flushPolicy === 'every-batch' ? { 'flush.messages': '1' } : { 'flush.ms': String(this.options.flushIntervalMs) };
    this.configDefaults = makeDefaults({ ...policyDefaults, ...(options.defaults ?? {}) });

    this.files = new FileCache(this.options.maxOpenFiles);
    this.committer = new GroupCommitter<Segment>((seg) => this.syncSegment(seg), this.stats, this.options.flushBytes);
    this.topicStore = new TopicStore(this.dir, this.stats, this.logger);
    this.producerIds = new ProducerIdAllocator(this.dir, this.stats);
    this.kv = new FileKeyValueStore(join(this.dir, 'state'), this.stats, this.logger);
    this.state = this.kv;
    this.cleaner = new LogCleaner(options.cleaner ?? {}, () => [...this.topics.values()].flatMap((t) => t.logs), this.stats, this.logger);
    this.logContext = {
      files: this.files,
      committer: this.committer,
      stats: this.stats,
      logger: this.logger,
      maxReadBytes: this.options.maxReadBytes,
      readBuffers: new ReadBufferPool(this.options.readBufferPoolBytes),
      onHighWatermark: (log, hw) => {
        this.notifier.notify(log, hw);
        // read_committed fetches wait for the last stable offset, which moves only with the high watermark
        if (this.committedNotifier.watchedKeys > 0) this.committedNotifier.notify(log, log.lastStableOffset);
      },
    };
  }

  private async syncSegment(seg: Segment): Promise<void> {
    let fd: number;
    try {
      fd = await this.files.acquire(seg);
    } catch (e) {
      if (e instanceof SegmentGoneError) return; // deleted: nothing left to make durable
      seg.onSyncError?.(e);
      throw e;
    }
    try {
      await fdatasync(fd, this.stats);
      this.stats.logSyncs++;
    } catch (e) {
      seg.onSyncError?.(e);
      throw e;
    } finally {
      this.files.release(seg);
    }
  }

  // ------------------------------------------------------------ lifecycle

  async start(): Promise<void> {
    if (this.started) return;
    await fs.promises.mkdir(this.dir, { recursive: true });
    await this.lock();
    const firstStart = await this.checkFormat();
    const markerPath = join(this.dir, CLEAN_MARKER);
    const clean = (await readFileOrNull(markerPath)) !== null;
    if (clean) {
      // From now on a crash must be treated as unclean.
      await unlinkIfExists(markerPath);
      await fsyncDir(this.dir, this.stats);
    }
    await this.topicStore.init();
    await this.kv.open();
    await this.producerIds.load();
    const metas = await this.topicStore.loadAll();
    const t0 = Date.now();
    let partitions = 0;
    for (const meta of metas) {
      const config = resolveTopicConfig(meta.configs, this.configDefaults);
      const logs = await mapLimit(
        Array.from({ length: meta.partitions }, (_, p) => p),
        8,
        (p) => PartitionLog.open(this.topicStore.partitionDir(meta.name, p), partitionName(meta.name, p), config, clean, this.logContext),
      );
      partitions += logs.length;
      this.topics.set(meta.name, { meta, config, logs });
    }
    if (this.options.retentionCheckIntervalMs > 0) {
      this.retentionTimer = setInterval(() => void this.runRetention(), this.options.retentionCheckIntervalMs);
      this.retentionTimer.unref();
    }
    this.started = true;
    this.cleaner.start();
    this.logger.info(
      // a new data directory has no previous shutdown to judge: firstStart instead of cleanShutdown:false
      { dataDirectory: this.dir, topics: metas.length, partitions, ...(firstStart ? { firstStart: true } : { cleanShutdown: clean }), ms: Date.now() - t0, flushPolicy: this.options.flushPolicy },
      'embedded storage started',
    );
  }

  /** Segment files and their bytes per topic (metrics, read at scrape time). */
  segmentStats(): Array<{ topic: string; partitions: number; segments: number; bytes: number }> {
    const out = [];
    for (const [topic, t] of this.topics) {
      let segments = 0;
      let bytes = 0;
      for (const l of t.logs) {
        segments += l.segmentCount;
        bytes += l.sizeInBytes;
      }
      out.push({ topic, partitions: t.logs.length, segments, bytes });
    }
    return out;
  }

  /** Whether the engine is started and not closing (readiness). */
  get isOpen(): boolean {
    return this.started && !this.closing;
  }

  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closing = (async () => {
      if (this.retentionTimer) clearInterval(this.retentionTimer);
      this.retentionTimer = null;
      if (!this.started) return;
      await this.cleaner.stop();
      await this.adminChain.catch(() => undefined);
      const reason = err(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'the gateway storage is shutting down');
      const results = await Promise.all([...this.topics.values()].flatMap((t) => t.logs.map((l) => l.close(reason))));
      this.notifier.wakeEveryone();
      this.committedNotifier.wakeEveryone();
      this.committer.stop();
      await this.kv.close();
      this.started = false;
      if (results.every((ok) => ok)) {
        await writeFileAtomic(join(this.dir, CLEAN_MARKER), `${new Date().toISOString()}\n`, this.stats);
      } else {
        this.logger.warn({}, 'some partitions did not close cleanly: the next start runs recovery');
      }
      await unlinkIfExists(join(this.dir, LOCK_FILE));
      this.logger.info({}, 'embedded storage closed');
    })();
    return this.closing;
  }

  private async lock(): Promise<void> {
    const path = join(this.dir, LOCK_FILE);
    const text = await readFileOrNull(path);
    if (text !== null) {
      const pid = Number(text.toString('utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new Error(`data directory ${this.dir} is in use by process ${pid} (${path})`);
      }
    }
    await fs.promises.writeFile(path, `${process.pid}\n`); // advisory: no need to be durable
  }

  /** Checks (or, on first start, writes) the format file; true on first start (a new data directory). */
  private async checkFormat(): Promise<boolean> {
    const path = join(this.dir, FORMAT_FILE);
    const data = await readFileOrNull(path);
    if (data === null) {
      await writeFileAtomic(path, JSON.stringify({ format: FORMAT, engine: 'embedded' }) + '\n', this.stats);
      return true;
    }
    const parsed = JSON.parse(data.toString('utf8')) as { format?: unknown };
    if (parsed.format !== FORMAT) throw new Error(`${path}: unsupported data format ${String(parsed.format)} (this gateway reads format ${FORMAT})`);
    return false;
  }

  private checkStarted(): void {
    if (!this.started || this.closing) throw err(ErrorCode.NOT_LEADER_OR_FOLLOWER, 'the gateway storage is not running');
  }

  /** Serialize topic administration. */
  private admin<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.adminChain.then(() => {
      this.checkStarted();
      return fn();
    });
    this.adminChain = run.catch(() => undefined);
    return run;
  }

  // ------------------------------------------------------------ topics

  private parseName(name: string): ReturnType<typeof parseFullName> {
    try {
      return parseFullName(name);
    } catch (e) {
      if (e instanceof KafkaError) throw err(e.code, e.message);
      throw err(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name '${name}'`);
    }
  }

  private info(t: TopicEntry): TopicInfo {
    return {
      name: t.meta.name,
      topicId: t.meta.topicId,
      partitions: t.meta.partitions,
      configs: { ...t.meta.configs },
      internal: t.meta.internal,
    };
  }

  private entry(name: string): TopicEntry {
    const t = this.topics.get(name);
    if (!t) throw err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} does not exist`);
    return t;
  }

  private checkPartitionCount(n: number, name: string): void {
    if (!Number.isInteger(n) || n < 1) throw err(ErrorCode.INVALID_PARTITIONS, `number of partitions must be at least 1 (got ${n}) for ${name}`);
    if (n > this.options.maxPartitionsPerTopic) {
      throw err(ErrorCode.INVALID_PARTITIONS, `number of partitions ${n} for ${name} exceeds the limit of ${this.options.maxPartitionsPerTopic}`);
    }
  }

  private openLogs(meta: TopicMeta, config: TopicConfig, from: number, to: number): Promise<PartitionLog[]> {
    return mapLimit(
      Array.from({ length: to - from }, (_, i) => from + i),
      8,
      (p) => PartitionLog.open(this.topicStore.partitionDir(meta.name, p), partitionName(meta.name, p), config, false, this.logContext),
    );
  }

  createTopic(name: string, partitions: number, configs: Record<string, string>, validateOnly = false): Promise<TopicInfo> {
    return this.admin(async () => {
      const parsed = this.parseName(name);
      this.topicStore.topicDir(name); // storable (INVALID_TOPIC_EXCEPTION otherwise), validateOnly included
      if (this.topics.has(name)) throw err(ErrorCode.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`);
      this.checkPartitionCount(partitions, name);
      validateEffectiveConfigs(configs, this.configDefaults);
      const meta: TopicMeta = {
        name,
        topicId: newTopicId(),
        partitions,
        configs: normalizeConfigs(configs),
        internal: isInternalTopic(parsed) || INTERNAL_TOPICS.has(parsed.local),
        createdMs: Date.now(),
      };
      const config = resolveTopicConfig(meta.configs, this.configDefaults);
      const entry: TopicEntry = { meta, config, logs: [] };
      if (validateOnly) return this.info(entry);
      await this.topicStore.create(meta);
      entry.logs = await this.openLogs(meta, config, 0, partitions);
      this.topics.set(name, entry);
      this.logger.info({ topic: name, partitions, configs: meta.configs }, 'topic created');
      return this.info(entry);
    });
  }

  deleteTopic(name: string): Promise<void> {
    return this.admin(async () => {
      const t = this.entry(name);
      this.topics.delete(name);
      const reason = err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `topic ${name} was deleted`);
      for (const log of t.logs) {
        void log.close(reason, true);
        this.notifier.wakeAll(log);
        this.committedNotifier.wakeAll(log);
      }
      const trash = await this.topicStore.moveToTrash(t.meta);
      await Promise.all(t.logs.map((l) => l.close(reason, true)));
      this.logger.info({ topic: name }, 'topic deleted');
      await this.topicStore.purge(trash).catch((e: unknown) => this.logger.warn({ err: e, trash }, 'could not remove deleted topic files (retried on next start)'));
    });
  }

  createPartitions(name: string, totalPartitions: number, validateOnly = false): Promise<void> {
    return this.admin(async () => {
      const t = this.entry(name);
      const current = t.meta.partitions;
      if (totalPartitions === current) throw err(ErrorCode.INVALID_PARTITIONS, `topic ${name} already has ${current} partitions`);
      if (totalPartitions < current) {
        throw err(ErrorCode.INVALID_PARTITIONS, `topic ${name} has ${current} partitions, which is more than the requested ${totalPartitions}: partitions can only be added`);
      }
      this.checkPartitionCount(totalPartitions, name);
      if (validateOnly) return;
      await this.topicStore.addPartitions(t.meta, totalPartitions);
      const logs = await this.openLogs(t.meta, t.config, current, totalPartitions);
      t.meta = { ...t.meta, partitions: totalPartitions };
      t.logs = [...t.logs, ...logs];
      this.logger.info({ topic: name, from: current, to: totalPartitions }, 'partitions added');
    });
  }

  async describeTopic(name: string): Promise<TopicInfo | null> {
    this.checkStarted();
    const t = this.topics.get(name);
    return t ? this.info(t) : null;
  }

  async describeTopicById(topicId: Buffer): Promise<TopicInfo | null> {
    this.checkStarted();
    for (const t of this.topics.values()) if (t.meta.topicId.equals(topicId)) return this.info(t);
    return null;
  }

  async listTopics(): Promise<TopicInfo[]> {
    this.checkStarted();
    return [...this.topics.values()].map((t) => this.info(t));
  }

  private async updateConfigs(t: TopicEntry, configs: Record<string, string>): Promise<void> {
    const meta = { ...t.meta, configs: normalizeConfigs(configs) };
    await this.topicStore.save(meta);
    t.meta = meta;
    t.config = resolveTopicConfig(meta.configs, this.configDefaults);
    for (const log of t.logs) log.setConfig(t.config);
    this.logger.info({ topic: t.meta.name, configs: meta.configs }, 'topic configs changed');
  }

  alterTopicConfigs(name: string, changes: ConfigAlteration[], validateOnly = false): Promise<void> {
    return this.admin(async () => {
      const t = this.entry(name);
      const next = applyAlterations(t.meta.configs, changes, this.configDefaults);
      if (!validateOnly) await this.updateConfigs(t, next);
    });
  }

  replaceTopicConfigs(name: string, configs: Record<string, string>, validateOnly = false): Promise<void> {
    return this.admin(async () => {
      const t = this.entry(name);
      validateEffectiveConfigs(configs, this.configDefaults);
      if (!validateOnly) await this.updateConfigs(t, configs);
    });
  }

  async describeTopicConfigs(name: string): Promise<TopicConfigEntry[]> {
    this.checkStarted();
    return describeTopicConfigs(this.entry(name).meta.configs, this.configDefaults);
  }

  // ------------------------------------------------------------ data

  private log(tp: PartitionRef): PartitionLog {
    this.checkStarted();
    const log = this.topics.get(tp.topic)?.logs[tp.partition];
    if (!log) throw err(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `unknown topic or partition ${tp.topic} partition ${tp.partition}`);
    return log;
  }

  /**
   * Append a validated record batch. Takes ownership of its bytes: the base offset is patched
   * in place (and, for LogAppendTime topics, the timestamps and CRC); do not reuse it.
   */
  append(tp: PartitionRef, batch: ValidatedBatch, options: AppendOptions): Promise<AppendResult> {
    try {
      return this.log(tp).append(batch, options.acks, options.nowMs ?? BigInt(Date.now()));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  read(tp: PartitionRef, fetchOffset: bigint, options: ReadOptions): Promise<ReadResult> {
    try {
      return this.log(tp).read(fetchOffset, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  async offsets(tp: PartitionRef): Promise<PartitionOffsets> {
    return this.log(tp).offsets();
  }

  async offsetForTimestamp(tp: PartitionRef, timestampMs: bigint): Promise<TimestampLookup | null> {
    return this.log(tp).offsetForTimestamp(timestampMs);
  }

  async maxTimestamp(tp: PartitionRef): Promise<TimestampLookup | null> {
    return this.log(tp).maxTimestamp();
  }

  async deleteRecords(tp: PartitionRef, beforeOffset: bigint): Promise<bigint> {
    return this.log(tp).deleteRecords(beforeOffset);
  }

  waitForAppend(tps: Array<{ tp: PartitionRef; offset: bigint }>, timeoutMs: number, signal?: AbortSignal, isolation?: IsolationLevel): Promise<void> {
    if (!this.started) return Promise.resolve();
    const entries: Array<{ key: PartitionLog; offset: bigint }> = [];
    for (const { tp, offset } of tps) {
      const log = this.topics.get(tp.topic)?.logs[tp.partition];
      if (!log) return Promise.resolve(); // unknown partition: let the caller re-check now
      entries.push({ key: log, offset });
    }
    if (isolation === 'read_committed') return this.committedNotifier.wait(entries, (log) => log.lastStableOffset, timeoutMs, signal);
    return this.notifier.wait(entries, (log) => log.highWatermark, timeoutMs, signal);
  }

  /** A COMMIT/ABORT marker, fenced and recorded by the partition's producer state like any batch; durable (acks=-1) when it resolves. */
  async writeTxnMarker(tp: PartitionRef, marker: TxnMarker, _options?: { principal?: string | null }): Promise<{ offset: bigint }> {
    const log = this.log(tp);
    const nowMs = BigInt(Date.now());
    const r = await log.append(endTxnMarkerBatch(marker, nowMs), -1, nowMs);
    return { offset: r.baseOffset };
  }

  async describeProducers(tp: PartitionRef): Promise<ProducerStateView[]> {
    return this.log(tp).describeProducers();
  }

  allocateProducerId(): Promise<bigint> {
    try {
      this.checkStarted();
    } catch (e) {
      return Promise.reject(e);
    }
    return this.producerIds.allocate();
  }

  // ------------------------------------------------------------ maintenance

  /** Run time/size retention and producer expiry over all partitions now. Returns segments deleted. */
  async runRetention(nowMs = Date.now()): Promise<number> {
    if (!this.started || this.retentionRunning) return 0;
    this.retentionRunning = true;
    let deleted = 0;
    try {
      for (const t of [...this.topics.values()]) {
        for (const log of t.logs) {
          try {
            deleted += await log.applyRetention(nowMs);
            log.expireProducers(BigInt(nowMs), BigInt(this.options.producerIdExpirationMs));
          } catch (e) {
            this.logger.error({ err: e, partition: log.label }, 'retention failed');
          }
        }
      }
    } finally {
      this.retentionRunning = false;
    }
    return deleted;
  }

  /**
   * Run the log cleaner now over the compacted partitions that are due (force:
   * every one with a cleanable dirty section, whatever its dirty ratio).
   * Returns the partitions cleaned. Tests and tooling; the background cleaner
   * does the same every log.cleaner.backoff.ms.
   */
  runCleaner(nowMs = Date.now(), force = false): Promise<number> {
    if (!this.started) return Promise.resolve(0);
    return this.cleaner.run(nowMs, force);
  }

  /** Partition log internals for tests and tooling. */
  partitionLog(tp: PartitionRef): PartitionLog {
    return this.log(tp);
  }

  get openFileCount(): number {
    return this.files.openCount;
  }

  get waitingFetches(): number {
    return this.notifier.watchedKeys + this.committedNotifier.watchedKeys;
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return isErrno(e, 'EPERM');
  }
}
