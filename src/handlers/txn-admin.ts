/**
 * Transaction administration (what `kafka-transactions.sh list|describe|
 * describe-producers` sends): DescribeTransactions (65), ListTransactions (66,
 * v0-v1) and DescribeProducers (61).
 *
 * Authorization: a transactional id is described or listed with `lookup`
 * (produce or consume grant) in its home namespace (Kafka: DESCRIBE on the
 * transactional id). DescribeTransactions answers
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED per id; ListTransactions leaves out the
 * ids the session may not see (a filtered listing, one access_filtered audit
 * record) and only ever lists the session's tenant. DescribeProducers needs
 * `consume` on each topic (Kafka: READ; TOPIC_AUTHORIZATION_FAILED per partition).
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
} from '../protocol/generated/index.js';
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
