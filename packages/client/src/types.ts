/**
 * Public types of the wxauth client. They mirror the server's HTTP contract (shared/api.md); the SDK
 * keeps its own copy because the client must never import server code.
 */

/**
 * A WeChat identity of a user: one per mini program (`appId`) the user logged in with.
 *
 * @example
 * ```ts
 * const ids: WechatIdentity[] = auth.getState().user?.wechat ?? [];
 * ```
 */
export interface WechatIdentity {
  appId: string;
  openid: string;
  unionid: string | null;
}

/**
 * The logged-in user as the server describes it in every token response.
 *
 * @example
 * ```ts
 * const user: User | null = auth.getState().user;
 * if (user?.phone) console.log('has a phone');
 * ```
 */
export interface User {
  id: string;
  /** E.164, e.g. `+8613800138000`, or null. */
  phone: string | null;
  wechat: WechatIdentity[];
}

/**
 * The body of every login and refresh response (`POST /v1/auth/...`). The SDK keeps the tokens to
 * itself; the type is exported for custom platform adapters and tests.
 *
 * @example
 * ```ts
 * function describe(body: TokenResponse): string {
 *   return `${body.user.id}, access token for ${body.expiresIn} s`;
 * }
 * ```
 */
export interface TokenResponse {
  tokenType: 'Bearer';
  accessToken: string;
  /** Seconds. */
  expiresIn: number;
  refreshToken: string;
  /** Seconds until the session ends at the latest. */
  refreshExpiresIn: number;
  user: User;
  isNewUser: boolean;
}

/**
 * What a login gives the caller: the user, and whether the server created it just now.
 * Tokens stay inside the SDK.
 *
 * @example
 * ```ts
 * const { user, isNewUser } = await auth.login();
 * if (isNewUser) wx.navigateTo({ url: '/pages/welcome/welcome' });
 * ```
 */
export interface LoginResult {
  user: User;
  /** True only for the login that created the user; false for a restored or refreshed session. */
  isNewUser: boolean;
}

/**
 * The login state `onChange` listeners and `getState()` see.
 *
 * @example
 * ```ts
 * const { loggedIn, user } = auth.getState();
 * ```
 */
export interface AuthState {
  loggedIn: boolean;
  user: User | null;
  /** When the current access token expires (ms since the epoch), or null when logged out. */
  accessTokenExpiresAt: number | null;
}

/**
 * Why the state changed:
 * - `login`: a WeChat, phone or SMS login succeeded;
 * - `refresh`: the access token was renewed;
 * - `relogin`: the server ended the session (expired, revoked, refresh token reused) and the SDK
 *   logged in again with a fresh `wx.login`;
 * - `user`: the user changed (e.g. a phone was bound);
 * - `logout`: `logout()` was called;
 * - `expired`: the session ended and could not be renewed (e.g. offline, or `autoLogin: false`).
 *
 * @example
 * ```ts
 * auth.onChange((state, reason) => { if (reason === 'expired') wx.reLaunch({ url: '/pages/login/login' }); });
 * ```
 */
export type ChangeReason = 'login' | 'refresh' | 'relogin' | 'user' | 'logout' | 'expired';

/**
 * A listener registered with `onChange`.
 *
 * @example
 * ```ts
 * const listener: ChangeListener = (state) => console.log(state.loggedIn);
 * ```
 */
export type ChangeListener = (state: AuthState, reason: ChangeReason) => void;

/**
 * HTTP methods `wx.request` supports that an API call needs (it has no PATCH).
 *
 * @example
 * ```ts
 * const method: HttpMethod = 'DELETE';
 * ```
 */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'HEAD' | 'OPTIONS';

/**
 * Options of `auth.request()`.
 *
 * @example
 * ```ts
 * const options: RequestOptions = { url: '/v1/me' };
 * ```
 */
export interface RequestOptions {
  /** A path on `baseURL` (`/v1/me`) or an absolute URL. The bearer token is only sent to `baseURL`. */
  url: string;
  method?: HttpMethod;
  /** JSON body (POST/PUT/DELETE) or query parameters (GET), as `wx.request` treats `data`. */
  data?: Record<string, unknown> | string;
  header?: Record<string, string>;
  /** Attach the access token and recover from 401 (default true). */
  auth?: boolean;
  /** Milliseconds; passed to `wx.request` (WeChat's default and maximum is 60 s). */
  timeout?: number;
}

/**
 * A successful (2xx) response of `auth.request()`.
 *
 * @example
 * ```ts
 * const res: ApiResponse<{ id: string }> = await auth.request({ url: '/v1/me' });
 * console.log(res.statusCode, res.data.id);
 * ```
 */
export interface ApiResponse<T> {
  statusCode: number;
  data: T;
  header: Record<string, string>;
}

/**
 * One session of the user, as `GET /v1/sessions` lists it (times in seconds).
 *
 * @example
 * ```ts
 * const others = (await auth.listSessions()).filter((s: SessionInfo) => !s.current);
 * ```
 */
export interface SessionInfo {
  id: string;
  createdAt: number;
  lastUsedAt: number;
  userAgent: string | null;
  ip: string | null;
  current: boolean;
}

/**
 * The event of `<button open-type="getPhoneNumber" bindgetphonenumber="...">`, passed as is.
 * `detail.code` is missing when the user declined or the quota ran out (`errno` 1400001).
 *
 * @example
 * ```ts
 * Page({ async onPhone(e: PhoneNumberEvent) { await auth.phoneLogin(e); } });
 * ```
 */
export interface PhoneNumberEvent {
  detail: {
    code?: string;
    errMsg?: string;
    errno?: number;
  };
}

/**
 * Open data as `wx.getWeRunData`, `wx.getUserInfo` (and friends) return it.
 *
 * @example
 * ```ts
 * wx.getWeRunData({ success: (res: EncryptedData) => auth.decrypt(res) });
 * ```
 */
export interface EncryptedData {
  encryptedData: string;
  iv: string;
  rawData?: string;
  signature?: string;
}

/**
 * What `sendSmsCode` answers: the code's lifetime and the wait before another send, in seconds.
 *
 * @example
 * ```ts
 * const { retryAfter } = await auth.sendSmsCode('+8613800138000');
 * ```
 */
export interface SmsSendResult {
  expiresIn: number;
  retryAfter: number;
}
