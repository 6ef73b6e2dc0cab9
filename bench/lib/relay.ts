/**
 * A zero-work TCP relay in front of a Pulsar broker, for `npm run bench:hop`: what one more process
 * on the path costs the native Pulsar producer on this machine, with nothing done to the bytes but
 * forwarding them (Node streams, TCP_NODELAY on both sides, as the gateway's sockets).
 *
 * A Pulsar client connects to the broker a lookup names, not to its service URL. So that the client
 * stays on the relay, the relay rewrites the broker's address in what the broker sends
 * (`127.0.0.1:<broker port>` to `127.0.0.1:<relay port>`, the same length: the two ports must have
 * as many digits, which `relayPortLike` picks). Nothing else is changed; the harness checks in the
 * client's log that every connection went to the relay.
 *
 * Run as its own process: `node dist/bench/lib/relay.js <broker port> <relay port>`; prints
 * "relay ready" once listening.
 */
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/helpers/ports.js';

/** A free port with as many digits as `port` (the relay's rewrite keeps lengths). */
export async function relayPortLike(port: number): Promise<number> {
  for (let i = 0; i < 200; i++) {
    const p = await freePort();
    if (String(p).length === String(port).length && p !== port) return p;
  }
  throw new Error(`no free port with ${String(port).length} digits`);
}

/** The ports the Pulsar Java client's log says it connected to (Netty's "R:host/ip:port]] Connected to server"). */
export function connectedPorts(output: string): Set<number> {
  return new Set([...output.matchAll(/R:[^\s\]]*?:(\d+)\]+ Connected to server/g)].map((m) => Number(m[1])));
}

export function startRelay(brokerPort: number, relayPort: number): net.Server {
  const from = Buffer.from(`127.0.0.1:${brokerPort}`);
  const to = Buffer.from(`127.0.0.1:${relayPort}`);
  if (from.length !== to.length) throw new Error(`ports ${brokerPort} and ${relayPort} differ in length`);
  return net.createServer({ noDelay: true }, (client) => {
    const broker = net.connect({ host: '127.0.0.1', port: brokerPort, noDelay: true });
    client.pipe(broker);
    broker.on('data', (b: Buffer) => {
      // lookup answers are a few dozen bytes and come whole; the rest of what a broker sends a producer (receipts) never holds the address
      for (let i = b.indexOf(from); i >= 0; i = b.indexOf(from, i + to.length)) to.copy(b, i);
      if (!client.write(b)) {
        broker.pause();
        client.once('drain', () => broker.resume());
      }
    });
    broker.on('end', () => client.end());
    const close = () => {
      client.destroy();
      broker.destroy();
    };
    client.on('error', close);
    broker.on('error', close);
    client.on('close', close);
    broker.on('close', close);
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [brokerPort, relayPort] = process.argv.slice(2).map(Number);
  if (!brokerPort || !relayPort) {
    process.stderr.write('usage: node relay.js <broker port> <relay port>\n');
    process.exit(2);
  }
  const server = startRelay(brokerPort, relayPort);
  server.listen(relayPort, '127.0.0.1', () => process.stdout.write('relay ready\n'));
  process.on('SIGTERM', () => {
    server.close();
    process.exit(0);
  });
}
