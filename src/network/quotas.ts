/**
 * Per-principal byte-rate quotas with Kafka's semantics (KIP-13, KIP-219):
 * the rate is measured over a sliding window of `samples` one-second samples;
 * a request that pushes the rate above the quota is still answered, with
 * throttle_time_ms telling the client how long to back off, and the broker
 * stops reading from that connection for the same time (the channel is muted).
 *
 *   throttle = (observedRate - quota) / quota * windowMs
 */
export interface QuotaSettings {
  /** Bytes per second per principal; 0 = unlimited. */
  bytesPerSecond: number;
  /** Number of one-second samples in the window (Kafka quota.window.num: 11). */
  samples?: number;
  /** Longest throttle ever returned (Kafka caps it at the quota window). */
  maxThrottleMs?: number;
}

const SAMPLE_MS = 1000;

class Window {
  readonly starts: number[];
  readonly bytes: number[];
  constructor(samples: number) {
    this.starts = new Array<number>(samples).fill(-Infinity);
    this.bytes = new Array<number>(samples).fill(0);
  }
}

export class ByteRateQuota {
  private readonly windows = new Map<string, Window>();
  private readonly samples: number;
  private readonly maxThrottleMs: number;

  constructor(private readonly settings: QuotaSettings) {
    this.samples = settings.samples ?? 11;
    this.maxThrottleMs = settings.maxThrottleMs ?? this.samples * SAMPLE_MS;
  }

  get enabled(): boolean {
    return this.settings.bytesPerSecond > 0;
  }

  /** Record bytes for a principal and return how long it must be throttled (0 = not at all). */
  record(principal: string, bytes: number, now = Date.now()): number {
    const quota = this.settings.bytesPerSecond;
    if (quota <= 0) return 0;
    let w = this.windows.get(principal);
    if (!w) {
      w = new Window(this.samples);
      this.windows.set(principal, w);
    }
    const slotStart = now - (now % SAMPLE_MS);
    const i = Math.floor(now / SAMPLE_MS) % this.samples;
    if (w.starts[i] !== slotStart) {
      w.starts[i] = slotStart;
      w.bytes[i] = 0;
    }
    w.bytes[i]! += bytes;
    // Rate over the samples still inside the window; the elapsed time counts at least
    // (samples - 1) full seconds like Kafka's Rate, so a burst after idling is not over-punished.
    let total = 0;
    let oldest = now;
    for (let k = 0; k < this.samples; k++) {
      if (w.starts[k]! > now - this.samples * SAMPLE_MS) {
        total += w.bytes[k]!;
        oldest = Math.min(oldest, w.starts[k]!);
      }
    }
    const elapsedMs = Math.max(now - oldest, (this.samples - 1) * SAMPLE_MS);
    const rate = (total * 1000) / elapsedMs;
    if (rate <= quota) return 0;
    return Math.min(this.maxThrottleMs, Math.round(((rate - quota) / quota) * elapsedMs));
  }

  /** Forget principals idle for a whole window (bounded memory). */
  sweep(now = Date.now()): void {
    for (const [p, w] of this.windows) {
      if (Math.max(...w.starts) <= now - this.samples * SAMPLE_MS) this.windows.delete(p);
    }
  }
}
