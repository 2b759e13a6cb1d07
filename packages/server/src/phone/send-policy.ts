import type { SendHistory } from './sms.repository.ts';

/** R12's caps; the daily budget is configured (WXAUTH_SMS_DAILY_BUDGET). */
export interface SmsSendPolicy {
  codeTtlSec: number;
  perPhone: { windowSec: number; max: number }[];
  perIp: { windowSec: number; max: number }[];
  dailyBudget: number;
}

export const DEFAULT_SEND_POLICY: Omit<SmsSendPolicy, 'dailyBudget'> = {
  codeTtlSec: 300,
  perPhone: [
    { windowSec: 60, max: 1 },
    { windowSec: 3600, max: 5 },
    { windowSec: 86_400, max: 10 },
  ],
  perIp: [
    { windowSec: 600, max: 10 },
    { windowSec: 86_400, max: 30 },
  ],
};

export type SendRefusal = { reason: 'phone_limit' | 'ip_limit' | 'budget'; retryAfterSec: number };

/**
 * Decides from the ledger whether one more send is allowed. Sliding windows: the wait is until the
 * oldest send inside the window leaves it.
 */
export function decideSend(
  policy: SmsSendPolicy,
  history: SendHistory,
  now: number,
  nextDayStart: number,
): SendRefusal | null {
  const check = (times: number[], windows: SmsSendPolicy['perPhone']): number | null => {
    let wait: number | null = null;
    for (const w of windows) {
      const inWindow = times.filter((t) => t > now - w.windowSec * 1000).sort((a, b) => a - b);
      if (inWindow.length >= w.max) {
        const until = inWindow[inWindow.length - w.max]! + w.windowSec * 1000;
        wait = Math.max(wait ?? 0, Math.ceil((until - now) / 1000));
      }
    }
    return wait;
  };
  const phoneWait = check(history.phone, policy.perPhone);
  if (phoneWait !== null) return { reason: 'phone_limit', retryAfterSec: Math.max(1, phoneWait) };
  const ipWait = check(history.ip, policy.perIp);
  if (ipWait !== null) return { reason: 'ip_limit', retryAfterSec: Math.max(1, ipWait) };
  if (history.today >= policy.dailyBudget) {
    return { reason: 'budget', retryAfterSec: Math.max(1, Math.ceil((nextDayStart - now) / 1000)) };
  }
  return null;
}

/** The budget day runs on China Standard Time (UTC+8), like the vendors' daily counters. */
export function budgetDay(now: number): { start: number; next: number } {
  const offset = 8 * 3_600_000;
  const start = Math.floor((now + offset) / 86_400_000) * 86_400_000 - offset;
  return { start, next: start + 86_400_000 };
}
