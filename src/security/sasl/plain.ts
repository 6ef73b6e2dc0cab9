/**
 * SASL PLAIN (RFC 4616) with KoP's convention for Pulsar tokens:
 *   authzid NUL username NUL password
 *   username = "tenant/namespace" (the default namespace of short topic names on
 *              this connection) or "tenant" (namespace from kafkaNamespace)
 *   password = "token:<jwt>" (a bare JWT is accepted too)
 * The principal is the token's role, never the username. Username and password
 * are prepared with SASLprep (RFC 4013) as Kafka's PlainSaslServer expects.
 */
import { saslprep } from '@mongodb-js/saslprep';
import { AuthenticationError } from '../types.js';

export interface PlainCredentials {
  authzid: string;
  username: string;
  token: string;
}

const TOKEN_PREFIX = 'token:';

export function parsePlain(message: Buffer): PlainCredentials {
  const text = message.toString('utf8');
  const first = text.indexOf('\u0000');
  const second = first < 0 ? -1 : text.indexOf('\u0000', first + 1);
  if (first < 0 || second < 0 || text.indexOf('\u0000', second + 1) >= 0) {
    throw new AuthenticationError('invalid SASL/PLAIN message: expected authzid NUL username NUL password');
  }
  let username: string;
  let password: string;
  try {
    username = saslprep(text.slice(first + 1, second));
    password = saslprep(text.slice(second + 1));
  } catch (err) {
    throw new AuthenticationError(`invalid SASL/PLAIN credentials: ${(err as Error).message}`);
  }
  if (username === '') throw new AuthenticationError('SASL/PLAIN username is empty: use tenant/namespace');
  if (password === '') throw new AuthenticationError('SASL/PLAIN password is empty: use token:<JWT>');
  const token = password.startsWith(TOKEN_PREFIX) ? password.slice(TOKEN_PREFIX.length) : password;
  if (token === '') throw new AuthenticationError('SASL/PLAIN password has an empty token after "token:"');
  return { authzid: text.slice(0, first), username, token };
}
