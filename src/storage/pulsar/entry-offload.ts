/**
 * Converting large Pulsar-format (or plain Pulsar) entries to Kafka batches off the event loop.
 *
 * The conversion of an entry (decode the Pulsar batch, encode the Kafka records, CRC32C) takes
 * time in proportion to its size: for a batch of a few MiB, milliseconds during which every other
 * connection of the gateway would wait. Entries whose uncompressed payload is at least
 * OFFLOAD_MIN_BYTES are converted by one worker thread (started on first use, unref'd, so it never
 * keeps the process alive); smaller ones stay on the event loop, where the conversion costs less
 * than the hand-over. The payload is copied once into a buffer of its own and transferred; the
 * batch comes back transferred. Should the worker fail (it exits, or cannot be started), the
 * entries it held and later ones are converted on the event loop instead: the result is the same.
 */
import { Worker } from 'node:worker_threads';
import type { MessageMetadata } from '../../pulsar/proto/index.js';
import { EntryFormatError } from './entry-compression.js';
import { pulsarEntryToBatch } from './entry-pulsar.js';

/** Entries with an uncompressed payload of at least this many bytes are converted by the worker. */
export const OFFLOAD_MIN_BYTES = 256 * 1024;

interface Pending {
  resolve(b: Buffer): void;
  reject(e: Error): void;
  fallback(): Buffer;
}

let worker: Worker | null = null;
/** Set when the worker could not be started or died: convert on the event loop from then on. */
let broken = false;
let nextId = 1;
const pending = new Map<number, Pending>();

function failAll(): void {
  worker = null;
  broken = true;
  for (const [id, p] of pending) {
    pending.delete(id);
    try {
      p.resolve(p.fallback());
    } catch (e) {
      p.reject(e as Error);
    }
  }
}

function getWorker(): Worker | null {
  if (worker || broken) return worker;
  try {
    const w = new Worker(new URL('./entry-offload-worker.js', import.meta.url));
    w.unref();
    w.on('message', (m: { id: number; batch?: Uint8Array; error?: string }) => {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      if (pending.size === 0) w.unref();
      if (m.batch) p.resolve(Buffer.from(m.batch.buffer, m.batch.byteOffset, m.batch.byteLength));
      else p.reject(new EntryFormatError(m.error ?? 'conversion failed'));
    });
    w.on('error', failAll);
    w.on('exit', failAll);
    worker = w;
  } catch {
    broken = true;
  }
  return worker;
}

/** The fields of an entry's metadata the conversion reads (the rest stays behind). */
function conversionFields(m: MessageMetadata): MessageMetadata {
  const out: Partial<MessageMetadata> = { publishTime: m.publishTime };
  if (m.numMessagesInBatch !== undefined) out.numMessagesInBatch = m.numMessagesInBatch;
  if (m.properties !== undefined) out.properties = m.properties.map((p) => ({ key: p.key, value: p.value }));
  if (m.eventTime !== undefined) out.eventTime = m.eventTime;
  if (m.partitionKey !== undefined) out.partitionKey = m.partitionKey;
  if (m.partitionKeyB64Encoded !== undefined) out.partitionKeyB64Encoded = m.partitionKeyB64Encoded;
  if (m.nullPartitionKey !== undefined) out.nullPartitionKey = m.nullPartitionKey;
  if (m.nullValue !== undefined) out.nullValue = m.nullValue;
  return out as MessageMetadata;
}

/**
 * pulsarEntryToBatch for an unencrypted entry, on the worker when the payload is large (a
 * Promise), else on the event loop (a Buffer). Errors are EntryFormatError either way.
 */
export function convertPulsarEntry(metadata: MessageMetadata, payload: Buffer, baseOffset: bigint, ours: boolean): Buffer | Promise<Buffer> {
  const here = (): Buffer => {
    try {
      return pulsarEntryToBatch(metadata, payload, baseOffset, ours);
    } catch (err) {
      if (err instanceof EntryFormatError) throw err;
      throw new EntryFormatError((err as Error).message ?? String(err), { cause: err });
    }
  };
  if (payload.length < OFFLOAD_MIN_BYTES) return here();
  const w = getWorker();
  if (!w) return here();
  const copy = Buffer.allocUnsafeSlow(payload.length);
  payload.copy(copy);
  const id = nextId++;
  return new Promise<Buffer>((resolve, reject) => {
    if (pending.size === 0) w.ref(); // a conversion in progress keeps the process alive, an idle worker does not
    pending.set(id, { resolve, reject, fallback: here });
    w.postMessage({ id, metadata: conversionFields(metadata), payload: copy, baseOffset, ours }, [copy.buffer as ArrayBuffer]);
  });
}
