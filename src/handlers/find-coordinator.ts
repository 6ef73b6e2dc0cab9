/**
 * FindCoordinator (10), v0-v6 (v4+: several keys per request).
 *
 * GROUP keys: the group (scoped by the session's tenant) hashes to an offsets
 * partition; its owner is the coordinator (this node, or the node holding that
 * partition when several gateway nodes share a Pulsar cluster). TRANSACTION
 * keys: the transactional id (scoped by tenant) is placed the same way, and
 * that partition's owner is its transaction coordinator (src/coordinator/txn/).
 *
 * Authorization (Kafka: DESCRIBE on the group / transactional id): `consume` on
 * the group, `lookup` on the transactional id (txn-common.ts), in its home
 * namespace when this node coordinates it. When another node does (or this one
 * is still loading it), the home is not known here: the check is made in the
 * session's namespace. The answer only names the coordinator's address; every
 * operation is checked in the home by that coordinator.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { FindCoordinatorRequest, FindCoordinatorResponse } from '../protocol/generated/index.js';
import { coordinatorOf, groupKey } from './group-common.js';

type Coordinator = FindCoordinatorResponse['coordinators'][number];

const KEY_TYPE_GROUP = 0;
const KEY_TYPE_TRANSACTION = 1;

function failed(key: string, errorCode: number, errorMessage: string | null): Coordinator {
  return { key, nodeId: -1, host: '', port: -1, errorCode, errorMessage };
}

async function locate(ctx: RequestContext, keyType: number, key: string): Promise<Coordinator> {
  if (keyType === KEY_TYPE_TRANSACTION) {
    if (!(await ctx.access.txnAccess(key, 'lookup')).allowed) {
      return failed(key, ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, `not authorized to use transactional id ${key}`);
    }
    const transactions = ctx.gateway.transactions;
    if (!transactions) return failed(key, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'no transaction coordinator');
    const locator = transactions.locator;
    const owner = locator.ownerOf(locator.partitionFor(groupKey(ctx, key)));
    if (!owner) return failed(key, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the transaction coordinator is moving; retry');
    const endpoint = owner.endpoint(ctx.conn.listenerName);
    return { key, nodeId: owner.nodeId, host: endpoint.host, port: endpoint.port, errorCode: ErrorCode.NONE, errorMessage: null };
  }
  if (keyType !== KEY_TYPE_GROUP) return failed(key, ErrorCode.INVALID_REQUEST, `unsupported coordinator key type ${keyType}`);
  const coordinator = coordinatorOf(ctx);
  // checked by the dispatcher (the entry declares the key, anyNode): in the home, or the session's namespace
  if (!(await ctx.access.groupAccess(key, 'consume')).allowed) {
    return failed(key, ErrorCode.GROUP_AUTHORIZATION_FAILED, `not authorized to use group ${key}`);
  }
  if (!coordinator) return failed(key, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'no group coordinator');
  const locator = coordinator.locator;
  const owner = locator.ownerOf(locator.partitionFor(groupKey(ctx, key)));
  if (!owner) return failed(key, ErrorCode.COORDINATOR_NOT_AVAILABLE, 'the group coordinator is moving; retry');
  const endpoint = owner.endpoint(ctx.conn.listenerName);
  return { key, nodeId: owner.nodeId, host: endpoint.host, port: endpoint.port, errorCode: ErrorCode.NONE, errorMessage: null };
}

/** v0-3 read the single key's result from the top-level fields, v4+ the list: fill both. */
function response(coordinators: Coordinator[]): FindCoordinatorResponse {
  const c = coordinators[0] ?? failed('', ErrorCode.INVALID_REQUEST, 'no coordinator key');
  return { throttleTimeMs: 0, errorCode: c.errorCode, errorMessage: c.errorMessage, nodeId: c.nodeId, host: c.host, port: c.port, coordinators };
}

export const findCoordinator: ApiEntry<FindCoordinatorRequest, FindCoordinatorResponse> = {
  apiKey: API_KEYS.FindCoordinator,
  minVersion: 0,
  maxVersion: 6,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', when: 'key type GROUP; in the session\'s namespace when another node coordinates the group', denial: 'GROUP_AUTHORIZATION_FAILED on the key' },
      { action: 'lookup', on: 'transactional-id', when: 'key type TRANSACTION; in the session\'s namespace when another node coordinates the id', denial: 'TRANSACTIONAL_ID_AUTHORIZATION_FAILED on the key' },
    ],
    needs(request, { apiVersion }) {
      const keyType = apiVersion >= 1 ? request.keyType : KEY_TYPE_GROUP;
      const keys = apiVersion >= 4 ? request.coordinatorKeys : [request.key];
      if (keyType === KEY_TYPE_TRANSACTION) return keys.map((transactionalId): Need => ({ on: 'transactional-id', action: 'lookup', transactionalId, anyNode: true }));
      if (keyType !== KEY_TYPE_GROUP) return [];
      return keys.map((group): Need => ({ on: 'group', action: 'consume', group, anyNode: true }));
    },
  },
  async handle(ctx, request) {
    const keys = ctx.apiVersion >= 4 ? request.coordinatorKeys : [request.key];
    const keyType = ctx.apiVersion >= 1 ? request.keyType : KEY_TYPE_GROUP;
    return response(await Promise.all(keys.map((k) => locate(ctx, keyType, k))));
  },
  errorResponse(request, errorCode) {
    const keys = request.coordinatorKeys.length > 0 ? request.coordinatorKeys : [request.key];
    return response(keys.map((k) => failed(k, errorCode, null)));
  },
};
