/**
 * The Pulsar engine's wiring (../wiring.ts): nodes compete for each offsets
 * partition through Pulsar exclusive producers (src/coordinator/pulsar-locator.ts),
 * a partition won is re-read from the state topics before it is served,
 * committed offsets are mirrored as Pulsar subscriptions, share groups read
 * through Pulsar Shared subscriptions on every node (share-records.ts), the cluster id is
 * shared through the state store, readiness probes the broker and the admin
 * API, metrics are the Pulsar client's handles, the schema registry's log is a
 * topic of the metadata namespace every node reads.
 */
import { loadOrCreateSharedClusterId } from '../../cluster-id.js';
import { PulsarCoordinatorLocator } from '../../coordinator/pulsar-locator.js';
import { OFFSETS_NAMESPACE_PREFIX } from '../../coordinator/store.js';
import type { GatewayMetrics } from '../../metrics/metrics.js';
import { probe, type Check } from '../../ops/health.js';
import { PulsarRegistryLog } from '../../schema-registry/log.js';
import type { EngineWiring } from '../wiring.js';
import type { PulsarEngine } from './engine.js';
import { PulsarShareRecords } from './share-records.js';

const PROBE_TIMEOUT_MS = 3_000;
const PROBE_CACHE_MS = 1_000;

export function pulsarWiring(engine: PulsarEngine, urls: { brokerServiceUrl: string; webServiceUrl: string }, o: { nodeId: number; operationTimeoutMs: number }): EngineWiring {
  return {
    clusterId: () => loadOrCreateSharedClusterId(engine.state),
    coordination: (o) => {
      const locator = new PulsarCoordinatorLocator({ client: engine.client, state: engine.state, metadataNamespace: engine.metadataNamespace, ...o });
      return {
        locator,
        start: (listener) =>
          locator.start({
            gained: async (p) => {
              await engine.state.reload(`${OFFSETS_NAMESPACE_PREFIX}${p}`); // read what the previous owner wrote
              await listener.gained(p);
            },
            lost: (p) => listener.lost(p),
          }),
        listening: () => locator.listening(),
        peers: (listenerName) =>
          locator.peers().flatMap((p) => {
            const endpoint = p.endpoints[listenerName];
            return endpoint ? [{ nodeId: p.nodeId, endpoint }] : [];
          }),
        close: () => locator.close(),
      };
    },
    offsetCommitted: (groupId, topic, partition, offset) => engine.mirrorCommittedOffset(groupId, topic, partition, offset),
    shareRecords: (settings, counts, storedStart) =>
      new PulsarShareRecords({ client: engine.client, admin: engine.admin, nodeId: o.nodeId, logger: engine.engineLogger, settings, counts, storedStart, positionOf: (topic, offset) => engine.positionOf(topic, offset) }),
    readiness: () => {
      const brokerProbe = probe(() => engine.client.checkConnection(), PROBE_TIMEOUT_MS, PROBE_CACHE_MS);
      // Tenant policies (authorizationEnabled) and topic administration come from the admin API.
      const adminProbe = probe(() => engine.admin.listClusters(), PROBE_TIMEOUT_MS, PROBE_CACHE_MS);
      const named = (check: Check, url: string): Check => async () => {
        const res = await check();
        return res.ok ? { ok: true, detail: url } : { ok: false, detail: `${url}: ${res.detail ?? 'unreachable'}` };
      };
      return [
        ['pulsarBroker', named(brokerProbe, urls.brokerServiceUrl)],
        ['pulsarAdmin', named(adminProbe, urls.webServiceUrl)],
      ];
    },
    registerMetrics: (m) => registerPulsarMetrics(m, engine),
    schemaRegistryLog: (state, log) =>
      new PulsarRegistryLog({ client: engine.client, admin: engine.admin, metadataNamespace: engine.metadataNamespace, nodeId: o.nodeId, timeoutMs: o.operationTimeoutMs }, state, log),
  };
}

function registerPulsarMetrics(m: GatewayMetrics, engine: PulsarEngine): void {
  const client = engine.client;
  const connections = m.gauge('pulsar_connections', 'Connections open to Pulsar brokers.');
  const producers = m.gauge('pulsar_producers', "Pulsar producers open (one per written partition, plus the gateway's state topics).");
  const consumers = m.gauge('pulsar_consumers', 'Pulsar consumers and readers open (tail readers, state topics).');
  m.addSource(() => {
    connections.set(client.openConnections);
    const h = client.openHandles;
    producers.set(h.producers);
    consumers.set(h.consumers);
  });
}
