import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createRateLimiter } from '../../src/adapters/kv/create-rate-limiter.ts';
import { createFallbackRateLimiter } from '../../src/adapters/kv/fallback-limiter.ts';
import { KvUnavailableError, type LimitRule, type RateLimiter } from '../../src/adapters/kv/kv.types.ts';
import { createMemoryRateLimiter } from '../../src/adapters/kv/memory-limiter.ts';
import { createRedisRateLimiter } from '../../src/adapters/kv/redis-limiter.ts';
import { createManualClock } from '../../src/clock.ts';

const START = Date.UTC(2026, 0, 1);
const refresh: LimitRule = { name: 'refresh_ip', windowMs: 60_000, max: 50 };

/** A primary that is always down, without the timing of a real socket. */
function downLimiter(): RateLimiter {
  const fail = async (): Promise<never> => {
    throw new KvUnavailableError({ cause: new Error('down') });
  };
  return {
    kind: 'redis',
    hit: fail,
    hitAll: fail,
    reset: fail,
    warmUp: async () => false,
    close: async () => {},
  };
}

async function allowedOf(limiter: RateLimiter, rule: LimitRule, key: string, tries: number): Promise<number> {
  let allowed = 0;
  for (let i = 0; i < tries; i++) if ((await limiter.hit(rule, key)).allowed) allowed += 1;
  return allowed;
}

describe('fallback limiter (R24: refresh and login keep working at 10 %)', () => {
  it('allows floor(max × 0.1) per window on a dead Redis and reports each fallback', async () => {
    const clock = createManualClock(START);
    let fallbacks = 0;
    const limiter = createFallbackRateLimiter({
      primary: createRedisRateLimiter({ redis: 'redis://127.0.0.1:1', clock }),
      fallback: createMemoryRateLimiter({ clock }),
      onFallback: () => {
        fallbacks += 1;
      },
    });
    try {
      expect(limiter.kind).toBe('redis');
      expect(await allowedOf(limiter, refresh, '10.0.0.1', 20)).toBe(5);
      expect(fallbacks).toBe(20);
      expect(await limiter.hit(refresh, '10.0.0.1')).toEqual({ allowed: false, count: 5, retryAfterSec: 60 });
      expect(await allowedOf(limiter, refresh, '10.0.0.2', 20)).toBe(5);
      clock.advance(60_000);
      expect(await allowedOf(limiter, refresh, '10.0.0.1', 20)).toBe(5);
    } finally {
      await limiter.close();
    }
  });

  it('never scales a limit to zero, and honours another scale', async () => {
    const clock = createManualClock(START);
    const limiter = createFallbackRateLimiter({
      primary: downLimiter(),
      fallback: createMemoryRateLimiter({ clock }),
    });
    expect(await allowedOf(limiter, { name: 'few', windowMs: 60_000, max: 5 }, 'k', 5)).toBe(1);
    expect(await allowedOf(limiter, { name: 'none', windowMs: 60_000, max: 0 }, 'k', 5)).toBe(0);
    const half = createFallbackRateLimiter({
      primary: downLimiter(),
      fallback: createMemoryRateLimiter({ clock }),
      scale: 0.5,
    });
    expect(await allowedOf(half, refresh, 'k', 50)).toBe(25);
    expect(() =>
      createFallbackRateLimiter({ primary: downLimiter(), fallback: downLimiter(), scale: 0 }),
    ).toThrow();
  });

  it('scales every rule of hitAll and passes the original rules to the key function', async () => {
    const clock = createManualClock(START);
    const limiter = createFallbackRateLimiter({
      primary: downLimiter(),
      fallback: createMemoryRateLimiter({ clock }),
    });
    const perIp: LimitRule = { name: 'login_ip', windowMs: 60_000, max: 60 };
    const perUser: LimitRule = { name: 'login_user', windowMs: 60_000, max: 20 };
    const seen = new Set<LimitRule>();
    const keyOf = (rule: LimitRule) => {
      seen.add(rule);
      return rule === perIp ? 'ip' : 'user';
    };
    const decisions = await Promise.all(
      Array.from({ length: 10 }, () => limiter.hitAll([perIp, perUser], keyOf)),
    );
    expect(decisions.filter((d) => d.allowed)).toHaveLength(2);
    expect([...seen].every((rule) => rule === perIp || rule === perUser)).toBe(true);
  });

  it('uses the primary while it answers, and rethrows errors that are not outages', async () => {
    const clock = createManualClock(START);
    const limiter = createFallbackRateLimiter({
      primary: createMemoryRateLimiter({ clock }),
      fallback: createMemoryRateLimiter({ clock }),
      onFallback: () => {
        throw new Error('unexpected fallback');
      },
    });
    expect(await allowedOf(limiter, refresh, 'k', 60)).toBe(50);
    await expect(limiter.hit({ name: 'bad', windowMs: -1, max: 1 }, 'k')).rejects.toThrow(TypeError);
  });

  it('reset clears the fallback counter even while the primary is down', async () => {
    const clock = createManualClock(START);
    const limiter = createFallbackRateLimiter({
      primary: downLimiter(),
      fallback: createMemoryRateLimiter({ clock }),
    });
    expect(await allowedOf(limiter, refresh, 'k', 10)).toBe(5);
    await limiter.reset(refresh, 'k');
    expect(await allowedOf(limiter, refresh, 'k', 10)).toBe(5);
  });
});

describe('memory limiter bounds', () => {
  it('sweeps expired counters lazily, without a timer', async () => {
    const clock = createManualClock(START);
    const limiter = createMemoryRateLimiter({ clock });
    for (let i = 0; i < 1_000; i++) await limiter.hit(refresh, `ip-${i}`);
    expect(limiter.size()).toBe(1_000);
    clock.advance(60_000);
    await limiter.hit(refresh, 'ip-new');
    expect(limiter.size()).toBe(1);
  });

  it('keeps counting when the clock steps back, never handing out a fresh budget', async () => {
    const clock = createManualClock(START + 61_000);
    const limiter = createMemoryRateLimiter({ clock });
    const rule: LimitRule = { name: 'step', windowMs: 60_000, max: 2 };
    await limiter.hit(rule, 'k');
    await limiter.hit(rule, 'k');
    clock.set(START + 59_000); // NTP stepped the clock back across the window boundary
    expect(await limiter.hit(rule, 'k')).toEqual({ allowed: false, count: 2, retryAfterSec: 1 });
  });

  it('never holds more than maxKeys counters; drops the ones closest to expiry first', async () => {
    const clock = createManualClock(START);
    let evicted = 0;
    const limiter = createMemoryRateLimiter({ clock, maxKeys: 100, onEvict: () => (evicted += 1) });
    const hour: LimitRule = { name: 'hour', windowMs: 3_600_000, max: 1 };
    await limiter.hit(hour, 'long-lived');
    for (let i = 0; i < 1_000; i++) {
      await limiter.hit(refresh, `ip-${i}`);
      expect(limiter.size()).toBeLessThanOrEqual(100);
    }
    expect(evicted).toBe(901);
    // The hour counter expires last, so it survived the flood of minute counters.
    expect((await limiter.hit(hour, 'long-lived')).allowed).toBe(false);
    // Expired counters are reclaimed before any live one is dropped.
    clock.advance(60_000);
    await limiter.hit(refresh, 'after');
    expect(limiter.size()).toBe(2);
    expect(evicted).toBe(901);
  });
});

describe('createRateLimiter', () => {
  it('builds memory without a URL and Redis with one; counts decisions on the app registry', async () => {
    const registry = new Registry();
    const clock = createManualClock(START);
    const memory = await createRateLimiter({ clock, metrics: { registry } });
    const redis = await createRateLimiter({ clock, redisUrl: 'redis://127.0.0.1:1', metrics: { registry } });
    try {
      expect(memory.kind).toBe('memory');
      expect(redis.kind).toBe('redis');
      const rule: LimitRule = { name: 'sms_send_phone_60s', windowMs: 60_000, max: 1 };
      await memory.hit(rule, 'p');
      await memory.hit(rule, 'p');
      await expect(redis.hit(rule, 'p')).rejects.toBeInstanceOf(KvUnavailableError);
      const decisions = await registry.getSingleMetric('wxauth_rate_limit_decisions_total')!.get();
      expect(
        decisions.values.map((v) => `${v.labels.rules} ${v.labels.store} ${v.labels.outcome} ${v.value}`),
      ).toEqual([
        'sms_send_phone_60s memory allowed 1',
        'sms_send_phone_60s memory refused 1',
        'sms_send_phone_60s redis unavailable 1',
      ]);
    } finally {
      await memory.close();
      await redis.close();
    }
  });
});
