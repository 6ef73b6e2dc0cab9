/**
 * PulsarClientError: a failure with the broker's ServerError name (or a
 * client-side kind: Timeout, ConnectionClosed, Closed, ...) and whether a
 * later retry of the same operation can succeed.
 */
import { ServerError, enumName } from '../proto/index.js';
import type { PulsarClientErrorShape } from './types.js';

/** Broker errors after which the same request may succeed later (as Java's PulsarClientException.isRetriableError). */
const RETRIABLE_SERVER_ERRORS: ReadonlySet<string> = new Set([
  'UnknownError',
  'MetadataError',
  'PersistenceError',
  'ServiceNotReady',
  'TooManyRequests',
  'ProducerBlockedQuotaExceededError',
]);

/** Client-side kinds that are always retriable. */
const RETRIABLE_CLIENT_KINDS: ReadonlySet<string> = new Set(['Timeout', 'ConnectionClosed', 'ConnectError', 'Lookup']);

export class PulsarClientError extends Error implements PulsarClientErrorShape {
  readonly serverError: string;
  readonly retriable: boolean;

  constructor(serverError: string, message: string, retriable?: boolean, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PulsarClientError';
    this.serverError = serverError;
    this.retriable = retriable ?? (RETRIABLE_SERVER_ERRORS.has(serverError) || RETRIABLE_CLIENT_KINDS.has(serverError));
  }

  /** From a broker ServerError code (ERROR, SEND_ERROR, failed lookups). */
  static fromServer(code: number | undefined, message: string | undefined, what: string): PulsarClientError {
    const name = code === undefined ? 'UnknownError' : enumName(ServerError, code);
    return new PulsarClientError(name, `${what}: ${name}${message ? `: ${message}` : ''}`);
  }
}

export function timeoutError(what: string, ms: number): PulsarClientError {
  return new PulsarClientError('Timeout', `${what}: no answer within ${ms} ms`, true);
}

export function connectionClosedError(what: string, cause?: unknown): PulsarClientError {
  const why = cause instanceof Error ? `: ${cause.message}` : '';
  return new PulsarClientError('ConnectionClosed', `${what}: connection closed${why}`, true, cause === undefined ? undefined : { cause });
}

export function closedError(what: string): PulsarClientError {
  return new PulsarClientError('Closed', `${what}: closed`, false);
}

export function isRetriable(e: unknown): boolean {
  return e instanceof PulsarClientError ? e.retriable : !(e instanceof Error && e.name === 'PulsarProtoError');
}
