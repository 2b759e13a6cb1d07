import { hash } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { RunSql } from '../storage/create-db.ts';
import type { Database } from '../storage/database.ts';

export interface LoginCodeState {
  state: 'pending' | 'done' | 'failed';
  userId: string | null;
  errorCode: string | null;
  createdAt: Date;
  completedAt: Date | null;
}

/** The ledger's key: SHA-256 of appId and code; the code itself is never stored. */
export function loginCodeHash(appId: string, code: string): Buffer {
  // One-shot: no Hash object (each is a native handle the scavenger has to process after it dies).
  return hash('sha256', `${appId}\0${code}`, 'buffer');
}

/**
 * The claim runs before every upstream call, so its text is fixed once rather than rebuilt through the
 * query builder per login (builder objects, compilation and a new 200-character string each time).
 *
 * It commits without waiting for the WAL flush (`synchronous_commit` off for this transaction only,
 * `set_config(..., true)`): the claim is a lock, not a record. A claim that a database crash loses
 * can only let one more code2Session call through, which WeChat refuses anyway (40163, single-use
 * codes). A claim whose login succeeds is flushed by the login statement's own synchronous commit,
 * which comes later in the same WAL. So every login waits for one fsync instead of two, and a disk
 * stall can delay it once, not twice. The CTE is MATERIALIZED and read by the INSERT so that it runs.
 */
const CLAIM_SQL =
  "WITH relaxed AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true)) " +
  'INSERT INTO login_codes (code_hash, app_id, state, created_at) ' +
  'SELECT $1::bytea, $2::text, $3::text, $4::timestamptz FROM relaxed ' +
  'ON CONFLICT (code_hash) DO NOTHING RETURNING code_hash';

/**
 * The ledger that makes one wx.login code cause at most one upstream code2Session call across every
 * instance (R1): the first request to insert the code's hash owns the exchange; others read its outcome.
 * `run` (Db.run) takes the claim, which precedes every upstream call; the rest goes through Kysely.
 */
export function createLoginCodesRepository(db: Kysely<Database>, run: RunSql) {
  return {
    async claimLoginCode(codeHash: Buffer, appId: string, now: Date): Promise<boolean> {
      return (await run(CLAIM_SQL, [codeHash, appId, 'pending', now])).length > 0;
    },

    async findLoginCode(codeHash: Buffer): Promise<LoginCodeState | null> {
      const row = await db
        .selectFrom('login_codes')
        .select(['state', 'user_id', 'error_code', 'created_at', 'completed_at'])
        .where('code_hash', '=', codeHash)
        .executeTakeFirst();
      if (!row) return null;
      return {
        state: row.state as LoginCodeState['state'],
        userId: row.user_id,
        errorCode: row.error_code,
        createdAt: row.created_at,
        completedAt: row.completed_at,
      };
    },

    /** The login statement marks its code done itself (users.repository.ts); nothing to do here. */
    async markLoginCodeDone(_codeHash: Buffer, _userId: string, _now: Date): Promise<void> {},

    async markLoginCodeFailed(codeHash: Buffer, errorCode: string, now: Date): Promise<void> {
      await db
        .updateTable('login_codes')
        .set({ state: 'failed', error_code: errorCode, completed_at: now })
        .where('code_hash', '=', codeHash)
        .where('state', '=', 'pending')
        .execute();
    },

    /** Forget a claim whose exchange failed transiently, so a retry with the same code may try again. */
    async releaseLoginCode(codeHash: Buffer): Promise<void> {
      await db
        .deleteFrom('login_codes')
        .where('code_hash', '=', codeHash)
        .where('state', '=', 'pending')
        .execute();
    },

    async purgeLoginCodes(olderThan: Date): Promise<number> {
      const result = await db
        .deleteFrom('login_codes')
        .where('created_at', '<', olderThan)
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}

export type LoginCodesRepository = ReturnType<typeof createLoginCodesRepository>;

/** The ledger's contract, kept in the database (PostgreSQL: shared by instances) or in memory (PGlite). */
export type LoginCodesStore = LoginCodesRepository;
