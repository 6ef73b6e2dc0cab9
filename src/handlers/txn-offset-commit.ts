/**
 * TxnOffsetCommit (28, v0-v4): a transactional producer commits its consumer's
 * offsets as part of its transaction (sent to the group's coordinator). The
 * group coordinator keeps them pending, durable but invisible to OffsetFetch
 * (UNSTABLE_OFFSET_COMMIT with require_stable), until the transaction
 * coordinator ends the transaction: committed offsets on COMMIT, dropped on
 * ABORT (src/coordinator/coordinator.ts, commitTxnOffsets/completeTxnOffsets).
 *
 * Authorization, in Kafka's order: `produce` on the transactional id
 * (TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every partition; in its home when
 * this node coordinates the id, else in the session's namespace: the group's
 * coordinator need not be the id's), then `consume` on the group in its home
 * (GROUP_AUTHORIZATION_FAILED on every partition), then `consume` on each topic
 * (TOPIC_AUTHORIZATION_FAILED on its partitions). Unknown topics or partitions
 * get UNKNOWN_TOPIC_OR_PARTITION. v0-1 clients get COORDINATOR_NOT_AVAILABLE
 * for COORDINATOR_LOAD_IN_PROGRESS (as Kafka answers them).
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { TxnOffsetCommitRequest, TxnOffsetCommitResponse } from '../protocol/generated/index.js';
import { authorizeGroup, commitSlots } from './group-common.js';

function everyPartition(request: TxnOffsetCommitRequest, errorCode: number): TxnOffsetCommitResponse {
  return { throttleTimeMs: 0, topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })) })) };
}

export const txnOffsetCommit: ApiEntry<TxnOffsetCommitRequest, TxnOffsetCommitResponse> = {
  apiKey: API_KEYS.TxnOffsetCommit,
  minVersion: 0,
  maxVersion: 4,
  rule: 'transaction',
  authz: {
    checks: [
      { action: 'produce', on: 'transactional-id', when: "in the session's namespace when another node coordinates the id", denial: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED on every partition' },
      { action: 'consume', on: 'group', when: 'the transactional id allowed', denial: 'GROUP_AUTHORIZATION_FAILED on every partition' },
      { action: 'consume', on: 'topic', when: 'the transactional id and the group allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' },
    ],
    needs: (request): Need[] => [
      { on: 'transactional-id', action: 'produce', transactionalId: request.transactionalId, anyNode: true },
      { on: 'group', action: 'consume', group: request.groupId },
      ...topicsNamed('consume', request.topics.map((t) => t.name), 'topic', { group: request.groupId, action: 'consume' }),
    ],
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    const legacy = (code: number) => (v < 2 && code === ErrorCode.COORDINATOR_LOAD_IN_PROGRESS ? ErrorCode.COORDINATOR_NOT_AVAILABLE : code);
    const txn = await ctx.access.txnAccess(request.transactionalId, 'produce');
    if (!txn.allowed) return everyPartition(request, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    const access = await authorizeGroup(ctx, request.groupId);
    if (!access.ok) return everyPartition(request, legacy(access.errorCode));
    const { out, toCommit, settle } = await commitSlots(
      ctx,
      request.topics,
      (p) => ({ leaderEpoch: v >= 2 ? p.committedLeaderEpoch : -1, commitTimestamp: -1n }),
      (code) => (code === ErrorCode.INVALID_TOPIC_EXCEPTION ? ErrorCode.UNKNOWN_TOPIC_OR_PARTITION : code),
    );
    if (toCommit.length > 0) {
      const codes = await access.coordinator.commitTxnOffsets({
        key: access.ref,
        producerId: request.producerId,
        producerEpoch: request.producerEpoch,
        generationId: v >= 3 ? request.generationId : -1,
        memberId: v >= 3 ? request.memberId : '',
        groupInstanceId: v >= 3 ? request.groupInstanceId : null,
        offsets: toCommit,
      });
      settle(codes, legacy);
    }
    return { throttleTimeMs: 0, topics: out };
  },
  errorResponse(request, errorCode) {
    return everyPartition(request, errorCode);
  },
};
