import { type Kysely, sql } from 'kysely';

// Foreign keys are DEFERRABLE INITIALLY DEFERRED because the login statement inserts the identity
// before the user it belongs to (so a lost race creates no orphan user): see users.repository.ts.
const STATEMENTS = [
  `CREATE TABLE users (
    id text PRIMARY KEY,
    phone text UNIQUE,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    disabled_at timestamptz
  )`,
  `CREATE TABLE wechat_identities (
    app_id text NOT NULL,
    openid text NOT NULL,
    user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    unionid text,
    session_key_enc text,
    session_key_kid text,
    session_key_status text NOT NULL DEFAULT 'valid',
    session_key_updated_at timestamptz,
    session_key_checked_at timestamptz,
    created_at timestamptz NOT NULL,
    last_login_at timestamptz NOT NULL,
    PRIMARY KEY (app_id, openid)
  )`,
  `CREATE INDEX wechat_identities_user_idx ON wechat_identities (user_id)`,
  `CREATE INDEX wechat_identities_unionid_idx ON wechat_identities (unionid) WHERE unionid IS NOT NULL`,
  `CREATE INDEX wechat_identities_kid_idx ON wechat_identities (session_key_kid)`,
  `CREATE TABLE wechat_unions (
    unionid text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED
  )`,
  `CREATE TABLE sessions (
    id text PRIMARY KEY,
    user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    app_id text,
    method text NOT NULL,
    created_at timestamptz NOT NULL,
    last_used_at timestamptz NOT NULL,
    idle_expires_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    revoked_at timestamptz,
    revoked_reason text,
    user_agent text,
    ip text,
    generation integer NOT NULL,
    token_hash bytea NOT NULL,
    parent_hash bytea,
    rotated_at timestamptz NOT NULL
  )`,
  `CREATE INDEX sessions_user_active_idx ON sessions (user_id, created_at) WHERE revoked_at IS NULL`,
  `CREATE TABLE login_codes (
    code_hash bytea PRIMARY KEY,
    app_id text NOT NULL,
    state text NOT NULL,
    user_id text,
    error_code text,
    created_at timestamptz NOT NULL,
    completed_at timestamptz
  )`,
  `CREATE INDEX login_codes_created_idx ON login_codes (created_at)`,
  `CREATE TABLE wechat_access_tokens (
    app_id text PRIMARY KEY,
    token_enc text,
    expires_at timestamptz,
    fetched_at timestamptz,
    fetched_by text,
    lease_owner text,
    lease_until timestamptz,
    force_refresh_count integer NOT NULL DEFAULT 0,
    force_refresh_day text,
    last_force_refresh_at timestamptz,
    version integer NOT NULL DEFAULT 0
  )`,
  `CREATE TABLE auth_events (
    id bigserial PRIMARY KEY,
    at timestamptz NOT NULL,
    type text NOT NULL,
    outcome text NOT NULL,
    user_id text,
    session_id text,
    app_id text,
    request_id text,
    ip text,
    reason text,
    detail jsonb
  )`,
  `CREATE INDEX auth_events_at_idx ON auth_events (at)`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  // One statement per call: PGlite and pg both use the extended protocol, which takes one at a time.
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE auth_events, wechat_access_tokens, login_codes, sessions, wechat_unions, wechat_identities, users`.execute(
    db,
  );
}
