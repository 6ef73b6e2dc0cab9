/**
 * Durable producer id allocation for InitProducerId. Ids are handed out from a
 * block reserved on disk first (`producer-ids.json`, atomic write), so an id is
 * never reused across restarts or crashes; ids of a block not used before a
 * restart are skipped.
 */
import { join } from 'node:path';
import { readFileOrNull, writeFileAtomic, type IoStats } from './io.js';

const FILE = 'producer-ids.json';

export class ProducerIdAllocator {
  private next = 0n;
  private reservedUpTo = 0n;
  private chain: Promise<unknown> = Promise.resolve();
  private readonly path: string;

  constructor(
    dataDir: string,
    private readonly stats: IoStats,
    private readonly blockSize = 1000n,
  ) {
    this.path = join(dataDir, FILE);
  }

  async load(): Promise<void> {
    const data = await readFileOrNull(this.path);
    if (data !== null) {
      const parsed = JSON.parse(data.toString('utf8')) as { reservedUpTo?: unknown };
      if (typeof parsed.reservedUpTo !== 'string' || !/^\d+$/.test(parsed.reservedUpTo)) throw new Error(`${this.path}: bad reservedUpTo`);
      this.reservedUpTo = BigInt(parsed.reservedUpTo);
    }
    this.next = this.reservedUpTo;
  }

  allocate(): Promise<bigint> {
    const result = this.chain.then(async () => {
      if (this.next >= this.reservedUpTo) {
        const upTo = this.next + this.blockSize;
        await writeFileAtomic(this.path, JSON.stringify({ reservedUpTo: upTo.toString() }) + '\n', this.stats);
        this.reservedUpTo = upTo;
      }
      return this.next++;
    });
    this.chain = result.catch(() => undefined);
    return result;
  }
}
