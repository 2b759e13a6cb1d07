import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { systemClock } from '../../src/clock.ts';
import { createScheduler } from '../../src/jobs/scheduler.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { APP_ID, APP_SECRET, type Harness, startHarness } from '../support/harness.ts';
import { postgresStore } from '../support/test-db.ts';
import { type CountingSim, seedIdentities, startCountingSim, waitFor } from './job-support.ts';

const logger = createLogger({ level: 'silent' });

describe('job scheduler', () => {
  it('on PGlite runs the job in-process on its cron, one run at a time', async () => {
    let runs = 0;
    let active = 0;
    let overlap = false;
    const scheduler = createScheduler({
      store: 'pglite',
      clock: systemClock,
      logger,
      jobs: [
        {
          name: 'tick',
          cron: '* * * * * *', // every second (pg-boss's parser takes a seconds field)
          async run() {
            runs++;
            active++;
            if (active > 1) overlap = true;
            await new Promise((resolve) => setTimeout(resolve, 1_500));
            active--;
          },
        },
      ],
    });
    expect(scheduler.mode).toBe('timer');
    await scheduler.start();
    await waitFor(() => runs >= 2, 10_000);
    await scheduler.stop();
    expect(overlap).toBe(false);
  }, 20_000);

  it('refuses a cron expression the parser of pg-boss cannot read, at start-up, naming it', () => {
    expect(() =>
      createScheduler({
        store: 'pglite',
        clock: systemClock,
        logger,
        jobs: [{ name: 'bad', cron: '61 * * * *', run: async () => undefined }],
      }),
    ).toThrow(/cron expression "61 \* \* \* \*"/);
  });
});

describe.skipIf(!postgresStore)('job scheduler on PostgreSQL (pg-boss)', () => {
  let db: Db;
  let h: Harness;
  let cs: CountingSim;
  const bossSchema = `pgboss_t_${randomBytes(4).toString('hex')}`;

  beforeAll(async () => {
    db = await postgresStore!.open();
    cs = await startCountingSim({ apps: [{ appId: APP_ID, secret: APP_SECRET }] });
    h = await startHarness({ db, sim: cs.sim, apps: [{ appId: APP_ID, secret: APP_SECRET }] });
  });
  afterAll(async () => {
    await h?.close();
    await cs?.close();
    await db?.close();
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${bossSchema} CASCADE`);
    await admin.end();
  });

  it('runs the session-key job from a pg-boss queue in its own schema, one run at a time cluster-wide', async () => {
    await seedIdentities(db, h.deps.vault, cs.sim, { appId: APP_ID, n: 50, staleEvery: 10, prefix: 'sch' });
    const instance = () =>
      createScheduler({
        store: 'postgres',
        databaseUrl: process.env.TEST_DATABASE_URL,
        bossSchema,
        pollingIntervalSeconds: 0.5,
        clock: systemClock,
        logger,
        jobs: [{ name: h.deps.sessionKeyCheck.name, cron: '0 3 * * *', run: h.deps.sessionKeyCheck.run }],
      });
    // Two instances, as two servers would have.
    const a = instance();
    const b = instance();
    expect(a.mode).toBe('pg-boss');
    await a.start();
    await b.start();
    try {
      await a.trigger(h.deps.sessionKeyCheck.name);
      await b.trigger(h.deps.sessionKeyCheck.name); // the exclusive queue keeps at most one queued or active
      await waitFor(async () => {
        const runs = await h.deps.jobRuns.listRuns({ job: 'session-key-check', limit: 5 });
        return runs.some((r) => r.status === 'succeeded');
      }, 30_000);
      const runs = await h.deps.jobRuns.listRuns({ job: 'session-key-check', limit: 5 });
      expect(runs[0]).toMatchObject({ status: 'succeeded', checked: 50, stale: 5 });
      expect([...cs.perOpenid.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await a.stop();
      await b.stop();
    }
  }, 60_000);
});
