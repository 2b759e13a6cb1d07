import { createHmac } from 'node:crypto';
import type { Dispatcher } from 'undici';
import type { Clock } from '../../clock.ts';
import type { Logger } from '../../observability/logger.ts';
import type { Metrics } from '../../observability/metrics.ts';
import type { AccessTokenManager } from './access-token.ts';
import { createCallPipeline, type Invocation } from './call-pipeline.ts';
import type { BreakerOptions } from './circuit-breaker.ts';
import { toAppError, type WeChatApi, WeChatError } from './errcodes.ts';
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
import { createRetryBudget, type RetryBudget, type RetryOptions } from './retry.ts';
import { createDefaultDispatcher, type WeChatHttpRequest } from './transport.ts';
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
  const { invoke, breakerState } = createCallPipeline({
    appId,
    config,
    clock,
    metrics,
    log,
    dispatcher,
    budget: options.retryBudget ?? createRetryBudget({ clock }),
    random: options.random ?? Math.random,
  });

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

  const businessCall = (api: WeChatApi, signal: AbortSignal) => ({
    api,
    gateKey: api,
    maxAttempts: config.retry.maxAttempts,
    signal,
  });

  return {
    /** GET /sns/jscode2session (§2): at most one retry, since a second use of a code may give 40163 (R3). */
    code2Session(code: string): Promise<Code2SessionResult> {
      return publicCall(config.requestMs, (signal) => {
        // R1's shape check, repeated here so a junk code never reaches WeChat.
        if (!/^[A-Za-z0-9_-]{1,128}$/.test(code))
          throw new WeChatError({ api: 'jscode2session', kind: 'code_invalid' });
        return invoke({
          ...businessCall('jscode2session', signal),
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
      return publicCall(config.requestMs, async (signal) => {
        try {
          await withToken({
            ...businessCall('checksession', signal),
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
      return publicCall(config.requestMs, (signal) =>
        withToken({
          ...businessCall('resetusersessionkey', signal),
          request: (token, signal) =>
            sessionKeyRequest('resetusersessionkey', token, openid, sessionKey, signal),
          parse: (body) => parseResetSessionKey(body, openid),
        }),
      );
    },

    /** POST /wxa/business/getuserphonenumber (§7.1); countryCode normalised to a string. */
    getPhoneNumber(code: string, openid?: string): Promise<PhoneNumberResult> {
      return publicCall(config.requestMs, (signal) =>
        withToken({
          ...businessCall('getuserphonenumber', signal),
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
      return publicCall(config.tokenRequestMs, async (signal) => {
        try {
          return await invoke({
            api: 'stable_token',
            gateKey: forceRefresh ? 'stable_token:force' : 'stable_token',
            maxAttempts: forceRefresh ? 1 : config.retry.maxAttempts,
            signal,
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

    breakerState,

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

/**
 * One public call under its deadline (R3), WeChat errors mapped to AppErrors. The deadline is a timer
 * cleared when the call settles: AbortSignal.timeout would fire for every call that answered in time,
 * allocating a DOMException and running its abort for nothing.
 */
async function publicCall<T>(deadlineMs: number, fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('The WeChat call took too long', 'TimeoutError')),
    deadlineMs,
  );
  timer.unref();
  try {
    return await fn(controller.signal);
  } catch (err) {
    throw err instanceof WeChatError ? toAppError(err) : err;
  } finally {
    clearTimeout(timer);
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
