/**
 * Group commit: one fdatasync per dirty file per flush round, shared by every
 * append (of any partition) that is waiting for durability.
 *
 * - flushNow(target): resolves after a sync of the target that started after the
 *   call. Callers arriving while a round is running are collected for the next
 *   round, which starts as soon as the current one ends (classic group commit:
 *   the slower the disk, the larger the groups).
 * - markDirty(target, dueMs, bytes): interval policy; the target is synced in the
 *   first round at or after dueMs, or earlier when the unflushed bytes of all
 *   targets reach `flushBytes`.
 *
 * Rounds sync their targets concurrently (different files) and never block the
 * event loop.
 */
import type { IoStats } from './io.js';

interface Waiter {
  resolve: () => void;
  reject: (err: unknown) => void;
}

export class GroupCommitter<T> {
  private pending = new Map<T, Waiter[]>();
  private readonly dirty = new Map<T, { due: number; bytes: number }>();
  private dirtyBytes = 0;
  private running = false;
  private scheduled = false;
  private timer: NodeJS.Timeout | null = null;
  private timerDue = Infinity;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(
    private readonly syncTarget: (target: T) => Promise<void>,
    private readonly stats: IoStats,
    private readonly flushBytes: number = Infinity,
  ) {}

  flushNow(target: T): Promise<void> {
    return new Promise((resolve, reject) => {
      let list = this.pending.get(target);
      if (list === undefined) this.pending.set(target, (list = []));
      list.push({ resolve, reject });
      this.schedule();
    });
  }

  markDirty(target: T, dueMs: number, bytes: number): void {
    const entry = this.dirty.get(target);
    if (entry === undefined) this.dirty.set(target, { due: dueMs, bytes });
    else {
      if (dueMs < entry.due) entry.due = dueMs;
      entry.bytes += bytes;
    }
    this.dirtyBytes += bytes;
    if (this.dirtyBytes >= this.flushBytes) {
      for (const e of this.dirty.values()) e.due = 0;
      this.schedule();
    } else {
      this.armTimer(dueMs);
    }
  }

  /** Forget a target (its file is gone); pending waiters are resolved by the next round's sync attempt. */
  forget(target: T): void {
    const entry = this.dirty.get(target);
    if (entry !== undefined) {
      this.dirtyBytes -= entry.bytes;
      this.dirty.delete(target);
    }
  }

  /** Sync everything pending or dirty now and wait for it. */
  async flushAll(): Promise<void> {
    const targets = new Set<T>([...this.dirty.keys(), ...this.pending.keys()]);
    await Promise.all([...targets].map((t) => this.flushNow(t)));
  }

  /** Resolves when no round is running or scheduled. */
  whenIdle(): Promise<void> {
    if (!this.running && !this.scheduled && this.pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.timerDue = Infinity;
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // setImmediate: let the appends whose writes complete in the same I/O phase join this round.
    setImmediate(() => {
      this.scheduled = false;
      void this.round();
    });
  }

  private armTimer(dueMs: number): void {
    if (this.stopped || dueMs >= this.timerDue) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerDue = dueMs;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        this.timerDue = Infinity;
        this.schedule();
      },
      // setTimeout turns delays above 2^31-1 ms into 1 ms: cap (the round re-arms for what is not due yet).
      Math.min(Math.max(0, dueMs - Date.now()), 0x7fffffff),
    );
    this.timer.unref();
  }

  private async round(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      const now = Date.now();
      const batch = this.pending;
      this.pending = new Map();
      const targets = new Set<T>(batch.keys());
      for (const [t, e] of this.dirty) {
        if (e.due <= now || batch.has(t)) {
          targets.add(t);
          this.dirty.delete(t);
          this.dirtyBytes -= e.bytes;
        }
      }
      if (targets.size > 0) {
        this.stats.flushRounds++;
        const started = this.stats.observeFlushRound ? performance.now() : 0;
        await Promise.all(
          [...targets].map(async (t) => {
            try {
              await this.syncTarget(t);
              for (const w of batch.get(t) ?? []) w.resolve();
            } catch (err) {
              for (const w of batch.get(t) ?? []) w.reject(err);
            }
          }),
        );
        this.stats.observeFlushRound?.((performance.now() - started) / 1000);
      }
    } finally {
      this.running = false;
    }
    if (this.pending.size > 0) {
      this.schedule();
    } else {
      let next = Infinity;
      for (const e of this.dirty.values()) if (e.due < next) next = e.due;
      if (next !== Infinity) {
        if (next <= Date.now()) this.schedule();
        else this.armTimer(next);
      }
      if (!this.scheduled) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }
}
