import { describe, expect, it } from 'vitest';
import { createSimulator, SIM_PATHS } from '../src/index.ts';
import { APP, APP2, type Harness, startHarness } from './support/sim.ts';

const expect400 = async (h: Harness, method: string, path: string, body: unknown, mentions: string) => {
  const response = await h.control(method, path, body);
  expect(response).toEqual({
    status: 400,
    body: { error: { code: 'invalid_request', message: expect.stringContaining(mentions) } },
  });
};

describe('control API', () => {
  it('registers apps that the WeChat endpoints then accept', async () => {
    const h = await startHarness();
    const app = { appId: 'wxnewapp', secret: 'newsecret' };
    expect(await h.control('POST', '/__sim/apps', app)).toEqual({
      status: 200,
      body: { appId: 'wxnewapp', unionBound: false },
    });
    const login = await h.loginCode({ appId: app.appId });
    expect((await h.code2Session(login.code, app)).openid).toBe(login.openid);
    // Re-registering replaces the secret.
    await h.control('POST', '/__sim/apps', { ...app, secret: 'rotated' });
    expect((await h.code2Session(h.sim.login({ appId: app.appId }).code, app)).errcode).toBe(40125);
  });

  it.each([
    ['POST', '/__sim/apps', '{not json', 'JSON'],
    ['POST', '/__sim/apps', '[]', 'object'],
    ['POST', '/__sim/apps', { secret: 's' }, 'appId'],
    ['POST', '/__sim/apps', { appId: 'wx a', secret: 's' }, 'appId'],
    ['POST', '/__sim/apps', { appId: 'wxa', secret: 's', unionBound: 'yes' }, 'unionBound'],
    ['POST', '/__sim/login', {}, 'appId'],
    ['POST', '/__sim/login', { appId: 'wxunknown' }, 'unknown appId'],
    ['POST', '/__sim/login', { appId: APP.appId, sessionKey: 'short' }, 'sessionKey'],
    ['POST', '/__sim/login', { appId: APP.appId, openid: 'has space' }, 'openid'],
    ['POST', '/__sim/login', { appId: APP.appId, blocked: 1 }, 'blocked'],
    ['POST', '/__sim/phone-code', { appId: APP.appId }, 'phoneNumber'],
    ['POST', '/__sim/phone-code', { appId: APP.appId, phoneNumber: '+8613800138000' }, 'phoneNumber'],
    [
      'POST',
      '/__sim/phone-code',
      { appId: APP.appId, phoneNumber: '13800138000', countryCode: 'cn' },
      'countryCode',
    ],
    ['POST', '/__sim/encrypt', { appId: APP.appId, openid: 'oX', data: 'text' }, 'data'],
    ['POST', '/__sim/clock', {}, 'advanceMs'],
    ['POST', '/__sim/clock', { advanceMs: -1 }, 'advanceMs'],
    ['POST', '/__sim/expire-session-key', { appId: APP.appId, openid: 'oNobody' }, 'unknown user'],
  ])('%s %s %j → 400', async (method, path, body, mentions) => {
    const h = await startHarness();
    await expect400(h, method, path, body, mentions);
  });

  it('answers 404 for unknown control routes and 405 for a wrong method', async () => {
    const h = await startHarness();
    expect(await h.control('GET', '/__sim/nope')).toEqual({
      status: 404,
      body: { error: { code: 'not_found', message: expect.any(String) } },
    });
    expect((await h.control('GET', '/__sim/login')).status).toBe(405);
    const unknown = await fetch(`${h.url}/cgi-bin/unknown`);
    expect(unknown.status).toBe(404);
  });

  it('rejects a login whose openid and unionid belong to different users', async () => {
    const h = await startHarness();
    const a = await h.loginCode({ unionid: 'oUnionA' });
    const b = await h.loginCode({ unionid: 'oUnionB' });
    await expect400(
      h,
      'POST',
      '/__sim/login',
      { appId: APP.appId, openid: b.openid, unionid: 'oUnionA' },
      'unionid',
    );
    await expect400(
      h,
      'POST',
      '/__sim/login',
      { appId: APP.appId, openid: a.openid, unionid: 'oUnionC' },
      'unionid',
    );
  });

  it('lists calls with exact counts, filterable by path', async () => {
    const h = await startHarness();
    const { code } = await h.loginCode();
    await h.code2Session(code);
    await h.code2Session(code);
    await h.token();
    const { body } = await h.control('GET', '/__sim/calls');
    expect(body.counts).toEqual({ '/sns/jscode2session': 2, '/cgi-bin/token': 1 });
    expect(body.calls).toEqual([
      { path: '/sns/jscode2session', appId: APP.appId, errcode: 0, status: 200, at: expect.any(Number) },
      { path: '/sns/jscode2session', appId: APP.appId, errcode: 40163, status: 200, at: expect.any(Number) },
      { path: '/cgi-bin/token', appId: APP.appId, errcode: 0, status: 200, at: expect.any(Number) },
    ]);
    const filtered = await h.control('GET', '/__sim/calls?path=/cgi-bin/token');
    expect(filtered.body.calls).toHaveLength(1);
    // The token's app is recorded for business endpoints.
    await h.get('/wxa/checksession', { access_token: await h.token(APP2) });
    expect(h.sim.calls().at(-1)).toMatchObject({
      path: '/wxa/checksession',
      appId: APP2.appId,
      errcode: 87008,
    });
  });

  it('keeps only the newest maxCallRecords records but exact counts', async () => {
    const h = await startHarness({ maxCallRecords: 2 });
    for (let i = 0; i < 5; i++) await h.get('/cgi-bin/token', { appid: `wx${i}` });
    expect(h.sim.calls().map((call) => call.appId)).toEqual(['wx3', 'wx4']);
    expect(h.sim.callCounts()).toEqual({ '/cgi-bin/token': 5 });
  });

  it('advances the sim clock', async () => {
    const h = await startHarness();
    const { code } = await h.loginCode();
    expect(await h.control('POST', '/__sim/clock', { advanceMs: 300_000 })).toEqual({
      status: 200,
      body: { ok: true },
    });
    expect((await h.code2Session(code)).errcode).toBe(40029);
  });

  it('resets users, codes, tokens, faults and calls but keeps apps', async () => {
    const h = await startHarness();
    const login = await h.loginCode();
    const token = await h.token();
    h.sim.injectFault({ path: '/cgi-bin/token', errcode: -1, times: 0 });
    expect(await h.control('POST', '/__sim/reset')).toEqual({ status: 200, body: { ok: true } });
    expect(h.sim.calls()).toEqual([]);
    expect(h.sim.allIssuedSessionKeys()).toEqual([]);
    expect(h.sim.currentSessionKey(APP.appId, login.openid)).toBeNull();
    expect((await h.code2Session(login.code)).errcode).toBe(40029);
    expect((await h.get('/wxa/checksession', { access_token: token })).errcode).toBe(40001);
    const again = await h.loginCode();
    expect((await h.code2Session(again.code)).openid).toBe(again.openid);
    expect(again.openid).not.toBe(login.openid);
  });

  it('issues the same codes, openids, keys and tokens for the same seed, and others for another seed', async () => {
    const run = (seed: number | string) => {
      const sim = createSimulator({ seed, apps: [APP], now: () => 0 });
      const a = sim.login({ appId: APP.appId });
      const phone = sim.phoneCode({ appId: APP.appId, phoneNumber: '13800138000' });
      const b = sim.login({ appId: APP.appId, unionid: 'oU' });
      return [a, phone, b, sim.encrypt({ appId: APP.appId, openid: a.openid, data: { x: 1 } })];
    };
    expect(run(42)).toEqual(run(42));
    expect(run('seed')).toEqual(run('seed'));
    expect(run(42)).not.toEqual(run(43));
    const h1 = await startHarness({ seed: 7 });
    const h2 = await startHarness({ seed: 7 });
    // Token draws do not shift the codes of a seeded run.
    const firstToken = await h1.token();
    const [l1, l2] = [await h1.loginCode(), await h2.loginCode()];
    expect(l1).toEqual(l2);
    expect(await h2.token()).toBe(firstToken);
  });

  it('adds latency to WeChat endpoints only', async () => {
    const h = await startHarness({ latencyMs: 120 });
    let started = performance.now();
    await h.control('POST', '/__sim/login', { appId: APP.appId });
    expect(performance.now() - started).toBeLessThan(100);
    started = performance.now();
    await h.get('/cgi-bin/token', {});
    expect(performance.now() - started).toBeGreaterThanOrEqual(110);
  });

  it('exposes the current key of a user', async () => {
    const h = await startHarness();
    const { openid, sessionKey } = await h.loginCode();
    const { body } = await h.control('GET', `/__sim/session-key?appId=${APP.appId}&openid=${openid}`);
    expect(body).toEqual({ sessionKey });
  });

  it('exports the list of emulated paths', () => {
    expect(SIM_PATHS).toHaveLength(6);
  });
});
