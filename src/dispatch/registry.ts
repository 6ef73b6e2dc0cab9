/**
 * The dispatch table: apiKey -> { versions served, authorization, handler }.
 * An entry without a rule and a declaration of the (action, resource) pairs
 * its requests name cannot be registered, so no API is ever served unchecked.
 * The dispatcher resolves and checks the declared pairs before the handler
 * runs (access-plan.ts); the handler can only read those decisions back
 * (security/access.ts refuses any question the entry did not declare) and
 * reach storage and the coordinator for what they cover (guards.ts).
 * An API or version not in the table is not advertised by ApiVersions and is
 * answered the way Kafka answers it (see dispatcher.ts).
 */
import type { Connection } from '../network/connection.js';
import type { Session } from '../session/session.js';
import type { Logger } from '../logger.js';
import type { GatewayContext } from '../gateway-context.js';
import type { RequestAccess } from '../security/access.js';
import type { AccessDeclaration } from './access-plan.js';

/**
 * How an API is authorized. The rules name the Pulsar permission each API
 * needs (see docs/authorization.md); the security layer evaluates them.
 *  - pre-auth: served before authentication (ApiVersions, SASL).
 *  - authenticated: any authenticated principal; no resource named.
 *  - topic-lookup: `produce` or `consume` on every topic named (Metadata, ListOffsets...).
 *  - topic-produce: `produce` on every topic named.
 *  - topic-consume: `consume` on every topic named.
 *  - group: the group's subscription roles (+ consume on named topics, by name or id: share groups).
 *  - tenant-admin: tenant admin or superuser for the topics' tenant (or, for a share
 *    group's configs, `admin` on the group in its home: its tenant's admins).
 *  - transaction: the transactional id in its home (`produce` to use it, `lookup` to
 *    describe or list it), + `produce` on the partitions added, the group and the
 *    topics of transactional offsets, the cluster for broker-only versions;
 *    InitProducerId without a transactional id: `produce` in the session's namespace.
 */
export type AuthorizationRule = 'pre-auth' | 'authenticated' | 'topic-lookup' | 'topic-produce' | 'topic-consume' | 'group' | 'tenant-admin' | 'transaction';

export const AUTHORIZATION_RULES: readonly AuthorizationRule[] = [
  'pre-auth',
  'authenticated',
  'topic-lookup',
  'topic-produce',
  'topic-consume',
  'group',
  'tenant-admin',
  'transaction',
];

export interface RequestContext {
  readonly apiKey: number;
  readonly apiVersion: number;
  readonly correlationId: number;
  readonly clientId: string | null;
  readonly conn: Connection;
  readonly session: Session;
  readonly gateway: GatewayContext;
  readonly log: Logger;
  /** Set by a handler to close the connection once its response is written. */
  closeAfterResponse: boolean;
  /** Set by a handler when the client exceeded a quota: the connection stops reading that long. */
  throttleMs: number;
  /**
   * Let the connection start on its next request while this one finishes
   * (responses stay in order). Call once the order-sensitive part is done
   * (Produce: every append handed to storage). Optional to call.
   */
  release(): void;
  /**
   * Run `fn` once the response has been written to the socket (or will never be:
   * the connection closed). For storage buffers the response refers to without a
   * copy (ReadResult.release).
   */
  afterResponse(fn: () => void): void;
  /** Authorization of the resources this request names (audited). */
  readonly access: RequestAccess;
}

export type { AccessDeclaration } from './access-plan.js';

/** Returning null sends no response (Produce with acks=0). */
export type Handler<Req = any, Res = any> = (ctx: RequestContext, request: Req) => Promise<Res | null> | Res | null;

export interface ApiEntry<Req = any, Res = any> {
  apiKey: number;
  /** Versions this gateway really handles (a subset of the codec's stable versions). */
  minVersion: number;
  maxVersion: number;
  rule: AuthorizationRule;
  /**
   * The (action, resource) pairs a request of this API names, and what each
   * denial answers (access-plan.ts). Checked by the dispatcher before `handle`;
   * docs/authorization.md's table is generated from it (npm run gen:authz-docs).
   */
  authz: AccessDeclaration<Req>;
  handle: Handler<Req, Res>;
  /**
   * The response Kafka sends when the whole request fails with one error
   * (its AbstractRequest.getErrorResponse). Without it, an unexpected handler
   * failure closes the connection.
   */
  errorResponse?: (request: Req, errorCode: number) => Res;
  /** Write large record data from storage buffers without copying it into the response frame. */
  zeroCopyResponse?: boolean;
}

/**
 * The rule label and the declared checks cannot drift apart: each rule admits
 * only the pairs it names (a pre-auth API names no resource, a topic-produce
 * API only `produce` on topics, ...).
 */
const RULE_ADMITS: Record<AuthorizationRule, (action: string, on: string) => boolean> = {
  'pre-auth': () => false,
  authenticated: (action, on) => (on === 'namespace' && action === 'produce') || (on === 'cluster' && action === 'admin'),
  'topic-lookup': (action, on) => (action === 'lookup' && (on === 'topic' || on === 'topic-id' || on === 'topic-listing')) || (on === 'cluster' && action === 'admin'),
  'topic-produce': (action, on) => action === 'produce' && on === 'topic',
  'topic-consume': (action, on) => action === 'consume' && (on === 'topic' || on === 'topic-id'),
  // FindCoordinator names groups or transactional ids (lookup); share groups name topics by id
  group: (action, on) =>
    on === 'group' ||
    on === 'group-listing' ||
    (action === 'consume' && (on === 'topic' || on === 'topic-id' || on === 'topic-listing')) ||
    (action === 'lookup' && on === 'transactional-id'),
  'tenant-admin': (action, on) => action === 'admin' && (on === 'tenant-of-topic' || on === 'tenant-of-topic-id' || on === 'group'),
  transaction: (action, on) =>
    ((action === 'produce' || action === 'lookup') && on === 'transactional-id') ||
    (action === 'produce' && on === 'namespace') ||
    (action === 'lookup' && on === 'transactional-id-listing') ||
    (action === 'produce' && on === 'topic') ||
    (action === 'consume' && (on === 'group' || on === 'topic')) ||
    (action === 'admin' && on === 'cluster'),
};

function checkDeclaration(apiKey: number, rule: AuthorizationRule, authz: AccessDeclaration<unknown> | undefined): void {
  if (!authz || typeof authz.needs !== 'function' || !Array.isArray(authz.checks)) {
    throw new Error(`API ${apiKey} registered without declaring the resources its requests name`);
  }
  if (rule !== 'pre-auth' && rule !== 'authenticated' && authz.checks.length === 0) {
    throw new Error(`API ${apiKey}: rule ${rule} but no check declared`);
  }
  for (const c of authz.checks) {
    if (!RULE_ADMITS[rule](c.action, c.on)) throw new Error(`API ${apiKey}: rule ${rule} does not admit ${c.action} on ${c.on}`);
  }
}

export class DispatchTable {
  private readonly entries = new Map<number, ApiEntry>();

  register<Req, Res>(entry: ApiEntry<Req, Res>): void {
    if (!AUTHORIZATION_RULES.includes(entry.rule)) {
      throw new Error(`API ${entry.apiKey} registered without a valid authorization rule`);
    }
    checkDeclaration(entry.apiKey, entry.rule, entry.authz as AccessDeclaration<unknown>);
    if (this.entries.has(entry.apiKey)) throw new Error(`API ${entry.apiKey} registered twice`);
    if (entry.minVersion > entry.maxVersion) throw new Error(`API ${entry.apiKey}: empty version range`);
    this.entries.set(entry.apiKey, entry as ApiEntry);
  }

  /** Every entry, sorted by key (the authorization table of docs/authorization.md, the per-API tests). */
  all(): ApiEntry[] {
    return [...this.entries.values()].sort((a, b) => a.apiKey - b.apiKey);
  }

  get(apiKey: number): ApiEntry | undefined {
    return this.entries.get(apiKey);
  }

  /** What ApiVersions advertises: exactly what is registered, sorted by key. */
  advertised(): Array<{ apiKey: number; minVersion: number; maxVersion: number }> {
    return [...this.entries.values()]
      .sort((a, b) => a.apiKey - b.apiKey)
      .map(({ apiKey, minVersion, maxVersion }) => ({ apiKey, minVersion, maxVersion }));
  }
}
