import { afterEach, describe, expect, it, vi } from 'vitest';
import { createAuthClient, WxAuthError } from '../src/index.ts';
import { BASE_URL, createFakePlatform, json, tokens } from './support/fake-platform.ts';

/** SDK behaviour the real server cannot easily be made to show; the rest is tested end to end. */
describe('createAuthClient (fake platform)', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('refuses to start without a baseURL, or without a wx object and no platform', () => {
    expect(() => createAuthClient({ baseURL: '' })).toThrow(/baseURL/);
    expect(() => createAuthClient({ baseURL: BASE_URL })).toThrow(/No `wx` object/);
  });

  it('retries a 401 once: a second 401 is thrown, never looped on', async () => {
    const platform = createFakePlatform();
    platform.route('POST', '/v1/auth/wechat/login', () => json(200, tokens()));
    platform.route('POST', '/v1/auth/token/refresh', () => json(200, tokens()));
    platform.route('GET', '/v1/me', () =>
      json(401, {
        error: { code: 'unauthorized', message: 'A valid access token is required.', requestId: 'r9' },
      }),
    );
    const auth = createAuthClient({ baseURL: BASE_URL, platform });
    const error = await auth.request({ url: '/v1/me' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WxAuthError);
    expect(error).toMatchObject({ code: 'unauthorized', status: 401, requestId: 'r9' });
    expect(platform.count('/v1/me')).toBe(2);
    expect(platform.count('/v1/auth/token/refresh')).toBe(1);
  });

  it('a refresh that fails without an answer keeps the session for the next try', async () => {
    const platform = createFakePlatform();
    platform.route('POST', '/v1/auth/wechat/login', () => json(200, tokens({ expiresIn: 30 })));
    platform.route('POST', '/v1/auth/token/refresh', () => {
      throw new WxAuthError('network_error', 'The request failed: request:fail timeout');
    });
    const auth = createAuthClient({ baseURL: BASE_URL, platform });
    await auth.login(); // expiresIn 30 s < 60 s leeway: the next call refreshes
    await expect(auth.request({ url: '/v1/me' })).rejects.toMatchObject({ code: 'network_error' });
    expect(auth.getState().loggedIn).toBe(true);
    expect(platform.logins).toBe(1);
  });

  it('a non-wxauth error body becomes http_error with the status; Retry-After is read', async () => {
    const platform = createFakePlatform();
    platform.route('GET', '/busy', () => json(503, '<html>Bad gateway</html>', { 'retry-after': '7' }));
    const auth = createAuthClient({ baseURL: BASE_URL, platform });
    await expect(auth.request({ url: '/busy', auth: false })).rejects.toMatchObject({
      code: 'http_error',
      status: 503,
      retryAfter: 7,
    });
  });

  it('an unreadable token response is refused before anything is stored', async () => {
    const platform = createFakePlatform();
    platform.route('POST', '/v1/auth/wechat/login', () => json(200, { accessToken: 'x' }));
    const auth = createAuthClient({ baseURL: BASE_URL, platform });
    await expect(auth.login()).rejects.toMatchObject({ code: 'invalid_response' });
    expect(platform.store.size).toBe(0);
  });

  it('a failing wx.login is reported to every waiting caller, once', async () => {
    const platform = createFakePlatform();
    platform.login = async () => {
      platform.logins++;
      throw new WxAuthError('wechat_login_failed', 'wx.login failed: login:fail');
    };
    const auth = createAuthClient({ baseURL: BASE_URL, platform });
    const results = await Promise.allSettled([auth.login(), auth.request({ url: '/v1/me' })]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(platform.logins).toBe(1);
  });

  it('a throwing onChange listener neither stops the others nor breaks the login', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] }); // the rethrow is scheduled, never run here
    const platform = createFakePlatform();
    platform.request = async () => json(200, tokens());
    const auth = createAuthClient({ baseURL: BASE_URL, platform });
    const seen: string[] = [];
    auth.onChange(() => {
      throw new Error('listener bug');
    });
    const stop = auth.onChange((_s, reason) => seen.push(reason));
    await auth.login();
    stop();
    await auth.logout();
    expect(seen).toEqual(['login']);
    expect(auth.getState().loggedIn).toBe(false);
  });

  it('explicit logins wait for a login under way instead of racing it', async () => {
    const platform = createFakePlatform();
    let sms = 0;
    platform.route('POST', '/v1/auth/wechat/login', () => json(200, tokens({ userId: 'wechat-user' })));
    platform.route('POST', '/v1/auth/sms/login', () => {
      sms++;
      return json(200, tokens({ userId: 'phone-user' }));
    });
    const auth = createAuthClient({ baseURL: BASE_URL, platform });
    const [silent, phone] = await Promise.all([auth.login(), auth.loginWithSms('13800138000', '123456')]);
    expect(silent.user.id).toBe('wechat-user');
    expect(phone.user.id).toBe('phone-user');
    expect(auth.getState().user?.id).toBe('phone-user');
    expect(sms).toBe(1);
    const order = platform.calls.map((c) => c.path);
    expect(order).toEqual(['/v1/auth/wechat/login', '/v1/auth/sms/login']);
  });

  it('with autoLogin off, login() still logs in when the stored session turns out to be over', async () => {
    const platform = createFakePlatform();
    platform.route('POST', '/v1/auth/wechat/login', () => json(200, tokens({ userId: 'fresh' })));
    platform.route('POST', '/v1/auth/token/refresh', () =>
      json(401, { error: { code: 'refresh_token_reused', message: 'ended', requestId: 'r2' } }),
    );
    const later = (hours: number) =>
      createAuthClient({
        baseURL: BASE_URL,
        platform,
        autoLogin: false,
        now: () => Date.now() + hours * 3_600_000,
      });
    await createAuthClient({ baseURL: BASE_URL, platform }).login();

    // A call that may not log in reports the end of the session...
    const app = later(1);
    await expect(app.request({ url: '/v1/me' })).rejects.toMatchObject({ code: 'not_logged_in' });
    expect(platform.logins).toBe(1);
    expect((await app.login()).user.id).toBe('fresh');
    expect(platform.logins).toBe(2);

    // ...while login() on a restored, expired session refreshes, is refused, and logs in.
    const relaunched = later(2);
    expect((await relaunched.login()).user.id).toBe('fresh');
    expect(platform.count('/v1/auth/token/refresh')).toBe(2);
    expect(platform.logins).toBe(3);
  });

  it('restores a corrupt storage entry as logged out, and removes it', () => {
    const platform = createFakePlatform();
    platform.store.set('app:session', '{"v":1,"accessToken":42}');
    const auth = createAuthClient({ baseURL: BASE_URL, platform, storageKey: 'app' });
    expect(auth.getState().loggedIn).toBe(false);
    expect(platform.store.has('app:session')).toBe(false);
  });
});
