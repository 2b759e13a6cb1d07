import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../src/clock.ts';
import type { Db } from '../src/storage/create-db.ts';
import { APP_ID, type Harness, inboxCode, newPhone, startHarness, wechatLogin } from './support/harness.ts';
import { testStores } from './support/test-db.ts';

const json = { 'content-type': 'application/json' };

describe.each(testStores)('phone login on $name', (store) => {
  let db: Db;
  let h: Harness;
  const clock = createManualClock(Date.now());
  const send = (phone: string, purpose?: 'login' | 'bind', ip?: string) =>
    h.app.inject({
      method: 'POST',
      url: '/v1/auth/sms/send',
      headers: { ...json, ...(ip ? { 'x-forwarded-for': ip } : {}) },
      payload: { phone, ...(purpose ? { purpose } : {}) },
    });
  const smsLogin = (payload: Record<string, unknown>) =>
    h.app.inject({ method: 'POST', url: '/v1/auth/sms/login', payload });
  /** Each test its own IP, so the per-IP caps of one test do not spill into the next. */
  let ipCounter = 0;
  const nextIp = () => `10.0.${Math.floor(++ipCounter / 250)}.${ipCounter % 250}`;

  beforeAll(async () => {
    db = await store.open();
    h = await startHarness({ db, clock, env: { WXAUTH_TRUST_PROXY: 'true' } });
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it('sends a 6-digit code and logs a new phone user in with it', async () => {
    const phone = newPhone();
    const sent = await send(phone.replace('+86', ''), undefined, nextIp());
    expect(sent.statusCode).toBe(202);
    expect(sent.json()).toEqual({ expiresIn: 300, retryAfter: 60 });
    const code = inboxCode(h, phone);
    expect(code).toMatch(/^\d{6}$/);
    const res = await smsLogin({ phone, code });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ isNewUser: true, user: { phone, wechat: [] } });
    // The code is single use.
    expect((await smsLogin({ phone, code })).json().error.code).toBe('sms_code_expired');
    // The next login finds the same user.
    clock.advance(61_000);
    await send(phone, undefined, nextIp());
    const again = await smsLogin({ phone: `+86 ${phone.slice(3)}`, code: inboxCode(h, phone) });
    expect(again.json()).toMatchObject({ isNewUser: false, user: { id: res.json().user.id } });
  });

  it('refuses malformed and foreign numbers with clear codes', async () => {
    for (const [phone, code] of [
      ['12345', 'phone_invalid'],
      ['010-12345678', 'phone_invalid'],
      ['+85261234567', 'phone_region_not_allowed'],
    ]) {
      const res = await send(phone!, undefined, nextIp());
      expect(res.statusCode, phone).toBe(400);
      expect(res.json().error.code).toBe(code);
    }
  });

  it('enforces 1 per 60 s, 5 per hour and 10 per day per phone, with Retry-After', async () => {
    const phone = newPhone();
    const ip = nextIp();
    expect((await send(phone, undefined, ip)).statusCode).toBe(202);
    const soon = await send(phone, undefined, ip);
    expect(soon.statusCode).toBe(429);
    expect(soon.json().error.code).toBe('rate_limited');
    expect(Number(soon.headers['retry-after'])).toBeGreaterThan(0);
    expect(Number(soon.headers['retry-after'])).toBeLessThanOrEqual(60);
    for (let i = 0; i < 4; i++) {
      clock.advance(61_000);
      expect((await send(phone, undefined, nextIp())).statusCode).toBe(202);
    }
    clock.advance(61_000);
    const hourly = await send(phone, undefined, nextIp());
    expect(hourly.statusCode).toBe(429);
    expect(Number(hourly.headers['retry-after'])).toBeGreaterThan(60);
    for (let i = 0; i < 5; i++) {
      clock.advance(3_600_000);
      expect((await send(phone, undefined, nextIp())).statusCode, `send ${6 + i}`).toBe(202);
    }
    clock.advance(3_600_000);
    const daily = await send(phone, undefined, nextIp());
    expect(daily.statusCode).toBe(429);
    expect(Number(daily.headers['retry-after'])).toBeGreaterThan(3600);
    const ledger = await db.kysely
      .selectFrom('sms_sends')
      .select('status')
      .where('phone', '=', phone)
      .execute();
    expect(ledger).toHaveLength(10);
  });

  it('allows 5 wrong attempts per code, then the code is dead even for the right digits', async () => {
    const phone = newPhone();
    await send(phone, undefined, nextIp());
    const code = inboxCode(h, phone);
    const wrong = code === '000000' ? '111111' : '000000';
    for (let i = 0; i < 5; i++) {
      const res = await smsLogin({ phone, code: wrong });
      // After a few failures the phone is paused (R9); wait it out to spend all five guesses.
      if (res.statusCode === 429) {
        clock.advance(Number(res.headers['retry-after']) * 1000);
        i--;
        continue;
      }
      expect(res.json().error.code).toBe('sms_code_invalid');
    }
    clock.advance(3_600_000);
    const right = await smsLogin({ phone, code });
    expect(right.json().error.code).toBe('sms_code_expired');
    const row = await db.kysely
      .selectFrom('sms_codes')
      .select(['attempts', 'code_hmac'])
      .where('phone', '=', phone)
      .executeTakeFirstOrThrow();
    expect(row.attempts).toBe(5);
    expect(row.code_hmac.toString('hex')).not.toContain(code);
  });

  it('a paused phone refuses even the right code, without spending it; after the pause it logs in', async () => {
    const phone = newPhone();
    await send(phone, undefined, nextIp());
    const code = inboxCode(h, phone);
    const wrong = code === '000000' ? '111111' : '000000';
    let paused: Awaited<ReturnType<typeof smsLogin>> | undefined;
    for (let i = 0; i < 5 && !paused; i++) {
      const res = await smsLogin({ phone, code: wrong });
      if (res.statusCode === 429) paused = res;
    }
    expect(paused?.json().error.code).toBe('rate_limited');
    const during = await smsLogin({ phone, code });
    expect(during.statusCode).toBe(429);
    expect(during.json().error.code).toBe('rate_limited');
    clock.advance(Number(paused!.headers['retry-after']) * 1000);
    const after = await smsLogin({ phone, code });
    expect(after.statusCode).toBe(200);
    expect(after.json().user.phone).toBe(phone);
    // The failures are cleared by the successful login.
    const failures = await db.kysely
      .selectFrom('sms_phone_failures')
      .select('failures')
      .where('phone', '=', phone)
      .execute();
    expect(failures).toHaveLength(0);
  });

  it('expires codes after 300 s, and a bind code cannot log in', async () => {
    const phone = newPhone();
    await send(phone, undefined, nextIp());
    const code = inboxCode(h, phone);
    clock.advance(301_000);
    expect((await smsLogin({ phone, code })).json().error.code).toBe('sms_code_expired');

    await send(phone, 'bind', nextIp());
    const bindCode = inboxCode(h, phone);
    expect((await smsLogin({ phone, code: bindCode })).json().error.code).toBe('sms_code_expired');
  });

  it('answers a send the same way whether or not the phone has an account', async () => {
    const known = newPhone();
    await send(known, undefined, nextIp());
    await smsLogin({ phone: known, code: inboxCode(h, known) });
    clock.advance(61_000);
    const a = await send(known, undefined, nextIp());
    const b = await send(newPhone(), undefined, nextIp());
    expect([a.statusCode, a.body]).toEqual([b.statusCode, b.body]);
  });

  it('links a WeChat identity to the phone account with sms/login + wechatCode', async () => {
    const phone = newPhone();
    await send(phone, undefined, nextIp());
    const wx = h.sim.login({ appId: APP_ID });
    const res = await smsLogin({ phone, code: inboxCode(h, phone), wechatCode: wx.code, appId: APP_ID });
    expect(res.statusCode).toBe(200);
    expect(res.json().user).toMatchObject({ phone, wechat: [{ appId: APP_ID, openid: wx.openid }] });
    // A later WeChat login of that person lands in the same account.
    const later = await wechatLogin(h, { openid: wx.openid });
    expect(later.body.user.id).toBe(res.json().user.id);
    expect(later.body.user.phone).toBe(phone);
  });

  it('one-tap phone login makes one user with both identities', async () => {
    const wx = h.sim.login({ appId: APP_ID });
    const phone = newPhone();
    const { code: phoneCode } = h.sim.phoneCode({
      appId: APP_ID,
      phoneNumber: phone.slice(3),
      openid: wx.openid,
    });
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/phone-login',
      payload: { loginCode: wx.code, phoneCode, appId: APP_ID },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ isNewUser: true, user: { phone, wechat: [{ openid: wx.openid }] } });
    // An SMS login with that phone is the same user.
    clock.advance(61_000);
    await send(phone, undefined, nextIp());
    const sms = await smsLogin({ phone, code: inboxCode(h, phone) });
    expect(sms.json().user.id).toBe(res.json().user.id);
    // A used phone code is refused with its own error code.
    const again = h.sim.login({ appId: APP_ID, openid: wx.openid });
    const reused = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/phone-login',
      payload: { loginCode: again.code, phoneCode, appId: APP_ID },
    });
    expect(reused.json().error.code).toBe('wechat_phone_code_invalid');
  });

  it('binds a phone to a WeChat user (SMS bind code or getPhoneNumber), ending their other sessions', async () => {
    const first = await wechatLogin(h);
    const second = await wechatLogin(h, { openid: first.user.openid });
    const phone = newPhone();
    await send(phone, 'bind', nextIp());
    const auth = { authorization: `Bearer ${second.body.accessToken}` };
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/me/phone',
      headers: auth,
      payload: { phone, code: inboxCode(h, phone) },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ phone });
    expect((await h.app.inject({ url: '/v1/me', headers: auth })).json().phone).toBe(phone);
    const other = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/token/refresh',
      payload: { refreshToken: first.body.refreshToken },
    });
    expect(other.statusCode).toBe(401);

    const viaWechat = await wechatLogin(h);
    const phone2 = newPhone();
    const { code: phoneCode } = h.sim.phoneCode({
      appId: APP_ID,
      phoneNumber: phone2.slice(3),
      openid: viaWechat.user.openid,
    });
    const bound = await h.app.inject({
      method: 'POST',
      url: '/v1/me/phone',
      headers: { authorization: `Bearer ${viaWechat.body.accessToken}` },
      payload: { phoneCode },
    });
    expect(bound.json()).toEqual({ phone: phone2 });
  });

  it('needs a recent login to bind, and refuses a phone of another account (policy refuse)', async () => {
    const owner = newPhone();
    await send(owner, undefined, nextIp());
    await smsLogin({ phone: owner, code: inboxCode(h, owner) });

    const user = await wechatLogin(h);
    const auth = { authorization: `Bearer ${user.body.accessToken}` };
    clock.advance(61_000);
    await send(owner, 'bind', nextIp());
    const conflict = await h.app.inject({
      method: 'POST',
      url: '/v1/me/phone',
      headers: auth,
      payload: { phone: owner, code: inboxCode(h, owner) },
    });
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json().error.code).toBe('phone_conflict');

    clock.advance(6 * 60_000);
    const stale = await h.app.inject({
      method: 'POST',
      url: '/v1/me/phone',
      headers: auth,
      payload: { phone: newPhone(), code: '123456' },
    });
    expect(stale.statusCode).toBe(403);
    expect(stale.json().error.code).toBe('reauthentication_required');
  });
});
