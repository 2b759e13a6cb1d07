import { type Kysely, type RawBuilder, sql } from 'kysely';
import { type NewSession, sessionInsertCtes } from '../sessions/sessions.repository.ts';
import type { RunSql } from '../storage/create-db.ts';
import type { Database } from '../storage/database.ts';
import { fixedStatement } from '../storage/fixed-statement.ts';
import { identitiesOf, type ProfileColumns, profileColumns, profileFromRow } from './profile-sql.ts';
import type { UserProfile, WechatIdentity } from './users.types.ts';

export interface WechatLoginWrite {
  appId: string;
  openid: string;
  unionid: string | null;
  /** Vault envelope of the session_key, bound to (appId, openid). */
  sessionKeyEnc: string;
  sessionKeyKid: string;
  /** The id a new user gets if this identity is new and no unionid links it to an existing user. */
  newUserId: string;
  codeHash: Buffer;
  session: NewSession;
  maxSessions: number;
}

interface LoginRow {
  user_id: string;
  is_new_user: boolean;
  phone: string | null;
  created_at: Date;
  identities: WechatIdentity[] | null;
}

/**
 * The identity write every login path shares: a new (appId, openid) row for `userId`, or, when the
 * identity exists, its newest sealed session_key (the owner stays). Returns the owner's user_id.
 */
export function identityUpsert(v: {
  appId: string;
  openid: string;
  userId: string | RawBuilder<unknown>;
  unionid: string | null;
  sessionKeyEnc: string;
  sessionKeyKid: string;
  now: Date;
}): RawBuilder<{ user_id: string }> {
  return sql<{ user_id: string }>`
    INSERT INTO wechat_identities (app_id, openid, user_id, unionid, session_key_enc, session_key_kid,
                                   session_key_status, session_key_updated_at, created_at, last_login_at)
    VALUES (${v.appId}, ${v.openid}, ${v.userId}, ${v.unionid}, ${v.sessionKeyEnc}, ${v.sessionKeyKid},
            'valid', ${v.now}, ${v.now}, ${v.now})
    ON CONFLICT (app_id, openid) DO UPDATE SET
      unionid = COALESCE(EXCLUDED.unionid, wechat_identities.unionid),
      session_key_enc = EXCLUDED.session_key_enc,
      session_key_kid = EXCLUDED.session_key_kid,
      session_key_status = 'valid',
      session_key_updated_at = EXCLUDED.session_key_updated_at,
      last_login_at = EXCLUDED.last_login_at
    RETURNING user_id`;
}

const LOGIN_KEYS = [
  'appId',
  'openid',
  'unionid',
  'sessionKeyEnc',
  'sessionKeyKid',
  'newUserId',
  'codeHash',
  'maxSessions',
  'sessionId',
  'sessionAppId',
  'method',
  'now',
  'idleExpiresAt',
  'expiresAt',
  'userAgent',
  'ip',
  'tokenHash',
] as const;

/**
 * The whole WeChat login write in ONE statement (no interactive transaction, nothing held across
 * the upstream call): upsert the identity, link by unionid, create the user if new, store the
 * sealed session_key, start a session, and mark the login code done.
 *
 * Races (reliability.md C8): the identity is inserted before the user, with deferred foreign keys.
 * Two concurrent first logins of one openid both try to insert the identity; the loser's
 * ON CONFLICT DO UPDATE waits for the winner and returns the winner's user_id, so the loser's
 * prospective user id is never inserted — no orphan user, one user per identity.
 * `wechat_unions` (PRIMARY KEY unionid) does the same for two apps of one person logging in at once.
 * PostgreSQL runs every data-modifying CTE to completion whether or not the final SELECT reads it.
 * Compiled once (fixed-statement.ts): it runs on every login.
 */
const WECHAT_LOGIN = fixedStatement(LOGIN_KEYS, (w) => {
  const session: NewSession = {
    id: w.sessionId,
    appId: w.sessionAppId,
    method: w.method,
    tokenHash: w.tokenHash,
    now: w.now,
    idleExpiresAt: w.idleExpiresAt,
    expiresAt: w.expiresAt,
    userAgent: w.userAgent,
    ip: w.ip,
  };
  return sql<LoginRow>`
    WITH existing AS (
      SELECT user_id FROM wechat_identities WHERE app_id = ${w.appId} AND openid = ${w.openid}
    ),
    union_link AS (
      INSERT INTO wechat_unions (unionid, user_id)
      SELECT ${w.unionid}::text, COALESCE((SELECT user_id FROM existing), ${w.newUserId})
      WHERE ${w.unionid}::text IS NOT NULL
      ON CONFLICT (unionid) DO UPDATE SET unionid = EXCLUDED.unionid
      RETURNING user_id
    ),
    ident AS (${identityUpsert({
      appId: w.appId,
      openid: w.openid,
      unionid: w.unionid,
      sessionKeyEnc: w.sessionKeyEnc,
      sessionKeyKid: w.sessionKeyKid,
      userId: sql`COALESCE((SELECT user_id FROM existing), (SELECT user_id FROM union_link), ${w.newUserId})`,
      now: w.now,
    })}),
    new_user AS (
      INSERT INTO users (id, phone, created_at, updated_at)
      SELECT user_id, NULL, ${w.now}, ${w.now} FROM ident WHERE user_id = ${w.newUserId}
      ON CONFLICT (id) DO NOTHING
      RETURNING id, phone, created_at
    ),
    ${sessionInsertCtes(session, sql`(SELECT user_id FROM ident)`, w.maxSessions)},
    code_done AS (
      UPDATE login_codes SET state = 'done', user_id = (SELECT user_id FROM ident), completed_at = ${w.now}
      WHERE code_hash = ${w.codeHash}
      RETURNING code_hash
    )
    SELECT
      ident.user_id,
      EXISTS (SELECT 1 FROM new_user) AS is_new_user,
      COALESCE((SELECT phone FROM new_user), u.phone) AS phone,
      COALESCE((SELECT created_at FROM new_user), u.created_at) AS created_at,
      (
        SELECT json_agg(json_build_object('appId', i.app_id, 'openid', i.openid, 'unionid', i.unionid))
        FROM (
          SELECT app_id, openid, unionid FROM wechat_identities
          WHERE user_id = ident.user_id AND NOT (app_id = ${w.appId} AND openid = ${w.openid})
          UNION ALL
          SELECT ${w.appId}, ${w.openid}, COALESCE(${w.unionid}::text,
            (SELECT unionid FROM wechat_identities WHERE app_id = ${w.appId} AND openid = ${w.openid}))
        ) i
      ) AS identities
    FROM ident
    LEFT JOIN users u ON u.id = ident.user_id`;
});

/** `run` takes the per-login statement (Db.run); every other query goes through Kysely. */
export function createUsersRepository(db: Kysely<Database>, run: RunSql) {
  return {
    async upsertWechatLogin(w: WechatLoginWrite): Promise<{ profile: UserProfile; isNewUser: boolean }> {
      const s = w.session;
      const { sql: text, parameters } = WECHAT_LOGIN.bind(db, {
        appId: w.appId,
        openid: w.openid,
        unionid: w.unionid,
        sessionKeyEnc: w.sessionKeyEnc,
        sessionKeyKid: w.sessionKeyKid,
        newUserId: w.newUserId,
        codeHash: w.codeHash,
        maxSessions: w.maxSessions,
        sessionId: s.id,
        sessionAppId: s.appId,
        method: s.method,
        now: s.now,
        idleExpiresAt: s.idleExpiresAt,
        expiresAt: s.expiresAt,
        userAgent: s.userAgent,
        ip: s.ip,
        tokenHash: s.tokenHash,
      });
      const row = (await run<LoginRow>(text, parameters))[0];
      if (!row) throw new Error('login statement returned no row');
      return {
        isNewUser: row.is_new_user,
        profile: {
          id: row.user_id,
          phone: row.phone,
          createdAt: row.created_at,
          wechat: identitiesOf(row.identities),
        },
      };
    },

    async findUserProfile(userId: string): Promise<UserProfile | null> {
      const result = await sql<ProfileColumns>`
        SELECT ${profileColumns('u')} FROM users u WHERE u.id = ${userId}`.execute(db);
      const row = result.rows[0];
      return row ? profileFromRow(row) : null;
    },
  };
}

export type UsersRepository = ReturnType<typeof createUsersRepository>;
