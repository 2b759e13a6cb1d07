import { type RawBuilder, sql } from 'kysely';
import type { UserProfile, WechatIdentity } from './users.types.ts';

/** Columns a statement must select (under these names) for `profileFromRow`. */
export interface ProfileColumns {
  profile_id: string | null;
  profile_phone: string | null;
  profile_created_at: Date | null;
  profile_identities: WechatIdentity[] | null;
}

/**
 * The select list of a user profile for a `users` row aliased `alias`, so a statement that writes
 * (a refresh rotation) can return the profile in the same round trip instead of a second SELECT.
 * A disabled user reads as no profile.
 */
export function profileColumns(alias: string): RawBuilder<unknown> {
  const u = sql.ref(alias);
  return sql`
    CASE WHEN ${u}.disabled_at IS NULL THEN ${u}.id END AS profile_id,
    ${u}.phone AS profile_phone,
    ${u}.created_at AS profile_created_at,
    (SELECT json_agg(json_build_object('appId', i.app_id, 'openid', i.openid, 'unionid', i.unionid))
       FROM wechat_identities i WHERE i.user_id = ${u}.id) AS profile_identities`;
}

export const identitiesOf = (raw: WechatIdentity[] | null): WechatIdentity[] =>
  (raw ?? [])
    .map((i) => ({ appId: i.appId, openid: i.openid, unionid: i.unionid ?? null }))
    .sort((a, b) => a.appId.localeCompare(b.appId) || a.openid.localeCompare(b.openid));

export function profileFromRow(row: ProfileColumns): UserProfile | null {
  if (row.profile_id === null || row.profile_created_at === null) return null;
  return {
    id: row.profile_id,
    phone: row.profile_phone,
    createdAt: row.profile_created_at,
    wechat: identitiesOf(row.profile_identities),
  };
}
