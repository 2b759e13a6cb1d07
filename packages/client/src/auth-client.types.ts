import type { Platform } from './platform.ts';
import type {
  ApiResponse,
  AuthState,
  ChangeListener,
  EncryptedData,
  LoginResult,
  PhoneNumberEvent,
  RequestOptions,
  SessionInfo,
  SmsSendResult,
} from './types.ts';

/**
 * Options of `createAuthClient`.
 *
 * @example
 * ```ts
 * const options: AuthClientOptions = { baseURL: 'https://auth.example.com', appId: 'wx1234567890abcdef' };
 * ```
 */
export interface AuthClientOptions {
  /** The wxauth server, e.g. `https://auth.example.com` (a domain allowed in the mini program's settings). */
  baseURL: string;
  /** The mini program's AppID; may be left out when the server serves one app. */
  appId?: string;
  /** Prefix of the SDK's storage key (`<storageKey>:session`). Default `wxauth`. */
  storageKey?: string;
  /** The runtime; default the global `wx`. Use `createWxPlatform(Taro)` or `createWxPlatform(uni)`. */
  platform?: Platform;
  /**
   * Log in silently (`wx.login`) whenever a call needs a session and there is none. Default true;
   * set false when users must choose how to log in (phone, SMS): calls then fail with `not_logged_in`.
   */
  autoLogin?: boolean;
  /** The SDK's own cap on concurrent requests. Default 10, WeChat's limit for `wx.request`. */
  maxConcurrentRequests?: number;
  /** Per-request timeout in ms, passed to `wx.request`. Default: the runtime's (60 s on WeChat). */
  timeout?: number;
  /** Renew the access token this many seconds before it expires. Default 60. */
  refreshLeewaySeconds?: number;
  /** The clock (ms since the epoch). Default `Date.now`; tests move it. */
  now?: () => number;
}

/**
 * Options of `login()`.
 *
 * @example
 * ```ts
 * await auth.login({ force: true }); // a fresh wx.login even with a valid session
 * ```
 */
export interface LoginOptions {
  /** Run a fresh `wx.login` even when a usable session exists. */
  force?: boolean;
}

/**
 * Options of `loginWithSms()`.
 *
 * @example
 * ```ts
 * await auth.loginWithSms(phone, code, { linkWechat: true });
 * ```
 */
export interface SmsLoginOptions {
  /** Also link this WeChat user to the phone's account (a `wx.login` code is sent along). */
  linkWechat?: boolean;
}

/**
 * Options of `logout()`.
 *
 * @example
 * ```ts
 * await auth.logout({ all: true }); // every device of this user
 * ```
 */
export interface LogoutOptions {
  /** End every session of the user, not only this one. */
  all?: boolean;
}

/**
 * A source of encrypted open data for `decrypt()`: the data itself, or a function that fetches it
 * (then the SDK can fetch it again after a re-login, see `decrypt`).
 *
 * @example
 * ```ts
 * const source: EncryptedDataSource = () => new Promise((resolve, reject) => wx.getWeRunData({ success: resolve, fail: reject }));
 * ```
 */
export type EncryptedDataSource = EncryptedData | (() => EncryptedData | Promise<EncryptedData>);

/**
 * The client `createAuthClient` returns. Create one per app (e.g. in `app.js`) and share it.
 *
 * @example
 * ```ts
 * const auth: AuthClient = createAuthClient({ baseURL: 'https://auth.example.com' });
 * const { data } = await auth.request<{ id: string }>({ url: '/v1/me' });
 * ```
 */
export interface AuthClient {
  /**
   * Makes sure the user is logged in: a usable stored session is kept (no request at all), an
   * expired access token is refreshed, otherwise one `wx.login` runs — shared by every concurrent
   * caller — and its code is exchanged with the server.
   *
   * @example
   * ```ts
   * App({ onLaunch() { auth.login().catch((err) => console.warn('login failed', err.code)); } });
   * ```
   */
  login(options?: LoginOptions): Promise<LoginResult>;

  /**
   * Calls the API with the access token. `statusCode` is checked (wx.request reports success for any
   * status): 2xx resolves, anything else throws a `WxAuthError` with the server's `code`. On a 401
   * the SDK renews the session once — one refresh shared by all concurrent callers, else one
   * re-login — and retries the request once.
   *
   * @example
   * ```ts
   * const { data } = await auth.request<{ sessions: SessionInfo[] }>({ url: '/v1/sessions' });
   * ```
   */
  request<T = unknown>(options: RequestOptions): Promise<ApiResponse<T>>;

  /**
   * A usable access token (renewing the session if needed), for `wx.uploadFile`, sockets or your
   * own API. Prefer `request()`, which also recovers from a 401.
   *
   * @example
   * ```ts
   * wx.uploadFile({ url, filePath, name: 'file', header: { authorization: `Bearer ${await auth.getAccessToken()}` } });
   * ```
   */
  getAccessToken(): Promise<string>;

  /**
   * Sends a one-time SMS code. `purpose: 'bind'` for `bindPhone({ phone, code })`. A 429 carries
   * `retryAfter` (seconds) on the error.
   *
   * @example
   * ```ts
   * const { retryAfter } = await auth.sendSmsCode('13800138000');
   * ```
   */
  sendSmsCode(phone: string, options?: { purpose?: 'login' | 'bind' }): Promise<SmsSendResult>;

  /**
   * Logs in with a phone number and the SMS code sent to it.
   *
   * @example
   * ```ts
   * await auth.loginWithSms('13800138000', '123456', { linkWechat: true });
   * ```
   */
  loginWithSms(phone: string, code: string, options?: SmsLoginOptions): Promise<LoginResult>;

  /**
   * One-tap login with the getPhoneNumber button: pass the event as is. A `wx.login` runs alongside,
   * so the user ends up with both identities. Throws `phone_number_denied` when the event has no code.
   *
   * @example
   * ```ts
   * // <button open-type="getPhoneNumber" bindgetphonenumber="onPhone">
   * Page({ async onPhone(e) { await auth.phoneLogin(e); } });
   * ```
   */
  phoneLogin(event: PhoneNumberEvent): Promise<LoginResult>;

  /**
   * Binds a phone to the logged-in user: the getPhoneNumber event, or `{ phone, code }` with an SMS
   * code sent with `purpose: 'bind'`. The server asks for a login within 5 minutes; for a WeChat user
   * the SDK then logs in again (`wx.login`) and retries once. Resolves with the bound phone (E.164).
   *
   * @example
   * ```ts
   * Page({ async onBind(e) { const phone = await auth.bindPhone(e); this.setData({ phone }); } });
   * ```
   */
  bindPhone(input: PhoneNumberEvent | { phone: string; code: string }): Promise<string>;

  /**
   * Decrypts open data (`wx.getWeRunData`, `wx.getUserInfo`…) on the server, which holds the
   * session_key. When the server's key is stale (`session_key_stale`) the SDK logs in again to give
   * the server a fresh key; data encrypted with the old key can never be decrypted, so:
   * - given the data, it throws `session_key_stale` saying so — fetch the data again and retry;
   * - given a function that fetches the data, it fetches once more after the re-login and decrypts
   *   that, once. It never loops.
   *
   * @example
   * ```ts
   * const werun = await auth.decrypt<{ stepInfoList: { step: number }[] }>(
   *   () => new Promise((resolve, reject) => wx.getWeRunData({ success: resolve, fail: reject })),
   * );
   * ```
   */
  decrypt<T = Record<string, unknown>>(source: EncryptedDataSource): Promise<T>;

  /**
   * The user's active sessions (devices), `current` marking this one.
   *
   * @example
   * ```ts
   * const sessions = await auth.listSessions();
   * ```
   */
  listSessions(): Promise<SessionInfo[]>;

  /**
   * Ends one of the user's sessions (e.g. a lost phone).
   *
   * @example
   * ```ts
   * await auth.revokeSession(session.id);
   * ```
   */
  revokeSession(id: string): Promise<void>;

  /**
   * Logs out: local state is cleared at once (listeners hear `logout` before any request), then the
   * server session is ended — best effort, so it resolves even offline.
   *
   * @example
   * ```ts
   * await auth.logout();
   * wx.reLaunch({ url: '/pages/index/index' });
   * ```
   */
  logout(options?: LogoutOptions): Promise<void>;

  /**
   * The current login state, read synchronously (restored from storage at creation).
   *
   * @example
   * ```ts
   * if (!auth.getState().loggedIn) wx.navigateTo({ url: '/pages/login/login' });
   * ```
   */
  getState(): AuthState;

  /**
   * Listens to login state changes; returns the function that stops listening.
   *
   * @example
   * ```ts
   * const stop = auth.onChange((state, reason) => this.setData({ user: state.user }));
   * // later: stop();
   * ```
   */
  onChange(listener: ChangeListener): () => void;
}
