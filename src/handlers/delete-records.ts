/**
 * DeleteRecords (21): move each partition's log start offset up to `offset`
 * (-1 = the high watermark) and answer the new low watermark. An offset beyond
 * the high watermark (or negative other than -1) is OFFSET_OUT_OF_RANGE; an
 * offset below the current log start leaves it where it is. Internal topics
 * are refused, as Kafka does.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { DeleteRecordsRequest, DeleteRecordsResponse } from '../protocol/generated/index.js';
import { StorageError } from '../storage/engine.js';
import { isInternalTopic } from '../topics/names.js';
import { TopicResolver, partitionExists } from './topic-lookup.js';

type PartitionOut = DeleteRecordsResponse['topics'][number]['partitions'][number];

/** DeleteRecords' "up to the high watermark" offset. */
export const HIGH_WATERMARK = -1n;

function out(partitionIndex: number, errorCode: number, lowWatermark = -1n): PartitionOut {
  return { partitionIndex, lowWatermark, errorCode };
}

async function deletePartition(ctx: RequestContext, resolver: TopicResolver, topic: string, index: number, offset: bigint): Promise<PartitionOut> {
  const found = await resolver.lookup(topic);
  if (found.name && !(await ctx.access.tenantAdmin(found.name.tenant))) return out(index, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
  if (found.name && isInternalTopic(found.name)) return out(index, ErrorCode.INVALID_TOPIC_EXCEPTION);
  if (!found.ok) return out(index, found.code);
  if (!partitionExists(found.info, index)) return out(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
  if (offset < 0n && offset !== HIGH_WATERMARK) return out(index, ErrorCode.OFFSET_OUT_OF_RANGE);
  try {
    const low = await ctx.gateway.storage.deleteRecords({ topic: found.info.name, partition: index }, offset);
    return out(index, ErrorCode.NONE, low);
  } catch (err) {
    if (err instanceof StorageError) return out(index, err.code);
    throw err;
  }
}

export const deleteRecords: ApiEntry<DeleteRecordsRequest, DeleteRecordsResponse> = {
  apiKey: API_KEYS.DeleteRecords,
  minVersion: 0,
  maxVersion: 2,
  rule: 'tenant-admin',
  authz: {
    checks: [{ action: 'admin', on: 'tenant-of-topic', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' }],
    needs: (request) => topicsNamed('admin', request.topics.map((t) => t.name), 'tenant-of-topic'),
  },
  async handle(ctx, request) {
    const resolver = new TopicResolver(ctx);
    const topics = await Promise.all(
      request.topics.map(async (t) => ({
        name: t.name,
        partitions: await Promise.all(t.partitions.map((p) => deletePartition(ctx, resolver, t.name, p.partitionIndex, p.offset))),
      })),
    );
    const done = topics.flatMap((t) =>
      t.partitions.map((p) => ({ topic: t.name, partition: p.partitionIndex, lowWatermark: p.lowWatermark.toString(), error: p.errorCode === ErrorCode.NONE ? undefined : errorName(p.errorCode) })),
    );
    ctx.log.info({ conn: ctx.conn.id, clientId: ctx.clientId, principal: ctx.session.principal, partitions: done }, 'records deleted (DeleteRecords)');
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => out(p.partitionIndex, errorCode)) })) };
  },
};
