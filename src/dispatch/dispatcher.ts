/**
 * Turns request frames into responses: read the fixed header prefix, look the
 * API up in the dispatch table, decode with the generated codec, gate on the
 * session, run the handler, encode the response.
 *
 * Kafka's answers to bad input, which clients expect:
 *  - ApiVersions with a version the broker does not know: an ApiVersions v0
 *    response with UNSUPPORTED_VERSION and the supported ranges, so the client
 *    can retry with a version it shares with us.
 *  - Any other unknown API or version, or a request that does not parse: the
 *    broker closes the connection (InvalidRequestException in Kafka's log).
 */
import type { Connection, FrameHandler, FrameResult } from '../network/connection.js';
import { decodeRequest, encodeResponse, encodeResponseChunks, type ApiKeyNumber } from '../protocol/codec/frame.js';
import { KafkaCodecError } from '../protocol/codec/errors.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ApiVersionsResponse } from '../protocol/generated/index.js';
import { ErrorCode, KafkaError, errorName } from '../protocol/errors.js';
import type { GatewayContext } from '../gateway-context.js';
import type { Session } from '../session/session.js';
import type { RequestContext } from './registry.js';

/** Creates the session of a new connection (listener-specific). */
export type SessionFactory = (conn: Connection) => Session;

export class Dispatcher implements FrameHandler {
  constructor(
    private readonly gateway: GatewayContext,
    private readonly newSession: SessionFactory,
  ) {}

  private sessionOf(conn: Connection): Session {
    let session = conn.context as Session | undefined;
    if (!session) {
      session = this.newSession(conn);
      conn.context = session;
    }
    return session;
  }

  async handle(frame: Buffer, conn: Connection): Promise<FrameResult> {
    const log = conn.log;
    if (frame.length < 8) {
      log.warn({ conn: conn.id, bytes: frame.length }, 'request frame shorter than a request header; closing connection');
      return { response: null, close: true };
    }
    const apiKey = frame.readInt16BE(0);
    const apiVersion = frame.readInt16BE(2);
    const correlationId = frame.readInt32BE(4);
    const table = this.gateway.table;
    const entry = table.get(apiKey);

    if (!entry || apiVersion < entry.minVersion || apiVersion > entry.maxVersion) {
      if (apiKey === API_KEYS.ApiVersions) {
        log.info({ conn: conn.id, apiVersion }, 'ApiVersions version not supported; answering with v0 and our ranges');
        const body = { ...ApiVersionsResponse.defaults(), errorCode: ErrorCode.UNSUPPORTED_VERSION, apiKeys: table.advertised() };
        return { response: encodeResponse(apiKey, 0, correlationId, body) };
      }
      log.warn(
        { conn: conn.id, remote: conn.remoteAddress, apiKey, apiVersion, served: entry ? [entry.minVersion, entry.maxVersion] : null },
        entry ? 'unsupported version of API; closing connection' : 'unknown API key; closing connection',
      );
      return { response: null, close: true };
    }

    let decoded;
    try {
      decoded = decodeRequest(frame);
    } catch (err) {
      if (!(err instanceof KafkaCodecError)) throw err;
      log.warn({ conn: conn.id, remote: conn.remoteAddress, apiKey, apiVersion, err: err.message }, 'malformed request; closing connection');
      return { response: null, close: true };
    }

    const session = this.sessionOf(conn);
    if (!session.authenticated && entry.rule !== 'pre-auth') {
      log.warn({ conn: conn.id, remote: conn.remoteAddress, apiKey, apiVersion }, 'request before authentication; closing connection');
      return { response: null, close: true };
    }

    const ctx: RequestContext = {
      apiKey,
      apiVersion,
      correlationId,
      clientId: decoded.header.clientId,
      conn,
      session,
      gateway: this.gateway,
      log,
    };
    let body: unknown;
    try {
      body = await entry.handle(ctx, decoded.body);
    } catch (err) {
      const code = err instanceof KafkaError ? err.code : ErrorCode.UNKNOWN_SERVER_ERROR;
      if (code === ErrorCode.UNKNOWN_SERVER_ERROR) {
        log.error({ conn: conn.id, apiKey, apiVersion, err }, 'request handler failed');
      } else {
        log.info({ conn: conn.id, apiKey, apiVersion, error: errorName(code), reason: (err as Error).message }, 'request failed');
      }
      if (!entry.errorResponse) return { response: null, close: true };
      body = entry.errorResponse(decoded.body, code);
    }
    if (body === null || body === undefined) return { response: null };
    const key = apiKey as ApiKeyNumber;
    if (entry.zeroCopyResponse) return { response: encodeResponseChunks(key, apiVersion, correlationId, body as never) };
    return { response: encodeResponse(key, apiVersion, correlationId, body as never) };
  }

  closed(conn: Connection): void {
    conn.log.debug({ conn: conn.id, requests: conn.requests, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut }, 'connection closed');
  }
}
