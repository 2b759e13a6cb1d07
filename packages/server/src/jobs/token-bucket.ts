import type { Clock } from '../clock.ts';

/** Waits `ms`, or less if `signal` aborts; never rejects. Injected so tests can run on a manual clock. */
export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

export const realSleep: Sleep = (ms, signal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted || ms <= 0) {
      resolve();
      return;
    }
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

/**
 * A token bucket that paces calls to WeChat. The burst is 1/20 s of calls (at least one), so any
 * one-second window sees at most rate × 1.05 (+1) calls: configure the rate with that margin below the
 * real limit. Refill is time-based, so timer lag does not lower the average rate; waiters are served
 * one at a time in arrival order. `pauseUntil` holds every caller back (WeChat said 45011: R4).
 */
export function createTokenBucket(options: { rate: number; clock: Clock; sleep: Sleep }) {
  const { clock, sleep } = options;
  let rate = 0;
  let capacity = 1;
  let tokens = 1;
  let last = clock.now();
  let pausedUntil = 0;
  let queue: Promise<unknown> = Promise.resolve();

  function setRate(next: number): void {
    if (!(next > 0) || !Number.isFinite(next)) throw new RangeError('rate must be a positive number');
    refill();
    rate = next;
    capacity = Math.max(1, rate / 20);
    tokens = Math.min(tokens, capacity);
  }

  function refill(): void {
    const now = clock.now();
    if (now > last) tokens = Math.min(capacity, tokens + ((now - last) / 1000) * rate);
    last = Math.max(last, now);
  }

  async function takeOne(signal?: AbortSignal): Promise<boolean> {
    for (;;) {
      if (signal?.aborted) return false;
      const now = clock.now();
      if (now < pausedUntil) {
        await sleep(pausedUntil - now, signal);
        // The window WeChat counted in is over; start it with one token, not a full burst.
        last = Math.max(last, clock.now());
        tokens = Math.min(tokens, 1);
        continue;
      }
      refill();
      if (tokens >= 1) {
        tokens -= 1;
        return true;
      }
      await sleep(Math.max(1, ((1 - tokens) / rate) * 1000), signal);
    }
  }

  setRate(options.rate);
  return {
    /** Resolves true when the caller may make one call, false if `signal` aborted first. */
    take(signal?: AbortSignal): Promise<boolean> {
      const turn = queue.then(() => takeOne(signal));
      queue = turn.catch(() => false);
      return turn;
    },
    setRate,
    rate: () => rate,
    /** No call before `until` (ms since the epoch). */
    pauseUntil(until: number): void {
      pausedUntil = Math.max(pausedUntil, until);
      tokens = 0;
    },
    pausedUntil: () => pausedUntil,
  };
}

export type TokenBucket = ReturnType<typeof createTokenBucket>;
