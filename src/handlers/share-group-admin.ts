/**
 * Share groups (KIP-932), administration: AlterShareGroupOffsets (91, v0) and
 * DeleteShareGroupOffsets (92, v0), what `kafka-share-groups.sh --reset-offsets`
 * and `--delete-offsets` send, over the share-group coordinator
 * (src/share/groups.ts) and its records side (src/share/records.ts: the
 * gateway's share-partitions, or the Pulsar engine's `share:G` subscriptions).
 * DeleteGroups of a share group is group-admin.ts.
 *
 * Kafka's rules (GroupMetadataManager): an empty group id INVALID_GROUP_ID; an
 * id a consumer group uses GROUP_ID_NOT_FOUND ("not a share group"); a group
 * with members NON_EMPTY_GROUP (top level). Alter creates a share group that
 * does not exist (its home: the session's namespace); delete of an unknown
 * group GROUP_ID_NOT_FOUND. Unknown topics and partitions
 * UNKNOWN_TOPIC_OR_PARTITION; a topic the group has no state of, on delete,
 * UNKNOWN_TOPIC_OR_PARTITION ("There is no offset information to delete.").
 *
 * Authorization as Kafka's KafkaApis, mapped like OffsetCommit and OffsetDelete
 * (docs/authorization.md): Alter needs READ on the group (`consume` in its
 * home, as OffsetCommit), Delete needs DELETE on the group (`admin`: tenant
 * admin, as OffsetDelete and DeleteGroups); both READ on each topic
 * (`consume`: TOPIC_AUTHORIZATION_FAILED on its partitions / the topic), checked
 * only when the group is allowed.
 */
import type { ApiEntry } from '../dispatch/registry.js';
import { topicsNamed, type Need } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode } from '../protocol/errors.js';
import type { AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse, DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse } from '../protocol/generated/index.js';
import type { ShareTarget } from '../share/records.js';
import { TopicResolver, partitionExists } from './topic-lookup.js';
import { isOtherKindOfGroup, shareGroupAccess } from './share-group.js';

const NO_TOPIC_ID = Buffer.alloc(16);

type AlterOut = AlterShareGroupOffsetsResponse;

function alterError(errorCode: number, message: string | null = null): AlterOut {
  return { throttleTimeMs: 0, errorCode, errorMessage: message, responses: [] };
}

export const alterShareGroupOffsets: ApiEntry<AlterShareGroupOffsetsRequest, AlterShareGroupOffsetsResponse> = {
  apiKey: API_KEYS.AlterShareGroupOffsets,
  minVersion: 0,
  maxVersion: 0,
  rule: 'group',
  authz: {
    checks: [
      { action: 'consume', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED top level' },
      { action: 'consume', on: 'topic', when: 'the group allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on each partition of the topic' },
    ],
    needs: (request): Need[] => [
      { on: 'group', action: 'consume', group: request.groupId, share: true },
      ...topicsNamed(
        'consume',
        request.topics.map((t) => t.topicName),
        'topic',
        { group: request.groupId, action: 'consume' },
      ),
    ],
  },
  async handle(ctx, request) {
    // Kafka: READ on the group first (KafkaApis), then the coordinator's validation
    const access = await shareGroupAccess(ctx, request.groupId);
    if (!access.ok) return alterError(access.errorCode);
    if (request.groupId === '') return alterError(ErrorCode.INVALID_GROUP_ID);
    if (isOtherKindOfGroup(ctx, request.groupId)) return alterError(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${request.groupId} is not a share group.`);
    const resolver = new TopicResolver(ctx);
    const responses: AlterOut['responses'] = [];
    const items: Array<{ target: ShareTarget; startOffset: bigint }> = [];
    const slots: Array<{ errorCode: number; errorMessage: string | null }> = [];
    for (const t of request.topics) {
      const found = await resolver.lookup(t.topicName);
      const denied = found.name !== undefined && !(await ctx.access.topic(found.name, 'consume'));
      const out: AlterOut['responses'][number] = { topicName: t.topicName, topicId: found.ok && !denied ? found.info.topicId : NO_TOPIC_ID, partitions: [] };
      for (const p of t.partitions) {
        let code: number = ErrorCode.NONE;
        if (denied) code = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
        else if (!found.ok) code = found.code === ErrorCode.INVALID_TOPIC_EXCEPTION ? found.code : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        else if (!partitionExists(found.info, p.partitionIndex)) code = ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
        const slot = { partitionIndex: p.partitionIndex, errorCode: code, errorMessage: null };
        out.partitions.push(slot);
        if (code === ErrorCode.NONE && found.ok) {
          items.push({ target: { topic: found.info.name, partition: p.partitionIndex, topicId: found.info.topicId }, startOffset: p.startOffset });
          slots.push(slot);
        }
      }
      responses.push(out);
    }
    const r = await access.shares.alterOffsets(access.ref, items, { storage: ctx.gateway.storage });
    if (r.errorCode !== ErrorCode.NONE) return alterError(r.errorCode, r.errorMessage);
    r.codes.forEach((code, i) => {
      slots[i]!.errorCode = code;
      slots[i]!.errorMessage = null;
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  },
  errorResponse(_request, errorCode) {
    return alterError(errorCode);
  },
};

type DeleteOut = DeleteShareGroupOffsetsResponse;

function deleteError(errorCode: number, message: string | null = null): DeleteOut {
  return { throttleTimeMs: 0, errorCode, errorMessage: message, responses: [] };
}

export const deleteShareGroupOffsets: ApiEntry<DeleteShareGroupOffsetsRequest, DeleteShareGroupOffsetsResponse> = {
  apiKey: API_KEYS.DeleteShareGroupOffsets,
  minVersion: 0,
  maxVersion: 0,
  rule: 'group',
  authz: {
    checks: [
      { action: 'admin', on: 'group', denial: 'GROUP_AUTHORIZATION_FAILED top level' },
      { action: 'consume', on: 'topic', when: 'the group allowed', denial: 'TOPIC_AUTHORIZATION_FAILED on the topic' },
    ],
    needs: (request): Need[] => [
      { on: 'group', action: 'admin', group: request.groupId, share: true },
      ...topicsNamed(
        'consume',
        request.topics.map((t) => t.topicName),
        'topic',
        { group: request.groupId, action: 'admin' },
      ),
    ],
  },
  async handle(ctx, request) {
    // Kafka: DELETE on the group (tenant admin here, as OffsetDelete), then READ on each topic
    const access = await shareGroupAccess(ctx, request.groupId, 'admin');
    if (!access.ok) return deleteError(access.errorCode);
    if (request.groupId === '') return deleteError(ErrorCode.INVALID_GROUP_ID);
    if (isOtherKindOfGroup(ctx, request.groupId)) return deleteError(ErrorCode.GROUP_ID_NOT_FOUND, `Group ${request.groupId} is not a share group.`);
    const resolver = new TopicResolver(ctx);
    const responses: DeleteOut['responses'] = [];
    const toDelete: Array<{ topic: string; partitions: number }> = [];
    const slots: DeleteOut['responses'] = [];
    for (const t of request.topics) {
      const found = await resolver.lookup(t.topicName);
      const denied = found.name !== undefined && !(await ctx.access.topic(found.name, 'consume'));
      let code: number = ErrorCode.NONE;
      if (denied) code = ErrorCode.TOPIC_AUTHORIZATION_FAILED;
      else if (!found.ok) code = found.code === ErrorCode.INVALID_TOPIC_EXCEPTION ? found.code : ErrorCode.UNKNOWN_TOPIC_OR_PARTITION;
      const out = { topicName: t.topicName, topicId: found.ok && !denied ? found.info.topicId : NO_TOPIC_ID, errorCode: code, errorMessage: null };
      responses.push(out);
      if (code === ErrorCode.NONE && found.ok) {
        toDelete.push({ topic: found.info.name, partitions: found.info.partitions });
        slots.push(out);
      }
    }
    const r = await access.shares.deleteOffsets(access.ref, toDelete);
    if (r.errorCode !== ErrorCode.NONE) return deleteError(r.errorCode, r.errorMessage);
    r.codes.forEach((code, i) => {
      slots[i]!.errorCode = code;
      slots[i]!.errorMessage = code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION ? 'There is no offset information to delete.' : null;
    });
    return { throttleTimeMs: 0, errorCode: ErrorCode.NONE, errorMessage: null, responses };
  },
  errorResponse(_request, errorCode) {
    return deleteError(errorCode);
  },
};
