/**
 * What a TLS connection says about its peer, for the session and audit layers.
 */
import type { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';

/**
 * The subject CN of the client certificate, when the client presented one that
 * verified against the trust certificates; null otherwise (no TLS, no
 * certificate, or one accepted only because of tlsAllowInsecureConnection).
 * On SSL listeners this is the connection's principal (Pulsar's
 * AuthenticationProviderTls uses the CN as the role).
 */
export function peerPrincipal(socket: Socket): string | null {
  if (!(socket instanceof TLSSocket) || !socket.authorized) return null;
  const cert = socket.getPeerCertificate();
  if (!cert || Object.keys(cert).length === 0) return null;
  const cn = (cert.subject as unknown as Record<string, string | string[] | undefined> | undefined)?.CN;
  const value = Array.isArray(cn) ? cn[0] : cn;
  return value ? value : null;
}

/** Negotiated TLS version and cipher (for the audit log), or undefined on a plain socket. */
export function tlsInfo(socket: Socket): { version: string | null; cipher: string | null } | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  return { version: socket.getProtocol() ?? null, cipher: socket.getCipher()?.name ?? null };
}
