/**
 * What request handlers may use: configuration, the storage engine, the
 * cluster identity and the advertised endpoints. Built once by the server.
 */
import type { FetchSessionCache } from './handlers/fetch-session.js';
import type { GatewayConfig } from './config/schema.js';
import type { StorageEngine } from './storage/engine.js';
import type { DispatchTable } from './dispatch/registry.js';
import type { Logger } from './logger.js';
import type { SaslSettings } from './security/sasl/authenticator.js';
import type { AuditLog, Authorizer } from './security/types.js';
import type { ByteRateQuota } from './network/quotas.js';
import type { GroupCoordinator } from './coordinator/coordinator.js';
import type { OffsetsLog } from './coordinator/offsets-log.js';
import type { ShareGroups } from './share/groups.js';
import type { TransactionCoordinator } from './coordinator/txn/coordinator.js';
import type { GatewayMetrics } from './metrics/metrics.js';
import type { RevocationWatcher } from './security/tokens/revocation.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface SecurityServices {
  /** SASL settings of SASL_PLAINTEXT/SASL_SSL listeners; null when authentication is disabled. */
  readonly sasl: SaslSettings | null;
  /** Delay before a failed authentication's response and close (Kafka connection.failed.authentication.delay.ms). */
  readonly failedAuthenticationDelayMs: number;
  readonly authorizer: Authorizer;
  readonly audit: AuditLog | null;
  /** tokenRevocationFile, watched; null when none is configured. */
  readonly revocation?: RevocationWatcher | null;
}

export interface GatewayContext {
  readonly config: GatewayConfig;
  readonly storage: StorageEngine;
  readonly table: DispatchTable;
  readonly log: Logger;
  /** Kafka cluster id (22-character base64url UUID), stable across restarts. */
  readonly clusterId: string;
  readonly nodeId: number;
  readonly security: SecurityServices;
  /**
   * Per-principal rate quotas (disabled when the configured rate is 0): produce and fetch
   * bytes, and new producer ids (InitProducerId; the "bytes" counted are ids).
   */
  readonly quotas?: { produce: ByteRateQuota; fetch: ByteRateQuota; producerIds?: ByteRateQuota };
  /** The endpoint clients of the given listener should use to reach this node. */
  advertisedEndpoint(listenerName: string): Endpoint;
  /** Other gateway nodes serving the same cluster (storageEngine=pulsar), for Metadata's broker list. */
  peers?(listenerName: string): Array<{ nodeId: number; endpoint: Endpoint }>;
  /** The consumer group coordinator; group APIs answer COORDINATOR_NOT_AVAILABLE without one. */
  readonly coordinator?: GroupCoordinator;
  /** Incremental fetch sessions of this node (KIP-227, handlers/fetch-session.ts); without it every fetch is sessionless. */
  readonly fetchSessions?: FetchSessionCache;
  /** Share groups (KIP-932); the share-group APIs are not served without it. */
  readonly shareGroups?: ShareGroups;
  /** The transaction coordinator; transactional APIs answer COORDINATOR_NOT_AVAILABLE without one. */
  readonly transactions?: TransactionCoordinator;
  /** The readable __consumer_offsets logs (coordinator/offsets-log.ts); absent with offsetsTopicReadable=false. */
  readonly offsetsLog?: OffsetsLog;
  /** Prometheus metrics; undefined when metrics are off (no opsListener, or metricsEnabled=false). */
  readonly metrics?: GatewayMetrics;
}
