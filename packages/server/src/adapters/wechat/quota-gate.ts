import type { Clock } from '../../clock.ts';
import { nextBeijingMidnight, nextMinuteBoundary } from './errcodes.ts';

export interface QuotaBlock {
  kind: 'minute_quota' | 'daily_quota';
  retryAfterSec: number;
}

/**
 * R4: after 45011 an API is not called again until the next minute boundary; after 45009 it is closed
 * until WeChat's day ends (Beijing midnight). Keys are per API (and per mode for stable_token, so a
 * spent force_refresh quota does not close the normal mode). One gate per app, like the breaker.
 */
export function createQuotaGate(clock: Clock) {
  const blocked = new Map<string, { kind: QuotaBlock['kind']; until: number }>();
  return {
    check(key: string): QuotaBlock | null {
      const entry = blocked.get(key);
      if (!entry) return null;
      const now = clock.now();
      if (now >= entry.until) {
        blocked.delete(key);
        return null;
      }
      return { kind: entry.kind, retryAfterSec: Math.max(1, Math.ceil((entry.until - now) / 1000)) };
    },
    blockMinute(key: string): void {
      blocked.set(key, { kind: 'minute_quota', until: nextMinuteBoundary(clock.now()) });
    },
    blockDay(key: string): void {
      blocked.set(key, { kind: 'daily_quota', until: nextBeijingMidnight(clock.now()) });
    },
  };
}

export type QuotaGate = ReturnType<typeof createQuotaGate>;
