import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/storage/create-db.ts';
import { APP_ID, type Harness, startHarness, wechatLogin } from './support/harness.ts';
import { pgliteStore } from './support/test-db.ts';

/**
 * reliability.md B.4 through the login endpoint: each WeChat fault gives the outcome R3–R5 name, and
 * nothing is half-written. Each case gets its own server (breaker and quota state are per process).
 */
const upstreamCalls = (h: Harness) => h.sim.callCounts()['/sns/jscode2session'] ?? 0;
const countRows = async (db: Db) => {
  const [u, s, i] = await Promise.all(
    (['users', 'sessions', 'wechat_identities'] as const).map((t) =>
      db.kysely.selectFrom(t).select(db.kysely.fn.countAll<string>().as('n')).executeTakeFirstOrThrow(),
    ),
  );
  return { users: Number(u!.n), sessions: Number(s!.n), identities: Number(i!.n) };
};

describe('WeChat faults at the login endpoint', () => {
  let db: Db;
  const harnesses: Harness[] = [];
  const fresh = async () => {
    const h = await startHarness({ db });
    harnesses.push(h);
    return h;
  };
  beforeAll(async () => {
    db = await pgliteStore.open();
  });
  afterAll(async () => {
    for (const h of harnesses) await h.close();
    await db?.close();
  });

  it('a slow WeChat (5 s) fails the login with 503 within about 3 s, and writes nothing', async () => {
    const h = await fresh();
    const before = await countRows(db);
    h.sim.injectFault({ path: '/sns/jscode2session', delayMs: 5_000, times: 3 });
    const started = performance.now();
    const { res } = await wechatLogin(h);
    const elapsed = performance.now() - started;
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('upstream_unavailable');
    expect(elapsed).toBeLessThan(3_300);
    expect(await countRows(db)).toEqual(before);
  });

  it('-1 once is retried once and succeeds; -1 twice fails with 503', async () => {
    const h = await fresh();
    h.sim.injectFault({ path: '/sns/jscode2session', errcode: -1, times: 1 });
    let calls = upstreamCalls(h);
    expect((await wechatLogin(h)).res.statusCode).toBe(200);
    expect(upstreamCalls(h) - calls).toBe(2);

    h.sim.injectFault({ path: '/sns/jscode2session', errcode: -1, times: 2 });
    calls = upstreamCalls(h);
    const { res } = await wechatLogin(h);
    expect(res.statusCode).toBe(503);
    expect(upstreamCalls(h) - calls).toBe(2);
  });

  it('a -1 burst opens the breaker: logins fail fast without calling WeChat, refresh keeps working', async () => {
    const h = await fresh();
    const session = (await wechatLogin(h)).body;
    h.sim.injectFault({ path: '/sns/jscode2session', errcode: -1, times: -1 });
    for (let i = 0; i < 12; i++) await wechatLogin(h);
    h.sim.clearFaults();
    const calls = upstreamCalls(h);
    const started = performance.now();
    const { res } = await wechatLogin(h);
    expect(performance.now() - started).toBeLessThan(50);
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('upstream_unavailable');
    expect(Number(res.headers['retry-after'])).toBeGreaterThan(0);
    expect(upstreamCalls(h)).toBe(calls);
    const refreshed = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/token/refresh',
      payload: { refreshToken: session.refreshToken },
    });
    expect(refreshed.statusCode).toBe(200);
    const metrics = await h.app.inject({ url: '/metrics' });
    expect(metrics.body).toMatch(/wxauth_wechat_breaker_open\{app_id="wxtest00000000000001"\} 1/);
  });

  it('45011 stops calls to code2Session until the next minute, with Retry-After ≤ 60', async () => {
    const h = await fresh();
    h.sim.injectFault({ path: '/sns/jscode2session', errcode: 45011, times: 1 });
    const first = (await wechatLogin(h)).res;
    expect(first.statusCode).toBe(503);
    const calls = upstreamCalls(h);
    const started = performance.now();
    const second = (await wechatLogin(h)).res;
    expect(performance.now() - started).toBeLessThan(50);
    expect(second.statusCode).toBe(503);
    expect(second.json().error.code).toBe('upstream_unavailable');
    const retryAfter = Number(second.headers['retry-after']);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(upstreamCalls(h)).toBe(calls);
  });

  it('45009 fails new logins closed while refresh and authenticated calls keep working', async () => {
    const h = await fresh();
    const session = (await wechatLogin(h)).body;
    h.sim.injectFault({ path: '/sns/jscode2session', errcode: 45009, times: 1 });
    const { res } = await wechatLogin(h);
    expect(res.statusCode).toBe(503);
    expect(res.json().error.code).toBe('upstream_quota_exhausted');
    const me = await h.app.inject({
      url: '/v1/me',
      headers: { authorization: `Bearer ${session.accessToken}` },
    });
    expect(me.statusCode).toBe(200);
  });

  it('a connection reset or a 502 page is an upstream error, not a 500, and writes nothing', async () => {
    const h = await fresh();
    const before = await countRows(db);
    for (const fault of [{ reset: true }, { status: 502 }]) {
      h.sim.injectFault({ path: '/sns/jscode2session', ...fault, times: 2 });
      const { res } = await wechatLogin(h);
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('upstream_unavailable');
      h.sim.clearFaults();
    }
    expect(await countRows(db)).toEqual(before);
    // After the faults, the same server logs people in again.
    expect((await wechatLogin(h, { appId: APP_ID })).res.statusCode).toBe(200);
  });

  it('bad app credentials are an operator problem (502 upstream_misconfigured), not the user’s', async () => {
    const h = await startHarness({
      db,
      apps: [{ appId: APP_ID, secret: 'test-secret-0001', unionBound: true }],
    });
    harnesses.push(h);
    // A server configured with the wrong secret for the same simulator.
    const wrong = await startHarness({
      db,
      sim: h.sim,
      apps: [{ appId: APP_ID, secret: 'wrong-secret', unionBound: true }],
    });
    harnesses.push(wrong);
    const { res } = await wechatLogin(wrong);
    expect(res.statusCode).toBe(502);
    expect(res.json().error.code).toBe('upstream_misconfigured');
  });
});
