/**
 * Pulsar binary protocol frames (layout checked against Apache Pulsar's
 * pulsar-common Commands.java: serializeWithSize, serializeCommandSendWithSize,
 * serializeMetadataAndPayload, addBrokerEntryMetadata,
 * skipBrokerEntryMetadataIfExist, parseMessageMetadata):
 *
 *   simple:   [totalSize u32][commandSize u32][BaseCommand]
 *   payload:  [totalSize u32][commandSize u32][BaseCommand]
 *             ([0x0e02 u16][size u32][BrokerEntryMetadata])   MESSAGE only, broker -> client
 *             ([0x0e01 u16][CRC32C u32])                      optional (always sent by current clients)
 *             [metadataSize u32][MessageMetadata][payload]
 *
 * Sizes are big-endian; totalSize counts everything after itself; the CRC32C
 * covers metadataSize + metadata + payload (not the broker entry metadata).
 * Everything thrown while decoding is a PulsarProtoError.
 */
import { crc32c } from '@node-rs/crc32';
import { BaseCommand, BaseCommandType, BrokerEntryMetadata, MessageMetadata, ProtoWriter, PulsarProtoError } from '../proto/index.js';

export const MAGIC_CRC32C = 0x0e01;
export const MAGIC_BROKER_ENTRY_METADATA = 0x0e02;
/** Pulsar's default maxMessageSize (Commands.DEFAULT_MAX_MESSAGE_SIZE). */
export const DEFAULT_MAX_MESSAGE_SIZE = 5 * 1024 * 1024;
/** Room for command and metadata around a message of maxMessageSize (Commands.MESSAGE_SIZE_FRAME_PADDING). */
export const MESSAGE_SIZE_FRAME_PADDING = 10 * 1024;

/** Largest whole frame (size prefix included) a peer with this maxMessageSize accepts, as Pulsar's frame decoder. */
export function maxFrameSizeFor(maxMessageSize: number): number {
  return maxMessageSize + MESSAGE_SIZE_FRAME_PADDING;
}

/** A payload frame whose CRC32C does not match; carries the decoded command so the caller can answer. */
export class PulsarChecksumError extends PulsarProtoError {
  constructor(
    readonly command: BaseCommand,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`checksum mismatch: frame says 0x${expected.toString(16).padStart(8, '0')}, computed 0x${actual.toString(16).padStart(8, '0')}`);
    this.name = 'PulsarChecksumError';
  }
}

/** The part of a SEND / MESSAGE frame after the command (what Pulsar calls headersAndPayload). */
export interface MessagePayload {
  /** Present when the broker exposes broker entry metadata (MESSAGE only). */
  brokerEntryMetadata?: BrokerEntryMetadata;
  /** The stored CRC32C (unsigned); undefined when the frame has no checksum section. */
  checksum?: number;
  /** [magic][crc]?[metadataSize][metadata][payload]: the entry as Pulsar stores it, broker entry metadata excluded. */
  headersAndPayload: Buffer;
  metadata: MessageMetadata;
  /** The MessageMetadata bytes as received. */
  metadataBytes: Buffer;
  /** The (possibly compressed, possibly batched) payload. */
  payload: Buffer;
}

export interface DecodedFrame {
  command: BaseCommand;
  /** The payload section of SEND and MESSAGE; null for every other command. */
  message: MessagePayload | null;
}

export interface PayloadOptions {
  /** Write the 0x0e01 + CRC32C section (default true, as every current client). */
  checksum?: boolean;
  /** Prefix a broker entry metadata section (what a broker does on MESSAGE). */
  brokerEntryMetadata?: BrokerEntryMetadata;
}

const MAX_SIZE = 0x7fffffff; // Pulsar reads sizes as Java ints

function finishSizes(w: ProtoWriter, extra: number): Buffer {
  const buf = w.finish();
  const total = buf.length - 4 + extra;
  if (total > MAX_SIZE) throw new PulsarProtoError(`frame of ${total} bytes is too large`);
  buf.writeUInt32BE(total, 0);
  return buf;
}

/** A simple command frame: [totalSize][commandSize][BaseCommand]. */
export function encodeCommand(cmd: BaseCommand): Buffer {
  const w = new ProtoWriter(64);
  w.reserve(8);
  BaseCommand.write(w, cmd);
  const buf = finishSizes(w, 0);
  buf.writeUInt32BE(buf.length - 8, 4);
  return buf;
}

/** Writes [0x0e02][size][bem]? [0x0e01][crc]? [metadataSize][metadata]; returns where the CRC goes (-1: none) and where metadataSize is. */
function writeHeaders(w: ProtoWriter, metadata: MessageMetadata, opts: PayloadOptions): { crcAt: number; metaAt: number } {
  if (opts.brokerEntryMetadata) {
    const at = w.reserve(6);
    BrokerEntryMetadata.write(w, opts.brokerEntryMetadata);
    w.buf.writeUInt16BE(MAGIC_BROKER_ENTRY_METADATA, at);
    w.buf.writeUInt32BE(w.pos - at - 6, at + 2);
  }
  let crcAt = -1;
  if (opts.checksum !== false) {
    const at = w.reserve(6);
    w.buf.writeUInt16BE(MAGIC_CRC32C, at);
    crcAt = at + 2;
  }
  const metaAt = w.reserve(4);
  MessageMetadata.write(w, metadata);
  w.buf.writeUInt32BE(w.pos - metaAt - 4, metaAt);
  return { crcAt, metaAt };
}

/**
 * A payload command frame (SEND; MESSAGE for tests and fakes) as two chunks:
 * everything up to the metadata, and `payload` itself (not copied).
 */
export function encodePayloadCommandChunks(cmd: BaseCommand, metadata: MessageMetadata, payload: Buffer, opts: PayloadOptions = {}): [Buffer, Buffer] {
  const w = new ProtoWriter(256);
  w.reserve(8);
  BaseCommand.write(w, cmd);
  const cmdSize = w.pos - 8;
  const { crcAt, metaAt } = writeHeaders(w, metadata, opts);
  const headers = finishSizes(w, payload.length);
  headers.writeUInt32BE(cmdSize, 4);
  if (crcAt >= 0) headers.writeUInt32BE(crc32c(payload, crc32c(headers.subarray(metaAt))), crcAt);
  return [headers, payload];
}

/** encodePayloadCommandChunks as one Buffer. */
export function encodePayloadCommand(cmd: BaseCommand, metadata: MessageMetadata, payload: Buffer, opts: PayloadOptions = {}): Buffer {
  const [headers, body] = encodePayloadCommandChunks(cmd, metadata, payload, opts);
  return Buffer.concat([headers, body], headers.length + body.length);
}

/** headersAndPayload without a command: ([0x0e02]...)? ([0x0e01][crc])? [metadataSize][metadata][payload]. */
export function encodeMessagePayload(metadata: MessageMetadata, payload: Buffer, opts: PayloadOptions = {}): Buffer {
  const w = new ProtoWriter(256);
  const { crcAt, metaAt } = writeHeaders(w, metadata, opts);
  w.ensure(payload.length);
  w.buf.set(payload, w.pos);
  w.pos += payload.length;
  const buf = w.finish();
  if (crcAt >= 0) buf.writeUInt32BE(crc32c(buf.subarray(metaAt)), crcAt);
  return Buffer.from(buf);
}

function need(buf: Buffer, at: number, end: number, n: number, what: string): void {
  if (end - at < n) throw new PulsarProtoError(`truncated ${what}: need ${n} bytes at offset ${at}, have ${end - at}`);
}

/**
 * Parses headersAndPayload (region [offset, end) of buf): optional broker entry
 * metadata, optional checksum, metadata, payload. Does not verify the checksum
 * (see checksumMatches); buffers in the result are slices of `buf`.
 */
export function decodeMessagePayload(buf: Buffer, offset = 0, end = buf.length): MessagePayload {
  if (!(offset >= 0 && offset <= end && end <= buf.length)) throw new PulsarProtoError(`bad region [${offset}, ${end})`);
  let at = offset;
  let brokerEntryMetadata: BrokerEntryMetadata | undefined;
  need(buf, at, end, 2, 'message payload');
  if (buf.readUInt16BE(at) === MAGIC_BROKER_ENTRY_METADATA) {
    need(buf, at, end, 6, 'broker entry metadata');
    const size = buf.readUInt32BE(at + 2);
    at += 6;
    need(buf, at, end, size, 'broker entry metadata');
    brokerEntryMetadata = BrokerEntryMetadata.decode(buf, at, at + size);
    at += size;
  }
  const start = at;
  let checksum: number | undefined;
  need(buf, at, end, 2, 'message payload');
  if (buf.readUInt16BE(at) === MAGIC_CRC32C) {
    need(buf, at, end, 6, 'checksum');
    checksum = buf.readUInt32BE(at + 2);
    at += 6;
  }
  need(buf, at, end, 4, 'metadata size');
  const metaSize = buf.readUInt32BE(at);
  at += 4;
  need(buf, at, end, metaSize, 'message metadata');
  const metadataBytes = buf.subarray(at, at + metaSize);
  const metadata = MessageMetadata.decode(buf, at, at + metaSize);
  at += metaSize;
  const out: MessagePayload = { headersAndPayload: buf.subarray(start, end), metadata, metadataBytes, payload: buf.subarray(at, end) };
  if (brokerEntryMetadata) out.brokerEntryMetadata = brokerEntryMetadata;
  if (checksum !== undefined) out.checksum = checksum;
  return out;
}

/** CRC32C of metadataSize + metadata + payload, as the frame's checksum should be. */
export function computeChecksum(p: MessagePayload): number {
  return crc32c(p.checksum === undefined ? p.headersAndPayload : p.headersAndPayload.subarray(6));
}

/** True when the payload has no checksum section or its checksum matches. */
export function checksumMatches(p: MessagePayload): boolean {
  return p.checksum === undefined || computeChecksum(p) === p.checksum;
}

export interface DecodeFrameOptions {
  /** Verify the CRC32C of payload frames (default true): a mismatch throws PulsarChecksumError. */
  verifyChecksum?: boolean;
}

/** The command types followed by a payload section (PulsarDecoder hands the rest of the frame only to these). */
const PAYLOAD_TYPES: ReadonlySet<number> = new Set([BaseCommandType.SEND, BaseCommandType.MESSAGE]);

/**
 * Decodes one frame WITHOUT its 4-byte totalSize prefix (what PulsarFrameSplitter
 * yields): [commandSize][BaseCommand][headersAndPayload]. The payload section is
 * required after SEND and MESSAGE; after other commands, bytes are ignored as
 * Pulsar does.
 */
export function decodeFrame(body: Buffer, opts: DecodeFrameOptions = {}): DecodedFrame {
  need(body, 0, body.length, 4, 'command size');
  const cmdSize = body.readUInt32BE(0);
  need(body, 4, body.length, cmdSize, 'command');
  const command = BaseCommand.decode(body, 4, 4 + cmdSize);
  if (!PAYLOAD_TYPES.has(command.type)) return { command, message: null };
  if (4 + cmdSize === body.length) throw new PulsarProtoError(`${command.type === BaseCommandType.SEND ? 'SEND' : 'MESSAGE'} without a payload`);
  const message = decodeMessagePayload(body, 4 + cmdSize, body.length);
  if (opts.verifyChecksum !== false && message.checksum !== undefined) {
    const actual = computeChecksum(message);
    if (actual !== message.checksum) throw new PulsarChecksumError(command, message.checksum, actual);
  }
  return { command, message };
}

/** Decodes a whole frame, size prefix included (which must match the length exactly). */
export function decodeSizedFrame(frame: Buffer, opts: DecodeFrameOptions = {}): DecodedFrame {
  need(frame, 0, frame.length, 4, 'frame size');
  const total = frame.readUInt32BE(0);
  if (total !== frame.length - 4) throw new PulsarProtoError(`frame size ${total} does not match the ${frame.length - 4} bytes that follow`);
  return decodeFrame(frame.subarray(4), opts);
}
