import { type Kysely, sql } from 'kysely';

// The session_key lifecycle (issue 4): the scheduled check/reset job and its run history (R7).
const STATEMENTS = [
  // Claim and checkpoint columns of the job. A row is done for a run when session_key_check_run names
  // it (the per-row checkpoint that survives kill -9), with the outcome next to it (the run's totals are
  // counted from these when it ends); claimed_by/claimed_until are the short lease that keeps a second
  // instance off rows whose check is in flight.
  `ALTER TABLE wechat_identities
     ADD COLUMN session_key_reset_at timestamptz,
     ADD COLUMN session_key_check_run text,
     ADD COLUMN session_key_check_outcome text,
     ADD COLUMN session_key_claimed_by text,
     ADD COLUMN session_key_claimed_until timestamptz`,
  // The claim walks this index oldest check first; rows checked in the current run sort last, and
  // stale or key-less rows are not in it at all.
  `CREATE INDEX wechat_identities_check_idx ON wechat_identities (session_key_checked_at NULLS FIRST)
     WHERE session_key_enc IS NOT NULL AND session_key_status IN ('valid', 'compromised')`,
  // Only rows whose check is in flight carry a lease, so "is anything still leased?" stays cheap.
  `CREATE INDEX wechat_identities_claimed_idx ON wechat_identities (session_key_claimed_until)
     WHERE session_key_claimed_until IS NOT NULL`,
  `CREATE TABLE job_runs (
    id text PRIMARY KEY,
    job text NOT NULL,
    status text NOT NULL,
    started_at timestamptz NOT NULL,
    finished_at timestamptz,
    heartbeat_at timestamptz NOT NULL,
    started_by text NOT NULL,
    checked integer NOT NULL DEFAULT 0,
    stale integer NOT NULL DEFAULT 0,
    reset integer NOT NULL DEFAULT 0,
    errors integer NOT NULL DEFAULT 0,
    detail text
  )`,
  // At most one resumable run per job, cluster-wide: a second instance joins it instead of starting
  // another, and a run cut short by kill -9 is resumed rather than begun again.
  `CREATE UNIQUE INDEX job_runs_active_idx ON job_runs (job) WHERE status IN ('running', 'interrupted')`,
  `CREATE INDEX job_runs_job_started_idx ON job_runs (job, started_at DESC)`,
  // Who takes part in a run (heartbeats) and a per-worker progress count, flushed once per batch: while
  // a run goes on, its totals are their sum; when it ends, exact totals are counted from the rows.
  `CREATE TABLE job_run_workers (
    run_id text NOT NULL REFERENCES job_runs(id) ON DELETE CASCADE,
    worker_id text NOT NULL,
    started_at timestamptz NOT NULL,
    heartbeat_at timestamptz NOT NULL,
    finished_at timestamptz,
    checked integer NOT NULL DEFAULT 0,
    stale integer NOT NULL DEFAULT 0,
    reset integer NOT NULL DEFAULT 0,
    errors integer NOT NULL DEFAULT 0,
    PRIMARY KEY (run_id, worker_id)
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE job_run_workers, job_runs`.execute(db);
  await sql`DROP INDEX wechat_identities_claimed_idx, wechat_identities_check_idx`.execute(db);
  await sql`ALTER TABLE wechat_identities
    DROP COLUMN session_key_reset_at, DROP COLUMN session_key_check_run, DROP COLUMN session_key_check_outcome,
    DROP COLUMN session_key_claimed_by, DROP COLUMN session_key_claimed_until`.execute(db);
}
