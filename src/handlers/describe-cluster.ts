/**
 * DescribeCluster (60): this node as the only broker and the controller.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { NO_RESOURCES } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { DescribeClusterRequest, DescribeClusterResponse } from '../protocol/generated/index.js';

const BROKER_ENDPOINTS = 1;

export const describeCluster: ApiEntry<DescribeClusterRequest, DescribeClusterResponse> = {
  apiKey: API_KEYS.DescribeCluster,
  minVersion: 0,
  maxVersion: 1,
  rule: 'authenticated',
  authz: NO_RESOURCES,
  handle(ctx, request) {
    const base = { throttleTimeMs: 0, endpointType: BROKER_ENDPOINTS, clusterId: ctx.gateway.clusterId, clusterAuthorizedOperations: -2147483648 };
    if (ctx.apiVersion >= 1 && request.endpointType !== BROKER_ENDPOINTS) {
      return { ...base, errorCode: ErrorCode.UNSUPPORTED_ENDPOINT_TYPE, errorMessage: 'only broker endpoints are served', controllerId: -1, brokers: [] };
    }
    const { host, port } = ctx.gateway.advertisedEndpoint(ctx.conn.listenerName);
    const nodeId = ctx.gateway.nodeId;
    const peers = (ctx.gateway.peers?.(ctx.conn.listenerName) ?? []).map((p) => ({ brokerId: p.nodeId, host: p.endpoint.host, port: p.endpoint.port, rack: null }));
    return { ...base, errorCode: ErrorCode.NONE, errorMessage: null, controllerId: nodeId, brokers: [{ brokerId: nodeId, host, port, rack: null }, ...peers] };
  },
};
