import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createManualClock } from '../../src/clock.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { type Harness, inboxCode, startHarness } from '../support/harness.ts';
import { pgliteStore } from '../support/test-db.ts';

/** R15: over an hour with ≥ 50 sends, < 30 % verified raises an alert per dial code and number prefix. */
describe('SMS conversion monitoring', () => {
  let db: Db;
  let h: Harness;
  const clock = createManualClock(Date.UTC(2031, 5, 1));
  beforeAll(async () => {
    db = await pgliteStore.open();
    h = await startHarness({
      db,
      clock,
      env: { WXAUTH_TRUST_PROXY: 'true', WXAUTH_SMS_DAILY_BUDGET: '100000' },
    });
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  const sendTo = async (phone: string, i: number) => {
    const res = await h.app.inject({
      method: 'POST',
      url: '/v1/auth/sms/send',
      headers: { 'x-forwarded-for': `10.77.${Math.floor(i / 200)}.${i % 200}` },
      payload: { phone },
    });
    expect(res.statusCode).toBe(202);
  };

  it('raises no alert while codes are verified, and one per group when a prefix is pumped', async () => {
    // 20 normal users who verify their codes.
    for (let i = 0; i < 20; i++) {
      const phone = `+86137000${10_000 + i}`;
      await sendTo(phone, i);
      await h.app.inject({
        method: 'POST',
        url: '/v1/auth/sms/login',
        payload: { phone, code: inboxCode(h, phone) },
      });
    }
    expect(await h.deps.conversionMonitor.check()).toEqual([]);

    // 60 sends to numbers of one prefix nobody verifies: the pattern of SMS pumping.
    for (let i = 0; i < 60; i++) await sendTo(`+86138001${10_000 + i}`, 100 + i);
    const low = await h.deps.conversionMonitor.check();
    const groups = low.map((g) => g.group).sort();
    expect(groups).toContain('dial:+86');
    expect(groups.some((g) => g.startsWith('prefix:+86138001'))).toBe(true);
    expect(low.find((g) => g.group === 'dial:+86')).toMatchObject({ sends: 80, verified: 20 });
    expect(h.logs.text()).toContain('sms_conversion_low');

    // An hour later the window is empty again.
    clock.advance(3_600_001);
    expect(await h.deps.conversionMonitor.check()).toEqual([]);
  });
});
