/**
 * Who the client on a connection is. Created unauthenticated on SASL listeners
 * and authenticated (as the anonymous role, or the TLS client certificate's CN)
 * on PLAINTEXT/SSL listeners. Re-authentication may extend `expiresAt`, never
 * change `principal`.
 */
import type { NamespaceRef } from '../topics/names.js';
import type { SaslAuthenticator } from '../security/sasl/authenticator.js';

export interface Session {
  authenticated: boolean;
  /** The Pulsar role, or null (anonymous without anonymousUserRole, or before authentication). */
  principal: string | null;
  /** 'PLAIN', 'OAUTHBEARER', 'SSL' (client certificate), or 'NONE'. */
  mechanism: string;
  /** Namespace of short topic names on this connection. */
  defaultNamespace: NamespaceRef;
  /** Epoch ms after which the credential is no longer valid; Infinity when it never expires. */
  expiresAt: number;
  /** The token's `jti` (SASL sessions whose token has one), for revocation of open sessions; else null. */
  tokenId: string | null;
  clientSoftwareName: string | null;
  clientSoftwareVersion: string | null;
  /** SASL listeners: the exchange state; null on PLAINTEXT/SSL listeners. */
  sasl: SaslAuthenticator | null;
  /** After SaslHandshake v0 the next frame is a raw SASL token, not a Kafka request. */
  saslRawNext: boolean;
  /** SaslAuthenticate version of the last successful exchange (re-authentication needs v1+). */
  saslVersion: number;
}

export function anonymousSession(role: string | null, defaults: NamespaceRef, mechanism = 'NONE'): Session {
  return {
    authenticated: true,
    principal: role,
    mechanism,
    defaultNamespace: defaults,
    expiresAt: Infinity,
    tokenId: null,
    clientSoftwareName: null,
    clientSoftwareVersion: null,
    sasl: null,
    saslRawNext: false,
    saslVersion: -1,
  };
}

export function saslSession(sasl: SaslAuthenticator, defaults: NamespaceRef): Session {
  return { ...anonymousSession(null, defaults), authenticated: false, mechanism: 'NONE', sasl };
}
