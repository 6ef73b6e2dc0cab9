/**
 * Authorization by declaration: what each dispatch-table entry says its
 * requests name, and how the dispatcher resolves and checks that before the
 * handler runs.
 *
 * An entry declares
 *  - `checks`: the (action, resource kind) pairs its API can ever need, with
 *    when each applies and what a denial answers (the table in
 *    docs/authorization.md is generated from these, scripts/gen-authz-docs.ts);
 *  - `needs(request, scope)`: a small pure function of the decoded request and
 *    the session listing the concrete pairs of one request (topics by name or
 *    by id, groups, the session's namespace, the cluster, listings).
 *
 * `prepareAccess` resolves each pair (a Kafka topic name against the session's
 * namespace, a topic id through the storage engine, a group's home namespace
 * through the coordinator, coordinator/home.ts) and asks the authorizer through
 * the request's RequestAccess, which audits each decision once and memoises it.
 * The handler then reads the decisions back (`ctx.access.topic(...)`,
 * `ctx.access.groupAccess(...)`): a question the entry did not declare throws
 * (fails closed), and the storage handed to the handler refuses a topic whose
 * decision was not made, and the coordinator a group ref it did not issue (guards.ts). A pair of a kind the entry's
 * `checks` do not list is a programming error and fails the request.
 *
 * Names that cannot be resolved (illegal, a reserved namespace) are skipped
 * here: the handler answers them with Kafka's code for the name, and never
 * reaches storage for them.
 */
import type { AuthAction } from '../security/types.js';
import type { TxnAction } from '../security/access.js';
import type { Session } from '../session/session.js';
import type { RequestContext } from './registry.js';
import type { GatewayContext } from '../gateway-context.js';
import { ErrorCode } from '../protocol/errors.js';
import { checkNamespace } from '../coordinator/home.js';
import { parseFullName, resolveTopic, type TopicName } from '../topics/names.js';

/** The kinds of resource a request can name. */
export type ResourceOn =
  /** A topic by its Kafka name (resolved against the session's namespace). */
  | 'topic'
  /** A topic by its topic id. */
  | 'topic-id'
  /** Every topic of a listing (Metadata of all topics, OffsetFetch of all of a group's topics): filtered, not named. */
  | 'topic-listing'
  /** A consumer group, checked in its home namespace. */
  | 'group'
  /** Every group of a listing (ListGroups): filtered. */
  | 'group-listing'
  /** A transactional id, checked in its home namespace. */
  | 'transactional-id'
  /** Every transactional id of a listing (ListTransactions): filtered. */
  | 'transactional-id-listing'
  /** The tenant of a topic named by its Kafka name (topic administration). */
  | 'tenant-of-topic'
  /** The tenant of a topic named by its id. */
  | 'tenant-of-topic-id'
  /** The session's namespace as a whole. */
  | 'namespace'
  /** The cluster (superusers). */
  | 'cluster';

export const RESOURCE_KINDS: readonly ResourceOn[] = ['topic', 'topic-id', 'topic-listing', 'group', 'group-listing', 'transactional-id', 'transactional-id-listing', 'tenant-of-topic', 'tenant-of-topic-id', 'namespace', 'cluster'];

/** One pair an API may check, for validation and for the generated documentation. */
export interface CheckSpec {
  action: AuthAction;
  on: ResourceOn;
  /** When the pair applies, e.g. "v13+" or "resource type BROKER" (documentation). */
  when?: string;
  /** What the client gets when it is denied (documentation; the handler answers it). */
  denial: string;
}

/** One concrete pair of a request. */
export type Need =
  /**
   * ifGroup: only when that group pair of the request was allowed (OffsetCommit, OffsetFetch,
   * OffsetDelete check the group first and name nothing else when it is refused, as Kafka does).
   */
  | { on: 'topic' | 'tenant-of-topic'; action: AuthAction; name: string; ifGroup?: GroupCondition }
  | { on: 'topic-id' | 'tenant-of-topic-id'; action: AuthAction; id: Buffer }
  /**
   * anyNode: checked in the session's namespace when this node cannot know the home (FindCoordinator).
   * share: a share group (KIP-932), whose home the share-group coordinator keeps (src/share/groups.ts).
   */
  | { on: 'group'; action: 'consume' | 'admin'; group: string; anyNode?: boolean; share?: boolean }
  /** anyNode: as for groups (FindCoordinator). */
  | { on: 'transactional-id'; action: TxnAction; transactionalId: string; anyNode?: boolean }
  | { on: 'topic-listing' | 'group-listing' | 'transactional-id-listing' | 'namespace'; action: AuthAction; ifGroup?: GroupCondition }
  /** gates: checked first, and the request's other pairs only when it is allowed (Kafka answers it alone: WriteTxnMarkers). */
  | { on: 'cluster'; action: AuthAction; ifGroup?: GroupCondition; gates?: boolean };

export interface GroupCondition {
  group: string;
  action: 'consume' | 'admin';
}

export interface AccessScope {
  readonly apiVersion: number;
  readonly session: Session;
  /**
   * The distinct topics of the partitions of this connection's incremental fetch session with that
   * id, or undefined (Fetch: a session's topics are checked on every request that uses it, never cached).
   */
  fetchSessionTopics(sessionId: number): Iterable<{ topic: string; topicId: Buffer }> | undefined;
  /** What a request names beyond its own fields (a share session's partitions): read-only lookups only. */
  readonly gateway?: GatewayContext;
}

export interface AccessDeclaration<Req> {
  readonly checks: readonly CheckSpec[];
  needs(request: Req, scope: AccessScope): Need[];
}

/** Pre-authentication APIs and APIs that name no resource. */
export const NO_RESOURCES: AccessDeclaration<any> = { checks: [], needs: () => [] };

/** The outcome of a group pair: the error the client gets, and where it was checked. */
export interface GroupResolution {
  /** NONE when allowed and this node coordinates the group. */
  errorCode: number;
  /** The namespace the group was checked in (null: not checked, the coordinator's status answers). */
  namespace: string | null;
  allowed: boolean;
}

/** A Kafka topic name as the gateway resolves it, or null (illegal, reserved: the handler answers it). */
export function resolvedOrNull(ctx: RequestContext, kafkaName: string): TopicName | null {
  try {
    const name = resolveTopic(kafkaName, ctx.session.defaultNamespace);
    if (ctx.gateway.storage.reservedNamespaces.includes(`${name.tenant}/${name.namespace}`)) return null;
    return name;
  } catch {
    return null;
  }
}

/**
 * Resolve and check every pair the entry declares for this request, before its handler runs.
 * Throws when a pair's kind is not among the entry's declared checks. Null when the request
 * names nothing (nothing to wait for).
 */
export function prepareAccess(ctx: RequestContext, declaration: AccessDeclaration<any>, request: unknown): Promise<unknown> | null {
  const needs = declaration.needs(request, {
    apiVersion: ctx.apiVersion,
    session: ctx.session,
    fetchSessionTopics: (sessionId) => ctx.gateway.fetchSessions?.get(ctx.conn.id, sessionId)?.topics(),
    gateway: ctx.gateway,
  });
  if (needs.length === 0) return null;
  const checks = declaration.checks;
  let groups = false;
  let txns = false;
  for (const n of needs) {
    let declared = false;
    for (const c of checks) {
      if (c.action === n.action && c.on === n.on) {
        declared = true;
        break;
      }
    }
    if (!declared) throw new Error(`API ${ctx.apiKey} asked for ${n.action} on ${n.on}, which its entry does not declare`);
    if (n.on === 'group') groups = true;
    if (n.on === 'transactional-id') txns = true;
  }
  const gate = needs.find((n) => n.on === 'cluster' && n.gates === true);
  if (gate) return prepareGated(ctx, gate, needs);
  if (txns) return prepareWithTxn(ctx, needs);
  if (groups) return prepareWithGroups(ctx, needs);
  return needs.length === 1 ? (resolveNeed(ctx, needs[0]!) ?? null) : Promise.all(needs.map((n) => resolveNeed(ctx, n)));
}

/** A gating pair first; the others (nothing but topics so far) only when it was allowed. */
async function prepareGated(ctx: RequestContext, gate: Need, needs: Need[]): Promise<void> {
  if (!((await resolveNeed(ctx, gate)) as boolean)) return;
  const rest = needs.filter((n) => n !== gate);
  if (rest.some((n) => n.on === 'group' || n.on === 'transactional-id')) throw new Error(`API ${ctx.apiKey}: a gated request names groups or transactional ids, which are not resolved after a gate`);
  await Promise.all(rest.map((n) => resolveNeed(ctx, n)));
}

/** Groups first: pairs conditioned on a group are resolved only when that group was allowed. */
async function prepareWithGroups(ctx: RequestContext, needs: Need[]): Promise<void> {
  await Promise.all(needs.filter((n) => n.on === 'group').map((n) => resolveNeed(ctx, n)));
  const rest: Need[] = [];
  for (const n of needs) {
    if (n.on === 'group') continue;
    const cond = 'ifGroup' in n ? n.ifGroup : undefined;
    if (cond && (await ctx.access.groupAccess(cond.group, cond.action)).errorCode !== ErrorCode.NONE) continue;
    rest.push(n);
  }
  await Promise.all(rest.map((n) => resolveNeed(ctx, n)));
}

/**
 * Transactional ids first (Kafka checks the id before anything else the request names),
 * after the cluster when the request names it (AddPartitionsToTxn v4+, a broker's request):
 * the rest is resolved only when those were allowed.
 */
async function prepareWithTxn(ctx: RequestContext, needs: Need[]): Promise<void> {
  const cluster = needs.filter((n) => n.on === 'cluster');
  if (cluster.length > 0 && !((await resolveNeed(ctx, cluster[0]!)) as boolean)) return;
  const decisions = await Promise.all(needs.filter((n) => n.on === 'transactional-id').map((n) => resolveNeed(ctx, n) as Promise<{ allowed: boolean }>));
  if (decisions.some((d) => !d.allowed)) return;
  const rest = needs.filter((n) => n.on !== 'transactional-id' && n.on !== 'cluster');
  if (rest.some((n) => n.on === 'group')) await prepareWithGroups(ctx, rest);
  else await Promise.all(rest.map((n) => resolveNeed(ctx, n)));
}

function resolveNeed(ctx: RequestContext, n: Need): Promise<unknown> | undefined {
  const access = ctx.access;
  switch (n.on) {
    case 'topic': {
      const name = resolvedOrNull(ctx, n.name);
      return name ? access.declareTopic(name, n.action) : undefined;
    }
    case 'tenant-of-topic': {
      const name = resolvedOrNull(ctx, n.name);
      return name ? access.declareTenant(name.tenant) : undefined;
    }
    case 'topic-id':
    case 'tenant-of-topic-id':
      access.declareIds();
      return ctx.gateway.storage.describeTopicById(n.id).then((info) => {
        if (!info) return undefined;
        const name = parseFullName(info.name);
        return n.on === 'topic-id' ? access.declareTopic(name, n.action) : access.declareTenant(name.tenant);
      });
    case 'group':
      return access.declareGroup(n.group, n.action, (check) => (n.share ? resolveShareGroup(ctx, n.group, n.anyNode === true, check) : resolveGroup(ctx, n.group, n.anyNode === true, check)));
    case 'topic-listing':
      access.declareListing(n.action, 'topic');
      return undefined;
    case 'group-listing':
      access.declareListing(n.action, 'group');
      return undefined;
    case 'transactional-id':
      return access.declareTransactionalId(n.transactionalId, n.action, (check) => resolveTxn(ctx, n.transactionalId, n.anyNode === true, check));
    case 'transactional-id-listing':
      access.declareListing(n.action, 'transactional-id');
      return undefined;
    case 'namespace':
      return access.declareNamespace(ctx.session.defaultNamespace, n.action);
    case 'cluster':
      return access.declareCluster();
  }
}

/**
 * Where a group is checked (coordinator/home.ts): in its home when this node
 * coordinates it and it has one; in the session's namespace when it has none
 * yet, or when the gateway runs without a coordinator; not at all when another
 * node coordinates it (its status answers, nothing is revealed), unless
 * `anyNode` (FindCoordinator only names the coordinator: checked in the
 * session's namespace).
 */
async function resolveGroup(ctx: RequestContext, groupId: string, anyNode: boolean, check: (namespace: string) => Promise<boolean>): Promise<GroupResolution> {
  const coordinator = ctx.gateway.coordinator;
  const session = ctx.session.defaultNamespace;
  if (!coordinator) {
    const allowed = await check(session.namespace);
    return { errorCode: allowed ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.GROUP_AUTHORIZATION_FAILED, namespace: session.namespace, allowed };
  }
  const lookup = coordinator.groupHome({ tenant: session.tenant, groupId });
  if (lookup.errorCode !== ErrorCode.NONE && !anyNode) return { errorCode: lookup.errorCode, namespace: null, allowed: false };
  const namespace = lookup.errorCode === ErrorCode.NONE ? checkNamespace(lookup.home, session.namespace) : session.namespace;
  const allowed = await check(namespace);
  return { errorCode: allowed ? lookup.errorCode : ErrorCode.GROUP_AUTHORIZATION_FAILED, namespace, allowed };
}

/**
 * Where a share group is checked: in its home (kept by the share-group
 * coordinator, src/share/groups.ts), or in the session's namespace when it has
 * none yet. Share groups are served by the node that coordinates the group id
 * (the classic coordinator's status: NOT_COORDINATOR elsewhere, nothing revealed),
 * except the records side (`anyNode` needs: ShareFetch, ShareAcknowledge) when the
 * engine serves it on every node (src/share/records.ts `anyNode`): then the home
 * as the durable store has it.
 */
async function resolveShareGroup(ctx: RequestContext, groupId: string, recordsSide: boolean, check: (namespace: string) => Promise<boolean>): Promise<GroupResolution> {
  const shares = ctx.gateway.shareGroups;
  const session = ctx.session.defaultNamespace;
  const key = { tenant: session.tenant, groupId };
  const status = ctx.gateway.coordinator?.groupHome(key).errorCode ?? ErrorCode.COORDINATOR_NOT_AVAILABLE;
  if (!shares) {
    const allowed = await check(session.namespace);
    return { errorCode: allowed ? ErrorCode.COORDINATOR_NOT_AVAILABLE : ErrorCode.GROUP_AUTHORIZATION_FAILED, namespace: session.namespace, allowed };
  }
  // the records side (ShareFetch, ShareAcknowledge) of an engine serving it on every node: the home as stored
  const anyNode = recordsSide && status !== ErrorCode.NONE && shares.recordsOnAnyNode;
  if (status !== ErrorCode.NONE && !anyNode) return { errorCode: status, namespace: null, allowed: false };
  const namespace = checkNamespace(anyNode ? await shares.loadHome(key) : shares.groupHome(key), session.namespace);
  const allowed = await check(namespace);
  return { errorCode: allowed ? ErrorCode.NONE : ErrorCode.GROUP_AUTHORIZATION_FAILED, namespace, allowed };
}

/**
 * Where a transactional id is checked: the group rule (resolveGroup), with the
 * transaction coordinator's view of the id's home. An id named by a request of
 * a gateway without a transaction coordinator is checked in the session's
 * namespace and answered COORDINATOR_NOT_AVAILABLE.
 */
async function resolveTxn(ctx: RequestContext, transactionalId: string, anyNode: boolean, check: (namespace: string) => Promise<boolean>): Promise<GroupResolution> {
  const coordinator = ctx.gateway.transactions;
  const session = ctx.session.defaultNamespace;
  const denied = ErrorCode.TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
  if (!coordinator) {
    const allowed = await check(session.namespace);
    return { errorCode: allowed ? ErrorCode.COORDINATOR_NOT_AVAILABLE : denied, namespace: session.namespace, allowed };
  }
  const lookup = coordinator.txnHome({ tenant: session.tenant, transactionalId });
  if (lookup.errorCode !== ErrorCode.NONE && !anyNode) return { errorCode: lookup.errorCode, namespace: null, allowed: false };
  const namespace = lookup.errorCode === ErrorCode.NONE ? checkNamespace(lookup.home, session.namespace) : session.namespace;
  const allowed = await check(namespace);
  return { errorCode: allowed ? lookup.errorCode : denied, namespace, allowed };
}

// ------------------------------------------------------------ helpers for the entries' `needs`

export function topicsNamed(action: AuthAction, names: Iterable<string>, on: 'topic' | 'tenant-of-topic' = 'topic', ifGroup?: GroupCondition): Need[] {
  const out: Need[] = [];
  for (const name of names) out.push(ifGroup ? { on, action, name, ifGroup } : { on, action, name });
  return out;
}

export function groupsNamed(action: 'consume' | 'admin', groups: Iterable<string>): Need[] {
  const out: Need[] = [];
  for (const group of groups) out.push({ on: 'group', action, group });
  return out;
}
