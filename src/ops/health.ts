/**
 * Readiness: named checks, each answering ok or what is wrong. The gateway is
 * ready when every check passes: listeners bound and not draining (SIGTERM),
 * storage open, and for storageEngine=pulsar the broker and the admin API
 * reachable (the admin API is also where tenant policies come from).
 *
 * Checks that talk to Pulsar are probes with a short timeout; one probe runs at
 * a time and its answer is reused for `cacheMs`, so frequent probes (a load
 * balancer every second) do not turn into load on Pulsar.
 */

export interface CheckResult {
  ok: boolean;
  /** What is wrong (or a short note when ok). */
  detail?: string;
}

export type Check = () => CheckResult | Promise<CheckResult>;

export interface ReadinessReport {
  ready: boolean;
  /** Names of the failing checks. */
  notReady: string[];
  checks: Record<string, CheckResult>;
}

export class Readiness {
  private readonly checks = new Map<string, Check>();

  add(name: string, check: Check): void {
    this.checks.set(name, check);
  }

  async check(): Promise<ReadinessReport> {
    const entries = [...this.checks];
    const results = await Promise.all(
      entries.map(async ([, c]) => {
        try {
          return await c();
        } catch (err) {
          return { ok: false, detail: (err as Error).message };
        }
      }),
    );
    const checks: Record<string, CheckResult> = {};
    const notReady: string[] = [];
    entries.forEach(([name], i) => {
      checks[name] = results[i]!;
      if (!results[i]!.ok) notReady.push(name);
    });
    return { ready: notReady.length === 0, notReady, checks };
  }
}

/**
 * A check that probes something remote: at most one probe in flight, its
 * result reused for cacheMs, a probe slower than timeoutMs counts as a failure.
 */
export function probe(fn: () => Promise<unknown>, timeoutMs: number, cacheMs: number, now: () => number = Date.now): Check {
  let last: { at: number; result: CheckResult } | null = null;
  let running: Promise<CheckResult> | null = null;
  return () => {
    if (last && now() - last.at < cacheMs) return last.result;
    running ??= (async () => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<CheckResult>((resolve) => {
        timer = setTimeout(() => resolve({ ok: false, detail: `no answer within ${timeoutMs} ms` }), timeoutMs);
      });
      const attempt = fn().then(
        (): CheckResult => ({ ok: true }),
        (err: unknown): CheckResult => ({ ok: false, detail: (err as Error).message ?? String(err) }),
      );
      try {
        const result = await Promise.race([attempt, timeout]);
        last = { at: now(), result };
        return result;
      } finally {
        clearTimeout(timer);
        running = null;
      }
    })();
    return running;
  };
}
