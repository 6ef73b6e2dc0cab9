/**
 * The authorizer from the configuration:
 *   authorizationEnabled=false -> ALLOW_ALL_AUTHORIZER (reason "authorization disabled"); no policy is read
 *   authorizationEnabled=true  -> PulsarAuthorizer over a FilePolicySource on policiesDirectory
 *                                 (superUserRoles, anonymousUserRole, authorizationAllowWildcardsMatching)
 */
import type { GatewayConfig } from '../../config/schema.js';
import type { Logger } from '../../logger.js';
import type { Authorizer } from '../types.js';
import { ALLOW_ALL_AUTHORIZER, PulsarAuthorizer } from './authorizer.js';
import { FilePolicySource } from './file-source.js';
import type { PolicySource } from './source.js';

export { ALLOW_ALL_AUTHORIZER, PulsarAuthorizer, baseTopicName, describeResource, wildcardGrant, type PulsarAuthorizerOptions } from './authorizer.js';
export { FilePolicySource, readPolicyFile, DEFAULT_DEBOUNCE_MS, DEFAULT_REFRESH_INTERVAL_MS, type FilePolicySourceOptions, type PolicyFileStatus } from './file-source.js';
export { StaticPolicySource, type PolicyChange, type PolicySource } from './source.js';
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
>;

/** Build the authorizer; with authorization enabled, fails when policiesDirectory cannot be read. */
export async function createAuthorizer(config: AuthzConfig, log: Logger): Promise<AuthorizationSettings> {
  if (!config.authorizationEnabled) {
    log.warn('authorizationEnabled=false: every request is allowed (decisions are still audited with reason "authorization disabled")');
    return { authorizer: ALLOW_ALL_AUTHORIZER, source: null, close: async () => {} };
  }
  const source = await FilePolicySource.open(config.policiesDirectory, {
    logger: log.child({ component: 'policies' }),
    refreshIntervalMs: config.policiesRefreshIntervalMs,
  });
  const superUserRoles = parseRoleList(config.superUserRoles);
  const authorizer = new PulsarAuthorizer(source, {
    superUserRoles,
    anonymousUserRole: config.anonymousUserRole || null,
    allowWildcards: config.authorizationAllowWildcardsMatching,
  });
  log.info(
    {
      superUserRoles,
      anonymousUserRole: config.anonymousUserRole || null,
      authorizationAllowWildcardsMatching: config.authorizationAllowWildcardsMatching,
      policiesDirectory: config.policiesDirectory,
    },
    'authorization enabled (Pulsar semantics)',
  );
  return { authorizer, source, close: () => source.close() };
}
