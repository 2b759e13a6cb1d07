import { type Simulator, startSimulator } from '@wxauth/wechat-sim';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeySetJson } from '../../src/config/keys.ts';
import type { Db } from '../../src/storage/create-db.ts';
import {
  type ServerProcess,
  serverEnv,
  startServerProcess,
  stopServerProcesses,
} from '../support/server-process.ts';
import { postgresStore } from '../support/test-db.ts';
import { expectOverlap, type Timed, timedPost } from '../support/timed-http.ts';
import { newAppId } from './support/harness.ts';

/**
 * Race C9 (reliability.md B.3, R6) across processes: two wxauth server processes on one PostgreSQL
 * and one Redis. Another service force-refreshes the app's stable token, so the token both processes
 * hold dies at once; then 100 one-tap phone logins (each needs the access token for
 * getuserphonenumber) arrive together, half at each process. Every call gets 40001 at first, and the
 * cluster must fetch a new token once — counted where WeChat would count it, at the simulator. Run for
 * several such events in a row.
 */
const CALLS = 100;
const EVENTS = 5;
const OVERWRITTEN = 'wxauth_wechat_access_token_overwritten_total';

describe.runIf(process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL)(
  'C9: 40001 storm on two server processes (PostgreSQL + Redis)',
  () => {
    const app = { appId: newAppId(), secret: 'c9-secret' };
    let db: Db;
    let sim: Simulator;
    let servers: ServerProcess[] = [];

    beforeAll(async () => {
      db = await postgresStore!.open();
      sim = await startSimulator({ apps: [app] });
      const env = serverEnv({
        simUrl: sim.url,
        apps: [app],
        keysJson: await generateKeySetJson(),
        database: { url: process.env.TEST_DATABASE_URL!, schema: db.schema! },
        redisUrl: process.env.TEST_REDIS_URL,
      });
      servers = await Promise.all([startServerProcess('c9-a', env), startServerProcess('c9-b', env)]);
    });
    afterAll(async () => {
      await stopServerProcesses(servers);
      await sim?.close();
      await db?.close();
    });

    const tokenFetches = () => sim.calls().filter((c) => c.path === '/cgi-bin/stable_token').length;
    const phoneCalls = (errcode: number) =>
      sim.calls().filter((c) => c.path === '/wxa/business/getuserphonenumber' && c.errcode === errcode)
        .length;

    let phoneSeq = 0;
    /** A one-tap login of a new user with a number of their own (numbers are unique per user). */
    function phoneLogin(server: ServerProcess): Promise<Timed> {
      phoneSeq++;
      const phoneNumber = `139${String(phoneSeq).padStart(8, '0')}`;
      const { code: loginCode } = sim.login({ appId: app.appId });
      const { code: phoneCode } = sim.phoneCode({ appId: app.appId, phoneNumber });
      return timedPost(server.url, '/v1/auth/wechat/phone-login', { loginCode, phoneCode, appId: app.appId });
    }

    /** "Another service" force-refreshes the stable token: the one our cluster holds dies at once (§4). */
    async function forceRefreshElsewhere(): Promise<void> {
      const response = await fetch(`${sim.url}/cgi-bin/stable_token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          grant_type: 'client_credential',
          appid: app.appId,
          secret: app.secret,
          force_refresh: true,
        }),
      });
      expect(((await response.json()) as { access_token?: string }).access_token).toBeTypeOf('string');
    }

    async function overwritesReported(): Promise<number> {
      let total = 0;
      for (const server of servers) {
        const text = await (await fetch(`${server.url}/metrics`)).text();
        for (const line of text.split('\n')) {
          if (line.startsWith(`${OVERWRITTEN}{`) || line.startsWith(`${OVERWRITTEN} `)) {
            total += Number(line.slice(line.lastIndexOf(' ') + 1));
          }
        }
      }
      return total;
    }

    it(`${EVENTS} events of ${CALLS} concurrent calls hitting 40001: one token fetch per event, cluster-wide`, async () => {
      // Both processes hold the shared token before the first event: one fetch for the cluster.
      for (const server of servers) expect((await phoneLogin(server)).status).toBe(200);
      expect(tokenFetches()).toBe(1);

      for (let event = 1; event <= EVENTS; event++) {
        // The simulator ignores force refreshes closer than 30 s apart (§4): move its clock on.
        sim.advanceClock(31_000);
        await forceRefreshElsewhere();
        const fetchesBefore = tokenFetches();
        const rejectedBefore = phoneCalls(40001);

        const results = await Promise.all(
          Array.from({ length: CALLS }, (_, i) => phoneLogin(servers[i % servers.length]!)),
        );

        expect(results.filter((r) => r.status !== 200).map((r) => r.body)).toEqual([]);
        expectOverlap(results);
        // Both processes really held the dead token: WeChat refused calls from the cluster...
        expect(phoneCalls(40001) - rejectedBefore).toBeGreaterThanOrEqual(1);
        // ...and the cluster fetched one new token for the event, not one per process or per call.
        expect(tokenFetches() - fetchesBefore, `event ${event}`).toBe(1);
        expect(phoneCalls(0)).toBe(2 + event * CALLS);
      }

      // Each event was recognised once as another service overwriting our token (R6), in /metrics and
      // in the audit log.
      expect(await overwritesReported()).toBe(EVENTS);
      const audit = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM auth_events WHERE type = 'wechat.access_token_overwritten'`.execute(
        db.kysely,
      );
      expect(audit.rows[0]!.n).toBe(EVENTS);
      const row = await db.kysely
        .selectFrom('wechat_access_tokens')
        .select(['fetched_by'])
        .where('app_id', '=', app.appId)
        .executeTakeFirstOrThrow();
      expect(['c9-a', 'c9-b']).toContain(row.fetched_by);
    }, 120_000);
  },
);
