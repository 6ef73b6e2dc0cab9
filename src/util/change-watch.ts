/**
 * How sources read from files follow changes (the policy files, the token revocation file): an
 * fs.watch on the directory triggers a reload after `debounceMs` of quiet, and a periodic rescan
 * every `intervalMs` catches what watching misses (network file systems, editors that replace the
 * directory entry, a watcher that failed). Watching the directory, not the file, also sees a file
 * replaced by `mv`. A watch that fails is dropped and re-established by `ensureWatching()` (the
 * owner calls it after a successful read); the rescan runs either way.
 */
import { watch, type FSWatcher } from 'node:fs';

export interface ChangeWatchOptions {
  directory: string;
  /** Only events for this file name of the directory (null names from the platform count too). */
  fileName?: string;
  debounceMs: number;
  intervalMs: number;
  /** Use fs.watch (default true); the periodic rescan runs either way. */
  useWatch?: boolean;
  /** A change may have happened: reload (called from timers; errors are the owner's to handle). */
  onChange: () => void;
  /** The watch could not be set up or failed: the periodic rescan is all that is left until it is re-established. */
  onWatchProblem: (err: Error, when: 'start' | 'running') => void;
}

export class ChangeWatch {
  private watcher: FSWatcher | null = null;
  private debounce: NodeJS.Timeout | null = null;
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly o: ChangeWatchOptions) {
    this.ensureWatching();
    this.timer = setInterval(() => o.onChange(), o.intervalMs);
    this.timer.unref();
  }

  get watching(): boolean {
    return this.watcher !== null;
  }

  /** (Re-)establish the watch if there is none. */
  ensureWatching(): void {
    if (this.o.useWatch === false || this.closed || this.watcher) return;
    try {
      const w = watch(this.o.directory, { persistent: false }, (_event, changed) => {
        if (this.o.fileName === undefined || changed === null || changed === this.o.fileName) this.schedule();
      });
      w.on('error', (err) => {
        this.o.onWatchProblem(err, 'running');
        w.close();
        if (this.watcher === w) this.watcher = null;
      });
      this.watcher = w;
    } catch (err) {
      this.o.onWatchProblem(err as Error, 'start');
    }
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = null;
    this.watcher?.close();
    this.watcher = null;
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      this.o.onChange();
    }, this.o.debounceMs);
    this.debounce.unref();
  }
}
