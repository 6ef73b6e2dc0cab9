/**
 * Group administration: DescribeGroups (15, v0-v5), ListGroups (16, v0-v5,
 * state filter v4+, type filter v5+) and DeleteGroups (42, v0-v2). A client
 * sees the groups of its session's tenant only. A group is "classic" (Kafka's
 * name for the JoinGroup/SyncGroup protocol) or "consumer" (KIP-848,
 * consumer-group.ts); DescribeGroups shows a consumer group as Kafka does: Dead.
 *
 * Authorization, each group in its home namespace (group-common.ts):
 *  - DescribeGroups: `consume` (Kafka DESCRIBE); a denied group answers
 *    GROUP_AUTHORIZATION_FAILED with no state, members or metadata.
 *  - ListGroups: only the groups the principal may describe in their homes
 *    (Kafka filters by DESCRIBE); a filtered listing, counted in one audit record.
 *  - DeleteGroups: `admin` (Kafka DELETE; Pulsar has no group deletion grant,
 *    so a tenant admin or superuser, as for deleting topics); per group
 *    GROUP_AUTHORIZATION_FAILED. A share group's id (src/share) is checked in
 *    the share group's home and deleted by the share-group coordinator (empty
 *    groups only: NON_EMPTY_GROUP, as Kafka).
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { groupsNamed, type Need } from '../dispatch/access-plan.js';
import type { GatewayContext } from '../gateway-context.js';
import { shareGroupAccess } from './share-group.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type {
  DeleteGroupsRequest,
  DeleteGroupsResponse,
  DescribeGroupsRequest,
  DescribeGroupsResponse,
  ListGroupsRequest,
  ListGroupsResponse,
} from '../protocol/generated/index.js';
import type { GroupRef } from '../coordinator/coordinator.js';
import { checkNamespace } from '../coordinator/home.js';
import { authorizeGroup, coordinatorOf } from './group-common.js';

/** Kafka's "authorized operations not requested / not computed" marker. */
const OPS_NOT_REQUESTED = -2147483648;

type DescribedGroup = DescribeGroupsResponse['groups'][number];

function describeError(groupId: string, errorCode: number): DescribedGroup {
  return { errorCode, groupId, groupState: '', protocolType: '', protocolData: '', members: [], authorizedOperations: OPS_NOT_REQUESTED };
}

export const describeGroups: ApiEntry<DescribeGroupsRequest, DescribeGroupsResponse> = {
  apiKey: API_KEYS.DescribeGroups,
  minVersion: 0,
  maxVersion: 5,
  rule: 'group',
  authz: {
    checks: [{ action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED on the group, no state, members or metadata' }],
    needs: (request) => groupsNamed('consume', request.groups),
  },
  async handle(ctx, request) {
    const groups = await Promise.all(
      request.groups.map(async (groupId): Promise<DescribedGroup> => {
        const access = await authorizeGroup(ctx, groupId);
        if (!access.ok) return describeError(groupId, access.errorCode);
        const s = await access.coordinator.describeGroup(access.ref);
        return {
          errorCode: s.errorCode,
          groupId,
          groupState: s.state,
          protocolType: s.protocolType,
          protocolData: s.protocolData,
          members: s.members.map((m) => ({
            memberId: m.memberId,
            groupInstanceId: m.groupInstanceId,
            clientId: m.clientId,
            clientHost: m.clientHost,
            memberMetadata: m.metadata,
            memberAssignment: m.assignment,
          })),
          authorizedOperations: OPS_NOT_REQUESTED,
        };
      }),
    );
    return { throttleTimeMs: 0, groups };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, groups: request.groups.map((g) => describeError(g, errorCode)) };
  },
};

export const listGroups: ApiEntry<ListGroupsRequest, ListGroupsResponse> = {
  apiKey: API_KEYS.ListGroups,
  minVersion: 0,
  maxVersion: 5,
  rule: 'group',
  authz: {
    checks: [{ action: 'consume', on: 'group-listing', denial: 'the group is left out (one access_filtered record)' }],
    needs: (): Need[] => [{ on: 'group-listing', action: 'consume' }],
  },
  async handle(ctx, request) {
    const coordinator = coordinatorOf(ctx);
    if (!coordinator) return { throttleTimeMs: 0, errorCode: ErrorCode.COORDINATOR_NOT_AVAILABLE, groups: [] };
    const v = ctx.apiVersion;
    const r = await coordinator.listGroups(ctx.session.defaultNamespace.tenant, v >= 4 ? request.statesFilter : [], v >= 5 ? request.typesFilter : []);
    // Only the groups this session may describe in their homes are listed (Kafka: DESCRIBE on each group).
    const ns = ctx.session.defaultNamespace;
    const visible = [];
    for (const g of r.groups) {
      const checked = { tenant: ns.tenant, namespace: checkNamespace(g.home, ns.namespace), group: g.groupId };
      if (await ctx.access.group(checked, 'consume', { listing: true })) visible.push(g);
    }
    // share groups (src/share), filtered the same way
    for (const g of ctx.gateway.shareGroups?.listGroups(ns.tenant, v >= 4 ? request.statesFilter : [], v >= 5 ? request.typesFilter : []) ?? []) {
      if (await ctx.access.group({ tenant: ns.tenant, namespace: g.home, group: g.groupId }, 'consume', { listing: true })) visible.push({ groupId: g.groupId, protocolType: 'share', state: g.state, groupType: 'share' });
    }
    return {
      throttleTimeMs: 0,
      errorCode: r.errorCode,
      groups: visible.map((g) => ({ groupId: g.groupId, protocolType: g.protocolType, groupState: g.state, groupType: g.groupType })),
    };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, groups: [] };
  },
};

/** A share group's id (it has a home in the share-group coordinator). */
function isShareGroup(gateway: GatewayContext | undefined, tenant: string, groupId: string): boolean {
  return (gateway?.shareGroups?.groupHome({ tenant, groupId }) ?? null) !== null;
}

export const deleteGroups: ApiEntry<DeleteGroupsRequest, DeleteGroupsResponse> = {
  apiKey: API_KEYS.DeleteGroups,
  minVersion: 0,
  maxVersion: 2,
  rule: 'group',
  authz: {
    checks: [{ action: 'admin', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED on the group' }],
    needs: (request, { session, gateway }) =>
      request.groupsNames.map((group): Need => ({ on: 'group', action: 'admin', group, share: isShareGroup(gateway, session.defaultNamespace.tenant, group) })),
  },
  async handle(ctx, request) {
    // Kafka: DELETE on each group; mapped to `admin` (tenant admin or superuser) in its home.
    const refused = new Map<string, number>();
    const refs: GroupRef[] = [];
    let coordinator = null;
    const tenant = ctx.session.defaultNamespace.tenant;
    for (const groupId of request.groupsNames) {
      if (isShareGroup(ctx.gateway, tenant, groupId)) {
        // a share group (checked in its home as the dispatcher decided): the share-group coordinator deletes it
        const access = await shareGroupAccess(ctx, groupId, 'admin');
        refused.set(groupId, access.ok ? await access.shares.deleteGroup(access.ref) : access.errorCode);
        continue;
      }
      const access = await authorizeGroup(ctx, groupId, 'admin');
      if (!access.ok) refused.set(groupId, access.errorCode);
      else {
        refs.push(access.ref);
        coordinator = access.coordinator;
      }
    }
    const codes = coordinator ? await coordinator.deleteGroups(refs) : new Map<string, number>();
    return {
      throttleTimeMs: 0,
      results: request.groupsNames.map((groupId) => ({ groupId, errorCode: refused.get(groupId) ?? codes.get(groupId) ?? ErrorCode.UNKNOWN_SERVER_ERROR })),
    };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, results: request.groupsNames.map((groupId) => ({ groupId, errorCode })) };
  },
};
