/**
 * The Pulsar admin REST client: createPulsarAdmin(options) -> PulsarAdmin
 * (types.ts), errors as PulsarAdminError (status, reason).
 */
import { PulsarAdminClient } from './client.js';
import type { PulsarAdminOptions } from './types.js';

export { PulsarAdminClient, PulsarAdminError, DEFAULT_ADMIN_TIMEOUT_MS, parseEntryResponse, topicPath } from './client.js';
export { parseJson, quoteBigIntegers, toBigInt, stringifyJson } from './json.js';
export type * from './types.js';

export function createPulsarAdmin(options: PulsarAdminOptions): PulsarAdminClient {
  return new PulsarAdminClient(options);
}
