/**
 * The contract of the gateway's Pulsar binary-protocol client (src/pulsar/client/):
 * what the Pulsar storage engine, the group coordinator and the tests use.
 * Topic names are full Pulsar names; partitions are addressed by their own
 * name (`persistent://t/ns/topic-partition-3`). Ids are uint64 → bigint.
 */
import type { BrokerEntryMetadata, MessageMetadata } from '../proto/index.js';

/** A message's position: (ledgerId, entryId), plus batchIndex inside a batch entry (-1: the whole entry). */
export interface MessageId {
  ledgerId: bigint;
  entryId: bigint;
  /** -1 (default) for a whole entry. */
  batchIndex?: number;
}

export interface PulsarAuth {
  /** 'token' (AuthenticationToken) or 'none'. */
  method: 'token' | 'none';
  /** Called on every CONNECT and AUTH_CHALLENGE, so a refreshed token file is picked up. */
  token?: () => string | Promise<string>;
}

export interface PulsarTlsOptions {
  /** PEM CA certificates trusted for pulsar+ssl://. */
  ca?: string | Buffer;
  /** false accepts any certificate (testing). Default true. */
  rejectUnauthorized?: boolean;
}

/** The identity a proxy role forwards (CONNECT original_principal / original_auth_*). */
export interface OriginalIdentity {
  principal: string;
  authData?: string;
  authMethod?: string;
}

export interface PulsarClientOptions {
  /** pulsar://host:port[,host2:port] or pulsar+ssl://... */
  serviceUrl: string;
  auth?: PulsarAuth;
  tls?: PulsarTlsOptions;
  /** Timeout of one request (lookup, PRODUCER, SUBSCRIBE, SEND receipt, ...). Default 30000. */
  operationTimeoutMs?: number;
  /** TCP connect + CONNECTED timeout. Default 10000. */
  connectionTimeoutMs?: number;
  /** PING interval; a connection with no frame for 2 intervals is closed. Default 30000. */
  keepAliveIntervalMs?: number;
  /** Reconnect back-off: initial 100 ms, doubling, max this. Default 30000 (a producer/consumer retries until closed). */
  maxBackoffMs?: number;
  /** pino-style logger (debug/info/warn/error with (obj, msg)). */
  logger?: ClientLogger;
  /**
   * Identity forwarded on connections that name none (the client authenticates
   * as a proxy role: Pulsar refuses a proxy role's requests without an original
   * principal, so its own work needs one too).
   */
  defaultOriginalIdentity?: OriginalIdentity;
  /** Told of lookups, reconnects, send latency and connections (the gateway's metrics). */
  observer?: PulsarClientObserver;
}

/** What the client reports as it works (src/metrics implements it); every method must be cheap and never throw. */
export interface PulsarClientObserver {
  lookup(ok: boolean): void;
  reconnect(kind: 'producer' | 'consumer'): void;
  /** Seconds from a send to its receipt. */
  sendLatency(seconds: number): void;
  connectionOpened(): void;
  connectionFailed(): void;
}

export interface ClientLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** A failure with the broker's ServerError (when it came from the broker). */
export interface PulsarClientErrorShape extends Error {
  /** ServerError enum name from the broker (e.g. 'TopicNotFound', 'AuthorizationError', 'ProducerBusy'), or a client-side kind: 'Timeout', 'ConnectionClosed', 'Closed'. */
  readonly serverError: string;
  /** Whether retrying the same operation later can succeed (connection lost, timeout, ServiceNotReady, ...). */
  readonly retriable: boolean;
}

export type ProducerAccessMode = 'Shared' | 'Exclusive' | 'WaitForExclusive' | 'ExclusiveWithFencing';

export interface ProducerOptions {
  /** Full name of a non-partitioned topic or of one partition. */
  topic: string;
  /** Unique name; default: the broker assigns one. */
  producerName?: string;
  accessMode?: ProducerAccessMode;
  /** Sent with PRODUCER as metadata (key/value). */
  properties?: Record<string, string>;
  /** Connect on behalf of this identity (the client must authenticate as a proxy role). */
  originalIdentity?: OriginalIdentity;
  /** Max pending sends before send() waits. Default 1000. */
  maxPendingMessages?: number;
}

/** What to publish: one Pulsar entry. The producer fills producerName, sequenceId and publishTime unless given. */
export interface OutgoingMessage {
  /** Metadata fields to set (properties, partitionKey, eventTime, numMessagesInBatch, compression, uncompressedSize, ...). */
  metadata?: Partial<MessageMetadata>;
  /** The (possibly batched / compressed) payload bytes as they go on the wire. */
  payload: Buffer;
}

export interface SendReceipt {
  messageId: MessageId;
  sequenceId: bigint;
}

export interface Producer {
  readonly topic: string;
  readonly producerName: string;
  /** Last sequence id the broker has persisted for this producer name (from PRODUCER_SUCCESS), -1n if none. */
  readonly lastSequenceIdPublished: bigint;
  /**
   * Publish one entry. Sends are pipelined and their receipts resolve in order.
   * On connection loss the producer reconnects (back-off) and resends pending
   * messages with their sequence ids (the broker's dedup, when enabled, drops repeats);
   * the promise rejects only on a non-retriable broker error, a timeout
   * (operationTimeoutMs since send), or close().
   */
  send(message: OutgoingMessage): Promise<SendReceipt>;
  /** True while the producer has a live registration on a broker. */
  readonly connected: boolean;
  /** Resolves when this producer was fenced / closed for good (e.g. another Exclusive producer took over). */
  readonly closed: Promise<Error | null>;
  close(): Promise<void>;
}

export type SubscriptionType = 'Exclusive' | 'Shared' | 'Failover' | 'Key_Shared';
export type InitialPosition = 'Latest' | 'Earliest';

export interface ConsumerOptions {
  topic: string;
  subscription: string;
  subscriptionType?: SubscriptionType;
  /** false: a non-durable subscription (a reader). Default true. */
  durable?: boolean;
  /**
   * Where a new (or non-durable) subscription starts. For non-durable ones
   * startMessageId wins; `startInclusive` makes it deliver that very entry.
   */
  initialPosition?: InitialPosition;
  startMessageId?: MessageId;
  startInclusive?: boolean;
  /** Read the compacted view (readCompacted). */
  readCompacted?: boolean;
  consumerName?: string;
  /** Permits granted up front and replenished as messages are handed out. Default 1000. 0: only explicit flow(). */
  receiverQueueSize?: number;
  /**
   * Bound the receiver queue by bytes as well: permits (counted in messages) are granted so that
   * the entries buffered and on their way hold about this many bytes, at the message size seen so
   * far (at most receiverQueueSize messages; before the first entry, min(receiverQueueSize, 100)).
   * Permits are topped up as entries arrive and are handed out, so the broker keeps streaming
   * while the buffer is drained. Unset: permits by message count only.
   */
  receiverQueueBytes?: number;
  originalIdentity?: OriginalIdentity;
  /** Subscription properties (durable subscriptions). */
  subscriptionProperties?: Record<string, string>;
  /**
   * Let SUBSCRIBE create the topic when it does not exist and the broker auto-creates topics.
   * Default: the first SUBSCRIBE may (a partition of a partitioned topic the caller found in the
   * topic's metadata may not have been created yet: Pulsar creates partitions on first use), a
   * re-subscription never does, so a consumer whose topic was deleted gets TopicNotFound (and
   * closes) instead of re-creating a stray partition under the deleted topic's name.
   */
  forceTopicCreation?: boolean;
}

/** One received entry, not unpacked: the gateway works on whole entries. */
export interface ReceivedEntry {
  messageId: MessageId;
  /** Broker entry metadata when the broker exposes it (index = the entry's last message's index). */
  brokerEntryMetadata?: BrokerEntryMetadata;
  metadata: MessageMetadata;
  /** The payload after the metadata (still compressed / batched as published). */
  payload: Buffer;
  redeliveryCount: number;
}

export interface Consumer {
  readonly topic: string;
  readonly subscription: string;
  /**
   * Next entry; waits up to timeoutMs (then resolves null). Entries arrive in
   * order; CRC32C is checked on receipt (a corrupt entry is logged and skipped
   * with a NACK-less redelivery request). Permits are replenished automatically
   * (half the receiver queue at a time) unless receiverQueueSize is 0.
   */
  receive(timeoutMs: number): Promise<ReceivedEntry | null>;
  /** Entries already buffered (no wait). */
  readonly buffered: number;
  /**
   * With receiverQueueSize 0: the flow() permits not used by an arriving entry yet (granted again
   * after a resubscription); otherwise the room left in the receiver queue.
   */
  readonly availablePermits: number;
  /** Grant more permits (FLOW). */
  flow(permits: number): void;
  /** receiverQueueSize 0: the permits granted and not yet used, as the broker counts them (negative after an entry larger than they were). */
  readonly permits: number;
  /** A new receiverQueueBytes for a consumer created with one (ignored otherwise). */
  setReceiverQueueBytes(bytes: number): void;
  /** Cumulative ack (durable subscriptions). */
  acknowledgeCumulative(id: MessageId): Promise<void>;
  acknowledge(id: MessageId): Promise<void>;
  /** Individual ack of several entries in one ACK (resolves on the broker's ACK_RESPONSE). */
  acknowledgeMany(ids: readonly MessageId[]): Promise<void>;
  /**
   * REDELIVER_UNACKNOWLEDGED_MESSAGES for these entries (Shared / Key_Shared subscriptions): the
   * broker dispatches them again (to any consumer of the subscription) with redelivery_count + 1.
   * Fire and forget (the protocol has no answer); a no-op while disconnected (the broker
   * redelivers every unacknowledged entry of a lost consumer anyway).
   */
  redeliver(ids: readonly MessageId[]): void;
  /** SEEK: next delivered entry is `id` itself (or the first published at/after the time); clears the buffer. */
  seek(target: MessageId | { publishTime: bigint }): Promise<void>;
  /** GET_LAST_MESSAGE_ID on this consumer's topic. */
  getLastMessageId(): Promise<MessageId>;
  /** Calls `fn` whenever entries become available (after being empty); returns the unsubscribe function. */
  onReadable(fn: () => void): () => void;
  readonly connected: boolean;
  /** Resolves when this consumer is closed for good: null after close() / unsubscribe(), the error after a fatal one (e.g. the subscription deleted). */
  readonly closed: Promise<Error | null>;
  unsubscribe(): Promise<void>;
  close(): Promise<void>;
}

export interface LookupResult {
  /** pulsar:// or pulsar+ssl:// URL of the broker serving the topic. */
  brokerUrl: string;
}

export interface PulsarClient {
  /** The broker's max_message_size (CONNECTED) on the service URL's connection (opens it if needed). */
  brokerMaxMessageSize(): Promise<number>;
  /** Partition count of a topic: 0 for a non-partitioned topic (or none yet, when auto-creation would make one). */
  getPartitionedTopicMetadata(topic: string, originalIdentity?: OriginalIdentity): Promise<number>;
  /** Follows redirects (authoritative flag, proxy-through-service-URL) to the owning broker. */
  lookup(topic: string, originalIdentity?: OriginalIdentity): Promise<LookupResult>;
  createProducer(options: ProducerOptions): Promise<Producer>;
  subscribe(options: ConsumerOptions): Promise<Consumer>;
  /** GET_LAST_MESSAGE_ID of a topic via a short-lived non-durable reader (entryId -1n: the topic is empty). */
  getLastMessageId(topic: string): Promise<MessageId>;
  /** Connections open now (tests and metrics). */
  readonly openConnections: number;
  /** Producers and consumers open now (metrics). */
  readonly openHandles: { producers: number; consumers: number };
  /** Resolves when a connection to the service URL is open or could be opened now (readiness). */
  checkConnection(): Promise<void>;
  close(): Promise<void>;
}
