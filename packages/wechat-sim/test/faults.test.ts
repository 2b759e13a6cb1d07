import { describe, expect, it } from 'vitest';
import { APP, RID, startHarness } from './support/sim.ts';

const TOKEN_QUERY = `grant_type=client_credential&appid=${APP.appId}&secret=${APP.secret}`;

describe('fault injection', () => {
  it('errcode: answers the official text with a rid once, then processes normally', async () => {
    const h = await startHarness();
    const injected = await h.control('POST', '/__sim/faults', { path: '/cgi-bin/token', errcode: -1 });
    expect(injected).toEqual({ status: 200, body: { ok: true } });
    const response = await fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as { errcode: number; errmsg: string };
    expect(body.errcode).toBe(-1);
    expect(body.errmsg).toMatch(/^system error, rid: /);
    expect(body.errmsg).toMatch(RID);
    expect(typeof (await h.token())).toBe('string');
  });

  it('errcode with a custom errmsg sends it verbatim, and other paths are untouched', async () => {
    const h = await startHarness();
    h.sim.injectFault({
      path: '/sns/jscode2session',
      errcode: 40029,
      errmsg: 'invalid code, hints: [ req_id: x ]',
    });
    expect(typeof (await h.token())).toBe('string');
    const { code, openid } = await h.loginCode();
    expect(await h.code2Session(code)).toEqual({
      errcode: 40029,
      errmsg: 'invalid code, hints: [ req_id: x ]',
    });
    // The fault answered before normal processing, so the code is still unused.
    expect((await h.code2Session(code)).openid).toBe(openid);
  });

  it('times: applies to that many calls; 0 and -1 last until cleared', async () => {
    const h = await startHarness();
    h.sim.injectFault({ path: '/cgi-bin/token', errcode: 45011, times: 2 });
    const errcodes = [];
    for (let i = 0; i < 3; i++) errcodes.push((await h.get('/cgi-bin/token', {})).errcode);
    expect(errcodes).toEqual([45011, 45011, 41002]);
    for (const times of [0, -1]) {
      await h.control('POST', '/__sim/faults', { path: '/cgi-bin/token', errcode: -1, times });
      for (let i = 0; i < 5; i++) expect((await h.get('/cgi-bin/token', {})).errcode).toBe(-1);
      expect((await h.control('DELETE', '/__sim/faults')).status).toBe(200);
      expect((await h.get('/cgi-bin/token', {})).errcode).toBe(41002);
    }
  });

  it("status: sends that HTTP status with nginx's HTML error page, or JSON when errcode is given", async () => {
    const h = await startHarness();
    h.sim.injectFault({ path: '/cgi-bin/token', status: 502 });
    const page = await fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`);
    expect(page.status).toBe(502);
    expect(page.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await page.text()).toContain('<center><h1>502 Bad Gateway</h1></center>');
    h.sim.injectFault({ path: '/cgi-bin/token', status: 503, errcode: -1 });
    const json = await fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`);
    expect(json.status).toBe(503);
    expect(((await json.json()) as { errcode: number }).errcode).toBe(-1);
  });

  it('body: html, empty and truncated answer 200 with a body that is not WeChat JSON', async () => {
    const h = await startHarness();
    h.sim.injectFault({ path: '/cgi-bin/token', body: 'html' });
    h.sim.injectFault({ path: '/cgi-bin/token', body: 'empty' });
    h.sim.injectFault({ path: '/cgi-bin/token', body: 'truncated' });
    const html = await fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await html.text()).toMatch(/^<!DOCTYPE html>/);
    const empty = await fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`);
    expect(empty.status).toBe(200);
    expect(await empty.text()).toBe('');
    const truncated = await fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`);
    expect(truncated.status).toBe(200);
    const text = await truncated.text();
    expect(text.startsWith('{')).toBe(true);
    expect(() => JSON.parse(text)).toThrow(SyntaxError);
  });

  it('delayMs: answers late, then normally', async () => {
    const h = await startHarness();
    h.sim.injectFault({ path: '/sns/jscode2session', delayMs: 150 });
    const { code, openid } = await h.loginCode();
    const started = performance.now();
    expect((await h.code2Session(code)).openid).toBe(openid);
    expect(performance.now() - started).toBeGreaterThanOrEqual(140);
  });

  it("delayMs can be cut short by the caller's timeout", async () => {
    const h = await startHarness();
    h.sim.injectFault({ path: '/cgi-bin/token', delayMs: 5_000 });
    await expect(
      fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`, { signal: AbortSignal.timeout(100) }),
    ).rejects.toThrow();
  });

  it('reset: destroys the socket without a response', async () => {
    const h = await startHarness();
    h.sim.injectFault({ path: '/cgi-bin/token', reset: true });
    await expect(fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`)).rejects.toThrow(TypeError);
    expect(typeof (await h.token())).toBe('string');
  });

  it("path '*' hits every WeChat endpoint but not the control API", async () => {
    const h = await startHarness();
    h.sim.injectFault({ path: '*', errcode: -1, times: 0 });
    expect((await h.get('/cgi-bin/token', {})).errcode).toBe(-1);
    expect((await h.get('/wxa/checksession', {})).errcode).toBe(-1);
    expect((await h.control('POST', '/__sim/login', { appId: APP.appId })).status).toBe(200);
  });

  it('records faulted calls with their kind', async () => {
    const h = await startHarness();
    h.sim.injectFault({ path: '/cgi-bin/token', errcode: -1 });
    h.sim.injectFault({ path: '/cgi-bin/token', status: 500 });
    h.sim.injectFault({ path: '/cgi-bin/token', body: 'empty' });
    h.sim.injectFault({ path: '/cgi-bin/token', reset: true });
    for (let i = 0; i < 4; i++) await fetch(`${h.url}/cgi-bin/token?${TOKEN_QUERY}`).catch(() => undefined);
    await h.token();
    expect(h.sim.calls().map(({ errcode, status, fault }) => ({ errcode, status, fault }))).toEqual([
      { errcode: -1, status: 200, fault: 'errcode' },
      { errcode: null, status: 500, fault: 'status' },
      { errcode: null, status: 200, fault: 'body' },
      { errcode: null, status: 0, fault: 'reset' },
      { errcode: 0, status: 200, fault: undefined },
    ]);
    expect(h.sim.callCounts()).toEqual({ '/cgi-bin/token': 5 });
  });

  it.each([
    [{}, 'path'],
    [{ path: 'cgi-bin/token', errcode: -1 }, 'path'],
    [{ path: '/cgi-bin/token' }, 'at least one'],
    [{ path: '/cgi-bin/token', body: 'xml' }, 'body'],
    [{ path: '/cgi-bin/token', status: 99 }, 'status'],
    [{ path: '/cgi-bin/token', errcode: '40001' }, 'errcode'],
    [{ path: '/cgi-bin/token', delayMs: -5 }, 'delayMs'],
    [{ path: '/cgi-bin/token', reset: 'yes' }, 'reset'],
    [{ path: '/cgi-bin/token', errcode: 1, times: 1.5 }, 'times'],
  ])('rejects the fault %j with 400', async (fault, mentions) => {
    const h = await startHarness();
    const { status, body } = await h.control('POST', '/__sim/faults', fault);
    expect(status).toBe(400);
    expect(body).toEqual({ error: { code: 'invalid_request', message: expect.stringContaining(mentions) } });
    expect(() => h.sim.injectFault(fault as never)).toThrow(mentions);
  });
});
