/**
 * The registry's HTTP(S) listener and request pipeline, in this order for
 * every request:
 *
 *   bounds (connections, header and request timeouts, body size)
 *   -> authentication (auth.ts; nothing is served unauthenticated when
 *      authentication is on, not even /schemas/types or a 404)
 *   -> route (one table, built from the api-*.ts families)
 *   -> authorization: the route's declared (action, resource), checked and
 *      audited before its handler runs; a route cannot be declared without
 *      them
 *   -> registration rate (per principal) -> body -> handler -> JSON reply.
 *
 * Errors are Confluent's bodies (errors.ts); anything unexpected is logged
 * and answered 500/50001 without details.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Logger } from '../logger.js';
import type { TlsManager } from '../security/tls/index.js';
import type { RegistryAuth, Caller, HttpConnection, RegistryAction } from './auth.js';
import type { RegistryCore } from './core.js';
import { E, RegistryError } from './errors.js';
import type { Context } from './types.js';

const CONTENT_TYPE = 'application/vnd.schemaregistry.v1+json';

/** A reply whose body is sent as it is (the raw schema endpoints), not JSON-encoded. */
export class Raw {
  constructor(readonly text: string) {}
}

export interface Call {
  params: string[];
  query: URLSearchParams;
  body: unknown;
  caller: Caller;
  /** The caller's tenant/namespace: the registry context of everything the request names. */
  ctx: Context;
  core: RegistryCore;
}

export interface Route {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: RegExp;
  /** For the audit log: `SchemaRegistry.<operation>`. */
  operation: string;
  /** The permission the request needs in the caller's namespace (admin: on the tenant). */
  action: RegistryAction | ((c: Call) => RegistryAction);
  /** The resource the audit record names. */
  resource: (c: Call) => string;
  /** Counts against schemaRegistryRegistrationsPerSecond. */
  rateLimited?: boolean;
  handle(c: Call): unknown;
}

/** `subject acme/orders/orders-value`, for the audit log (params[i] is the subject, still encoded). */
export function subjectResource(c: Call, i: number): string {
  let s = c.params[i] ?? '';
  try {
    s = decodeURIComponent(s);
  } catch {
    // audited as sent; the handler refuses it
  }
  return `subject ${c.ctx}/${s}`;
}

export function contextResource(c: Call): string {
  return `schema-registry ${c.ctx}`;
}

export interface HttpOptions {
  host: string;
  port: number;
  tls: boolean;
  maxRequestBytes: number;
  maxConnections: number;
  /** Registrations per second per principal; 0: unbounded. */
  registrationsPerSecond: number;
}

/** A token bucket per principal (burst: one second's worth, at least one). */
class RateBound {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(private readonly perSecond: number) {}

  /** Seconds to wait, or 0 when the request may proceed (and is counted). */
  take(key: string, now = Date.now()): number {
    if (this.perSecond <= 0) return 0;
    const burst = Math.max(1, this.perSecond);
    let b = this.buckets.get(key);
    if (!b) {
      if (this.buckets.size >= 10_000) this.buckets.clear();
      this.buckets.set(key, (b = { tokens: burst, at: now }));
    }
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * this.perSecond);
    b.at = now;
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil((1 - b.tokens) / this.perSecond);
  }
}

export class RegistryHttpServer {
  private readonly server: Server;
  private readonly conns = new WeakMap<Socket, HttpConnection>();
  private readonly rate: RateBound;
  private boundPort = 0;

  constructor(
    private readonly o: HttpOptions,
    private readonly routes: Route[],
    private readonly core: RegistryCore,
    private readonly auth: RegistryAuth,
    tls: TlsManager | null,
    private readonly log: Logger,
  ) {
    this.rate = new RateBound(o.registrationsPerSecond);
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    if (o.tls) {
      if (!tls) throw new Error('schemaRegistryTlsEnabled=true needs TLS settings (internal error: no TLS manager)');
      this.server = tls.createHttpsServer(handler);
    } else {
      this.server = createServer(handler);
    }
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 50;
    this.server.maxConnections = o.maxConnections;
    this.server.on(o.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      const conn = this.auth.opened(socket);
      this.conns.set(socket, conn);
      socket.once('close', () => this.auth.closed(conn));
    });
  }

  listen(): Promise<number> {
    const { host, port, tls } = this.o;
    return new Promise((resolve, reject) => {
      this.server.once('error', (err) =>
        reject(new Error(`cannot listen on the schema registry's ${tls ? 'https' : 'http'}://${host}:${port}: ${err.message} (set kopSchemaRegistryPort / schemaRegistryBindAddress, or kopSchemaRegistryEnable=false)`)),
      );
      this.server.listen({ host, port }, () => {
        const addr = this.server.address();
        this.boundPort = typeof addr === 'object' && addr ? addr.port : port;
        resolve(this.boundPort);
      });
    });
  }

  get port(): number {
    return this.boundPort;
  }

  get url(): string {
    const { host, tls } = this.o;
    return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const conn = this.conns.get(req.socket) ?? this.auth.opened(req.socket);
    conn.requests++;
    try {
      const caller = await this.auth.authenticate(conn, req.headers.authorization);
      const declared = Number(req.headers['content-length'] ?? 0);
      if (declared > this.o.maxRequestBytes) throw E.tooLarge(`request body of ${declared} bytes is larger than schemaRegistryMaxRequestBytes (${this.o.maxRequestBytes})`);
      const url = new URL(req.url ?? '/', 'http://registry');
      const path = url.pathname.replace(/\/{2,}/g, '/');
      let route: Route | undefined;
      let params: string[] = [];
      let pathMatched = false;
      for (const r of this.routes) {
        const m = r.path.exec(path);
        if (!m) continue;
        pathMatched = true;
        if (r.method !== req.method) continue;
        route = r;
        params = m.slice(1);
        break;
      }
      if (!route) throw pathMatched ? E.methodNotAllowed() : E.notFound();
      const call: Call = { params, query: url.searchParams, body: undefined, caller, ctx: `${caller.ns.tenant}/${caller.ns.namespace}`, core: this.core };
      const action = typeof route.action === 'function' ? route.action(call) : route.action;
      await this.auth.authorize(conn, caller, `SchemaRegistry.${route.operation}`, action, route.resource(call));
      if (route.rateLimited) {
        const wait = this.rate.take(caller.role ?? `anonymous@${req.socket.remoteAddress}`);
        if (wait > 0) {
          res.setHeader('Retry-After', String(wait));
          throw E.rateLimited(`Request rate limit exceeded: at most ${this.o.registrationsPerSecond} registrations per second per principal (schemaRegistryRegistrationsPerSecond)`);
        }
      }
      call.body = await this.body(req, conn);
      const result = await route.handle(call);
      this.reply(res, conn, 200, result);
    } catch (err) {
      if (err instanceof RegistryError) {
        if (err.status >= 500) this.log.warn({ err: err.message, url: req.url }, 'schema registry: request failed');
        if (err.status === 401) res.setHeader('WWW-Authenticate', 'Basic realm="kop-gateway schema registry"');
        // a body not read (refused before it, or too large) is not drained: the connection closes
        if (!req.complete && (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)) res.setHeader('Connection', 'close');
        this.reply(res, conn, err.status, err.body());
      } else {
        this.log.warn({ err: (err as Error).message, stack: (err as Error).stack, url: req.url, method: req.method }, 'schema registry: internal error');
        this.reply(res, conn, 500, E.store('internal error').body());
      }
    }
  }

  private body(req: IncomingMessage, conn: HttpConnection): Promise<unknown> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      let failed = false;
      req.on('data', (c: Buffer) => {
        if (failed) return;
        size += c.length;
        conn.bytesIn += c.length;
        if (size > this.o.maxRequestBytes) {
          failed = true;
          reject(E.tooLarge(`request body larger than schemaRegistryMaxRequestBytes (${this.o.maxRequestBytes})`));
          return;
        }
        chunks.push(c);
      });
      req.on('error', (err) => {
        if (!failed) reject(E.badRequest(`request body: ${err.message}`));
        failed = true;
      });
      req.on('end', () => {
        if (failed) return;
        if (size === 0) return resolve(undefined);
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
        } catch (err) {
          reject(E.badRequest(`the request body is not JSON: ${(err as Error).message}`));
        }
      });
    });
  }

  private reply(res: ServerResponse, conn: HttpConnection, status: number, result: unknown): void {
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const text = result instanceof Raw ? result.text : JSON.stringify(result);
    const bytes = Buffer.byteLength(text);
    conn.bytesOut += bytes;
    res.writeHead(status, { 'Content-Type': CONTENT_TYPE, 'Content-Length': bytes, 'Cache-Control': 'no-store' });
    res.end(res.req.method === 'HEAD' ? undefined : text);
  }
}
