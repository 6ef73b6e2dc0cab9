/**
 * Kafka's record formats of `__consumer_offsets` (the group coordinator's own
 * records, group-coordinator/src/main/resources/common/message/*.json in
 * Kafka): what the gateway appends to a namespace's readable offsets log
 * (offsets-log.ts), so that lag monitors and Kafka's
 * `OffsetsMessageFormatter` / `GroupMetadataMessageFormatter` decode it.
 *
 * A key is the record type as an int16 (Kafka's CoordinatorRecordType: the
 * key schema's apiKey) followed by the key struct at version 0; a value is
 * its int16 version followed by the value struct. Both non-flexible here
 * (the versions Kafka 4.x itself writes), so: int16/int32/int64 big endian,
 * STRING = int16 length + UTF-8, NULLABLE_STRING = length -1 for null,
 * BYTES = int32 length + bytes, arrays = int32 count + elements.
 *
 *   OffsetCommitKey     type 1: group, topic, partition int32
 *   OffsetCommitValue   v3: offset int64, leaderEpoch int32, metadata, commitTimestamp int64
 *                       v1 (an explicit retention time, as Kafka writes it then):
 *                           offset, metadata, commitTimestamp, expireTimestamp int64
 *   GroupMetadataKey    type 2: group
 *   GroupMetadataValue  v3: protocolType, generation int32, protocol?, leader?,
 *                           currentStateTimestamp int64, members [memberId, groupInstanceId?,
 *                           clientId, clientHost, rebalanceTimeout int32, sessionTimeout int32,
 *                           subscription BYTES, assignment BYTES]
 *
 *   ConsumerGroupMetadataKey    type 3: groupId
 *   ConsumerGroupMetadataValue  v0 (flexible): epoch int32, no tagged fields (MetadataHash and
 *                               CreationTimeMs keep their defaults)
 *
 * A deletion is the key with a null value (a tombstone), as in Kafka.
 */
import type { CommittedOffset } from './group.js';
import type { StoredGroup } from './store.js';
import { javaStringHash } from './locator.js';

/** Kafka's CoordinatorRecordType ids used here. */
export const RecordType = { OFFSET_COMMIT: 1, GROUP_METADATA: 2, CONSUMER_GROUP_METADATA: 3 } as const;

/** A small big-endian writer over a precomputed size (one allocation per key or value). */
class Writer {
  private pos = 0;
  readonly buf: Buffer;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  int16(v: number): this {
    this.pos = this.buf.writeInt16BE(v, this.pos);
    return this;
  }
  int32(v: number): this {
    this.pos = this.buf.writeInt32BE(v, this.pos);
    return this;
  }
  int64(v: bigint | number): this {
    this.pos = this.buf.writeBigInt64BE(BigInt(v), this.pos);
    return this;
  }
  string(s: string | null): this {
    if (s === null) return this.int16(-1);
    const n = Buffer.byteLength(s, 'utf8');
    this.int16(n);
    this.pos += this.buf.write(s, this.pos, 'utf8');
    return this;
  }
  bytes(b: Buffer): this {
    this.int32(b.length);
    this.pos += b.copy(this.buf, this.pos);
    return this;
  }
  /** A flexible struct's tagged-field section with no fields: unsigned varint 0. */
  noTaggedFields(): this {
    this.pos = this.buf.writeUInt8(0, this.pos);
    return this;
  }
  done(): Buffer {
    if (this.pos !== this.buf.length) throw new Error(`coordinator record size mismatch: wrote ${this.pos} of ${this.buf.length}`);
    return this.buf;
  }
}

/** Kafka's STRING is at most 32767 bytes. */
function strSize(s: string | null): number {
  if (s === null) return 2;
  const n = Buffer.byteLength(s, 'utf8');
  if (n > 0x7fff) throw new RangeError(`string of ${n} bytes does not fit a Kafka STRING`);
  return 2 + n;
}

export function offsetCommitKey(group: string, topic: string, partition: number): Buffer {
  return new Writer(2 + strSize(group) + strSize(topic) + 4).int16(RecordType.OFFSET_COMMIT).string(group).string(topic).int32(partition).done();
}

/** OffsetCommitValue v3, or v1 when the commit carried an explicit retention (expireTimestamp), as Kafka chooses. */
export function offsetCommitValue(o: CommittedOffset): Buffer {
  if (o.expireTimestamp !== null) {
    return new Writer(2 + 8 + strSize(o.metadata) + 8 + 8).int16(1).int64(o.offset).string(o.metadata).int64(o.commitTimestamp).int64(o.expireTimestamp).done();
  }
  return new Writer(2 + 8 + 4 + strSize(o.metadata) + 8).int16(3).int64(o.offset).int32(o.leaderEpoch).string(o.metadata).int64(o.commitTimestamp).done();
}

export function groupMetadataKey(group: string): Buffer {
  return new Writer(2 + strSize(group)).int16(RecordType.GROUP_METADATA).string(group).done();
}

/** GroupMetadataValue v3 (the last non-flexible version; Kafka 4.x writes it for classic groups). */
export function groupMetadataValue(g: StoredGroup): Buffer {
  let size = 2 + strSize(g.protocolType ?? '') + 4 + strSize(g.protocolName) + strSize(g.leaderId) + 8 + 4;
  for (const m of g.members) {
    size += strSize(m.memberId) + strSize(m.groupInstanceId) + strSize(m.clientId) + strSize(m.clientHost) + 4 + 4 + 4 + m.metadata.length + 4 + m.assignment.length;
  }
  const w = new Writer(size)
    .int16(3)
    .string(g.protocolType ?? '')
    .int32(g.generationId)
    .string(g.protocolName)
    .string(g.leaderId)
    .int64(g.stateTimestamp)
    .int32(g.members.length);
  for (const m of g.members) {
    w.string(m.memberId).string(m.groupInstanceId).string(m.clientId).string(m.clientHost).int32(m.rebalanceTimeoutMs).int32(m.sessionTimeoutMs).bytes(m.metadata).bytes(m.assignment);
  }
  return w.done();
}

export function consumerGroupMetadataKey(group: string): Buffer {
  return new Writer(2 + strSize(group)).int16(RecordType.CONSUMER_GROUP_METADATA).string(group).done();
}

/** ConsumerGroupMetadataValue v0: the group epoch, then an empty tagged-field section (unsigned varint 0). */
export function consumerGroupMetadataValue(epoch: number): Buffer {
  return new Writer(2 + 4 + 1).int16(0).int32(epoch).noTaggedFields().done();
}

/**
 * Kafka's partition of `__consumer_offsets` for a group: Utils.abs(groupId.hashCode()) % partitions
 * (GroupCoordinatorService.partitionFor), over the group id alone, as clients and lag monitors compute it.
 */
export function kafkaOffsetsPartition(groupId: string, numPartitions: number): number {
  const h = javaStringHash(groupId);
  return (h === -2147483648 ? 0 : Math.abs(h)) % numPartitions;
}
