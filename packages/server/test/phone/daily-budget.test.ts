import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import { budgetDay } from '../../src/phone/send-policy.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { type Harness, newPhone, startHarness } from '../support/harness.ts';
import { testStores } from '../support/test-db.ts';

/**
 * R12's daily budget, kept as one counter row per budget day (migration 0004). A day without a row —
 * its first send, or a database upgraded mid-day — starts from the ledger's count of that day.
 */
describe.each(testStores)('SMS daily budget on $name', (store) => {
  let db: Db;
  let h: Harness;
  // A day of its own, far from the days other tests send on.
  const clock = createManualClock(Date.UTC(2031, 2, 3, 4, 0, 0));
  beforeAll(async () => {
    db = await store.open();
    h = await startHarness({
      db,
      clock,
      env: { WXAUTH_TRUST_PROXY: 'true', WXAUTH_SMS_DAILY_BUDGET: '3' },
    });
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  const send = (phone: string, ip: string) =>
    h.app.inject({
      method: 'POST',
      url: '/v1/auth/sms/send',
      payload: { phone },
      headers: { 'x-forwarded-for': ip },
    });

  it('counts the sends already in the ledger on a day without a counter, then counts on', async () => {
    const day = budgetDay(clock.now());
    // Two sends recorded before the counter existed (an upgrade during the day).
    await db.kysely
      .insertInto('sms_sends')
      .values(
        [0, 1].map((i) => ({
          phone: newPhone(),
          ip: `10.40.0.${i}`,
          purpose: 'login',
          status: 'sent',
          provider: 'inbox',
          provider_message_id: null,
          reason: null,
          created_at: new Date(clock.now() - 60_000),
        })),
      )
      .execute();

    expect((await send(newPhone(), '10.40.1.1')).statusCode).toBe(202);
    const refused = await send(newPhone(), '10.40.1.2');
    expect(refused.statusCode).toBe(429);
    expect(refused.json().error.code).toBe('rate_limited');
    expect(Number(refused.headers['retry-after'])).toBe(Math.ceil((day.next - clock.now()) / 1000));
    const counter = await db.kysely
      .selectFrom('sms_daily_sends')
      .select('sends')
      .where('day_start', '=', new Date(day.start))
      .executeTakeFirstOrThrow();
    expect(counter.sends).toBe(3);

    // The next budget day starts from zero: three more, then the fourth is refused.
    clock.advance(day.next - clock.now() + 1_000);
    const next = await Promise.all([1, 2, 3].map((i) => send(newPhone(), `10.40.2.${i}`)));
    expect(next.map((r) => r.statusCode)).toEqual([202, 202, 202]);
    expect((await send(newPhone(), '10.40.2.9')).statusCode).toBe(429);
  });
});
