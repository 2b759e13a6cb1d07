import { describe, expect, it } from 'vitest';
import { APP, APP2, RID, startHarness, UNION_APP } from './support/sim.ts';

describe('GET /sns/jscode2session', () => {
  it('exchanges a wx.login code for session_key and openid, with no errcode field and no unionid', async () => {
    const h = await startHarness();
    const login = await h.loginCode();
    const body = await h.code2Session(login.code);
    expect(body).toEqual({ session_key: login.sessionKey, openid: login.openid });
    expect(Object.keys(body)).toEqual(['session_key', 'openid']);
    expect(body.openid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    expect(login.code).toMatch(/^[A-Za-z0-9]{32}$/);
    expect(Buffer.from(login.sessionKey, 'base64')).toHaveLength(16);
    expect(login.sessionKey).toHaveLength(24);
    expect(login.unionid).toBeNull();
  });

  it('returns the same unionid for one person across union-bound apps, with a different openid per app', async () => {
    const h = await startHarness();
    const other = { appId: 'wxunion2', secret: 's4', unionBound: true };
    expect((await h.control('POST', '/__sim/apps', other)).status).toBe(200);
    const a = await h.loginCode({ appId: UNION_APP.appId, unionid: 'oPersonUnionid000000000000001' });
    const b = await h.loginCode({ appId: other.appId, unionid: 'oPersonUnionid000000000000001' });
    const bodyA = await h.code2Session(a.code, UNION_APP);
    const bodyB = await h.code2Session(b.code, other);
    expect(bodyA.unionid).toBe('oPersonUnionid000000000000001');
    expect(bodyB.unionid).toBe('oPersonUnionid000000000000001');
    expect(bodyA.openid).not.toBe(bodyB.openid);
    // A generated unionid has the observed 28-char shape (§2).
    const fresh = await h.loginCode({ appId: UNION_APP.appId });
    expect((await h.code2Session(fresh.code, UNION_APP)).unionid).toMatch(/^o[A-Za-z0-9_-]{27}$/);
    // The same person logging in again to the same app keeps the openid.
    const again = await h.loginCode({ appId: UNION_APP.appId, unionid: 'oPersonUnionid000000000000001' });
    expect(again.openid).toBe(a.openid);
  });

  it('accepts a code once: a replay answers 40163 "code been used" with a rid', async () => {
    const h = await startHarness();
    const { code } = await h.loginCode();
    await h.code2Session(code);
    const replay = await h.code2Session(code);
    expect(replay.errcode).toBe(40163);
    expect(replay.errmsg).toMatch(/^code been used, rid: /);
    expect(replay.errmsg).toMatch(RID);
  });

  it("expires codes after codeTtlMs (40029), and answers 40029 for unknown and other apps' codes", async () => {
    const h = await startHarness();
    const early = await h.loginCode();
    const late = await h.loginCode();
    h.sim.advanceClock(299_999);
    expect((await h.code2Session(early.code)).openid).toBe(early.openid);
    h.sim.advanceClock(1);
    expect((await h.code2Session(late.code)).errcode).toBe(40029);
    // Once expired, a used code is forgotten too: 40029, not 40163.
    expect((await h.code2Session(early.code)).errcode).toBe(40029);

    const mine = await h.loginCode();
    expect((await h.code2Session(mine.code, APP2)).errcode).toBe(40029);
    expect((await h.code2Session('0a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p')).errcode).toBe(40029);
    // The failed attempt with another app's credentials did not consume the code.
    expect((await h.code2Session(mine.code)).openid).toBe(mine.openid);
  });

  it('honours a configured code lifetime', async () => {
    const h = await startHarness({ codeTtlMs: 1000 });
    const { code } = await h.loginCode();
    h.sim.advanceClock(1000);
    expect((await h.code2Session(code)).errcode).toBe(40029);
  });

  it.each([
    [{ secret: 's', js_code: 'c', grant_type: 'authorization_code' }, 41002, 'appid missing'],
    [{ appid: APP.appId, js_code: 'c', grant_type: 'authorization_code' }, 41004, 'appsecret missing'],
    [{ appid: APP.appId, secret: APP.secret, grant_type: 'authorization_code' }, 41008, 'missing code'],
    [
      { appid: APP.appId, secret: APP.secret, js_code: 'c', grant_type: 'client_credential' },
      40002,
      'invalid grant_type',
    ],
    [{ appid: APP.appId, secret: APP.secret, js_code: 'c' }, 40002, 'invalid grant_type'],
    [
      { appid: 'wxnope', secret: APP.secret, js_code: 'c', grant_type: 'authorization_code' },
      40013,
      'invalid appid',
    ],
    [
      { appid: APP.appId, secret: 'wrong', js_code: 'c', grant_type: 'authorization_code' },
      40125,
      'invalid appsecret',
    ],
  ])('rejects bad parameters %j with %i', async (query, errcode, text) => {
    const h = await startHarness();
    const response = await fetch(`${h.url}/sns/jscode2session?${new URLSearchParams(query)}`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    const body = (await response.json()) as { errcode: number; errmsg: string };
    expect(body.errcode).toBe(errcode);
    expect(body.errmsg.startsWith(`${text}, rid: `)).toBe(true);
  });

  it('answers 40226 for a user marked blocked, until unblocked', async () => {
    const h = await startHarness();
    const blocked = await h.loginCode({ openid: 'oBlockedUser000000000000000', blocked: true });
    expect((await h.code2Session(blocked.code)).errcode).toBe(40226);
    const unblocked = await h.loginCode({ openid: 'oBlockedUser000000000000000', blocked: false });
    expect((await h.code2Session(unblocked.code)).openid).toBe('oBlockedUser000000000000000');
  });

  it('enforces the per-user minute quota with 45011 and leaves the code usable next minute', async () => {
    const h = await startHarness({ code2SessionPerUserPerMinute: 2 });
    const openid = 'oQuotaUser00000000000000000';
    for (let i = 0; i < 2; i++) {
      expect((await h.code2Session((await h.loginCode({ openid })).code)).openid).toBe(openid);
    }
    const limited = await h.loginCode({ openid });
    const body = await h.code2Session(limited.code);
    expect(body.errcode).toBe(45011);
    expect(body.errmsg).toMatch(/^api minute-quota reach limit mustslower retry next minute, rid: /);
    // Another user is not affected.
    const other = await h.loginCode();
    expect((await h.code2Session(other.code)).openid).toBe(other.openid);
    h.sim.advanceClock(60_000);
    expect((await h.code2Session(limited.code)).openid).toBe(openid);
  });

  it('defaults the per-user quota to 100 a minute', async () => {
    const h = await startHarness();
    const openid = 'oQuotaDefault00000000000000';
    const codes = Array.from({ length: 101 }, () => h.sim.login({ appId: APP.appId, openid }).code);
    const results = [];
    for (const code of codes) results.push((await h.code2Session(code)).errcode ?? 0);
    expect(results.filter((e) => e === 0)).toHaveLength(100);
    expect(results.at(-1)).toBe(45011);
  });

  it('applies app-wide rate limits per path on minute and second windows', async () => {
    const h = await startHarness({ rateLimits: { '/sns/jscode2session': { perMinute: 3, perSecond: 2 } } });
    const codes = Array.from({ length: 5 }, () => h.sim.login({ appId: APP.appId }).code);
    expect((await h.code2Session(codes[0]!)).errcode).toBeUndefined();
    expect((await h.code2Session(codes[1]!)).errcode).toBeUndefined();
    expect((await h.code2Session(codes[2]!)).errcode).toBe(45011);
    h.sim.advanceClock(1000);
    expect((await h.code2Session(codes[2]!)).errcode).toBeUndefined();
    expect((await h.code2Session(codes[3]!)).errcode).toBe(45011);
    // Another app has its own window.
    expect((await h.code2Session(h.sim.login({ appId: APP2.appId }).code, APP2)).errcode).toBeUndefined();
    h.sim.advanceClock(59_000);
    expect((await h.code2Session(codes[3]!)).errcode).toBeUndefined();
  });

  it('counts a call against the app-wide limit when it arrives, not when its slow answer leaves', async () => {
    const h = await startHarness({ latencyMs: 300, rateLimits: { '/sns/jscode2session': { perSecond: 1 } } });
    const [first, second] = Array.from({ length: 2 }, () => h.sim.login({ appId: APP.appId }).code);
    // The first call arrives in one second and is still being answered when the clock moves to the next,
    // where the second call arrives: each second saw one call.
    const slow = h.code2Session(first!);
    await new Promise((resolve) => setTimeout(resolve, 100));
    h.sim.advanceClock(1000);
    const next = h.code2Session(second!);
    expect((await slow).errcode).toBeUndefined();
    expect((await next).errcode).toBeUndefined();
  });
});
