import { createHmac } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { AccessTokenManager } from './access-token.ts';
import { type BreakerOptions, type BreakerState, createCircuitBreaker } from './circuit-breaker.ts';
import {
  isBreakerFailure,
  outcomeLabel,
  toAppError,
  type WeChatApi,
  WeChatError,
  type WeChatErrorKind,
} from './errcodes.ts';
import { createQuotaGate } from './quota-gate.ts';
import {
  type Code2SessionResult,
  type PhoneNumberResult,
  parseCheckSession,
  parseCode2Session,
  parsePhoneNumber,
  parseResetSessionKey,
  parseStableToken,
  type StableTokenResult,
} from './responses.ts';
import {
  backoffMs,
  createRetryBudget,
  type RetryBudget,
  type RetryOptions,
  sleepUnlessAborted,
} from './retry.ts';
import { createDefaultDispatcher, sendWeChatRequest, type WeChatHttpRequest } from './transport.ts';
import { validateClientOptions } from './wechat-client.options.ts';

export interface WeChatClientOptions {
  appId: string;
  secret: string;
  /** Default https://api.weixin.qq.com; tests and dev mode point it at the simulator. */
  baseUrl?: string;
  clock: Clock;
  metrics: Metrics;
  logger: Logger;
  accessTokens: Pick<AccessTokenManager, 'get' | 'invalidate'>;
  /** Default: an own undici Agent (connect timeout 1 s, keep-alive), closed by `close()`. */
  dispatcher?: Dispatcher;
  /** R3: whole-call deadlines, retries and backoff included. Defaults 3000 / 5000 ms. */
  timeouts?: { requestMs?: number; tokenRequestMs?: number };
  breaker?: Partial<BreakerOptions>;
  retry?: Partial<RetryOptions>;
  /** R3: share one across all clients of the process; default: one of this client's own. */
  retryBudget?: RetryBudget;
  /** Jitter source, default Math.random (tests pin it). */
  random?: () => number;
}

interface Invocation<T> {
  api: WeChatApi;
  /** Quota-gate key: the API, plus the mode for stable_token (quota-gate.ts). */
  gateKey: string;
  maxAttempts: number;
  signal: AbortSignal;
  request(signal: AbortSignal): WeChatHttpRequest;
  parse(body: Record<string, unknown>): T | null;
}

/**
 * The WeChat API client of one mini program, built like jose's createRemoteJWKSet (architecture
 * item 5): validated options, injectable dispatcher and baseUrl, an AbortSignal deadline on every
 * call. Public methods throw AppError (errors.ts) whose `cause` is the classifying WeChatError.
 */
export function createWeChatClient(options: WeChatClientOptions) {
  const config = validateClientOptions(options);
  const { appId, secret, clock, metrics, accessTokens } = options;
  const log = options.logger.child({ component: 'wechat-client', appId });
  const ownsDispatcher = options.dispatcher === undefined;
  const dispatcher = options.dispatcher ?? createDefaultDispatcher();
  const budget = options.retryBudget ?? createRetryBudget({ clock });
  const random = options.random ?? Math.random;
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

  /** Business calls that take the access token: on 40001/42001/41001 refetch once and retry once (R6). */
  async function withToken<T>(
    call: Omit<Invocation<T>, 'request'> & {
      request(token: string, signal: AbortSignal): WeChatHttpRequest;
    },
  ): Promise<T> {
    const token = await untilDeadline(accessTokens.get(), call.api, call.signal);
    try {
      return await invoke({ ...call, request: (signal) => call.request(token, signal) });
    } catch (err) {
      if (!(err instanceof WeChatError) || err.kind !== 'token_invalid') throw err;
      const fresh = await untilDeadline(accessTokens.invalidate(token, err.errcode), call.api, call.signal);
      return await invoke({ ...call, request: (signal) => call.request(fresh, signal) });
    }
  }

  const businessCall = (api: WeChatApi) => ({
    api,
    gateKey: api,
    maxAttempts: config.retry.maxAttempts,
    signal: AbortSignal.timeout(config.requestMs),
  });

  return {
    /** GET /sns/jscode2session (§2): at most one retry, since a second use of a code may give 40163 (R3). */
    code2Session(code: string): Promise<Code2SessionResult> {
      return publicCall(() => {
        // R1's shape check, repeated here so a junk code never reaches WeChat.
        if (!/^[A-Za-z0-9_-]{1,128}$/.test(code))
          throw new WeChatError({ api: 'jscode2session', kind: 'code_invalid' });
        return invoke({
          ...businessCall('jscode2session'),
          maxAttempts: Math.min(2, config.retry.maxAttempts),
          request: (signal) => ({
            api: 'jscode2session',
            method: 'GET',
            path: '/sns/jscode2session',
            query: { appid: appId, secret, js_code: code, grant_type: 'authorization_code' },
            signal,
          }),
          parse: parseCode2Session,
        });
      });
    },

    /** GET /wxa/checksession (§5.2): 87009 means the stored key is no longer the user's current key. */
    checkSessionKey(openid: string, sessionKey: string): Promise<'valid' | 'invalid'> {
      return publicCall(async () => {
        try {
          await withToken({
            ...businessCall('checksession'),
            request: (token, signal) => sessionKeyRequest('checksession', token, openid, sessionKey, signal),
            parse: parseCheckSession,
          });
          return 'valid' as const;
        } catch (err) {
          if (err instanceof WeChatError && err.kind === 'signature_invalid') return 'invalid' as const;
          throw err;
        }
      });
    },

    /** GET /wxa/resetusersessionkey (§6), signed with the current (old) key; returns the new key. */
    resetUserSessionKey(openid: string, sessionKey: string): Promise<{ sessionKey: string }> {
      return publicCall(() =>
        withToken({
          ...businessCall('resetusersessionkey'),
          request: (token, signal) =>
            sessionKeyRequest('resetusersessionkey', token, openid, sessionKey, signal),
          parse: (body) => parseResetSessionKey(body, openid),
        }),
      );
    },

    /** POST /wxa/business/getuserphonenumber (§7.1); countryCode normalised to a string. */
    getPhoneNumber(code: string, openid?: string): Promise<PhoneNumberResult> {
      return publicCall(() =>
        withToken({
          ...businessCall('getuserphonenumber'),
          request: (token, signal) => ({
            api: 'getuserphonenumber',
            method: 'POST',
            path: '/wxa/business/getuserphonenumber',
            query: { access_token: token },
            json: openid === undefined ? { code } : { code, openid },
            signal,
          }),
          parse: parsePhoneNumber,
        }),
      );
    },

    /**
     * POST /cgi-bin/stable_token (§4); the legacy /cgi-bin/token is never called (R6). Force mode gets
     * one attempt only: each one counts against WeChat's 20 a day.
     */
    fetchStableToken(forceRefresh: boolean): Promise<StableTokenResult> {
      return publicCall(async () => {
        try {
          return await invoke({
            api: 'stable_token',
            gateKey: forceRefresh ? 'stable_token:force' : 'stable_token',
            maxAttempts: forceRefresh ? 1 : config.retry.maxAttempts,
            signal: AbortSignal.timeout(config.tokenRequestMs),
            request: (signal) => ({
              api: 'stable_token',
              method: 'POST',
              path: '/cgi-bin/stable_token',
              json: { grant_type: 'client_credential', appid: appId, secret, force_refresh: forceRefresh },
              signal,
            }),
            parse: parseStableToken,
          });
        } catch (err) {
          // §3: on the token endpoints 40001 means a wrong AppSecret, not a bad token.
          if (err instanceof WeChatError && err.kind === 'token_invalid') {
            throw new WeChatError({
              api: err.api,
              kind: 'misconfigured',
              errcode: err.errcode,
              rid: err.rid,
            });
          }
          throw err;
        }
      });
    },

    breakerState: (): BreakerState => breaker.state(),

    /** Closes the dispatcher if this client created it. */
    async close(): Promise<void> {
      if (ownsDispatcher) await dispatcher.close();
    },
  };

  function sessionKeyRequest(
    api: 'checksession' | 'resetusersessionkey',
    token: string,
    openid: string,
    sessionKey: string,
    signal: AbortSignal,
  ): WeChatHttpRequest {
    // §5.1: hmac_sha256 keyed by the session_key string as-is, over "" for these GET calls, lowercase hex.
    const signature = createHmac('sha256', sessionKey).update('').digest('hex');
    return {
      api,
      method: 'GET',
      path: `/wxa/${api}`,
      query: { access_token: token, openid, signature, sig_method: 'hmac_sha256' },
      signal,
    };
  }
}

export type WeChatClient = ReturnType<typeof createWeChatClient>;

async function publicCall<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw err instanceof WeChatError ? toAppError(err) : err;
  }
}

/** Waits for a shared promise (the token single-flight) no longer than this call's deadline. */
function untilDeadline<T>(promise: Promise<T>, api: WeChatApi, signal: AbortSignal): Promise<T> {
  return new Promise<T>((resolve, rejectPromise) => {
    const onAbort = () => rejectPromise(new WeChatError({ api, kind: 'timeout' }));
    if (signal.aborted) onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        rejectPromise(err);
      },
    );
  });
}
