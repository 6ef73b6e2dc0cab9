/**
 * Known-answer vectors: bytes written out by hand from the Kafka protocol spec
 * (kafka.apache.org/protocol + the message JSON), compared exactly.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  decodeRequest,
  decodeResponse,
  decodeRequestHeader,
  encodeRequest,
  encodeResponse,
  requestHeaderVersion,
  responseHeaderVersion,
  decodeVersioned,
  encodeVersioned,
} from '../../src/protocol/codec/frame.js';
import { KafkaCodecError, UnsupportedVersionError } from '../../src/protocol/codec/errors.js';
import { Reader } from '../../src/protocol/codec/reader.js';
import { Writer } from '../../src/protocol/codec/writer.js';
import {
  API_KEYS,
  APIS,
  ApiVersionsRequest,
  ApiVersionsResponse,
  ConsumerGroupHeartbeatResponse,
  ConsumerProtocolSubscription,
  FetchRequest,
  MetadataRequest,
  ProduceRequest,
} from '../../src/protocol/generated/index.js';

/** Hex with spaces, newlines and `|` separators allowed; `#` starts a comment to the end of the line. */
const hex = (s: string) => Buffer.from(s.replace(/#.*$/gm, '').replace(/[\s|]/g, ''), 'hex');
const ascii = (s: string) => Buffer.from(s, 'latin1').toString('hex');

function encodeBody<T>(codec: { encode(w: Writer, v: number, m: T): void }, version: number, msg: T): Buffer {
  const w = new Writer();
  codec.encode(w, version, msg);
  return w.finish();
}

test('ApiVersionsRequest v3 frame: header v2 with classic client id, compact software name/version', () => {
  const expected = hex(`
    00000021                      # size 33
    0012 0003 00000001            # apiKey 18, version 3, correlationId 1
    0004 ${ascii('kcat')}         # clientId: int16 length, even in header v2
    00                            # header tagged fields
    0b ${ascii('librdkafka')}     # compact string: length + 1 = 11
    06 ${ascii('2.3.0')}          # compact string: length + 1 = 6
    00                            # body tagged fields
  `);
  const frame = encodeRequest(API_KEYS.ApiVersions, 3, 1, 'kcat', { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.3.0' });
  assert.deepEqual(frame, expected);
  const req = decodeRequest(frame.subarray(4));
  assert.equal(req.headerVersion, 2);
  assert.deepEqual(req.header, { apiKey: 18, apiVersion: 3, correlationId: 1, clientId: 'kcat' });
  assert.equal(req.apiKey, API_KEYS.ApiVersions);
  if (req.apiKey === API_KEYS.ApiVersions) {
    assert.equal(req.body.clientSoftwareName, 'librdkafka'); // narrowed to ApiVersionsRequest
    assert.equal(req.body.clientSoftwareVersion, '2.3.0');
  }
  assert.equal(req.bodyOffset, 4 + 4 + 6 + 1);
  assert.equal(req.trailingBytes, 0);
});

test('ApiVersionsRequest v3: unknown tagged fields are skipped, known header tags too', () => {
  const body = hex(`0b ${ascii('librdkafka')} 06 ${ascii('2.3.0')} | 02 | 05 02 beef | 7f 00`);
  const r = new Reader(body);
  assert.deepEqual(ApiVersionsRequest.decode(r, 3), { clientSoftwareName: 'librdkafka', clientSoftwareVersion: '2.3.0' });
  assert.equal(r.remaining(), 0);
});

test('ApiVersionsResponse v3: response header v0, compact array, tagged int64 only when not default', () => {
  const msg = {
    ...ApiVersionsResponse.defaults(),
    apiKeys: [{ apiKey: 0, minVersion: 0, maxVersion: 9 }],
    throttleTimeMs: 0,
    finalizedFeaturesEpoch: 5n,
  };
  const frame = encodeResponse(API_KEYS.ApiVersions, 3, 7, msg);
  assert.deepEqual(
    frame,
    hex(`
      0000001d            # size 29
      00000007            # correlationId; NO tagged fields: ApiVersions response header is always v0
      0000                # errorCode
      02 0000 0000 0009 00 # apiKeys: 1 + 1 entries, each with empty tagged fields
      00000000            # throttleTimeMs
      01 01 08 0000000000000005 # 1 tagged field: tag 1, size 8, FinalizedFeaturesEpoch
    `),
  );
  const back = decodeResponse(frame.subarray(4), API_KEYS.ApiVersions, 3);
  assert.equal(back.correlationId, 7);
  assert.equal(back.headerVersion, 0);
  assert.deepEqual(back.body, msg);
  // default epoch (-1): no tagged field at all
  const plain = encodeBody(ApiVersionsResponse, 3, { ...msg, finalizedFeaturesEpoch: -1n });
  assert.deepEqual(plain.subarray(-5), hex('00000000 00'));
});

test('MetadataRequest v1 with null topics (= all topics)', () => {
  const frame = encodeRequest(API_KEYS.Metadata, 1, 0x01020304, 'c', { ...MetadataRequest.defaults(), topics: null });
  assert.deepEqual(frame, hex(`0000000f | 0003 0001 01020304 | 0001 63 | ffffffff`));
  const req = decodeRequest(frame.subarray(4));
  assert.equal(req.headerVersion, 1);
  assert.equal(req.apiKey === API_KEYS.Metadata && req.body.topics, null);
  // v0 has no null: topics is a plain array there
  assert.throws(() => MetadataRequest.decode(new Reader(hex('ffffffff')), 0), KafkaCodecError);
});

test('ProduceRequest v3 with null transactional id', () => {
  const records = hex('aabbcc');
  const body = {
    transactionalId: null,
    acks: -1,
    timeoutMs: 30000,
    topicData: [{ name: 't', partitionData: [{ index: 2, records }] }],
  };
  const frame = encodeRequest(API_KEYS.Produce, 3, 9, null, body);
  assert.deepEqual(
    frame,
    hex(`
      00000028                 # size 40
      0000 0003 00000009 ffff  # header v1, null client id
      ffff                     # transactionalId null (int16 -1)
      ffff 00007530            # acks -1, timeoutMs 30000
      00000001 0001 74         # 1 topic "t"
      00000001 00000002        # 1 partition, index 2
      00000003 aabbcc          # records: int32 length + raw bytes
    `),
  );
  const req = decodeRequest(frame.subarray(4));
  assert.equal(req.header.clientId, null);
  assert.ok(req.apiKey === API_KEYS.Produce);
  const got = req.body.topicData[0]!.partitionData[0]!.records!;
  assert.deepEqual(got, records);
  assert.equal(got.buffer, frame.buffer, 'records must be a slice of the frame, not a copy');
});

test('ProduceRequest v9 (flexible): compact strings/arrays/records, header v2', () => {
  const body = { transactionalId: 'tx', acks: 1, timeoutMs: 1000, topicData: [{ name: 't', partitionData: [{ index: 0, records: null }] }] };
  const bytes = encodeBody(ProduceRequest, 9, body);
  assert.deepEqual(bytes, hex(`03 7478 | 0001 000003e8 | 02 02 74 | 02 00000000 00 00 | 00 | 00`));
  assert.equal(requestHeaderVersion(API_KEYS.Produce, 9), 2);
  assert.equal(responseHeaderVersion(API_KEYS.Produce, 9), 1);
});

test('FetchRequest v12: tagged string longer than 127 bytes gets a 2-byte size varint', () => {
  const clusterId = 'x'.repeat(200);
  const msg = { ...FetchRequest.defaults(), clusterId };
  const bytes = encodeBody(FetchRequest, 12, msg);
  // ... fixed fields, then: 1 tagged field, tag 0, size 202 (ca 01), compact len 201 (c9 01), 200 x
  const tail = hex(`01 00 ca01 c901 ${'78'.repeat(200)}`);
  assert.deepEqual(bytes.subarray(bytes.length - tail.length), tail);
  assert.deepEqual(FetchRequest.decode(new Reader(bytes), 12), msg);
});

test('nullable struct (non-tagged) uses an int8 presence marker', () => {
  const msg = { ...ConsumerGroupHeartbeatResponse.defaults(), assignment: null };
  const bytes = encodeBody(ConsumerGroupHeartbeatResponse, 0, msg);
  // throttle, error, errorMessage null, memberId null, epoch, interval, assignment -1, tags
  assert.deepEqual(bytes, hex(`00000000 0000 00 00 00000000 00000000 ff 00`));
  const withAssignment = { ...msg, assignment: { topicPartitions: [] } };
  assert.deepEqual(encodeBody(ConsumerGroupHeartbeatResponse, 0, withAssignment).subarray(-4), hex('01 01 00 00'));
});

test('header versions: flexible rules and the two exceptions', () => {
  assert.equal(requestHeaderVersion(API_KEYS.Metadata, 8), 1);
  assert.equal(requestHeaderVersion(API_KEYS.Metadata, 9), 2);
  assert.equal(responseHeaderVersion(API_KEYS.Metadata, 8), 0);
  assert.equal(responseHeaderVersion(API_KEYS.Metadata, 9), 1);
  assert.equal(requestHeaderVersion(API_KEYS.ControlledShutdown, 0), 0);
  assert.equal(requestHeaderVersion(API_KEYS.ControlledShutdown, 1), 1);
  assert.equal(requestHeaderVersion(API_KEYS.ApiVersions, 3), 2);
  assert.equal(responseHeaderVersion(API_KEYS.ApiVersions, 3), 0);
  assert.equal(responseHeaderVersion(API_KEYS.ApiVersions, 4), 0);
});

test('ControlledShutdown v0 uses request header v0 (no client id)', () => {
  const frame = encodeRequest(API_KEYS.ControlledShutdown, 0, 5, 'ignored', { brokerId: 1, brokerEpoch: -1n });
  assert.deepEqual(frame, hex('0000000c | 0007 0000 00000005 | 00000001'));
  assert.equal(decodeRequest(frame.subarray(4)).header.clientId, '');
});

test('unknown apiKey and unsupported version: UnsupportedVersionError with correlation id and client id', () => {
  const unknownKey = hex(`7fff 0000 0000002a 0003 ${ascii('abc')}`);
  assert.throws(
    () => decodeRequest(unknownKey),
    (e: unknown) => e instanceof UnsupportedVersionError && e.apiKey === 0x7fff && e.correlationId === 42 && e.clientId === 'abc',
  );
  const tooNew = hex(`0012 0063 0000002b 0003 ${ascii('abc')} 00 0100`);
  assert.throws(
    () => decodeRequestHeader(tooNew),
    (e: unknown) => e instanceof UnsupportedVersionError && e.apiKey === 18 && e.apiVersion === 99 && e.correlationId === 43,
  );
  assert.throws(() => encodeResponse(API_KEYS.Produce, 12 as number, 1, ProduceRequest.defaults() as never), UnsupportedVersionError);
  // the subclass relation lets callers catch every codec failure at once
  assert.ok(new UnsupportedVersionError(1, 2, 'x') instanceof KafkaCodecError);
});

test('trailing bytes after a request body are tolerated and reported; truncation is not', () => {
  const frame = encodeRequest(API_KEYS.Metadata, 1, 1, 'c', { ...MetadataRequest.defaults(), topics: null });
  const payload = Buffer.concat([frame.subarray(4), hex('0000')]);
  assert.equal(decodeRequest(payload).trailingBytes, 2);
  assert.throws(() => decodeRequest(frame.subarray(4, frame.length - 1)), KafkaCodecError);
});

test('API table: stable versions exclude an unstable latest version', () => {
  for (const api of Object.values(APIS)) {
    assert.equal(api.request.apiKey, api.apiKey);
    assert.equal(api.response.apiKey, api.apiKey);
    assert.equal(api.maxStableVersion, api.request.latestVersionUnstable ? api.maxVersion - 1 : api.maxVersion);
  }
  assert.equal(APIS[API_KEYS.Produce]!.name, 'Produce');
  assert.equal(APIS[API_KEYS.ApiVersions]!.flexibleMin, 3);
  assert.equal(APIS[API_KEYS.SaslHandshake]!.flexibleMin, Infinity);
});

test('consumer protocol data: int16 version prefix, newer versions read as the newest known', () => {
  const sub = { ...ConsumerProtocolSubscription.defaults(), topics: ['a', 'b'] };
  const bytes = encodeVersioned(ConsumerProtocolSubscription, 0, sub);
  assert.deepEqual(bytes, hex(`0000 | 00000002 0001 61 0001 62 | ffffffff`));
  assert.deepEqual(decodeVersioned(ConsumerProtocolSubscription, bytes), { version: 0, value: sub });
  // a future version 9 with more fields appended: read as v3, extra bytes ignored
  const v3 = encodeVersioned(ConsumerProtocolSubscription, 3, sub);
  const future = Buffer.concat([hex('0009'), v3.subarray(2), hex('deadbeef')]);
  assert.deepEqual(decodeVersioned(ConsumerProtocolSubscription, future).value, sub);
});
