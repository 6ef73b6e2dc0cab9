/**
 * InitProducerId (22) for idempotent producers: a fresh producer id (epoch 0),
 * or, when the client names its current id and epoch (v3+, KIP-360), the same
 * id with the epoch bumped so it can reset its sequences after an error.
 * Transactional ids are refused: this gateway has no transaction coordinator.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { InitProducerIdRequest, InitProducerIdResponse } from '../protocol/generated/index.js';

const MAX_EPOCH = 32767;

export const initProducerId: ApiEntry<InitProducerIdRequest, InitProducerIdResponse> = {
  apiKey: API_KEYS.InitProducerId,
  minVersion: 0,
  maxVersion: 5,
  rule: 'authenticated',
  async handle(ctx, request) {
    if (request.transactionalId !== null) {
      ctx.log.info({ conn: ctx.conn.id, transactionalId: request.transactionalId }, 'transactional producer refused: transactions are not supported');
      return { throttleTimeMs: 0, errorCode: ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1 };
    }
    if (ctx.apiVersion >= 3 && request.producerId >= 0n) {
      if (request.producerEpoch < 0) return { throttleTimeMs: 0, errorCode: ErrorCode.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 };
      if (request.producerEpoch < MAX_EPOCH) {
        return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId: request.producerId, producerEpoch: request.producerEpoch + 1 };
      }
      // Epoch exhausted: a new producer id, as Kafka does.
    }
    const producerId = await ctx.gateway.storage.allocateProducerId();
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, producerId, producerEpoch: 0 };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, producerId: -1n, producerEpoch: -1 };
  },
};
