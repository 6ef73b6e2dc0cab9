/**
 * What the transactional API handlers share: the transaction coordinator, the
 * tenant-scoped key of a transactional id, its authorization, and Kafka's
 * per-version answer to a fenced producer.
 *
 * A transactional id is named by a Kafka client within its tenant, and Pulsar
 * has no resource type for it, so it has ONE home namespace
 * (src/coordinator/home.ts), recorded by the transaction coordinator when the
 * id is first used (InitProducerId): every operation is checked there, whatever
 * namespace the session uses. Using the id needs `produce` in its home
 * (Kafka: WRITE on the transactional id), describing or listing it `lookup`
 * (produce or consume; Kafka: DESCRIBE). The dispatcher checks it before the
 * handler runs (the entry declares the id, dispatch/access-plan.ts asks the
 * coordinator for the home); `authorizeTxn` reads that decision back and hands
 * out the TxnRef the coordinator requires. A denial is
 * TRANSACTIONAL_ID_AUTHORIZATION_FAILED; when another node coordinates the id,
 * its status (NOT_COORDINATOR, ...) is the answer and nothing is checked or served.
 */
import type { RequestContext } from '../dispatch/registry.js';
import type { TransactionCoordinator, TxnRef } from '../coordinator/txn/coordinator.js';
import type { TxnAction } from '../security/access.js';
import { ErrorCode } from '../protocol/errors.js';

export type TxnAccess =
  | { ok: true; ref: TxnRef; coordinator: TransactionCoordinator }
  /** errorCode: TRANSACTIONAL_ID_AUTHORIZATION_FAILED, or why the home cannot be known here. */
  | { ok: false; errorCode: number };

/** The decision the dispatcher made on the transactional id, in its home namespace. */
export async function authorizeTxn(ctx: RequestContext, transactionalId: string, action: TxnAction = 'produce'): Promise<TxnAccess> {
  const decided = await ctx.access.txnAccess(transactionalId, action);
  const coordinator = ctx.gateway.transactions;
  if (!decided.allowed && decided.errorCode === ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED) {
    ctx.log.info({ conn: ctx.conn.id, principal: ctx.session.principal, transactionalId, namespace: decided.namespace }, 'transactional id refused');
  }
  if (decided.ref === null || !coordinator) {
    return { ok: false, errorCode: decided.errorCode === ErrorCode.NONE ? ErrorCode.COORDINATOR_NOT_AVAILABLE : decided.errorCode };
  }
  return { ok: true, ref: decided.ref, coordinator };
}

/**
 * Kafka answers PRODUCER_FENCED (KIP-588) only to clients that know it: older
 * request versions get INVALID_PRODUCER_EPOCH (InitProducerId below v4,
 * AddPartitionsToTxn, AddOffsetsToTxn and EndTxn below v2; KafkaApis).
 */
export function fencedFor(errorCode: number, apiVersion: number, firstVersionKnowingFenced: number): number {
  return errorCode === ErrorCode.PRODUCER_FENCED && apiVersion < firstVersionKnowingFenced ? ErrorCode.INVALID_PRODUCER_EPOCH : errorCode;
}
