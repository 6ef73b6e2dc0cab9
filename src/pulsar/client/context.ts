/** What producers and consumers need from their client: ids, connections to a topic's broker, settings. */
import type { WakeSignal } from './backoff.js';
import type { Connection } from './connection.js';
import type { IdGenerator } from './ids.js';
import type { ClientLogger, OriginalIdentity, PulsarClientObserver } from './types.js';

export interface ClientContext {
  ids: IdGenerator;
  logger: ClientLogger;
  operationTimeoutMs: number;
  maxBackoffMs: number;
  /** Fires when the service URL is reachable again after it was not: reconnect back-off ends early. */
  reachable?: WakeSignal;
  /** Metrics of lookups, reconnects and send latency; absent when nobody listens. */
  observer?: PulsarClientObserver;
  /** Lookup + pooled connection to the broker owning `topic`. */
  connect(topic: string, identity?: OriginalIdentity): Promise<Connection>;
  /** Registered so client.close() closes them; the function unregisters. */
  track(x: { close(): Promise<void> }): () => void;
}

export const noopLogger: ClientLogger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};
