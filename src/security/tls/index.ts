/**
 * TLS for SSL:// and SASL_SSL:// listeners. See docs/tls.md.
 *   TlsManager.create(config, listeners, advertised, log)  -> null without TLS listeners
 *   createListenerServer(spec, tlsManager, hooks)          -> net.Server or tls.Server (hooks: admit at accept, onSocket)
 *   peerPrincipal(socket)                                   -> client certificate CN (mTLS) or null
 */
export { TlsManager, createListenerServer, isTlsProtocol, DEFAULT_HANDSHAKE_TIMEOUT_MS, type ListenerHooks, type ReloadResult } from './manager.js';
export { loadTlsMaterial, type TlsMaterial, type TlsSettings } from './material.js';
export { peerPrincipal, tlsInfo } from './peer.js';
export { parseTlsCiphers, parseTlsProtocols, parseStoreType } from './options.js';
export { readPkcs12 } from './pkcs12.js';
