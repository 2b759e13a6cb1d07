import { KvUnavailableError, type LimitRule, type RateLimiter } from './kv.types.ts';

export interface FallbackRateLimiterOptions {
  /** Usually the Redis limiter. */
  primary: RateLimiter;
  /** Usually a memory limiter of its own (not one that also serves as a primary elsewhere). */
  fallback: RateLimiter;
  /** R24: share of each rule's max allowed per process while the primary is down. */
  scale?: number;
  /** Called on every call served by the fallback (count it; log it rate-limited). */
  onFallback?: (error: KvUnavailableError) => void;
}

/**
 * For paths that must keep working when Redis is down (refresh, login): R24 allows them to continue
 * under an in-process limiter at 10 % of the normal rate, so no path becomes unlimited, and N instances
 * together stay near N × 10 % of the shared limit. SMS send must not use this wrapper: it fails closed.
 *
 * There is no breaker in front of the primary: the Redis limiter already fails at once while its
 * client is disconnected, and costs at most its command timeout while Redis is slow.
 */
export function createFallbackRateLimiter(options: FallbackRateLimiterOptions): RateLimiter {
  const { primary, fallback, onFallback } = options;
  const scale = options.scale ?? 0.1;
  if (!(scale > 0 && scale <= 1)) throw new TypeError('scale must be in (0, 1]');

  /** Same name and window, smaller max; at least 1 (refusing everything would be an outage) unless max is 0. */
  function scaledRule(rule: LimitRule): LimitRule {
    return { ...rule, max: Math.min(rule.max, Math.max(1, Math.floor(rule.max * scale))) };
  }

  async function orFallback<T>(run: () => Promise<T>, instead: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof KvUnavailableError)) throw error;
      onFallback?.(error);
      return await instead();
    }
  }

  return {
    kind: primary.kind,
    hit: (rule, key) =>
      orFallback(
        () => primary.hit(rule, key),
        () => fallback.hit(scaledRule(rule), key),
      ),
    hitAll: (rules, keyFor) =>
      orFallback(
        () => primary.hitAll(rules, keyFor),
        () => {
          // The caller's key function may tell rules apart by identity, so it sees the original rules.
          const originals = new Map(rules.map((rule) => [scaledRule(rule), rule]));
          return fallback.hitAll([...originals.keys()], (rule) => keyFor(originals.get(rule)!));
        },
      ),
    async reset(rule, key) {
      await fallback.reset(scaledRule(rule), key);
      await primary.reset(rule, key).catch((error: unknown) => {
        if (!(error instanceof KvUnavailableError)) throw error;
      });
    },
    warmUp: (timeoutMs) => primary.warmUp(timeoutMs),
    async close() {
      await Promise.all([primary.close(), fallback.close()]);
    },
  };
}
