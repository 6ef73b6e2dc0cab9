/**
 * What `start` checks before it binds anything, as one function that both
 * `start` (Gateway.start) and `kop-gateway config check` run, so that a
 * configuration `config check` calls valid does not fail at start for a reason
 * it could have seen: listener consistency, TLS key and certificate files,
 * token keys, policies, the audit log file and the ops listener token.
 *
 * Nothing here binds a port, creates a file or talks to Pulsar; development
 * certificates that start would create are reported as a warning.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { GatewayConfig } from './schema.js';
import { parseListenerList, type ListenerSpec } from '../network/listeners.js';
import { hasConfiguredIdentity, hasConfiguredTrust, loadTlsMaterial } from '../security/tls/material.js';
import { isTlsProtocol } from '../security/tls/manager.js';
import { createTokenValidator } from '../security/tokens/index.js';
import { parseOpsListener, readOpsToken } from '../ops/listener.js';
import { silentLogger } from '../logger.js';

/** Listener rules start enforces (throws with the reason). */
export function checkListeners(config: GatewayConfig): { specs: ListenerSpec[]; advertised: ListenerSpec[] } {
  const specs = parseListenerList(config.kafkaListeners, config.kafkaProtocolMap);
  for (const spec of specs) {
    if (spec.protocol.startsWith('SASL') && !config.authenticationEnabled) {
      throw new Error(`listener ${spec.name} uses ${spec.protocol} but authenticationEnabled=false: set authenticationEnabled=true and a token key (tokenSecretKey or tokenPublicKey)`);
    }
  }
  const advertised = parseListenerList(config.kafkaAdvertisedListeners || config.kafkaListeners, config.kafkaProtocolMap);
  for (const a of advertised) {
    if (!specs.some((s) => s.name === a.name)) throw new Error(`kafkaAdvertisedListeners names '${a.name}', which is not in kafkaListeners`);
  }
  return { specs, advertised };
}

/** Whether a file could be created or appended to at path (the file, or its nearest existing directory, is writable). */
function writableTarget(path: string): string | null {
  const abs = resolve(path);
  try {
    const st = statSync(abs);
    if (st.isDirectory()) return `${path} is a directory`;
    accessSync(abs, constants.W_OK);
    return null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${path}: ${(err as Error).message}`;
  }
  let dir = dirname(abs);
  for (;;) {
    try {
      const st = statSync(dir);
      if (!st.isDirectory()) return `${path}: ${dir} is not a directory`;
      accessSync(dir, constants.W_OK);
      return null;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') return `${path}: ${dir} is not writable`;
    }
    const up = dirname(dir);
    if (up === dir) return `${path}: no existing parent directory`;
    dir = up;
  }
}

export interface CheckResult {
  errors: string[];
  warnings: string[];
}

/** Everything start would refuse, short of binding ports (errors) and what it would warn about or create (warnings). */
export async function checkConfiguration(config: GatewayConfig): Promise<CheckResult> {
  const errors: string[] = [];
  const warnings: string[] = [];
  const attempt = (what: string, fn: () => void): void => {
    try {
      fn();
    } catch (err) {
      errors.push(`${what}: ${(err as Error).message}`);
    }
  };
  let specs: ListenerSpec[] = [];
  attempt('listeners', () => {
    specs = checkListeners(config).specs;
  });
  const ops = (() => {
    try {
      return parseOpsListener(config.opsListener);
    } catch (err) {
      errors.push(`opsListener: ${(err as Error).message}`);
      return null;
    }
  })();
  if (ops) attempt('opsListenerToken', () => void readOpsToken(config.opsListenerToken));
  const tlsNeeded = specs.some((s) => isTlsProtocol(s.protocol)) || ops?.tls === true;
  if (tlsNeeded) {
    if (hasConfiguredIdentity(config)) attempt('TLS', () => void loadTlsMaterial(config));
    else {
      warnings.push(`no TLS certificate configured (tlsCertificateFilePath/tlsKeyFilePath or kopSslKeystoreLocation): start uses development certificates in ${config.tlsDevCertsDirectory} (created when missing), not for production`);
      if (hasConfiguredTrust(config)) attempt('TLS trust', () => void loadTlsMaterial({ ...config, tlsCertificateFilePath: '', tlsKeyFilePath: '', kopSslKeystoreLocation: '' }, undefined));
    }
  }
  if (config.authenticationEnabled) {
    attempt('authentication', () => {
      const v = createTokenValidator(config);
      warnings.push(...v.warnings);
    });
  }
  if (config.authorizationEnabled && config.storageEngine === 'embedded') {
    try {
      const { FilePolicySource } = await import('../security/authz/file-source.js');
      const source = await FilePolicySource.open(config.policiesDirectory, { logger: silentLogger(), refreshIntervalMs: 60_000 });
      await source.close();
    } catch (err) {
      errors.push(`policiesDirectory: ${(err as Error).message}`);
    }
  }
  if (config.authenticationEnabled && config.tokenRevocationFile.trim() !== '') {
    try {
      const { RevocationWatcher } = await import('../security/tokens/revocation.js');
      await (await RevocationWatcher.open(config.tokenRevocationFile.trim(), { refreshIntervalMs: 60_000 })).close();
    } catch (err) {
      errors.push(`tokenRevocationFile: ${(err as Error).message}`);
    }
  }
  if ((config.auditLogSigningKeyFile ?? '').trim() !== '') {
    try {
      const { readCheckpointKey } = await import('../security/audit/chain.js');
      const key = await readCheckpointKey(config.auditLogSigningKeyFile.trim());
      if (!key.sign) errors.push('auditLogSigningKeyFile holds a public key: checkpoints are signed with the private key (or an HMAC secret)');
    } catch (err) {
      errors.push(`auditLogSigningKeyFile: ${(err as Error).message}`);
    }
  }
  const audit = config.auditLogFile.trim();
  if (audit === '' && (config.authenticationEnabled || config.authorizationEnabled)) {
    errors.push('auditLogFile is empty but authenticationEnabled/authorizationEnabled is true: a secured gateway must keep an audit log');
  } else if (audit !== '' && audit !== '-') {
    const problem = writableTarget(audit);
    if (problem) errors.push(`auditLogFile: ${problem}`);
  }
  if (config.storageEngine === 'embedded') {
    const problem = writableTarget(resolve(config.dataDirectory, 'embedded', 'x'));
    if (problem) errors.push(`dataDirectory: ${problem}`);
  }
  return { errors, warnings };
}
