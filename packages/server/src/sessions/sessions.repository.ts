import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../storage/database.ts';
import { type ProfileColumns, profileColumns, profileFromRow } from '../users/profile-sql.ts';
import type { UserProfile } from '../users/users.types.ts';

/** What a new session row needs; times come from the injected clock. */
export interface NewSession {
  id: string;
  appId: string | null;
  method: 'wechat' | 'phone';
  tokenHash: Buffer;
  now: Date;
  idleExpiresAt: Date;
  expiresAt: Date;
  userAgent: string | null;
  ip: string | null;
}

export interface SessionState {
  id: string;
  userId: string;
  appId: string | null;
  generation: number;
  tokenHash: Buffer;
  parentHash: Buffer | null;
  rotatedAt: Date;
  revokedAt: Date | null;
  idleExpiresAt: Date;
  expiresAt: Date;
}

export interface SessionSummary {
  id: string;
  createdAt: Date;
  lastUsedAt: Date;
  userAgent: string | null;
  ip: string | null;
}

/**
 * CTE pieces that insert a session for the user named by `userIdExpr` and end the oldest sessions
 * beyond `maxSessions` (R20), inside the caller's single statement. The eviction sees the snapshot
 * before the insert, so it keeps `maxSessions - 1` older sessions plus the new one. Every value is
 * only interpolated (the subtraction is SQL), so a fixedStatement (users.repository.ts) can embed this.
 */
export function sessionInsertCtes(s: NewSession, userIdExpr: RawBuilder<unknown>, maxSessions: number) {
  return sql`
    new_session AS (
      INSERT INTO sessions (id, user_id, app_id, method, created_at, last_used_at, idle_expires_at, expires_at,
                            user_agent, ip, generation, token_hash, parent_hash, rotated_at)
      SELECT ${s.id}, ${userIdExpr}, ${s.appId}, ${s.method}, ${s.now}, ${s.now}, ${s.idleExpiresAt}, ${s.expiresAt},
             ${s.userAgent}, ${s.ip}, 0, ${s.tokenHash}, NULL, ${s.now}
      WHERE (${userIdExpr})::text IS NOT NULL
      RETURNING id, user_id
    ),
    evicted AS (
      UPDATE sessions SET revoked_at = ${s.now}, revoked_reason = 'evicted'
      WHERE id IN (
        SELECT id FROM sessions
        WHERE user_id = ${userIdExpr} AND revoked_at IS NULL AND expires_at > ${s.now}
        ORDER BY created_at DESC, id DESC
        OFFSET ${maxSessions}::int - 1
      )
      RETURNING id
    )`;
}

const toState = (r: {
  id: string;
  user_id: string;
  app_id: string | null;
  generation: number;
  token_hash: Buffer;
  parent_hash: Buffer | null;
  rotated_at: Date;
  revoked_at: Date | null;
  idle_expires_at: Date;
  expires_at: Date;
}): SessionState => ({
  id: r.id,
  userId: r.user_id,
  appId: r.app_id,
  generation: r.generation,
  tokenHash: r.token_hash,
  parentHash: r.parent_hash,
  rotatedAt: r.rotated_at,
  revokedAt: r.revoked_at,
  idleExpiresAt: r.idle_expires_at,
  expiresAt: r.expires_at,
});

export function createSessionsRepository(db: Kysely<Database>) {
  return {
    /** A session for an existing user (a repeated login code, SMS login): one statement. */
    async insertSession(userId: string, s: NewSession, maxSessions: number): Promise<void> {
      await sql`WITH ${sessionInsertCtes(s, sql`${userId}`, maxSessions)} SELECT id FROM new_session`.execute(
        db,
      );
    },

    /**
     * R17/R19: the rotation is one conditional UPDATE. Concurrent refreshes with one token queue on
     * the row lock; PostgreSQL re-checks the WHERE for the losers, which then see zero rows and take
     * the grace path with the already-rotated state.
     */
    async rotate(input: {
      sessionId: string;
      generation: number;
      tokenHash: Buffer;
      childHash: Buffer;
      now: Date;
      idleTtlMs: number;
    }): Promise<{
      userId: string;
      appId: string | null;
      expiresAt: Date;
      profile: UserProfile | null;
    } | null> {
      // The profile comes back in the same statement: a refresh is one round trip (performance.md S3).
      const result = await sql<{ user_id: string; app_id: string | null; expires_at: Date } & ProfileColumns>`
        WITH rotated AS (
        UPDATE sessions SET
          generation = generation + 1,
          parent_hash = token_hash,
          token_hash = ${input.childHash},
          rotated_at = ${input.now},
          last_used_at = ${input.now},
          idle_expires_at = LEAST(${new Date(input.now.getTime() + input.idleTtlMs)}::timestamptz, expires_at)
        WHERE id = ${input.sessionId} AND generation = ${input.generation} AND token_hash = ${input.tokenHash}
          AND revoked_at IS NULL AND expires_at > ${input.now} AND idle_expires_at > ${input.now}
        RETURNING user_id, app_id, expires_at
        )
        SELECT r.user_id, r.app_id, r.expires_at, ${profileColumns('u')}
        FROM rotated r LEFT JOIN users u ON u.id = r.user_id`.execute(db);
      const row = result.rows[0];
      return row
        ? { userId: row.user_id, appId: row.app_id, expiresAt: row.expires_at, profile: profileFromRow(row) }
        : null;
    },

    async findSessionById(sessionId: string): Promise<SessionState | null> {
      const row = await db
        .selectFrom('sessions')
        .select([
          'id',
          'user_id',
          'app_id',
          'generation',
          'token_hash',
          'parent_hash',
          'rotated_at',
          'revoked_at',
          'idle_expires_at',
          'expires_at',
        ])
        .where('id', '=', sessionId)
        .executeTakeFirst();
      return row ? toState(row) : null;
    },

    /** Ends one session; returns false when it was already ended (or never existed for that user). */
    async revokeSession(sessionId: string, reason: string, now: Date, userId?: string): Promise<boolean> {
      let query = db
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: reason })
        .where('id', '=', sessionId)
        .where('revoked_at', 'is', null);
      if (userId !== undefined) query = query.where('user_id', '=', userId);
      const result = await query.executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async revokeAllForUser(userId: string, reason: string, now: Date): Promise<string[]> {
      const rows = await db
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: reason })
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .returning('id')
        .execute();
      return rows.map((r) => r.id);
    },

    /** Whether a session may still be used by an access token (R21). */
    async isSessionActive(sessionId: string, now: Date): Promise<boolean> {
      const row = await db
        .selectFrom('sessions')
        .select('id')
        .where('id', '=', sessionId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .where('idle_expires_at', '>', now)
        .executeTakeFirst();
      return row !== undefined;
    },

    async listActiveSessions(userId: string, now: Date): Promise<SessionSummary[]> {
      const rows = await db
        .selectFrom('sessions')
        .select(['id', 'created_at', 'last_used_at', 'user_agent', 'ip'])
        .where('user_id', '=', userId)
        .where('revoked_at', 'is', null)
        .where('expires_at', '>', now)
        .where('idle_expires_at', '>', now)
        .orderBy('created_at', 'desc')
        .execute();
      return rows.map((r) => ({
        id: r.id,
        createdAt: r.created_at,
        lastUsedAt: r.last_used_at,
        userAgent: r.user_agent,
        ip: r.ip,
      }));
    },
  };
}

export type SessionsRepository = ReturnType<typeof createSessionsRepository>;
