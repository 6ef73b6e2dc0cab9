/**
 * Durable share-group state in the storage engine's key-value store (the
 * embedded engine's state files; the Pulsar engine's compacted state topic),
 * namespace `__share_group_state`, in the role of Kafka's __share_group_state
 * topic:
 *
 *   ["h", tenant, groupId]                     -> the share group's home namespace (written first)
 *   ["p", tenant, groupId, topic, partition]   -> one share-partition: topic id, start/end offsets
 *                                                 and the runs of in-flight records that are not plain
 *   ["c", tenant, groupId]                     -> the group's own configs (group configs)
 *   ["t", tenant, groupId]                     -> the topics the group's members were assigned, with
 *                                                 their partition counts (what DeleteGroups removes)
 *
 * AlterShareGroupOffsets rewrites a share-partition's entry; DeleteShareGroupOffsets and
 * DeleteGroups remove entries (the group's last: its home).
 *
 * Values are versioned JSON. Writes of one share-partition are chained and
 * coalesced: each write stores the state as it is when the write starts, so
 * the last write stores the newest state, and a burst costs one or two writes.
 */
import type { KeyValueStore } from '../storage/engine.js';
import type { GroupKey } from '../coordinator/locator.js';
import type { SharePartitionSnapshot } from './partition.js';
import type { ShareGroupConfigs } from './groups.js';

export const SHARE_STATE_NAMESPACE = '__share_group_state';

export interface LoadedShareState {
  homes: Array<{ key: GroupKey; home: string }>;
  configs: Array<{ key: GroupKey; configs: ShareGroupConfigs }>;
  partitions: Array<{ key: GroupKey; topic: string; partition: number; topicId: Buffer; snapshot: SharePartitionSnapshot }>;
}

interface Chain {
  /** The last write queued. */
  tail: Promise<void>;
  /** A write queued and not started yet: later calls share it (it takes the newest snapshot when it starts). */
  pending: Promise<void> | null;
  /** The value the next write stores (the newest asked for). */
  value: () => Buffer | null;
}

function parseConfigs(v: unknown): ShareGroupConfigs {
  const configs: ShareGroupConfigs = {};
  if (!v || typeof v !== 'object') return configs;
  const c = v as Record<string, unknown>;
  if (c.autoOffsetReset === 'latest' || c.autoOffsetReset === 'earliest') configs.autoOffsetReset = c.autoOffsetReset;
  if (typeof c.lockDurationMs === 'number') configs.lockDurationMs = c.lockDurationMs;
  return configs;
}

export class ShareStore {
  private readonly chains = new Map<string, Chain>();

  constructor(private readonly kv: KeyValueStore) {}

  putHome(key: GroupKey, home: string): Promise<void> {
    return this.kv.put(SHARE_STATE_NAMESPACE, JSON.stringify(['h', key.tenant, key.groupId]), Buffer.from(JSON.stringify({ v: 1, namespace: home })));
  }

  /** The stored home (as this node's view of the store has it now: other nodes' writes arrive shortly after). */
  async getHome(key: GroupKey): Promise<string | null> {
    const raw = await this.kv.get(SHARE_STATE_NAMESPACE, JSON.stringify(['h', key.tenant, key.groupId]));
    if (raw === null) return null;
    const j = JSON.parse(raw.toString('utf8')) as { v?: number; namespace?: unknown };
    return j.v === 1 && typeof j.namespace === 'string' ? j.namespace : null;
  }

  /** The stored group configs (empty when none). */
  async getConfigs(key: GroupKey): Promise<ShareGroupConfigs> {
    const raw = await this.kv.get(SHARE_STATE_NAMESPACE, JSON.stringify(['c', key.tenant, key.groupId]));
    if (raw === null) return {};
    return parseConfigs((JSON.parse(raw.toString('utf8')) as { configs?: unknown }).configs);
  }

  putConfigs(key: GroupKey, configs: ShareGroupConfigs): Promise<void> {
    const k = JSON.stringify(['c', key.tenant, key.groupId]);
    return this.kv.put(SHARE_STATE_NAMESPACE, k, Object.keys(configs).length === 0 ? null : Buffer.from(JSON.stringify({ v: 1, configs })));
  }

  putPartition(key: GroupKey, topic: string, partition: number, topicId: Buffer, snapshot: () => SharePartitionSnapshot): Promise<void> {
    return this.chained(JSON.stringify(['p', key.tenant, key.groupId, topic, partition]), () => {
      const s = snapshot();
      const value = {
        v: 1,
        topicId: topicId.toString('hex'),
        start: s.startOffset.toString(),
        end: s.endOffset.toString(),
        runs: s.runs.map(([f, l, st, c]) => [f.toString(), l.toString(), st, c]),
      };
      return Buffer.from(JSON.stringify(value));
    });
  }

  /** Remove a share-partition's state (after any write of it in flight). */
  deletePartition(key: GroupKey, topic: string, partition: number): Promise<void> {
    return this.chained(JSON.stringify(['p', key.tenant, key.groupId, topic, partition]), () => null);
  }

  /** The topics the group's members were assigned (full name -> partitions). */
  async getTopics(key: GroupKey): Promise<Map<string, number>> {
    const raw = await this.kv.get(SHARE_STATE_NAMESPACE, JSON.stringify(['t', key.tenant, key.groupId]));
    const out = new Map<string, number>();
    if (raw === null) return out;
    const j = JSON.parse(raw.toString('utf8')) as { v?: number; topics?: Record<string, unknown> };
    for (const [name, n] of Object.entries(j.topics ?? {})) if (typeof n === 'number' && Number.isInteger(n)) out.set(name, n);
    return out;
  }

  putTopics(key: GroupKey, topics: Map<string, number>): Promise<void> {
    return this.kv.put(SHARE_STATE_NAMESPACE, JSON.stringify(['t', key.tenant, key.groupId]), Buffer.from(JSON.stringify({ v: 1, topics: Object.fromEntries(topics) })));
  }

  /** Remove a group's home, configs and topics (DeleteGroups; its share-partitions are removed one by one first). */
  async deleteGroup(key: GroupKey): Promise<void> {
    await this.kv.put(SHARE_STATE_NAMESPACE, JSON.stringify(['t', key.tenant, key.groupId]), null);
    await this.kv.put(SHARE_STATE_NAMESPACE, JSON.stringify(['c', key.tenant, key.groupId]), null);
    await this.kv.put(SHARE_STATE_NAMESPACE, JSON.stringify(['h', key.tenant, key.groupId]), null);
  }

  /** Writes of one key, chained and coalesced: the value is taken when the write starts. */
  private chained(k: string, value: () => Buffer | null): Promise<void> {
    let c = this.chains.get(k);
    if (!c) {
      c = { tail: Promise.resolve(), pending: null, value };
      this.chains.set(k, c);
    }
    // a queued write not started yet takes the newest value when it starts
    c.value = value;
    if (c.pending) return c.pending;
    const chain = c;
    const p = chain.tail
      .catch(() => undefined)
      .then(() => {
        chain.pending = null;
        return this.kv.put(SHARE_STATE_NAMESPACE, k, chain.value());
      });
    chain.pending = p;
    chain.tail = p;
    const cleanup = (): void => {
      if (chain.tail === p && chain.pending === null && this.chains.get(k) === chain) this.chains.delete(k);
    };
    p.then(cleanup, cleanup);
    return p;
  }

  /** Wait for every write in flight. */
  async drain(): Promise<void> {
    const all: Promise<void>[] = [];
    for (const c of this.chains.values()) all.push(c.tail);
    await Promise.allSettled(all);
  }

  async load(onError: (key: string, err: unknown) => void): Promise<LoadedShareState> {
    const out: LoadedShareState = { homes: [], configs: [], partitions: [] };
    for (const { key, value } of await this.kv.scan(SHARE_STATE_NAMESPACE)) {
      try {
        const k = JSON.parse(key) as unknown[];
        const j = JSON.parse(value.toString('utf8'));
        if (j.v !== 1) throw new Error(`unknown share state version ${j.v}`);
        if (k[0] === 'h' && typeof k[1] === 'string' && typeof k[2] === 'string' && typeof j.namespace === 'string') {
          out.homes.push({ key: { tenant: k[1], groupId: k[2] }, home: j.namespace });
        } else if (k[0] === 'c' && typeof k[1] === 'string' && typeof k[2] === 'string' && j.configs && typeof j.configs === 'object') {
          out.configs.push({ key: { tenant: k[1], groupId: k[2] }, configs: parseConfigs(j.configs) });
        } else if (k[0] === 't') {
          // read when needed (getTopics)
        } else if (k[0] === 'p' && typeof k[1] === 'string' && typeof k[2] === 'string' && typeof k[3] === 'string' && Number.isInteger(k[4])) {
          const runs: SharePartitionSnapshot['runs'] = (j.runs as Array<[string, string, number, number]>).map(([f, l, st, c]) => [BigInt(f), BigInt(l), st as 0, c]);
          out.partitions.push({
            key: { tenant: k[1], groupId: k[2] },
            topic: k[3],
            partition: k[4] as number,
            topicId: Buffer.from(String(j.topicId), 'hex'),
            snapshot: { startOffset: BigInt(j.start), endOffset: BigInt(j.end), runs },
          });
        } else {
          throw new Error('unknown share state entry');
        }
      } catch (err) {
        onError(key, err);
      }
    }
    return out;
  }
}
