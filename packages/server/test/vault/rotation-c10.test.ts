import { randomBytes } from 'node:crypto';
import { type Simulator, startSimulator } from '@wxauth/wechat-sim';
import { sql } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenRepository } from '../../src/adapters/wechat/access-token.repository.ts';
import { generateKeySetJson } from '../../src/config/keys.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { generateVaultKey } from '../../src/vault/keys.ts';
import {
  createRotationRepository,
  identitySessionKeyContext,
  VAULT_REWRAP_JOB,
} from '../../src/vault/rotation/index.ts';
import { createVault, type VaultEvent } from '../../src/vault/vault.ts';
import { APP_ID, APP_SECRET } from '../support/harness.ts';
import {
  type ServerProcess,
  serverEnv,
  startServerProcess,
  stopServerProcesses,
} from '../support/server-process.ts';
import { postgresStore } from '../support/test-db.ts';
import { type Timed, timedPost } from '../support/timed-http.ts';
import { newSessionKey, readIdentities, sealIdentity } from './rotation-support.ts';

/**
 * Race C10 (reliability.md B.3, R26) across processes: the vault rewrap job runs while logins keep
 * writing session keys, with two wxauth server processes on one PostgreSQL and one Redis.
 *
 * The rolling restart right after `keys promote`: process "promoted" already seals with the new key,
 * process "lagging" still seals with the old one. Both run the job scheduler (pg-boss), as every
 * instance does, and the test queues the rewrap again and again while users log in through both, in
 * rounds (a user's logins in order, users in parallel), each login storing a fresh session_key from the
 * simulator. Then "lagging" is restarted with the promoted key set, and the scheduled rewrap finishes
 * by itself. Afterwards no row is unreadable, no row names the old kid, every stored key is the
 * simulator's current key for that user (no lost update), and the lagging instance never re-sealed a
 * row backwards or closed a run.
 */
const USERS = 60;
const LOGIN_WORKERS = 12;
/**
 * Rounds go on until the job has been seen completing work while logins were in flight. pg-boss hands
 * the job to a worker on its own schedule, and once login claims moved to Redis (WXAUTH_REDIS_URL)
 * 20 back-to-back rounds could end before that happened: a round now takes at least MIN_ROUND_MS, and
 * there are at most 90 of them, under the simulator's 100 code2Session calls per user per minute.
 */
const MIN_ROUNDS = 3;
const MAX_ROUNDS = 90;
const MIN_ROUND_MS = 250;
const OLD = { kid: 'c10-old', key: generateVaultKey() };
const NEW = { kid: 'c10-new', key: generateVaultKey() };

type Status = 'primary' | 'decrypt-only' | 'retired';
const entry = (k: typeof OLD, status: Status) => ({ kid: k.kid, key: k.key.toString('base64'), status });

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe.runIf(process.env.TEST_DATABASE_URL && process.env.TEST_REDIS_URL)(
  'C10: rewrap concurrent with logins on two server processes (PostgreSQL + Redis)',
  () => {
    let db: Db;
    let sim: Simulator;
    const servers: ServerProcess[] = [];
    const bossSchema = `pgboss_t_${randomBytes(4).toString('hex')}`;

    beforeAll(async () => {
      db = await postgresStore!.open();
      sim = await startSimulator({ apps: [{ appId: APP_ID, secret: APP_SECRET }] });
    });
    afterAll(async () => {
      await stopServerProcesses(servers);
      await sim?.close();
      await db?.close();
      const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
      await admin.connect();
      await admin.query(`DROP SCHEMA IF EXISTS ${bossSchema} CASCADE`);
      await admin.end();
    });

    async function start(name: string, vault: ReturnType<typeof entry>[]): Promise<ServerProcess> {
      const keys = { ...JSON.parse(await generateKeySetJson()), vault };
      const server = await startServerProcess(
        name,
        serverEnv({
          simUrl: sim.url,
          apps: [{ appId: APP_ID, secret: APP_SECRET }],
          keysJson: JSON.stringify(keys),
          database: { url: process.env.TEST_DATABASE_URL!, schema: db.schema! },
          redisUrl: process.env.TEST_REDIS_URL,
          bossSchema,
        }),
      );
      servers.push(server);
      return server;
    }

    async function login(server: ServerProcess, openid: string): Promise<Timed> {
      const { code } = sim.login({ appId: APP_ID, openid, sessionKey: newSessionKey() });
      return timedPost(server.url, '/v1/auth/wechat/login', { code, appId: APP_ID });
    }

    /** Queues a rewrap run through a process's scheduler (pg-boss: whichever instance's worker is free). */
    async function triggerRewrap(server: ServerProcess): Promise<void> {
      const res = await fetch(`${server.url}/__test/jobs/${VAULT_REWRAP_JOB}`, { method: 'POST' });
      expect(res.status).toBe(200);
    }

    /** Rewrap workers that started after `since`, finished, and re-sealed rows, by instance prefix. */
    async function rewrapWorkers(since: Date, instance: string) {
      const result = await sql<{ n: number; rows: number }>`
        SELECT count(*)::int AS n, COALESCE(sum(w.checked), 0)::int AS rows
        FROM job_run_workers w JOIN job_runs r ON r.id = w.run_id
        WHERE r.job = ${VAULT_REWRAP_JOB} AND w.worker_id LIKE ${`${instance}/%`}
          AND w.started_at >= ${since} AND w.finished_at IS NOT NULL AND w.checked > 0`.execute(db.kysely);
      return result.rows[0]!;
    }

    const oldKidRows = async () =>
      (await createRotationRepository(db.kysely).countIdentitiesByKid()).find((u) => u.kid === OLD.kid)
        ?.rows ?? 0;

    it('no unreadable row, the old kid reaches 0, no lost update; the rewrap finishes by itself', async () => {
      // Before the rotation: every row sealed with the old key, as logins stored them.
      const oldVault = createVault({ keys: [{ ...OLD, status: 'primary' }] });
      const openids = Array.from({ length: USERS }, (_, i) => `oC10user${String(i).padStart(3, '0')}`);
      for (const openid of openids) {
        const sessionKey = newSessionKey();
        sim.login({ appId: APP_ID, openid, sessionKey });
        await sealIdentity(db.kysely, oldVault, { appId: APP_ID, openid, sessionKey });
      }
      const tokens = createAccessTokenRepository({ db: db.kysely, vault: oldVault });
      await tokens.ensureRow(APP_ID);
      await tokens.tryAcquireLease(APP_ID, 'seed', Date.now(), 60_000);
      await tokens.saveToken(APP_ID, 'seed', {
        token: 'AT-c10',
        expiresAt: Date.now() + 7_200_000,
        fetchedAt: Date.now(),
      });

      // Rolling restart after `keys promote c10-new`: one instance has it, one does not yet.
      const [promoted, lagging] = await Promise.all([
        start('promoted', [entry(OLD, 'decrypt-only'), entry(NEW, 'primary')]),
        start('lagging', [entry(OLD, 'primary'), entry(NEW, 'decrypt-only')]),
      ]);

      const loginsStarted = new Date();
      let loginsDone = false;
      let rewrapDuringLogins = false;
      const failed: Timed[] = [];
      let logins = 0;
      // The job is queued again and again; each time it finds rows the lagging instance sealed with
      // the old key since the last run.
      const triggering = (async () => {
        while (!loginsDone) {
          await triggerRewrap(promoted);
          if (!rewrapDuringLogins && (await rewrapWorkers(loginsStarted, 'promoted')).n > 0) {
            rewrapDuringLogins = !loginsDone;
          }
          await sleep(150);
        }
      })();
      let rounds = 0;
      try {
        for (; rounds < MAX_ROUNDS && (rounds < MIN_ROUNDS || !rewrapDuringLogins); rounds++) {
          const roundStarted = performance.now();
          const queue = [...openids.entries()];
          await Promise.all(
            Array.from({ length: LOGIN_WORKERS }, async () => {
              for (let next = queue.shift(); next; next = queue.shift()) {
                const [u, openid] = next;
                const res = await login((u + rounds) % 2 === 0 ? promoted : lagging, openid);
                logins++;
                if (res.status !== 200) failed.push(res);
              }
            }),
          );
          await sleep(MIN_ROUND_MS - (performance.now() - roundStarted));
        }
      } finally {
        loginsDone = true;
        await triggering;
      }
      expect(failed.map((f) => f.body)).toEqual([]);
      expect(logins).toBe(USERS * rounds);
      // The job really ran alongside the logins: a rewrap on the promoted instance began after the
      // first login and completed, having re-sealed rows, while logins were still in flight.
      expect(rewrapDuringLogins).toBe(true);

      // The rolling restart completes: the lagging instance comes back with the promoted key set.
      const stopped = await lagging.stop();
      expect(stopped.code).toBe(0);
      const restarted = await start('restarted', [entry(OLD, 'decrypt-only'), entry(NEW, 'primary')]);

      // Now the scheduled rewrap finishes by itself, whichever instance takes it.
      const deadline = Date.now() + 30_000;
      let lastRun: { status: string } | undefined;
      for (;;) {
        lastRun = await db.kysely
          .selectFrom('job_runs')
          .select(['status'])
          .where('job', '=', VAULT_REWRAP_JOB)
          .orderBy('started_at', 'desc')
          .executeTakeFirst();
        if ((await oldKidRows()) === 0 && lastRun?.status === 'succeeded') break;
        if (Date.now() > deadline) throw new Error(`rewrap did not finish: last run ${lastRun?.status}`);
        await triggerRewrap(restarted);
        await sleep(300);
      }

      const usage = await createRotationRepository(db.kysely).countIdentitiesByKid();
      expect(usage).toEqual([{ kid: NEW.kid, rows: USERS }]);

      // The old key can now go: a ring without it opens every row, to the simulator's current key.
      const events: VaultEvent[] = [];
      const final = createVault({
        keys: [
          { ...OLD, status: 'retired' },
          { ...NEW, status: 'primary' },
        ],
        onEvent: (e) => events.push(e),
      });
      const rows = await readIdentities(db.kysely);
      expect(rows).toHaveLength(USERS);
      for (const row of rows) {
        expect(row.session_key_kid).toBe(NEW.kid);
        const opened = final.open(row.session_key_enc!, identitySessionKeyContext(row.app_id, row.openid));
        expect(opened, row.openid).toBe(sim.currentSessionKey(APP_ID, row.openid));
      }
      expect(events).toEqual([]);
      const token = await createAccessTokenRepository({ db: db.kysely, vault: final }).findByAppId(APP_ID);
      expect(token).toMatchObject({ token: 'AT-c10', unreadable: false });

      // No process ever failed to open a row (R27 events are stored in auth_events).
      const failures = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM auth_events WHERE type = 'vault.open_failed'`.execute(db.kysely);
      expect(failures.rows[0]!.n).toBe(0);
      // The instance that was behind never took part in a run: it neither re-sealed rows with the old
      // key nor declared a run finished while rows were still on it.
      const laggingWorkers = await sql<{ n: number }>`
        SELECT count(*)::int AS n FROM job_run_workers WHERE worker_id LIKE 'lagging/%'`.execute(db.kysely);
      expect(laggingWorkers.rows[0]!.n).toBe(0);
    }, 180_000);
  },
);
