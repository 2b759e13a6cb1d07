import { type Kysely, sql } from 'kysely';
import { type NewSession, sessionInsertCtes } from '../sessions/sessions.repository.ts';
import type { Database } from '../storage/database.ts';
import { type ProfileColumns, profileColumns, profileFromRow } from '../users/profile-sql.ts';
import type { UserProfile } from '../users/users.types.ts';

/**
 * The happy path of an SMS login in two round trips and no transaction (performance.md S4): the caller
 * reads the newest live code unlocked (findActiveCode) and compares it in constant time; this then
 * consumes it, clears the phone's failures, finds or creates the user and starts the session in ONE
 * statement.
 *
 * Why this is as safe as the locked path (verify-otp.ts), which still handles every other case:
 * - The consume is a conditional UPDATE of that code's row. It waits for any transaction holding the
 *   row (the locked path's FOR UPDATE) and PostgreSQL re-checks `consumed_at IS NULL`, `attempts < max`
 *   and `invalidated_at IS NULL` against the latest version, so one code is accepted at most once and
 *   never after its attempts ran out (R10).
 * - A phone under lockout is refused in the same statement, and nothing is written then.
 * - Only a matching code ever reaches the statement; a wrong guess takes the locked path and is counted.
 * When the statement consumes nothing (raced, locked out, expired meanwhile) it returns null and the
 * caller falls back to the locked path, which produces the precise error.
 */
export function createSmsFastLoginRepository(db: Kysely<Database>) {
  return {
    async consumeAndStartSession(input: {
      codeId: string;
      phone: string;
      maxAttempts: number;
      newUserId: string;
      session: NewSession;
      maxSessions: number;
    }): Promise<{ profile: UserProfile; isNewUser: boolean } | null> {
      const now = input.session.now;
      // `COALESCE(consumed_at, invalidated_at) IS NULL` means "neither is set", as two IS NULLs would,
      // but it does not match the predicate of the partial index sms_codes_active_idx. With two IS
      // NULLs PostgreSQL may read that whole index and filter on id instead of using the primary key:
      // seen in S4 while the table grew faster than its statistics, 7,000 index entries read per login
      // (2.5 ms of database CPU), falling as codes were used up.
      const result = await sql<ProfileColumns & { inserted: boolean }>`
        WITH consumed AS (
          UPDATE sms_codes SET consumed_at = ${now}
          WHERE id = ${input.codeId} AND COALESCE(consumed_at, invalidated_at) IS NULL
            AND attempts < ${input.maxAttempts} AND expires_at > ${now}
            AND NOT EXISTS (
              SELECT 1 FROM sms_phone_failures WHERE phone = ${input.phone} AND locked_until > ${now}
            )
            AND NOT EXISTS (SELECT 1 FROM users WHERE phone = ${input.phone} AND disabled_at IS NOT NULL)
          RETURNING id
        ),
        cleared AS (
          DELETE FROM sms_phone_failures WHERE phone = ${input.phone} AND EXISTS (SELECT 1 FROM consumed)
        ),
        u AS (
          INSERT INTO users (id, phone, created_at, updated_at)
          SELECT ${input.newUserId}, ${input.phone}, ${now}, ${now} WHERE EXISTS (SELECT 1 FROM consumed)
          ON CONFLICT (phone) DO UPDATE SET updated_at = EXCLUDED.updated_at
          RETURNING id, phone, created_at, disabled_at, (xmax = 0) AS inserted
        ),
        ${sessionInsertCtes(input.session, sql`(SELECT id FROM u)`, input.maxSessions)}
        SELECT ${profileColumns('u')}, u.inserted FROM u`.execute(db);
      const row = result.rows[0];
      if (!row) return null;
      const profile = profileFromRow(row);
      return profile ? { profile, isNewUser: row.inserted } : null;
    },
  };
}

export type SmsFastLoginRepository = ReturnType<typeof createSmsFastLoginRepository>;
