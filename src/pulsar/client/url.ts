/** pulsar:// and pulsar+ssl:// service URLs, possibly with several hosts (pulsar://h1:6650,h2:6650). */
import { PulsarClientError } from './errors.js';

export interface HostPort {
  host: string;
  port: number;
}

export interface ServiceUrl {
  tls: boolean;
  hosts: HostPort[];
  /** Normalised form, e.g. pulsar://h1:6650,h2:6650 */
  url: string;
}

export function parseServiceUrl(s: string): ServiceUrl {
  const m = /^(pulsar|pulsar\+ssl):\/\/([^/]+)\/?$/.exec(s.trim());
  if (!m) throw new PulsarClientError('InvalidServiceURL', `invalid Pulsar service URL '${s}' (want pulsar://host:port or pulsar+ssl://host:port)`, false);
  const tls = m[1] === 'pulsar+ssl';
  const hosts = m[2]!.split(',').map((hp) => parseHostPort(hp, tls ? 6651 : 6650, s));
  return { tls, hosts, url: `${m[1]}://${hosts.map((h) => formatHost(h)).join(',')}` };
}

function parseHostPort(hp: string, defPort: number, whole: string): HostPort {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(hp);
  const m = v6 ?? /^([^:]+)(?::(\d+))?$/.exec(hp);
  if (!m || !m[1]) throw new PulsarClientError('InvalidServiceURL', `invalid host '${hp}' in Pulsar service URL '${whole}'`, false);
  const port = m[2] === undefined ? defPort : Number(m[2]);
  if (!Number.isInteger(port) || port <= 0 || port > 65535) throw new PulsarClientError('InvalidServiceURL', `invalid port in Pulsar service URL '${whole}'`, false);
  return { host: m[1], port };
}

export function formatHost(h: HostPort): string {
  return h.host.includes(':') ? `[${h.host}]:${h.port}` : `${h.host}:${h.port}`;
}
