/**
 * Metrics read at scrape time from the modules that already hold the values:
 * consumer groups and lag (coordinator + storage high watermarks), the audit
 * log's queue, the connection bounds. The storage engine's own metrics are
 * registered by its wiring (src/storage/wiring.ts).
 * Nothing here runs on the data path.
 */
import type { GatewayMetrics } from './metrics.js';
import type { LocalGroupCoordinator } from '../coordinator/coordinator.js';
import { GROUP_STATES } from '../coordinator/group.js';
import type { StorageEngine } from '../storage/engine.js';
import type { AuditLog } from '../security/types.js';
import { JsonAuditLog } from '../security/audit/index.js';
import { parseFullName, type TopicName } from '../topics/names.js';
import { boundCounters } from '../network/counters.js';
import type { FetchSessionCache } from '../handlers/fetch-session.js';
import type { OffsetsLog } from '../coordinator/offsets-log.js';

/** How long the lag collector waits for high watermarks before reporting what it has. */
const LAG_TIMEOUT_MS = 5_000;

function splitTopic(full: string): TopicName | null {
  try {
    return parseFullName(full);
  } catch {
    return null;
  }
}

export function registerGroupMetrics(m: GatewayMetrics, coordinator: LocalGroupCoordinator, storage: StorageEngine): void {
  const groups = m.gauge('consumer_groups', 'Consumer groups this node coordinates, by state.', ['state']);
  const members = m.gauge('consumer_group_members', 'Members of each consumer group.', ['group_tenant', 'group']);
  const generation = m.gauge('consumer_group_generation', 'Generation of each consumer group (grows by one per rebalance).', ['group_tenant', 'group']);
  m.externalCounter('consumer_group_rebalances_total', 'Rebalances (new generations) of the groups this node coordinated since it started.', () => coordinator.rebalancesCompleted);
  const lag = m.gauge('consumer_lag', 'Consumer lag: high watermark minus the committed offset, per group, topic and partition (computed at scrape time).', ['group_tenant', 'group', 'tenant', 'namespace', 'topic', 'partition']);
  const committed = m.gauge('consumer_committed_offset', 'Committed offset per group, topic and partition.', ['group_tenant', 'group', 'tenant', 'namespace', 'topic', 'partition']);
  const dropped = m.gauge('consumer_lag_series_dropped', 'Lag series left out of the last scrape (metricsLagMaxPartitions, or high watermarks not read in time).');
  const max = m.options.lagMaxPartitions;

  m.addSource(async () => {
    groups.reset();
    members.reset();
    generation.reset();
    lag.reset();
    committed.reset();
    const byState = new Map<string, number>(GROUP_STATES.map((s) => [s, 0]));
    const wanted: Array<{ labels: string[]; topic: string; partition: number; offset: bigint }> = [];
    let left = 0;
    for (const g of coordinator.groupsForMetrics()) {
      // A consumer group (KIP-848): its own state, members and group epoch.
      const state = g.consumer && g.state !== 'Dead' ? g.consumer.state() : g.state;
      byState.set(state, (byState.get(state) ?? 0) + 1);
      if (state === 'Dead') continue;
      members.labels(g.key.tenant, g.key.groupId).set(g.consumer ? g.consumer.members.size : g.members.size);
      generation.labels(g.key.tenant, g.key.groupId).set(g.consumer ? g.consumer.groupEpoch : g.generationId);
      for (const [topic, partitions] of g.offsets) {
        const name = splitTopic(topic);
        if (!name) continue;
        for (const [partition, o] of partitions) {
          if (wanted.length >= max) {
            left++;
            continue;
          }
          wanted.push({ labels: [g.key.tenant, g.key.groupId, name.tenant, name.namespace, name.local, String(partition)], topic, partition, offset: o.offset });
        }
      }
    }
    for (const [state, n] of byState) groups.labels(state).set(n);
    // One high watermark per partition, however many groups commit on it.
    const hws = new Map<string, Promise<bigint | null>>();
    const hw = (topic: string, partition: number): Promise<bigint | null> => {
      const key = `${topic}\u0000${partition}`;
      let p = hws.get(key);
      if (!p) {
        p = storage.offsets({ topic, partition }).then(
          (o) => o.highWatermark,
          () => null,
        );
        hws.set(key, p);
      }
      return p;
    };
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), LAG_TIMEOUT_MS);
      timer.unref();
    });
    let late = 0;
    await Promise.all(
      wanted.map(async (w) => {
        const h = await Promise.race([hw(w.topic, w.partition), deadline]);
        committed.labels(...w.labels).set(Number(w.offset));
        if (h === 'timeout' || h === null) {
          late++;
          return;
        }
        lag.labels(...w.labels).set(Math.max(0, Number(h - w.offset)));
      }),
    );
    clearTimeout(timer);
    dropped.set(left + late);
  });
}

export function registerAuditMetrics(m: GatewayMetrics, audit: AuditLog | null): void {
  const queued = m.gauge('audit_queue_bytes', 'Audit records waiting to be written (bytes); grows while the audit file cannot be written.');
  const failing = m.gauge('audit_write_failing', '1 while the audit log file cannot be written.');
  m.externalCounter('audit_records_written_total', 'Audit records handed to the audit file/stream.', () => (audit instanceof JsonAuditLog ? audit.sink.stats.lines : 0));
  m.externalCounter('audit_records_dropped_total', 'Audit records dropped (buffer full while the file could not be written). Must stay 0.', () => (audit instanceof JsonAuditLog ? audit.sink.stats.droppedTotal : 0));
  // the audit volume bounds (docs/audit-log.md): what was written, by event, and what was counted into aggregates
  m.externalLabeledCounter('audit_records_by_event_total', 'Audit records written, by event.', 'event', () => audit?.counters.written ?? {});
  m.externalLabeledCounter('audit_records_aggregated_total', 'Audit records not written one by one but counted into an aggregate record (repeated, connections_unauthenticated), by kind.', 'kind', () => audit?.counters.aggregated ?? {});
  m.addSource(() => {
    const s = audit instanceof JsonAuditLog ? audit.sink.stats : null;
    queued.set(s?.queuedBytes ?? 0);
    failing.set(s?.failing ? 1 : 0);
  });
}

/** The connection bounds of src/network/ (docs/limits.md): process-wide counters, read at scrape time. */
export function registerBoundMetrics(m: GatewayMetrics): void {
  m.externalLabeledCounter('connections_closed_by_bound_total', 'Connections closed (or SASL messages refused) by a bound: TLS handshake timeout or failure, frame size before/after authentication, half-sent frame timeout, SASL credential size, authentication timeout.', 'reason', () => boundCounters.closed);
  m.externalCounter('read_ahead_pauses_total', 'Times a connection stopped reading because its queued request bytes reached maxQueuedRequestBytes (or maxQueuedRequests frames).', () => boundCounters.readAheadPauses);
  const unauthenticated = m.gauge('connections_unauthenticated', 'Connections admitted and not yet authenticated (in TLS handshake or before SASL completes); bounded by maxUnauthenticatedConnections.');
  const buffered = m.gauge('buffered_request_bytes', 'Bytes held by all connections as frames read ahead and partial frames.');
  m.addSource(() => {
    unauthenticated.set(boundCounters.unauthenticatedOpen);
    buffered.set(boundCounters.bufferedRequestBytes);
  });
}

/** The readable `__consumer_offsets` log (coordinator/offsets-log.ts): what it appended, dropped, and holds queued. */
export function registerOffsetsLogMetrics(m: GatewayMetrics, offsetsLog: OffsetsLog): void {
  m.externalCounter('offsets_log_records_appended_total', 'Group coordinator records (offset commits, group metadata) appended to the readable __consumer_offsets log.', () => offsetsLog.appended);
  m.externalCounter('offsets_log_records_dropped_total', 'Records of the __consumer_offsets log dropped (its queue full, or unwritable); the group store itself is unaffected.', () => offsetsLog.dropped);
  const queued = m.gauge('offsets_log_queued_records', 'Records waiting to be appended to the __consumer_offsets log; bounded by its queue.');
  m.addSource(() => queued.set(offsetsLog.queued));
}

/** Incremental fetch sessions (handlers/fetch-session.ts; Kafka's FetchSessionCache metrics). */
export function registerFetchSessionMetrics(m: GatewayMetrics, cache: FetchSessionCache): void {
  const sessions = m.gauge('fetch_sessions', 'Incremental fetch sessions this node holds (Kafka NumIncrementalFetchSessions); bounded by maxIncrementalFetchSessionCacheSlots.');
  const partitions = m.gauge('fetch_session_partitions', 'Partitions held by all fetch sessions (Kafka NumIncrementalFetchPartitionsCached).');
  m.externalCounter('fetch_session_evictions_total', 'Fetch sessions evicted to make room for a new one (Kafka IncrementalFetchSessionEvictionsPerSec).', () => cache.evictions);
  m.externalCounter('fetch_sessions_created_total', 'Fetch sessions created.', () => cache.created);
  m.externalCounter('fetch_sessions_incremental_fetches_total', 'Fetch requests served incrementally (only changed partitions answered).', () => cache.incrementalFetches);
  m.addSource(() => {
    sessions.set(cache.size);
    partitions.set(cache.totalPartitions);
  });
}
