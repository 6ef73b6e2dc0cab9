/**
 * The gateway process: storage engine + dispatch table + listeners.
 * `Gateway.start(config)` brings it up; `stop()` drains in-flight requests.
 */
import type { Server, Socket } from 'node:net';
import { hostname } from 'node:os';
import type { GatewayConfig } from './config/schema.js';
import type { Logger } from './logger.js';
import { silentLogger } from './logger.js';
import { Connection } from './network/connection.js';
import { ConnectionLimits, type AdmissionTicket } from './network/limits.js';
import { noteRefusal } from './network/counters.js';
import { ByteRateQuota } from './network/quotas.js';
import { isLoopbackHost, type ListenerSpec } from './network/listeners.js';
import { checkListeners } from './config/check.js';
import { Dispatcher } from './dispatch/dispatcher.js';
import { buildDispatchTable } from './handlers/index.js';
import type { Endpoint, GatewayContext } from './gateway-context.js';
import type { StorageEngine } from './storage/engine.js';
import { createStorageEngine, engineWiring } from './storage/factory.js';
import type { Coordination, EngineWiring } from './storage/wiring.js';
import { anonymousSession, saslSession, type Session } from './session/session.js';
import { SaslAuthenticator } from './security/sasl/authenticator.js';
import { closeRevokedSessions } from './security/sasl/session-auth.js';
import { buildSecurity, type BuiltSecurity } from './security/index.js';
import { TlsManager, createListenerServer, isTlsProtocol, peerPrincipal, tlsInfo } from './security/tls/index.js';
import { parseNamespace } from './topics/names.js';
import { LocalGroupCoordinator, coordinatorConfigFrom } from './coordinator/coordinator.js';
import { ShareGroups, shareGroupsConfigFrom } from './share/groups.js';
import { registerShareGroupMetrics } from './share/metrics.js';
import { TransactionCoordinator } from './coordinator/txn/coordinator.js';
import { OffsetsLog } from './coordinator/offsets-log.js';
import { GatewayMetrics } from './metrics/metrics.js';
import { registerAuditMetrics, registerBoundMetrics, registerFetchSessionMetrics, registerGroupMetrics, registerOffsetsLogMetrics } from './metrics/sources.js';
import { parseOpsListener, readOpsToken } from './ops/listener.js';
import { OpsServer } from './ops/server.js';
import { FetchSessionCache } from './handlers/fetch-session.js';
import { Readiness } from './ops/health.js';
import { SchemaRegistry, schemaRegistryTlsSpecs } from './schema-registry/index.js';

export interface StartOptions {
  logger?: Logger;
  /** Use this engine instead of the configured one (tests). */
  storage?: StorageEngine;
}

interface BoundListener {
  spec: ListenerSpec;
  server: Server;
  port: number;
}

export class Gateway {
  private readonly connections = new Set<Connection>();
  private readonly limits: ConnectionLimits;
  private stopping: Promise<void> | null = null;
  /** Which node coordinates which group (the engine's: an election among nodes on a shared engine). */
  coordination: Coordination | null = null;
  /** The operations listener (metrics, health), when opsListener is set. */
  ops: OpsServer | null = null;
  /** The schema registry (kopSchemaRegistryEnable), src/schema-registry/. */
  schemaRegistry: SchemaRegistry | null = null;
  /** Set when stop() begins: readiness fails from then on (load balancers stop sending clients). */
  draining = false;

  private constructor(
    readonly config: GatewayConfig,
    readonly context: GatewayContext,
    private readonly listeners: BoundListener[],
    private readonly log: Logger,
    private readonly security: BuiltSecurity,
    private readonly tls: TlsManager | null,
  ) {
    this.limits = new ConnectionLimits(config);
  }

  static async start(config: GatewayConfig, options: StartOptions = {}): Promise<Gateway> {
    const log = options.logger ?? silentLogger();
    // the same rules `kop-gateway config check` applies (src/config/check.ts)
    const { specs, advertised } = checkListeners(config);
    const defaults = parseNamespace(`${config.kafkaTenant}/${config.kafkaNamespace}`);
    const opsSpec = parseOpsListener(config.opsListener);
    const opsToken = opsSpec ? readOpsToken(config.opsListenerToken) : '';
    const metrics = opsSpec && config.metricsEnabled ? new GatewayMetrics({ topicLabel: config.metricsTopicLabel, lagMaxPartitions: config.metricsLagMaxPartitions, engine: options.storage?.kind ?? config.storageEngine }) : undefined;
    // SSL/SASL_SSL listeners (and an https:// ops listener): certificates (or development ones), checked before anything starts.
    const tlsSpecs = [...(opsSpec?.tls ? [...specs, { name: 'OPS', protocol: 'SSL' as const, host: opsSpec.host, port: opsSpec.port }] : specs), ...schemaRegistryTlsSpecs(config)];
    const tls = TlsManager.create(config, tlsSpecs, advertised, log);
    if (opsSpec && !opsToken && config.metricsEnabled && !isLoopbackHost(opsSpec.host)) {
      log.warn({ opsListener: config.opsListener }, 'SECURITY WARNING: /metrics is reachable from other machines without a token (opsListenerToken): topic, group and tenant names are visible to anyone who can connect');
    }

    const built = await buildSecurity(config, defaults, specs, log);
    // Every authentication and authorization decision passes the audit log: the metrics count them there.
    const security: BuiltSecurity = metrics ? { ...built, audit: metrics.observeAudit(built.audit) } : built;
    if (metrics) {
      registerAuditMetrics(metrics, built.audit);
      registerBoundMetrics(metrics);
    }
    const storage = options.storage ?? createStorageEngine(config, log, metrics);
    try {
      await storage.start();
    } catch (err) {
      await security.close();
      throw err;
    }
    const wiring = engineWiring(storage, config);
    const clusterId = await wiring.clusterId();
    const table = buildDispatchTable({ shareGroups: config.shareGroupsEnabled });

    const bound: BoundListener[] = [];
    // one node coordinates every group, or nodes share them (docs/consumer-groups.md): the engine's wiring decides
    const coordination = wiring.coordination({
      numPartitions: config.offsetsTopicNumPartitions,
      nodeId: config.kafkaNodeId,
      endpoint: (listenerName) => context.advertisedEndpoint(listenerName),
      listenerNames: () => advertised.map((a) => a.name),
      logger: log.child({ component: 'coordinator-election' }),
    });
    const coordinator = new LocalGroupCoordinator(coordination.locator, storage.state, coordinatorConfigFrom(config), log.child({ component: 'group-coordinator' }));
    // Homes inferred for groups stored before homes existed (src/coordinator/home.ts) are audited.
    coordinator.onHomeInferred = (key, home) =>
      security.audit?.homeAssigned(null, { principal: null, operation: null, resource: `group ${key.tenant}/${home}/${key.groupId}`, namespace: `${key.tenant}/${home}`, how: 'inferred' });
    // transactional ids live on the same partitions as groups (docs/transactions.md)
    const transactions = new TransactionCoordinator(
      coordination.locator,
      storage.state,
      storage,
      {
        transactionMaxTimeoutMs: config.transactionMaxTimeoutMs,
        abortTimedOutIntervalMs: config.transactionAbortTimedOutTransactionCleanupIntervalMs,
        transactionalIdExpirationMs: config.transactionalIdExpirationMs,
      },
      log.child({ component: 'transaction-coordinator' }),
    );
    transactions.offsets = coordinator;
    // the readable __consumer_offsets of each namespace (coordinator/offsets-log.ts)
    const offsetsLog = config.offsetsTopicReadable ? new OffsetsLog(storage, log.child({ component: 'offsets-log' }), { numPartitions: config.offsetsLogNumPartitions }) : undefined;
    coordinator.offsetsLog = offsetsLog ?? null;
    try {
      await coordinator.start();
      if (wiring.offsetCommitted) coordinator.onOffsetCommitted = wiring.offsetCommitted;
      // KIP-848 classic members and online upgrades resolve their subscriptions' topics here.
      coordinator.topicMetadataSource = async (topic) => {
        const info = await storage.describeTopic(topic);
        return info ? { topicId: info.topicId, partitions: info.partitions } : null;
      };
      await transactions.start();
      await coordination.start({
        gained: async (p) => {
          await coordinator.loadPartition(p);
          await transactions.loadPartition(p);
        },
        lost: (p) => {
          transactions.unloadPartition(p);
          coordinator.unloadPartition(p);
        },
      });
    } catch (err) {
      await coordination.close();
      await storage.close();
      await security.close();
      throw err;
    }
    const shareGroups = config.shareGroupsEnabled ? new ShareGroups(storage.state, shareGroupsConfigFrom(config), log.child({ component: 'share-groups' }), undefined, wiring.shareRecords) : undefined;
    if (shareGroups && wiring.offsetCommitted) shareGroups.onStartMoved = wiring.offsetCommitted;
    try {
      await shareGroups?.start();
    } catch (err) {
      await transactions.shutdown();
      await coordinator.shutdown();
      await coordination.close();
      await storage.close();
      await security.close();
      throw err;
    }
    const context: GatewayContext = {
      config,
      storage,
      table,
      log,
      clusterId,
      nodeId: config.kafkaNodeId,
      security,
      quotas: {
        produce: new ByteRateQuota({ bytesPerSecond: config.quotaProducerByteRate }),
        fetch: new ByteRateQuota({ bytesPerSecond: config.quotaConsumerByteRate }),
        producerIds: new ByteRateQuota({ bytesPerSecond: config.quotaProducerIdRate }),
      },
      ...(metrics ? { metrics } : {}),
      advertisedEndpoint(listenerName: string): Endpoint {
        const listener = bound.find((b) => b.spec.name === listenerName);
        const explicit = config.kafkaAdvertisedListeners ? advertised.find((a) => a.name === listenerName) : undefined;
        const host = explicit?.host || listener?.spec.host || '';
        const port = explicit && explicit.port !== 0 ? explicit.port : (listener?.port ?? 0);
        return { host: isWildcard(host) ? hostname() : host, port };
      },
      coordinator,
      fetchSessions: new FetchSessionCache({
        maxSessions: config.maxIncrementalFetchSessionCacheSlots,
        maxPerConnection: config.fetchSessionsPerConnection,
        maxPartitions: config.fetchSessionMaxPartitions,
      }),
      ...(shareGroups ? { shareGroups } : {}),
      transactions,
      ...(offsetsLog ? { offsetsLog } : {}),
    };
    const gateway = new Gateway(config, context, bound, log, security, tls);
    // tokenRevocationFile changed: open sessions it revokes are closed now, not at their expiry.
    security.revocation?.onChange((list) => closeRevokedSessions(gateway.connections, list, security.audit, log));
    gateway.coordination = coordination; // closed by stop(), also when a listener fails to bind below
    const dispatcher = new Dispatcher(context, (conn) => {
      const spec = specs.find((l) => l.name === conn.listenerName)!;
      if (!spec.protocol.startsWith('SASL')) {
        const cn = spec.protocol === 'SSL' ? peerPrincipal(conn.socket) : null; // mTLS: the client certificate's CN
        return cn ? anonymousSession(cn, defaults, 'SSL') : anonymousSession(null, defaults);
      }
      conn.preAuthenticationLimits(config.saslMaxReceiveSize);
      return saslSession(new SaslAuthenticator(security.sasl!), defaults);
    });
    try {
      for (const spec of specs) bound.push(await gateway.listen(spec, dispatcher, tls));
    } catch (err) {
      await gateway.stop(0);
      throw err;
    }
    await coordination.listening(); // publish this node's endpoints, now with the bound ports
    if (metrics) {
      wiring.registerMetrics(metrics);
      registerGroupMetrics(metrics, coordinator, storage);
      if (context.fetchSessions) registerFetchSessionMetrics(metrics, context.fetchSessions);
      if (offsetsLog) registerOffsetsLogMetrics(metrics, offsetsLog);
      if (shareGroups) registerShareGroupMetrics(metrics, shareGroups);
    }
    if (opsSpec) {
      gateway.ops = new OpsServer({ spec: opsSpec, token: opsToken, metrics: metrics ?? null, readiness: gateway.readiness(wiring), tls, log: log.child({ component: 'ops' }) });
      try {
        await gateway.ops.listen();
      } catch (err) {
        await gateway.stop(0);
        throw err;
      }
    }
    try {
      gateway.schemaRegistry = await SchemaRegistry.start({ config, storage, wiring, security, tls, defaults, log });
    } catch (err) {
      await gateway.stop(0);
      throw err;
    }
    if (coordination.peers) context.peers = coordination.peers;
    log.info(
      { clusterId, nodeId: config.kafkaNodeId, listeners: bound.map((b) => `${b.spec.name}://${b.spec.host}:${b.port}`), storage: storage.kind, ...(gateway.ops ? { ops: gateway.ops.url, metrics: metrics !== undefined } : {}), ...(gateway.schemaRegistry ? { schemaRegistry: gateway.schemaRegistry.url } : {}) },
      'kop-gateway started',
    );
    return gateway;
  }

  /** What /health/ready checks (src/ops/health.ts). */
  private readiness(wiring: EngineWiring): Readiness {
    const r = new Readiness();
    r.add('listeners', () => {
      if (this.draining) return { ok: false, detail: 'draining: the gateway is shutting down' };
      const listening = this.listeners.filter((l) => l.server.listening).map((l) => `${l.spec.name}://${l.spec.host}:${l.port}`);
      return listening.length === this.listeners.length && listening.length > 0 ? { ok: true, detail: listening.join(',') } : { ok: false, detail: `bound: ${listening.join(',') || 'none'}` };
    });
    for (const [name, check] of wiring.readiness()) r.add(name, check);
    return r;
  }

  private listen(spec: ListenerSpec, dispatcher: Dispatcher, tls: TlsManager | null): Promise<BoundListener> {
    const server = createListenerServer<AdmissionTicket>(spec, tls, {
      admit: (raw) => this.admit(raw, spec),
      onSocket: (socket, ticket) => this.accept(socket, spec, dispatcher, ticket),
      handshakeTimeoutMs: this.config.tlsHandshakeTimeoutMs,
    });
    const metrics = this.context.metrics;
    if (metrics && isTlsProtocol(spec.protocol)) server.on('tlsClientError', () => metrics.connectionRefused(spec.name, 'tls'));
    return new Promise((resolve, reject) => {
      server.once('error', (err) => reject(new Error(`cannot listen on ${spec.name}://${spec.host}:${spec.port}: ${err.message}`)));
      server.listen({ host: spec.host || undefined, port: spec.port }, () => {
        const addr = server.address();
        const port = typeof addr === 'object' && addr ? addr.port : spec.port;
        resolve({ spec, server, port });
      });
    });
  }

  /**
   * At accept, before anything is read or a TLS handshake starts: connection caps and the caps
   * on connections not yet authenticated (PLAINTEXT connections never are). Null refuses.
   */
  private admit(raw: Socket, spec: ListenerSpec): AdmissionTicket | null {
    const address = raw.remoteAddress ?? '?';
    if (this.stopping) {
      noteRefusal(this.log, 'stopping', { remote: address, listener: spec.name }, 'connection refused: the gateway is stopping');
      this.context.metrics?.connectionRefused(spec.name, 'draining');
      return null;
    }
    const admission = this.limits.admitConnection(address, spec.protocol === 'PLAINTEXT');
    if (!admission.ok) {
      noteRefusal(this.log, admission.cause, { remote: address, listener: spec.name, detail: admission.reason }, 'connection refused');
      this.context.metrics?.connectionRefused(spec.name, admission.cause);
      return null;
    }
    const ticket = admission.ticket;
    raw.once('close', () => ticket.release());
    return ticket;
  }

  private accept(socket: Socket, spec: ListenerSpec, dispatcher: Dispatcher, ticket: AdmissionTicket): void {
    if (this.stopping || socket.destroyed) {
      socket.destroy();
      ticket.release();
      return;
    }
    socket.once('close', () => ticket.release());
    // SSL: the handshake and the certificate checks were the authentication.
    if (spec.protocol === 'SSL') ticket.authenticated();
    const metrics = this.context.metrics;
    if (metrics) {
      metrics.connectionOpened(spec.name);
      socket.once('close', () => metrics.connectionClosed(spec.name));
    }
    const conn = new Connection(
      socket,
      dispatcher,
      {
        maxFrameBytes: this.config.socketRequestMaxBytes,
        maxQueuedRequests: this.config.maxQueuedRequests,
        maxQueuedBytes: this.config.maxQueuedRequestBytes,
        requestReceiveTimeoutMs: this.config.requestReceiveTimeoutMs,
        idleTimeoutMs: this.config.connectionMaxIdleMs,
        onAuthenticated: () => ticket.authenticated(),
      },
      this.log,
      spec.name,
    );
    this.connections.add(conn);
    const tlsDetails = tlsInfo(socket);
    this.context.security.audit?.connectionOpened({
      connId: conn.id,
      remote: `${conn.remoteAddress}:${conn.remotePort}`,
      listener: spec.name,
      pendingAuthentication: spec.protocol.startsWith('SASL'),
      ...(tlsDetails ? { tls: tlsDetails } : {}),
    });
    socket.once('close', () => this.connections.delete(conn));
    this.log.debug({ conn: conn.id, remote: `${conn.remoteAddress}:${conn.remotePort}`, listener: spec.name }, 'connection opened');
  }

  /** The bound port of a listener (the first one when no name is given). */
  port(listenerName?: string): number {
    const l = listenerName ? this.listeners.find((b) => b.spec.name === listenerName) : this.listeners[0];
    if (!l) throw new Error(`no listener ${listenerName ?? ''}`);
    return l.port;
  }

  get storage(): StorageEngine {
    return this.context.storage;
  }

  /**
   * Stop accepting, let connections finish the requests they already sent
   * (up to timeoutMs), then close the storage engine.
   */
  stop(timeoutMs = this.config.gracefulShutdownTimeoutMs): Promise<void> {
    this.draining = true;
    this.stopping ??= (async () => {
      const closing = this.listeners.map((l) => new Promise<void>((resolve) => l.server.close(() => resolve())));
      // Parked JoinGroup/SyncGroup requests are answered (NOT_COORDINATOR) so connections can drain.
      await this.context.transactions?.shutdown();
      await this.context.coordinator?.shutdown();
      await this.context.offsetsLog?.close(); // the records of the last commits, before storage closes
      await this.coordination?.close(); // hand the offsets partitions to the other nodes at once
      await Promise.all([...this.connections].map((c) => c.drain(timeoutMs)));
      await this.context.shareGroups?.shutdown(); // after the last ShareFetch/ShareAcknowledge: their writes complete
      await Promise.all(closing);
      await this.schemaRegistry?.close();
      await this.context.storage.close();
      this.tls?.close();
      await this.security.close();
      await this.ops?.close(); // last: probes see "draining" until the end
      this.log.info('kop-gateway stopped');
    })();
    return this.stopping;
  }
}

function isWildcard(host: string): boolean {
  return host === '' || host === '0.0.0.0' || host === '::';
}
