/**
 * What request handlers may use: configuration, the storage engine, the
 * cluster identity and the advertised endpoints. Built once by the server.
 */
import type { GatewayConfig } from './config/schema.js';
import type { StorageEngine } from './storage/engine.js';
import type { DispatchTable } from './dispatch/registry.js';
import type { Logger } from './logger.js';
import type { GroupCoordinator } from './coordinator/coordinator.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface GatewayContext {
  readonly config: GatewayConfig;
  readonly storage: StorageEngine;
  readonly table: DispatchTable;
  readonly log: Logger;
  /** Kafka cluster id (22-character base64url UUID), stable across restarts. */
  readonly clusterId: string;
  readonly nodeId: number;
  /** The endpoint clients of the given listener should use to reach this node. */
  advertisedEndpoint(listenerName: string): Endpoint;
  /** The consumer group coordinator; group APIs answer COORDINATOR_NOT_AVAILABLE without one. */
  readonly coordinator?: GroupCoordinator;
}
