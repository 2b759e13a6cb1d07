import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { type Browser, chromium, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DevServer, startDevServer } from './dev-server.ts';

/**
 * The playground in headless Chromium: the server wired for dev mode, the page clicked
 * through step by step, what it shows asserted, and a screenshot per step in test-artifacts/playground/.
 * Chromium comes from the OS (.ci/run installs Debian's); without it this suite is skipped, loudly.
 */
const CHROMIUM = '/usr/bin/chromium';
const hasChromium = existsSync(CHROMIUM);
const ARTIFACTS = new URL('../../../../test-artifacts/playground/', import.meta.url).pathname;

if (!hasChromium) {
  console.warn(
    `playground browser test SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium; .ci/run does).`,
  );
}
const title = hasChromium
  ? 'playground in headless Chromium'
  : `playground in headless Chromium — SKIPPED: ${CHROMIUM} not found (apt-get install -y chromium)`;

describe.skipIf(!hasChromium)(title, () => {
  let server: DevServer;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    mkdirSync(ARTIFACTS, { recursive: true });
    [server, browser] = await Promise.all([
      startDevServer(),
      chromium.launch({
        executablePath: CHROMIUM,
        args: [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--disable-background-networking',
          '--disable-component-update',
          '--no-first-run',
          '--disable-sync',
        ],
      }),
    ]);
    page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    page.on('pageerror', (error) => pageErrors.push(error.message));
    page.on('console', (message) => {
      // Chromium logs every non-2xx fetch; the one 409 (session_key_stale) is part of the script.
      if (message.type() === 'error' && !/status of 409/.test(message.text()))
        pageErrors.push(message.text());
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.stop();
  });

  /** What the user sees: Playwright's layout-aware text, with line breaks between blocks. */
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's innerText, not the DOM property
  const shown = (locator: Locator) => locator.innerText();
  const shot = (name: string) => page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });
  const topEntry = () => page.locator('#log > li').first();
  /** Clicks a step and waits until the log shows its entry. */
  const click = async (id: string, entryTitle: string) => {
    const before = await page.locator('#log > li').count();
    await page.click(`#${id}`);
    await page.waitForFunction((n) => document.querySelectorAll('#log > li').length > n, before);
    await expect.poll(() => shown(topEntry().locator('h3'))).toContain(entryTitle);
    return topEntry();
  };

  it('plays a mini program with the real SDK, step by step', async () => {
    await page.goto(`${server.url}/playground`);
    await page.waitForSelector('body[data-ready="true"]');
    expect(await shown(page.locator('#status'))).toBe('Logged out');
    expect(await shown(topEntry())).toContain('found nothing in storage');

    // 1. WeChat login: the code exchange, traced.
    const openid = await page.inputValue('#openid');
    let entry = await click('login', 'Log in with WeChat');
    expect(await shown(page.locator('#status'))).toBe('Logged in');
    expect(await shown(page.locator('#user-wechat'))).toBe(openid);
    let text = await shown(entry);
    expect(text).toMatch(/wx\.login\(\)\s*→\s*code/);
    expect(text).toMatch(/POST \/v1\/auth\/wechat\/login\s*→\s*200/);
    expect(text).toContain('A new user was created');
    expect(await shown(page.locator('#storage'))).toContain('No session_key');
    // The code exchange itself: the code went in, our own tokens came out (shortened for display).
    const exchange = entry.locator('details').first();
    await exchange.evaluate((details) => {
      (details as unknown as { open: boolean }).open = true;
    });
    const exchangeText = await shown(exchange);
    expect(exchangeText).toMatch(/"code": "[A-Za-z0-9_-]+"/);
    expect(exchangeText).toMatch(/"accessToken": "eyJ\S+…/);
    expect(exchangeText).toContain('"isNewUser": true');
    expect(exchangeText).not.toMatch(/session_?key/i);
    await shot('01-login');

    // 2. An API call, then 16 minutes later: one refresh before the call.
    entry = await click('me', 'GET /v1/me');
    expect(await shown(entry)).toMatch(/GET \/v1\/me\s*Bearer\s*→\s*200/);
    await click('skip', 'Skip 16 minutes');
    expect(await shown(page.locator('#token-expiry'))).toMatch(/expired/);
    entry = await click('me', 'GET /v1/me');
    text = await shown(entry);
    expect(text).toMatch(/POST \/v1\/auth\/token\/refresh\s*→\s*200[\s\S]*GET \/v1\/me\s*Bearer\s*→\s*200/);
    expect(text).toContain('refreshed it first');
    expect(text).not.toContain('wx.login()');
    expect(await shown(page.locator('#token-expiry'))).toMatch(/valid for/);
    await shot('02-refresh');

    // Restart: restored from storage, no wx.login, no request.
    await page.click('#restart');
    await page.waitForSelector('body[data-ready="true"]');
    expect(await shown(topEntry())).toContain('restored the session from storage');
    expect(await shown(page.locator('#status'))).toBe('Logged in');
    entry = await click('me', 'GET /v1/me');
    text = await shown(entry);
    expect(text).not.toContain('wx.login()');
    expect(text).not.toContain('/v1/auth/token/refresh');

    // 3. Sessions.
    await click('sessions', 'List sessions');
    expect(await page.locator('#session-list li').count()).toBe(1);
    expect(await shown(page.locator('#session-list'))).toContain('this device');
    await shot('03-sessions');

    // 4. SMS login through the dev inbox.
    await page.fill('#phone', '13912345678');
    entry = await click('sms-send', 'Send an SMS code');
    expect(await shown(entry.locator('h3 .tag'))).toBe('ok');
    await click('sms-inbox', 'Read the dev SMS inbox');
    expect(await page.inputValue('#sms-code')).toMatch(/^\d{6}$/);
    entry = await click('sms-login', 'Log in with SMS');
    expect(await shown(entry)).toMatch(/POST \/v1\/auth\/sms\/login\s*→\s*200/);
    expect(await shown(page.locator('#user-phone'))).toBe('+8613912345678');
    expect(await shown(page.locator('#user-wechat'))).toBe('–');
    await shot('04-sms-login');

    // One-tap phone login with the getPhoneNumber button: back to the WeChat user, now with a phone.
    await page.fill('#phone', '13987654321');
    entry = await click('phone-login', 'One-tap phone login');
    expect(await shown(entry)).toMatch(/POST \/v1\/auth\/wechat\/phone-login\s*→\s*200/);
    expect(await shown(page.locator('#user-phone'))).toBe('+8613987654321');
    expect(await shown(page.locator('#user-wechat'))).toBe(openid);
    await shot('05-phone-login');

    // 5. Open data: decrypt; then a session_key replaced behind the server's back.
    entry = await click('decrypt', 'Decrypt WeChat open data');
    expect(await shown(entry.locator('h3 .tag'))).toBe('ok');
    expect(await page.locator('#steps tr').count()).toBe(3);
    await click('rotate', 'replaced the session_key');
    entry = await click('decrypt', 'Decrypt WeChat open data');
    expect(await shown(entry.locator('h3 .tag'))).toBe('session_key_stale');
    text = await shown(entry);
    expect(text).toContain('can never be opened');
    expect(text).toMatch(/POST \/v1\/wechat\/decrypt\s*Bearer\s*→\s*409[\s\S]*wx\.login\(\)/);
    await shot('06-decrypt-stale');
    entry = await click('decrypt', 'Decrypt WeChat open data');
    expect(await shown(entry.locator('h3 .tag'))).toBe('ok');

    // 6. Logout: local state first, then the server.
    entry = await click('logout', 'Log out');
    expect(await shown(page.locator('#status'))).toBe('Logged out');
    text = await shown(entry);
    expect(text).toMatch(/onChange: logout[\s\S]*POST \/v1\/auth\/logout\s*Bearer\s*→\s*204/);
    expect(await shown(page.locator('#storage'))).toContain('(empty');
    await shot('07-logout');

    expect(pageErrors).toEqual([]);
  }, 60_000);
});
