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
 * No call in the last this-many ms of a calendar second. WeChat counts calls per calendar second or
 * minute as they arrive ("retry next minute"); a call sent late in one second can arrive in the next
 * and count there. With this quiet tail, up to 200 ms of transit, scheduling delay or clock skew cannot
 * push any second over the cap, and the rate is kept in full by spacing the calls over the other 800 ms.
 * (A sliding window 3 % longer than a second cost 3 % of the rate and still let a call over on a loaded
 * 2-core machine; a 100 ms tail did so once in eight runs with an embedded database in the job's thread.)
 */
export const QUIET_MS = 200;

/**
 * Paces calls to WeChat. A hard cap: at most `rate` calls (at least one) in each calendar second, none
 * in its last QUIET_MS. Under it, a token bucket spreads them evenly over the rest of the second; its
 * burst is 1/20 s of calls and refill is time-based, so timer lag or an event-loop stall does not lower
 * the average rate (the calls it then lets out at once still keep to the cap). Waiters are served one
 * at a time in arrival order. `pauseUntil` holds every caller back (WeChat said 45011: R4).
 */
export function createTokenBucket(options: { rate: number; clock: Clock; sleep: Sleep }) {
  const { clock, sleep } = options;
  let rate = 0;
  /** Tokens per second while calls may go: the cap's share of the second is 1 − QUIET_MS / 1000. */
  let spacing = 0;
  let capacity = 1;
  let tokens = 1;
  let last = clock.now();
  let pausedUntil = 0;
  let queue: Promise<unknown> = Promise.resolve();
  let perSecond = 1;
  let second = Number.NaN;
  let inSecond = 0;

  function setRate(next: number): void {
    if (!(next > 0) || !Number.isFinite(next)) throw new RangeError('rate must be a positive number');
    refill();
    rate = next;
    spacing = rate >= 1 ? (rate * 1000) / (1000 - QUIET_MS) : rate;
    capacity = Math.max(1, spacing / 20);
    tokens = Math.min(tokens, capacity);
    perSecond = Math.max(1, Math.floor(rate));
  }

  function refill(): void {
    const now = clock.now();
    if (now > last) tokens = Math.min(capacity, tokens + ((now - last) / 1000) * spacing);
    last = Math.max(last, now);
  }

  /** How long until the cap lets one more call out (0: now). */
  function capWait(now: number): number {
    const current = Math.floor(now / 1000);
    if (current !== second) {
      second = current;
      inSecond = 0;
    }
    const next = (current + 1) * 1000;
    return inSecond >= perSecond || next - now <= QUIET_MS ? next - now : 0;
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
      const capped = capWait(now);
      if (tokens >= 1 && capped === 0) {
        tokens -= 1;
        inSecond++;
        return true;
      }
      await sleep(Math.max(1, capped, tokens >= 1 ? 0 : ((1 - tokens) / spacing) * 1000), signal);
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
