/**
 * The Kafka cluster id, kept in <dataDirectory>/meta.properties like a Kafka
 * broker's, so it stays the same across restarts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseProperties } from './config/properties.js';
import type { KeyValueStore } from './storage/engine.js';

const KEY = 'cluster.id';

/**
 * A random cluster id as Kafka makes them (16 random bytes, base64url), never
 * starting with '-': Kafka's command-line tools would read it as an option.
 */
export function newClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}

export async function loadOrCreateClusterId(dataDirectory: string): Promise<string> {
  const file = join(dataDirectory, 'meta.properties');
  try {
    const text = await readFile(file, 'utf8');
    const entry = parseProperties(text).find((e) => e.key === KEY);
    if (!entry || !/^[A-Za-z0-9_-]{22}$/.test(entry.value)) {
      throw new Error(`${file} has no valid ${KEY}; fix or remove the file`);
    }
    return entry.value;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = newClusterId();
  await mkdir(dataDirectory, { recursive: true });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `# written by kop-gateway\n${KEY}=${id}\nversion=1\n`, { flush: true });
  await rename(tmp, file);
  return id;
}

/**
 * The cluster id of gateways sharing one storage cluster (storageEngine=pulsar):
 * kept in the engine's state so every node announces the same id. The first
 * node writes it; a race between two first starts is settled by reading back.
 */
export async function loadOrCreateSharedClusterId(state: KeyValueStore): Promise<string> {
  const valid = (b: Buffer | null): string | null => {
    const v = b?.toString('utf8') ?? null;
    return v !== null && /^[A-Za-z0-9_-]{22}$/.test(v) ? v : null;
  };
  const existing = valid(await state.get('cluster', KEY));
  if (existing) return existing;
  await state.put('cluster', KEY, Buffer.from(newClusterId()));
  const id = valid(await state.get('cluster', KEY));
  if (!id) throw new Error('could not store the cluster id in the storage engine');
  return id;
}
