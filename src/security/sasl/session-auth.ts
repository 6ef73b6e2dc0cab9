/**
 * Runs one SASL message through the connection's authenticator and applies the
 * outcome to the session: principal, namespace, expiry, the connection's
 * authenticated limits, audit, and the failed-authentication delay (Kafka's
 * connection.failed.authentication.delay.ms), applied here once per failed
 * exchange so no caller and no mechanism can skip it.
 * Shared by SaslAuthenticate and the legacy raw-token framing.
 */
import type { Connection } from '../../network/connection.js';
import type { Session } from '../../session/session.js';
import type { GatewayContext } from '../../gateway-context.js';
import type { Logger } from '../../logger.js';
import type { Step } from './authenticator.js';
import type { AuditLog } from '../types.js';
import type { RevocationList } from '../tokens/revocation.js';

export interface AuthOutcome {
  step: Step;
  /** ms the session may live from now (0: no expiry); only for success. */
  sessionLifetimeMs: number;
}

export async function runSaslStep(gateway: GatewayContext, conn: Connection, session: Session, bytes: Buffer, log: Logger): Promise<AuthOutcome> {
  const sasl = session.sasl!;
  const mechanism = sasl.selectedMechanism ?? 'NONE';
  const reauth = session.authenticated;
  // After an OAUTHBEARER error challenge the exchange has failed already: its failure was audited
  // and delayed when the challenge went out (a client may disconnect instead of acknowledging).
  const acknowledgingFailure = sasl.awaitingErrorAcknowledgement;
  const step = await sasl.step(bytes);
  const audit = gateway.security.audit;
  if (step.kind === 'success') {
    session.authenticated = true;
    session.principal = step.principal;
    session.mechanism = mechanism;
    session.defaultNamespace = step.namespace;
    session.expiresAt = step.expiresAt;
    session.tokenId = step.tokenId;
    audit?.authentication(conn.id, { mechanism, success: true, principal: step.principal, reauthentication: reauth });
    conn.authenticated();
    scheduleExpiry(conn, session, log);
    log.info(
      { conn: conn.id, principal: step.principal, mechanism, namespace: `${step.namespace.tenant}/${step.namespace.namespace}`, expiresAt: Number.isFinite(step.expiresAt) ? new Date(step.expiresAt).toISOString() : null, reauthentication: reauth },
      reauth ? 'client re-authenticated' : 'client authenticated',
    );
    if (step.notice && !reauth) log.warn({ conn: conn.id, remote: conn.remoteAddress, principal: step.principal }, step.notice);
    return { step, sessionLifetimeMs: Number.isFinite(step.expiresAt) ? Math.max(1, step.expiresAt - Date.now()) : 0 };
  }
  if (step.kind === 'failure' && acknowledgingFailure) {
    log.debug({ conn: conn.id, mechanism, reason: step.reason }, 'client acknowledged the OAUTHBEARER error challenge; closing connection');
    return { step, sessionLifetimeMs: 0 };
  }
  // A failure, or an OAUTHBEARER error challenge (the exchange has failed; RFC 7628 lets the client
  // acknowledge before the failure response): audited now and delayed now, whatever the client does next.
  const reason = step.kind === 'failure' ? step.reason : step.failure;
  audit?.authentication(conn.id, { mechanism, success: false, reason, reauthentication: reauth });
  log.warn({ conn: conn.id, remote: conn.remoteAddress, mechanism, reason, reauthentication: reauth }, 'authentication failed');
  await delay(gateway.security.failedAuthenticationDelayMs);
  return { step, sessionLifetimeMs: 0 };
}

const expiryTimers = new WeakMap<Session, NodeJS.Timeout>();
/** setTimeout's limit; longer sessions are re-checked when the timer fires. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Close the connection when the session expires without a re-authentication
 * (KIP-368), so an expired token stops working on an open connection even if
 * the client sends nothing more.
 */
function scheduleExpiry(conn: Connection, session: Session, log: Logger): void {
  clearTimeout(expiryTimers.get(session));
  if (!Number.isFinite(session.expiresAt)) return;
  const check = (): void => {
    const left = session.expiresAt - Date.now();
    if (left > 0) {
      expiryTimers.set(session, setTimeout(check, Math.min(left, MAX_TIMER_MS)).unref());
      return;
    }
    if (!conn.isClosed) {
      log.info({ conn: conn.id, principal: session.principal }, 'session expired without re-authentication; closing connection');
      conn.destroy();
    }
  };
  expiryTimers.set(session, setTimeout(check, Math.min(Math.max(0, session.expiresAt - Date.now()), MAX_TIMER_MS)).unref());
  conn.socket.once('close', () => clearTimeout(expiryTimers.get(session)));
}

export function delay(ms: number): Promise<void> {
  return ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve();
}

/**
 * A new revocation list is in force: close every open token session it revokes
 * (by jti or subject), audited as session_revoked before the close. Returns how
 * many were closed.
 */
export function closeRevokedSessions(conns: Iterable<Connection>, list: RevocationList, audit: AuditLog | null, log: Logger, now = Date.now()): number {
  let closed = 0;
  for (const conn of conns) {
    const session = conn.context as Session | undefined;
    if (!session || !session.authenticated || session.sasl === null || conn.isClosed) continue;
    const reason = list.check({ role: session.principal, tokenId: session.tokenId }, now);
    if (reason === null) continue;
    closed++;
    audit?.sessionRevoked?.(conn.id, { principal: session.principal, tokenId: session.tokenId, reason });
    log.warn({ conn: conn.id, remote: conn.remoteAddress, principal: session.principal, tokenId: session.tokenId, reason }, 'open session revoked; closing connection');
    conn.destroy();
  }
  return closed;
}
