/**
 * How the gateway authenticates to Pulsar (admin REST client and binary
 * client alike), from brokerClientAuthenticationPlugin and
 * brokerClientAuthenticationParameters, read as Pulsar's AuthenticationToken
 * reads them:
 *
 *   plugin ''/'none'                                   -> no authentication (undefined)
 *   plugin 'token' / 'org.apache.pulsar.client.impl.auth.AuthenticationToken', parameters:
 *     token:<jwt>                 the token
 *     file:<path> | file:///path  a token file, re-read on every call (a rotated file is picked up)
 *     {"token":"<jwt>"} | {"file":"<path>"}   the JSON forms
 *     <jwt>                       a bare token (three dot-separated base64url parts), as Pulsar accepts
 *
 * A bad value throws at once with a message naming the key; a token file that
 * cannot be read (or is empty) fails the call that needs it, naming the file.
 */
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { GatewayConfig } from '../config/schema.js';
import type { PulsarAdminOptions } from './admin/types.js';

export type TokenSupplier = () => string | Promise<string>;

export type BrokerClientAuthConfig = Pick<GatewayConfig, 'brokerClientAuthenticationPlugin' | 'brokerClientAuthenticationParameters'>;

export const TOKEN_PLUGIN_NAMES = ['token', 'org.apache.pulsar.client.impl.auth.AuthenticationToken'] as const;

const JWT = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*$/;
const PARAMS = 'brokerClientAuthenticationParameters';
const PLUGIN = 'brokerClientAuthenticationPlugin';

/** The token supplier of the configuration, or undefined when the gateway does not authenticate to Pulsar. */
export function tokenSupplierFromConfig(config: BrokerClientAuthConfig): TokenSupplier | undefined {
  const plugin = (config.brokerClientAuthenticationPlugin ?? '').trim();
  const params = (config.brokerClientAuthenticationParameters ?? '').trim();
  if (plugin === '' || plugin.toLowerCase() === 'none') {
    if (params !== '') {
      throw new Error(`${PARAMS} is set but ${PLUGIN} is empty: set ${PLUGIN}=token to authenticate with it, or clear ${PARAMS}`);
    }
    return undefined;
  }
  if (!(TOKEN_PLUGIN_NAMES as readonly string[]).includes(plugin)) {
    throw new Error(`${PLUGIN} '${plugin}' is not supported: use token (${TOKEN_PLUGIN_NAMES[1]}) or leave it empty`);
  }
  if (params === '') throw new Error(`${PARAMS} is empty but ${PLUGIN}=${plugin} needs a token: token:<jwt>, file:<path>, {"token":"..."} or {"file":"..."}`);
  return parseTokenParameters(params);
}

function parseTokenParameters(params: string): TokenSupplier {
  if (params.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(params);
    } catch (e) {
      throw new Error(`${PARAMS}: invalid JSON (${(e as Error).message}); expected {"token":"<jwt>"} or {"file":"<path>"}`);
    }
    const o = (v && typeof v === 'object' && !Array.isArray(v) ? v : {}) as Record<string, unknown>;
    const keys = Object.keys(o);
    if (keys.length === 1 && typeof o.token === 'string' && o.token.trim() !== '') return fixed(o.token.trim());
    if (keys.length === 1 && typeof o.file === 'string' && o.file.trim() !== '') return fromFile(o.file.trim());
    throw new Error(`${PARAMS}: expected {"token":"<jwt>"} or {"file":"<path>"} (one non-empty string field), found keys: ${keys.join(', ') || '(none)'}`);
  }
  if (params.startsWith('token:')) {
    const t = params.slice('token:'.length).trim();
    if (t === '') throw new Error(`${PARAMS}: token: with an empty token`);
    return fixed(t);
  }
  if (params.startsWith('file:')) {
    const rest = params.slice('file:'.length).trim();
    if (rest === '') throw new Error(`${PARAMS}: file: with an empty path`);
    let path = rest;
    if (rest.startsWith('//')) {
      try {
        path = fileURLToPath(`file:${rest}`);
      } catch (e) {
        throw new Error(`${PARAMS}: ${params}: ${(e as Error).message}`);
      }
    }
    return fromFile(path);
  }
  if (JWT.test(params)) return fixed(params);
  throw new Error(`${PARAMS}: expected token:<jwt>, file:<path>, {"token":"..."} or {"file":"..."}, found ${describe(params)}`);
}

function describe(v: string): string {
  return v.length > 12 ? `'${v.slice(0, 6)}...' (${v.length} characters)` : `'${v}'`;
}

function fixed(token: string): TokenSupplier {
  return () => token;
}

function fromFile(path: string): TokenSupplier {
  return async () => {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      throw new Error(`${PARAMS}: token file ${path} cannot be read: ${(e as Error).message}`);
    }
    const t = text.trim();
    if (t === '') throw new Error(`${PARAMS}: token file ${path} is empty`);
    return t;
  };
}

/** Read brokerClientTrustCertsFilePath (PEM) once; undefined when empty. Throws naming the key. */
export function trustCertsFromConfig(config: Pick<GatewayConfig, 'brokerClientTrustCertsFilePath'>): Buffer | undefined {
  const path = (config.brokerClientTrustCertsFilePath ?? '').trim();
  if (path === '') return undefined;
  let pem: Buffer;
  try {
    pem = readFileSync(path);
  } catch (e) {
    throw new Error(`brokerClientTrustCertsFilePath '${path}' cannot be read: ${(e as Error).message}`);
  }
  if (!pem.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new Error(`brokerClientTrustCertsFilePath '${path}' holds no PEM certificate`);
  return pem;
}

/** createPulsarAdmin options from the configuration (webServiceUrl, brokerClient* keys, pulsarOperationTimeoutMs). */
export function pulsarAdminOptionsFromConfig(
  config: BrokerClientAuthConfig &
    Pick<GatewayConfig, 'webServiceUrl' | 'brokerClientTrustCertsFilePath' | 'brokerClientTlsAllowInsecureConnection' | 'pulsarOperationTimeoutMs'> &
    Partial<Pick<GatewayConfig, 'pulsarForwardClientIdentity' | 'pulsarForwardGatewayPrincipal'>>,
): PulsarAdminOptions {
  const options: PulsarAdminOptions = { webServiceUrl: config.webServiceUrl, timeoutMs: config.pulsarOperationTimeoutMs };
  const own = gatewayPrincipalFromConfig(config);
  if (own) options.originalPrincipal = own;
  const token = tokenSupplierFromConfig(config);
  if (token) options.token = token;
  const ca = trustCertsFromConfig(config);
  if (ca) options.ca = ca;
  if (config.brokerClientTlsAllowInsecureConnection) options.rejectUnauthorized = false;
  return options;
}

/**
 * The principal forwarded for the gateway's own work when it connects as a
 * proxy role (pulsarForwardClientIdentity): Pulsar refuses a proxy role's
 * requests without an original principal. Undefined when not forwarding.
 */
export function gatewayPrincipalFromConfig(config: Partial<Pick<GatewayConfig, 'pulsarForwardClientIdentity' | 'pulsarForwardGatewayPrincipal'>>): string | undefined {
  if (!config.pulsarForwardClientIdentity) return undefined;
  const p = (config.pulsarForwardGatewayPrincipal ?? '').trim();
  if (!p) {
    throw new Error(
      'pulsarForwardClientIdentity=true needs pulsarForwardGatewayPrincipal: the principal forwarded for the gateway\'s own work (Pulsar refuses a proxy role\'s requests that name no original principal)',
    );
  }
  return p;
}
