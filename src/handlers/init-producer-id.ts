/**
 * InitProducerId (22) for idempotent producers: a fresh producer id (epoch 0),
 * or, when the client names its current id and epoch (v3+, KIP-360), the same
 * id with the epoch bumped so it can reset its sequences after an error.
 * Transactional ids are refused: this gateway has no transaction coordinator.
 *
 * Authorization (Kafka: IDEMPOTENT_WRITE on the cluster, or WRITE on any topic,
 * KIP-679): `produce` in the session's namespace, by a namespace grant or a
 * grant on one of its topics (tenant admins and superusers pass);
 * CLUSTER_AUTHORIZATION_FAILED otherwise, audited. Bound: each new id counts
 * against the principal's `quotaProducerIdRate` (ids per second, measured like
 * the byte-rate quotas); above it the response carries throttle_time_ms and the
 * connection is muted that long, so neither one connection nor one principal
 * can flood the allocator.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/generated/index.js';

const MAX_EPOCH = 32767;

function failed(errorCode: number): InitProducerIdResponse {
  return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
}

export const initProducerId: ApiEntry<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: API_KEYS.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  rule: 'authenticated',
  authz: {
    checks: [{ action: 'produce', on: 'namespace', when: 'no transactional id', denial: 'CLUSTER_AUTHORIZATION_FAILED (a transactional id: TRANSACTIONAL_ID_AUTHORIZATION_FAILED, refused before any check: no transactions)' }],
    needs: (request): Need[] => (request.transactionalId === null ? [{ on: 'namespace', action: 'produce' }] : []),
  },
  async handle(ctx, request) {
    if (request.transactionalId !== null) {
      ctx.log.info({ conn: ctx.conn.id, transactionalId: request.transactionalId }, 'transactional producer refused: transactions are not supported');
      return failed(ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED);
    }
    if (!(await ctx.access.namespace(ctx.session.defaultNamespace, 'produce'))) return failed(ErrorCode.CLUSTER_AUTHORIZATION_FAILED);
    if (ctx.apiVersion >= 3 && request.producerId >= 0n) {
      if (request.producerEpoch < 0) return failed(ErrorCode.INVALID_REQUEST);
      if (request.producerEpoch < MAX_EPOCH) {
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: request.producerId, producerEpoch: request.producerEpoch + 1 };
      }
      // Epoch exhausted: a new producer id, as Kafka does.
    }
    const quota = ctx.gateway.quotas?.producerIds;
    const throttleTimeMs = quota?.enabled ? quota.record(ctx.session.principal ?? '', 1) : 0;
    if (throttleTimeMs > 0) {
      ctx.throttleMs = throttleTimeMs;
      ctx.log.info({ conn: ctx.conn.id, principal: ctx.session.principal, throttleTimeMs }, 'producer id allocation above quotaProducerIdRate: throttled');
    }
    const producerId = await ctx.gateway.storage.allocateProducerId();
    return { throttleTimeMs, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
  errorResponse(_request, errorCode) {
    return failed(errorCode);
  },
};
