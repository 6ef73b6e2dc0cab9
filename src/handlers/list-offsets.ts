/**
 * ListOffsets (2): earliest (-2), latest (-1), max timestamp (-3, v7+),
 * earliest local (-4, v8+; the same as earliest here: no tiered storage), and
 * the first offset whose timestamp is >= a given time. v0's "old style"
 * offsets list is answered with the one offset asked for.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { ListOffsetsRequest, ListOffsetsResponse } from '../protocol/generated/index.js';
import { StorageError, type PartitionRef } from '../storage/engine.js';
import { LEADER_EPOCH, TopicResolver, checkLeaderEpoch, partitionExists } from './topic-lookup.js';

type PartitionOut = ListOffsetsResponse['topics'][number]['partitions'][number];

export const LATEST = -1n;
export const EARLIEST = -2n;
export const MAX_TIMESTAMP = -3n;
export const EARLIEST_LOCAL = -4n;
export const LATEST_TIERED = -5n;

function out(partitionIndex: number, errorCode: number, offset = -1n, timestamp = -1n, leaderEpoch = -1): PartitionOut {
  return { partitionIndex, errorCode, oldStyleOffsets: offset >= 0n ? [offset] : [], timestamp, offset, leaderEpoch };
}

async function lookup(ctx: RequestContext, tp: PartitionRef, index: number, timestamp: bigint, readCommitted: boolean): Promise<PartitionOut> {
  const storage = ctx.gateway.storage;
  const offsets = await storage.offsets(tp);
  switch (timestamp) {
    case LATEST:
      return out(index, ErrorCode.NONE, readCommitted ? offsets.lastStableOffset : offsets.highWatermark, -1n, LEADER_EPOCH);
    case EARLIEST:
    case EARLIEST_LOCAL:
      return out(index, ErrorCode.NONE, offsets.logStartOffset, -1n, LEADER_EPOCH);
    case LATEST_TIERED:
      return out(index, ErrorCode.NONE, -1n, -1n, -1); // nothing is tiered
    case MAX_TIMESTAMP: {
      const found = await storage.maxTimestamp(tp);
      return found ? out(index, ErrorCode.NONE, found.offset, found.timestamp, LEADER_EPOCH) : out(index, ErrorCode.NONE, -1n, -1n, -1);
    }
  }
  if (timestamp < 0n) return out(index, ErrorCode.INVALID_REQUEST);
  const found = await storage.offsetForTimestamp(tp, timestamp);
  if (!found) return out(index, ErrorCode.NONE, -1n, -1n, -1);
  if (readCommitted && found.offset >= offsets.lastStableOffset) return out(index, ErrorCode.NONE, -1n, -1n, -1);
  return out(index, ErrorCode.NONE, found.offset, found.timestamp, LEADER_EPOCH);
}

export const listOffsets: ApiEntry<ListOffsetsRequest, ListOffsetsResponse> = {
  apiKey: API_KEYS.ListOffsets,
  minVersion: 0,
  maxVersion: 10,
  rule: 'topic-lookup',
  authz: {
    checks: [{ action: 'lookup', on: 'topic', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' }],
    needs: (request) => topicsNamed('lookup', request.topics.map((t) => t.name)),
  },
  async handle(ctx, request) {
    const resolver = new TopicResolver(ctx);
    const readCommitted = ctx.apiVersion >= 2 && request.isolationLevel === 1;
    const topics = await Promise.all(
      request.topics.map(async (t) => {
        const found = await resolver.lookup(t.name);
        const allowed = found.name ? await ctx.access.topic(found.name, 'lookup') : true;
        const partitions = await Promise.all(
          t.partitions.map(async (p) => {
            if (!allowed) return out(p.partitionIndex, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
            if (!found.ok) return out(p.partitionIndex, found.code);
            if (!partitionExists(found.info, p.partitionIndex)) return out(p.partitionIndex, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
            const fenced = ctx.apiVersion >= 4 ? checkLeaderEpoch(p.currentLeaderEpoch) : ErrorCode.NONE;
            if (fenced !== ErrorCode.NONE) return out(p.partitionIndex, fenced);
            if (ctx.apiVersion === 0 && p.maxNumOffsets < 1) return out(p.partitionIndex, ErrorCode.NONE);
            try {
              return await lookup(ctx, { topic: found.info.name, partition: p.partitionIndex }, p.partitionIndex, p.timestamp, readCommitted);
            } catch (err) {
              if (err instanceof StorageError) return out(p.partitionIndex, err.code);
              throw err;
            }
          }),
        );
        return { name: t.name, partitions };
      }),
    );
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, topics: request.topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => out(p.partitionIndex, errorCode)) })) };
  },
};
