/**
 * The embedded engine's wiring (../wiring.ts): one node coordinates every
 * group, the cluster id lives in the data directory, readiness is the engine
 * being open, metrics are its segments and fsyncs, the schema registry's log
 * is kept in the engine's key-value state.
 */
import { loadOrCreateClusterId } from '../../cluster-id.js';
import { SingleNodeLocator } from '../../coordinator/locator.js';
import type { GatewayMetrics } from '../../metrics/metrics.js';
import { KvRegistryLog } from '../../schema-registry/log.js';
import { parseFullName } from '../../topics/names.js';
import type { EngineWiring } from '../wiring.js';
import type { EmbeddedEngine } from './engine.js';

export function embeddedWiring(engine: EmbeddedEngine, dataDirectory: string): EngineWiring {
  return {
    clusterId: () => loadOrCreateClusterId(dataDirectory),
    coordination: (o) => ({
      locator: new SingleNodeLocator(o.numPartitions, o.nodeId, o.endpoint),
      start: async () => undefined, // the coordinator loads every partition itself at start
      listening: async () => undefined,
      peers: null,
      close: async () => undefined,
    }),
    offsetCommitted: null,
    shareRecords: null,
    readiness: () => [['storage', () => (engine.isOpen ? { ok: true, detail: 'embedded' } : { ok: false, detail: 'the embedded storage is not open' })]],
    registerMetrics: (m) => registerEmbeddedMetrics(m, engine),
    schemaRegistryLog: (state, log) => new KvRegistryLog(engine.state, state, log),
  };
}

function registerEmbeddedMetrics(m: GatewayMetrics, engine: EmbeddedEngine): void {
  const stats = engine.stats;
  stats.observeFlushRound = (s) => m.storageFsync(s);
  m.externalCounter('storage_fsyncs_total', 'Embedded engine: fsync/fdatasync calls (segment logs, indexes, metadata, directories).', () => stats.fsyncs);
  m.externalCounter('storage_log_writes_total', 'Embedded engine: segment write calls (pwritev).', () => stats.logWrites);
  const labels = m.options.topicLabel ? ['tenant', 'namespace', 'topic'] : ['tenant', 'namespace'];
  const segments = m.gauge('storage_segments', 'Embedded engine: segment files, per topic (or namespace).', labels);
  const bytes = m.gauge('storage_segment_bytes', 'Embedded engine: bytes in segment files, per topic (or namespace).', labels);
  const partitions = m.gauge('storage_partitions', 'Partitions held by the storage engine, per topic (or namespace).', labels);
  m.addSource(() => {
    segments.reset();
    bytes.reset();
    partitions.reset();
    for (const t of engine.segmentStats()) {
      let name;
      try {
        name = parseFullName(t.topic);
      } catch {
        continue;
      }
      const l = m.options.topicLabel ? [name.tenant, name.namespace, name.local] : [name.tenant, name.namespace];
      segments.labels(...l).inc(t.segments);
      bytes.labels(...l).inc(t.bytes);
      partitions.labels(...l).inc(t.partitions);
    }
  });
}
