/**
 * The Kafka cluster id, kept in <dataDirectory>/meta.properties like a Kafka
 * broker's, so it stays the same across restarts.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseProperties } from './config/properties.js';

const KEY = 'cluster.id';

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
  const id = randomBytes(16).toString('base64url');
  await mkdir(dataDirectory, { recursive: true });
  const tmp = `${file}.tmp`;
  await writeFile(tmp, `# written by kop-gateway\n${KEY}=${id}\nversion=1\n`, { flush: true });
  await rename(tmp, file);
  return id;
}
