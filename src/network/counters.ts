/**
 * Counters of the bounds this layer enforces (connection admission, TLS
 * handshakes, frame sizes and timing, read-ahead) and of the pre-authentication
 * refusals of the SASL layer: one plain object per process, per reason, for a
 * metrics module to read; and a throttled log of refusals so an attacker
 * cannot turn each refused connection into a log line.
 *
 *   boundCounters.refused.unauthenticatedPerIp   // connections refused at accept, by reason
 *   noteRefusal(log, 'unauthenticatedPerIp', { remote }, 'connection refused')
 */
import type { Logger } from '../logger.js';

/** Why a connection was refused at accept (before TLS or any request is read). */
export type AcceptRefusal = 'maxConnections' | 'maxConnectionsPerIp' | 'connectionCreationRate' | 'unauthenticated' | 'unauthenticatedPerIp' | 'stopping';

/** Why an admitted connection was closed by a bound, or a request refused before authentication. */
export type BoundClose =
  /** no completed TLS handshake within tlsHandshakeTimeoutMs */
  | 'tlsHandshakeTimeout'
  /** the TLS handshake failed (bad ClientHello, protocol or cipher mismatch, reset) */
  | 'tlsHandshakeFailed'
  /** a size prefix above the frame bound before authentication (saslMaxReceiveSize) */
  | 'preAuthFrameTooLarge'
  /** a size prefix above socketRequestMaxBytes after authentication */
  | 'frameTooLarge'
  /** a frame whose body did not arrive within requestReceiveTimeoutMs */
  | 'partialFrameTimeout'
  /** a SASL credential above its bound (saslMaxTokenBytes, username length) */
  | 'saslCredentialTooLarge'
  /** no authentication within authenticationTimeoutMs */
  | 'authenticationTimeout';

export interface BoundCounters {
  /** Connections closed at accept, by reason. */
  refused: Record<AcceptRefusal, number>;
  /** Connections closed (or SASL messages refused) by a bound, by reason. */
  closed: Record<BoundClose, number>;
  /** Times a connection stopped reading because its queued request bytes reached maxQueuedRequestBytes. */
  readAheadPauses: number;
  /** Connections currently admitted and not yet authenticated (in TLS handshake or before SASL completes). */
  unauthenticatedOpen: number;
  /** Bytes currently held by all connections as queued frames and partial frames (read ahead, not yet handled). */
  bufferedRequestBytes: number;
}

export const boundCounters: BoundCounters = {
  refused: { maxConnections: 0, maxConnectionsPerIp: 0, connectionCreationRate: 0, unauthenticated: 0, unauthenticatedPerIp: 0, stopping: 0 },
  closed: {
    tlsHandshakeTimeout: 0,
    tlsHandshakeFailed: 0,
    preAuthFrameTooLarge: 0,
    frameTooLarge: 0,
    partialFrameTimeout: 0,
    saslCredentialTooLarge: 0,
    authenticationTimeout: 0,
  },
  readAheadPauses: 0,
  unauthenticatedOpen: 0,
  bufferedRequestBytes: 0,
};

/** At most one log line per reason per this many ms; the lines in between are counted in `suppressed`. */
const LOG_WINDOW_MS = 1000;
/** Per logger (one per gateway), so one gateway's refusals never hide another's. */
const lastLogged = new WeakMap<Logger, Map<string, { at: number; suppressed: number }>>();

/**
 * Counts a refusal and logs it at warn, throttled per reason: the first one in
 * each second is logged with how many were not logged since the last line.
 */
export function noteRefusal(log: Logger, reason: AcceptRefusal | BoundClose, fields: Record<string, unknown>, message: string, now = Date.now()): void {
  if (reason in boundCounters.refused) boundCounters.refused[reason as AcceptRefusal]++;
  else boundCounters.closed[reason as BoundClose]++;
  let windows = lastLogged.get(log);
  if (!windows) lastLogged.set(log, (windows = new Map()));
  const last = windows.get(reason);
  if (last && now - last.at < LOG_WINDOW_MS) {
    last.suppressed++;
    return;
  }
  const suppressed = last?.suppressed ?? 0;
  windows.set(reason, { at: now, suppressed: 0 });
  log.warn({ ...fields, reason, ...(suppressed > 0 ? { suppressedSinceLastLine: suppressed } : {}) }, message);
}
