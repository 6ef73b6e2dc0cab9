/**
 * The admin client's HTTP transport, on node:http / node:https (keep-alive
 * agents). Not on fetch: fetch lower-cases response header names, and the
 * entry endpoint carries message property keys in header names
 * (X-Pulsar-PROPERTY-<key>), whose case matters; node's rawHeaders keep it.
 * It also serves https with a custom CA or rejectUnauthorized=false without
 * undici's Agent (bundled in Node 20 but not importable without a dependency).
 *
 * Timeouts: AbortSignal.timeout per attempt. Retries: an idempotent request
 * (GET) is retried once when the connection failed (refused, reset, a stale
 * keep-alive socket), never after a timeout or an HTTP answer.
 */
import http from 'node:http';
import https from 'node:https';

export interface HttpResponse {
  status: number;
  statusText: string;
  /** Header name (as sent) -> values, in order. */
  rawHeaders: [string, string][];
  body: Buffer;
}

export interface TransportOptions {
  ca?: string | Buffer;
  rejectUnauthorized?: boolean;
  timeoutMs: number;
}

/** A request that got no HTTP answer: connection failure (retriable), timeout, or other (TLS, protocol). */
export class TransportError extends Error {
  override name = 'TransportError';
  constructor(
    message: string,
    readonly kind: 'connection' | 'timeout' | 'other',
    readonly code?: string,
  ) {
    super(message);
  }
}

const CONNECTION_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED', 'UND_ERR_SOCKET']);

export class HttpTransport {
  private readonly agent: http.Agent;
  private readonly base: URL;
  private readonly isHttps: boolean;

  constructor(
    baseUrl: string,
    private readonly options: TransportOptions,
  ) {
    let u: URL;
    try {
      u = new URL(baseUrl);
    } catch {
      throw new Error(`webServiceUrl '${baseUrl}' is not a URL (expected http://host:port or https://host:port)`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error(`webServiceUrl '${baseUrl}': expected http:// or https://, found ${u.protocol}//`);
    this.base = u;
    this.isHttps = u.protocol === 'https:';
    this.agent = this.isHttps
      ? new https.Agent({ keepAlive: true, maxSockets: 16, ca: options.ca, rejectUnauthorized: options.rejectUnauthorized ?? true })
      : new http.Agent({ keepAlive: true, maxSockets: 16 });
  }

  /** `path` starts with / and is already encoded; it is appended to the base URL's path. */
  async request(method: string, path: string, headers: Record<string, string>, body: string | undefined, timeoutMs = this.options.timeoutMs): Promise<HttpResponse> {
    const idempotent = method === 'GET' || method === 'HEAD';
    try {
      return await this.once(method, path, headers, body, timeoutMs);
    } catch (e) {
      if (idempotent && e instanceof TransportError && e.kind === 'connection') return this.once(method, path, headers, body, timeoutMs);
      throw e;
    }
  }

  close(): void {
    this.agent.destroy();
  }

  private once(method: string, path: string, headers: Record<string, string>, body: string | undefined, timeoutMs: number): Promise<HttpResponse> {
    const basePath = this.base.pathname.replace(/\/+$/, '');
    const signal = AbortSignal.timeout(timeoutMs);
    const mod = this.isHttps ? https : http;
    return new Promise<HttpResponse>((resolve, reject) => {
      const req = mod.request(
        {
          protocol: this.base.protocol,
          hostname: this.base.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: this.base.port || (this.isHttps ? 443 : 80),
          path: basePath + path,
          method,
          agent: this.agent,
          signal,
          headers: {
            Accept: 'application/json',
            ...headers,
            ...(body !== undefined ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(body)) } : {}),
          },
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('error', (err) => reject(this.failure(err, signal, timeoutMs)));
          res.on('end', () => {
            const raw: [string, string][] = [];
            for (let i = 0; i + 1 < res.rawHeaders.length; i += 2) raw.push([res.rawHeaders[i]!, res.rawHeaders[i + 1]!]);
            resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', rawHeaders: raw, body: Buffer.concat(chunks) });
          });
        },
      );
      req.on('error', (err) => reject(this.failure(err, signal, timeoutMs)));
      if (body !== undefined) req.write(body);
      req.end();
    });
  }

  private failure(err: Error, signal: AbortSignal, timeoutMs: number): TransportError {
    if (signal.aborted) return new TransportError(`no answer within ${timeoutMs} ms`, 'timeout', 'TIMEOUT');
    const code = (err as NodeJS.ErrnoException).code;
    const connection = (code !== undefined && CONNECTION_CODES.has(code)) || /socket hang up/i.test(err.message);
    return new TransportError(err.message || String(code), connection ? 'connection' : 'other', code);
  }
}
