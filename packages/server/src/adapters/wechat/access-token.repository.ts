import { type Kysely, sql } from 'kysely';
import type { Database } from '../../storage/database.ts';
import { accessTokenContext } from '../../vault/sealed-contexts.ts';
import type { Vault } from '../../vault/vault.types.ts';

/** The shared access-token row of one app, token already opened (null when absent or unreadable). */
export interface AccessTokenRecord {
  appId: string;
  token: string | null;
  /** True when a sealed value exists but the vault refused to open it (R27: treated as absent). */
  unreadable: boolean;
  expiresAt: number | null;
  fetchedAt: number | null;
  fetchedBy: string | null;
  leaseOwner: string | null;
  leaseUntil: number | null;
  forceRefreshCount: number;
  forceRefreshDay: string | null;
  lastForceRefreshAt: number | null;
}

const ms = (value: Date | null): number | null => (value === null ? null : value.getTime());

/**
 * The only SQL for `wechat_access_tokens` (R6: one shared place for the token). The token is sealed
 * with the vault, bound to this table, column and app. Times come from the caller's injected clock.
 */
export function createAccessTokenRepository(deps: { db: Kysely<Database>; vault: Vault }) {
  const { db, vault } = deps;
  const context = accessTokenContext;

  return {
    async findByAppId(appId: string): Promise<AccessTokenRecord | null> {
      const row = await db
        .selectFrom('wechat_access_tokens')
        .selectAll()
        .where('app_id', '=', appId)
        .executeTakeFirst();
      if (!row) return null;
      const token = row.token_enc === null ? null : vault.open(row.token_enc, context(appId));
      return {
        appId,
        token,
        unreadable: row.token_enc !== null && token === null,
        expiresAt: ms(row.expires_at),
        fetchedAt: ms(row.fetched_at),
        fetchedBy: row.fetched_by,
        leaseOwner: row.lease_owner,
        leaseUntil: ms(row.lease_until),
        forceRefreshCount: row.force_refresh_count,
        forceRefreshDay: row.force_refresh_day,
        lastForceRefreshAt: ms(row.last_force_refresh_at),
      };
    },

    /** Creates the app's row once, so the lease below always has a row to compare-and-set. */
    async ensureRow(appId: string): Promise<void> {
      await db
        .insertInto('wechat_access_tokens')
        .values({ app_id: appId, force_refresh_count: 0 })
        .onConflict((oc) => oc.column('app_id').doNothing())
        .execute();
    },

    /** Cluster-wide single flight: true for the one caller whose compare-and-set took a free lease. */
    async tryAcquireLease(appId: string, owner: string, now: number, leaseMs: number): Promise<boolean> {
      const result = await db
        .updateTable('wechat_access_tokens')
        .set({ lease_owner: owner, lease_until: new Date(now + leaseMs) })
        .where('app_id', '=', appId)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', new Date(now))]))
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    async releaseLease(appId: string, owner: string): Promise<void> {
      await db
        .updateTable('wechat_access_tokens')
        .set({ lease_owner: null, lease_until: null })
        .where('app_id', '=', appId)
        .where('lease_owner', '=', owner)
        .execute();
    },

    /**
     * Stores a fetched token and frees the lease, only while `owner` still holds it: a holder whose lease
     * expired and was taken over must not overwrite the newer holder's token. Returns whether it wrote.
     */
    async saveToken(
      appId: string,
      owner: string,
      value: { token: string; expiresAt: number; fetchedAt: number },
    ): Promise<boolean> {
      const result = await db
        .updateTable('wechat_access_tokens')
        .set((eb) => ({
          token_enc: vault.seal(value.token, context(appId)),
          expires_at: new Date(value.expiresAt),
          fetched_at: new Date(value.fetchedAt),
          fetched_by: owner,
          lease_owner: null,
          lease_until: null,
          version: eb('version', '+', 1),
        }))
        .where('app_id', '=', appId)
        .where('lease_owner', '=', owner)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /**
     * R6 force-refresh limits as one atomic compare-and-set over the shared counters: allowed only when
     * the last force refresh is at least `minIntervalMs` old and fewer than `maxPerDay` happened on
     * `day` (WeChat's Beijing day). Returns the day's count including this one, or null when refused.
     */
    async reserveForceRefresh(
      appId: string,
      input: { now: number; day: string; maxPerDay: number; minIntervalMs: number },
    ): Promise<number | null> {
      const row = await db
        .updateTable('wechat_access_tokens')
        .set({
          force_refresh_count: sql<number>`CASE WHEN force_refresh_day = ${input.day} THEN force_refresh_count + 1 ELSE 1 END`,
          force_refresh_day: input.day,
          last_force_refresh_at: new Date(input.now),
        })
        .where('app_id', '=', appId)
        .where((eb) =>
          eb.or([
            eb('last_force_refresh_at', 'is', null),
            eb('last_force_refresh_at', '<=', new Date(input.now - input.minIntervalMs)),
          ]),
        )
        .where((eb) =>
          eb.or([
            eb('force_refresh_day', 'is', null),
            eb('force_refresh_day', '!=', input.day),
            eb('force_refresh_count', '<', input.maxPerDay),
          ]),
        )
        .returning('force_refresh_count')
        .executeTakeFirst();
      return row ? row.force_refresh_count : null;
    },
  };
}

export type AccessTokenRepository = ReturnType<typeof createAccessTokenRepository>;
