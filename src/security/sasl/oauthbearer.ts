/**
 * SASL OAUTHBEARER (RFC 7628) client initial response, as Kafka clients send it:
 *   gs2-header kvsep *(key=value kvsep) kvsep
 *   e.g. "n,,\x01auth=Bearer <jwt>\x01namespace=acme/orders\x01\x01"
 * Extensions (key=value pairs other than auth) are returned; `namespace` names
 * the default namespace of the connection. On failure the server answers with
 * RFC 7628's JSON error as a challenge, the client replies with a single kvsep,
 * and the exchange fails (Kafka's OAuthBearerSaslServer does the same).
 */
import { AuthenticationError } from '../types.js';

const KVSEP = '\u0001';
const KEY = /^[A-Za-z]+$/;

export interface OAuthBearerInitial {
  authzid: string | null;
  token: string;
  extensions: Record<string, string>;
}

export function parseOAuthBearer(message: Buffer): OAuthBearerInitial {
  const text = message.toString('utf8');
  const m = /^n,(a=([^,]*))?,/.exec(text);
  if (!m) throw new AuthenticationError('invalid OAUTHBEARER message: missing GS2 header "n,,"');
  const rest = text.slice(m[0].length);
  if (!rest.startsWith(KVSEP) || !rest.endsWith(KVSEP + KVSEP)) {
    throw new AuthenticationError('invalid OAUTHBEARER message: key/value pairs must be framed by \\x01 and end with \\x01\\x01');
  }
  const pairs = rest.slice(1, -2).split(KVSEP);
  let token: string | null = null;
  const extensions: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new AuthenticationError('invalid OAUTHBEARER message: malformed key/value pair');
    const key = pair.slice(0, eq);
    const value = pair.slice(eq + 1);
    if (!KEY.test(key)) throw new AuthenticationError(`invalid OAUTHBEARER extension name '${key.slice(0, 40)}'`);
    if (key === 'auth') {
      const bearer = /^Bearer +(\S+)$/i.exec(value);
      if (!bearer) throw new AuthenticationError('invalid OAUTHBEARER message: auth must be "Bearer <token>"');
      token = bearer[1]!;
    } else {
      extensions[key] = value;
    }
  }
  if (token === null) throw new AuthenticationError('invalid OAUTHBEARER message: no auth=Bearer token');
  return { authzid: m[2] ? m[2] : null, token, extensions };
}

/** The RFC 7628 error challenge the server sends before failing the exchange. */
export function oauthBearerErrorChallenge(status = 'invalid_token'): Buffer {
  return Buffer.from(JSON.stringify({ status }), 'utf8');
}

/** The client's reply to an error challenge: a single kvsep. */
export function isErrorAcknowledgement(message: Buffer): boolean {
  return message.length === 1 && message[0] === 1;
}
