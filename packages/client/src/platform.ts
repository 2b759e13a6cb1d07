import { WxAuthError } from './errors.ts';
import type { HttpMethod } from './types.ts';

/**
 * One HTTP request as the SDK hands it to the platform.
 *
 * @example
 * ```ts
 * const req: PlatformRequest = { url: 'https://api.example.com/v1/me', method: 'GET', header: {} };
 * ```
 */
export interface PlatformRequest {
  url: string;
  method: HttpMethod;
  header: Record<string, string>;
  data?: Record<string, unknown> | string;
  timeout?: number;
}

/**
 * Any response that arrived, whatever its status (`wx.request` calls `success` for a 500 too).
 *
 * @example
 * ```ts
 * const res: PlatformResponse = { statusCode: 200, data: { ok: true }, header: {} };
 * ```
 */
export interface PlatformResponse {
  statusCode: number;
  /** Parsed JSON when the body was JSON, else the text. */
  data: unknown;
  header: Record<string, string>;
}

/**
 * Synchronous key-value storage holding strings, like `wx.setStorageSync`.
 *
 * @example
 * ```ts
 * const memory = new Map<string, string>();
 * const storage: PlatformStorage = {
 *   get: (key) => memory.get(key) ?? null,
 *   set: (key, value) => { memory.set(key, value); },
 *   remove: (key) => { memory.delete(key); },
 * };
 * ```
 */
export interface PlatformStorage {
  get(key: string): string | null;
  /** May throw (WeChat: 1 MB a key, 10 MB in all); the SDK then keeps the session in memory only. */
  set(key: string, value: string): void;
  remove(key: string): void;
}

/**
 * What the SDK needs from the runtime. `createWxPlatform` builds one from `wx`, `Taro` or `uni`;
 * write your own for anything else (a browser, a test).
 *
 * @example
 * ```ts
 * const platform: Platform = createWxPlatform(wx);
 * const auth = createAuthClient({ baseURL: 'https://auth.example.com', platform });
 * ```
 */
export interface Platform {
  /** A fresh `wx.login` code. Rejects with a `WxAuthError` (`wechat_login_failed`). */
  login(): Promise<string>;
  /** Resolves for every response that arrived; rejects (`network_error`) only when none did. */
  request(request: PlatformRequest): Promise<PlatformResponse>;
  storage: PlatformStorage;
}

/** The fail result of a `wx.*` call. */
interface WxFail {
  errMsg: string;
  errno?: number;
}

/**
 * The part of the `wx` object the SDK uses, written structurally so that the native `wx`
 * (miniprogram-api-typings' `WechatMiniprogram.Wx`), Taro and uni-app all fit it.
 *
 * @example
 * ```ts
 * const runtime: WxLike = wx; // or Taro, or uni
 * ```
 */
export interface WxLike {
  login(option: {
    timeout?: number;
    success?: (result: { code: string }) => void;
    fail?: (error: WxFail) => void;
  }): unknown;
  request(option: {
    url: string;
    method?: HttpMethod;
    data?: string | Record<string, unknown>;
    header?: Record<string, string>;
    timeout?: number;
    dataType?: 'json';
    responseType?: 'text';
    success?: (result: { data: unknown; statusCode: number; header: object }) => void;
    fail?: (error: WxFail) => void;
  }): unknown;
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: string): void;
  removeStorageSync(key: string): void;
}

/**
 * Adapts a `wx`-style runtime (native `wx`, Taro's `Taro`, uni-app's `uni`) to `Platform`.
 * Callbacks are used rather than promises: `wx.login` has no promise form (wechat-api.md §13.1).
 *
 * @example
 * ```ts
 * import Taro from '@tarojs/taro';
 * const auth = createAuthClient({ baseURL, platform: createWxPlatform(Taro) });
 * ```
 */
export function createWxPlatform(runtime: WxLike): Platform {
  return {
    login: () =>
      new Promise((resolve, reject) => {
        runtime.login({
          success: (result) => {
            if (typeof result.code === 'string' && result.code) resolve(result.code);
            else reject(new WxAuthError('wechat_login_failed', 'wx.login returned no code.'));
          },
          fail: (error) =>
            reject(
              new WxAuthError('wechat_login_failed', `wx.login failed: ${error.errMsg}`, {
                ...(error.errno !== undefined ? { errno: error.errno } : {}),
              }),
            ),
        });
      }),
    request: (request) =>
      new Promise((resolve, reject) => {
        runtime.request({
          url: request.url,
          method: request.method,
          header: request.header,
          dataType: 'json',
          responseType: 'text',
          ...(request.data !== undefined ? { data: request.data } : {}),
          ...(request.timeout !== undefined ? { timeout: request.timeout } : {}),
          // wx.request reports success for every status that arrived; the SDK checks statusCode.
          success: (result) =>
            resolve({
              statusCode: result.statusCode,
              data: result.data,
              header: normalizeHeader(result.header),
            }),
          fail: (error) =>
            reject(
              new WxAuthError('network_error', `The request failed: ${error.errMsg}`, {
                ...(error.errno !== undefined ? { errno: error.errno } : {}),
              }),
            ),
        });
      }),
    storage: {
      get(key) {
        // A missing key reads as '' on WeChat, Taro and uni-app (undocumented, wechat-api.md §16).
        const value = runtime.getStorageSync(key);
        return typeof value === 'string' && value !== '' ? value : null;
      },
      set: (key, value) => runtime.setStorageSync(key, value),
      remove: (key) => runtime.removeStorageSync(key),
    },
  };
}

/** Header names lower-cased, values as strings: runtimes differ in both. */
function normalizeHeader(header: object | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const [name, value] of Object.entries(header)) {
    if (value !== undefined && value !== null) out[name.toLowerCase()] = String(value);
  }
  return out;
}

// The mini-program runtime provides `wx` as a free variable (modules are wrapped with it as a
// parameter); `globalThis` is missing on older iOS JavaScriptCore, so it is not used here. Declared
// in this module only, so it never clashes with miniprogram-api-typings' global `wx`.
declare const wx: WxLike | undefined;

/**
 * The platform used when none is given: the `wx` object of the mini-program runtime.
 * Throws when there is none, so a misconfigured build fails at start-up, not at the first login.
 */
export function defaultPlatform(): Platform {
  const runtime = typeof wx === 'undefined' ? undefined : wx;
  if (!runtime || typeof runtime.login !== 'function') {
    throw new WxAuthError(
      'invalid_request',
      'No `wx` object: pass `platform: createWxPlatform(Taro | uni | yourAdapter)` to createAuthClient.',
    );
  }
  return createWxPlatform(runtime);
}
