/**
 * Topic metadata and the directory layout of topics:
 *
 *   <data>/topics/<tenant>/<namespace>/<topic>/topic.json     metadata (atomic writes)
 *   <data>/topics/<tenant>/<namespace>/<topic>/<partition>/    one directory per partition
 *   <data>/trash/                                              deleted topics, purged in the background
 *
 * Names are data, never paths: each of tenant, namespace and topic becomes ONE
 * directory name through encodeFsSegment (names.ts: names of [a-zA-Z0-9._-] as
 * they are, anything else percent-encoded, '.' and '..' included), and every
 * path is checked to resolve inside <data>/topics before it is used. Whatever
 * name this store is handed, it cannot reach another directory: it fails
 * closed (INVALID_TOPIC_EXCEPTION) instead. At load, a topic.json whose name
 * does not map back to its own directory is skipped.
 *
 * topic.json is written last when a topic is created, so a directory without it
 * is an interrupted creation and is removed on start. Partition directories at or
 * above the recorded count are an interrupted CreatePartitions and are removed.
 * Deleting renames the topic directory into the trash first (atomic), so a crash
 * never leaves a half-deleted topic visible and a re-created topic starts clean.
 */
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { ErrorCode } from '../../protocol/errors.js';
import { StorageError } from '../engine.js';
import { decodeFsSegment, encodeFsSegment, parseFullName, showName } from '../../topics/names.js';
import { fsyncDir, readFileOrNull, writeFileAtomic, type IoStats } from './io.js';
import type { EngineLogger } from './types.js';

export const TOPIC_FILE = 'topic.json';

export interface TopicMeta {
  name: string;
  topicId: Buffer;
  partitions: number;
  configs: Record<string, string>;
  internal: boolean;
  createdMs: number;
}

interface TopicFile {
  version: 1;
  name: string;
  topicId: string;
  partitions: number;
  configs: Record<string, string>;
  internal: boolean;
  createdMs: number;
}

export function newTopicId(): Buffer {
  // Kafka never hands out the all-zero id (and reserves the "metadata topic" id 1).
  for (;;) {
    const id = randomBytes(16);
    if (!id.every((b) => b === 0)) return id;
  }
}

export class TopicStore {
  readonly topicsDir: string;
  readonly trashDir: string;

  constructor(
    readonly dataDir: string,
    private readonly stats: IoStats,
    private readonly logger: EngineLogger,
  ) {
    this.topicsDir = join(dataDir, 'topics');
    this.trashDir = join(dataDir, 'trash');
  }

  /** `<topics>/<tenant>/<namespace>/<topic>`, each segment encoded; throws INVALID_TOPIC_EXCEPTION rather than leave the topics directory. */
  topicDir(name: string): string {
    let segments: string[];
    try {
      const t = parseFullName(name);
      segments = [t.tenant, t.namespace, t.local].map(encodeFsSegment);
    } catch (e) {
      throw new StorageError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name ${showName(String(name))} cannot be stored: ${(e as Error).message}`);
    }
    return this.inside(join(this.topicsDir, ...segments), 3, name);
  }

  partitionDir(name: string, partition: number): string {
    if (!Number.isSafeInteger(partition) || partition < 0) throw new StorageError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `invalid partition ${partition}`);
    return this.inside(join(this.topicDir(name), String(partition)), 4, name);
  }

  /** The path, if it lies exactly `depth` directories below the topics directory; else fail closed. */
  private inside(path: string, depth: number, name: string): string {
    const root = resolve(this.topicsDir);
    const full = resolve(path);
    const rel = full.startsWith(root + sep) ? full.slice(root.length + 1).split(sep) : null;
    if (rel === null || rel.length !== depth || rel.some((p) => p === '' || p === '.' || p === '..')) {
      this.logger.error({ topic: showName(String(name)), path: full }, 'refused a topic path outside the topics directory');
      throw new StorageError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name ${showName(String(name))} does not map to a directory of its own`);
    }
    return path;
  }

  async init(): Promise<void> {
    await fs.promises.mkdir(this.topicsDir, { recursive: true });
    await fs.promises.mkdir(this.trashDir, { recursive: true });
    await this.purgeTrash();
  }

  /** All complete topics; cleans up interrupted creations and partition additions. */
  async loadAll(): Promise<TopicMeta[]> {
    const out: TopicMeta[] = [];
    for (const tenant of await listDirs(this.topicsDir)) {
      for (const ns of await listDirs(join(this.topicsDir, tenant))) {
        for (const local of await listDirs(join(this.topicsDir, tenant, ns))) {
          const dir = join(this.topicsDir, tenant, ns, local);
          const data = await readFileOrNull(join(dir, TOPIC_FILE));
          if (data === null) {
            this.logger.warn({ dir }, 'removing an incompletely created topic directory');
            await fs.promises.rm(dir, { recursive: true, force: true });
            continue;
          }
          let meta: TopicMeta;
          try {
            meta = parseTopicFile(data);
          } catch (err) {
            this.logger.error({ err, dir }, 'unreadable topic metadata: topic skipped (directory left in place)');
            continue;
          }
          // The name must be legal and its directory this one: a name from before the
          // rules (or a planted topic.json) never serves files from somewhere else.
          let own: string | null = null;
          try {
            own = this.topicDir(meta.name);
          } catch {
            own = null;
          }
          if (own === null || resolve(own) !== resolve(dir) || [tenant, ns, local].some((seg) => decodeFsSegment(seg) === null)) {
            this.logger.error({ dir, topic: showName(meta.name) }, 'topic metadata names a topic that does not belong in this directory (illegal name or moved directory): topic skipped (directory left in place)');
            continue;
          }
          for (const entry of await listDirs(dir)) {
            const p = /^\d+$/.test(entry) ? Number(entry) : -1;
            if (p >= meta.partitions) {
              this.logger.warn({ topic: meta.name, partition: p }, 'removing a partition directory of an interrupted CreatePartitions');
              await fs.promises.rm(join(dir, entry), { recursive: true, force: true });
            }
          }
          out.push(meta);
        }
      }
    }
    return out;
  }

  async create(meta: TopicMeta): Promise<void> {
    const dir = this.topicDir(meta.name);
    await fs.promises.mkdir(dir, { recursive: true });
    for (let p = 0; p < meta.partitions; p++) await fs.promises.mkdir(this.partitionDir(meta.name, p), { recursive: true });
    await fsyncDir(dir, this.stats);
    await this.save(meta);
    // Make the directory entries of the new path durable.
    const nsDir = join(dir, '..');
    await fsyncDir(nsDir, this.stats);
    await fsyncDir(join(nsDir, '..'), this.stats);
    await fsyncDir(this.topicsDir, this.stats);
  }

  async save(meta: TopicMeta): Promise<void> {
    const file: TopicFile = {
      version: 1,
      name: meta.name,
      topicId: meta.topicId.toString('hex'),
      partitions: meta.partitions,
      configs: meta.configs,
      internal: meta.internal,
      createdMs: meta.createdMs,
    };
    await writeFileAtomic(join(this.topicDir(meta.name), TOPIC_FILE), JSON.stringify(file, null, 2) + '\n', this.stats);
  }

  async addPartitions(meta: TopicMeta, total: number): Promise<void> {
    const dir = this.topicDir(meta.name);
    for (let p = meta.partitions; p < total; p++) await fs.promises.mkdir(this.partitionDir(meta.name, p), { recursive: true });
    await fsyncDir(dir, this.stats);
    await this.save({ ...meta, partitions: total });
  }

  /** Move the topic's directory to the trash (atomic, durable); returns the trash path. */
  async moveToTrash(meta: TopicMeta): Promise<string> {
    const dir = this.topicDir(meta.name);
    // the trash entry is named by the topic id (hex) and a time, never by the name
    const target = join(this.trashDir, `${meta.topicId.toString('hex')}-${Date.now()}`);
    await fs.promises.rename(dir, target);
    await fsyncDir(this.trashDir, this.stats);
    await fsyncDir(join(dir, '..'), this.stats);
    return target;
  }

  /** Remove one entry of the trash (and nothing else). */
  async purge(path: string): Promise<void> {
    const root = resolve(this.trashDir);
    const full = resolve(path);
    if (!full.startsWith(root + sep) || full.slice(root.length + 1).includes(sep)) {
      throw new StorageError(ErrorCode.KAFKA_STORAGE_ERROR, `refusing to purge ${full}: not an entry of the trash ${root}`);
    }
    await fs.promises.rm(full, { recursive: true, force: true });
  }

  async purgeTrash(): Promise<void> {
    for (const name of await listDirs(this.trashDir)) await this.purge(join(this.trashDir, name));
  }
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    const entries = await fs.promises.readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => e.name);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

function parseTopicFile(data: Buffer): TopicMeta {
  const f = JSON.parse(data.toString('utf8')) as Partial<TopicFile>;
  if (f.version !== 1 || typeof f.name !== 'string' || typeof f.topicId !== 'string' || !/^[0-9a-f]{32}$/.test(f.topicId)) {
    throw new Error('bad topic.json');
  }
  if (!Number.isInteger(f.partitions) || (f.partitions as number) < 1) throw new Error('bad partition count');
  const configs: Record<string, string> = {};
  for (const [k, v] of Object.entries(f.configs ?? {})) if (typeof v === 'string') configs[k] = v;
  return {
    name: f.name,
    topicId: Buffer.from(f.topicId, 'hex'),
    partitions: f.partitions as number,
    configs,
    internal: f.internal === true,
    createdMs: typeof f.createdMs === 'number' ? f.createdMs : 0,
  };
}
