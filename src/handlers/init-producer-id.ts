/**
 * InitProducerId (22).
 *
 * Without a transactional id (idempotent producers): a fresh producer id
 * (epoch 0), or, when the client names its current id and epoch (v3+, KIP-360),
 * the same id with the epoch bumped so it can reset its sequences after an error.
 *
 * With a transactional id: the transaction coordinator (src/coordinator/txn/)
 * answers, as Kafka's does: the id's producer id with its epoch bumped (fencing
 * every older producer of the id), a transaction of the previous epoch still
 * Ongoing aborted first (the client gets CONCURRENT_TRANSACTIONS and retries),
 * KIP-360/588 recovery when the request names the producer id and epoch it has,
 * INVALID_TRANSACTION_TIMEOUT above `transactionMaxTimeoutMs`, PRODUCER_FENCED
 * (INVALID_PRODUCER_EPOCH below v4) for a producer that is no longer current.
 *
 * Authorization: a transactional id needs `produce` on it in its home namespace
 * (the session's namespace, which becomes its home, for a new id);
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED otherwise (Kafka: WRITE on the
 * transactional id). Without one (Kafka: IDEMPOTENT_WRITE on the cluster, or
 * WRITE on any topic, KIP-679): `produce` in the session's namespace, by a
 * namespace grant or a grant on one of its topics (tenant admins and superusers
 * pass); CLUSTER_AUTHORIZATION_FAILED otherwise. Every decision audited. Bound:
 * each InitProducerId that may allocate an id (a new idempotent producer, any
 * transactional one) counts against the principal's `quotaProducerIdRate`
 * (ids per second, measured like the byte-rate quotas); above it the response
 * carries throttle_time_ms and the connection is muted that long, so neither one
 * connection nor one principal can flood the allocator.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/generated/index.js';
import { authorizeTxn, fencedFor } from './txn-common.js';

const MAX_EPOCH = 32767;

function failed(errorCode: number): InitProducerIdResponse {
  return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
}

/** Count one InitProducerId against the principal's quotaProducerIdRate; the throttle time (0: none). */
function recordProducerIdQuota(ctx: RequestContext): number {
  const quota = ctx.gateway.quotas?.producerIds;
  const throttleTimeMs = quota?.enabled ? quota.record(ctx.session.principal ?? '', 1) : 0;
  if (throttleTimeMs > 0) {
    ctx.throttleMs = throttleTimeMs;
    ctx.log.info({ conn: ctx.conn.id, principal: ctx.session.principal, throttleTimeMs }, 'producer id allocation above quotaProducerIdRate: throttled');
  }
  return throttleTimeMs;
}

export const initProducerId: ApiEntry<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: API_KEYS.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  rule: 'transaction',
  authz: {
    checks: [
      { action: 'produce', on: 'namespace', when: 'no transactional id', denial: 'CLUSTER_AUTHORIZATION_FAILED' },
      { action: 'produce', on: 'transactional-id', when: 'a transactional id', denial: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED' },
    ],
    needs: (request): Need[] =>
      request.transactionalId === null ? [{ on: 'namespace', action: 'produce' }] : [{ on: 'transactional-id', action: 'produce', transactionalId: request.transactionalId }],
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    if (request.transactionalId !== null) {
      const access = await authorizeTxn(ctx, request.transactionalId);
      if (!access.ok) return failed(access.errorCode);
      // a new transactional id (or a rotation) allocates a producer id: the same bound as idempotent producers
      const throttleTimeMs = recordProducerIdQuota(ctx);
      let expected: { producerId: bigint; epoch: number } | null = null;
      if (v >= 3 && (request.producerId !== -1n || request.producerEpoch !== -1)) {
        if (request.producerId === -1n || request.producerEpoch === -1) return failed(ErrorCode.INVALID_REQUEST);
        expected = { producerId: request.producerId, epoch: request.producerEpoch };
      }
      const r = await access.coordinator.initProducerId(access.ref, request.transactionTimeoutMs, expected);
      return { throttleTimeMs, errorCode: fencedFor(r.errorCode, v, 4), producerId: r.producerId, producerEpoch: r.producerEpoch };
    }
    if (!(await ctx.access.namespace(ctx.session.defaultNamespace, 'produce'))) return failed(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    if (v >= 3 && request.producerId >= 0n) {
      if (request.producerEpoch < 0) return failed(ErrorCode.INVALID_REQUEST);
      if (request.producerEpoch < MAX_EPOCH) {
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: request.producerId, producerEpoch: request.producerEpoch + 1 };
      }
      // Epoch exhausted: a new producer id, as Kafka does.
    }
    const throttleTimeMs = recordProducerIdQuota(ctx);
    const producerId = await ctx.gateway.storage.allocateProducerId();
    return { throttleTimeMs, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
  errorResponse(_request, errorCode) {
    return failed(errorCode);
  },
};
