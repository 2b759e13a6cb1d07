import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChangeReason } from '../../../client/src/index.ts';
import { createMemoryStorage } from '../../../client/test/support/memory-storage.ts';
import { type ClientWorld, type Me, PAST_ACCESS_TTL_MS, startClientWorld } from './support.ts';

/** Login, restore, refresh and re-login of the SDK against the real server and simulator. */
describe('client SDK sessions, end to end', () => {
  let world: ClientWorld;
  beforeAll(async () => {
    world = await startClientWorld();
  });
  afterAll(() => world.close());

  it('10 requests at start-up make one wx.login and one login call', async () => {
    const { wx, auth } = world.device();
    const reasons: ChangeReason[] = [];
    auth.onChange((_state, reason) => reasons.push(reason));

    const results = await Promise.all(Array.from({ length: 10 }, () => auth.request<Me>({ url: '/v1/me' })));

    expect(wx.stats.logins).toBe(1);
    expect(wx.count('/v1/auth/wechat/login')).toBe(1);
    expect(wx.count('/v1/me')).toBe(10);
    expect(new Set(results.map((r) => r.data.id)).size).toBe(1);
    expect(results[0]!.data.wechat[0]!.openid).toBe(wx.openid);
    expect(reasons).toEqual(['login']);
    expect(wx.stats.rejectedOverLimit).toBe(0);
  });

  it('concurrent login() callers share one wx.login, and login() with a session makes no call', async () => {
    const { wx, auth } = world.device();
    const logins = await Promise.all([auth.login(), auth.login(), auth.login()]);
    expect(wx.stats.logins).toBe(1);
    expect(logins.every((l) => l.user.id === logins[0]!.user.id && l.isNewUser)).toBe(true);

    wx.resetStats();
    const again = await auth.login();
    expect(again).toEqual({ user: logins[0]!.user, isNewUser: false });
    expect(wx.stats.logins).toBe(0);
    expect(wx.stats.requests).toHaveLength(0);

    const forced = await auth.login({ force: true });
    expect(wx.stats.logins).toBe(1);
    expect(forced.user.id).toBe(logins[0]!.user.id);
  });

  it('a restart with saved tokens makes no login call and no refresh', async () => {
    const storage = createMemoryStorage();
    const first = world.device({ storage });
    const { user } = await first.auth.login();

    const restarted = world.device({ storage, openid: first.wx.openid });
    // Restored synchronously, before any network call.
    expect(restarted.auth.getState()).toMatchObject({ loggedIn: true, user });
    const me = await restarted.auth.request<Me>({ url: '/v1/me' });
    expect(me.data.id).toBe(user.id);
    expect(restarted.wx.stats.logins).toBe(0);
    expect(restarted.wx.stats.requests.map((r) => r.path)).toEqual(['/v1/me']);
    // Everything the SDK keeps sits under its one prefix.
    expect(storage.entries().map(([key]) => key)).toEqual(['wxauth:session']);
  });

  it('a restart with an expired access token refreshes once, without wx.login', async () => {
    const storage = createMemoryStorage();
    const first = world.device({ storage });
    const { user } = await first.auth.login();
    const oldToken = JSON.parse(storage.getStorageSync('wxauth:session') as string).accessToken;

    const later = world.device({ storage, openid: first.wx.openid, clockOffsetMs: PAST_ACCESS_TTL_MS });
    const reasons: ChangeReason[] = [];
    later.auth.onChange((_s, reason) => reasons.push(reason));
    const me = await later.auth.request<Me>({ url: '/v1/me' });

    expect(me.data.id).toBe(user.id);
    expect(later.wx.stats.logins).toBe(0);
    expect(later.wx.stats.requests.map((r) => r.path)).toEqual(['/v1/auth/token/refresh', '/v1/me']);
    expect(JSON.parse(storage.getStorageSync('wxauth:session') as string).accessToken).not.toBe(oldToken);
    expect(reasons).toEqual(['refresh']);
  });

  it('a restart whose session died on the server logs in afresh, once', async () => {
    const storage = createMemoryStorage();
    const first = world.device({ storage });
    const { user } = await first.auth.login();
    // Another device of the user ends every session, this one included.
    const other = world.device({ openid: first.wx.openid });
    await other.auth.login();
    await other.auth.logout({ all: true });

    const later = world.device({ storage, openid: first.wx.openid, clockOffsetMs: PAST_ACCESS_TTL_MS });
    const reasons: ChangeReason[] = [];
    later.auth.onChange((_s, reason) => reasons.push(reason));
    const results = await Promise.all([
      later.auth.request<Me>({ url: '/v1/me' }),
      later.auth.request<Me>({ url: '/v1/me' }),
    ]);

    expect(results.map((r) => r.data.id)).toEqual([user.id, user.id]);
    expect(later.wx.count('/v1/auth/token/refresh')).toBe(1);
    expect(later.wx.stats.logins).toBe(1);
    expect(reasons).toEqual(['relogin']);
  });

  it('10 requests hitting 401 together make exactly one refresh', async () => {
    const { wx, auth } = world.device();
    const { user } = await auth.login();
    // The server's clock runs past the access token; the device's does not, so it sends the token
    // and every request gets a 401 (clock skew between phone and server does exactly this).
    world.advanceServer(PAST_ACCESS_TTL_MS);
    try {
      wx.resetStats();
      const results = await Promise.all(
        Array.from({ length: 10 }, () => auth.request<Me>({ url: '/v1/me' })),
      );
      expect(results.every((r) => r.data.id === user.id)).toBe(true);
      const meCalls = wx.stats.requests.filter((r) => r.path === '/v1/me');
      expect(meCalls.filter((r) => r.status === 401)).toHaveLength(10);
      expect(meCalls.filter((r) => r.status === 200)).toHaveLength(10);
      expect(wx.count('/v1/auth/token/refresh')).toBe(1);
      expect(wx.stats.logins).toBe(0);
    } finally {
      world.advanceServer(-PAST_ACCESS_TTL_MS);
    }
  });

  it('a refresh token reused by another device ends the session, and the SDK logs in again cleanly', async () => {
    const storage = createMemoryStorage();
    const phone = world.device({ storage });
    const { user } = await phone.auth.login();
    // A second device holds a copy of the same tokens (a cloned phone, a stolen token).
    const clone = createMemoryStorage();
    clone.setStorageSync('wxauth:session', storage.getStorageSync('wxauth:session'));
    const thief = world.device({
      storage: clone,
      openid: phone.wx.openid,
      clockOffsetMs: PAST_ACCESS_TTL_MS,
    });
    await thief.auth.request({ url: '/v1/me' }); // rotates the shared refresh token
    expect(thief.wx.count('/v1/auth/token/refresh')).toBe(1);

    // Past the server's grace window, the phone presents the now-retired token.
    world.advanceServer(15_000);
    try {
      phone.clock.offsetMs = PAST_ACCESS_TTL_MS;
      const reasons: ChangeReason[] = [];
      phone.auth.onChange((_s, reason) => reasons.push(reason));
      phone.wx.resetStats();

      const results = await Promise.all(
        Array.from({ length: 5 }, () => phone.auth.request<Me>({ url: '/v1/me' })),
      );

      expect(results.every((r) => r.data.id === user.id)).toBe(true);
      const refreshes = phone.wx.stats.requests.filter((r) => r.path === '/v1/auth/token/refresh');
      expect(refreshes.map((r) => r.status)).toEqual([401]);
      expect(phone.wx.stats.logins).toBe(1);
      expect(reasons).toEqual(['relogin']);
      expect(phone.auth.getState().loggedIn).toBe(true);

      // The thief's session ended with the reuse: its next renewal fails and it must log in itself.
      thief.clock.offsetMs = 2 * PAST_ACCESS_TTL_MS;
      thief.wx.resetStats();
      await thief.auth.request({ url: '/v1/me' });
      expect(thief.wx.stats.requests.find((r) => r.path === '/v1/auth/token/refresh')?.status).toBe(401);
      expect(thief.wx.stats.logins).toBe(1);
    } finally {
      world.advanceServer(-15_000);
    }
  });

  it('with autoLogin off, an ended session is reported instead of silently logging in', async () => {
    const storage = createMemoryStorage();
    const first = world.device({ storage });
    await first.auth.login();
    await world.device({ storage: createMemoryStorage(), openid: first.wx.openid }).auth.login();
    const sessions = await first.auth.listSessions();
    await first.auth.revokeSession(sessions.find((s) => s.current)!.id);

    const later = world.device({
      storage,
      openid: first.wx.openid,
      clockOffsetMs: PAST_ACCESS_TTL_MS,
      client: { autoLogin: false },
    });
    const reasons: ChangeReason[] = [];
    later.auth.onChange((_s, reason) => reasons.push(reason));
    await expect(later.auth.request({ url: '/v1/me' })).rejects.toMatchObject({ code: 'not_logged_in' });
    expect(later.wx.stats.logins).toBe(0);
    expect(reasons).toEqual(['expired']);
    expect(later.auth.getState().loggedIn).toBe(false);
    // An explicit login() still works.
    await later.auth.login();
    expect(later.wx.stats.logins).toBe(1);
  });
});
