import { randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import type { Database } from '../../src/storage/database.ts';
import { identitySessionKeyContext } from '../../src/vault/rotation/sealed-columns.ts';
import type { Vault } from '../../src/vault/vault.types.ts';

/** A WeChat session_key as code2Session returns it: base64 of 16 random bytes. */
export const newSessionKey = (): string => randomBytes(16).toString('base64');

/**
 * Stores an identity the way a login does (the envelope and its kid in one row), without a login:
 * suites that test the rotation itself need many rows with chosen keys and chosen defects.
 */
export async function insertIdentity(
  db: Kysely<Database>,
  input: { appId: string; openid: string; envelope: string; kid: string | null; at?: Date },
): Promise<void> {
  const at = input.at ?? new Date(Date.UTC(2026, 0, 1));
  const userId = `u-${input.appId}-${input.openid}`;
  await db
    .insertInto('users')
    .values({ id: userId, phone: null, created_at: at, updated_at: at })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
  await db
    .insertInto('wechat_identities')
    .values({
      app_id: input.appId,
      openid: input.openid,
      user_id: userId,
      unionid: null,
      session_key_enc: input.envelope,
      session_key_kid: input.kid,
      session_key_status: 'valid',
      session_key_updated_at: at,
      created_at: at,
      last_login_at: at,
    })
    .execute();
}

/** Seals `sessionKey` for the row with `vault` and stores it; returns the envelope. */
export async function sealIdentity(
  db: Kysely<Database>,
  vault: Vault,
  input: { appId: string; openid: string; sessionKey: string },
): Promise<string> {
  const envelope = vault.seal(input.sessionKey, identitySessionKeyContext(input.appId, input.openid));
  await insertIdentity(db, { ...input, envelope, kid: vault.kidOf(envelope) });
  return envelope;
}

export async function readIdentities(db: Kysely<Database>) {
  return db
    .selectFrom('wechat_identities')
    .select(['app_id', 'openid', 'session_key_enc', 'session_key_kid', 'session_key_updated_at'])
    .orderBy('app_id')
    .orderBy('openid')
    .execute();
}
