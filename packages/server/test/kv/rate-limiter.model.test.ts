import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LimitDecision, LimitRule, RateLimiter } from '../../src/adapters/kv/kv.types.ts';
import { createManualClock } from '../../src/clock.ts';
import { type LimiterNamespace, limiterTargets } from './limiter-targets.ts';

type Command =
  | { type: 'advance'; ms: number }
  | { type: 'hit'; rule: 0 | 1; key: number }
  | { type: 'hitAll'; key: number }
  | { type: 'reset'; rule: 0 | 1; key: number };

const command: fc.Arbitrary<Command> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({ type: fc.constant('advance'), ms: fc.integer({ min: 0, max: 2_500 }) }),
  },
  {
    weight: 6,
    arbitrary: fc.record({ type: fc.constant('hit'), rule: fc.constantFrom(0, 1), key: fc.nat(2) }),
  },
  { weight: 3, arbitrary: fc.record({ type: fc.constant('hitAll'), key: fc.nat(2) }) },
  {
    weight: 1,
    arbitrary: fc.record({ type: fc.constant('reset'), rule: fc.constantFrom(0, 1), key: fc.nat(2) }),
  },
);

/**
 * The model: one plain counter per (rule, key) tagged with its window id, nothing else. The real
 * limiter must give the same decision for every command, and (a separate, model-free check) no
 * window of any counter may ever see more than max allowed hits between resets.
 */
function createModel(rules: readonly LimitRule[]) {
  const counters = new Map<string, { window: number; count: number }>();
  const read = (r: number, key: number, now: number) => {
    const rule = rules[r]!;
    const window = Math.floor(now / rule.windowMs);
    const counter = counters.get(`${r}/${key}`);
    const count = counter?.window === window ? counter.count : 0;
    const retryAfterSec = Math.max(1, Math.ceil(((window + 1) * rule.windowMs - now) / 1000));
    return { window, count, full: count >= rule.max, retryAfterSec };
  };
  return {
    hitAll(ruleIds: readonly number[], key: number, now: number): LimitDecision {
      const reads = ruleIds.map((r) => read(r, key, now));
      const refusing = reads.filter((x) => x.full);
      if (refusing.length > 0) {
        const worst = refusing.reduce((a, b) => (b.retryAfterSec > a.retryAfterSec ? b : a));
        return { allowed: false, count: worst.count, retryAfterSec: worst.retryAfterSec };
      }
      const after = ruleIds.map((r, i) => {
        const count = reads[i]!.count + 1;
        counters.set(`${r}/${key}`, { window: reads[i]!.window, count });
        return { left: rules[r]!.max - count, count };
      });
      const tightest = after.reduce((a, b) => (b.left < a.left ? b : a));
      return { allowed: true, count: tightest.count, retryAfterSec: 0 };
    },
    reset(r: number, key: number) {
      counters.delete(`${r}/${key}`);
    },
  };
}

describe.each(limiterTargets)('rate limiter model on $name', (target) => {
  let ns: LimiterNamespace;
  const clock = createManualClock();
  let limiter: RateLimiter;
  beforeAll(() => {
    ns = target.open();
    limiter = ns.create(clock);
  });
  afterAll(async () => {
    await ns.close();
  });

  it('matches the model for random arrival times and keys; no window ever exceeds max', async () => {
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 10_000_000 }),
        fc.array(command, { maxLength: 40 }),
        async (startOffset, commands) => {
          run += 1;
          // Fresh rule names per run: the limiter (and Redis) outlive runs, counters must not.
          const rules: LimitRule[] = [
            { name: `m${run}_short`, windowMs: 1_000, max: 3 },
            { name: `m${run}_long`, windowMs: 2_500, max: 5 },
          ];
          const model = createModel(rules);
          const allowedIn = new Map<string, number>();
          clock.set(Date.UTC(2026, 0, 1) + startOffset);

          for (const c of commands) {
            if (c.type === 'advance') {
              clock.advance(c.ms);
              continue;
            }
            if (c.type === 'reset') {
              await limiter.reset(rules[c.rule]!, `k${c.key}`);
              model.reset(c.rule, c.key);
              for (const id of allowedIn.keys())
                if (id.startsWith(`${c.rule}/${c.key}/`)) allowedIn.delete(id);
              continue;
            }
            const ruleIds = c.type === 'hit' ? [c.rule] : [0, 1];
            const actual =
              c.type === 'hit'
                ? await limiter.hit(rules[c.rule]!, `k${c.key}`)
                : await limiter.hitAll(rules, () => `k${c.key}`);
            expect(actual).toEqual(model.hitAll(ruleIds, c.key, clock.now()));
            if (!actual.allowed) continue;
            for (const r of ruleIds) {
              const id = `${r}/${c.key}/${Math.floor(clock.now() / rules[r]!.windowMs)}`;
              const n = (allowedIn.get(id) ?? 0) + 1;
              allowedIn.set(id, n);
              expect(n).toBeLessThanOrEqual(rules[r]!.max);
            }
          }

          const ttls = (await ns.ttls?.(`m${run}_*`)) ?? [];
          for (const { key, pttl } of ttls) {
            // Every key has a TTL (PTTL -1 = none) of at most one window + the 1 s slack.
            expect(pttl, key).toBeGreaterThan(0);
            expect(pttl, key).toBeLessThanOrEqual(2_500 + 1_000);
          }
        },
      ),
      { numRuns: target.propertyRuns },
    );
  });
});
