/**
 * DeleteTopics (20): by name (v0-5 `topicNames`, v6 `topics[].name`) or by
 * topic id (v6). Unknown names get UNKNOWN_TOPIC_OR_PARTITION, unknown ids
 * UNKNOWN_TOPIC_ID; a name or id given twice, both or neither given:
 * INVALID_REQUEST (Kafka's checks and wording). Internal topics are refused.
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type { DeleteTopicsRequest, DeleteTopicsResponse } from '../protocol/generated/index.js';
import { ZERO_UUID } from '../protocol/codec/types.js';
import { StorageError, type TopicInfo } from '../storage/engine.js';
import { isInternalTopic, kafkaNameFor, parseFullName } from '../topics/names.js';
import { resolveRequestTopic } from './topic-lookup.js';

type ResultOut = DeleteTopicsResponse['responses'][number];

const UNKNOWN_TOPIC_MESSAGE = 'This server does not host this topic-partition.';
const UNKNOWN_ID_MESSAGE = 'This server does not host this topic ID.';

function result(name: string | null, topicId: Buffer, errorCode: number, errorMessage: string | null = null): ResultOut {
  return { name, topicId, errorCode, errorMessage };
}

async function deleteOne(ctx: RequestContext, kafkaName: string, info: TopicInfo): Promise<ResultOut> {
  const name = parseFullName(info.name);
  if (isInternalTopic(name)) {
    return result(kafkaName, info.topicId, ErrorCode.INVALID_TOPIC_EXCEPTION, `Internal topic ${kafkaName} cannot be deleted.`);
  }
  try {
    await ctx.gateway.storage.deleteTopic(info.name);
  } catch (err) {
    if (err instanceof StorageError) {
      const message = err.code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? UNKNOWN_TOPIC_MESSAGE : err.message;
      return result(kafkaName, info.topicId, err.code, message);
    }
    throw err;
  }
  ctx.log.info({ conn: ctx.conn.id, clientId: ctx.clientId, principal: ctx.session.principal, topic: info.name }, 'topic deleted (DeleteTopics)');
  return result(kafkaName, info.topicId, ErrorCode.NONE);
}

async function byName(ctx: RequestContext, name: string): Promise<ResultOut> {
  let full: string;
  let tenant: string;
  try {
    ({ full, tenant } = resolveRequestTopic(ctx, name));
  } catch (err) {
    // Kafka answers names that cannot exist as unknown topics
    if (err instanceof KafkaError) return result(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE);
    throw err;
  }
  // Authorization before existence: a denied client learns nothing about the topic.
  if (!(await ctx.access.tenantAdmin(tenant))) return result(name, ZERO_UUID, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to delete topics in tenant ${tenant}`);
  const info = await ctx.gateway.storage.describeTopic(full);
  if (!info) return result(name, ZERO_UUID, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, UNKNOWN_TOPIC_MESSAGE);
  return deleteOne(ctx, name, info);
}

async function byId(ctx: RequestContext, topicId: Buffer, all: Promise<TopicInfo[]>): Promise<ResultOut> {
  const info = (await all).find((t) => t.topicId.equals(topicId));
  if (!info) return result(null, topicId, ErrorCode.UNKNOWN_TOPIC_ID, UNKNOWN_ID_MESSAGE);
  const tenant = parseFullName(info.name).tenant;
  if (!(await ctx.access.tenantAdmin(tenant))) return result(null, topicId, ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to delete topics in tenant ${tenant}`);
  return deleteOne(ctx, kafkaNameFor(info.name, ctx.session.defaultNamespace), info);
}

function countOf<T>(values: T[]): Map<T, number> {
  const m = new Map<T, number>();
  for (const v of values) m.set(v, (m.get(v) ?? 0) + 1);
  return m;
}

export const deleteTopics: ApiEntry<DeleteTopicsRequest, DeleteTopicsResponse> = {
  apiKey: API_KEYS.DeleteTopics,
  minVersion: 0,
  maxVersion: 6,
  rule: 'tenant-admin',
  authz: {
    checks: [
      { action: 'admin', on: 'tenant-of-topic', denial: 'TOPIC_AUTHORIZATION_FAILED on the topic' },
      { action: 'admin', on: 'tenant-of-topic-id', when: 'v6+', denial: 'TOPIC_AUTHORIZATION_FAILED on the topic, name null (an unknown id: UNKNOWN_TOPIC_ID)' },
    ],
    needs(request, { apiVersion }) {
      if (apiVersion < 6) return topicsNamed('admin', request.topicNames, 'tenant-of-topic');
      const out: Need[] = [];
      for (const e of request.topics) {
        if (e.name !== null && e.topicId.equals(ZERO_UUID)) out.push({ on: 'tenant-of-topic', action: 'admin', name: e.name });
        else if (e.name === null && !e.topicId.equals(ZERO_UUID)) out.push({ on: 'tenant-of-topic-id', action: 'admin', id: e.topicId });
      }
      return out;
    },
  },
  async handle(ctx, request) {
    const entries = ctx.apiVersion >= 6 ? request.topics : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    const names = countOf(entries.flatMap((e) => (e.name !== null && e.topicId.equals(ZERO_UUID) ? [e.name] : [])));
    const ids = countOf(entries.flatMap((e) => (e.name === null && !e.topicId.equals(ZERO_UUID) ? [e.topicId.toString('hex')] : [])));
    let all: Promise<TopicInfo[]> | null = null;
    const listed = (): Promise<TopicInfo[]> => (all ??= ctx.gateway.storage.listTopics());

    const responses: ResultOut[] = [];
    const work: Array<Promise<ResultOut>> = [];
    for (const e of entries) {
      if (e.name === null) {
        if (e.topicId.equals(ZERO_UUID)) responses.push(result(null, ZERO_UUID, ErrorCode.INVALID_REQUEST, 'Neither topic name nor id were specified.'));
        else if (ids.get(e.topicId.toString('hex'))! > 1) continue;
        else work.push(byId(ctx, e.topicId, listed()));
      } else if (!e.topicId.equals(ZERO_UUID)) {
        responses.push(result(e.name, e.topicId, ErrorCode.INVALID_REQUEST, 'You may not specify both topic name and topic id.'));
      } else if (names.get(e.name)! > 1) {
        continue;
      } else {
        work.push(byName(ctx, e.name));
      }
    }
    for (const [name, n] of names) if (n > 1) responses.push(result(name, ZERO_UUID, ErrorCode.INVALID_REQUEST, 'Duplicate topic name.'));
    for (const [id, n] of ids) if (n > 1) responses.push(result(null, Buffer.from(id, 'hex'), ErrorCode.INVALID_REQUEST, 'Duplicate topic id.'));
    responses.push(...(await Promise.all(work)));
    if (ctx.apiVersion < 6) {
      // v0-5 have no ids and no null names
      for (const r of responses) r.name ??= '';
    }
    return { throttleTimeMs: 0, responses };
  },
  errorResponse(request, errorCode) {
    const entries = request.topics.length > 0 ? request.topics : request.topicNames.map((name) => ({ name, topicId: ZERO_UUID }));
    return { throttleTimeMs: 0, responses: entries.map((e) => result(e.name, e.topicId, errorCode)) };
  },
};
