/** Reconnect back-off: 100 ms, doubling up to a maximum, with +-20 % jitter (as Pulsar's Backoff). */
export class Backoff {
  private next: number;

  constructor(
    private readonly initialMs = 100,
    private readonly maxMs = 30_000,
  ) {
    this.next = initialMs;
  }

  /** The delay before the next attempt (grows each call). */
  nextDelay(): number {
    const base = this.next;
    this.next = Math.min(this.maxMs, this.next * 2);
    const jitter = base * 0.2 * (Math.random() * 2 - 1);
    return Math.max(0, Math.min(this.maxMs, Math.round(base + jitter)));
  }

  reset(): void {
    this.next = this.initialMs;
  }
}

/** A timer-based sleep that does not keep the process alive; resolves early when `signal` fires. */
export function sleep(ms: number, signal?: { aborted: boolean; onAbort(fn: () => void): void }): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref?.();
    signal?.onAbort(() => {
      clearTimeout(t);
      resolve();
    });
  });
}
