/**
 * Bounded cache of open segment file descriptors, shared by all partitions.
 *
 * acquire() opens on demand and pins the descriptor (reference count); release()
 * unpins. When more than `capacity` descriptors are open, the least recently used
 * unpinned ones are closed (a sealed segment also drops its in-memory indexes).
 * A retired segment (deleted by retention, or its partition closed/deleted) is
 * closed as soon as the last user releases it, so a read in progress keeps a valid
 * descriptor even after the file was unlinked, and a descriptor number is never
 * closed under a reader (no reuse of a recycled fd).
 */
import { StorageError } from '../engine.js';
import { ErrorCode } from '../../protocol/errors.js';
import { close, open } from './io.js';
import type { Segment } from './segment.js';

export class SegmentGoneError extends StorageError {
  constructor(what: string) {
    super(ErrorCode.OFFSET_OUT_OF_RANGE, `segment ${what} was deleted`);
  }
}

export class FileCache {
  /** Open descriptors in least-recently-used order (Map keeps insertion order). */
  private readonly lru = new Map<Segment, true>();

  constructor(private readonly capacity: number) {}

  get openCount(): number {
    return this.lru.size;
  }

  async acquire(seg: Segment): Promise<number> {
    if (seg.retired) throw new SegmentGoneError(seg.logPath);
    seg.refs++;
    try {
      if (seg.fd >= 0) {
        this.lru.delete(seg);
        this.lru.set(seg, true);
        return seg.fd;
      }
      if (seg.opening === null) {
        seg.opening = open(seg.logPath, seg.sealed ? 'r' : 'r+').then(
          (fd) => {
            seg.fd = fd;
            seg.opening = null;
            this.lru.set(seg, true);
            this.evict();
            return fd;
          },
          (err: unknown) => {
            seg.opening = null;
            throw err;
          },
        );
      }
      return await seg.opening;
    } catch (err) {
      this.release(seg);
      throw err;
    }
  }

  release(seg: Segment): void {
    seg.refs--;
    if (seg.refs === 0 && (seg.retired || this.lru.size > this.capacity)) this.closeNow(seg);
  }

  /** Never hand out this segment again; close its descriptor once unused. */
  retire(seg: Segment): void {
    seg.retired = true;
    if (seg.refs === 0) this.closeNow(seg);
  }

  private evict(): void {
    if (this.lru.size <= this.capacity) return;
    for (const seg of this.lru.keys()) {
      if (this.lru.size <= this.capacity) break;
      if (seg.refs === 0) this.closeNow(seg);
    }
  }

  private closeNow(seg: Segment): void {
    if (seg.fd < 0) return;
    const fd = seg.fd;
    seg.fd = -1;
    this.lru.delete(seg);
    seg.unloadIndexes();
    close(fd).catch(() => undefined);
  }
}
