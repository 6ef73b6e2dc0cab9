/**
 * Kafka's `__consumer_offsets` record formats (src/coordinator/offsets-records.ts), byte for byte
 * against the schemas of Kafka's group coordinator (OffsetCommitKey/Value, GroupMetadataKey/Value:
 * a key is the int16 record type then the version-0 struct, a value its int16 version then the
 * struct; non-flexible: STRING = int16 length + UTF-8, null = -1, BYTES = int32 length), written
 * out by hand below; and Kafka's partitioning of groups (abs(String.hashCode) % partitions) on
 * known Java hash codes. The e2e test (test/e2e/offsets-topic.test.ts) decodes the same records
 * with Kafka's own formatters.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { consumerGroupMetadataKey, consumerGroupMetadataValue, groupMetadataKey, groupMetadataValue, kafkaOffsetsPartition, offsetCommitKey, offsetCommitValue } from '../../src/coordinator/offsets-records.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const str = (s: string) => {
  const b = Buffer.from(s, 'utf8');
  return b.length.toString(16).padStart(4, '0') + b.toString('hex');
};

test('OffsetCommitKey: type 1, group, topic, partition', () => {
  assert.deepEqual(offsetCommitKey('g1', 't', 3), hex('0001 0002 6731 0001 74 00000003'));
  // UTF-8 lengths are bytes, not characters
  assert.deepEqual(offsetCommitKey('é', 'orders', 0x7fffffff), hex(`0001 0002 c3a9 ${str('orders')} 7fffffff`));
});

test('OffsetCommitValue v3 (leader epoch) and v1 (explicit expiry), as Kafka picks them', () => {
  // 1700000000000 = 0x18bcfe56800
  assert.deepEqual(
    offsetCommitValue({ offset: 42n, leaderEpoch: 5, metadata: 'm', commitTimestamp: 1700000000000, expireTimestamp: null }),
    hex('0003 000000000000002a 00000005 0001 6d 0000018bcfe56800'),
  );
  assert.deepEqual(
    offsetCommitValue({ offset: 7n, leaderEpoch: -1, metadata: '', commitTimestamp: 1700000000000, expireTimestamp: 1700000000001 }),
    hex('0001 0000000000000007 0000 0000018bcfe56800 0000018bcfe56801'),
  );
  assert.deepEqual(offsetCommitValue({ offset: -1n, leaderEpoch: -1, metadata: '', commitTimestamp: 0, expireTimestamp: null }), hex('0003 ffffffffffffffff ffffffff 0000 0000000000000000'));
});

test('GroupMetadataKey: type 2, group', () => {
  assert.deepEqual(groupMetadataKey('g1'), hex('0002 0002 6731'));
});

test('GroupMetadataValue v3: protocol type, generation, protocol, leader, state timestamp, members', () => {
  const member = {
    memberId: 'm-1',
    groupInstanceId: null,
    clientId: 'c',
    clientHost: '/h',
    rebalanceTimeoutMs: 300000,
    sessionTimeoutMs: 10000,
    metadata: Buffer.from([1, 2]),
    assignment: Buffer.alloc(0),
    namespace: { tenant: 't', namespace: 'n' },
  };
  const stable = groupMetadataValue({ state: 'Stable', stateTimestamp: 1700000000000, protocolType: 'consumer', protocolName: 'range', generationId: 7, leaderId: 'm-1', members: [member, { ...member, memberId: 'm-2', groupInstanceId: 'i' }] });
  const m1 = `${str('m-1')} ffff ${str('c')} ${str('/h')} 000493e0 00002710 00000002 0102 00000000`;
  const m2 = `${str('m-2')} ${str('i')} ${str('c')} ${str('/h')} 000493e0 00002710 00000002 0102 00000000`;
  assert.deepEqual(stable, hex(`0003 ${str('consumer')} 00000007 ${str('range')} ${str('m-1')} 0000018bcfe56800 00000002 ${m1} ${m2}`));
  // an empty simple group: protocol type "", protocol and leader null, no members
  const simple = groupMetadataValue({ state: 'Empty', stateTimestamp: 1, protocolType: null, protocolName: null, generationId: 0, leaderId: null, members: [] });
  assert.deepEqual(simple, hex('0003 0000 00000000 ffff ffff 0000000000000001 00000000'));
});

test('ConsumerGroupMetadataKey (type 3, group id) / Value v0 (flexible: epoch, then no tagged fields)', () => {
  assert.deepEqual(consumerGroupMetadataKey('g1'), hex('0003 0002 6731'));
  assert.deepEqual(consumerGroupMetadataValue(12), hex('0000 0000000c 00'));
});

test('a string longer than a Kafka STRING is refused, not truncated', () => {
  assert.throws(() => offsetCommitKey('g'.repeat(32768), 't', 0), RangeError);
});

test("Kafka's partition of a group: abs(String.hashCode) % partitions", () => {
  // Java: "hello".hashCode() == 99162322
  assert.equal(kafkaOffsetsPartition('hello', 50), 99162322 % 50);
  assert.equal(kafkaOffsetsPartition('hello', 1), 0);
  // Java: "polygenelubricants".hashCode() == Integer.MIN_VALUE, and Utils.abs(MIN_VALUE) == 0
  assert.equal(kafkaOffsetsPartition('polygenelubricants', 50), 0);
  // Java: "Aa".hashCode() == "BB".hashCode() == 2112
  assert.equal(kafkaOffsetsPartition('Aa', 50), 2112 % 50);
  assert.equal(kafkaOffsetsPartition('BB', 50), 2112 % 50);
  // negative hashes (int overflow), checked with jshell: "my-group".hashCode() == -1906497762
  assert.equal(kafkaOffsetsPartition('my-group', 50), 1906497762 % 50);
  assert.equal(kafkaOffsetsPartition('zzzzzzzz', 50), 1910022912 % 50);
});
