/**
 * Listener specs as Kafka and KoP write them: `NAME://host:port[,NAME://host:port]`.
 * NAME is a security protocol or a name mapped to one by kafkaProtocolMap
 * (`internal:PLAINTEXT,external:SASL_SSL`).
 */
export const SECURITY_PROTOCOLS = ['PLAINTEXT', 'SSL', 'SASL_PLAINTEXT', 'SASL_SSL'] as const;
export type SecurityProtocol = (typeof SECURITY_PROTOCOLS)[number];

export interface ListenerSpec {
  name: string;
  protocol: SecurityProtocol;
  /** '' or 0.0.0.0 / :: means all interfaces. */
  host: string;
  port: number;
}

function isProtocol(s: string): s is SecurityProtocol {
  return (SECURITY_PROTOCOLS as readonly string[]).includes(s);
}

export function parseProtocolMap(value: string): Map<string, SecurityProtocol> {
  const map = new Map<string, SecurityProtocol>();
  for (const item of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const [name, protocol, extra] = item.split(':').map((s) => s.trim());
    if (!name || !protocol || extra !== undefined || !isProtocol(protocol.toUpperCase())) {
      throw new Error(`invalid protocol map entry '${item}': expected NAME:PROTOCOL with PROTOCOL one of ${SECURITY_PROTOCOLS.join(', ')}`);
    }
    map.set(name.toUpperCase(), protocol.toUpperCase() as SecurityProtocol);
  }
  return map;
}

export function parseListener(item: string, protocolMap: Map<string, SecurityProtocol>): ListenerSpec {
  const m = /^([A-Za-z0-9_-]+):\/\/(\[[0-9a-fA-F:.]+\]|[^:/[\]]*):(\d{1,5})$/.exec(item.trim());
  if (!m) throw new Error(`invalid listener '${item}': expected NAME://host:port`);
  const name = m[1]!.toUpperCase();
  const host = m[2]!.startsWith('[') ? m[2]!.slice(1, -1) : m[2]!;
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`invalid listener '${item}': port ${port} out of range`);
  const protocol = protocolMap.get(name) ?? (isProtocol(name) ? name : undefined);
  if (!protocol) throw new Error(`invalid listener '${item}': '${name}' is neither a security protocol nor mapped in kafkaProtocolMap`);
  return { name, protocol, host, port };
}

export function parseListenerList(value: string, protocolMap: string): ListenerSpec[] {
  const map = parseProtocolMap(protocolMap);
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new Error('no listener given');
  const specs = items.map((item) => parseListener(item, map));
  const names = new Set<string>();
  for (const s of specs) {
    if (names.has(s.name)) throw new Error(`listener name '${s.name}' used twice`);
    names.add(s.name);
  }
  return specs;
}

/** True when the host binds beyond this machine (used to warn about insecure listeners). */
export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
