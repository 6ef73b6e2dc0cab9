/**
 * TLS for SSL:// and SASL_SSL:// listeners: one TlsManager per gateway holds
 * the current material (certificate, key, trust certificates), makes the
 * listeners' tls.Server instances, enforces client-certificate rules, and
 * reloads the material when its files change (new connections get it through
 * server.setSecureContext; a broken file is logged and the current one kept).
 *
 * Bounds before the handshake: every TCP connection is first offered to the
 * listener's `admit` hook (connection caps, unauthenticated caps) before the
 * TLSSocket does any work; a handshake not complete tlsHandshakeTimeoutMs after
 * accept is closed (measured from accept, so a ClientHello trickled byte by byte
 * does not extend it); a failed handshake closes the socket. Each is logged
 * (throttled) and counted in boundCounters.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { createServer as createHttpsServerImpl, type Server as HttpsServer } from 'node:https';
import type { RequestListener } from 'node:http';
import { createServer as createTlsServer, createSecureContext, type SecureContextOptions, type Server as TlsServer, type TLSSocket } from 'node:tls';
import { ConfigError } from '../../config/load.js';
import type { Logger } from '../../logger.js';
import type { ListenerSpec, SecurityProtocol } from '../../network/listeners.js';
import { noteRefusal } from '../../network/counters.js';
import { certCoversHost, clientTrustHints, ensureDevCertificates, type DevCertFiles } from '../dev-certs.js';
import { hasConfiguredIdentity, hasConfiguredTrust, loadTlsMaterial, type TlsMaterial, type TlsSettings } from './material.js';
import { parseTlsCiphers, parseTlsProtocols } from './options.js';
import { peerPrincipal } from './peer.js';

/** tlsHandshakeTimeoutMs' default: handshakes slower than this are cut (Node's default is 120 s). */
export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

/** How a listener admits connections and receives them. */
export interface ListenerHooks<T> {
  /**
   * Called at accept, before a byte is read or a TLS handshake starts: a ticket
   * for the connection, or null to refuse it (the socket is destroyed at once;
   * the hook logs why).
   */
  admit(raw: Socket): T | null;
  /** The connection, after a successful handshake and certificate checks (TLS) or at once (TCP). */
  onSocket(socket: Socket, ticket: T): void;
  /** TLS: close a connection whose handshake is not complete this long after accept. */
  handshakeTimeoutMs?: number;
}

/** The TCP socket under a server-side TLSSocket (Node keeps it as `_parent`). */
function rawSocketOf(socket: TLSSocket): Socket {
  return (socket as unknown as { _parent?: Socket | null })._parent ?? socket;
}

export function isTlsProtocol(protocol: SecurityProtocol): boolean {
  return protocol === 'SSL' || protocol === 'SASL_SSL';
}

export type ReloadResult = 'unchanged' | 'reloaded' | 'failed';

export class TlsManager {
  private material: TlsMaterial;
  private digest: string | null;
  private lastProblem: string | null = null;
  private readonly servers = new Set<TlsServer>();
  private timer: NodeJS.Timeout | null = null;
  private readonly versions: { minVersion: 'TLSv1.2' | 'TLSv1.3'; maxVersion: 'TLSv1.2' | 'TLSv1.3' };
  private readonly ciphers: string | undefined;
  private readonly trustConfigured: boolean;

  private constructor(
    private readonly settings: TlsSettings,
    private readonly dev: DevCertFiles | undefined,
    material: TlsMaterial,
    private readonly log: Logger,
  ) {
    this.material = material;
    this.digest = this.fileDigest();
    this.versions = parseTlsProtocols(settings.tlsProtocols);
    this.ciphers = parseTlsCiphers(settings.tlsCiphers);
    this.trustConfigured = hasConfiguredTrust(settings);
  }

  /**
   * The TLS manager for these listeners, or null when none is SSL/SASL_SSL.
   * Creates (or reuses) development certificates when no certificate is
   * configured. Throws ConfigError naming the key on bad settings or files.
   */
  static create(settings: TlsSettings, listeners: ListenerSpec[], advertised: ListenerSpec[], log: Logger): TlsManager | null {
    const tlsListeners = listeners.filter((l) => isTlsProtocol(l.protocol));
    if (tlsListeners.length === 0) {
      if (hasConfiguredIdentity(settings) || hasConfiguredTrust(settings)) log.warn('TLS certificate settings are ignored: no SSL or SASL_SSL listener in kafkaListeners');
      return null;
    }
    let protocols: ReturnType<typeof parseTlsProtocols>;
    try {
      protocols = parseTlsProtocols(settings.tlsProtocols);
      parseTlsCiphers(settings.tlsCiphers);
    } catch (err) {
      throw new ConfigError(`tlsProtocols/tlsCiphers: ${(err as Error).message}`);
    }
    if (settings.tlsRequireTrustedClientCertOnConnect && !hasConfiguredTrust(settings) && !settings.tlsAllowInsecureConnection) {
      throw new ConfigError('tlsRequireTrustedClientCertOnConnect=true needs tlsTrustCertsFilePath (or kopSslTruststoreLocation): the CA certificates client certificates must be signed by');
    }
    const tlsNames = new Set(tlsListeners.map((l) => l.name));
    const tlsAdvertised = advertised.filter((a) => tlsNames.has(a.name));

    let dev: DevCertFiles | undefined;
    if (!hasConfiguredIdentity(settings)) {
      const hosts = [...tlsListeners, ...tlsAdvertised].map((l) => l.host);
      let result: ReturnType<typeof ensureDevCertificates>;
      try {
        result = ensureDevCertificates({ dir: settings.tlsDevCertsDirectory, hosts });
      } catch (err) {
        throw new ConfigError(`tlsDevCertsDirectory: cannot create development certificates in ${settings.tlsDevCertsDirectory}: ${(err as Error).message}`);
      }
      dev = result;
      const made = result.created.ca || result.created.server;
      log.warn(
        {
          dir: result.dir,
          ca: result.caCertFile,
          serverCert: result.serverCertFile,
          hosts: result.hosts,
          validTo: result.serverNotAfter.toISOString(),
          created: result.created,
          ...(made ? { reasons: result.reasons } : {}),
        },
        `TLS: no certificate configured (tlsCertificateFilePath, kopSslKeystoreLocation); ${made ? 'created' : 'using'} development certificates in ${result.dir}, not for production`,
      );
      const protocol = tlsListeners.some((l) => l.protocol === 'SASL_SSL') ? 'SASL_SSL' : 'SSL';
      log.info({ ...clientTrustHints(result.caCertFile, protocol) }, `TLS: clients must trust the development CA ${result.caCertFile} (${protocol} listener settings)`);
    }

    const material = loadTlsMaterial(settings, dev);
    for (const w of material.warnings) log.warn(`TLS: ${w}`);
    if (material.leaf) {
      for (const a of tlsAdvertised) {
        if (a.host && a.host !== '0.0.0.0' && a.host !== '::' && !certCoversHost(material.leaf, a.host)) {
          log.warn({ listener: a.name, host: a.host }, 'TLS: the server certificate does not cover this advertised host; clients that verify host names (Java by default) will refuse it');
        }
      }
    }
    const manager = new TlsManager(settings, dev, material, log);
    log.info(
      {
        listeners: tlsListeners.map((l) => l.name),
        source: material.source,
        ...certSummary(material),
        protocols: `${protocols.minVersion}..${protocols.maxVersion}`,
        clientCert: settings.tlsRequireTrustedClientCertOnConnect ? 'required' : manager.trustConfigured ? 'optional' : 'not requested',
        refreshCheckSec: settings.tlsCertRefreshCheckDurationSec,
      },
      'TLS enabled',
    );
    return manager;
  }

  /** Whether client certificates are requested at all. */
  private get requestCert(): boolean {
    return this.trustConfigured || this.settings.tlsRequireTrustedClientCertOnConnect;
  }

  /** Full secure-context options (setSecureContext replaces them all). */
  private contextOptions(material: TlsMaterial): SecureContextOptions {
    return {
      ...material.identity,
      // An empty list, never undefined: undefined would make Node trust the public root CAs.
      ca: material.ca,
      minVersion: this.versions.minVersion,
      maxVersion: this.versions.maxVersion,
      ...(this.ciphers ? { ciphers: this.ciphers } : {}),
      honorCipherOrder: true,
    };
  }

  /** A TLS server for this listener; `hooks.onSocket` gets each connection after a successful handshake and checks. */
  createServer<T>(spec: ListenerSpec, hooks: ListenerHooks<T>): TlsServer {
    const handshakeTimeoutMs = hooks.handshakeTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS;
    const server = createTlsServer({
      ...this.contextOptions(this.material),
      requestCert: this.requestCert,
      // Checked in 'secureConnection' instead, so every refusal is logged.
      rejectUnauthorized: false,
      // Node's own (idle-style) handshake timeout, as a backstop of the absolute one below.
      handshakeTimeout: handshakeTimeoutMs,
      noDelay: true,
    });
    const tickets = new WeakMap<Socket, T>();
    const timers = new WeakMap<Socket, NodeJS.Timeout>();
    /** Raw sockets this manager closed on purpose: their TLS errors are not news. */
    const closedHere = new WeakSet<Socket>();
    // Runs before tls.Server's own 'connection' listener creates the TLSSocket.
    server.prependListener('connection', (raw: Socket) => {
      const ticket = hooks.admit(raw);
      if (ticket === null) {
        closedHere.add(raw);
        raw.destroy();
        return;
      }
      tickets.set(raw, ticket);
      // tlsCertRefreshCheckDurationSec=0: check the files for each admitted connection, before its TLSSocket exists.
      if (this.settings.tlsCertRefreshCheckDurationSec === 0) void this.checkForChanges();
      const timer = setTimeout(() => {
        if (raw.destroyed) return;
        closedHere.add(raw);
        noteRefusal(this.log, 'tlsHandshakeTimeout', { listener: spec.name, remote: `${raw.remoteAddress}:${raw.remotePort}`, timeoutMs: handshakeTimeoutMs }, 'TLS handshake not complete in time (tlsHandshakeTimeoutMs); closing connection');
        raw.destroy();
      }, handshakeTimeoutMs);
      timer.unref();
      timers.set(raw, timer);
      raw.once('close', () => clearTimeout(timer));
    });
    server.on('secureConnection', (socket: TLSSocket) => {
      const raw = rawSocketOf(socket);
      clearTimeout(timers.get(raw));
      const ticket = tickets.get(raw);
      if (ticket !== undefined && this.admit(socket, spec)) hooks.onSocket(socket, ticket);
      else socket.destroy();
    });
    server.on('tlsClientError', (err: Error & { code?: string }, socket: TLSSocket) => {
      const raw = rawSocketOf(socket);
      socket.destroy(); // Node leaves the socket open when a 'tlsClientError' listener exists
      if (closedHere.has(raw)) return;
      closedHere.add(raw);
      const remote = `${socket.remoteAddress ?? raw.remoteAddress}:${socket.remotePort ?? raw.remotePort}`;
      if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') {
        noteRefusal(this.log, 'tlsHandshakeTimeout', { listener: spec.name, remote, timeoutMs: handshakeTimeoutMs }, 'TLS handshake not complete in time (tlsHandshakeTimeoutMs); closing connection');
      } else {
        noteRefusal(this.log, 'tlsHandshakeFailed', { listener: spec.name, remote, err: err.message }, 'TLS handshake failed');
      }
    });
    this.servers.add(server);
    server.once('close', () => {
      this.servers.delete(server);
      if (this.servers.size === 0) this.stopTimer();
    });
    this.startTimer();
    return server;
  }

  /**
   * An HTTPS server with the listeners' certificate (the operations listener,
   * src/ops/): no client certificate asked, reloaded with the Kafka listeners.
   */
  createHttpsServer(handler: RequestListener): HttpsServer {
    const server = createHttpsServerImpl({ ...this.contextOptions(this.material), requestCert: false, handshakeTimeout: DEFAULT_HANDSHAKE_TIMEOUT_MS });
    server.on('request', handler);
    this.servers.add(server);
    server.once('close', () => {
      this.servers.delete(server);
      if (this.servers.size === 0) this.stopTimer();
    });
    this.startTimer();
    return server;
  }

  /** Client-certificate rules (Pulsar semantics); logs and returns false to refuse. */
  private admit(socket: TLSSocket, spec: ListenerSpec): boolean {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const cert = this.requestCert ? socket.getPeerCertificate() : null;
    const presented = cert !== null && Object.keys(cert).length > 0;
    if (presented && !socket.authorized && !this.settings.tlsAllowInsecureConnection) {
      this.log.info({ listener: spec.name, remote, subject: cert.subject?.CN, reason: String(socket.authorizationError) }, 'TLS client certificate not trusted; closing connection');
      return false;
    }
    if (!presented && this.settings.tlsRequireTrustedClientCertOnConnect) {
      this.log.info({ listener: spec.name, remote }, 'TLS client certificate required but none presented; closing connection');
      return false;
    }
    const principal = peerPrincipal(socket);
    this.log.debug(
      { listener: spec.name, remote, protocol: socket.getProtocol(), cipher: socket.getCipher()?.name, principal, ...(presented && !socket.authorized ? { untrustedClientCert: cert.subject?.CN } : {}) },
      'TLS connection established',
    );
    return true;
  }

  private startTimer(): void {
    const sec = this.settings.tlsCertRefreshCheckDurationSec;
    if (this.timer || sec <= 0) return;
    this.timer = setInterval(() => void this.checkForChanges(), sec * 1000);
    this.timer.unref();
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** Stop watching files (the servers are closed by their owner). */
  close(): void {
    this.stopTimer();
  }

  /** Hash of the watched files' contents, or null when one cannot be read right now. */
  private fileDigest(): string | null {
    const h = createHash('sha256');
    for (const f of this.material.files) {
      try {
        h.update(f).update('\0').update(readFileSync(f)).update('\0');
      } catch (err) {
        this.problem(`cannot read ${f}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
        return null;
      }
    }
    return h.digest('hex');
  }

  private problem(message: string): void {
    if (message === this.lastProblem) return; // once per distinct problem, not every check
    this.lastProblem = message;
    this.log.error({ err: message }, 'TLS certificate files changed but cannot be used; new connections keep the current certificate');
  }

  /**
   * Reload when the files' contents changed. A file that cannot be read or
   * material that does not load keeps the current context; the same broken
   * state is retried only after it changes again.
   */
  checkForChanges(): ReloadResult {
    const digest = this.fileDigest();
    if (digest === null) return 'failed';
    if (digest === this.digest) {
      this.lastProblem = null;
      return 'unchanged';
    }
    this.digest = digest;
    let material: TlsMaterial;
    let options: SecureContextOptions;
    try {
      material = loadTlsMaterial(this.settings, this.dev);
      options = this.contextOptions(material);
      createSecureContext(options);
    } catch (err) {
      this.problem((err as Error).message);
      return 'failed';
    }
    this.material = material;
    this.lastProblem = null;
    for (const s of this.servers) s.setSecureContext(options);
    for (const w of material.warnings) this.log.warn(`TLS: ${w}`);
    this.log.info({ source: material.source, ...certSummary(material) }, 'TLS certificate reloaded; new connections use it');
    return 'reloaded';
  }

  /** The current server certificate's SHA-256 fingerprint (colon hex, as getPeerCertificate gives it), when known. */
  get fingerprint256(): string | null {
    return this.material.leaf?.fingerprint256 ?? null;
  }
}

function certSummary(m: TlsMaterial): Record<string, string | undefined> {
  if (!m.leaf) return {};
  return {
    subject: m.leaf.subject.replace(/\n/g, ', '),
    issuer: m.leaf.issuer.replace(/\n/g, ', '),
    validTo: new Date(m.leaf.validTo).toISOString(),
    subjectAltName: m.leaf.subjectAltName,
    fingerprint256: m.leaf.fingerprint256,
  };
}

/**
 * The server for one listener: plain TCP for PLAINTEXT/SASL_PLAINTEXT, TLS for
 * SSL/SASL_SSL (the sockets `onSocket` gets are TLSSockets, which are
 * net.Sockets, after the handshake).
 */
export function createListenerServer<T>(spec: ListenerSpec, tls: TlsManager | null, hooks: ListenerHooks<T>): Server {
  if (!isTlsProtocol(spec.protocol)) {
    return createNetServer({ noDelay: true }, (raw: Socket) => {
      const ticket = hooks.admit(raw);
      if (ticket === null) raw.destroy();
      else hooks.onSocket(raw, ticket);
    });
  }
  if (!tls) throw new Error(`listener ${spec.name}: ${spec.protocol} needs TLS settings (internal error: no TLS manager)`);
  return tls.createServer(spec, hooks);
}
