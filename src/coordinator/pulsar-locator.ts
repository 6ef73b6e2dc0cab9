/**
 * Group coordinator election for several gateway nodes on one Pulsar cluster
 * (storageEngine=pulsar), with Pulsar itself as the arbiter:
 *
 * - Each offsets partition p has a lock topic `kop-coordinator-<p>` in the
 *   metadata namespace. Every node opens a WaitForExclusive producer on each;
 *   the broker lets exactly one of them be ready. The node whose producer is
 *   ready coordinates p; the others wait in the broker's queue. When the owner
 *   dies or loses its connection, the broker hands the topic to the next
 *   waiting producer (Pulsar's own failover, no home-made consensus).
 * - A node that sees its producer disconnected stops coordinating p at once
 *   (before anyone else can be made owner, the broker must first notice the
 *   loss), then queues again.
 * - Nodes publish themselves in the `nodes` state namespace: their advertised
 *   endpoints and the partitions they own with the time they got them, so any
 *   node can answer FindCoordinator with the owner's address.
 * - A node that was frozen (stopped process, VM pause, event loop blocked) may
 *   have been dropped by the broker meanwhile, its lock handed to another node,
 *   before it can see its connection close. A clock ticks every WATCH_MS: while
 *   the last tick is more than STALL_MS old this node claims nothing (clients
 *   get a retriable error and ask again), and after a gap of more than
 *   GIVE_UP_MS it gives up every partition and queues again.
 */
import type { Producer, PulsarClient } from '../pulsar/client/types.js';
import type { Endpoint } from '../gateway-context.js';
import type { PulsarKeyValueStore } from '../storage/pulsar/kv-store.js';
import { offsetsPartitionFor, type CoordinatorLocator, type CoordinatorNode, type GroupKey } from './locator.js';

export const NODES_NAMESPACE = 'nodes';
const WATCH_MS = 250;
/** No tick for this long: the event loop stalled, claim nothing until it ticks again. */
const STALL_MS = 2000;
/** A stall this long may have outlasted the broker's keep-alive: give every partition up. */
const GIVE_UP_MS = 10_000;
const VIEW_REFRESH_MS = 1000;
/** Nodes rewrite their record this often; a record older than 3 periods is a node that is gone. */
const HEARTBEAT_MS = 15_000;

export interface NodeRecord {
  v: 1;
  nodeId: number;
  /** listener name -> advertised endpoint */
  endpoints: Record<string, Endpoint>;
  /** offsets partition -> when this node became its owner (ms) */
  owned: Record<string, number>;
  updatedMs: number;
}

export interface OwnershipListener {
  gained(partition: number): Promise<void>;
  lost(partition: number): void;
}

interface LoggerLike {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface PulsarLocatorOptions {
  client: PulsarClient;
  state: PulsarKeyValueStore;
  metadataNamespace: string;
  numPartitions: number;
  nodeId: number;
  /** This node's advertised endpoint for a listener (valid once the listeners are bound). */
  endpoint(listenerName: string): Endpoint;
  /** Listener names, for the node record. */
  listenerNames(): string[];
  logger: LoggerLike;
}

export class PulsarCoordinatorLocator implements CoordinatorLocator {
  readonly numPartitions: number;
  private readonly owned = new Map<number, { producer: Producer; since: number }>();
  private readonly self: CoordinatorNode;
  private listener: OwnershipListener | null = null;
  private view: ReadonlyMap<string, Buffer> = new Map();
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private publishing: Promise<void> = Promise.resolve();
  /** Node records are written only once the listeners are bound (their ports are in the record). */
  private publishable = false;
  /** When the stall clock last ticked (see STALL_MS). */
  private lastTick = Date.now();
  /** Bumped when a stall makes this node give up everything: each compete loop closes its producer. */
  private generation = 0;

  constructor(private readonly o: PulsarLocatorOptions) {
    this.numPartitions = o.numPartitions;
    this.self = { nodeId: o.nodeId, local: true, endpoint: (l) => o.endpoint(l) };
  }

  lockTopic(partition: number): string {
    return `persistent://${this.o.metadataNamespace}/kop-coordinator-${partition}`;
  }

  partitionFor(key: GroupKey): number {
    return offsetsPartitionFor(key, this.numPartitions);
  }

  ownedPartitions(): number[] {
    return [...this.owned.keys()].sort((a, b) => a - b);
  }

  /**
   * The other gateway nodes alive now (their records were refreshed recently),
   * for Metadata: Kafka's admin client sends group requests only to a
   * coordinator it finds among the brokers Metadata lists.
   */
  peers(): Array<{ nodeId: number; endpoints: Record<string, Endpoint> }> {
    const out: Array<{ nodeId: number; endpoints: Record<string, Endpoint> }> = [];
    const now = Date.now();
    for (const [key, raw] of this.view) {
      if (key === `node-${this.o.nodeId}`) continue;
      try {
        const rec = JSON.parse(raw.toString('utf8')) as NodeRecord;
        if (now - rec.updatedMs <= 3 * HEARTBEAT_MS) out.push({ nodeId: rec.nodeId, endpoints: rec.endpoints });
      } catch {
        // unreadable record: not a peer
      }
    }
    return out.sort((a, b) => a.nodeId - b.nodeId);
  }

  ownerOf(partition: number): CoordinatorNode | null {
    if (this.owned.has(partition)) return this.stalled() ? null : this.self;
    let best: NodeRecord | null = null;
    let bestSince = -1;
    for (const [key, raw] of this.view) {
      if (key === `node-${this.o.nodeId}`) continue;
      let rec: NodeRecord;
      try {
        rec = JSON.parse(raw.toString('utf8')) as NodeRecord;
      } catch {
        continue;
      }
      const since = rec.owned[String(partition)];
      if (since !== undefined && since > bestSince) {
        best = rec;
        bestSince = since;
      }
    }
    if (best === null) return null;
    const endpoints = best.endpoints;
    return { nodeId: best.nodeId, local: false, endpoint: (l) => endpoints[l] ?? { host: '', port: 0 } };
  }

  /**
   * Start competing for every partition. Partitions won right away are owned
   * when this resolves (a first node owns them all); later wins and losses go
   * to the listener.
   */
  async start(listener: OwnershipListener): Promise<void> {
    this.listener = listener;
    this.lastTick = Date.now();
    const clock = setInterval(() => this.tick(), WATCH_MS);
    clock.unref();
    this.timers.push(clock);
    this.view = await this.o.state.view(NODES_NAMESPACE);
    const refresh = setInterval(() => {
      void this.o.state.view(NODES_NAMESPACE).then(
        (v) => (this.view = v),
        () => undefined,
      );
    }, VIEW_REFRESH_MS);
    refresh.unref();
    this.timers.push(refresh);
    const heartbeat = setInterval(() => void this.publish(), HEARTBEAT_MS);
    heartbeat.unref();
    this.timers.push(heartbeat);
    const firstRound = Array.from({ length: this.numPartitions }, (_, p) => this.compete(p));
    // wait briefly for the uncontested ones, the rest keep waiting in the background
    await Promise.race([Promise.all(firstRound), new Promise((r) => setTimeout(r, 3000))]);
  }

  /** Whether the stall clock is late (the process was frozen or the event loop blocked). */
  private stalled(): boolean {
    return Date.now() - this.lastTick > STALL_MS;
  }

  private tick(): void {
    const now = Date.now();
    const gap = now - this.lastTick;
    this.lastTick = now;
    if (gap > GIVE_UP_MS && this.owned.size > 0) {
      this.o.logger.warn({ stalledMs: gap, partitions: this.ownedPartitions() }, 'coordinator election: this node was frozen longer than the broker may wait; giving up every offsets partition and queueing again');
      this.generation++;
      // claim nothing from now on; each compete loop sees the new generation, closes its producer and queues again
      for (const p of this.ownedPartitions()) {
        this.owned.delete(p);
        this.listener?.lost(p);
      }
      void this.publish();
    }
  }

  /** The listeners are bound: write the node record now and after every ownership change. */
  listening(): Promise<void> {
    this.publishable = true;
    return this.publish();
  }

  private async compete(partition: number): Promise<void> {
    let backoff = 100;
    while (!this.closed) {
      let producer: Producer;
      try {
        producer = await this.o.client.createProducer({
          topic: this.lockTopic(partition),
          producerName: `kop-coordinator-${this.o.nodeId}-${partition}-${Math.random().toString(36).slice(2, 8)}`,
          accessMode: 'WaitForExclusive',
        });
      } catch (e) {
        if (this.closed) return;
        this.o.logger.warn({ partition, err: (e as Error).message }, 'coordinator election: cannot queue for the lock; retrying');
        await new Promise((r) => setTimeout(r, backoff));
        backoff = Math.min(backoff * 2, 10_000);
        continue;
      }
      backoff = 100;
      if (this.closed) {
        await producer.close().catch(() => undefined);
        return;
      }
      this.owned.set(partition, { producer, since: Date.now() });
      this.o.logger.info({ partition }, 'became group coordinator of offsets partition');
      if (this.listener) {
        await this.listener.gained(partition).catch((e: unknown) => this.o.logger.warn({ partition, err: (e as Error).message }, 'loading the offsets partition failed'));
      }
      void this.publish();
      await this.watch(producer);
      if (this.owned.get(partition)?.producer === producer) {
        this.owned.delete(partition);
        this.listener?.lost(partition);
      }
      if (!this.closed) {
        this.o.logger.warn({ partition }, 'lost group coordination of offsets partition (connection to Pulsar lost or fenced); queueing again');
        void this.publish();
      }
      await producer.close().catch(() => undefined);
    }
  }

  /** Resolves when the producer stops being a live exclusive owner. */
  private watch(producer: Producer): Promise<void> {
    return new Promise((resolve) => {
      let done = false;
      const finish = (): void => {
        if (done) return;
        done = true;
        clearInterval(t);
        resolve();
      };
      const generation = this.generation;
      const t = setInterval(() => {
        if (this.closed || !producer.connected || this.generation !== generation) finish();
      }, WATCH_MS);
      t.unref();
      void producer.closed.then(finish);
    });
  }

  /** Write this node's record (endpoints, owned partitions). */
  publish(): Promise<void> {
    if (!this.publishable || this.closed) return this.publishing;
    const run = async (): Promise<void> => {
      const endpoints: Record<string, Endpoint> = {};
      for (const l of this.o.listenerNames()) endpoints[l] = this.o.endpoint(l);
      const owned: Record<string, number> = {};
      for (const [p, o] of this.owned) owned[String(p)] = o.since;
      const rec: NodeRecord = { v: 1, nodeId: this.o.nodeId, endpoints, owned, updatedMs: Date.now() };
      await this.o.state.put(NODES_NAMESPACE, `node-${this.o.nodeId}`, Buffer.from(JSON.stringify(rec)));
    };
    this.publishing = this.publishing.then(run, run).catch((e: unknown) => this.o.logger.warn({ err: (e as Error).message }, 'could not publish the node record'));
    return this.publishing;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    const owned = [...this.owned.values()];
    this.owned.clear();
    // give the partitions up: the waiting nodes take over at once
    await Promise.all(owned.map((o) => o.producer.close().catch(() => undefined)));
    await this.o.state.put(NODES_NAMESPACE, `node-${this.o.nodeId}`, null).catch(() => undefined);
  }
}
