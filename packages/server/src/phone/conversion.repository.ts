import { type Kysely, sql } from 'kysely';
import type { Database } from '../storage/database.ts';

export interface ConversionGroup {
  /** 'dial:+86' or 'prefix:+86138001' (all but the last 4 digits). */
  group: string;
  sends: number;
  verified: number;
}

export function createConversionRepository(db: Kysely<Database>) {
  return {
    /**
     * R15's data: sends in the window (those the provider did not refuse) and how many of their codes
     * were verified, grouped by dial code (the longest of `dialCodes` that prefixes the number) and by
     * number prefix (all but the last 4 digits).
     */
    async conversionSince(since: Date, dialCodes: readonly string[]): Promise<ConversionGroup[]> {
      const dial = sql.join(dialCodes.map((d) => sql`${d}`));
      const result = await sql<{ grp: string; sends: string; verified: string }>`
        WITH tagged AS (
          SELECT
            COALESCE(
              (SELECT d FROM unnest(ARRAY[${dial}]::text[]) d WHERE s.phone LIKE d || '%' ORDER BY length(d) DESC LIMIT 1),
              'other'
            ) AS dial,
            left(s.phone, length(s.phone) - 4) AS prefix,
            -- The ledger row and its code are written in one transaction with the same timestamp.
            EXISTS (
              SELECT 1 FROM sms_codes c
              WHERE c.phone = s.phone AND c.created_at = s.created_at AND c.consumed_at IS NOT NULL
            ) AS verified
          FROM sms_sends s
          WHERE s.created_at >= ${since} AND s.status <> 'failed'
        )
        SELECT 'dial:' || dial AS grp, count(*) AS sends, count(*) FILTER (WHERE verified) AS verified FROM tagged GROUP BY dial
        UNION ALL
        SELECT 'prefix:' || prefix, count(*), count(*) FILTER (WHERE verified) FROM tagged GROUP BY prefix`.execute(
        db,
      );
      return result.rows.map((r) => ({ group: r.grp, sends: Number(r.sends), verified: Number(r.verified) }));
    },
  };
}
