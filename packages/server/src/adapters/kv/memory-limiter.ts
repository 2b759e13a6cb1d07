import type { Clock } from '../../clock.ts';
import type { LimitDecision, LimitRule, RateLimiter } from './kv.types.ts';
import { assertDistinct, assertRule, type CounterRead, decide, windowOf } from './limit-window.ts';

export interface MemoryRateLimiterOptions {
  clock: Clock;
  /** Upper bound on live counters across all rules; memory stays bounded under a flood of keys. */
  maxKeys?: number;
  /** Called when a live counter had to be dropped to respect maxKeys (worth a metric: it means a flood). */
  onEvict?: () => void;
}

export type MemoryRateLimiter = RateLimiter & {
  readonly kind: 'memory';
  /** Live counters held (for tests and gauges). */
  size(): number;
};

/** The counters of one rule for its current window only: older windows can never count again. */
interface RuleWindow {
  windowId: number;
  endsAt: number;
  counts: Map<string, number>;
  /**
   * Where eviction resumes. A Map iterator survives deletions and keeps its place, so evicting the
   * oldest counters one by one stays O(1); restarting from the front each time would walk over the
   * deleted slots V8 keeps until its next rehash.
   */
  evictFrom: Iterator<string> | null;
}

/**
 * Per-process fixed-window counters: the default without Redis, and the R24 fallback when Redis is down.
 *
 * Each rule keeps a Map for its current window only. When a hit arrives in a later window the whole
 * Map is replaced, which expires every counter of the old window in O(1): no timers, no scans, and
 * nothing ever iterates all keys. Memory is bounded by maxKeys across all rules.
 */
export function createMemoryRateLimiter(options: MemoryRateLimiterOptions): MemoryRateLimiter {
  const { clock, onEvict } = options;
  const maxKeys = options.maxKeys ?? 100_000;
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1)
    throw new TypeError('maxKeys must be a positive integer');
  const windows = new Map<string, RuleWindow>();
  let size = 0;

  const idOf = (rule: LimitRule) => `${rule.name}\u0000${rule.windowMs}`;

  function windowFor(rule: LimitRule, now: number): RuleWindow {
    const current = windowOf(rule, now);
    const id = idOf(rule);
    let window = windows.get(id);
    if (!window) {
      window = { windowId: current.id, endsAt: current.endsAt, counts: new Map(), evictFrom: null };
      windows.set(id, window);
    } else if (current.id > window.windowId) {
      size -= window.counts.size;
      window.windowId = current.id;
      window.endsAt = current.endsAt;
      window.counts = new Map();
      window.evictFrom = null;
    }
    // current.id < windowId only if the clock stepped back: keep counting (never hand out a fresh budget).
    return window;
  }

  /**
   * Called only when new counters would pass maxKeys. Windows that are over go first (rules not hit
   * since); if every counter is live, the rule window ending soonest loses its oldest counters: they
   * let the fewest extra hits through, and refusing new keys instead would lock every new client out
   * during a flood of keys.
   */
  function makeRoom(needed: number, now: number): void {
    for (const [id, window] of windows) {
      if (window.endsAt > now) continue;
      size -= window.counts.size;
      windows.delete(id);
    }
    while (size + needed > maxKeys) {
      let victim: RuleWindow | null = null;
      for (const window of windows.values()) {
        if (window.counts.size > 0 && (!victim || window.endsAt < victim.endsAt)) victim = window;
      }
      if (!victim) return;
      victim.evictFrom ??= victim.counts.keys();
      let next = victim.evictFrom.next();
      if (next.done) {
        victim.evictFrom = victim.counts.keys();
        next = victim.evictFrom.next();
      }
      if (next.done) return;
      victim.counts.delete(next.value);
      size -= 1;
      onEvict?.();
    }
  }

  function hitAllNow(list: readonly LimitRule[], keyOf: (rule: LimitRule) => string): LimitDecision {
    const now = clock.now();
    const slots = list.map((rule) => {
      assertRule(rule);
      const window = windowFor(rule, now);
      const key = keyOf(rule);
      const count = window.counts.get(key);
      return {
        rule,
        window,
        key,
        endsAt: windowOf(rule, now).endsAt,
        count: count ?? 0,
        isNew: count === undefined,
      };
    });
    if (slots.length > 1) assertDistinct(slots.map((s) => `${idOf(s.rule)}\u0000${s.key}`));

    const before: CounterRead[] = slots.map((s) => ({ rule: s.rule, endsAt: s.endsAt, count: s.count }));
    if (before.some((read) => read.count >= read.rule.max)) return decide(before, false, now);

    const needed = slots.filter((s) => s.isNew).length;
    if (needed > 0 && size + needed > maxKeys) makeRoom(needed, now);
    const after: CounterRead[] = slots.map((s) => {
      // Read again: making room may have dropped a counter read above (it then restarts at 1).
      const previous = s.window.counts.get(s.key);
      if (previous === undefined) size += 1;
      const count = (previous ?? 0) + 1;
      s.window.counts.set(s.key, count);
      return { rule: s.rule, endsAt: s.endsAt, count };
    });
    return decide(after, true, now);
  }

  return {
    kind: 'memory',
    async hit(rule, key) {
      return hitAllNow([rule], () => key);
    },
    async hitAll(list, keyOf) {
      return hitAllNow(list, keyOf);
    },
    async reset(rule, key) {
      const window = windows.get(idOf(rule));
      if (window?.counts.delete(key)) size -= 1;
    },
    size: () => size,
    warmUp: async () => true,
    async close() {
      windows.clear();
      size = 0;
    },
  };
}
