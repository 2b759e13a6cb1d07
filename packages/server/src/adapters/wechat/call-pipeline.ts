import type { Dispatcher } from 'undici';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import { type BreakerState, createCircuitBreaker } from './circuit-breaker.ts';
import {
  isBreakerFailure,
  outcomeLabel,
  type WeChatApi,
  WeChatError,
  type WeChatErrorKind,
} from './errcodes.ts';
import { createQuotaGate } from './quota-gate.ts';
import { backoffMs, type RetryBudget, sleepUnlessAborted } from './retry.ts';
import { sendWeChatRequest, type WeChatHttpRequest } from './transport.ts';
import type { ResolvedClientConfig } from './wechat-client.options.ts';

export interface Invocation<T> {
  api: WeChatApi;
  /** Quota-gate key: the API, plus the mode for stable_token (quota-gate.ts). */
  gateKey: string;
  maxAttempts: number;
  signal: AbortSignal;
  request(signal: AbortSignal): WeChatHttpRequest;
  parse(body: Record<string, unknown>): T | null;
}

export interface CallPipelineDeps {
  appId: string;
  config: ResolvedClientConfig;
  clock: Clock;
  metrics: Metrics;
  log: Logger;
  dispatcher: Dispatcher;
  budget: RetryBudget;
  random: () => number;
}

/**
 * What every upstream call of one app goes through, in order: the quota gate (R4), the circuit
 * breaker (R5), the request with its deadline, classification, metrics and logs, then a retry only
 * for retryable classes, within the attempt limit and the shared retry budget (R3).
 */
export function createCallPipeline(deps: CallPipelineDeps) {
  const { appId, config, clock, metrics, log, dispatcher, budget, random } = deps;
  const quota = createQuotaGate(clock);
  metrics.wechatBreakerOpen.set({ app_id: appId }, 0);
  const breaker = createCircuitBreaker(clock, config.breaker, (state: BreakerState) => {
    metrics.wechatBreakerOpen.set({ app_id: appId }, state === 'closed' ? 0 : 1);
    if (state === 'open') log.warn({ breaker: state }, 'wechat circuit breaker opened');
    else if (state === 'closed') log.info({ breaker: state }, 'wechat circuit breaker closed');
  });

  function failFast(api: WeChatApi, gateKey: string): void {
    const block = quota.check(gateKey);
    if (block) reject(api, block.kind, block.retryAfterSec);
  }

  function reject(api: WeChatApi, kind: WeChatErrorKind, retryAfter: number): never {
    metrics.wechatCalls.inc({ api, errcode: kind });
    throw new WeChatError({ api, kind, retryAfter });
  }

  /** One logical call: gates, attempts, classification, metrics, retries (R3, R4, R5). */
  async function invoke<T>(call: Invocation<T>): Promise<T> {
    const { api, signal } = call;
    budget.recordCall();
    for (let attempt = 1; ; attempt++) {
      failFast(api, call.gateKey);
      const permit = breaker.acquire();
      if (!permit.ok) reject(api, 'breaker_open', permit.retryAfterSec);
      const started = clock.now();
      let err: WeChatError;
      try {
        const body = await sendWeChatRequest(dispatcher, config.baseUrl, call.request(signal), clock.now);
        const result = call.parse(body);
        if (result === null) throw new WeChatError({ api, kind: 'bad_response', httpStatus: 200 });
        breaker.record(false, permit.probe);
        observe(api, '0', started);
        log.debug({ api, errcode: 0, attempt, durationMs: clock.now() - started }, 'wechat call ok');
        return result;
      } catch (cause) {
        if (!(cause instanceof WeChatError)) {
          breaker.record(false, permit.probe);
          throw cause;
        }
        err = cause;
      }
      breaker.record(isBreakerFailure(err.kind), permit.probe);
      observe(api, outcomeLabel(err), started);
      afterFailure(err, call.gateKey, attempt, started);
      if (!err.retryable || attempt >= call.maxAttempts || !budget.tryRetry()) throw err;
      if (!(await sleepUnlessAborted(backoffMs(attempt, config.retry, random), signal))) throw err;
    }
  }

  function observe(api: WeChatApi, errcode: string, started: number): void {
    metrics.wechatCalls.inc({ api, errcode });
    metrics.wechatLatency.observe({ api }, Math.max(0, clock.now() - started) / 1000);
  }

  /** Logs only api, errcode, kind, rid and duration: never the URL, body, code, key, token or secret (R2). */
  function afterFailure(err: WeChatError, gateKey: string, attempt: number, started: number): void {
    const line = {
      api: err.api,
      errcode: err.errcode,
      kind: err.kind,
      rid: err.rid,
      httpStatus: err.httpStatus,
      attempt,
      durationMs: clock.now() - started,
    };
    if (err.kind === 'minute_quota') quota.blockMinute(gateKey);
    if (err.kind === 'daily_quota') {
      quota.blockDay(gateKey);
      // R4: a page-level alert; new logins fail closed until WeChat's day ends.
      log.error({ ...line, alert: 'wechat_daily_quota' }, 'wechat daily quota exhausted');
      return;
    }
    if (err.kind === 'misconfigured')
      log.error({ ...line, alert: 'wechat_misconfigured' }, 'wechat call failed');
    else log.warn(line, 'wechat call failed');
    if (err.api === 'jscode2session' && err.errcode === 40163 && attempt > 1) {
      // R3: the first attempt (timeout/reset/5xx/-1) most likely reached WeChat and used the code, and its
      // answer was lost. We say so honestly: the code is spent, the user must wx.login again
      // (wechat_code_invalid). upstream_unavailable would invite a retry with the same dead code.
      log.warn(line, 'js_code consumed by an earlier attempt whose answer was lost');
    }
  }

  return { invoke, breakerState: (): BreakerState => breaker.state() };
}
