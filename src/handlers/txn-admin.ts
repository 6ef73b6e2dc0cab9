/**
 * Transaction administration (what `kafka-transactions.sh list|describe|
 * describe-producers|abort` sends): DescribeTransactions (65), ListTransactions (66,
 * v0-v1), DescribeProducers (61) and WriteTxnMarkers (27, v1).
 *
 * Authorization: a transactional id is described or listed with `lookup`
 * (produce or consume grant) in its home namespace (Kafka: DESCRIBE on the
 * transactional id). DescribeTransactions answers
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED per id; ListTransactions leaves out the
 * ids the session may not see (a filtered listing, one access_filtered audit
 * record) and only ever lists the session's tenant. DescribeProducers needs
 * `consume` on each topic (Kafka: READ; TOPIC_AUTHORIZATION_FAILED per partition).
 * WriteTxnMarkers is what brokers send each other and what `kafka-transactions.sh
 * abort` sends to end a hanging transaction on a partition: Kafka requires
 * CLUSTER_ACTION, here the cluster permission (superusers); without it every
 * partition gets CLUSTER_AUTHORIZATION_FAILED and nothing else is checked.
 * Topic names are shown as the client names them (relative to its namespace).
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type {
  DescribeProducersRequest,
  DescribeProducersResponse,
  DescribeTransactionsRequest,
  DescribeTransactionsResponse,
  ListTransactionsRequest,
  ListTransactionsResponse,
  WriteTxnMarkersRequest,
  WriteTxnMarkersResponse,
} from '../protocol/generated/index.js';
import { StorageError } from '../storage/engine.js';
import { isInternalTopic } from '../topics/names.js';
import { TXN_STATES, type TxnState } from '../coordinator/txn/metadata.js';
import { kafkaNameFor } from '../topics/names.js';
import { TopicResolver, partitionExists } from './topic-lookup.js';
import { authorizeTxn } from './txn-common.js';

type TxnStateOut = DescribeTransactionsResponse['transactionStates'][number];

function describeFailed(transactionalId: string, errorCode: number): TxnStateOut {
  return { errorCode, transactionalId, transactionState: '', transactionTimeoutMs: 0, transactionStartTimeMs: -1n, producerId: -1n, producerEpoch: -1, topics: [] };
}

export const describeTransactions: ApiEntry<DescribeTransactionsRequest, DescribeTransactionsResponse> = {
  apiKey: API_KEYS.DescribeTransactions,
  minVersion: 0,
  maxVersion: 0,
  rule: 'transaction',
  authz: {
    checks: [{ action: 'lookup', on: 'transactional-id', denial: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED on the id' }],
    needs: (request): Need[] => request.transactionalIds.map((transactionalId): Need => ({ on: 'transactional-id', action: 'lookup', transactionalId })),
  },
  async handle(ctx, request) {
    const ns = ctx.session.defaultNamespace;
    const states = await Promise.all(
      request.transactionalIds.map(async (id): Promise<TxnStateOut> => {
        const access = await authorizeTxn(ctx, id, 'lookup');
        if (!access.ok) return describeFailed(id, access.errorCode);
        const d = access.coordinator.describe(access.ref);
        if (d.errorCode !== ErrorCode.NONE) return describeFailed(id, d.errorCode);
        const byTopic = new Map<string, number[]>();
        for (const p of d.partitions) {
          const name = kafkaNameFor(p.topic, ns);
          let list = byTopic.get(name);
          if (!list) byTopic.set(name, (list = []));
          list.push(p.partition);
        }
        return {
          errorCode: ErrorCode.NONE,
          transactionalId: id,
          transactionState: d.state,
          transactionTimeoutMs: d.txnTimeoutMs,
          transactionStartTimeMs: BigInt(d.txnStartTimestamp),
          producerId: d.producerId,
          producerEpoch: d.producerEpoch,
          topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions: partitions.sort((a, b) => a - b) })),
        };
      }),
    );
    return { throttleTimeMs: 0, transactionStates: states };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, transactionStates: request.transactionalIds.map((id) => describeFailed(id, errorCode)) };
  },
};

export const listTransactions: ApiEntry<ListTransactionsRequest, ListTransactionsResponse> = {
  apiKey: API_KEYS.ListTransactions,
  minVersion: 0,
  maxVersion: 1,
  rule: 'transaction',
  authz: {
    checks: [{ action: 'lookup', on: 'transactional-id-listing', denial: 'the id is left out (one access_filtered record)' }],
    needs: (): Need[] => [{ on: 'transactional-id-listing', action: 'lookup' }],
  },
  async handle(ctx, request) {
    const coordinator = ctx.gateway.transactions;
    const unknownStateFilters = request.stateFilters.filter((s) => !TXN_STATES.includes(s as TxnState));
    if (!coordinator) return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, unknownStateFilters, transactionStates: [] };
    const tenant = ctx.session.defaultNamespace.tenant;
    const states = request.stateFilters.filter((s): s is TxnState => TXN_STATES.includes(s as TxnState));
    // Kafka: state filters that are all unknown match nothing
    if (request.stateFilters.length > 0 && states.length === 0) return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, unknownStateFilters, transactionStates: [] };
    const listed = coordinator.list(tenant, states, request.producerIdFilters, ctx.apiVersion >= 1 ? Number(request.durationFilter) : -1);
    const shown: ListTransactionsResponse['transactionStates'] = [];
    for (const t of listed.transactions) {
      if (await ctx.access.transactionalId({ tenant, namespace: t.home, transactionalId: t.transactionalId }, 'lookup', { listing: true })) {
        shown.push({ transactionalId: t.transactionalId, producerId: t.producerId, transactionState: t.state });
      }
    }
    return { throttleTimeMs: 0, errorCode: listed.errorCode, unknownStateFilters, transactionStates: shown };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, unknownStateFilters: [], transactionStates: [] };
  },
};

type PartitionOut = DescribeProducersResponse['topics'][number]['partitions'][number];

export const describeProducers: ApiEntry<DescribeProducersRequest, DescribeProducersResponse> = {
  apiKey: API_KEYS.DescribeProducers,
  minVersion: 0,
  maxVersion: 0,
  rule: 'topic-consume',
  authz: {
    checks: [{ action: 'consume', on: 'topic', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' }],
    needs: (request) => topicsNamed('consume', request.topics.map((t) => t.name)),
  },
  async handle(ctx, request) {
    const resolver = new TopicResolver(ctx);
    const storage = ctx.gateway.storage;
    const failed = (partitionIndex: number, errorCode: number, errorMessage: string | null = null): PartitionOut => ({ partitionIndex, errorCode, errorMessage, activeProducers: [] });
    const topics = await Promise.all(
      request.topics.map(async (t) => {
        const found = await resolver.lookup(t.name);
        const allowed = found.name ? await ctx.access.topic(found.name, 'consume') : true;
        const partitions = await Promise.all(
          t.partitionIndexes.map(async (p): Promise<PartitionOut> => {
            if (!allowed) return failed(p, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
            if (!found.ok) return failed(p, found.code === ErrorCode.INVALID_TOPIC_EXCEPTION ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : found.code, found.message);
            if (!partitionExists(found.info, p)) return failed(p, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
            try {
              const producers = await storage.describeProducers({ topic: found.info.name, partition: p });
              return { partitionIndex: p, errorCode: ErrorCode.NONE, errorMessage: null, activeProducers: producers.map((s) => ({ ...s })) };
            } catch (err) {
              if (err instanceof KafkaError) return failed(p, err.code, err.message);
              throw err;
            }
          }),
        );
        return { name: t.name, partitions };
      }),
    );
    return { throttleTimeMs: 0, topics };
  },
};

// ---------------------------------------------------------------- WriteTxnMarkers

function markersFailed(request: WriteTxnMarkersRequest, errorCode: number): WriteTxnMarkersResponse {
  return {
    markers: request.markers.map((m) => ({
      producerId: m.producerId,
      topics: m.topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes.map((partitionIndex) => ({ partitionIndex, errorCode })) })),
    })),
  };
}

/**
 * Version notes: v0 was removed in Kafka 4.0 (KIP-896); v1 is flexible. Each marker
 * is written to its partitions as the transaction coordinator writes them (the
 * engine fences it as Kafka's log does: INVALID_PRODUCER_EPOCH for an older
 * producer epoch, TRANSACTION_COORDINATOR_FENCED for an older coordinator epoch);
 * the transaction coordinator's own state is not touched, as in Kafka. Unknown
 * topics, partitions and internal topics: UNKNOWN_TOPIC_OR_PARTITION.
 */
export const writeTxnMarkers: ApiEntry<WriteTxnMarkersRequest, WriteTxnMarkersResponse> = {
  apiKey: API_KEYS.WriteTxnMarkers,
  minVersion: 1,
  maxVersion: 1,
  rule: 'transaction',
  authz: {
    checks: [
      { action: 'admin', on: 'cluster', denial: 'CLUSTER_AUTHORIZATION_FAILED on every partition' },
      { action: 'produce', on: 'topic', when: 'the cluster allowed (superusers may produce anywhere)', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' },
    ],
    needs: (request): Need[] => [{ on: 'cluster', action: 'admin', gates: true }, ...topicsNamed('produce', request.markers.flatMap((m) => m.topics.map((t) => t.name)))],
  },
  async handle(ctx, request) {
    if (!(await ctx.access.cluster())) return markersFailed(request, ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const resolver = new TopicResolver(ctx);
    const storage = ctx.gateway.storage;
    const markers = [];
    for (const m of request.markers) {
      const topics = [];
      for (const t of m.topics) {
        const found = await resolver.lookup(t.name);
        const allowed = found.name ? await ctx.access.topic(found.name, 'produce') : true;
        const partitions = [];
        for (const partitionIndex of t.partitionIndexes) {
          let errorCode: number = ErrorCode.NONE;
          if (!allowed) errorCode = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
          else if (!found.ok || isInternalTopic(found.name) || !partitionExists(found.info, partitionIndex)) errorCode = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
          else {
            try {
              const marker = { producerId: m.producerId, producerEpoch: m.producerEpoch, commit: m.transactionResult, coordinatorEpoch: m.coordinatorEpoch };
              const { offset } = await storage.writeTxnMarker({ topic: found.info.name, partition: partitionIndex }, marker, { principal: ctx.session.principal });
              ctx.log.info({ conn: ctx.conn.id, principal: ctx.session.principal, topic: found.info.name, partition: partitionIndex, ...marker, offset }, 'transaction marker written (WriteTxnMarkers)');
            } catch (err) {
              if (!(err instanceof StorageError) && !(err instanceof KafkaError)) throw err;
              errorCode = err.code;
              ctx.log.warn({ conn: ctx.conn.id, topic: found.info.name, partition: partitionIndex, producerId: m.producerId, err: err.message }, 'transaction marker refused (WriteTxnMarkers)');
            }
          }
          partitions.push({ partitionIndex, errorCode });
        }
        topics.push({ name: t.name, partitions });
      }
      markers.push({ producerId: m.producerId, topics });
    }
    return { markers };
  },
  errorResponse(request, errorCode) {
    return markersFailed(request, errorCode);
  },
};
