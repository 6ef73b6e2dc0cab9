/**
 * The worker thread of entry-offload.ts: converts one Pulsar entry (uncompressed payload) to a
 * Kafka batch with pulsarEntryToBatch, off the gateway's event loop. Messages in:
 * { id, metadata (the fields the conversion reads), payload (its own ArrayBuffer, transferred),
 * baseOffset, ours }; out: { id, batch } (transferred when it owns its ArrayBuffer) or
 * { id, error } with the conversion's message (the caller throws EntryFormatError with it).
 */
import { parentPort } from 'node:worker_threads';
import type { MessageMetadata } from '../../pulsar/proto/index.js';
import { pulsarEntryToBatch } from './entry-pulsar.js';

interface Job {
  id: number;
  metadata: MessageMetadata;
  payload: Uint8Array;
  baseOffset: bigint;
  ours: boolean;
}

const port = parentPort;
if (port) {
  port.on('message', (job: Job) => {
    try {
      const payload = Buffer.from(job.payload.buffer, job.payload.byteOffset, job.payload.byteLength);
      const batch = pulsarEntryToBatch(job.metadata, payload, job.baseOffset, job.ours);
      const own = batch.byteOffset === 0 && batch.byteLength === batch.buffer.byteLength;
      port.postMessage({ id: job.id, batch }, own ? [batch.buffer as ArrayBuffer] : []);
    } catch (err) {
      port.postMessage({ id: job.id, error: (err as Error)?.message ?? String(err) });
    }
  });
}
