/**
 * In-memory notifier for Fetch long-polling: a waiter watches several keys
 * (partitions), each with the offset it has already read up to, and is woken when
 * one key's high watermark moves past that offset, when its timeout fires, or when
 * its abort signal aborts. Every exit path removes all registrations, the timer
 * and the abort listener (no leaks). Waiters always resolve, never reject.
 */
interface Watch {
  offset: bigint;
  fire: () => void;
}

export class AppendNotifier<K> {
  private readonly watches = new Map<K, Set<Watch>>();

  /** Number of keys with registered watchers (for leak tests). */
  get watchedKeys(): number {
    return this.watches.size;
  }

  /**
   * Wait until `current(key) > offset` for any entry. `current` is consulted once
   * at registration (no lost wake-ups), later changes arrive through notify().
   */
  wait(entries: Array<{ key: K; offset: bigint }>, current: (key: K) => bigint | null, timeoutMs: number, signal?: AbortSignal): Promise<void> {
    for (const e of entries) {
      const hw = current(e.key);
      if (hw === null || hw > e.offset) return Promise.resolve();
    }
    if (signal?.aborted || timeoutMs <= 0 || entries.length === 0) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const registered: Array<[K, Watch]> = [];
      let timer: NodeJS.Timeout | null = null;
      let done = false;
      const fire = (): void => {
        if (done) return;
        done = true;
        for (const [key, w] of registered) {
          const set = this.watches.get(key);
          if (set) {
            set.delete(w);
            if (set.size === 0) this.watches.delete(key);
          }
        }
        if (timer) clearTimeout(timer);
        signal?.removeEventListener('abort', fire);
        resolve();
      };
      for (const e of entries) {
        const w: Watch = { offset: e.offset, fire };
        let set = this.watches.get(e.key);
        if (!set) this.watches.set(e.key, (set = new Set()));
        set.add(w);
        registered.push([e.key, w]);
      }
      timer = setTimeout(fire, timeoutMs);
      signal?.addEventListener('abort', fire, { once: true });
    });
  }

  /** The key's high watermark is now `hw`: wake the waiters that have not seen it. */
  notify(key: K, hw: bigint): void {
    const set = this.watches.get(key);
    if (!set) return;
    for (const w of [...set]) if (hw > w.offset) w.fire();
  }

  /** Wake everyone watching the key (partition deleted or engine closing). */
  wakeAll(key: K): void {
    const set = this.watches.get(key);
    if (!set) return;
    for (const w of [...set]) w.fire();
  }

  wakeEveryone(): void {
    for (const key of [...this.watches.keys()]) this.wakeAll(key);
  }
}
