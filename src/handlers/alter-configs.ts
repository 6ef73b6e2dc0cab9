/**
 * AlterConfigs (33, replace: the given configs become the topic's whole set of
 * explicit configs) and IncrementalAlterConfigs (44: SET / DELETE / APPEND /
 * SUBTRACT per key), for TOPIC resources, and (incremental only) GROUP resources
 * of share groups (src/share: share.auto.offset.reset, share.record.lock.duration.ms;
 * `admin` on the group in its home, GROUP_AUTHORIZATION_FAILED). BROKER and
 * BROKER_LOGGER resources are refused: the gateway's broker settings come from
 * its configuration file.
 * validateOnly checks everything and changes nothing. Errors per resource with
 * Kafka's codes and wording (INVALID_CONFIG naming the key, duplicate keys and
 * resources INVALID_REQUEST, unknown topics UNKNOWN_TOPIC_OR_PARTITION).
 */
import type { ApiEntry, RequestContext } from '../dispatch/registry.js';
import { topicsNamed } from '../dispatch/access-plan.js';
import { API_KEYS } from '../protocol/generated/apis.js';
import { ErrorCode, KafkaError } from '../protocol/errors.js';
import type {
  AlterConfigsRequest,
  AlterConfigsResponse,
  IncrementalAlterConfigsRequest,
  IncrementalAlterConfigsResponse,
} from '../protocol/generated/index.js';
import { StorageError, type ConfigAlteration } from '../storage/engine.js';
import { TOPIC_CONFIG_KEYS, validateConfigValue } from '../storage/topic-config.js';

import { ResourceType } from './describe-configs.js';
import type { Need } from '../dispatch/access-plan.js';
import { resolveRequestTopic } from './topic-lookup.js';

type ResultOut = AlterConfigsResponse['responses'][number];

const OPS = ['set', 'delete', 'append', 'subtract'] as const;

function result(resourceType: number, resourceName: string, errorCode: number, errorMessage: string | null = null): ResultOut {
  return { errorCode, errorMessage, resourceType, resourceName };
}

function refuseNonTopic(type: number, configCount: number): void {
  if (type === ResourceType.BROKER || type === ResourceType.BROKER_LOGGER) {
    if (configCount === 0) return;
    throw new KafkaError(
      ErrorCode.INVALID_REQUEST,
      type === ResourceType.BROKER
        ? "Cannot update broker configs dynamically: this gateway's broker settings come from its configuration file (broker.conf / KOP_* environment) and change on restart."
        : "Cannot change log levels dynamically: this gateway's log level is set in its configuration file (logLevel).",
    );
  }
  throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown resource type ${type}: this gateway alters TOPIC (2) configs`);
}

function checkNoDuplicateKeys(names: string[]): void {
  if (new Set(names).size !== names.length) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Error due to duplicate config keys');
}

async function topicName(ctx: RequestContext, name: string): Promise<string> {
  const { full, tenant } = resolveRequestTopic(ctx, name);
  if (!(await ctx.access.tenantAdmin(tenant))) throw new KafkaError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, `not authorized to alter configs in tenant ${tenant}`);
  if (!(await ctx.gateway.storage.describeTopic(full))) throw new KafkaError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, `The topic '${name}' does not exist.`);
  return full;
}

/** One resource's outcome: storage and Kafka errors become its error code. */
async function perResource(type: number, name: string, fn: () => Promise<void>): Promise<ResultOut> {
  try {
    await fn();
    return result(type, name, ErrorCode.NONE);
  } catch (err) {
    if (err instanceof KafkaError || err instanceof StorageError) return result(type, name, err.code, err.message);
    throw err;
  }
}

/** Resources named twice (same type and name) get INVALID_REQUEST, each of them (Kafka). */
function duplicated(resources: ReadonlyArray<{ resourceType: number; resourceName: string }>): Set<string> {
  const seen = new Set<string>();
  const dups = new Set<string>();
  for (const r of resources) {
    const k = `${r.resourceType}:${r.resourceName}`;
    if (seen.has(k)) dups.add(k);
    seen.add(k);
  }
  return dups;
}

function logChange(ctx: RequestContext, api: string, topic: string, changes: unknown): void {
  ctx.log.info({ conn: ctx.conn.id, clientId: ctx.clientId, principal: ctx.session.principal, topic, changes }, `topic configs changed (${api})`);
}

export const alterConfigs: ApiEntry<AlterConfigsRequest, AlterConfigsResponse> = {
  apiKey: API_KEYS.AlterConfigs,
  minVersion: 0,
  maxVersion: 2,
  rule: 'tenant-admin',
  authz: {
    checks: [{ action: 'admin', on: 'tenant-of-topic', when: 'resource type TOPIC', denial: 'TOPIC_AUTHORIZATION_FAILED on the resource' }],
    needs: (request) => topicsNamed('admin', request.resources.filter((r) => r.resourceType === ResourceType.TOPIC).map((r) => r.resourceName), 'tenant-of-topic'),
  },
  async handle(ctx, request) {
    const dups = duplicated(request.resources);
    const responses = await Promise.all(
      request.resources.map((r) =>
        perResource(r.resourceType, r.resourceName, async () => {
          if (dups.has(`${r.resourceType}:${r.resourceName}`)) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.');
          if (r.resourceType !== ResourceType.TOPIC) return refuseNonTopic(r.resourceType, r.configs.length);
          const full = await topicName(ctx, r.resourceName);
          checkNoDuplicateKeys(r.configs.map((c) => c.name));
          const configs: Record<string, string> = {};
          for (const c of r.configs) {
            if (c.value === null) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${c.name}`);
            validateConfigValue(c.name, c.value);
            configs[c.name] = c.value;
          }
          await ctx.gateway.storage.replaceTopicConfigs(full, configs, request.validateOnly);
          if (!request.validateOnly) logChange(ctx, 'AlterConfigs', full, configs);
        }),
      ),
    );
    return { throttleTimeMs: 0, responses };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, responses: request.resources.map((r) => result(r.resourceType, r.resourceName, errorCode)) };
  },
};

/** Share-group configs (IncrementalAlterConfigs on a GROUP resource): SET and DELETE; the group in its home, `admin`. */
async function alterGroupConfigs(ctx: RequestContext, groupId: string, configs: IncrementalAlterConfigsRequest['resources'][number]['configs'], validateOnly: boolean): Promise<void> {
  const decided = await ctx.access.groupAccess(groupId, 'admin');
  const shares = ctx.gateway.shareGroups;
  if (decided.ref === null || !shares) throw new KafkaError(decided.errorCode === ErrorCode.NONE ? ErrorCode.COORDINATOR_NOT_AVAILABLE : (decided.errorCode as ErrorCode), decided.errorCode === ErrorCode.GROUP_AUTHORIZATION_FAILED ? 'Group authorization failed.' : 'the group cannot be reached here');
  if (ctx.gateway.coordinator?.groupHome(decided.ref).exists) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Group ${groupId} is a consumer group: this gateway takes group configs for share groups only`);
  checkNoDuplicateKeys(configs.map((c) => c.name));
  const changes: Array<{ name: string; value: string | null }> = [];
  for (const c of configs) {
    const op = OPS[c.configOperation];
    if (op === undefined) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown config operation ${c.configOperation} for ${c.name}: expected 0 (SET), 1 (DELETE), 2 (APPEND) or 3 (SUBTRACT)`);
    if (op === 'append' || op === 'subtract') throw new KafkaError(ErrorCode.INVALID_CONFIG, `Config value append/subtract is not allowed for config key ${c.name}: it is not a list`);
    if (op === 'set' && c.value === null) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${c.name}`);
    changes.push({ name: c.name, value: op === 'delete' ? null : c.value });
  }
  await shares.alterGroupConfigs(decided.ref, changes, validateOnly);
}

export const incrementalAlterConfigs: ApiEntry<IncrementalAlterConfigsRequest, IncrementalAlterConfigsResponse> = {
  apiKey: API_KEYS.IncrementalAlterConfigs,
  minVersion: 0,
  maxVersion: 1,
  rule: 'tenant-admin',
  authz: {
    checks: [
      { action: 'admin', on: 'tenant-of-topic', when: 'resource type TOPIC', denial: 'TOPIC_AUTHORIZATION_FAILED on the resource' },
      { action: 'admin', on: 'group', when: 'resource type GROUP (share groups)', denial: 'GROUP_AUTHORIZATION_FAILED on the resource' },
    ],
    needs: (request) => [
      ...topicsNamed('admin', request.resources.filter((r) => r.resourceType === ResourceType.TOPIC).map((r) => r.resourceName), 'tenant-of-topic'),
      ...request.resources.filter((r) => r.resourceType === ResourceType.GROUP).map((r): Need => ({ on: 'group', action: 'admin', group: r.resourceName, share: true })),
    ],
  },
  async handle(ctx, request) {
    const dups = duplicated(request.resources);
    const responses = await Promise.all(
      request.resources.map((r) =>
        perResource(r.resourceType, r.resourceName, async () => {
          if (dups.has(`${r.resourceType}:${r.resourceName}`)) throw new KafkaError(ErrorCode.INVALID_REQUEST, 'Each resource must appear at most once.');
          if (r.resourceType === ResourceType.GROUP) return alterGroupConfigs(ctx, r.resourceName, r.configs, request.validateOnly);
          if (r.resourceType !== ResourceType.TOPIC) return refuseNonTopic(r.resourceType, r.configs.length);
          const full = await topicName(ctx, r.resourceName);
          checkNoDuplicateKeys(r.configs.map((c) => c.name));
          const changes: ConfigAlteration[] = [];
          for (const c of r.configs) {
            const op = OPS[c.configOperation];
            if (op === undefined) throw new KafkaError(ErrorCode.INVALID_REQUEST, `Unknown config operation ${c.configOperation} for ${c.name}: expected 0 (SET), 1 (DELETE), 2 (APPEND) or 3 (SUBTRACT)`);
            if ((op === 'set' || op === 'append' || op === 'subtract') && c.value === null) {
              throw new KafkaError(ErrorCode.INVALID_REQUEST, `Null value not supported for : ${c.name}`);
            }
            // Kafka ignores deleting a config it does not know
            if (op === 'delete' && !(TOPIC_CONFIG_KEYS as readonly string[]).includes(c.name)) continue;
            changes.push({ name: c.name, value: op === 'delete' ? null : c.value, op });
          }
          if (changes.length === 0) return;
          await ctx.gateway.storage.alterTopicConfigs(full, changes, request.validateOnly);
          if (!request.validateOnly) logChange(ctx, 'IncrementalAlterConfigs', full, changes);
        }),
      ),
    );
    return { throttleTimeMs: 0, responses };
  },
  errorResponse(request, errorCode) {
    return { throttleTimeMs: 0, responses: request.resources.map((r) => result(r.resourceType, r.resourceName, errorCode)) };
  },
};
