import { type Kysely, sql } from 'kysely';
import type { Database } from '../storage/database.ts';
import { identityUpsert } from './users.repository.ts';

/**
 * Phone identities and account linking/merging. Works on a Kysely instance or a transaction, so the
 * phone service can verify a code and log the user in atomically.
 */
export function createLinkingRepository(db: Kysely<Database>) {
  return {
    /** The user a phone belongs to, created if none does (UNIQUE(phone) settles concurrent first logins). */
    async findOrCreateUserByPhone(
      phone: string,
      newUserId: string,
      now: Date,
    ): Promise<{ userId: string; isNewUser: boolean }> {
      const result = await sql<{ id: string; inserted: boolean }>`
        INSERT INTO users (id, phone, created_at, updated_at)
        VALUES (${newUserId}, ${phone}, ${now}, ${now})
        ON CONFLICT (phone) DO UPDATE SET updated_at = EXCLUDED.updated_at
        RETURNING id, (xmax = 0) AS inserted`.execute(db);
      const row = result.rows[0]!;
      return { userId: row.id, isNewUser: row.inserted };
    },

    async findUserIdByPhone(phone: string): Promise<string | null> {
      const row = await db
        .selectFrom('users')
        .select('id')
        .where('phone', '=', phone)
        .where('disabled_at', 'is', null)
        .executeTakeFirst();
      return row?.id ?? null;
    },

    async findUserIdByIdentity(appId: string, openid: string): Promise<string | null> {
      const row = await db
        .selectFrom('wechat_identities')
        .select('user_id')
        .where('app_id', '=', appId)
        .where('openid', '=', openid)
        .executeTakeFirst();
      return row?.user_id ?? null;
    },

    async findPhoneOfUser(userId: string): Promise<string | null> {
      const row = await db.selectFrom('users').select('phone').where('id', '=', userId).executeTakeFirst();
      return row?.phone ?? null;
    },

    /** Sets a user's phone; false when another user holds it (the UNIQUE constraint decides). */
    async setPhone(userId: string, phone: string, now: Date): Promise<boolean> {
      const result = await sql<{ id: string }>`
        UPDATE users SET phone = ${phone}, updated_at = ${now}
        WHERE id = ${userId} AND NOT EXISTS (SELECT 1 FROM users WHERE phone = ${phone} AND id <> ${userId})
        RETURNING id`.execute(db);
      return result.rows.length === 1;
    },

    /** A brand-new user with a phone (used when a first WeChat phone login creates the account). */
    async createUser(userId: string, phone: string | null, now: Date): Promise<void> {
      await db.insertInto('users').values({ id: userId, phone, created_at: now, updated_at: now }).execute();
    },

    /**
     * Attaches a WeChat identity to a user, storing its sealed session_key. Returns the user the identity
     * belongs to afterwards: `userId` when it was new or already theirs, another id when it is someone else's.
     */
    async attachWechatIdentity(input: {
      userId: string;
      appId: string;
      openid: string;
      unionid: string | null;
      sessionKeyEnc: string;
      sessionKeyKid: string;
      now: Date;
    }): Promise<string> {
      const result = await identityUpsert(input).execute(db);
      const owner = result.rows[0]!.user_id;
      if (owner === input.userId && input.unionid) {
        await sql`INSERT INTO wechat_unions (unionid, user_id) VALUES (${input.unionid}, ${input.userId})
                  ON CONFLICT (unionid) DO NOTHING`.execute(db);
      }
      return owner;
    },

    /**
     * Merges `absorbed` into `into`: identities and the phone move, the absorbed account's sessions end,
     * the account is disabled (kept for audit) and the merge recorded. Run inside a transaction.
     */
    async mergeUsers(input: {
      absorbed: string;
      into: string;
      reason: string;
      now: Date;
    }): Promise<{ endedSessions: string[] }> {
      const { absorbed, into, now } = input;
      const phone = await db
        .selectFrom('users')
        .select('phone')
        .where('id', '=', absorbed)
        .executeTakeFirst();
      await db
        .updateTable('wechat_identities')
        .set({ user_id: into })
        .where('user_id', '=', absorbed)
        .execute();
      await db.updateTable('wechat_unions').set({ user_id: into }).where('user_id', '=', absorbed).execute();
      await db
        .updateTable('users')
        .set({ phone: null, disabled_at: now, updated_at: now })
        .where('id', '=', absorbed)
        .execute();
      if (phone?.phone) {
        await db
          .updateTable('users')
          .set({ phone: phone.phone, updated_at: now })
          .where('id', '=', into)
          .where('phone', 'is', null)
          .execute();
      }
      const ended = await db
        .updateTable('sessions')
        .set({ revoked_at: now, revoked_reason: 'merged' })
        .where('user_id', '=', absorbed)
        .where('revoked_at', 'is', null)
        .returning('id')
        .execute();
      await db
        .insertInto('user_merges')
        .values({
          absorbed_user_id: absorbed,
          into_user_id: into,
          reason: input.reason,
          at: now,
          detail: JSON.stringify({ phone: phone?.phone ? 'moved' : 'none' }),
        })
        .execute();
      return { endedSessions: ended.map((r) => r.id) };
    },
  };
}

export type LinkingRepository = ReturnType<typeof createLinkingRepository>;
