/**
 * Who is calling, and may they: authentication and authorization of the
 * registry's HTTP requests, audited in the gateway's audit log.
 *
 * Authentication is the Kafka listeners' own (src/security/sasl/): HTTP Basic
 * is SASL/PLAIN (user = tenant/namespace, or a tenant; password
 * `token:<jwt>`), a Bearer token is SASL/OAUTHBEARER without a namespace
 * extension (the configured kafkaTenant/kafkaNamespace). Each is accepted
 * when saslAllowedMechanisms enables that mechanism, and the token is
 * validated by the same validator, with the same size bounds and the same
 * delay before a failure is answered (failedAuthenticationDelayMs). With
 * authenticationEnabled=false there is no principal (anonymousUserRole
 * applies) and the context is kafkaTenant/kafkaNamespace.
 *
 * A connection remembers the credential it validated (by digest) until the
 * token expires, so keep-alive requests are not validated and audited again.
 *
 * Authorization: the authenticated tenant/namespace is the registry context:
 * every subject, schema id, config and mode a request names lives there.
 * Reading needs `consume`, registering and soft deletes `produce` (on the
 * namespace: a namespace grant or a grant on one of its topics), permanent
 * deletes, /config and /mode changes need a tenant admin (`admin` on the
 * tenant). Every decision goes to the audit log (allows summarised per
 * connection, denials at once) with the subject or context as resource.
 */
import { createHash } from 'node:crypto';
import type { Socket } from 'node:net';
import type { SecurityServices } from '../gateway-context.js';
import { SaslAuthenticator, type Mechanism } from '../security/sasl/authenticator.js';
import type { AuthAction, AuthResource } from '../security/types.js';
import type { NamespaceRef } from '../topics/names.js';
import { tlsInfo } from '../security/tls/index.js';
import { E } from './errors.js';

/** Audit connection ids of the registry's HTTP connections: far above the Kafka connections' (which count from 1). */
const CONN_ID_BASE = 1_000_000_000_000;
let nextConnId = CONN_ID_BASE;

export const LISTENER_NAME = 'SCHEMA_REGISTRY';

export interface Caller {
  role: string | null;
  ns: NamespaceRef;
}

export interface HttpConnection {
  id: number;
  requests: number;
  bytesIn: number;
  bytesOut: number;
  cached: { digest: string; caller: Caller; expiresAt: number } | null;
}

export type RegistryAction = 'consume' | 'produce' | 'admin';

export class RegistryAuth {
  constructor(
    private readonly security: SecurityServices,
    private readonly defaults: NamespaceRef,
  ) {}

  get enabled(): boolean {
    return this.security.sasl !== null;
  }

  opened(socket: Socket): HttpConnection {
    const conn: HttpConnection = { id: nextConnId++, requests: 0, bytesIn: 0, bytesOut: 0, cached: null };
    const tls = tlsInfo(socket);
    this.security.audit?.connectionOpened({
      connId: conn.id,
      remote: `${socket.remoteAddress}:${socket.remotePort}`,
      listener: LISTENER_NAME,
      pendingAuthentication: this.enabled,
      ...(tls ? { tls } : {}),
    });
    return conn;
  }

  closed(conn: HttpConnection): void {
    this.security.audit?.connectionClosed(conn.id, { principal: conn.cached?.caller.role ?? null, clientSoftware: null, requests: conn.requests, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut });
  }

  /** The caller of a request, or a 401 RegistryError (after the failed-authentication delay). */
  async authenticate(conn: HttpConnection, authorization: string | undefined): Promise<Caller> {
    const sasl = this.security.sasl;
    if (!sasl) return { role: null, ns: this.defaults };
    const header = (authorization ?? '').trim();
    const now = Date.now();
    const digest = createHash('sha256').update(header).digest('hex');
    if (conn.cached && conn.cached.digest === digest && conn.cached.expiresAt > now) return conn.cached.caller;
    let mechanism: Mechanism;
    let message: Buffer;
    const basic = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header);
    const bearer = /^Bearer\s+(\S+)$/i.exec(header);
    if (basic) {
      const decoded = Buffer.from(basic[1]!, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return this.fail(conn, 'HTTP_BASIC', 'malformed Basic credentials: expected user:password');
      mechanism = 'PLAIN';
      message = Buffer.from(`\u0000${decoded.slice(0, colon)}\u0000${decoded.slice(colon + 1)}`, 'utf8');
    } else if (bearer) {
      mechanism = 'OAUTHBEARER';
      message = Buffer.from(`n,,\u0001auth=Bearer ${bearer[1]}\u0001\u0001`, 'utf8');
    } else {
      // no attempt: not audited as a failure of anyone (the 401 tells the client to authenticate)
      throw E.unauthorized('Unauthorized: authenticate with HTTP Basic (user tenant/namespace, password token:<jwt>) or a Bearer token');
    }
    const label = mechanism === 'PLAIN' ? 'HTTP_BASIC' : 'HTTP_BEARER';
    const auth = new SaslAuthenticator(sasl);
    if (!auth.selectMechanism(mechanism)) {
      return this.fail(conn, label, `${label === 'HTTP_BASIC' ? 'HTTP Basic' : 'Bearer'} authentication needs ${mechanism} in saslAllowedMechanisms`);
    }
    const step = await auth.step(message, now);
    if (step.kind !== 'success') return this.fail(conn, label, step.kind === 'failure' ? step.reason : step.failure);
    const caller: Caller = { role: step.principal, ns: step.namespace };
    conn.cached = { digest, caller, expiresAt: step.expiresAt };
    this.security.audit?.authentication(conn.id, { mechanism: label, success: true, principal: step.principal });
    return caller;
  }

  private async fail(conn: HttpConnection, mechanism: string, reason: string): Promise<never> {
    conn.cached = null;
    this.security.audit?.authentication(conn.id, { mechanism, success: false, reason });
    const delay = this.security.failedAuthenticationDelayMs;
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    throw E.unauthorized(`Unauthorized: ${reason}`);
  }

  /**
   * May the caller do `action` on `resource` (a label: `subject acme/orders/x`, `schema-registry acme/orders`)?
   * Audited; throws 403/40301 when not.
   */
  async authorize(conn: HttpConnection, caller: Caller, operation: string, action: RegistryAction, resource: string): Promise<void> {
    const target: AuthResource = action === 'admin' ? { kind: 'tenant', tenant: caller.ns.tenant } : { kind: 'namespace', tenant: caller.ns.tenant, namespace: caller.ns.namespace };
    const decision = await this.security.authorizer.can(caller.role, action as AuthAction, target);
    this.security.audit?.decision(conn.id, { principal: caller.role, operation, action, resource, allowed: decision.allowed, reason: decision.reason });
    if (!decision.allowed) {
      const verb = action === 'consume' ? 'Read' : action === 'produce' ? 'Write' : 'Alter';
      throw E.forbidden(`User ${caller.role ?? '(anonymous)'} is denied operation ${verb} on ${resource}`);
    }
  }
}
