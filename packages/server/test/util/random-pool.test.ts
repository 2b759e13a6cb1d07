import { describe, expect, it } from 'vitest';
import { createRandomPool } from '../../src/util/random-pool.ts';

describe('random pool', () => {
  it('hands out buffers of the asked length that are never the same bytes twice', () => {
    const pool = createRandomPool(64);
    const seen = new Set<string>();
    // 64-byte blocks, 16-byte draws: 250 refills, each a fresh randomFillSync.
    for (let i = 0; i < 1_000; i++) {
      const draw = pool.bytes(16);
      expect(draw).toHaveLength(16);
      seen.add(draw.toString('hex'));
    }
    expect(seen.size).toBe(1_000);
  });

  it('copies each draw out of the block, so a refill cannot change what was handed out', () => {
    const pool = createRandomPool(64);
    const first = pool.bytes(64);
    const kept = Buffer.from(first);
    const second = pool.bytes(64);
    expect(first.equals(kept)).toBe(true);
    expect(second.equals(first)).toBe(false);
  });

  it('refills rather than splitting a draw across the end of the block', () => {
    const pool = createRandomPool(64);
    pool.bytes(60);
    const straddling = pool.bytes(12);
    expect(straddling).toHaveLength(12);
    expect(pool.bytes(52)).toHaveLength(52);
  });

  it('refuses sizes it cannot serve and blocks too small to be worth it', () => {
    const pool = createRandomPool(64);
    for (const n of [0, -1, 1.5, 65, Number.NaN]) expect(() => pool.bytes(n)).toThrow(RangeError);
    expect(() => createRandomPool(16)).toThrow(RangeError);
  });
});
