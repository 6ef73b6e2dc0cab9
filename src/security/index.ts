/**
 * Builds the gateway's security services from the configuration: the SASL
 * settings (token validation), the authorizer and the audit log; and warns
 * loudly about listeners reachable from other machines without them.
 */
import type { GatewayConfig } from '../config/schema.js';
import type { SecurityServices } from '../gateway-context.js';
import type { Logger } from '../logger.js';
import type { ListenerSpec } from '../network/listeners.js';
import { isLoopbackHost } from '../network/listeners.js';
import type { NamespaceRef } from '../topics/names.js';
import type { Mechanism } from './sasl/authenticator.js';
import { ALLOW_ALL_AUTHORIZER, createAuthorizer } from './authz/index.js';
import { createAuditLog } from './audit/index.js';
import { createTokenValidator } from './tokens/index.js';
import { RevocationWatcher } from './tokens/revocation.js';

/** Pulsar with authorizationEnabled=false: every action is allowed (and still audited). */
export const ALLOW_ALL = ALLOW_ALL_AUTHORIZER;

export function mechanismsOf(config: GatewayConfig): Mechanism[] {
  return config.saslAllowedMechanisms.split(',').map((m) => m.trim()).filter(Boolean) as Mechanism[];
}

export interface BuiltSecurity extends SecurityServices {
  close(): Promise<void>;
}

export async function buildSecurity(config: GatewayConfig, defaults: NamespaceRef, specs: readonly ListenerSpec[], log: Logger): Promise<BuiltSecurity> {
  let sasl: SecurityServices['sasl'] = null;
  let revocation: RevocationWatcher | null = null;
  const revocationFile = config.tokenRevocationFile.trim();
  if (config.authenticationEnabled) {
    const validator = createTokenValidator(config);
    for (const w of validator.warnings) log.warn({ component: 'tokens' }, w);
    if (revocationFile !== '') {
      revocation = await RevocationWatcher.open(revocationFile, { logger: log.child({ component: 'token-revocation' }), refreshIntervalMs: config.policiesRefreshIntervalMs });
    }
    log.info({ tokens: validator.description, mechanisms: mechanismsOf(config), tokenRevocationFile: revocationFile || null }, 'authentication enabled (Pulsar tokens)');
    sasl = { validator, mechanisms: mechanismsOf(config), defaults, maxReauthMs: config.connectionsMaxReauthMs, maxTokenBytes: config.saslMaxTokenBytes, revocation };
  } else if (revocationFile !== '') {
    log.warn({ tokenRevocationFile: revocationFile }, 'tokenRevocationFile is set but authenticationEnabled=false: no token is checked, so none can be revoked');
  }
  warnInsecureListeners(config, specs, log);
  let authz;
  try {
    authz = await createAuthorizer(config, log);
  } catch (err) {
    await revocation?.close();
    throw err;
  }
  let audit;
  try {
    audit = await createAuditLog(config, log);
  } catch (err) {
    await authz.close();
    await revocation?.close();
    throw err;
  }
  return {
    sasl,
    failedAuthenticationDelayMs: config.failedAuthenticationDelayMs,
    authorizer: authz.authorizer,
    audit,
    revocation,
    async close() {
      await revocation?.close();
      await authz.close();
      await audit?.close();
    },
  };
}

/** A listener other machines can reach, with no authentication or no authorization, deserves a loud warning. */
function warnInsecureListeners(config: GatewayConfig, specs: readonly ListenerSpec[], log: Logger): void {
  for (const spec of specs) {
    if (isLoopbackHost(spec.host)) continue;
    const unauthenticated = spec.protocol === 'PLAINTEXT' || (spec.protocol === 'SSL' && !config.tlsRequireTrustedClientCertOnConnect);
    if (unauthenticated || !config.authorizationEnabled) {
      log.warn(
        { listener: `${spec.name}://${spec.host || '*'}:${spec.port}`, authentication: unauthenticated ? 'none' : spec.protocol, authorizationEnabled: config.authorizationEnabled },
        'SECURITY WARNING: this listener is reachable from other machines ' +
          (unauthenticated ? 'without authentication' : '') +
          (unauthenticated && !config.authorizationEnabled ? ' and ' : '') +
          (!config.authorizationEnabled ? 'without authorization (authorizationEnabled=false)' : '') +
          ': anyone who can connect can read and write every topic',
      );
    }
  }
}
