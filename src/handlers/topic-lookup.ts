/**
 * Per-request topic resolution shared by the partition-level handlers:
 * Kafka name (or topic id) -> resolved name + storage metadata, or the Kafka
 * error code the client should get for it. Each topic is looked up once per
 * request however many partitions name it.
 */
import type { RequestContext } from '../dispatch/registry.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import { StorageError, type TopicInfo } from '../storage/engine.js';
import { kafkaNameFor, resolveTopic, showName, type NamespaceRef, type TopicName } from '../topics/names.js';
import { ZERO_UUID } from '../protocol/codec/types.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { UndeclaredAccessError } from '../security/access.js';

/**
 * Kafka's `__consumer_offsets`, as this gateway presents it (docs/consumer-groups.md). Committed
 * offsets live in the gateway's group store; clients and tools still look the topic up (franz-go's
 * regex consumer waits for it to be listed as internal) and lag monitors read it. Each namespace
 * has its own: with offsetsTopicReadable (default) a real internal log in the storage engine,
 * `persistent://tenant/ns/__consumer_offsets`, to which the coordinator appends the changes of the
 * groups homed in that namespace in Kafka's record formats (coordinator/offsets-log.ts), created
 * by the first such change or by the first authorized read (`offsetsLogFor` below); until then, and
 * always without offsetsTopicReadable, a presented topic (offsetsLogNumPartitions partitions, or
 * without offsetsTopicReadable the group store's offsetsTopicNumPartitions), never stored. Never writable by clients (Produce, DeleteRecords, CreateTopics, DeleteTopics
 * refuse internal topics). Without offsetsTopicReadable, Fetch, ListOffsets and
 * OffsetForLeaderEpoch answer TOPIC_AUTHORIZATION_FAILED, as Kafka answers a principal without READ.
 */
export const OFFSETS_TOPIC = '__consumer_offsets';

/** Kafka's configs of `__consumer_offsets` (offsets.topic.segment.bytes, compacted), as DescribeConfigs shows them. */
export const OFFSETS_TOPIC_CONFIGS: Readonly<Record<string, string>> = { 'cleanup.policy': 'compact', 'segment.bytes': '104857600' };

/** The presented `__consumer_offsets` of a namespace (no topic id: clients address it by name). */
export function offsetsTopicInfo(ctx: RequestContext, name: TopicName): TopicInfo {
  return { name: name.full, topicId: ZERO_UUID, partitions: ctx.gateway.offsetsLog ? ctx.gateway.config.offsetsLogNumPartitions : ctx.gateway.config.offsetsTopicNumPartitions, configs: { ...OFFSETS_TOPIC_CONFIGS }, internal: true };
}

/** A resolved name that is the presented `__consumer_offsets` (when no stored topic has that name). */
export function isOffsetsTopic(name: TopicName): boolean {
  return name.local === OFFSETS_TOPIC;
}

/**
 * The namespace's readable `__consumer_offsets` log (coordinator/offsets-log.ts), created for a
 * reader: only for the reading APIs and Metadata by name, and only when this request's declared
 * decision lets the session read it (Fetch: consume; ListOffsets, OffsetForLeaderEpoch, Metadata:
 * lookup), so a session that may not see the namespace never makes one there. Null otherwise.
 */
export async function offsetsLogFor(ctx: RequestContext, name: TopicName): Promise<TopicInfo | null> {
  const log = ctx.gateway.offsetsLog;
  if (!log) return null;
  const action = ctx.apiKey === API_KEYS.Fetch ? 'consume' : ([API_KEYS.ListOffsets, API_KEYS.OffsetForLeaderEpoch, API_KEYS.Metadata] as number[]).includes(ctx.apiKey) ? 'lookup' : null;
  if (action === null) return null;
  try {
    if (!(await ctx.access.topic(name, action))) return null;
  } catch (err) {
    if (err instanceof UndeclaredAccessError) return null; // not a pair this request declared: no log made for it
    throw err;
  }
  return log.ensure(name.full);
}

/** A failed lookup still carries the resolved name when the name itself was valid (for authorization). */
export type TopicLookup = { ok: true; name: TopicName; info: TopicInfo } | { ok: false; code: number; message: string; name?: TopicName };

/**
 * resolveTopic for a name a request carries: the one way handlers turn a
 * client's topic name into a resolved one. An illegal name is refused
 * (INVALID_TOPIC_EXCEPTION, thrown) and the refusal is logged: who, which API,
 * the name (printable, bounded) and the rule it breaks.
 */
export function resolveRequestTopic(ctx: RequestContext, kafkaName: string, defaults: NamespaceRef = ctx.session.defaultNamespace): TopicName {
  try {
    const name = resolveTopic(kafkaName, defaults);
    if (ctx.gateway.storage.reservedNamespaces.includes(`${name.tenant}/${name.namespace}`)) {
      throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name ${showName(kafkaName)}: namespace ${name.tenant}/${name.namespace} holds the gateway's own state`);
    }
    return name;
  } catch (err) {
    if (err instanceof KafkaError) {
      ctx.log.info(
        { conn: ctx.conn.id, clientId: ctx.clientId, principal: ctx.session.principal, apiKey: ctx.apiKey, topic: showName(String(kafkaName)), errorCode: err.code, reason: err.message },
        'refused an illegal topic name',
      );
    }
    throw err;
  }
}

export class TopicResolver {
  private readonly byName = new Map<string, Promise<TopicLookup>>();

  constructor(private readonly ctx: RequestContext) {}

  lookup(kafkaName: string): Promise<TopicLookup> {
    let found = this.byName.get(kafkaName);
    if (!found) {
      found = this.resolve(kafkaName);
      this.byName.set(kafkaName, found);
    }
    return found;
  }

  private async resolve(kafkaName: string): Promise<TopicLookup> {
    let name: TopicName;
    try {
      name = resolveRequestTopic(this.ctx, kafkaName);
    } catch (err) {
      if (err instanceof KafkaError) return { ok: false, code: err.code, message: err.message };
      throw err;
    }
    let info: TopicInfo | null;
    try {
      info = await this.ctx.gateway.storage.describeTopic(name.full);
    } catch (err) {
      // an engine refusing the name itself (a reserved namespace) answers like a name rule; a storage
      // failure (Pulsar away: a retriable code) is this topic's error, as Kafka answers per partition
      if (err instanceof StorageError) return err.code === ErrorCode.INVALID_TOPIC_EXCEPTION ? { ok: false, code: err.code, message: err.message } : { ok: false, code: err.code, message: err.message, name };
      throw err;
    }
    if (!info && isOffsetsTopic(name)) {
      if (!this.ctx.gateway.offsetsLog) return { ok: false, code: ErrorCode.TOPIC_AUTHORIZATION_FAILED, message: `${OFFSETS_TOPIC} is presented, not readable: committed offsets are read with OffsetFetch`, name };
      info = await offsetsLogFor(this.ctx, name);
      if (!info) return { ok: false, code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `${OFFSETS_TOPIC} of ${name.tenant}/${name.namespace} has no log yet`, name };
    }
    if (!info) return { ok: false, code: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, message: `topic ${kafkaName} does not exist`, name };
    return { ok: true, name, info };
  }

  /** Topic ids (Fetch v13+, Metadata v10+): the engine's topic list, looked up by id. */
  async lookupId(topicId: Buffer): Promise<TopicLookup & { kafkaName?: string }> {
    let info: TopicInfo | null;
    try {
      info = await this.ctx.gateway.storage.describeTopicById(topicId);
    } catch (err) {
      if (err instanceof StorageError) return { ok: false, code: err.code, message: err.message };
      throw err;
    }
    if (!info) return { ok: false, code: ErrorCode.UNKNOWN_TOPIC_ID, message: 'unknown topic id' };
    const kafkaName = kafkaNameFor(info.name, this.ctx.session.defaultNamespace);
    const found = await this.lookup(kafkaName);
    return { ...found, kafkaName };
  }
}

/** Partition index check: UNKNOWN_TOPIC_OR_PARTITION outside [0, partitions). */
export function partitionExists(info: TopicInfo, partition: number): boolean {
  return Number.isInteger(partition) && partition >= 0 && partition < info.partitions;
}

/** The current (and only) leader epoch of every partition this gateway serves. */
export const LEADER_EPOCH = 0;

/**
 * Kafka's leader-epoch fencing for requests carrying currentLeaderEpoch:
 * -1 skips the check; older -> FENCED_LEADER_EPOCH; newer -> UNKNOWN_LEADER_EPOCH.
 */
export function checkLeaderEpoch(currentLeaderEpoch: number): number {
  if (currentLeaderEpoch < 0 || currentLeaderEpoch === LEADER_EPOCH) return ErrorCode.NONE;
  return currentLeaderEpoch < LEADER_EPOCH ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
}
