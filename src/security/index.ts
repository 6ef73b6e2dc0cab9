/**
 * Builds the gateway's security services from the configuration: the SASL
 * settings (token validation), the authorizer and the audit log.
 */
import type { GatewayConfig } from '../config/schema.js';
import type { SecurityServices } from '../gateway-context.js';
import type { Logger } from '../logger.js';
import type { NamespaceRef } from '../topics/names.js';
import type { Mechanism } from './sasl/authenticator.js';
import type { Authorizer } from './types.js';

/** Pulsar with authorizationEnabled=false: every action is allowed (and still audited). */
export const ALLOW_ALL: Authorizer = {
  async can() {
    return { allowed: true, reason: 'authorization disabled' };
  },
};

export function mechanismsOf(config: GatewayConfig): Mechanism[] {
  return config.saslAllowedMechanisms.split(',').map((m) => m.trim()).filter(Boolean) as Mechanism[];
}

export async function buildSecurity(config: GatewayConfig, defaults: NamespaceRef, _log: Logger): Promise<SecurityServices> {
  let sasl: SecurityServices['sasl'] = null;
  if (config.authenticationEnabled) {
    throw new Error('authenticationEnabled=true: token validation is not wired into this build yet');
  }
  void defaults;
  return { sasl, failedAuthenticationDelayMs: config.failedAuthenticationDelayMs, authorizer: ALLOW_ALL, audit: null };
}
