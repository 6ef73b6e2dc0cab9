/**
 * Durable transaction state in the storage engine's key-value store, in the
 * very KV namespaces that hold group offsets (`__consumer_offsets-<p>`:
 * embedded KV files; one compacted state topic per partition on Pulsar), so a
 * coordinator partition's groups and transactional ids load, move and fail
 * over together, and no extra state topics exist. A transactional id belongs
 * to the partition the locator gives a group of that name; entries, next to
 * the group store's (store.ts, which skips these):
 *
 *   ["x", tenant, transactionalId] -> the id's metadata (metadata.ts), with its home namespace
 *   ["xe"]                         -> the partition's coordinator epoch (bumped by each node that loads it)
 *
 * (A changed offsetsTopicNumPartitions: the group store's migration moves the
 * "x" entries with the groups, keyed the same way.)
 *
 * One entry per id, rewritten whole on every transition (a tombstone when the
 * id expires), so a transition is durable or not at all. Values are versioned JSON.
 */
import type { KeyValueStore } from '../../storage/engine.js';
import { TXN_STATES, type TxnMetadata, type TxnPartition, partitionKey } from './metadata.js';
import { OFFSETS_NAMESPACE_PREFIX } from '../store.js';

/** Entry types of this store in the offsets partitions (the group store skips them). */
export const TXN_ENTRY = 'x';
export const TXN_EPOCH_ENTRY = 'xe';
const EPOCH_KEY = JSON.stringify([TXN_EPOCH_ENTRY]);

function namespaceOf(partition: number): string {
  return `${OFFSETS_NAMESPACE_PREFIX}${partition}`;
}

function entryKey(tenant: string, transactionalId: string): string {
  return JSON.stringify([TXN_ENTRY, tenant, transactionalId]);
}

export function encodeMetadata(m: TxnMetadata): Buffer {
  return Buffer.from(
    JSON.stringify({
      v: 1,
      home: m.home,
      producerId: m.producerId.toString(),
      previousProducerId: m.previousProducerId.toString(),
      producerEpoch: m.producerEpoch,
      lastProducerEpoch: m.lastProducerEpoch,
      txnTimeoutMs: m.txnTimeoutMs,
      state: m.state,
      partitions: [...m.partitions.values()].map((p) => [p.topic, p.partition]),
      groups: [...m.groups],
      txnStartTimestamp: m.txnStartTimestamp,
      txnLastUpdateTimestamp: m.txnLastUpdateTimestamp,
    }),
  );
}

export function decodeMetadata(tenant: string, transactionalId: string, buf: Buffer): TxnMetadata {
  const j = JSON.parse(buf.toString('utf8'));
  if (j.v !== 1) throw new Error(`unknown transaction metadata version ${j.v}`);
  if (typeof j.home !== 'string' || j.home === '') throw new Error('transaction metadata without a home namespace');
  if (!TXN_STATES.includes(j.state)) throw new Error(`unknown transaction state ${j.state}`);
  const partitions = new Map<string, TxnPartition>();
  for (const [topic, partition] of j.partitions as Array<[string, number]>) {
    const p = { topic: String(topic), partition: Number(partition) };
    partitions.set(partitionKey(p), p);
  }
  return {
    tenant,
    transactionalId,
    home: j.home,
    producerId: BigInt(j.producerId),
    previousProducerId: BigInt(j.previousProducerId),
    producerEpoch: Number(j.producerEpoch),
    lastProducerEpoch: Number(j.lastProducerEpoch),
    txnTimeoutMs: Number(j.txnTimeoutMs),
    state: j.state,
    partitions,
    groups: new Set((j.groups as unknown[]).map(String)),
    txnStartTimestamp: Number(j.txnStartTimestamp),
    txnLastUpdateTimestamp: Number(j.txnLastUpdateTimestamp),
  };
}

export class TxnStore {
  constructor(private readonly kv: KeyValueStore) {}

  /** Every id of one partition. Unreadable entries are reported and skipped. */
  async loadPartition(partition: number, onBadEntry: (key: string, err: unknown) => void): Promise<TxnMetadata[]> {
    const out: TxnMetadata[] = [];
    for (const { key, value } of await this.kv.scan(namespaceOf(partition))) {
      if (!key.startsWith(`["${TXN_ENTRY}",`)) continue; // the group store's entries, and the epoch
      try {
        const parts = JSON.parse(key) as unknown[];
        if (parts.length !== 3) throw new Error('unknown entry type');
        out.push(decodeMetadata(String(parts[1]), String(parts[2]), value));
      } catch (err) {
        onBadEntry(key, err);
      }
    }
    return out;
  }

  /** Bump and return the partition's coordinator epoch (markers carry it; an older coordinator's are fenced). */
  async nextEpoch(partition: number): Promise<number> {
    const stored = await this.kv.get(namespaceOf(partition), EPOCH_KEY);
    const epoch = stored ? Number(stored.toString('utf8')) + 1 : 0;
    await this.kv.put(namespaceOf(partition), EPOCH_KEY, Buffer.from(String(epoch)));
    return epoch;
  }

  put(partition: number, m: TxnMetadata): Promise<void> {
    return this.kv.put(namespaceOf(partition), entryKey(m.tenant, m.transactionalId), encodeMetadata(m));
  }

  remove(partition: number, tenant: string, transactionalId: string): Promise<void> {
    return this.kv.put(namespaceOf(partition), entryKey(tenant, transactionalId), null);
  }
}
