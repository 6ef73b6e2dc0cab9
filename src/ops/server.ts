/**
 * The operations listener (config opsListener, off the Kafka listeners):
 *
 *   GET /metrics       Prometheus text format, or OpenMetrics when the Accept
 *                      header asks for application/openmetrics-text (prom-client)
 *   GET /health/live   200 while the process serves
 *   GET /health/ready  200 when every readiness check passes, else 503; the JSON
 *                      body names each check and what is wrong
 *
 * http:// or https:// (the Kafka listeners' certificate, src/security/tls/).
 * opsListenerToken, when set, is required as `Authorization: Bearer <token>` on
 * /metrics (as Pulsar's authenticateMetricsEndpoint); the health endpoints stay
 * open for load balancers and probes and reveal nothing but check names and
 * their failures.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import { Registry } from 'prom-client';
import type { Logger } from '../logger.js';
import type { GatewayMetrics } from '../metrics/metrics.js';
import type { TlsManager } from '../security/tls/index.js';
import type { Readiness } from './health.js';
import type { OpsListenerSpec } from './listener.js';

export interface OpsServerOptions {
  spec: OpsListenerSpec;
  token: string;
  metrics: GatewayMetrics | null;
  readiness: Readiness;
  tls: TlsManager | null;
  log: Logger;
}

const OPENMETRICS = Registry.OPENMETRICS_CONTENT_TYPE;

export class OpsServer {
  private readonly server: Server;
  private readonly tokenDigest: Buffer | null;
  /** Scrapes one after the other: the OpenMetrics exposition renames counters while it runs. */
  private scrapeChain: Promise<unknown> = Promise.resolve();
  private boundPort = 0;

  constructor(private readonly o: OpsServerOptions) {
    this.tokenDigest = o.token ? digest(o.token) : null;
    const handler = (req: IncomingMessage, res: ServerResponse): void => void this.handle(req, res);
    if (o.spec.tls) {
      if (!o.tls) throw new Error('opsListener https:// needs TLS settings (internal error: no TLS manager)');
      this.server = o.tls.createHttpsServer(handler);
    } else {
      this.server = createServer(handler);
    }
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 30_000;
    this.server.keepAliveTimeout = 5_000;
    this.server.maxHeadersCount = 50;
  }

  listen(): Promise<number> {
    const { host, port, tls } = this.o.spec;
    return new Promise((resolve, reject) => {
      this.server.once('error', (err) =>
        reject(new Error(`cannot listen on opsListener ${tls ? 'https' : 'http'}://${host}:${port}: ${err.message} (set opsListener, or KOP_OPS_LISTENER, to another address, or empty to turn the operations listener off)`)),
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
    const { host, tls } = this.o.spec;
    return `${tls ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${this.boundPort}`;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n', { Allow: 'GET, HEAD' });
      switch (path) {
        case '/health/live':
          return send(res, 200, 'application/json', JSON.stringify({ status: 'live' }) + '\n');
        case '/health/ready': {
          const r = await this.o.readiness.check();
          return send(res, r.ready ? 200 : 503, 'application/json', JSON.stringify(r) + '\n');
        }
        case '/metrics':
          if (!this.o.metrics) return send(res, 404, 'text/plain', 'metrics are disabled (metricsEnabled=false)\n');
          if (!this.authorized(req)) return send(res, 401, 'text/plain', 'a bearer token is required (opsListenerToken)\n', { 'WWW-Authenticate': 'Bearer realm="kop-gateway metrics"' });
          return await this.metrics(req, res, this.o.metrics);
        case '/':
          return send(res, 200, 'text/plain', 'kop-gateway operations: /metrics /health/live /health/ready\n');
        default:
          return send(res, 404, 'text/plain', 'not found\n');
      }
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message, url: req.url }, 'ops listener: request failed');
      if (!res.headersSent) send(res, 500, 'text/plain', 'internal error\n');
      else res.destroy();
    }
  }

  private authorized(req: IncomingMessage): boolean {
    if (!this.tokenDigest) return true;
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
    if (!m) return false;
    return timingSafeEqual(digest(m[1]!), this.tokenDigest);
  }

  private async metrics(req: IncomingMessage, res: ServerResponse, metrics: GatewayMetrics): Promise<void> {
    const openMetrics = /application\/openmetrics-text/i.test(req.headers.accept ?? '');
    const run = this.scrapeChain.then(async () => {
      await metrics.refresh();
      return expose(metrics.registry, openMetrics);
    });
    this.scrapeChain = run.catch(() => undefined);
    const body = await run;
    send(res, 200, openMetrics ? OPENMETRICS : metrics.registry.contentType, body);
  }
}

/**
 * The registry's exposition in either format. prom-client renders OpenMetrics
 * by switching the registry's content type, and renames counters (dropping
 * `_total`) while it does: their names are put back afterwards, and scrapes
 * are serialised by the caller.
 */
export async function expose(registry: Registry, openMetrics: boolean): Promise<string> {
  if (!openMetrics) return registry.metrics();
  const names = registry.getMetricsAsArray().map((m) => [m, (m as unknown as { name: string }).name] as const);
  const previous = registry.contentType;
  registry.setContentType(OPENMETRICS as typeof previous);
  try {
    return await registry.metrics();
  } finally {
    registry.setContentType(previous);
    for (const [m, name] of names) (m as unknown as { name: string }).name = name;
  }
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

function send(res: ServerResponse, status: number, contentType: string, body: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body), ...headers });
  res.end(res.req.method === 'HEAD' ? undefined : body);
}
