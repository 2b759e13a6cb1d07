import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signSessionKey } from '../src/index.ts';
import { APP, APP2, type Harness, startHarness } from './support/sim.ts';

function check(h: Harness, token: string, openid: string, signature: string, sigMethod = 'hmac_sha256') {
  return h.get('/wxa/checksession', { access_token: token, openid, signature, sig_method: sigMethod });
}

function resetKey(h: Harness, token: string, openid: string, signature: string) {
  return h.get('/wxa/resetusersessionkey', {
    access_token: token,
    openid,
    signature,
    sig_method: 'hmac_sha256',
  });
}

describe('signSessionKey', () => {
  it('is lowercase hex HMAC-SHA256 keyed by the session_key string as-is (§5.1)', () => {
    const key = 'tiihtNczf5v6AKRyjwEUhQ==';
    expect(signSessionKey(key)).toBe(createHmac('sha256', Buffer.from(key, 'utf8')).update('').digest('hex'));
    expect(signSessionKey(key, '{"a":1}')).toBe(createHmac('sha256', key).update('{"a":1}').digest('hex'));
    expect(signSessionKey(key)).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('GET /wxa/checksession', () => {
  it('answers exactly {errcode:0, errmsg:"ok"} for the current key', async () => {
    const h = await startHarness();
    const { openid, sessionKey } = await h.loginCode();
    expect(await check(h, await h.token(), openid, signSessionKey(sessionKey))).toEqual({
      errcode: 0,
      errmsg: 'ok',
    });
  });

  it('answers 87009 for a wrong, upper-case, base64-decoded-key or missing signature and an unknown openid', async () => {
    const h = await startHarness();
    const token = await h.token();
    const { openid, sessionKey } = await h.loginCode();
    const good = signSessionKey(sessionKey);
    const decodedKey = createHmac('sha256', Buffer.from(sessionKey, 'base64')).update('').digest('hex');
    for (const signature of [good.toUpperCase(), decodedKey, '', 'ab'.repeat(32)]) {
      const body = await check(h, token, openid, signature);
      expect(body.errcode).toBe(87009);
      expect(body.errmsg).toMatch(/^invalid signature, rid: /);
    }
    expect((await check(h, token, 'oUnknown', good)).errcode).toBe(87009);
    // A valid token of another app does not see this app's users.
    expect((await check(h, await h.token(APP2), openid, good)).errcode).toBe(87009);
  });

  it('answers 87008 for a sig_method other than hmac_sha256', async () => {
    const h = await startHarness();
    const { openid, sessionKey } = await h.loginCode();
    const token = await h.token();
    expect((await check(h, token, openid, signSessionKey(sessionKey), 'md5')).errcode).toBe(87008);
    expect((await h.get('/wxa/checksession', { access_token: token, openid })).errcode).toBe(87008);
  });
});

describe('session_key lifecycle (§10)', () => {
  it('keeps the key on a repeated wx.login within the minimum refresh period, then replaces it', async () => {
    const h = await startHarness({ sessionKeyMinRefreshMs: 60_000 });
    const token = await h.token();
    const first = await h.loginCode();
    h.sim.advanceClock(59_999);
    const second = await h.loginCode({ openid: first.openid });
    expect(second.sessionKey).toBe(first.sessionKey);
    h.sim.advanceClock(1);
    const third = await h.loginCode({ openid: first.openid });
    expect(third.sessionKey).not.toBe(first.sessionKey);
    expect((await check(h, token, first.openid, signSessionKey(first.sessionKey))).errcode).toBe(87009);
    expect((await check(h, token, first.openid, signSessionKey(third.sessionKey))).errcode).toBe(0);
    expect(h.sim.currentSessionKey(APP.appId, first.openid)).toBe(third.sessionKey);
    // The code issued with the old key now exchanges for the current key.
    expect((await h.code2Session(first.code)).session_key).toBe(third.sessionKey);
  });

  it('makes a given sessionKey current at once', async () => {
    const h = await startHarness();
    const first = await h.loginCode();
    const chosen = 'tiihtNczf5v6AKRyjwEUhQ==';
    const second = await h.loginCode({ openid: first.openid, sessionKey: chosen });
    expect(second.sessionKey).toBe(chosen);
    expect((await h.code2Session(second.code)).session_key).toBe(chosen);
  });

  it('expires a key unused for sessionKeyIdleTtlMs; each wx.login renews it', async () => {
    const h = await startHarness({ sessionKeyIdleTtlMs: 10_000, sessionKeyMinRefreshMs: 1_000_000 });
    const token = await h.token();
    const { openid, sessionKey } = await h.loginCode();
    const signature = signSessionKey(sessionKey);
    h.sim.advanceClock(9_000);
    await h.loginCode({ openid });
    h.sim.advanceClock(9_000);
    expect((await check(h, token, openid, signature)).errcode).toBe(0);
    h.sim.advanceClock(1_000);
    expect((await check(h, token, openid, signature)).errcode).toBe(87009);
    expect(h.sim.currentSessionKey(APP.appId, openid)).toBeNull();
    // After expiry wx.login issues a new key even within the minimum refresh period.
    const again = await h.loginCode({ openid });
    expect(again.sessionKey).not.toBe(sessionKey);
  });

  it('expires a key on demand through the control API', async () => {
    const h = await startHarness();
    const token = await h.token();
    const { openid, sessionKey } = await h.loginCode();
    const expired = await h.control('POST', '/__sim/expire-session-key', { appId: APP.appId, openid });
    expect(expired).toEqual({ status: 200, body: { ok: true } });
    expect((await check(h, token, openid, signSessionKey(sessionKey))).errcode).toBe(87009);
    expect((await h.control('GET', `/__sim/session-key?appId=${APP.appId}&openid=${openid}`)).body).toEqual({
      sessionKey: null,
    });
  });

  it('lists every issued key', async () => {
    const h = await startHarness({ sessionKeyMinRefreshMs: 0 });
    const a = await h.loginCode();
    const b = await h.loginCode({ openid: a.openid });
    expect(h.sim.allIssuedSessionKeys()).toEqual([a.sessionKey, b.sessionKey]);
    expect((await h.control('GET', '/__sim/session-keys')).body).toEqual({
      sessionKeys: [a.sessionKey, b.sessionKey],
    });
  });
});

describe('GET /wxa/resetusersessionkey (§6)', () => {
  it('returns a new key that replaces the old one and inherits its expiry', async () => {
    const h = await startHarness({ sessionKeyIdleTtlMs: 10_000 });
    const token = await h.token();
    const { openid, sessionKey } = await h.loginCode();
    h.sim.advanceClock(6_000);
    const body = await resetKey(h, token, openid, signSessionKey(sessionKey));
    expect(body).toEqual({ errcode: 0, errmsg: 'ok', openid, session_key: expect.any(String) });
    const fresh = body.session_key as string;
    expect(fresh).not.toBe(sessionKey);
    expect(Buffer.from(fresh, 'base64')).toHaveLength(16);
    expect((await check(h, token, openid, signSessionKey(sessionKey))).errcode).toBe(87009);
    expect((await check(h, token, openid, signSessionKey(fresh))).errcode).toBe(0);
    expect(h.sim.allIssuedSessionKeys()).toContain(fresh);
    h.sim.advanceClock(3_999);
    expect((await check(h, token, openid, signSessionKey(fresh))).errcode).toBe(0);
    h.sim.advanceClock(1);
    expect((await check(h, token, openid, signSessionKey(fresh))).errcode).toBe(87009);
  });

  it('needs the current key signature, a valid token and hmac_sha256', async () => {
    const h = await startHarness();
    const token = await h.token();
    const { openid, sessionKey } = await h.loginCode();
    expect((await resetKey(h, token, openid, signSessionKey('AAAAAAAAAAAAAAAAAAAAAA=='))).errcode).toBe(
      87009,
    );
    expect((await resetKey(h, 'bogus', openid, signSessionKey(sessionKey))).errcode).toBe(40001);
    expect((await h.get('/wxa/resetusersessionkey', { openid })).errcode).toBe(41001);
    const badMethod = await h.get('/wxa/resetusersessionkey', {
      access_token: token,
      openid,
      signature: signSessionKey(sessionKey),
      sig_method: 'sha256',
    });
    expect(badMethod.errcode).toBe(87008);
    expect(h.sim.currentSessionKey(APP.appId, openid)).toBe(sessionKey);
  });
});
