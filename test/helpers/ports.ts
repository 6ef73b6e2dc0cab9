/**
 * A free TCP port on the loopback address, for a server a test starts later
 * (a gateway node, Prometheus, a Streams REST listener): bound, read and
 * released at once, so another process could take it in between (rare).
 */
import { createServer } from 'node:net';

export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
