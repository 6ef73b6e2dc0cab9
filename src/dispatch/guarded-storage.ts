/**
 * The storage engine as a handler sees it: every call that names a topic is
 * refused (UndeclaredAccessError, the request fails closed) unless this
 * request's RequestAccess holds the decision that call needs, so a handler
 * cannot reach a topic its dispatch-table entry did not declare and the
 * dispatcher did not check (access-plan.ts):
 *
 *  - describeTopic / describeTopicConfigs: a decision on the topic was made
 *    (allowed or not: the handler answers the denial before existence);
 *  - reads (read, offsets, offsetForTimestamp, maxTimestamp, waitForAppend):
 *    `consume` or `lookup` allowed on the topic (`read` and `waitForAppend`: `consume`);
 *  - append: `produce` allowed;
 *  - createTopic: tenant admin, or `lookup` allowed (Metadata's auto-creation);
 *  - deleteTopic, createPartitions, alterTopicConfigs, replaceTopicConfigs,
 *    deleteRecords: tenant admin of the topic's tenant allowed;
 *  - listTopics: the request declared a filtered listing, or names topics by id;
 *    describeTopicById: the request names topics by id;
 *  - allocateProducerId: `produce` allowed on the session's namespace.
 *
 * Everything else (the engine's kind, defaults, the coordinator's key-value
 * state) passes through. One wrapper per request; the checks are map lookups
 * per call (per partition at most), never per record.
 */
import type { StorageEngine, PartitionRef } from '../storage/engine.js';
import type { Session } from '../session/session.js';
import { UndeclaredAccessError, type RequestAccess } from '../security/access.js';
import type { AuthAction } from '../security/types.js';

type Guard = (access: RequestAccess, session: Session, args: unknown[]) => string | null;

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
  waitForAppend: (access, _s, args) => {
    for (const w of args[0] as Array<{ tp: PartitionRef }>) if (!access.allowedTopic(w.tp.topic, CONSUME)) return `consume on ${w.tp.topic}`;
    return null;
  },
  listTopics: (access) => (access.mayList('topic') || access.mayResolveIds() ? null : 'a declared topic listing'),
  describeTopicById: (access) => (access.mayResolveIds() ? null : 'topics named by id'),
  allocateProducerId: (access, session) => (access.allowedNamespace(session.defaultNamespace, 'produce') ? null : 'produce on the session namespace'),
};

export function guardStorage(storage: StorageEngine, access: RequestAccess, session: Session, operation: string): StorageEngine {
  const wrapped = new Map<PropertyKey, unknown>();
  return new Proxy(storage, {
    get(target, prop) {
      let w = wrapped.get(prop);
      if (w !== undefined) return w;
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      const guard = typeof prop === 'string' ? GUARDS[prop] : undefined;
      const fn = value as (...args: unknown[]) => unknown;
      w = guard
        ? (...args: unknown[]) => {
            const missing = guard(access, session, args);
            if (missing !== null) return Promise.reject(new UndeclaredAccessError(`${operation}: storage.${String(prop)} needs ${missing}, which the request did not check`));
            return fn.apply(target, args);
          }
        : fn.bind(target);
      wrapped.set(prop, w);
      return w;
    },
  });
}
