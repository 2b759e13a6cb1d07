import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Simulator, startSimulator } from '@wxauth/wechat-sim';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * The better-auth comparator (bench/comparators/better-auth) driven over HTTP exactly as the benchmark
 * runner starts and drives it: on PGlite, and on PostgreSQL in a throw-away schema when
 * TEST_DATABASE_URL is set.
 */
const SERVER = new URL('../../bench/comparators/better-auth/server.ts', import.meta.url).pathname;
const APP = { appId: 'wxbacomparator00001', secret: 'ba-comparator-secret' };

interface Running {
  child: ChildProcess;
  url: string;
  stdout: () => string;
  stderr: () => string;
}

function start(env: Record<string, string>): Promise<Running> {
  const child = spawn(process.execPath, [SERVER], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`comparator did not start:\n${err}`)), 45_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const m = /^READY (http:\/\/127\.0\.0\.1:\d+)\n/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1]!, stdout: () => out, stderr: () => err });
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`comparator exited ${code}:\n${err}`));
    });
  });
}

function stop(r: Running): Promise<number | null> {
  return new Promise((resolve) => {
    r.child.removeAllListeners('exit');
    r.child.on('exit', (code) => resolve(code));
    r.child.kill('SIGTERM');
  });
}

interface Reply<T> {
  status: number;
  headers: Headers;
  body: T;
}
async function call<T>(url: string, init: { body?: unknown; headers?: Record<string, string> } = {}) {
  const res = await fetch(url, {
    method: init.body === undefined ? 'GET' : 'POST',
    headers: { ...(init.body === undefined ? {} : { 'content-type': 'application/json' }), ...init.headers },
    ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as T } satisfies Reply<T>;
}

interface LoginBody {
  token: string;
  userId: string;
  cookie: string;
  errcode?: number;
}
interface SessionBody {
  session: { token: string; userId: string; expiresAt: string; updatedAt: string };
  user: { id: string; phoneNumber?: string };
}
interface VerifyBody {
  status?: boolean;
  token?: string;
  user?: { id: string };
  code?: string;
}

const stores: { name: string; database: string | undefined }[] = [
  { name: 'pglite', database: 'pglite' },
  ...(process.env.TEST_DATABASE_URL ? [{ name: 'postgres', database: process.env.TEST_DATABASE_URL }] : []),
];

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ apps: [{ ...APP, unionBound: true }] });
});
afterAll(async () => {
  await sim?.close();
});

describe.each(stores)('better-auth comparator on $name', ({ database }) => {
  const schema = `ba_cmp_${randomBytes(4).toString('hex')}`;
  const admin = database === 'pglite' ? undefined : new pg.Client({ connectionString: database });
  let defaults: Running;
  let tuned: Running;

  beforeAll(async () => {
    if (admin) {
      await admin.connect();
      await admin.query(`create schema ${schema}`);
    }
    const base = {
      BA_DATABASE: database ?? 'pglite',
      ...(admin ? { BA_SCHEMA: schema } : {}),
      SIM_URL: sim.url,
      WX_APP_ID: APP.appId,
      WX_SECRET: APP.secret,
      BA_SMS_DELAY_MS: '20',
    };
    // Two processes in parallel: better-auth's defaults, and the tuned/forced variants of S2–S4.
    // On PostgreSQL they share the schema, so the second waits for the first's migration.
    if (admin) {
      defaults = await start(base);
      tuned = await start({
        ...base,
        BA_COOKIE_CACHE: 'on',
        BA_AWAIT_SEND: 'on',
        BA_UPDATE_AGE: '0',
        BA_JOINS: 'on',
      });
    } else {
      [defaults, tuned] = await Promise.all([
        start(base),
        start({ ...base, BA_COOKIE_CACHE: 'on', BA_AWAIT_SEND: 'on', BA_UPDATE_AGE: '0', BA_JOINS: 'on' }),
      ]);
    }
  }, 90_000);

  afterAll(async () => {
    const codes = await Promise.all([defaults, tuned].filter(Boolean).map(stop));
    expect(codes.every((code) => code === 0)).toBe(true);
    if (admin) {
      await admin.query(`drop schema ${schema} cascade`);
      await admin.end();
    }
  });

  it('prints only the READY line and serves the bench routes', async () => {
    expect(defaults.stdout()).toMatch(/^READY http:\/\/127\.0\.0\.1:\d+\n$/);
    expect((await call<{ ok: boolean }>(`${defaults.url}/__bench/bare`)).body).toEqual({ ok: true });
    const cpu = (await call<{ user: number; system: number }>(`${defaults.url}/__bench/cpu`)).body;
    expect(cpu.user).toBeGreaterThan(0);
    expect(typeof cpu.system).toBe('number');
  });

  it('logs a WeChat user in twice as the same user and authenticates the bearer token', async () => {
    const openid = `o${randomBytes(12).toString('base64url')}`;
    const first = await call<LoginBody>(`${defaults.url}/wechat/login`, {
      body: { code: sim.login({ appId: APP.appId, openid }).code },
    });
    expect(first.status).toBe(200);
    expect(first.headers.get('set-auth-token')).toBe(first.body.token);
    const second = await call<LoginBody>(`${defaults.url}/wechat/login`, {
      body: { code: sim.login({ appId: APP.appId, openid }).code },
    });
    expect(second.body.userId).toBe(first.body.userId);
    expect(second.body.token).not.toBe(first.body.token);

    const session = await call<SessionBody>(`${defaults.url}/api/auth/get-session`, {
      headers: { authorization: `Bearer ${second.body.token}` },
    });
    expect(session.status).toBe(200);
    expect(session.body.user.id).toBe(first.body.userId);

    const unsigned = await call<SessionBody | null>(`${defaults.url}/api/auth/get-session`, {
      headers: { authorization: 'Bearer not-a-session-token' },
    });
    expect(unsigned.body).toBeNull();
  });

  it('answers an upstream WeChat error with its errcode', async () => {
    const used = sim.login({ appId: APP.appId }).code;
    expect((await call<LoginBody>(`${defaults.url}/wechat/login`, { body: { code: used } })).status).toBe(
      200,
    );
    const again = await call<LoginBody>(`${defaults.url}/wechat/login`, { body: { code: used } });
    expect(again.status).toBe(400);
    expect(again.body.errcode).toBe(40163);
  });

  for (const variant of ['defaults', 'tuned'] as const) {
    it(`signs a phone number up by OTP and refuses a wrong code (${variant})`, async () => {
      const server = variant === 'defaults' ? defaults : tuned;
      const phoneNumber = `+86138${String(randomBytes(4).readUInt32BE() % 1e8).padStart(8, '0')}`;
      const sent = await call<{ message: string }>(`${server.url}/api/auth/phone-number/send-otp`, {
        body: { phoneNumber },
      });
      expect(sent.status).toBe(200);
      const { code } = (
        await call<{ code: string }>(`${server.url}/__bench/otp?phone=${encodeURIComponent(phoneNumber)}`)
      ).body;
      expect(code).toMatch(/^\d{6}$/);

      const wrong = String((Number(code) + 1) % 1e6).padStart(6, '0');
      const refused = await call<VerifyBody>(`${server.url}/api/auth/phone-number/verify`, {
        body: { phoneNumber, code: wrong },
      });
      expect(refused.status).toBe(400);
      expect(refused.body.token).toBeUndefined();

      const verified = await call<VerifyBody>(`${server.url}/api/auth/phone-number/verify`, {
        body: { phoneNumber, code },
      });
      expect(verified.status).toBe(200);
      const token = verified.headers.get('set-auth-token');
      expect(token).toBeTruthy();
      expect(verified.body.token).toBeTruthy();
      const session = await call<SessionBody>(`${server.url}/api/auth/get-session`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(session.body.user.id).toBe(verified.body.user?.id);
      expect(session.body.user.phoneNumber).toBe(phoneNumber);

      const replay = await call<VerifyBody>(`${server.url}/api/auth/phone-number/verify`, {
        body: { phoneNumber, code },
      });
      expect(replay.status).toBe(400);
    });
  }

  it('updates the session on every get-session with BA_UPDATE_AGE=0, and serves the cookie cache', async () => {
    const login = await call<LoginBody>(`${tuned.url}/wechat/login`, {
      body: { code: sim.login({ appId: APP.appId }).code },
    });
    expect(login.status).toBe(200);
    expect(login.body.cookie).toContain('better-auth.session_token=');
    expect(login.body.cookie).toContain('better-auth.session_data=');
    const bearer = { authorization: `Bearer ${login.body.token}` };
    const a = await call<SessionBody>(`${tuned.url}/api/auth/get-session`, { headers: bearer });
    await new Promise((resolve) => setTimeout(resolve, 5));
    const b = await call<SessionBody>(`${tuned.url}/api/auth/get-session`, { headers: bearer });
    expect(a.body.user.id).toBe(login.body.userId);
    expect(b.body.user.id).toBe(login.body.userId);
    expect(Date.parse(b.body.session.updatedAt)).toBeGreaterThan(Date.parse(a.body.session.updatedAt));

    const cached = await call<SessionBody>(`${tuned.url}/api/auth/get-session`, {
      headers: { cookie: login.body.cookie },
    });
    expect(cached.status).toBe(200);
    expect(cached.body.user.id).toBe(login.body.userId);
  });
});
