/**
 * The storage engine and the group coordinator as a handler sees them.
 *
 * Storage: every call that names a topic is
 * refused (UndeclaredAccessError, the request fails closed) unless this
 * request's RequestAccess holds the decision that call needs, so a handler
 * cannot reach a topic its dispatch-table entry did not declare and the
 * dispatcher did not check (access-plan.ts):
 *
 *  - describeTopic / describeTopicConfigs: a decision on the topic was made
 *    (allowed or not: the handler answers the denial before existence);
 *  - reads (read, offsets, offsetForTimestamp, maxTimestamp, describeProducers, waitForAppend):
 *    `consume` or `lookup` allowed on the topic (`read` and `waitForAppend`: `consume`);
 *  - append: `produce` allowed;
 *  - createTopic: tenant admin, or `lookup` allowed (Metadata's auto-creation);
 *  - deleteTopic, createPartitions, alterTopicConfigs, replaceTopicConfigs,
 *    deleteRecords: tenant admin of the topic's tenant allowed;
 *  - listTopics: the request declared a filtered listing, or names topics by id;
 *    describeTopicById: the request names topics by id;
 *  - allocateProducerId: `produce` allowed on the session's namespace;
 *  - writeTxnMarker: the cluster permission allowed (WriteTxnMarkers, what
 *    `kafka-transactions.sh abort` sends; superusers) and `produce` on the topic;
 *    the transaction coordinator holds the engine itself.
 *
 * The engine's kind, reserved namespaces and config defaults pass through;
 * any other member (its key-value state, start/close, internals, a method
 * added later and not yet classified here) is refused, so a new storage call
 * fails closed until it is given a rule. One small view object per request;
 * the checks are map lookups per call (per partition at most), never per record.
 *
 * Coordinator: every call that names a group takes a GroupRef, and only the
 * refs this request's RequestAccess issued for an allowed group are accepted
 * (`admin` ones for DeleteGroups and OffsetDelete); ListGroups needs a declared
 * group listing of the session's own tenant. groupHome and the locator pass
 * through (they name a coordinator, not a group's content); anything else is refused.
 * completeTxnOffsets is the transaction coordinator's, never a handler's.
 *
 * Transaction coordinator: every call takes a TxnRef, and only the refs this
 * request's RequestAccess issued for an allowed transactional id are accepted
 * (`produce` ones to use the id; describing needs any); ListTransactions needs a
 * declared transactional-id listing of the session's own tenant.
 */
import type { StorageEngine, PartitionRef } from '../storage/engine.js';
import type { Session } from '../session/session.js';
import { UndeclaredAccessError, type RequestAccess } from '../security/access.js';
import type { AuthAction } from '../security/types.js';
import type { GroupCoordinator } from '../coordinator/coordinator.js';
import type { ShareGroups } from '../share/groups.js';
import type { TransactionCoordinator } from '../coordinator/txn/coordinator.js';

type Guard = (access: RequestAccess, session: Session, args: unknown[]) => string | null;

/** Builds views of `target` whose GUARDS methods check first and whose other members forward to `target`. */
function viewFactory<T extends object>(target: T, guards: Record<string, Guard>, passThrough: readonly string[], what: string): (access: RequestAccess, session: Session, operation: string) => T {
  interface View {
    access: RequestAccess;
    session: Session;
    operation: string;
  }
  function GuardedView(this: View, access: RequestAccess, session: Session, operation: string): void {
    this.access = access;
    this.session = session;
    this.operation = operation;
  }
  const proto: Record<string, unknown> = {};
  const names = new Set<string>();
  for (let o: object | null = target; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) {
    for (const n of Object.getOwnPropertyNames(o)) if (n !== 'constructor') names.add(n);
  }
  for (const n of Object.keys(guards)) names.add(n);
  const members = target as unknown as Record<string, unknown>;
  for (const name of names) {
    const guard = guards[name];
    if (guard) {
      proto[name] = function (this: View, ...args: unknown[]): unknown {
        const missing = guard(this.access, this.session, args);
        if (missing !== null) return Promise.reject(new UndeclaredAccessError(`${this.operation}: ${what}.${name} needs ${missing}, which the request did not check`));
        return (members[name] as (...a: unknown[]) => unknown).apply(target, args);
      };
    } else if (passThrough.includes(name)) {
      Object.defineProperty(proto, name, {
        get() {
          const v = members[name];
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      });
    } else {
      // not classified (a member added later, the engine's internals, its key-value state): refused
      Object.defineProperty(proto, name, {
        get(this: View) {
          throw new UndeclaredAccessError(`${this.operation}: ${what}.${name} is not open to handlers (classify it in src/dispatch/guards.ts)`);
        },
      });
    }
  }
  GuardedView.prototype = proto;
  const View = GuardedView as unknown as new (access: RequestAccess, session: Session, operation: string) => T;
  return (access, session, operation) => new View(access, session, operation);
}

const READ: readonly AuthAction[] = ['consume', 'lookup'];
const CONSUME: readonly AuthAction[] = ['consume'];
const PRODUCE: readonly AuthAction[] = ['produce'];
const ADMIN: readonly AuthAction[] = ['admin'];
const CREATE: readonly AuthAction[] = ['admin', 'lookup'];

const byName =
  (actions: readonly AuthAction[] | null): Guard =>
  (access, _session, args) => {
    const topic = String(args[0]);
    if (actions === null ? access.decidedTopic(topic) : access.allowedTopic(topic, actions)) return null;
    return `${actions === null ? 'a decision on' : actions.join(' or ')} ${topic}`;
  };

const byPartition =
  (actions: readonly AuthAction[]): Guard =>
  (access, _session, args) => {
    const tp = args[0] as PartitionRef;
    return access.allowedTopic(tp.topic, actions) ? null : `${actions.join(' or ')} on ${tp.topic}`;
  };

/** The guarded methods of StorageEngine and what each requires. */
const GUARDS: Record<string, Guard> = {
  describeTopic: byName(null),
  describeTopicConfigs: byName(null),
  createTopic: byName(CREATE),
  deleteTopic: byName(ADMIN),
  createPartitions: byName(ADMIN),
  alterTopicConfigs: byName(ADMIN),
  replaceTopicConfigs: byName(ADMIN),
  deleteRecords: byPartition(ADMIN),
  append: byPartition(PRODUCE),
  read: byPartition(CONSUME),
  offsets: byPartition(READ),
  offsetForTimestamp: byPartition(READ),
  maxTimestamp: byPartition(READ),
  describeProducers: byPartition(READ),
  waitForAppend: (access, _s, args) => {
    for (const w of args[0] as Array<{ tp: PartitionRef }>) if (!access.allowedTopic(w.tp.topic, CONSUME)) return `consume on ${w.tp.topic}`;
    return null;
  },
  listTopics: (access) => (access.mayList('topic') || access.mayResolveIds() ? null : 'a declared topic listing'),
  describeTopicById: (access) => (access.mayResolveIds() ? null : 'topics named by id'),
  writeTxnMarker: (access, _session, args) => {
    if (!access.allowedCluster()) return 'admin on the cluster';
    return byPartition(PRODUCE)(access, _session, args);
  },
  allocateProducerId: (access, session) => (access.allowedNamespace(session.defaultNamespace, 'produce') ? null : 'produce on the session namespace'),
};

/** Members of the engine a handler may use freely (they name no topic). Anything else not in GUARDS is refused. */
export const STORAGE_PASS_THROUGH: readonly string[] = ['kind', 'reservedNamespaces', 'configDefaults', 'maxBatchBytes'];

/** Per-request views of the storage engine (built once per engine). */
export function storageGuard(storage: StorageEngine): (access: RequestAccess, session: Session, operation: string) => StorageEngine {
  return viewFactory(storage, GUARDS, STORAGE_PASS_THROUGH, 'storage');
}

const issuedRef =
  (admin: boolean, at: (args: unknown[]) => unknown): Guard =>
  (access, _session, args) => {
    const action = access.issuedFor(at(args) as object);
    return action !== undefined && (!admin || action === 'admin') ? null : `a group ref issued for ${admin ? 'an admin' : 'a'} decision`;
  };

/** The guarded methods of GroupCoordinator. */
const COORDINATOR_GUARDS: Record<string, Guard> = {
  joinGroup: issuedRef(false, (a) => (a[0] as { key: object }).key),
  syncGroup: issuedRef(false, (a) => (a[0] as { key: object }).key),
  heartbeat: issuedRef(false, (a) => (a[0] as { key: object }).key),
  commitOffsets: issuedRef(false, (a) => (a[0] as { key: object }).key),
  commitTxnOffsets: issuedRef(false, (a) => (a[0] as { key: object }).key),
  leaveGroup: issuedRef(false, (a) => a[0]),
  fetchOffsets: issuedRef(false, (a) => a[0]),
  describeGroup: issuedRef(false, (a) => a[0]),
  consumerGroupHeartbeat: issuedRef(false, (a) => a[0]),
  consumerSubscription: issuedRef(false, (a) => a[0]),
  consumerGroupDescribe: issuedRef(false, (a) => a[0]),
  deleteOffsets: issuedRef(true, (a) => a[0]),
  deleteGroups: (access, session, args) => {
    for (const ref of args[0] as object[]) if (access.issuedFor(ref) !== 'admin') return 'group refs issued for admin decisions';
    return null;
  },
  listGroups: (access, session, args) => (access.mayList('group') && args[0] === session.defaultNamespace.tenant ? null : "a declared group listing of the session's tenant"),
};

/** Members of the coordinator a handler may use freely: where a group lives, not what it holds. */
export const COORDINATOR_PASS_THROUGH: readonly string[] = ['locator', 'groupHome'];

/** Per-request views of the group coordinator (built once per coordinator). */
export function coordinatorGuard(coordinator: GroupCoordinator): (access: RequestAccess, session: Session, operation: string) => GroupCoordinator {
  return viewFactory(coordinator, COORDINATOR_GUARDS, COORDINATOR_PASS_THROUGH, 'coordinator');
}

/** The guarded methods of the share-group coordinator (src/share/groups.ts): each takes a GroupRef issued for this request. */
const SHARE_GUARDS: Record<string, Guard> = {
  heartbeat: issuedRef(false, (a) => a[0]),
  describe: issuedRef(false, (a) => a[0]),
  member: issuedRef(false, (a) => a[0]),
  mayOpenSession: issuedRef(false, (a) => a[0]),
  openOrUpdateSession: issuedRef(false, (a) => a[0]),
  closeSession: issuedRef(false, (a) => a[0]),
  partition: issuedRef(false, (a) => a[0]),
  existingPartition: issuedRef(false, (a) => a[0]),
  fetchRecords: issuedRef(false, (a) => a[0]),
  acknowledgeRecords: issuedRef(false, (a) => a[0]),
  describeOffsets: issuedRef(false, (a) => a[0]),
  lockDuration: issuedRef(false, (a) => a[0]),
  groupConfigsOf: issuedRef(false, (a) => a[0]),
  alterGroupConfigs: issuedRef(true, (a) => a[0]),
  alterOffsets: issuedRef(false, (a) => a[0]),
  deleteOffsets: issuedRef(true, (a) => a[0]),
  deleteGroup: issuedRef(true, (a) => a[0]),
  listGroups: (access, session, args) => (access.mayList('group') && args[0] === session.defaultNamespace.tenant ? null : "a declared group listing of the session's tenant"),
};

/**
 * What a share group's requests may look up freely: where it lives (also as stored, for a node serving
 * its records side without coordinating it), what a member subscribed to, its session's topics.
 */
export const SHARE_PASS_THROUGH: readonly string[] = ['config', 'groupHome', 'loadHome', 'recordsOnAnyNode', 'subscriptionOf', 'sessionTopicIds'];

/** Per-request views of the share-group coordinator. */
export function shareGroupsGuard(shares: ShareGroups): (access: RequestAccess, session: Session, operation: string) => ShareGroups {
  return viewFactory(shares, SHARE_GUARDS, SHARE_PASS_THROUGH, 'shareGroups');
}

const issuedTxn =
  (produce: boolean): Guard =>
  (access, _session, args) => {
    const action = access.issuedTxnFor(args[0] as object);
    return action !== undefined && (!produce || action === 'produce') ? null : `a transactional-id ref issued for ${produce ? 'a produce' : 'a'} decision`;
  };

/** The guarded methods of TransactionCoordinator: each takes a TxnRef this request issued (produce to use the id). */
const TXN_GUARDS: Record<string, Guard> = {
  initProducerId: issuedTxn(true),
  addToTransaction: issuedTxn(true),
  verifyPartitions: issuedTxn(true),
  endTransaction: issuedTxn(true),
  describe: issuedTxn(false),
  list: (access, session, args) => (access.mayList('transactional-id') && args[0] === session.defaultNamespace.tenant ? null : "a declared transactional-id listing of the session's tenant"),
};

/** Members of the transaction coordinator a handler may use freely: where an id lives, not what it holds. */
export const TXN_PASS_THROUGH: readonly string[] = ['locator', 'txnHome'];

/** Per-request views of the transaction coordinator (built once per coordinator). */
export function transactionsGuard(coordinator: TransactionCoordinator): (access: RequestAccess, session: Session, operation: string) => TransactionCoordinator {
  return viewFactory(coordinator, TXN_GUARDS, TXN_PASS_THROUGH, 'transactions');
}
