/**
 * The registry's log: where entries (state.ts) are written, in one order that
 * every gateway node applies. Two implementations, picked by the engine:
 *
 *  - KvRegistryLog (embedded engine, one node): entries in the engine's
 *    durable key-value state (namespace `schema-registry`, keys `e-<seq>`),
 *    written one at a time; at start they are read back in sequence order.
 *  - PulsarRegistryLog (pulsar engine, any number of nodes): entries on the
 *    topic `kop-schema-registry` in the gateway's metadata namespace (never
 *    reachable by Kafka clients; its retention is infinite and each entry has
 *    its own key, so compaction keeps every entry). Pulsar orders the
 *    entries of all nodes; each node reads the topic from the start and
 *    applies every entry in that order, its own included, and answers a
 *    request once its reader has applied the request's entry. No lock and no
 *    leader: the broker's order is the single source of truth, so two nodes
 *    registering at once get ids from one sequence (state.ts explains why
 *    that cannot give one schema two ids or two schemas one id).
 */
import { randomUUID } from 'node:crypto';
import type { KeyValueStore } from '../storage/engine.js';
import type { MessageId, Producer, PulsarClient, Consumer } from '../pulsar/client/types.js';
import type { PulsarAdmin } from '../pulsar/admin/types.js';
import { E } from './errors.js';
import type { Entry, Outcome, RegistryState } from './state.js';

export interface RegistryLog {
  /** Read what is stored and apply it to the state. */
  start(): Promise<void>;
  /** Write an entry; resolves with the outcome of applying it in log order. */
  append(entry: Entry): Promise<Outcome>;
  close(): Promise<void>;
}

export function newEntryId(): string {
  return randomUUID();
}

const KV_NAMESPACE = 'schema-registry';
const VERSION = 1;

function encode(entry: Entry): Buffer {
  return Buffer.concat([Buffer.of(VERSION), Buffer.from(JSON.stringify(entry), 'utf8')]);
}

function decode(raw: Buffer): Entry | null {
  if (raw.length < 2 || raw[0] !== VERSION) return null;
  return JSON.parse(raw.subarray(1).toString('utf8')) as Entry;
}

interface LogLogger {
  warn(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
}

export class KvRegistryLog implements RegistryLog {
  private seq = 0;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly kv: KeyValueStore,
    private readonly state: RegistryState,
    private readonly log: LogLogger,
  ) {}

  async start(): Promise<void> {
    const all = await this.kv.scan(KV_NAMESPACE);
    const entries = all
      .map((e) => ({ seq: Number(e.key.slice(2)), entry: decode(e.value) }))
      .filter((e) => Number.isSafeInteger(e.seq))
      .sort((a, b) => a.seq - b.seq);
    for (const { seq, entry } of entries) {
      this.seq = Math.max(this.seq, seq);
      if (entry) this.state.apply(entry);
      else this.log.warn({ seq }, 'schema registry: log entry of an unknown version ignored');
    }
    if (entries.length) this.log.info({ entries: entries.length }, 'schema registry: state loaded');
  }

  append(entry: Entry): Promise<Outcome> {
    const run = this.chain.then(async () => {
      const seq = this.seq + 1;
      try {
        await this.kv.put(KV_NAMESPACE, `e-${String(seq).padStart(16, '0')}`, encode(entry));
      } catch (err) {
        throw E.store((err as Error).message);
      }
      this.seq = seq;
      return this.state.apply(entry);
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    await this.chain;
  }
}

function after(a: MessageId, b: MessageId): boolean {
  return a.ledgerId > b.ledgerId || (a.ledgerId === b.ledgerId && a.entryId > b.entryId);
}

export interface PulsarLogOptions {
  client: PulsarClient;
  admin: PulsarAdmin;
  /** tenant/namespace of the gateway's own state (kafkaMetadataTenant/kafkaMetadataNamespace). */
  metadataNamespace: string;
  nodeId: number;
  timeoutMs: number;
}

export class PulsarRegistryLog implements RegistryLog {
  readonly topic: string;
  private reader: Consumer | null = null;
  private producer: Promise<Producer> | null = null;
  private readonly waiters = new Map<string, (o: Outcome) => void>();
  private closed = false;
  private pumping: Promise<void> = Promise.resolve();

  constructor(
    private readonly o: PulsarLogOptions,
    private readonly state: RegistryState,
    private readonly log: LogLogger,
  ) {
    this.topic = `persistent://${o.metadataNamespace}/kop-schema-registry`;
  }

  async start(): Promise<void> {
    await this.o.admin.createNonPartitionedTopic(this.topic).catch((e: unknown) => {
      if ((e as { status?: number }).status !== 409) throw e;
    });
    const reader = await this.o.client.subscribe({
      topic: this.topic,
      subscription: `kop-schema-registry-${this.o.nodeId}-${randomUUID().slice(0, 8)}`,
      subscriptionType: 'Exclusive',
      durable: false,
      initialPosition: 'Earliest',
      readCompacted: false,
      receiverQueueSize: 1000,
    });
    this.reader = reader;
    const last = await reader.getLastMessageId();
    let n = 0;
    if (last.entryId >= 0n) {
      for (;;) {
        const e = await reader.receive(this.o.timeoutMs);
        if (e === null) throw new Error(`schema registry log ${this.topic}: no entry within ${this.o.timeoutMs} ms while loading (last ${last.ledgerId}:${last.entryId})`);
        this.applyRaw(e.payload);
        n++;
        if (!after(last, e.messageId)) break;
      }
    }
    if (n) this.log.info({ entries: n, topic: this.topic }, 'schema registry: state loaded');
    this.pumping = this.pump(reader);
  }

  private async pump(reader: Consumer): Promise<void> {
    while (!this.closed) {
      try {
        const e = await reader.receive(60_000);
        if (e !== null) this.applyRaw(e.payload);
      } catch (err) {
        if (this.closed) return;
        this.log.warn({ err: (err as Error).message, topic: this.topic }, 'schema registry: log reader failed; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  }

  private applyRaw(payload: Buffer): void {
    let entry: Entry | null;
    try {
      entry = decode(payload);
    } catch {
      entry = null;
    }
    if (!entry) {
      this.log.warn({ topic: this.topic }, 'schema registry: unreadable log entry ignored');
      return;
    }
    const outcome = this.state.apply(entry);
    const w = this.waiters.get(entry.rid);
    if (w) {
      this.waiters.delete(entry.rid);
      w(outcome);
    }
  }

  async append(entry: Entry): Promise<Outcome> {
    if (this.closed) throw E.store('the schema registry is stopping');
    this.producer ??= this.o.client.createProducer({ topic: this.topic, accessMode: 'Shared' }).catch((e: unknown) => {
      this.producer = null;
      throw e;
    });
    let resolve!: (o: Outcome) => void;
    const applied = new Promise<Outcome>((r) => (resolve = r));
    this.waiters.set(entry.rid, resolve);
    let timer: NodeJS.Timeout | undefined;
    try {
      const producer = await this.producer;
      await producer.send({ metadata: { partitionKey: entry.rid }, payload: encode(entry) });
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(E.timeout(`the entry was written but not read back within ${this.o.timeoutMs} ms; it will be applied`)), this.o.timeoutMs);
      });
      return await Promise.race([applied, timeout]);
    } catch (err) {
      if ((err as { code?: unknown }).code !== undefined && (err as Error).name === 'RegistryError') throw err;
      throw E.store(`cannot write the schema registry log: ${(err as Error).message}`);
    } finally {
      clearTimeout(timer);
      this.waiters.delete(entry.rid);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const p = this.producer ? await this.producer.catch(() => null) : null;
    await p?.close().catch(() => undefined);
    await this.reader?.close().catch(() => undefined);
    await this.pumping.catch(() => undefined);
  }
}
