/**
 * Pulsar frame codec (src/pulsar/wire): known-answer bytes for CONNECT and
 * SEND, payload frames with and without checksum and broker entry metadata,
 * the stream splitter, batch payloads and the command builders. No broker.
 *
 * Layouts checked against Apache Pulsar's pulsar-common
 * org.apache.pulsar.common.protocol.Commands (serializeWithSize,
 * serializeCommandSendWithSize, addBrokerEntryMetadata,
 * skipBrokerEntryMetadataIfExist, parseMessageMetadata,
 * serializeSingleMessageInBatchWithPayload); the SEND bytes below are the ones
 * Pulsar 3.3.6's Commands.newSend produced (see pulsar-wire-java-interop.test.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  BaseCommand,
  BaseCommandType,
  CommandAckAckType,
  CommandSubscribeSubType,
  PulsarProtoError,
  type MessageMetadata,
} from '../../src/pulsar/proto/index.js';
import {
  DEFAULT_PROTOCOL_VERSION,
  MAGIC_BROKER_ENTRY_METADATA,
  MAGIC_CRC32C,
  PulsarChecksumError,
  PulsarFrameSizeError,
  PulsarFrameSplitter,
  ackCommand,
  authResponseCommand,
  checksumMatches,
  closeConsumerCommand,
  closeProducerCommand,
  commandBody,
  commandField,
  computeChecksum,
  connectCommand,
  decodeBatch,
  decodeFrame,
  decodeMessagePayload,
  decodeSizedFrame,
  encodeBatch,
  encodeCommand,
  encodeMessagePayload,
  encodePayloadCommand,
  encodePayloadCommandChunks,
  flowCommand,
  getLastMessageIdCommand,
  lookupCommand,
  maxFrameSizeFor,
  partitionedMetadataCommand,
  pingCommand,
  pongCommand,
  producerCommand,
  seekCommand,
  sendCommand,
  subscribeCommand,
  unsubscribeCommand,
} from '../../src/pulsar/wire/index.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');
const isProtoError = (e: unknown) => e instanceof PulsarProtoError;

/** Bitwise CRC32C (Castagnoli, reflected 0x82F63B78): an independent reference for the native one. */
function crc32cRef(data: Uint8Array): number {
  let crc = 0xffffffff;
  for (const b of data) {
    crc ^= b;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

test('reference CRC32C matches the standard check value', () => {
  assert.equal(crc32cRef(Buffer.from('123456789')), 0xe3069283);
});

// ---------------------------------------------------------------- known answers

test('CONNECT: known-answer bytes', () => {
  const frame = encodeCommand(
    connectCommand({
      clientVersion: 'kop-gateway',
      authMethodName: 'token',
      authData: Buffer.from('abc'),
      protocolVersion: 19,
      featureFlags: { supportsAuthRefresh: true, supportsBrokerEntryMetadata: true },
    }),
  );
  const want = hex(
    '00000029' + // totalSize 41: everything after this field
      '00000025' + // commandSize 37
      '0802' + // BaseCommand.type (1, varint) = CONNECT (2)
      '1221' + // BaseCommand.connect (2, length-delimited), 33 bytes:
      '0a0b' + Buffer.from('kop-gateway').toString('hex') + // client_version (1)
      '1a03' + '616263' + // auth_data (3) "abc"
      '2013' + // protocol_version (4) = 19
      '2a05' + Buffer.from('token').toString('hex') + // auth_method_name (5)
      '5204' + '0801' + '1001', // feature_flags (10): supports_auth_refresh (1), supports_broker_entry_metadata (2)
  );
  assert.equal(frame.toString('hex'), want.toString('hex'));
  const back = decodeSizedFrame(frame);
  assert.equal(back.message, null);
  assert.equal(back.command.connect!.clientVersion, 'kop-gateway');
  assert.equal(connectCommand({ clientVersion: 'x' }).connect!.protocolVersion, DEFAULT_PROTOCOL_VERSION);
});

/** Commands.newSend(1, 7, 1, ChecksumType.Crc32c, {producer_name "p", sequence_id 7, publish_time 1700000000000}, "hello") in Pulsar 3.3.6. */
const JAVA_SEND = hex(
  '00000027' + // totalSize 39
    '00000008' + // commandSize 8
    '0806' + '3204' + '0801' + '1007' + // BaseCommand{type SEND, send (6) {producer_id 1, sequence_id 7}}
    '0e01' + // magic: CRC32C follows
    '5dbb2b14' + // CRC32C over everything after it
    '0000000c' + // metadataSize 12
    '0a0170' + '1007' + '1880d095ffbc31' + // MessageMetadata{producer_name "p", sequence_id 7, publish_time 1700000000000}
    '68656c6c6f', // payload "hello"
);
const SEND_METADATA: MessageMetadata = { producerName: 'p', sequenceId: 7n, publishTime: 1700000000000n };

test('SEND with metadata and checksum: the bytes of Pulsar\'s own Commands.newSend', () => {
  const frame = encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 7n }), SEND_METADATA, Buffer.from('hello'));
  assert.equal(frame.toString('hex'), JAVA_SEND.toString('hex'));
  // the checksum: CRC32C of metadataSize + metadata + payload
  assert.equal(JAVA_SEND.readUInt32BE(18), crc32cRef(JAVA_SEND.subarray(22)));
  const { command, message } = decodeSizedFrame(JAVA_SEND);
  assert.deepEqual(command, { type: BaseCommandType.SEND, send: { producerId: 1n, sequenceId: 7n } });
  assert.deepEqual(message!.metadata, SEND_METADATA);
  assert.equal(message!.payload.toString(), 'hello');
  assert.equal(message!.checksum, 0x5dbb2b14);
  assert.equal(message!.brokerEntryMetadata, undefined);
  assert.equal(message!.headersAndPayload.toString('hex'), JAVA_SEND.subarray(16).toString('hex'));
  assert.equal(message!.metadataBytes.toString('hex'), '0a017010071880d095ffbc31');
  assert.ok(checksumMatches(message!));
});

test('payload chunks: the payload is not copied, headers + payload equal the one-buffer frame', () => {
  const payload = Buffer.from('hello');
  const [headers, body] = encodePayloadCommandChunks(sendCommand({ producerId: 1n, sequenceId: 7n }), SEND_METADATA, payload);
  assert.equal(body, payload);
  assert.equal(Buffer.concat([headers, body]).toString('hex'), JAVA_SEND.toString('hex'));
});

// ---------------------------------------------------------------- broker entry metadata

const MESSAGE_CMD: BaseCommand = { type: BaseCommandType.MESSAGE, message: { consumerId: 3n, messageId: { ledgerId: 10n, entryId: 20n } } };

test('MESSAGE with broker entry metadata: known-answer bytes; the CRC does not cover it', () => {
  const frame = encodePayloadCommand(MESSAGE_CMD, SEND_METADATA, Buffer.from('hello'), {
    brokerEntryMetadata: { brokerTimestamp: 1700000000001n, index: 41n },
  });
  const want = hex(
    '0000003a' + // totalSize 58
      '0000000c' + // commandSize 12
      '0809' + '4a08' + '0803' + '1204' + '080a' + '1014' + // MESSAGE {consumer_id 3, message_id {10, 20}}
      '0e02' + // magic: broker entry metadata follows (Commands.magicBrokerEntryMetadata)
      '00000009' + // its size
      '0881d095ffbc31' + '1029' + // BrokerEntryMetadata{broker_timestamp 1700000000001, index 41}
      '0e01' + '5dbb2b14' + // same checksum as the SEND above: same metadata and payload
      '0000000c' + '0a017010071880d095ffbc31' + '68656c6c6f',
  );
  assert.equal(frame.toString('hex'), want.toString('hex'));
  const { command, message } = decodeSizedFrame(frame);
  assert.deepEqual(command, MESSAGE_CMD);
  assert.deepEqual(message!.brokerEntryMetadata, { brokerTimestamp: 1700000000001n, index: 41n });
  assert.deepEqual(message!.metadata, SEND_METADATA);
  assert.equal(message!.payload.toString(), 'hello');
  // headersAndPayload starts at the checksum magic, as the entry Pulsar stores
  assert.equal(message!.headersAndPayload.readUInt16BE(0), MAGIC_CRC32C);
});

test('broker entry metadata with only one field, and an empty one', () => {
  for (const bem of [{ index: 0n }, { brokerTimestamp: 5n }, {}]) {
    const frame = encodePayloadCommand(MESSAGE_CMD, SEND_METADATA, Buffer.from('x'), { brokerEntryMetadata: bem });
    assert.deepEqual(decodeSizedFrame(frame).message!.brokerEntryMetadata, bem);
  }
  const empty = encodePayloadCommand(MESSAGE_CMD, SEND_METADATA, Buffer.alloc(0), { brokerEntryMetadata: {} });
  assert.equal(empty.readUInt16BE(20), MAGIC_BROKER_ENTRY_METADATA);
  assert.equal(empty.readUInt32BE(22), 0);
});

test('payload frames without a checksum (protocol < v6) decode too', () => {
  const frame = encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 7n }), SEND_METADATA, Buffer.from('hello'), { checksum: false });
  assert.equal(frame.length, JAVA_SEND.length - 6);
  const { message } = decodeSizedFrame(frame);
  assert.equal(message!.checksum, undefined);
  assert.ok(checksumMatches(message!));
  assert.equal(message!.payload.toString(), 'hello');
  const withBem = encodePayloadCommand(MESSAGE_CMD, SEND_METADATA, Buffer.from('hello'), { checksum: false, brokerEntryMetadata: { index: 1n } });
  assert.deepEqual(decodeSizedFrame(withBem).message!.brokerEntryMetadata, { index: 1n });
});

test('a checksum mismatch throws PulsarChecksumError carrying the command, unless verification is off', () => {
  const bad = Buffer.from(JAVA_SEND);
  bad[bad.length - 1] ^= 1; // payload bit flip
  assert.throws(
    () => decodeSizedFrame(bad),
    (e: unknown) => e instanceof PulsarChecksumError && e instanceof PulsarProtoError && e.command.send!.sequenceId === 7n && e.expected === 0x5dbb2b14 && e.actual === crc32cRef(bad.subarray(22)),
  );
  const { message } = decodeSizedFrame(bad, { verifyChecksum: false });
  assert.equal(checksumMatches(message!), false);
  assert.equal(computeChecksum(message!), crc32cRef(bad.subarray(22)));
});

test('headersAndPayload alone (an entry): encodeMessagePayload / decodeMessagePayload', () => {
  const entry = encodeMessagePayload(SEND_METADATA, Buffer.from('hello'));
  assert.equal(entry.toString('hex'), JAVA_SEND.subarray(16).toString('hex'));
  const withBem = encodeMessagePayload(SEND_METADATA, Buffer.from('hello'), { brokerEntryMetadata: { index: 7n } });
  const p = decodeMessagePayload(withBem);
  assert.deepEqual(p.brokerEntryMetadata, { index: 7n });
  assert.ok(p.headersAndPayload.equals(entry));
  assert.ok(checksumMatches(p));
});

/** A frame from hex parts: the command and what follows it; both sizes computed. */
function frameOf(cmdHex: string, restHex = ''): Buffer {
  const cmd = hex(cmdHex);
  const rest = hex(restHex);
  const b = Buffer.alloc(8);
  b.writeUInt32BE(4 + cmd.length + rest.length, 0);
  b.writeUInt32BE(cmd.length, 4);
  return Buffer.concat([b, cmd, rest]);
}

const SEND_HEX = '0806 3204 0801 1007';

test('frame decoding errors are PulsarProtoErrors', () => {
  const cases: Array<[Buffer, RegExp]> = [
    [hex(''), /truncated frame size/],
    [hex('00000005 00000001'), /does not match/],
    [hex('00000004 00000005'), /truncated command/],
    [frameOf(''), /BaseCommand: missing required field type/],
    [frameOf('1012'), /missing required field type/],
    [frameOf(SEND_HEX), /SEND without a payload/],
    [frameOf('0809 4a08 0803 1204 080a 1014'), /MESSAGE without a payload/],
    [frameOf(SEND_HEX, '00'), /truncated message payload/],
    [frameOf(SEND_HEX, '0e01 0000'), /truncated checksum/],
    [frameOf(SEND_HEX, '0e02 000000ff 0000'), /truncated broker entry metadata/],
    [frameOf(SEND_HEX, '0e02 00000001 08'), /truncated/], // the BEM's varint is cut by its size
    [frameOf(SEND_HEX, '000000ff'), /truncated message metadata/],
    [frameOf(SEND_HEX, '0000'), /truncated metadata size/],
    [frameOf(SEND_HEX, '0e01 00000000 0000'), /truncated metadata size/],
    [frameOf(SEND_HEX, '00000002 0a01'), /exceeds/], // metadata cut inside a field
    [frameOf(SEND_HEX, '00000000'), /MessageMetadata: missing required fields producerName, sequenceId, publishTime/],
  ];
  for (const [b, re] of cases) {
    assert.throws(() => decodeSizedFrame(b), (e: unknown) => isProtoError(e) && re.test((e as Error).message), b.toString('hex'));
  }
  assert.throws(() => decodeMessagePayload(Buffer.alloc(4), 3, 2), isProtoError);
});

test('bytes after a command other than SEND / MESSAGE are ignored, as Pulsar does', () => {
  assert.deepEqual(decodeSizedFrame(frameOf('0812')), { command: { type: BaseCommandType.PING }, message: null });
  assert.deepEqual(decodeSizedFrame(frameOf('0812', 'ffffffff')), { command: { type: BaseCommandType.PING }, message: null });
});

test('encodeCommand refuses an invalid command with PulsarProtoError', () => {
  assert.throws(() => encodeCommand({ type: BaseCommandType.FLOW, flow: { consumerId: -1n, messagePermits: 1 } }), isProtoError);
});

// ---------------------------------------------------------------- splitter

function frames(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) =>
    i % 3 === 2
      ? encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: BigInt(i) }), SEND_METADATA, Buffer.alloc(i * 37, i))
      : encodeCommand(i % 2 ? pingCommand() : flowCommand({ consumerId: BigInt(i), messagePermits: 1000 })),
  );
}

test('splitter: whole frames out whatever the chunking, without the size prefix', () => {
  const all = frames(30);
  const stream = Buffer.concat(all);
  for (const chunkSize of [1, 2, 3, 5, 7, 64, 1000, stream.length]) {
    const s = new PulsarFrameSplitter();
    const out: Buffer[] = [];
    for (let i = 0; i < stream.length; i += chunkSize) out.push(...s.push(stream.subarray(i, i + chunkSize)));
    assert.equal(out.length, all.length, `chunk ${chunkSize}`);
    out.forEach((f, i) => assert.ok(f.equals(all[i]!.subarray(4)), `chunk ${chunkSize} frame ${i}`));
    assert.equal(s.buffered, 0);
    assert.deepEqual(decodeFrame(out[2]!).message!.payload, Buffer.alloc(74, 2));
  }
});

test('splitter: a frame inside one chunk is a slice of it (no copy); a partial one waits', () => {
  const [a, b] = frames(2);
  const chunk = Buffer.concat([a!, b!.subarray(0, 6)]);
  const s = new PulsarFrameSplitter();
  const out = s.push(chunk);
  assert.equal(out.length, 1);
  assert.equal(out[0]!.buffer, chunk.buffer);
  assert.equal(out[0]!.byteOffset, chunk.byteOffset + 4);
  assert.equal(s.buffered, 6);
  assert.deepEqual(s.push(Buffer.alloc(0)), []);
  const rest = s.push(b!.subarray(6));
  assert.ok(rest[0]!.equals(b!.subarray(4)));
});

test('splitter: a frame above maxFrameSize is refused (size prefix included), the limit itself is fine', () => {
  const big = encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 1n }), SEND_METADATA, Buffer.alloc(1000));
  assert.equal(new PulsarFrameSplitter(big.length).push(big).length, 1);
  const s = new PulsarFrameSplitter(big.length - 1);
  assert.throws(() => s.push(big.subarray(0, 4)), (e: unknown) => e instanceof PulsarFrameSizeError && e.frameSize === big.length && isProtoError(e));
  assert.throws(() => s.push(big), /used after a framing error/);
  // the default is Pulsar's: 5 MiB message + 10 KiB padding
  assert.equal(new PulsarFrameSplitter().maxFrameSize, maxFrameSizeFor(5 * 1024 * 1024));
  assert.equal(maxFrameSizeFor(5 * 1024 * 1024), 5 * 1024 * 1024 + 10 * 1024);
  assert.throws(() => new PulsarFrameSplitter().push(hex('ffffffff')), PulsarFrameSizeError);
});

// ---------------------------------------------------------------- batches

test('batch payload: known-answer bytes and round trip', () => {
  const batch = encodeBatch([
    { metadata: {}, payload: Buffer.from('a') },
    { metadata: { partitionKey: 'k', properties: [{ key: 'h', value: 'v' }] }, payload: Buffer.from('bc') },
    { metadata: { nullValue: true }, payload: Buffer.alloc(0) },
  ]);
  const expected =
    // [size 2][SingleMessageMetadata{payload_size 1}]["a"]
    '00000002' + '1801' + '61' +
    // {properties [{key "h", value "v"}], partition_key "k", payload_size 2}: 0a06 0a0168 120176 | 12016b | 1802
    '0000000d' + '0a060a0168120176' + '12016b' + '1802' + '6263' +
    // {payload_size 0, null_value true}
    '00000004' + '1800' + '4801';
  assert.equal(batch.toString('hex'), expected);
  const entries = decodeBatch(batch, 3);
  assert.deepEqual(
    entries.map((e) => [e.metadata, e.payload.toString()]),
    [
      [{ payloadSize: 1 }, 'a'],
      [{ properties: [{ key: 'h', value: 'v' }], partitionKey: 'k', payloadSize: 2 }, 'bc'],
      [{ payloadSize: 0, nullValue: true }, ''],
    ],
  );
  assert.equal(entries[1]!.payload.buffer, batch.buffer);
  // fewer than present: the rest is ignored, as Pulsar does
  assert.equal(decodeBatch(batch, 2).length, 2);
  assert.deepEqual(decodeBatch(Buffer.alloc(0), 0), []);
});

test('batch payload in a SEND frame', () => {
  const payload = encodeBatch([1, 2, 3].map((i) => ({ metadata: { sequenceId: BigInt(i), eventTime: 99n }, payload: Buffer.from(`m${i}`) })));
  const frame = encodePayloadCommand(sendCommand({ producerId: 1n, sequenceId: 1n, highestSequenceId: 3n, numMessages: 3 }), { ...SEND_METADATA, numMessagesInBatch: 3 }, payload);
  const { command, message } = decodeSizedFrame(frame);
  assert.equal(command.send!.numMessages, 3);
  const entries = decodeBatch(message!.payload, message!.metadata.numMessagesInBatch!);
  assert.deepEqual(entries.map((e) => e.payload.toString()), ['m1', 'm2', 'm3']);
  assert.deepEqual(entries.map((e) => e.metadata.sequenceId), [1n, 2n, 3n]);
});

test('batch decoding is bounded', () => {
  const batch = encodeBatch([{ metadata: {}, payload: Buffer.from('abc') }]);
  const bad: Array<[Buffer, number, RegExp]> = [
    [batch, 2, /cannot hold 2 messages/],
    [batch, -1, /bad batch message count/],
    [batch, 1.5, /bad batch message count/],
    [Buffer.alloc(6), 1, /missing required field payloadSize/],
    [hex('000000ff 1801 6100'), 1, /metadata of 255 bytes/],
    [hex('00000002 1805 6100'), 1, /payload of 5 bytes/],
    [hex('00000002 18ffffffff0f 61'), 1, /metadata of 2 bytes|truncated/],
    [Buffer.concat([batch, hex('00000002')]), 2, /truncated size|metadata of|cannot hold/],
    [hex('00000006 18ffffffff0f 000000'), 1, /payload of -1 bytes/],
  ];
  for (const [b, n, re] of bad) assert.throws(() => decodeBatch(b, n), (e: unknown) => isProtoError(e) && re.test((e as Error).message), `${b.toString('hex')} ${n}`);
  assert.throws(() => encodeBatch([{ metadata: { payloadSize: 2 }, payload: Buffer.from('abc') }]), /payloadSize 2 differs/);
});

// ---------------------------------------------------------------- command builders

test('command builders: each frames, decodes back to the same command, and commandBody finds its part', () => {
  const id = { ledgerId: 5n, entryId: 6n };
  const built: Array<[BaseCommand, number, string]> = [
    [connectCommand({ clientVersion: 'c', authMethodName: 'token', authData: Buffer.from('t') }), BaseCommandType.CONNECT, 'connect'],
    [authResponseCommand({ clientVersion: 'c', response: { authMethodName: 'token', authData: Buffer.from('t2') } }), BaseCommandType.AUTH_RESPONSE, 'authResponse'],
    [pingCommand(), BaseCommandType.PING, 'ping'],
    [pongCommand(), BaseCommandType.PONG, 'pong'],
    [lookupCommand({ topic: 'persistent://t/n/x', requestId: 1n, authoritative: true, advertisedListenerName: 'internal' }), BaseCommandType.LOOKUP, 'lookupTopic'],
    [partitionedMetadataCommand({ topic: 'persistent://t/n/x', requestId: 2n }), BaseCommandType.PARTITIONED_METADATA, 'partitionMetadata'],
    [producerCommand({ topic: 'persistent://t/n/x', producerId: 3n, requestId: 3n, producerAccessMode: 2, metadata: [{ key: 'a', value: 'b' }] }), BaseCommandType.PRODUCER, 'producer'],
    [sendCommand({ producerId: 3n, sequenceId: 0n, numMessages: 2 }), BaseCommandType.SEND, 'send'],
    [subscribeCommand({ topic: 't', subscription: 's', subType: CommandSubscribeSubType.Exclusive, consumerId: 4n, requestId: 4n, durable: false, startMessageId: id }), BaseCommandType.SUBSCRIBE, 'subscribe'],
    [flowCommand({ consumerId: 4n, messagePermits: 1000 }), BaseCommandType.FLOW, 'flow'],
    [seekCommand({ consumerId: 4n, requestId: 5n, messageId: id }), BaseCommandType.SEEK, 'seek'],
    [seekCommand({ consumerId: 4n, requestId: 5n, messagePublishTime: 1700000000000n }), BaseCommandType.SEEK, 'seek'],
    [getLastMessageIdCommand({ consumerId: 4n, requestId: 6n }), BaseCommandType.GET_LAST_MESSAGE_ID, 'getLastMessageId'],
    [ackCommand({ consumerId: 4n, ackType: CommandAckAckType.Individual, messageId: [id, { ...id, entryId: 7n, ackSet: [-2n] }] }), BaseCommandType.ACK, 'ack'],
    [ackCommand({ consumerId: 4n, ackType: CommandAckAckType.Cumulative, messageId: [id], requestId: 7n }), BaseCommandType.ACK, 'ack'],
    [unsubscribeCommand({ consumerId: 4n, requestId: 8n }), BaseCommandType.UNSUBSCRIBE, 'unsubscribe'],
    [closeProducerCommand({ producerId: 3n, requestId: 9n }), BaseCommandType.CLOSE_PRODUCER, 'closeProducer'],
    [closeConsumerCommand({ consumerId: 4n, requestId: 10n }), BaseCommandType.CLOSE_CONSUMER, 'closeConsumer'],
  ];
  for (const [cmd, type, field] of built) {
    assert.equal(cmd.type, type);
    assert.equal(commandField(type), field);
    const frame = encodeCommand(cmd);
    // (a SEND frame without its payload section is not a valid frame: decode the command alone)
    const back = type === BaseCommandType.SEND ? BaseCommand.decode(frame, 8) : decodeSizedFrame(frame).command;
    assert.deepEqual(back, cmd, field);
    assert.deepEqual(commandBody(back), (cmd as unknown as Record<string, unknown>)[field]);
  }
  // PING is BaseCommand{type 18, ping {}} as Pulsar writes it
  assert.equal(encodeCommand(pingCommand()).toString('hex'), '00000009' + '00000005' + '0812' + '9201' + '00');
});

test('command builders check what Pulsar requires', () => {
  assert.throws(() => seekCommand({ consumerId: 1n, requestId: 1n }), /exactly one/);
  assert.throws(() => seekCommand({ consumerId: 1n, requestId: 1n, messageId: { ledgerId: 1n, entryId: 1n }, messagePublishTime: 1n }), /exactly one/);
  assert.throws(() => ackCommand({ consumerId: 1n, ackType: CommandAckAckType.Individual }), /without a message id/);
  const id = { ledgerId: 1n, entryId: 1n };
  assert.throws(() => ackCommand({ consumerId: 1n, ackType: CommandAckAckType.Cumulative, messageId: [id, id] }), /cumulative ACK with 2/);
  assert.throws(() => commandBody({ type: BaseCommandType.LOOKUP }), (e: unknown) => isProtoError(e) && /without its lookupTopic/.test((e as Error).message));
  assert.throws(() => commandBody({ type: 999 as never }), isProtoError);
  assert.equal(commandField(1), undefined);
});
