/**
 * The authorizer from the configuration:
 *   authorizationEnabled=false -> ALLOW_ALL_AUTHORIZER (reason "authorization disabled"); no policy is read
 *   authorizationEnabled=true  -> PulsarAuthorizer (superUserRoles, anonymousUserRole, authorizationAllowWildcardsMatching) over
 *       storageEngine=pulsar: a PulsarPolicySource (Pulsar's admin API at webServiceUrl, cached pulsarPolicyCacheMs)
 *       otherwise:            a FilePolicySource on policiesDirectory
 */
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import type { Authorizer } from '../types.js';
import { ALLOW_ALL_AUTHORIZER, PulsarAuthorizer } from './authorizer.js';
import { FilePolicySource } from './file-source.js';
import { PulsarPolicySource, type PolicyAdmin } from './pulsar-source.js';
import { createPulsarAdmin } from '../../pulsar/admin/index.js';
import { pulsarAdminOptionsFromConfig } from '../../pulsar/auth-config.js';
import type { PolicySource } from './source.js';

export { ALLOW_ALL_AUTHORIZER, PulsarAuthorizer, baseTopicName, describeResource, wildcardGrant, type PulsarAuthorizerOptions } from './authorizer.js';
export { FilePolicySource, readPolicyFile, DEFAULT_DEBOUNCE_MS, DEFAULT_REFRESH_INTERVAL_MS, type FilePolicySourceOptions, type PolicyFileStatus } from './file-source.js';
export { StaticPolicySource, type PolicyChange, type PolicySource } from './source.js';
export {
  PulsarPolicySource,
  PolicyUnavailableError,
  namespacePolicyFromPulsar,
  policyKey,
  DEFAULT_POLICY_CACHE_MS,
  DEFAULT_FAIL_CLOSED_AFTER_MS,
  DEFAULT_REFRESH_FLOOR_MS,
  type PulsarPolicySourceOptions,
  type PolicyAdmin,
} from './pulsar-source.js';
export * from './policy.js';

/** Comma-separated role list (superUserRoles), as Pulsar reads it: trimmed, empty items dropped. */
export function parseRoleList(value: string): string[] {
  return value
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
}

export interface AuthorizationSettings {
  authorizer: Authorizer;
  /** Null when authorization is disabled. */
  source: PolicySource | null;
  close(): Promise<void>;
}

type AuthzConfig = Pick<
  GatewayConfig,
  'authorizationEnabled' | 'superUserRoles' | 'anonymousUserRole' | 'authorizationAllowWildcardsMatching' | 'policiesDirectory' | 'policiesRefreshIntervalMs'
> &
  Partial<
    Pick<
      GatewayConfig,
      | 'storageEngine'
      | 'webServiceUrl'
      | 'brokerClientAuthenticationPlugin'
      | 'brokerClientAuthenticationParameters'
      | 'brokerClientTrustCertsFilePath'
      | 'brokerClientTlsAllowInsecureConnection'
      | 'pulsarOperationTimeoutMs'
      | 'pulsarForwardClientIdentity'
      | 'pulsarForwardGatewayPrincipal'
      | 'pulsarPolicyCacheMs'
    >
  >;

export interface AuthorizerDeps {
  /** storageEngine=pulsar: the admin client to read policies with (default: one built from the configuration). */
  pulsarAdmin?: PolicyAdmin;
}

/**
 * Build the authorizer. With authorization enabled: storageEngine=pulsar reads
 * policies from Pulsar's admin API (fails on a bad brokerClient* value); otherwise
 * fails when policiesDirectory cannot be read.
 */
export async function createAuthorizer(config: AuthzConfig, log: Logger, deps: AuthorizerDeps = {}): Promise<AuthorizationSettings> {
  if (!config.authorizationEnabled) {
    log.warn('authorizationEnabled=false: every request is allowed (decisions are still audited with reason "authorization disabled")');
    return { authorizer: ALLOW_ALL_AUTHORIZER, source: null, close: async () => {} };
  }
  const superUserRoles = parseRoleList(config.superUserRoles);
  const options = {
    superUserRoles,
    anonymousUserRole: config.anonymousUserRole || null,
    allowWildcards: config.authorizationAllowWildcardsMatching,
  };
  if (config.storageEngine === 'pulsar') {
    let admin = deps.pulsarAdmin;
    let closeAdmin = () => {};
    if (!admin) {
      const built = createPulsarAdmin(
        pulsarAdminOptionsFromConfig({
          webServiceUrl: config.webServiceUrl ?? 'http://127.0.0.1:8080',
          brokerClientAuthenticationPlugin: config.brokerClientAuthenticationPlugin ?? '',
          brokerClientAuthenticationParameters: config.brokerClientAuthenticationParameters ?? '',
          brokerClientTrustCertsFilePath: config.brokerClientTrustCertsFilePath ?? '',
          brokerClientTlsAllowInsecureConnection: config.brokerClientTlsAllowInsecureConnection ?? false,
          pulsarOperationTimeoutMs: config.pulsarOperationTimeoutMs ?? 30_000,
          pulsarForwardClientIdentity: config.pulsarForwardClientIdentity ?? false,
          pulsarForwardGatewayPrincipal: config.pulsarForwardGatewayPrincipal ?? '',
        }),
      );
      admin = built;
      closeAdmin = () => built.close();
    }
    const source = new PulsarPolicySource({ admin, cacheMs: config.pulsarPolicyCacheMs, logger: log.child({ component: 'policies' }) });
    const authorizer = new PulsarAuthorizer(source, options);
    log.info(
      {
        superUserRoles,
        anonymousUserRole: options.anonymousUserRole,
        authorizationAllowWildcardsMatching: options.allowWildcards,
        webServiceUrl: config.webServiceUrl,
        pulsarPolicyCacheMs: source.cacheMs,
        failClosedAfterMs: source.failClosedAfterMs,
      },
      'authorization enabled (Pulsar semantics, policies from Pulsar\'s admin API)',
    );
    return {
      authorizer,
      source,
      close: async () => {
        await source.close();
        closeAdmin();
      },
    };
  }
  const source = await FilePolicySource.open(config.policiesDirectory, {
    logger: log.child({ component: 'policies' }),
    refreshIntervalMs: config.policiesRefreshIntervalMs,
  });
  const authorizer = new PulsarAuthorizer(source, options);
  log.info(
    {
      superUserRoles,
      anonymousUserRole: options.anonymousUserRole,
      authorizationAllowWildcardsMatching: options.allowWildcards,
      policiesDirectory: config.policiesDirectory,
    },
    'authorization enabled (Pulsar semantics)',
  );
  return { authorizer, source, close: () => source.close() };
}
