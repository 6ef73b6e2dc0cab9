/**
 * The engine's durable key-value state (consumer group offsets and metadata,
 * topic ids and configs, producer id blocks, DeleteRecords marks) in Pulsar:
 * one topic per KV namespace under kafkaMetadataTenant/kafkaMetadataNamespace,
 * the message key is the KV key, an empty payload is a tombstone, and Pulsar's
 * topic compaction keeps each topic to the latest value per key (the engine
 * sets a compaction threshold and infinite retention on that namespace).
 *
 * A namespace is loaded on first use by reading its compacted view to the end,
 * then kept current by the same reader (writes of other gateway nodes arrive
 * too). A put resolves once Pulsar has persisted it; the local view applies it
 * at once (read-your-writes) and ignores older entries of that key still on
 * their way through the reader.
 */
import type { KeyValueStore } from '../engine.js';
import type { Consumer, MessageId, Producer, PulsarClient, ReceivedEntry } from '../../pulsar/client/types.js';
import type { PulsarAdmin } from '../../pulsar/admin/types.js';
import type { EngineLogger } from '../logger.js';
import { toStorageError } from './errors.js';

const VALUE_V1 = 1;

export function stateTopicName(metadataNamespace: string, kvNamespace: string): string {
  return `persistent://${metadataNamespace}/kop-state-${kvNamespace.replace(/[^a-zA-Z0-9._-]/g, '_')}`;
}

function after(a: MessageId, b: MessageId): boolean {
  return a.ledgerId > b.ledgerId || (a.ledgerId === b.ledgerId && a.entryId > b.entryId);
}

interface Space {
  topic: string;
  map: Map<string, Buffer>;
  reader: Consumer;
  producer: Promise<Producer> | null;
  /** key -> position of this node's latest write, until the reader passes it */
  localWrites: Map<string, MessageId>;
  closed: boolean;
}

export class PulsarKeyValueStore implements KeyValueStore {
  private readonly spaces = new Map<string, Promise<Space>>();

  constructor(
    private readonly client: PulsarClient,
    private readonly admin: PulsarAdmin,
    private readonly metadataNamespace: string,
    private readonly logger: EngineLogger,
    private readonly timeoutMs: number,
    private readonly nodeId: number,
  ) {}

  private space(namespace: string): Promise<Space> {
    let s = this.spaces.get(namespace);
    if (!s) {
      s = this.load(namespace);
      this.spaces.set(namespace, s);
      s.catch(() => this.spaces.delete(namespace));
    }
    return s;
  }

  private async load(namespace: string): Promise<Space> {
    const topic = stateTopicName(this.metadataNamespace, namespace);
    try {
      // brokers that do not auto-create topics: create it (a no-op conflict when it exists)
      await this.admin.createNonPartitionedTopic(topic).catch((e: unknown) => {
        if ((e as { status?: number }).status !== 409) throw e;
      });
      const reader = await this.client.subscribe({
        topic,
        subscription: `kop-state-${this.nodeId}-${Math.random().toString(36).slice(2, 10)}`,
        subscriptionType: 'Exclusive',
        durable: false,
        initialPosition: 'Earliest',
        readCompacted: true,
        receiverQueueSize: 1000,
      });
      const space: Space = { topic, map: new Map(), reader, producer: null, localWrites: new Map(), closed: false };
      const last = await reader.getLastMessageId();
      if (last.entryId >= 0n) {
        for (;;) {
          const e = await reader.receive(this.timeoutMs);
          if (e === null) throw new Error(`state topic ${topic}: no entry within ${this.timeoutMs} ms while loading (last ${last.ledgerId}:${last.entryId})`);
          this.apply(space, e);
          if (!after(last, e.messageId)) break;
        }
      }
      void this.pump(space);
      return space;
    } catch (e) {
      throw toStorageError(e, `state ${namespace}`);
    }
  }

  private async pump(space: Space): Promise<void> {
    while (!space.closed) {
      try {
        const e = await space.reader.receive(60_000);
        if (e !== null) this.apply(space, e);
      } catch (err) {
        if (space.closed) return;
        this.logger.warn({ err, topic: space.topic }, 'state reader failed; reloading on next use');
        for (const [ns, p] of this.spaces) {
          if ((await p.catch(() => null)) === space) this.spaces.delete(ns);
        }
        return;
      }
    }
  }

  private apply(space: Space, e: ReceivedEntry): void {
    const key = e.metadata.partitionKey;
    if (key === undefined) return;
    const mine = space.localWrites.get(key);
    if (mine !== undefined) {
      if (after(mine, e.messageId)) return; // older than our own newer write
      if (mine.ledgerId === e.messageId.ledgerId && mine.entryId === e.messageId.entryId) space.localWrites.delete(key);
    }
    if (e.payload.length === 0) space.map.delete(key);
    else if (e.payload[0] === VALUE_V1) space.map.set(key, Buffer.from(e.payload.subarray(1)));
    else this.logger.warn({ topic: space.topic, key, version: e.payload[0] }, 'state entry of an unknown version ignored');
  }

  async get(namespace: string, key: string): Promise<Buffer | null> {
    return (await this.space(namespace)).map.get(key) ?? null;
  }

  async put(namespace: string, key: string, value: Buffer | null): Promise<void> {
    const space = await this.space(namespace);
    space.producer ??= this.client.createProducer({ topic: space.topic, accessMode: 'Shared' }).catch((e: unknown) => {
      space.producer = null;
      throw toStorageError(e, `state ${namespace} producer`);
    });
    const producer = await space.producer;
    const payload = value === null ? Buffer.alloc(0) : Buffer.concat([Buffer.of(VALUE_V1), value]);
    let receipt;
    try {
      receipt = await producer.send({ metadata: { partitionKey: key }, payload });
    } catch (e) {
      throw toStorageError(e, `state ${namespace} write`);
    }
    const prev = space.localWrites.get(key);
    if (prev === undefined || after(receipt.messageId, prev)) space.localWrites.set(key, receipt.messageId);
    if (value === null) space.map.delete(key);
    else space.map.set(key, Buffer.from(value));
  }

  /** The live view of a namespace (kept current by its reader; replaced after a reload: ask again rather than keep it). */
  async view(namespace: string): Promise<ReadonlyMap<string, Buffer>> {
    return (await this.space(namespace)).map;
  }

  async scan(namespace: string): Promise<Array<{ key: string; value: Buffer }>> {
    const space = await this.space(namespace);
    return [...space.map].map(([key, value]) => ({ key, value }));
  }

  /** Drop a namespace's local view (re-read from Pulsar on next use): a new coordinator taking over. */
  async reload(namespace: string): Promise<void> {
    const s = this.spaces.get(namespace);
    this.spaces.delete(namespace);
    if (s) await this.closeSpace(await s.catch(() => null));
  }

  private async closeSpace(space: Space | null): Promise<void> {
    if (!space) return;
    space.closed = true;
    await space.reader.close().catch(() => undefined);
    const p = space.producer ? await space.producer.catch(() => null) : null;
    await p?.close().catch(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.spaces.values()];
    this.spaces.clear();
    for (const s of all) await this.closeSpace(await s.catch(() => null));
  }
}
