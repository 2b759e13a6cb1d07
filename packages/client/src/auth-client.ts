import type { AuthClient, AuthClientOptions, EncryptedDataSource } from './auth-client.types.ts';
import { isWxAuthError, WxAuthError } from './errors.ts';
import { createEmitter } from './events.ts';
import { isPhoneNumberEvent, phoneCodeOf } from './phone.ts';
import { defaultPlatform } from './platform.ts';
import { appIdField, createSessionManager, readTokens } from './session.ts';
import { createSessionStore, isRecord } from './storage.ts';
import { checked, createTransport } from './transport.ts';
import type {
  ApiResponse,
  EncryptedData,
  LoginResult,
  RequestOptions,
  SessionInfo,
  SmsSendResult,
} from './types.ts';

/**
 * Creates the client: restores the session from storage at once (synchronously), and does nothing
 * on the network until a call needs it.
 *
 * @example
 * ```ts
 * // app.js
 * import { createAuthClient } from '@wxauth/client';
 * export const auth = createAuthClient({ baseURL: 'https://auth.example.com', appId: 'wx1234567890abcdef' });
 * App({ onLaunch() { auth.login(); } });
 * ```
 */
export function createAuthClient(options: AuthClientOptions): AuthClient {
  if (!options || typeof options.baseURL !== 'string' || !/^https?:\/\/[^/]/i.test(options.baseURL)) {
    throw new WxAuthError(
      'invalid_request',
      'createAuthClient needs baseURL, e.g. https://auth.example.com.',
    );
  }
  const platform = options.platform ?? defaultPlatform();
  const now = options.now ?? (() => Date.now());
  const transport = createTransport({
    platform,
    baseURL: options.baseURL,
    maxConcurrent: Math.max(1, options.maxConcurrentRequests ?? 10),
    timeout: options.timeout,
  });
  const emitter = createEmitter();
  const sessions = createSessionManager({
    platform,
    transport,
    store: createSessionStore(platform.storage, options.storageKey ?? 'wxauth'),
    appId: options.appId,
    now,
    leewayMs: (options.refreshLeewaySeconds ?? 60) * 1000,
    autoLogin: options.autoLogin !== false,
    emit: (reason) => emitter.emit(sessions.state(), reason),
  });

  const toResult = (outcome: {
    session: { user: LoginResult['user'] };
    isNewUser: boolean;
  }): LoginResult => ({
    user: outcome.session.user,
    isNewUser: outcome.isNewUser,
  });

  const post = async <T>(
    url: string,
    data: Record<string, unknown>,
    auth: boolean,
  ): Promise<ApiResponse<T>> => request<T>({ url, method: 'POST', data, auth });

  async function request<T>(req: RequestOptions): Promise<ApiResponse<T>> {
    const call = {
      url: req.url,
      ...(req.method ? { method: req.method } : {}),
      ...(req.data !== undefined ? { data: req.data } : {}),
      ...(req.header ? { header: req.header } : {}),
      ...(req.timeout !== undefined ? { timeout: req.timeout } : {}),
    };
    // The bearer token never goes to a foreign host, even when asked to.
    if (req.auth === false || !transport.isOwn(req.url)) return checked<T>(await transport.send(call));
    let { session } = await sessions.ensure(false);
    let response = await transport.send({ ...call, token: session.accessToken });
    if (response.statusCode === 401) {
      // One renewal, one retry: a second 401 is an answer, not a reason to loop.
      session = (await sessions.recover(session.accessToken)).session;
      response = await transport.send({ ...call, token: session.accessToken });
    }
    return checked<T>(response);
  }

  async function decryptOnce<T>(data: EncryptedData): Promise<T> {
    const body: Record<string, unknown> = { encryptedData: data.encryptedData, iv: data.iv };
    if (typeof data.rawData === 'string') body.rawData = data.rawData;
    if (typeof data.signature === 'string') body.signature = data.signature;
    const { data: result } = await post<unknown>('/v1/wechat/decrypt', body, true);
    if (!isRecord(result) || !('data' in result)) {
      throw new WxAuthError('invalid_response', 'The server sent a decrypt response the SDK cannot read.');
    }
    return result.data as T;
  }

  const client: AuthClient = {
    async login(loginOptions) {
      if (loginOptions?.force) return toResult(await sessions.forceLogin());
      try {
        return toResult(await sessions.ensure(true));
      } catch (error) {
        // Joined a renewal started by a call that may not log in (autoLogin: false) and that found
        // the session over: this caller asked to log in, so it does.
        if (!isWxAuthError(error, 'not_logged_in')) throw error;
        return toResult(await sessions.forceLogin());
      }
    },

    request,

    async getAccessToken() {
      return (await sessions.ensure(false)).session.accessToken;
    },

    async sendSmsCode(phone, smsOptions) {
      const purpose = smsOptions?.purpose;
      const { data } = await post<SmsSendResult>(
        '/v1/auth/sms/send',
        { phone, ...(purpose ? { purpose } : {}) },
        false,
      );
      return data;
    },

    async loginWithSms(phone, code, smsOptions) {
      const outcome = await sessions.explicit(async (accept) => {
        const wechatCode = smsOptions?.linkWechat ? await platform.login() : undefined;
        const { data } = await post<unknown>(
          '/v1/auth/sms/login',
          { phone, code, ...(wechatCode ? { wechatCode, ...appIdField(options.appId) } : {}) },
          false,
        );
        return accept(readTokens(data), 'login');
      });
      return toResult(outcome);
    },

    async phoneLogin(event) {
      // Checked before wx.login: a declined button must not cost a login.
      const phoneCode = phoneCodeOf(event);
      const outcome = await sessions.explicit(async (accept) => {
        const loginCode = await platform.login();
        const { data } = await post<unknown>(
          '/v1/auth/wechat/phone-login',
          { loginCode, phoneCode, ...appIdField(options.appId) },
          false,
        );
        return accept(readTokens(data), 'login');
      });
      return toResult(outcome);
    },

    async bindPhone(input) {
      const body = isPhoneNumberEvent(input)
        ? { phoneCode: phoneCodeOf(input) }
        : { phone: input.phone, code: input.code };
      const bind = () => post<{ phone: string }>('/v1/me/phone', body, true);
      let response: ApiResponse<{ phone: string }>;
      try {
        response = await bind();
      } catch (error) {
        // The server wants a login from the last 5 minutes. A WeChat user can give one silently;
        // the server checks recency before it consumes the phone code, so the code is still good.
        const before = sessions.current();
        if (
          !isWxAuthError(error, 'reauthentication_required') ||
          !before ||
          !hasWechat(before.user, options.appId)
        )
          throw error;
        const { session } = await sessions.forceLogin();
        if (session.user.id !== before.user.id) throw error;
        response = await bind();
      }
      const phone = response.data.phone;
      const session = sessions.current();
      if (session) sessions.updateUser({ ...session.user, phone });
      return phone;
    },

    async decrypt<T>(source: EncryptedDataSource): Promise<T> {
      const fetchData = typeof source === 'function' ? source : null;
      const first = fetchData ? await fetchData() : (source as EncryptedData);
      try {
        return await decryptOnce<T>(first);
      } catch (error) {
        if (!isWxAuthError(error, 'session_key_stale')) throw error;
        // The server's session_key is not the one this data was sealed with. A fresh wx.login gives
        // the server the current key; the old data stays undecryptable whatever happens next.
        await sessions.forceLogin();
        if (fetchData) {
          try {
            return await decryptOnce<T>(await fetchData());
          } catch (again) {
            if (!isWxAuthError(again, 'session_key_stale')) throw again;
          }
        }
        throw new WxAuthError(
          'session_key_stale',
          fetchData
            ? 'The data could not be decrypted even after a fresh login; ask the user to try again later.'
            : 'The encrypted data was sealed with a session key the server no longer has. wxauth has logged in again, so the server now holds a fresh key, but data encrypted with the old key can never be decrypted: fetch it again (e.g. call wx.getWeRunData again) and pass the new result to decrypt().',
          {
            status: error.status,
            ...(error.requestId ? { requestId: error.requestId } : {}),
            cause: error,
          },
        );
      }
    },

    async listSessions() {
      const { data } = await request<{ sessions: SessionInfo[] }>({ url: '/v1/sessions' });
      return data.sessions;
    },

    async revokeSession(id) {
      await request({ url: `/v1/sessions/${encodeURIComponent(id)}`, method: 'DELETE' });
    },

    logout: (logoutOptions) => sessions.logout(logoutOptions?.all === true),

    getState: () => sessions.state(),

    onChange: (listener) => emitter.on(listener),
  };
  return client;
}

function hasWechat(user: { wechat: { appId: string }[] }, appId: string | undefined): boolean {
  return user.wechat.some((identity) => !appId || identity.appId === appId);
}
