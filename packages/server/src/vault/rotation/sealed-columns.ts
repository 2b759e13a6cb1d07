import type { SealContext } from '../vault.types.ts';

/**
 * Every column the vault seals, with the context its writers bind the envelope to. The rewrap job
 * must re-seal with exactly the context the writer used, or the row would stop opening: these must
 * stay in step with login/login.service.ts, phone/phone-login.service.ts and
 * adapters/wechat/access-token.repository.ts (a test seals through the real writers to prove it).
 */
export type SealedTable = 'wechat_identities' | 'wechat_access_tokens';

export const SEALED_TABLES: readonly SealedTable[] = ['wechat_identities', 'wechat_access_tokens'];

export function identitySessionKeyContext(appId: string, openid: string): SealContext {
  return { table: 'wechat_identities', column: 'session_key_enc', rowId: `${appId}:${openid}` };
}

export function accessTokenContext(appId: string): SealContext {
  return { table: 'wechat_access_tokens', column: 'token_enc', rowId: appId };
}
