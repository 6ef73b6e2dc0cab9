/**
 * Contracts between the security modules (token validation, TLS, authorization,
 * audit) and the layers that use them (SASL handlers, dispatcher, server).
 * Each module implements its part behind these types; see docs/security.md.
 */

// ---------------------------------------------------------------- authentication

/** Why an authentication failed: logged and audited, never containing the credential. */
export class AuthenticationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthenticationError';
  }
}

export interface AuthenticatedIdentity {
  /** The Pulsar role (tokenAuthClaim / openIDRoleClaim / certificate CN). */
  role: string;
  /** Epoch ms when the credential stops being valid; null when it never expires. */
  expiresAt: number | null;
  /** The token's `jti` claim (a string), for revocation (docs/tokens.md#revocation); null when it has none. */
  tokenId?: string | null;
}

/** Validates Pulsar JWTs exactly as Pulsar's AuthenticationProviderToken (and the OpenID provider) do. */
export interface TokenValidator {
  /** Resolves the identity, or rejects with AuthenticationError saying why (expired, bad signature...). */
  validate(token: string): Promise<AuthenticatedIdentity>;
}

// ---------------------------------------------------------------- authorization

/** Pulsar's topic/namespace actions as Kafka APIs need them. */
export type AuthAction = 'produce' | 'consume' | 'lookup' | 'admin';

export type AuthResource =
  /**
   * A topic of a resolved name persistent://tenant/ns/topic (`topic` is the local
   * name; a full name or a -partition-N suffix is accepted and reduced to it).
   * `subscription`: for consume, the Kafka group the client consumes for, checked
   * against the namespace's subscription rules as Pulsar's canConsume does.
   */
  | { kind: 'topic'; tenant: string; namespace: string; topic: string; subscription?: string }
  /** A consumer group (Pulsar subscription) in a namespace: its home (src/coordinator/home.ts). */
  | { kind: 'group'; tenant: string; namespace: string; group: string }
  /**
   * A Kafka transactional id in a namespace: its home (src/coordinator/home.ts). Checked
   * like the namespace as a whole (produce: a produce grant on it or one of its topics).
   */
  | { kind: 'transactional-id'; tenant: string; namespace: string; transactionalId: string }
  /**
   * A namespace as a whole: produce/consume need that grant on the namespace or on
   * at least one of its topics (Kafka's "WRITE on any topic", e.g. InitProducerId).
   */
  | { kind: 'namespace'; tenant: string; namespace: string }
  /** Tenant-level administration (create/delete topics, configs). */
  | { kind: 'tenant'; tenant: string }
  /** Cluster-level administration (superusers only). */
  | { kind: 'cluster' };

export interface AuthDecision {
  allowed: boolean;
  /** Short reason for logs/audit: "superuser", "tenant admin", "namespace grant", "no grant for role on namespace"... */
  reason: string;
  /**
   * The exact rule that decided, and where it is written (`kop-gateway policies explain`, and the
   * `rule` of an access_denied record): the grant (`namespace acme/orders permissions: 'alice' ->
   * [produce]`), the tenant admin or superuser rule, or what was looked at when nothing matched.
   */
  rule?: string;
}

/**
 * Answers can(principal, action, resource) with Pulsar's PulsarAuthorizationProvider
 * semantics from a policy source. Knows nothing about Kafka.
 */
export interface Authorizer {
  can(role: string | null, action: AuthAction, resource: AuthResource): Promise<AuthDecision>;
}

// ---------------------------------------------------------------- audit

export interface AuditConnectionInfo {
  connId: number;
  remote: string;
  listener: string;
  tls?: { version: string | null; cipher: string | null };
  /**
   * The connection must still authenticate (SASL listeners): with aggregation on, its
   * connection_opened record waits for a successful authentication, and a connection that
   * never authenticates is only counted (connections_unauthenticated, docs/audit-log.md).
   */
  pendingAuthentication?: boolean;
}

/** What the audit log wrote and what it folded into aggregate records (for metrics). Live objects. */
export interface AuditCounters {
  /** Records written, by event. */
  readonly written: Record<string, number>;
  /**
   * Records not written one by one but counted into an aggregate record, by kind:
   * `access_denied`, `authentication`, `access_filtered` (repeats within an interval, in
   * `repeated` records) and `connection_unauthenticated` (connections_unauthenticated records).
   */
  readonly aggregated: Record<string, number>;
}

/** The audit access log (its own stream; schema in docs/audit-log.md). Never blocks the caller. */
export interface AuditLog {
  connectionOpened(conn: AuditConnectionInfo): void;
  connectionClosed(connId: number, info: { principal: string | null; clientSoftware: string | null; requests: number; bytesIn: number; bytesOut: number }): void;
  authentication(connId: number, event: { mechanism: string; success: boolean; principal?: string; reason?: string; reauthentication?: boolean }): void;
  /** Every decision: denials are written at once, allows summarised per connection. */
  decision(connId: number, event: { principal: string | null; operation: string; action: AuthAction; resource: string; allowed: boolean; reason: string; rule?: string; records?: number; bytes?: number }): void;
  /**
   * A listing filtered by authorization (Metadata of all topics, ListGroups, OffsetFetch of all
   * topics): one record per request with the counts, instead of one per resource.
   */
  filtered(connId: number, event: { principal: string | null; operation: string; action: AuthAction; resourceType: string; allowed: number; hidden: number }): void;
  /**
   * An open session closed because its token (jti) or subject was revoked (tokenRevocationFile).
   * Optional so that wrappers and test doubles written before it still type-check; the gateway's
   * JsonAuditLog and the metrics wrapper implement it.
   */
  sessionRevoked?(connId: number, event: { principal: string | null; tokenId: string | null; reason: string }): void;
  /** A resource got its home namespace (src/coordinator/home.ts). connId null: not from a request. */
  homeAssigned(connId: number | null, event: { principal: string | null; operation: string | null; resource: string; namespace: string; how: 'created' | 'adopted' | 'inferred' }): void;
  readonly counters: AuditCounters;
  close(): Promise<void>;
}
