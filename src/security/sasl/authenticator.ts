/**
 * The server side of one connection's SASL exchange (SaslHandshake +
 * SaslAuthenticate, or the legacy raw-token framing after SaslHandshake v0),
 * for PLAIN and OAUTHBEARER carrying Pulsar JWTs. Pure of I/O: the handlers
 * feed it bytes and apply its outcome to the session.
 *
 * Re-authentication (KIP-368): a client authenticated with SaslAuthenticate v1+
 * may run the exchange again before its session expires; the principal must
 * not change, only the expiry moves.
 */
import { NameError, parseNamespace, showName, type NamespaceRef } from '../../topics/names.js';
import { AuthenticationError, type TokenValidator } from '../types.js';
import { isErrorAcknowledgement, oauthBearerErrorChallenge, parseOAuthBearer } from './oauthbearer.js';
import { CredentialTooLargeError, DEFAULT_MAX_TOKEN_BYTES, parsePlain } from './plain.js';
import { boundCounters } from '../../network/counters.js';
import type { RevocationList } from '../tokens/revocation.js';

export const SUPPORTED_MECHANISMS = ['PLAIN', 'OAUTHBEARER'] as const;
export type Mechanism = (typeof SUPPORTED_MECHANISMS)[number];

export interface SaslSettings {
  validator: TokenValidator;
  mechanisms: readonly Mechanism[];
  /** Tenant/namespace when the client names none (kafkaTenant/kafkaNamespace). */
  defaults: NamespaceRef;
  /** connectionsMaxReauthMs: upper bound of a session's lifetime; 0 = only the token's expiry. */
  maxReauthMs: number;
  /** saslMaxTokenBytes: longer tokens fail before they are parsed (default 16 KiB). */
  maxTokenBytes?: number;
  /** tokenRevocationFile: the list in force is checked at every authentication and re-authentication. */
  revocation?: { readonly list: RevocationList } | null;
}

export type Step =
  /** More bytes are needed: send these as the challenge (OAUTHBEARER error JSON). */
  | { kind: 'challenge'; bytes: Buffer; failure: string }
  | {
      kind: 'success';
      principal: string;
      namespace: NamespaceRef;
      expiresAt: number;
      tokenId: string | null;
      /** Something the operator should know about how the credentials were read (logged at warn). */
      notice?: string;
    }
  | { kind: 'failure'; reason: string };

export class SaslAuthenticator {
  private mechanism: Mechanism | null = null;
  /** Set after an OAUTHBEARER error challenge: the next message must be the client's kvsep. */
  private pendingFailure: string | null = null;
  private authenticatedPrincipal: string | null = null;

  constructor(private readonly settings: SaslSettings) {}

  get selectedMechanism(): Mechanism | null {
    return this.mechanism;
  }

  /**
   * An OAUTHBEARER error challenge was sent: the exchange has failed already
   * (its failure was reported with the challenge) and the next message only
   * acknowledges it.
   */
  get awaitingErrorAcknowledgement(): boolean {
    return this.pendingFailure !== null;
  }

  /** SaslHandshake: returns false when the mechanism is not enabled. */
  selectMechanism(name: string): boolean {
    const m = SUPPORTED_MECHANISMS.find((x) => x === name);
    if (!m || !this.settings.mechanisms.includes(m)) return false;
    this.mechanism = m;
    this.pendingFailure = null;
    return true;
  }

  /** One SaslAuthenticate (or legacy raw) message. */
  async step(bytes: Buffer, now = Date.now()): Promise<Step> {
    const mechanism = this.mechanism;
    if (!mechanism) return { kind: 'failure', reason: 'SaslAuthenticate before SaslHandshake' };
    if (this.pendingFailure !== null) {
      const reason = this.pendingFailure;
      this.pendingFailure = null;
      this.mechanism = null;
      return { kind: 'failure', reason: isErrorAcknowledgement(bytes) ? reason : `${reason} (and the client did not acknowledge the error challenge)` };
    }
    try {
      const { token, namespace, bareUsername } = mechanism === 'PLAIN' ? this.readPlain(bytes) : { ...this.readOAuthBearer(bytes), bareUsername: null };
      const identity = await this.settings.validator.validate(token);
      // a revoked token (jti) or subject is refused like an invalid one, also at re-authentication
      const revoked = this.settings.revocation?.list.check({ role: identity.role, tokenId: identity.tokenId ?? null }, now);
      if (revoked !== null && revoked !== undefined) throw new AuthenticationError(revoked);
      if (this.authenticatedPrincipal !== null && identity.role !== this.authenticatedPrincipal) {
        return { kind: 'failure', reason: `re-authentication may not change the principal (was '${this.authenticatedPrincipal}', now '${identity.role}')` };
      }
      let expiresAt = identity.expiresAt ?? Infinity;
      if (this.settings.maxReauthMs > 0) expiresAt = Math.min(expiresAt, now + this.settings.maxReauthMs);
      if (expiresAt <= now) return { kind: 'failure', reason: 'token expired' };
      this.authenticatedPrincipal = identity.role;
      this.mechanism = null;
      const notice = bareUsername !== null ? bareUsernameNotice(bareUsername, identity.role, namespace) : undefined;
      return { kind: 'success', principal: identity.role, namespace, expiresAt, tokenId: identity.tokenId ?? null, ...(notice ? { notice } : {}) };
    } catch (err) {
      if (!(err instanceof AuthenticationError)) throw err;
      if (err instanceof CredentialTooLargeError) boundCounters.closed.saslCredentialTooLarge++;
      if (mechanism === 'OAUTHBEARER') {
        this.pendingFailure = err.message;
        return { kind: 'challenge', bytes: oauthBearerErrorChallenge(), failure: err.message };
      }
      this.mechanism = null;
      return { kind: 'failure', reason: err.message };
    }
  }

  private readPlain(bytes: Buffer): { token: string; namespace: NamespaceRef; bareUsername: string | null } {
    const creds = parsePlain(bytes, this.maxTokenBytes);
    return { token: creds.token, namespace: this.namespaceFrom(creds.username, 'username'), bareUsername: creds.username.includes('/') ? null : creds.username };
  }

  private readOAuthBearer(bytes: Buffer): { token: string; namespace: NamespaceRef } {
    const initial = parseOAuthBearer(bytes);
    if (initial.token.length > this.maxTokenBytes) {
      throw new CredentialTooLargeError(`OAUTHBEARER token of ${initial.token.length} bytes is longer than saslMaxTokenBytes (${this.maxTokenBytes})`);
    }
    const ns = initial.extensions['namespace'];
    return { token: initial.token, namespace: ns === undefined ? this.settings.defaults : this.namespaceFrom(ns, 'namespace extension') };
  }

  private get maxTokenBytes(): number {
    return this.settings.maxTokenBytes ?? DEFAULT_MAX_TOKEN_BYTES;
  }

  /** "tenant/namespace" or "tenant" (the configured namespace in that tenant). */
  private namespaceFrom(value: string, what: string): NamespaceRef {
    try {
      return parseNamespace(value.includes('/') ? value : `${value}/${this.settings.defaults.namespace}`);
    } catch (err) {
      const why = err instanceof NameError ? err.problem : 'expected tenant/namespace or tenant';
      throw new AuthenticationError(`invalid ${what} ${showName(value)}: ${why}`);
    }
  }
}

/**
 * The SASL/PLAIN username rule (docs/tokens.md): `tenant/namespace`, or a bare `tenant` read as
 * `tenant/<kafkaNamespace>` (KoP's convention). Kafka users often put their principal there (in
 * Kafka the username is the principal); here the principal is the token's role, and a bare username
 * that equals it is almost always that mistake, not a tenant named after the role. It is served as
 * the tenant (a tenant per team whose token role is the team name is a real KoP layout), and the
 * gateway says so loudly.
 */
export function bareUsernameNotice(username: string, role: string, namespace: NamespaceRef): string | undefined {
  if (username !== role) return undefined;
  return (
    `SASL/PLAIN username '${username}' is the token's role, and is read as TENANT '${namespace.tenant}' ` +
    `(short topic names go to persistent://${namespace.tenant}/${namespace.namespace}/...). The principal always comes from the token; ` +
    `the username names the tenant/namespace: if you meant the role, set username=<tenant>/<namespace> (e.g. public/default).`
  );
}
