/**
 * The transactional producer's APIs, served by the transaction coordinator
 * (src/coordinator/txn/): AddPartitionsToTxn (24, v0-v3: the versions clients
 * send), AddOffsetsToTxn (25, v0-v4) and EndTxn (26, v0-v4). InitProducerId
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
import type { ApiEntry } from '../dispatch/registry.js';
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

function addPartitionsResponse(results: TopicResult[]): AddPartitionsToTxnResponse {
  return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, resultsByTransaction: [], resultsByTopicV3AndBelow: results };
}

function everyPartition(request: AddPartitionsToTxnRequest, code: (topic: number, partition: number) => number): TopicResult[] {
  return request.v3AndBelowTopics.map((t, ti) => ({ name: t.name, resultsByPartition: t.partitions.map((p, pi) => ({ partitionIndex: p, partitionErrorCode: code(ti, pi) })) }));
}

export const addPartitionsToTxn: ApiEntry<AddPartitionsToTxnRequest, AddPartitionsToTxnResponse> = {
  apiKey: API_KEYS.AddPartitionsToTxn,
  minVersion: 0,
  maxVersion: 3,
  rule: 'transaction',
  authz: {
    checks: [
      { action: 'produce', on: 'transactional-id', denial: `${TXN_DENIED} on every partition` },
      { action: 'produce', on: 'topic', when: 'the transactional id allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic, OPERATION_NOT_ATTEMPTED on the others' },
    ],
    needs: (request): Need[] => [
      { on: 'transactional-id', action: 'produce', transactionalId: request.v3AndBelowTransactionalId },
      ...topicsNamed('produce', request.v3AndBelowTopics.map((t) => t.name)),
    ],
  },
  async handle(ctx, request) {
    const access = await authorizeTxn(ctx, request.v3AndBelowTransactionalId);
    if (!access.ok) return addPartitionsResponse(everyPartition(request, () => access.errorCode));
    const resolver = new TopicResolver(ctx);
    const codes: number[][] = [];
    const partitions: TxnPartition[] = [];
    let failed = false;
    for (const t of request.v3AndBelowTopics) {
      const found = await resolver.lookup(t.name);
      const allowed = found.name ? await ctx.access.topic(found.name, 'produce') : true;
      const row: number[] = [];
      for (const p of t.partitions) {
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
      // Kafka: any failed partition fails the request; the rest were not attempted.
      return addPartitionsResponse(everyPartition(request, (ti, pi) => (codes[ti]![pi] === ErrorCode.NONE ? ErrorCode.OPERATION_NOT_ATTEMPTED : codes[ti]![pi]!)));
    }
    const code = await access.coordinator.addToTransaction(access.ref, request.v3AndBelowProducerId, request.v3AndBelowProducerEpoch, partitions, []);
    const answer = fencedFor(code, ctx.apiVersion, 2);
    return addPartitionsResponse(everyPartition(request, () => answer));
  },
  errorResponse(request, errorCode) {
    return addPartitionsResponse(everyPartition(request, () => errorCode));
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
