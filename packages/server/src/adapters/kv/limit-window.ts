import type { LimitDecision, LimitRule } from './kv.types.ts';

/**
 * Fixed windows shared by both limiters: window `id = floor(now / windowMs)`, so every instance that
 * reads the same clock agrees on the window without talking to the others.
 */
export function windowOf(rule: LimitRule, now: number): { id: number; endsAt: number } {
  const id = Math.floor(now / rule.windowMs);
  return { id, endsAt: (id + 1) * rule.windowMs };
}

/** Whole seconds until `endsAt`, rounded up so a client that waits that long is never refused again. */
export function secondsUntil(endsAt: number, now: number): number {
  return Math.max(1, Math.ceil((endsAt - now) / 1000));
}

/**
 * Rules are code constants, so a bad one is a programmer error: refuse it loudly rather than count
 * with NaN (which would allow everything).
 */
export function assertRule(rule: LimitRule): void {
  if (!Number.isSafeInteger(rule.windowMs) || rule.windowMs < 1) {
    throw new TypeError(`rate-limit rule ${rule.name}: windowMs must be a positive integer`);
  }
  if (!Number.isSafeInteger(rule.max) || rule.max < 0) {
    throw new TypeError(`rate-limit rule ${rule.name}: max must be a non-negative integer`);
  }
  // Redis keys are `prefix name:key:window`: a name without ':' keeps that split unambiguous.
  if (rule.name.length === 0 || rule.name.includes(':')) {
    throw new TypeError(
      `rate-limit rule name must be non-empty without ':' (got ${JSON.stringify(rule.name)})`,
    );
  }
}

/** One counter a `hitAll` call touches, with its count before (refused) or after (allowed) the call. */
export interface CounterRead {
  rule: LimitRule;
  endsAt: number;
  count: number;
}

/**
 * The decision of an all-or-nothing call. Refused: the most restrictive refusing rule (the longest
 * wait), so a client that honours Retry-After is not refused again by another rule. Allowed: the
 * rule with the least budget left, the one a caller would want to report.
 */
export function decide(reads: readonly CounterRead[], allowed: boolean, now: number): LimitDecision {
  if (!allowed) {
    let best: LimitDecision = { allowed: false, count: 0, retryAfterSec: 1 };
    let found = false;
    for (const read of reads) {
      if (read.count < read.rule.max) continue;
      const retryAfterSec = secondsUntil(read.endsAt, now);
      if (!found || retryAfterSec > best.retryAfterSec) {
        best = { allowed: false, count: read.count, retryAfterSec };
        found = true;
      }
    }
    return best;
  }
  let count = 0;
  let left = Number.POSITIVE_INFINITY;
  for (const read of reads) {
    if (read.rule.max - read.count < left) {
      left = read.rule.max - read.count;
      count = read.count;
    }
  }
  return { allowed: true, count, retryAfterSec: 0 };
}

/**
 * Two rules resolving to the same counter would be checked once but counted twice; that is a bug in
 * the caller's rule list, so it is refused instead of silently double counting.
 */
export function assertDistinct(ids: readonly string[]): void {
  if (ids.length > 1 && new Set(ids).size !== ids.length) {
    throw new TypeError('hitAll: two rules resolve to the same counter (same rule name and key)');
  }
}
