/**
 * What the gateway needs from a storage engine beyond topics and data: the
 * cluster id, group coordination across nodes, the readiness checks of
 * /health/ready and the engine's own metrics. Each engine's wiring lives in
 * its folder (embedded/wiring.ts, pulsar/wiring.ts); the factory hands the
 * right one out (factory.ts), so src/server.ts, src/metrics/ and
 * src/schema-registry/ never name an engine.
 */
import type { Endpoint } from '../gateway-context.js';
import type { CoordinatorLocator } from '../coordinator/locator.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { Check } from '../ops/health.js';
import type { RegistryLog } from '../schema-registry/log.js';
import type { RegistryState } from '../schema-registry/state.js';
import type { ShareRecordsFactory } from '../share/records.js';

/** Offsets partitions won and lost by this node (multi-node engines); `gained` runs once the partition's state is loaded. */
export interface OwnershipListener {
  gained(partition: number): Promise<void>;
  lost(partition: number): void;
}

export interface CoordinationOptions {
  numPartitions: number;
  nodeId: number;
  /** This node's advertised endpoint for a listener (valid once the listeners are bound). */
  endpoint(listenerName: string): Endpoint;
  /** Listener names, for what this node publishes of itself. */
  listenerNames(): string[];
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
}

/** Which node coordinates which group, and its life cycle. */
export interface Coordination {
  readonly locator: CoordinatorLocator;
  /** Begin taking part; partitions this node wins later are announced to the listener. */
  start(listener: OwnershipListener): Promise<void>;
  /** The listeners are bound: tell the other nodes where this one is. */
  listening(): Promise<void>;
  /** The other live nodes with an endpoint for a listener (Metadata lists them); null with a single node. */
  readonly peers: ((listenerName: string) => Array<{ nodeId: number; endpoint: Endpoint }>) | null;
  /** Hand the partitions this node owns to the others. */
  close(): Promise<void>;
}

export interface EngineWiring {
  /** The Kafka cluster id: shared by every node of a shared engine, else kept in the data directory. */
  clusterId(): Promise<string>;
  coordination(options: CoordinationOptions): Coordination;
  /** A consumer group committed an offset (an engine may mirror it); null when nothing is to be done. */
  readonly offsetCommitted: ((groupId: string, topic: string, partition: number, offset: bigint) => void) | null;
  /**
   * The records side of share groups (src/share/records.ts) when the engine provides its own
   * (the Pulsar engine: Shared subscriptions, served by every node); null: the gateway's own
   * share-partitions, served by the group's coordinating node.
   */
  readonly shareRecords: ShareRecordsFactory | null;
  /** Readiness checks by name (ops/health.ts): storage open, remote services reachable. */
  readiness(): Array<[string, Check]>;
  /** The engine's own metrics, read at scrape time (src/metrics/sources.ts registers the engine-neutral ones). */
  registerMetrics(m: GatewayMetrics): void;
  /** Where the schema registry keeps its ordered log (src/schema-registry/log.ts): shared by every node of a shared engine. */
  schemaRegistryLog(state: RegistryState, log: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void }): RegistryLog;
}
