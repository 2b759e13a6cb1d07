import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../src/clock.ts';
import type { Db } from '../src/storage/create-db.ts';
import { type Harness, inboxCode, newPhone, startHarness } from './support/harness.ts';
import { postgresStore, testStores } from './support/test-db.ts';
import { expectOverlap, timedPost as post } from './support/timed-http.ts';

/** reliability.md B.3 C4, C5, C6, C12 over real HTTP, with proof that the requests overlapped. */

const listen = async (h: Harness) => {
  await h.app.listen({ port: 0, host: '127.0.0.1' });
  return `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
};
const ROUNDS = postgresStore ? 10 : 3;

describe.each(testStores)('phone races on $name', (store) => {
  let db: Db;
  let h: Harness;
  let base: string;
  const clock = createManualClock(Date.now());
  beforeAll(async () => {
    db = await store.open();
    h = await startHarness({
      db,
      clock,
      env: { WXAUTH_TRUST_PROXY: 'true', WXAUTH_SMS_DAILY_BUDGET: '100000' },
    });
    base = await listen(h);
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it('C4: 8 concurrent submissions of the right code create exactly one session', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const phone = newPhone();
      await post(base, '/v1/auth/sms/send', { phone }, { 'x-forwarded-for': `10.4.0.${round}` });
      const code = inboxCode(h, phone);
      const results = await Promise.all(
        Array.from({ length: 8 }, () => post(base, '/v1/auth/sms/login', { phone, code })),
      );
      expectOverlap(results);
      expect(results.filter((r) => r.status === 200)).toHaveLength(1);
      expect(
        results
          .filter((r) => r.status === 400)
          .every((r) => (r.body.error as { code: string }).code === 'sms_code_expired'),
      ).toBe(true);
      const user = await db.kysely
        .selectFrom('users')
        .select('id')
        .where('phone', '=', phone)
        .executeTakeFirstOrThrow();
      const sessions = await db.kysely
        .selectFrom('sessions')
        .select('id')
        .where('user_id', '=', user.id)
        .execute();
      expect(sessions).toHaveLength(1);
    }
  });

  it('C5: 50 concurrent wrong codes evaluate at most 5; then the right code fails', async () => {
    for (let round = 0; round < Math.max(1, ROUNDS / 2); round++) {
      const phone = newPhone();
      await post(base, '/v1/auth/sms/send', { phone }, { 'x-forwarded-for': `10.5.0.${round}` });
      const code = inboxCode(h, phone);
      const wrong = code === '000000' ? '111111' : '000000';
      const results = await Promise.all(
        Array.from({ length: 50 }, () => post(base, '/v1/auth/sms/login', { phone, code: wrong })),
      );
      expectOverlap(results);
      expect(results.every((r) => r.status === 400 || r.status === 429)).toBe(true);
      const evaluated = results.filter((r) => (r.body.error as { code: string }).code === 'sms_code_invalid');
      expect(evaluated.length).toBeLessThanOrEqual(5);
      const row = await db.kysely
        .selectFrom('sms_codes')
        .select('attempts')
        .where('phone', '=', phone)
        .executeTakeFirstOrThrow();
      expect(row.attempts).toBeLessThanOrEqual(5);
      expect((await post(base, '/v1/auth/sms/login', { phone, code })).status).not.toBe(200);
    }
  });

  it('C6: 20 concurrent sends for one phone make exactly one provider call', async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const phone = newPhone();
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          post(base, '/v1/auth/sms/send', { phone }, { 'x-forwarded-for': `10.6.${round}.${i}` }),
        ),
      );
      expectOverlap(results);
      expect(results.filter((r) => r.status === 202)).toHaveLength(1);
      expect(results.filter((r) => r.status === 429)).toHaveLength(19);
      const inbox = h.deps.smsProvider as unknown as { messages(phone: string): unknown[] };
      expect(inbox.messages(phone)).toHaveLength(1);
    }
  });

  it('C12: 4 instances, 50 parallel clients: the budget and the per-phone daily cap hold in the ledger', async () => {
    const instances: Harness[] = [];
    const clocks = Array.from({ length: 4 }, () => createManualClock(clock.now() + 7 * 86_400_000));
    try {
      for (const [i, c] of clocks.entries()) {
        instances.push(
          await startHarness({
            db,
            sim: h.sim,
            clock: c,
            instanceId: `c12-${i}`,
            env: { WXAUTH_TRUST_PROXY: 'true', WXAUTH_SMS_DAILY_BUDGET: '10' },
          }),
        );
      }
      const bases = await Promise.all(instances.map(listen));
      // Budget: 50 different phones and IPs at once, a daily budget of 10 (on top of what this file sent today).
      const sentBefore = await db.kysely
        .selectFrom('sms_sends')
        .select(db.kysely.fn.countAll<string>().as('n'))
        .where('created_at', '>=', new Date(clocks[0]!.now() - 86_400_000))
        .executeTakeFirstOrThrow();
      expect(Number(sentBefore.n)).toBe(0);
      const results = await Promise.all(
        Array.from({ length: 50 }, (_, i) =>
          post(
            bases[i % 4]!,
            '/v1/auth/sms/send',
            { phone: newPhone() },
            { 'x-forwarded-for': `10.12.0.${i}` },
          ),
        ),
      );
      expectOverlap(results);
      expect(results.filter((r) => r.status === 202)).toHaveLength(10);
      // Per phone: 12 rounds an hour apart, each with all 4 instances at once: at most 10 ever sent.
      for (const c of clocks) c.advance(86_400_000);
      const phone = newPhone();
      let accepted = 0;
      for (let round = 0; round < 12; round++) {
        for (const c of clocks) c.advance(3_660_000);
        const burst = await Promise.all(
          bases.map((b, i) =>
            post(b, '/v1/auth/sms/send', { phone }, { 'x-forwarded-for': `10.13.${round}.${i}` }),
          ),
        );
        accepted += burst.filter((r) => r.status === 202).length;
      }
      // The budget (10 a day) and the phone cap (10 a day) both allow 10 here.
      const ledger = await db.kysely
        .selectFrom('sms_sends')
        .select('id')
        .where('phone', '=', phone)
        .execute();
      expect(ledger.length).toBeLessThanOrEqual(10);
      expect(accepted).toBe(ledger.length);
    } finally {
      for (const i of instances) await i.close();
    }
  });
});
