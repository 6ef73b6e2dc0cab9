/**
 * Reconnect back-off: 100 ms, doubling up to a maximum, with +-20 % jitter (as Pulsar's Backoff), and
 * a wake-up for it: producers and consumers sleeping in back-off while the broker is away return as
 * soon as the client can reach it again (the pool's WakeSignal), instead of after a delay that grew
 * during the outage (seconds, up to maxBackoffMs).
 */
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

  /**
   * Sleep `ms` (a delay this back-off gave), or until `wake` fires (backoffSleep): woken, the back-off
   * starts again from its first delay, since what the attempts waited for is back.
   */
  async sleep(ms: number, wake: WakeSignal | undefined): Promise<void> {
    if (await backoffSleep(ms, wake)) this.reset();
  }
}

/** A timer-based sleep that does not keep the process alive (reconnect back-off: backoffSleep, which a WakeSignal ends early). */
export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    t.unref?.();
  });
}

/** A broadcast to whoever sleeps in back-off now (see ConnectionPool: the service URL reachable again). */
export class WakeSignal {
  private readonly sleepers = new Set<() => void>();

  /** Call `fn` at the next fire(); the function returned unsubscribes. */
  onFire(fn: () => void): () => void {
    this.sleepers.add(fn);
    return () => this.sleepers.delete(fn);
  }

  fire(): void {
    const now = [...this.sleepers];
    this.sleepers.clear();
    for (const fn of now) fn();
  }
}

/**
 * Sleep `ms`, or until `wake` fires, then a random 0..jitterMs more (the sleepers of one outage
 * do not all return in the same millisecond). Resolves true when woken: the caller starts its
 * back-off again (a broker that is back but still loading its topics is retried after 100 ms, 200 ms, ...).
 */
export function backoffSleep(ms: number, wake: WakeSignal | undefined, jitterMs = 250): Promise<boolean> {
  return new Promise((resolve) => {
    let off = (): void => undefined;
    const t = setTimeout(() => {
      off();
      resolve(false);
    }, ms);
    t.unref?.();
    if (wake) {
      off = wake.onFire(() => {
        clearTimeout(t);
        const j = setTimeout(() => resolve(true), Math.floor(Math.random() * jitterMs));
        j.unref?.();
      });
    }
  });
}
