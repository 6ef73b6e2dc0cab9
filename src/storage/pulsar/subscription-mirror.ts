/**
 * Kafka consumer groups as Pulsar sees them: each group's committed position
 * on a partition is mirrored into a durable Pulsar subscription named after the
 * group on that partition's topic, so Pulsar's backlog, retention and
 * monitoring (topic stats, `pulsar-admin topics stats`) account for Kafka
 * consumers. The committed offsets themselves live in the gateway's state (the
 * truth); the mirror is best effort and lags by at most `intervalMs` per
 * (group, partition): commits are coalesced, written through the admin API
 * (create the subscription, then reset its cursor to the entry holding the
 * committed offset), and a failure is logged and retried with the next commit.
 */
import type { PulsarAdmin } from '../../pulsar/admin/types.js';
import type { MessageId } from '../../pulsar/client/types.js';
import type { EngineLogger } from '../logger.js';

export interface MirrorTarget {
  /** Pulsar topic of the partition (`...-partition-N`). */
  topic: string;
  subscription: string;
  offset: bigint;
}

interface Slot {
  pending: MirrorTarget | null;
  lastWrite: number;
  timer: NodeJS.Timeout | null;
  running: boolean;
  created: boolean;
}

export class SubscriptionMirror {
  private readonly slots = new Map<string, Slot>();
  private closed = false;
  /** Mirror writes done (tests and metrics). */
  writes = 0;

  constructor(
    private readonly admin: PulsarAdmin,
    /** The position of the entry holding `offset` (or the position after the last entry when offset = HW); null when unknown. */
    private readonly positionOf: (topic: string, offset: bigint) => Promise<MessageId | null>,
    private readonly logger: EngineLogger,
    private readonly intervalMs = 5000,
  ) {}

  committed(target: MirrorTarget): void {
    if (this.closed) return;
    const key = `${target.topic}\0${target.subscription}`;
    let slot = this.slots.get(key);
    if (!slot) this.slots.set(key, (slot = { pending: null, lastWrite: 0, timer: null, running: false, created: false }));
    slot.pending = target;
    this.schedule(slot);
  }

  private schedule(slot: Slot): void {
    if (slot.timer || slot.running || !slot.pending) return;
    const wait = Math.max(0, slot.lastWrite + this.intervalMs - Date.now());
    slot.timer = setTimeout(() => {
      slot.timer = null;
      void this.flush(slot);
    }, wait);
    slot.timer.unref();
  }

  private async flush(slot: Slot): Promise<void> {
    const t = slot.pending;
    if (!t || this.closed) return;
    slot.pending = null;
    slot.running = true;
    slot.lastWrite = Date.now();
    try {
      const at = await this.positionOf(t.topic, t.offset);
      if (at !== null) {
        if (!slot.created) {
          await this.admin.createSubscription(t.topic, t.subscription, at.ledgerId, at.entryId).catch((e: unknown) => {
            if ((e as { status?: number }).status !== 409) throw e;
          });
          slot.created = true;
        }
        await this.admin.resetCursor(t.topic, t.subscription, at.ledgerId, at.entryId);
        this.writes++;
      }
    } catch (e) {
      this.logger.warn({ err: (e as Error).message, topic: t.topic, subscription: t.subscription }, 'could not mirror a committed offset into the Pulsar subscription; retried with the next commit');
      slot.created = false;
    } finally {
      slot.running = false;
      this.schedule(slot);
    }
  }

  close(): void {
    this.closed = true;
    for (const s of this.slots.values()) if (s.timer) clearTimeout(s.timer);
    this.slots.clear();
  }
}
