import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../src/clock.ts';
import type { Db } from '../src/storage/create-db.ts';
import { APP_ID, type Harness, startHarness, wechatLogin } from './support/harness.ts';
import { pgliteStore } from './support/test-db.ts';

/** R23: per-IP limits on login and refresh, with their defaults; R24: memory fallback when Redis is down. */
describe('per-IP rate limits', () => {
  let db: Db;
  const harnesses: Harness[] = [];
  beforeAll(async () => {
    db = await pgliteStore.open();
  });
  afterAll(async () => {
    for (const h of harnesses) await h.close();
    await db?.close();
  });

  it('allows 60 logins a minute per IP by default, then 429 with Retry-After; other IPs are unaffected', async () => {
    const clock = createManualClock(Date.UTC(2030, 0, 1, 0, 0, 5));
    const h = await startHarness({
      db,
      clock,
      env: { WXAUTH_LOGIN_RATE_PER_MINUTE: '60', WXAUTH_TRUST_PROXY: 'true' },
    });
    harnesses.push(h);
    const login = (ip: string) => {
      const { code } = h.sim.login({ appId: APP_ID });
      return h.app.inject({
        method: 'POST',
        url: '/v1/auth/wechat/login',
        headers: { 'x-forwarded-for': ip },
        payload: { code, appId: APP_ID },
      });
    };
    for (let i = 0; i < 60; i++) expect((await login('10.9.9.9')).statusCode).toBe(200);
    const refused = await login('10.9.9.9');
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBe(55);
    expect((await login('10.9.9.10')).statusCode).toBe(200);
    clock.advance(56_000);
    expect((await login('10.9.9.9')).statusCode).toBe(200);
  });

  it('limits refreshes per IP per hour', async () => {
    const h = await startHarness({ db, env: { WXAUTH_REFRESH_RATE_PER_HOUR: '3' } });
    harnesses.push(h);
    let token = (await wechatLogin(h)).body.refreshToken as string;
    for (let i = 0; i < 3; i++) {
      const res = await h.app.inject({
        method: 'POST',
        url: '/v1/auth/token/refresh',
        payload: { refreshToken: token },
      });
      expect(res.statusCode).toBe(200);
      token = res.json().refreshToken;
    }
    const refused = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/token/refresh',
      payload: { refreshToken: token },
    });
    expect(refused.statusCode).toBe(429);
  });

  it('keeps logins and refreshes working on a 10 % in-process limit when Redis is down', async () => {
    const h = await startHarness({
      db,
      env: { WXAUTH_REDIS_URL: 'redis://127.0.0.1:1', WXAUTH_LOGIN_RATE_PER_MINUTE: '50' },
    });
    harnesses.push(h);
    const results: number[] = [];
    for (let i = 0; i < 6; i++) results.push((await wechatLogin(h)).res.statusCode);
    expect(results).toEqual([200, 200, 200, 200, 200, 429]);
  });
});
