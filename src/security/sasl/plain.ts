/**
 * SASL PLAIN (RFC 4616) with KoP's convention for Pulsar tokens:
 *   authzid NUL username NUL password
 *   username = "tenant/namespace" (the default namespace of short topic names on
 *              this connection) or "tenant" (namespace from kafkaNamespace)
 *   password = "token:<jwt>" (a bare JWT is accepted too)
 * The principal is the token's role, never the username. Username and password
 * are prepared with SASLprep (RFC 4013).
 *
 * Bounds, checked on the raw bytes before any string is built or normalised
 * (SASLprep costs ~40 ms per 512 KB on the event loop, and the library's
 * String.fromCodePoint.apply overflows the stack above ~125,000 code points):
 *  - authzid and username: at most MAX_NAME_BYTES each;
 *  - password: "token:" plus at most maxTokenBytes (saslMaxTokenBytes);
 *  - printable ASCII (every JWT) is its own SASLprep and skips the library;
 *    other text is SASLprep'd only up to MAX_SASLPREP_CHARS (~2 ms).
 */
import { saslprep } from '@mongodb-js/saslprep';
import { AuthenticationError } from '../types.js';

export interface PlainCredentials {
  authzid: string;
  username: string;
  token: string;
}

/** Longest authzid or username: "tenant/namespace" needs far less (Pulsar names are short). */
export const MAX_NAME_BYTES = 1024;
/** Longest non-ASCII string given to SASLprep (a token is ASCII; this bounds the work, ~2 ms). */
export const MAX_SASLPREP_CHARS = 16_384;
/** saslMaxTokenBytes' default, for callers that do not pass one. */
export const DEFAULT_MAX_TOKEN_BYTES = 16_384;

const TOKEN_PREFIX = 'token:';
const NUL = 0;
/** Printable ASCII: SASLprep maps, normalises and prohibits nothing in it, so it is its own SASLprep. */
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/** A credential longer than its bound: refused before it is parsed, counted apart from other failures. */
export class CredentialTooLargeError extends AuthenticationError {
  constructor(message: string) {
    super(message);
    this.name = 'CredentialTooLargeError';
  }
}

/** SASLprep with the cheap and bounded paths above; throws AuthenticationError. */
export function prepare(text: string, what: string): string {
  if (PRINTABLE_ASCII.test(text)) return text;
  if (text.length > MAX_SASLPREP_CHARS) {
    throw new CredentialTooLargeError(`SASL/PLAIN ${what} of ${text.length} characters with non-ASCII text is longer than ${MAX_SASLPREP_CHARS} (a token is ASCII)`);
  }
  try {
    return saslprep(text);
  } catch (err) {
    throw new AuthenticationError(`invalid SASL/PLAIN credentials (${what}): ${(err as Error).message}`);
  }
}

export function parsePlain(message: Buffer, maxTokenBytes = DEFAULT_MAX_TOKEN_BYTES): PlainCredentials {
  const first = message.indexOf(NUL);
  const second = first < 0 ? -1 : message.indexOf(NUL, first + 1);
  if (first < 0 || second < 0 || message.indexOf(NUL, second + 1) >= 0) {
    throw new AuthenticationError('invalid SASL/PLAIN message: expected authzid NUL username NUL password');
  }
  const usernameBytes = second - first - 1;
  const passwordBytes = message.length - second - 1;
  if (first > MAX_NAME_BYTES) throw new CredentialTooLargeError(`SASL/PLAIN authzid of ${first} bytes is longer than ${MAX_NAME_BYTES}`);
  if (usernameBytes > MAX_NAME_BYTES) throw new CredentialTooLargeError(`SASL/PLAIN username of ${usernameBytes} bytes is longer than ${MAX_NAME_BYTES}: use tenant/namespace`);
  if (passwordBytes > TOKEN_PREFIX.length + maxTokenBytes) {
    throw new CredentialTooLargeError(`SASL/PLAIN password of ${passwordBytes} bytes is longer than a token may be (saslMaxTokenBytes ${maxTokenBytes}, plus "token:")`);
  }
  const username = prepare(message.toString('utf8', first + 1, second), 'username');
  const password = prepare(message.toString('utf8', second + 1), 'password');
  if (username === '') throw new AuthenticationError('SASL/PLAIN username is empty: use tenant/namespace');
  if (password === '') throw new AuthenticationError('SASL/PLAIN password is empty: use token:<JWT>');
  const token = password.startsWith(TOKEN_PREFIX) ? password.slice(TOKEN_PREFIX.length) : password;
  if (token === '') throw new AuthenticationError('SASL/PLAIN password has an empty token after "token:"');
  return { authzid: message.toString('utf8', 0, first), username, token };
}
