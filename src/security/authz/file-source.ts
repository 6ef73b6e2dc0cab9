/**
 * Tenant policies from a directory of files (embedded engine): `<tenant>.json`,
 * `<tenant>.yaml` or `<tenant>.yml`, one per tenant, read at open and reloaded
 * on change:
 *   - fs.watch on the directory triggers a rescan after `debounceMs` of quiet;
 *   - a periodic rescan every `refreshIntervalMs` catches what watching misses
 *     (network file systems, editors that replace the directory entry, a watcher
 *     that died).
 * A file that fails validation is rejected with an error log line naming the
 * file, the path inside it and the problem; the tenant's last good policy stays
 * in force. A deleted file removes its tenant's policy (fail closed), as does a
 * vanished directory.
 */
import { ChangeWatch } from '../../util/change-watch.js';
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../../logger.js';
import { silentLogger } from '../../logger.js';
import { isPolicyFileName, MAX_POLICY_FILE_BYTES, parsePolicyText, PolicyError, tenantOfFileName, type TenantPolicy } from './policy.js';
import type { PolicyChange, PolicySource } from './source.js';

export interface FilePolicySourceOptions {
  logger?: Logger;
  /** Periodic rescan interval (config policiesRefreshIntervalMs). Default 10 s. */
  refreshIntervalMs?: number;
  /** Quiet time after a watch event before rescanning. Default 100 ms. */
  debounceMs?: number;
  /** Use fs.watch (default true); the periodic rescan runs either way. */
  watch?: boolean;
}

export const DEFAULT_REFRESH_INTERVAL_MS = 10_000;
export const DEFAULT_DEBOUNCE_MS = 100;

export interface PolicyFileStatus {
  file: string;
  tenant: string;
  /** 'ok': this file's content is the tenant's policy in force. */
  state: 'ok' | 'invalid';
  error: string | null;
}

interface FileState {
  text: string;
  policy: TenantPolicy | null;
  error: string | null;
}

/** Read one directory's policy files once (no watching): for `policies check` and the source. */
export async function readPolicyFile(path: string, expectTenant = tenantOfFileName(path)): Promise<{ text: string; policy: TenantPolicy }> {
  const st = await stat(path);
  if (!st.isFile()) throw new PolicyError(path, '', 'not a regular file');
  if (st.size > MAX_POLICY_FILE_BYTES) throw new PolicyError(path, '', `file is ${st.size} bytes; policy files are limited to ${MAX_POLICY_FILE_BYTES}`);
  const text = await readFile(path, 'utf8');
  return { text, policy: parsePolicyText(text, path, expectTenant) };
}

export class FilePolicySource implements PolicySource {
  private readonly log: Logger;
  private readonly refreshIntervalMs: number;
  private readonly debounceMs: number;
  private readonly useWatch: boolean;
  private readonly listeners = new Set<(change: PolicyChange) => void>();
  /** The policies in force, by tenant. */
  private readonly tenants = new Map<string, TenantPolicy>();
  /** Which file each tenant's policy in force came from. */
  private readonly tenantFile = new Map<string, string>();
  private readonly files = new Map<string, FileState>();
  private conflictsLogged = '';
  private dirMissingLogged = false;
  private changes: ChangeWatch | null = null;
  private current: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  private closed = false;
  private reloads = 0;

  private constructor(
    readonly directory: string,
    options: FilePolicySourceOptions,
  ) {
    this.log = options.logger ?? silentLogger();
    this.refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    this.debounceMs = options.debounceMs ?? DEFAULT_DEBOUNCE_MS;
    this.useWatch = options.watch ?? true;
  }

  /** Read the directory (which must exist) and start watching it. */
  static async open(directory: string, options: FilePolicySourceOptions = {}): Promise<FilePolicySource> {
    let st;
    try {
      st = await stat(directory);
    } catch (err) {
      throw new Error(`policiesDirectory '${directory}' cannot be read: ${(err as Error).message}`);
    }
    if (!st.isDirectory()) throw new Error(`policiesDirectory '${directory}' is not a directory`);
    const source = new FilePolicySource(directory, options);
    await source.reload();
    source.changes = new ChangeWatch({
      directory,
      debounceMs: source.debounceMs,
      intervalMs: source.refreshIntervalMs,
      useWatch: source.useWatch,
      onChange: () => void source.reload(),
      onWatchProblem: (err, when) =>
        source.log.warn(
          { err: err.message, directory },
          when === 'start' ? 'cannot watch the policy directory; relying on the periodic rescan' : 'policy directory watch failed; relying on the periodic rescan',
        ),
    });
    source.log.info(
      { directory, tenants: [...source.tenants.keys()].sort(), refreshIntervalMs: source.refreshIntervalMs, watching: source.changes.watching },
      'authorization policies loaded',
    );
    return source;
  }

  getTenant(tenant: string): TenantPolicy | null {
    return this.tenants.get(tenant) ?? null;
  }

  tenantNames(): string[] {
    return [...this.tenants.keys()].sort();
  }

  origin(tenant: string): string {
    return this.tenantFile.get(tenant) ?? `${this.directory}: no valid ${tenant}.json/.yaml/.yml`;
  }

  /** Number of completed rescans (tests). */
  get reloadCount(): number {
    return this.reloads;
  }

  status(): PolicyFileStatus[] {
    return [...this.files.entries()]
      .map(([file, s]) => {
        const tenant = tenantOfFileName(file);
        const inForce = s.policy !== null && this.tenants.get(tenant) === s.policy;
        return { file, tenant, state: inForce ? 'ok' : 'invalid', error: s.error } as PolicyFileStatus;
      })
      .sort((a, b) => a.file.localeCompare(b.file));
  }

  onChange(listener: (change: PolicyChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Rescan now. Concurrent calls share one queued rescan; each resolves after a scan that started after the call. */
  reload(): Promise<void> {
    if (this.queued) return this.queued;
    const run = this.current.then(() => {
      this.queued = null;
      return this.scan();
    });
    this.queued = run;
    this.current = run.catch((err: unknown) => {
      this.log.error({ err: (err as Error).message, directory: this.directory }, 'policy rescan failed');
    });
    return this.current;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.changes?.close();
    this.listeners.clear();
    await this.current;
  }

  private async scan(): Promise<void> {
    if (this.closed) return;
    let names: string[];
    try {
      names = (await readdir(this.directory)).filter(isPolicyFileName).sort();
      if (this.dirMissingLogged) this.log.warn({ directory: this.directory }, 'policy directory is back');
      this.dirMissingLogged = false;
      this.changes?.ensureWatching();
    } catch (err) {
      if (!this.dirMissingLogged) {
        this.log.error(
          { err: (err as Error).message, directory: this.directory },
          'policy directory cannot be read: every tenant policy is removed (fail closed) until it is back',
        );
      }
      this.dirMissingLogged = true;
      names = [];
    }

    // 1. read changed files
    const present = new Set<string>();
    for (const name of names) {
      const path = join(this.directory, name);
      let text: string;
      try {
        const st = await stat(path);
        if (!st.isFile()) continue;
        present.add(path);
        if (st.size > MAX_POLICY_FILE_BYTES) {
          text = `\0too large:${st.size}:${st.mtimeMs}`;
          if (this.files.get(path)?.text !== text) {
            this.reject(path, text, `${path}: file is ${st.size} bytes; policy files are limited to ${MAX_POLICY_FILE_BYTES}`);
          }
          continue;
        }
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          present.delete(path); // deleted between readdir and read
          continue;
        }
        present.add(path);
        const t = `\0unreadable:${(err as Error).message}`;
        if (this.files.get(path)?.text !== t) this.reject(path, t, `${path}: cannot read: ${(err as Error).message}`);
        continue;
      }
      if (this.files.get(path)?.text === text) continue;
      try {
        const policy = parsePolicyText(text, path, tenantOfFileName(path));
        this.files.set(path, { text, policy, error: null });
      } catch (err) {
        this.reject(path, text, err instanceof PolicyError ? err.message : `${path}: ${(err as Error).message}`);
      }
    }
    for (const path of [...this.files.keys()]) if (!present.has(path)) this.files.delete(path);

    // 2. decide each tenant's policy in force
    const byTenant = new Map<string, string[]>();
    for (const path of this.files.keys()) {
      const t = tenantOfFileName(path);
      byTenant.set(t, [...(byTenant.get(t) ?? []), path]);
    }
    const conflicts: string[] = [];
    const changes: PolicyChange[] = [];
    for (const [tenant, paths] of byTenant) {
      const previous = this.tenants.get(tenant);
      if (paths.length > 1) {
        conflicts.push(`tenant ${tenant} is defined by ${paths.join(' and ')}`);
        continue; // the last good policy stays in force until one file is removed
      }
      const path = paths[0]!;
      const s = this.files.get(path)!;
      if (s.policy === null) continue; // invalid: the last good one (if any) stays
      if (previous !== s.policy) {
        this.tenants.set(tenant, s.policy);
        this.tenantFile.set(tenant, path);
        changes.push({ tenant, kind: 'updated' });
        this.log.info({ tenant, file: path }, previous ? 'tenant policy reloaded' : 'tenant policy loaded');
      }
    }
    for (const tenant of [...this.tenants.keys()]) {
      if (!byTenant.has(tenant)) {
        this.tenants.delete(tenant);
        const file = this.tenantFile.get(tenant);
        this.tenantFile.delete(tenant);
        changes.push({ tenant, kind: 'removed' });
        this.log.warn({ tenant, file }, 'tenant policy removed (its file is gone): requests on the tenant are denied except for superusers');
      }
    }
    const conflictKey = conflicts.join('\n');
    if (conflictKey !== this.conflictsLogged && conflicts.length > 0) {
      for (const c of conflicts) this.log.error({ directory: this.directory }, `policy files conflict: ${c}; remove one (the last good policy stays in force)`);
    }
    this.conflictsLogged = conflictKey;
    this.reloads++;
    for (const change of changes) {
      for (const l of this.listeners) {
        try {
          l(change);
        } catch {
          // a listener's failure must not stop a reload
        }
      }
    }
  }

  private reject(path: string, text: string, message: string): void {
    const tenant = tenantOfFileName(path);
    const inForce = this.tenants.has(tenant);
    this.files.set(path, { text, policy: null, error: message });
    this.log.error(
      { file: path, tenant, error: message },
      inForce
        ? `policy file rejected: ${message}; the last good policy of tenant ${tenant} stays in force`
        : `policy file rejected: ${message}; tenant ${tenant} has no policy (requests on it are denied except for superusers)`,
    );
  }
}
