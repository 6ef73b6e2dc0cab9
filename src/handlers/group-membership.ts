/**
 * The classic group membership APIs, translated to the group coordinator:
 * JoinGroup (11, v0-v9), SyncGroup (14, v0-v5), Heartbeat (12, v0-v4) and
 * LeaveGroup (13, v0-v5; several members per request from v3). JoinGroup and
 * SyncGroup responses are parked until the rebalance step completes, as on a
 * Kafka broker (the connection's later requests wait behind them).
 *
 * Authorization: `consume` on the group in its home namespace (group-common.ts);
 * a JoinGroup that creates the group makes the session's namespace its home.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { groupsNamed } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type {
  HeartbeatRequest,
  HeartbeatResponse,
  JoinGroupRequest,
  JoinGroupResponse,
  LeaveGroupRequest,
  LeaveGroupResponse,
  SyncGroupRequest,
  SyncGroupResponse,
} from '../protocol/generated/index.js';
import { joinError, syncError, type JoinResult, type SyncResult } from '../coordinator/group.js';
import type { MemberIdentity } from '../coordinator/coordinator.js';
import { authorizeGroup, clientHost } from './group-common.js';

function joinResponse(r: JoinResult, version: number): JoinGroupResponse {
  return {
    throttleTimeMs: 0,
    errorCode: r.errorCode,
    generationId: r.generationId,
    protocolType: r.protocolType,
    // v0-6 cannot send null here
    protocolName: version >= 7 ? r.protocolName : (r.protocolName ?? ''),
    leader: r.leaderId,
    skipAssignment: r.skipAssignment,
    memberId: r.memberId,
    members: r.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, metadata: m.metadata })),
  };
}

export const joinGroup: ApiEntry<JoinGroupRequest, JoinGroupResponse> = {
  apiKey: API_KEYS.JoinGroup,
  minVersion: 0,
  maxVersion: 9,
  rule: 'group',
  authz: {
    checks: [{ action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED' }],
    needs: (request) => groupsNamed('consume', [request.groupId]),
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    const access = await authorizeGroup(ctx, request.groupId);
    if (!access.ok) return joinResponse(joinError(request.memberId, access.errorCode), v);
    // a share group's id (src/share): Kafka answers INCONSISTENT_GROUP_PROTOCOL; checked outside
    // the share group's home, nothing of it is revealed (denied, as a check there would be)
    const shareHome = ctx.gateway.shareGroups?.groupHome({ tenant: access.ref.tenant, groupId: request.groupId }) ?? null;
    if (shareHome !== null) return joinResponse(joinError('', shareHome === access.ref.namespace ? ErrorCode.INCONSISTENT_GROUP_PROTOCOL : ErrorCode.GROUP_AUTHORIZATION_FAILED), v);
    const result = await access.coordinator.joinGroup({
      key: access.ref,
      memberId: request.memberId,
      groupInstanceId: v >= 5 ? request.groupInstanceId : null,
      // KIP-394: from v4 a new dynamic member first gets its id with MEMBER_ID_REQUIRED.
      requireKnownMemberId: v >= 4,
      supportSkippingAssignment: v >= 9,
      clientId: ctx.clientId ?? '',
      clientHost: clientHost(ctx),
      // v0 has no rebalance timeout: Kafka uses the session timeout.
      rebalanceTimeoutMs: v === 0 ? request.sessionTimeoutMs : request.rebalanceTimeoutMs,
      sessionTimeoutMs: request.sessionTimeoutMs,
      protocolType: request.protocolType,
      protocols: request.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      reason: request.reason,
      namespace: ctx.session.defaultNamespace,
    });
    if (result.errorCode !== ErrorCode.NONE && result.errorCode !== ErrorCode.MEMBER_ID_REQUIRED) {
      ctx.log.debug({ conn: ctx.conn.id, group: request.groupId, memberId: request.memberId, error: result.errorCode }, 'JoinGroup failed');
    }
    return joinResponse(result, v);
  },
  errorResponse(request, errorCode) {
    return joinResponse(joinError(request.memberId, errorCode), 0);
  },
};

function syncResponse(r: SyncResult): SyncGroupResponse {
  return { throttleTimeMs: 0, errorCode: r.errorCode, protocolType: r.protocolType, protocolName: r.protocolName, assignment: r.assignment };
}

export const syncGroup: ApiEntry<SyncGroupRequest, SyncGroupResponse> = {
  apiKey: API_KEYS.SyncGroup,
  minVersion: 0,
  maxVersion: 5,
  rule: 'group',
  authz: {
    checks: [{ action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED' }],
    needs: (request) => groupsNamed('consume', [request.groupId]),
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    const access = await authorizeGroup(ctx, request.groupId);
    if (!access.ok) return syncResponse(syncError(access.errorCode));
    // v5+: protocol type and name are mandatory (Kafka's areMandatoryProtocolTypeAndNamePresent).
    if (v >= 5 && (request.protocolType === null || request.protocolName === null)) {
      return syncResponse(syncError(ErrorCode.INCONSISTENT_GROUP_PROTOCOL));
    }
    const result = await access.coordinator.syncGroup({
      key: access.ref,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: v >= 3 ? request.groupInstanceId : null,
      protocolType: v >= 5 ? request.protocolType : null,
      protocolName: v >= 5 ? request.protocolName : null,
      assignments: request.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    });
    return syncResponse(result);
  },
  errorResponse(_request, errorCode) {
    return syncResponse(syncError(errorCode));
  },
};

export const heartbeat: ApiEntry<HeartbeatRequest, HeartbeatResponse> = {
  apiKey: API_KEYS.Heartbeat,
  minVersion: 0,
  maxVersion: 4,
  rule: 'group',
  authz: {
    checks: [{ action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED' }],
    needs: (request) => groupsNamed('consume', [request.groupId]),
  },
  async handle(ctx, request) {
    const access = await authorizeGroup(ctx, request.groupId);
    if (!access.ok) return { throttleTimeMs: 0, errorCode: access.errorCode };
    const errorCode = await access.coordinator.heartbeat({
      key: access.ref,
      generationId: request.generationId,
      memberId: request.memberId,
      groupInstanceId: ctx.apiVersion >= 3 ? request.groupInstanceId : null,
    });
    return { throttleTimeMs: 0, errorCode };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode };
  },
};

export const leaveGroup: ApiEntry<LeaveGroupRequest, LeaveGroupResponse> = {
  apiKey: API_KEYS.LeaveGroup,
  minVersion: 0,
  maxVersion: 5,
  rule: 'group',
  authz: {
    checks: [{ action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED' }],
    needs: (request) => groupsNamed('consume', [request.groupId]),
  },
  async handle(ctx, request) {
    const v = ctx.apiVersion;
    const leaving: MemberIdentity[] =
      v >= 3
        ? request.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: m.reason }))
        : [{ memberId: request.memberId, groupInstanceId: null, reason: null }];
    const access = await authorizeGroup(ctx, request.groupId);
    if (!access.ok) return { throttleTimeMs: 0, errorCode: access.errorCode, members: [] };
    const result = await access.coordinator.leaveGroup(access.ref, leaving);
    if (v >= 3) return { throttleTimeMs: 0, errorCode: result.errorCode, members: result.members };
    // v0-2 have one member and no member list: its error is the request's.
    const memberError = result.members.find((m) => m.errorCode !== ErrorCode.NONE)?.errorCode ?? ErrorCode.NONE;
    return { throttleTimeMs: 0, errorCode: result.errorCode !== ErrorCode.NONE ? result.errorCode : memberError, members: [] };
  },
  errorResponse(_request, errorCode) {
    return { throttleTimeMs: 0, errorCode, members: [] };
  },
};
