import type { ColumnType, Generated } from 'kysely';

/**
 * Table types for Kysely. Only repositories import these; row shapes never leave a repository.
 * Timestamps are `timestamptz` and always written from the injected clock, so tests can move time.
 */
type Timestamp = ColumnType<Date, Date, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;

export interface UsersTable {
  id: string;
  phone: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  disabled_at: NullableTimestamp;
}

export interface WechatIdentitiesTable {
  app_id: string;
  openid: string;
  user_id: string;
  unionid: string | null;
  /** Vault envelope (JSON text); never the plaintext session_key. */
  session_key_enc: string | null;
  session_key_kid: string | null;
  /** 'valid' | 'stale' | 'compromised' */
  session_key_status: string;
  session_key_updated_at: NullableTimestamp;
  session_key_checked_at: NullableTimestamp;
  created_at: Timestamp;
  last_login_at: Timestamp;
  /** Last resetusersessionkey by the session-key job (at most one per 24 h, R7). */
  session_key_reset_at: NullableTimestamp;
  /** The job run that last processed the row: its checkpoint (0003). */
  session_key_check_run: string | null;
  /** What that run found: 'valid' | 'stale' | 'unreadable' | 'reset' | 'error'. */
  session_key_check_outcome: string | null;
  /** Worker holding the row while its check is in flight, and until when (0003). */
  session_key_claimed_by: string | null;
  session_key_claimed_until: NullableTimestamp;
}

export interface WechatUnionsTable {
  unionid: string;
  user_id: string;
}

export interface SessionsTable {
  id: string;
  user_id: string;
  app_id: string | null;
  /** 'wechat' | 'phone' — how the session family began. */
  method: string;
  created_at: Timestamp;
  last_used_at: Timestamp;
  idle_expires_at: Timestamp;
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
  revoked_reason: string | null;
  user_agent: string | null;
  ip: string | null;
  generation: number;
  /** SHA-256 of the current refresh secret. */
  token_hash: Buffer;
  /** SHA-256 of the immediate parent's secret, for the rotation grace. */
  parent_hash: Buffer | null;
  rotated_at: Timestamp;
}

export interface LoginCodesTable {
  /** SHA-256 of appId + js_code; the code itself is never stored. */
  code_hash: Buffer;
  app_id: string;
  /** 'pending' | 'done' | 'failed' */
  state: string;
  user_id: string | null;
  error_code: string | null;
  created_at: Timestamp;
  completed_at: NullableTimestamp;
}

export interface WechatAccessTokensTable {
  app_id: string;
  /** Vault envelope of the access_token. */
  token_enc: string | null;
  expires_at: NullableTimestamp;
  fetched_at: NullableTimestamp;
  fetched_by: string | null;
  /** Cluster-wide single flight: whoever holds an unexpired lease refreshes. */
  lease_owner: string | null;
  lease_until: NullableTimestamp;
  force_refresh_count: number;
  force_refresh_day: string | null;
  last_force_refresh_at: NullableTimestamp;
  version: Generated<number>;
}

export interface AuthEventsTable {
  id: Generated<string>;
  at: Timestamp;
  type: string;
  outcome: string;
  user_id: string | null;
  session_id: string | null;
  app_id: string | null;
  request_id: string | null;
  ip: string | null;
  reason: string | null;
  detail: ColumnType<Record<string, unknown> | null, string | null, string | null>;
}

export interface SmsCodesTable {
  id: string;
  phone: string;
  /** 'login' | 'bind' */
  purpose: string;
  /** HMAC-SHA256(pepper, purpose ‖ phone ‖ id ‖ code): never the code (R11). */
  code_hmac: Buffer;
  attempts: number;
  created_at: Timestamp;
  expires_at: Timestamp;
  consumed_at: NullableTimestamp;
  invalidated_at: NullableTimestamp;
}

export interface SmsSendsTable {
  id: Generated<string>;
  phone: string;
  ip: string | null;
  purpose: string;
  /** 'pending' | 'sent' | 'unknown' | 'failed' */
  status: string;
  provider: string;
  provider_message_id: string | null;
  reason: string | null;
  created_at: Timestamp;
}

/** R12's daily budget: sends counted per budget day (the ledger is counted once for a day without a row). */
export interface SmsDailySendsTable {
  day_start: Timestamp;
  sends: number;
}

export interface SmsPhoneFailuresTable {
  phone: string;
  failures: number;
  window_started_at: Timestamp;
  locked_until: NullableTimestamp;
}

export interface UserMergesTable {
  id: Generated<string>;
  absorbed_user_id: string;
  into_user_id: string;
  reason: string;
  at: Timestamp;
  detail: ColumnType<Record<string, unknown> | null, string | null, string | null>;
}

export interface JobRunsTable {
  id: string;
  job: string;
  /** 'running' | 'interrupted' | 'succeeded' | 'abandoned' */
  status: string;
  started_at: Timestamp;
  finished_at: NullableTimestamp;
  heartbeat_at: Timestamp;
  started_by: string;
  /** Final totals, counted from the rows when the run ends; while it runs, sum job_run_workers. */
  checked: number;
  stale: number;
  reset: number;
  errors: number;
  detail: string | null;
}

export interface JobRunWorkersTable {
  run_id: string;
  worker_id: string;
  started_at: Timestamp;
  heartbeat_at: Timestamp;
  finished_at: NullableTimestamp;
  checked: number;
  stale: number;
  reset: number;
  errors: number;
}

export interface Database {
  users: UsersTable;
  wechat_identities: WechatIdentitiesTable;
  wechat_unions: WechatUnionsTable;
  sessions: SessionsTable;
  login_codes: LoginCodesTable;
  wechat_access_tokens: WechatAccessTokensTable;
  auth_events: AuthEventsTable;
  sms_codes: SmsCodesTable;
  sms_sends: SmsSendsTable;
  sms_daily_sends: SmsDailySendsTable;
  sms_phone_failures: SmsPhoneFailuresTable;
  user_merges: UserMergesTable;
  job_runs: JobRunsTable;
  job_run_workers: JobRunWorkersTable;
}
