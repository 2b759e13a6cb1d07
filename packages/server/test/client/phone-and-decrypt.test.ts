import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChangeReason, type PhoneNumberEvent, WxAuthError } from '../../../client/src/index.ts';
import { APP_ID, inboxCode, newPhone } from '../support/harness.ts';
import { type ClientWorld, startClientWorld } from './support.ts';

/** The getPhoneNumber button event as the runtime delivers it to `bindgetphonenumber`. */
function phoneEvent(detail: PhoneNumberEvent['detail']): PhoneNumberEvent & { type: string } {
  return { type: 'getphonenumber', detail };
}

/** Phone login, SMS, phone binding and open-data decryption through the SDK, end to end. */
describe('client SDK phone and decrypt, end to end', () => {
  let world: ClientWorld;
  beforeAll(async () => {
    world = await startClientWorld();
  });
  afterAll(() => world.close());

  const buttonCode = (phone: string) =>
    world.h.sim.phoneCode({ appId: APP_ID, phoneNumber: phone.replace('+86', '') }).code;

  it('logs in with an SMS code, optionally linking the WeChat user', async () => {
    const { wx, auth } = world.device();
    const phone = newPhone();
    expect(await auth.sendSmsCode(phone)).toMatchObject({ expiresIn: expect.any(Number) });
    const reasons: ChangeReason[] = [];
    auth.onChange((_s, reason) => reasons.push(reason));
    const { user, isNewUser } = await auth.loginWithSms(phone, inboxCode(world.h, phone));
    expect(isNewUser).toBe(true);
    expect(user.phone).toBe(phone);
    expect(user.wechat).toEqual([]);
    expect(wx.stats.logins).toBe(0);
    expect(reasons).toEqual(['login']);

    const linked = world.device();
    world.advanceServer(61_000); // one SMS a minute per phone

    try {
      await linked.auth.sendSmsCode(phone);
      const result = await linked.auth.loginWithSms(phone, inboxCode(world.h, phone), { linkWechat: true });
      expect(result.user.id).toBe(user.id);
      expect(result.user.wechat.map((w) => w.openid)).toEqual([linked.wx.openid]);
      expect(linked.wx.stats.logins).toBe(1);
    } finally {
      world.advanceServer(-61_000);
    }
  });

  it('one-tap phone login takes the getPhoneNumber event as is', async () => {
    const { wx, auth } = world.device();
    const phone = newPhone();
    const { user } = await auth.phoneLogin(
      phoneEvent({ errMsg: 'getPhoneNumber:ok', code: buttonCode(phone) }),
    );
    expect(user.phone).toBe(phone);
    expect(user.wechat.map((w) => w.openid)).toEqual([wx.openid]);
    expect(wx.stats.logins).toBe(1);
    expect(auth.getState().user?.phone).toBe(phone);
  });

  it('a declined button is a clear error, and costs neither a wx.login nor a request', async () => {
    const { wx, auth } = world.device();
    const denied = await auth
      .phoneLogin(phoneEvent({ errMsg: 'getPhoneNumber:fail user deny' }))
      .catch((e: unknown) => e);
    expect(denied).toBeInstanceOf(WxAuthError);
    expect(denied).toMatchObject({ code: 'phone_number_denied', status: 0 });
    expect((denied as Error).message).toMatch(/declined/);
    const quota = await auth
      .phoneLogin(phoneEvent({ errMsg: 'getPhoneNumber:fail no quota', errno: 1400001 }))
      .catch((e: unknown) => e);
    expect(quota).toMatchObject({ code: 'phone_number_denied', errno: 1400001 });
    expect((quota as Error).message).toMatch(/quota/);
    expect(wx.stats.logins).toBe(0);
    expect(wx.stats.requests).toEqual([]);
  });

  it('binds a phone with the button, and updates the stored user', async () => {
    const { wx, auth } = world.device();
    await auth.login();
    const reasons: ChangeReason[] = [];
    auth.onChange((_s, reason) => reasons.push(reason));
    const phone = newPhone();
    expect(await auth.bindPhone(phoneEvent({ errMsg: 'getPhoneNumber:ok', code: buttonCode(phone) }))).toBe(
      phone,
    );
    expect(auth.getState().user?.phone).toBe(phone);
    expect(JSON.parse(wx.getStorageSync('wxauth:session') as string).user.phone).toBe(phone);
    expect(reasons).toEqual(['user']);
  });

  it('binds a phone with an SMS code sent for binding', async () => {
    const { auth } = world.device();
    await auth.login();
    const phone = newPhone();
    await auth.sendSmsCode(phone, { purpose: 'bind' });
    expect(await auth.bindPhone({ phone, code: inboxCode(world.h, phone) })).toBe(phone);
  });

  it('when the server wants a recent login, a WeChat user is logged in again silently and the bind retried once', async () => {
    const { wx, auth } = world.device();
    const { user } = await auth.login();
    world.advanceServer(6 * 60 * 1000);
    try {
      wx.resetStats();
      const phone = newPhone();
      expect(await auth.bindPhone(phoneEvent({ errMsg: 'getPhoneNumber:ok', code: buttonCode(phone) }))).toBe(
        phone,
      );
      const binds = wx.stats.requests.filter((r) => r.path === '/v1/me/phone').map((r) => r.status);
      expect(binds).toEqual([403, 200]);
      expect(wx.stats.logins).toBe(1);
      expect(auth.getState().user).toMatchObject({ id: user.id, phone });
    } finally {
      world.advanceServer(-6 * 60 * 1000);
    }
  });

  it('decrypts open data through the server, which holds the session_key', async () => {
    const { wx, auth } = world.device();
    await auth.login();
    const sealed = world.h.sim.encrypt({
      appId: APP_ID,
      openid: wx.openid,
      data: { stepInfoList: [{ timestamp: 1_700_000_000, step: 8123 }] },
    });
    const data = await auth.decrypt<{ stepInfoList: { step: number }[]; watermark: { appid: string } }>(
      sealed,
    );
    expect(data.stepInfoList[0]!.step).toBe(8123);
    expect(data.watermark.appid).toBe(APP_ID);
  });

  /** A wx.login whose code never reached the server replaced the user's session_key (§10). */
  const rotateKeyBehindTheServersBack = (openid: string) =>
    world.h.sim.login({ appId: APP_ID, openid, sessionKey: randomBytes(16).toString('base64') });

  it('session_key_stale: logs in again once, then says plainly that the old data cannot be decrypted', async () => {
    const { wx, auth } = world.device();
    await auth.login();
    rotateKeyBehindTheServersBack(wx.openid);
    const sealed = world.h.sim.encrypt({ appId: APP_ID, openid: wx.openid, data: { step: 1 } });
    wx.resetStats();

    const error = await auth.decrypt(sealed).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(WxAuthError);
    expect(error).toMatchObject({ code: 'session_key_stale', status: 409 });
    expect((error as Error).message).toMatch(/can never be decrypted: fetch it again/);
    expect(wx.stats.logins).toBe(1);
    expect(wx.count('/v1/wechat/decrypt')).toBe(1);

    // The server now holds the current key: data fetched after the re-login decrypts.
    const fresh = world.h.sim.encrypt({ appId: APP_ID, openid: wx.openid, data: { step: 2 } });
    expect(await auth.decrypt(fresh)).toMatchObject({ step: 2 });
  });

  it('session_key_stale with a fetcher: re-login, fetch again, decrypt — once each', async () => {
    const { wx, auth } = world.device();
    await auth.login();
    rotateKeyBehindTheServersBack(wx.openid);
    let fetches = 0;
    const getWeRunData = async () => {
      fetches++;
      return world.h.sim.encrypt({ appId: APP_ID, openid: wx.openid, data: { step: 100 + fetches } });
    };
    wx.resetStats();
    expect(await auth.decrypt(getWeRunData)).toMatchObject({ step: 102 });
    expect(fetches).toBe(2);
    expect(wx.stats.logins).toBe(1);
    expect(wx.stats.requests.filter((r) => r.path === '/v1/wechat/decrypt').map((r) => r.status)).toEqual([
      409, 200,
    ]);
  });
});
