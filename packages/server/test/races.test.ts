import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Db } from '../src/storage/create-db.ts';
import { APP_ID, type Harness, startHarness, wechatLogin } from './support/harness.ts';
import { postgresStore, testStores } from './support/test-db.ts';
import { expectOverlap, timedPost as post } from './support/timed-http.ts';

/**
 * Races of reliability.md B.3 over real HTTP, with start/end timestamps to prove the requests overlapped.
 * They run on PGlite everywhere and on real PostgreSQL when TEST_DATABASE_URL is set — PostgreSQL is
 * the one that matters (row locks under READ COMMITTED); PGlite serialises every query.
 */

const ITERATIONS = postgresStore ? 50 : 10;

describe.each(testStores)('races on $name', (store) => {
  let db: Db;
  let h: Harness;
  let base: string;
  beforeAll(async () => {
    db = await store.open();
    h = await startHarness({ db });
    await h.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(h.app.server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await h?.close();
    await db?.close();
  });

  it('C1: 20 concurrent refreshes with one token all succeed with the same child, one generation', async () => {
    for (let i = 0; i < Math.ceil(ITERATIONS / 5); i++) {
      const { body } = await wechatLogin(h);
      const results = await Promise.all(
        Array.from({ length: 20 }, () =>
          post(base, '/v1/auth/token/refresh', { refreshToken: body.refreshToken }),
        ),
      );
      expectOverlap(results);
      expect(results.map((r) => r.status)).toEqual(Array(20).fill(200));
      expect(new Set(results.map((r) => r.body.refreshToken)).size).toBe(1);
      const sid = body.refreshToken.split('.')[0];
      const row = await db.kysely
        .selectFrom('sessions')
        .select(['generation', 'revoked_at'])
        .where('id', '=', sid)
        .executeTakeFirstOrThrow();
      expect(row).toEqual({ generation: 1, revoked_at: null });
    }
  });

  it('C3: refresh and logout of one session at once leave no working token', async () => {
    for (let i = 0; i < ITERATIONS; i++) {
      const { body } = await wechatLogin(h);
      const [r, out] = await Promise.all([
        post(base, '/v1/auth/token/refresh', { refreshToken: body.refreshToken }),
        post(base, '/v1/auth/logout', {}, { authorization: `Bearer ${body.accessToken}` }),
      ]);
      expect(out.status).toBe(204);
      const tokens = [body.refreshToken, ...(r.status === 200 ? [r.body.refreshToken as string] : [])];
      for (const refreshToken of tokens) {
        const after = await post(base, '/v1/auth/token/refresh', { refreshToken });
        expect(after.status).toBe(401);
      }
      if (r.status === 200) {
        const me = await fetch(`${base}/v1/me`, {
          headers: { authorization: `Bearer ${r.body.accessToken}` },
        });
        expect(me.status).toBe(401);
      }
    }
  });

  it('C7: the same code 10 times at once makes one upstream call and logs one user in', async () => {
    for (let i = 0; i < Math.ceil(ITERATIONS / 5); i++) {
      const user = h.sim.login({ appId: APP_ID });
      const before = h.sim.callCounts()['/sns/jscode2session'] ?? 0;
      const results = await Promise.all(
        Array.from({ length: 10 }, () =>
          post(base, '/v1/auth/wechat/login', { code: user.code, appId: APP_ID }),
        ),
      );
      expectOverlap(results);
      expect(results.map((r) => r.status)).toEqual(Array(10).fill(200));
      expect(new Set(results.map((r) => (r.body.user as { id: string }).id)).size).toBe(1);
      expect((h.sim.callCounts()['/sns/jscode2session'] ?? 0) - before).toBe(1);
    }
  });

  it('C8: two codes of one new openid at once make exactly one user, and both log in', async () => {
    for (let i = 0; i < ITERATIONS; i++) {
      const a = h.sim.login({ appId: APP_ID });
      // The simulator hands out a second code for the same person.
      const b = h.sim.login({ appId: APP_ID, openid: a.openid });
      const results = await Promise.all([
        post(base, '/v1/auth/wechat/login', { code: a.code, appId: APP_ID }),
        post(base, '/v1/auth/wechat/login', { code: b.code, appId: APP_ID }),
      ]);
      expect(results.map((r) => r.status)).toEqual([200, 200]);
      const ids = results.map((r) => (r.body.user as { id: string }).id);
      expect(ids[0]).toBe(ids[1]);
      const users = await db.kysely
        .selectFrom('wechat_identities')
        .select('user_id')
        .where('openid', '=', a.openid)
        .execute();
      expect(users).toHaveLength(1);
    }
    // No user without an identity, no session without a user.
    const orphans = await db.kysely
      .selectFrom('users')
      .select('id')
      .where('phone', 'is', null)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('wechat_identities')
              .select('user_id')
              .whereRef('wechat_identities.user_id', '=', 'users.id'),
          ),
        ),
      )
      .execute();
    expect(orphans).toEqual([]);
  });

  it('C2: an old token after the grace while the newest is in use ends the family exactly once', async () => {
    const { body } = await wechatLogin(h);
    const child = (await post(base, '/v1/auth/token/refresh', { refreshToken: body.refreshToken })).body;
    const grandchild = (await post(base, '/v1/auth/token/refresh', { refreshToken: child.refreshToken }))
      .body;
    // The grandparent is always reuse, grace or not.
    const results = await Promise.all([
      post(base, '/v1/auth/token/refresh', { refreshToken: body.refreshToken }),
      post(base, '/v1/auth/token/refresh', { refreshToken: grandchild.refreshToken }),
    ]);
    expect(results[0]!.status).toBe(401);
    expect(results[0]!.body.error).toMatchObject({ code: 'refresh_token_reused' });
    const after = await post(base, '/v1/auth/token/refresh', { refreshToken: grandchild.refreshToken });
    expect(after.status).toBe(401);
    const sid = body.refreshToken.split('.')[0];
    const events = await db.kysely
      .selectFrom('auth_events')
      .select('id')
      .where('type', '=', 'refresh_token.reuse_detected')
      .where('session_id', '=', sid)
      .execute();
    expect(events).toHaveLength(1);
  });

  it('across two instances: one code2Session per code, and a logout on one is honoured by the other', async () => {
    const clock = {
      t: Date.now(),
      now() {
        return this.t;
      },
    };
    const other = await startHarness({ db, sim: h.sim, clock, instanceId: 'second-instance' });
    try {
      await other.app.listen({ port: 0, host: '127.0.0.1' });
      const otherBase = `http://127.0.0.1:${(other.app.server.address() as AddressInfo).port}`;
      const user = h.sim.login({ appId: APP_ID });
      const before = h.sim.callCounts()['/sns/jscode2session'] ?? 0;
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) =>
          post(i % 2 ? otherBase : base, '/v1/auth/wechat/login', { code: user.code, appId: APP_ID }),
        ),
      );
      expectOverlap(results);
      expect(results.map((r) => r.status)).toEqual(Array(6).fill(200));
      expect((h.sim.callCounts()['/sns/jscode2session'] ?? 0) - before).toBe(1);

      // R21: the other instance may trust its cache for at most 4 s after a logout elsewhere.
      const token = results[0]!.body.accessToken as string;
      const me = () => fetch(`${otherBase}/v1/me`, { headers: { authorization: `Bearer ${token}` } });
      expect((await me()).status).toBe(200);
      expect((await post(base, '/v1/auth/logout', {}, { authorization: `Bearer ${token}` })).status).toBe(
        204,
      );
      clock.t += 4_100;
      expect((await me()).status).toBe(401);
    } finally {
      await other.close();
    }
  });
});
