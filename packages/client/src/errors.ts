/**
 * Error codes the server sends (docs/errors.md). Listed for autocompletion; the server may add
 * codes, so `WxAuthError.code` stays a string.
 *
 * @example
 * ```ts
 * const code: ServerErrorCode = 'sms_code_invalid';
 * ```
 */
export type ServerErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'not_found'
  | 'method_not_allowed'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'app_unknown'
  | 'wechat_code_invalid'
  | 'wechat_user_blocked'
  | 'wechat_phone_code_invalid'
  | 'upstream_unavailable'
  | 'upstream_quota_exhausted'
  | 'upstream_misconfigured'
  | 'rate_limited'
  | 'refresh_token_invalid'
  | 'refresh_token_reused'
  | 'session_not_found'
  | 'busy'
  | 'sms_code_invalid'
  | 'sms_code_expired'
  | 'sms_unavailable'
  | 'sms_provider_failed'
  | 'session_key_stale'
  | 'phone_conflict'
  | 'phone_invalid'
  | 'phone_region_not_allowed'
  | 'reauthentication_required'
  | 'wechat_identity_required'
  | 'encrypted_data_invalid'
  | 'open_data_app_mismatch'
  | 'open_data_signature_invalid'
  | 'internal_error';

/**
 * Error codes the SDK itself produces (`status` is 0 for the first four, the HTTP status otherwise):
 * - `network_error`: `wx.request` failed without a response (offline, timeout, domain not allowed);
 * - `wechat_login_failed`: `wx.login` failed;
 * - `phone_number_denied`: the getPhoneNumber event has no `code` (the user declined, or `errno`
 *   1400001: the app's quota is used up);
 * - `not_logged_in`: a call needs a session, there is none and `autoLogin` is false;
 * - `logged_out`: `logout()` was called while this call was waiting for a login;
 * - `http_error`: a non-2xx response without wxauth's error body (a proxy, a gateway);
 * - `invalid_response`: a 2xx response the SDK cannot read.
 *
 * @example
 * ```ts
 * const code: ClientErrorCode = 'network_error';
 * ```
 */
export type ClientErrorCode =
  | 'network_error'
  | 'wechat_login_failed'
  | 'phone_number_denied'
  | 'not_logged_in'
  | 'logged_out'
  | 'http_error'
  | 'invalid_response';

/**
 * Every code a `WxAuthError` can carry. `(string & {})` keeps unknown server codes assignable
 * without losing autocompletion of the known ones.
 *
 * @example
 * ```ts
 * function isRetryable(code: WxAuthErrorCode) { return code === 'network_error' || code === 'busy'; }
 * ```
 */
export type WxAuthErrorCode = ServerErrorCode | ClientErrorCode | (string & {});

/**
 * Options of the `WxAuthError` constructor.
 *
 * @example
 * ```ts
 * const options: WxAuthErrorOptions = { status: 429, retryAfter: 60 };
 * ```
 */
export interface WxAuthErrorOptions {
  status?: number;
  requestId?: string;
  /** Seconds, from `Retry-After` (429 and 503). */
  retryAfter?: number;
  /** `errno` of a failed `wx.*` call. */
  errno?: number;
  cause?: unknown;
}

/**
 * The one error type the SDK throws. `code` is the server's error code or one of the SDK's own;
 * `status` the HTTP status (0 when no response arrived); `requestId` joins it to the server's logs.
 * Messages never contain tokens.
 *
 * @example
 * ```ts
 * try {
 *   await auth.loginWithSms(phone, code);
 * } catch (err) {
 *   if (err instanceof WxAuthError && err.code === 'sms_code_invalid') showToast('Wrong code');
 *   else throw err;
 * }
 * ```
 */
export class WxAuthError extends Error {
  readonly code: WxAuthErrorCode;
  readonly status: number;
  readonly requestId: string | undefined;
  readonly retryAfter: number | undefined;
  readonly errno: number | undefined;

  constructor(code: WxAuthErrorCode, message: string, options: WxAuthErrorOptions = {}) {
    super(message);
    // ES2017 output: Error subclasses lose their prototype in some runtimes without this.
    Object.setPrototypeOf(this, new.target.prototype);
    this.name = 'WxAuthError';
    this.code = code;
    this.status = options.status ?? 0;
    this.requestId = options.requestId;
    this.retryAfter = options.retryAfter;
    this.errno = options.errno;
    if (options.cause !== undefined) Object.defineProperty(this, 'cause', { value: options.cause });
  }
}

/**
 * Narrows an unknown error to `WxAuthError`, optionally with a given code.
 *
 * @example
 * ```ts
 * catch (err) { if (isWxAuthError(err, 'rate_limited')) wait(err.retryAfter ?? 60); }
 * ```
 */
export function isWxAuthError(error: unknown, code?: WxAuthErrorCode): error is WxAuthError {
  return error instanceof WxAuthError && (code === undefined || error.code === code);
}
