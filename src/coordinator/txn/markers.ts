/**
 * Writing a transaction's end: a COMMIT or ABORT marker to every partition of
 * the transaction through the storage engine (storage.writeTxnMarker, Kafka's
 * WriteTxnMarkers), and the pending transactional offsets of its groups
 * committed or dropped through the group coordinator.
 *
 * Like Kafka's TransactionMarkerChannelManager, a marker is retried until it is
 * written: a retriable failure (storage unavailable, a partition moving) waits
 * and tries again, for as long as this node coordinates the transaction. A
 * partition whose topic is gone (UNKNOWN_TOPIC_OR_PARTITION) needs no marker.
 * A fenced marker (TRANSACTION_COORDINATOR_FENCED: a newer coordinator of the id
 * exists) stops the completion here: the newer owner completes it. A marker
 * refused with INVALID_PRODUCER_EPOCH (a newer epoch of the producer wrote there)
 * has nothing left to close on that partition.
 */
import type { Logger } from '../../logger.js';
import { ErrorCode, errorName, KafkaError } from '../../protocol/errors.js';
import type { PartitionRef, TxnMarker } from '../../storage/engine.js';

import type { TxnMetadata } from './metadata.js';

/** What the coordinator needs of the storage engine to end a transaction. */
export interface MarkerSink {
  writeTxnMarker(tp: PartitionRef, marker: TxnMarker, options?: { principal?: string | null }): Promise<{ offset: bigint }>;
}

/** What it needs of the group coordinator: pending transactional offsets of `producerId` in these groups. */
export interface TxnOffsetSink {
  completeTxnOffsets(tenant: string, groups: string[], producerId: bigint, commit: boolean): Promise<void>;
}

export type MarkerOutcome = 'written' | 'fenced' | 'stopped';

const RETRY_MIN_MS = 50;
const RETRY_MAX_MS = 2000;

/**
 * Write the markers of `m` (in PrepareCommit/PrepareAbort) to all its partitions
 * and complete its group offsets. `stillOwner` is asked before every retry.
 */
export async function writeMarkers(sink: MarkerSink, offsets: TxnOffsetSink | null, m: TxnMetadata, coordinatorEpoch: number, stillOwner: () => boolean, log: Logger): Promise<MarkerOutcome> {
  const commit = m.state === 'PrepareCommit';
  const marker: TxnMarker = { producerId: m.producerId, producerEpoch: m.producerEpoch, commit, coordinatorEpoch };
  const results = await Promise.all(
    [...m.partitions.values()].map(async (tp): Promise<MarkerOutcome> => {
      let backoff = RETRY_MIN_MS;
      for (;;) {
        if (!stillOwner()) return 'stopped';
        try {
          await sink.writeTxnMarker(tp, marker);
          return 'written';
        } catch (err) {
          const code = err instanceof KafkaError ? err.code : null;
          if (code === ErrorCode.UNKNOWN_TOPIC_OR_PARTITION) {
            log.info({ transactionalId: m.transactionalId, topic: tp.topic, partition: tp.partition }, 'transaction marker not written: the partition is gone');
            return 'written';
          }
          if (code === ErrorCode.TRANSACTION_COORDINATOR_FENCED) {
            log.warn({ transactionalId: m.transactionalId, topic: tp.topic, partition: tp.partition, error: errorName(code) }, 'transaction marker fenced: a newer coordinator of the id exists, it completes the transaction');
            return 'fenced';
          }
          if (code === ErrorCode.INVALID_PRODUCER_EPOCH) {
            // a newer epoch of the producer already wrote there: this transaction's data is closed over
            log.warn({ transactionalId: m.transactionalId, topic: tp.topic, partition: tp.partition, error: errorName(code) }, 'transaction marker refused: a newer producer epoch owns the partition');
            return 'written';
          }
          log.warn({ transactionalId: m.transactionalId, topic: tp.topic, partition: tp.partition, err: (err as Error).message, retryInMs: backoff }, 'transaction marker write failed; retrying');
          await new Promise((r) => setTimeout(r, backoff).unref());
          backoff = Math.min(backoff * 2, RETRY_MAX_MS);
        }
      }
    }),
  );
  if (results.includes('stopped')) return 'stopped';
  if (results.includes('fenced')) return 'fenced';
  if (offsets && m.groups.size > 0) {
    let backoff = RETRY_MIN_MS;
    for (;;) {
      if (!stillOwner()) return 'stopped';
      try {
        await offsets.completeTxnOffsets(m.tenant, [...m.groups], m.producerId, commit);
        break;
      } catch (err) {
        log.warn({ transactionalId: m.transactionalId, err: (err as Error).message, retryInMs: backoff }, 'completing the transaction offsets failed; retrying');
        await new Promise((r) => setTimeout(r, backoff).unref());
        backoff = Math.min(backoff * 2, RETRY_MAX_MS);
      }
    }
  }
  return 'written';
}
