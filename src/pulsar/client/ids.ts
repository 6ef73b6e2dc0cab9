/** uint64 ids (request, producer, consumer) and MessageId conversions. */
import type { MessageIdData } from '../proto/index.js';
import type { MessageId } from './types.js';

export class IdGenerator {
  private n = 0n;
  next(): bigint {
    return this.n++;
  }
}

const U64 = 1n << 64n;
const I64_MAX = (1n << 63n) - 1n;

/** uint64 on the wire -> signed (Pulsar's -1 for "no entry" arrives as 2^64-1). */
export function signed64(v: bigint): bigint {
  return v > I64_MAX ? v - U64 : v;
}

/** signed -> uint64 for the wire. */
export function unsigned64(v: bigint): bigint {
  return v < 0n ? v + U64 : v;
}

export function fromIdData(d: MessageIdData): MessageId {
  return { ledgerId: signed64(d.ledgerId), entryId: signed64(d.entryId), batchIndex: d.batchIndex ?? -1 };
}

export function toIdData(id: MessageId, withBatchIndex = true): MessageIdData {
  const d: MessageIdData = { ledgerId: unsigned64(id.ledgerId), entryId: unsigned64(id.entryId) };
  if (withBatchIndex && id.batchIndex !== undefined && id.batchIndex >= 0) d.batchIndex = id.batchIndex;
  return d;
}

/** Orders (ledgerId, entryId) positions; batch indexes are ignored (entries are the unit here). */
export function compareEntry(a: MessageId, b: MessageId): number {
  if (a.ledgerId !== b.ledgerId) return a.ledgerId < b.ledgerId ? -1 : 1;
  if (a.entryId !== b.entryId) return a.entryId < b.entryId ? -1 : 1;
  return 0;
}
