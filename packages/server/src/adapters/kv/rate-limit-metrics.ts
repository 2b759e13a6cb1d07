import { Counter, type Registry } from 'prom-client';
import { KvUnavailableError, type LimitRule, type RateLimiter } from './kv.types.ts';

/**
 * Counters registered on the app's registry from here, so observability/metrics.ts needs no change.
 * Get-or-create: building two limiters on one registry must not throw "already registered".
 */
export function rateLimitMetrics(registry: Registry) {
  return {
    decisions: counter(registry, {
      name: 'wxauth_rate_limit_decisions_total',
      help: 'Rate-limit decisions by rule set (rule names joined with +), outcome (allowed, refused, unavailable) and store.',
      labelNames: ['rules', 'outcome', 'store'],
    }),
    fallbacks: counter(registry, {
      name: 'wxauth_rate_limit_fallbacks_total',
      help: 'Calls served by the in-process fallback limiter because Redis was unavailable or slow (R24).',
      labelNames: [],
    }),
  };
}

export type RateLimitMetrics = ReturnType<typeof rateLimitMetrics>;

function counter<L extends string>(
  registry: Registry,
  config: { name: string; help: string; labelNames: L[] },
): Counter<L> {
  const existing = registry.getSingleMetric(config.name);
  if (existing instanceof Counter) return existing as Counter<L>;
  return new Counter({ ...config, registers: [registry] });
}

/** Counts every decision; rule names are code constants, so the label stays low-cardinality. */
export function instrumentRateLimiter(limiter: RateLimiter, metrics: RateLimitMetrics): RateLimiter {
  const store = limiter.kind;
  async function counted(rules: readonly LimitRule[], run: () => ReturnType<RateLimiter['hit']>) {
    const labels = { rules: rules.map((rule) => rule.name).join('+'), store };
    try {
      const decision = await run();
      metrics.decisions.inc({ ...labels, outcome: decision.allowed ? 'allowed' : 'refused' });
      return decision;
    } catch (error) {
      if (error instanceof KvUnavailableError) metrics.decisions.inc({ ...labels, outcome: 'unavailable' });
      throw error;
    }
  }
  return {
    kind: limiter.kind,
    hit: (rule, key) => counted([rule], () => limiter.hit(rule, key)),
    hitAll: (rules, keyFor) => counted(rules, () => limiter.hitAll(rules, keyFor)),
    reset: (rule, key) => limiter.reset(rule, key),
    warmUp: (timeoutMs) => limiter.warmUp(timeoutMs),
    close: () => limiter.close(),
  };
}
