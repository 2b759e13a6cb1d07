import type { Clock } from '../../clock.ts';
import { createWindowCounter } from './window-counter.ts';

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerOptions {
  /** R5: failures are judged over this window. Default 10 s. */
  windowMs: number;
  /** R5: no opinion below this many calls in the window. Default 20. */
  minCalls: number;
  /** R5: open at ≥ this share of failures. Default 0.5. */
  failureRatio: number;
  /** R5: after this long open, one probe is let through. Default 30 s. */
  halfOpenAfterMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = {
  windowMs: 10_000,
  minCalls: 20,
  failureRatio: 0.5,
  halfOpenAfterMs: 30_000,
};

export type BreakerPermit = { ok: true; probe: boolean } | { ok: false; retryAfterSec: number };

/**
 * A small own breaker instead of cockatiel's SamplingBreaker: cockatiel reads Date.now() (so tests
 * would wait 30 s for real), opens on "> threshold" rather than R5's "≥ 50 %", and sizes by calls per
 * second rather than R5's "≥ 20 calls". Only upstream-health failures are recorded as failures (R5).
 */
export function createCircuitBreaker(
  clock: Clock,
  options: BreakerOptions,
  onChange: (state: BreakerState) => void = () => {},
) {
  const window = createWindowCounter(clock, options.windowMs);
  let openedAt: number | null = null;
  let probeInFlight = false;

  function state(): BreakerState {
    if (openedAt === null) return 'closed';
    return clock.now() - openedAt >= options.halfOpenAfterMs ? 'half-open' : 'open';
  }

  function open(): void {
    openedAt = clock.now();
    probeInFlight = false;
    window.reset();
    onChange('open');
  }

  return {
    state,

    /** Call before each upstream attempt; a probe permit must be settled with `record`. */
    acquire(): BreakerPermit {
      const now = state();
      if (now === 'closed') return { ok: true, probe: false };
      if (now === 'half-open' && !probeInFlight) {
        probeInFlight = true;
        onChange('half-open');
        return { ok: true, probe: true };
      }
      const waitMs = openedAt === null ? 0 : openedAt + options.halfOpenAfterMs - clock.now();
      return { ok: false, retryAfterSec: Math.max(1, Math.ceil(waitMs / 1000)) };
    },

    record(failure: boolean, probe: boolean): void {
      if (probe) {
        probeInFlight = false;
        if (failure) open();
        else {
          openedAt = null;
          window.reset();
          onChange('closed');
        }
        return;
      }
      // A late answer from before the breaker opened must not close or re-open it.
      if (openedAt !== null) return;
      window.add(failure ? 'a' : 'b');
      const { a: failures, b: successes } = window.totals();
      const total = failures + successes;
      if (total >= options.minCalls && failures >= options.failureRatio * total) open();
    },
  };
}

export type CircuitBreaker = ReturnType<typeof createCircuitBreaker>;
