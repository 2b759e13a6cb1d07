import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/storage/create-db.ts';
import { APP_ID, type Harness, OTHER_APP_ID, startHarness, wechatLogin } from './support/harness.ts';
import { testStores } from './support/test-db.ts';

describe.each(testStores)('WeChat login on $name', (store) => {
  let db: Db;
  let h: Harness;
  beforeAll(async () => {
    db = await store.open();
    h = await startHarness({ db });
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it('creates a user for a new openid and returns our tokens, never the session_key', async () => {
    const { user, res, body } = await wechatLogin(h);
    expect(res.statusCode).toBe(200);
    expect(body).toMatchObject({
      tokenType: 'Bearer',
      expiresIn: 900,
      isNewUser: true,
      user: { phone: null, wechat: [{ appId: APP_ID, openid: user.openid, unionid: user.unionid }] },
    });
    expect(body.refreshExpiresIn).toBeGreaterThan(29 * 86400);
    expect(res.body).not.toContain(user.sessionKey);
    const me = await h.app.inject({
      url: '/v1/me',
      headers: { authorization: `Bearer ${body.accessToken}` },
    });
    expect(me.statusCode).toBe(200);
    expect(me.json()).toMatchObject({ id: body.user.id, wechat: [{ openid: user.openid }] });
  });

  it('counts requests by method, route pattern and status in /metrics', async () => {
    const counter = (text: string, labels: string) =>
      Number(new RegExp(`^wxauth_http_requests_total\\{${labels}\\} (\\d+)$`, 'm').exec(text)?.[1] ?? 0);
    const labels = 'method="POST",route="/v1/auth/wechat/login",status="200"';
    const before = counter((await h.app.inject({ url: '/metrics' })).body, labels);
    await wechatLogin(h);
    await wechatLogin(h);
    const text = (await h.app.inject({ url: '/metrics' })).body;
    expect(counter(text, labels)).toBe(before + 2);
    expect(text).toMatch(
      /^wxauth_http_request_seconds_count\{method="POST",route="\/v1\/auth\/wechat\/login"\} \d+$/m,
    );
  });

  it('finds the same user on the next login and keeps the newest session_key, sealed', async () => {
    const first = await wechatLogin(h);
    const again = await wechatLogin(h, { openid: first.user.openid });
    expect(again.res.statusCode).toBe(200);
    expect(again.body.isNewUser).toBe(false);
    expect(again.body.user.id).toBe(first.body.user.id);

    const row = await db.kysely
      .selectFrom('wechat_identities')
      .selectAll()
      .where('app_id', '=', APP_ID)
      .where('openid', '=', first.user.openid)
      .executeTakeFirstOrThrow();
    const current = h.sim.currentSessionKey(APP_ID, first.user.openid)!;
    expect(row.session_key_enc).not.toContain(current);
    expect(row.session_key_enc).not.toContain(Buffer.from(current, 'base64').toString('hex'));
    const context = {
      table: 'wechat_identities',
      column: 'session_key_enc',
      rowId: `${APP_ID}:${first.user.openid}`,
    };
    expect(h.deps.vault.open(row.session_key_enc!, context)).toBe(current);
    // Moved to another row, the ciphertext does not open.
    expect(
      h.deps.vault.open(row.session_key_enc!, { ...context, rowId: `${APP_ID}:someone-else` }),
    ).toBeNull();
  });

  it('joins the identities of two apps by unionid into one user', async () => {
    const unionid = `oUnion${Date.now()}${Math.random().toString(36).slice(2, 10)}`;
    const a = await wechatLogin(h, { appId: APP_ID, unionid });
    const b = await wechatLogin(h, { appId: OTHER_APP_ID, unionid });
    expect(b.res.statusCode).toBe(200);
    expect(b.body.isNewUser).toBe(false);
    expect(b.body.user.id).toBe(a.body.user.id);
    expect(b.body.user.wechat.map((w: { appId: string }) => w.appId).sort()).toEqual(
      [APP_ID, OTHER_APP_ID].sort(),
    );
  });

  it('logs the same user in again for a repeated code without a second upstream call', async () => {
    const user = h.sim.login({ appId: APP_ID });
    const before = h.sim.callCounts()['/sns/jscode2session'] ?? 0;
    const send = () =>
      h.app.inject({
        method: 'POST',
        url: '/v1/auth/wechat/login',
        payload: { code: user.code, appId: APP_ID },
      });
    const first = await send();
    const second = await send();
    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect(second.json().user.id).toBe(first.json().user.id);
    expect(second.json().refreshToken).not.toBe(first.json().refreshToken);
    expect((h.sim.callCounts()['/sns/jscode2session'] ?? 0) - before).toBe(1);
  });

  it('refuses unknown, reused-after-window and other-app codes with wechat_code_invalid', async () => {
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/login',
      payload: { code: 'nope', appId: APP_ID },
    });
    expect(unknown.statusCode).toBe(400);
    expect(unknown.json().error.code).toBe('wechat_code_invalid');

    const other = h.sim.login({ appId: OTHER_APP_ID });
    const wrongApp = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/login',
      payload: { code: other.code, appId: APP_ID },
    });
    expect(wrongApp.json().error.code).toBe('wechat_code_invalid');
    // The failure is final for that code: a duplicate gets the same answer without calling WeChat.
    const before = h.sim.callCounts()['/sns/jscode2session'] ?? 0;
    const dup = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/login',
      payload: { code: other.code, appId: APP_ID },
    });
    expect(dup.json().error.code).toBe('wechat_code_invalid');
    expect(h.sim.callCounts()['/sns/jscode2session'] ?? 0).toBe(before);
  });

  it('maps a blocked user to 403 wechat_user_blocked', async () => {
    const blocked = h.sim.login({ appId: APP_ID, blocked: true });
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/login',
      payload: { code: blocked.code, appId: APP_ID },
    });
    expect(res.statusCode).toBe(403);
    expect(res.json().error.code).toBe('wechat_user_blocked');
  });

  it('needs an appId when several apps are configured, and refuses unknown ones', async () => {
    const none = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/login',
      payload: { code: 'abc' },
    });
    expect(none.statusCode).toBe(400);
    expect(none.json().error.code).toBe('invalid_request');
    const unknown = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/login',
      payload: { code: 'abc', appId: 'wxnope000000000000' },
    });
    expect(unknown.json().error.code).toBe('app_unknown');
  });

  it('creates nothing when WeChat fails: no user, no identity, no session', async () => {
    const count = async () =>
      Promise.all([
        db.kysely
          .selectFrom('users')
          .select(db.kysely.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow(),
        db.kysely
          .selectFrom('sessions')
          .select(db.kysely.fn.countAll<number>().as('n'))
          .executeTakeFirstOrThrow(),
      ]).then(([u, s]) => [Number(u.n), Number(s.n)]);
    const before = await count();
    for (const body of ['html', 'empty', 'truncated'] as const) {
      h.sim.injectFault({ path: '/sns/jscode2session', body, times: 2 });
      const { res } = await wechatLogin(h);
      expect(res.statusCode).toBe(503);
      expect(res.json().error.code).toBe('upstream_unavailable');
      expect(res.headers['retry-after']).toBeDefined();
      h.sim.clearFaults();
    }
    expect(await count()).toEqual(before);
  });
});
