import { type Simulator, startSimulator } from '@wxauth/wechat-sim';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAccessTokenRepository } from '../../src/adapters/wechat/access-token.repository.ts';
import { buildApp } from '../../src/app.ts';
import { systemClock } from '../../src/clock.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import { createDeps, type Deps } from '../../src/deps.ts';
import { createLogger } from '../../src/observability/logger.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { generateVaultKey, type VaultKeyConfig } from '../../src/vault/keys.ts';
import {
  createRewrapJob,
  createRotationRepository,
  identitySessionKeyContext,
  type RewrapResult,
} from '../../src/vault/rotation/index.ts';
import { createVault, type VaultEvent } from '../../src/vault/vault.ts';
import { APP_ID, APP_SECRET, testKeys } from '../support/harness.ts';
import { createLogCapture, type LogCapture } from '../support/log-capture.ts';
import { pgliteStore } from '../support/test-db.ts';
import { newSessionKey, readIdentities } from './rotation-support.ts';

/**
 * reliability.md B.3 C10 on the embedded PGlite store: the rewrap job runs while logins keep writing
 * session keys. The race proper, two server processes on PostgreSQL and Redis, is rotation-c10.test.ts;
 * PGlite has one process, so this is where its SQL and the job's compare-and-set are raced, with the
 * job in the same event loop as the requests (as the in-process scheduler runs it on PGlite).
 *
 * Two instances share one database, as in a rolling restart right after `keys promote`: one already
 * seals with the new key, the other still seals with the old one. Every user logs in several times in
 * sequence (users in parallel), each time getting a fresh session_key from the simulator, while the
 * job loops over the table in small batches. Afterwards no row is unreadable, no row names the old
 * kid, and every stored key is the simulator's current key for that user: no lost update.
 */
const USERS = 80;
const ROUNDS = 3;
/** Enough overlap for the race without pushing the in-process simulator past the 3 s login timeout. */
const LOGIN_WORKERS = 16;

const OLD: VaultKeyConfig = { kid: 'c10-old', key: generateVaultKey(), status: 'primary' };
const NEW: VaultKeyConfig = { kid: 'c10-new', key: generateVaultKey(), status: 'primary' };

interface Instance {
  app: FastifyInstance;
  deps: Deps;
  logs: LogCapture;
  close(): Promise<void>;
}

/** A whole wxauth on `db` with the given vault ring (startHarness always uses the shared test keys). */
async function startInstance(
  db: Db,
  sim: Simulator,
  vault: VaultKeyConfig[],
  name: string,
): Promise<Instance> {
  const config = loadConfig({
    WXAUTH_APPS: JSON.stringify([{ appId: APP_ID, secret: APP_SECRET, apiBaseUrl: sim.url }]),
    WXAUTH_KEYS: '{}',
    WXAUTH_LOG_LEVEL: 'info',
    // Every login here comes from one address; the per-IP limit (R23) is not what this race is about.
    WXAUTH_LOGIN_RATE_PER_MINUTE: '0',
  });
  const logs = createLogCapture();
  const deps = await createDeps({
    config,
    keys: { ...(await testKeys()), vault },
    db,
    clock: systemClock,
    logger: createLogger({ level: 'info', destination: logs.stream }),
    instanceId: name,
  });
  const app = await buildApp(deps);
  await app.ready();
  return {
    app,
    deps,
    logs,
    async close() {
      await app.close();
      await deps.close();
    },
  };
}

async function login(instance: Instance, sim: Simulator, openid?: string): Promise<string> {
  const user = sim.login({ appId: APP_ID, sessionKey: newSessionKey(), ...(openid ? { openid } : {}) });
  const res = await instance.app.inject({
    method: 'POST',
    url: '/v1/auth/wechat/login',
    payload: { code: user.code, appId: APP_ID },
  });
  if (res.statusCode !== 200) throw new Error(`login ${res.statusCode}: ${res.body}`);
  return user.openid;
}

describe('C10: rewrap concurrent with logins on pglite (one process)', () => {
  let db: Db;
  let sim: Simulator;
  beforeAll(async () => {
    db = await pgliteStore.open();
    sim = await startSimulator({ apps: [{ appId: APP_ID, secret: APP_SECRET }] });
  });
  afterAll(async () => {
    await sim?.close();
    await db?.close();
  });

  it('no unreadable row, the old kid reaches 0, every stored key is the current one', async () => {
    // Before the rotation: every row sealed with the old key.
    const before = await startInstance(db, sim, [OLD], 'before');
    const openids: string[] = [];
    for (let i = 0; i < USERS; i += 20) {
      openids.push(
        ...(await Promise.all(Array.from({ length: Math.min(20, USERS - i) }, () => login(before, sim)))),
      );
    }
    await before.close();
    const oldVault = createVault({ keys: [OLD] });
    const tokens = createAccessTokenRepository({ db: db.kysely, vault: oldVault });
    await tokens.ensureRow(APP_ID);
    await tokens.tryAcquireLease(APP_ID, 'seed', Date.now(), 60_000);
    await tokens.saveToken(APP_ID, 'seed', {
      token: 'AT-c10',
      expiresAt: Date.now() + 7_200_000,
      fetchedAt: Date.now(),
    });

    // Rolling restart after `keys promote c10-new`: one instance has it, one does not yet.
    const promoted = await startInstance(db, sim, [{ ...OLD, status: 'decrypt-only' }, NEW], 'promoted');
    const lagging = await startInstance(db, sim, [OLD, { ...NEW, status: 'decrypt-only' }], 'lagging');
    const jobEvents: VaultEvent[] = [];
    let inFlight = 0;
    let batchesDuringLogins = 0;
    const job = createRewrapJob({
      db: db.kysely,
      vault: createVault({
        keys: [{ ...OLD, status: 'decrypt-only' }, NEW],
        onEvent: (e) => jobEvents.push(e),
      }),
      clock: systemClock,
      logger: createLogger({ level: 'silent' }),
      batchSize: 10,
      onBatch: () => {
        if (inFlight > 0) batchesDuringLogins++;
      },
    });

    let loginsDone = false;
    const loginTimes: [number, number][] = [];
    // A pool of workers, each taking one user at a time through its rounds: logins of one user stay in
    // order (so the simulator's current key is the last one stored), different users overlap.
    const queue = [...openids.entries()];
    const logins = Promise.all(
      Array.from({ length: LOGIN_WORKERS }, async () => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [u, openid] = next;
          for (let round = 0; round < ROUNDS; round++) {
            inFlight++;
            const start = performance.now();
            await login((u + round) % 2 === 0 ? promoted : lagging, sim, openid);
            loginTimes.push([start, performance.now()]);
            inFlight--;
          }
        }
      }),
    ).finally(() => {
      loginsDone = true;
    });
    // Awaited below; until then a failed login must not surface as an unhandled rejection.
    logins.catch(() => {});
    const passesDuringLogins: RewrapResult[] = [];
    const jobStarted = performance.now();
    while (!loginsDone) passesDuringLogins.push(await job.runOnce());
    await logins;

    // The job really ran alongside the logins: batches committed while logins were in flight.
    expect(loginTimes).toHaveLength(USERS * ROUNDS);
    expect(passesDuringLogins.length).toBeGreaterThan(0);
    expect(batchesDuringLogins).toBeGreaterThan(0);
    expect(Math.max(...loginTimes.map(([, end]) => end))).toBeGreaterThan(jobStarted);
    expect(passesDuringLogins.reduce((n, p) => n + p.rewrapped, 0)).toBeGreaterThan(0);

    // Then run until nothing is left, as `keys rewrap` does once every instance has been restarted.
    let last: RewrapResult | undefined;
    for (let pass = 0; pass < 5 && last?.remaining !== 0; pass++) last = await job.runOnce();
    expect(last).toMatchObject({ remaining: 0, skippedUnreadable: 0 });
    expect(jobEvents).toEqual([]);

    const usage = await createRotationRepository(db.kysely).countIdentitiesByKid();
    expect(usage).toEqual([{ kid: 'c10-new', rows: USERS }]);

    // The old key can now go: a ring without it opens every row, to the simulator's current key.
    const finalEvents: VaultEvent[] = [];
    const final = createVault({
      keys: [{ ...OLD, status: 'retired' }, NEW],
      onEvent: (e) => finalEvents.push(e),
    });
    const rows = await readIdentities(db.kysely);
    expect(rows).toHaveLength(USERS);
    for (const row of rows) {
      expect(row.session_key_kid).toBe('c10-new');
      const opened = final.open(row.session_key_enc!, identitySessionKeyContext(row.app_id, row.openid));
      expect(opened).toBe(sim.currentSessionKey(APP_ID, row.openid));
    }
    expect(finalEvents).toEqual([]);
    const token = await createAccessTokenRepository({ db: db.kysely, vault: final }).findByAppId(APP_ID);
    expect(token).toMatchObject({ token: 'AT-c10', unreadable: false });

    for (const instance of [promoted, lagging]) {
      expect(instance.logs.text()).not.toContain('vault.open_failed');
      await instance.close();
    }
  });
});
