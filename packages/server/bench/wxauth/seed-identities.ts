import { type Kysely, sql } from 'kysely';
import type { Database } from '../../src/storage/database.ts';
import { identitySessionKeyContext } from '../../src/vault/sealed-contexts.ts';
import type { Vault } from '../../src/vault/vault.types.ts';
import { seededOpenid, seededSessionKey } from '../lib/seed-keys.ts';

const CHUNK = 1_000;

/**
 * S6: N users with one WeChat identity each, inserted in bulk (a login per row would take far longer
 * than the job being measured). Each session_key is sealed exactly as the login path seals it, and is
 * the key the simulator holds for that user (seed-keys.ts), so every check is a real one.
 */
export async function seedIdentities(
  db: Kysely<Database>,
  vault: Vault,
  input: { appId: string; prefix: string; n: number; seed: string },
): Promise<{ rows: number; ms: number }> {
  const started = performance.now();
  // Written a minute ago, so the rows are plainly older than the run that will check them.
  const at = new Date(Date.now() - 60_000);
  for (let start = 0; start < input.n; start += CHUNK) {
    const users = [];
    const identities = [];
    for (let i = start; i < Math.min(input.n, start + CHUNK); i++) {
      const openid = seededOpenid(input.prefix, i);
      const userId = `u-${openid}`;
      const enc = vault.seal(seededSessionKey(input.seed, i), identitySessionKeyContext(input.appId, openid));
      users.push(sql`(${userId}, NULL, ${at}, ${at})`);
      identities.push(
        sql`(${input.appId}, ${openid}, ${userId}, NULL, ${enc}, ${vault.primaryKid()}, 'valid', ${at}, ${at}, ${at})`,
      );
    }
    await sql`INSERT INTO users (id, phone, created_at, updated_at) VALUES ${sql.join(users)}`.execute(db);
    await sql`INSERT INTO wechat_identities (app_id, openid, user_id, unionid, session_key_enc, session_key_kid,
        session_key_status, session_key_updated_at, created_at, last_login_at)
      VALUES ${sql.join(identities)}`.execute(db);
  }
  return { rows: input.n, ms: performance.now() - started };
}

/** The floor under the job: one keyset scan over every identity, in pages, with no upstream calls. */
export async function keysetScan(
  db: Kysely<Database>,
  pageSize: number,
): Promise<{ rows: number; ms: number }> {
  const started = performance.now();
  let rows = 0;
  let after: { app_id: string; openid: string } | null = null;
  // Bounded by the table: each page moves strictly forward; the cap guards a table that keeps growing.
  for (let page = 0; page < 100_000; page++) {
    const cursor: { app_id: string; openid: string } | null = after;
    const result: { rows: { app_id: string; openid: string; session_key_enc: string | null }[] } = await sql<{
      app_id: string;
      openid: string;
      session_key_enc: string | null;
    }>`
        SELECT app_id, openid, session_key_enc FROM wechat_identities
        ${cursor ? sql`WHERE (app_id, openid) > (${cursor.app_id}, ${cursor.openid})` : sql``}
        ORDER BY app_id, openid LIMIT ${pageSize}`.execute(db);
    rows += result.rows.length;
    const last = result.rows.at(-1);
    if (!last || result.rows.length < pageSize) break;
    after = { app_id: last.app_id, openid: last.openid };
  }
  return { rows, ms: performance.now() - started };
}
