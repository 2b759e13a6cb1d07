import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { nextMinuteBoundary } from '../../src/adapters/wechat/errcodes.ts';
import { createManualClock } from '../../src/clock.ts';
import type { Sleep } from '../../src/jobs/token-bucket.ts';
import {
  createSessionKeyCheckJob,
  type SessionKeyApi,
  type SessionKeyCheckPolicy,
} from '../../src/session-keys/session-key-check.job.ts';
import type { Db } from '../../src/storage/create-db.ts';
import { APP_ID, APP_SECRET, type Harness, startHarness } from '../support/harness.ts';
import { testStores } from '../support/test-db.ts';
import { type CountingSim, identityStatuses, seedIdentities, startCountingSim } from './job-support.ts';

/**
 * The job's policies on a few rows (issue 4, R7): resets of compromised and old keys at most once a
 * day, R27 for unreadable keys, compare-and-set against logins, 45011 back-off, stop and resume.
 * Time is a manual clock shared by wxauth, the job's sleeps and the simulator, so minutes pass at once.
 */
describe.each(testStores)('session-key job policies on $name', (store) => {
  let db: Db;
  let h: Harness;
  let cs: CountingSim;
  const clock = createManualClock(Date.now());
  /** The job "waits" by moving the shared clock; a real tick lets I/O in between. */
  const sleep: Sleep = async (ms) => {
    clock.advance(Math.max(0, ms));
    await new Promise((resolve) => setImmediate(resolve));
  };
  const context = (openid: string) => ({
    table: 'wechat_identities',
    column: 'session_key_enc',
    rowId: `${APP_ID}:${openid}`,
  });
  const newJob = (policy: Partial<SessionKeyCheckPolicy> = {}, api?: SessionKeyApi) =>
    createSessionKeyCheckJob({
      repository: h.deps.sessionKeys,
      runs: h.deps.jobRuns,
      apps: new Map([[APP_ID, api ?? h.deps.wechatApps.get(APP_ID)!.client]]),
      vault: h.deps.vault,
      clock,
      sleep,
      metrics: h.deps.metrics,
      logger: h.deps.logger,
      instanceId: 'policy-test',
      newId: randomUUID,
      policy: { rate: 200, resetAgeMs: null, ...policy },
    });
  const storedKey = async (openid: string) => {
    const row = await sql<{ enc: string }>`SELECT session_key_enc AS enc FROM wechat_identities
      WHERE app_id = ${APP_ID} AND openid = ${openid}`.execute(db.kysely);
    return h.deps.vault.open(row.rows[0]!.enc, context(openid));
  };
  let prefix = 0;
  /** Rows created now; the clock then moves on a second, so a run started next includes them. */
  const seed = async (n: number, staleEvery = 1_000_000) => {
    const at = new Date(clock.now());
    const seeded = await seedIdentities(db, h.deps.vault, cs.sim, {
      appId: APP_ID,
      n,
      staleEvery,
      prefix: `p${++prefix}x`,
      at,
    });
    clock.advance(1_000);
    return seeded;
  };

  beforeAll(async () => {
    db = await store.open();
    cs = await startCountingSim({
      apps: [{ appId: APP_ID, secret: APP_SECRET }],
      rateLimits: { '/wxa/checksession': { perSecond: 5 } },
      now: () => clock.now(),
    });
    h = await startHarness({ db, sim: cs.sim, clock, apps: [{ appId: APP_ID, secret: APP_SECRET }] });
  });
  beforeEach(async () => {
    // Each case sees only its own rows; runs older than a minute are history.
    await sql`DELETE FROM wechat_identities`.execute(db.kysely);
    await sql`DELETE FROM job_runs`.execute(db.kysely);
    clock.advance(61_000);
  });
  afterAll(async () => {
    await h?.close();
    await cs?.close();
    await db?.close();
  });

  it('resets compromised keys once, seals the new key, and not again within 24 h', async () => {
    const seeded = await seed(4);
    const [a, b] = seeded.openids as [string, string];
    expect(await h.deps.sessionKeys.markCompromised(APP_ID, a)).toBe(true);
    expect(await h.deps.sessionKeys.markCompromised(APP_ID, 'nobody')).toBe(false);
    const oldKey = await storedKey(a);
    clock.advance(60_000);
    const first = await newJob().run();
    expect(first).toMatchObject({ status: 'succeeded', checked: 4, reset: 1, stale: 0 });
    // The new key is WeChat's current one, sealed for this row; the compromised one is dead.
    const newKey = await storedKey(a);
    expect(newKey).not.toBe(oldKey);
    expect(newKey).toBe(cs.sim.currentSessionKey(APP_ID, a));
    expect((await identityStatuses(db, APP_ID)).get(a)?.status).toBe('valid');
    expect(h.logs.text()).not.toContain(newKey!);

    // Marked again within 24 h: checked, but not reset; it stays compromised for a later run.
    await h.deps.sessionKeys.markCompromised(APP_ID, a);
    clock.advance(3_600_000);
    const second = await newJob().run();
    expect(second).toMatchObject({ status: 'succeeded', checked: 4, reset: 0 });
    expect(await storedKey(a)).toBe(newKey);
    expect((await identityStatuses(db, APP_ID)).get(a)?.status).toBe('compromised');
    // A day later it is reset.
    clock.advance(24 * 3_600_000);
    const third = await newJob().run();
    expect(third).toMatchObject({ reset: 1 });
    expect(await storedKey(b)).toBe(cs.sim.currentSessionKey(APP_ID, b));
  });

  it('resets keys older than the configured age (off by default)', async () => {
    await seed(3);
    clock.advance(2 * 3_600_000);
    expect(await newJob().run()).toMatchObject({ reset: 0, checked: 3 });
    clock.advance(60_000);
    expect(await newJob({ resetAgeMs: 3_600_000 }).run()).toMatchObject({ reset: 3, checked: 3 });
    // The reset keys are new: not old enough again.
    clock.advance(60_000);
    expect(await newJob({ resetAgeMs: 3_600_000 }).run()).toMatchObject({ reset: 0, checked: 3 });
  });

  it('treats a key the vault cannot open as absent: stale, without asking WeChat (R27)', async () => {
    const seeded = await seed(3);
    const bad = seeded.openids[1]!;
    await sql`UPDATE wechat_identities SET session_key_enc = replace(session_key_enc, '"ct":"', '"ct":"AAAA')
      WHERE openid = ${bad}`.execute(db.kysely);
    const before = cs.perOpenid.get(bad) ?? 0;
    expect(await newJob().run()).toMatchObject({ checked: 2, stale: 1 });
    expect(cs.perOpenid.get(bad) ?? 0).toBe(before);
    expect((await identityStatuses(db, APP_ID)).get(bad)?.status).toBe('stale');
  });

  it('never marks stale a key that a login replaced while its check was in flight', async () => {
    const seeded = await seed(1, 1); // its stored key is wrong: the check will say 87009
    const openid = seeded.openids[0]!;
    const run = await h.deps.jobRuns.startOrJoin({
      job: 'cas-test',
      workerId: 'w',
      newRunId: randomUUID(),
      now: new Date(clock.now()),
      resumeAfter: new Date(0),
      liveSince: new Date(0),
    });
    const scope = { runId: run.runId, runStartedAt: new Date(clock.now() + 1), appIds: [APP_ID] };
    const [key] = await h.deps.sessionKeys.claimBatch(scope, {
      workerId: 'w',
      now: new Date(clock.now()),
      leaseUntil: new Date(clock.now() + 10_000),
      limit: 10,
    });
    // A login stores a fresh key meanwhile (what users.repository's login statement does).
    await sql`UPDATE wechat_identities SET session_key_updated_at = ${new Date(clock.now() + 5)}
      WHERE openid = ${openid}`.execute(db.kysely);
    const [recorded] = await h.deps.sessionKeys.recordResults(
      scope,
      'w',
      [{ key: key!, outcome: { kind: 'stale', checked: true } }],
      new Date(clock.now()),
    );
    expect(recorded).toBe(true);
    expect((await identityStatuses(db, APP_ID)).get(openid)).toMatchObject({
      status: 'valid',
      run: run.runId,
    });
  });

  it('backs off to the next minute on 45011 and lowers its rate, then checks every row', async () => {
    const seeded = await seed(30);
    const callsBefore = cs.sim.calls().length;
    const summary = await newJob({ rate: 40 }).run();
    expect(summary).toMatchObject({ status: 'succeeded', checked: 30, errors: 0 });
    const calls = cs.sim
      .calls()
      .slice(callsBefore)
      .filter((c) => c.path === '/wxa/checksession');
    const refused = calls.filter((c) => c.errcode === 45011);
    expect(refused.length).toBeGreaterThan(0);
    // After a 45011 nothing new is sent before the next minute: only calls already in flight (one per
    // lane at most) may still land in that minute.
    for (const r of refused) {
      const sameMinute = calls.filter(
        (c) => c.at > r.at && c.at < nextMinuteBoundary(r.at) && c.errcode === 0,
      );
      expect(sameMinute.length).toBeLessThanOrEqual(8);
    }
    // The rate came down from 40/s: below the simulator's 5/s, nothing is refused any more.
    const metrics = await h.deps.metrics.registry.getSingleMetricAsString('wxauth_job_rate');
    const rate = Number(
      /wxauth_job_rate\{job="session-key-check",app_id="[^"]+"\} ([\d.]+)/.exec(metrics)?.[1],
    );
    expect(rate).toBeLessThanOrEqual(5);
    const rows = await identityStatuses(db, APP_ID);
    expect(seeded.openids.every((o) => rows.get(o)?.run === summary.runId)).toBe(true);
    expect(await h.deps.metrics.registry.getSingleMetricAsString('wxauth_job_quota_backoffs_total')).toMatch(
      /session-key-check"\} [1-9]/,
    );
  });

  it('stops when asked, releases its rows, and the next start resumes the same run', async () => {
    const seeded = await seed(40);
    const abort = new AbortController();
    const client = h.deps.wechatApps.get(APP_ID)!.client;
    let calls = 0;
    // SIGTERM after the 10th check (the CLI and the scheduler abort the same signal).
    const api: SessionKeyApi = {
      async checkSessionKey(openid, key) {
        const verdict = await client.checkSessionKey(openid, key);
        if (++calls === 10) abort.abort();
        return verdict;
      },
      resetUserSessionKey: (openid, key) => client.resetUserSessionKey(openid, key),
    };
    const stopped = await newJob({ rate: 4 }, api).run({ signal: abort.signal }); // one lane at 4/s
    expect(stopped).toMatchObject({ status: 'interrupted', detail: 'stopped', checked: 10 });
    const claimed = await sql<{ n: number }>`SELECT count(*)::int AS n FROM wechat_identities
      WHERE session_key_claimed_by IS NOT NULL`.execute(db.kysely);
    expect(claimed.rows[0]?.n).toBe(0);
    const before = new Map(cs.perOpenid);
    const resumed = await newJob({ rate: 4 }).run();
    expect(resumed).toMatchObject({ runId: stopped.runId, how: 'resumed', status: 'succeeded' });
    expect(stopped.checked + resumed.checked).toBe(40);
    // No row checked in both halves.
    const twice = seeded.openids.filter((o) => (cs.perOpenid.get(o) ?? 0) > 1 && (before.get(o) ?? 0) > 0);
    expect(twice).toEqual([]);
    const run = await h.deps.jobRuns.findRun(resumed.runId);
    expect(run).toMatchObject({ status: 'succeeded', checked: 40, workers: 2 });
    const history = await h.deps.jobRuns.listRuns({ job: 'session-key-check', limit: 5 });
    expect(history[0]).toMatchObject({ id: resumed.runId, status: 'succeeded' });
  });

  it('leaves rows created after the run began to the next run', async () => {
    await seed(2);
    const run = await h.deps.jobRuns.startOrJoin({
      job: 'session-key-check',
      workerId: 'someone',
      newRunId: randomUUID(),
      now: new Date(clock.now()),
      resumeAfter: new Date(0),
      liveSince: new Date(0),
    });
    clock.advance(1_000);
    await seed(3); // newer than the run
    clock.advance(60_000); // the other worker is long gone
    const summary = await newJob().run();
    expect(summary).toMatchObject({ runId: run.runId, how: 'resumed', checked: 2 });
    expect(await newJob().run()).toMatchObject({ how: 'new', checked: 5 });
  });
});
