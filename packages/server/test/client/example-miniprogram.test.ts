import { createRequire } from 'node:module';
import { join } from 'node:path';
import { JSDOM } from 'jsdom';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { build } from '../../../client/scripts/build.ts';
import { createMemoryStorage } from '../../../client/test/support/memory-storage.ts';
import { createWxShim, type WxShim } from '../../../client/test/support/wx-shim.ts';
import { APP_ID, inboxCode, newPhone } from '../support/harness.ts';
import { type ClientWorld, startClientWorld } from './support.ts';

/**
 * examples/miniprogram loaded with the official miniprogram-simulate (j-component on jsdom), its
 * pages driven by taps and button events, the SDK as WeChat DevTools' "build npm" would ship it (the
 * CommonJS build), and `wx` the shim that mints real codes and speaks real HTTP to the real server.
 */
const ROOT = new URL('../../../../examples/miniprogram/', import.meta.url).pathname;
const requireCjs = createRequire(import.meta.url);

// miniprogram-simulate's types are loose; these are the parts used here.
interface SimComponent {
  instance: Record<string, (...args: unknown[]) => unknown>;
  data: Record<string, unknown>;
  dom: { textContent: string | null };
  attach(parent: unknown): void;
  detach(): void;
  querySelector(selector: string): SimComponent | null;
  querySelectorAll(selector: string): SimComponent[];
  dispatchEvent(name: string, options?: { detail?: unknown }): void;
}
interface Simulate {
  load(path: string, options: { rootPath: string; compiler: 'simulate' }): string;
  render(id: string): SimComponent;
}

describe('examples/miniprogram in miniprogram-simulate, against the real server', () => {
  let world: ClientWorld;
  let simulate: Simulate;
  let wx: WxShim;
  const storage = createMemoryStorage();
  let appOptions: { onLaunch(): void } | undefined;
  const globals = globalThis as Record<string, unknown>;

  const launchApp = () => {
    // A fresh app process: the app's modules run again, on the same phone's storage.
    for (const file of ['app.js', 'auth.js']) delete requireCjs.cache[join(ROOT, file)];
    wx = createWxShim({ simulatorUrl: world.h.sim.url, appId: APP_ID, storage, openid: 'o_example_user' });
    Object.assign(globals.wx as object, wx);
    requireCjs(join(ROOT, 'app.js'));
    appOptions?.onLaunch();
  };
  const page = (name: string): SimComponent => {
    const id = simulate.load(join(ROOT, `pages/${name}/${name}`), { rootPath: ROOT, compiler: 'simulate' });
    const component = simulate.render(id);
    component.attach(
      (globals.document as { createElement(tag: string): unknown }).createElement('parent-wrapper'),
    );
    component.instance.onLoad?.({});
    return component;
  };
  const text = (component: SimComponent, selector: string) =>
    component.querySelector(selector)?.dom.textContent?.trim();

  beforeAll(async () => {
    [world] = await Promise.all([startClientWorld(), build()]);
    // The DOM miniprogram-simulate renders into, and the mini-program globals.
    const dom = new JSDOM('<!doctype html><html><body></body></html>', { pretendToBeVisual: true });
    globals.window = dom.window;
    for (const name of [
      'document',
      'Event',
      'CustomEvent',
      'Element',
      'HTMLElement',
      'Node',
      'MutationObserver',
    ])
      globals[name] = dom.window[name as keyof typeof dom.window];
    globals.wx = {};
    globals.App = (options: { onLaunch(): void }) => {
      appOptions = options;
    };
    globals.getApp = () => appOptions;
    simulate = requireCjs('miniprogram-simulate') as Simulate;
    // Point the example at this test's server; wx.login is the shim's (codes from the simulator too).
    Object.assign(requireCjs(join(ROOT, 'config.js')), {
      baseURL: world.url,
      appId: APP_ID,
      devSimulator: false,
    });
  }, 90_000);
  afterAll(async () => {
    await world?.close();
    for (const name of ['window', 'document', 'wx', 'App', 'getApp', 'Component', 'Behavior'])
      delete globals[name];
  });

  it('logs in on launch with one wx.login, shows the profile, binds the phone with the button', async () => {
    launchApp();
    const index = page('index');
    await vi.waitFor(() => expect(index.data.loading).toBe(false), { timeout: 10_000 });
    // app.js onLaunch and the page's onLoad both asked to log in: one wx.login between them.
    expect(wx.stats.logins).toBe(1);
    expect(wx.count('/v1/auth/wechat/login')).toBe(1);
    const user = index.data.user as { id: string };
    expect(text(index, '.user-id')).toBe(user.id);
    expect(text(index, '.openid')).toBe('o_example_user');
    expect(text(index, '.created')).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(text(index, '.phone')).toBe('none');

    const phone = newPhone();
    const code = world.h.sim.phoneCode({ appId: APP_ID, phoneNumber: phone.replace('+86', '') }).code;
    index.querySelector('#bind-phone')!.dispatchEvent('getphonenumber', {
      detail: { errMsg: 'getPhoneNumber:ok', code },
    });
    await vi.waitFor(() => expect(text(index, '.phone')).toBe(phone));
    expect(index.querySelector('#bind-phone')).toBeFalsy();
    index.detach();
  });

  it('a restart restores the session: no wx.login, no login request', async () => {
    launchApp();
    const index = page('index');
    await vi.waitFor(() => expect(index.data.loading).toBe(false));
    expect(index.data.error).toBe('');
    expect(wx.stats.logins).toBe(0);
    expect(wx.stats.requests.map((r) => r.path)).toEqual(['/v1/me']);
    index.detach();
  });

  it('lists sessions and ends another device’s', async () => {
    const other = world.device({ openid: 'o_example_user' });
    await other.auth.login();
    const sessions = page('sessions');
    await vi.waitFor(() => expect(sessions.querySelectorAll('.session')).toHaveLength(2));
    expect(sessions.dom.textContent).toContain('this device');
    sessions.querySelector('.end')!.dispatchEvent('tap');
    await vi.waitFor(() => expect(sessions.querySelectorAll('.session')).toHaveLength(1));
    expect(wx.stats.requests.some((r) => r.method === 'DELETE' && r.status === 204)).toBe(true);
    sessions.detach();
  });

  it('logs in with an SMS code on the login page, and turns down a declined phone button', async () => {
    const index = page('index');
    await vi.waitFor(() => expect(index.data.loading).toBe(false));
    const login = page('login');
    const phone = newPhone();
    login.querySelector('#phone')!.dispatchEvent('input', { detail: { value: phone.replace('+86', '') } });
    login.querySelector('#send')!.dispatchEvent('tap');
    await vi.waitFor(() => expect(login.data.waiting).toBe(true));
    login.querySelector('#code')!.dispatchEvent('input', { detail: { value: inboxCode(world.h, phone) } });
    login.querySelector('#sms-login')!.dispatchEvent('tap');
    await vi.waitFor(() => expect(login.data.done).toBe(true));
    expect(text(login, '.done')).toContain(login.data.userId as string);
    // The profile page still open behind it follows the login through onChange.
    await vi.waitFor(() => expect(text(index, '.phone')).toBe(phone));
    expect(text(index, '.openid')).toBe('');

    wx.resetStats();
    login.querySelector('#phone-login')!.dispatchEvent('getphonenumber', {
      detail: { errMsg: 'getPhoneNumber:fail user deny' },
    });
    await vi.waitFor(() => expect(login.data.error).toBe('Phone number not shared'));
    expect(wx.stats.logins).toBe(0);
    expect(wx.stats.requests).toEqual([]);
    login.detach();
    index.detach();
  });

  it('logs out from the profile page: logged out at once, the server session ended', async () => {
    const index = page('index');
    await vi.waitFor(() => expect(index.data.loading).toBe(false));
    wx.resetStats();
    index.querySelector('#logout')!.dispatchEvent('tap');
    await vi.waitFor(() => expect(index.data.user).toBeNull());
    expect(text(index, '.status')).toBe('Logged out');
    expect(storage.getStorageSync('wxauth:session')).toBe('');
    await vi.waitFor(() =>
      expect(wx.stats.requests.filter((r) => r.path === '/v1/auth/logout').map((r) => r.status)).toEqual([
        204,
      ]),
    );
    index.detach();
  });
});
