/**
 * Every public error code lives in this one registry. Codes are part of the HTTP contract
 * (shared/api.md): once shipped they never change. `docs/errors.md` is checked against this
 * table by a test, so adding a code here means documenting it there.
 */
export const ERROR_CODES = {
  invalid_request: { status: 400, message: 'The request is malformed or fails validation.' },
  unauthorized: { status: 401, message: 'A valid access token is required.' },
  forbidden: { status: 403, message: 'The token is valid but may not do this.' },
  not_found: { status: 404, message: 'No such resource.' },
  method_not_allowed: { status: 405, message: 'This method is not allowed on this path.' },
  payload_too_large: { status: 413, message: 'The request body is too large.' },
  unsupported_media_type: { status: 415, message: 'Send JSON with content-type application/json.' },
  app_unknown: { status: 400, message: 'The appId is not configured on this server.' },
  wechat_code_invalid: {
    status: 400,
    message: 'The wx.login code is invalid, expired or already used: call wx.login again.',
  },
  wechat_user_blocked: { status: 403, message: 'WeChat refused this login for a high-risk user (40226).' },
  upstream_unavailable: { status: 503, message: 'WeChat is unavailable or slow; try again shortly.' },
  upstream_quota_exhausted: {
    status: 503,
    message: 'The WeChat API quota for this app is used up; try again later.',
  },
  upstream_misconfigured: {
    status: 502,
    message: 'WeChat rejected this server’s app credentials (appId or secret); the operator must fix them.',
  },
  rate_limited: { status: 429, message: 'Too many requests; slow down.' },
  refresh_token_invalid: { status: 401, message: 'The refresh token is invalid, expired or revoked.' },
  refresh_token_reused: {
    status: 401,
    message: 'A rotated refresh token was used again; the session has been ended.',
  },
  session_not_found: { status: 404, message: 'No such session for this user.' },
  busy: { status: 503, message: 'The server is busy; try again shortly.' },
  sms_code_invalid: { status: 400, message: 'The SMS code is wrong.' },
  sms_code_expired: { status: 400, message: 'The SMS code has expired or was used; request a new one.' },
  session_key_stale: {
    status: 409,
    message: 'The stored WeChat session key cannot decrypt this; call wx.login again and retry.',
  },
  phone_conflict: { status: 409, message: 'This phone number belongs to another account.' },
  phone_invalid: { status: 400, message: 'This is not a valid mobile phone number.' },
  phone_region_not_allowed: {
    status: 400,
    message: 'Phone numbers of this country or region are not accepted.',
  },
  sms_unavailable: { status: 503, message: 'SMS codes cannot be sent right now; try again shortly.' },
  sms_provider_failed: { status: 502, message: 'The SMS provider refused to send the code.' },
  reauthentication_required: {
    status: 403,
    message: 'This change needs a recent login (within 5 minutes): log in again and retry.',
  },
  wechat_phone_code_invalid: {
    status: 400,
    message:
      'The getPhoneNumber code is invalid, expired or already used: ask the user to tap the button again.',
  },
  wechat_identity_required: {
    status: 400,
    message:
      'This session did not begin with WeChat login, so there is no WeChat session key: log in with wx.login.',
  },
  encrypted_data_invalid: {
    status: 400,
    message: 'encryptedData or iv is malformed, or does not decrypt with the current WeChat session key.',
  },
  open_data_app_mismatch: {
    status: 400,
    message: 'The decrypted data carries no watermark of this mini program.',
  },
  open_data_signature_invalid: {
    status: 400,
    message: 'signature does not match sha1(rawData + session_key).',
  },
  internal_error: { status: 500, message: 'Something went wrong on our side.' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error type that crosses layers; the HTTP error handler turns it into the public body. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** Seconds, sent as Retry-After on 429/503. */
  readonly retryAfter: number | undefined;

  constructor(code: ErrorCode, options: { message?: string; cause?: unknown; retryAfter?: number } = {}) {
    super(options.message ?? ERROR_CODES[code].message, { cause: options.cause });
    this.name = 'AppError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
    this.retryAfter = options.retryAfter;
  }
}

export function isAppError(value: unknown): value is AppError {
  return value instanceof AppError;
}
