/**
 * Topic lookup (LOOKUP: Redirect / Connect / Failed, authoritative flag,
 * proxy_through_service_url) and PARTITIONED_METADATA, as Java's
 * BinaryProtoLookupService.
 */
import { CommandLookupTopicResponseLookupType, CommandPartitionedTopicMetadataResponseLookupType } from '../proto/index.js';
import { lookupCommand, partitionedMetadataCommand } from '../wire/index.js';
import { PulsarClientError } from './errors.js';
import type { IdGenerator } from './ids.js';
import type { ConnectionPool } from './pool.js';
import type { LookupResult, OriginalIdentity } from './types.js';

const MAX_REDIRECTS = 20;

export interface Lookup extends LookupResult {
  /** Reach the broker through the service URL (a proxy) with proxy_to_broker_url. */
  proxyThroughServiceUrl: boolean;
}

export async function lookupTopic(pool: ConnectionPool, ids: IdGenerator, topic: string, identity?: OriginalIdentity): Promise<Lookup> {
  let cnx = await pool.forService(identity);
  let authoritative = false;
  for (let i = 0; i <= MAX_REDIRECTS; i++) {
    const requestId = ids.next();
    const answer = await cnx.request(requestId, lookupCommand({ topic, requestId, authoritative }), { what: `lookup of ${topic}` });
    const r = answer.lookupTopicResponse;
    if (!r) throw new PulsarClientError('UnknownError', `lookup of ${topic}: unexpected answer of type ${answer.type}`, false);
    const url = pool.service.tls ? (r.brokerServiceUrlTls ?? r.brokerServiceUrl) : (r.brokerServiceUrl ?? r.brokerServiceUrlTls);
    switch (r.response) {
      case CommandLookupTopicResponseLookupType.Connect:
        if (!url) throw new PulsarClientError('Lookup', `lookup of ${topic}: the broker gave no URL`, true);
        return { brokerUrl: url, proxyThroughServiceUrl: r.proxyThroughServiceUrl ?? false };
      case CommandLookupTopicResponseLookupType.Redirect:
        if (!url) throw new PulsarClientError('Lookup', `lookup of ${topic}: redirect without a URL`, true);
        authoritative = r.authoritative ?? false;
        cnx = await pool.forBroker(url, identity, r.proxyThroughServiceUrl ?? false);
        continue;
      default:
        throw PulsarClientError.fromServer(r.error, r.message, `lookup of ${topic}`);
    }
  }
  throw new PulsarClientError('Lookup', `lookup of ${topic}: more than ${MAX_REDIRECTS} redirects`, true);
}

export async function partitionedMetadata(pool: ConnectionPool, ids: IdGenerator, topic: string, identity?: OriginalIdentity): Promise<number> {
  const cnx = await pool.forService(identity);
  const requestId = ids.next();
  const answer = await cnx.request(requestId, partitionedMetadataCommand({ topic, requestId }), { what: `partitioned metadata of ${topic}` });
  const r = answer.partitionMetadataResponse;
  if (!r) throw new PulsarClientError('UnknownError', `partitioned metadata of ${topic}: unexpected answer of type ${answer.type}`, false);
  if (r.response === CommandPartitionedTopicMetadataResponseLookupType.Failed) {
    throw PulsarClientError.fromServer(r.error, r.message, `partitioned metadata of ${topic}`);
  }
  return r.partitions ?? 0;
}
