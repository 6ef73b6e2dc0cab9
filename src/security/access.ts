/**
 * Per-request authorization for handlers: turns "may this session produce to
 * this topic?" into the authorizer's (role, action, resource) question, audits
 * every decision, and asks each distinct question once per request.
 *
 * Declared questions only: the dispatcher first declares (and so checks) the
 * pairs the API's dispatch-table entry says the request names
 * (dispatch/access-plan.ts, `declare*`); the handler's questions
 * (`topic`, `groupAccess`, `tenantAdmin`, ...) then read those memoised
 * decisions back, and a question that was not declared throws an
 * UndeclaredAccessError (the request fails, nothing is served: fail closed).
 * `allowedTopic` / `decidedTopic` are what the request's guarded storage asks
 * before it lets the handler reach a topic, `issuedFor` what the guarded
 * coordinator asks of a GroupRef (dispatch/guards.ts).
 *
 * Handlers translate a denial into the Kafka error a broker sends
 * (TOPIC_AUTHORIZATION_FAILED per partition, GROUP_AUTHORIZATION_FAILED, ...).
 *
 * Audit volume: a resource the client named is audited one by one (a denial at
 * once, allows summarised per connection). A check made to filter a listing
 * (`{ listing: true }`: Metadata of all topics, ListGroups, OffsetFetch of all
 * topics) is not: the request leaves one `access_filtered` record with how many
 * resources it showed and hid (Kafka's AuthHelper filters listings with
 * logIfDenied=false). A listing must never be how a client learns of a
 * resource it may not see, so filtered-out resources are simply absent.
 */
import type { Session } from '../session/session.js';
import type { NamespaceRef, TopicName } from '../topics/names.js';
import type { AuditLog, AuthAction, AuthDecision, AuthResource, Authorizer } from './types.js';
import { describeResource } from './authz/authorizer.js';
import type { GroupRef } from '../coordinator/coordinator.js';
import type { TxnRef } from '../coordinator/txn/coordinator.js';
import { ErrorCode } from '../protocol/errors.js';

interface Allowed {
  action: AuthAction;
  resource: string;
  reason: string;
  records: number;
  bytes: number;
}

interface Memo {
  decision: Promise<AuthDecision>;
  /** A named (non-listing) check was made: its allow is summarised, or its denial written. */
  named: boolean;
}

interface Filtered {
  action: AuthAction;
  resourceType: string;
  allowed: number;
  hidden: number;
}

export interface CheckOptions {
  /** The check filters a listing: not audited per resource, counted into the request's access_filtered record. */
  listing?: boolean;
}

/** A resource with a home namespace (src/coordinator/home.ts) as it is checked: in that namespace. */
export interface HomedGroup {
  tenant: string;
  namespace: string;
  group: string;
}

/** A transactional id as it is checked: in its home namespace. */
export interface HomedTxn {
  tenant: string;
  namespace: string;
  transactionalId: string;
}

/** What a transactional id is checked for: `produce` to use it, `lookup` to find or describe it. */
export type TxnAction = 'produce' | 'lookup';

/** The outcome of a declared transactional-id pair (dispatch/access-plan.ts resolves the home). */
export interface TxnDecision {
  /** NONE when allowed and this node coordinates the id; else the code the client gets. */
  errorCode: number;
  /** Where it was checked; null when not checked (another node coordinates it). */
  namespace: string | null;
  allowed: boolean;
  /** When allowed and this node coordinates the id: the ref the transaction coordinator takes. */
  ref: TxnRef | null;
}

/** A handler asked an access question its dispatch-table entry did not declare: a bug, refused. */
export class UndeclaredAccessError extends Error {
  override readonly name = 'UndeclaredAccessError';
}

/** The outcome of a declared group pair (dispatch/access-plan.ts resolves the home). */
export interface GroupDecision {
  /** NONE when allowed and this node coordinates the group; else the code the client gets. */
  errorCode: number;
  /** Where it was checked; null when not checked (another node coordinates it). */
  namespace: string | null;
  allowed: boolean;
  /**
   * When allowed and this node coordinates the group: the ref the coordinator takes, naming the
   * namespace checked (the guarded coordinator accepts only refs issued here).
   */
  ref: GroupRef | null;
}

export class RequestAccess {
  private readonly memo = new Map<string, Memo>();
  /** Keys (action + resource label) the entry declared for this request. */
  private readonly declared = new Set<string>();
  /**
   * Group pairs (key `group\0action\0groupId`: their home resolution and decision, a promise) and
   * settled decisions on anything but topics (key: action + resource label, a boolean), for
   * authorizeGroup and the guarded storage.
   */
  private readonly decided = new Map<string, Promise<GroupDecision> | Promise<TxnDecision> | boolean>();
  /** Settled topic decisions by full name: DECIDED | the bits of the allowed actions (one lookup per storage call). */
  private readonly topicBits = new Map<string, number>();
  /** Allowed decisions of this request, audited at finish() with the records/bytes they covered. */
  private readonly allowed = new Map<string, Allowed>();
  /** Listing checks of this request, per (action, resource type). */
  private readonly filtered = new Map<string, Filtered>();

  constructor(
    private readonly authorizer: Authorizer,
    private readonly audit: AuditLog | null,
    private readonly session: Session,
    private readonly connId: number,
    /** The Kafka API, e.g. "Produce", for the audit log. */
    private readonly operation: string,
  ) {}

  /** produce / consume / lookup (produce or consume) on a topic. */
  topic(name: TopicName, action: 'produce' | 'consume' | 'lookup', opts?: CheckOptions): Promise<boolean> {
    const key = `${action}\u0000${name.full}`;
    this.requireDeclared(key, opts, action, 'topic');
    return this.check(action, this.topicResource(name), name.full, opts, key);
  }

  /**
   * A consumer group, checked in its home namespace (never simply the session's:
   * the caller resolves the home first, see handlers/group-common.ts). `consume`
   * to use or describe it, `admin` to delete it or its offsets.
   */
  group(g: HomedGroup, action: 'consume' | 'admin', opts?: CheckOptions): Promise<boolean> {
    const label = `group:${g.tenant}/${g.namespace}/${g.group}`;
    this.requireDeclared(`${action}\u0000${label}`, opts, action, 'group');
    return this.check(action, { kind: 'group', tenant: g.tenant, namespace: g.namespace, group: g.group }, label, opts);
  }

  /** A transactional id of a listing (ListTransactions), checked in its home namespace. */
  transactionalId(t: HomedTxn, action: TxnAction, opts?: CheckOptions): Promise<boolean> {
    const label = `transactional-id:${t.tenant}/${t.namespace}/${t.transactionalId}`;
    this.requireDeclared(`${action}\u0000${label}`, opts, action, 'transactional-id');
    return this.check(action, { kind: 'transactional-id', tenant: t.tenant, namespace: t.namespace, transactionalId: t.transactionalId }, label, opts);
  }

  /** The decision on a transactional id the entry declared (checked in its home, see access-plan.ts). */
  txnAccess(transactionalId: string, action: TxnAction): Promise<TxnDecision> {
    const decided = this.decided.get(`txn\u0000${action}\u0000${transactionalId}`) as Promise<TxnDecision> | undefined;
    if (!decided) throw new UndeclaredAccessError(`${this.operation}: ${action} on transactional id ${JSON.stringify(transactionalId)} was not declared by its dispatch-table entry`);
    return decided;
  }

  /** The decision on a group the entry declared (by id; checked in its home, see access-plan.ts). */
  groupAccess(groupId: string, action: 'consume' | 'admin'): Promise<GroupDecision> {
    const decided = this.decided.get(`group\u0000${action}\u0000${groupId}`) as Promise<GroupDecision> | undefined;
    if (!decided) throw new UndeclaredAccessError(`${this.operation}: ${action} on group ${JSON.stringify(groupId)} was not declared by its dispatch-table entry`);
    return decided;
  }

  /** produce (or consume) anywhere in a namespace: its grant, or one of its topics' (InitProducerId). */
  namespace(ns: NamespaceRef, action: 'produce' | 'consume'): Promise<boolean> {
    const label = `namespace:${ns.tenant}/${ns.namespace}`;
    this.requireDeclared(`${action}\u0000${label}`);
    return this.check(action, { kind: 'namespace', tenant: ns.tenant, namespace: ns.namespace }, label);
  }

  /** Topic administration within a tenant: tenant admin or superuser. */
  tenantAdmin(tenant: string): Promise<boolean> {
    this.requireDeclared(`admin\u0000tenant:${tenant}`);
    return this.check('admin', { kind: 'tenant', tenant }, `tenant:${tenant}`);
  }

  /** Cluster administration: superusers only. */
  cluster(): Promise<boolean> {
    this.requireDeclared('admin\u0000cluster');
    return this.check('admin', { kind: 'cluster' }, 'cluster');
  }

  // ------------------------------------------------ declarations (the dispatcher, before the handler)

  /** Declare and check a topic pair (audited once, memoised). */
  declareTopic(name: TopicName, action: AuthAction): Promise<boolean> {
    this.declared.add(`${action}\u0000${name.full}`);
    return this.check(action, this.topicResource(name), name.full);
  }

  /** The request names topics by id: the handler may look ids up. */
  declareIds(): void {
    this.declared.add('ids');
  }

  declareTenant(tenant: string): Promise<boolean> {
    this.declared.add(`admin\u0000tenant:${tenant}`);
    return this.tenantAdmin(tenant);
  }

  declareNamespace(ns: NamespaceRef, action: AuthAction): Promise<boolean> {
    if (action !== 'produce' && action !== 'consume') throw new UndeclaredAccessError(`${action} on a namespace is not a question`);
    this.declared.add(`${action}\u0000namespace:${ns.tenant}/${ns.namespace}`);
    return this.namespace(ns, action);
  }

  declareCluster(): Promise<boolean> {
    this.declared.add('admin\u0000cluster');
    return this.cluster();
  }

  /** The handler may filter a listing of this kind of resource with this action (access_filtered). */
  declareListing(action: AuthAction, kind: ListingKind): void {
    this.declared.add(`listing\u0000${action}\u0000${kind}`);
  }

  /**
   * Declare a group pair; `resolve` finds where the group is checked and asks
   * through the given check (which declares that resource and audits it).
   */
  declareGroup(
    groupId: string,
    action: 'consume' | 'admin',
    resolve: (check: (namespace: string) => Promise<boolean>) => Promise<Omit<GroupDecision, 'ref'>>,
  ): Promise<GroupDecision> {
    const key = `group\u0000${action}\u0000${groupId}`;
    let decided = this.decided.get(key) as Promise<GroupDecision> | undefined;
    if (!decided) {
      const tenant = this.session.defaultNamespace.tenant;
      decided = resolve((namespace) => {
        const label = `group:${tenant}/${namespace}/${groupId}`;
        this.declared.add(`${action}\u0000${label}`);
        return this.check(action, { kind: 'group', tenant, namespace, group: groupId }, label);
      }).then((r) => ({ ...r, ref: r.allowed && r.errorCode === ErrorCode.NONE && r.namespace !== null ? this.issue(tenant, r.namespace, groupId, action) : null }));
      this.decided.set(key, decided);
    }
    return decided;
  }

  /**
   * Declare a transactional-id pair; `resolve` finds where the id is checked and asks
   * through the given check (which declares that resource and audits it).
   */
  declareTransactionalId(
    transactionalId: string,
    action: TxnAction,
    resolve: (check: (namespace: string) => Promise<boolean>) => Promise<Omit<TxnDecision, 'ref'>>,
  ): Promise<TxnDecision> {
    const key = `txn\u0000${action}\u0000${transactionalId}`;
    let decided = this.decided.get(key) as Promise<TxnDecision> | undefined;
    if (!decided) {
      const tenant = this.session.defaultNamespace.tenant;
      decided = resolve((namespace) => {
        const label = `transactional-id:${tenant}/${namespace}/${transactionalId}`;
        this.declared.add(`${action}\u0000${label}`);
        return this.check(action, { kind: 'transactional-id', tenant, namespace, transactionalId }, label);
      }).then((r) => ({ ...r, ref: r.allowed && r.errorCode === ErrorCode.NONE && r.namespace !== null ? this.issueTxn(tenant, r.namespace, transactionalId, action) : null }));
      this.decided.set(key, decided);
    }
    return decided;
  }

  /** The action a TxnRef was issued for by this request, or undefined (not issued here). */
  issuedTxnFor(ref: object): TxnAction | undefined {
    return this.issuedTxn?.get(ref);
  }

  private issuedTxn: Map<object, TxnAction> | null = null;

  private issueTxn(tenant: string, namespace: string, transactionalId: string, action: TxnAction): TxnRef {
    const ref: TxnRef = {
      tenant,
      transactionalId,
      namespace,
      onHome: (how) => this.homeAssigned({ kind: 'transactional-id', tenant, namespace, transactionalId }, how),
    };
    (this.issuedTxn ??= new Map()).set(ref, action);
    return ref;
  }

  /** The action a GroupRef was issued for by this request, or undefined (not issued here). */
  issuedFor(ref: object): 'consume' | 'admin' | undefined {
    return this.issued?.get(ref);
  }

  private issued: Map<object, 'consume' | 'admin'> | null = null;

  private issue(tenant: string, namespace: string, groupId: string, action: 'consume' | 'admin'): GroupRef {
    const ref: GroupRef = {
      tenant,
      groupId,
      namespace,
      onHome: (how) => this.homeAssigned({ kind: 'group', tenant, namespace, group: groupId }, how),
    };
    (this.issued ??= new Map()).set(ref, action);
    return ref;
  }

  // ------------------------------------------------ what the guarded storage asks (synchronous)

  /** True when a decision on the topic was made for this request (allowed or not): the handler may look it up. */
  decidedTopic(full: string): boolean {
    return this.topicBits.has(full) || this.decided.has(`admin\u0000tenant:${tenantOf(full)}`);
  }

  /** True when one of `actions` was allowed on the topic (or its tenant's admin, for `admin`). */
  allowedTopic(full: string, actions: readonly AuthAction[]): boolean {
    const bits = this.topicBits.get(full) ?? 0;
    for (const a of actions) {
      if (a === 'admin' ? this.decided.get(`admin\u0000tenant:${tenantOf(full)}`) === true : (bits & ACTION_BIT[a]) !== 0) return true;
    }
    return false;
  }

  /** True when the cluster permission (superusers) was allowed for this request. */
  allowedCluster(): boolean {
    return this.decided.get('admin\u0000cluster') === true;
  }

  /** True when `action` was allowed on the session's namespace as a whole. */
  allowedNamespace(ns: NamespaceRef, action: AuthAction): boolean {
    return this.decided.get(`${action}\u0000namespace:${ns.tenant}/${ns.namespace}`) === true;
  }

  /** May the handler look topics up by id (the request names topics by id)? */
  mayResolveIds(): boolean {
    return this.declared.has('ids');
  }

  /** May the handler list every topic / group (a declared listing)? */
  mayList(kind: ListingKind): boolean {
    for (const k of this.declared) if (k.startsWith('listing\u0000') && k.endsWith(`\u0000${kind}`)) return true;
    return false;
  }

  /** A declared question that was never asked is no error; an undeclared one is. */
  private requireDeclared(key: string, opts?: CheckOptions, action?: AuthAction, kind?: ListingKind): void {
    if (opts?.listing === true) {
      if (this.declared.has(`listing\u0000${action}\u0000${kind}`)) return;
      throw new UndeclaredAccessError(`${this.operation}: a listing of ${kind}s by ${action} was not declared by its dispatch-table entry`);
    }
    if (!this.declared.has(key)) {
      throw new UndeclaredAccessError(`${this.operation}: ${key.replace('\u0000', ' on ')} was not declared by its dispatch-table entry`);
    }
  }

  private topicResource(name: TopicName): AuthResource {
    return { kind: 'topic', tenant: name.tenant, namespace: name.namespace, topic: name.full };
  }



  /** A resource of this request got its home namespace (created, or adopted after an upgrade). */
  homeAssigned(resource: AuthResource, how: 'created' | 'adopted'): void {
    if (resource.kind !== 'group' && resource.kind !== 'namespace' && resource.kind !== 'transactional-id') return;
    this.audit?.homeAssigned(this.connId, {
      principal: this.session.principal,
      operation: this.operation,
      resource: describeResource(resource),
      namespace: `${resource.tenant}/${resource.namespace}`,
      how,
    });
  }

  /** Records and bytes produced or fetched under an allowed topic decision (for the audit summary). */
  addUsage(name: TopicName, action: 'produce' | 'consume', records: number, bytes: number): void {
    const a = this.allowed.get(`${action}\u0000${name.full}`);
    if (a) {
      a.records += records;
      a.bytes += bytes;
    }
  }

  /** Audit the allowed decisions and the filtered listings of the request (denials were written at once). */
  finish(): void {
    if (!this.audit) return;
    const principal = this.session.principal;
    for (const a of this.allowed.values()) {
      this.audit.decision(this.connId, { principal, operation: this.operation, action: a.action, resource: a.resource, allowed: true, reason: a.reason, records: a.records, bytes: a.bytes });
    }
    this.allowed.clear();
    for (const f of this.filtered.values()) {
      this.audit.filtered(this.connId, { principal, operation: this.operation, action: f.action, resourceType: f.resourceType, allowed: f.allowed, hidden: f.hidden });
    }
    this.filtered.clear();
  }

  private check(action: AuthAction, resource: AuthResource, label: string, opts?: CheckOptions, key = `${action}\u0000${label}`): Promise<boolean> {
    let m = this.memo.get(key);
    if (!m) {
      m = { decision: this.authorizer.can(this.session.principal, action, resource), named: false };
      this.memo.set(key, m);
    }
    const memo = m;
    const listing = opts?.listing === true;
    return memo.decision.then((d) => {
      this.settle(key, action, resource, d.allowed);
      if (listing) this.countListed(action, resource.kind, d.allowed);
      else if (!memo.named) {
        memo.named = true;
        this.record(key, action, resource, d);
      }
      return d.allowed;
    });
  }

  /** Remember a settled decision for the guarded storage's synchronous questions. */
  private settle(key: string, action: AuthAction, resource: AuthResource, allowed: boolean): void {
    if (resource.kind === 'topic') {
      this.topicBits.set(resource.topic, (this.topicBits.get(resource.topic) ?? 0) | DECIDED | (allowed ? ACTION_BIT[action] : 0));
    } else {
      this.decided.set(key, allowed);
    }
  }

  private countListed(action: AuthAction, resourceType: string, allowed: boolean): void {
    const k = `${action}\u0000${resourceType}`;
    let f = this.filtered.get(k);
    if (!f) this.filtered.set(k, (f = { action, resourceType, allowed: 0, hidden: 0 }));
    if (allowed) f.allowed++;
    else f.hidden++;
  }

  private record(key: string, action: AuthAction, resource: AuthResource, decision: AuthDecision): void {
    const described = describeResource(resource);
    if (decision.allowed) {
      this.allowed.set(key, { action, resource: described, reason: decision.reason, records: 0, bytes: 0 });
    } else {
      this.audit?.decision(this.connId, { principal: this.session.principal, operation: this.operation, action, resource: described, allowed: false, reason: decision.reason, rule: decision.rule });
    }
  }
}

/** The kinds of resource a request may list (filtered). */
export type ListingKind = 'topic' | 'group' | 'transactional-id';

const DECIDED = 1;
const ACTION_BIT: Record<AuthAction, number> = { produce: 2, consume: 4, lookup: 8, admin: 16 };

/** The tenant of a full topic name (persistent://tenant/namespace/topic). */
function tenantOf(full: string): string {
  const start = full.indexOf('://') + 3;
  const end = full.indexOf('/', start);
  return end < 0 ? '' : full.slice(start, end);
}
