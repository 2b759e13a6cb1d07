import { type Kysely, sql } from 'kysely';
import type { Database } from '../storage/database.ts';

export type RunStatus = 'running' | 'interrupted' | 'succeeded' | 'abandoned';

export interface RunCounts {
  checked: number;
  stale: number;
  reset: number;
  errors: number;
}

export interface JobRun extends RunCounts {
  id: string;
  job: string;
  status: RunStatus;
  startedAt: Date;
  finishedAt: Date | null;
  heartbeatAt: Date;
  startedBy: string;
  detail: string | null;
  /** Workers that took part, and how many were heard from recently (while running). */
  workers: number;
}

export interface JoinedRun {
  runId: string;
  startedAt: Date;
  /** 'new': this worker started it; 'joined': another instance is running it; 'resumed': it was cut short. */
  how: 'new' | 'joined' | 'resumed';
}

interface RunRow {
  id: string;
  job: string;
  status: string;
  started_at: Date;
  finished_at: Date | null;
  heartbeat_at: Date;
  started_by: string;
  detail: string | null;
  checked: number;
  stale: number;
  reset: number;
  errors: number;
  workers: number;
}

const toRun = (r: RunRow): JobRun => ({
  id: r.id,
  job: r.job,
  status: r.status as RunStatus,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
  heartbeatAt: r.heartbeat_at,
  startedBy: r.started_by,
  detail: r.detail,
  checked: r.checked,
  stale: r.stale,
  reset: r.reset,
  errors: r.errors,
  workers: r.workers,
});

/**
 * Run history and run membership for every job (jobs/). One resumable run per job cluster-wide (a
 * partial unique index); the decision to start, join or resume is serialised by a transaction-scoped
 * advisory lock, the one place R7's "cluster-wide lock" is needed: rows themselves are shared out by
 * SKIP LOCKED claims, not by a lock held for the whole run.
 */
export function createJobRunsRepository(db: Kysely<Database>) {
  /** Totals of a run: the final ones once it ended, else the live sum of its workers. */
  const selectRuns = sql`
    SELECT r.id, r.job, r.status, r.started_at, r.finished_at, r.heartbeat_at, r.started_by, r.detail,
      CASE WHEN r.finished_at IS NULL THEN COALESCE(w.checked, 0) ELSE r.checked END AS checked,
      CASE WHEN r.finished_at IS NULL THEN COALESCE(w.stale, 0) ELSE r.stale END AS stale,
      CASE WHEN r.finished_at IS NULL THEN COALESCE(w.reset, 0) ELSE r.reset END AS reset,
      CASE WHEN r.finished_at IS NULL THEN COALESCE(w.errors, 0) ELSE r.errors END AS errors,
      COALESCE(w.workers, 0) AS workers
    FROM job_runs r
    LEFT JOIN LATERAL (
      SELECT sum(checked)::int AS checked, sum(stale)::int AS stale, sum(reset)::int AS reset,
             sum(errors)::int AS errors, count(*)::int AS workers
      FROM job_run_workers WHERE run_id = r.id
    ) w ON true`;

  return {
    async startOrJoin(input: {
      job: string;
      workerId: string;
      newRunId: string;
      now: Date;
      /** A resumable run that began before this is abandoned and a new one started. */
      resumeAfter: Date;
      /** Workers heard from since this are alive: their run is joined, not resumed. */
      liveSince: Date;
    }): Promise<JoinedRun> {
      return db.transaction().execute(async (trx) => {
        await sql`SELECT pg_advisory_xact_lock(hashtext(${`wxauth.job:${input.job}`}))`.execute(trx);
        const active = await trx
          .selectFrom('job_runs')
          .select(['id', 'started_at', 'status'])
          .where('job', '=', input.job)
          .where('status', 'in', ['running', 'interrupted'])
          .executeTakeFirst();
        let joined: JoinedRun | null = null;
        if (active && active.started_at >= input.resumeAfter) {
          const live = await trx
            .selectFrom('job_run_workers')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('run_id', '=', active.id)
            .where('finished_at', 'is', null)
            .where('heartbeat_at', '>=', input.liveSince)
            .executeTakeFirst();
          await trx
            .updateTable('job_runs')
            .set({ status: 'running', heartbeat_at: input.now })
            .where('id', '=', active.id)
            .execute();
          const how = active.status === 'running' && Number(live?.n ?? 0) > 0 ? 'joined' : 'resumed';
          joined = { runId: active.id, startedAt: active.started_at, how };
        } else {
          if (active) {
            await trx
              .updateTable('job_runs')
              .set({ status: 'abandoned', finished_at: input.now, detail: 'too old to resume' })
              .where('id', '=', active.id)
              .execute();
          }
          await trx
            .insertInto('job_runs')
            .values({
              id: input.newRunId,
              job: input.job,
              status: 'running',
              started_at: input.now,
              heartbeat_at: input.now,
              started_by: input.workerId,
              checked: 0,
              stale: 0,
              reset: 0,
              errors: 0,
              detail: null,
            })
            .execute();
          joined = { runId: input.newRunId, startedAt: input.now, how: 'new' };
        }
        await trx
          .insertInto('job_run_workers')
          .values({
            run_id: joined.runId,
            worker_id: input.workerId,
            started_at: input.now,
            heartbeat_at: input.now,
            checked: 0,
            stale: 0,
            reset: 0,
            errors: 0,
          })
          .onConflict((oc) => oc.columns(['run_id', 'worker_id']).doNothing())
          .execute();
        return joined;
      });
    },

    /** Adds a batch's results to this worker's progress counts (and marks it alive). */
    async addCounts(runId: string, workerId: string, counts: RunCounts, now: Date): Promise<void> {
      await sql`
        UPDATE job_run_workers SET checked = checked + ${counts.checked}::int, stale = stale + ${counts.stale}::int,
          reset = reset + ${counts.reset}::int, errors = errors + ${counts.errors}::int, heartbeat_at = ${now}
        WHERE run_id = ${runId} AND worker_id = ${workerId}`.execute(db);
    },

    /** Marks this worker and its run alive; returns how many workers of the run are alive now. */
    async heartbeat(runId: string, workerId: string, now: Date, liveSince: Date): Promise<number> {
      const result = await sql<{ n: number }>`
        WITH me AS (
          UPDATE job_run_workers SET heartbeat_at = ${now}
          WHERE run_id = ${runId} AND worker_id = ${workerId}
        ), run AS (
          -- A live worker means a running run, even if another worker gave up on it meanwhile.
          UPDATE job_runs SET heartbeat_at = ${now}, status = 'running'
          WHERE id = ${runId} AND status IN ('running', 'interrupted')
        )
        SELECT count(*)::int AS n FROM job_run_workers
        WHERE run_id = ${runId} AND finished_at IS NULL
          AND (heartbeat_at >= ${liveSince} OR worker_id = ${workerId})`.execute(db);
      return Math.max(1, result.rows[0]?.n ?? 1);
    },

    /**
     * This worker leaves the run. With nothing left to do it completes the run (totals summed from the
     * workers); otherwise, if no other worker is alive, the run is left 'interrupted' for the next start
     * to resume. Returns the run's status afterwards.
     */
    async leave(input: {
      runId: string;
      workerId: string;
      now: Date;
      liveSince: Date;
      done: boolean;
      /** Exact totals of a finished run (counted by the job); default: the sum of the workers' counts. */
      totals?: RunCounts;
      detail?: string | null;
    }): Promise<RunStatus> {
      const { runId, workerId, now } = input;
      await db
        .updateTable('job_run_workers')
        .set({ finished_at: now, heartbeat_at: now })
        .where('run_id', '=', runId)
        .where('worker_id', '=', workerId)
        .execute();
      if (input.done && input.totals) {
        const t = input.totals;
        await sql`
          UPDATE job_runs SET status = 'succeeded', finished_at = ${now}, heartbeat_at = ${now},
            checked = ${t.checked}, stale = ${t.stale}, reset = ${t.reset}, errors = ${t.errors},
            detail = COALESCE(${input.detail ?? null}, detail)
          WHERE id = ${runId} AND status IN ('running', 'interrupted')`.execute(db);
      } else if (input.done) {
        await sql`
          UPDATE job_runs r SET status = 'succeeded', finished_at = ${now}, heartbeat_at = ${now},
            checked = w.checked, stale = w.stale, reset = w.reset, errors = w.errors,
            detail = COALESCE(${input.detail ?? null}, r.detail)
          FROM (SELECT COALESCE(sum(checked), 0)::int AS checked, COALESCE(sum(stale), 0)::int AS stale,
                       COALESCE(sum(reset), 0)::int AS reset, COALESCE(sum(errors), 0)::int AS errors
                FROM job_run_workers WHERE run_id = ${runId}) w
          WHERE r.id = ${runId} AND r.status IN ('running', 'interrupted')`.execute(db);
      } else {
        await sql`
          UPDATE job_runs SET status = 'interrupted', detail = ${input.detail ?? null}
          WHERE id = ${runId} AND status = 'running'
            AND NOT EXISTS (SELECT 1 FROM job_run_workers WHERE run_id = ${runId}
                            AND finished_at IS NULL AND heartbeat_at >= ${input.liveSince})`.execute(db);
      }
      const row = await db.selectFrom('job_runs').select('status').where('id', '=', runId).executeTakeFirst();
      return (row?.status ?? 'running') as RunStatus;
    },

    /** The job's resumable run (running or interrupted), if any: one index probe. */
    async findOpenRunId(job: string): Promise<string | null> {
      const row = await db
        .selectFrom('job_runs')
        .select('id')
        .where('job', '=', job)
        .where('status', 'in', ['running', 'interrupted'])
        .executeTakeFirst();
      return row?.id ?? null;
    },

    async findRun(runId: string): Promise<JobRun | null> {
      const result = await sql<RunRow>`${selectRuns} WHERE r.id = ${runId}`.execute(db);
      const row = result.rows[0];
      return row ? toRun(row) : null;
    },

    async listRuns(options: { job?: string; limit: number }): Promise<JobRun[]> {
      const where = options.job ? sql`WHERE r.job = ${options.job}` : sql``;
      const result = await sql<RunRow>`
        ${selectRuns} ${where} ORDER BY r.started_at DESC LIMIT ${options.limit}`.execute(db);
      return result.rows.map(toRun);
    },
  };
}

export type JobRunsRepository = ReturnType<typeof createJobRunsRepository>;
