/**
 * The gateway's configuration schema: one table, used for validation (convict),
 * environment variables and the generated reference in the README.
 *
 * Key names follow KoP/Pulsar broker.conf where such a key exists, so lines can
 * be copied from a broker.conf. Every key can also be set by an environment
 * variable KOP_<UPPER_SNAKE_KEY> (e.g. kafkaListeners -> KOP_KAFKA_LISTENERS).
 */
import { parseListenerList } from '../network/listeners.js';
import { parseStoreType, parseTlsCiphers, parseTlsProtocols } from '../security/tls/options.js';
import { checkNameOrThrow } from '../topics/names.js';
import { parseOpsListener } from '../ops/listener.js';
import { validateConfigValue } from '../storage/topic-config.js';

export type KeyKind = 'string' | 'int' | 'bool' | 'enum';

export interface KeySpec {
  kind: KeyKind;
  default: string | number | boolean;
  doc: string;
  /** Where the name comes from, shown in the reference. */
  origin: 'KoP' | 'Pulsar' | 'Kafka' | 'gateway';
  values?: readonly string[];
  min?: number;
  sensitive?: boolean;
  /** Extra validation; throw with a message naming what is wrong. */
  check?: (value: never) => void;
  /**
   * The key does not change the security posture (logging, shutdown timing,
   * metrics): set by a KOP_* variable it is applied on top of the secure
   * development profile instead of turning it off (src/profiles/dev-secure.ts).
   * Anything not marked so turns the profile off, loudly.
   */
  profileSafe?: true;
}

const MiB = 1024 * 1024;

export const SCHEMA = {
  kafkaListeners: {
    kind: 'string',
    default: 'PLAINTEXT://127.0.0.1:9092',
    origin: 'KoP',
    doc: 'Comma-separated listeners the gateway binds, NAME://host:port. NAME is a security protocol (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL) or a name mapped by kafkaProtocolMap. Port 0 picks a free port.',
    check: (v: string) => void parseListenerList(v, ''),
  },
  kafkaAdvertisedListeners: {
    kind: 'string',
    default: '',
    origin: 'KoP',
    doc: 'Comma-separated listeners announced to clients in Metadata, same NAMEs as kafkaListeners. Empty: the bound addresses.',
  },
  kafkaProtocolMap: {
    kind: 'string',
    default: '',
    origin: 'KoP',
    doc: 'Maps custom listener names to security protocols, e.g. "internal:PLAINTEXT,external:PLAINTEXT".',
  },
  kafkaTenant: {
    kind: 'string',
    default: 'public',
    origin: 'KoP',
    doc: 'Tenant of short Kafka topic names (topic "t" is persistent://<kafkaTenant>/<kafkaNamespace>/t).',
    check: (v: string) => checkNameOrThrow('tenant', v),
  },
  kafkaNamespace: {
    kind: 'string',
    default: 'default',
    origin: 'KoP',
    doc: 'Namespace of short Kafka topic names.',
    check: (v: string) => checkNameOrThrow('namespace', v),
  },
  kafkaNodeId: {
    kind: 'int',
    default: 0,
    min: 0,
    origin: 'gateway',
    doc: 'Node id this gateway announces as broker, controller and coordinator. Give each gateway node in front of one cluster its own id.',
  },
  storageEngine: {
    kind: 'enum',
    default: 'embedded',
    values: ['embedded', 'pulsar'],
    origin: 'gateway',
    doc: 'Where records, offsets and topic metadata live: embedded (local durable log under dataDirectory) or pulsar (an Apache Pulsar cluster at brokerServiceUrl / webServiceUrl; the gateway keeps no data of its own).',
  },
  brokerServiceUrl: {
    kind: 'string',
    default: 'pulsar://127.0.0.1:6650',
    origin: 'Pulsar',
    doc: 'storageEngine=pulsar: Pulsar binary protocol URL (pulsar://host:port, or pulsar+ssl://host:port for TLS). Several hosts: pulsar://h1:6650,h2:6650.',
  },
  webServiceUrl: {
    kind: 'string',
    default: 'http://127.0.0.1:8080',
    origin: 'Pulsar',
    doc: 'storageEngine=pulsar: Pulsar admin REST URL (http:// or https://).',
  },
  brokerClientAuthenticationPlugin: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'How the gateway authenticates to Pulsar: empty (none) or org.apache.pulsar.client.impl.auth.AuthenticationToken (also "token").',
  },
  brokerClientAuthenticationParameters: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    sensitive: true,
    doc: 'Parameters of brokerClientAuthenticationPlugin: token:<jwt>, file:<path of a token file> (re-read on each connect), or {"token":"..."} / {"file":"..."}.',
  },
  brokerClientTrustCertsFilePath: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'PEM file of CAs trusted for pulsar+ssl:// and https:// connections to Pulsar. Empty: Node\'s default CAs.',
  },
  brokerClientTlsAllowInsecureConnection: {
    kind: 'bool',
    default: false,
    origin: 'gateway',
    doc: 'storageEngine=pulsar: accept any certificate from Pulsar (testing only).',
  },
  entryFormat: {
    kind: 'enum',
    default: 'pulsar',
    values: ['pulsar', 'kafka'],
    origin: 'KoP',
    doc: 'storageEngine=pulsar: how Kafka records are stored. pulsar: one Pulsar message per record (key, value, headers as properties, timestamp as event time), readable by Pulsar clients. kafka: Kafka record batches stored as they arrived (fastest; Pulsar clients cannot read them).',
  },
  kafkaMetadataTenant: {
    kind: 'string',
    default: 'public',
    origin: 'KoP',
    doc: 'storageEngine=pulsar: tenant of the gateway\'s own topics (consumer group offsets and metadata, topic ids and configs).',
    check: (v: string) => checkNameOrThrow('tenant', v),
  },
  kafkaMetadataNamespace: {
    kind: 'string',
    default: '__kafka',
    origin: 'KoP',
    doc: 'storageEngine=pulsar: namespace of the gateway\'s own topics (created at start when missing).',
    check: (v: string) => checkNameOrThrow('namespace', v),
  },
  pulsarForwardClientIdentity: {
    kind: 'bool',
    default: false,
    origin: 'gateway',
    doc: 'storageEngine=pulsar: connect to Pulsar as a proxy role (the gateway\'s token role must be in the broker\'s proxyRoles) and forward each Kafka client\'s principal as original_principal, so the broker checks the client\'s permissions a second time.',
  },
  pulsarForwardGatewayPrincipal: {
    kind: 'string',
    default: '',
    origin: 'gateway',
    doc: 'With pulsarForwardClientIdentity: the principal forwarded for the gateway\'s own work (topic administration, tail readers, state topics, coordinator election), since Pulsar refuses a proxy role\'s requests that name no original principal. A role with the rights the gateway needs (a superuser). Required then.',
  },
  pulsarPolicyCacheMs: {
    kind: 'int',
    default: 5000,
    min: 0,
    origin: 'gateway',
    doc: 'storageEngine=pulsar with authorizationEnabled: how long tenant and namespace policies read from Pulsar\'s admin API are cached (the longest a grant or revoke takes to apply; a denial refreshes earlier).',
  },
  pulsarOperationTimeoutMs: {
    kind: 'int',
    default: 30_000,
    min: 100,
    origin: 'Pulsar',
    doc: 'storageEngine=pulsar: timeout of one Pulsar request (lookup, producer/consumer creation, send).',
  },
  dataDirectory: {
    kind: 'string',
    default: './data',
    origin: 'gateway',
    doc: 'Directory of the embedded engine\'s data and of the cluster id file.',
  },
  embeddedFlushPolicy: {
    kind: 'enum',
    default: 'every-batch',
    values: ['every-batch', 'interval'],
    origin: 'gateway',
    doc: 'Embedded engine durability: every-batch = fsync (group-committed across producers) before acknowledging acks=1/all; interval = fsync every embeddedFlushIntervalMs (faster; a crash can lose the last interval, as Kafka with its default flush settings and one replica).',
  },
  embeddedFlushIntervalMs: {
    kind: 'int',
    default: 1000,
    min: 1,
    origin: 'gateway',
    doc: 'With embeddedFlushPolicy=interval: how often data is fsynced.',
  },
  embeddedRetentionCheckIntervalMs: {
    kind: 'int',
    default: 300_000,
    min: 0,
    origin: 'Kafka',
    doc: 'How often time/size retention runs (Kafka log.retention.check.interval.ms). 0 disables.',
  },
  // --- log compaction: broker defaults of the topic configs (Kafka log.cleanup.policy, log.cleaner.*) and the embedded cleaner ---
  logCleanupPolicy: {
    kind: 'string',
    default: 'delete',
    origin: 'Kafka',
    doc: 'Default cleanup.policy of topics (Kafka log.cleanup.policy): delete, compact or compact,delete. Compacted topics keep the latest record of every key (docs/compaction.md).',
    check: (v: string) => validateConfigValue('cleanup.policy', v),
  },
  logCleanerDeleteRetentionMs: {
    kind: 'string',
    default: '86400000',
    origin: 'Kafka',
    doc: 'Default delete.retention.ms (Kafka log.cleaner.delete.retention.ms): how long a tombstone stays after the cleaner first saw it.',
    check: (v: string) => validateConfigValue('delete.retention.ms', v),
  },
  logCleanerMinCleanableRatio: {
    kind: 'string',
    default: '0.5',
    origin: 'Kafka',
    doc: 'Default min.cleanable.dirty.ratio (Kafka log.cleaner.min.cleanable.ratio): a partition is cleaned once this share of its bytes is uncleaned.',
    check: (v: string) => validateConfigValue('min.cleanable.dirty.ratio', v),
  },
  logCleanerMinCompactionLagMs: {
    kind: 'string',
    default: '0',
    origin: 'Kafka',
    doc: 'Default min.compaction.lag.ms (Kafka log.cleaner.min.compaction.lag.ms).',
    check: (v: string) => validateConfigValue('min.compaction.lag.ms', v),
  },
  logCleanerMaxCompactionLagMs: {
    kind: 'string',
    default: '9223372036854775807',
    origin: 'Kafka',
    doc: 'Default max.compaction.lag.ms (Kafka log.cleaner.max.compaction.lag.ms).',
    check: (v: string) => validateConfigValue('max.compaction.lag.ms', v),
  },
  logCleanerEnable: {
    kind: 'bool',
    default: true,
    origin: 'Kafka',
    doc: 'Embedded engine: run the log cleaner (Kafka log.cleaner.enable). Off, compacted topics keep every record (nothing is lost, no space is reclaimed).',
  },
  logCleanerBackoffMs: {
    kind: 'int',
    default: 15_000,
    min: 10,
    origin: 'Kafka',
    doc: 'Embedded engine: pause of the log cleaner when no partition needs cleaning (Kafka log.cleaner.backoff.ms).',
  },
  logCleanerIoMaxBytesPerSecond: {
    kind: 'int',
    default: 50 * MiB,
    min: 0,
    origin: 'Kafka',
    doc: 'Embedded engine: bytes per second the log cleaner reads plus writes (Kafka log.cleaner.io.max.bytes.per.second); 0 = unthrottled. The cleaner shares the event loop with produce and fetch, so the default bounds it.',
  },
  logCleanerDedupeBufferSize: {
    kind: 'int',
    default: 32 * MiB,
    min: 1024,
    origin: 'Kafka',
    doc: 'Embedded engine: memory of the cleaner\'s key map (Kafka log.cleaner.dedupe.buffer.size), 24 bytes per key (MD5 of the key + offset) at a 0.9 load factor; allocated while a partition is being cleaned. A partition with more distinct dirty keys is cleaned in several passes.',
  },
  socketRequestMaxBytes: {
    kind: 'int',
    default: 100 * MiB,
    min: 1024,
    origin: 'Kafka',
    doc: 'Largest request frame accepted (Kafka socket.request.max.bytes). A larger size prefix closes the connection.',
  },
  fetchMaxBytes: {
    kind: 'int',
    default: 55 * MiB,
    min: 1024,
    origin: 'Kafka',
    doc: 'Largest Fetch response the gateway builds (Kafka fetch.max.bytes): a request asks for min(its max_bytes, this); the first partition with data may still return one larger batch so consumers make progress (KIP-74). A partition named several times in one request is read once.',
  },
  maxIncrementalFetchSessionCacheSlots: {
    kind: 'int',
    default: 1000,
    min: 0,
    origin: 'Kafka',
    doc: 'Incremental fetch sessions (KIP-227) this gateway node keeps (Kafka max.incremental.fetch.session.cache.slots); when full, a new session evicts one unused for 2 minutes, or the smallest one older than 2 minutes if it has fewer partitions, as Kafka does; else the client fetches sessionless. 0 = every fetch is sessionless.',
  },
  fetchSessionsPerConnection: {
    kind: 'int',
    default: 4,
    min: 0,
    origin: 'gateway',
    doc: "Incremental fetch sessions one client connection may hold (a consumer needs one per gateway node); a connection opening more loses its least recently used session. A connection's sessions end with it.",
  },
  fetchSessionMaxPartitions: {
    kind: 'int',
    default: 10_000,
    min: 1,
    origin: 'gateway',
    doc: 'Partitions one incremental fetch session may hold: a larger full fetch is answered without a session, and an incremental fetch growing a session past it closes the session (FETCH_SESSION_ID_NOT_FOUND: the client starts over with a full fetch).',
  },
  maxQueuedRequests: {
    kind: 'int',
    default: 500,
    min: 1,
    origin: 'KoP',
    doc: 'Requests read ahead per connection before the gateway stops reading from its socket (back-pressure).',
  },
  maxQueuedRequestBytes: {
    kind: 'int',
    default: 16 * MiB,
    min: 1024,
    origin: 'gateway',
    doc: 'Bytes of requests read ahead per connection (complete frames waiting behind the one being handled, plus a partly received one) before the gateway stops reading from its socket. One frame up to socketRequestMaxBytes is always received whole; this bounds what queues behind it (a parked JoinGroup, a slow Produce). Before authentication the bound is one pre-authentication frame (saslMaxReceiveSize).',
  },
  requestReceiveTimeoutMs: {
    kind: 'int',
    default: 30_000,
    min: 100,
    origin: 'gateway',
    doc: 'A request frame whose size prefix has arrived must arrive whole within this time, or the connection is closed (a half-sent frame is not held for ever). Time while the gateway itself stops reading (back-pressure, quota throttling) does not count. The default matches the Kafka clients\' request.timeout.ms, after which the client has given up on the request anyway.',
  },
  maxConnections: {
    kind: 'int',
    default: 10_000,
    min: 1,
    origin: 'Kafka',
    doc: 'Most client connections open at once (Kafka max.connections); more are closed on accept.',
  },
  maxConnectionsPerIp: {
    kind: 'int',
    default: 1_000,
    min: 1,
    origin: 'Kafka',
    doc: 'Most connections open at once from one client address (Kafka max.connections.per.ip).',
  },
  maxUnauthenticatedConnections: {
    kind: 'int',
    default: 500,
    min: 1,
    origin: 'gateway',
    doc: 'Most connections open at once that have not authenticated yet (in their TLS handshake on SSL/SASL_SSL listeners, or before SASL completes on SASL listeners); more are closed on accept, before the TLS handshake starts. Authenticated connections do not count (they are bounded by maxConnections). PLAINTEXT connections are never unauthenticated.',
  },
  maxUnauthenticatedConnectionsPerIp: {
    kind: 'int',
    default: 50,
    min: 1,
    origin: 'gateway',
    doc: 'Most connections not yet authenticated from one client address (see maxUnauthenticatedConnections). Authenticated connections from the same address do not count.',
  },
  tlsHandshakeTimeoutMs: {
    kind: 'int',
    default: 10_000,
    min: 100,
    origin: 'gateway',
    doc: 'SSL/SASL_SSL: a connection whose TLS handshake has not completed this long after accept is closed, also when it never sends a ClientHello or trickles it byte by byte (Netty\'s SslHandler default, which Pulsar uses).',
  },
  maxConnectionCreationRate: {
    kind: 'int',
    default: 0,
    min: 0,
    origin: 'Kafka',
    doc: 'Most new connections accepted per second (Kafka max.connection.creation.rate); 0 = unlimited.',
  },
  quotaProducerByteRate: {
    kind: 'int',
    default: 0,
    min: 0,
    origin: 'Kafka',
    doc: 'Produce bytes per second allowed to each principal (Kafka producer_byte_rate); above it responses carry throttle_time_ms and the connection is muted that long. 0 = unlimited.',
  },
  quotaConsumerByteRate: {
    kind: 'int',
    default: 0,
    min: 0,
    origin: 'Kafka',
    doc: 'Fetch bytes per second allowed to each principal (Kafka consumer_byte_rate); a throttled fetch returns no data and throttle_time_ms. 0 = unlimited.',
  },
  quotaProducerIdRate: {
    kind: 'int',
    default: 10,
    min: 0,
    origin: 'gateway',
    doc: 'New producer ids (InitProducerId) per second allowed to each principal, measured like the byte-rate quotas; above it responses carry throttle_time_ms and the connection is muted that long. 0 = unlimited.',
  },
  connectionMaxIdleMs: {
    kind: 'int',
    default: 600_000,
    min: 0,
    origin: 'Kafka',
    doc: 'Close connections idle this long (Kafka connections.max.idle.ms). 0 disables.',
  },
  gracefulShutdownTimeoutMs: {
    kind: 'int',
    default: 30_000,
    min: 0,
    origin: 'gateway',
    profileSafe: true,
    doc: 'On SIGTERM/SIGINT, how long in-flight requests may take to finish before connections are cut.',
  },
  heapGrowingPercent: {
    kind: 'int',
    default: 300,
    min: 0,
    origin: 'gateway',
    profileSafe: true,
    doc: "How far V8's heap may grow past its live size before the next full garbage collection, in percent (V8's --heap-growing-percent; 300: to 4x the live size, V8's own ceiling). 0 leaves it to V8's heuristic, which on a gateway moving record buffers chose 1.3x and ran a full collection every ~250 ms, its concurrent marking taking CPU from the broker and clients on the same cores (docs/benchmarks.md). Set lower to trade CPU for a smaller heap.",
  },
  allowAutoTopicCreation: {
    kind: 'bool',
    default: true,
    origin: 'Pulsar',
    doc: 'Create a topic when a client asks Metadata for an unknown one (and the client allows it).',
  },
  defaultNumPartitions: {
    kind: 'int',
    default: 1,
    min: 1,
    origin: 'Pulsar',
    doc: 'Partitions of auto-created topics and of CreateTopics requests that ask for the default (-1).',
  },
  maxNumPartitionsPerPartitionedTopic: {
    kind: 'int',
    default: 10_000,
    min: 0,
    origin: 'Pulsar',
    doc: 'Most partitions one topic may have (CreateTopics, CreatePartitions, auto-creation); more is INVALID_PARTITIONS. 0 = no bound, as in Pulsar (whose default is 0); the gateway bounds it by default, since each partition costs files (embedded) or broker topics (pulsar). A CreateTopics request asking for more than 10,000 new partitions in all is refused with POLICY_VIOLATION, as Kafka\'s controller does.',
  },
  groupInitialRebalanceDelayMs: {
    kind: 'int',
    default: 3000,
    min: 0,
    origin: 'KoP',
    doc: 'How long the coordinator waits for more members to join a new (empty) group before the first rebalance completes (Kafka group.initial.rebalance.delay.ms); each new member extends it, up to the rebalance timeout.',
  },
  groupMinSessionTimeoutMs: {
    kind: 'int',
    default: 6000,
    min: 1,
    origin: 'KoP',
    doc: 'Smallest session.timeout.ms a consumer may ask for; smaller ones get INVALID_SESSION_TIMEOUT (Kafka group.min.session.timeout.ms).',
  },
  groupMaxSessionTimeoutMs: {
    kind: 'int',
    default: 1_800_000,
    min: 1,
    origin: 'KoP',
    doc: 'Largest session.timeout.ms a consumer may ask for; larger ones get INVALID_SESSION_TIMEOUT (Kafka group.max.session.timeout.ms).',
  },
  groupMaxSize: {
    kind: 'int',
    default: 2_147_483_647,
    min: 1,
    origin: 'Kafka',
    doc: 'Most members one consumer group may have; further joins get GROUP_MAX_SIZE_REACHED (Kafka group.max.size).',
  },
  groupConsumerSessionTimeoutMs: {
    kind: 'int',
    default: 45_000,
    min: 1,
    origin: 'Kafka',
    doc: 'Consumer group protocol (KIP-848, group.protocol=consumer): a member that sends no ConsumerGroupHeartbeat for this long is removed and its partitions reassigned (Kafka group.consumer.session.timeout.ms).',
  },
  groupConsumerHeartbeatIntervalMs: {
    kind: 'int',
    default: 5_000,
    min: 1,
    origin: 'Kafka',
    doc: 'Consumer group protocol (KIP-848): the heartbeat interval the coordinator gives members; keep it well below groupConsumerSessionTimeoutMs (Kafka group.consumer.heartbeat.interval.ms).',
  },
  offsetsRetentionMinutes: {
    kind: 'int',
    default: 10_080,
    min: 1,
    origin: 'KoP',
    doc: 'Committed offsets of a group that has been empty this long are deleted (and then the group); offsets of a simple (member-less) group expire this long after their last commit (Kafka offsets.retention.minutes, default 7 days).',
  },
  offsetsRetentionCheckIntervalMs: {
    kind: 'int',
    default: 600_000,
    min: 1,
    origin: 'KoP',
    doc: 'How often expired committed offsets are removed (Kafka offsets.retention.check.interval.ms).',
  },
  offsetMetadataMaxBytes: {
    kind: 'int',
    default: 4096,
    min: 0,
    origin: 'Kafka',
    doc: 'Longest metadata string an offset commit may carry; longer ones get OFFSET_METADATA_TOO_LARGE (Kafka offset.metadata.max.bytes).',
  },
  offsetsTopicNumPartitions: {
    kind: 'int',
    default: 50,
    min: 1,
    origin: 'KoP',
    doc: 'Partitions of the internal offsets topic. A group belongs to partition hash(tenant/group) mod this; the node owning that partition coordinates the group. A changed value moves the stored group entries to their new partitions at the next start.',
  },
  offsetsLogNumPartitions: {
    kind: 'int',
    default: 1,
    min: 1,
    check: (v: number) => {
      if (v > 1000) throw new Error(`at most 1000 (got ${v})`);
    },
    origin: 'KoP',
    doc: 'Partitions of each namespace\'s readable __consumer_offsets log (offsetsTopicReadable). Kafka has one such topic for the cluster, with offsets.topic.num.partitions (50); here every namespace with groups has its own, so one partition by default keeps the topics Pulsar holds for it few. A group\'s records are in partition abs(hash(groupId)) mod the log\'s partition count (Kafka\'s rule); applies to logs created afterwards. Until a namespace\'s log exists, Metadata presents it with this many partitions.',
  },
  offsetsTopicReadable: {
    kind: 'bool',
    default: true,
    origin: 'KoP',
    doc: 'Make __consumer_offsets readable in Kafka\'s record formats (lag monitors, kafka-console-consumer with OffsetsMessageFormatter): each namespace gets an internal compacted log to which offset commits and group metadata of the groups homed there are appended after they are durable. false: it is only listed, and reading it answers TOPIC_AUTHORIZATION_FAILED (docs/consumer-groups.md).',
  },
  shareGroupsEnabled: {
    kind: 'bool',
    default: true,
    origin: 'Kafka',
    doc: 'Serve share groups (KIP-932: ShareGroupHeartbeat, ShareGroupDescribe, ShareFetch, ShareAcknowledge, and the share.version feature in ApiVersions); when false those APIs are not advertised (docs/share-groups.md).',
  },
  shareGroupRecordLockDurationMs: {
    kind: 'int',
    default: 30_000,
    min: 1000,
    check: (v: number) => {
      if (v > 3600000) throw new Error('at most 3600000');
    },
    origin: 'Kafka',
    doc: 'How long a share-group member holds the records it acquired before they are delivered to others again (Kafka group.share.record.lock.duration.ms).',
  },
  shareGroupDeliveryCountLimit: {
    kind: 'int',
    default: 5,
    min: 2,
    check: (v: number) => {
      if (v > 10) throw new Error('at most 10');
    },
    origin: 'Kafka',
    doc: 'Deliveries of a record to a share group after which it is archived instead of delivered again (Kafka group.share.delivery.count.limit).',
  },
  shareGroupPartitionMaxRecordLocks: {
    kind: 'int',
    default: 2000,
    min: 100,
    check: (v: number) => {
      if (v > 10000) throw new Error('at most 10000');
    },
    origin: 'Kafka',
    doc: 'In-flight records one share-partition tracks (from its start offset); a full window acquires nothing new until its oldest records are acknowledged (Kafka group.share.partition.max.record.locks). On the Pulsar engine: records of a partition one gateway node holds from the share group\'s Shared subscription.',
  },
  shareGroupHeartbeatIntervalMs: {
    kind: 'int',
    default: 5000,
    min: 100,
    origin: 'Kafka',
    doc: 'Heartbeat interval share-group members are told to use (Kafka group.share.heartbeat.interval.ms).',
  },
  shareGroupSessionTimeoutMs: {
    kind: 'int',
    default: 45_000,
    min: 1000,
    origin: 'Kafka',
    doc: 'A share-group member not heard from this long is removed and its acquired records are released (Kafka group.share.session.timeout.ms).',
  },
  shareGroupMaxSize: {
    kind: 'int',
    default: 200,
    min: 1,
    check: (v: number) => {
      if (v > 1000) throw new Error('at most 1000');
    },
    origin: 'Kafka',
    doc: 'Most members one share group may have; further joins get GROUP_MAX_SIZE_REACHED (Kafka group.share.max.size).',
  },
  shareGroupMaxSessions: {
    kind: 'int',
    default: 2000,
    min: 1,
    origin: 'gateway',
    doc: 'Share sessions (one per share-group member fetching) one gateway node keeps; further ones get SHARE_SESSION_LIMIT_REACHED.',
  },
  shareAutoOffsetReset: {
    kind: 'enum',
    default: 'latest',
    values: ['latest', 'earliest'],
    origin: 'Kafka',
    doc: 'Where a share group starts reading a partition it has not read before: the log end (latest) or start (earliest); the default of Kafka\'s group config share.auto.offset.reset, which a group may set for itself (docs/share-groups.md).',
  },
  transactionMaxTimeoutMs: {
    kind: 'int',
    default: 900_000,
    min: 1,
    origin: 'Kafka',
    doc: 'Largest transaction.timeout.ms a transactional producer may ask for (Kafka transaction.max.timeout.ms); a larger one gets INVALID_TRANSACTION_TIMEOUT at InitProducerId.',
  },
  transactionAbortTimedOutTransactionCleanupIntervalMs: {
    kind: 'int',
    default: 10_000,
    min: 1,
    origin: 'Kafka',
    doc: 'How often the transaction coordinator aborts transactions older than their timeout, fencing their producer (Kafka transaction.abort.timed.out.transaction.cleanup.interval.ms).',
  },
  transactionalIdExpirationMs: {
    kind: 'int',
    default: 604_800_000,
    min: 1,
    origin: 'Kafka',
    doc: 'A transactional id without an open transaction and unused this long is removed (Kafka transactional.id.expiration.ms); its next use starts with a new producer id.',
  },
  authenticationEnabled: {
    kind: 'bool',
    default: false,
    origin: 'Pulsar',
    doc: 'Require SASL authentication with Pulsar tokens on SASL_PLAINTEXT/SASL_SSL listeners. When false, SASL listeners refuse to start (there would be nothing to check credentials against).',
  },
  saslAllowedMechanisms: {
    kind: 'string',
    default: 'PLAIN,OAUTHBEARER',
    origin: 'KoP',
    doc: 'SASL mechanisms offered on SASL listeners: PLAIN (username tenant/namespace, password token:<jwt>) and/or OAUTHBEARER (the JWT itself).',
    check: (v: string) => {
      const items = v.split(',').map((x) => x.trim()).filter(Boolean);
      if (items.length === 0) throw new Error('at least one mechanism is needed');
      for (const m of items) if (m !== 'PLAIN' && m !== 'OAUTHBEARER') throw new Error(`unsupported mechanism '${m}' (PLAIN, OAUTHBEARER)`);
    },
  },
  connectionsMaxReauthMs: {
    kind: 'int',
    default: 0,
    min: 0,
    origin: 'Kafka',
    doc: 'Longest a SASL session lives before the client must re-authenticate (KIP-368); 0 = until the token expires. A session never outlives its token.',
  },
  failedAuthenticationDelayMs: {
    kind: 'int',
    default: 100,
    min: 0,
    origin: 'Kafka',
    doc: 'Delay before the response to a failed authentication and the close (Kafka connection.failed.authentication.delay.ms).',
  },
  saslMaxReceiveSize: {
    kind: 'int',
    default: 65_536,
    min: 512,
    origin: 'Kafka',
    doc: 'Largest frame accepted before authentication (Kafka sasl.server.max.receive.size, whose default is 512 KiB); a larger size prefix closes the connection, audited as a failed authentication. 64 KiB holds the largest token saslMaxTokenBytes allows plus username and extensions; nothing sent before authentication needs more.',
  },
  saslMaxTokenBytes: {
    kind: 'int',
    default: 16_384,
    min: 256,
    origin: 'gateway',
    doc: 'Longest token (JWT) accepted in SASL/PLAIN passwords and OAUTHBEARER messages; a longer one fails authentication before any parsing or SASLprep. A Pulsar token is a few hundred bytes and must fit in an HTTP header for Pulsar\'s admin API (Jetty\'s default header limit is 8 KiB); the default is twice that. At most 1 MiB.',
    check: (v: number) => {
      if (v > 1024 * 1024) throw new Error('at most 1048576 (1 MiB)');
    },
  },
  authenticationTimeoutMs: {
    kind: 'int',
    default: 10_000,
    min: 100,
    origin: 'gateway',
    doc: 'A connection to a SASL listener that has not authenticated within this time is closed.',
  },
  tokenSecretKey: {
    kind: 'string',
    default: '',
    sensitive: true,
    origin: 'Pulsar',
    doc: 'HMAC secret key of Pulsar tokens (HS256/HS384/HS512), as Pulsar reads it: data:;base64,<key>, file:///path (raw key bytes), a file path, or the key in base64. At least 32 bytes. Takes precedence over tokenPublicKey. See docs/tokens.md.',
  },
  tokenPublicKey: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Public key (RSA or EC; X.509 DER as `tokens create-key-pair` writes it, or PEM) of Pulsar tokens, in the same forms as tokenSecretKey.',
  },
  tokenPublicAlg: {
    kind: 'enum',
    default: 'RS256',
    values: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512'],
    origin: 'Pulsar',
    doc: 'Algorithm family of tokenPublicKey: an RS*/PS* value for an RSA key, ES* for an EC key (as in Pulsar, an EC key needs ES256/ES384/ES512 here). Tokens may use any algorithm of the key\'s family.',
  },
  tokenRevocationFile: {
    kind: 'string',
    default: '',
    origin: 'gateway',
    doc: 'Token deny list (JSON or YAML: `tokens` (jti values) and `subjects` (roles), each optionally `{ id|subject, until }`), see docs/tokens.md#revocation. Read at start (a file that cannot be used fails the start), then watched like policiesDirectory (and rescanned every policiesRefreshIntervalMs): a listed token is refused at authentication and re-authentication ("token revoked"), and open sessions it revokes are closed as soon as the change is read. A change that cannot be parsed keeps the list in force. Empty: none.',
  },
  tokenAuthClaim: {
    kind: 'string',
    default: 'sub',
    origin: 'Pulsar',
    doc: 'Claim holding the role of tokenSecretKey/tokenPublicKey tokens: a string, or an array whose first element is used.',
  },
  tokenAudienceClaim: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Claim holding the audiences of a token (e.g. aud). Set with tokenAudience: the claim must then be tokenAudience or an array containing it.',
  },
  tokenAudience: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'The audience that stands for this gateway, required in tokenAudienceClaim. Setting it without tokenAudienceClaim is refused (Pulsar would silently check nothing).',
  },
  tokenAllowedClockSkewSeconds: {
    kind: 'int',
    default: 0,
    min: 0,
    origin: 'Pulsar',
    doc: 'Clock skew tolerated on exp and nbf of tokenSecretKey/tokenPublicKey tokens.',
  },
  openIDAllowedTokenIssuers: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Comma-separated OpenID Connect issuers whose tokens are accepted (keys from <issuer>/.well-known/openid-configuration -> jwks_uri). A token whose iss is one of them is validated against that issuer; other tokens against tokenSecretKey/tokenPublicKey.',
  },
  openIDAllowedAudiences: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Comma-separated audiences; an OpenID token\'s aud must contain one. Required with openIDAllowedTokenIssuers.',
  },
  openIDRoleClaim: {
    kind: 'string',
    default: 'sub',
    origin: 'Pulsar',
    doc: 'Claim holding the role of OpenID tokens: a string, or an array whose first element is used.',
  },
  openIDAcceptedTimeLeewaySeconds: {
    kind: 'int',
    default: 0,
    min: 0,
    origin: 'Pulsar',
    doc: 'Leeway on exp, nbf and iat of OpenID tokens.',
  },
  openIDRequireIssuersUseHttps: {
    kind: 'bool',
    default: true,
    origin: 'Pulsar',
    doc: 'Refuse issuers (and jwks_uri) that are not https URLs.',
  },
  openIDCacheExpirationSeconds: {
    kind: 'int',
    default: 86_400,
    min: 1,
    origin: 'Pulsar',
    doc: 'How long an issuer\'s metadata and key set are used before they are fetched again.',
  },
  openIDKeyIdCacheMissRefreshSeconds: {
    kind: 'int',
    default: 300,
    min: 0,
    origin: 'Pulsar',
    doc: 'A token with a kid missing from the cached key set refetches the key set, at most once per this many seconds (key rotation).',
  },
  openIDHttpReadTimeoutMillis: {
    kind: 'int',
    default: 10_000,
    min: 1,
    origin: 'Pulsar',
    doc: 'Timeout of each request to an OpenID issuer (metadata, key set).',
  },
  tlsCertificateFilePath: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Server certificate (PEM, leaf first, then intermediates) of SSL/SASL_SSL listeners. With tlsKeyFilePath. Empty, and no kopSslKeystoreLocation: development certificates are created in tlsDevCertsDirectory (see docs/tls.md).',
  },
  tlsKeyFilePath: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Private key (PEM, PKCS#8 or PKCS#1/SEC1, unencrypted) of tlsCertificateFilePath.',
  },
  tlsTrustCertsFilePath: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'CA certificates (PEM) that client certificates are checked against (mutual TLS). When set, clients may present a certificate; see tlsRequireTrustedClientCertOnConnect.',
  },
  tlsRequireTrustedClientCertOnConnect: {
    kind: 'bool',
    default: false,
    origin: 'Pulsar',
    doc: 'Mutual TLS: SSL/SASL_SSL clients must present a certificate signed by tlsTrustCertsFilePath (or the trust store). On SSL listeners its subject CN is the principal.',
  },
  tlsAllowInsecureConnection: {
    kind: 'bool',
    default: false,
    origin: 'Pulsar',
    doc: 'Accept client certificates that do not verify against the trust certificates; such a certificate then names no principal.',
  },
  tlsProtocols: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'TLS versions accepted, comma-separated: TLSv1.3 and/or TLSv1.2. Empty: TLSv1.3,TLSv1.2 (TLS 1.2 minimum). Older versions are refused.',
    check: (v: string) => void parseTlsProtocols(v),
  },
  tlsCiphers: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Cipher suites, comma-separated, Java/IANA (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256) or OpenSSL names; list TLS 1.3 suites (TLS_AES_128_GCM_SHA256) too or TLS 1.3 has none. Empty: Node.js defaults.',
    check: (v: string) => void parseTlsCiphers(v),
  },
  tlsCertRefreshCheckDurationSec: {
    kind: 'int',
    default: 300,
    min: 0,
    origin: 'Pulsar',
    doc: 'How often the certificate, key and trust files are checked for changes; changed files are loaded for new connections without a restart (a broken file is logged and the current certificate kept). 0: check at every new connection.',
  },
  tlsDevCertsDirectory: {
    kind: 'string',
    default: './certs',
    origin: 'gateway',
    doc: 'Where development certificates (ca.pem, server.pem, keys) are created and reused when a TLS listener has no certificate configured; also the default of `kop-gateway certs create`.',
  },
  kopSslKeystoreType: {
    kind: 'string',
    default: 'PKCS12',
    origin: 'KoP',
    doc: 'Type of kopSslKeystoreLocation: PKCS12, JKS (keytool; the key protected with the store password), or PEM (one file with the private key and the certificate chain). A file that starts like a JKS store is read as JKS whatever the type.',
    check: (v: string) => void parseStoreType(v),
  },
  kopSslKeystoreLocation: {
    kind: 'string',
    default: '',
    origin: 'KoP',
    doc: 'Key store with the server key and certificate chain, instead of tlsCertificateFilePath/tlsKeyFilePath.',
  },
  kopSslKeystorePassword: {
    kind: 'string',
    default: '',
    origin: 'KoP',
    sensitive: true,
    doc: 'Password of kopSslKeystoreLocation (and of its key).',
  },
  kopSslTruststoreType: {
    kind: 'string',
    default: 'PKCS12',
    origin: 'KoP',
    doc: 'Type of kopSslTruststoreLocation: PKCS12, JKS or PEM.',
    check: (v: string) => void parseStoreType(v),
  },
  kopSslTruststoreLocation: {
    kind: 'string',
    default: '',
    origin: 'KoP',
    doc: 'Trust store with the CA certificates for client certificates, instead of tlsTrustCertsFilePath.',
  },
  kopSslTruststorePassword: {
    kind: 'string',
    default: '',
    origin: 'KoP',
    sensitive: true,
    doc: 'Password of kopSslTruststoreLocation.',
  },
  authorizationEnabled: {
    kind: 'bool',
    default: false,
    origin: 'Pulsar',
    doc: 'Check every request against Pulsar\'s permission model (superUserRoles, tenant adminRoles, namespace/topic grants, subscription permissions; see docs/authorization.md). When false every request is allowed (and still audited).',
  },
  superUserRoles: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Comma-separated roles allowed everything (exact names, no wildcards).',
  },
  anonymousUserRole: {
    kind: 'string',
    default: '',
    origin: 'Pulsar',
    doc: 'Role of clients that do not authenticate (PLAINTEXT/SSL listeners without a client certificate). Empty: they have no role and are denied everything when authorization is enabled.',
  },
  authorizationAllowWildcardsMatching: {
    kind: 'bool',
    default: false,
    origin: 'Pulsar',
    doc: 'A granted role with \'*\' as its first or last character matches roles by suffix or prefix (Pulsar\'s wildcard matching of namespace and topic grants).',
  },
  policiesDirectory: {
    kind: 'string',
    default: './policies',
    origin: 'gateway',
    doc: 'Directory of the tenant policy files (<tenant>.json/.yaml/.yml) read when authorizationEnabled=true; watched and reloaded on change (see docs/authorization.md).',
  },
  policiesRefreshIntervalMs: {
    kind: 'int',
    default: 10_000,
    min: 100,
    origin: 'gateway',
    doc: 'Periodic rescan of policiesDirectory, in addition to watching it: the longest a changed or revoked grant takes to apply when the file system reports no change event.',
  },
  auditLogFile: {
    kind: 'string',
    default: './logs/audit.log',
    origin: 'gateway',
    doc: 'Audit access log (JSON lines, schema in docs/audit-log.md): a file (directories are created), - for stdout, or empty to disable (refused when authenticationEnabled or authorizationEnabled is true). A file that cannot be opened at start fails the start.',
  },
  auditLogSigningKeyFile: {
    kind: 'string',
    default: '',
    origin: 'gateway',
    doc: 'Key that signs the audit log\'s checkpoints (a record at each rotation and after audit_stopped, docs/audit-log.md#tamper-evidence): a PEM Ed25519 private key (verifiers need only its public key), or a file holding a secret of at least 32 bytes (HMAC-SHA256; verifiers need the secret). Empty: records are still hash-chained, but no checkpoint is signed. `kop-gateway audit verify --key FILE` checks them.',
  },
  auditSummaryIntervalMs: {
    kind: 'int',
    default: 300_000,
    min: 0,
    origin: 'gateway',
    doc: 'Allowed accesses are summarised per connection and written when it closes, and every this often for long-lived connections. 0: only at close.',
  },
  auditAggregationIntervalMs: {
    kind: 'int',
    default: 60_000,
    min: 0,
    origin: 'gateway',
    doc: 'Audit volume bound: identical repeated denials, failed authentications and filtered listings within this interval are written once and then counted into one `repeated` record, and connections that never authenticate are counted into one `connections_unauthenticated` record per interval (docs/audit-log.md). 0: every record written one by one.',
  },
  kopSchemaRegistryEnable: {
    kind: 'bool',
    default: false,
    origin: 'KoP',
    doc: 'Serve the Confluent-compatible schema registry (REST API on its own listener, docs/schema-registry.md): subjects per tenant/namespace, HTTP Basic (user tenant/namespace, password token:<jwt>) or Bearer tokens as on the Kafka listeners, Pulsar permissions, audited. On in the development profile.',
  },
  kopSchemaRegistryPort: {
    kind: 'int',
    default: 8001,
    min: 0,
    origin: 'KoP',
    doc: 'Port of the schema registry listener (0 picks a free port).',
    check: (v: number) => {
      if (v > 65535) throw new Error(`port ${v} out of range`);
    },
  },
  schemaRegistryBindAddress: {
    kind: 'string',
    default: '127.0.0.1',
    origin: 'gateway',
    doc: 'Address the schema registry listener binds (0.0.0.0 or :: for every interface).',
  },
  schemaRegistryTlsEnabled: {
    kind: 'bool',
    default: false,
    origin: 'gateway',
    doc: 'Serve the schema registry over https with the Kafka listeners\' certificate (docs/tls.md; development certificates when none is configured).',
  },
  schemaRegistryDefaultCompatibility: {
    kind: 'enum',
    default: 'BACKWARD',
    values: ['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE'],
    origin: 'gateway',
    doc: 'Compatibility level of a tenant/namespace whose /config was never set (Confluent: schema.compatibility.level). Must be equal on every gateway node of a cluster.',
  },
  schemaRegistryMaxSchemaBytes: {
    kind: 'int',
    default: 256 * 1024,
    min: 1,
    origin: 'gateway',
    doc: 'Largest schema text accepted (bytes); a larger one is refused with 422/42201.',
  },
  schemaRegistryMaxRequestBytes: {
    kind: 'int',
    default: 1 * MiB,
    min: 1024,
    origin: 'gateway',
    doc: 'Largest request body accepted by the schema registry (bytes); larger: 413, and the connection is closed.',
  },
  schemaRegistryRegistrationsPerSecond: {
    kind: 'int',
    default: 10,
    min: 0,
    origin: 'gateway',
    doc: 'Schema registrations per second per principal (a burst of one second\'s worth); more: 429/42901 with Retry-After. 0: unbounded.',
  },
  schemaRegistryMaxVersionsPerNamespace: {
    kind: 'int',
    default: 10_000,
    min: 1,
    origin: 'gateway',
    doc: 'Schema versions (live and soft-deleted) one tenant/namespace may hold; more: 422/42209. Must be equal on every gateway node of a cluster.',
  },
  schemaRegistryMaxConnections: {
    kind: 'int',
    default: 1000,
    min: 1,
    origin: 'gateway',
    doc: 'Open connections to the schema registry listener; more are refused.',
  },
  opsListener: {
    kind: 'string',
    default: '',
    origin: 'gateway',
    profileSafe: true,
    doc: 'Operations listener, http://host:port or https://host:port (https: the Kafka listeners\' certificate): /metrics (Prometheus, OpenMetrics), /health/live, /health/ready (see docs/metrics.md). Empty: off (the development profile uses http://127.0.0.1:8085). Keep it on a loopback or management network.',
    check: (v: string) => void parseOpsListener(v),
  },
  opsListenerToken: {
    kind: 'string',
    default: '',
    origin: 'gateway',
    sensitive: true,
    doc: 'Bearer token required on /metrics of opsListener (Authorization: Bearer <token>), or file:<path> of a file holding it. Empty: /metrics is open to whoever reaches opsListener. The health endpoints never need it.',
  },
  metricsEnabled: {
    kind: 'bool',
    default: true,
    origin: 'gateway',
    profileSafe: true,
    doc: 'With opsListener: collect and serve Prometheus metrics on /metrics. false: the listener serves only the health endpoints and the data path records nothing.',
  },
  metricsTopicLabel: {
    kind: 'bool',
    default: true,
    origin: 'gateway',
    profileSafe: true,
    doc: 'Per-topic series for bytes/records in and out and storage segments. false: per tenant/namespace only (for deployments with many topics).',
  },
  metricsLagMaxPartitions: {
    kind: 'int',
    default: 10_000,
    min: 0,
    origin: 'gateway',
    profileSafe: true,
    doc: 'Most consumer-lag series (group, topic, partition) one scrape reports; lag is computed at scrape time from committed offsets and high watermarks. Series beyond it are counted in kop_gateway_consumer_lag_series_dropped.',
  },
  logLevel: {
    kind: 'enum',
    default: 'info',
    values: ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'],
    origin: 'gateway',
    profileSafe: true,
    doc: 'Log level of the JSON log on stdout.',
  },
  logPretty: {
    kind: 'enum',
    default: 'auto',
    values: ['auto', 'true', 'false'],
    origin: 'gateway',
    profileSafe: true,
    doc: 'Human-readable logs: auto = when stdout is a terminal.',
  },
} as const satisfies Record<string, KeySpec>;

export type ConfigKey = keyof typeof SCHEMA;

type ValueOf<S> = S extends { kind: 'int' } ? number : S extends { kind: 'bool' } ? boolean : S extends { values: readonly (infer V)[] } ? V : string;

export type GatewayConfig = { -readonly [K in ConfigKey]: ValueOf<(typeof SCHEMA)[K]> };

export function envName(key: string): string {
  return 'KOP_' + key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}
