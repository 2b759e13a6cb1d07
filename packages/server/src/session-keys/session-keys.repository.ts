import { type Kysely, sql } from 'kysely';
import type { Database } from '../storage/database.ts';

/** The stored key of one identity, as decrypt needs it. `version` is the compare-and-set token. */
export interface StoredSessionKey {
  openid: string;
  sessionKeyEnc: string | null;
  status: string;
  checkedAt: number | null;
  version: Date | null;
}

/** A row the job claimed. */
export interface ClaimedKey {
  appId: string;
  openid: string;
  sessionKeyEnc: string;
  status: 'valid' | 'compromised';
  /** session_key_updated_at when claimed: results are written only if the key was not replaced since. */
  version: Date | null;
  updatedAt: number | null;
  resetAt: number | null;
}

/** What the job learned about one row. */
export type CheckOutcome =
  | { kind: 'valid' }
  | { kind: 'stale'; checked: boolean }
  | { kind: 'reset'; sessionKeyEnc: string; kid: string }
  | { kind: 'error' };

export interface RunScope {
  runId: string;
  runStartedAt: Date;
  appIds: readonly string[];
}

const ms = (d: Date | null): number | null => (d === null ? null : d.getTime());

/** The stored name of an outcome; a stale key the vault could not open is told apart (R27). */
export function outcomeName(outcome: CheckOutcome): 'valid' | 'stale' | 'unreadable' | 'reset' | 'error' {
  if (outcome.kind === 'stale') return outcome.checked ? 'stale' : 'unreadable';
  return outcome.kind;
}

/**
 * The only SQL on `wechat_identities` for the session_key lifecycle: decrypt's reads and verdicts, and
 * the check job's claims (FOR UPDATE SKIP LOCKED), leases and per-row checkpoints. Every write of a
 * verdict is a compare-and-set on session_key_updated_at, so a login that stored a new key while a
 * check of the old one was in flight is never marked stale or overwritten.
 */
export function createSessionKeysRepository(db: Kysely<Database>) {
  /** Rows of the run's scope not yet processed by it. Created after the run began: the next run's. */
  const eligible = (scope: RunScope) => sql`
    app_id IN (${sql.join(scope.appIds)})
    AND session_key_enc IS NOT NULL
    AND session_key_status IN ('valid', 'compromised')
    AND session_key_check_run IS DISTINCT FROM ${scope.runId}
    AND created_at < ${scope.runStartedAt}`;

  const keyList = (keys: readonly { appId: string; openid: string }[]) =>
    sql.join(keys.map((k) => sql`(${k.appId}, ${k.openid})`));

  /**
   * Locks a worker's rows in primary-key order, so a renewal or release cannot deadlock with another
   * multi-row writer that also goes in key order. (The job never runs them alongside its own result
   * writes; the claim skips locked rows and never waits.)
   */
  const lockInOrder = (workerId: string, keys: readonly { appId: string; openid: string }[]) => sql`
    SELECT app_id, openid FROM wechat_identities
    WHERE (app_id, openid) IN (${keyList(keys)}) AND session_key_claimed_by = ${workerId}
    ORDER BY app_id, openid
    FOR UPDATE`;

  return {
    /** The identity of `userId` in `appId` (the newest login if a merge left two). */
    async findForDecrypt(userId: string, appId: string): Promise<StoredSessionKey | null> {
      const row = await db
        .selectFrom('wechat_identities')
        .select(['openid', 'session_key_enc', 'session_key_status', 'session_key_checked_at'])
        .select('session_key_updated_at')
        .where('user_id', '=', userId)
        .where('app_id', '=', appId)
        .orderBy('last_login_at', 'desc')
        .limit(1)
        .executeTakeFirst();
      if (!row) return null;
      return {
        openid: row.openid,
        sessionKeyEnc: row.session_key_enc,
        status: row.session_key_status,
        checkedAt: ms(row.session_key_checked_at),
        version: row.session_key_updated_at,
      };
    },

    /** WeChat's verdict on a key outside the job (decrypt): stale, or valid as of `now`. */
    async recordVerdict(
      appId: string,
      openid: string,
      version: Date | null,
      verdict: 'valid' | 'stale',
      now: Date,
    ): Promise<boolean> {
      const result = await sql`
        UPDATE wechat_identities SET
          session_key_checked_at = ${now},
          session_key_status = CASE WHEN ${verdict}::text = 'stale' THEN 'stale' ELSE session_key_status END
        WHERE app_id = ${appId} AND openid = ${openid}
          AND session_key_updated_at IS NOT DISTINCT FROM ${version}::timestamptz`.execute(db);
      return (result.numAffectedRows ?? 0n) > 0n;
    },

    /**
     * Fresh planner statistics before a run. Without them (PGlite has no autovacuum; PostgreSQL's may
     * lag a bulk import) the planner can take the claim's app filter for selective, bitmap-scan every
     * eligible row and sort them for each batch of 100: quadratic over a run. With them it walks the
     * check index in order and stops after 100 rows.
     */
    async refreshStatistics(): Promise<void> {
      await sql`ANALYZE wechat_identities`.execute(db);
    },

    /** Operator action (CLI): the job resets a compromised key on its next run (R7). */
    async markCompromised(appId: string, openid: string): Promise<boolean> {
      const result = await db
        .updateTable('wechat_identities')
        .set({ session_key_status: 'compromised' })
        .where('app_id', '=', appId)
        .where('openid', '=', openid)
        .where('session_key_enc', 'is not', null)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /**
     * One batch for one worker, committed on return: the rows are locked with SKIP LOCKED only for
     * this statement, and the lease it writes is what keeps other instances off them afterwards.
     */
    async claimBatch(
      scope: RunScope,
      claim: { workerId: string; now: Date; leaseUntil: Date; limit: number },
    ): Promise<ClaimedKey[]> {
      if (scope.appIds.length === 0) return [];
      const result = await sql<{
        app_id: string;
        openid: string;
        session_key_enc: string;
        session_key_status: 'valid' | 'compromised';
        session_key_updated_at: Date | null;
        session_key_reset_at: Date | null;
      }>`
        WITH picked AS (
          SELECT app_id, openid FROM wechat_identities
          WHERE ${eligible(scope)}
            AND (session_key_claimed_until IS NULL OR session_key_claimed_until < ${claim.now})
          ORDER BY session_key_checked_at NULLS FIRST
          LIMIT ${claim.limit}
          FOR UPDATE SKIP LOCKED
        )
        UPDATE wechat_identities w SET
          session_key_claimed_by = ${claim.workerId},
          session_key_claimed_until = ${claim.leaseUntil}
        FROM picked WHERE w.app_id = picked.app_id AND w.openid = picked.openid
        RETURNING w.app_id, w.openid, w.session_key_enc, w.session_key_status,
                  w.session_key_updated_at, w.session_key_reset_at`.execute(db);
      return result.rows.map((r) => ({
        appId: r.app_id,
        openid: r.openid,
        sessionKeyEnc: r.session_key_enc,
        status: r.session_key_status,
        version: r.session_key_updated_at,
        updatedAt: ms(r.session_key_updated_at),
        resetAt: ms(r.session_key_reset_at),
      }));
    },

    /** Extends this worker's leases; returns the rows it still holds (a lapsed lease may be gone). */
    async renewLeases(workerId: string, keys: readonly ClaimedKey[], until: Date): Promise<Set<string>> {
      if (keys.length === 0) return new Set();
      const result = await sql<{ app_id: string; openid: string }>`
        WITH mine AS (${lockInOrder(workerId, keys)})
        UPDATE wechat_identities w SET session_key_claimed_until = ${until}
        FROM mine WHERE w.app_id = mine.app_id AND w.openid = mine.openid
        RETURNING w.app_id, w.openid`.execute(db);
      return new Set(result.rows.map((r) => `${r.app_id}:${r.openid}`));
    },

    /** Gives rows back unprocessed (stop, quota): another worker or the next run takes them. */
    async releaseClaims(workerId: string, keys: readonly ClaimedKey[]): Promise<void> {
      if (keys.length === 0) return;
      await sql`
        WITH mine AS (${lockInOrder(workerId, keys)})
        UPDATE wechat_identities w SET session_key_claimed_by = NULL, session_key_claimed_until = NULL
        FROM mine WHERE w.app_id = mine.app_id AND w.openid = mine.openid`.execute(db);
    },

    /** Unprocessed rows of the run that some worker still holds, and when the first lease ends. */
    async pendingLeases(scope: RunScope, now: Date): Promise<{ count: number; nextExpiry: number | null }> {
      if (scope.appIds.length === 0) return { count: 0, nextExpiry: null };
      const result = await sql<{ n: number; next: Date | null }>`
        SELECT count(*)::int AS n, min(session_key_claimed_until) AS next FROM wechat_identities
        WHERE session_key_claimed_until >= ${now} AND ${eligible(scope)}`.execute(db);
      const row = result.rows[0];
      return { count: row?.n ?? 0, nextExpiry: ms(row?.next ?? null) };
    },

    /**
     * Records the outcomes of several rows in one statement: the per-row checkpoint (the run, and what
     * it found). A row is written only while this worker still holds its lease, its key fields only if
     * the key was not replaced since the claim. The hottest statement of a run, so it is one join on
     * the primary key and nothing else (each extra CTE costs PGlite about a millisecond). Returns, per
     * item, whether it was recorded.
     */
    async recordResults(
      scope: RunScope,
      workerId: string,
      items: readonly { key: ClaimedKey; outcome: CheckOutcome }[],
      now: Date,
    ): Promise<boolean[]> {
      if (items.length === 0) return [];
      const values = items.map(({ key, outcome }) => {
        const status = outcome.kind === 'stale' ? 'stale' : outcome.kind === 'reset' ? 'valid' : null;
        const enc = outcome.kind === 'reset' ? outcome.sessionKeyEnc : null;
        const kid = outcome.kind === 'reset' ? outcome.kid : null;
        return sql`(${key.appId}::text, ${key.openid}::text, ${key.version}::timestamptz,
          ${outcomeName(outcome)}::text, ${status}::text, ${enc}::text, ${kid}::text)`;
      });
      const same = sql`w.session_key_updated_at IS NOT DISTINCT FROM v.version`;
      const result = await sql<{ app_id: string; openid: string }>`
        WITH v (app_id, openid, version, outcome, status, enc, kid) AS (VALUES ${sql.join(values)})
        UPDATE wechat_identities w SET
          session_key_check_run = ${scope.runId},
          session_key_check_outcome = v.outcome,
          session_key_claimed_by = NULL,
          session_key_claimed_until = NULL,
          session_key_checked_at = CASE WHEN v.outcome IN ('valid', 'stale', 'reset') THEN ${now}
            ELSE w.session_key_checked_at END,
          session_key_status = CASE WHEN v.status IS NOT NULL AND ${same} THEN v.status
            ELSE w.session_key_status END,
          session_key_enc = CASE WHEN v.enc IS NOT NULL AND ${same} THEN v.enc ELSE w.session_key_enc END,
          session_key_kid = CASE WHEN v.enc IS NOT NULL AND ${same} THEN v.kid ELSE w.session_key_kid END,
          session_key_updated_at = CASE WHEN v.enc IS NOT NULL AND ${same} THEN ${now}
            ELSE w.session_key_updated_at END,
          -- WeChat replaced the key whether or not ours was still the stored one: the 24 h limit counts.
          session_key_reset_at = CASE WHEN v.enc IS NOT NULL THEN ${now} ELSE w.session_key_reset_at END
        FROM v
        WHERE w.app_id = v.app_id AND w.openid = v.openid AND w.session_key_claimed_by = ${workerId}
        RETURNING w.app_id, w.openid`.execute(db);
      const recorded = new Set(result.rows.map((r) => `${r.app_id}\0${r.openid}`));
      return items.map(({ key }) => recorded.has(`${key.appId}\0${key.openid}`));
    },

    /** Exact totals of a run, counted from the rows' checkpoints (one scan, when the run ends). */
    async runTotals(
      runId: string,
    ): Promise<{ checked: number; stale: number; reset: number; errors: number }> {
      const result = await sql<{ checked: number; stale: number; reset: number; errors: number }>`
        SELECT
          count(*) FILTER (WHERE session_key_check_outcome IN ('valid', 'stale', 'reset'))::int AS checked,
          count(*) FILTER (WHERE session_key_check_outcome IN ('stale', 'unreadable'))::int AS stale,
          count(*) FILTER (WHERE session_key_check_outcome = 'reset')::int AS reset,
          count(*) FILTER (WHERE session_key_check_outcome = 'error')::int AS errors
        FROM wechat_identities WHERE session_key_check_run = ${runId}`.execute(db);
      return result.rows[0] ?? { checked: 0, stale: 0, reset: 0, errors: 0 };
    },
  };
}

export type SessionKeysRepository = ReturnType<typeof createSessionKeysRepository>;
