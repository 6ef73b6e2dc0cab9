/**
 * Connections shared by producers, consumers and lookups, keyed by (broker
 * URL, original identity), as Java's ConnectionPool with one connection per
 * broker. A connection that closes leaves the pool; the next get() opens a
 * new one. The service URL may list several hosts: they are tried in turn
 * (round-robin, starting after the last one that failed).
 *
 * When no host of the service URL can be reached, the pool tries again
 * every REACHABLE_PROBE_MS until one answers, then fires `reachable`: the
 * producers and consumers waiting in reconnect back-off try at once. Without
 * it, a broker restart of 15 s left them waiting up to one more back-off
 * delay (grown to ~6-13 s by then) after the broker was back.
 */
import { WakeSignal } from './backoff.js';
import { Connection, type ConnectionOptions } from './connection.js';
import { PulsarClientError } from './errors.js';
import { parseServiceUrl, type HostPort, type ServiceUrl } from './url.js';
import type { OriginalIdentity, PulsarClientObserver } from './types.js';

export type PoolOptions = Omit<ConnectionOptions, 'host' | 'tls' | 'identity' | 'proxyToBrokerUrl'> & {
  /** Used for connections asked for without an identity. */
  defaultIdentity?: OriginalIdentity;
  observer?: PulsarClientObserver;
};

function identityKey(id: OriginalIdentity | undefined): string {
  return id ? JSON.stringify([id.principal, id.authMethod ?? null, id.authData ?? null]) : '';
}

const REACHABLE_PROBE_MS = 500;

export class ConnectionPool {
  private readonly conns = new Map<string, Promise<Connection>>();
  private readonly live = new Set<Connection>();
  private nextHost = 0;
  private closed = false;
  /** Fired when the service URL answers again after a failed connection to it. */
  readonly reachable = new WakeSignal();
  /** Set while the service URL is unreachable: tries it again until it answers. */
  private probe: NodeJS.Timeout | null = null;

  constructor(
    readonly service: ServiceUrl,
    private readonly o: PoolOptions,
  ) {}

  get openConnections(): number {
    return this.live.size;
  }

  /** A connection to one of the service URL's hosts (for lookups and partitioned metadata). */
  forService(identity?: OriginalIdentity): Promise<Connection> {
    const p = this.get(`service|${this.service.url}`, identity, (id) => this.openAny(this.service.hosts, this.service.tls, id, undefined, true));
    p.then(
      () => this.serviceUp(),
      (e: unknown) => this.serviceDown(e),
    );
    return p;
  }

  private serviceDown(e: unknown): void {
    if (this.closed || this.probe !== null || !(e instanceof PulsarClientError) || !e.retriable) return;
    this.probe = setInterval(() => void this.forService().catch(() => undefined), REACHABLE_PROBE_MS);
    this.probe.unref();
  }

  private serviceUp(): void {
    if (this.probe === null) return;
    clearInterval(this.probe);
    this.probe = null;
    this.o.logger.info({ service: this.service.url }, 'pulsar: the service URL answers again; reconnecting producers and consumers now');
    this.reachable.fire();
  }

  /**
   * A connection to the broker at `brokerUrl` (from a lookup); through the
   * service URL with proxy_to_broker_url when the lookup said proxyThroughServiceUrl.
   */
  forBroker(brokerUrl: string, identity?: OriginalIdentity, proxyThroughServiceUrl = false): Promise<Connection> {
    if (proxyThroughServiceUrl) {
      return this.get(`proxy|${this.service.url}|${brokerUrl}`, identity, (id) => this.openAny(this.service.hosts, this.service.tls, id, brokerUrl));
    }
    const u = parseServiceUrl(brokerUrl);
    return this.get(`broker|${u.url}`, identity, (id) => this.openAny(u.hosts, u.tls, id));
  }

  private get(target: string, requested: OriginalIdentity | undefined, openWith: (identity: OriginalIdentity | undefined) => Promise<Connection>): Promise<Connection> {
    const identity = requested ?? this.o.defaultIdentity;
    const open = (): Promise<Connection> => openWith(identity);
    if (this.closed) return Promise.reject(new PulsarClientError('Closed', 'the Pulsar client is closed', false));
    const key = `${target}|${identityKey(identity)}`;
    let p = this.conns.get(key);
    if (p) return p;
    p = open().then(
      (c) => {
        if (this.closed) {
          c.close();
          throw new PulsarClientError('Closed', 'the Pulsar client is closed', false);
        }
        this.live.add(c);
        c.onClose(() => {
          this.live.delete(c);
          if (this.conns.get(key) === p) this.conns.delete(key);
        });
        return c;
      },
      (e: unknown) => {
        if (this.conns.get(key) === p) this.conns.delete(key);
        throw e;
      },
    );
    this.conns.set(key, p);
    return p;
  }

  /** `service`: a failure while the service URL is already known to be away is logged at debug (the probe retries twice a second). */
  private async openAny(hosts: HostPort[], tls: boolean, identity: OriginalIdentity | undefined, proxyToBrokerUrl?: string, service = false): Promise<Connection> {
    let last: unknown;
    const start = this.nextHost;
    for (let i = 0; i < hosts.length; i++) {
      const idx = (start + i) % hosts.length;
      try {
        const c = await Connection.open({
          ...this.o,
          host: hosts[idx]!,
          tls,
          ...(identity ? { identity } : {}),
          ...(proxyToBrokerUrl ? { proxyToBrokerUrl } : {}),
        });
        this.o.observer?.connectionOpened();
        return c;
      } catch (e) {
        this.o.observer?.connectionFailed();
        last = e;
        this.nextHost = (idx + 1) % hosts.length;
        // an authentication failure will not get better on another host of the same cluster
        if (e instanceof PulsarClientError && !e.retriable) throw e;
        const log = service && this.probe !== null ? this.o.logger.debug : this.o.logger.warn;
        log.call(this.o.logger, { err: e, host: hosts[idx] }, 'pulsar: connection failed, trying the next host');
      }
    }
    throw last;
  }

  /** Closes every live connection; the pool stays usable. */
  closeConnections(reason: string): void {
    for (const c of [...this.live]) c.close(new PulsarClientError('ConnectionClosed', reason, true));
  }

  close(): void {
    this.closed = true;
    if (this.probe !== null) clearInterval(this.probe);
    this.probe = null;
    for (const c of this.live) c.close(new PulsarClientError('ConnectionClosed', 'the Pulsar client is closed', true));
    this.live.clear();
    this.conns.clear();
  }
}
