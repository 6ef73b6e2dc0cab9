/**
 * `kop-gateway certs create [--dir D] [--host H]... [--config FILE] [--force]`:
 * create (or reuse) the development CA and server certificate, as the gateway
 * does on its first start with an SSL/SASL_SSL listener and no certificate.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { parseListenerList } from '../network/listeners.js';
import { clientTrustHints, ensureDevCertificates } from '../security/dev-certs.js';
import { isTlsProtocol } from '../security/tls/manager.js';

export const CERTS_USAGE = `Usage:
  kop-gateway certs create [--dir DIR] [--host HOST]... [--config FILE] [--force]

Creates a development CA (ca.pem, ca.key) and a server certificate it signs
(server.pem, server.key) for HOSTs + localhost, 127.0.0.1 and ::1, or reuses
them when they are still valid and cover the hosts. Keys are written mode 0600.
  --dir DIR      where (default: tlsDevCertsDirectory, ./certs)
  --host HOST    a host name or IP address clients connect to (repeatable);
                 the hosts of the configuration's SSL/SASL_SSL listeners are added
  --config FILE  the gateway configuration to take the directory and hosts from
  --force        issue a new server certificate even if the current one is fine`;

export async function certsCommand(argv: string[], out: (s: string) => void = (s) => process.stdout.write(s)): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h' || sub === 'help') {
    out(`${CERTS_USAGE}\n`);
    return 0;
  }
  if (sub !== 'create') {
    process.stderr.write(`${CERTS_USAGE}\n`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      dir: { type: 'string', short: 'd' },
      host: { type: 'string', multiple: true, short: 'H' },
      config: { type: 'string', short: 'c' },
      force: { type: 'boolean', default: false },
    },
    strict: true,
  });
  const config = loadConfig({ file: values.config });
  const hosts = [...(values.host ?? [])];
  const specs = parseListenerList(config.kafkaListeners, config.kafkaProtocolMap).filter((s) => isTlsProtocol(s.protocol));
  const names = new Set(specs.map((s) => s.name));
  const advertised = config.kafkaAdvertisedListeners ? parseListenerList(config.kafkaAdvertisedListeners, config.kafkaProtocolMap).filter((a) => names.has(a.name)) : [];
  hosts.push(...[...specs, ...advertised].map((s) => s.host));

  const r = ensureDevCertificates({ dir: values.dir ?? config.tlsDevCertsDirectory, hosts, forceServer: values.force });
  const state = (created: boolean) => (created ? 'created' : 'reused');
  const hints = clientTrustHints(r.caCertFile);
  out(
    [
      `Development CA      ${r.caCertFile} (${state(r.created.ca)}, valid until ${r.caNotAfter.toISOString()}; key ${r.caKeyFile})`,
      `Server certificate  ${r.serverCertFile} (${state(r.created.server)}, valid until ${r.serverNotAfter.toISOString()}; key ${r.serverKeyFile})`,
      `  hosts: ${r.hosts.join(', ')}`,
      `  SHA-256 fingerprint: ${r.serverFingerprint256}`,
      ...r.reasons.map((why) => `  (${why})`),
      '',
      'Point clients at the CA (a SASL_SSL listener, as the development profile\'s; TOKEN: a Pulsar token, see `kop-gateway tokens create`):',
      `  kcat:   ${hints.kcat}`,
      `  Java:   ${hints.java}`,
      `  Python: ${hints.python}`,
      `An SSL listener (no SASL): ${clientTrustHints(r.caCertFile, 'SSL').kcat}`,
      '',
      'The gateway uses these files for SSL/SASL_SSL listeners when no certificate is configured',
      `and tlsDevCertsDirectory is ${r.dir}; or set tlsCertificateFilePath=${r.serverCertFile} and tlsKeyFilePath=${r.serverKeyFile}.`,
      'Development only: the CA key lies next to the certificates.',
      '',
    ].join('\n'),
  );
  return 0;
}
