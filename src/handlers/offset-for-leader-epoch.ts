/**
 * OffsetForLeaderEpoch (23) with single-leader semantics: every partition has
 * had one leader epoch (0) since it was created, so the end offset of epoch 0
 * is the log end offset, and no newer epoch exists. Consumers use this to
 * detect log truncation after a leader change; here there never is one.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { topicsNamed } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse } from '../protocol/generated/index.js';
import { StorageError } from '../storage/engine.js';
import { LEADER_EPOCH, TopicResolver, checkLeaderEpoch, partitionExists } from './topic-lookup.js';

type PartitionOut = OffsetForLeaderEpochResponse['topics'][number]['partitions'][number];

function out(partition: number, errorCode: number, leaderEpoch = -1, endOffset = -1n): PartitionOut {
  return { errorCode, partition, leaderEpoch, endOffset };
}

export const offsetForLeaderEpoch: ApiEntry<OffsetForLeaderEpochRequest, OffsetForLeaderEpochResponse> = {
  apiKey: API_KEYS.OffsetForLeaderEpoch,
  minVersion: 0,
  maxVersion: 4,
  rule: 'topic-lookup',
  authz: {
    checks: [{ action: 'lookup', on: 'topic', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' }],
    needs: (request) => topicsNamed('lookup', request.topics.map((t) => t.topic)),
  },
  async handle(ctx, request) {
    const resolver = new TopicResolver(ctx);
    const topics = await Promise.all(
      request.topics.map(async (t) => {
        const found = await resolver.lookup(t.topic);
        const allowed = found.name ? await ctx.access.topic(found.name, 'lookup') : true;
        const partitions = await Promise.all(
          t.partitions.map(async (p) => {
            if (!allowed) return out(p.partition, ErrorCode.TOPIC_AUTHORIZATION_FAILED);
            if (!found.ok) return out(p.partition, found.code);
            if (!partitionExists(found.info, p.partition)) return out(p.partition, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION);
            const fenced = ctx.apiVersion >= 2 ? checkLeaderEpoch(p.currentLeaderEpoch) : ErrorCode.NONE;
            if (fenced !== ErrorCode.NONE) return out(p.partition, fenced);
            // An epoch newer than ours is unknown: Kafka answers UNDEFINED_EPOCH(-1) / UNDEFINED_EPOCH_OFFSET(-1).
            if (p.leaderEpoch > LEADER_EPOCH) return out(p.partition, ErrorCode.NONE);
            try {
              const o = await ctx.gateway.storage.offsets({ topic: found.info.name, partition: p.partition });
              return out(p.partition, ErrorCode.NONE, LEADER_EPOCH, o.highWatermark);
            } catch (err) {
              if (err instanceof StorageError) return out(p.partition, err.code);
              throw err;
            }
          }),
        );
        return { topic: t.topic, partitions };
      }),
    );
    return { throttleTimeMs: 0, topics };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, topics: request.topics.map((t) => ({ topic: t.topic, partitions: t.partitions.map((p) => out(p.partition, errorCode)) })) };
  },
};
