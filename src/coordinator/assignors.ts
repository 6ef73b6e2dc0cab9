/**
 * Server-side partition assignors of the consumer group protocol (KIP-848):
 * `uniform` (the default, Kafka's UniformAssignor) and `range` (Kafka's
 * server-side RangeAssignor). Pure functions of the members' subscriptions,
 * the topics' partition counts and the previous target assignment; the group
 * coordinator (consumer-group-protocol.ts) calls them when the group epoch
 * moves past the assignment epoch.
 *
 *  - uniform: every partition of every subscribed topic goes to one member
 *    subscribed to its topic; members' partition counts differ by at most one
 *    whenever their subscriptions allow it; a member keeps the partitions of
 *    its previous target that it still subscribes to, unless that breaks the
 *    balance (sticky), so a join or a leave moves as few partitions as it can.
 *  - range: per topic, the members subscribed to it, sorted by member id, get
 *    consecutive ranges of partitions (the first `partitions % members` one more).
 *    Members subscribed to the same topics with the same partition counts get
 *    the same partition numbers of each (co-partitioning, as Kafka's).
 *
 * Topics are resolved names; an assignment is member id -> topic -> partitions.
 */

export interface AssignorMember {
  memberId: string;
  /** Resolved names of the topics the member subscribes to. */
  topics: readonly string[];
}

/** member id -> topic -> partitions (sorted) */
export type TargetAssignment = Map<string, Map<string, number[]>>;

export interface Assignor {
  readonly name: string;
  /**
   * @param members the group's members (any order)
   * @param partitionCounts topic -> partition count; topics missing here have no partitions (yet)
   * @param previous the previous target assignment (stickiness)
   */
  assign(members: readonly AssignorMember[], partitionCounts: ReadonlyMap<string, number>, previous: TargetAssignment): TargetAssignment;
}

const byId = (a: AssignorMember, b: AssignorMember) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0);

function emptyFor(members: readonly AssignorMember[]): TargetAssignment {
  const out: TargetAssignment = new Map();
  for (const m of members) out.set(m.memberId, new Map());
  return out;
}

function add(a: Map<string, number[]>, topic: string, partition: number): void {
  let l = a.get(topic);
  if (!l) a.set(topic, (l = []));
  l.push(partition);
}

function sortAll(out: TargetAssignment): TargetAssignment {
  for (const a of out.values()) for (const l of a.values()) l.sort((x, y) => x - y);
  return out;
}

export const rangeAssignor: Assignor = {
  name: 'range',
  assign(members, partitionCounts) {
    const out = emptyFor(members);
    const byTopic = new Map<string, AssignorMember[]>();
    for (const m of members) {
      for (const t of new Set(m.topics)) {
        let l = byTopic.get(t);
        if (!l) byTopic.set(t, (l = []));
        l.push(m);
      }
    }
    for (const [topic, subs] of byTopic) {
      const n = partitionCounts.get(topic) ?? 0;
      if (n === 0) continue;
      subs.sort(byId);
      const base = Math.floor(n / subs.length);
      const extra = n % subs.length;
      let next = 0;
      subs.forEach((m, i) => {
        const count = base + (i < extra ? 1 : 0);
        for (let k = 0; k < count; k++) add(out.get(m.memberId)!, topic, next++);
      });
    }
    return sortAll(out);
  },
};

export const uniformAssignor: Assignor = {
  name: 'uniform',
  assign(members, partitionCounts, previous) {
    const sorted = [...members].sort(byId);
    const subscribed = new Map<string, Set<string>>();
    for (const m of sorted) subscribed.set(m.memberId, new Set(m.topics.filter((t) => (partitionCounts.get(t) ?? 0) > 0)));
    // partition key -> owner, and owner -> its partitions (as keys), in a stable order
    const owned = new Map<string, string[]>();
    for (const m of sorted) owned.set(m.memberId, []);
    const owner = new Map<string, string>();
    const key = (topic: string, p: number) => `${topic}\0${p}`;
    const parse = (k: string): [string, number] => {
      const i = k.lastIndexOf('\0');
      return [k.slice(0, i), Number(k.slice(i + 1))];
    };
    // Every partition to assign, in topic order.
    const all: string[] = [];
    const topics = new Set<string>();
    for (const s of subscribed.values()) for (const t of s) topics.add(t);
    for (const t of [...topics].sort()) for (let p = 0; p < partitionCounts.get(t)!; p++) all.push(key(t, p));
    // 1. Sticky: keep the previous target where the member still subscribes.
    for (const m of sorted) {
      const prev = previous.get(m.memberId);
      if (!prev) continue;
      const subs = subscribed.get(m.memberId)!;
      for (const [t, ps] of prev) {
        if (!subs.has(t)) continue;
        const n = partitionCounts.get(t)!;
        for (const p of ps) {
          const k = key(t, p);
          if (p < n && !owner.has(k)) {
            owner.set(k, m.memberId);
            owned.get(m.memberId)!.push(k);
          }
        }
      }
    }
    // 2. Homogeneous subscriptions: quotas (floor or ceil of partitions / members); shed the excess.
    const eligible = (k: string) => sorted.filter((m) => subscribed.get(m.memberId)!.has(parse(k)[0]));
    const homogeneous = sorted.length > 0 && sorted.every((m) => sameSet(subscribed.get(m.memberId)!, subscribed.get(sorted[0]!.memberId)!));
    if (homogeneous && all.length > 0) {
      const minQuota = Math.floor(all.length / sorted.length);
      let extras = all.length % sorted.length;
      // Members already above the minimum keep one extra while extras last (most-loaded first: least movement).
      const order = [...sorted].sort((a, b) => owned.get(b.memberId)!.length - owned.get(a.memberId)!.length || byId(a, b));
      const quota = new Map<string, number>();
      for (const m of order) {
        const has = owned.get(m.memberId)!.length;
        const q = has > minQuota && extras > 0 ? (extras--, minQuota + 1) : minQuota;
        quota.set(m.memberId, q);
      }
      for (const m of order) {
        if (extras > 0 && quota.get(m.memberId) === minQuota) {
          quota.set(m.memberId, minQuota + 1);
          extras--;
        }
      }
      for (const m of sorted) {
        const l = owned.get(m.memberId)!;
        const q = quota.get(m.memberId)!;
        while (l.length > q) owner.delete(l.pop()!);
      }
      const unassigned = all.filter((k) => !owner.has(k));
      let i = 0;
      for (const m of sorted) {
        const l = owned.get(m.memberId)!;
        const q = quota.get(m.memberId)!;
        while (l.length < q && i < unassigned.length) {
          const k = unassigned[i++]!;
          owner.set(k, m.memberId);
          l.push(k);
        }
      }
    } else {
      // 3. Heterogeneous: each unassigned partition to its least-loaded eligible member, then move
      //    partitions from a member to an eligible one with at least two fewer until none can move.
      for (const k of all) {
        if (owner.has(k)) continue;
        const candidates = eligible(k);
        if (candidates.length === 0) continue;
        let best = candidates[0]!;
        for (const c of candidates) if (owned.get(c.memberId)!.length < owned.get(best.memberId)!.length) best = c;
        owner.set(k, best.memberId);
        owned.get(best.memberId)!.push(k);
      }
      let moved = true;
      for (let round = 0; moved && round <= all.length; round++) {
        moved = false;
        for (const m of sorted) {
          const l = owned.get(m.memberId)!;
          for (let j = l.length - 1; j >= 0; j--) {
            const k = l[j]!;
            let target: AssignorMember | null = null;
            for (const c of eligible(k)) {
              if (owned.get(c.memberId)!.length < l.length - 1 && (target === null || owned.get(c.memberId)!.length < owned.get(target.memberId)!.length)) target = c;
            }
            if (target) {
              l.splice(j, 1);
              owned.get(target.memberId)!.push(k);
              owner.set(k, target.memberId);
              moved = true;
            }
          }
        }
      }
    }
    const out = emptyFor(members);
    for (const [k, m] of owner) {
      const [t, p] = parse(k);
      add(out.get(m)!, t, p);
    }
    return sortAll(out);
  },
};

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}

/** The assignors this gateway serves, the default first (Kafka's group.consumer.assignors order). */
export const ASSIGNORS: ReadonlyMap<string, Assignor> = new Map([
  [uniformAssignor.name, uniformAssignor],
  [rangeAssignor.name, rangeAssignor],
]);

export const DEFAULT_ASSIGNOR = uniformAssignor.name;
