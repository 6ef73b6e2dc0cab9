/**
 * Walk the record batches of a file range with large sequential reads, never
 * trusting a length field beyond the range. Used by recovery (with CRC), the
 * clean-start tail scan, producer-state replay and timestamp lookups.
 */
import { BATCH_HEADER_SIZE, LOG_OVERHEAD, OFF_BATCH_LENGTH, checkBatch, type BatchProblem } from '../../protocol/records/batch-header.js';
import { pread } from './io.js';

export interface ScanResult {
  /** File position just after the last batch that was accepted by the scan. */
  endPosition: number;
  /** Why the scan stopped before `end`, or null (reached `end`, or the visitor stopped it). */
  problem: BatchProblem | null;
  /** True when the visitor returned false. */
  stopped: boolean;
}

/**
 * Visitor: the batch is at buf[pos, pos+size) and starts at filePosition. `buf` is
 * reused between calls: copy what you keep. Return false to stop.
 */
export type BatchVisitor = (buf: Buffer, pos: number, size: number, filePosition: number) => boolean | void;

const DEFAULT_CHUNK = 1 << 20;

export async function scanBatches(
  fd: number,
  start: number,
  end: number,
  verifyCrc: boolean,
  visit: BatchVisitor,
  chunkBytes = DEFAULT_CHUNK,
): Promise<ScanResult> {
  let buf = Buffer.allocUnsafe(Math.max(BATCH_HEADER_SIZE, Math.min(chunkBytes, Math.max(end - start, BATCH_HEADER_SIZE))));
  let filePos = start;
  while (filePos < end) {
    const want = Math.min(buf.length, end - filePos);
    const n = await pread(fd, buf, 0, want, filePos);
    const limit = n;
    let p = 0;
    const atEnd = n < want || filePos + limit >= end; // nothing more to read after this buffer
    while (p < limit) {
      if (limit - p < LOG_OVERHEAD) {
        if (atEnd) return { endPosition: filePos + p, problem: 'truncated', stopped: false };
        break; // refill from here
      }
      const problem = checkBatch(buf, p, limit, verifyCrc);
      if (problem === 'truncated') {
        const declared = buf.readInt32BE(p + OFF_BATCH_LENGTH) + LOG_OVERHEAD;
        // Torn when the batch cannot end inside the range (or the file is shorter).
        if (atEnd || filePos + p + declared > end) return { endPosition: filePos + p, problem, stopped: false };
        if (p === 0 && declared > buf.length) buf = Buffer.allocUnsafe(declared);
        break; // refill from this batch
      }
      if (problem !== null) return { endPosition: filePos + p, problem, stopped: false };
      const size = buf.readInt32BE(p + OFF_BATCH_LENGTH) + LOG_OVERHEAD;
      if (visit(buf, p, size, filePos + p) === false) return { endPosition: filePos + p + size, problem: null, stopped: true };
      p += size;
    }
    if (n < want && p === limit) {
      // The file ended before `end`, at a batch boundary.
      return { endPosition: filePos + p, problem: 'truncated', stopped: false };
    }
    filePos += p;
  }
  return { endPosition: filePos, problem: null, stopped: false };
}
