/**
 * Who the client on a connection is. Created unauthenticated on SASL listeners
 * and authenticated (as the anonymous role) on PLAINTEXT/SSL listeners.
 * Re-authentication may extend `expiresAt`, never change `principal`.
 */
import type { NamespaceRef } from '../topics/names.js';

export interface Session {
  authenticated: boolean;
  /** The Pulsar role, or null before authentication. */
  principal: string | null;
  /** 'PLAIN', 'OAUTHBEARER', 'SSL', or 'NONE' for plaintext listeners. */
  mechanism: string;
  /** Namespace of short topic names on this connection. */
  defaultNamespace: NamespaceRef;
  /** Epoch ms after which the credential is no longer valid; Infinity when it never expires. */
  expiresAt: number;
  clientSoftwareName: string | null;
  clientSoftwareVersion: string | null;
}

export function anonymousSession(role: string | null, defaults: NamespaceRef): Session {
  return {
    authenticated: true,
    principal: role,
    mechanism: 'NONE',
    defaultNamespace: defaults,
    expiresAt: Infinity,
    clientSoftwareName: null,
    clientSoftwareVersion: null,
  };
}
