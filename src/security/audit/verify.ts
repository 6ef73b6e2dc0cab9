/**
 * `kop-gateway audit verify`: proves that an audit log, or a rotated series of
 * them given oldest first, is complete and unmodified (chain.ts), and otherwise
 * names the first broken line and why. Reads line by line (any size of log).
 *
 * Outcomes (docs/audit-log.md#verifying-a-log):
 *   ok      every line is sealed, each names the line before it, every checkpoint's
 *           signature holds (with a key), and the series ends where a gateway
 *           stopped: `audit_stopped` (without a key) or a signed `stop` checkpoint
 *   broken  the first line that is not what the chain requires (changed, removed
 *           before it, reordered, spliced, cut short, or a bad signature)
 *   open    intact, but the end is not a stop: the gateway is still writing, or it
 *           crashed, or lines were cut off the end (indistinguishable from here)
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CHECKPOINT_EVENT, sha256Hex, splitSealed, splitSigned, type CheckpointKey } from './chain.js';

export interface VerifyResult {
  outcome: 'ok' | 'broken' | 'open';
  /** Sealed records checked. */
  records: number;
  /** Checkpoints seen, and how many had their signature checked. */
  checkpoints: number;
  signaturesChecked: number;
  /** Lines before the first sealed one (a log written before the chain existed). */
  unchainedPrefix: number;
  /** The first record names a predecessor not among the files (earlier files not given). */
  startsMidChain: boolean;
  /** Where it broke (broken) or where it ends (open / ok). */
  file: string | null;
  line: number | null;
  reason: string | null;
  /** The last hash verified. */
  lastHash: string | null;
}

const RECENT = 10_000;

/** Verify files in order (oldest first) as one chain; `key` checks checkpoint signatures. */
export async function verifyAuditLog(files: readonly string[], key: CheckpointKey | null = null): Promise<VerifyResult> {
  const r: VerifyResult = {
    outcome: 'ok',
    records: 0,
    checkpoints: 0,
    signaturesChecked: 0,
    unchainedPrefix: 0,
    startsMidChain: false,
    file: null,
    line: null,
    reason: null,
    lastHash: null,
  };
  /** hash -> "file:line", the most recent ones, to say where a misplaced line's predecessor is. */
  const recent = new Map<string, string>();
  let expected: string | null | undefined; // undefined: before the first sealed line
  let lastEvent: string | null = null;
  let lastCheckpointReason: string | null = null;
  let lastSigned = false;
  let where: { file: string; line: number } | null = null;
  const broken = (file: string, line: number, reason: string): VerifyResult => ({ ...r, outcome: 'broken', file, line, reason });

  for (const file of files) {
    const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
    let n = 0;
    let firstOfFile = true;
    for await (const line of lines) {
      n++;
      where = { file, line: n };
      if (line === '') return broken(file, n, 'empty line: not a record');
      let rec: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(line);
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object');
        rec = parsed as Record<string, unknown>;
      } catch {
        return broken(file, n, 'not a JSON record (cut short by a crash, or edited)');
      }
      const sealed = splitSealed(line);
      if (!sealed) {
        if (expected === undefined) {
          r.unchainedPrefix++;
          continue;
        }
        return broken(file, n, 'no hash: the record is not part of the chain (inserted, or its hash removed)');
      }
      if (sha256Hex(sealed.hashed) !== sealed.hash) return broken(file, n, "hash does not match the record's content: the record was changed");
      const prev = rec.prev;
      if (prev !== null && (typeof prev !== 'string' || !/^[0-9a-f]{64}$/.test(prev))) return broken(file, n, 'prev is missing or not a hash');
      if (expected === undefined) {
        if (prev !== null) r.startsMidChain = true;
      } else if (prev !== expected) {
        const boundary = firstOfFile && r.records > 0 ? ` (first line of ${file}: it does not continue the file before it)` : '';
        let why: string;
        if (prev === null) why = 'a new chain starts here: the records (or files) this one should follow are missing, or it comes from another log';
        else if (recent.has(prev)) why = `prev names ${recent.get(prev)}, not the line just before: records were removed between them or reordered`;
        else why = 'prev names no record before this line: records were removed before it, moved after it, or it was spliced in from another log';
        return broken(file, n, `${why}${boundary}`);
      }
      if (rec.event === CHECKPOINT_EVENT) {
        r.checkpoints++;
        const signed = splitSigned(sealed.hashed);
        if (key) {
          if (!signed) return broken(file, n, 'checkpoint without a signature');
          if (rec.keyId !== key.keyId || rec.alg !== key.alg) return broken(file, n, `checkpoint signed with another key (${String(rec.alg)} keyId ${String(rec.keyId)}; the key given is ${key.alg} keyId ${key.keyId})`);
          if (!key.verify(signed.signed, signed.sig)) return broken(file, n, 'checkpoint signature does not verify: the checkpoint (or the chain it signs) was forged');
          r.signaturesChecked++;
        }
        lastCheckpointReason = typeof rec.reason === 'string' ? rec.reason : null;
        lastSigned = key !== null;
      } else {
        lastSigned = false;
      }
      lastEvent = typeof rec.event === 'string' ? rec.event : null;
      if (recent.size >= RECENT) recent.delete(recent.keys().next().value!);
      recent.set(sealed.hash, `${file}:${n}`);
      expected = sealed.hash;
      r.lastHash = sealed.hash;
      r.records++;
      firstOfFile = false;
    }
  }
  const end = where ?? { file: files.at(-1) ?? '', line: 0 };
  if (expected === undefined) return { ...r, outcome: 'open', file: end.file, line: end.line, reason: 'no chained record: nothing to verify' };
  const endsAtStop = key ? lastSigned && lastCheckpointReason === 'stop' : lastEvent === 'audit_stopped' || (lastEvent === CHECKPOINT_EVENT && lastCheckpointReason === 'stop');
  if (!endsAtStop) {
    const what = key
      ? lastSigned
        ? `ends at a signed ${lastCheckpointReason ?? ''} checkpoint, not at a stop: the next file of the series is missing, or the gateway is still writing it`
        : `ends after line ${end.line} with records after the last signed checkpoint: the gateway is still writing, crashed, or lines were cut off the end`
      : `ends after line ${end.line} (${lastEvent ?? '?'}) without audit_stopped: the gateway is still writing, crashed, or lines were cut off the end`;
    return { ...r, outcome: 'open', file: end.file, line: end.line + 1, reason: what };
  }
  return { ...r, outcome: 'ok', file: end.file, line: end.line, reason: null };
}
