/**
 * Builds the configured storage engine.
 */
import type { GatewayConfig } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { StorageEngine } from './engine.js';
import { EmbeddedEngine } from './embedded/engine.js';
import { join } from 'node:path';

export function createStorageEngine(config: GatewayConfig, log: Logger): StorageEngine {
  switch (config.storageEngine) {
    case 'embedded':
      return new EmbeddedEngine({
        dataDirectory: join(config.dataDirectory, 'embedded'),
        logger: log.child({ component: 'storage' }),
        flushPolicy: config.embeddedFlushPolicy,
        flushIntervalMs: config.embeddedFlushIntervalMs,
        retentionCheckIntervalMs: config.embeddedRetentionCheckIntervalMs,
      });
    case 'pulsar':
      // being built (issue 6): refuse to start rather than pretend
      throw new Error('storageEngine=pulsar is not available in this build yet');
  }
}
