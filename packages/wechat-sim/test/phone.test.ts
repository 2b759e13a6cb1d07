import { describe, expect, it } from 'vitest';
import { APP, APP2, BASE, type Harness, startHarness } from './support/sim.ts';

async function phoneCode(h: Harness, input: Record<string, unknown> = {}): Promise<string> {
  const { status, body } = await h.control('POST', '/__sim/phone-code', {
    appId: APP.appId,
    phoneNumber: '13800138000',
    ...input,
  });
  expect(status).toBe(200);
  return body.code as string;
}

const exchange = (h: Harness, token: string, body: unknown) =>
  h.post('/wxa/business/getuserphonenumber', body, { access_token: token });

describe('POST /wxa/business/getuserphonenumber (§7.1)', () => {
  it('exchanges a phone code once for phone_info shaped like the official example', async () => {
    const h = await startHarness();
    const token = await h.token();
    const code = await phoneCode(h);
    expect(code).toMatch(/^[0-9a-f]{64}$/);
    expect(await exchange(h, token, { code })).toEqual({
      errcode: 0,
      errmsg: 'ok',
      phone_info: {
        phoneNumber: '13800138000',
        purePhoneNumber: '13800138000',
        countryCode: 86,
        watermark: { timestamp: Math.floor(BASE / 1000), appid: APP.appId },
      },
    });
    const replay = await exchange(h, token, { code });
    expect(replay.errcode).toBe(40029);
    expect(replay.errmsg).toMatch(/^invalid code, rid: /);
  });

  it('prefixes non-mainland numbers with their country code', async () => {
    const h = await startHarness();
    const code = await phoneCode(h, { phoneNumber: '61234567', countryCode: '852' });
    const body = await exchange(h, await h.token(), { code });
    expect(body.phone_info).toMatchObject({
      phoneNumber: '+85261234567',
      purePhoneNumber: '61234567',
      countryCode: 852,
    });
  });

  it('expires codes after 5 minutes and rejects wx.login codes with 40029', async () => {
    const h = await startHarness();
    const token = await h.token();
    const early = await phoneCode(h);
    const late = await phoneCode(h);
    h.sim.advanceClock(299_999);
    expect((await exchange(h, token, { code: early })).errcode).toBe(0);
    h.sim.advanceClock(1);
    expect((await exchange(h, token, { code: late })).errcode).toBe(40029);
    const token2 = await h.token();
    expect((await exchange(h, token2, { code: (await h.loginCode()).code })).errcode).toBe(40029);
    expect((await exchange(h, token2, {})).errcode).toBe(40029);
  });

  it('answers 40013 when the token belongs to another app than the code', async () => {
    const h = await startHarness();
    const code = await phoneCode(h);
    const body = await exchange(h, await h.token(APP2), { code });
    expect(body.errcode).toBe(40013);
    expect((await exchange(h, await h.token(), { code })).errcode).toBe(0);
  });

  it('checks a given openid against the code binding (40029 on mismatch)', async () => {
    const h = await startHarness();
    const token = await h.token();
    const code = await phoneCode(h, { openid: 'oBoundUser00000000000000000' });
    expect((await exchange(h, token, { code, openid: 'oSomeoneElse000000000000000' })).errcode).toBe(40029);
    expect((await exchange(h, token, { code, openid: 'oBoundUser00000000000000000' })).errcode).toBe(0);
    const unbound = await phoneCode(h);
    expect((await exchange(h, token, { code: unbound, openid: 'oAnyone' })).errcode).toBe(0);
  });

  it('accepts the stable token too, and checks method, token and body', async () => {
    const h = await startHarness();
    const stable = await h.post('/cgi-bin/stable_token', {
      grant_type: 'client_credential',
      appid: APP.appId,
      secret: APP.secret,
    });
    const token = stable.access_token as string;
    expect((await exchange(h, token, { code: await phoneCode(h) })).errcode).toBe(0);
    expect((await h.get('/wxa/business/getuserphonenumber', { access_token: token })).errcode).toBe(43002);
    expect((await h.post('/wxa/business/getuserphonenumber', { code: 'x' })).errcode).toBe(41001);
    expect((await exchange(h, 'nope', { code: 'x' })).errcode).toBe(40001);
    expect((await exchange(h, token, 'code=x')).errcode).toBe(47001);
  });
});
