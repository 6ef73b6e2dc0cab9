/**
 * Names are data, never paths: the one module that knows what a tenant,
 * namespace and topic name may be, how a Kafka topic name maps to a Pulsar-style
 * name, and how a name is turned into a file-name or URL path segment.
 * Everything below the request handlers speaks resolved names. The rules and
 * their sources are in docs/names.md.
 *
 *   "orders"                            + default public/default -> persistent://public/default/orders
 *   "persistent://acme/sales/orders"    -> as is
 *   partition 3 of it (Pulsar naming)   -> persistent://acme/sales/orders-partition-3
 *
 * Rules (validated where a name enters: every request, SASL usernames and
 * extensions, configuration, policy files, CLI arguments):
 *   tenant, namespace  Pulsar's NamedEntity.checkName: 1+ of [-=:.a-zA-Z0-9_];
 *                      never '.' or '..' (path segments, not names); at most 249.
 *   topic (local part) Kafka's Topic.validate: 1..249 of [a-zA-Z0-9._-], not '.'
 *                      or '..'; never '-partition-' (Pulsar's partition suffix);
 *                      never a Pulsar system topic (SystemTopicNames).
 *   reserved           the namespace pulsar/system (Pulsar's SYSTEM_NAMESPACE).
 *
 * A Kafka client gets back the name it used: a short name when the topic lives
 * in the session's default namespace, the full name otherwise.
 */
import { ErrorCode, KafkaError } from '../protocol/errors.js';

export const PERSISTENT = 'persistent://';
const PARTITION_SUFFIX = '-partition-';
/** Kafka's Topic.LEGAL_CHARS: the local part of a topic name. */
const KAFKA_TOPIC_CHARS = /^[a-zA-Z0-9._-]+$/;
/** Pulsar's NamedEntity.NAMED_ENTITY_PATTERN (`^[-=:.\w]*$`, Java's ASCII \w), non-empty: tenants and namespaces. */
const PULSAR_NAME_CHARS = /^[-=:.a-zA-Z0-9_]+$/;
/**
 * Longest tenant, namespace or topic (local part): Kafka's Topic.MAX_NAME_LENGTH.
 * Pulsar sets no bound; this one keeps every name a single file name (255 bytes)
 * with room for a suffix, and is what Kafka clients already live with.
 */
export const MAX_NAME_LENGTH = 249;
/** Pulsar's system namespace (NamespaceName.SYSTEM_NAMESPACE): never a Kafka client's. */
export const SYSTEM_NAMESPACE: NamespaceRef = { tenant: 'pulsar', namespace: 'system' };
/** Pulsar's system topics (SystemTopicNames): topic policies, transaction state. */
const PULSAR_SYSTEM_TOPICS = new Set(['__change_events', '__transaction_buffer_snapshot']);
const PULSAR_SYSTEM_SUFFIX = '__transaction_pending_ack';

export interface NamespaceRef {
  tenant: string;
  namespace: string;
}

export interface TopicName {
  tenant: string;
  namespace: string;
  /** The local topic name, without the partition suffix. */
  local: string;
  /** `persistent://tenant/namespace/local` */
  full: string;
}

export type NameKind = 'tenant' | 'namespace' | 'topic';

/** Printable, bounded rendering of a name for error messages and logs (never the raw bytes). */
export function showName(value: string): string {
  const cut = value.length > 60 ? `${value.slice(0, 60)}...(${value.length} characters)` : value;
  return JSON.stringify(cut).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Why `value` is not a legal name of this kind, or null when it is. The single
 * definition of the rules; every entry point calls it (directly or through the
 * parsers below).
 */
export function nameProblem(kind: NameKind, value: string): string | null {
  if (typeof value !== 'string' || value.length === 0) return `${kind} name is empty`;
  if (value === '.' || value === '..') return `${kind} name cannot be '.' or '..'`;
  if (value.length > MAX_NAME_LENGTH) return `${kind} name is ${value.length} characters long; the limit is ${MAX_NAME_LENGTH}`;
  if (kind === 'topic') {
    if (!KAFKA_TOPIC_CHARS.test(value)) return `topic name contains characters other than ASCII alphanumerics, '.', '_' and '-'`;
    if (value.includes(PARTITION_SUFFIX)) return `topic name must not contain '${PARTITION_SUFFIX}' (Pulsar's partition suffix)`;
    if (PULSAR_SYSTEM_TOPICS.has(value) || value.endsWith(PULSAR_SYSTEM_SUFFIX)) return `topic name is reserved for Pulsar's system topics`;
    return null;
  }
  if (!PULSAR_NAME_CHARS.test(value)) return `${kind} name contains characters other than ASCII alphanumerics, '-', '=', ':', '.' and '_'`;
  return null;
}

/** Throws an Error naming the problem (configuration, CLI arguments). */
export function checkNameOrThrow(kind: NameKind, value: string): void {
  const problem = nameProblem(kind, value);
  if (problem) throw new Error(`invalid ${kind} name ${showName(value)}: ${problem}`);
}

export function isLegalName(kind: NameKind, value: string): boolean {
  return nameProblem(kind, value) === null;
}

function namespaceProblem(tenant: string, namespace: string): string | null {
  const p = nameProblem('tenant', tenant) ?? nameProblem('namespace', namespace);
  if (p) return p;
  if (tenant === SYSTEM_NAMESPACE.tenant && namespace === SYSTEM_NAMESPACE.namespace) return `namespace ${tenant}/${namespace} is reserved for Pulsar's system topics`;
  return null;
}

/** A name that breaks the rules; `problem` says which rule, without the name's context. */
export class NameError extends Error {
  override name = 'NameError';
  constructor(
    readonly value: string,
    readonly problem: string,
  ) {
    super(`invalid namespace ${showName(value)}: ${problem}`);
  }
}

/** Validate a tenant/namespace pair (a SASL username, an extension, configuration). Throws NameError. */
export function parseNamespace(value: string): NamespaceRef {
  const parts = String(value).split('/');
  if (parts.length !== 2) throw new NameError(String(value), 'expected tenant/namespace');
  const [tenant, namespace] = parts as [string, string];
  const problem = namespaceProblem(tenant, namespace);
  if (problem) throw new NameError(value, problem);
  return { tenant, namespace };
}

function invalidTopic(raw: string, problem: string): KafkaError {
  return new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name ${showName(raw)}: ${problem}`);
}

/** Resolve a Kafka topic name against the session's default namespace. Throws INVALID_TOPIC_EXCEPTION. */
export function resolveTopic(kafkaName: string, defaults: NamespaceRef): TopicName {
  if (typeof kafkaName !== 'string') throw invalidTopic(String(kafkaName), 'not a string');
  if (kafkaName.startsWith(PERSISTENT)) {
    const parts = kafkaName.slice(PERSISTENT.length).split('/');
    if (parts.length !== 3) throw invalidTopic(kafkaName, 'expected persistent://tenant/namespace/topic');
    const [tenant, namespace, local] = parts as [string, string, string];
    const problem = namespaceProblem(tenant, namespace) ?? nameProblem('topic', local);
    if (problem) throw invalidTopic(kafkaName, problem);
    return { tenant, namespace, local, full: kafkaName };
  }
  const problem = nameProblem('topic', kafkaName);
  if (problem) throw invalidTopic(kafkaName, problem);
  const { tenant, namespace } = defaults;
  // The defaults were validated where they entered (configuration, SASL); checked again: a name is never built from an unchecked part.
  const nsProblem = namespaceProblem(tenant, namespace);
  if (nsProblem) throw invalidTopic(kafkaName, `session namespace: ${nsProblem}`);
  return { tenant, namespace, local: kafkaName, full: `${PERSISTENT}${tenant}/${namespace}/${kafkaName}` };
}

/** A full name's parts when it is legal, else null (names listed from Pulsar that Kafka clients cannot address). */
export function tryParseFullName(full: string): TopicName | null {
  try {
    return parseFullName(full);
  } catch {
    return null;
  }
}

/** Parse an already-resolved full name (same rules). Throws INVALID_TOPIC_EXCEPTION. */
export function parseFullName(full: string): TopicName {
  if (typeof full !== 'string' || !full.startsWith(PERSISTENT)) throw invalidTopic(String(full), 'not a full topic name (persistent://tenant/namespace/topic)');
  return resolveTopic(full, SYSTEM_NAMESPACE);
}

/** The name to show a Kafka client: short when in its default namespace. */
export function kafkaNameFor(full: string, defaults: NamespaceRef): string {
  const prefix = `${PERSISTENT}${defaults.tenant}/${defaults.namespace}/`;
  return full.startsWith(prefix) ? full.slice(prefix.length) : full;
}

/** Pulsar's name for one partition of a partitioned topic. */
export function partitionName(full: string, partition: number): string {
  return `${full}${PARTITION_SUFFIX}${partition}`;
}

/** Kafka's internal topics: never produced to by clients. */
export const INTERNAL_TOPICS = new Set(['__consumer_offsets', '__transaction_state']);

export function isInternalTopic(name: TopicName): boolean {
  return INTERNAL_TOPICS.has(name.local) || name.local.startsWith('__kafka');
}

// ---------------------------------------------------------------- names as path segments

/** Characters a file-name segment keeps as they are (the layout of every name legal before encoding existed). */
const FS_PLAIN = /^[a-zA-Z0-9._-]+$/;
/** Longest file name on common file systems (bytes). */
const MAX_FS_SEGMENT = 255;

/**
 * A name as ONE file-name segment, whatever the name: names of [a-zA-Z0-9._-]
 * other than '.' and '..' are kept as they are (existing data directories keep
 * their layout); anything else is percent-encoded byte by byte (UTF-8), '%'
 * included, so '.', '..', '/', '\0' and separators can never reach a path.
 * Reversible (decodeFsSegment). Throws for the empty name or an encoding
 * longer than a file name may be: the caller fails closed.
 */
export function encodeFsSegment(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new Error('an empty name cannot be a path segment');
  let out: string;
  if (name === '.') out = '%2E';
  else if (name === '..') out = '%2E%2E';
  else if (FS_PLAIN.test(name)) out = name;
  else {
    out = '';
    for (const b of Buffer.from(name, 'utf8')) {
      const c = String.fromCharCode(b);
      out += b < 0x80 && /[a-zA-Z0-9._-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  if (Buffer.byteLength(out) > MAX_FS_SEGMENT) throw new Error(`name ${showName(name)} is too long for a file name`);
  return out;
}

/** The name a file-name segment encodes, or null when the segment is not one encodeFsSegment produces. */
export function decodeFsSegment(segment: string): string | null {
  if (segment === '.' || segment === '..' || segment.length === 0) return null;
  if (FS_PLAIN.test(segment)) return segment;
  if (!/^(?:[a-zA-Z0-9._-]|%[0-9A-F]{2})+$/.test(segment)) return null;
  let name: string;
  try {
    const bytes = Buffer.from(segment.replace(/%([0-9A-F]{2})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16))), 'latin1');
    name = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
  return encodeFsSegment(name) === segment ? name : null;
}

/**
 * A name as ONE URL path segment (Pulsar's admin REST API): percent-encoded
 * (encodeURIComponent), and refused when empty, '.' or '..' (which a URL path
 * resolves as a step to the same or the parent resource, encoded or not).
 */
export function encodeUrlSegment(name: string): string {
  if (typeof name !== 'string' || name.length === 0 || name === '.' || name === '..') {
    throw new Error(`${showName(String(name))} cannot be a URL path segment`);
  }
  return encodeURIComponent(name);
}
