import { AppError, type ErrorCode } from '../../errors.ts';

/** The WeChat APIs this client calls; also the `api` metric label. */
export type WeChatApi =
  | 'jscode2session'
  | 'stable_token'
  | 'checksession'
  | 'resetusersessionkey'
  | 'getuserphonenumber';

/**
 * What went wrong, as one closed set. errcode kinds come from the table below; transport kinds from
 * the HTTP layer; `breaker_open` and the quota kinds are also raised locally when we fail fast (R4, R5);
 * `token_unavailable` is the access-token manager refusing (R6 force-refresh limits, lease wait).
 */
export type WeChatErrorKind =
  | 'system_busy'
  | 'code_invalid'
  | 'user_blocked'
  | 'minute_quota'
  | 'daily_quota'
  | 'token_invalid'
  | 'misconfigured'
  | 'signature_invalid'
  | 'sig_method_invalid'
  | 'unknown_errcode'
  | 'timeout'
  | 'reset'
  | 'network'
  | 'http_5xx'
  | 'http_status'
  | 'bad_response'
  | 'breaker_open'
  | 'token_unavailable';

interface KindInfo {
  /** R3: only -1, timeouts, resets (and refused connections) and 5xx are retried. */
  retryable: boolean;
  /** R5: counted as a failure by the circuit breaker (upstream health), unlike 40029 & co. */
  breakerFailure: boolean;
  /** The public code a caller sees (errors.ts registry). */
  appCode: ErrorCode;
}

const KINDS: Record<WeChatErrorKind, KindInfo> = {
  system_busy: { retryable: true, breakerFailure: true, appCode: 'upstream_unavailable' },
  code_invalid: { retryable: false, breakerFailure: false, appCode: 'wechat_code_invalid' },
  user_blocked: { retryable: false, breakerFailure: false, appCode: 'wechat_user_blocked' },
  minute_quota: { retryable: false, breakerFailure: false, appCode: 'upstream_unavailable' },
  daily_quota: { retryable: false, breakerFailure: false, appCode: 'upstream_quota_exhausted' },
  // Handled inside the client (refetch + one retry); reaching a caller means recovery failed.
  token_invalid: { retryable: false, breakerFailure: false, appCode: 'upstream_unavailable' },
  misconfigured: { retryable: false, breakerFailure: false, appCode: 'upstream_misconfigured' },
  // Only resetusersessionkey surfaces it (checkSessionKey turns 87009 into 'invalid'): the stored key is stale.
  signature_invalid: { retryable: false, breakerFailure: false, appCode: 'session_key_stale' },
  // We always send hmac_sha256 (§5.2), so 87008 is a bug on our side, not the operator's or the user's.
  sig_method_invalid: { retryable: false, breakerFailure: false, appCode: 'internal_error' },
  unknown_errcode: { retryable: false, breakerFailure: false, appCode: 'upstream_unavailable' },
  timeout: { retryable: true, breakerFailure: true, appCode: 'upstream_unavailable' },
  reset: { retryable: true, breakerFailure: true, appCode: 'upstream_unavailable' },
  network: { retryable: true, breakerFailure: true, appCode: 'upstream_unavailable' },
  http_5xx: { retryable: true, breakerFailure: true, appCode: 'upstream_unavailable' },
  http_status: { retryable: false, breakerFailure: true, appCode: 'upstream_unavailable' },
  bad_response: { retryable: false, breakerFailure: true, appCode: 'upstream_unavailable' },
  breaker_open: { retryable: false, breakerFailure: false, appCode: 'upstream_unavailable' },
  token_unavailable: { retryable: false, breakerFailure: false, appCode: 'upstream_unavailable' },
};

/**
 * THE errcode table (wechat-api.md §0 generic table, §2–§7 per-API tables and observed codes).
 * Anything not listed is `unknown_errcode`: not retried, surfaced as upstream_unavailable.
 */
const ERRCODES: ReadonlyMap<number, WeChatErrorKind> = new Map<number, WeChatErrorKind>([
  [-1, 'system_busy'],
  // §2: 40029 invalid/expired code, 40163 code already used, 41008 no js_code sent.
  [40029, 'code_invalid'],
  [40163, 'code_invalid'],
  [41008, 'code_invalid'],
  [40226, 'user_blocked'],
  [45011, 'minute_quota'],
  [45009, 'daily_quota'],
  // §0: token invalid / not latest, expired, missing.
  [40001, 'token_invalid'],
  [42001, 'token_invalid'],
  [41001, 'token_invalid'],
  // §0, §2, §3, §4: wrong or missing appid/secret, bad grant_type, frozen secret, IP whitelist, no permission.
  [40013, 'misconfigured'],
  [40125, 'misconfigured'],
  [41002, 'misconfigured'],
  [41004, 'misconfigured'],
  [40002, 'misconfigured'],
  [40243, 'misconfigured'],
  [40164, 'misconfigured'],
  [48001, 'misconfigured'],
  [87009, 'signature_invalid'],
  [87008, 'sig_method_invalid'],
]);

export function kindOfErrcode(errcode: number): WeChatErrorKind {
  return ERRCODES.get(errcode) ?? 'unknown_errcode';
}

export function isRetryable(kind: WeChatErrorKind): boolean {
  return KINDS[kind].retryable;
}

export function isBreakerFailure(kind: WeChatErrorKind): boolean {
  return KINDS[kind].breakerFailure;
}

/**
 * The trace id WeChat appends to errmsg (§0): `rid: 6166f719-6cb5d09c-633ab469` (current),
 * `hints: [ req_id: AijFoqaLRa-pTFm4 ]` (older) or `hint: [2gMcmt0sf-QZBxwA] rid: …` (mixed).
 * Only a conservative charset is captured, so a hostile body cannot inject into log lines.
 */
export function parseRid(errmsg: unknown): string | null {
  if (typeof errmsg !== 'string') return null;
  const match =
    /rid:\s*([0-9a-f]{1,16}(?:-[0-9a-f]{1,16}){1,4})/i.exec(errmsg) ??
    /req_id:\s*([A-Za-z0-9_-]{1,64})/.exec(errmsg) ??
    /hints?:\s*\[\s*([A-Za-z0-9_-]{1,64})\s*\]/.exec(errmsg);
  return match?.[1] ?? null;
}

export interface WeChatErrorInit {
  api: WeChatApi;
  kind: WeChatErrorKind;
  errcode?: number | null;
  rid?: string | null;
  httpStatus?: number | null;
  /** Seconds until calling again makes sense (45011, 45009, open breaker). */
  retryAfter?: number;
  message?: string;
  cause?: unknown;
}

/** Internal error of the WeChat adapter; callers outside it see `toAppError(err)`. */
export class WeChatError extends Error {
  readonly api: WeChatApi;
  readonly errcode: number | null;
  readonly kind: WeChatErrorKind;
  readonly rid: string | null;
  readonly retryable: boolean;
  readonly httpStatus: number | null;
  readonly retryAfter: number | undefined;

  constructor(init: WeChatErrorInit) {
    const errcode = init.errcode ?? null;
    // Never the errmsg or the URL: they can carry IPs, tokens or codes. errcode and rid are enough to trace.
    super(
      init.message ?? `WeChat ${init.api}: ${init.kind}${errcode === null ? '' : ` (errcode ${errcode})`}`,
      {
        cause: init.cause,
      },
    );
    this.name = 'WeChatError';
    this.api = init.api;
    this.kind = init.kind;
    this.errcode = errcode;
    this.rid = init.rid ?? null;
    this.retryable = KINDS[init.kind].retryable;
    this.httpStatus = init.httpStatus ?? null;
    this.retryAfter = init.retryAfter;
  }
}

/** The `errcode` metric label: the number, else the transport class ('timeout', 'http_502', ...). */
export function outcomeLabel(err: WeChatError): string {
  if (err.errcode !== null) return String(err.errcode);
  if ((err.kind === 'http_5xx' || err.kind === 'http_status') && err.httpStatus !== null) {
    return `http_${err.httpStatus}`;
  }
  return err.kind;
}

export function toAppError(err: WeChatError): AppError {
  const options = err.retryAfter !== undefined ? { cause: err, retryAfter: err.retryAfter } : { cause: err };
  return new AppError(appCodeOf(err), options);
}

function appCodeOf(err: WeChatError): ErrorCode {
  // §7.1: on getuserphonenumber 40029 is the button's phone code, not the wx.login code; the remedy differs.
  if (err.kind === 'code_invalid' && err.api === 'getuserphonenumber') return 'wechat_phone_code_invalid';
  return KINDS[err.kind].appCode;
}

/** Seconds (1–60) until the next wall-clock minute: WeChat's minute quota resets there (§0 45011, R4). */
export function secondsToNextMinute(now: number): number {
  return Math.max(1, Math.ceil((nextMinuteBoundary(now) - now) / 1000));
}

export function nextMinuteBoundary(now: number): number {
  return (Math.floor(now / 60_000) + 1) * 60_000;
}

/** WeChat's days are Beijing days (UTC+8): daily quotas reset at 00:00 CST (§4 force_refresh "每天"). */
const CST_OFFSET_MS = 8 * 3_600_000;

export function nextBeijingMidnight(now: number): number {
  return (Math.floor((now + CST_OFFSET_MS) / 86_400_000) + 1) * 86_400_000 - CST_OFFSET_MS;
}

export function beijingDay(now: number): string {
  return new Date(now + CST_OFFSET_MS).toISOString().slice(0, 10);
}
