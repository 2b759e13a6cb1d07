import type { AddressInfo } from 'node:net';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loginCodeHash } from '../src/login/login-codes.repository.ts';
import type { Db } from '../src/storage/create-db.ts';
import { APP_ID, type Harness, startHarness } from './support/harness.ts';
import { postgresStore } from './support/test-db.ts';
import { expectOverlap, timedPost as post } from './support/timed-http.ts';

const REDIS_URL = process.env.TEST_REDIS_URL;
const keyOf = (code: string) => `wxauth:login-code:${loginCodeHash(APP_ID, code).toString('base64url')}`;

/**
 * R1 with Redis configured on PostgreSQL: the login-code claims live in Redis (`SET … NX PX`), shared by
 * every instance, and fall back to the database ledger when Redis cannot be reached.
 */
describe.runIf(postgresStore && REDIS_URL)('login-code ledger in Redis (PostgreSQL + Redis)', () => {
  let db: Db;
  let redis: Redis;
  let a: Harness;
  let b: Harness;
  let baseA: string;
  let baseB: string;
  const listen = async (h: Harness) => {
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    return `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  };
  const upstreamCalls = () => a.sim.callCounts()['/sns/jscode2session'] ?? 0;
  const codeRows = async (code: string) =>
    db.kysely
      .selectFrom('login_codes')
      .select('state')
      .where('code_hash', '=', loginCodeHash(APP_ID, code))
      .execute();
  /** The claimant writes the outcome after answering, so a reader may briefly still see "pending". */
  const settledEntry = async (code: string) => {
    for (let i = 0; i < 100; i++) {
      const value = await redis.get(keyOf(code));
      if (value && !value.includes('"pending"')) return JSON.parse(value) as Record<string, unknown>;
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error('the claim never settled in Redis');
  };

  beforeAll(async () => {
    db = await postgresStore!.open();
    redis = new Redis(REDIS_URL!);
    a = await startHarness({ db, env: { WXAUTH_REDIS_URL: REDIS_URL! } });
    b = await startHarness({ db, sim: a.sim, env: { WXAUTH_REDIS_URL: REDIS_URL! }, instanceId: 'second' });
    [baseA, baseB] = await Promise.all([listen(a), listen(b)]);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    redis?.disconnect();
    await db?.close();
  });

  it('one code sent 8 times across two instances: one code2Session call, one user, the claim in Redis only', async () => {
    for (let i = 0; i < 5; i++) {
      const user = a.sim.login({ appId: APP_ID });
      const before = upstreamCalls();
      const results = await Promise.all(
        Array.from({ length: 8 }, (_, n) =>
          post(n % 2 ? baseB : baseA, '/v1/auth/wechat/login', { code: user.code, appId: APP_ID }),
        ),
      );
      expectOverlap(results);
      expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
      expect(new Set(results.map((r) => (r.body.user as { id: string }).id)).size).toBe(1);
      expect(upstreamCalls() - before).toBe(1);

      const entry = await settledEntry(user.code);
      expect(entry).toMatchObject({ s: 'done', u: (results[0]!.body.user as { id: string }).id, e: null });
      // The TTL set with the claim survives the outcome's write (KEEPTTL): nothing is kept forever.
      const ttl = await redis.pttl(keyOf(user.code));
      expect(ttl).toBeGreaterThan(9 * 60_000);
      expect(ttl).toBeLessThanOrEqual(10 * 60_000);
      expect(await codeRows(user.code)).toEqual([]);
    }
  });

  it('a final failure is recorded in Redis: a duplicate on the other instance gets it without calling WeChat', async () => {
    const first = await post(baseA, '/v1/auth/wechat/login', { code: 'never-issued', appId: APP_ID });
    expect(first.status).toBe(400);
    expect((first.body.error as { code: string }).code).toBe('wechat_code_invalid');
    expect(await settledEntry('never-issued')).toMatchObject({ s: 'failed', e: 'wechat_code_invalid' });
    const before = upstreamCalls();
    const dup = await post(baseB, '/v1/auth/wechat/login', { code: 'never-issued', appId: APP_ID });
    expect((dup.body.error as { code: string }).code).toBe('wechat_code_invalid');
    expect(upstreamCalls()).toBe(before);
  });

  it('a transient upstream failure releases the claim, so the code can be tried again', async () => {
    const user = a.sim.login({ appId: APP_ID });
    // -1 twice: the one retry R3 allows fails too, so the login ends in 503 and the code is still unused.
    a.sim.injectFault({ path: '/sns/jscode2session', errcode: -1, times: 2 });
    const failed = await post(baseA, '/v1/auth/wechat/login', { code: user.code, appId: APP_ID });
    expect(failed.status).toBe(503);
    expect(await redis.exists(keyOf(user.code))).toBe(0);
    const retried = await post(baseB, '/v1/auth/wechat/login', { code: user.code, appId: APP_ID });
    expect(retried.status).toBe(200);
  });

  it('Redis unreachable: claims fall back to the database and one code still makes one upstream call', async () => {
    // Port 1 refuses connections: every Redis command fails at once, as in an outage.
    const down = await startHarness({ db, sim: a.sim, env: { WXAUTH_REDIS_URL: 'redis://127.0.0.1:1' } });
    try {
      const base = await listen(down);
      const user = a.sim.login({ appId: APP_ID });
      const before = upstreamCalls();
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          post(base, '/v1/auth/wechat/login', { code: user.code, appId: APP_ID }),
        ),
      );
      expectOverlap(results);
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
      expect(upstreamCalls() - before).toBe(1);
      expect(await codeRows(user.code)).toEqual([{ state: 'done' }]);
      expect(down.logs.parsed().some((l) => l.msg === 'login-code ledger: redis error')).toBe(true);
    } finally {
      await down.close();
    }
  });
});
