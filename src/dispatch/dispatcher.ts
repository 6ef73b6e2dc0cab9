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
 *
 * Authorization: before the handler runs, the (action, resource) pairs the
 * entry declares for the request are resolved and checked (access-plan.ts);
 * the handler reads the decisions back through `ctx.access`, which refuses
 * any question that was not declared.
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
import { runSaslStep } from '../security/sasl/session-auth.js';
import { RequestAccess } from '../security/access.js';
import { prepareAccess } from './access-plan.js';
import { coordinatorGuard, shareGroupsGuard, storageGuard, transactionsGuard } from './guards.js';
import { APIS } from '../protocol/generated/apis.js';
import { noteRefusal } from '../network/counters.js';

/** Creates the session of a new connection (listener-specific). */
export type SessionFactory = (conn: Connection) => Session;

function noop(): void {}

export class Dispatcher implements FrameHandler {
  /** Per-request views: the gateway with a storage engine guarded by the request's decisions. */
  private readonly guard: ReturnType<typeof storageGuard>;
  private readonly guardCoordinator: ReturnType<typeof coordinatorGuard> | null;
  private readonly guardShares: ReturnType<typeof shareGroupsGuard> | null;
  private readonly guardTransactions: ReturnType<typeof transactionsGuard> | null;
  private readonly RequestGateway: new (storage: unknown, coordinator: unknown, shareGroups: unknown, transactions: unknown) => GatewayContext;

  constructor(
    private readonly gateway: GatewayContext,
    private readonly newSession: SessionFactory,
  ) {
    this.guard = storageGuard(gateway.storage);
    this.guardCoordinator = gateway.coordinator ? coordinatorGuard(gateway.coordinator) : null;
    this.guardShares = gateway.shareGroups ? shareGroupsGuard(gateway.shareGroups) : null;
    this.guardTransactions = gateway.transactions ? transactionsGuard(gateway.transactions) : null;
    // one object of a stable shape per request, whose prototype is the gateway
    function RequestGateway(
      this: { storage: unknown; coordinator: unknown; shareGroups: unknown; transactions: unknown },
      storage: unknown,
      coordinator: unknown,
      shareGroups: unknown,
      transactions: unknown,
    ): void {
      this.storage = storage;
      this.coordinator = coordinator;
      this.shareGroups = shareGroups;
      this.transactions = transactions;
    }
    RequestGateway.prototype = gateway;
    this.RequestGateway = RequestGateway as unknown as new (storage: unknown, coordinator: unknown, shareGroups: unknown, transactions: unknown) => GatewayContext;
  }

  private sessionOf(conn: Connection): Session {
    let session = conn.context as Session | undefined;
    if (!session) {
      session = this.newSession(conn);
      conn.context = session;
    }
    return session;
  }

  /** Sessions start with the connection: SASL listeners get their pre-authentication limits now. */
  opened(conn: Connection): void {
    const session = this.sessionOf(conn);
    if (!session.authenticated) {
      const timeoutMs = this.gateway.config.authenticationTimeoutMs;
      const timer = setTimeout(() => {
        if (!session.authenticated && !conn.isClosed) {
          noteRefusal(conn.log, 'authenticationTimeout', { conn: conn.id, remote: conn.remoteAddress, timeoutMs }, 'no authentication in time; closing connection');
          this.gateway.security.audit?.authentication(conn.id, { mechanism: session.sasl?.selectedMechanism ?? 'NONE', success: false, reason: `not authenticated within ${timeoutMs} ms` });
          conn.destroy();
        }
      }, timeoutMs);
      timer.unref();
      conn.socket.once('close', () => clearTimeout(timer));
    }
  }

  async handle(frame: Buffer, conn: Connection, release?: () => void): Promise<FrameResult> {
    const receivedAt = conn.requestReceivedAt;
    const log = conn.log;
    const session = this.sessionOf(conn);
    if (session.saslRawNext) return this.handleRawSasl(frame, conn, session);
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

    if (!session.authenticated && entry.rule !== 'pre-auth') {
      log.warn({ conn: conn.id, remote: conn.remoteAddress, apiKey, apiVersion }, 'request before authentication; closing connection');
      return { response: null, close: true };
    }
    if (session.expiresAt <= Date.now() && apiKey !== API_KEYS.SaslHandshake && apiKey !== API_KEYS.SaslAuthenticate) {
      log.info({ conn: conn.id, principal: session.principal, expiredAt: new Date(session.expiresAt).toISOString() }, 'session expired without re-authentication; closing connection');
      return { response: null, close: true };
    }

    const metrics = this.gateway.metrics;
    const timing = metrics?.request(apiKey, apiVersion);
    const handlerStart = timing ? performance.now() : 0;
    const operation = APIS[apiKey]?.name ?? String(apiKey);
    const access = new RequestAccess(this.gateway.security.authorizer, this.gateway.security.audit, session, conn.id, operation);
    // the handler's view of the gateway: its storage reaches only the topics this request checked
    const gateway = new this.RequestGateway(
      this.guard(access, session, operation),
      this.guardCoordinator?.(access, session, operation),
      this.guardShares?.(access, session, operation),
      this.guardTransactions?.(access, session, operation),
    );
    /** ctx.afterResponse callbacks: run by the connection once the response is out (FrameResult.written). */
    let written: Array<() => void> | undefined;
    const ctx: RequestContext = {
      apiKey,
      apiVersion,
      correlationId,
      clientId: decoded.header.clientId,
      conn,
      session,
      gateway,
      log,
      closeAfterResponse: false,
      throttleMs: 0,
      release: release ?? noop,
      afterResponse: (fn) => (written ??= []).push(fn),
      access,
    };
    let body: unknown;
    try {
      // the pairs the entry declares for this request, resolved and checked (audited) before the handler runs
      const prepared = prepareAccess(ctx, entry.authz, decoded.body);
      if (prepared) await prepared;
      body = await entry.handle(ctx, decoded.body);
      ctx.access.finish();
    } catch (err) {
      ctx.access.finish();
      const code = err instanceof KafkaError ? err.code : ErrorCode.UNKNOWN_SERVER_ERROR;
      if (code === ErrorCode.UNKNOWN_SERVER_ERROR) {
        log.error({ conn: conn.id, apiKey, apiVersion, err }, 'request handler failed');
      } else {
        log.info({ conn: conn.id, apiKey, apiVersion, error: errorName(code), reason: (err as Error).message }, 'request failed');
      }
      if (!entry.errorResponse) {
        metrics?.requestError(apiKey, code);
        for (const fn of written ?? []) fn(); // no response refers to anything the handler read
        return { response: null, close: true };
      }
      body = entry.errorResponse(decoded.body, code);
    }
    const close = ctx.closeAfterResponse;
    const throttleMs = ctx.throttleMs;
    const handlerEnd = timing ? performance.now() : 0;
    if (metrics && timing) {
      if (throttleMs > 0) metrics.quotaThrottle(apiKey, throttleMs);
      if (body !== null && body !== undefined) metrics.responseErrors(apiKey, body);
    }
    let result: FrameResult;
    if (body === null || body === undefined) result = { response: null, close, throttleMs };
    else {
      const key = apiKey as ApiKeyNumber;
      const response = entry.zeroCopyResponse ? encodeResponseChunks(key, apiVersion, correlationId, body as never) : encodeResponse(key, apiVersion, correlationId, body as never);
      result = { response, close, throttleMs };
    }
    if (written) {
      const fns = written;
      result.written = () => {
        for (const fn of fns) fn();
      };
    }
    if (timing) {
      const now = performance.now();
      timing.requests.inc();
      timing.queue.observe(Math.max(0, handlerStart - receivedAt) / 1000);
      timing.handler.observe((handlerEnd - handlerStart) / 1000);
      timing.total.observe(Math.max(0, now - receivedAt) / 1000);
    }
    return result;
  }

  /** After SaslHandshake v0: the frame is a raw SASL token and so is the answer (no Kafka header). */
  private async handleRawSasl(frame: Buffer, conn: Connection, session: Session): Promise<FrameResult> {
    const { step } = await runSaslStep(this.gateway, conn, session, frame, conn.log);
    const raw = (bytes: Buffer): Buffer => {
      const out = Buffer.allocUnsafe(4 + bytes.length);
      out.writeInt32BE(bytes.length, 0);
      bytes.copy(out, 4);
      return out;
    };
    if (step.kind === 'challenge') return { response: raw(step.bytes) };
    session.saslRawNext = false;
    if (step.kind === 'success') {
      session.saslVersion = 0;
      return { response: raw(Buffer.alloc(0)) };
    }
    return { response: null, close: true }; // the legacy framing has no error response (runSaslStep applied the delay)
  }

  /** A connection bound closed the connection: before authentication, that is a failed authentication. */
  refused(conn: Connection, reason: string): void {
    const session = conn.context as Session | undefined;
    if (!session || session.authenticated) return;
    this.gateway.security.audit?.authentication(conn.id, { mechanism: session.sasl?.selectedMechanism ?? 'NONE', success: false, reason });
  }

  closed(conn: Connection): void {
    const session = conn.context as Session | undefined;
    const software = session?.clientSoftwareName ? `${session.clientSoftwareName}/${session.clientSoftwareVersion ?? ''}` : null;
    this.gateway.security.audit?.connectionClosed(conn.id, { principal: session?.principal ?? null, clientSoftware: software, requests: conn.requests, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut });
    conn.log.debug({ conn: conn.id, requests: conn.requests, bytesIn: conn.bytesIn, bytesOut: conn.bytesOut }, 'connection closed');
  }
}
