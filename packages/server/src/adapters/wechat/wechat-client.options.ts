import { type BreakerOptions, DEFAULT_BREAKER } from './circuit-breaker.ts';
import { DEFAULT_RETRY, type RetryOptions } from './retry.ts';

export const DEFAULT_BASE_URL = 'https://api.weixin.qq.com';
/** R3: whole-request timeout 3 s for code2Session/checkSessionKey, 5 s for the token fetch. */
export const DEFAULT_TIMEOUTS = { requestMs: 3_000, tokenRequestMs: 5_000 };

export interface ResolvedClientConfig {
  baseUrl: URL;
  requestMs: number;
  tokenRequestMs: number;
  breaker: BreakerOptions;
  retry: RetryOptions;
}

interface RawOptions {
  appId: unknown;
  secret: unknown;
  baseUrl?: unknown;
  timeouts?: { requestMs?: number; tokenRequestMs?: number } | undefined;
  breaker?: Partial<BreakerOptions> | undefined;
  retry?: Partial<RetryOptions> | undefined;
}

/** Fails at startup (TypeError) rather than on the first login; never echoes the secret. */
export function validateClientOptions(options: RawOptions): ResolvedClientConfig {
  if (typeof options.appId !== 'string' || !/^[A-Za-z0-9_.-]{1,64}$/.test(options.appId)) {
    throw new TypeError('wechat client: appId must be a non-empty id such as wx1234567890abcdef');
  }
  if (typeof options.secret !== 'string' || options.secret.length === 0 || /\s/.test(options.secret)) {
    throw new TypeError('wechat client: secret must be a non-empty string without whitespace');
  }
  const raw = options.baseUrl ?? DEFAULT_BASE_URL;
  let baseUrl: URL;
  try {
    baseUrl = new URL(String(raw));
  } catch {
    throw new TypeError('wechat client: baseUrl must be an absolute http(s) URL');
  }
  if (baseUrl.protocol !== 'https:' && baseUrl.protocol !== 'http:') {
    throw new TypeError('wechat client: baseUrl must be an absolute http(s) URL');
  }
  const requestMs = positive('timeouts.requestMs', options.timeouts?.requestMs ?? DEFAULT_TIMEOUTS.requestMs);
  const tokenRequestMs = positive(
    'timeouts.tokenRequestMs',
    options.timeouts?.tokenRequestMs ?? DEFAULT_TIMEOUTS.tokenRequestMs,
  );
  const breaker = { ...DEFAULT_BREAKER, ...options.breaker };
  positive('breaker.windowMs', breaker.windowMs);
  positive('breaker.minCalls', breaker.minCalls);
  positive('breaker.halfOpenAfterMs', breaker.halfOpenAfterMs);
  if (!(breaker.failureRatio > 0 && breaker.failureRatio <= 1)) {
    throw new TypeError('wechat client: breaker.failureRatio must be in (0, 1]');
  }
  const retry = { ...DEFAULT_RETRY, ...options.retry };
  positive('retry.maxAttempts', retry.maxAttempts);
  if (!Number.isInteger(retry.maxAttempts))
    throw new TypeError('wechat client: retry.maxAttempts must be an integer');
  if (!(retry.baseMs >= 0 && retry.capMs >= 0))
    throw new TypeError('wechat client: retry delays must be ≥ 0');
  return { baseUrl, requestMs, tokenRequestMs, breaker, retry };
}

function positive(name: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new TypeError(`wechat client: ${name} must be a positive number`);
  }
  return value;
}
