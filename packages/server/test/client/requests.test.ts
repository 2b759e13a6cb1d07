import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WxAuthError } from '../../../client/src/index.ts';
import { createMemoryStorage, TOTAL_LIMIT_BYTES } from '../../../client/test/support/memory-storage.ts';
import { type ClientWorld, type Me, startClientWorld } from './support.ts';

/** request(), typed errors, WeChat's request and storage limits, and logout, against the real server. */
describe('client SDK requests and logout, end to end', () => {
  let world: ClientWorld;
  beforeAll(async () => {
    world = await startClientWorld();
  });
  afterAll(() => world.close());

  it('checks statusCode itself and throws typed errors with the server code and request id', async () => {
    const { auth } = world.device();
    const missing = await auth.request({ url: '/v1/nothing-here' }).catch((e: unknown) => e);
    expect(missing).toBeInstanceOf(WxAuthError);
    expect(missing).toMatchObject({ code: 'not_found', status: 404 });
    expect((missing as WxAuthError).requestId).toMatch(/.+/);

    const bad = await auth.loginWithSms('+8613900000001', '000000').catch((e: unknown) => e);
    expect(bad).toMatchObject({ code: expect.stringMatching(/^sms_code_(invalid|expired)$/), status: 400 });

    const phone = '+8613900000002';
    await auth.sendSmsCode(phone);
    const limited = await auth.sendSmsCode(phone).catch((e: unknown) => e);
    expect(limited).toMatchObject({ code: 'rate_limited', status: 429 });
    expect((limited as WxAuthError).retryAfter).toBeGreaterThan(0);
    expect(auth.getState().loggedIn).toBe(true); // the 404 above needed a session: auto login
  });

  it('never has more than 10 requests in flight, whatever the caller asks', async () => {
    const { wx, auth } = world.device();
    await auth.login();
    wx.resetStats();
    const results = await Promise.all(Array.from({ length: 25 }, () => auth.request<Me>({ url: '/v1/me' })));
    expect(results).toHaveLength(25);
    expect(wx.stats.peakConcurrent).toBeLessThanOrEqual(10);
    expect(wx.stats.peakConcurrent).toBeGreaterThan(1);
    expect(wx.stats.rejectedOverLimit).toBe(0);

    // The shim really enforces the limit: 11 raw wx.request calls, one fails.
    const failures: string[] = [];
    await Promise.all(
      Array.from(
        { length: 11 },
        () =>
          new Promise<void>((resolve) =>
            wx.request({
              url: `${world.url}/healthz`,
              success: () => resolve(),
              fail: (e) => {
                failures.push(e.errMsg);
                resolve();
              },
            }),
          ),
      ),
    );
    expect(failures).toEqual(['request:fail exceed max task count']);
  });

  it('sends the bearer token only to its own server', async () => {
    const { wx, auth } = world.device();
    await auth.request({ url: '/v1/me' });
    const foreign = await auth.request<{ counts: Record<string, number> }>({
      url: `${world.h.sim.url}/__sim/calls`,
    });
    expect(foreign.data.counts).toBeDefined();
    const own = wx.stats.requests.find((r) => r.path === '/v1/me');
    const other = wx.stats.requests.find((r) => r.path === '/__sim/calls');
    expect(own?.authorization).toMatch(/^Bearer /);
    expect(other?.authorization).toBeUndefined();
  });

  it('works from memory when storage is full, and never leaves a stale entry behind', async () => {
    const storage = createMemoryStorage();
    // The app's own data fills WeChat's 10 MB almost to the brim (1 MB a key at most).
    const chunk = 'x'.repeat(1000 * 1000);
    for (let i = 0; storage.usedBytes() + chunk.length + 20 < TOTAL_LIMIT_BYTES; i++)
      storage.setStorageSync(`app:${i}`, chunk);
    storage.setStorageSync('app:last', 'x'.repeat(TOTAL_LIMIT_BYTES - storage.usedBytes() - 200));
    const { wx, auth } = world.device({ storage });
    const me = await auth.request<Me>({ url: '/v1/me' });
    expect(me.data.id).toBe(auth.getState().user?.id);
    expect(storage.getStorageSync('wxauth:session')).toBe('');
    expect(storage.usedBytes()).toBeLessThanOrEqual(TOTAL_LIMIT_BYTES);

    // The next launch has nothing to restore and logs in again.
    const next = world.device({ storage, openid: wx.openid });
    expect(next.auth.getState().loggedIn).toBe(false);
    await next.auth.request({ url: '/v1/me' });
    expect(next.wx.stats.logins).toBe(1);
  });

  it('logout clears local state at once and ends the session on the server', async () => {
    const storage = createMemoryStorage();
    const { wx, auth } = world.device({ storage });
    await auth.login();
    const saved = JSON.parse(storage.getStorageSync('wxauth:session') as string);
    const states: boolean[] = [];
    auth.onChange((state) => states.push(state.loggedIn));

    const pending = auth.logout();
    // Synchronously, before the server has even been asked:
    expect(auth.getState()).toEqual({ loggedIn: false, user: null, accessTokenExpiresAt: null });
    expect(storage.getStorageSync('wxauth:session')).toBe('');
    expect(states).toEqual([false]);
    await pending;
    expect(wx.stats.requests.at(-1)).toMatchObject({ path: '/v1/auth/logout', status: 204 });

    const refresh = await fetch(`${world.url}/v1/auth/token/refresh`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ refreshToken: saved.refreshToken }),
    });
    expect(refresh.status).toBe(401);
  });

  it('logout offline still clears everything and resolves', async () => {
    const storage = createMemoryStorage();
    const { wx, auth } = world.device({ storage });
    await auth.login();
    wx.offline = true;
    await expect(auth.logout()).resolves.toBeUndefined();
    expect(auth.getState().loggedIn).toBe(false);
    expect(storage.entries()).toEqual([]);
  });

  it('logout({ all: true }) ends the sessions of every device', async () => {
    const a = world.device();
    await a.auth.login();
    const b = world.device({ openid: a.wx.openid });
    await b.auth.login();
    expect((await b.auth.listSessions()).length).toBeGreaterThanOrEqual(2);
    await a.auth.logout({ all: true });
    // b's next request: its session is gone, so it renews — and, the refresh refused, logs in again.
    b.wx.resetStats();
    await b.auth.request({ url: '/v1/me' });
    const statuses = b.wx.stats.requests.map((r) => `${r.path} ${r.status}`);
    expect(statuses).toContain('/v1/auth/token/refresh 401');
    expect(b.wx.stats.logins).toBe(1);
  });

  it('a logout while a login is under way wins: the waiting calls fail and no session survives', async () => {
    const { wx, auth } = world.device();
    const waiting = auth.request({ url: '/v1/me' }).catch((e: unknown) => e);
    await auth.logout();
    expect(await waiting).toMatchObject({ code: 'logged_out' });
    expect(auth.getState().loggedIn).toBe(false);
    // The session that login created was ended, too.
    await vi.waitFor(() => expect(wx.count('/v1/auth/logout')).toBe(1));
  });

  it('logs nothing: no console output through login, refresh, errors and logout', async () => {
    const spies = (['log', 'info', 'warn', 'error', 'debug'] as const).map((m) =>
      vi.spyOn(console, m).mockImplementation(() => {}),
    );
    try {
      const { auth } = world.device();
      await auth.login();
      await auth.request({ url: '/v1/nothing-here' }).catch(() => {});
      await auth.logout();
      for (const spy of spies) expect(spy).not.toHaveBeenCalled();
    } finally {
      for (const spy of spies) spy.mockRestore();
    }
  });
});
