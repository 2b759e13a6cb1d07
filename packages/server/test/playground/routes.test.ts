import { type Simulator, startSimulator } from '@wxauth/wechat-sim';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tryItText } from '../../src/dev/dev-mode.ts';
import { playgroundRoutes } from '../../src/dev/playground/playground.routes.ts';
import { registerErrorHandling } from '../../src/http/error-handler.ts';
import { type Harness, startHarness } from '../support/harness.ts';
import { pgliteStore } from '../support/test-db.ts';

/** The playground's routes without a browser: what they serve, and that production never has them. */
describe('playground routes', () => {
  const APP = 'wxplay000000000001';
  let sim: Simulator;
  let app: FastifyInstance;
  beforeAll(async () => {
    sim = await startSimulator({ apps: [{ appId: APP, secret: 's' }] });
    app = Fastify();
    registerErrorHandling(app);
    await app.register(playgroundRoutes({ simulator: sim, appId: APP }));
    await app.ready();
  });
  afterAll(async () => {
    await app.close();
    await sim.close();
  });

  it('serves the page, its script and the SDK bundled from source as an ES module', async () => {
    const page = await app.inject('/playground');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/text\/html/);
    expect(page.body).toContain('wxauth playground');
    const script = await app.inject('/playground/app.js');
    expect(script.headers['content-type']).toMatch(/javascript/);
    expect(script.body).toContain("from '/playground/sdk.js'");
    const sdk = await app.inject('/playground/sdk.js');
    expect(sdk.statusCode).toBe(200);
    expect(sdk.headers['content-type']).toMatch(/javascript/);
    expect(sdk.body).toMatch(/export\s*\{[^}]*createAuthClient/);
    expect(sdk.body).not.toMatch(/\bimport\s/);
  });

  it('plays wx.login with the simulator and never hands out the session_key', async () => {
    const res = await app.inject({
      method: 'POST',
      url: '/playground/wx/login',
      payload: { openid: 'o_alice' },
    });
    expect(res.statusCode).toBe(200);
    const body = res.json();
    expect(body).toEqual({ code: expect.any(String), openid: 'o_alice', unionid: null });
    expect(res.body).not.toContain(sim.currentSessionKey(APP, 'o_alice')!);
    const bad = await app.inject({
      method: 'POST',
      url: '/playground/wx/login',
      payload: { openid: 'not ok!' },
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error.code).toBe('invalid_request');
  });

  it('plays the getPhoneNumber button and wx.getWeRunData', async () => {
    const phone = await app.inject({
      method: 'POST',
      url: '/playground/wx/phone-code',
      payload: { phoneNumber: '13800138000' },
    });
    expect(phone.json()).toEqual({ code: expect.any(String) });
    const badPhone = await app.inject({
      method: 'POST',
      url: '/playground/wx/phone-code',
      payload: { phoneNumber: '12' },
    });
    expect(badPhone.statusCode).toBe(400);
    sim.login({ appId: APP, openid: 'o_bob' });
    const werun = await app.inject({
      method: 'POST',
      url: '/playground/wx/werun',
      payload: { openid: 'o_bob' },
    });
    expect(Object.keys(werun.json()).sort()).toEqual(['encryptedData', 'iv', 'rawData', 'signature']);
    const nobody = await app.inject({
      method: 'POST',
      url: '/playground/wx/werun',
      payload: { openid: 'o_nobody' },
    });
    expect(nobody.statusCode).toBe(400);
  });

  it('the dev-mode banner points newcomers to it', () => {
    expect(tryItText('http://127.0.0.1:3000', 'http://127.0.0.1:3900')).toContain(
      'http://127.0.0.1:3000/playground',
    );
  });

  describe('outside dev mode', () => {
    let h: Harness;
    let close: () => Promise<void>;
    beforeAll(async () => {
      const db = await pgliteStore.open();
      h = await startHarness({ db });
      close = async () => {
        await h.close();
        await db.close();
      };
    });
    afterAll(() => close());

    it('nothing under /playground exists', async () => {
      for (const url of ['/playground', '/playground/sdk.js', '/playground/app.js']) {
        expect((await h.app.inject(url)).statusCode).toBe(404);
      }
      const login = await h.app.inject({ method: 'POST', url: '/playground/wx/login', payload: {} });
      expect(login.statusCode).toBe(404);
    });
  });
});
