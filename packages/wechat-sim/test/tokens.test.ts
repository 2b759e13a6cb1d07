import { describe, expect, it } from 'vitest';
import { APP, APP2, BASE, type Harness, RID, startHarness } from './support/sim.ts';

/** The errcode a business endpoint gives for a token: 87009 means the token was accepted. */
async function probe(h: Harness, token: string): Promise<unknown> {
  const body = await h.get('/wxa/checksession', {
    access_token: token,
    openid: 'oNobody',
    signature: '0'.repeat(64),
    sig_method: 'hmac_sha256',
  });
  return body.errcode;
}

const ACCEPTED = 87009;

function stable(h: Harness, forceRefresh?: boolean, app = APP) {
  return h.post('/cgi-bin/stable_token', {
    grant_type: 'client_credential',
    appid: app.appId,
    secret: app.secret,
    ...(forceRefresh === undefined ? {} : { force_refresh: forceRefresh }),
  });
}

describe('GET /cgi-bin/token', () => {
  it('issues a 7200 s token; a new one leaves the previous one valid for 5 minutes only', async () => {
    const h = await startHarness();
    const first = await h.get('/cgi-bin/token', {
      grant_type: 'client_credential',
      appid: APP.appId,
      secret: APP.secret,
    });
    expect(first).toEqual({ access_token: expect.any(String), expires_in: 7200 });
    const oldToken = first.access_token as string;
    expect(oldToken.length).toBeGreaterThan(100);
    const newToken = await h.token();
    expect(newToken).not.toBe(oldToken);
    h.sim.advanceClock(299_999);
    expect(await probe(h, oldToken)).toBe(ACCEPTED);
    h.sim.advanceClock(1);
    const superseded = await h.get('/wxa/checksession', { access_token: oldToken });
    expect(superseded.errcode).toBe(40001);
    expect(superseded.errmsg).toMatch(/^invalid credential, access_token is invalid or not latest/);
    expect(superseded.errmsg).toMatch(RID);
    expect(await probe(h, newToken)).toBe(ACCEPTED);
  });

  it('expires a token after accessTokenTtlSec with 42001; unknown → 40001; missing → 41001', async () => {
    const h = await startHarness({ accessTokenTtlSec: 60 });
    const token = await h.token();
    h.sim.advanceClock(59_999);
    expect(await probe(h, token)).toBe(ACCEPTED);
    h.sim.advanceClock(1);
    expect(await probe(h, token)).toBe(42001);
    expect(await probe(h, 'not-a-token')).toBe(40001);
    expect((await h.get('/wxa/checksession', { openid: 'x' })).errcode).toBe(41001);
  });
});

describe('POST /cgi-bin/stable_token', () => {
  it('returns the same token while valid, then a new one in the last 5 minutes while both stay valid', async () => {
    const h = await startHarness();
    const first = await stable(h);
    expect(first).toEqual({ access_token: expect.any(String), expires_in: 7200 });
    h.sim.advanceClock(1000 * 1000);
    expect(await stable(h, false)).toEqual({ access_token: first.access_token, expires_in: 6200 });
    h.sim.advanceClock((6200 - 300) * 1000 - 1);
    const stillOld = await stable(h);
    expect(stillOld.access_token).toBe(first.access_token);
    expect(stillOld.expires_in).toBe(300);
    h.sim.advanceClock(1);
    const renewed = await stable(h);
    expect(renewed).toEqual({ access_token: expect.any(String), expires_in: 7200 });
    expect(renewed.access_token).not.toBe(first.access_token);
    expect(await probe(h, first.access_token as string)).toBe(ACCEPTED);
    h.sim.advanceClock(300_000);
    expect(await probe(h, first.access_token as string)).toBe(42001);
    expect(await probe(h, renewed.access_token as string)).toBe(ACCEPTED);
  });

  it('never answers expires_in below 300', async () => {
    const h = await startHarness();
    for (let i = 0; i < 60; i++) {
      const body = await stable(h);
      expect(body.expires_in).toBeGreaterThanOrEqual(300);
      h.sim.advanceClock(4 * 60_000 + 7_000);
    }
  });

  it('is isolated from the plain token, and both work on business endpoints', async () => {
    const h = await startHarness();
    const stableToken = (await stable(h)).access_token as string;
    const plain1 = await h.token();
    await h.token();
    expect((await stable(h)).access_token).toBe(stableToken);
    await stable(h, true);
    h.sim.advanceClock(1000);
    expect(await probe(h, plain1)).toBe(ACCEPTED);
  });

  it('force_refresh kills the previous token at once; within 30 s it refreshes nothing', async () => {
    const h = await startHarness();
    const first = (await stable(h)).access_token as string;
    const forced = (await stable(h, true)).access_token as string;
    expect(forced).not.toBe(first);
    expect(await probe(h, first)).toBe(40001);
    h.sim.advanceClock(29_999);
    expect((await stable(h, true)).access_token).toBe(forced);
    h.sim.advanceClock(1);
    const forcedAgain = (await stable(h, true)).access_token as string;
    expect(forcedAgain).not.toBe(forced);
    expect(await probe(h, forced)).toBe(40001);
    expect(await probe(h, forcedAgain)).toBe(ACCEPTED);
  });

  it('allows 20 force refreshes a Beijing day, then 45009 until the next day', async () => {
    const h = await startHarness();
    const dayMs = 86_400_000;
    const cst = 8 * 3_600_000;
    // Start at 00:00 Beijing time so 20 refreshes 30 s apart stay within one day.
    h.sim.advanceClock(Math.ceil((BASE + cst) / dayMs) * dayMs - cst - BASE);
    for (let i = 0; i < 20; i++) {
      expect((await stable(h, true)).expires_in).toBe(7200);
      h.sim.advanceClock(30_000);
    }
    const limited = await stable(h, true);
    expect(limited.errcode).toBe(45009);
    expect(limited.errmsg).toMatch(/^reach max api daily quota limit, rid: /);
    // The quota is per app; normal mode still works.
    expect((await stable(h, true, APP2)).access_token).toEqual(expect.any(String));
    expect((await stable(h)).access_token).toEqual(expect.any(String));
    h.sim.advanceClock(dayMs - 20 * 30_000 - 1);
    expect((await stable(h, true)).errcode).toBe(45009);
    h.sim.advanceClock(1);
    expect((await stable(h, true)).expires_in).toBe(7200);
  });

  it('requires POST with a JSON object body', async () => {
    const h = await startHarness();
    expect(
      (await h.get('/cgi-bin/stable_token', { grant_type: 'client_credential', appid: APP.appId })).errcode,
    ).toBe(43002);
    expect((await h.post('/cgi-bin/stable_token', 'grant_type=client_credential')).errcode).toBe(47001);
    expect((await h.post('/cgi-bin/stable_token', '[1]')).errcode).toBe(47001);
    expect((await h.post('/cgi-bin/stable_token', '')).errcode).toBe(44002);
  });
});

describe('token credential checks', () => {
  it.each([
    [{ grant_type: 'client_credential', secret: APP.secret }, 41002],
    [{ grant_type: 'client_credential', appid: APP.appId }, 41004],
    [{ grant_type: 'client_credential', appid: 'wxnope', secret: APP.secret }, 40013],
    [{ grant_type: 'client_credential', appid: APP.appId, secret: 'nope' }, 40125],
    [{ grant_type: 'authorization_code', appid: APP.appId, secret: 'nope' }, 40125],
    [{ grant_type: 'authorization_code', appid: APP.appId, secret: APP.secret }, 40002],
  ])('both endpoints reject %j with %i', async (params, errcode) => {
    const h = await startHarness();
    expect((await h.get('/cgi-bin/token', params)).errcode).toBe(errcode);
    expect((await h.post('/cgi-bin/stable_token', params)).errcode).toBe(errcode);
  });
});
