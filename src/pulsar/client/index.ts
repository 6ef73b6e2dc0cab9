/**
 * The Pulsar binary-protocol client: createPulsarClient(options) -> PulsarClient
 * (types.ts); failures are PulsarClientError (serverError, retriable).
 */
import { PulsarClientImpl } from './client.js';
import type { PulsarClient, PulsarClientOptions } from './types.js';

export { PulsarClientError } from './errors.js';
export { PulsarClientImpl } from './client.js';
export { CLIENT_VERSION } from './connection.js';
export type * from './types.js';

export function createPulsarClient(options: PulsarClientOptions): PulsarClient {
  return new PulsarClientImpl(options);
}
