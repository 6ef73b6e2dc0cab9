/**
 * Retention decisions (pure): how many of the oldest segments may be deleted.
 * Whole segments only, never the active (last) one, oldest first, as Kafka's
 * UnifiedLog.deleteOldSegments does:
 *  - log start: segments entirely below the log start offset (DeleteRecords);
 *  - time: the segment's largest timestamp (file mtime when it has none) is older
 *    than now - retention.ms;
 *  - size: while the log stays above retention.bytes without the segment.
 */
export interface RetentionSegment {
  size: number;
  nextOffset: bigint;
  maxTimestamp: bigint;
  lastModifiedMs: number;
}

export interface RetentionPolicy {
  retentionMs: number;
  retentionBytes: number;
}

export function deletableSegments(segments: readonly RetentionSegment[], policy: RetentionPolicy, logStartOffset: bigint, nowMs: number): number {
  const candidates = segments.length - 1; // never the active segment
  let n = 0;
  // 1. below the log start offset
  while (n < candidates && segments[n]!.nextOffset <= logStartOffset) n++;
  // 2. time
  if (policy.retentionMs >= 0) {
    while (n < candidates) {
      const s = segments[n]!;
      const ts = s.maxTimestamp >= 0n ? Number(s.maxTimestamp) : s.lastModifiedMs;
      if (nowMs - ts > policy.retentionMs) n++;
      else break;
    }
  }
  // 3. size
  if (policy.retentionBytes >= 0) {
    let total = 0;
    for (let i = n; i < segments.length; i++) total += segments[i]!.size;
    let excess = total - policy.retentionBytes;
    while (n < candidates && excess - segments[n]!.size >= 0) {
      excess -= segments[n]!.size;
      n++;
    }
  }
  return n;
}
