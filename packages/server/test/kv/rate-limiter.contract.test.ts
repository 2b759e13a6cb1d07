import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LimitRule } from '../../src/adapters/kv/kv.types.ts';
import { createManualClock } from '../../src/clock.ts';
import { type LimiterNamespace, limiterTargets } from './limiter-targets.ts';

/** Midnight UTC: aligned to every window used below, so offsets from it are offsets into the window. */
const START = Date.UTC(2026, 0, 1);
const perMinute = (max: number, name = 'per_min'): LimitRule => ({ name, windowMs: 60_000, max });
const perHour = (max: number, name = 'per_hour'): LimitRule => ({ name, windowMs: 3_600_000, max });

describe.each(limiterTargets)('rate limiter contract on $name', (target) => {
  let ns: LimiterNamespace;
  beforeEach(() => {
    ns = target.open();
  });
  afterEach(async () => {
    await ns.close();
  });

  it('counts hits and refuses at max without counting the refused ones', async () => {
    const limiter = ns.create(createManualClock(START));
    const rule = perMinute(3);
    for (let i = 1; i <= 3; i++) {
      expect(await limiter.hit(rule, 'ip-1')).toEqual({ allowed: true, count: i, retryAfterSec: 0 });
    }
    for (let i = 0; i < 3; i++) {
      expect(await limiter.hit(rule, 'ip-1')).toEqual({ allowed: false, count: 3, retryAfterSec: 60 });
    }
  });

  it('computes Retry-After from the window end, rounded up and at least 1 s', async () => {
    const clock = createManualClock(START);
    const limiter = ns.create(clock);
    const rule = perMinute(1);
    clock.set(START + 10);
    expect((await limiter.hit(rule, 'k')).allowed).toBe(true);
    const cases: [offset: number, retryAfterSec: number][] = [
      [10, 60],
      [1_000, 59],
      [1_001, 59],
      [58_500, 2],
      [59_000, 1],
      [59_999, 1],
    ];
    for (const [offset, retryAfterSec] of cases) {
      clock.set(START + offset);
      expect(await limiter.hit(rule, 'k'), `at +${offset} ms`).toEqual({
        allowed: false,
        count: 1,
        retryAfterSec,
      });
    }
  });

  it('starts a new window exactly at the window boundary', async () => {
    const clock = createManualClock(START + 59_000);
    const limiter = ns.create(clock);
    const rule = perMinute(2);
    await limiter.hit(rule, 'k');
    await limiter.hit(rule, 'k');
    clock.set(START + 59_999);
    expect((await limiter.hit(rule, 'k')).allowed).toBe(false);
    clock.set(START + 60_000);
    expect(await limiter.hit(rule, 'k')).toEqual({ allowed: true, count: 1, retryAfterSec: 0 });
    // A fixed window, not a sliding one: two full windows back to back are allowed.
    expect(await limiter.hit(rule, 'k')).toEqual({ allowed: true, count: 2, retryAfterSec: 0 });
    clock.advance(3 * 60_000 + 1);
    expect(await limiter.hit(rule, 'k')).toEqual({ allowed: true, count: 1, retryAfterSec: 0 });
  });

  it('hitAll counts in every rule or in none', async () => {
    const limiter = ns.create(createManualClock(START));
    const tight = perMinute(2, 'tight');
    const loose = perHour(5, 'loose');
    const both = [tight, loose];
    expect(await limiter.hitAll(both, () => 'p')).toEqual({ allowed: true, count: 1, retryAfterSec: 0 });
    // Allowed: reports the rule with the least budget left (tight: 2 of 2 used).
    expect(await limiter.hitAll(both, () => 'p')).toEqual({ allowed: true, count: 2, retryAfterSec: 0 });
    expect(await limiter.hitAll(both, () => 'p')).toEqual({ allowed: false, count: 2, retryAfterSec: 60 });
    expect(await limiter.hitAll(both, () => 'p')).toMatchObject({ allowed: false });
    // The refused calls did not eat the loose budget: 2 used, so this is the 3rd.
    expect(await limiter.hit(loose, 'p')).toEqual({ allowed: true, count: 3, retryAfterSec: 0 });
  });

  it('hitAll reports the most restrictive refusing rule', async () => {
    const clock = createManualClock(START + 30_000);
    const limiter = ns.create(clock);
    const minute = perMinute(1, 'm');
    const hour = perHour(1, 'h');
    await limiter.hitAll([minute, hour], () => 'p');
    expect(await limiter.hitAll([minute, hour], () => 'p')).toEqual({
      allowed: false,
      count: 1,
      retryAfterSec: 3_600 - 30,
    });
    clock.set(START + 60_000);
    // Only the hour rule refuses now; its wait is the answer even though the minute rule is listed first.
    expect(await limiter.hitAll([minute, hour], () => 'p')).toEqual({
      allowed: false,
      count: 1,
      retryAfterSec: 3_600 - 60,
    });
    expect(await limiter.hit(minute, 'p')).toEqual({ allowed: true, count: 1, retryAfterSec: 0 });
  });

  it('hitAll keys each rule by its own key, given the original rule objects', async () => {
    const limiter = ns.create(createManualClock(START));
    const byPhone = perMinute(1, 'by_phone');
    const byIp = perHour(3, 'by_ip');
    const keyOf = (rule: LimitRule) => (rule === byPhone ? '+8613800000000' : '10.0.0.1');
    expect((await limiter.hitAll([byPhone, byIp], keyOf)).allowed).toBe(true);
    expect((await limiter.hit(byIp, '10.0.0.1')).count).toBe(2);
    expect((await limiter.hit(byPhone, '+8613800000000')).allowed).toBe(false);
    expect((await limiter.hit(byPhone, '10.0.0.1')).allowed).toBe(true);
  });

  it('hitAll of no rules allows; bad rules and duplicate counters are refused loudly', async () => {
    const limiter = ns.create(createManualClock(START));
    expect(await limiter.hitAll([], () => 'k')).toEqual({ allowed: true, count: 0, retryAfterSec: 0 });
    const rule = perMinute(3);
    await expect(limiter.hitAll([rule, rule], () => 'k')).rejects.toThrow(TypeError);
    await expect(limiter.hit({ name: 'x', windowMs: 0, max: 1 }, 'k')).rejects.toThrow(TypeError);
    await expect(limiter.hit({ name: 'x', windowMs: 1000, max: Number.NaN }, 'k')).rejects.toThrow(TypeError);
    await expect(limiter.hit({ name: 'a:b', windowMs: 1000, max: 1 }, 'k')).rejects.toThrow(TypeError);
    expect((await limiter.hit(rule, 'k')).count).toBe(1);
    expect(await limiter.hit({ name: 'closed', windowMs: 1000, max: 0 }, 'k')).toMatchObject({
      allowed: false,
    });
  });

  it('reset forgets one key under one rule only', async () => {
    const limiter = ns.create(createManualClock(START));
    const rule = perMinute(2);
    const other = perMinute(2, 'other');
    for (const key of ['a', 'b']) {
      await limiter.hit(rule, key);
      await limiter.hit(rule, key);
    }
    await limiter.hit(other, 'a');
    await limiter.reset(rule, 'a');
    await limiter.reset(rule, 'never-seen');
    expect(await limiter.hit(rule, 'a')).toEqual({ allowed: true, count: 1, retryAfterSec: 0 });
    expect((await limiter.hit(rule, 'b')).allowed).toBe(false);
    expect((await limiter.hit(other, 'a')).count).toBe(2);
  });

  it('keeps counters of different rules and keys apart', async () => {
    const limiter = ns.create(createManualClock(START));
    const a = perMinute(1, 'rule_a');
    const b = perMinute(1, 'rule_b');
    expect((await limiter.hit(a, 'k')).allowed).toBe(true);
    expect((await limiter.hit(a, 'k')).allowed).toBe(false);
    expect((await limiter.hit(b, 'k')).allowed).toBe(true);
    expect((await limiter.hit(a, 'k2')).allowed).toBe(true);
    // Keys are caller data: separators inside them must not reach another counter.
    expect((await limiter.hit(a, 'k:1')).allowed).toBe(true);
    expect((await limiter.hit(a, 'k:1:')).allowed).toBe(true);
  });

  it.runIf(target.name === 'redis')(
    'gives every Redis key a TTL of at most the window remainder + 1 s',
    async () => {
      const clock = createManualClock(START + 45_000);
      const limiter = ns.create(clock);
      await limiter.hit(perMinute(5), 'a');
      await limiter.hit(perMinute(5), 'a');
      await limiter.hitAll([perMinute(5, 'm'), perHour(5, 'h')], () => 'b');
      await limiter.hitAll([perMinute(1, 'm2'), perHour(5, 'h')], () => 'b');
      await limiter.hitAll([perMinute(1, 'm2'), perHour(5, 'h')], () => 'b'); // refused: creates nothing
      const ttls = (await ns.ttls?.()) ?? [];
      expect(ttls.map((t) => t.key.split(':').slice(-3, -1).join(':')).sort()).toEqual([
        'h:b',
        'm2:b',
        'm:b',
        'per_min:a',
      ]);
      for (const { key, pttl } of ttls) {
        const max = key.includes(':h:') ? 3_600_000 - 45_000 + 1_000 : 15_000 + 1_000;
        expect(pttl, key).toBeGreaterThan(max - 5_000);
        expect(pttl, key).toBeLessThanOrEqual(max);
      }
    },
  );

  it('allows exactly max of 200 concurrent hits', async () => {
    const limiter = ns.create(createManualClock(START));
    const rule = perMinute(50);
    const decisions = await Promise.all(Array.from({ length: 200 }, () => limiter.hit(rule, 'hot')));
    const allowed = decisions.filter((d) => d.allowed);
    expect(allowed).toHaveLength(50);
    expect(allowed.map((d) => d.count).sort((x, y) => x - y)).toEqual(
      Array.from({ length: 50 }, (_, i) => i + 1),
    );
    expect(decisions.filter((d) => !d.allowed).every((d) => d.count === 50 && d.retryAfterSec === 60)).toBe(
      true,
    );
  });

  it('allows exactly max of 200 concurrent hitAll calls, and counts only those', async () => {
    const limiter = ns.create(createManualClock(START));
    const tight = perMinute(50, 'tight');
    const loose = perHour(500, 'loose');
    const decisions = await Promise.all(
      Array.from({ length: 200 }, () => limiter.hitAll([tight, loose], () => 'hot')),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    expect((await limiter.hit(loose, 'hot')).count).toBe(51);
  });

  it.runIf(target.shared)('shares counters between two instances: 200 concurrent hits, max 50', async () => {
    const clock = createManualClock(START);
    const one = ns.create(clock);
    const two = ns.create(clock);
    const rule = perMinute(50);
    const decisions = await Promise.all(
      Array.from({ length: 200 }, (_, i) => (i % 2 === 0 ? one : two).hit(rule, 'hot')),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(50);
    expect((await two.hit(rule, 'hot')).allowed).toBe(false);
    await one.reset(rule, 'hot');
    expect((await two.hit(rule, 'hot')).count).toBe(1);
  });
});
