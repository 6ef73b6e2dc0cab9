/**
 * createPulsarClient(): the connection pool, lookups with retries, and the
 * factories of producers and consumers (src/pulsar/client/types.ts).
 */
import { randomBytes } from 'node:crypto';
import { sleep, Backoff } from './backoff.js';
import type { Connection } from './connection.js';
import { noopLogger, type ClientContext } from './context.js';
import { ConsumerImpl } from './consumer.js';
import { PulsarClientError, closedError } from './errors.js';
import { IdGenerator } from './ids.js';
import { lookupTopic, partitionedMetadata, type Lookup } from './lookup.js';
import { ConnectionPool } from './pool.js';
import { ProducerImpl } from './producer.js';
import { parseServiceUrl } from './url.js';
import type { Consumer, ConsumerOptions, LookupResult, MessageId, OriginalIdentity, Producer, ProducerOptions, PulsarClient, PulsarClientOptions } from './types.js';

export class PulsarClientImpl implements PulsarClient {
  private readonly pool: ConnectionPool;
  private readonly ctx: ClientContext;
  private readonly live = new Set<{ close(): Promise<void> }>();
  private closed = false;

  constructor(private readonly o: PulsarClientOptions) {
    const logger = o.logger ?? noopLogger;
    const operationTimeoutMs = o.operationTimeoutMs ?? 30_000;
    this.pool = new ConnectionPool(parseServiceUrl(o.serviceUrl), {
      ...(o.auth ? { auth: o.auth } : {}),
      ...(o.tls ? { tlsOptions: o.tls } : {}),
      connectionTimeoutMs: o.connectionTimeoutMs ?? 10_000,
      keepAliveIntervalMs: o.keepAliveIntervalMs ?? 30_000,
      operationTimeoutMs,
      logger,
      ...(o.defaultOriginalIdentity ? { defaultIdentity: o.defaultOriginalIdentity } : {}),
      ...(o.observer ? { observer: o.observer } : {}),
    });
    const ids = new IdGenerator();
    this.ctx = {
      ids,
      logger,
      operationTimeoutMs,
      maxBackoffMs: o.maxBackoffMs ?? 30_000,
      reachable: this.pool.reachable,
      ...(o.observer ? { observer: o.observer } : {}),
      connect: (topic, identity) => this.connectTo(topic, identity),
      track: (x) => {
        this.live.add(x);
        return () => this.live.delete(x);
      },
    };
  }

  get openConnections(): number {
    return this.pool.openConnections;
  }

  async brokerMaxMessageSize(): Promise<number> {
    this.check();
    return (await this.pool.forService()).maxMessageSize;
  }

  /** Resolves when a connection to the service URL is open or could be opened now (readiness). */
  async checkConnection(): Promise<void> {
    this.check();
    await this.pool.forService();
  }

  /** Producers and consumers open now (metrics). */
  get openHandles(): { producers: number; consumers: number } {
    let producers = 0;
    let consumers = 0;
    for (const x of this.live) {
      if (x instanceof ProducerImpl) producers++;
      else if (x instanceof ConsumerImpl) consumers++;
    }
    return { producers, consumers };
  }

  /** A lookup, reported to the observer. */
  private async observedLookup(topic: string, identity?: OriginalIdentity): Promise<Lookup> {
    const observer = this.ctx.observer;
    if (!observer) return lookupTopic(this.pool, this.ctx.ids, topic, identity);
    try {
      const l = await lookupTopic(this.pool, this.ctx.ids, topic, identity);
      observer.lookup(true);
      return l;
    } catch (e) {
      observer.lookup(false);
      throw e;
    }
  }

  private check(): void {
    if (this.closed) throw closedError('Pulsar client');
  }

  /** Retries retriable failures (ServiceNotReady while a topic loads, a lost connection) with back-off until operationTimeoutMs. */
  private async retrying<T>(fn: () => Promise<T>): Promise<T> {
    const deadline = Date.now() + this.ctx.operationTimeoutMs;
    const backoff = new Backoff(100, Math.min(this.ctx.maxBackoffMs, 2_000));
    for (;;) {
      this.check();
      try {
        return await fn();
      } catch (e) {
        if (!(e instanceof PulsarClientError) || !e.retriable || Date.now() >= deadline) throw e;
        await sleep(Math.min(backoff.nextDelay(), Math.max(0, deadline - Date.now())));
      }
    }
  }

  private async connectTo(topic: string, identity?: OriginalIdentity): Promise<Connection> {
    this.check();
    const l: Lookup = await this.observedLookup(topic, identity);
    return this.pool.forBroker(l.brokerUrl, identity, l.proxyThroughServiceUrl);
  }

  getPartitionedTopicMetadata(topic: string, originalIdentity?: OriginalIdentity): Promise<number> {
    return this.retrying(() => partitionedMetadata(this.pool, this.ctx.ids, topic, originalIdentity));
  }

  lookup(topic: string, originalIdentity?: OriginalIdentity): Promise<LookupResult> {
    return this.retrying(() => this.observedLookup(topic, originalIdentity));
  }

  async createProducer(options: ProducerOptions): Promise<Producer> {
    this.check();
    const p = new ProducerImpl(this.ctx, options);
    await p.start();
    return p;
  }

  async subscribe(options: ConsumerOptions): Promise<Consumer> {
    this.check();
    const c = new ConsumerImpl(this.ctx, options);
    await c.startConsumer();
    return c;
  }

  async getLastMessageId(topic: string): Promise<MessageId> {
    const reader = await this.subscribe({
      topic,
      subscription: `kop-last-id-${randomBytes(6).toString('hex')}`,
      durable: false,
      subscriptionType: 'Exclusive',
      initialPosition: 'Latest',
      receiverQueueSize: 0,
    });
    try {
      return await reader.getLastMessageId();
    } finally {
      await reader.close();
    }
  }

  /** Drops every open connection (producers and consumers reconnect): for tests and operators. */
  closeConnections(reason = 'connections dropped on request'): void {
    this.pool.closeConnections(reason);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.allSettled([...this.live].map((x) => x.close()));
    this.pool.close();
  }
}
