import { describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { createTokenBucket, QUIET_MS, type Sleep } from '../../src/jobs/token-bucket.ts';

/**
 * The pacing under the session-key job (R4, R7), on a manual clock: a sleep moves time, and a "stall"
 * moves it further than asked, as a busy event loop or a descheduled process would.
 */
function setup(rate: number, stallEvery = 0, stallMs = 0) {
  const clock = createManualClock(Date.UTC(2026, 0, 1, 0, 0, 0, 0));
  let sleeps = 0;
  const sleep: Sleep = async (ms) => {
    sleeps++;
    clock.advance(ms + (stallEvery > 0 && sleeps % stallEvery === 0 ? stallMs : 0));
  };
  const bucket = createTokenBucket({ rate, clock, sleep });
  /** Takes `n` tokens one after another; returns when each was granted. */
  const takeMany = async (n: number) => {
    const at: number[] = [];
    for (let i = 0; i < n; i++) {
      expect(await bucket.take()).toBe(true);
      at.push(clock.now());
    }
    return at;
  };
  return { clock, bucket, takeMany };
}

function perSecond(at: readonly number[]): Map<number, number> {
  const counts = new Map<number, number>();
  for (const t of at) counts.set(Math.floor(t / 1000), (counts.get(Math.floor(t / 1000)) ?? 0) + 1);
  return counts;
}

describe('job token bucket', () => {
  it('never lets more than the rate out in a calendar second, none in its quiet tail, and keeps the rate', async () => {
    const { takeMany } = setup(1000);
    const at = await takeMany(10_000);
    expect(Math.max(...perSecond(at).values())).toBe(1000);
    expect(at.filter((t) => t % 1000 >= 1000 - QUIET_MS)).toEqual([]);
    // The whole rate, not the rate less the quiet tail: 10,000 calls in about ten seconds.
    expect(at.at(-1)! - at[0]!).toBeLessThanOrEqual(10_000);
    expect(at.at(-1)! - at[0]!).toBeGreaterThan(8_800);
  });

  it('spreads the calls over the second instead of sending them at once', async () => {
    const { takeMany } = setup(200);
    const at = await takeMany(600);
    const per100ms = new Map<number, number>();
    for (const t of at) per100ms.set(Math.floor(t / 100), (per100ms.get(Math.floor(t / 100)) ?? 0) + 1);
    // 200/s over 900 ms is about 22 per 100 ms; the burst after the quiet tail adds about 11.
    expect(Math.max(...per100ms.values())).toBeLessThanOrEqual(40);
  });

  it('keeps to the cap when stalls let several waiters go at once', async () => {
    const { takeMany } = setup(500, 7, 180);
    const at = await takeMany(5_000);
    expect(Math.max(...perSecond(at).values())).toBeLessThanOrEqual(500);
    expect(at.filter((t) => t % 1000 >= 1000 - QUIET_MS)).toEqual([]);
  });

  it('follows a lowered rate from the next call, and allows at least one call a second below 1/s', async () => {
    const { bucket, takeMany } = setup(100);
    await takeMany(150);
    bucket.setRate(10);
    const slow = await takeMany(50);
    expect(Math.max(...perSecond(slow.slice(5)).values())).toBeLessThanOrEqual(10);
    bucket.setRate(0.5);
    const slower = await takeMany(4);
    expect(slower.at(-1)! - slower[0]!).toBeGreaterThanOrEqual(5_000);
  });

  it('lets nothing out before a pause ends, then starts with one call, not a burst', async () => {
    const { clock, bucket, takeMany } = setup(100);
    await takeMany(10);
    const until = clock.now() + 60_000;
    bucket.pauseUntil(until);
    const after = await takeMany(20);
    expect(after[0]!).toBeGreaterThanOrEqual(until);
    expect(after.filter((t) => t === after[0]).length).toBe(1);
  });

  it('stops waiting when the signal aborts', async () => {
    const { bucket } = setup(1);
    const controller = new AbortController();
    expect(await bucket.take(controller.signal)).toBe(true);
    controller.abort();
    expect(await bucket.take(controller.signal)).toBe(false);
  });

  it('rejects a rate that is not a positive number', () => {
    const { bucket } = setup(1);
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY])
      expect(() => bucket.setRate(bad)).toThrow(RangeError);
  });
});
