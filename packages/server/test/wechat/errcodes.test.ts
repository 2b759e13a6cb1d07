import { describe, expect, it } from 'vitest';
import { createCircuitBreaker, DEFAULT_BREAKER } from '../../src/adapters/wechat/circuit-breaker.ts';
import {
  beijingDay,
  kindOfErrcode,
  nextBeijingMidnight,
  parseRid,
  secondsToNextMinute,
  toAppError,
  WeChatError,
} from '../../src/adapters/wechat/errcodes.ts';
import { createRetryBudget } from '../../src/adapters/wechat/retry.ts';
import { createManualClock } from '../../src/clock.ts';

describe('errcode table', () => {
  it.each([
    [-1, 'system_busy', true, 'upstream_unavailable'],
    [40029, 'code_invalid', false, 'wechat_code_invalid'],
    [40163, 'code_invalid', false, 'wechat_code_invalid'],
    [40226, 'user_blocked', false, 'wechat_user_blocked'],
    [45011, 'minute_quota', false, 'upstream_unavailable'],
    [45009, 'daily_quota', false, 'upstream_quota_exhausted'],
    [40001, 'token_invalid', false, 'upstream_unavailable'],
    [42001, 'token_invalid', false, 'upstream_unavailable'],
    [41001, 'token_invalid', false, 'upstream_unavailable'],
    [40013, 'misconfigured', false, 'upstream_misconfigured'],
    [40125, 'misconfigured', false, 'upstream_misconfigured'],
    [41002, 'misconfigured', false, 'upstream_misconfigured'],
    [41004, 'misconfigured', false, 'upstream_misconfigured'],
    [40002, 'misconfigured', false, 'upstream_misconfigured'],
    [40243, 'misconfigured', false, 'upstream_misconfigured'],
    [40164, 'misconfigured', false, 'upstream_misconfigured'],
    [48001, 'misconfigured', false, 'upstream_misconfigured'],
    [87009, 'signature_invalid', false, 'session_key_stale'],
    [87008, 'sig_method_invalid', false, 'internal_error'],
    [12345, 'unknown_errcode', false, 'upstream_unavailable'],
  ] as const)('%i → %s (retryable %s) → %s', (errcode, kind, retryable, appCode) => {
    expect(kindOfErrcode(errcode)).toBe(kind);
    const err = new WeChatError({ api: 'jscode2session', kind, errcode });
    expect(err.retryable).toBe(retryable);
    const app = toAppError(err);
    expect(app.code).toBe(appCode);
    expect(app.cause).toBe(err);
  });

  it.each([
    ['timeout', true],
    ['reset', true],
    ['network', true],
    ['http_5xx', true],
    ['http_status', false],
    ['bad_response', false],
  ] as const)('transport class %s retryable=%s → upstream_unavailable', (kind, retryable) => {
    const err = new WeChatError({ api: 'checksession', kind });
    expect(err.retryable).toBe(retryable);
    expect(toAppError(err).code).toBe('upstream_unavailable');
  });

  it('maps 40029 on getuserphonenumber to the phone-code error (§7.1)', () => {
    const err = new WeChatError({ api: 'getuserphonenumber', kind: 'code_invalid', errcode: 40029 });
    expect(toAppError(err).code).toBe('wechat_phone_code_invalid');
  });

  it('carries Retry-After into the AppError', () => {
    const err = new WeChatError({
      api: 'jscode2session',
      kind: 'minute_quota',
      errcode: 45011,
      retryAfter: 12,
    });
    expect(toAppError(err).retryAfter).toBe(12);
  });
});

describe('parseRid (§0 formats)', () => {
  it.each([
    ['invalid code, rid: 65a33cd8-023106e1-2dc7e2f6', '65a33cd8-023106e1-2dc7e2f6'],
    ['access_token expired rid: 68aeab12-21ea7934-3a442456', '68aeab12-21ea7934-3a442456'],
    ['code been used, hints: [ req_id: AijFoqaLRa-pTFm4 ]', 'AijFoqaLRa-pTFm4'],
    ['invalid appid hint: [2gMcmt0sf-QZBxwA] rid: 647049c1-24c44850-1b903a9f', '647049c1-24c44850-1b903a9f'],
    ['invalid appid hint: [2gMcmt0sf-QZBxwA]', '2gMcmt0sf-QZBxwA'],
    ['system error', null],
    ['rid: <script>alert(1)</script>', null],
    [42, null],
    [undefined, null],
  ])('%j → %j', (errmsg, rid) => {
    expect(parseRid(errmsg)).toBe(rid);
  });
});

describe('time helpers', () => {
  it('counts seconds to the next minute (1–60)', () => {
    expect(secondsToNextMinute(Date.UTC(2026, 0, 1, 0, 0, 15))).toBe(45);
    expect(secondsToNextMinute(Date.UTC(2026, 0, 1, 0, 0, 0))).toBe(60);
    expect(secondsToNextMinute(Date.UTC(2026, 0, 1, 0, 0, 59, 999))).toBe(1);
  });
  it('uses Beijing days for daily quotas', () => {
    expect(beijingDay(Date.UTC(2026, 0, 1, 15, 59))).toBe('2026-01-01');
    expect(beijingDay(Date.UTC(2026, 0, 1, 16, 0))).toBe('2026-01-02');
    expect(nextBeijingMidnight(Date.UTC(2026, 0, 1, 10))).toBe(Date.UTC(2026, 0, 1, 16));
  });
});

describe('circuit breaker (R5)', () => {
  const build = () => {
    const clock = createManualClock();
    return { clock, breaker: createCircuitBreaker(clock, DEFAULT_BREAKER) };
  };
  const feed = (b: ReturnType<typeof build>['breaker'], failures: number, successes: number) => {
    for (let i = 0; i < successes; i++) b.record(false, false);
    for (let i = 0; i < failures; i++) b.record(true, false);
  };

  it('opens at ≥ 50 % failures with ≥ 20 calls, not before', () => {
    const a = build();
    feed(a.breaker, 19, 0);
    expect(a.breaker.state()).toBe('closed'); // fewer than 20 calls
    const b = build();
    feed(b.breaker, 9, 11);
    expect(b.breaker.state()).toBe('closed');
    const c = build();
    feed(c.breaker, 10, 10);
    expect(c.breaker.state()).toBe('open');
  });

  it('forgets failures older than the 10 s window', () => {
    const { clock, breaker } = build();
    feed(breaker, 15, 0);
    clock.advance(11_000);
    feed(breaker, 5, 0);
    expect(breaker.state()).toBe('closed');
  });

  it('lets one probe through after 30 s; a failed probe re-opens', () => {
    const { clock, breaker } = build();
    feed(breaker, 20, 0);
    expect(breaker.acquire()).toEqual({ ok: false, retryAfterSec: 30 });
    clock.advance(30_000);
    const probe = breaker.acquire();
    expect(probe).toEqual({ ok: true, probe: true });
    expect(breaker.acquire().ok).toBe(false); // one probe at a time
    breaker.record(true, true);
    expect(breaker.state()).toBe('open');
    clock.advance(30_000);
    breaker.acquire();
    breaker.record(false, true);
    expect(breaker.state()).toBe('closed');
  });
});

describe('retry budget (R3)', () => {
  it('allows retries up to 10 % of calls in a 10 s window, with a floor', () => {
    const clock = createManualClock();
    const budget = createRetryBudget({ clock, minRetriesPerWindow: 2 });
    for (let i = 0; i < 50; i++) budget.recordCall();
    const granted = Array.from({ length: 10 }, () => budget.tryRetry()).filter(Boolean).length;
    expect(granted).toBe(5);
    clock.advance(10_000);
    expect(budget.tryRetry()).toBe(true); // the window moved on; the floor applies again
    expect(budget.tryRetry()).toBe(true);
    expect(budget.tryRetry()).toBe(false);
  });
});
