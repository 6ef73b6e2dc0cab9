/**
 * The gateway's Prometheus metrics (prom-client): what every layer reports, in
 * one registry, with bounded labels (tenant, namespace, topic, API, listener,
 * group). docs/metrics.md lists every metric; keep it in step.
 *
 * Hot path: callers hold pre-resolved label children (per API and version, per
 * topic, per listener) cached here on first use, so a request costs a few map
 * lookups and counter increments, never work per record. With metrics off the
 * gateway has no GatewayMetrics at all (context.metrics is undefined) and the
 * callers' `metrics?.` calls cost nothing.
 *
 * Values that already exist elsewhere (consumer groups, lag, segment counts,
 * audit queue, Pulsar connections) are read at scrape time by collectors
 * registered with `addSource`, never maintained on the data path.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { TopicName } from '../topics/names.js';
import { APIS } from '../protocol/generated/apis.js';
import { errorName } from '../protocol/errors.js';
import type { AuditCounters, AuditLog } from '../security/types.js';
import type { PulsarClientObserver } from '../pulsar/client/types.js';

export const METRIC_PREFIX = 'kop_gateway_';

/** Latency buckets (seconds): 0.1 ms .. 30 s. */
const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** Connection refusals, by the rule that refused (a config key where one exists). */
export type RefusalReason =
  | 'maxConnections'
  | 'maxConnectionsPerIp'
  | 'maxConnectionCreationRate'
  | 'tls'
  | 'authentication'
  | 'authenticationTimeout'
  | 'draining'
  | (string & {});

export interface MetricsOptions {
  /** false: bytes/records metrics are per tenant/namespace only (the topic label is dropped). */
  topicLabel: boolean;
  /** Most consumer-lag series one scrape reports (the rest are counted in kop_gateway_consumer_lag_truncated). */
  lagMaxPartitions: number;
  /** Register prom-client's process and Node.js metrics (heap, GC, event-loop lag, CPU, fds). */
  processMetrics?: boolean;
  /** The storage engine: its own metrics (fsyncs, or the Pulsar client's) are registered only for it. */
  engine: 'embedded' | 'pulsar';
}

interface TopicTraffic {
  bytesIn: Counter.Internal;
  recordsIn: Counter.Internal;
  bytesOut: Counter.Internal;
  recordsOut: Counter.Internal;
}

/** Pre-resolved children of one API version. */
export interface RequestMetrics {
  readonly apiKey: number;
  readonly requests: Counter.Internal;
  readonly queue: Histogram.Internal<string>;
  readonly handler: Histogram.Internal<string>;
  readonly total: Histogram.Internal<string>;
}

interface ConnectionChildren {
  open: Gauge.Internal<string>;
  opened: Counter.Internal;
  closed: Counter.Internal;
}

export type MetricSource = () => void | Promise<void>;

export class GatewayMetrics {
  readonly registry = new Registry();
  private readonly sources: MetricSource[] = [];

  // ---- data
  private readonly bytesIn: Counter;
  private readonly recordsIn: Counter;
  private readonly bytesOut: Counter;
  private readonly recordsOut: Counter;
  private readonly topics = new Map<string, TopicTraffic>();
  // ---- requests
  private readonly requestsTotal: Counter;
  private readonly requestErrors: Counter;
  private readonly queueSeconds: Histogram;
  private readonly handlerSeconds: Histogram;
  private readonly totalSeconds: Histogram;
  private readonly byApiVersion: Array<Array<RequestMetrics | undefined> | undefined> = [];
  private readonly errorChildren = new Map<number, Counter.Internal>();
  private readonly throttleSeconds: Counter;
  private readonly throttled: Counter;
  // ---- connections
  private readonly connOpen: Gauge;
  private readonly connOpened: Counter;
  private readonly connClosed: Counter;
  private readonly connRefused: Counter;
  private readonly listeners = new Map<string, ConnectionChildren>();
  // ---- security
  private readonly authentications: Counter;
  private readonly decisions: Counter;
  private readonly decisionChildren = new Map<string, Counter.Internal>();
  // ---- storage
  private readonly appendSeconds: Histogram;
  private appendChild: Histogram.Internal<string> | null = null;
  private readonly fsyncSeconds: Histogram | null = null;
  // ---- pulsar
  private readonly pulsarLookups: Counter | null = null;
  private readonly pulsarReconnects: Counter | null = null;
  private readonly pulsarSendSeconds: Histogram | null = null;
  private readonly pulsarConnectionsOpened: Counter | null = null;
  private readonly pulsarConnectionFailures: Counter | null = null;
  private readonly pulsarAdminCalls: Counter | null = null;
  private readonly pulsarAdminSeconds: Histogram | null = null;
  // ---- audit

  constructor(readonly options: MetricsOptions) {
    const registers = [this.registry];
    const p = METRIC_PREFIX;
    const topicLabels = options.topicLabel ? ['tenant', 'namespace', 'topic'] : ['tenant', 'namespace'];
    const counter = (name: string, help: string, labelNames: string[] = []): Counter => new Counter({ name: p + name, help, labelNames, registers });
    const histogram = (name: string, help: string, labelNames: string[] = [], buckets = LATENCY_BUCKETS): Histogram =>
      new Histogram({ name: p + name, help, labelNames, buckets, registers });

    this.bytesIn = counter('bytes_in_total', 'Record batch bytes produced and acknowledged by storage.', topicLabels);
    this.recordsIn = counter('records_in_total', 'Records produced and acknowledged by storage.', topicLabels);
    this.bytesOut = counter('bytes_out_total', 'Record batch bytes returned to consumers by Fetch.', topicLabels);
    this.recordsOut = counter('records_out_total', 'Records returned to consumers by Fetch.', topicLabels);

    this.requestsTotal = counter('requests_total', 'Kafka requests handled, by API and version.', ['api', 'version']);
    this.requestErrors = counter('request_errors_total', 'Error codes in responses (whole-request and per-partition/resource), by API and Kafka error name.', ['api', 'error']);
    this.queueSeconds = histogram('request_queue_seconds', 'Time a request waited on its connection between being read and its handler starting.', ['api']);
    this.handlerSeconds = histogram('request_handler_seconds', 'Time in the API handler (authorization, storage, coordinator).', ['api']);
    this.totalSeconds = histogram('request_total_seconds', 'Time from a request being read to its response being ready.', ['api']);
    this.throttleSeconds = counter('quota_throttle_seconds_total', 'Throttle time given to clients over their byte-rate quota, by API.', ['api']);
    this.throttled = counter('quota_throttled_responses_total', 'Responses that throttled their client (quota exceeded), by API.', ['api']);

    this.connOpen = new Gauge({ name: p + 'connections_open', help: 'Client connections open, by listener.', labelNames: ['listener'], registers });
    this.connOpened = counter('connections_opened_total', 'Client connections accepted, by listener.', ['listener']);
    this.connClosed = counter('connections_closed_total', 'Client connections closed, by listener.', ['listener']);
    this.connRefused = counter('connections_refused_total', 'Client connections refused or cut before serving, by listener and reason (the limit or check that refused).', ['listener', 'reason']);

    this.authentications = counter('authentications_total', 'SASL authentications (and re-authentications), by mechanism and result.', ['mechanism', 'result']);
    this.decisions = counter('authorization_decisions_total', 'Authorization decisions, by Kafka API (operation), Pulsar action and result. One per distinct resource per request.', ['operation', 'action', 'result']);

    this.appendSeconds = histogram('storage_append_seconds', 'Storage appends (one per partition of a Produce) and their latency until durable for the requested acks.', ['engine']);
    if (options.engine === 'embedded') this.fsyncSeconds = histogram('storage_fsync_seconds', 'Embedded engine: group-commit flush rounds (fdatasync of the dirty segment files) and their latency.');

    if (options.engine === 'pulsar') {
      this.pulsarLookups = counter('pulsar_lookups_total', 'Pulsar topic lookups, by result.', ['result']);
      this.pulsarReconnects = counter('pulsar_reconnects_total', 'Pulsar producers/consumers reconnecting after losing their broker connection.', ['kind']);
      this.pulsarSendSeconds = histogram('pulsar_send_seconds', 'Pulsar send latency (send to receipt).');
      this.pulsarConnectionsOpened = counter('pulsar_connections_opened_total', 'Connections opened to Pulsar brokers.');
      this.pulsarConnectionFailures = counter('pulsar_connection_failures_total', 'Failed attempts to connect to a Pulsar broker.');
      this.pulsarAdminCalls = counter('pulsar_admin_requests_total', 'Pulsar admin REST API requests, by HTTP method and result (ok: 2xx, rejected: another HTTP status, failed: no answer).', ['method', 'result']);
      this.pulsarAdminSeconds = histogram('pulsar_admin_request_seconds', 'Pulsar admin REST API request latency.');
    }

    new Gauge({ name: p + 'up', help: 'Always 1 while the gateway serves metrics.', registers }).set(1);
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  // ------------------------------------------------------------------ data

  private traffic(name: TopicName): TopicTraffic {
    const key = this.options.topicLabel ? name.full : `${name.tenant}/${name.namespace}`;
    let t = this.topics.get(key);
    if (!t) {
      const labels = this.options.topicLabel ? [name.tenant, name.namespace, name.local] : [name.tenant, name.namespace];
      t = { bytesIn: this.bytesIn.labels(...labels), recordsIn: this.recordsIn.labels(...labels), bytesOut: this.bytesOut.labels(...labels), recordsOut: this.recordsOut.labels(...labels) };
      this.topics.set(key, t);
    }
    return t;
  }

  /** Records and bytes of one partition's batch acknowledged by storage. */
  produced(name: TopicName, records: number, bytes: number): void {
    const t = this.traffic(name);
    t.bytesIn.inc(bytes);
    t.recordsIn.inc(records);
  }

  /** Records and bytes of one partition returned by Fetch. */
  fetched(name: TopicName, records: number, bytes: number): void {
    const t = this.traffic(name);
    t.bytesOut.inc(bytes);
    t.recordsOut.inc(records);
  }

  // ------------------------------------------------------------------ requests

  /** The children of one API version (created on first use, then reused). */
  request(apiKey: number, version: number): RequestMetrics {
    const byVersion = (this.byApiVersion[apiKey] ??= []);
    let m = byVersion[version];
    if (!m) {
      const api = apiName(apiKey);
      m = {
        apiKey,
        requests: this.requestsTotal.labels(api, String(version)),
        queue: this.queueSeconds.labels(api),
        handler: this.handlerSeconds.labels(api),
        total: this.totalSeconds.labels(api),
      };
      byVersion[version] = m;
    }
    return m;
  }

  /** One error code in a response of the API. */
  requestError(apiKey: number, code: number): void {
    const key = apiKey * 65536 + (code & 0xffff);
    let c = this.errorChildren.get(key);
    if (!c) {
      c = this.requestErrors.labels(apiName(apiKey), errorName(code));
      this.errorChildren.set(key, c);
    }
    c.inc();
  }

  /** Count every non-zero errorCode in a response body (Kafka's errorCounts): a walk of the response's fields, not of its records. */
  responseErrors(apiKey: number, body: unknown): void {
    walkErrors(body, apiKey, this, 0);
  }

  quotaThrottle(apiKey: number, throttleMs: number): void {
    const api = apiName(apiKey);
    this.throttleSeconds.labels(api).inc(throttleMs / 1000);
    this.throttled.labels(api).inc();
  }

  // ------------------------------------------------------------------ connections

  private listener(name: string): ConnectionChildren {
    let l = this.listeners.get(name);
    if (!l) {
      l = { open: this.connOpen.labels(name), opened: this.connOpened.labels(name), closed: this.connClosed.labels(name) };
      this.listeners.set(name, l);
    }
    return l;
  }

  connectionOpened(listener: string): void {
    const l = this.listener(listener);
    l.open.inc();
    l.opened.inc();
  }

  connectionClosed(listener: string): void {
    const l = this.listener(listener);
    l.open.dec();
    l.closed.inc();
  }

  /**
   * A connection refused (or cut before it was served) and why. The hook for
   * every connection bound (limits, TLS handshake, unauthenticated caps...):
   * pass the config key of the bound as reason where there is one.
   */
  connectionRefused(listener: string, reason: RefusalReason): void {
    this.connRefused.labels(listener, reason).inc();
  }

  // ------------------------------------------------------------------ security

  authentication(mechanism: string, success: boolean): void {
    this.authentications.labels(boundedMechanism(mechanism), success ? 'success' : 'failure').inc();
  }

  authorization(operation: string, action: string, allowed: boolean): void {
    const key = `${operation}\u0000${action}\u0000${allowed ? 1 : 0}`;
    let c = this.decisionChildren.get(key);
    if (!c) {
      c = this.decisions.labels(operation, action, allowed ? 'allowed' : 'denied');
      this.decisionChildren.set(key, c);
    }
    c.inc();
  }

  /**
   * The audit log as the gateway uses it, counting authentications and
   * decisions on their way (every one passes the audit log). `inner` may be null
   * (audit disabled): then only the counting remains.
   */
  observeAudit(inner: AuditLog | null): AuditLog {
    const m = this;
    return {
      connectionOpened: (c) => inner?.connectionOpened(c),
      connectionClosed: (id, info) => inner?.connectionClosed(id, info),
      authentication(connId, event) {
        m.authentication(event.mechanism, event.success);
        inner?.authentication(connId, event);
      },
      decision(connId, event) {
        m.authorization(event.operation, event.action, event.allowed);
        inner?.decision(connId, event);
      },
      filtered: (connId, event) => inner?.filtered(connId, event),
      homeAssigned: (connId, event) => inner?.homeAssigned(connId, event),
      sessionRevoked: (connId, event) => inner?.sessionRevoked?.(connId, event),
      get counters() {
        return inner?.counters ?? NO_AUDIT_COUNTERS;
      },
      close: () => inner?.close() ?? Promise.resolve(),
    };
  }

  // ------------------------------------------------------------------ storage

  /** One storage append and its latency (seconds). */
  storageAppend(engine: string, seconds: number): void {
    (this.appendChild ??= this.appendSeconds.labels(engine)).observe(seconds);
  }

  /** One group-commit flush round of the embedded engine (seconds). */
  storageFsync(seconds: number): void {
    this.fsyncSeconds?.observe(seconds);
  }

  // ------------------------------------------------------------------ pulsar

  lookup(ok: boolean): void {
    this.pulsarLookups?.labels(ok ? 'ok' : 'failed').inc();
  }

  reconnect(kind: 'producer' | 'consumer'): void {
    this.pulsarReconnects?.labels(kind).inc();
  }

  sendLatency(seconds: number): void {
    this.pulsarSendSeconds?.observe(seconds);
  }

  connectionOpenedToPulsar(): void {
    this.pulsarConnectionsOpened?.inc();
  }

  connectionFailed(): void {
    this.pulsarConnectionFailures?.inc();
  }

  adminCall(method: string, result: 'ok' | 'rejected' | 'failed', seconds: number): void {
    this.pulsarAdminCalls?.labels(method, result).inc();
    this.pulsarAdminSeconds?.observe(seconds);
  }

  // ------------------------------------------------------------------ scrape-time values

  /** A collector run at every scrape (before the exposition), e.g. to set gauges from the coordinator. */
  addSource(source: MetricSource): void {
    this.sources.push(source);
  }

  /** Run the scrape-time collectors; call before rendering the registry (scrapes one at a time). */
  async refresh(): Promise<void> {
    await Promise.all(this.sources.map((s) => s()));
  }

  /** A gauge set by the caller's sources (registered in this registry). */
  gauge(name: string, help: string, labelNames: string[] = []): Gauge {
    return new Gauge({ name: METRIC_PREFIX + name, help, labelNames, registers: [this.registry] });
  }

  /**
   * A counter with one label whose values are read from elsewhere at scrape time
   * (a record of running totals kept by another module, e.g. the audit log's counters by event).
   */
  externalLabeledCounter(name: string, help: string, label: string, read: () => Readonly<Record<string, number>>): void {
    new Counter({
      name: METRIC_PREFIX + name,
      help,
      labelNames: [label],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [k, v] of Object.entries(read())) this.labels(k).inc(v);
      },
    });
  }

  /**
   * A counter whose value is read from elsewhere at scrape time (a running
   * total kept by another module, e.g. the embedded engine's fsync count).
   */
  externalCounter(name: string, help: string, read: () => number): void {
    new Counter({
      name: METRIC_PREFIX + name,
      help,
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  }
}

const NO_AUDIT_COUNTERS: AuditCounters = { written: {}, aggregated: {} };

/** What the Pulsar client reports (its observer interface, declared in src/pulsar/client/types.ts). */
export function pulsarClientObserver(m: GatewayMetrics): PulsarClientObserver {
  return {
    lookup: (ok) => m.lookup(ok),
    reconnect: (kind) => m.reconnect(kind),
    sendLatency: (s) => m.sendLatency(s),
    connectionOpened: () => m.connectionOpenedToPulsar(),
    connectionFailed: () => m.connectionFailed(),
  };
}

function apiName(apiKey: number): string {
  return APIS[apiKey]?.name ?? String(apiKey);
}

const MECHANISMS = new Set(['PLAIN', 'OAUTHBEARER', 'SCRAM-SHA-256', 'SCRAM-SHA-512', 'GSSAPI', 'NONE', 'SSL']);

function boundedMechanism(m: string): string {
  return MECHANISMS.has(m) ? m : 'other';
}

/** Depth-limited walk of a response body for non-zero `errorCode` fields; skips record data. */
function walkErrors(v: unknown, apiKey: number, m: GatewayMetrics, depth: number): void {
  if (depth > 6 || v === null || typeof v !== 'object' || Buffer.isBuffer(v)) return;
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) walkErrors(v[i], apiKey, m, depth + 1);
    return;
  }
  const o = v as Record<string, unknown>;
  for (const k in o) {
    const x = o[k];
    if (typeof x === 'object') walkErrors(x, apiKey, m, depth + 1);
    else if (k === 'errorCode' && typeof x === 'number' && x !== 0) m.requestError(apiKey, x);
  }
}
