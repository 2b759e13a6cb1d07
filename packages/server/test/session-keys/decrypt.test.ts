import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../../src/storage/create-db.ts';
import {
  APP_ID,
  type Harness,
  inboxCode,
  newPhone,
  OTHER_APP_ID,
  startHarness,
  wechatLogin,
} from '../support/harness.ts';
import { testStores } from '../support/test-db.ts';

/** Open data as WeChat seals it (§8), for cases the simulator will not produce (another app's watermark). */
function seal(sessionKey: string, data: Record<string, unknown>): { encryptedData: string; iv: string } {
  const iv = randomBytes(16);
  const cipher = createCipheriv('aes-128-cbc', Buffer.from(sessionKey, 'base64'), iv);
  const ct = Buffer.concat([cipher.update(JSON.stringify(data), 'utf8'), cipher.final()]);
  return { encryptedData: ct.toString('base64'), iv: iv.toString('base64') };
}

describe.each(testStores)('POST /v1/wechat/decrypt on $name', (store) => {
  let db: Db;
  let h: Harness;
  const checks = () => h.sim.callCounts()['/wxa/checksession'] ?? 0;

  /** A fresh WeChat user logged in to wxauth: its token, openid and (sim-side) current key. */
  async function newUser() {
    const { user, body } = await wechatLogin(h);
    return {
      token: body.accessToken as string,
      openid: user.openid,
      sessionKey: user.sessionKey,
      userId: body.user.id,
    };
  }
  const decrypt = (token: string | null, payload: unknown) =>
    h.app.inject({
      method: 'POST',
      url: '/v1/wechat/decrypt',
      headers: token ? { authorization: `Bearer ${token}` } : {},
      payload: payload as Record<string, unknown>,
    });
  const errorCode = (res: { json(): { error?: { code?: string } } }) => res.json().error?.code;

  beforeAll(async () => {
    db = await store.open();
    h = await startHarness({ db });
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it('decrypts data sealed by the simulator, with and without the rawData signature', async () => {
    const u = await newUser();
    const sealed = h.sim.encrypt({
      appId: APP_ID,
      openid: u.openid,
      data: { nickName: 'nick-4f2a', stepInfoList: [{ step: 7 }] },
    });
    const plain = await decrypt(u.token, { encryptedData: sealed.encryptedData, iv: sealed.iv });
    expect(plain.statusCode, plain.body).toBe(200);
    expect(plain.json().data).toMatchObject({
      nickName: 'nick-4f2a',
      stepInfoList: [{ step: 7 }],
      watermark: { appid: APP_ID },
    });
    const signed = await decrypt(u.token, sealed);
    expect(signed.statusCode, signed.body).toBe(200);
    // Neither the decrypted data nor the key shows up in any log line (R2).
    expect(h.logs.text()).not.toContain('nick-4f2a');
    expect(h.logs.text()).not.toContain(u.sessionKey);
  });

  it('a tampered byte and a wrong iv are the data’s fault once WeChat vouches for the key', async () => {
    const u = await newUser();
    const sealed = h.sim.encrypt({ appId: APP_ID, openid: u.openid, data: { a: 1, b: 'two' } });
    const ct = Buffer.from(sealed.encryptedData, 'base64');
    ct[ct.length - 17]! ^= 0x01; // the last pad byte of the plaintext flips: padding breaks for sure
    const before = checks();
    const tampered = await decrypt(u.token, { encryptedData: ct.toString('base64'), iv: sealed.iv });
    expect(tampered.statusCode).toBe(400);
    expect(errorCode(tampered)).toBe('encrypted_data_invalid');
    expect(checks()).toBe(before + 1);
    // Checked valid seconds ago: the next failure is blamed on the data without asking WeChat again.
    const wrongIv = await decrypt(u.token, {
      encryptedData: sealed.encryptedData,
      iv: randomBytes(16).toString('base64'),
    });
    expect(errorCode(wrongIv)).toBe('encrypted_data_invalid');
    expect(checks()).toBe(before + 1);
  });

  it('a wrong iv on a key not checked recently asks WeChat, then blames the data', async () => {
    const u = await newUser();
    const sealed = h.sim.encrypt({ appId: APP_ID, openid: u.openid, data: { long: 'x'.repeat(40) } });
    const before = checks();
    const res = await decrypt(u.token, {
      encryptedData: sealed.encryptedData,
      iv: randomBytes(16).toString('base64'),
    });
    expect(errorCode(res)).toBe('encrypted_data_invalid');
    expect(checks()).toBe(before + 1);
  });

  it('refuses another app’s watermark and a missing one', async () => {
    const u = await newUser();
    const other = await decrypt(
      u.token,
      seal(u.sessionKey, { a: 1, watermark: { appid: OTHER_APP_ID, timestamp: 1 } }),
    );
    expect(other.statusCode).toBe(400);
    expect(errorCode(other)).toBe('open_data_app_mismatch');
    expect(errorCode(await decrypt(u.token, seal(u.sessionKey, { a: 1 })))).toBe('open_data_app_mismatch');
  });

  it('a replaced key gives session_key_stale, marks the row stale, and a new login fixes it', async () => {
    const u = await newUser();
    // The user's key expires at WeChat and a new wx.login issues another; wxauth still holds the old one.
    h.sim.expireSessionKey(APP_ID, u.openid);
    const fresh = h.sim.login({ appId: APP_ID, openid: u.openid });
    expect(fresh.sessionKey).not.toBe(u.sessionKey);
    const sealed = h.sim.encrypt({ appId: APP_ID, openid: u.openid, data: { a: 1 } });
    const before = checks();
    const res = await decrypt(u.token, sealed);
    expect(res.statusCode).toBe(409);
    expect(errorCode(res)).toBe('session_key_stale');
    expect(checks()).toBe(before + 1);
    const row = await sql<{ status: string }>`SELECT session_key_status AS status FROM wechat_identities
      WHERE app_id = ${APP_ID} AND openid = ${u.openid}`.execute(db.kysely);
    expect(row.rows[0]?.status).toBe('stale');
    // Known stale: answered at once, without WeChat.
    expect(errorCode(await decrypt(u.token, sealed))).toBe('session_key_stale');
    expect(checks()).toBe(before + 1);
    // The client logs in again (the code carries the new key) and retries.
    const relogin = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/wechat/login',
      payload: { code: fresh.code, appId: APP_ID },
    });
    const ok = await decrypt(relogin.json().accessToken, sealed);
    expect(ok.statusCode, ok.body).toBe(200);
  });

  it('checks the rawData signature in constant time and wants both fields or neither', async () => {
    const u = await newUser();
    const sealed = h.sim.encrypt({ appId: APP_ID, openid: u.openid, data: { nickName: 'n' } });
    const bad = createHash('sha1').update(`${sealed.rawData} `).digest('hex');
    expect(errorCode(await decrypt(u.token, { ...sealed, signature: bad }))).toBe(
      'open_data_signature_invalid',
    );
    expect(errorCode(await decrypt(u.token, { ...sealed, rawData: `${sealed.rawData} ` }))).toBe(
      'open_data_signature_invalid',
    );
    expect(
      errorCode(await decrypt(u.token, { ...sealed, signature: sealed.signature.toUpperCase() })),
    ).toBeUndefined();
    const { signature: _s, ...noSignature } = sealed;
    expect(errorCode(await decrypt(u.token, noSignature))).toBe('invalid_request');
  });

  it('malformed base64 and wrong lengths are refused before any key is used', async () => {
    const u = await newUser();
    // The base64url case only differs from the original where the ciphertext has '+' or '/'; about
    // 3 % of these ciphertexts have neither (a fresh IV each time), so seal again until one does.
    let sealed = h.sim.encrypt({ appId: APP_ID, openid: u.openid, data: { a: 1 } });
    for (let i = 0; i < 20 && !/[+/]/.test(sealed.encryptedData); i++) {
      sealed = h.sim.encrypt({ appId: APP_ID, openid: u.openid, data: { a: 1 } });
    }
    expect(sealed.encryptedData).toMatch(/[+/]/);
    const before = checks();
    const cases: [string, string][] = [
      [
        Buffer.concat([Buffer.from(sealed.encryptedData, 'base64'), Buffer.alloc(1)]).toString('base64'),
        sealed.iv,
      ],
      [sealed.encryptedData.replace(/=+$/, ''), sealed.iv], // unpadded
      [` ${sealed.encryptedData}`, sealed.iv],
      [`${sealed.encryptedData.slice(0, 8)}\n${sealed.encryptedData.slice(8)}`, sealed.iv],
      [sealed.encryptedData.replace(/\+/g, '-').replace(/\//g, '_'), sealed.iv], // base64url
      ['QR==', sealed.iv], // non-canonical: unused bits set
      [sealed.encryptedData, Buffer.alloc(12).toString('base64')],
      [sealed.encryptedData, `${sealed.iv.slice(0, -2)}=`],
      [Buffer.alloc(15).toString('base64'), sealed.iv],
    ];
    for (const [encryptedData, iv] of cases) {
      const res = await decrypt(u.token, { encryptedData, iv });
      expect(res.statusCode, `${JSON.stringify([encryptedData, iv])} ${res.body}`).toBe(400);
      expect(errorCode(res)).toBe('encrypted_data_invalid');
    }
    expect(checks()).toBe(before);
    expect(errorCode(await decrypt(u.token, { encryptedData: 123, iv: sealed.iv }))).toBe('invalid_request');
    expect(errorCode(await decrypt(u.token, { ...sealed, extra: 1 }))).toBe('invalid_request');
  });

  it('answers session_key_stale when the vault cannot open the stored key (R27)', async () => {
    const u = await newUser();
    await sql`UPDATE wechat_identities SET session_key_enc = replace(session_key_enc, '"ct":"', '"ct":"AAAA')
      WHERE app_id = ${APP_ID} AND openid = ${u.openid}`.execute(db.kysely);
    const sealed = h.sim.encrypt({ appId: APP_ID, openid: u.openid, data: { a: 1 } });
    const res = await decrypt(u.token, sealed);
    expect(res.statusCode).toBe(409);
    expect(errorCode(res)).toBe('session_key_stale');
  });

  it('needs a session that began with WeChat login, and a bearer token', async () => {
    const phone = newPhone();
    await h.app.inject({ method: 'POST', url: '/v1/auth/sms/send', payload: { phone } });
    const login = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/sms/login',
      payload: { phone, code: inboxCode(h, phone) },
    });
    expect(login.statusCode, login.body).toBe(200);
    const res = await decrypt(login.json().accessToken, {
      encryptedData: Buffer.alloc(16).toString('base64'),
      iv: Buffer.alloc(16).toString('base64'),
    });
    expect(res.statusCode).toBe(400);
    expect(errorCode(res)).toBe('wechat_identity_required');
    expect((await decrypt(null, { encryptedData: 'AAAA', iv: 'AAAA' })).statusCode).toBe(401);
  });

  it('counts failures by reason in /metrics', async () => {
    const text = (await h.app.inject({ url: '/metrics' })).body;
    for (const reason of [
      'data_invalid',
      'wrong_app',
      'key_rejected',
      'key_stale',
      'signature_mismatch',
      'malformed_input',
    ]) {
      expect(text).toMatch(new RegExp(`wxauth_decrypt_failures_total\\{reason="${reason}"\\} [1-9]`));
    }
  });

  it('never answers 5xx to fuzzed bodies', async () => {
    const u = await newUser();
    const sealed = h.sim.encrypt({ appId: APP_ID, openid: u.openid, data: { a: 1 } });
    const field = fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.base64String({ maxLength: 96 }),
      fc.uint8Array({ minLength: 0, maxLength: 64 }).map((b) => Buffer.from(b).toString('base64')),
      fc.constantFrom(sealed.encryptedData, sealed.iv, sealed.rawData, sealed.signature, '', '===='),
      fc.jsonValue(),
    );
    const body = fc.oneof(
      fc.dictionary(
        fc.constantFrom('encryptedData', 'iv', 'rawData', 'signature', '__proto__', 'constructor'),
        field,
        { maxKeys: 5 },
      ),
      fc.record({ encryptedData: field, iv: field }),
      fc.jsonValue(),
    );
    await fc.assert(
      fc.asyncProperty(body, async (payload) => {
        const res = await h.app.inject({
          method: 'POST',
          url: '/v1/wechat/decrypt',
          headers: { authorization: `Bearer ${u.token}`, 'content-type': 'application/json' },
          payload: JSON.stringify(payload),
        });
        expect(res.statusCode, res.body).toBeLessThan(500);
        if (res.statusCode >= 400) expect(res.json().error.code).toMatch(/^[a-z_]+$/);
      }),
      { numRuns: 300 },
    );
  });
});
