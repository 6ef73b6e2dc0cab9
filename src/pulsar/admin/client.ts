/**
 * PulsarAdmin (types.ts) over Pulsar's admin REST API (/admin/v2/...).
 * Errors are PulsarAdminError: the HTTP status and Pulsar's `reason`
 * ({"reason": "..."} bodies), status 0 when no answer came (connection
 * failure, timeout). What the broker answers is noted at each method and
 * checked against a real broker in test/unit/pulsar-admin.test.ts.
 */
import { encodeUrlSegment, showName } from '../../topics/names.js';
import { HttpTransport, TransportError, type HttpResponse } from './http.js';
import { parseJson, stringifyJson, toBigInt } from './json.js';
import type {
  AdminEntry,
  InternalStats,
  LedgerInfo,
  NamespacePolicies,
  PulsarAdmin,
  PulsarAdminErrorShape,
  PulsarAdminOptions,
  TenantInfo,
} from './types.js';

export const DEFAULT_ADMIN_TIMEOUT_MS = 30_000;

export class PulsarAdminError extends Error implements PulsarAdminErrorShape {
  override name = 'PulsarAdminError';
  /** Worth retrying later: no answer (connection, timeout) or a 5xx/503. */
  readonly retriable: boolean;
  /** 'Timeout' when the request timed out (the storage engine maps it to REQUEST_TIMED_OUT). */
  readonly serverError?: string;

  constructor(
    readonly status: number,
    readonly reason: string,
    readonly method: string,
    readonly path: string,
    options: { retriable?: boolean; serverError?: string } = {},
  ) {
    super(`Pulsar admin ${method} ${path}: ${status === 0 ? '' : `HTTP ${status} `}${reason}`);
    this.retriable = options.retriable ?? (status === 0 || status >= 500);
    if (options.serverError !== undefined) this.serverError = options.serverError;
  }
}

/** `tenant/ns` -> encoded path segments. */
function nsPath(namespace: string): string {
  const parts = namespace.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new Error(`invalid namespace ${showName(namespace)}: expected tenant/namespace`);
  return `${enc(parts[0])}/${enc(parts[1])}`;
}

/** One URL path segment: percent-encoded, never empty, '.' or '..' (names.ts). */
const enc = (s: string) => encodeUrlSegment(s);

/** `persistent://t/ns/topic` (or `t/ns/topic`, persistent) -> `persistent/t/ns/topic`, each segment encoded. */
export function topicPath(topic: string): string {
  let domain = 'persistent';
  let rest = topic;
  const m = /^(persistent|non-persistent):\/\/(.*)$/.exec(topic);
  if (m) {
    domain = m[1]!;
    rest = m[2]!;
  } else if (topic.includes('://')) {
    throw new Error(`invalid topic '${topic}': expected persistent://tenant/namespace/topic`);
  }
  const parts = rest.split('/');
  if (parts.length !== 3 || parts.some((p) => p.length === 0)) throw new Error(`invalid topic ${showName(topic)}: expected persistent://tenant/namespace/topic`);
  return `${domain}/${parts.map(enc).join('/')}`;
}

function position(v: unknown): { ledgerId: bigint; entryId: bigint } {
  if (typeof v === 'string') {
    const m = /^(-?\d+):(-?\d+)$/.exec(v.trim());
    if (m) return { ledgerId: BigInt(m[1]!), entryId: BigInt(m[2]!) };
  }
  return { ledgerId: -1n, entryId: -1n };
}

function stringArray(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

function stringMap(v: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = typeof x === 'string' ? x : String(x);
  }
  return out;
}

function grantMap(v: unknown): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  if (v && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = stringArray(x);
  }
  return out;
}

/** Millis from a header that is either a number or an ISO date (Pulsar 3.0 writes ISO dates). */
function timeHeader(v: string | undefined): bigint | undefined {
  if (v === undefined || v === '') return undefined;
  if (/^-?\d+$/.test(v)) return BigInt(v);
  const t = Date.parse(v);
  return Number.isFinite(t) ? BigInt(t) : undefined;
}

export class PulsarAdminClient implements PulsarAdmin {
  private readonly http: HttpTransport;
  private readonly token: (() => string | Promise<string>) | undefined;
  private readonly originalPrincipal: string | undefined;
  readonly timeoutMs: number;
  /** Told of every request: method, result (ok: 2xx, rejected: other HTTP status, failed: no answer) and seconds (metrics). */
  observer: ((method: string, result: 'ok' | 'rejected' | 'failed', seconds: number) => void) | null = null;

  constructor(options: PulsarAdminOptions) {
    this.timeoutMs = options.timeoutMs ?? DEFAULT_ADMIN_TIMEOUT_MS;
    this.http = new HttpTransport(options.webServiceUrl, { ca: options.ca, rejectUnauthorized: options.rejectUnauthorized, timeoutMs: this.timeoutMs });
    this.token = options.token;
    this.originalPrincipal = options.originalPrincipal;
  }

  /** Release keep-alive sockets. */
  close(): void {
    this.http.close();
  }

  // --- plumbing ---

  /** One call; non-2xx -> PulsarAdminError. `body` is JSON-encoded (bigints as numbers). */
  async call(method: string, path: string, body?: unknown, timeoutMs?: number): Promise<HttpResponse> {
    const headers: Record<string, string> = {};
    if (this.token) {
      let t: string;
      try {
        t = (await this.token()).trim();
      } catch (e) {
        throw new PulsarAdminError(0, `cannot read the admin token: ${(e as Error).message}`, method, path, { retriable: false });
      }
      if (t) headers.Authorization = `Bearer ${t}`;
    }
    if (this.originalPrincipal) headers['X-Original-Principal'] = this.originalPrincipal;
    let res: HttpResponse;
    const started = performance.now();
    try {
      res = await this.http.request(method, path, headers, body === undefined ? undefined : stringifyJson(body), timeoutMs);
      this.observer?.(method, res.status >= 200 && res.status < 300 ? 'ok' : 'rejected', (performance.now() - started) / 1000);
    } catch (e) {
      this.observer?.(method, 'failed', (performance.now() - started) / 1000);
      if (e instanceof TransportError) {
        throw new PulsarAdminError(0, e.kind === 'timeout' ? `timed out: ${e.message}` : `request failed: ${e.message}`, method, path, {
          retriable: e.kind !== 'other',
          ...(e.kind === 'timeout' ? { serverError: 'Timeout' } : {}),
        });
      }
      throw e;
    }
    if (res.status < 200 || res.status >= 300) throw new PulsarAdminError(res.status, reasonOf(res), method, path);
    return res;
  }

  private async json(method: string, path: string, body?: unknown): Promise<unknown> {
    const res = await this.call(method, path, body);
    const text = res.body.toString('utf8');
    if (text.trim() === '') return null;
    try {
      return parseJson(text);
    } catch {
      throw new PulsarAdminError(res.status, `invalid JSON in the answer: ${text.slice(0, 200)}`, method, path, { retriable: false });
    }
  }

  /** GET that answers null on 404. */
  private async getOrNull(path: string): Promise<unknown> {
    try {
      return await this.json('GET', path);
    } catch (e) {
      if (e instanceof PulsarAdminError && e.status === 404) return null;
      throw e;
    }
  }

  private async send(method: string, path: string, body?: unknown): Promise<void> {
    await this.call(method, path, body);
  }

  // --- clusters / brokers ---

  async listClusters(): Promise<string[]> {
    return stringArray(await this.json('GET', '/admin/v2/clusters'));
  }

  async brokerRuntimeConfig(): Promise<Record<string, string>> {
    return stringMap(await this.json('GET', '/admin/v2/brokers/configuration/runtime'));
  }

  // --- tenants ---

  async listTenants(): Promise<string[]> {
    return stringArray(await this.json('GET', '/admin/v2/tenants'));
  }

  async getTenant(tenant: string): Promise<TenantInfo | null> {
    const v = (await this.getOrNull(`/admin/v2/tenants/${enc(tenant)}`)) as Record<string, unknown> | null;
    if (v === null) return null;
    return { adminRoles: stringArray(v.adminRoles), allowedClusters: stringArray(v.allowedClusters) };
  }

  async createTenant(tenant: string, info: TenantInfo): Promise<void> {
    await this.send('PUT', `/admin/v2/tenants/${enc(tenant)}`, { adminRoles: info.adminRoles, allowedClusters: info.allowedClusters });
  }

  /** Replace a tenant's admin roles and clusters (POST /admin/v2/tenants/{t}). */
  async updateTenant(tenant: string, info: TenantInfo): Promise<void> {
    await this.send('POST', `/admin/v2/tenants/${enc(tenant)}`, { adminRoles: info.adminRoles, allowedClusters: info.allowedClusters });
  }

  /** Delete a tenant (it must have no namespaces unless force). */
  async deleteTenant(tenant: string, force = false): Promise<void> {
    await this.send('DELETE', `/admin/v2/tenants/${enc(tenant)}${force ? '?force=true' : ''}`);
  }

  // --- namespaces ---

  async listNamespaces(tenant: string): Promise<string[]> {
    return stringArray(await this.json('GET', `/admin/v2/namespaces/${enc(tenant)}`));
  }

  async getNamespacePolicies(namespace: string): Promise<NamespacePolicies | null> {
    const v = (await this.getOrNull(`/admin/v2/namespaces/${nsPath(namespace)}`)) as Record<string, unknown> | null;
    if (v === null) return null;
    const auth = (v.auth_policies ?? {}) as Record<string, unknown>;
    const destinationAuth: Record<string, Record<string, string[]>> = {};
    const da = auth.destination_auth;
    if (da && typeof da === 'object') {
      for (const [topic, grants] of Object.entries(da as Record<string, unknown>)) destinationAuth[topic] = grantMap(grants);
    }
    const subscriptionAuthRoles: Record<string, string[]> = grantMap(auth.subscription_auth_roles);
    return {
      authPolicies: { namespaceAuth: grantMap(auth.namespace_auth), destinationAuth, subscriptionAuthRoles },
      subscriptionAuthMode: typeof v.subscription_auth_mode === 'string' ? v.subscription_auth_mode : 'None',
    };
  }

  async createNamespace(namespace: string, ifNotExists = false): Promise<void> {
    try {
      await this.send('PUT', `/admin/v2/namespaces/${nsPath(namespace)}`);
    } catch (e) {
      if (ifNotExists && e instanceof PulsarAdminError && e.status === 409) return;
      throw e;
    }
  }

  /** Delete a namespace (it must be empty unless force). */
  async deleteNamespace(namespace: string, force = false): Promise<void> {
    await this.send('DELETE', `/admin/v2/namespaces/${nsPath(namespace)}${force ? '?force=true' : ''}`);
  }

  async grantNamespacePermission(namespace: string, role: string, actions: string[]): Promise<void> {
    await this.send('POST', `/admin/v2/namespaces/${nsPath(namespace)}/permissions/${enc(role)}`, actions);
  }

  async revokeNamespacePermission(namespace: string, role: string): Promise<void> {
    await this.send('DELETE', `/admin/v2/namespaces/${nsPath(namespace)}/permissions/${enc(role)}`);
  }

  async grantTopicPermission(topic: string, role: string, actions: string[]): Promise<void> {
    await this.send('POST', `/admin/v2/${topicPath(topic)}/permissions/${enc(role)}`, actions);
  }

  async revokeTopicPermission(topic: string, role: string): Promise<void> {
    await this.send('DELETE', `/admin/v2/${topicPath(topic)}/permissions/${enc(role)}`);
  }

  /** Replaces the subscription's role list (Pulsar: grantPermissionOnSubscription). */
  async setSubscriptionAuthRoles(namespace: string, subscription: string, roles: string[]): Promise<void> {
    await this.send('POST', `/admin/v2/namespaces/${nsPath(namespace)}/permissions/subscription/${enc(subscription)}`, roles);
  }

  /** Remove one role from a subscription's role list (Pulsar: revokePermissionOnSubscription). */
  async revokeSubscriptionAuthRole(namespace: string, subscription: string, role: string): Promise<void> {
    await this.send('DELETE', `/admin/v2/namespaces/${nsPath(namespace)}/permissions/${enc(subscription)}/${enc(role)}`);
  }

  /** 'None' | 'Prefix'. */
  async setSubscriptionAuthMode(namespace: string, mode: string): Promise<void> {
    await this.send('POST', `/admin/v2/namespaces/${nsPath(namespace)}/subscriptionAuthMode`, mode);
  }

  async setCompactionThreshold(namespace: string, bytes: number): Promise<void> {
    // PUT (a POST is 405 Method Not Allowed on Pulsar 3.0.7)
    await this.send('PUT', `/admin/v2/namespaces/${nsPath(namespace)}/compactionThreshold`, bytes);
  }

  async setRetention(namespace: string, retentionTimeInMinutes: number, retentionSizeInMB: number): Promise<void> {
    await this.send('POST', `/admin/v2/namespaces/${nsPath(namespace)}/retention`, { retentionTimeInMinutes, retentionSizeInMB });
  }

  // --- topic policies (topicLevelPoliciesEnabled, Pulsar's default) ---

  async setTopicRetention(topic: string, retentionTimeInMinutes: number, retentionSizeInMB: number): Promise<void> {
    await this.send('POST', `/admin/v2/${topicPath(topic)}/retention`, { retentionTimeInMinutes, retentionSizeInMB });
  }

  async removeTopicRetention(topic: string): Promise<void> {
    await this.send('DELETE', `/admin/v2/${topicPath(topic)}/retention`);
  }

  async getTopicRetention(topic: string, applied = false): Promise<{ retentionTimeInMinutes: number; retentionSizeInMB: number } | null> {
    const v = (await this.getOrNull(`/admin/v2/${topicPath(topic)}/retention${applied ? '?applied=true' : ''}`)) as Record<string, unknown> | null;
    if (v === null || typeof v !== 'object' || typeof v.retentionTimeInMinutes !== 'number') return null;
    return { retentionTimeInMinutes: v.retentionTimeInMinutes, retentionSizeInMB: Number(v.retentionSizeInMB) };
  }

  // --- topics ---

  async listPartitionedTopics(namespace: string): Promise<string[]> {
    return stringArray(await this.json('GET', `/admin/v2/persistent/${nsPath(namespace)}/partitioned`));
  }

  async listTopics(namespace: string): Promise<string[]> {
    return stringArray(await this.json('GET', `/admin/v2/persistent/${nsPath(namespace)}`));
  }

  async getPartitionedMetadata(topic: string): Promise<number> {
    const v = (await this.getOrNull(`/admin/v2/${topicPath(topic)}/partitions`)) as Record<string, unknown> | null;
    const n = v?.partitions;
    return typeof n === 'number' && n > 0 ? n : 0;
  }

  async createPartitionedTopic(topic: string, partitions: number, properties?: Record<string, string>): Promise<void> {
    // Pulsar 3.0.7's PUT .../partitions takes a bare count only ({partitions, properties}
    // is a 400 "Cannot deserialize value of type `int`"); properties go in a second call
    // (PUT .../properties, Pulsar 2.11+), which GET .../partitions then reports too.
    await this.send('PUT', `/admin/v2/${topicPath(topic)}/partitions`, partitions);
    if (properties && Object.keys(properties).length > 0) await this.send('PUT', `/admin/v2/${topicPath(topic)}/properties`, properties);
  }

  async createNonPartitionedTopic(topic: string): Promise<void> {
    await this.send('PUT', `/admin/v2/${topicPath(topic)}`);
  }

  async updatePartitionedTopic(topic: string, partitions: number): Promise<void> {
    await this.send('POST', `/admin/v2/${topicPath(topic)}/partitions`, partitions);
  }

  async deletePartitionedTopic(topic: string, force = false): Promise<void> {
    await this.send('DELETE', `/admin/v2/${topicPath(topic)}/partitions${force ? '?force=true' : ''}`);
  }

  async deleteTopic(topic: string, force = false): Promise<void> {
    await this.send('DELETE', `/admin/v2/${topicPath(topic)}${force ? '?force=true' : ''}`);
  }

  /** Add or replace topic properties (PUT .../properties, Pulsar 2.11+). */
  async updateTopicProperties(topic: string, properties: Record<string, string>): Promise<void> {
    await this.send('PUT', `/admin/v2/${topicPath(topic)}/properties`, properties);
  }

  async getTopicProperties(topic: string): Promise<Record<string, string>> {
    return stringMap(await this.json('GET', `/admin/v2/${topicPath(topic)}/properties`));
  }

  async internalStats(topic: string): Promise<InternalStats> {
    const v = ((await this.json('GET', `/admin/v2/${topicPath(topic)}/internalStats`)) ?? {}) as Record<string, unknown>;
    const lastConfirmedEntry = position(v.lastConfirmedEntry);
    const ledgers: LedgerInfo[] = (Array.isArray(v.ledgers) ? v.ledgers : []).map((l: Record<string, unknown>) => ({
      ledgerId: toBigInt(l.ledgerId, -1n),
      entries: toBigInt(l.entries, 0n),
    }));
    // The ledger being written is listed with entries 0 (its count is only
    // recorded when it closes): count it up to lastConfirmedEntry.
    const last = ledgers[ledgers.length - 1];
    if (last && lastConfirmedEntry.ledgerId === last.ledgerId && lastConfirmedEntry.entryId + 1n > last.entries) {
      last.entries = lastConfirmedEntry.entryId + 1n;
    }
    const cursors: InternalStats['cursors'] = {};
    if (v.cursors && typeof v.cursors === 'object') {
      for (const [name, c] of Object.entries(v.cursors as Record<string, Record<string, unknown>>)) {
        cursors[name] = { markDeletePosition: position(c?.markDeletePosition) };
      }
    }
    return { ledgers, lastConfirmedEntry, cursors };
  }

  async getEntry(topic: string, ledgerId: bigint, entryId: bigint): Promise<AdminEntry | null> {
    let res: HttpResponse;
    try {
      res = await this.call('GET', `/admin/v2/${topicPath(topic)}/ledger/${ledgerId}/entry/${entryId}`);
    } catch (e) {
      // 404 "Message id not found" (also "Topic ... not found"); 412 when the ledger is gone/unreadable
      if (e instanceof PulsarAdminError && (e.status === 404 || e.status === 412)) return null;
      throw e;
    }
    return parseEntryResponse(res);
  }

  async resetCursor(topic: string, subscription: string, ledgerId: bigint, entryId: bigint): Promise<void> {
    await this.send('POST', `/admin/v2/${topicPath(topic)}/subscription/${enc(subscription)}/resetcursor`, {
      ledgerId,
      entryId,
      partitionIndex: -1,
      batchIndex: -1,
      isExcluded: false,
    });
  }

  async createSubscription(topic: string, subscription: string, ledgerId: bigint, entryId: bigint): Promise<void> {
    await this.send('PUT', `/admin/v2/${topicPath(topic)}/subscription/${enc(subscription)}`, { ledgerId, entryId, partitionIndex: -1 });
  }

  async deleteSubscription(topic: string, subscription: string, force = false): Promise<void> {
    await this.send('DELETE', `/admin/v2/${topicPath(topic)}/subscription/${enc(subscription)}${force ? '?force=true' : ''}`);
  }

  async listSubscriptions(topic: string): Promise<string[]> {
    return stringArray(await this.json('GET', `/admin/v2/${topicPath(topic)}/subscriptions`));
  }
}

/** Pulsar's error text: {"reason": "..."}, else the status line, else the body. */
function reasonOf(res: HttpResponse): string {
  const text = res.body.toString('utf8');
  try {
    const v = JSON.parse(text) as { reason?: unknown; message?: unknown };
    if (typeof v?.reason === 'string' && v.reason) return v.reason;
    if (typeof v?.message === 'string' && v.message) return v.message;
  } catch {
    // not JSON
  }
  if (res.statusText) return res.statusText;
  return text.slice(0, 300) || `HTTP ${res.status}`;
}

/**
 * The entry endpoint's answer: the payload as the body, the metadata as
 * headers (Pulsar 3.0.7): X-Pulsar-Message-ID "l:e", X-Pulsar-PROPERTY-<key>,
 * X-Pulsar-Broker-Entry-METADATA-index / -timestamp (ISO date),
 * X-Pulsar-publish-time (ISO date), X-Pulsar-event-time, X-Pulsar-producer-name,
 * X-Pulsar-sequence-id, X-Pulsar-partition-key, X-Pulsar-compression,
 * X-Pulsar-uncompressed-size, X-Pulsar-num-batch-message (batches only), ...
 */
export function parseEntryResponse(res: HttpResponse): AdminEntry {
  const props: Record<string, string> = {};
  const h = new Map<string, string>();
  const PROP = 'x-pulsar-property-';
  for (const [name, value] of res.rawHeaders) {
    const lower = name.toLowerCase();
    if (lower.startsWith(PROP)) props[name.slice(PROP.length)] = value;
    else if (!h.has(lower)) h.set(lower, value);
  }
  const entry: AdminEntry = { numMessages: 1, payload: res.body, properties: props };
  const index = h.get('x-pulsar-broker-entry-metadata-index');
  if (index !== undefined && /^-?\d+$/.test(index)) entry.index = BigInt(index);
  const bts = timeHeader(h.get('x-pulsar-broker-entry-metadata-timestamp'));
  if (bts !== undefined) entry.brokerTimestamp = bts;
  const pt = timeHeader(h.get('x-pulsar-publish-time'));
  if (pt !== undefined) entry.publishTime = pt;
  const n = Number(h.get('x-pulsar-num-batch-message'));
  if (Number.isInteger(n) && n > 0) entry.numMessages = n;
  return entry;
}
