import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * End to end over real HTTP: the server process as `npm start` runs it (dev mode: its own simulator,
 * generated keys, PGlite in a data dir), driven like a mini program would drive it.
 */
const MAIN = new URL('../src/main.ts', import.meta.url).pathname;

interface Running {
  child: ChildProcess;
  url: string;
  output: () => string;
}

function start(dataDir: string): Promise<Running> {
  const child = spawn(process.execPath, [MAIN], {
    env: { ...process.env, PORT: '0', WXAUTH_DATA_DIR: dataDir, WXAUTH_LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 45_000);
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /"address":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, output: () => out });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited ${code}:\n${out}`)));
  });
}

function stop(r: Running): Promise<number | null> {
  return new Promise((resolve) => {
    r.child.removeAllListeners('exit');
    r.child.on('exit', (code) => resolve(code));
    r.child.kill('SIGTERM');
  });
}

const json = async (res: Response) => ({
  status: res.status,
  // biome-ignore lint/suspicious/noExplicitAny: a test reading JSON bodies field by field
  body: (await res.json()) as Record<string, any>,
});
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  }).then(json);

describe('dev mode, end to end', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wxauth-e2e-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('logs a simulated user in, refreshes, logs out, and keeps the user across a restart', async () => {
    let server = await start(dataDir);
    const dev = (await json(await fetch(`${server.url}/__dev`))).body;
    expect(dev.appId).toBe('wxdev0000000000001');
    expect(server.output()).toContain('DEV MODE');
    expect(server.output()).toContain('Try a login in three commands');
    expect(existsSync(join(dataDir, 'keys.json'))).toBe(true);

    const sim = (await post(`${dev.simulator}/__sim/login`, { appId: dev.appId })).body;
    const login = await post(`${server.url}/v1/auth/wechat/login`, { code: sim.code });
    expect(login.status).toBe(200);
    expect(login.body.isNewUser).toBe(true);
    const auth = { authorization: `Bearer ${login.body.accessToken}` };
    expect((await json(await fetch(`${server.url}/v1/me`, { headers: auth }))).body.id).toBe(
      login.body.user.id,
    );
    const refreshed = await post(`${server.url}/v1/auth/token/refresh`, {
      refreshToken: login.body.refreshToken,
    });
    expect(refreshed.status).toBe(200);
    expect((await fetch(`${server.url}/readyz`)).status).toBe(200);
    const openapi = (await json(await fetch(`${server.url}/openapi.json`))).body;
    expect(Object.keys(openapi.paths)).toContain('/v1/auth/wechat/login');
    expect((await fetch(`${server.url}/docs`)).status).toBeLessThan(400);
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/wxauth_wechat_calls_total\{api="jscode2session",errcode="0"\} 1/);
    expect(server.output()).not.toContain(sim.sessionKey);

    // Phone login through the dev SMS inbox.
    const phone = '+8613912345678';
    expect((await post(`${server.url}/v1/auth/sms/send`, { phone: '139 1234 5678' })).status).toBe(202);
    const inbox = (await json(await fetch(`${server.url}/__dev/sms?phone=${encodeURIComponent(phone)}`)))
      .body;
    expect(inbox.messages).toHaveLength(1);
    const smsLogin = await post(`${server.url}/v1/auth/sms/login`, { phone, code: inbox.messages[0].code });
    expect(smsLogin.status).toBe(200);
    expect(smsLogin.body.user.phone).toBe(phone);
    expect(await stop(server)).toBe(0);

    // Same data dir: same keys, same database, same user; the old refresh token still works.
    server = await start(dataDir);
    const again = await post(`${server.url}/v1/auth/token/refresh`, {
      refreshToken: refreshed.body.refreshToken,
    });
    expect(again.status).toBe(200);
    expect(again.body.user.id).toBe(login.body.user.id);
    expect(server.output()).not.toContain('generated new signing');
    expect(await stop(server)).toBe(0);
  }, 120_000);
});
