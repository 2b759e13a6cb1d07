import { type Kysely, sql } from 'kysely';

// Phone login (issue 3). The phone identity is users.phone (UNIQUE since 0001): one user per phone,
// enforced by the database. Everything that must survive a Redis flush lives here (R10, R12).
const STATEMENTS = [
  `CREATE TABLE sms_codes (
    id text PRIMARY KEY,
    phone text NOT NULL,
    purpose text NOT NULL,
    code_hmac bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL,
    consumed_at timestamptz,
    invalidated_at timestamptz
  )`,
  `CREATE INDEX sms_codes_active_idx ON sms_codes (phone, purpose, created_at DESC)
     WHERE consumed_at IS NULL AND invalidated_at IS NULL`,
  `CREATE INDEX sms_codes_created_idx ON sms_codes (created_at)`,
  // The send ledger: the source of truth for 24 h caps and the daily budget, whatever Redis says.
  `CREATE TABLE sms_sends (
    id bigserial PRIMARY KEY,
    phone text NOT NULL,
    ip text,
    purpose text NOT NULL,
    status text NOT NULL,
    provider text NOT NULL,
    provider_message_id text,
    reason text,
    created_at timestamptz NOT NULL
  )`,
  `CREATE INDEX sms_sends_phone_idx ON sms_sends (phone, created_at)`,
  `CREATE INDEX sms_sends_ip_idx ON sms_sends (ip, created_at)`,
  `CREATE INDEX sms_sends_created_idx ON sms_sends (created_at)`,
  // R9: failed verifications per phone, and the lockout they lead to.
  `CREATE TABLE sms_phone_failures (
    phone text PRIMARY KEY,
    failures integer NOT NULL,
    window_started_at timestamptz NOT NULL,
    locked_until timestamptz
  )`,
  `CREATE TABLE user_merges (
    id bigserial PRIMARY KEY,
    absorbed_user_id text NOT NULL,
    into_user_id text NOT NULL,
    reason text NOT NULL,
    at timestamptz NOT NULL,
    detail jsonb
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`DROP TABLE user_merges, sms_phone_failures, sms_sends, sms_codes`.execute(db);
}
