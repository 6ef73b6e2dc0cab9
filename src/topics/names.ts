/**
 * Kafka topic names <-> Pulsar-style names. The only place that knows the
 * mapping: everything below the request handlers speaks resolved names.
 *
 *   "orders"                            + default public/default -> persistent://public/default/orders
 *   "persistent://acme/sales/orders"    -> as is
 *   partition 3 of it (Pulsar naming)   -> persistent://acme/sales/orders-partition-3
 *
 * A Kafka client gets back the name it used: a short name when the topic lives
 * in the session's default namespace, the full name otherwise.
 */
import { ErrorCode, KafkaError } from '../protocol/errors.js';

export const PERSISTENT = 'persistent://';
const PARTITION_SUFFIX = '-partition-';
/** Kafka's legal topic characters; Pulsar names use the same set for the local part. */
const LEGAL = /^[a-zA-Z0-9._-]+$/;
const MAX_KAFKA_NAME = 249;

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

function checkSegment(value: string, what: string, raw: string): void {
  if (value.length === 0 || !LEGAL.test(value)) {
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid ${what} in topic name '${raw}'`);
  }
}

/** Validate a tenant/namespace pair (e.g. from a SASL username or config). */
export function parseNamespace(value: string): NamespaceRef {
  const parts = value.split('/');
  if (parts.length !== 2 || !parts.every((p) => p.length > 0 && LEGAL.test(p))) {
    throw new Error(`invalid namespace '${value}': expected tenant/namespace`);
  }
  return { tenant: parts[0]!, namespace: parts[1]! };
}

/** Resolve a Kafka topic name against the session's default namespace. Throws INVALID_TOPIC_EXCEPTION. */
export function resolveTopic(kafkaName: string, defaults: NamespaceRef): TopicName {
  if (kafkaName.startsWith(PERSISTENT)) {
    const rest = kafkaName.slice(PERSISTENT.length);
    const parts = rest.split('/');
    if (parts.length !== 3) {
      throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `invalid topic name '${kafkaName}': expected persistent://tenant/namespace/topic`);
    }
    const [tenant, namespace, local] = parts as [string, string, string];
    checkSegment(tenant, 'tenant', kafkaName);
    checkSegment(namespace, 'namespace', kafkaName);
    checkLocal(local, kafkaName);
    return { tenant, namespace, local, full: kafkaName };
  }
  checkLocal(kafkaName, kafkaName);
  const { tenant, namespace } = defaults;
  return { tenant, namespace, local: kafkaName, full: `${PERSISTENT}${tenant}/${namespace}/${kafkaName}` };
}

function checkLocal(local: string, raw: string): void {
  if (local === '.' || local === '..') {
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name cannot be '.' or '..'`);
  }
  if (local.length > MAX_KAFKA_NAME) {
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name '${raw.slice(0, 40)}...' is longer than ${MAX_KAFKA_NAME} characters`);
  }
  checkSegment(local, 'topic', raw);
  if (local.includes(PARTITION_SUFFIX)) {
    throw new KafkaError(ErrorCode.INVALID_TOPIC_EXCEPTION, `topic name '${raw}' must not contain '${PARTITION_SUFFIX}'`);
  }
}

/** Parse an already-resolved full name. */
export function parseFullName(full: string): TopicName {
  const t = resolveTopic(full, { tenant: '_', namespace: '_' });
  if (!full.startsWith(PERSISTENT)) throw new Error(`not a full topic name: ${full}`);
  return t;
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
