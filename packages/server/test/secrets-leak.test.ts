import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/storage/create-db.ts';
import {
  APP_ID,
  APP_SECRET,
  type Harness,
  inboxCode,
  newPhone,
  startHarness,
  testKeys,
  wechatLogin,
} from './support/harness.ts';
import { pgliteStore } from './support/test-db.ts';

/** R2/B.1 #8: no session_key (or secret, code, token) in any response or log line of a full flow. */
describe('secrets never leave the server', () => {
  let db: Db;
  let h: Harness;
  const bodies: string[] = [];
  const codes: string[] = [];
  const refreshTokens: string[] = [];
  const smsCodes: string[] = [];

  beforeAll(async () => {
    db = await pgliteStore.open();
    h = await startHarness({ db });
    const record = (body: string) => bodies.push(body);

    for (let i = 0; i < 5; i++) {
      const { user, res, body } = await wechatLogin(
        h,
        i > 2 ? { unionid: 'oSharedUnion0000000000000001' } : {},
      );
      codes.push(user.code);
      record(res.body);
      refreshTokens.push(body.refreshToken);
      // A repeated code, a refresh, the profile, the session list, decrypt-less reads, logout.
      record(
        (
          await h.app.inject({
            method: 'POST',
            url: '/v1/auth/wechat/login',
            payload: { code: user.code, appId: APP_ID },
          })
        ).body,
      );
      const refreshed = await h.app.inject({
        method: 'POST',
        url: '/v1/auth/token/refresh',
        payload: { refreshToken: body.refreshToken },
      });
      record(refreshed.body);
      const auth = { authorization: `Bearer ${refreshed.json().accessToken}` };
      record((await h.app.inject({ url: '/v1/me', headers: auth })).body);
      record((await h.app.inject({ url: '/v1/sessions', headers: auth })).body);
      record(
        (await h.app.inject({ method: 'POST', url: '/v1/auth/logout', headers: auth, payload: {} })).body,
      );
    }
    // Failures log too: a faulty upstream, a bad code, a reused refresh token.
    h.sim.injectFault({ path: '/sns/jscode2session', errcode: -1, times: 2 });
    const failed = h.sim.login({ appId: APP_ID });
    codes.push(failed.code);
    record(
      (
        await h.app.inject({
          method: 'POST',
          url: '/v1/auth/wechat/login',
          payload: { code: failed.code, appId: APP_ID },
        })
      ).body,
    );
    record(
      (
        await h.app.inject({
          method: 'POST',
          url: '/v1/auth/token/refresh',
          payload: { refreshToken: refreshTokens[0] },
        })
      ).body,
    );
    // Phone login: send, a wrong code, the right code, a bind.
    for (let i = 0; i < 3; i++) {
      const phone = newPhone();
      record((await h.app.inject({ method: 'POST', url: '/v1/auth/sms/send', payload: { phone } })).body);
      const code = inboxCode(h, phone);
      smsCodes.push(code);
      record(
        (
          await h.app.inject({
            method: 'POST',
            url: '/v1/auth/sms/login',
            payload: { phone, code: code === '000000' ? '111111' : '000000' },
          })
        ).body,
      );
      record(
        (await h.app.inject({ method: 'POST', url: '/v1/auth/sms/login', payload: { phone, code } })).body,
      );
    }
    record((await h.app.inject({ url: '/metrics' })).body);
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it('finds no issued session_key in any response body or log line', () => {
    const keys = h.sim.allIssuedSessionKeys();
    expect(keys.length).toBeGreaterThanOrEqual(5);
    const haystack = `${bodies.join('\n')}\n${h.logs.text()}`;
    expect(h.logs.lines.length).toBeGreaterThan(10);
    for (const key of keys) {
      expect(haystack).not.toContain(key);
      expect(haystack).not.toContain(Buffer.from(key, 'base64').toString('hex'));
    }
  });

  it('finds no AppSecret, wx.login code or refresh token in the logs', () => {
    const logs = h.logs.text();
    expect(logs).not.toContain(APP_SECRET);
    for (const code of codes) expect(logs).not.toContain(code);
    for (const token of refreshTokens) expect(logs).not.toContain(token.split('.')[2]);
  });

  it('finds no SMS code, OTP pepper or refresh pepper in any response or log line', async () => {
    const haystack = `${bodies.join('\n')}\n${h.logs.text()}`;
    expect(smsCodes).toHaveLength(3);
    // Six digits can occur by chance in ids and timestamps: look for them where a code would be written.
    for (const code of smsCodes) {
      expect(haystack).not.toMatch(new RegExp(`"[a-zA-Z]*code"\\s*:\\s*"?${code}`));
      expect(haystack).not.toContain(`"${code}"`);
    }
    const keys = await testKeys();
    for (const secret of [keys.otpPepper, keys.refreshPepper]) {
      expect(haystack).not.toContain(secret.toString('base64'));
      expect(haystack).not.toContain(secret.toString('hex'));
    }
  });

  it('stores no plaintext session_key', async () => {
    const { rows } = await sql<{
      dump: string;
    }>`select string_agg(t::text, '\n') as dump from wechat_identities t`.execute(db.kysely);
    const dump = rows[0]?.dump ?? '';
    expect(dump.length).toBeGreaterThan(0);
    for (const key of h.sim.allIssuedSessionKeys()) expect(dump).not.toContain(key);
  });
});
