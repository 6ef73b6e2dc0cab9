/**
 * Pulsar failures as the Kafka error a client should see. Retriable Pulsar
 * conditions (connection lost, timeout, broker not ready, topic moving) map to
 * retriable Kafka codes, so producers and consumers retry instead of failing;
 * permission failures map to authorization errors; anything unknown fails
 * closed as an error the client reports (never as success).
 */
import { ErrorCode } from '../../protocol/errors.js';
import { StorageError } from '../engine.js';

interface ErrorLike {
  message?: string;
  serverError?: string;
  retriable?: boolean;
  status?: number;
  reason?: string;
}

export function toStorageError(e: unknown, what: string): StorageError {
  if (e instanceof StorageError) return e;
  const x = (typeof e === 'object' && e !== null ? e : {}) as ErrorLike;
  const msg = `${what}: ${x.reason ?? x.message ?? String(e)}`;
  switch (x.serverError) {
    case 'AuthorizationError':
    case 'AuthenticationError':
      return new StorageError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, msg);
    case 'TopicNotFound':
      return new StorageError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, msg);
    case 'Timeout':
      return new StorageError(ErrorCode.REQUEST_TIMED_OUT, msg);
    case 'MessageTooBig':
      // the entry is larger than the broker's maxMessageSize: permanent, never retried
      return new StorageError(ErrorCode.MESSAGE_TOO_LARGE, msg);
    case 'ChecksumError':
      return new StorageError(ErrorCode.CORRUPT_MESSAGE, msg);
    case 'ProducerBlockedQuotaExceededError':
    case 'ProducerBlockedQuotaExceededException':
      return new StorageError(ErrorCode.POLICY_VIOLATION, msg);
    default:
      break;
  }
  if (x.status === 404) return new StorageError(ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, msg);
  if (x.status === 401 || x.status === 403) return new StorageError(ErrorCode.TOPIC_AUTHORIZATION_FAILED, msg);
  if (x.retriable === true || x.serverError === 'ConnectionClosed' || x.serverError === 'ServiceNotReady' || (x.status !== undefined && x.status >= 500)) {
    // retriable for producers and consumers alike; clients refresh metadata and retry
    return new StorageError(ErrorCode.NOT_LEADER_OR_FOLLOWER, msg);
  }
  return new StorageError(ErrorCode.UNKNOWN_SERVER_ERROR, msg);
}
