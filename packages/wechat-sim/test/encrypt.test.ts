import { createDecipheriv, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { APP, BASE, startHarness } from './support/sim.ts';

/** The official WXBizDataCrypt algorithm (§8), written independently of the simulator. */
function decrypt(encryptedData: string, sessionKey: string, iv: string): unknown {
  const decipher = createDecipheriv(
    'aes-128-cbc',
    Buffer.from(sessionKey, 'base64'),
    Buffer.from(iv, 'base64'),
  );
  decipher.setAutoPadding(true);
  const text = Buffer.concat([decipher.update(Buffer.from(encryptedData, 'base64')), decipher.final()]);
  return JSON.parse(text.toString('utf8'));
}

describe('POST /__sim/encrypt', () => {
  it('seals open data with the current session_key, adds a watermark, and signs rawData (§8, §9)', async () => {
    const h = await startHarness();
    const { openid, sessionKey } = await h.loginCode();
    const data = { nickName: '微信用户', gender: 0, avatarUrl: 'https://thirdwx.qlogo.cn/x/132' };
    const { status, body } = await h.control('POST', '/__sim/encrypt', { appId: APP.appId, openid, data });
    expect(status).toBe(200);
    const { encryptedData, iv, rawData, signature } = body as Record<string, string>;
    expect(Buffer.from(iv!, 'base64')).toHaveLength(16);
    expect(iv).toHaveLength(24);
    expect(decrypt(encryptedData!, sessionKey, iv!)).toEqual({
      ...data,
      watermark: { appid: APP.appId, timestamp: Math.floor(BASE / 1000) },
    });
    expect(rawData).toBe(JSON.stringify(data));
    expect(signature).toBe(
      createHash('sha1')
        .update(rawData + sessionKey)
        .digest('hex'),
    );
  });

  it('uses a fresh iv each time, and data sealed with a replaced key no longer decrypts with the new one', async () => {
    const h = await startHarness({ sessionKeyMinRefreshMs: 0 });
    const first = await h.loginCode();
    const a = h.sim.encrypt({ appId: APP.appId, openid: first.openid, data: { stepInfoList: [] } });
    const b = h.sim.encrypt({ appId: APP.appId, openid: first.openid, data: { stepInfoList: [] } });
    expect(a.iv).not.toBe(b.iv);
    const second = await h.loginCode({ openid: first.openid });
    let decrypted: unknown;
    try {
      decrypted = decrypt(a.encryptedData, second.sessionKey, a.iv);
    } catch {
      decrypted = undefined; // bad padding or garbage JSON: what a server sees with a stale key
    }
    expect(decrypted).toBeUndefined();
    expect(decrypt(a.encryptedData, first.sessionKey, a.iv)).toMatchObject({ stepInfoList: [] });
  });

  it('refuses users without a valid session_key', async () => {
    const h = await startHarness();
    const missing = await h.control('POST', '/__sim/encrypt', {
      appId: APP.appId,
      openid: 'oNobody',
      data: {},
    });
    expect(missing.status).toBe(400);
    expect(missing.body).toEqual({ error: { code: 'invalid_request', message: expect.any(String) } });
    const { openid } = await h.loginCode();
    h.sim.expireSessionKey(APP.appId, openid);
    expect((await h.control('POST', '/__sim/encrypt', { appId: APP.appId, openid, data: {} })).status).toBe(
      400,
    );
  });
});
