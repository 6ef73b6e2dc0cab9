/**
 * The contract of the gateway's Pulsar admin REST client (src/pulsar/admin/),
 * used by the Pulsar storage engine (topics, entry lookups), the Pulsar policy
 * source (tenants, namespace permissions) and the tests. Topic arguments are
 * full names (`persistent://t/ns/topic`); namespaces are `tenant/ns`.
 */

export interface PulsarAdminOptions {
  /** http(s)://host:port of a broker's web service. */
  webServiceUrl: string;
  /** Bearer token, read on every request (a refreshed token file is picked up). */
  token?: () => string | Promise<string>;
  /** PEM CAs trusted for https. */
  ca?: string | Buffer;
  rejectUnauthorized?: boolean;
  /** Per request. Default 30000. */
  timeoutMs?: number;
  /** Sent as X-Original-Principal (the token is a proxy role's: Pulsar requires an original principal then). */
  originalPrincipal?: string;
}

/**
 * A failed admin call: HTTP status and Pulsar's `reason` text.
 * 404 not found, 409 conflict (already exists), 401/403 auth, 412 precondition, 5xx server.
 */
export interface PulsarAdminErrorShape extends Error {
  readonly status: number;
  readonly reason: string;
}

export interface TenantInfo {
  adminRoles: string[];
  allowedClusters: string[];
}

/** The parts of Pulsar's namespace Policies the gateway reads. */
export interface NamespaceAuthPolicies {
  /** role -> actions (namespace_auth) */
  namespaceAuth: Record<string, string[]>;
  /** full topic name -> role -> actions (destination_auth) */
  destinationAuth: Record<string, Record<string, string[]>>;
  /** subscription -> roles (subscription_auth_roles) */
  subscriptionAuthRoles: Record<string, string[]>;
}

export interface NamespacePolicies {
  authPolicies: NamespaceAuthPolicies;
  /** 'None' | 'Prefix' */
  subscriptionAuthMode: string;
}

export interface LedgerInfo {
  ledgerId: bigint;
  /** Entries in the ledger; for the ledger being written, the current count. */
  entries: bigint;
}

/** From internalStats: the ledgers holding the topic's data, oldest first. */
export interface InternalStats {
  ledgers: LedgerInfo[];
  /** Position of the last confirmed entry ("ledgerId:entryId"), parsed. entryId -1n: none. */
  lastConfirmedEntry: { ledgerId: bigint; entryId: bigint };
  /** Cursor name -> mark-delete position. */
  cursors: Record<string, { markDeletePosition: { ledgerId: bigint; entryId: bigint } }>;
}

/** One stored entry read through the admin API (GET .../ledger/{l}/entry/{e}). */
export interface AdminEntry {
  /** X-Pulsar-Broker-Entry-METADATA-index when the broker records it. */
  index?: bigint;
  brokerTimestamp?: bigint;
  publishTime?: bigint;
  /** Number of messages in the entry (X-Pulsar-num-batch-message, 1 when absent). */
  numMessages: number;
  /** Raw payload as the REST endpoint returns it. */
  payload: Buffer;
  properties: Record<string, string>;
}

export interface PulsarAdmin {
  /** Release the HTTP connections (keep-alive sockets). */
  close(): void;
  // --- clusters / brokers ---
  listClusters(): Promise<string[]>;
  /** Runtime broker configuration (GET /admin/v2/brokers/configuration/runtime), superuser only. */
  brokerRuntimeConfig(): Promise<Record<string, string>>;

  // --- tenants ---
  listTenants(): Promise<string[]>;
  /** null when the tenant does not exist. */
  getTenant(tenant: string): Promise<TenantInfo | null>;
  createTenant(tenant: string, info: TenantInfo): Promise<void>;
  /** Replace a tenant's admin roles and allowed clusters. */
  updateTenant(tenant: string, info: TenantInfo): Promise<void>;
  /** The tenant must have no namespaces unless force. */
  deleteTenant(tenant: string, force?: boolean): Promise<void>;

  // --- namespaces ---
  listNamespaces(tenant: string): Promise<string[]>;
  /** null when the namespace does not exist. */
  getNamespacePolicies(namespace: string): Promise<NamespacePolicies | null>;
  /** No error when it exists already (409 ignored) if ifNotExists. */
  createNamespace(namespace: string, ifNotExists?: boolean): Promise<void>;
  /** The namespace must be empty unless force. */
  deleteNamespace(namespace: string, force?: boolean): Promise<void>;
  grantNamespacePermission(namespace: string, role: string, actions: string[]): Promise<void>;
  revokeNamespacePermission(namespace: string, role: string): Promise<void>;
  grantTopicPermission(topic: string, role: string, actions: string[]): Promise<void>;
  revokeTopicPermission(topic: string, role: string): Promise<void>;
  /** Replaces the subscription's role list. */
  setSubscriptionAuthRoles(namespace: string, subscription: string, roles: string[]): Promise<void>;
  /** Remove one role from a subscription's role list. */
  revokeSubscriptionAuthRole(namespace: string, subscription: string, role: string): Promise<void>;
  /** 'None' | 'Prefix' */
  setSubscriptionAuthMode(namespace: string, mode: string): Promise<void>;
  /** Namespace compaction threshold in bytes (0 disables). */
  setCompactionThreshold(namespace: string, bytes: number): Promise<void>;
  /** Namespace retention (-1: infinite). */
  setRetention(namespace: string, retentionTimeInMinutes: number, retentionSizeInMB: number): Promise<void>;

  // --- topic policies (need the broker's topicLevelPoliciesEnabled, on by default) ---
  /** Topic-level retention of a (partitioned) topic (-1: infinite). */
  setTopicRetention(topic: string, retentionTimeInMinutes: number, retentionSizeInMB: number): Promise<void>;
  /** Drop the topic-level retention: the namespace's (or broker's) applies again. */
  removeTopicRetention(topic: string): Promise<void>;
  /** The topic-level retention, or with `applied` the one in force; null when none is set. */
  getTopicRetention(topic: string, applied?: boolean): Promise<{ retentionTimeInMinutes: number; retentionSizeInMB: number } | null>;

  // --- topics ---
  /** Partitioned topics of a namespace (full names, without -partition-N). */
  listPartitionedTopics(namespace: string): Promise<string[]>;
  /** Non-partitioned topics and individual partitions of a namespace (full names). */
  listTopics(namespace: string): Promise<string[]>;
  /** Partition count; 0 for a non-partitioned or a missing topic. */
  getPartitionedMetadata(topic: string): Promise<number>;
  /** 409 (conflict) when it exists. properties: the topic's properties (Pulsar 2.11+). */
  createPartitionedTopic(topic: string, partitions: number, properties?: Record<string, string>): Promise<void>;
  createNonPartitionedTopic(topic: string): Promise<void>;
  /** Grow to `partitions` (never shrinks). */
  updatePartitionedTopic(topic: string, partitions: number): Promise<void>;
  deletePartitionedTopic(topic: string, force?: boolean): Promise<void>;
  deleteTopic(topic: string, force?: boolean): Promise<void>;
  /** Add or replace topic properties (PUT .../properties). */
  updateTopicProperties(topic: string, properties: Record<string, string>): Promise<void>;
  /** Partitioned-topic properties (GET .../properties); {} when none. */
  getTopicProperties(topic: string): Promise<Record<string, string>>;
  /** internalStats of one partition (or a non-partitioned topic). */
  internalStats(topic: string): Promise<InternalStats>;
  /**
   * One entry by position (GET .../ledger/{ledgerId}/entry/{entryId}); null when it does not exist
   * (any more), or the topic does not. Pulsar 3.0.7 never answers for a position past the last
   * confirmed entry of the ledger being written (the call ends in the timeout): stay within
   * internalStats' lastConfirmedEntry.
   */
  getEntry(topic: string, ledgerId: bigint, entryId: bigint): Promise<AdminEntry | null>;
  /** Move a subscription's cursor (POST .../subscription/{sub}/resetcursor with a message id); creates nothing. */
  resetCursor(topic: string, subscription: string, ledgerId: bigint, entryId: bigint): Promise<void>;
  /** Create a durable subscription at a position (PUT .../subscription/{sub}); 409 when it exists. */
  createSubscription(topic: string, subscription: string, ledgerId: bigint, entryId: bigint): Promise<void>;
  deleteSubscription(topic: string, subscription: string, force?: boolean): Promise<void>;
  /** Subscription names of a topic (partition). */
  listSubscriptions(topic: string): Promise<string[]>;
}
