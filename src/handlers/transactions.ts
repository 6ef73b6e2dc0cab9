/**
 * The transactional producer's APIs, served by the transaction coordinator
 * (src/coordinator/txn/): AddPartitionsToTxn (24; v0-v3 from clients, v4-v5
 * batches of several transactions, with verify-only ones, from brokers: the
 * cluster permission, superusers), AddOffsetsToTxn (25, v0-v4) and EndTxn (26, v0-v4). InitProducerId
 * with a transactional id is in init-producer-id.ts, TxnOffsetCommit in
 * txn-offset-commit.ts.
 *
 * Authorization (txn-common.ts; Kafka's KafkaApis order): `produce` on the
 * transactional id in its home namespace first (TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
 * on every partition for AddPartitionsToTxn); then AddPartitionsToTxn needs
 * `produce` on each topic added (TOPIC_AUTHORIZATION_FAILED on its partitions,
 * the others OPERATION_NOT_ATTEMPTED, nothing added), and AddOffsetsToTxn
 * `consume` on the group (GROUP_AUTHORIZATION_FAILED), in the group's home when
 * this node coordinates the group, else in the session's namespace (the
 * offsets themselves are checked in the home by TxnOffsetCommit).
 *
 * A fenced producer gets PRODUCER_FENCED, or INVALID_PRODUCER_EPOCH below v2.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type {
  AddOffsetsToTxnRequest,
  AddOffsetsToTxnResponse,
  AddPartitionsToTxnRequest,
  AddPartitionsToTxnResponse,
  EndTxnRequest,
  EndTxnResponse,
} from '../protocol/generated/index.js';
import type { TxnPartition } from '../coordinator/txn/metadata.js';
import { isInternalTopic } from '../topics/names.js';
import { TopicResolver, partitionExists } from './topic-lookup.js';
import { authorizeTxn, fencedFor } from './txn-common.js';

const TXN_DENIED = 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED';

// ---------------------------------------------------------------- AddPartitionsToTxn

type TopicResult = AddPartitionsToTxnResponse['resultsByTopicV3AndBelow'][number];
type TopicRequest = AddPartitionsToTxnRequest['v3AndBelowTopics'][number];

/** One transaction of the request (v0-3: the only one; v4+: each of the batch). */
interface TxnToAdd {
  transactionalId: string;
  producerId: bigint;
  producerEpoch: number;
  verifyOnly: boolean;
  topics: TopicRequest[];
}

function transactionsOf(request: AddPartitionsToTxnRequest, apiVersion: number): TxnToAdd[] {
  if (apiVersion >= 4) return request.transactions;
  return [{ transactionalId: request.v3AndBelowTransactionalId, producerId: request.v3AndBelowProducerId, producerEpoch: request.v3AndBelowProducerEpoch, verifyOnly: false, topics: request.v3AndBelowTopics }];
}

function everyPartition(topics: TopicRequest[], code: (topic: number, partition: number) => number): TopicResult[] {
  return topics.map((t, ti) => ({ name: t.name, resultsByPartition: t.partitions.map((p, pi) => ({ partitionIndex: p, partitionErrorCode: code(ti, pi) })) }));
}

function addPartitionsResponse(apiVersion: number, results: Array<{ transactionalId: string; topicResults: TopicResult[] }>, errorCode: number = ErrorCode.NONE): AddPartitionsToTxnResponse {
  if (apiVersion >= 4) return { throttleTimeMs: 0, errorCode, resultsByTransaction: results, resultsByTopicV3AndBelow: [] };
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: [], resultsByTopicV3AndBelow: results[0]?.topicResults ?? [] };
}

/** One transaction's partitions: checked, then added (or, verify-only, looked up). */
async function addOne(ctx: RequestContext, resolver: TopicResolver, t: TxnToAdd): Promise<TopicResult[]> {
  const access = await authorizeTxn(ctx, t.transactionalId);
  if (!access.ok) return everyPartition(t.topics, () => access.errorCode);
  const codes: number[][] = [];
  const partitions: TxnPartition[] = [];
  let failed = false;
  for (const topic of t.topics) {
    const found = await resolver.lookup(topic.name);
    const allowed = found.name ? await ctx.access.topic(found.name, 'produce') : true;
    const row: number[] = [];
    for (const p of topic.partitions) {
      let code: number = ErrorCode.NONE;
      if (!allowed) code = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      else if (!found.ok) code = found.code === ErrorCode.INVALID_TOPIC_EXCEPTION ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : found.code;
      else if (isInternalTopic(found.name) || !partitionExists(found.info, p)) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      else partitions.push({ topic: found.name.full, partition: p });
      if (code !== ErrorCode.NONE) failed = true;
      row.push(code);
    }
    codes.push(row);
  }
  if (failed) {
    // Kafka: any failed partition fails the transaction's request; the rest were not attempted.
    return everyPartition(t.topics, (ti, pi) => (codes[ti]![pi] === ErrorCode.NONE ? ErrorCode.OPERATION_NOT_ATTEMPTED : codes[ti]![pi]!));
  }
  if (t.verifyOnly) {
    const v = access.coordinator.verifyPartitions(access.ref, t.producerId, t.producerEpoch, partitions);
    let i = 0;
    return everyPartition(t.topics, () => ('error' in v ? v.error : v.perPartition[i++]!));
  }
  const code = fencedFor(await access.coordinator.addToTransaction(access.ref, t.producerId, t.producerEpoch, partitions, []), ctx.apiVersion, 2);
  return everyPartition(t.topics, () => code);
}

export const addPartitionsToTxn: ApiEntry<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  apiKey: API_KEYS.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 5,
  rule: 'transaction',
  authz: {
    checks: [
      { action: 'admin', on: 'cluster', when: "v4+ (a broker's batch)", denial: 'CLUSTER_AUTHORIZATION_FAILED (top level)' },
      { action: 'produce', on: 'transactional-id', denial: `${TXN_DENIED} on every partition of the transaction` },
      { action: 'produce', on: 'topic', when: 'the transactional id allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic, OPERATION_NOT_ATTEMPTED on the others' },
    ],
    needs: (request, { apiVersion }): Need[] => {
      const txns = transactionsOf(request, apiVersion);
      return [
        ...(apiVersion >= 4 ? [{ on: 'cluster', action: 'admin' } as Need] : []),
        ...txns.map((t): Need => ({ on: 'transactional-id', action: 'produce', transactionalId: t.transactionalId })),
        ...topicsNamed('produce', txns.flatMap((t) => t.topics.map((x) => x.name))),
      ];
    },
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    // v4+ is what brokers send each other (Kafka: CLUSTER_ACTION)
    if (v >= 4 && !(await ctx.access.cluster())) return addPartitionsResponse(v, [], ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    const resolver = new TopicResolver(ctx);
    const results = [];
    for (const t of transactionsOf(request, v)) results.push({ transactionalId: t.transactionalId, topicResults: await addOne(ctx, resolver, t) });
    return addPartitionsResponse(v, results);
  },
  errorResponse(request, errorCode) {
    // both shapes (each version encodes its own): v0-3 the code on every partition, v4+ at the top level (Kafka's getErrorResponse)
    return { throttleTimeMs: 0, errorCode, resultsByTransaction: [], resultsByTopicV3AndBelow: everyPartition(request.v3AndBelowTopics, () => errorCode) };
  },
};

// ---------------------------------------------------------------- AddOffsetsToTxn

export const addOffsetsToTxn: ApiEntry<AddOffsetsToTxnRequest, AddOffsetsToTxnResponse> = {
  apiKey: API_KEYS.AddOffsetsToTxn,
  minVersion: 0,
  maxVersion: 4,
  rule: 'transaction',
  authz: {
    checks: [
      { action: 'produce', on: 'transactional-id', denial: TXN_DENIED },
      { action: 'consume', on: 'group', when: "the transactional id allowed; in the session's namespace when another node coordinates the group", denial: 'GROUP_AUTHORIZATION_FAILED' },
    ],
    needs: (request): Need[] => [
      { on: 'transactional-id', action: 'produce', transactionalId: request.transactionalId },
      { on: 'group', action: 'consume', group: request.groupId, anyNode: true },
    ],
  },
  async handle(ctx, request) {
    const access = await authorizeTxn(ctx, request.transactionalId);
    if (!access.ok) return { throttleTimeMs: 0, errorCode: access.errorCode };
    if (!(await ctx.access.groupAccess(request.groupId, 'consume')).allowed) return { throttleTimeMs: 0, errorCode: ErrorCode.GROUP_AUTHORIZATION_FAILED };
    const code = await access.coordinator.addToTransaction(access.ref, request.producerId, request.producerEpoch, [], [request.groupId]);
    return { throttleTimeMs: 0, errorCode: fencedFor(code, ctx.apiVersion, 2) };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
};

// ---------------------------------------------------------------- EndTxn

export const endTxn: ApiEntry<EndTxnRequest, EndTxnResponse> = {
  apiKey: API_KEYS.EndTxn,
  minVersion: 0,
  maxVersion: 4,
  rule: 'transaction',
  authz: {
    checks: [{ action: 'produce', on: 'transactional-id', denial: TXN_DENIED }],
    needs: (request): Need[] => [{ on: 'transactional-id', action: 'produce', transactionalId: request.transactionalId }],
  },
  async handle(ctx, request) {
    const access = await authorizeTxn(ctx, request.transactionalId);
    if (!access.ok) return { throttleTimeMs: 0, errorCode: access.errorCode, producerId: -1n, producerEpoch: -1 };
    const r = await access.coordinator.endTransaction(access.ref, request.producerId, request.producerEpoch, request.committed);
    return { throttleTimeMs: 0, errorCode: fencedFor(r.errorCode, ctx.apiVersion, 2), producerId: r.producerId, producerEpoch: r.producerEpoch };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
  },
};
