/**
 * Short-window counters for rate limits (R23). Memory when no Redis is configured, Redis otherwise.
 * Anything that must survive a Redis flush (OTP attempts, daily SMS caps) lives in the database instead.
 */
export interface LimitRule {
  /** Name in keys and metrics, e.g. 'sms_send_phone_60s'. */
  name: string;
  /** Window length in ms. */
  windowMs: number;
  /** Allowed hits per window. */
  max: number;
}

export interface LimitDecision {
  allowed: boolean;
  /** Hits counted in the current window, including this one when allowed. */
  count: number;
  /** Seconds until the caller may try again (≥ 1 when refused, 0 when allowed). */
  retryAfterSec: number;
}

export interface RateLimiter {
  /**
   * Counts one hit for `key` under `rule` atomically and says whether it is within the limit.
   * Throws KvUnavailableError when the backing store cannot answer in time (callers decide whether
   * to fail closed, like SMS send, or fall back, like refresh — R24).
   */
  hit(rule: LimitRule, key: string): Promise<LimitDecision>;
  /** Checks several rules; counts a hit in all of them only if every one allows it. */
  hitAll(rules: readonly LimitRule[], key: (rule: LimitRule) => string): Promise<LimitDecision>;
  /** Forgets the counters of `key` under `rule` (e.g. after a successful verification). */
  reset(rule: LimitRule, key: string): Promise<void>;
  /**
   * Connects and prepares the store (Redis: connection and script) so the first request after a
   * start does not pay for it inside its short deadline. Resolves false when the store did not become
   * ready within `timeoutMs`; never throws (R24: a missing Redis is not a reason to refuse to start).
   */
  warmUp(timeoutMs: number): Promise<boolean>;
  readonly kind: 'memory' | 'redis';
  close(): Promise<void>;
}

export class KvUnavailableError extends Error {
  constructor(options?: { cause?: unknown }) {
    super('the rate-limit store is unavailable', options);
    this.name = 'KvUnavailableError';
  }
}
