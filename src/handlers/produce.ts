/**
 * Produce (0). Record batches go to the storage engine as the bytes the client
 * sent, after validateProduced (storage/validated-batch.ts: framing, CRC once,
 * records, sizes, timestamps, with Kafka's codes and record_errors) has turned
 * them into the ValidatedBatch the engine's append takes; the engine assigns
 * offsets, enforces idempotent-producer sequences, and resolves when the data
 * is durable for the requested acks. Partitions of one request are appended
 * concurrently; appends to one partition keep arrival order.
 *
 * acks=0: no response; if any partition failed the connection is closed, as
 * Kafka does, so the client notices.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, errorName } from '../protocol/errors.js';
import type { ProduceRequest, ProduceResponse } from '../protocol/generated/index.js';
import { StorageError } from '../storage/engine.js';
import { resolveTopicConfig } from '../storage/topic-config.js';
import { validateProduced } from '../storage/validated-batch.js';
import { isInternalTopic } from '../topics/names.js';
import { LEADER_EPOCH, TopicResolver, partitionExists } from './topic-lookup.js';

type PartitionOut = ProduceResponse['responses'][number]['partitionResponses'][number];

const NO_LEADER = { leaderId: -1, leaderEpoch: -1 };

function partitionResult(index: number, errorCode: number, errorMessage: string | null = null, recordErrors: PartitionOut['recordErrors'] = []): PartitionOut {
  return {
    index,
    errorCode,
    baseOffset: -1n,
    logAppendTimeMs: -1n,
    logStartOffset: -1n,
    recordErrors,
    errorMessage,
    currentLeader: NO_LEADER,
  };
}

async function producePartition(
  ctx: RequestContext,
  resolver: TopicResolver,
  topic: string,
  index: number,
  records: Buffer | null,
  acks: number,
  issued: () => void,
): Promise<PartitionOut> {
  let signalled = false;
  const signal = (): void => {
    if (!signalled) {
      signalled = true;
      issued();
    }
  };
  try {
    return await appendPartition(ctx, resolver, topic, index, records, acks, signal);
  } finally {
    signal();
  }
}

async function appendPartition(
  ctx: RequestContext,
  resolver: TopicResolver,
  topic: string,
  index: number,
  records: Buffer | null,
  acks: number,
  issued: () => void,
): Promise<PartitionOut> {
  const found = await resolver.lookup(topic);
  // Authorization comes before existence, as in Kafka: a denied client learns nothing about the topic.
  if (found.name && !(await ctx.access.topic(found.name, 'produce'))) return partitionResult(index, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to produce to ${topic}`);
  if (found.name && isInternalTopic(found.name)) return partitionResult(index, ErrorCode.INVALID_TOPIC_EXCEPTION, `cannot produce to internal topic ${topic}`);
  if (!found.ok) return partitionResult(index, found.code, found.message);
  if (!partitionExists(found.info, index)) return partitionResult(index, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `partition ${index} of ${topic} does not exist`);
  try {
    const storage = ctx.gateway.storage;
    const config = resolveTopicConfig(found.info.configs, storage.configDefaults);
    // the engine's own bound (Pulsar: the broker's maxMessageSize) caps max.message.bytes
    if (storage.maxBatchBytes !== undefined && storage.maxBatchBytes < config.maxMessageBytes) config.maxMessageBytes = storage.maxBatchBytes;
    const verdict = await validateProduced(records, {
      config,
      apiVersion: ctx.apiVersion,
      nowMs: Date.now(),
      leaderEpoch: LEADER_EPOCH,
    });
    if (!verdict.ok) return partitionResult(index, verdict.code, verdict.message, verdict.recordErrors);
    const batch = verdict.batch;
    const bytes = batch.size;
    const count = batch.recordCount;
    const metrics = ctx.gateway.metrics;
    const started = metrics ? performance.now() : 0;
    const appending = storage.append({ topic: found.info.name, partition: index }, batch, { acks, principal: ctx.session.principal });
    issued(); // handed to storage: the connection may start on the next request
    const r = await appending;
    ctx.access.addUsage(found.name, 'produce', count, bytes);
    if (metrics) {
      metrics.storageAppend(ctx.gateway.storage.kind, (performance.now() - started) / 1000);
      metrics.produced(found.name, count, bytes);
    }
    return { ...partitionResult(index, ErrorCode.NONE), baseOffset: r.baseOffset, logAppendTimeMs: r.logAppendTime, logStartOffset: r.logStartOffset };
  } catch (err) {
    if (err instanceof StorageError) return partitionResult(index, err.code, err.message);
    ctx.log.error({ err, topic, partition: index }, 'append failed');
    return partitionResult(index, ErrorCode.KAFKA_STORAGE_ERROR, 'storage failure');
  }
}

function requestBytes(request: ProduceRequest): number {
  let n = 0;
  for (const t of request.topicData) for (const p of t.partitionData) n += p.records?.length ?? 0;
  return n;
}

export const produce: ApiEntry<ProduceRequest, ProduceResponse> = {
  apiKey: API_KEYS.Produce,
  minVersion: 3,
  maxVersion: 11,
  rule: 'topic-produce',
  authz: {
    checks: [{ action: 'produce', on: 'topic', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' }],
    needs: (request) => topicsNamed('produce', request.topicData.map((t) => t.name)),
  },
  async handle(ctx, request) {
    const acks = request.acks;
    const resolver = new TopicResolver(ctx);
    const validAcks = acks === -1 || acks === 0 || acks === 1;
    // the next request of this connection may start once every partition's append is handed to
    // storage (engines keep per-partition call order), so a producer's in-flight requests overlap
    let toIssue = 0;
    for (const t of request.topicData) toIssue += t.partitionData.length;
    const issued = (): void => {
      if (--toIssue === 0) ctx.release();
    };
    if (toIssue === 0) ctx.release();
    const responses = await Promise.all(
      request.topicData.map(async (t) => ({
        name: t.name,
        partitionResponses: await Promise.all(
          t.partitionData.map((p) =>
            validAcks
              ? producePartition(ctx, resolver, t.name, p.index, p.records, acks, issued)
              : (issued(), Promise.resolve(partitionResult(p.index, ErrorCode.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, not ${acks}`))),
          ),
        ),
      })),
    );
    const quota = ctx.gateway.quotas?.produce;
    const throttleTimeMs = quota?.enabled ? quota.record(ctx.session.principal ?? '', requestBytes(request)) : 0;
    ctx.throttleMs = throttleTimeMs;
    const failed = responses.flatMap((t) => t.partitionResponses.filter((p) => p.errorCode !== ErrorCode.NONE).map((p) => ({ topic: t.name, partition: p.index, error: errorName(p.errorCode), reason: p.errorMessage })));
    if (failed.length > 0) ctx.log.info({ conn: ctx.conn.id, clientId: ctx.clientId, failed }, 'produce rejected for some partitions');
    if (acks === 0) {
      if (failed.length > 0) {
        ctx.log.warn({ conn: ctx.conn.id }, 'acks=0 produce failed; closing the connection so the client notices');
        ctx.conn.destroy();
      }
      return null;
    }
    return { responses, throttleTimeMs, nodeEndpoints: [] };
  },
  errorResponse(request, errorCode) {
    return {
      responses: request.topicData.map((t) => ({ name: t.name, partitionResponses: t.partitionData.map((p) => partitionResult(p.index, errorCode)) })),
      throttleTimeMs: 0,
      nodeEndpoints: [],
    };
  },
};
