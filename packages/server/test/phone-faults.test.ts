import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SmsProvider, SmsProviderError } from '../src/adapters/sms/sms-provider.types.ts';
import { createManualClock } from '../src/clock.ts';
import type { Db } from '../src/storage/create-db.ts';
import { APP_ID, type Harness, inboxCode, newPhone, startHarness, wechatLogin } from './support/harness.ts';
import { pgliteStore } from './support/test-db.ts';

/** reliability.md B.4 for SMS: provider failures, Redis down or emptied; and the merge policy. */
describe('phone login under faults', () => {
  let db: Db;
  const harnesses: Harness[] = [];
  const start = async (options: Parameters<typeof startHarness>[0]) => {
    const h = await startHarness(options);
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

  const send = (h: Harness, phone: string) =>
    h.app.inject({ method: 'POST', url: '/v1/auth/sms/send', payload: { phone } });

  it('a provider that refuses: 502 sms_provider_failed, ledger "failed", the code is dead', async () => {
    const codes: string[] = [];
    const provider: SmsProvider = {
      name: 'tencent',
      async send(message) {
        codes.push(message.code);
        throw new SmsProviderError('failed', 'vendor_error', 'FailedOperation.TemplateIncorrectOrUnapproved');
      },
    };
    const h = await start({ db, smsProvider: provider });
    const phone = newPhone();
    const res = await send(h, phone);
    expect(res.statusCode).toBe(502);
    expect(res.json().error.code).toBe('sms_provider_failed');
    const ledger = await db.kysely
      .selectFrom('sms_sends')
      .selectAll()
      .where('phone', '=', phone)
      .executeTakeFirstOrThrow();
    expect(ledger).toMatchObject({ status: 'failed', reason: 'vendor_error', provider: 'tencent' });
    const login = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/sms/login',
      payload: { phone, code: codes[0] },
    });
    expect(login.json().error.code).toBe('sms_code_expired');
    expect(h.logs.text()).not.toContain(codes[0]);
  });

  it('a provider timeout after accepting: 202, ledger "unknown", counted against quotas, never resent', async () => {
    let calls = 0;
    let lastCode = '';
    const provider: SmsProvider = {
      name: 'aliyun',
      async send(message) {
        calls++;
        lastCode = message.code;
        throw new SmsProviderError('unknown', 'timeout');
      },
    };
    const h = await start({ db, smsProvider: provider });
    const phone = newPhone();
    const res = await send(h, phone);
    expect(res.statusCode).toBe(202);
    expect(calls).toBe(1);
    const ledger = await db.kysely
      .selectFrom('sms_sends')
      .select('status')
      .where('phone', '=', phone)
      .execute();
    expect(ledger).toEqual([{ status: 'unknown' }]);
    expect((await send(h, phone)).statusCode).toBe(429);
    expect(calls).toBe(1);
    // The message may have arrived: its code still works.
    const login = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/sms/login',
      payload: { phone, code: lastCode },
    });
    expect(login.statusCode).toBe(200);
  });

  it('Redis configured but down: sending fails closed (503), verification still works', async () => {
    const healthy = await start({ db });
    const phone = newPhone();
    expect((await send(healthy, phone)).statusCode).toBe(202);
    const code = inboxCode(healthy, phone);

    const broken = await start({ db, sim: healthy.sim, env: { WXAUTH_REDIS_URL: 'redis://127.0.0.1:1' } });
    const started = performance.now();
    const refused = await send(broken, newPhone());
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(refused.statusCode).toBe(503);
    expect(refused.json().error.code).toBe('sms_unavailable');
    expect(refused.headers['retry-after']).toBeDefined();
    const verify = await broken.app.inject({
      method: 'POST',
      url: '/v1/auth/sms/login',
      payload: { phone, code },
    });
    expect(verify.statusCode).toBe(200);
  });

  it('losing every short-window counter (a Redis flush, a restart) does not reopen the limits: the ledger holds', async () => {
    const clock = createManualClock(Date.now() + 30 * 86_400_000);
    const first = await start({ db, clock });
    const phone = newPhone();
    expect((await send(first, phone)).statusCode).toBe(202);
    // A new instance with empty counters, as after FLUSHALL.
    const second = await start({ db, sim: first.sim, clock });
    const again = await send(second, phone);
    expect(again.statusCode).toBe(429);
    expect(Number(again.headers['retry-after'])).toBeLessThanOrEqual(60);
  });

  it.runIf(process.env.TEST_REDIS_URL)(
    'with real Redis: deleting the counters mid-test does not reopen the limits',
    async () => {
      const clock = createManualClock(Date.now() + 45 * 86_400_000);
      const h = await start({ db, clock, env: { WXAUTH_REDIS_URL: process.env.TEST_REDIS_URL! } });
      const phone = newPhone();
      expect((await send(h, phone)).statusCode).toBe(202);
      const redis = new Redis(process.env.TEST_REDIS_URL!);
      try {
        // FLUSHALL would disturb other test files sharing this Redis: delete exactly this phone's counters.
        const keys = await redis.keys(`wxauth:rl:*${phone}*`);
        expect(keys.length).toBeGreaterThan(0);
        await redis.del(...keys);
      } finally {
        redis.disconnect();
      }
      const again = await send(h, phone);
      expect(again.statusCode).toBe(429);
      const ledger = await db.kysely
        .selectFrom('sms_sends')
        .select('id')
        .where('phone', '=', phone)
        .execute();
      expect(ledger).toHaveLength(1);
    },
  );

  it('merge policy: binding a phone owned by another account absorbs that account', async () => {
    const clock = createManualClock(Date.now() + 60 * 86_400_000);
    const h = await start({ db, clock, env: { WXAUTH_PHONE_CONFLICT: 'merge' } });
    const phone = newPhone();
    await send(h, phone);
    const phoneUser = (
      await h.app.inject({
        method: 'POST',
        url: '/v1/auth/sms/login',
        payload: { phone, code: inboxCode(h, phone) },
      })
    ).json();

    const wx = await wechatLogin(h);
    clock.advance(61_000);
    await h.app.inject({ method: 'POST', url: '/v1/auth/sms/send', payload: { phone, purpose: 'bind' } });
    const bound = await h.app.inject({
      method: 'POST',
      url: '/v1/me/phone',
      headers: { authorization: `Bearer ${wx.body.accessToken}` },
      payload: { phone, code: inboxCode(h, phone) },
    });
    expect(bound.statusCode).toBe(200);
    const me = (
      await h.app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${wx.body.accessToken}` } })
    ).json();
    expect(me).toMatchObject({
      id: wx.body.user.id,
      phone,
      wechat: [{ appId: APP_ID, openid: wx.user.openid }],
    });
    // The absorbed account's sessions ended; the merge is on record.
    const refresh = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/token/refresh',
      payload: { refreshToken: phoneUser.refreshToken },
    });
    expect(refresh.statusCode).toBe(401);
    const merges = await db.kysely
      .selectFrom('user_merges')
      .selectAll()
      .where('absorbed_user_id', '=', phoneUser.user.id)
      .execute();
    expect(merges).toHaveLength(1);
    expect(merges[0]!.into_user_id).toBe(wx.body.user.id);
  });
});
