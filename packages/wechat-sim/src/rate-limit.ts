/**
 * Fixed-window counters aligned on the sim clock's minute/second boundaries, like WeChat's "retry next
 * minute" wording for 45011 (§2). Callers count only admitted calls, so exactly `limit` pass per window.
 */
export interface FixedWindow {
  /** True when `key` has used up `limit` calls in the current window. */
  isFull(key: string, limit: number): boolean;
  /** Counts one call for `key` in the current window. */
  hit(key: string): void;
  clear(): void;
}

export function createFixedWindow(now: () => number, windowMs: number): FixedWindow {
  const counts = new Map<string, number>();
  let window = Number.NaN;

  function roll(): void {
    const current = Math.floor(now() / windowMs);
    // Every entry belongs to the same window, so a new window simply drops them all: memory stays
    // bounded by the keys seen within one window.
    if (current !== window) {
      counts.clear();
      window = current;
    }
  }

  return {
    isFull(key, limit) {
      roll();
      return (counts.get(key) ?? 0) >= limit;
    },
    hit(key) {
      roll();
      counts.set(key, (counts.get(key) ?? 0) + 1);
    },
    clear: () => counts.clear(),
  };
}
