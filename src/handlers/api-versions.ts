/**
 * ApiVersions (18): advertise exactly what the dispatch table serves, and note
 * the client's software name/version (v3+) on the session. Features (v3+):
 * `share.version` 1, supported and finalized, when the share-group APIs are
 * served (a Kafka 4.1+ broker with share groups enabled lists it so); no
 * other feature is claimed.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { NO_RESOURCES } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import { ApiVersionsResponse, type ApiVersionsRequest } from '../protocol/generated/index.js';

/** Kafka's rule for client software names and versions (KIP-511). */
const SOFTWARE_FIELD = /^[a-zA-Z0-9](?:[a-zA-Z0-9\-.]*[a-zA-Z0-9])?$/;

/** The features the served APIs implement (KIP-584), with Kafka's feature names. */
function features(served: Array<{ apiKey: number }>): Pick<ApiVersionsResponse, 'supportedFeatures' | 'finalizedFeatures' | 'finalizedFeaturesEpoch'> {
  if (!served.some((a) => a.apiKey === API_KEYS.ShareGroupHeartbeat)) return { supportedFeatures: [], finalizedFeatures: [], finalizedFeaturesEpoch: -1n };
  return {
    supportedFeatures: [{ name: 'share.version', minVersion: 0, maxVersion: 1 }],
    finalizedFeatures: [{ name: 'share.version', minVersionLevel: 1, maxVersionLevel: 1 }],
    finalizedFeaturesEpoch: 0n,
  };
}

export const apiVersions: ApiEntry<ApiVersionsRequest, ApiVersionsResponse> = {
  apiKey: API_KEYS.ApiVersions,
  minVersion: 0,
  maxVersion: 4,
  rule: 'pre-auth',
  authz: NO_RESOURCES,
  handle(ctx, request) {
    const apiKeys = ctx.gateway.table.advertised();
    if (ctx.apiVersion >= 3) {
      const name = request.clientSoftwareName;
      const version = request.clientSoftwareVersion;
      if (!SOFTWARE_FIELD.test(name) || !SOFTWARE_FIELD.test(version)) {
        ctx.log.info({ conn: ctx.conn.id, name, version }, 'ApiVersions with an invalid client software name or version');
        return { ...ApiVersionsResponse.defaults(), errorCode: ErrorCode.INVALID_REQUEST, apiKeys };
      }
      ctx.session.clientSoftwareName = name;
      ctx.session.clientSoftwareVersion = version;
    }
    return { ...ApiVersionsResponse.defaults(), errorCode: ErrorCode.NONE, apiKeys, ...features(apiKeys) };
  },
};
