import type { Clock } from '../../clock.ts';

/**
 * Two counters over a sliding window of `windowMs`, kept in `buckets` fixed slots so memory stays
 * constant at any call rate. Time comes from the injected clock (tests move it; never Date.now()).
 * Precision is one bucket (1 s for the 10 s windows of R3 and R5), which those limits tolerate.
 */
export function createWindowCounter(clock: Clock, windowMs: number, buckets = 10) {
  const slotMs = Math.max(1, Math.ceil(windowMs / buckets));
  const slots = Array.from({ length: buckets }, () => ({ index: Number.NEGATIVE_INFINITY, a: 0, b: 0 }));

  function current() {
    const index = Math.floor(clock.now() / slotMs);
    const slot = slots[((index % buckets) + buckets) % buckets]!;
    if (slot.index !== index) {
      slot.index = index;
      slot.a = 0;
      slot.b = 0;
    }
    return slot;
  }

  return {
    add(field: 'a' | 'b', n = 1): void {
      current()[field] += n;
    },
    totals(): { a: number; b: number } {
      const newest = Math.floor(clock.now() / slotMs);
      let a = 0;
      let b = 0;
      for (const slot of slots) {
        if (slot.index > newest - buckets && slot.index <= newest) {
          a += slot.a;
          b += slot.b;
        }
      }
      return { a, b };
    },
    reset(): void {
      for (const slot of slots) {
        slot.index = Number.NEGATIVE_INFINITY;
        slot.a = 0;
        slot.b = 0;
      }
    },
  };
}
