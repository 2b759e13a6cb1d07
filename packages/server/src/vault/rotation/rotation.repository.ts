import { type Kysely, sql } from 'kysely';
import type { Database } from '../../storage/database.ts';

/** A sealed session_key as stored: the kid column and the envelope text, exactly as read. */
export interface SealedIdentity {
  appId: string;
  openid: string;
  kid: string | null;
  envelope: string;
}

export interface SealedAccessToken {
  appId: string;
  envelope: string;
}

export interface IdentityCursor {
  appId: string;
  openid: string;
}

const toCount = (value: string | number | bigint): number => Number(value);

/**
 * The SQL of key rotation (R26). Every statement is short and touches rows by primary key; nothing
 * holds a transaction open, so logins are never blocked behind a whole batch.
 */
export function createRotationRepository(db: Kysely<Database>) {
  return {
    /**
     * The next keyset page, in primary-key order, of identities whose session_key is not sealed with
     * `primaryKid`. A row-value comparison walks the primary-key index, so each page costs the same.
     */
    async findIdentitiesToRewrap(
      primaryKid: string,
      after: IdentityCursor | null,
      limit: number,
      /** Kids to leave alone: keys newer than this instance's primary (see rewrap-job.ts). */
      skipKids: readonly string[] = [],
    ): Promise<SealedIdentity[]> {
      let query = db
        .selectFrom('wechat_identities')
        .select(['app_id', 'openid', 'session_key_kid', 'session_key_enc'])
        .where('session_key_enc', 'is not', null)
        .where((eb) => eb.or([eb('session_key_kid', 'is', null), eb('session_key_kid', '!=', primaryKid)]));
      if (skipKids.length > 0) {
        query = query.where((eb) =>
          eb.or([eb('session_key_kid', 'is', null), eb('session_key_kid', 'not in', [...skipKids])]),
        );
      }
      if (after) {
        query = query.where((eb) =>
          eb(eb.refTuple('app_id', 'openid'), '>', eb.tuple(after.appId, after.openid)),
        );
      }
      const rows = await query.orderBy('app_id').orderBy('openid').limit(limit).execute();
      return rows.map((r) => ({
        appId: r.app_id,
        openid: r.openid,
        kid: r.session_key_kid,
        envelope: r.session_key_enc!,
      }));
    },

    /**
     * Compare-and-set: replaces the envelope only if the row still holds exactly what was read (kid
     * and envelope). A login that stored a fresh session_key in between, under any kid, wins: its key
     * is the current one, so overwriting it would be a lost update (reliability.md C10).
     */
    async replaceIdentityEnvelope(input: {
      appId: string;
      openid: string;
      expectedKid: string | null;
      expectedEnvelope: string;
      kid: string;
      envelope: string;
    }): Promise<boolean> {
      let query = db
        .updateTable('wechat_identities')
        .set({ session_key_enc: input.envelope, session_key_kid: input.kid })
        .where('app_id', '=', input.appId)
        .where('openid', '=', input.openid)
        .where('session_key_enc', '=', input.expectedEnvelope);
      query =
        input.expectedKid === null
          ? query.where('session_key_kid', 'is', null)
          : query.where('session_key_kid', '=', input.expectedKid);
      const result = await query.executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },

    /** Sealed session_keys per kid column value (null when a row has an envelope but no kid). */
    async countIdentitiesByKid(): Promise<{ kid: string | null; rows: number }[]> {
      const rows = await db
        .selectFrom('wechat_identities')
        .select((eb) => ['session_key_kid', eb.fn.countAll<string | number | bigint>().as('rows')])
        .where('session_key_enc', 'is not', null)
        .groupBy('session_key_kid')
        .execute();
      return rows.map((r) => ({ kid: r.session_key_kid, rows: toCount(r.rows) }));
    },

    /** Sealed session_keys whose kid is not `primaryKid` (what a rewrap still has to do, or cannot). */
    async countIdentitiesNotOn(primaryKid: string): Promise<number> {
      const row = await db
        .selectFrom('wechat_identities')
        .select((eb) => eb.fn.countAll<string | number | bigint>().as('rows'))
        .where('session_key_enc', 'is not', null)
        .where((eb) => eb.or([eb('session_key_kid', 'is', null), eb('session_key_kid', '!=', primaryKid)]))
        .executeTakeFirstOrThrow();
      return toCount(row.rows);
    },

    /**
     * Every kid the identities name, by a skip scan of the kid index: one index probe per distinct kid
     * (a handful), whatever the table's size. The scheduled rewrap asks this every few minutes to learn
     * cheaply that it has nothing to do. May name a kid whose only rows hold no envelope any more.
     */
    async findIdentityKids(): Promise<string[]> {
      const result = await sql<{ kid: string }>`
        WITH RECURSIVE kids(kid) AS (
          SELECT min(session_key_kid) FROM wechat_identities
          UNION ALL
          SELECT (SELECT min(session_key_kid) FROM wechat_identities WHERE session_key_kid > kids.kid)
          FROM kids WHERE kids.kid IS NOT NULL
        )
        SELECT kid FROM kids WHERE kid IS NOT NULL`.execute(db);
      return result.rows.map((r) => r.kid);
    },

    /** Sealed session_keys that name `kid` (the retire check; uses the kid index). */
    async countIdentitiesWithKid(kid: string): Promise<number> {
      const row = await db
        .selectFrom('wechat_identities')
        .select((eb) => eb.fn.countAll<string | number | bigint>().as('rows'))
        .where('session_key_enc', 'is not', null)
        .where('session_key_kid', '=', kid)
        .executeTakeFirstOrThrow();
      return toCount(row.rows);
    },

    /**
     * A keyset page of sealed access tokens. The table has no kid column (one row per app), so the
     * caller reads each envelope's kid itself.
     */
    async findSealedAccessTokens(after: string | null, limit: number): Promise<SealedAccessToken[]> {
      let query = db
        .selectFrom('wechat_access_tokens')
        .select(['app_id', 'token_enc'])
        .where('token_enc', 'is not', null);
      if (after !== null) query = query.where('app_id', '>', after);
      const rows = await query.orderBy('app_id').limit(limit).execute();
      return rows.map((r) => ({ appId: r.app_id, envelope: r.token_enc! }));
    },

    /**
     * Compare-and-set on the envelope: a token refreshed in between (a new envelope) is left alone.
     * Only `token_enc` changes: the token inside is the same, so `version`, `fetched_at`, `fetched_by`
     * and the lease keep describing it (the access-token manager reads them to spot other writers).
     */
    async replaceAccessTokenEnvelope(input: {
      appId: string;
      expectedEnvelope: string;
      envelope: string;
    }): Promise<boolean> {
      const result = await db
        .updateTable('wechat_access_tokens')
        .set({ token_enc: input.envelope })
        .where('app_id', '=', input.appId)
        .where('token_enc', '=', input.expectedEnvelope)
        .executeTakeFirst();
      return result.numUpdatedRows > 0n;
    },
  };
}

export type RotationRepository = ReturnType<typeof createRotationRepository>;
