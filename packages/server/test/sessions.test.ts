import { createLocalJWKSet, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../src/clock.ts';
import type { Db } from '../src/storage/create-db.ts';
import { type Harness, startHarness, wechatLogin } from './support/harness.ts';
import { testStores } from './support/test-db.ts';

const refresh = (h: Harness, refreshToken: string) =>
  h.app.inject({ method: 'POST', url: '/v1/auth/token/refresh', payload: { refreshToken } });
const authed = (token: string) => ({ authorization: `Bearer ${token}` });

describe.each(testStores)('sessions on $name', (store) => {
  let db: Db;
  let h: Harness;
  const clock = createManualClock(Date.now());
  beforeAll(async () => {
    db = await store.open();
    h = await startHarness({ db, clock });
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it('signs access tokens the JWKS verifies, with kid, iss, aud, sid and typ at+jwt', async () => {
    const { body } = await wechatLogin(h);
    const jwks = (await h.app.inject({ url: '/.well-known/jwks.json' })).json();
    expect(JSON.stringify(jwks)).not.toContain('"d"');
    const { payload, protectedHeader } = await jwtVerify(body.accessToken, createLocalJWKSet(jwks), {
      issuer: 'wxauth',
      audience: 'wxauth',
      currentDate: new Date(clock.now()),
    });
    expect(protectedHeader).toMatchObject({ alg: 'ES256', typ: 'at+jwt' });
    expect(protectedHeader.kid).toBe(jwks.keys[0].kid);
    expect(payload.sub).toBe(body.user.id);
    expect(typeof payload.sid).toBe('string');
    expect(payload.exp! - payload.iat!).toBe(900);
  });

  it('rotates the refresh token; the immediate parent within the grace returns the same child', async () => {
    const { body } = await wechatLogin(h);
    const first = await refresh(h, body.refreshToken);
    expect(first.statusCode).toBe(200);
    const child = first.json().refreshToken;
    expect(child).not.toBe(body.refreshToken);
    const retry = await refresh(h, body.refreshToken);
    expect(retry.statusCode).toBe(200);
    expect(retry.json().refreshToken).toBe(child);
    const next = await refresh(h, child);
    expect(next.statusCode).toBe(200);
  });

  it('ends the whole session when a rotated token comes back after the grace (reuse detection)', async () => {
    const { body } = await wechatLogin(h);
    const child = (await refresh(h, body.refreshToken)).json();
    clock.advance(11_000);
    const reused = await refresh(h, body.refreshToken);
    expect(reused.statusCode).toBe(401);
    expect(reused.json().error.code).toBe('refresh_token_reused');
    // The newest token and its access token are dead too.
    expect((await refresh(h, child.refreshToken)).json().error.code).toBe('refresh_token_invalid');
    const me = await h.app.inject({ url: '/v1/me', headers: authed(child.accessToken) });
    expect(me.statusCode).toBe(401);
    const events = await db.kysely
      .selectFrom('auth_events')
      .selectAll()
      .where('type', '=', 'refresh_token.reuse_detected')
      .execute();
    expect(events.length).toBeGreaterThanOrEqual(1);
  });

  it('treats a forged token naming a live session as invalid without ending the session', async () => {
    const { body } = await wechatLogin(h);
    const [sid] = body.refreshToken.split('.');
    const forged = `${sid}.0.${'A'.repeat(43)}`;
    expect((await refresh(h, forged)).json().error.code).toBe('refresh_token_invalid');
    expect((await refresh(h, `${sid}.5.${'B'.repeat(43)}`)).json().error.code).toBe('refresh_token_invalid');
    expect((await refresh(h, body.refreshToken)).statusCode).toBe(200);
  });

  it('refuses malformed refresh tokens with refresh_token_invalid', async () => {
    for (const token of ['x', 'a.b.c', `${'a'.repeat(22)}.-1.${'b'.repeat(43)}`]) {
      const res = await refresh(h, token);
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('refresh_token_invalid');
    }
  });

  it('logout ends this session: its access and refresh tokens stop working', async () => {
    const { body } = await wechatLogin(h);
    const out = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: authed(body.accessToken),
      payload: {},
    });
    expect(out.statusCode).toBe(204);
    expect((await h.app.inject({ url: '/v1/me', headers: authed(body.accessToken) })).statusCode).toBe(401);
    expect((await refresh(h, body.refreshToken)).json().error.code).toBe('refresh_token_invalid');
  });

  it('logout {all:true} ends every session of the user; sessions can be listed and ended one by one', async () => {
    const a = await wechatLogin(h);
    const openid = a.user.openid;
    const b = await wechatLogin(h, { openid });
    const c = await wechatLogin(h, { openid });
    const list = await h.app.inject({ url: '/v1/sessions', headers: authed(a.body.accessToken) });
    const sessions = list.json().sessions as { id: string; current: boolean }[];
    expect(sessions).toHaveLength(3);
    expect(sessions.filter((s) => s.current)).toHaveLength(1);

    const bSid = b.body.refreshToken.split('.')[0];
    const del = await h.app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${bSid}`,
      headers: authed(a.body.accessToken),
    });
    expect(del.statusCode).toBe(204);
    expect((await refresh(h, b.body.refreshToken)).statusCode).toBe(401);
    const again = await h.app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${bSid}`,
      headers: authed(a.body.accessToken),
    });
    expect(again.json().error.code).toBe('session_not_found');

    const all = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/logout',
      headers: authed(a.body.accessToken),
      payload: { all: true },
    });
    expect(all.statusCode).toBe(204);
    expect((await refresh(h, c.body.refreshToken)).statusCode).toBe(401);
    expect((await h.app.inject({ url: '/v1/me', headers: authed(c.body.accessToken) })).statusCode).toBe(401);
  });

  it('another user cannot end my session', async () => {
    const mine = await wechatLogin(h);
    const theirs = await wechatLogin(h);
    const sid = mine.body.refreshToken.split('.')[0];
    const res = await h.app.inject({
      method: 'DELETE',
      url: `/v1/sessions/${sid}`,
      headers: authed(theirs.body.accessToken),
    });
    expect(res.json().error.code).toBe('session_not_found');
    expect((await refresh(h, mine.body.refreshToken)).statusCode).toBe(200);
  });

  it('keeps at most 10 sessions per user, ending the oldest', async () => {
    const first = await wechatLogin(h);
    for (let i = 0; i < 10; i++) {
      clock.advance(1);
      await wechatLogin(h, { openid: first.user.openid });
    }
    expect((await refresh(h, first.body.refreshToken)).json().error.code).toBe('refresh_token_invalid');
    const list = await h.app.inject({
      url: '/v1/sessions',
      headers: authed((await wechatLogin(h, { openid: first.user.openid })).body.accessToken),
    });
    expect(list.json().sessions).toHaveLength(10);
  });

  it('ends a session after 7 idle days and after 30 days whatever its use', async () => {
    const idle = await wechatLogin(h);
    const busy = await wechatLogin(h);
    let busyToken = busy.body.refreshToken;
    for (const days of [6, 6, 6, 6, 5]) {
      clock.advance(days * 86400_000);
      const r = await refresh(h, busyToken);
      expect(r.statusCode).toBe(200);
      busyToken = r.json().refreshToken;
    }
    expect((await refresh(h, idle.body.refreshToken)).json().error.code).toBe('refresh_token_invalid');
    clock.advance(2 * 86400_000);
    expect((await refresh(h, busyToken)).json().error.code).toBe('refresh_token_invalid');
  });

  it('refuses requests without a valid bearer token', async () => {
    for (const authorization of [undefined, 'Bearer', 'Bearer x.y.z', 'Basic abc']) {
      const res = await h.app.inject({ url: '/v1/me', headers: authorization ? { authorization } : {} });
      expect(res.statusCode).toBe(401);
      expect(res.json().error.code).toBe('unauthorized');
    }
  });
});

describe('bodiless requests labelled application/json (as wx.request sends them)', () => {
  it('accepts an empty JSON body on logout and session deletion, and still requires bodies where needed', async () => {
    const db = await testStores[0]!.open();
    const h = await startHarness({ db });
    try {
      const a = await wechatLogin(h);
      const b = await wechatLogin(h, { openid: a.user.openid });
      const headers = { ...authed(a.body.accessToken), 'content-type': 'application/json' };
      const bSid = b.body.refreshToken.split('.')[0];
      const del = await h.app.inject({ method: 'DELETE', url: `/v1/sessions/${bSid}`, headers, payload: '' });
      expect(del.statusCode, del.body).toBe(204);
      const out = await h.app.inject({ method: 'POST', url: '/v1/auth/logout', headers, payload: '' });
      expect(out.statusCode, out.body).toBe(204);
      const login = await h.app.inject({
        method: 'POST',
        url: '/v1/auth/wechat/login',
        headers: { 'content-type': 'application/json' },
        payload: '',
      });
      expect(login.statusCode).toBe(400);
      expect(login.json().error.code).toBe('invalid_request');
    } finally {
      await h.close();
      await db.close();
    }
  });
});
