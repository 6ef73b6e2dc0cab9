/**
 * Builds the configured storage engine, and hands out each engine's wiring
 * (./wiring.ts: cluster id, group coordination, readiness, metrics): the only
 * place above the engines' folders that knows which engines exist.
 */
import { join } from 'node:path';
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { StorageEngine } from './engine.js';
import type { EngineWiring } from './wiring.js';
import { embeddedWiring } from './embedded/wiring.js';
import { pulsarWiring } from './pulsar/wiring.js';
import { pulsarClientObserver, type GatewayMetrics } from '../metrics/metrics.js';
import { EmbeddedEngine } from './embedded/engine.js';
import { PulsarEngine } from './pulsar/engine.js';
import { createPulsarAdmin } from '../pulsar/admin/index.js';
import { createPulsarClient } from '../pulsar/client/index.js';
import { gatewayPrincipalFromConfig, pulsarAdminOptionsFromConfig, tokenSupplierFromConfig, trustCertsFromConfig } from '../pulsar/auth-config.js';

/** Broker-level topic config defaults from the gateway's configuration (Kafka's log.* synonyms). */
export function topicDefaultsFromConfig(config: GatewayConfig): Record<string, string> {
  return {
    'cleanup.policy': config.logCleanupPolicy,
    'delete.retention.ms': config.logCleanerDeleteRetentionMs,
    'min.cleanable.dirty.ratio': config.logCleanerMinCleanableRatio,
    'min.compaction.lag.ms': config.logCleanerMinCompactionLagMs,
    'max.compaction.lag.ms': config.logCleanerMaxCompactionLagMs,
  };
}

/** `metrics`: the Pulsar client and admin API report to it (the embedded engine's are read at scrape time). */
export function createStorageEngine(config: GatewayConfig, log: Logger, metrics?: GatewayMetrics): StorageEngine {
  switch (config.storageEngine) {
    case 'embedded':
      return new EmbeddedEngine({
        dataDirectory: join(config.dataDirectory, 'embedded'),
        logger: log.child({ component: 'storage' }),
        flushPolicy: config.embeddedFlushPolicy,
        flushIntervalMs: config.embeddedFlushIntervalMs,
        retentionCheckIntervalMs: config.embeddedRetentionCheckIntervalMs,
        defaults: topicDefaultsFromConfig(config),
        cleaner: {
          enabled: config.logCleanerEnable,
          backoffMs: config.logCleanerBackoffMs,
          ioMaxBytesPerSecond: config.logCleanerIoMaxBytesPerSecond,
          dedupeBufferBytes: config.logCleanerDedupeBufferSize,
        },
      });
    case 'pulsar': {
      const token = tokenSupplierFromConfig(config);
      const own = gatewayPrincipalFromConfig(config);
      const logger = log.child({ component: 'storage' });
      const ca = trustCertsFromConfig(config);
      const client = createPulsarClient({
        serviceUrl: config.brokerServiceUrl,
        auth: token ? { method: 'token', token } : { method: 'none' },
        tls: { ...(ca ? { ca } : {}), rejectUnauthorized: !config.brokerClientTlsAllowInsecureConnection },
        operationTimeoutMs: config.pulsarOperationTimeoutMs,
        logger: log.child({ component: 'pulsar-client' }),
        ...(own ? { defaultOriginalIdentity: { principal: own } } : {}),
        ...(metrics ? { observer: pulsarClientObserver(metrics) } : {}),
      });
      const admin = createPulsarAdmin(pulsarAdminOptionsFromConfig(config));
      if (metrics) admin.observer = (method, result, seconds) => metrics.adminCall(method, result, seconds);
      return new PulsarEngine({
        client,
        admin,
        entryFormat: config.entryFormat,
        metadataNamespace: `${config.kafkaMetadataTenant}/${config.kafkaMetadataNamespace}`,
        nodeId: config.kafkaNodeId,
        logger,
        operationTimeoutMs: config.pulsarOperationTimeoutMs,
        forwardIdentity: config.pulsarForwardClientIdentity,
        defaults: topicDefaultsFromConfig(config),
      });
    }
  }
}

/** The wiring of an engine (the configured one, or one a test built itself). */
export function engineWiring(engine: StorageEngine, config: GatewayConfig): EngineWiring {
  if (engine instanceof EmbeddedEngine) return embeddedWiring(engine, config.dataDirectory);
  if (engine instanceof PulsarEngine) return pulsarWiring(engine, { brokerServiceUrl: config.brokerServiceUrl, webServiceUrl: config.webServiceUrl }, { nodeId: config.kafkaNodeId, operationTimeoutMs: config.pulsarOperationTimeoutMs });
  throw new Error(`no wiring for the storage engine ${engine.kind}`);
}
