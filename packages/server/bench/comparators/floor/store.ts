import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { comparatorPoolOptions } from '../pg-pool-options.ts';

/**
 * The floor's own minimal tables and its ONE login statement: upsert the WeChat identity (with the
 * sealed session_key), create the user if new, insert a session row. It mirrors the writes wxauth's
 * login makes to users/wechat_identities/sessions (users.repository.ts upsertWechatLogin), without
 * the rest of wxauth (login-code ledger, unionid links, session eviction, audit events).
 */
const DDL = [
  `CREATE TABLE floor_users (id text PRIMARY KEY, created_at timestamptz NOT NULL)`,
  `CREATE TABLE floor_identities (
     app_id text NOT NULL, openid text NOT NULL, user_id text NOT NULL, unionid text,
     session_key_enc text, created_at timestamptz NOT NULL, last_login_at timestamptz NOT NULL,
     PRIMARY KEY (app_id, openid))`,
  `CREATE TABLE floor_sessions (
     id text PRIMARY KEY, user_id text NOT NULL, app_id text, token_hash bytea NOT NULL,
     created_at timestamptz NOT NULL, expires_at timestamptz NOT NULL, revoked_at timestamptz)`,
  `CREATE INDEX floor_sessions_user_idx ON floor_sessions (user_id, created_at) WHERE revoked_at IS NULL`,
];

const LOGIN = `
  WITH ident AS (
    INSERT INTO floor_identities (app_id, openid, user_id, unionid, session_key_enc, created_at, last_login_at)
    VALUES ($1, $2, $3, $4, $5, $6, $6)
    ON CONFLICT (app_id, openid) DO UPDATE SET
      unionid = COALESCE(EXCLUDED.unionid, floor_identities.unionid),
      session_key_enc = EXCLUDED.session_key_enc,
      last_login_at = EXCLUDED.last_login_at
    RETURNING user_id
  ),
  new_user AS (
    INSERT INTO floor_users (id, created_at)
    SELECT user_id, $6 FROM ident WHERE user_id = $3
    ON CONFLICT (id) DO NOTHING
    RETURNING id
  ),
  new_session AS (
    INSERT INTO floor_sessions (id, user_id, app_id, token_hash, created_at, expires_at)
    SELECT $7, user_id, $1, $8, $6, $9 FROM ident
    RETURNING id
  )
  SELECT ident.user_id, EXISTS (SELECT 1 FROM new_user) AS is_new FROM ident`;

export interface LoginWrite {
  appId: string;
  openid: string;
  unionid: string | null;
  sessionKeyEnc: string;
  newUserId: string;
  sessionId: string;
  tokenHash: Buffer;
  now: Date;
  expiresAt: Date;
}

export interface FloorStore {
  login(w: LoginWrite): Promise<{ userId: string; isNew: boolean }>;
  close(): Promise<void>;
}

type Row = { user_id: string; is_new: boolean };
const params = (w: LoginWrite) => [
  w.appId,
  w.openid,
  w.newUserId,
  w.unionid,
  w.sessionKeyEnc,
  w.now,
  w.sessionId,
  w.tokenHash,
  w.expiresAt,
];

export async function openFloorStore(
  kind: 'pglite' | 'pg' | 'stub',
  pgUrl?: string,
  schema?: string,
): Promise<FloorStore> {
  if (kind === 'stub') {
    // S1 (b): the CPU ceiling without a database; the answer a new user would get.
    return { login: async (w) => ({ userId: w.newUserId, isNew: true }), close: async () => {} };
  }
  if (kind === 'pg') {
    const pool = new pg.Pool(comparatorPoolOptions(pgUrl, schema));
    pool.on('error', () => {});
    for (const statement of DDL) await pool.query(statement);
    return {
      async login(w) {
        const row = (await pool.query<Row>(LOGIN, params(w))).rows[0]!;
        return { userId: row.user_id, isNew: row.is_new };
      },
      close: () => pool.end(),
    };
  }
  const db = new PGlite();
  for (const statement of DDL) await db.exec(statement);
  return {
    async login(w) {
      const row = (await db.query<Row>(LOGIN, params(w))).rows[0]!;
      return { userId: row.user_id, isNew: row.is_new };
    },
    close: () => db.close(),
  };
}
