import { randomBytes } from 'node:crypto';
import type { KyselyPlugin } from 'kysely';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenRepository } from '../../src/adapters/wechat/access-token.repository.ts';
import { systemClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps, type Deps } from '../../src/deps.ts';
import { createJobRunsRepository } from '../../src/jobs/job-runs.repository.ts';
import { createLogger } from '../../src/observability/logger.ts';
import { createMetrics } from '../../src/observability/metrics.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { generateVaultKey, type VaultKeyConfig } from '../../src/vault/keys.ts';
import {
  createRewrapJob,
  createVaultRewrapJob,
  identitySessionKeyContext,
  VAULT_REWRAP_JOB,
} from '../../src/vault/rotation/index.ts';
import { createVault } from '../../src/vault/vault.ts';
import type { Vault } from '../../src/vault/vault.types.ts';
import { testKeys } from '../support/harness.ts';
import { pgliteStore, postgresStore, type TestStore, testStores } from '../support/test-db.ts';
import { newSessionKey, readIdentities, sealIdentity } from './rotation-support.ts';

/**
 * The rewrap (R26) as a scheduled job (vault/rotation/vault-rewrap.job.ts): after `keys promote` it
 * finishes by itself from the scheduler, records its runs in job_runs, does nothing — cheaply — when no
 * row needs it, never runs where the key set is behind, and resumes a run that was stopped.
 */
const APP = 'wxrewrapsched00001';
const OLD = { kid: 'old', key: generateVaultKey() };
const NEW = { kid: 'new', key: generateVaultKey() };
const ring = (...keys: [typeof OLD, VaultKeyConfig['status']][]): VaultKeyConfig[] =>
  keys.map(([k, status]) => ({ ...k, status }));
const PROMOTED = ring([OLD, 'decrypt-only'], [NEW, 'primary']);
const BEHIND = ring([OLD, 'primary'], [NEW, 'decrypt-only']);
const logger = createLogger({ level: 'silent' });

/** The access-token row of a test: one per prefix, as tests share a database. */
const tokenApp = (prefix: string) => `${APP}-${prefix}`;

/** Seals `n` identities and an access token with `vault`; returns the plaintext keys. */
async function seed(db: Db, vault: Vault, prefix: string, n: number): Promise<Map<string, string>> {
  const plain = new Map<string, string>();
  for (let i = 0; i < n; i++) {
    const openid = `${prefix}${String(i).padStart(3, '0')}`;
    const sessionKey = newSessionKey();
    plain.set(openid, sessionKey);
    await sealIdentity(db.kysely, vault, { appId: APP, openid, sessionKey });
  }
  const tokens = createAccessTokenRepository({ db: db.kysely, vault });
  const app = tokenApp(prefix);
  await tokens.ensureRow(app);
  expect(await tokens.tryAcquireLease(app, 'seed', Date.now(), 60_000)).toBe(true);
  expect(
    await tokens.saveToken(app, 'seed', {
      token: 'AT-sched',
      expiresAt: Date.now() + 3_600_000,
      fetchedAt: 1,
    }),
  ).toBe(true);
  return plain;
}

/** Every identity of `prefix` names `kid` and opens with that key alone to its key; so does its access token. */
async function expectAllOn(db: Db, kid: string, prefix: string, plain: Map<string, string>): Promise<void> {
  const only = createVault({
    keys: PROMOTED.filter((k) => k.kid === kid).map((k) => ({ ...k, status: 'primary' })),
  });
  const rows = (await readIdentities(db.kysely)).filter((r) => plain.has(r.openid));
  expect(rows).toHaveLength(plain.size);
  for (const row of rows) {
    expect(row.session_key_kid).toBe(kid);
    expect(only.open(row.session_key_enc!, identitySessionKeyContext(APP, row.openid))).toBe(
      plain.get(row.openid),
    );
  }
  const token = await createAccessTokenRepository({ db: db.kysely, vault: only }).findByAppId(
    tokenApp(prefix),
  );
  expect(token).toMatchObject({ token: 'AT-sched', unreadable: false });
}

/** A whole composition root on `db` with the given vault ring, as a restarted instance would have. */
async function depsWith(
  db: Db,
  vault: VaultKeyConfig[],
  env: Record<string, string>,
  scheduler?: { bossSchema: string; pollingIntervalSeconds: number },
): Promise<Deps> {
  return createDeps({
    config: loadConfig({
      WXAUTH_APPS: JSON.stringify([{ appId: APP, secret: 's', apiBaseUrl: 'http://127.0.0.1:9' }]),
      WXAUTH_KEYS: '{}',
      WXAUTH_SESSION_KEY_CHECK_CRON: 'off',
      ...env,
    }),
    keys: { ...(await testKeys()), vault },
    db,
    clock: systemClock,
    logger,
    ...(scheduler ? { scheduler } : {}),
  });
}

/** Counts the statements a Kysely instance sends: the measure of "cheap" for an idle tick. */
function statementCounter(): { plugin: KyselyPlugin; count(): number } {
  let n = 0;
  return {
    plugin: {
      transformQuery: (args) => {
        n++;
        return args.node;
      },
      transformResult: async (args) => args.result,
    },
    count: () => n,
  };
}

function rewrapJob(db: Db, vault: VaultKeyConfig[], kysely = db.kysely) {
  return createVaultRewrapJob({
    db: kysely,
    runs: createJobRunsRepository(kysely),
    vault: createVault({ keys: vault }),
    clock: systemClock,
    metrics: createMetrics(),
    logger,
    instanceId: 'test',
    newId: () => randomBytes(8).toString('hex'),
    batchSize: 7,
  });
}

const runsOf = (db: Db) => createJobRunsRepository(db.kysely).listRuns({ job: VAULT_REWRAP_JOB, limit: 20 });

describe('vault rewrap on the in-process scheduler (PGlite)', () => {
  let db: Db;
  let deps: Deps | undefined;
  beforeAll(async () => {
    db = await pgliteStore.open();
  });
  afterAll(async () => {
    await deps?.close();
    await db?.close();
  });

  it('after promote, finishes by itself on its cron, records one run, then idles', async () => {
    const plain = await seed(db, createVault({ keys: ring([OLD, 'primary']) }), 'oTimer', 30);
    deps = await depsWith(db, PROMOTED, { WXAUTH_VAULT_REWRAP_CRON: '* * * * * *' });
    expect(deps.scheduler.mode).toBe('timer');
    await deps.scheduler.start();
    const deadline = Date.now() + 15_000;
    while (!(await runsOf(db)).some((r) => r.status === 'succeeded')) {
      if (Date.now() > deadline) throw new Error('the scheduled rewrap did not run');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await expectAllOn(db, NEW.kid, 'oTimer', plain);
    const [run] = await runsOf(db);
    expect(run).toMatchObject({
      status: 'succeeded',
      checked: 31,
      errors: 0,
      detail: 'every readable row on "new"',
    });
    // Ticks keep coming every second; with nothing on the old key they record nothing.
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    expect(await runsOf(db)).toHaveLength(1);
    await deps.close();
    deps = undefined;
  }, 30_000);
});

describe.each(testStores)('vault rewrap job on $name', (store: TestStore) => {
  let db: Db;
  beforeAll(async () => {
    db = await store.open();
  });
  afterAll(async () => {
    await db?.close();
  });

  it('an idle tick is a few index probes and records no run', async () => {
    await seed(db, createVault({ keys: ring([NEW, 'primary']) }), 'oIdle', 20);
    const single = statementCounter();
    const steady = await rewrapJob(db, ring([NEW, 'primary']), db.kysely.withPlugin(single.plugin)).run();
    expect(steady).toMatchObject({ status: 'idle', runId: null });
    // No decrypt-only key: only "is a run of this job open?".
    expect(single.count()).toBe(1);

    const rotated = statementCounter();
    const after = await rewrapJob(db, PROMOTED, db.kysely.withPlugin(rotated.plugin)).run();
    expect(after).toMatchObject({ status: 'idle', runId: null, rewrapped: 0 });
    // The kid skip scan, one page of access tokens, the open-run probe: whatever the table's size.
    expect(rotated.count()).toBe(3);
    expect(await runsOf(db)).toEqual([]);
  });

  it('where the key set is behind (rows already on a newer key) it does nothing, and the pass only goes forward', async () => {
    const plain = await seed(db, createVault({ keys: PROMOTED }), 'oBehind', 12);
    const before = await readIdentities(db.kysely);
    const summary = await rewrapJob(db, BEHIND).run();
    expect(summary).toMatchObject({ status: 'idle', runId: null, rewrapped: 0 });
    // Even a direct pass with that key set leaves rows on the newer key alone.
    const pass = await createRewrapJob({
      db: db.kysely,
      vault: createVault({ keys: BEHIND }),
      clock: systemClock,
      logger,
    }).runOnce();
    expect(pass).toMatchObject({ primaryKid: 'old', rewrapped: 0, skippedUnreadable: 0 });
    expect(pass.newer).toBeGreaterThanOrEqual(plain.size + 1);
    expect(await readIdentities(db.kysely)).toEqual(before);
    expect(await runsOf(db)).toEqual([]);
  });

  it('a stopped run is left interrupted and the next one resumes and finishes it', async () => {
    const plain = await seed(db, createVault({ keys: ring([OLD, 'primary']) }), 'oResume', 25);
    const abort = new AbortController();
    abort.abort();
    const stopped = await rewrapJob(db, PROMOTED).run({ signal: abort.signal });
    expect(stopped).toMatchObject({ status: 'interrupted', how: 'new', rewrapped: 0, detail: 'stopped' });
    const resumed = await rewrapJob(db, PROMOTED).run();
    expect(resumed).toMatchObject({
      status: 'succeeded',
      how: 'resumed',
      runId: stopped.runId,
      olderLeft: 0,
    });
    expect(resumed.rewrapped).toBeGreaterThanOrEqual(plain.size + 1);
    await expectAllOn(db, NEW.kid, 'oResume', plain);
    const runs = await runsOf(db);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({
      id: stopped.runId,
      status: 'succeeded',
      detail: 'every readable row on "new"',
    });
    // Idempotent: with every row on the primary the next tick is idle again.
    expect(await rewrapJob(db, PROMOTED).run()).toMatchObject({ status: 'idle' });
  });
});

describe.skipIf(!postgresStore)('vault rewrap on pg-boss (PostgreSQL)', () => {
  let db: Db;
  let deps: Deps | undefined;
  const bossSchema = `pgboss_t_${randomBytes(4).toString('hex')}`;
  beforeAll(async () => {
    db = await postgresStore!.open();
  });
  afterAll(async () => {
    await deps?.close();
    await db?.close();
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    await admin.connect();
    await admin.query(`DROP SCHEMA IF EXISTS ${bossSchema} CASCADE`);
    await admin.end();
  });

  it('runs from the pg-boss queue the composition root schedules', async () => {
    const plain = await seed(db, createVault({ keys: ring([OLD, 'primary']) }), 'oBoss', 30);
    deps = await depsWith(
      db,
      PROMOTED,
      { WXAUTH_DATABASE_URL: process.env.TEST_DATABASE_URL!, WXAUTH_VAULT_REWRAP_CRON: '0 3 * * *' },
      { bossSchema, pollingIntervalSeconds: 0.5 },
    );
    expect(deps.scheduler.mode).toBe('pg-boss');
    await deps.scheduler.start();
    await deps.scheduler.trigger(VAULT_REWRAP_JOB);
    const deadline = Date.now() + 20_000;
    while (!(await runsOf(db)).some((r) => r.status === 'succeeded')) {
      if (Date.now() > deadline) throw new Error('the queued rewrap did not run');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    await expectAllOn(db, NEW.kid, 'oBoss', plain);
    expect(await runsOf(db)).toMatchObject([
      { status: 'succeeded', checked: 31, startedBy: expect.any(String) },
    ]);
  }, 40_000);
});
