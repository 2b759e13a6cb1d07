/**
 * Compile-only tests of the public API, checked by test/types.test.ts with the SDK's own tsconfig:
 * ES2017 library, the official miniprogram-api-typings, and no Node types. Nothing here runs.
 * `@ts-expect-error` lines prove that misuse does not compile.
 */
import {
  type ApiResponse,
  type AuthClient,
  type AuthState,
  type ChangeReason,
  createAuthClient,
  createWxPlatform,
  type EncryptedData,
  isWxAuthError,
  type LoginResult,
  type Platform,
  type SessionInfo,
  WxAuthError,
  type WxAuthErrorCode,
  type WxLike,
} from '../src/index.ts';

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
function expectType<T extends true>(): T | undefined {
  return undefined;
}

// The native wx object, as the official typings describe it, fits the adapter unchanged.
const runtime: WxLike = wx;
const platform: Platform = createWxPlatform(runtime);
const auth: AuthClient = createAuthClient({ baseURL: 'https://auth.example.com', appId: 'wx123', platform });
createAuthClient({ baseURL: 'https://auth.example.com' }); // platform defaults to wx
// @ts-expect-error baseURL is required
createAuthClient({ appId: 'wx123' });
// @ts-expect-error options are checked
createAuthClient({ baseURL: 'https://auth.example.com', autologin: false });

export async function logins(): Promise<void> {
  const result: LoginResult = await auth.login();
  expectType<Equal<typeof result.user.phone, string | null>>();
  await auth.login({ force: true });
  // @ts-expect-error unknown login option
  await auth.login({ forced: true });
  await auth.loginWithSms('13800138000', '123456', { linkWechat: true });
  await auth.sendSmsCode('13800138000', { purpose: 'bind' });
  // @ts-expect-error purpose is login or bind
  await auth.sendSmsCode('13800138000', { purpose: 'signup' });
}

export async function requests(): Promise<void> {
  const me: ApiResponse<{ id: string }> = await auth.request<{ id: string }>({ url: '/v1/me' });
  expectType<Equal<typeof me.data, { id: string }>>();
  expectType<Equal<typeof me.statusCode, number>>();
  const untyped = await auth.request({ url: '/v1/me' });
  expectType<Equal<typeof untyped.data, unknown>>();
  await auth.request({ url: '/v1/orders', method: 'POST', data: { sku: 'a' }, timeout: 5000, auth: true });
  // @ts-expect-error not an HTTP method wx.request knows
  await auth.request({ url: '/x', method: 'FETCH' });
  const token: string = await auth.getAccessToken();
  const sessions: SessionInfo[] = await auth.listSessions();
  await auth.revokeSession(sessions[0]?.id ?? token);
  await auth.logout({ all: true });
}

// The getPhoneNumber button's event, typed by the official typings, is taken as is.
Page({
  async onPhone(event: WechatMiniprogram.ButtonGetPhoneNumber) {
    await auth.phoneLogin(event);
    const phone: string = await auth.bindPhone(event);
    return phone;
  },
});
// @ts-expect-error the SMS form of bindPhone needs the code too
void auth.bindPhone({ phone: '13800138000' });

// Open data straight from wx.getWeRunData, or a function fetching it again after a re-login.
wx.getWeRunData({
  success: (res) => {
    const data: EncryptedData = res;
    void auth.decrypt<{ stepInfoList: { step: number }[] }>(data);
  },
});
void auth.decrypt(
  () =>
    new Promise<WechatMiniprogram.GetWeRunDataSuccessCallbackResult>((resolve, reject) =>
      wx.getWeRunData({ success: resolve, fail: reject }),
    ),
);
// @ts-expect-error iv is required
void auth.decrypt({ encryptedData: 'x' });

// Errors carry the server's code, the status and the request id.
export function handle(error: unknown): string {
  if (isWxAuthError(error, 'rate_limited')) return `wait ${error.retryAfter ?? 60}s`;
  if (error instanceof WxAuthError) {
    const code: WxAuthErrorCode = error.code;
    const status: number = error.status;
    const requestId: string | undefined = error.requestId;
    return `${code} ${status} ${requestId ?? ''}`;
  }
  return 'unknown';
}
const custom = new WxAuthError('my_own_code', 'codes stay open for new server codes', { status: 418 });
expectType<Equal<typeof custom.retryAfter, number | undefined>>();

// Login state.
const state: AuthState = auth.getState();
expectType<Equal<typeof state.accessTokenExpiresAt, number | null>>();
const stop: () => void = auth.onChange((next: AuthState, reason: ChangeReason) => {
  // @ts-expect-error reasons are a closed set
  if (reason === 'refreshed') return next;
  return undefined;
});
stop();

// Tokens never surface in the public state.
// @ts-expect-error no accessToken on AuthState
void state.accessToken;
