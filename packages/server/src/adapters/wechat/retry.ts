import { setTimeout as sleep } from 'node:timers/promises';
import type { Clock } from '../../clock.ts';
import { createWindowCounter } from './window-counter.ts';

export interface RetryOptions {
  /** R3: attempts in total for every API but code2Session (which gets 2: one retry). Default 3. */
  maxAttempts: number;
  /** R3: full-jitter backoff base. Default 200 ms. */
  baseMs: number;
  /** R3: backoff cap. Default 2 s. */
  capMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 3, baseMs: 200, capMs: 2_000 };

/** R3 full jitter (AWS "exponential backoff and jitter"): uniform in [0, min(cap, base·2^(n-1))]. */
export function backoffMs(retry: number, options: RetryOptions, random: () => number): number {
  return Math.floor(random() * Math.min(options.capMs, options.baseMs * 2 ** (retry - 1)));
}

/** Resolves after `ms`, or false as soon as `signal` aborts (the call's deadline passed). */
export async function sleepUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  try {
    await sleep(ms, undefined, { signal });
    return true;
  } catch {
    return false;
  }
}

export interface RetryBudgetOptions {
  clock: Clock;
  /** R3: "retries ≤ 10 % of calls in any 10 s window". */
  windowMs?: number;
  ratio?: number;
  /**
   * Retries always allowed per window, whatever the ratio (Finagle's RetryBudget `minRetriesPerSec`):
   * without a floor a quiet server (< 10 calls per 10 s) could never retry at all. Default 10 (1/s).
   */
  minRetriesPerWindow?: number;
}

/**
 * A process-wide retry budget (R3, the AWS SDK "retry quota" idea): when WeChat is failing, retries
 * stop adding load. Create one in the composition root and hand it to every client.
 */
export function createRetryBudget(options: RetryBudgetOptions) {
  const windowMs = options.windowMs ?? 10_000;
  const ratio = options.ratio ?? 0.1;
  const floor = options.minRetriesPerWindow ?? 10;
  if (!(windowMs > 0) || !(ratio >= 0) || !(floor >= 0)) throw new TypeError('invalid retry budget options');
  const window = createWindowCounter(options.clock, windowMs);
  return {
    /** Count one first attempt (a logical call). */
    recordCall(): void {
      window.add('a');
    },
    /** Take one retry from the budget, or false when the window is spent. */
    tryRetry(): boolean {
      const { a: calls, b: retries } = window.totals();
      if (retries + 1 > Math.max(floor, Math.floor(ratio * calls))) return false;
      window.add('b');
      return true;
    },
  };
}

export type RetryBudget = ReturnType<typeof createRetryBudget>;
