/**
 * Token revocation without waiting for expiry (docs/tokens.md#revocation): a
 * deny list of token ids (`jti`) and subjects (roles) in `tokenRevocationFile`
 * (JSON or YAML), each optionally until a time. Read at start (a file that
 * cannot be used fails the start), then watched like the policies directory
 * (fs.watch on its directory plus a rescan every policiesRefreshIntervalMs);
 * a change that cannot be parsed keeps the list in force (and says so loudly),
 * so a typo never lifts a revocation. A deleted file also keeps it: write an
 * empty list to lift every revocation.
 *
 * Applied in two places, by construction: SaslAuthenticator refuses a token on
 * the list at every authentication and re-authentication (reason "token
 * revoked: ..."), and the gateway closes open sessions the new list revokes as
 * soon as it is loaded (closeRevokedSessions, audited as session_revoked).
 *
 *   tokens:                      # jti values
 *     - 3f6c1e0a                 # revoked for good
 *     - { id: 9b2d, until: 2026-03-01T00:00:00Z }   # revoked until then (e.g. the token's exp)
 *   subjects:                    # roles (the token's role claim)
 *     - mallory
 *     - { subject: bob, until: 2026-01-02T12:00:00Z }
 */
import { ChangeWatch } from '../../util/change-watch.js';
import { readFile } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import { parseDocument } from 'yaml';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';

export class RevocationFileError extends Error {
  override name = 'RevocationFileError';
}

const MAX_FILE_BYTES = 16 * 1024 * 1024;

/** What a check looks at: the authenticated role and the token's jti. */
export interface RevocationSubject {
  role: string | null;
  tokenId?: string | null;
}

export class RevocationList {
  constructor(
    /** jti -> until (epoch ms) or Infinity */
    readonly tokens: ReadonlyMap<string, number> = new Map(),
    /** subject (role) -> until (epoch ms) or Infinity */
    readonly subjects: ReadonlyMap<string, number> = new Map(),
  ) {}

  get size(): number {
    return this.tokens.size + this.subjects.size;
  }

  /** Why this token is revoked now ("token revoked: ..."), or null. */
  check(who: RevocationSubject, now = Date.now()): string | null {
    if (this.size === 0) return null;
    if (who.tokenId) {
      const until = this.tokens.get(who.tokenId);
      if (until !== undefined && now < until) return `token revoked: jti ${JSON.stringify(who.tokenId)} is on the revocation list${untilText(until)}`;
    }
    if (who.role !== null) {
      const until = this.subjects.get(who.role);
      if (until !== undefined && now < until) return `token revoked: subject ${JSON.stringify(who.role)} is on the revocation list${untilText(until)}`;
    }
    return null;
  }
}

function untilText(until: number): string {
  return Number.isFinite(until) ? ` until ${new Date(until).toISOString()}` : '';
}

export const EMPTY_REVOCATIONS = new RevocationList();

/** Parse a revocation file's text (JSON is YAML). Throws RevocationFileError naming the entry. */
export function parseRevocationFile(text: string, file: string): RevocationList {
  const doc = parseDocument(text, { uniqueKeys: true });
  if (doc.errors.length > 0) throw new RevocationFileError(`${file}: ${doc.errors[0]!.message}`);
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return EMPTY_REVOCATIONS;
  if (typeof data !== 'object' || Array.isArray(data)) throw new RevocationFileError(`${file}: expected an object with "tokens" and/or "subjects"`);
  const obj = data as Record<string, unknown>;
  for (const k of Object.keys(obj)) if (k !== 'tokens' && k !== 'subjects') throw new RevocationFileError(`${file}: unknown key ${JSON.stringify(k)} (expected "tokens" and/or "subjects")`);
  return new RevocationList(entries(obj.tokens, 'tokens', 'id', file), entries(obj.subjects, 'subjects', 'subject', file));
}

function entries(value: unknown, key: string, idKey: string, file: string): Map<string, number> {
  const out = new Map<string, number>();
  if (value === undefined || value === null) return out;
  if (!Array.isArray(value)) throw new RevocationFileError(`${file}: ${key}: expected a list`);
  value.forEach((item: unknown, i) => {
    const where = `${file}: ${key}[${i}]`;
    let id: unknown;
    let until = Infinity;
    if (typeof item === 'string') id = item;
    else if (typeof item === 'object' && item !== null && !Array.isArray(item)) {
      const o = item as Record<string, unknown>;
      for (const k of Object.keys(o)) if (k !== idKey && k !== 'until' && k !== 'comment') throw new RevocationFileError(`${where}: unknown key ${JSON.stringify(k)} (expected ${idKey}, until, comment)`);
      id = o[idKey];
      if (o.until !== undefined) {
        const t = o.until instanceof Date ? o.until.getTime() : typeof o.until === 'string' ? Date.parse(o.until) : NaN;
        if (!Number.isFinite(t)) throw new RevocationFileError(`${where}: until: expected an ISO-8601 time, e.g. 2026-03-01T00:00:00Z`);
        until = t;
      }
    } else throw new RevocationFileError(`${where}: expected a string or { ${idKey}, until }`);
    if (typeof id !== 'string' || id === '') throw new RevocationFileError(`${where}: ${idKey}: expected a non-empty string`);
    const prev = out.get(id);
    out.set(id, prev === undefined ? until : Math.max(prev, until));
  });
  return out;
}

export interface RevocationWatcherOptions {
  logger?: Logger;
  /** Rescan period besides watching (policiesRefreshIntervalMs). */
  refreshIntervalMs?: number;
  debounceMs?: number;
}

/** The revocation list of a file, kept current. `list` is the list in force. */
export class RevocationWatcher {
  private current: RevocationList = EMPTY_REVOCATIONS;
  private text: string | null = null;
  private changes: ChangeWatch | null = null;
  private closed = false;
  private reading: Promise<void> = Promise.resolve();
  private failingLogged = '';
  private readonly listeners = new Set<(list: RevocationList) => void>();
  private readonly log: Logger;

  private constructor(
    readonly file: string,
    private readonly options: RevocationWatcherOptions,
  ) {
    this.log = options.logger ?? silentLogger();
  }

  /** Read the file (it must exist and parse) and start watching it. */
  static async open(file: string, options: RevocationWatcherOptions = {}): Promise<RevocationWatcher> {
    const w = new RevocationWatcher(file, options);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      throw new RevocationFileError(`tokenRevocationFile '${file}' cannot be read: ${(err as Error).message}`);
    }
    if (text.length > MAX_FILE_BYTES) throw new RevocationFileError(`tokenRevocationFile '${file}' is larger than ${MAX_FILE_BYTES} bytes`);
    w.current = parseRevocationFile(text, file);
    w.text = text;
    w.changes = new ChangeWatch({
      directory: dirname(file),
      fileName: basename(file),
      debounceMs: options.debounceMs ?? 50,
      intervalMs: Math.max(100, options.refreshIntervalMs ?? 10_000),
      onChange: () => void w.reload(),
      onWatchProblem: (err) => w.log.warn({ err: err.message, tokenRevocationFile: file }, 'cannot watch the token revocation file; relying on the periodic rescan'),
    });
    w.log.info({ tokenRevocationFile: file, tokens: w.current.tokens.size, subjects: w.current.subjects.size }, 'token revocation list loaded');
    return w;
  }

  get list(): RevocationList {
    return this.current;
  }

  /** Called with each new list in force; returns the unsubscribe function. */
  onChange(listener: (list: RevocationList) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Re-read now (also what the watch and the timer do); resolves when the read is done. */
  reload(): Promise<void> {
    this.reading = this.reading.then(() => this.read());
    return this.reading;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.changes?.close();
    this.listeners.clear();
    await this.reading;
  }

  private async read(): Promise<void> {
    if (this.closed) return;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
      if (text.length > MAX_FILE_BYTES) throw new Error(`larger than ${MAX_FILE_BYTES} bytes`);
    } catch (err) {
      this.failing(`cannot be read: ${(err as Error).message}`);
      return;
    }
    this.changes?.ensureWatching();
    if (text === this.text) return;
    let list: RevocationList;
    try {
      list = parseRevocationFile(text, this.file);
    } catch (err) {
      this.failing((err as Error).message);
      return;
    }
    this.failingLogged = '';
    this.text = text;
    this.current = list;
    this.log.warn({ tokenRevocationFile: this.file, tokens: list.tokens.size, subjects: list.subjects.size }, 'token revocation list changed: applied to new authentications and open sessions');
    for (const l of this.listeners) {
      try {
        l(list);
      } catch (err) {
        this.log.error({ err: (err as Error).message }, 'applying the token revocation list failed');
      }
    }
  }

  private failing(why: string): void {
    if (this.failingLogged === why) return;
    this.failingLogged = why;
    this.log.error({ tokenRevocationFile: this.file, err: why }, 'TOKEN REVOCATION FILE cannot be used: the list in force is kept (no revocation is lifted) until the file is fixed');
  }
}
