import { type Kysely, sql } from 'kysely';

// The global daily SMS budget (R12) as one counter row per budget day. Counting the day's rows of
// sms_sends on every send, under the cluster-wide send lock, cost more with each send of the day
// (measured in S4: 736 → 504 sends/s over three 10 s rounds); the counter costs the same at any hour.
// The ledger stays the source of truth: a day without a row is counted from sms_sends once.
const STATEMENTS = [
  `CREATE TABLE sms_daily_sends (
    day_start timestamptz PRIMARY KEY,
    sends integer NOT NULL
  )`,
];

export async function up(db: Kysely<unknown>): Promise<void> {
  for (const statement of STATEMENTS) await sql.raw(statement).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw('DROP TABLE sms_daily_sends').execute(db);
}
