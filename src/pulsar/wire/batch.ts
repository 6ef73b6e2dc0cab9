/**
 * Pulsar's batch payload: when MessageMetadata has num_messages_in_batch, the
 * (uncompressed) payload is that many entries of
 *
 *   [SingleMessageMetadata size u32][SingleMessageMetadata][payload (payload_size bytes)]
 *
 * (Commands.serializeSingleMessageInBatchWithPayload / deSerializeSingleMessageInBatch).
 * Compression applies to the whole batch payload and is not handled here.
 */
import { ProtoWriter, PulsarProtoError, SingleMessageMetadata } from '../proto/index.js';

export interface BatchEntry {
  metadata: SingleMessageMetadata;
  /** A slice of the batch payload when decoded. */
  payload: Buffer;
}

/** What encodeBatch takes: payloadSize is filled in from the payload. */
export interface BatchEntryInput {
  metadata: Omit<SingleMessageMetadata, 'payloadSize'> & { payloadSize?: number };
  payload: Uint8Array;
}

/** Smallest entry: 4-byte size + payload_size (key + 1-byte varint) + empty payload. */
const MIN_ENTRY = 6;

export function encodeBatch(entries: readonly BatchEntryInput[]): Buffer {
  let total = 0;
  for (const e of entries) total += e.payload.length + 32;
  const w = new ProtoWriter(total);
  for (const e of entries) {
    if (e.metadata.payloadSize !== undefined && e.metadata.payloadSize !== e.payload.length) {
      throw new PulsarProtoError(`payloadSize ${e.metadata.payloadSize} differs from the payload's ${e.payload.length} bytes`);
    }
    const at = w.reserve(4);
    SingleMessageMetadata.write(w, { ...e.metadata, payloadSize: e.payload.length });
    w.buf.writeUInt32BE(w.pos - at - 4, at);
    w.ensure(e.payload.length);
    w.buf.set(e.payload, w.pos);
    w.pos += e.payload.length;
  }
  return Buffer.from(w.finish());
}

/**
 * Reads `numMessages` entries from a batch payload. Bytes after the last
 * entry are ignored, as Pulsar does. Every size is checked before use.
 */
export function decodeBatch(payload: Buffer, numMessages: number): BatchEntry[] {
  if (!Number.isInteger(numMessages) || numMessages < 0) throw new PulsarProtoError(`bad batch message count ${numMessages}`);
  if (numMessages > Math.floor(payload.length / MIN_ENTRY)) {
    throw new PulsarProtoError(`a ${payload.length}-byte batch payload cannot hold ${numMessages} messages`);
  }
  const out: BatchEntry[] = [];
  let at = 0;
  for (let i = 0; i < numMessages; i++) {
    if (payload.length - at < 4) throw new PulsarProtoError(`batch entry ${i}: truncated size at offset ${at}`);
    const size = payload.readUInt32BE(at);
    at += 4;
    if (size > payload.length - at) throw new PulsarProtoError(`batch entry ${i}: metadata of ${size} bytes at offset ${at} exceeds the ${payload.length - at} left`);
    const metadata = SingleMessageMetadata.decode(payload, at, at + size);
    at += size;
    const n = metadata.payloadSize;
    if (n < 0 || n > payload.length - at) throw new PulsarProtoError(`batch entry ${i}: payload of ${n} bytes at offset ${at} exceeds the ${payload.length - at} left`);
    out.push({ metadata, payload: payload.subarray(at, at + n) });
    at += n;
  }
  return out;
}
